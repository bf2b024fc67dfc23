import { batchKeys } from '../../src/events/batchHistory';
import { MongoClient, type Db, type Document, type Filter, type FindOptions } from 'mongodb';
import { createEventLog, ensureEventLogIndexes, EVENT_LOG_COLLECTION } from '../../src/events/eventLog';
import { uniqueName } from '../support/testConfig';

const uri = process.env.TEST_MONGODB_URI ?? '';

describe('event log', () => {
  const clients: MongoClient[] = [];
  let db: Db;

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) clients.push(await new MongoClient(uri).connect());
    const first = clients[0];
    if (first === undefined) throw new Error('no client');
    db = first.db(uniqueName('eventlog'));
    await ensureEventLogIndexes(db);
  });

  afterAll(async () => {
    await db.dropDatabase();
    await Promise.all(clients.map((c) => c.close()));
  });

  beforeEach(async () => {
    await db.collection(EVENT_LOG_COLLECTION).deleteMany({});
  });

  const uploaded = (batchId: string) => ({
    type: 'BatchUploaded' as const,
    key: batchKeys.uploaded(batchId),
    streamId: `batch-${batchId}`,
    data: { batchId, fileName: 'a.csv', totalRows: 3, newEvents: 2, duplicates: 1, eventsPerChunk: 5000 },
    correlationId: 'corr-1',
  });

  it('gives concurrent appends from several clients positions 1..N with no gap and no duplicate', async () => {
    const logs = clients.map((c) => createEventLog(c.db(db.databaseName)));
    const n = 60;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const log = logs[i % logs.length];
        if (log === undefined) throw new Error('no log');
        return log.append(uploaded(`b${i}`));
      }),
    );
    const positions = results.map((r) => r.record.position).sort((a, b) => a - b);
    expect(positions).toEqual(Array.from({ length: n }, (_, i) => i + 1));

    const stored = await createEventLog(db).readFrom(1, 1000);
    expect(stored.map((r) => r.position)).toEqual(positions);
    expect(new Set(stored.map((r) => r.key)).size).toBe(n);
  });

  it('answers a head asked while a later head moved it with a position that exists', async () => {
    // The real collection, with the first probe of position 4 answered late: meanwhile another
    // call of the same log finds a later head. The late call must still name only what exists.
    const probe = { armed: false };
    const slowDb = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'collection') return Reflect.get(target, prop, receiver) as unknown;
        return (name: string) => {
          const collection = target.collection(name);
          return new Proxy(collection, {
            get(c, p, r) {
              if (p !== 'findOne') return Reflect.get(c, p, r) as unknown;
              return async (filter: Filter<Document>, options?: FindOptions) => {
                const id: unknown = filter._id;
                if (id === 4 && probe.armed) {
                  probe.armed = false;
                  await new Promise((done) => setTimeout(done, 500));
                }
                return c.findOne(filter, options);
              };
            },
          });
        };
      },
    });
    const writer = createEventLog(db);
    const reader = createEventLog(slowDb);
    for (let i = 1; i <= 3; i++) await writer.append(uploaded(`m${i}`));
    expect(await reader.head()).toBe(3);
    await writer.append(uploaded('m4'));
    probe.armed = true;
    const late = reader.head(); // probes 3 and the positions after it; the answer for 4 comes late
    await new Promise((done) => setTimeout(done, 100));
    await writer.append(uploaded('m5'));
    expect(await reader.head()).toBe(5);
    // 4 was the head when the call began, 5 when it ended: either is true, 6 never was.
    expect([4, 5]).toContain(await late);
  });

  it('returns the original record for a retried append, concurrent or not', async () => {
    const log = createEventLog(db);
    const first = await log.append({ ...uploaded('x'), correlationId: 'first' });
    expect(first.appended).toBe(true);

    const again = await Promise.all(
      clients.map((c) =>
        createEventLog(c.db(db.databaseName)).append({ ...uploaded('x'), correlationId: 'retry' }),
      ),
    );
    for (const r of again) {
      expect(r.appended).toBe(false);
      expect(r.record.position).toBe(first.record.position);
      expect(r.record.metadata.correlationId).toBe('first');
    }
    expect(await log.head()).toBe(1);
  });

  it('rejects data that does not match the schema of its type', async () => {
    const log = createEventLog(db);
    const bad = {
      ...uploaded('y'),
      data: {
        batchId: 'y',
        fileName: 'a.csv',
        totalRows: -1,
        newEvents: 0,
        duplicates: 0,
        eventsPerChunk: 5000,
      },
    };
    await expect(log.append(bad)).rejects.toThrow();
    expect(await log.head()).toBe(0);
  });

  it('reads in position order, a page at a time', async () => {
    const log = createEventLog(db);
    for (let i = 0; i < 7; i++) await log.append(uploaded(`p${i}`));
    expect((await log.readFrom(3, 2)).map((r) => r.position)).toEqual([3, 4]);
    const all: number[] = [];
    for await (const record of log.readAll(2, 3)) all.push(record.position);
    expect(all).toEqual([2, 3, 4, 5, 6, 7]);
    const [record] = await log.readFrom(1, 1);
    expect(record?.type).toBe('BatchUploaded');
    expect(record?.metadata.recordedAt).toBeInstanceOf(Date);
  });

  it('calls onAppended only for records it really appended', async () => {
    const seen: number[] = [];
    const log = createEventLog(db, { onAppended: (r) => seen.push(r.position) });
    await log.append(uploaded('n1'));
    await log.append(uploaded('n1'));
    await log.append(uploaded('n2'));
    expect(seen).toEqual([1, 2]);
  });

  it('appends many records at once gap-free while two writers race with overlapping keys', async () => {
    const [a, b] = clients.map((c) => createEventLog(c.db(db.databaseName)));
    if (a === undefined || b === undefined) throw new Error('no logs');
    // Each writer sends several bursts; 40 of each burst's keys are also in the other's.
    const burst = (writer: string, round: number) =>
      Array.from({ length: 60 }, (_, i) =>
        uploaded(i < 40 ? `r${round}-shared-${i}` : `r${round}-${writer}-${i}`),
      );
    const rounds = [0, 1, 2, 3];
    const answers = (
      await Promise.all([
        ...rounds.map((r) => a.appendMany(burst('a', r))),
        ...rounds.map((r) => b.appendMany(burst('b', r))),
      ])
    ).flat();
    const distinct = rounds.length * (40 + 20 + 20);
    const stored = await createEventLog(db).readFrom(1, 10_000);
    expect(stored.map((r) => r.position)).toEqual(Array.from({ length: distinct }, (_, i) => i + 1));
    expect(new Set(stored.map((r) => r.key)).size).toBe(distinct);
    // Every answer names the one stored record of its key, and each key was appended exactly once.
    const positionOf = new Map(stored.map((r) => [r.key, r.position]));
    for (const answer of answers) expect(answer.record.position).toBe(positionOf.get(answer.record.key));
    expect(answers.filter((x) => x.appended)).toHaveLength(distinct);
  });

  it('answers each record of appendMany as append would: twins in one call are stored once', async () => {
    const log = createEventLog(db);
    await log.append(uploaded('old'));
    const answers = await log.appendMany([uploaded('m1'), uploaded('old'), uploaded('m2'), uploaded('m1')]);
    expect(answers.map((x) => [x.record.key, x.record.position, x.appended])).toEqual([
      [batchKeys.uploaded('m1'), 2, true],
      [batchKeys.uploaded('old'), 1, false],
      [batchKeys.uploaded('m2'), 3, true],
      [batchKeys.uploaded('m1'), 2, false],
    ]);
  });
});
