import { readLocalStackSettings } from './settings';
import { readStackState, stackStatus } from './stack';

/**
 * The environment, plus MONGODB_URI and REDIS_URL of the local stack that `npm start` runs when they
 * are not configured and that stack is running: tools run beside it (rebuild-projections) then find
 * it with no configuration, as the service itself does.
 */
export function envWithLocalStack(env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = { ...env };
  if (env.MONGODB_URI && env.REDIS_URL) return merged;
  const { dir } = readLocalStackSettings(env);
  const state = readStackState(dir);
  const running = stackStatus(dir);
  if (!env.MONGODB_URI && running.ferretdb === 'running' && state?.mongoUri !== undefined) {
    merged.MONGODB_URI = state.mongoUri;
  }
  if (!env.REDIS_URL && running.redis === 'running' && state?.redisUrl !== undefined)
    merged.REDIS_URL = state.redisUrl;
  return merged;
}
