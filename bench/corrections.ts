import type { Db } from 'mongodb';
import { waitForProjections } from './projectionsCaughtUp';

/**
 * The issue-24 rows: erasing one user from the whole store, then retracting the whole batch, each
 * timed from the request to every read model having caught up (`npm run bench -- --corrections
 * [--large]`; --large is the 1,000,000-event store the erasure target names).
 */

export interface CorrectionsResult {
  erase: { userId: string; eventsRemoved: number; answerSeconds: number; seconds: number };
  retract: { eventsWithdrawn: number; seconds: number; processSeconds: number; overProcessing: number };
}

type Json = Record<string, unknown>;

async function admin(baseUrl: string, adminKey: string, method: string, path: string, body?: Json) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(answer)}`);
  return answer;
}

const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9;

export async function measureCorrections(options: {
  baseUrl: string;
  adminKey: string;
  db: Db;
  batchId: string;
  processSeconds: number;
  say: (message: string) => void;
}): Promise<CorrectionsResult> {
  const { baseUrl, adminKey, db, batchId, say } = options;
  // The generated file spreads 10,000 users evenly: user_7 has about rows / 10,000 events.
  const userId = 'user_7';
  say(`erasing ${userId}...`);
  const eraseStarted = process.hrtime.bigint();
  let erasure = await admin(baseUrl, adminKey, 'POST', '/api/users/erase', { userId });
  const answerSeconds = seconds(eraseStarted);
  while (erasure.status !== 'done') {
    await new Promise((r) => setTimeout(r, 50));
    erasure = await admin(baseUrl, adminKey, 'GET', `/api/users/erasures/${String(erasure.erasureId)}`);
  }
  await waitForProjections(db);
  const eraseSeconds = seconds(eraseStarted);
  const summary = (erasure.summary ?? {}) as Json;

  say(`retracting batch ${batchId}...`);
  const retractStarted = process.hrtime.bigint();
  const retraction = await admin(baseUrl, adminKey, 'POST', `/api/batches/${batchId}/retract`, {
    reason: 'bench',
  });
  await waitForProjections(db);
  const retractSeconds = seconds(retractStarted);
  return {
    erase: {
      userId,
      eventsRemoved: Number(summary.eventsRemoved ?? Number.NaN),
      answerSeconds,
      seconds: eraseSeconds,
    },
    retract: {
      eventsWithdrawn: Number(retraction.eventsWithdrawn ?? Number.NaN),
      seconds: retractSeconds,
      processSeconds: options.processSeconds,
      overProcessing: retractSeconds / options.processSeconds,
    },
  };
}

export function printCorrections(result: CorrectionsResult): void {
  const { erase, retract } = result;
  const lines = [
    '| measure | value | target |',
    '| --- | --- | --- |',
    `| erase ${erase.userId} (${erase.eventsRemoved} events) until every read model caught up | ${erase.seconds.toFixed(2)} s (answer ${erase.answerSeconds.toFixed(2)} s) | <= 2 s |`,
    `| retract the batch (${retract.eventsWithdrawn} events) until every read model caught up / processing it | ${retract.seconds.toFixed(2)} s / ${retract.processSeconds.toFixed(2)} s = ${retract.overProcessing.toFixed(2)} | <= 2 |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
