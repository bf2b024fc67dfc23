import fc from 'fast-check';
import { RecentKeys } from '../../../src/commands/uploadBatch/recentKeys';

/** Feeds `keys` through a window of `windowParts` parts of `partSize`; returns the kept ones. */
function kept(keys: readonly string[], windowParts: number, partSize: number): string[] {
  const recent = new RecentKeys(windowParts);
  const out: string[] = [];
  keys.forEach((key, i) => {
    if (i > 0 && i % partSize === 0) recent.endPart();
    if (recent.firstSeen(key)) out.push(key);
  });
  return out;
}

describe('RecentKeys (dropping repeated rows before they reach the database)', () => {
  it('keeps a key once when it repeats at a period shorter than the window, however long the file', () => {
    // 10 distinct keys repeated 50 times; parts of 3 and a window of 5 parts (the current one and
    // the 4 before it) always reach back 10 rows.
    const keys = Array.from({ length: 500 }, (_, i) => `k${i % 10}`);
    expect(kept(keys, 5, 3)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
  });

  it('never drops the first occurrence of a key, and forgets keys older than the window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 200 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        (keys, windowParts, partSize) => {
          const out = kept(keys, windowParts, partSize);
          // Every distinct key is kept at least once.
          expect(new Set(out)).toEqual(new Set(keys));
          // A key is kept again only if it did not occur in the current part or the window's others.
          const partOf = (i: number) => Math.floor(i / partSize);
          const lastAt = new Map<string, number>();
          const expected: string[] = [];
          keys.forEach((key, i) => {
            const last = lastAt.get(key);
            if (last === undefined || partOf(i) - partOf(last) >= windowParts) expected.push(key);
            lastAt.set(key, i);
          });
          expect(out).toEqual(expected);
        },
      ),
    );
  });
});
