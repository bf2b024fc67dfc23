import fc from 'fast-check';
import { planChunk } from '../../../src/commands/eraseUser/chunkErasure';
import { chunkDoc, eventsOf } from '../../../src/events/chunkCodec';
import { detailOf } from '../../../src/events/chunkDetail';

/** Taking one user out of a chunk document, against a plain filter of its events. */

// Pairs that share one 32-bit half and differ in the other.
const users = [1n, 0x1_0000_0001n, 0xfedcba9876543210n, 0xfedcba9800000000n];
const event = fc.tuple(
  fc.constantFrom('click', 'purchase', 'view'),
  fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
  fc.constantFrom(...users),
);

describe('planChunk', () => {
  it('leaves every other event as it was, in order, and withdraws exactly the user’s', () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 60 }),
        fc.constantFrom(...users),
        (events, user) => {
          const doc = { ...chunkDoc('b', 3, events), revision: 2, erased: 1 };
          const planned = planChunk(doc, user);
          const others = events.filter((e) => e[2] !== user);
          const theirs = events.filter((e) => e[2] === user);
          if (theirs.length === 0) {
            expect(planned).toBeUndefined();
            return;
          }
          expect(planned?.rewritten).toMatchObject({
            count: others.length,
            revision: 3,
            erased: 1 + theirs.length,
          });
          expect(planned === undefined ? [] : eventsOf(planned.rewritten)).toEqual(others);
          expect(planned?.item).toEqual({
            batchId: 'b',
            chunk: 3,
            fromRevision: 2,
            withdrawn: detailOf(theirs),
            events: theirs.length,
          });
        },
      ),
    );
  });

  it('keeps a withdrawn detail in buffers of its own size, not in views of zlib’s 16 KiB output', () => {
    const doc = chunkDoc('b', 0, [['click', 1_700_000_000_000, 1n]]);
    const withdrawn = planChunk(doc, 1n)?.item.withdrawn;
    expect(withdrawn).toBeDefined();
    for (const table of [withdrawn?.counts, withdrawn?.userQuarters]) {
      // A small copy may share Node's 8 KiB pool, which every small buffer uses.
      expect(table?.buffer.buffer.byteLength).toBeLessThanOrEqual(8192);
    }
  });
});
