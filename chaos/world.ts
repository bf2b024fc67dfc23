import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { isAlive, readPid } from '../dev/daemons';
import { distinctFreePort } from '../dev/ports';
import { startStack, stopStack, type StackPorts } from '../dev/stack';
import { SERVICE_NODE_FLAGS } from '../src/nodeFlags';

/**
 * One run of a scenario: a stack of its own (PostgreSQL, FerretDB, Redis keeping nothing on disk),
 * separate API and worker processes of the built service, and the means to kill any of them.
 */

export const ROOT = resolve(__dirname, '..', '..', '..');
export type Server = 'postgres' | 'ferretdb' | 'redis';
const ADMIN_KEY = 'chaos-admin-key-5f2a9c1e7b3d';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  ms: number;
  /** The answer's headers (none when the API gave no answer). */
  headers?: Headers;
}

class Service {
  child: ChildProcess | undefined;
  private killing = false;
  constructor(
    private readonly role: 'api' | 'worker',
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    /** Told when the process ends without the suite having killed it. */
    private readonly onOwnExit: (what: string) => void,
  ) {}

  start(): void {
    const log = openSync(this.logFile, 'a');
    this.killing = false;
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'dist', 'main.js'), this.role], {
      env: { PATH: process.env.PATH ?? '', ...this.env },
      stdio: ['ignore', log, log],
    });
    this.child = child;
    child.once('exit', (code, signal) => {
      if (!this.killing)
        this.onOwnExit(
          `${this.role} exited by itself (${signal ?? `code ${String(code)}`}, log ${this.logFile})`,
        );
    });
  }

  /** SIGKILL: no shutdown hook runs, as when the machine or the OOM killer takes the process. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.killing = true;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * A fault the suite injected, from the kill to the moment the thing killed was back. Answers of
 * 503 (or none) are excused only while one lasts, and for FAULT_GRACE_MS after it.
 */
export interface Fault {
  what: string;
  from: number;
  to: number | undefined;
}

/** What an API answered, and when it was asked and answered. */
interface Answer {
  method: string;
  path: string;
  status: number;
  sent: number;
  received: number;
}

/** How long after a fault's end the service may still be reconnecting (a loaded machine). */
const FAULT_GRACE_MS = 30_000;

