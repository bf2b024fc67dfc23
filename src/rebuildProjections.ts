import { ConfigError, loadConfig, loadDotEnv } from './config';
import { createEventLog } from './events/eventLog';
import { createLogger } from './logging';
import { openStores } from './openStores';
import { allProjections } from './projections/allProjections';
import { CHECKPOINTS_COLLECTION, POINTERS_COLLECTION } from './projections/readModels';
import { waitUntilReady } from './redis';
import { rebuildProjections, type RebuildProgress } from './projections/rebuild';
import { verifyReadModels, type VerifyProgress } from './projections/verify';

/**
 * `npm run rebuild-projections [-- --verify] [-- --verify-only]`: replays the log into fresh read-model
 * versions and switches to them while the API serves; `--verify` then recounts from the raw events and
 * the log, prints every difference and exits 1 if there is one. `--verify-only` skips the rebuild.
 */

const USAGE = 'usage: rebuild-projections [--verify] [--verify-only]\n';

/** One line for all read models: they replay side by side, so the slowest one's position counts. */
function progressLine(positions: ReadonlyMap<string, RebuildProgress>, startedAt: number): string {
  const all = [...positions.values()];
  const head = Math.max(0, ...all.map((p) => p.head));
  const position = Math.min(...all.map((p) => p.position));
  const width = 30;
  const share = head === 0 ? 1 : Math.min(1, position / head);
  const filled = Math.round(share * width);
  const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
  const rate = position / seconds;
  const eta = rate > 0 ? `${Math.ceil(Math.max(0, head - position) / rate)}s` : '?';
  return `rebuilding [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${position}/${head} records  ${Math.round(rate)} rec/s  ETA ${eta}`;
}

const secondsSince = (at: number): string => `${((Date.now() - at) / 1000).toFixed(2)} s`;

interface ProgressWriter {
  /** `now`: a log file gets it at once; `newLine`: the line shown so far stays (a terminal moves below it). */
  show(line: string, options?: { now?: boolean; newLine?: boolean }): void;
  /** Ends a terminal's line. */
  end(): void;
}

/** Progress on stderr: a terminal gets one line redrawn, a log file a line a second. */
function progressWriter(): ProgressWriter {
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  let drawn = false;
  return {
    show(line, { now = false, newLine = false } = {}) {
      if (tty) {
        process.stderr.write(`${drawn && newLine ? '\n' : '\r\x1b[2K'}${line}`);
        drawn = true;
      } else if (now || newLine || Date.now() - lastDraw > 1000) {
        process.stderr.write(`${line}\n`);
        lastDraw = Date.now();
      }
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

/**
 * A verify reads everything (on a million events, minutes of it): a line for each step it begins,
 * and within a step the documents read so far.
 */
function verifyProgress(progress: ProgressWriter): (at: VerifyProgress) => void {
  const startedAt = Date.now();
  let step = '';
  return ({ step: now, read }) => {
    const line = `verifying ${now}${read === 0 ? '...' : `: ${read} read`}  (${secondsSince(startedAt)})`;
    progress.show(line, { newLine: now !== step });
    step = now;
  };
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
  // Only the stores, not the service's runtime: an admin command need not load the HTTP and worker
  // modules. It writes checkpoints and pointers side by side, so those collections are made first.
  const stores = await openStores(config, logger, [POINTERS_COLLECTION, CHECKPOINTS_COLLECTION]);
  const { db } = stores.mongo;
  // It never appends, so its log wakes no projector.
  const eventLog = createEventLog(db);
  try {
    if (!(await waitUntilReady(stores.redis, 5000))) throw new Error('Redis is not reachable');
    if (!args.includes('--verify-only')) {
      const rebuildStartedAt = Date.now();
      const projections = allProjections();
      const positions = new Map<string, RebuildProgress>();
      const done = (): boolean =>
        positions.size === projections.length && [...positions.values()].every((p) => p.position >= p.head);
      const progress = progressWriter();
      const results = await rebuildProjections(
        {
          db,
          eventLog,
          redis: stores.redis,
          prefix: config.redis.prefix,
          logger,
        },
        projections,
        (p) => {
          positions.set(p.projection, p);
          progress.show(progressLine(positions, rebuildStartedAt), { now: done() });
        },
      );
      progress.end();
      process.stderr.write(`rebuilt in ${secondsSince(rebuildStartedAt)}\n`);
      for (const r of results) {
        process.stderr.write(
          `${r.projection}: replayed ${r.records} records into v${r.to} (was v${r.from}); switched\n`,
        );
      }
    }
    if (args.includes('--verify') || args.includes('--verify-only')) {
      const progress = progressWriter();
      const differences = await verifyReadModels(db, eventLog, verifyProgress(progress));
      progress.end();
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
    await stores.close();
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
