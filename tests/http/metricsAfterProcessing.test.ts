import { runWorkers } from '../../src/compose';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { sample } from '../support/prometheus';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** The named /metrics series after real uploads and a processing run that reaches `completed`. */

const QUEUE = 'ems_queue_jobs{queue="event-processing",state=';
/** Projection name -> lag, from the ems_projection_lag_records series. */
function projectionLags(text: string): Record<string, number> {
  const lags: Record<string, number> = {};
  for (const [, name = '', value] of text.matchAll(
    /^ems_projection_lag_records\{projection="([^"]+)"\} (\S+)$/gm,
  )) {
    lags[name] = Number(value);
  }
  return lags;
}

const http = (method: string, route: string, status: number) =>
  `ems_http_requests_total{method="${method}",route="${route}",status="${status}"}`;

describe('/metrics after an upload and a processing run', () => {
  let service: TestService;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    // Workers start later, so the queue depth can be seen with the jobs still waiting.
    service = await startTestService({
      workers: false,
      env: { EVENTS_PER_CHUNK: '2' },
    });
  });

  afterAll(async () => {
    await workers?.close();
    await service.stop();
  });

  const metricsText = async (): Promise<string> => (await fetch(`${service.baseUrl}/metrics`)).text();
  const call = async (method: string, path: string) => {
    const res = await fetch(`${service.baseUrl}${path}`, { method });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('counts uploads, rows, requests by route, queue depth by state and projection lag', async () => {
    const first = await uploadCsv(service.baseUrl, csvOfRows(5));
    expect(first.body).toMatchObject({ totalEvents: 5, duplicates: 0 });
    const second = await uploadCsv(service.baseUrl, csvOfRows(7));
    expect(second.body).toMatchObject({ totalEvents: 2, duplicates: 5 });
    const invalid = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\nu1,a,yesterday\nu2,b,soon\n',
    );
    expect(invalid.status).toBe(400);

    const batchId = first.body.batchId as string;
    expect(await call('POST', `/api/batches/${batchId}/process`)).toMatchObject({
      status: 202,
      body: { jobsEnqueued: 3 },
    });
    const queued = await metricsText();
    expect(sample(queued, `${QUEUE}"waiting"}`)).toBe(3);
    expect(sample(queued, `${QUEUE}"active"}`)).toBe(0);

    workers = runWorkers(service.runtime);
    await waitFor(
      async () => (await call('GET', `/api/batches/${batchId}`)).body,
      (b) => b.status === 'completed',
      30_000,
      'batch completed',
    );
    // Every projection (checkpoints named by read model and version) reaches the head of the log.
    const lags = await waitFor(
      async () => projectionLags(await metricsText()),
      (l) => Object.keys(l).length === 3 && Object.values(l).every((lag) => lag === 0),
      30_000,
      'projections caught up',
    );
    expect(Object.keys(lags).sort()).toEqual([
      expect.stringMatching(/^batchStatus/) as unknown,
      expect.stringMatching(/^dailyMetrics/) as unknown,
      expect.stringMatching(/^metricSeries/) as unknown,
    ]);
    const text = await metricsText();

    expect(sample(text, http('POST', '/api/uploads', 201))).toBe(2);
    expect(sample(text, http('POST', '/api/uploads', 400))).toBe(1);
    expect(sample(text, http('POST', '/api/batches/:id/process', 202))).toBe(1);
    expect(sample(text, http('GET', '/api/batches/:id', 200))).toBeGreaterThanOrEqual(1);
    expect(sample(text, http('GET', '/metrics', 200))).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(batchId);
    expect(
      sample(
        text,
        'ems_http_request_duration_seconds_count{method="POST",route="/api/uploads",status="201"}',
      ),
    ).toBe(2);

    expect(sample(text, 'ems_uploads_total{result="accepted"}')).toBe(2);
    expect(sample(text, 'ems_uploads_total{result="rejected"}')).toBe(1);
    expect(sample(text, 'ems_upload_rows_total{result="accepted"}')).toBe(7);
    expect(sample(text, 'ems_upload_rows_total{result="duplicate"}')).toBe(5);
    expect(sample(text, 'ems_upload_rows_total{result="rejected"}')).toBe(2);

    // Completed jobs are removed; nothing waits, runs or failed.
    for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed']) {
      expect(sample(text, `${QUEUE}"${state}"}`)).toBe(0);
    }
  });
});
