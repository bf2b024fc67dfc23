import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testEnv } from './support/testConfig';

/** Runs the built service (dist/main.js) as a real process, the way `npm start` does. */
const MAIN = resolve(__dirname, '..', 'dist', 'main.js');

function run(env: Record<string, string>, role = 'all'): ChildProcessWithoutNullStreams {
  // A directory with no .env, so the developer's own settings never leak into the test.
  const cwd = mkdtempSync(join(tmpdir(), 'ems-proc-'));
  const child = spawn(process.execPath, [MAIN, role], { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  child.once('exit', () => {
    rmSync(cwd, { recursive: true, force: true });
  });
  return child;
}

function collect(child: ChildProcessWithoutNullStreams): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err };
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((res) =>
    child.once('exit', (code) => {
      res(code);
    }),
  );
}

async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the service process', () => {
  it('exits 1 naming each bad setting', async () => {
    const child = run({ ...testEnv(), PORT: 'not-a-port', MAX_UPLOAD_BYTES: '0' });
    const output = collect(child);
    expect(await exited(child)).toBe(1);
    expect(output.err()).toMatch(/PORT/);
    expect(output.err()).toMatch(/MAX_UPLOAD_BYTES/);
  });

  it('starts, serves /health, prints its URL and stops cleanly on SIGTERM', async () => {
    const child = run(testEnv());
    const output = collect(child);
    const done = exited(child);
    await waitFor(() => /is up: http:\/\/[^\s]+/.test(output.out()), 30_000);
    const url = /is up: (http:\/\/[^\s]+)/.exec(output.out())?.[1];
    expect(url).toBeDefined();
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);

    child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(output.err()).not.toMatch(/timed out/);
  });
});
