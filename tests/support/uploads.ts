import type { Db } from 'mongodb';
import { RAW_EVENTS_COLLECTION, type RawEvent } from '../../src/events/rawEvents';

export interface UploadReply {
  status: number;
  body: Record<string, unknown>;
}

/** POSTs `content` as a multipart upload in field `field` (default `file`). */
export async function uploadCsv(
  baseUrl: string,
  content: string | Buffer,
  options: {
    fileName?: string;
    field?: string;
    signal?: AbortSignal;
    /** Form fields sent before the file (or after it, with fieldsAfterFile). */
    fields?: Record<string, string>;
    fieldsAfterFile?: boolean;
    /** Query string, e.g. `timezone=Europe/Berlin`. */
    query?: string;
  } = {},
): Promise<UploadReply> {
  const form = new FormData();
  const addFields = (): void => {
    for (const [name, value] of Object.entries(options.fields ?? {})) form.append(name, value);
  };
  if (options.fieldsAfterFile !== true) addFields();
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  form.append(
    options.field ?? 'file',
    new Blob([bytes], { type: 'text/csv' }),
    options.fileName ?? 'events.csv',
  );
  if (options.fieldsAfterFile === true) addFields();
  const query = options.query === undefined ? '' : `?${options.query}`;
  const res = await fetch(`${baseUrl}/api/uploads${query}`, {
    method: 'POST',
    body: form,
    signal: options.signal,
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

export function rawEvents(db: Db) {
  return db.collection<RawEvent>(RAW_EVENTS_COLLECTION);
}

/** A batch's status as `GET /api/batches/:id` answers it. */
export async function batchStatusOf(baseUrl: string, batchId: string): Promise<string> {
  return ((await (await fetch(`${baseUrl}/api/batches/${batchId}`)).json()) as { status: string }).status;
}

/** `rows` data lines of distinct valid events after a header; `from` shifts the ids. */
export function csvOfRows(rows: number, from = 0, userPrefix = 'u'): string {
  const lines = ['userId,eventType,timestamp'];
  for (let i = from; i < from + rows; i++) {
    lines.push(
      `${userPrefix}${i},click,2024-01-15T10:${String(i % 60).padStart(2, '0')}:00.${String(Math.floor(i / 60) % 1000).padStart(3, '0')}Z`,
    );
  }
  return `${lines.join('\n')}\n`;
}
