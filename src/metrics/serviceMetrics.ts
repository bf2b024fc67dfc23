import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PROCESSING_QUEUE } from '../chunkJobs';

/**
 * The Prometheus series of one service instance, on a Registry of its own (never prom-client's global
 * one), so several apps can live in one process (tests) without "metric already registered" errors.
 * Created once in src/compose.ts and handed to whoever records: the HTTP layer, the upload command.
 */

export const METRIC_PREFIX = 'ems_';

/** Reads a value at scrape time; returning undefined leaves the series out of that scrape. */
export type Sampler<T> = () => Promise<T | undefined>;

export interface ScrapeSources {
  /** Job counts of the `event-processing` queue by state (waiting, active, delayed, failed, ...). */
  queueDepth?: Sampler<Record<string, number>>;
  /** Records each projection trails the log head by. */
  projectionLag?: Sampler<{ projection: string; lag: number }[]>;
}

export interface ServiceMetrics {
  readonly registry: Registry;
  /** One finished HTTP request; `route` is the Express route pattern, never the raw path. */
  observeHttpRequest(request: { method: string; route: string; status: number; seconds: number }): void;
  /** A stored upload: `newEvents` rows stored, `duplicates` rows already known. */
  uploadAccepted(rows: { newEvents: number; duplicates: number }): void;
  /** A refused upload (nothing stored); `invalidRows` is how many rows failed validation, if known. */
  uploadRejected(rows?: { invalidRows: number }): void;
  /** One /health evaluation started (callers that share it or reuse its answer add none). */
  healthEvaluated(): void;
  /** MAX_CONCURRENT_UPLOADS slots: how many bodies arrive now, how many uploads wait for a slot. */
  uploadSlots(slots: { busy: number; waiting: number }): void;
}

export function createServiceMetrics(sources: ScrapeSources = {}): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });

  const httpRequests = new Counter({
    name: `${METRIC_PREFIX}http_requests_total`,
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'Time from receiving an HTTP request to finishing its response, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const uploads = new Counter({
    name: `${METRIC_PREFIX}uploads_total`,
    help: 'CSV uploads by result (accepted = stored, rejected = refused, nothing stored)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const rows = new Counter({
    name: `${METRIC_PREFIX}upload_rows_total`,
    help: 'CSV rows by result (accepted = new event stored, duplicate = already stored, rejected = invalid)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const healthEvaluations = new Counter({
    name: `${METRIC_PREFIX}health_evaluations_total`,
    help: 'Health evaluations run (concurrent /health calls share one; a recent answer is reused)',
    registers: [registry],
  });
  const uploadSlots = new Gauge({
    name: `${METRIC_PREFIX}upload_slots`,
    help: 'Upload bodies arriving (busy, at most MAX_CONCURRENT_UPLOADS) and uploads waiting for a slot',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  for (const state of ['busy', 'waiting'] as const) uploadSlots.set({ state }, 0);
  for (const result of ['accepted', 'rejected'] as const) uploads.inc({ result }, 0);
  for (const result of ['accepted', 'duplicate', 'rejected'] as const) rows.inc({ result }, 0);

  const { queueDepth, projectionLag } = sources;
  new Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'Jobs in the event-processing queue by state, read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = queueDepth ? await queueDepth() : undefined;
      for (const [state, count] of Object.entries(counts ?? {})) {
        this.set({ queue: PROCESSING_QUEUE, state }, count);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}projection_lag_records`,
    help: "Event log head position minus the projection's checkpoint, read at scrape time",
    labelNames: ['projection'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const lags = projectionLag ? await projectionLag() : undefined;
      for (const { projection, lag } of lags ?? []) this.set({ projection }, lag);
    },
  });

  return {
    registry,
    observeHttpRequest({ method, route, status, seconds }) {
      const labels = { method, route, status: String(status) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, seconds);
    },
    uploadAccepted({ newEvents, duplicates }) {
      uploads.inc({ result: 'accepted' });
      rows.inc({ result: 'accepted' }, newEvents);
      rows.inc({ result: 'duplicate' }, duplicates);
    },
    uploadRejected(counts) {
      uploads.inc({ result: 'rejected' });
      if (counts !== undefined) rows.inc({ result: 'rejected' }, counts.invalidRows);
    },
    healthEvaluated() {
      healthEvaluations.inc();
    },
    uploadSlots({ busy, waiting }) {
      uploadSlots.set({ state: 'busy' }, busy);
      uploadSlots.set({ state: 'waiting' }, waiting);
    },
  };
}
