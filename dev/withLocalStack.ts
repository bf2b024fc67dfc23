import { spawn } from 'node:child_process';
import { loadProjectEnv, readLocalStackSettings } from './settings';
import { readStackState, stackStatus } from './stack';

/**
 * `node dist-dev/withLocalStack.js SCRIPT [ARGS...]` (`npm run rebuild-projections`): runs a built
 * tool of the service with MONGODB_URI and REDIS_URL of the local stack that `npm start` runs, when
 * they are not configured and that stack is running, so the tool finds it as the service does. The
 * service itself knows nothing of the local stack.
 */

export function envWithLocalStack(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...env };
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

function main(): void {
  const [script, ...args] = process.argv.slice(2);
  if (script === undefined) {
    process.stderr.write('usage: node dist-dev/withLocalStack.js SCRIPT [ARGS...]\n');
    process.exitCode = 2;
    return;
  }
  loadProjectEnv();
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit', env: envWithLocalStack() });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      child.kill(signal);
    });
  }
  child.once('exit', (code, signal) => {
    process.exitCode = code ?? (signal === null ? 1 : 128);
  });
}

main();
