import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * Writes a benchmark CSV with a realistic shape: 10,000 users, 20 event types, 30 days, about 5%
 * duplicate rows and a small JSON metadata object. Deterministic for a given seed.
 */
export interface CsvShape {
  rows: number;
  users?: number;
  eventTypes?: number;
  days?: number;
  duplicateRate?: number;
  seed?: number;
}

/** A tiny deterministic PRNG (mulberry32), so two runs generate the same file. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES = [
  'page_view',
  'click',
  'purchase',
  'signup',
  'login',
  'logout',
  'add_to_cart',
  'remove_from_cart',
  'search',
  'share',
  'like',
  'comment',
  'subscribe',
  'unsubscribe',
  'download',
  'upload',
  'video_play',
  'video_pause',
  'checkout',
  'refund',
];

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export async function generateCsv(path: string, shape: CsvShape): Promise<{ rows: number; bytes: number }> {
  const users = shape.users ?? 10_000;
  const types = Array.from({ length: shape.eventTypes ?? 20 }, (_, i) => TYPES[i] ?? `event_${i}`);
  const days = shape.days ?? 30;
  const duplicateRate = shape.duplicateRate ?? 0.05;
  const next = random(shape.seed ?? 42);
  const start = Date.UTC(2024, 0, 1);
  const out = createWriteStream(path);
  let bytes = 0;
  const write = async (line: string): Promise<void> => {
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  };
  await write('userId,eventType,timestamp,metadata\n');
  const recent: string[] = [];
  for (let i = 0; i < shape.rows; i++) {
    let line: string;
    const previous = recent[Math.floor(next() * recent.length)];
    if (previous !== undefined && next() < duplicateRate) {
      line = previous;
    } else {
      const user = `user_${Math.floor(next() * users)}`;
      const type = types[Math.floor(next() * types.length)] ?? 'click';
      const at = new Date(start + Math.floor(next() * days * 86_400_000)).toISOString();
      const metadata = JSON.stringify({
        source: next() < 0.5 ? 'web' : 'mobile',
        value: Math.floor(next() * 1000),
      });
      line = `${user},${type},${at},${csvField(metadata)}\n`;
      if (recent.length < 1000) recent.push(line);
      else recent[Math.floor(next() * recent.length)] = line;
    }
    await write(line);
  }
  out.end();
  await once(out, 'finish');
  return { rows: shape.rows, bytes };
}
