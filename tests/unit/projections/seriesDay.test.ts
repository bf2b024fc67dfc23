import fc from 'fast-check';
import { Binary } from 'mongodb';
import {
  decodeTypeDay,
  encodeCounts,
  encodeUsers,
  mergeUsers,
  seriesDays,
  usersDocId,
  type SeriesStoredDoc,
} from '../../../src/projections/seriesDay';
import { QUARTERS_PER_DAY } from '../../../src/events/chunkDetail';
import { bytesOfBinary } from '../../../src/mongo';

const entry = fc.tuple(fc.integer({ min: 0, max: 95 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
type Entry = readonly [quarter: number, user: bigint];

function usersOf(entries: readonly Entry[]): Binary {
  const sets = Array.from({ length: QUARTERS_PER_DAY }, () => new Set<bigint>());
  for (const [quarter, user] of entries) sets[quarter]?.add(user);
  return encodeUsers(sets);
}

/** Every (quarter, user) of a decoded type's day, as comparable text. */
function entriesOf(users: readonly Set<bigint>[]): string[] {
  return users.flatMap((set, quarter) => [...set].map((user) => `${quarter}:${user}`)).sort();
}

function expected(entries: readonly Entry[]): string[] {
  return [...new Set(entries.map(([quarter, user]) => `${quarter}:${user}`))].sort();
}

const date = '2024-01-15';

describe('seriesDays', () => {
  it("unites a day's users documents up to its lastPosition, and the users a day written before them holds", () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 20 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.array(entry, { maxLength: 20 })), {
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 30 }),
        (legacy, usersDocs, lastPosition) => {
          const docs: SeriesStoredDoc[] = [
            {
              _id: date,
              date,
              types: [
                { eventType: 'click', counts: encodeCounts(new Float64Array(96)), users: usersOf(legacy) },
              ],
              dayOnly: [],
              lastPosition,
            },
            ...usersDocs.map(([position, entries], i) => ({
              // Distinct ids whatever the positions drawn.
              _id: `${usersDocId(date, position)}-${i}`,
              date,
              position,
              types: [{ eventType: 'click', users: usersOf(entries) }],
            })),
          ];
          const [day] = seriesDays(docs);
          const click = day?.types.find((t) => t.eventType === 'click');
          if (click === undefined) throw new Error('the day lost its type');
          const committed = usersDocs.filter(([position]) => position <= lastPosition).flatMap(([, e]) => e);
          expect(entriesOf(decodeTypeDay(click).users)).toEqual(expected([...legacy, ...committed]));
        },
      ),
    );
  });

  it('ignores users documents of a day that has none stored, and sorts days and types', () => {
    const counts = encodeCounts(new Float64Array(96));
    const days = seriesDays([
      { _id: usersDocId('2024-01-14', 3), date: '2024-01-14', position: 3, types: [] },
      {
        _id: '2024-01-16',
        date: '2024-01-16',
        types: [{ eventType: 'view', counts }],
        dayOnly: [],
        lastPosition: 4,
      },
      {
        _id: '2024-01-15',
        date: '2024-01-15',
        types: [
          { eventType: 'view', counts },
          { eventType: 'click', counts },
        ],
        dayOnly: [],
        lastPosition: 4,
      },
    ]);
    expect(days.map((d) => [d.date, d.types.map((t) => t.eventType)])).toEqual([
      ['2024-01-15', ['click', 'view']],
      ['2024-01-16', ['view']],
    ]);
  });

  it('leaves out the types not asked for, with their users documents and day-only counts', () => {
    const counts = encodeCounts(new Float64Array(96));
    const users = usersOf([[3, 7n]]);
    const days = seriesDays(
      [
        {
          _id: date,
          date,
          types: [
            { eventType: 'click', counts, users },
            { eventType: 'view', counts, users },
          ],
          dayOnly: [
            { eventType: 'click', count: 1 },
            { eventType: 'view', count: 2 },
          ],
          lastPosition: 9,
        },
        {
          _id: usersDocId(date, 5),
          date,
          position: 5,
          types: [
            { eventType: 'view', users },
            { eventType: 'scroll', users },
            { eventType: 'click', users },
          ],
        },
      ],
      new Set(['click', 'scroll']),
    );
    expect(days).toHaveLength(1);
    expect(days[0]?.types.map((t) => [t.eventType, t.users.length])).toEqual([
      ['click', 2],
      ['scroll', 1],
    ]);
    expect(days[0]?.dayOnly).toEqual([{ eventType: 'click', count: 1 }]);
  });

  it("keeps a day's users documents between its date and the next day's", () => {
    const ids = [
      usersDocId('2024-01-15', 12),
      '2024-01-16',
      '2024-01-15',
      usersDocId('2024-01-15', 9),
    ].sort();
    expect(ids).toEqual([
      '2024-01-15',
      usersDocId('2024-01-15', 9),
      usersDocId('2024-01-15', 12),
      '2024-01-16',
    ]);
  });
});

describe('mergeUsers', () => {
  /** (quarter, user) entries as an unsorted run, the way a page or a users document holds them. */
  function runOf(entries: readonly Entry[]): Buffer {
    const run = Buffer.alloc(entries.length * 9);
    entries.forEach(([quarter, user], i) => {
      run.writeUInt8(quarter, i * 9);
      run.writeBigUInt64BE(user, i * 9 + 1);
    });
    return run;
  }

  it('gives the merged users with the added runs, sorted and each once', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 60 }),
        fc.array(fc.array(entry, { maxLength: 30 }), { maxLength: 4 }),
        (stored, runs) => {
          // Repeats within a run, across runs and of stored users, as overlapping pages bring them.
          const added = [...runs, [...stored.slice(0, 5), ...(runs[0] ?? []).slice(0, 5)]];
          const merged = mergeUsers(usersOf(stored), added.map(runOf));
          const all = [...stored, ...added.flat()];
          expect(bytesOfBinary(merged).equals(bytesOfBinary(usersOf(all)))).toBe(true);
        },
      ),
    );
  });

  it('merges into a day that has none', () => {
    const merged = mergeUsers(undefined, [
      runOf([
        [3, 7n],
        [1, 9n],
      ]),
      runOf([[3, 7n]]),
    ]);
    expect(
      bytesOfBinary(merged).equals(
        bytesOfBinary(
          usersOf([
            [1, 9n],
            [3, 7n],
          ]),
        ),
      ),
    ).toBe(true);
  });
});
