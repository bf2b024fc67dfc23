import type { Db } from 'mongodb';
import { isDuplicateKey } from '../mongo';
import { chunkDoc } from './chunkCodec';
import { rawEventChunks, type CountableEvent } from './rawEventChunks';

/** Collects a batch's newly stored events and writes a chunk document every `eventsPerChunk`. */
export class ChunkWriter {
  private pending: CountableEvent[] = [];
  private written = 0;

  constructor(
    private readonly db: Db,
    private readonly batchId: string,
    private readonly eventsPerChunk: number,
  ) {}

  async add(events: readonly CountableEvent[]): Promise<void> {
    for (const event of events) {
      this.pending.push(event);
      if (this.pending.length === this.eventsPerChunk) await this.writeChunk();
    }
  }

  /** Chunks numbered so far (0 to count - 1): after `flush`, the batch's chunks. */
  get count(): number {
    return this.written;
  }

  /** Writes the last, partly filled chunk; call before the batch commits. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.writeChunk();
  }

  private async writeChunk(): Promise<void> {
    const events = this.pending;
    this.pending = [];
    // Numbered before the write: `add` may be called again while this one is in flight.
    const chunk = this.written;
    this.written += 1;
    // Already there only when another call derives the same batch's chunks (deriveChunks): from
    // the same events in the same order, so theirs equal ours. An upload's batch id is new.
    await rawEventChunks(this.db)
      .insertOne(chunkDoc(this.batchId, chunk, events))
      .catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
  }
}
