import { projectionsCaughtUp } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { batchStatusOf, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** December 2023 and January 2024: `big` busy every day, `small` rarely, and ten more types. */
function eventsCsv(): string {
  const lines = ['userId,eventType,timestamp'];
  for (let day = 0; day < 62; day++) {
    const date = new Date(Date.UTC(2023, 11, 1 + day)).toISOString().slice(0, 10);
    for (let i = 0; i < 10 + (day % 7) * 3; i++)
      lines.push(`u${i % 9},big,${date}T${String(i % 24).padStart(2, '0')}:10:00Z`);
    if (day % 5 === 0) lines.push(`u1,small,${date}T12:00:00Z`, `u2,small,${date}T13:00:00Z`);
    for (let t = 1; t <= 10; t++)
      if (day % t === 0) lines.push(`u${t},t${String(t).padStart(2, '0')},${date}T08:00:00Z`);
  }
  return lines.join('\n');
}

/** A service holding those events, processed and projected: what the views' browser tests read. */
export async function startViewsService(): Promise<TestService> {
  const service = await startTestService({ env: { PROJECTION_POLL_MS: '300' } });
  const upload = await uploadCsv(service.baseUrl, eventsCsv());
  expect(upload.status).toBe(201);
  const id = upload.body.batchId as string;
  await fetch(`${service.baseUrl}/api/batches/${id}/process`, { method: 'POST' });
  await waitFor(
    () => batchStatusOf(service.baseUrl, id),
    (s) => s === 'completed',
    90_000,
    'batch completed',
  );
  await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
  return service;
}
