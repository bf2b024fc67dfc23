import { createLogger } from '../../src/logging';
import { createRedis } from '../../src/redis';
import type { CatchUp } from '../../src/projections/projector';
import {
  createProjectionsQueue,
  startProjectionWorker,
  wakeProjections,
} from '../../src/workers/projectionWorker';
import { testConfig } from '../support/testConfig';
import { waitFor } from '../support/waitFor';

/**
 * How the projection worker schedules the projectors, on the real queue: the catch-ups are
 * stand-ins that count their runs, so a slow page can be held open for as long as the test needs.
 */
describe('projection worker', () => {
  const config = testConfig();
  const logger = createLogger({ level: 'error', role: 'test' });
  const connection = createRedis(config.redis.target, 'worker');
  const producer = createRedis(config.redis.target, 'worker');
  const queue = createProjectionsQueue(producer, config.redis.queuePrefix);
  let position = 0;
  const wake = () => wakeProjections(queue, ++position);

  afterAll(async () => {
    await queue.close();
    connection.disconnect();
    producer.disconnect();
  });

  it('runs a quick projector again while a slow one is still on its page', async () => {
    let finishSlowPage = (): void => undefined;
    const slowPage = new Promise<void>((resolve) => {
      finishSlowPage = resolve;
    });
    const runs = { slow: 0, quick: 0 };
    const slow: CatchUp = async () => {
      runs.slow += 1;
      await slowPage;
      return false;
    };
    const quick: CatchUp = () => {
      runs.quick += 1;
      return Promise.resolve(false);
    };
    const worker = startProjectionWorker({
      connection,
      prefix: config.redis.queuePrefix,
      catchUps: [slow, quick],
      pollMs: 600_000,
      logger,
    });
    try {
      // Started by the worker itself; the slow one stays on its page.
      await waitFor(
        () => Promise.resolve({ ...runs }),
        (r) => r.slow === 1 && r.quick === 1,
      );
      await wake();
      await waitFor(
        () => Promise.resolve({ ...runs }),
        (r) => r.quick >= 2,
        30_000,
        'the quick projector to run on a wake-up during the slow page',
      );
      expect(runs.slow).toBe(1);
      finishSlowPage();
      // The wake-up during its page asked the slow one for one more run.
      await waitFor(
        () => Promise.resolve({ ...runs }),
        (r) => r.slow === 2,
      );
    } finally {
      finishSlowPage();
      await worker.close();
    }
  });

  it('runs a projector again, without a wake-up, while it says more was appended', async () => {
    let behind = 3;
    let runs = 0;
    const catchUp: CatchUp = () => {
      runs += 1;
      behind -= 1;
      return Promise.resolve(behind > 0);
    };
    const worker = startProjectionWorker({
      connection,
      prefix: config.redis.queuePrefix,
      catchUps: [catchUp],
      pollMs: 600_000,
      logger,
    });
    try {
      await waitFor(
        () => Promise.resolve(runs),
        (r) => r >= 3,
      );
      // Caught up: nothing runs it again until a wake-up or a poll.
      await new Promise((r) => setTimeout(r, 1000));
      expect(runs).toBe(3);
    } finally {
      await worker.close();
    }
  });
});
