/**
 * The keys of the last few parts (inserts) of a file, to drop a repeated row before it reaches the
 * database: a duplicate-key error costs far more than the insert itself (about ten times on
 * FerretDB). Every row refreshes its key, dropped or not, so a row that repeats at a period of at
 * most (windowParts - 1) parts is stored once and dropped ever after.
 */
export class RecentKeys {
  private readonly parts: Set<string>[] = [new Set()];

  constructor(private readonly windowParts: number) {}

  /** True the first time a key is met within the window; remembers it either way. */
  firstSeen(key: string): boolean {
    const seen = this.parts.some((keys) => keys.has(key));
    this.parts.at(-1)?.add(key);
    return !seen;
  }

  /** Starts the next part, forgetting the oldest once the window is full. */
  endPart(): void {
    this.parts.push(new Set());
    if (this.parts.length > this.windowParts) this.parts.shift();
  }
}
