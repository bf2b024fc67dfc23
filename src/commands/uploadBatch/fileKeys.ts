/**
 * The keys of one file met so far, to drop a repeated row before it reaches the database: a part
 * that meets a duplicate key costs FerretDB about twice a clean insert (docs/performance.md).
 *
 * A key (SHA-256, 64 hex digits) is remembered by its first 128 bits, in an open-addressing table
 * kept at most half full: 32 bytes a key. Two distinct events of one file share those bits with a
 * chance of about n²/2^129 (about 1.5e-27 for a million rows). Past `maxKeys`, further keys are not
 * remembered: their repeats meet the database's unique key, which decides them exactly.
 */
export class FileKeys {
  /**
   * 16 MiB of table when full: the rows of a file of about 30 MiB. Uploads store side by side, each
   * with its own table.
   */
  static readonly MAX_KEYS = 1 << 19;
  private static readonly FIRST_SLOTS = 1 << 12;

  /** Four 32-bit words a slot; all zero is an empty slot. */
  private table = new Uint32Array(4 * FileKeys.FIRST_SLOTS);
  private count = 0;
  private readonly words = new Uint32Array(4);

  constructor(private readonly maxKeys = FileKeys.MAX_KEYS) {}

  /** True the first time `key` is met (and for a key that cannot be remembered). */
  firstSeen(key: string): boolean {
    if (key.length !== 64) return true;
    const words = this.words;
    for (let w = 0; w < 4; w++) words[w] = Number.parseInt(key.slice(w * 8, w * 8 + 8), 16) >>> 0;
    if (isEmpty(words, 0)) return true;
    const at = slotOf(this.table, words, 0);
    if (!isEmpty(this.table, at)) return false;
    if (this.count >= this.maxKeys) return true;
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
