import { coalescedReads } from '../../../src/queries/answerCache';

describe('coalescedReads', () => {
  it('shares a read among callers, but never hands a caller a read that began before its call', async () => {
    const finishes: ((value: number) => void)[] = [];
    const reads = coalescedReads(
      () =>
        new Promise<number>((resolve) => {
          finishes.push(resolve);
        }),
    );
    const first = reads();
    const second = reads();
    const third = reads();
    expect(finishes).toHaveLength(1);
    finishes[0]?.(1);
    await expect(first).resolves.toBe(1);
    // The second and third callers came while the first read was out: they share the next one.
    for (let turn = 0; turn < 20 && finishes.length < 2; turn += 1) await Promise.resolve();
    expect(finishes).toHaveLength(2);
    finishes[1]?.(2);
    await expect(second).resolves.toBe(2);
    await expect(third).resolves.toBe(2);
    const fourth = reads();
    expect(finishes).toHaveLength(3);
    finishes[2]?.(3);
    await expect(fourth).resolves.toBe(3);
  });

  it('starts the next read after a failed one', async () => {
    let calls = 0;
    const reads = coalescedReads(() => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error('down')) : Promise.resolve(calls);
    });
    const failed = reads();
    const next = reads();
    await expect(failed).rejects.toThrow('down');
    await expect(next).resolves.toBe(2);
  });
});
