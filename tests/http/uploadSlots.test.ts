import { StoreLeases } from '../../src/commands/uploadBatch/storeLease';
import { createLogger } from '../../src/logging';
import { csvOfRows, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

/**
 * MAX_CONCURRENT_UPLOADS bounds bodies arriving, not uploads waiting on the database: an upload
 * whose file has all arrived gives its slot back while it waits for its turn to store.
 */
describe('upload slots', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { MAX_CONCURRENT_UPLOADS: '1' } });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('are held while the body arrives, not while the upload waits to store', async () => {
    // Someone else holds the turn to store, so an upload that has arrived waits for it.
    const leases = new StoreLeases(
      service.runtime.mongo.db,
      600_000,
      createLogger({ level: 'error', role: 'test' }),
    );
    const held = await leases.tryAcquire('test-holder');
    if (held === undefined) throw new Error('the store lease should be free');
    const first = uploadCsv(service.baseUrl, csvOfRows(5, 0, 'slot-a'));
    // The first upload is waiting for the lease: its session is not open yet, its file is in.
    await new Promise((r) => setTimeout(r, 1000));
    const second = uploadCsv(service.baseUrl, csvOfRows(5, 0, 'slot-b'));
    await new Promise((r) => setTimeout(r, 1000));
    await held.release();
    const replies = await Promise.all([first, second]);
    expect(replies.map((r) => r.status)).toEqual([201, 201]);
    expect(replies.map((r) => r.body.totalEvents)).toEqual([5, 5]);
  });
});
