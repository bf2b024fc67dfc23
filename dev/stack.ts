import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { runningPid, stopDaemon, StackError } from './daemons';
import { ensurePostgres } from './install';
import { distinctFreePort, portFree } from './ports';
import { installEqualityIndexes } from './equalityIndexes';
import { postgresAccount, postgresUrl, startPostgres, stopPostgres } from './postgres';
import { serverFiles, startFerretDb, startRedis } from './servers';

/**
 * The local stack: a PostgreSQL cluster of its own, FerretDB v1.24.2 on it (the MongoDB wire
 * protocol), and a private redis-server, all on 127.0.0.1 and all under one folder. `npm start`,
 * the tests, the benchmark and the fault-injection suite all start it through here.
 */

export interface StackPorts {
  mongo: number;
  redis: number;
  postgres: number;
}

export interface StackOptions {
  /** Folder for data, logs and pid files. */
  dir: string;
  /** 0 picks a free port. */
  ports: StackPorts;
  /** The setting that chooses each port, named in the error when the port is taken. */
  portSettings?: Partial<Record<keyof StackPorts, string>>;
  /** Throwaway stack (tests): Redis keeps nothing on disk, PostgreSQL does not fsync. */
  ephemeral: boolean;
  want?: { mongo: boolean; redis: boolean };
  /** The project folder (for tools/ferretdb and .bin). */
  root: string;
  say?: (line: string) => void;
}

export interface StackState {
  mongoUri?: string;
  redisUrl?: string;
  postgresUrl?: string;
  ports: Partial<StackPorts>;
  postgresDataDir?: string;
}

const STATE_FILE = 'stack.json';

export function readStackState(dir: string): StackState | undefined {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StackState;
}

/** True when the account with `uid`/`gid` may enter every folder down to `path`. */
function traversable(path: string, uid: number, gid: number): boolean {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if (existsSync(dir)) {
      const info = statSync(dir);
      const bits = info.uid === uid ? 0o100 : info.gid === gid ? 0o010 : 0o001;
      if ((info.mode & bits) === 0) return false;
    }
    if (dirname(dir) === dir) return true;
  }
}

/**
 * `<dir>/postgres`, unless the `postgres` user (a root caller runs PostgreSQL as it) cannot reach
 * that folder, as inside a clone made by `mktemp -d`: then a folder of its own in the temp folder.
 */
function postgresDataDir(dir: string): string {
  const preferred = join(dir, 'postgres');
  const account = postgresAccount();
  if (account === undefined || traversable(dir, account.uid, account.gid)) return preferred;
  const id = createHash('sha1').update(resolve(dir)).digest('hex').slice(0, 12);
  return join(tmpdir(), `ems-postgres-${id}`);
}

async function choosePort(
  name: keyof StackPorts,
  wanted: number,
  recorded: number | undefined,
  running: boolean,
  options: StackOptions,
  /** The ports chosen for the stack's other servers; this one joins them. */
  taken: Set<number>,
): Promise<number> {
  if (running && recorded !== undefined) {
    taken.add(recorded);
    return recorded;
  }
  const port = wanted === 0 ? await distinctFreePort(taken) : wanted;
  taken.add(port);
  if (!(await portFree(port))) {
    const setting = options.portSettings?.[name];
    throw new StackError(
      `port ${port} for ${name === 'mongo' ? 'FerretDB' : name === 'redis' ? 'Redis' : 'PostgreSQL'} is in use by another program` +
        (setting === undefined ? '' : `: set ${setting} to a free port`),
    );
  }
  return port;
}

export async function startStack(options: StackOptions): Promise<StackState> {
  const say = options.say ?? (() => undefined);
  const want = options.want ?? { mongo: true, redis: true };
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const before = readStackState(dir);
  const files = {
    postgres: serverFiles(dir, 'postgres'),
    mongo: serverFiles(dir, 'ferretdb'),
    redis: serverFiles(dir, 'redis'),
  };
  // Every port is settled before anything starts, so a taken port leaves nothing half-started;
  // each is another than those chosen before it.
  const taken = new Set<number>();
  const port = (name: keyof StackPorts): Promise<number> =>
    choosePort(
      name,
      options.ports[name],
      before?.ports[name],
      runningPid(files[name].pidFile) !== undefined,
      options,
      taken,
    );
  const ports: Partial<StackPorts> = {};
  if (want.mongo) {
    ports.postgres = await port('postgres');
    ports.mongo = await port('mongo');
  }
  if (want.redis) ports.redis = await port('redis');

  const state: StackState = { ports };
  if (ports.postgres !== undefined && ports.mongo !== undefined) {
    ensurePostgres(say); // first: it may create the `postgres` account that postgresDataDir asks about
    const dataDir = postgresDataDir(dir);
    await startPostgres({
      dataDir,
      port: ports.postgres,
      ephemeral: options.ephemeral,
      say,
      ...files.postgres,
    });
    installEqualityIndexes(ports.postgres);
    state.postgresUrl = postgresUrl(ports.postgres);
    state.postgresDataDir = dataDir;
    await startFerretDb({
      root: options.root,
      port: ports.mongo,
      postgresUrl: state.postgresUrl,
      say,
      ...files.mongo,
    });
    state.mongoUri = `mongodb://127.0.0.1:${ports.mongo}/`;
    say(`FerretDB ready on 127.0.0.1:${ports.mongo} (on PostgreSQL, 127.0.0.1:${ports.postgres})`);
  }
  if (ports.redis !== undefined) {
    await startRedis({
      dataDir: join(dir, 'redis'),
      port: ports.redis,
      persistent: !options.ephemeral,
      say,
      ...files.redis,
    });
    state.redisUrl = `redis://127.0.0.1:${ports.redis}`;
    say(`Redis ready on 127.0.0.1:${ports.redis}`);
  }
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/** Stops whatever runs from this stack folder; returns the names of the servers it stopped. */
export async function stopStack(dir: string): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopDaemon(serverFiles(dir, 'redis').pidFile)) stopped.push('Redis');
  if (await stopDaemon(serverFiles(dir, 'ferretdb').pidFile)) stopped.push('FerretDB');
  if (await stopPostgres(serverFiles(dir, 'postgres').pidFile)) stopped.push('PostgreSQL');
  return stopped;
}

export function stackStatus(dir: string): Record<string, 'running' | 'stopped'> {
  const status: Record<string, 'running' | 'stopped'> = {};
  for (const name of ['postgres', 'ferretdb', 'redis']) {
    status[name] = runningPid(serverFiles(dir, name).pidFile) === undefined ? 'stopped' : 'running';
  }
  return status;
}

export { StackError };