export class World {
  /** The API processes, each on a port of its own; `api` is the first. */
  readonly apis: Service[];
  private readonly baseUrls: string[];
  readonly workers: Service[] = [];
  /** Every answer of an API; a 500 anywhere, or a 503 or no answer outside a fault, fails the run. */
  readonly answers: Answer[] = [];
  readonly faults: Fault[] = [];
  /** Service processes that ended without being killed: each one fails the run. */
  readonly ownExits: string[] = [];
  /** Why a fault of this run missed its moment: the run then did not test what it says. */
  readonly untested: string[] = [];
  readonly createdAt = Date.now();
  private constructor(
    readonly dir: string,
    private readonly ports: StackPorts,
    private readonly env: Record<string, string>,
    readonly mongo: MongoClient,
    apiPorts: number[],
    private readonly ephemeral: boolean,
  ) {
    this.baseUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
    this.apis = apiPorts.map(
      (port, i) =>
        new Service(
          'api',
          { ...env, PORT: String(port) },
          join(dir, i === 0 ? 'api.log' : `api-${i}.log`),
          (what) => this.ownExits.push(what),
        ),
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

  /**
   * `tuned`: short sweep, lease and poll intervals so that a run recovers fast; without it the
   * service runs on its own defaults. `ephemeral`: Redis keeps nothing on disk and PostgreSQL does
   * not fsync, so a killed Redis comes back empty; otherwise both persist as in production.
   */
  static async create(
    name: string,
    settings: Record<string, string> = {},
    apiCount = 1,
    { tuned = true, ephemeral = true }: { tuned?: boolean; ephemeral?: boolean } = {},
  ): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), `ems-chaos-${name}-`));
    chmodSync(dir, 0o755);
    const state = await startStack({
      dir,
      ports: { mongo: 0, redis: 0, postgres: 0 },
      ephemeral,
      root: ROOT,
    });
    const ports = state.ports as StackPorts;
    const taken = new Set<number>();
    const apiPorts: number[] = [];
    while (apiPorts.length < apiCount) apiPorts.push(await distinctFreePort(taken));
    const apiPort = apiPorts[0] ?? 0;
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ADMIN_API_KEY: ADMIN_KEY,
      MONGODB_URI: state.mongoUri ?? '',
      MONGODB_DB: 'chaos',
      REDIS_URL: state.redisUrl ?? '',
      REDIS_PREFIX: 'chaos',
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      LOG_LEVEL: 'warn',
      UPLOAD_RATE_LIMIT: '100000',
      MAX_UPLOAD_BYTES: String(256 * 1024 * 1024),
      EVENTS_PER_CHUNK: '1000',
      ...(tuned
        ? {
            PROCESSING_SWEEP_MS: '2000',
            UPLOAD_CLAIM_EXPIRY_MS: '10000',
            UPLOAD_CLAIM_SWEEP_MS: '1000',
          }
        : {}),
      ...settings,
    };
    const mongo = new MongoClient(env.MONGODB_URI ?? '', { serverSelectionTimeoutMS: 30_000 });
    const world = new World(dir, ports, env, mongo, apiPorts, ephemeral);
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
    const worker = new Service('worker', { ...this.env, LOG_LEVEL: 'info' }, logFile, (what) =>
      this.ownExits.push(what),
    );
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
        await startStack({ dir: this.dir, ports: this.ports, ephemeral: this.ephemeral, root: ROOT });
        return;
      } catch (error) {
        // A killed PostgreSQL's last backends may still hold its shared memory for a moment.
        if (attempt >= 20) throw error;
        await sleep(500);
      }
    }
  }

  /** One request to API `apiIndex` (the first by default). */
  async call(
    method: string,
    path: string,
    /** A form, or JSON text (sent as application/json). */
    body?: FormData | string,
    apiIndex = 0,
    timeoutMs = 600_000,
    /** false while a process is still starting: its silence is no answer to judge. */
    record = true,
  ): Promise<Reply> {
    const started = Date.now();
    try {
      const res = await fetch(`${this.baseUrls[apiIndex] ?? this.baseUrl}${path}`, {
        method,
        body,
        ...(typeof body === 'string' ? { headers: { 'content-type': 'application/json' } } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (record)
        this.answers.push({ method, path, status: res.status, sent: started, received: Date.now() });
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text };
      }
      return { status: res.status, body: parsed, ms: Date.now() - started, headers: res.headers };
    } catch (error) {
      // The API was killed under the request, or is restarting: no HTTP answer at all.
      if (record) this.answers.push({ method, path, status: 0, sent: started, received: Date.now() });
      return { status: 0, body: { error: String(error) }, ms: Date.now() - started };
    }
  }

  /** An admin request (X-API-Key), JSON body; a 503 or no answer is asked again, up to `timeoutMs`. */
  async admin(method: string, path: string, body?: unknown, timeoutMs = 120_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const started = Date.now();
      let reply: Reply;
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(60_000),
        });
        const text = await res.text();
        this.answers.push({ method, path, status: res.status, sent: started, received: Date.now() });
        reply = {
          status: res.status,
          body: JSON.parse(text) as Record<string, unknown>,
          ms: Date.now() - started,
        };
      } catch {
        this.answers.push({ method, path, status: 0, sent: started, received: Date.now() });
        reply = { status: 0, body: {}, ms: Date.now() - started };
      }
      if ((reply.status !== 503 && reply.status !== 0) || Date.now() > deadline) return reply;
      await sleep(500);
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
      const reply = await this.call('GET', '/health', undefined, apiIndex, 10_000, ok);
      if (reply.status === 200 && (!ok || reply.body.status === 'ok')) return;
      last = JSON.stringify(reply.body);
      if (Date.now() > deadline) throw new Error(`the API did not become healthy: ${last}`);
      await sleep(250);
    }
  }

  /** A fault begins now; 503s and missing answers are excused until FAULT_GRACE_MS after its end. */
  beginFault(what: string): Fault {
    const fault: Fault = { what, from: Date.now(), to: undefined };
    this.faults.push(fault);
    return fault;
  }

  endFault(fault: Fault): void {
    fault.to = Date.now();
  }

  /** Answers of 503, or none at all, while no fault was under way. */
  unexcused(): Answer[] {
    return this.answers.filter(
      (a) =>
        (a.status === 503 || a.status === 0) &&
        !this.faults.some(
          (f) => a.received >= f.from && a.sent <= (f.to ?? Number.POSITIVE_INFINITY) + FAULT_GRACE_MS,
        ),
    );
  }

  /**
   * Asks /health until `fault` ends; resolves with the first answer that says degraded or
   * unavailable with a sentence, or throws when every answer said ok (or nothing) throughout.
   */
  async healthDuring(fault: Fault, apiIndex = 0): Promise<string> {
    const seen = new Set<string>();
    while (fault.to === undefined) {
      const reply = await this.call('GET', '/health', undefined, apiIndex, 10_000);
      const { status, problems } = reply.body;
      const sentences = Array.isArray(problems)
        ? problems.filter((p): p is string => typeof p === 'string' && p.trim().length > 0)
        : [];
      if ((status === 'degraded' || status === 'unavailable') && sentences.length > 0) {
        const after = ((Date.now() - fault.from) / 1000).toFixed(1);
        return `/health ${status} ${after} s into the outage: ${sentences.join(' ')}`;
      }
      seen.add(reply.status === 0 ? 'no answer' : `${reply.status} ${JSON.stringify(status ?? reply.body)}`);
      await sleep(250);
    }
    const lasted = ((fault.to - fault.from) / 1000).toFixed(1);
    throw new Error(
      `/health never said degraded or unavailable in the ${lasted} s ${fault.what} (it answered ${[...seen].join(', ')})`,
    );
  }

  /**
   * Kills `servers`, keeps them down for `ms` while /health is watched, then restarts them.
   * Resolves with what /health said; throws if it never told of the outage.
   */
  async outage(servers: readonly Server[], ms: number): Promise<{ health: string; killedAt: number }> {
    const fault = this.beginFault(`${servers.join('+')} outage`);
    for (const server of servers) await this.kill(server);
    const killedAt = Date.now();
    const health = this.healthDuring(fault);
    // Caught here, awaited below: the outage runs its course even when /health fails early.
    health.catch(() => undefined);
    await sleep(ms);
    await this.restart();
    this.endFault(fault);
    return { health: await health, killedAt };
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
