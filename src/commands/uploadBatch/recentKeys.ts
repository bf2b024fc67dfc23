/**
 * The keys of the last few chunks of a file, to drop a repeated row before it reaches the
 * database: a duplicate-key error costs far more than the insert itself (about ten times on
 * FerretDB). Every row refreshes its key, dropped or not, so a row that repeats at a period of at
 * most (windowChunks - 1) chunks is stored once and dropped ever after.
 */
export class RecentKeys {
  private readonly chunks: Set<string>[] = [new Set()];

  constructor(private readonly windowChunks: number) {}

  /** True the first time a key is met within the window; remembers it either way. */
  firstSeen(key: string): boolean {
    const seen = this.chunks.some((keys) => keys.has(key));
    this.chunks.at(-1)?.add(key);
    return !seen;
  }

  /** Starts the next chunk, forgetting the oldest once the window is full. */
  endChunk(): void {
    this.chunks.push(new Set());
    if (this.chunks.length > this.windowChunks) this.chunks.shift();
  }
}
