import fc from 'fast-check';
import { QUARTER_MS } from '../../../src/events/chunkDetail';
import {
  addCounts,
  binaryOf,
  mergeUsers,
  monthOfQuarter,
  monthsBetween,
  shardOf,
  SHARDS,
  wordsOf,
} from '../../../src/projections/seriesMonth';

/** The stored series layout (see docs/design.md), against plain recounts. */

const triple = fc.tuple(
  fc.integer({ min: 0, max: 2975 }),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
);
type Triple = [number, number, number];

const sortedUnique = (triples: readonly Triple[]): Triple[] =>
  [...new Map(triples.map((t) => [t.join(':'), t])).values()].sort(
    (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2],
  );

describe('mergeUsers', () => {
  it('gives the stored and added (quarter, user) triples sorted and each once, whatever the order added', () => {
    fc.assert(
      fc.property(
        fc.array(triple, { maxLength: 60 }),
        fc.array(triple, { maxLength: 60 }),
        (stored, added) => {
          // Repeats of stored users and within the added ones, as overlapping records bring them.
          const more = [...added, ...stored.slice(0, 5), ...added.slice(0, 5)];
          const merged = mergeUsers(new Uint32Array(sortedUnique(stored).flat()), more.flat());
          expect([...merged]).toEqual(sortedUnique([...stored, ...more]).flat());
        },
      ),
    );
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
    });
    expect(monthOfQuarter(endOfFebruary + 1).month).toBe('2024-03');
    expect(monthOfQuarter(-1).month).toBe('1969-12');
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
