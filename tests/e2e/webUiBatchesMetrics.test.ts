import type { Browser, Page } from 'playwright-core';
import { damageChunk } from '../support/damageChunk';
import { launchBrowser, saveElementScreenshot, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';
import { textIn, waitUntil, watchProblems } from './pageChecks';
import { batch, newApiState, openStubbed } from './stubbedApi';

interface BatchBody {
  batchId: string;
  status: string;
  processedEvents: number;
  totalEvents: number;
  failedReason: string | null;
}

const HEADER = 'userId,eventType,timestamp,metadata';
const csvOf = (lines: string[]) => [HEADER, ...lines].join('\n');
/** `count` distinct events of one type on one day (distinct users, so none is a duplicate). */
const eventsOn = (day: string, type: string, count: number, user = type) =>
  Array.from({ length: count }, (_, i) => `${user}-${i},${type},${day}T10:00:00Z,`);

jest.setTimeout(120_000);

/**
 * Batches and metrics in the web UI against the real service (API, workers, FerretDB, Redis): status
 * badges with a genuine failure reason, processed / total, cursor paging over real uploads, polling
 * while a batch is processed, and one day's counts as a table and a chart.
 */
describe('web UI batches and metrics against the real API', () => {
  let service: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let batchesGets: URL[];
  let metricsGets: URL[];
  const ids: Record<string, string> = {};

  const api = async <T>(method: string, path: string): Promise<T> => {
    const res = await fetch(`${service.baseUrl}${path}`, { method });
    return (await res.json()) as T;
  };
  const upload = async (name: string, csv: string): Promise<string> => {
    const reply = await uploadCsv(service.baseUrl, csv, { fileName: name });
    if (reply.status !== 201) throw new Error(`upload of ${name}: ${JSON.stringify(reply)}`);
    return String(reply.body.batchId);
  };
  const batchUntil = (id: string, done: (b: BatchBody) => boolean) =>
    waitFor(() => api<BatchBody>('GET', `/api/batches/${id}`), done, 60_000, `batch ${id}`);

  beforeAll(async () => {
    // Four events per job, so the ten-event batch has three chunks and one of them can fail alone.
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '4' } });
    // Twelve batches (the page holds ten): nine fillers first, then one for each interesting state.
    for (let i = 0; i < 9; i++) await upload(`filler-${i}.csv`, csvOf(eventsOn('2023-06-01', `f${i}`, 1)));
    ids.done = await upload('done.csv', csvOf(eventsOn('2023-06-02', 'click', 3)));
    ids.broken = await upload('broken.csv', csvOf(eventsOn('2023-06-03', 'click', 10)));
    ids.waiting = await upload('waiting.csv', csvOf(eventsOn('2023-06-04', 'click', 7)));
    ids.day = await upload(
      'day.csv',
      csvOf([
        ...eventsOn('2024-01-15', 'click', 150),
        ...eventsOn('2024-01-15', 'view', 80),
        ...eventsOn('2024-01-15', 'purchase', 25),
      ]),
    );

    // A stored event that cannot be counted (as in tests/processing/dlq.test.ts): its chunk fails for real.
    await damageChunk(service.runtime.mongo.db, ids.broken, 1);

    for (const id of [ids.done, ids.broken, ids.day]) await api('POST', `/api/batches/${id}/process`);
    await batchUntil(ids.done, (b) => b.status === 'completed');
    await batchUntil(ids.day, (b) => b.status === 'completed');
    await batchUntil(ids.broken, (b) => b.status === 'failed');
    await waitFor(
      () => api<{ batches: unknown[] }>('GET', '/api/batches?limit=100'),
      (list) => list.batches.length === 13,
      30_000,
      'all batches in the list',
    );
    await waitFor(
      () => api<{ metrics: { count: number }[] }>('GET', '/api/metrics?date=2024-01-15'),
      (day) => day.metrics.reduce((sum, m) => sum + m.count, 0) === 255,
      30_000,
      'the day counted',
    );
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  afterEach(async () => {
    await page.close();
  });

  async function open(width = 1280, height = 900) {
    page = await browser.newPage({ viewport: { width, height } });
    problems = watchProblems(page);
    batchesGets = [];
    metricsGets = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/api/batches') batchesGets.push(url);
      if (url.pathname === '/api/metrics') metricsGets.push(url);
    });
    await page.goto(`${service.baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
  }

  const textOf = (selector: string) => textIn(page, selector);
  const rowOf = (id: string | undefined) => page.locator(`tr[data-batch-id="${id ?? ''}"]`);

  it('shows status badges, the failure reason, processed / total, and pages with the cursor', async () => {
    const firstPage = await api<{ batches: BatchBody[]; nextCursor: string }>('GET', '/api/batches?limit=10');
    const broken = await api<BatchBody>('GET', `/api/batches/${ids.broken ?? ''}`);
    await open();
    await rowOf(ids.day).waitFor();

    const shownIds = await page.evaluate(
      '[...document.querySelectorAll("#batches-body tr")].map((r) => r.dataset.batchId)',
    );
    expect(shownIds).toEqual(firstPage.batches.map((b) => b.batchId));
    expect((shownIds as string[]).slice(0, 4)).toEqual([ids.day, ids.waiting, ids.broken, ids.done]);
    const badge = (id: string | undefined) => rowOf(id).locator('.badge');
    expect(await badge(ids.waiting).getAttribute('class')).toBe('badge badge-uploaded');
    expect(await badge(ids.done).getAttribute('class')).toBe('badge badge-completed');
    expect(await badge(ids.broken).getAttribute('class')).toBe('badge badge-failed');
    expect(await badge(ids.broken).textContent()).toBe('failed');
    expect(broken.failedReason).toMatch(/^Chunk \d+ of this batch could not be processed; /);
    expect(await rowOf(ids.broken).locator('.failure-reason').textContent()).toBe(
      `Reason: ${broken.failedReason ?? ''}`,
    );
    expect(broken.processedEvents).toBeLessThan(10);
    expect(await rowOf(ids.broken).locator('.progress-text').textContent()).toBe(
      `${broken.processedEvents} / 10`,
    );
    const bar = rowOf(ids.broken).locator('progress');
    expect([await bar.getAttribute('value'), await bar.getAttribute('max')]).toEqual([
      String(broken.processedEvents),
      '10',
    ]);
    expect(await rowOf(ids.done).locator('.progress-text').textContent()).toBe('3 / 3');
    expect(await rowOf(ids.waiting).locator('.progress-text').textContent()).toBe('0 / 7');

    const button = (id: string | undefined) => rowOf(id).locator('button.process-button');
    expect(await button(ids.broken).isEnabled()).toBe(true);
    expect(await button(ids.broken).getAttribute('aria-label')).toBe('Process again broken.csv');
    expect(await button(ids.waiting).getAttribute('aria-label')).toBe('Process waiting.csv');
    expect(await button(ids.done).isDisabled()).toBe(true);
    expect(await textOf('#batches-page')).toBe('Page 1');

    await saveScreenshot(page, 'ui-batches-desktop');
    await page.setViewportSize({ width: 375, height: 812 });
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(375);
    await saveScreenshot(page, 'ui-batches-narrow');
    await saveElementScreenshot(page, `tr[data-batch-id="${ids.broken ?? ''}"]`, 'ui-batch-failed-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole('button', { name: 'Older →' }).click();
    await waitUntil(page, 'document.getElementById("batches-page").textContent === "Page 2"');
    expect(batchesGets.at(-1)?.searchParams.get('cursor')).toBe(firstPage.nextCursor);
    const older = await api<{ batches: BatchBody[] }>(
      'GET',
      `/api/batches?limit=10&cursor=${firstPage.nextCursor}`,
    );
    expect(older.batches.map((b) => b.batchId)).toHaveLength(3);
    expect(
      await page.evaluate('[...document.querySelectorAll("#batches-body tr")].map((r) => r.dataset.batchId)'),
    ).toEqual(older.batches.map((b) => b.batchId));
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await rowOf(ids.day).waitFor();
    expect(batchesGets.at(-1)?.searchParams.has('cursor')).toBe(false);
    expect(problems).toEqual([]);
  });

  it('processes a batch: disables its button, polls while it runs, stops when idle, refreshes the metrics', async () => {
    await open();
    const row = rowOf(ids.waiting);
    await row.waitFor();
    expect(await page.locator('#batches-section').getAttribute('data-polling')).toBe('false');
    const metricsBefore = metricsGets.length;

    await row.getByRole('button', { name: 'Process waiting.csv' }).click();
    expect(await row.locator('button.process-button').isDisabled()).toBe(true);
    await waitUntil(
      page,
      `document.querySelector('tr[data-batch-id="${ids.waiting ?? ''}"]').dataset.status === "completed"`,
      60_000,
    );
    await waitUntil(page, 'document.querySelector("#batches-section").dataset.polling === "false"');
    expect(await row.locator('.progress-text').textContent()).toBe('7 / 7');
    expect(await row.locator('button.process-button').isDisabled()).toBe(true);
    expect(await textOf('#batches-info')).toContain('waiting.csv is processed.');
    await waitUntil(page, 'document.getElementById("metrics-section").dataset.settling === "false"', 40_000);
    expect(metricsGets.length).toBeGreaterThan(metricsBefore);

    // Idle: no more polling (the poll interval is 1 s; wait for more than two of them).
    const polls = batchesGets.length;
    const metricsPolls = metricsGets.length;
    await page.waitForTimeout(2500);
    expect(batchesGets.length).toBe(polls);
    expect(metricsGets.length).toBe(metricsPolls);
    expect(problems).toEqual([]);
  });

  it('shows the day as a table and a bar chart with the same counts, and says so when a day is empty', async () => {
    await open();
    const today = new Date().toISOString().slice(0, 10);
    await waitUntil(
      page,
      `document.querySelector("#metrics-message").textContent.includes("No events were counted for ${today}")`,
    );
    expect(metricsGets[0]?.searchParams.get('date')).toBe(today);
    expect(await page.locator('#metrics-results').isHidden()).toBe(true);

    await page.getByLabel('Day (UTC)').fill('2024-01-15');
    await page.locator('#metrics-body tr').first().waitFor();
    const rows = await page.evaluate(
      '[...document.querySelectorAll("#metrics-body tr")].map((r) => [r.dataset.eventType, r.cells[0].textContent, r.cells[1].textContent])',
    );
    expect(rows).toEqual([
      ['click', 'click', '150'],
      ['view', 'view', '80'],
      ['purchase', 'purchase', '25'],
    ]);
    expect(await textOf('#metrics-total')).toBe('255');
    const bars = await page.evaluate(
      '[...document.querySelectorAll("#metrics-chart svg g.bar")].map((g) => [g.dataset.label, Number(g.dataset.count), Number(g.querySelector("rect").getAttribute("width"))])',
    );
    const [click, view, purchase] = bars as [string, number, number][];
    expect([click?.[0], view?.[0], purchase?.[0]]).toEqual(['click', 'view', 'purchase']);
    expect([click?.[1], view?.[1], purchase?.[1]]).toEqual([150, 80, 25]);
    // Bar lengths are proportional to the counts.
    expect(Math.round(((view?.[2] ?? 0) / (click?.[2] ?? 1)) * 100)).toBeGreaterThanOrEqual(52);
    expect(Math.round(((view?.[2] ?? 0) / (click?.[2] ?? 1)) * 100)).toBeLessThanOrEqual(55);
    expect(await page.locator('#metrics-chart svg').getAttribute('role')).toBe('img');
    expect(await textOf('#metrics-chart svg > title')).toBe('Events per type on 2024-01-15 (UTC)');
    await saveScreenshot(page, 'ui-metrics-desktop');
    await page.setViewportSize({ width: 375, height: 812 });
    await waitUntil(page, 'document.querySelector("#metrics-chart svg").getAttribute("width") < 375');
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(375);
    await saveScreenshot(page, 'ui-metrics-narrow');
    await saveElementScreenshot(page, '#metrics-section', 'ui-metrics-card-narrow');

    const before = metricsGets.length;
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await waitUntil(page, `document.querySelector("#metrics-results").getAttribute("aria-busy") === null`);
    expect(metricsGets.length).toBe(before + 1);

    await page.getByLabel('Day (UTC)').fill('2024-01-16');
    await waitUntil(
      page,
      'document.querySelector("#metrics-message").textContent.includes("No events were counted for 2024-01-16")',
    );
    expect(await page.locator('#metrics-results').isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });

  /**
   * Stubbed on purpose: with the real workers a batch holds `processing` only for the milliseconds its
   * chunk jobs take, so a mid-way row (40 of 100, button disabled) cannot be caught without a race.
   */
  it('shows a batch being processed with its partial progress and a disabled button (stubbed list)', async () => {
    const stub = newApiState();
    stub.batchList = () => ({ batches: [batch('b3', 'processing', 40, 100)], nextCursor: null });
    ({ page, problems } = await openStubbed(browser, service.baseUrl, stub));
    const row = page.locator('tr[data-batch-id="b3"]');
    await row.waitFor();
    expect(await row.locator('.badge').getAttribute('class')).toBe('badge badge-processing');
    expect(await row.locator('.progress-text').textContent()).toBe('40 / 100');
    const bar = row.locator('progress');
    expect([await bar.getAttribute('value'), await bar.getAttribute('max')]).toEqual(['40', '100']);
    expect(await row.locator('button.process-button').isDisabled()).toBe(true);
    expect(await row.locator('button.process-button').textContent()).toBe('Processing…');
    // A processing batch keeps the list polling.
    await waitUntil(page, 'document.querySelector("#batches-section").dataset.polling === "true"');
    const seen = stub.batchesGets.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(stub.batchesGets.length).toBeGreaterThan(seen);
    expect(problems).toEqual([]);
  });
});
