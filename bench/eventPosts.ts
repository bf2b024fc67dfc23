/**
 * The bench rows of POST /api/events (issue 23): many producers at once, one small producer, and how
 * long a posted event takes to show in GET /api/metrics when nobody asks for processing.
 */

export interface PostLoad {
  clients: number;
  eventsPerPost: number;
  seconds: number;
  posts: number;
  storedEventsPerSecond: number;
  /** Answers by status; 503 must stay at zero. */
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
}

export interface PostsResult {
  concurrent: PostLoad;
  single: PostLoad;
  /** From a post's 201 to its events in GET /api/metrics (auto-processed), 20 clients. */
  toMetrics: { probes: number; p50Ms: number; p95Ms: number; timedOut: number };
}

const DAY = '2030-06-01';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

let sequence = 0;
/** `n` events no earlier run or post has sent (distinct users), of one event type. */
function freshEvents(n: number, eventType: string): string {
  const run = `${process.pid}-${Date.now()}-${sequence++}`;
  return JSON.stringify(
    Array.from({ length: n }, (_, i) => ({
      userId: `post-${run}-${i}`,
      eventType,
      timestamp: `${DAY}T${String(i % 24).padStart(2, '0')}:00:00Z`,
    })),
  );
}

async function postOnce(
  baseUrl: string,
  body: string,
): Promise<{ status: number; ms: number; stored: number }> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const answer = (await res.json()) as { totalEvents?: number };
  return { status: res.status, ms: performance.now() - started, stored: answer.totalEvents ?? 0 };
}

/** `clients` loops posting `eventsPerPost` fresh events each, back to back, for `seconds`. */
export async function loadPosts(
  baseUrl: string,
  clients: number,
  eventsPerPost: number,
  seconds: number,
): Promise<PostLoad> {
  const until = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let stored = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const reply = await postOnce(baseUrl, freshEvents(eventsPerPost, 'bench-post')).catch(() => ({
          status: 0,
          ms: 0,
          stored: 0,
        }));
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        if (reply.status === 201) latencies.push(reply.ms);
        else await new Promise((r) => setTimeout(r, 100));
        stored += reply.stored;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    clients,
    eventsPerPost,
    seconds: elapsed,
    posts: latencies.length,
    storedEventsPerSecond: stored / elapsed,
    statuses,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/** 20 clients each post 100 events of an event type of their own, then wait for it in the metrics. */
export async function timeToMetrics(baseUrl: string, seconds: number): Promise<PostsResult['toMetrics']> {
  const until = Date.now() + seconds * 1000;
  const waits: number[] = [];
  let timedOut = 0;
  await Promise.all(
    Array.from({ length: 20 }, async (_, client) => {
      for (let k = 0; Date.now() < until; k++) {
        const eventType = `probe-${process.pid}-${client}-${k}-${Date.now()}`;
        const reply = await postOnce(baseUrl, freshEvents(100, eventType));
        if (reply.status !== 201) continue;
        const answered = performance.now();
        const deadline = Date.now() + 30_000;
        for (;;) {
          const metrics = (await (await fetch(`${baseUrl}/api/metrics?date=${DAY}`)).json()) as {
            metrics?: { eventType: string; count: number }[];
          };
          if (metrics.metrics?.some((m) => m.eventType === eventType && m.count >= 100)) {
            waits.push(performance.now() - answered);
            break;
          }
          if (Date.now() > deadline) {
            timedOut += 1;
            break;
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    }),
  );
  waits.sort((a, b) => a - b);
  return { probes: waits.length, p50Ms: percentile(waits, 50), p95Ms: percentile(waits, 95), timedOut };
}

/**
 * `settle` resolves once what the 20 clients posted is processed and projected: one client's
 * latency is measured on its own, not on the background work the 20 left behind.
 */
export async function measurePosts(
  baseUrl: string,
  say: (m: string) => void,
  settle: () => Promise<void>,
): Promise<PostsResult> {
  say('POST /api/events: 20 clients x 100 events, 20 s...');
  const concurrent = await loadPosts(baseUrl, 20, 100, 20);
  say('waiting until the posted events are processed and projected...');
  await settle();
  say('POST /api/events: 1 client x 10 events, 10 s...');
  const single = await loadPosts(baseUrl, 1, 10, 10);
  say('POST /api/events: from the 201 to GET /api/metrics, 20 clients, 15 s...');
  const toMetrics = await timeToMetrics(baseUrl, 15);
  return { concurrent, single, toMetrics };
}

const f = (n: number, digits = 0): string => n.toFixed(digits);

export function printPosts(r: PostsResult, uploadRowsPerSecond: number): void {
  const c = r.concurrent;
  const rows: [string, string, string][] = [
    ['CSV upload (same run)', `${f(uploadRowsPerSecond)} rows/s`, ''],
    [
      '20 clients x 100 events: stored events/s',
      `${f(c.storedEventsPerSecond)} (${f(c.storedEventsPerSecond / uploadRowsPerSecond, 2)} x upload)`,
      'target >= 0.5 x upload',
    ],
    ['  answers by status', JSON.stringify(c.statuses), 'target: no 503'],
    ['  p50 / p99 of a post', `${f(c.p50Ms, 1)} / ${f(c.p99Ms, 1)} ms`, 'target p99 <= 1000 ms'],
    [
      '1 client x 10 events: p50 / p99',
      `${f(r.single.p50Ms, 1)} / ${f(r.single.p99Ms, 1)} ms`,
      'target p50 <= 50 ms',
    ],
    [
      '201 -> GET /api/metrics, 20 clients: p50 / p95',
      `${f(r.toMetrics.p50Ms)} / ${f(r.toMetrics.p95Ms)} ms (${r.toMetrics.probes} probes, ${r.toMetrics.timedOut} timed out)`,
      'target p95 <= 2000 ms',
    ],
  ];
  const width = Math.max(...rows.map(([a]) => a.length));
  for (const [a, b, c2] of rows) process.stdout.write(`${a.padEnd(width)}  ${b}  ${c2}\n`);
}
