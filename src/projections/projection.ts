import type { Db } from 'mongodb';
import type { AnyLogRecord } from '../events/eventLog';
import type { ProjectionName } from './readModels';

/** One idempotent write to a read model: safe to run again after a crash at any point. */
export type Write = () => Promise<void>;

/**
 * A read model kept from the log. `planWrites` lists the writes one record causes; each is
 * conditional on the target document's `lastPosition`, which is what makes replays harmless.
 * The projector runs them in order; a crash between two of them is healed by replaying the record.
 */
export interface Projection {
  name: ProjectionName;
  ensureIndexes(db: Db, collectionName: string): Promise<void>;
  planWrites(db: Db, collectionName: string, record: AnyLogRecord): Write[];
}
