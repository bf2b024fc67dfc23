import type { Db } from 'mongodb';
import { pingRedis, redisConnected, type RedisClient } from '../redis';
import type { StoreLeases } from '../commands/uploadBatch/storeLease';
import type { UploadSessions } from '../commands/uploadBatch/uploadSessions';
import type { Mongo } from '../mongo';
import { readProjectionStatuses } from '../projections/projectionStatus';
import type { LagAssessment, LagWatch } from './projectionLag';
import { withTimeout } from './withTimeout';

/** `timeout`: answered too slowly (a loaded machine), which is not the same as down. */
export type CheckResult = 'ok' | 'unavailable' | 'timeout';

export interface Health {
  /** `degraded` still serves requests (HTTP 200); `unavailable` (503) only when a dependency is down. */
  status: 'ok' | 'degraded' | 'unavailable';
  checks: {
    mongo: CheckResult;
    redis: CheckResult;
    projections: 'ok' | 'lagging' | 'failing' | 'unknown';
    uploads: 'ok' | 'stuck' | 'unknown';
  };
  projections: LagAssessment['projections'];
  /** One sentence per thing that is not right: what, since when, and why. */
  problems: string[];
}

export interface HealthDeps {
  mongo: Mongo;
  redis: RedisClient;
  lagWatch: LagWatch;
  sessions: UploadSessions;
  leases: StoreLeases;
  timeoutMs: number;
  /** An upload session left this long after its upload stopped counts as stuck. */
  stuckAfterMs: number;
}

/** A failing projection is reported once its failures have lasted this long (one blip is not a state). */
const FAILING_AFTER_MS = 3000;

async function check(
  probe: () => Promise<unknown>,
  ms: number,
  reachable: () => boolean,
): Promise<CheckResult> {
  try {
    await withTimeout(ms, probe);
    return 'ok';
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    return timedOut && reachable() ? 'timeout' : 'unavailable';
  }
}

async function projectionProblems(db: Db): Promise<string[]> {
  const now = Date.now();
  return (await readProjectionStatuses(db)).flatMap((s) => {
    if (s.recovering !== null)
      return [`projection ${s._id}: ${s.recovering} (after: ${s.lastError ?? 'an error'})`];
    if (s.failingSince === null || now - s.failingSince.getTime() < FAILING_AFTER_MS) return [];
    return [
      `projection ${s._id}: ${s.failures} catch-up(s) failed since ${s.failingSince.toISOString()}: ${s.lastError ?? '?'}`,
    ];
  });
}

async function uploadProblems(deps: HealthDeps): Promise<string[]> {
  const [sessions, epochs] = await Promise.all([deps.sessions.all(), deps.leases.all()]);
  const now = Date.now();
  const newest = epochs.at(-1);
  return sessions.flatMap((s) => {
    if (s.purgeError !== null) {
      return [
        `upload ${s._id} (${s.fileName}) was interrupted; purging its events keeps failing: ${s.purgeError}`,
      ];
    }
    // Still storing: its epoch is the lease as it stands, and held.
    if (newest !== undefined && newest._id === s.epoch && !deps.leases.isFree(newest, now)) return [];
    // Its last sign of life: the last renewal of its turn to store (its start, if that epoch is gone).
    const epoch = epochs.find((e) => e._id === s.epoch);
    const lastSeen = Math.max(
      s.createdAt.getTime(),
      epoch === undefined ? 0 : epoch.until.getTime() - deps.leases.leaseMs,
    );
    if (now - lastSeen < deps.stuckAfterMs) return [];
    return [`upload ${s._id} (${s.fileName}) was interrupted; its events are not purged yet`];
  });
}

export function createCheckHealth(deps: HealthDeps) {
  const db = deps.mongo.db;
  return async function checkHealth(): Promise<Health> {
    const settled = <T>(work: () => Promise<T>): Promise<T | undefined> =>
      withTimeout(deps.timeoutMs, work).catch(() => undefined);
    const [mongo, redis, lag, projectionIssues, uploadIssues] = await Promise.all([
      check(
        () => db.command({ ping: 1 }),
        deps.timeoutMs,
        () => deps.mongo.reachable().ok,
      ),
      // The request connection refuses commands at once while Redis is unreachable; on a cluster,
      // every master is pinged and the cluster must serve every slot.
      check(
        () => pingRedis(deps.redis),
        deps.timeoutMs,
        () => redisConnected(deps.redis),
      ),
      settled(() => deps.lagWatch.assess()),
      settled(() => projectionProblems(db)),
      settled(() => uploadProblems(deps)),
    ]);
    const problems: string[] = [];
    if (mongo !== 'ok')
      problems.push(
        `mongo: ${mongo === 'timeout' ? 'answering slowly' : (deps.mongo.reachable().error ?? 'unavailable')}`,
      );
    if (redis !== 'ok') problems.push(`redis: ${redis === 'timeout' ? 'answering slowly' : 'unavailable'}`);
    if (lag?.status === 'lagging') {
      for (const p of lag.projections.filter((l) => l.lag > 0)) {
        problems.push(
          `projection ${p.projection}: ${p.lag} records behind the event log for ${p.laggingSeconds} s`,
        );
      }
    }
    problems.push(...(projectionIssues ?? []), ...(uploadIssues ?? []));

    const projections: Health['checks']['projections'] =
      lag === undefined || projectionIssues === undefined
        ? 'unknown'
        : projectionIssues.length > 0
          ? 'failing'
          : lag.status;
    const uploads: Health['checks']['uploads'] =
      uploadIssues === undefined ? 'unknown' : uploadIssues.length > 0 ? 'stuck' : 'ok';
    let status: Health['status'] = 'ok';
    if (mongo === 'unavailable' || redis === 'unavailable') status = 'unavailable';
    else if (problems.length > 0 || projections === 'unknown' || uploads === 'unknown') status = 'degraded';
    return {
      status,
      checks: { mongo, redis, projections, uploads },
      projections: lag?.projections ?? [],
      problems,
    };
  };
}

export type CheckHealth = ReturnType<typeof createCheckHealth>;
