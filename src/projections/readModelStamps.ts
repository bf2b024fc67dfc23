import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis';
import { PROJECTION_NAMES, type ProjectionName } from './readModels';

/**
 * Each read model's stamp: what a cached answer computed from it is checked against (see
 * queries/answerCache). The stamp is a random token per read model, kept in Redis and replaced
 * (`replaceStamp`) after a projector's page of writes and before its checkpoint is saved, and after
 * a rebuild switches the live version. A client learns a read model has passed a position only
 * from its checkpoint (a batch reading `completed`), so by then the token it will be checked
 * against is one taken after the writes.
 *
 * A reader takes the tokens together with the `run_id` of the Redis server that answered: a Redis
 * restarted from an older file, or a replica promoted after a failover, may hold a token it had
 * before, but never under the same run id. A token found missing (a new or emptied Redis) is set
 * afresh by the reader.
 */

export type ReadModelStamps = Readonly<Record<ProjectionName, string>>;

function stampsKey(prefix: string): string {
  return `${prefix}:read-model-stamps`;
}

/** Gives a read model a token no stamp read before has seen. */
export async function replaceStamp(
  redis: RedisClient,
  prefix: string,
  projection: ProjectionName,
): Promise<void> {
  await redis.hset(stampsKey(prefix), projection, randomUUID());
}

/**
 * In one command: the answering server's run id and each read model's token, a missing one set to
 * the fresh token given (suffixed with its read model's number).
 */
const READ_STAMPS = `
local tokens = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
for i = 1, 3 do
  if not tokens[i] then
    tokens[i] = ARGV[4] .. ':' .. i
    redis.call('HSET', KEYS[1], ARGV[i], tokens[i])
  end
end
return {string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') or '', tokens[1], tokens[2], tokens[3]}`;

/** Every read model's stamp, as Redis holds it now. */
export async function readStamps(redis: RedisClient, prefix: string): Promise<ReadModelStamps> {
  const reply = await redis.eval(READ_STAMPS, 1, stampsKey(prefix), ...PROJECTION_NAMES, randomUUID());
  const [server, ...tokens] = Array.isArray(reply) ? reply.map(String) : [];
  if (server === undefined || server === '' || tokens.length !== PROJECTION_NAMES.length) {
    throw new Error('read-model stamps: Redis gave no run_id or not every token');
  }
  const stamp = (i: number): string => `${server}:${tokens[i] ?? ''}`;
  return { dailyMetrics: stamp(0), batchStatus: stamp(1), metricSeries: stamp(2) };
}
