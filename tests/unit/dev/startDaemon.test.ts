import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, StackError } from '../../../dev/daemons';
import { distinctFreePort } from '../../../dev/ports';

/**
 * A stack server whose port another program already answers on must not pass for started: a quick
 * fault-injection run once gave its Redis the port of its own PostgreSQL, Redis exited unable to bind,
 * and PostgreSQL's answer made the stack report Redis as up.
 */
describe('startDaemon', () => {
  let dir: string;
  let other: Server;
  let port: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ems-daemon-'));
    port = await distinctFreePort(new Set());
    other = createServer();
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      other.close(() => {
        resolve();
      });
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a port another program answers on, before starting anything', async () => {
    const started = startDaemon({
      name: 'Test server',
      command: process.execPath,
      args: ['-e', 'setTimeout(() => undefined, 60_000)'],
      pidFile: join(dir, 'test.pid'),
      logFile: join(dir, 'test.log'),
      port,
    });
    await expect(started).rejects.toThrow(StackError);
    await expect(started).rejects.toThrow(`another program answers on port ${port}`);
  });
});
