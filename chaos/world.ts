import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { isAlive, readPid } from '../src/localStack/daemons';
import { freePort } from '../src/localStack/ports';
import { startStack, stopStack, type StackPorts } from '../src/localStack/stack';
import { SERVICE_NODE_FLAGS } from '../src/nodeFlags';

/**
 * One run of a scenario: a stack of its own (PostgreSQL, FerretDB, Redis keeping nothing on disk),
 * separate API and worker processes of the built service, and the means to kill any of them.
 */

export const ROOT = resolve(__dirname, '..', '..', '..');
export type Server = 'postgres' | 'ferretdb' | 'redis';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  ms: number;
  /** The answer's headers (none when the API gave no answer). */
  headers?: Headers;
}

class Service {
  child: ChildProcess | undefined;
  constructor(
    private readonly role: 'api' | 'worker',
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {}

  start(): void {
    const log = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'dist', 'main.js'), this.role], {
      env: { PATH: process.env.PATH ?? '', ...this.env },
      stdio: ['ignore', log, log],
    });
  }

  /** SIGKILL: no shutdown hook runs, as when the machine or the OOM killer takes the process. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

export class World {
  /** The API processes, each on a port of its own; `api` is the first. */
  readonly apis: Service[];
  private readonly baseUrls: string[];
  readonly workers: Service[] = [];
  /** Every status an API answered; a 500 anywhere fails the run. */
  readonly statuses: number[] = [];
  private constructor(
    readonly dir: string,
    private readonly ports: StackPorts,
    private readonly env: Record<string, string>,
    readonly mongo: MongoClient,
    apiPorts: number[],
  ) {
    this.baseUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
    this.apis = apiPorts.map(
      (port, i) =>
        new Service('api', { ...env, PORT: String(port) }, join(dir, i === 0 ? 'api.log' : `api-${i}.log`)),
    );
  }

  get api(): Service {
    const first = this.apis[0];
    if (first === undefined) throw new Error('a world has at least one API');
    return first;
  }

  get baseUrl(): string {
    return this.baseUrls[0] ?? '';
  }

  static async create(name: string, settings: Record<string, string> = {}, apiCount = 1): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), `ems-chaos-${name}-`));
    chmodSync(dir, 0o755);
    const state = await startStack({
      dir,
      ports: { mongo: 0, redis: 0, postgres: 0 },
      ephemeral: true,
      root: ROOT,
    });
    const ports = state.ports as StackPorts;
    const apiPorts: number[] = [];
    while (apiPorts.length < apiCount) {
      const port = await freePort();
      if (!apiPorts.includes(port)) apiPorts.push(port);
    }
    const apiPort = apiPorts[0] ?? 0;
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ADMIN_API_KEY: 'chaos-admin-key-5f2a9c1e7b3d',
      MONGODB_URI: state.mongoUri ?? '',
      MONGODB_DB: 'chaos',
      REDIS_URL: state.redisUrl ?? '',
      REDIS_PREFIX: 'chaos',
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      LOG_LEVEL: 'warn',
      UPLOAD_RATE_LIMIT: '100000',
      MAX_UPLOAD_BYTES: String(256 * 1024 * 1024),
      EVENTS_PER_JOB: '1000',
      PROCESSING_SWEEP_MS: '2000',
      PROJECTION_POLL_MS: '500',
      UPLOAD_LEASE_MS: '10000',
      UPLOAD_RECOVERY_INTERVAL_MS: '1000',
      ...settings,
    };
    const mongo = new MongoClient(env.MONGODB_URI ?? '', { serverSelectionTimeoutMS: 30_000 });
    const world = new World(dir, ports, env, mongo, apiPorts);
    await mongo.connect();
    return world;
  }

  get db() {
    return this.mongo.db('chaos');
  }

  /** Starts API process `index` (the first by default) and waits until it answers /health. */
  async startApi(index = 0): Promise<void> {
    const api = this.apis[index];
    if (api === undefined) throw new Error(`no API ${index}`);
    api.start();
    await this.waitHealthy(60_000, false, index);
  }

  /** Starts a worker process and waits until it has started its workers (it logs so at `info`). */
  async startWorker(): Promise<void> {
    const logFile = join(this.dir, `worker-${this.workers.length}.log`);
    const worker = new Service('worker', { ...this.env, LOG_LEVEL: 'info' }, logFile);
    worker.start();
    this.workers.push(worker);
    const deadline = Date.now() + 120_000;
    while (!readFileSync(logFile, 'utf8').includes('"message":"workers started"')) {
      if (worker.child?.exitCode !== null && worker.child?.exitCode !== undefined)
        throw new Error(`a worker exited at start (log: ${logFile})`);
      if (Date.now() > deadline) throw new Error(`a worker did not start (log: ${logFile})`);
      await sleep(100);
    }
  }

  /** SIGKILL of the server's whole process group (PostgreSQL's backends go with the postmaster). */
  async kill(server: Server): Promise<void> {
    const pid = readPid(join(this.dir, `${server}.pid`));
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      return;
    }
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  }

  async restart(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await startStack({ dir: this.dir, ports: this.ports, ephemeral: true, root: ROOT });
        return;
      } catch (error) {
        // A killed PostgreSQL's last backends may still hold its shared memory for a moment.
        if (attempt >= 20) throw error;
        await sleep(500);
      }
    }
  }

  /** One request to API `apiIndex` (the first by default). */
  async call(method: string, path: string, body?: FormData, apiIndex = 0): Promise<Reply> {
    const started = Date.now();
    try {
      const res = await fetch(`${this.baseUrls[apiIndex] ?? this.baseUrl}${path}`, {
        method,
        body,
        signal: AbortSignal.timeout(600_000),
      });
      const text = await res.text();
      this.statuses.push(res.status);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text };
      }
      return { status: res.status, body: parsed, ms: Date.now() - started, headers: res.headers };
    } catch (error) {
      // The API was killed under the request, or is restarting: no HTTP answer at all.
      return { status: 0, body: { error: String(error) }, ms: Date.now() - started };
    }
  }

  upload(name: string, text: string, apiIndex = 0): Promise<Reply> {
    const form = new FormData();
    form.append('file', new Blob([text], { type: 'text/csv' }), name);
    return this.call('POST', '/api/uploads', form, apiIndex);
  }

  /** Uploads until a 201, waiting out 503s (dependency down, server busy) and a restarting API. */
  async uploadUntilStored(name: string, text: string, timeoutMs = 300_000, apiIndex = 0): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = await this.upload(name, text, apiIndex);
      if (reply.status === 201) return reply;
      if (reply.status !== 503 && reply.status !== 0) {
        throw new Error(`upload of ${name} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      }
      if (Date.now() > deadline)
        throw new Error(`upload of ${name} kept failing: ${JSON.stringify(reply.body)}`);
      await sleep(500);
    }
  }

  async waitHealthy(timeoutMs = 120_000, ok = true, apiIndex = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const reply = await this.call('GET', '/health', undefined, apiIndex);
      if (reply.status === 200 && (!ok || reply.body.status === 'ok')) return;
      last = JSON.stringify(reply.body);
      if (Date.now() > deadline) throw new Error(`the API did not become healthy: ${last}`);
      await sleep(250);
    }
  }

  /** Raw events stored so far, read straight from the database (to kill things mid-upload). */
  storedEvents(): Promise<number> {
    return this.db.collection('raw_events').estimatedDocumentCount();
  }

  serviceEnv(): Record<string, string> {
    return { ...this.env };
  }

  async close(keep: boolean): Promise<void> {
    for (const api of this.apis) await api.kill();
    for (const w of this.workers) await w.kill();
    await this.mongo.close().catch(() => undefined);
    await stopStack(this.dir);
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
