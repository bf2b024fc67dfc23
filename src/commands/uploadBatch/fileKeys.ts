/**
 * The keys of one file met so far, to drop a repeated row before it reaches the database: a part
 * that meets a duplicate key costs FerretDB far more than a clean insert (it inserts that part's
 * rows one by one; docs/performance.md).
 *
 * A key (SHA-256, 64 hex digits) is remembered by its first 128 bits, in open-addressing tables
 * kept at most half full: 32 bytes a key. Two distinct events of one file share those bits with a
 * chance of about n²/2^129 (about 1.5e-27 for a million rows). Keys go into one table of up to
 * half `maxKeys`; a full table is kept as the older one and a new one begun, and the table before
 * it let go. So every key of a file of up to half `maxKeys` rows is remembered, and of a longer
 * file at least the last half `maxKeys` (repeats in real exports are mostly near each other). A
 * repeat of a key let go meets the database's unique key, which decides it exactly.
 */
export class FileKeys {
  /**
   * 16 MiB of tables at most; every row of a file of up to 262,144 rows (about 20 MiB of rows like
   * the bench's). Uploads store side by side, each with its own tables.
   */
  static readonly MAX_KEYS = 1 << 19;

  private current = new KeyTable();
  private older: KeyTable | undefined;
  private readonly words = new Uint32Array(4);

  constructor(private readonly maxKeys = FileKeys.MAX_KEYS) {}

  /** True the first time `key` is met (and for a key that cannot be remembered). */
  firstSeen(key: string): boolean {
    if (key.length !== 64) return true;
    const words = this.words;
    for (let w = 0; w < 4; w++) words[w] = Number.parseInt(key.slice(w * 8, w * 8 + 8), 16) >>> 0;
    if (isEmpty(words, 0)) return true;
    if (this.older?.has(words) === true) return false;
    if (!this.current.add(words)) return false;
    if (this.current.count >= this.maxKeys / 2) {
      this.older = this.current;
      this.current = new KeyTable();
    }
    return true;
  }
}

/** Keys as four 32-bit words a slot (all zero is an empty slot), grown to stay at most half full. */
class KeyTable {
  private static readonly FIRST_SLOTS = 1 << 12;
  private table = new Uint32Array(4 * KeyTable.FIRST_SLOTS);
  count = 0;

  has(words: Uint32Array): boolean {
    return !isEmpty(this.table, slotOf(this.table, words, 0));
  }

  /** Adds the key; false when it was there. */
  add(words: Uint32Array): boolean {
    const at = slotOf(this.table, words, 0);
    if (!isEmpty(this.table, at)) return false;
    this.table.set(words, at);
    this.count += 1;
    if (this.count * 2 > this.table.length / 4) this.grow();
    return true;
  }

  private grow(): void {
    const old = this.table;
    const table = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 4) {
      if (!isEmpty(old, at)) table.set(old.subarray(at, at + 4), slotOf(table, old, at));
    }
    this.table = table;
  }
}

function isEmpty(words: Uint32Array, at: number): boolean {
  return words[at] === 0 && words[at + 1] === 0 && words[at + 2] === 0 && words[at + 3] === 0;
}

/** Where the key of `words[from..from+4]` is in `table`, or the empty slot where it would go. */
function slotOf(table: Uint32Array, words: Uint32Array, from: number): number {
  const mask = table.length / 4 - 1;
  for (let i = (words[from] ?? 0) & mask; ; i = (i + 1) & mask) {
    const at = i * 4;
    if (isEmpty(table, at)) return at;
    if (
      table[at] === words[from] &&
      table[at + 1] === words[from + 1] &&
      table[at + 2] === words[from + 2] &&
      table[at + 3] === words[from + 3]
    )
      return at;
  }
}
