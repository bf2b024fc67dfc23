import { setTimeout as sleep } from 'node:timers/promises';
import { forEachInFlight } from '../../src/forEachInFlight';

async function* numbers(count: number, taken: number[]): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) {
    await sleep(0); // items arrive over time, as chunks read from a file do
    taken.push(i);
    yield i;
  }
}

describe('forEachInFlight', () => {
  it('runs every item and never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachInFlight(numbers(10, []), 3, async (n) => {
      running += 1;
      most = Math.max(most, running);
      await sleep(n % 2 === 0 ? 5 : 1);
      running -= 1;
      done.push(n);
    });
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBeLessThanOrEqual(3);
  });

  it('has `limit` calls in flight together: each of the first three waits until all three started', async () => {
    // Not a count of what happened to overlap on a busy machine: a run one at a time never gets
    // past the first call, so the bounded wait below fails it.
    let started = 0;
    let release: () => void = () => undefined;
    const allStarted = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run = forEachInFlight(numbers(3, []), 3, async () => {
      started += 1;
      if (started === 3) release();
      await allStarted;
    });
    const outcome = await Promise.race([run.then(() => 'done'), sleep(30_000).then(() => 'stuck')]);
    expect(outcome).toBe('done');
  });

  it('after a failure takes no more items, waits for the calls in flight, and throws the failure', async () => {
    const taken: number[] = [];
    const finished: number[] = [];
    const failing = forEachInFlight(numbers(100, taken), 2, async (n) => {
      await sleep(n === 3 ? 5 : n === 4 ? 30 : 1);
      if (n === 3) throw new Error('item 3 failed');
      finished.push(n);
    });
    await expect(failing).rejects.toThrow('item 3 failed');
    // Item 4 was in flight when 3 failed: it finished before the call returned.
    expect(finished).toContain(4);
    expect(Math.max(...taken)).toBeLessThan(10);
  });

  it('when the items fail, waits for the calls in flight before throwing', async () => {
    const finished: number[] = [];
    async function* failingAfterTwo(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await sleep(0);
      throw new Error('the spool cannot be read');
    }
    const failing = forEachInFlight(failingAfterTwo(), 3, async (n) => {
      await sleep(20);
      finished.push(n);
    });
    await expect(failing).rejects.toThrow('the spool cannot be read');
    expect(finished.sort((a, b) => a - b)).toEqual([1, 2]);
  });
});
