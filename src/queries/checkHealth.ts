import type { Db } from 'mongodb';
import type { Redis } from 'ioredis';

export type CheckResult = 'ok' | 'unavailable' | 'timeout';

export interface Health {
  status: 'ok' | 'unavailable';
  checks: { mongo: CheckResult; redis: CheckResult };
}

/** Runs `probe`, reporting 'timeout' if it takes longer than `ms` and 'unavailable' if it throws. */
async function check(probe: () => Promise<unknown>, ms: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, ms);
  });
  try {
    return await Promise.race([probe().then((): CheckResult => 'ok'), timeout]);
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

export function createCheckHealth(deps: { db: Db; redis: Redis; timeoutMs: number }) {
  return async function checkHealth(): Promise<Health> {
    const [mongo, redis] = await Promise.all([
      check(() => deps.db.command({ ping: 1 }), deps.timeoutMs),
      check(() => deps.redis.ping(), deps.timeoutMs),
    ]);
    return { status: mongo === 'ok' && redis === 'ok' ? 'ok' : 'unavailable', checks: { mongo, redis } };
  };
}

export type CheckHealth = ReturnType<typeof createCheckHealth>;
