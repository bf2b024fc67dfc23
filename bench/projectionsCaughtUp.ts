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

/** Resolves once the log's head has not moved for `quietMs` and every projection has reached it. */
export async function waitForQuiet(db: Db, quietMs = 2000): Promise<void> {
  const log = createEventLog(db);
  let head = -1;
  for (;;) {
    await waitForProjections(db);
    const now = await log.head();
    if (now === head) return;
    head = now;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

/** Reads the whole log once, in order, the way a rebuild does; returns the record count. */
export async function readLogOnce(db: Db): Promise<number> {
  let count = 0;
  for await (const _record of createEventLog(db).readAll()) count++;
  return count;
}
