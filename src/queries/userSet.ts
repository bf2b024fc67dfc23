/**
 * A set of 64-bit user fingerprints held as two uint32 halves in open-addressed arrays: a year
 * of series unites millions of (quarter-hour, user) entries per query, which a Set of bigints
 * made several times slower. The low half is already uniformly distributed (it is hash output).
 */
export class UserSet {
  private high = new Uint32Array(16);
  private low = new Uint32Array(16);
  private used = new Uint8Array(16);
  size = 0;

  add(high: number, low: number): void {
    if ((this.size + 1) * 2 > this.used.length) this.grow();
    const mask = this.used.length - 1;
    for (let i = low & mask; ; i = (i + 1) & mask) {
      if (this.used[i] === 0) {
        this.used[i] = 1;
        this.high[i] = high;
        this.low[i] = low;
        this.size += 1;
        return;
      }
      if (this.high[i] === high && this.low[i] === low) return;
    }
  }

  /** Empties the set, keeping its capacity for the next use. */
  clear(): void {
    if (this.size === 0) return;
    this.used.fill(0);
    this.size = 0;
  }

  addAll(other: UserSet): void {
    other.used.forEach((used, i) => {
      if (used === 1) this.add(other.high[i] ?? 0, other.low[i] ?? 0);
    });
  }

  private grow(): void {
    const { high, low, used } = this;
    this.high = new Uint32Array(used.length * 2);
    this.low = new Uint32Array(used.length * 2);
    this.used = new Uint8Array(used.length * 2);
    this.size = 0;
    used.forEach((u, i) => {
      if (u === 1) this.add(high[i] ?? 0, low[i] ?? 0);
    });
  }
}
