import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isAlive, readPid, runningPid, startDaemon, stopDaemon, StackError } from './daemons';
import { ensureRedisCli, ensureRedisServer } from './install';
import { distinctFreePort } from './ports';
import { redisServerArgs } from './servers';

/**
 * A real Redis Cluster on 127.0.0.1 for tests and the fault-injection suite: `masters` redis-server
 * processes with `--cluster-enabled yes` (and `replicasPerMaster` replicas each), joined with
 * `redis-cli --cluster create`, all under one folder (`<dir>/redis-cluster`). Each node is a
 * detached daemon in its own process group with a pid file, like the rest of the local stack, so a
 * test can kill a master's whole process group (a real crash) and watch its replica take over.
 */

export interface ClusterNodeAddress {
  host: string;
  port: number;
}

export interface RedisClusterState {
  ports: number[];
  busPorts: number[];
}

export interface RunningRedisCluster {
  dir: string;
  nodes: ClusterNodeAddress[];
  /** `host:port,host:port,...`: the value for REDIS_CLUSTER_NODES. */
  nodesSetting: string;
  /** Ports of the nodes that are masters now (asked of the cluster). */
  masterPorts(): Promise<number[]>;
  /** Port of the master that serves `key`'s hash slot now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs the process group of the node on `port` (no shutdown, no last write to disk). */
  kill(port: number): void;
  /** Starts a killed node again with its data and cluster file; it rejoins (as a replica, once replaced). */
  restart(port: number): Promise<void>;
  /** Waits until every running node reports `cluster_state:ok` and `masters` masters serve the slots. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);
const CLUSTER_DIR = 'redis-cluster';
const STATE_FILE = 'cluster.json';

function nodeFiles(clusterDir: string, port: number) {
  return {
    dataDir: join(clusterDir, `node-${port}`),
    pidFile: join(clusterDir, `node-${port}.pid`),
    logFile: join(clusterDir, `node-${port}.log`),
  };
}

async function redisCli(cli: string, port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

/** The cluster's view from one node: `ip:port@bus flags master|slave ...` per line. */
async function clusterNodes(
  cli: string,
  port: number,
): Promise<{ port: number; master: boolean; failed: boolean }[]> {
  const out = await redisCli(cli, port, 'cluster', 'nodes');
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, address = '', flags = ''] = line.split(' ');
      const nodePort = Number(address.split('@')[0]?.split(':').pop());
      return { port: nodePort, master: flags.includes('master'), failed: flags.includes('fail') };
    });
}

async function startNode(
  bin: string,
  clusterDir: string,
  port: number,
  busPort: number,
  nodeTimeoutMs: number,
): Promise<void> {
  const files = nodeFiles(clusterDir, port);
  if (runningPid(files.pidFile) !== undefined) return;
  mkdirSync(files.dataDir, { recursive: true });
  await startDaemon({
    name: `Redis cluster node ${port}`,
    command: bin,
    args: redisServerArgs({
      port,
      dataDir: files.dataDir,
      persistent: false,
      extra: [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(busPort),
        '--cluster-config-file',
        join(files.dataDir, 'nodes.conf'),
        // How long a silent master has before its replica takes over (Redis' default is 15 s).
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        // A replica syncs at once (not after 5 s), and may take over however long its master was gone.
        '--repl-diskless-sync-delay',
        '0',
        '--cluster-replica-validity-factor',
        '0',
      ],
    }),
    pidFile: files.pidFile,
    logFile: files.logFile,
    port,
  });
}

/** Two free ports per node (client and cluster bus; the default bus port, port + 10000, may not exist). */
async function choosePorts(count: number): Promise<RedisClusterState> {
  const taken = new Set<number>();
  const next = (): Promise<number> => distinctFreePort(taken);
  const ports: number[] = [];
  const busPorts: number[] = [];
  for (let i = 0; i < count; i += 1) {
    ports.push(await next());
    busPorts.push(await next());
  }
  return { ports, busPorts };
}

