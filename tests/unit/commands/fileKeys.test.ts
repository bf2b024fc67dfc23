import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { FileKeys } from '../../../src/commands/uploadBatch/fileKeys';

const key = (n: number): string => createHash('sha256').update(String(n)).digest('hex');

/** The keys `fileKeys` lets through, in order. */
function kept(keys: readonly string[], fileKeys = new FileKeys()): string[] {
  return keys.filter((k) => fileKeys.firstSeen(k));
}

describe('FileKeys (dropping repeated rows of a file before they reach the database)', () => {
  it('keeps the first occurrence of every key and drops every repeat, however far apart', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 2000 }), (ns) => {
        const keys = ns.map(key);
        expect(kept(keys)).toEqual([...new Set(keys)]);
      }),
    );
  });

  it('stays exact while its table grows to many thousands of keys', () => {
    // Far past the first table's 4,096 slots; every key is met twice, the second time much later.
    const keys = Array.from({ length: 50_000 }, (_, i) => key(i));
    const fileKeys = new FileKeys();
    expect(kept(keys, fileKeys)).toHaveLength(50_000);
    expect(kept(keys, fileKeys)).toHaveLength(0);
  });

  it('past half its limit remembers the most recent keys and lets the oldest go', () => {
    const fileKeys = new FileKeys(100);
    const first = Array.from({ length: 150 }, (_, i) => key(i));
    expect(kept(first, fileKeys)).toHaveLength(150);
    // The last fifty (half the limit) are still known; the first fifty were let go.
    expect(kept(first.slice(100), fileKeys)).toEqual([]);
    expect(kept(first.slice(0, 50), fileKeys)).toEqual(first.slice(0, 50));
  });

  it('whatever it has let go, never drops the first occurrence of a key', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3000 }),
        fc.integer({ min: 2, max: 30 }),
        (ns, maxKeys) => {
          const fileKeys = new FileKeys(maxKeys);
          const seen = new Set<number>();
          for (const n of ns) {
            const first = !seen.has(n);
            seen.add(n);
            // A first occurrence is always kept; a repeat may be kept (the database decides it).
            if (first) expect(fileKeys.firstSeen(key(n))).toBe(true);
            else fileKeys.firstSeen(key(n));
          }
        },
      ),
    );
  });

  it('never drops a key that is not 64 hex digits', () => {
    const fileKeys = new FileKeys();
    expect(kept(['x', 'x', '0'.repeat(64), '0'.repeat(64)], fileKeys)).toHaveLength(4);
  });
});
