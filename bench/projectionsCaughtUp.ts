import type { Db } from 'mongodb';
import { createEventLog } from '../src/events/eventLog';
import { checkpointId, liveVersion, PROJECTION_NAMES, readCheckpoint } from '../src/projections/readModels';

/** Resolves once every projection's live checkpoint has reached the head of the log. */
export async function waitForProjections(db: Db): Promise<void> {
  const log = createEventLog(db);
  for (;;) {
    const head = await log.head();
    let behind = false;
    for (const name of PROJECTION_NAMES) {
      const position = await readCheckpoint(db, checkpointId(name, await liveVersion(db, name)));
      if (position < head) behind = true;
    }
    if (!behind) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads the whole log once, in order, the way a rebuild does; returns the record count. */
export async function readLogOnce(db: Db): Promise<number> {
  let count = 0;
  for await (const _record of createEventLog(db).readAll()) count++;
  return count;
}
