import { batchStatusProjection } from './batchStatus';
import { dailyMetricsProjection } from './dailyMetrics';
import { metricSeriesProjection } from './metricSeries';
import type { Projection } from './projection';

/** Every read model kept from the log, in the order rebuilds and workers run them. */
export function allProjections(): Projection[] {
  return [dailyMetricsProjection, batchStatusProjection, metricSeriesProjection];
}
