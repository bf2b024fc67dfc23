import { ErrorResponse, RateLimitedResponse } from '../errorMapping';
import { HealthResponse } from '../health';
import { uploadCreatedSchema, uploadRejectedSchema } from '../uploads';
import * as provisional from './provisionalSchemas';
import type { SchemaRegistry } from './registry';

/**
 * Every zod schema that the OpenAPI document shows, under its component name. Route documentation
 * refers to these names (`$ref: '#/components/schemas/HealthResponse'`). Adding a route's shapes is
 * one line per schema here: import the router's exported schema and register it.
 */
export function registerServiceSchemas(registry: SchemaRegistry): void {
  registry.registerSchemas({ ErrorResponse, RateLimitedResponse, HealthResponse });
  registry.registerSchemas({ UploadResponse: uploadCreatedSchema, UploadRejected: uploadRejectedSchema });
  registry.registerSchemas({
    ProcessBatchResponse: provisional.ProcessBatchResponse,
    BatchStatus: provisional.BatchStatus,
    BatchList: provisional.BatchList,
    MetricsResponse: provisional.MetricsResponse,
    DlqResponse: provisional.DlqResponse,
    DlqRetryResponse: provisional.DlqRetryResponse,
  });
}
