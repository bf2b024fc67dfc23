import type { Db } from 'mongodb';
import { RAW_EVENT_CHUNKS_COLLECTION } from '../../src/events/rawEventChunks';

/**
 * Makes the second event of a stored chunk uncountable (its time is no longer a number), so that
 * chunk's job fails for real. Returns a function that puts the chunk back as it was.
 */
export async function damageChunk(db: Db, batchId: string, chunk: number): Promise<() => Promise<void>> {
  const chunks = db.collection<{ _id: string; timestamps: unknown[] }>(RAW_EVENT_CHUNKS_COLLECTION);
  const stored = await chunks.findOne({ _id: `${batchId}:${chunk}` });
  if (stored === null) throw new Error(`chunk ${chunk} of batch ${batchId} was not stored`);
  const [first, , ...rest] = stored.timestamps;
  await chunks.updateOne({ _id: stored._id }, { $set: { timestamps: [first, 'not a time', ...rest] } });
  return async () => {
    await chunks.updateOne({ _id: stored._id }, { $set: { timestamps: stored.timestamps } });
  };
}
