import fc from 'fast-check';
import { QUARTER_MS } from '../../../src/events/chunkDetail';
import { utcDayStart } from '../../../src/events/dailyCounts';
import {
  addCounts,
  applyUserChanges,
  binaryOf,
  monthOfQuarter,
  monthsBetween,
  shardOf,
  SHARDS,
  wordsOf,
} from '../../../src/projections/seriesMonth';

/** The stored series layout (see docs/design.md), against plain recounts. */

const word = fc.integer({ min: 0, max: 2 ** 32 - 1 });
// Spread over the month, or crowded into its last quarter-hour (many users in one are sorted by
// comparisons, a few by insertion).
const triple = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 2975 }), word, word),
  fc.tuple(fc.constant(2975), fc.integer({ min: 0, max: 3 }), word),
);
type Triple = [number, number, number];

const sortedUnique = (triples: readonly Triple[]): Triple[] =>
  [...new Map(triples.map((t) => [t.join(':'), t])).values()].sort(
    (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2],
  );

describe('applyUserChanges', () => {
  it('keeps each (quarter, user) once with the number of chunks holding it, dropping those none holds', () => {
    fc.assert(
      fc.property(
        fc.array(triple, { maxLength: 60, size: 'max' }),
        fc.array(triple, { maxLength: 60, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (stored, added, withdrawnAt) => {
          // Holders as a plain multiset: stored once each, then added, then some of those withdrawn.
          const holders = new Map<string, [Triple, number]>();
          const change = (t: Triple, by: number) => {
            const key = t.join(':');
            holders.set(key, [t, (holders.get(key)?.[1] ?? 0) + by]);
          };
          const base = sortedUnique(stored);
          for (const t of base) change(t, 1);
          const changes: number[] = [];
          for (const t of added) {
            change(t, 1);
            changes.push(...t, 1);
          }
          const present = [...base, ...added];
          for (const at of withdrawnAt) {
            const t = present[at % Math.max(1, present.length)];
            if (t === undefined || (holders.get(t.join(':'))?.[1] ?? 0) === 0) continue;
            change(t, -1);
            changes.push(...t, -1);
          }
          const out = applyUserChanges(new Uint32Array(base.flatMap((t) => [...t, 1])), changes);
          const expected = [...holders.values()]
            .filter(([, n]) => n > 0)
            .sort(([a], [b]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
            .flatMap(([t, n]) => [...t, n]);
          expect([...out]).toEqual(expected);
        },
      ),
    );
  });

  it('refuses a quarter-hour beyond the longest month', () => {
    expect(() => applyUserChanges(new Uint32Array(0), [2976, 2, 3, 1])).toThrow(/outside its month/);
  });

  it('refuses to withdraw a user no chunk holds, but nets a withdrawal and an addition of one key', () => {
    expect(() => applyUserChanges(new Uint32Array(0), [1, 2, 3, -1])).toThrow(/withdrawn/);
    expect([...applyUserChanges(new Uint32Array(0), [1, 2, 3, -1, 1, 2, 3, 1])]).toEqual([]);
    expect([
      ...applyUserChanges(new Uint32Array([1, 2, 3, 1]), [1, 2, 3, -1, 1, 2, 3, -1, 1, 2, 3, 1]),
    ]).toEqual([]);
  });
});

describe('addCounts', () => {
  it('sums (quarter, count) pairs into the stored ones, in quarter order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2975 }), fc.integer({ min: 1, max: 1000 })), {
          maxLength: 40,
        }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2975 }), fc.integer({ min: 1, max: 1000 })), {
          maxLength: 40,
        }),
        (first, second) => {
          const sums = new Map<number, number>();
          for (const [q, c] of [...first, ...second]) sums.set(q, (sums.get(q) ?? 0) + c);
          const want = [...sums].sort(([a], [b]) => a - b).flat();
          expect([...addCounts(addCounts(new Uint32Array(0), first.flat()), second.flat())]).toEqual(want);
        },
      ),
    );
  });
});

describe('the stored words', () => {
  it('are little-endian uint32, read back as written', () => {
    const words = new Uint32Array([1, 0xdeadbeef, 2 ** 32 - 1]);
    const binary = binaryOf(words);
    expect(Buffer.from(binary.buffer).subarray(4, 8)).toEqual(Buffer.from([0xef, 0xbe, 0xad, 0xde]));
    expect([...wordsOf(binary)]).toEqual([...words]);
  });
});

describe('months and shards', () => {
  it('puts a quarter-hour in its UTC month, counted from the month start', () => {
    const endOfFebruary = Date.UTC(2024, 1, 29, 23, 45) / QUARTER_MS;
    expect(monthOfQuarter(endOfFebruary)).toEqual({
      month: '2024-02',
      firstQuarter: Date.UTC(2024, 1, 1) / QUARTER_MS,
      endQuarter: endOfFebruary + 1,
    });
    expect(monthOfQuarter(endOfFebruary + 1).month).toBe('2024-03');
    expect(monthOfQuarter(-1).month).toBe('1969-12');
  });

  it('counts months of the years 0-99 as they are, not as 1900-1999 (Date.UTC)', () => {
    const february = monthOfQuarter(utcDayStart(0, 1, 1) / QUARTER_MS + 5);
    expect(february.month).toBe('0000-02');
    // Year 0 is a leap year; 1900 was not.
    expect(february.endQuarter - february.firstQuarter).toBe(29 * 96);
    expect(new Date(february.firstQuarter * QUARTER_MS).toISOString()).toBe('0000-02-01T00:00:00.000Z');
  });

  it('lists the months a range touches, across a year end', () => {
    const months = monthsBetween(Date.UTC(2024, 10, 30, 18, 30), Date.UTC(2025, 1, 1));
    expect(months.map((m) => m.month)).toEqual(['2024-11', '2024-12', '2025-01']);
  });

  it('gives every type a fixed shard in range (FNV-1a, code units)', () => {
    expect(shardOf('click')).toBe(shardOf('click'));
    for (const type of ['click', 'view', 'a.b', '$odd', 'ünïcode', '😀'])
      expect(shardOf(type)).toBeGreaterThanOrEqual(0);
    for (const type of ['click', 'view', 'a.b', '$odd', 'ünïcode', '😀'])
      expect(shardOf(type)).toBeLessThan(SHARDS);
    // Pinned: a changed hash would put stored types in the wrong documents.
    expect(['click', 'view', 'purchase'].map(shardOf)).toEqual([15, 8, 2]);
  });
});
