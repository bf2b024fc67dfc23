import { BatchListResponse, BatchStatusResponse, ListBatchesQuery, ProcessBatchResponse } from '../batches';
import { ErrorResponse, RateLimitedResponse } from '../errorMapping';
import { HealthResponse } from '../health';
import { DailyMetricsResponse, MetricsQuery } from '../metrics';
import { DlqQuery, DlqResponse, DlqRetryResponse } from '../queues';
import { uploadCreatedSchema, uploadRejectedSchema } from '../uploads';
import type { SchemaRegistry } from './registry';

/**
 * Every zod schema that the OpenAPI document shows, under its component name: the same objects the
 * routers validate with and type their answers by. Route documentation refers to these names
 * (`$ref: '#/components/schemas/HealthResponse'`); a query parameter refers to its property
 * (`#/components/schemas/ListBatchesQuery/properties/limit`).
 */
export function registerServiceSchemas(registry: SchemaRegistry): void {
  registry.registerSchemas({ ErrorResponse, RateLimitedResponse, HealthResponse });
  registry.registerSchemas({ UploadResponse: uploadCreatedSchema, UploadRejected: uploadRejectedSchema });
  registry.registerSchemas({ ProcessBatchResponse, BatchStatusResponse, BatchListResponse });
  registry.registerSchemas({ DailyMetricsResponse, DlqResponse, DlqRetryResponse });
  registry.registerSchemas({ ListBatchesQuery, MetricsQuery, DlqQuery }, { io: 'input' });
}
