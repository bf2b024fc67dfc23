import type { Db } from 'mongodb';
import { pingRedis, redisConnected, type RedisClient } from '../redis';
import type { BatchClaims } from '../commands/uploadBatch/batchClaims';
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
  claims: BatchClaims;
  timeoutMs: number;
  /** A claim whose heartbeat stopped this long ago and that is not resolved yet counts as stuck. */
  stuckAfterMs: number;
  /** How long an answer is reused. */
  cacheMs: number;
  /** Told at the start of each evaluation (the Prometheus counter of them). */
  onEvaluation?: () => void;
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
  const now = Date.now();
  return (await deps.claims.all()).flatMap((v) => {
    // Uploaded and collected ones are done; a live upload renews its heartbeat.
    if (v.claim === undefined || now - v.claim.heartbeatAt.getTime() < deps.stuckAfterMs) return [];
    return [
      `upload ${v.batchId} (${v.claim.fileName}) stopped while ${v.state}; its claim is not resolved yet`,
    ];
  });
}

/** A check's answer, or the sentence that says why there is none. */
type Settled<T> = { value: T } | { problem: string };

async function settle<T>(what: string, ms: number, work: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { value: await withTimeout(ms, work) };
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    const why = timedOut ? `timed out after ${ms} ms` : `failed: ${describe(error)}`;
    return { problem: `${what} ${why}` };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function evaluate(deps: HealthDeps): Promise<Health> {
  const db = deps.mongo.db;
  const ms = deps.timeoutMs;
  const [mongo, redis, lag, projectionIssues, uploadIssues] = await Promise.all([
    check(
      () => db.command({ ping: 1 }),
      ms,
      () => deps.mongo.reachable().ok,
    ),
    // The request connection refuses commands at once while Redis is unreachable; on a cluster,
    // every master is pinged and the cluster must serve every slot.
    check(
      () => pingRedis(deps.redis),
      ms,
      () => redisConnected(deps.redis),
    ),
    settle('projections: reading the projection lag', ms, () => deps.lagWatch.assess()),
    settle("projections: reading the projectors' status", ms, () => projectionProblems(db)),
    settle('uploads: reading the upload claims', ms, () => uploadProblems(deps)),
  ]);
  const problems: string[] = [];
  if (mongo !== 'ok')
    problems.push(
      mongo === 'timeout'
        ? `mongo: ping timed out after ${ms} ms (reachable, answering slowly)`
        : `mongo: ${deps.mongo.reachable().error ?? 'unavailable'}`,
    );
  if (redis !== 'ok')
    problems.push(
      redis === 'timeout'
        ? `redis: ping timed out after ${ms} ms (reachable, answering slowly)`
        : 'redis: unavailable',
    );
  const laggingNow = 'value' in lag && lag.value.status === 'lagging';
  if ('value' in lag && laggingNow) {
    for (const p of lag.value.projections.filter((l) => l.lag > 0)) {
      problems.push(
        `projection ${p.projection}: ${p.lag} records behind the event log for ${p.laggingSeconds} s`,
      );
    }
  }
  for (const part of [lag, projectionIssues, uploadIssues]) {
    if ('problem' in part) problems.push(part.problem);
  }
  if ('value' in projectionIssues) problems.push(...projectionIssues.value);
  if ('value' in uploadIssues) problems.push(...uploadIssues.value);

  const projections: Health['checks']['projections'] =
    !('value' in lag) || !('value' in projectionIssues)
      ? 'unknown'
      : projectionIssues.value.length > 0
        ? 'failing'
        : lag.value.status;
  const uploads: Health['checks']['uploads'] = !('value' in uploadIssues)
    ? 'unknown'
    : uploadIssues.value.length > 0
      ? 'stuck'
      : 'ok';
  let status: Health['status'] = 'ok';
  if (mongo === 'unavailable' || redis === 'unavailable') status = 'unavailable';
  else if (problems.length > 0) status = 'degraded';
  return {
    status,
    checks: { mongo, redis, projections, uploads },
    projections: 'value' in lag ? lag.value.projections : [],
    problems,
  };
}

/**
 * One evaluation at a time, shared by every caller that asks while it runs, and its answer reused
 * for `cacheMs` after it: each evaluation costs several database reads, and a crowd of health
 * checks must not become the load that makes the service unhealthy.
 */
export function createCheckHealth(deps: HealthDeps) {
  let running: Promise<Health> | undefined;
  let last: { health: Health; at: number } | undefined;
  return function checkHealth(): Promise<Health> {
    if (last !== undefined && Date.now() - last.at < deps.cacheMs) return Promise.resolve(last.health);
    if (running !== undefined) return running;
    deps.onEvaluation?.();
    const started = evaluate(deps)
      .then((health) => {
        last = { health, at: Date.now() };
        return health;
      })
      .finally(() => {
        running = undefined;
      });
    running = started;
    return started;
  };
}

export type CheckHealth = ReturnType<typeof createCheckHealth>;
