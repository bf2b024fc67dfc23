import type { Db } from 'mongodb';
import type { AnyLogRecord } from '../events/eventLog';
import type { ProjectionName } from './readModels';

/** One idempotent write to a read model: safe to run again after a crash at any point. */
export type Write = () => Promise<void>;

/**
 * A read model kept from the log. `planPage` reads the `lastPosition` of the documents a page of
 * records touches and returns one write per document, carrying only the contributions of records
 * after that position; each write is conditional on it, which is what makes replays harmless.
 * The projector runs them in order; a crash between two of them is healed by replaying the page.
 * One write per document per page (not per record) is what keeps big batches fast.
 */
export interface Projection {
  name: ProjectionName;
  ensureIndexes(db: Db, collectionName: string): Promise<void>;
  planPage(db: Db, collectionName: string, records: readonly AnyLogRecord[]): Promise<Write[]>;
}
