import { MongoClient } from 'mongodb';
import type { Projection, Write } from '../../../src/projections/projection';
import { applyPage, type ProjectionTarget } from '../../../src/projections/projector';

/** A page's writes go several at a time; a failure stops the rest and is thrown once all settled. */

function targetWith(writes: Write[]): ProjectionTarget {
  const projection: Projection = {
    name: 'dailyMetrics',
    ensureIndexes: () => Promise.resolve(),
    planPage: () => Promise.resolve(writes),
  };
  // planPage above never touches the database; a client that is never used does not connect.
  const db = new MongoClient('mongodb://127.0.0.1:9').db('unused');
  return { db, projection, version: 1, collectionName: 'unused', checkpointId: 'unused' };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('applyPage', () => {
  it('runs every write, several at once', async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    const writes = Array.from({ length: 30 }, (_, i) => async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await tick();
      inFlight -= 1;
      done.push(i);
    });
    await applyPage(targetWith(writes), []);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(8);
  });

  it('starts no write after one failed, and throws once those in flight settled', async () => {
    const started: number[] = [];
    let settled = 0;
    const writes = Array.from({ length: 30 }, (_, i) => async () => {
      started.push(i);
      await tick();
      await tick();
      settled += 1;
      if (i === 0) throw new Error('write 0 failed');
    });
    await expect(applyPage(targetWith(writes), [])).rejects.toThrow('write 0 failed');
    expect(settled).toBe(started.length);
    expect(started.length).toBeLessThan(30);
  });

  it('stops before the next write when the lease is lost', async () => {
    let ran = 0;
    const writes = Array.from({ length: 20 }, () => async () => {
      ran += 1;
      await tick();
    });
    const guard = () => {
      if (ran >= 3) throw new Error('lease lost');
    };
    await expect(applyPage(targetWith(writes), [], guard)).rejects.toThrow('lease lost');
    expect(ran).toBeLessThan(20);
  });
});
