import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../redis';
import { z } from 'zod';

/** The `event-processing` queue: one job per chunk of a batch; the job reads its chunk's events itself. */
export const PROCESSING_QUEUE = 'event-processing';

export const ChunkJobData = z.object({
  batchId: z.string().min(1).max(128),
  chunk: z.number().int().nonnegative(),
  round: z.number().int().positive(),
  correlationId: z.string().min(1),
  /** When an unreachable database first stopped this job (see outageWait); unset while it runs well. */
  unavailableSince: z.number().int().optional(),
});
export type ChunkJobData = z.infer<typeof ChunkJobData>;

/**
 * Deterministic, so adding the same chunk again is a no-op while its job exists. BullMQ reserves
 * ':' in custom ids (it builds Redis keys from them), hence '_' between the parts.
 */
export function chunkJobId(batchId: string, chunk: number): string {
  return `chunk_${batchId}_${chunk}`;
}

export const CHUNK_ATTEMPTS = 3;

export const chunkJobOptions: JobsOptions = {
  attempts: CHUNK_ATTEMPTS,
  backoff: { type: 'exponential', delay: 1000 },
  // The log, not the queue, says what is done; completed jobs are only clutter.
  removeOnComplete: true,
  // Failed jobs are the dead-letter queue: kept until retried.
  removeOnFail: false,
};

export function createProcessingQueue(connection: RedisClient, prefix: string): Queue<ChunkJobData> {
  return new Queue<ChunkJobData>(PROCESSING_QUEUE, { connection, prefix });
}