export async function startRedisCluster(options: {
  dir: string;
  masters?: number;
  replicasPerMaster?: number;
  nodeTimeoutMs?: number;
  say?: (line: string) => void;
}): Promise<RunningRedisCluster> {
  const say = options.say ?? (() => undefined);
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  const bin = ensureRedisServer(say);
  const cli = ensureRedisCli(say);
  const clusterDir = join(resolve(options.dir), CLUSTER_DIR);
  mkdirSync(clusterDir, { recursive: true });
  const stateFile = join(clusterDir, STATE_FILE);
  if (existsSync(stateFile)) throw new StackError(`a Redis cluster already runs from ${clusterDir}`);
  const state = await choosePorts(masters * (1 + replicas));
  writeFileSync(stateFile, `${JSON.stringify(state)}\n`);

  const cluster: RunningRedisCluster = {
    dir: clusterDir,
    nodes: state.ports.map((port) => ({ host: '127.0.0.1', port })),
    nodesSetting: state.ports.map((port) => `127.0.0.1:${port}`).join(','),
    async masterPorts() {
      for (const port of state.ports) {
        if (runningPid(nodeFiles(clusterDir, port).pidFile) === undefined) continue;
        const nodes = await clusterNodes(cli, port).catch(() => undefined);
        if (nodes !== undefined) return nodes.filter((n) => n.master && !n.failed).map((n) => n.port);
      }
      throw new StackError('no node of the Redis cluster answers');
    },
    async masterOf(key) {
      const first = state.ports.find((port) => runningPid(nodeFiles(clusterDir, port).pidFile) !== undefined);
      if (first === undefined) throw new StackError('no node of the Redis cluster runs');
      const slot = Number((await redisCli(cli, first, 'cluster', 'keyslot', key)).trim());
      const lines = (await redisCli(cli, first, 'cluster', 'nodes')).split('\n');
      for (const line of lines) {
        const fields = line.trim().split(' ');
        if (!(fields[2] ?? '').includes('master') || (fields[2] ?? '').includes('fail')) continue;
        const serves = fields.slice(8).some((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return from !== undefined && to !== undefined && slot >= from && slot <= to;
        });
        if (serves) return Number(fields[1]?.split('@')[0]?.split(':').pop());
      }
      throw new StackError(`no master serves slot ${slot}`);
    },
    kill(port) {
      const pid = readPid(nodeFiles(clusterDir, port).pidFile);
      if (pid === undefined || !isAlive(pid)) return;
      // Its own process group (a detached daemon): the negative pid signals the whole group.
      process.kill(-pid, 'SIGKILL');
    },
    async restart(port) {
      const index = state.ports.indexOf(port);
      const busPort = state.busPorts[index];
      if (busPort === undefined) throw new StackError(`port ${port} is no node of this cluster`);
      await startNode(bin, clusterDir, port, busPort, nodeTimeoutMs);
    },
    async waitUntilHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const running = state.ports.filter(
          (port) => runningPid(nodeFiles(clusterDir, port).pidFile) !== undefined,
        );
        try {
          const infos = await Promise.all(running.map((port) => redisCli(cli, port, 'cluster', 'info')));
          const okCount = infos.filter((info) => info.includes('cluster_state:ok')).length;
          const first = running[0];
          const serving =
            first === undefined
              ? 0
              : (await clusterNodes(cli, first)).filter(
                  (n) => n.master && !n.failed && running.includes(n.port),
                ).length;
          // Each running replica must hold a copy of its master, or it could not take over.
          const replication = await Promise.all(
            running.map((port) => redisCli(cli, port, 'info', 'replication')),
          );
          const unsynced = replication.filter(
            (info) => info.includes('role:slave') && !info.includes('master_link_status:up'),
          ).length;
          if (okCount === running.length && serving === masters && unsynced === 0) return;
          last =
            `${okCount}/${running.length} nodes say cluster_state:ok, ${serving}/${masters} masters serve, ` +
            `${unsynced} replica(s) not in sync`;
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
        if (Date.now() > deadline) {
          throw new StackError(`the Redis cluster did not become healthy in ${timeoutMs} ms: ${last}`);
        }
        await sleep(200);
      }
    },
    stop: () => stopRedisCluster(options.dir),
  };

  try {
    for (let i = 0; i < state.ports.length; i += 1) {
      await startNode(bin, clusterDir, state.ports[i] ?? 0, state.busPorts[i] ?? 0, nodeTimeoutMs);
    }
    await run(
      cli,
      [
        '--cluster',
        'create',
        ...cluster.nodes.map((n) => `${n.host}:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
    await cluster.waitUntilHealthy();
  } catch (error) {
    await stopRedisCluster(options.dir);
    throw error;
  }
  say(`Redis cluster ready: ${masters} masters, ${replicas} replica(s) each, on ${cluster.nodesSetting}`);
  return cluster;
}

/** Stops every node of the cluster under `dir` (if any); its folder stays for the caller to delete. */
export async function stopRedisCluster(dir: string): Promise<void> {
  const clusterDir = join(resolve(dir), CLUSTER_DIR);
  if (!existsSync(clusterDir)) return;
  const pidFiles = readdirSync(clusterDir).filter((name) => /^node-\d+\.pid$/.test(name));
  await Promise.all(pidFiles.map((name) => stopDaemon(join(clusterDir, name), 'SIGKILL')));
  rmSync(join(clusterDir, STATE_FILE), { force: true });
}
