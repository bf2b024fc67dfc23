/**
 * The keys that this process's uploads still storing have inserted, by the batch that inserted
 * them, so that another upload of the same process can tell those events are there without sending
 * them to the database: a duplicate-key error costs FerretDB about what inserting the whole part
 * again one event at a time does (docs/performance.md). Kept only while two or more uploads store at
 * once (overlapping files sent together), up to `maxKeys`; an upload's keys are forgotten when it
 * ends, whatever its outcome.
 *
 * A key found here is not a final duplicate: the upload sets the event aside until the batch that
 * inserted it settles, as for a duplicate-key error while that batch is unsettled (storeEvents).
 */
export class InFlightKeys {
  /** About 84 MB of heap when full: enough for five 10 MiB files sent at once (performance.md). */
  static readonly DEFAULT_MAX_KEYS = 600_000;

  private readonly owners = new Map<string, string>();
  private readonly keysOf = new Map<string, string[][]>();

  constructor(private readonly maxKeys = InFlightKeys.DEFAULT_MAX_KEYS) {}

  /** An upload of `batchId` starts storing. */
  begin(batchId: string): void {
    this.keysOf.set(batchId, []);
  }

  /** Keys `batchId` has just inserted. */
  inserted(batchId: string, keys: string[]): void {
    const lists = this.keysOf.get(batchId);
    if (lists === undefined || this.keysOf.size < 2 || this.owners.size + keys.length > this.maxKeys) return;
    for (const key of keys) this.owners.set(key, batchId);
    lists.push(keys);
  }

  /** The batch that inserted `key`, if an upload of this process still storing did. */
  ownerOf(key: string): string | undefined {
    return this.owners.get(key);
  }

  /** The upload of `batchId` ended: its keys are forgotten. */
  end(batchId: string): void {
    for (const keys of this.keysOf.get(batchId) ?? []) {
      for (const key of keys) if (this.owners.get(key) === batchId) this.owners.delete(key);
    }
    this.keysOf.delete(batchId);
  }
}
