import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValidEvent } from './validateRow';

/**
 * Validated events wait in a temporary file (one JSON array per line) until the whole upload has
 * been checked, so a rejected file never touches the database and memory stays bounded whatever
 * the file size. The store step reads it back in bounded parts, as often as it needs to.
 */

const SPOOL_PREFIX = 'ems-upload-';

/** Where spool files go unless told otherwise: the OS temp folder. */
export function defaultSpoolDir(): string {
  return tmpdir();
}

export function newSpoolPath(dir: string): string {
  return join(dir, `${SPOOL_PREFIX}${randomUUID()}.ndjson`);
}

/**
 * Removes spool files that a stopped or crashed process left behind: only ours, and only those
 * untouched for `olderThanMs`, far longer than any upload writes or reads its own.
 */
export async function removeStaleSpools(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(SPOOL_PREFIX) || !name.endsWith('.ndjson')) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile() || now - info.mtimeMs < olderThanMs) continue;
    await removeSpool(path);
    removed += 1;
  }
  return removed;
}

export class SpoolWriter {
  private readonly out: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    // Kept, not thrown from an event: a full disk must fail this upload, not the process.
    this.out.on('error', (error) => {
      this.failure = error;
    });
  }

  async write(event: ValidEvent): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const line = JSON.stringify([event.key, event.userId, event.eventType, event.timestamp, event.metadata]);
    if (!this.out.write(`${line}\n`)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    if (!this.out.closed) {
      this.out.end();
      await once(this.out, 'close');
    }
    if (this.failure !== undefined) throw this.failure;
  }

  async discard(): Promise<void> {
    this.out.destroy();
    await removeSpool(this.path);
  }
}

export function removeSpool(path: string): Promise<void> {
  return rm(path, { force: true });
}

function decode(line: string): ValidEvent {
  const [key, userId, eventType, timestamp, metadata] = JSON.parse(line) as [
    string,
    string,
    string,
    number,
    Record<string, unknown>,
  ];
  return { key, userId, eventType, timestamp, metadata };
}

/** The spooled events in order, in parts (one insert each) of at most `maxEvents` events or about `maxBytes` bytes. */
export async function* readSpool(
  path: string,
  maxEvents: number,
  maxBytes: number,
): AsyncGenerator<ValidEvent[]> {
  let part: ValidEvent[] = [];
  let partBytes = 0;
  let rest = '';
  for await (const data of createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    const text = rest + (data as string);
    let start = 0;
    let end = text.indexOf('\n');
    while (end !== -1) {
      part.push(decode(text.slice(start, end)));
      partBytes += end - start;
      if (part.length >= maxEvents || partBytes >= maxBytes) {
        yield part;
        part = [];
        partBytes = 0;
      }
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    rest = text.slice(start);
  }
  if (part.length > 0) yield part;
}
