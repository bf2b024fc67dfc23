import { z } from 'zod';

/**
 * PROVISIONAL: the response shapes of routes other branches are building (uploads, batches, metrics,
 * queues), written from /work/notes/contracts.md so their documentation can be reviewed now. When a
 * router lands, register its exported schema under the same name in ./schemas.ts and delete the
 * provisional one here; when this file is empty, delete it. These are never used to validate.
 */

const batchId = z.uuid().meta({ example: '3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c' });

export const ProcessBatchResponse = z.object({
  batchId,
  jobsEnqueued: z.number().int().nonnegative(),
  message: z.string(),
});

export const BatchStatus = z.object({
  batchId,
  fileName: z.string(),
  totalEvents: z.number().int().nonnegative(),
  processedEvents: z.number().int().nonnegative(),
  status: z.enum(['uploaded', 'processing', 'completed', 'failed']),
  uploadedAt: z.iso.datetime(),
  processedAt: z.iso.datetime().nullable(),
  failedReason: z.string().nullable(),
  progress: z.number().min(0).max(100).meta({ description: 'Percent of events processed' }),
});

export const BatchList = z.object({
  batches: z.array(BatchStatus),
  nextCursor: z
    .string()
    .nullable()
    .meta({ description: 'Pass as `cursor` for the next page; null at the end' }),
});

export const MetricsResponse = z
  .object({
    date: z.iso.date(),
    metrics: z.array(z.object({ eventType: z.string(), count: z.number().int().nonnegative() })),
  })
  .meta({
    example: {
      date: '2024-01-15',
      metrics: [
        { eventType: 'click', count: 150 },
        { eventType: 'purchase', count: 25 },
      ],
    },
  });

export const DlqResponse = z.object({
  queueName: z.literal('event-processing'),
  failedJobs: z.array(
    z.object({
      id: z.string(),
      data: z.record(z.string(), z.unknown()),
      error: z.string(),
      failedReason: z.string(),
      timestamp: z.number().int().meta({ description: 'Job creation time, Unix milliseconds' }),
    }),
  ),
});

export const DlqRetryResponse = z.object({
  queueName: z.literal('event-processing'),
  retried: z.number().int().nonnegative(),
  message: z.string(),
});
