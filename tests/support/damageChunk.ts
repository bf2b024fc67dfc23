import { Binary, type Db } from 'mongodb';
import { RAW_EVENT_CHUNKS_COLLECTION, type RawEventChunk } from '../../src/events/rawEventChunks';

/**
 * Makes the second event of a stored chunk uncountable (its time is no longer a whole number of
 * milliseconds), so that chunk's job fails for real. Returns a function that puts the chunk back.
 */
export async function damageChunk(db: Db, batchId: string, chunk: number): Promise<() => Promise<void>> {
  const chunks = db.collection<RawEventChunk>(RAW_EVENT_CHUNKS_COLLECTION);
  const stored = await chunks.findOne({ _id: `${batchId}:${chunk}` });
  if (stored === null) throw new Error(`chunk ${chunk} of batch ${batchId} was not stored`);
  const timestamps = Buffer.from(stored.timestamps.buffer.subarray(0, stored.timestamps.length()));
  timestamps.writeDoubleLE(0.5, 8);
  await chunks.updateOne({ _id: stored._id }, { $set: { timestamps: new Binary(timestamps) } });
  return async () => {
    await chunks.updateOne({ _id: stored._id }, { $set: { timestamps: stored.timestamps } });
  };
}
