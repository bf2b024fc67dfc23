import { randomUUID } from 'node:crypto';
import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import { expectDocumented } from '../support/openapi';
import { TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';

/**
 * An erasure that takes longer than the request waits: 202 with Location, a second request for
 * the same user answers the running erasure, and the erasure finishes once the upload it waited
 * for settles.
 */

describe('a slow erasure', () => {
  let service: TestService;
  const admin = { 'X-API-Key': TEST_ADMIN_KEY, 'content-type': 'application/json' };
  const erase = async () => {
    const res = await fetch(`${service.baseUrl}/api/users/erase`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ userId: 'victim' }),
    });
    return {
      status: res.status,
      location: res.headers.get('location'),
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  beforeAll(async () => {
    // A claim of another instance stays `storing` (its heartbeat is fresh) until the test settles it.
    service = await startTestService({
      workers: false,
      env: { UPLOAD_SETTLE_WAIT_MS: '60000', UPLOAD_CLAIM_EXPIRY_MS: '120000' },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('answers 202 and Location, then the same erasure to a second request, and finishes', async () => {
    const reply = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\nvictim,click,2024-01-15T10:00:00Z\n',
    );
    expect(reply.status).toBe(201);
    const claims = new BatchClaims(service.runtime.mongo.db);
    const storing = randomUUID();
    await claims.open({
      _id: storing,
      holder: 'another-api',
      fileName: 'slow.csv',
      totalRows: 1,
      eventsPerChunk: 1000,
      correlationId: 'slow',
    });

    const first = await erase();
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'erasing' });
    expect(first.location).toBe(`/api/users/erasures/${String(first.body.erasureId)}`);
    expectDocumented('POST /api/users/erase', first);
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({ userId: 'victim' })).toBe(1);

    const second = erase();
    await new Promise((r) => setTimeout(r, 500));
    await claims.settle(storing, 'inserted');
    const answered = await second;
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({
      erasureId: first.body.erasureId,
      status: 'done',
      summary: { eventsRemoved: 1 },
    });
    const shown = await fetch(`${service.baseUrl}${String(first.location)}`, { headers: admin });
    expect(await shown.json()).toMatchObject({ status: 'done' });
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({ userId: 'victim' })).toBe(0);
  }, 60_000);
});
