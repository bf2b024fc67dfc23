import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A FerretDB or redis-server of a test's own, on its own port, so the test can stop and restart it
 * (a real fault) without disturbing other test files that share the throwaway stack.
 */
export interface PrivateServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts again on the same port with the same data folder. */
  start(): Promise<void>;
  /** Stops and deletes its data folder. */
  destroy(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with code ${child.exitCode} during start-up`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.kill('SIGKILL');
  });
}

async function privateServer(
  name: string,
  command: (port: number, dir: string) => [string, string[]],
  url: (port: number) => string,
): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `ems-${name}-`));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const [bin, args] = command(port, dir);
    child = spawn(bin, args, { stdio: 'ignore' });
    await waitForPort(port, child, name);
  };
  await start();
  return {
    url: url(port),
    port,
    start,
    stop: () => stopChild(child),
    async destroy() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startPrivateFerretDb(): Promise<PrivateServer> {
  const bin = process.env.FERRETDB_BIN;
  if (bin === undefined) throw new Error('FERRETDB_BIN is not set: run the tests with `npm test`.');
  return privateServer(
    'ferretdb',
    (port, dir) => [
      bin,
      [`--listen-addr=127.0.0.1:${port}`, '--handler=sqlite', `--sqlite-url=file:${dir}/`],
    ],
    (port) => `mongodb://127.0.0.1:${port}/`,
  );
}

export function startPrivateRedis(): Promise<PrivateServer> {
  return privateServer(
    'redis',
    (port, dir) => [
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
    ],
    (port) => `redis://127.0.0.1:${port}`,
  );
}
