import { readLocalStackSettings } from './settings';
import { readStackState, stackStatus } from './stack';

/**
 * The environment, plus MONGODB_URI and REDIS_URL of the local stack that `npm start` runs when they
 * are not configured and that stack is running: tools run beside it (rebuild-projections) then find
 * it with no configuration, as the service itself does.
 */
export function envWithLocalStack(env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = { ...env };
  // A Redis Cluster (REDIS_CLUSTER_NODES) is configured Redis: the local stack's server is not added to it.
  const redisConfigured = Boolean(env.REDIS_URL) || Boolean(env.REDIS_CLUSTER_NODES);
  if (env.MONGODB_URI && redisConfigured) return merged;
  const { dir } = readLocalStackSettings(env);
  const state = readStackState(dir);
  const running = stackStatus(dir);
  if (!env.MONGODB_URI && running.ferretdb === 'running' && state?.mongoUri !== undefined) {
    merged.MONGODB_URI = state.mongoUri;
  }
  if (!redisConfigured && running.redis === 'running' && state?.redisUrl !== undefined)
    merged.REDIS_URL = state.redisUrl;
  return merged;
}
