import { openRuntime, projectionsOf } from './compose';
import { ConfigError, loadConfig, loadDotEnv } from './config';
import { createLogger } from './logging';
import { waitUntilReady } from './redis';
import { rebuildProjections, type RebuildProgress } from './projections/rebuild';
import { verifyReadModels } from './projections/verify';

/**
 * `npm run rebuild-projections [-- --verify] [-- --verify-only]`: replays the log into fresh read-model
 * versions and switches to them while the API serves; `--verify` then recounts from the raw events and
 * the log, prints every difference and exits 1 if there is one. `--verify-only` skips the rebuild.
 */

const USAGE = 'usage: rebuild-projections [--verify] [--verify-only]\n';

function progressLine(p: RebuildProgress, startedAt: number): string {
  const width = 30;
  const share = p.head === 0 ? 1 : Math.min(1, p.position / p.head);
  const filled = Math.round(share * width);
  const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
  const rate = p.records / seconds;
  const left = Math.max(0, p.head - p.position);
  const eta = rate > 0 ? `${Math.ceil(left / rate)}s` : '?';
  return `${p.projection.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.position}/${p.head} records  ${Math.round(rate)} rec/s  ETA ${eta}`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.some((a) => !['--verify', '--verify-only'].includes(a))) {
    process.stderr.write(USAGE);
    return 2;
  }
  loadDotEnv();
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `${error.message}\nStart the service with \`npm start\` (its local stack is found by itself), or set MONGODB_URI and REDIS_URL.\n`,
      );
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ level: 'warn', role: 'rebuild' });
  const runtime = await openRuntime(config, logger);
  try {
    if (!(await waitUntilReady(runtime.redis, 5000))) throw new Error('Redis is not reachable');
    if (!args.includes('--verify-only')) {
      let startedAt = Date.now();
      let current = '';
      let lastDraw = 0;
      const tty = process.stderr.isTTY;
      const results = await rebuildProjections(
        {
          db: runtime.mongo.db,
          eventLog: runtime.eventLog,
          redis: runtime.redis,
          prefix: config.redis.prefix,
          logger,
        },
        projectionsOf(),
        (p) => {
          if (p.projection !== current) {
            if (current !== '' && tty) process.stderr.write('\n');
            current = p.projection;
            startedAt = Date.now();
          }
          // A terminal gets one redrawn line; a log file gets a line a second.
          if (tty) process.stderr.write(`\r${progressLine(p, startedAt)}`);
          else if (Date.now() - lastDraw > 1000 || p.position >= p.head) {
            process.stderr.write(`${progressLine(p, startedAt)}\n`);
            lastDraw = Date.now();
          }
        },
      );
      if (tty) process.stderr.write('\n');
      for (const r of results) {
        process.stderr.write(
          `${r.projection}: replayed ${r.records} records into v${r.to} (was v${r.from}); switched\n`,
        );
      }
    }
    if (args.includes('--verify') || args.includes('--verify-only')) {
      const differences = await verifyReadModels(runtime.mongo.db, runtime.eventLog);
      for (const line of differences) process.stdout.write(`${line}\n`);
      process.stderr.write(
        differences.length === 0
          ? 'verify: read models match the recount\n'
          : `verify: ${differences.length} difference(s)\n`,
      );
      return differences.length === 0 ? 0 : 1;
    }
    return 0;
  } finally {
    await runtime.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `rebuild-projections failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
