import type { JobType, Queue } from 'bullmq';
import { withTimeout } from './withTimeout';

const STATES: JobType[] = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
];

/** Job counts by state, or a rejection after `timeoutMs` so a slow Redis cannot stall a metrics scrape. */
export function createReadQueueDepth(
  queue: Pick<Queue, 'getJobCounts'>,
  timeoutMs: number,
): () => Promise<Record<string, number>> {
  return () => withTimeout(timeoutMs, () => queue.getJobCounts(...STATES));
}
