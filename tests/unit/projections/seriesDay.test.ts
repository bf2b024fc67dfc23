import fc from 'fast-check';
import { emptyTypeDay, encodeTypeDay, mergeUsers, bytesOf } from '../../../src/projections/seriesDay';

const entry = fc.tuple(fc.integer({ min: 0, max: 95 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

/** The users binary of a type's day holding exactly these (quarter, user) entries. */
function usersOf(entries: readonly (readonly [number, bigint])[]): Buffer {
  const day = emptyTypeDay();
  for (const [quarter, user] of entries) day.users[quarter]?.add(user);
  return bytesOf(encodeTypeDay('t', day).users);
}

describe('mergeUsers', () => {
  it('gives the stored users with the added ones, in stored order and each once', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 60 }), fc.array(entry, { maxLength: 60 }), (stored, added) => {
        // Repeats within and across the two sides, as a replayed or overlapping page brings them.
        const again = [...added, ...stored.slice(0, 5), ...added.slice(0, 5)];
        const merged = mergeUsers(encodeTypeDay('t', dayOf(stored)).users, again);
        expect(bytesOf(merged).equals(usersOf([...stored, ...again]))).toBe(true);
      }),
    );
  });

  it('merges into an empty day', () => {
    expect(
      bytesOf(
        mergeUsers(undefined, [
          [3, 7n],
          [1, 9n],
          [3, 7n],
        ]),
      ),
    ).toEqual(
      usersOf([
        [1, 9n],
        [3, 7n],
      ]),
    );
  });
});

function dayOf(entries: readonly (readonly [number, bigint])[]) {
  const day = emptyTypeDay();
  for (const [quarter, user] of entries) day.users[quarter]?.add(user);
  return day;
}
