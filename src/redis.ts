import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * Where Redis is: one server (`REDIS_URL`) or a Redis Cluster (`REDIS_CLUSTER_NODES`, a few of its
 * nodes; ioredis finds the rest and follows slot moves and failovers).
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; password?: string };

/** A connection to either: every command the service sends works on both. */
export type RedisClient = Redis | Cluster;

/**
 * BullMQ's key prefix. A queue's Lua scripts touch many of its keys at once, which a cluster only
 * allows within one hash slot: braces around the prefix make Redis hash only `<prefix>`, so every
 * key of every queue lands in one slot (on one master). Every other key the service writes is used
 * alone (one key per command and per script) and spreads over the cluster as it hashes.
 */
export function queuePrefix(target: RedisTarget, prefix: string): string {
  return target.kind === 'cluster' ? `{${prefix}}` : prefix;
}

/**
 * ioredis connections. Workers need `maxRetriesPerRequest: null` (BullMQ blocks on Redis);
 * everything on the request path fails fast instead, so a dead Redis is a quick 503, not a hang:
 * with no offline queue a command is refused at once while the connection is down. A Redis that is
 * up but slow (a loaded machine) gets 5 s per command before that counts as a failure.
 *
 * On a cluster the same options apply to the connection to each node; a command that meets a
 * failover (the node is gone, CLUSTERDOWN, TRYAGAIN) is retried by ioredis after the slots are
 * refreshed; the request path refuses commands while the cluster as a whole is not ready.
 */
export function createRedis(target: RedisTarget, role: 'worker' | 'request'): RedisClient {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: false }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000, commandTimeout: 5000 };
  if (target.kind === 'single') return new Redis(target.url, { lazyConnect: false, ...options });
  const redisOptions: RedisOptions = {
    ...options,
    // The cluster's own offline queue decides; a node's connection queues while it (re)connects,
    // bounded by maxRetriesPerRequest and commandTimeout on the request path.
    enableOfflineQueue: true,
    ...(target.password === undefined ? {} : { password: target.password }),
  };
  const clusterOptions: ClusterOptions = {
    lazyConnect: false,
    redisOptions,
    enableOfflineQueue: role === 'worker',
    enableReadyCheck: true,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    // A failed master is replaced by its replica: ask the survivors for the new map every so often.
    slotsRefreshInterval: 2000,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  };
  return new Cluster(target.nodes, clusterOptions);
}

/** Every server behind a client: the one server, or each master of a cluster (as it knows them now). */
export function redisMasters(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * Pings Redis: the one server, or every master of the cluster, and then asks the cluster whether it
 * serves every slot (`cluster_state:ok`). A master that is down, or a cluster that lost slots, fails
 * the ping (what /health reports as `redis: unavailable`).
 */
export async function pingRedis(redis: RedisClient): Promise<void> {
  if (!(redis instanceof Cluster)) {
    await redis.ping();
    return;
  }
  const masters = redis.nodes('master');
  if (masters.length === 0) throw new Error("Cluster isn't ready: no master is known");
  await Promise.all(masters.map((node) => node.ping()));
  const info = await redis.cluster('INFO');
  const state = /cluster_state:(\w+)/.exec(info)?.[1];
  if (state !== 'ok') throw new Error(`CLUSTERDOWN cluster_state is ${state ?? 'unknown'}`);
}

/** True while every connection behind the client is up (a slow answer then is slowness, not an outage). */
export function redisConnected(redis: RedisClient): boolean {
  return redis.status === 'ready' && redisMasters(redis).every((node) => node.status === 'ready');
}

/**
 * Errors that mean "Redis cannot serve this now" (an outage, to the client a 503), on one server
 * or a cluster: refused connections, a cluster without a majority or with slots unserved
 * (CLUSTERDOWN), a failover in progress (TRYAGAIN, MASTERDOWN, LOADING), endless redirections, or
 * no node of the cluster answering.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const message = error.message;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError' ||
    message.includes("Stream isn't writeable") ||
    message.includes('Connection is closed') ||
    message.includes('ECONNREFUSED') ||
    message.includes('Command timed out') ||
    /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING)\b/.test(message) ||
    message.includes('Too many Cluster redirections') ||
    message.includes('None of startup nodes is available') ||
    message.includes('Failed to refresh slots cache') ||
    message.includes("Cluster isn't ready")
  );
}

/**
 * Waits until the connection is ready, at most `ms`; never throws. The request connection refuses
 * commands until then (no offline queue), so start-up waits a moment instead of answering its first
 * requests with 503; a Redis that is down at start-up only delays start-up by `ms`.
 */
export function waitUntilReady(redis: RedisClient, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = (): void => {
      done(true);
    };
    const timer = setTimeout(() => {
      done(false);
    }, ms);
    redis.once('ready', onReady);
  });
}
