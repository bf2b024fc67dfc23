import { startPeriodicSweep } from '../periodicSweep';
import type { Db } from 'mongodb';
import type { Logger } from '../../logging';
import type { EraseUser } from './eraseUser';
import { userErasures } from './erasures';

/**
 * Erasures whose process stopped are finished by the sweep of any API process (at its start and
 * every few seconds): one whose heartbeat is older than `staleMs` is resumed from its document.
 * Every step of an erasure is idempotent, and its log records have natural keys, so an erasure
 * resumed twice (two sweeps meeting on it) still appends each record once.
 */

export interface ErasureSweepDeps {
  db: Db;
  eraseUser: EraseUser;
  logger: Logger;
  /** An erasure not renewed for this long is taken for stopped (UPLOAD_CLAIM_EXPIRY_MS). */
  staleMs: number;
}

/** One pass: resumes every stopped erasure in turn; how many it resumed. */
export async function sweepErasures(deps: ErasureSweepDeps): Promise<number> {
  const stale = await userErasures(deps.db)
    .find(
      { state: 'erasing', heartbeatAt: { $lt: new Date(Date.now() - deps.staleMs) } },
      { projection: { _id: 1 } },
    )
    .toArray();
  let resumed = 0;
  for (const { _id } of stale) {
    if (deps.eraseUser.isRunning(_id)) continue;
    deps.logger.info('resuming an erasure whose process stopped', { erasureId: _id });
    await deps.eraseUser.run(_id);
    resumed += 1;
  }
  return resumed;
}

export function startErasureSweep(deps: ErasureSweepDeps & { intervalMs: number }): { stop(): void } {
  return startPeriodicSweep(() => sweepErasures(deps), {
    intervalMs: deps.intervalMs,
    logger: deps.logger,
    failure: 'could not finish a stopped erasure',
  });
}
