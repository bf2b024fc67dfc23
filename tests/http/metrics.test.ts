import { appendBatchUploaded } from '../support/seedBatch';
import { Queue } from 'bullmq';
import { createRedis } from '../../src/redis';
import { CHECKPOINTS_COLLECTION } from '../../src/projections/readModels';
import { PROCESSING_QUEUE } from '../../src/chunkJobs';
import { sample } from '../support/prometheus';
import { startTestService, type TestService } from '../support/testService';

describe('GET /metrics and projection lag in /health', () => {
  let service: TestService;
  const metricsText = async (): Promise<string> => {
    const res = await fetch(`${service.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: { PROJECTION_LAG_MAX_RECORDS: '1', PROJECTION_LAG_MAX_SECONDS: '0' },
    });
  });

  afterAll(async () => {
    await service.stop();
  });

  it('counts requests by route pattern and status, with latency, and never by raw path', async () => {
    // Read each body to the end: the server counts a request when it has finished sending it.
    for (const path of ['/health', '/health', '/no/such/thing-123']) {
      await (await fetch(`${service.baseUrl}${path}`)).text();
    }
    const text = await metricsText();
    expect(sample(text, 'ems_http_requests_total{method="GET",route="/health",status="200"}')).toBe(2);
    expect(sample(text, 'ems_http_requests_total{method="GET",route="(unmatched)",status="404"}')).toBe(1);
    expect(text).not.toContain('thing-123');
    expect(
      sample(text, 'ems_http_request_duration_seconds_count{method="GET",route="/health",status="200"}'),
    ).toBe(2);
    expect(
      sample(
        text,
        'ems_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health",status="200"}',
      ),
    ).toBe(2);
    // Default Node.js process metrics, on this app's own registry.
    expect(sample(text, 'ems_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'ems_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('exposes the upload and row counters that the upload command increments', async () => {
    const before = await metricsText();
    expect(sample(before, 'ems_uploads_total{result="accepted"}')).toBe(0);
    service.runtime.metrics.uploadAccepted({ newEvents: 5, duplicates: 2 });
    service.runtime.metrics.uploadRejected({ invalidRows: 3 });
    const after = await metricsText();
    expect(sample(after, 'ems_uploads_total{result="accepted"}')).toBe(1);
    expect(sample(after, 'ems_uploads_total{result="rejected"}')).toBe(1);
    expect(sample(after, 'ems_upload_rows_total{result="accepted"}')).toBe(5);
    expect(sample(after, 'ems_upload_rows_total{result="duplicate"}')).toBe(2);
    expect(sample(after, 'ems_upload_rows_total{result="rejected"}')).toBe(3);
  });

  it('reports the event-processing queue depth by state, read from Redis at scrape time', async () => {
    const connection = createRedis(service.config.redis.target, 'worker');
    const queue = new Queue(PROCESSING_QUEUE, { connection, prefix: service.config.redis.queuePrefix });
    try {
      await queue.add('chunk', { n: 1 });
      await queue.add('chunk', { n: 2 });
      await queue.add('chunk', { n: 3 }, { delay: 60_000 });
      const text = await metricsText();
      expect(sample(text, 'ems_queue_jobs{queue="event-processing",state="waiting"}')).toBe(2);
      expect(sample(text, 'ems_queue_jobs{queue="event-processing",state="delayed"}')).toBe(1);
      expect(sample(text, 'ems_queue_jobs{queue="event-processing",state="failed"}')).toBe(0);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    }
  });

  it('reports projection lag from the log head and checkpoints, and /health turns degraded (200) when it lasts', async () => {
    // No checkpoints collection yet: no lag series, no error.
    const empty = await metricsText();
    expect(empty).not.toMatch(/^ems_projection_lag_records\{/m);

    for (const batchId of ['b1', 'b2', 'b3', 'b4']) {
      await appendBatchUploaded(service.runtime.eventLog, batchId);
    }
    const checkpoints = service.runtime.mongo.db.collection<{ _id: string; position: number }>(
      CHECKPOINTS_COLLECTION,
    );
    // The ids the projectors of the live (first) versions write.
    await checkpoints.insertOne({ _id: 'dailyMetrics_v1', position: 1 });
    await checkpoints.insertOne({ _id: 'batchStatus_v1', position: 4 });

    const text = await metricsText();
    expect(sample(text, 'ems_projection_lag_records{projection="dailyMetrics_v1"}')).toBe(3);
    expect(sample(text, 'ems_projection_lag_records{projection="batchStatus_v1"}')).toBe(0);

    // Limits are 1 record for 0 s: over the limit since the scrape above, so lagging "for longer" now.
    await new Promise((r) => setTimeout(r, 20));
    const degraded = await fetch(`${service.baseUrl}/health`);
    expect(degraded.status).toBe(200);
    const body = (await degraded.json()) as {
      status: string;
      checks: Record<string, string>;
      projections: unknown;
    };
    expect(body).toMatchObject({ status: 'degraded' });
    expect(body.checks.projections).toBe('lagging');
    expect(body.projections).toEqual(
      expect.arrayContaining([expect.objectContaining({ projection: 'dailyMetrics_v1', lag: 3 })]),
    );

    await checkpoints.updateOne({ _id: 'dailyMetrics_v1' }, { $set: { position: 4 } });
    const recovered = (await (await fetch(`${service.baseUrl}/health`)).json()) as { status: string };
    expect(recovered.status).toBe('ok');
  });
});
