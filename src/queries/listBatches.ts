import type { Db, Filter } from 'mongodb';
import { ValidationError } from '../errors';
import type { BatchStatusDoc } from '../projections/batchStatus';
import { liveCollection } from '../projections/readModels';
import { positionsFor, toBatchStatus, type BatchStatus } from './getBatch';

export interface BatchPage {
  batches: BatchStatus[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const DEFAULT_BATCH_PAGE = 20;
export const MAX_BATCH_PAGE = 100;

/** A page cursor: the log position of the previous page's last upload. */
export const BATCH_CURSOR = /^[1-9]\d{0,15}$/;

/** Newest first. The cursor is the log position of the last batch's upload: stable under new uploads. */
export function createListBatches(deps: { db: Db }) {
  return async function listBatches(options: { limit?: number; cursor?: string }): Promise<BatchPage> {
    const limit = options.limit ?? DEFAULT_BATCH_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BATCH_PAGE) {
      throw new ValidationError(`limit must be an integer from 1 to ${MAX_BATCH_PAGE}`);
    }
    const filter: Filter<BatchStatusDoc> = {};
    if (options.cursor !== undefined) {
      if (!BATCH_CURSOR.test(options.cursor)) throw new ValidationError('cursor is not valid');
      filter.uploadedPosition = { $lt: Number(options.cursor) };
    }
    const collection = await liveCollection<BatchStatusDoc>(deps.db, 'batchStatus');
    const docs = await collection
      .find(filter, { sort: { uploadedPosition: -1 }, limit: limit + 1 })
      .toArray();
    const page = docs.slice(0, limit);
    const positions = await positionsFor(deps.db, page);
    const last = page.at(-1);
    return {
      batches: page.map((doc) => toBatchStatus(doc, positions)),
      nextCursor: docs.length > limit && last !== undefined ? String(last.uploadedPosition) : null,
    };
  };
}

export type ListBatches = ReturnType<typeof createListBatches>;
