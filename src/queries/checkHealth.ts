import type { Db } from 'mongodb';
import type { Redis } from 'ioredis';
import type { LagAssessment, LagWatch } from './projectionLag';
import { withTimeout } from './withTimeout';

export type CheckResult = 'ok' | 'unavailable' | 'timeout';

export interface Health {
  /** `degraded` still serves requests (HTTP 200): a projection trails the log for too long. */
  status: 'ok' | 'degraded' | 'unavailable';
  checks: { mongo: CheckResult; redis: CheckResult; projections: 'ok' | 'lagging' | 'unknown' };
  projections: LagAssessment['projections'];
}

/** Runs `probe`, reporting 'timeout' if it takes longer than `ms` and 'unavailable' if it throws. */
async function check(probe: () => Promise<unknown>, ms: number): Promise<CheckResult> {
  try {
    await withTimeout(ms, probe);
    return 'ok';
  } catch (error) {
    return error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'unavailable';
  }
}

export function createCheckHealth(deps: { db: Db; redis: Redis; lagWatch: LagWatch; timeoutMs: number }) {
  return async function checkHealth(): Promise<Health> {
    const [mongo, redis, lag] = await Promise.all([
      check(() => deps.db.command({ ping: 1 }), deps.timeoutMs),
      check(() => deps.redis.ping(), deps.timeoutMs),
      withTimeout(deps.timeoutMs, () => deps.lagWatch.assess()).catch(() => undefined),
    ]);
    const projections = lag === undefined ? 'unknown' : lag.status;
    let status: Health['status'] = 'ok';
    if (mongo !== 'ok' || redis !== 'ok') status = 'unavailable';
    else if (projections === 'lagging') status = 'degraded';
    return { status, checks: { mongo, redis, projections }, projections: lag?.projections ?? [] };
  };
}

export type CheckHealth = ReturnType<typeof createCheckHealth>;
