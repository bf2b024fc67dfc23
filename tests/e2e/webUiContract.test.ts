import type { Browser, Page, Route } from 'playwright-core';
import { launchBrowser, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { waitUntil, watchProblems } from './pageChecks';

/**
 * The page against the HTTP contract of /work/notes/contracts.md before the API routes exist: the real
 * app serves the page, and the browser answers /api/* with contract-shaped bodies. This pins how the
 * UI reads each answer (row errors, 413, 429, cursors, statuses, polling); flow.test.ts runs the same
 * page against the real routes.
 */
interface BatchBody {
  batchId: string;
  fileName: string;
  totalEvents: number;
  processedEvents: number;
  status: string;
  uploadedAt: string;
  processedAt: string | null;
  failedReason: string | null;
  progress: number;
}

function batch(id: string, status: string, processed: number, total: number, extra: Partial<BatchBody> = {}) {
  return {
    batchId: id,
    fileName: `${id}.csv`,
    totalEvents: total,
    processedEvents: processed,
    status,
    uploadedAt: '2024-01-15T10:00:00.000Z',
    processedAt: status === 'completed' ? '2024-01-15T10:05:00.000Z' : null,
    failedReason: null,
    progress: total === 0 ? 0 : Math.round((100 * processed) / total),
    ...extra,
  };
}

async function json(route: Route, status: number, body: unknown, headers: Record<string, string> = {}) {
  await route.fulfill({ status, contentType: 'application/json', headers, body: JSON.stringify(body) });
}

/** Waits (up to 5 s) for something the page does asynchronously to become true. */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still false after 5 s: ${check.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const CSV = Buffer.from('userId,eventType,timestamp,metadata\nu1,click,2024-01-15T10:00:00Z,{}\n');

describe('web UI against the HTTP contract (API answers stubbed in the browser)', () => {
  let service: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let batchesGets: URL[];
  let metricsGets: URL[];
  let batchList: () => { batches: BatchBody[]; nextCursor: string | null };
  let metricsFor: (date: string) => { status: number; body: unknown };

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  beforeEach(() => {
    batchesGets = [];
    metricsGets = [];
    batchList = () => ({ batches: [], nextCursor: null });
    metricsFor = (date) => ({ status: 200, body: { date, metrics: [] } });
  });

  afterEach(async () => {
    await page.close();
  });

  async function open(width = 1280, height = 900, allowStatuses: number[] = []) {
    page = await browser.newPage({ viewport: { width, height } });
    problems = watchProblems(page, allowStatuses);
    await page.route('**/api/batches?*', async (route) => {
      batchesGets.push(new URL(route.request().url()));
      await json(route, 200, batchList());
    });
    await page.route('**/api/metrics?*', async (route) => {
      const url = new URL(route.request().url());
      metricsGets.push(url);
      const answer = metricsFor(url.searchParams.get('date') ?? '');
      await json(route, answer.status, answer.body);
    });
    await page.goto(`${service.baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
  }

  async function uploadWith(answer: (route: Route) => Promise<void>) {
    await page.route('**/api/uploads', answer);
    await page
      .locator('#file-input')
      .setInputFiles({ name: 'events.csv', mimeType: 'text/csv', buffer: CSV });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
  }

  const textOf = async (selector: string) => (await page.locator(selector).textContent()) ?? '';

  it('shows the new batch with its new and duplicate counts after a 201, and lists it first', async () => {
    await open();
    let uploadedBody = '';
    await uploadWith(async (route) => {
      uploadedBody = route.request().postDataBuffer()?.toString('latin1') ?? '';
      batchList = () => ({ batches: [batch('b-new', 'uploaded', 0, 3)], nextCursor: null });
      await json(route, 201, {
        batchId: 'b-new',
        totalEvents: 3,
        duplicates: 1,
        message: 'Successfully uploaded 3 events',
      });
    });
    await page.waitForSelector('#upload-result [data-outcome="uploaded"]');
    expect(uploadedBody).toContain('name="file"; filename="events.csv"');
    expect(await textOf('#uploaded-batch-id')).toBe('b-new');
    expect(await textOf('#uploaded-new')).toBe('3');
    expect(await textOf('#uploaded-duplicates')).toBe('1');
    const row = page.locator('tr[data-batch-id="b-new"]');
    await row.waitFor();
    expect(await row.getAttribute('class')).toContain('is-new');
    expect(await page.getByRole('button', { name: 'Upload', exact: true }).isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('lists the row errors of a 400 as a table, with the error count, and never renders data as markup', async () => {
    await open(1280, 900, [400]);
    await uploadWith((route) =>
      json(route, 400, {
        error: 'ValidationError',
        message: 'The CSV has 3 invalid rows; nothing was stored',
        details: {
          errorCount: 3,
          errors: [
            { row: 2, field: 'timestamp', message: 'not an ISO 8601 timestamp' },
            { row: 5, field: 'userId', message: 'is required' },
            { row: 7, field: 'metadata', message: '<img src=x id=injected> is not JSON' },
          ],
        },
      }),
    );
    await page.waitForSelector('#row-errors');
    const rows = page.locator('#row-errors tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(0).locator('td').allTextContents()).toEqual([
      '2',
      'timestamp',
      'not an ISO 8601 timestamp',
    ]);
    expect(await rows.nth(2).locator('td').allTextContents()).toEqual([
      '7',
      'metadata',
      '<img src=x id=injected> is not JSON',
    ]);
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await textOf('#row-error-count')).toContain(
      '3 row errors found; nothing from this file was stored.',
    );
    expect(await textOf('#upload-result')).toContain('The CSV has 3 invalid rows; nothing was stored');
    await saveScreenshot(page, 'ui-contract-row-errors');
    expect(problems).toEqual([]);
  });

  it('explains a 429 with the wait from Retry-After, and a 413 as a file too large', async () => {
    await open(1280, 900, [413, 429]);
    await uploadWith((route) =>
      json(route, 429, { error: 'TooManyRequests', message: 'Too many uploads' }, { 'Retry-After': '42' }),
    );
    await page.waitForSelector('#upload-result [data-status="429"]');
    const tooMany = await textOf('#upload-result');
    expect(tooMany).toContain('Too many uploads in a short time');
    expect(tooMany).toContain('Try again in 42 seconds.');

    await page.unroute('**/api/uploads');
    await uploadWith((route) =>
      json(route, 413, { error: 'PayloadTooLarge', message: 'The file is larger than the upload limit' }),
    );
    await page.waitForSelector('#upload-result [data-status="413"]');
    expect(await textOf('#upload-result')).toContain('The file is too large: the server refused it (413).');
    expect(problems).toEqual([]);
  });

  it('shows status badges, the failure reason, processed / total, and pages with the cursor', async () => {
    const pages: Record<string, { batches: BatchBody[]; nextCursor: string | null }> = {
      first: {
        batches: [
          batch('b3', 'processing', 40, 100),
          batch('b2', 'failed', 10, 50, { failedReason: 'MongoDB did not answer within 5 s' }),
          batch('b1', 'completed', 20, 20),
        ],
        nextCursor: 'cursor-2',
      },
      'cursor-2': { batches: [batch('b0', 'uploaded', 0, 7)], nextCursor: null },
    };
    await open();
    await page.unroute('**/api/batches?*');
    await page.route('**/api/batches?*', async (route) => {
      const url = new URL(route.request().url());
      batchesGets.push(url);
      await json(route, 200, pages[url.searchParams.get('cursor') ?? 'first']);
    });
    await page.getByRole('button', { name: 'Refresh batches' }).click();
    await page.locator('tr[data-batch-id="b3"]').waitFor();

    const ids = await page.evaluate(
      '[...document.querySelectorAll("#batches-body tr")].map((r) => r.dataset.batchId)',
    );
    expect(ids).toEqual(['b3', 'b2', 'b1']);
    const badge = (id: string) => page.locator(`tr[data-batch-id="${id}"] .badge`);
    expect(await badge('b3').textContent()).toBe('processing');
    expect(await badge('b3').getAttribute('class')).toBe('badge badge-processing');
    expect(await badge('b2').getAttribute('class')).toBe('badge badge-failed');
    expect(await textOf('tr[data-batch-id="b2"] .failure-reason')).toBe(
      'Reason: MongoDB did not answer within 5 s',
    );
    expect(await textOf('tr[data-batch-id="b3"] .progress-text')).toBe('40 / 100');
    const bar = page.locator('tr[data-batch-id="b3"] progress');
    expect([await bar.getAttribute('value'), await bar.getAttribute('max')]).toEqual(['40', '100']);

    const processButton = (id: string) => page.locator(`tr[data-batch-id="${id}"] button`);
    expect(await processButton('b3').isDisabled()).toBe(true);
    expect(await processButton('b3').textContent()).toBe('Processing…');
    expect(await processButton('b2').isEnabled()).toBe(true);
    expect(await processButton('b2').getAttribute('aria-label')).toBe('Process again b2.csv');
    expect(await processButton('b1').isDisabled()).toBe(true);

    await saveScreenshot(page, 'ui-contract-batches-desktop');
    await page.setViewportSize({ width: 375, height: 812 });
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(375);
    await saveScreenshot(page, 'ui-contract-batches-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole('button', { name: 'Older →' }).click();
    await page.locator('tr[data-batch-id="b0"]').waitFor();
    expect(batchesGets.at(-1)?.searchParams.get('cursor')).toBe('cursor-2');
    expect(await page.locator('#batches-body tr').count()).toBe(1);
    expect(await textOf('#batches-page')).toBe('Page 2');
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.locator('tr[data-batch-id="b3"]').waitFor();
    expect(batchesGets.at(-1)?.searchParams.has('cursor')).toBe(false);
    expect(problems).toEqual([]);
  });

  it('processes a batch: disables its button, polls while it runs, stops when idle, refreshes the metrics', async () => {
    let state = batch('b9', 'uploaded', 0, 100);
    batchList = () => {
      // Every poll after Process moves the fake batch along: processing 50, then completed 100.
      if (state.status === 'processing' && state.processedEvents < 100) {
        state = batch(
          'b9',
          state.processedEvents + 50 >= 100 ? 'completed' : 'processing',
          state.processedEvents + 50,
          100,
        );
      }
      return { batches: [state], nextCursor: null };
    };
    await open();
    await page.locator('tr[data-batch-id="b9"]').waitFor();
    expect(await page.locator('#batches-section').getAttribute('data-polling')).toBe('false');
    const metricsBefore = metricsGets.length;

    const processMethods: string[] = [];
    await page.route('**/api/batches/b9/process', async (route) => {
      processMethods.push(route.request().method());
      state = batch('b9', 'processing', 0, 100);
      await json(route, 202, {
        batchId: 'b9',
        jobsEnqueued: 1,
        message: 'Successfully enqueued 1 jobs for processing',
      });
    });
    const button = page.locator('tr[data-batch-id="b9"] button');
    await button.click();
    await waitUntil(page, 'document.querySelector("#batches-section").dataset.polling === "true"');
    expect(await button.isDisabled()).toBe(true);
    await waitUntil(
      page,
      'document.querySelector("tr[data-batch-id=b9] .badge").textContent === "completed"',
      15_000,
    );
    await waitUntil(page, 'document.querySelector("#batches-section").dataset.polling === "false"');
    expect(processMethods).toEqual(['POST']);
    expect(await textOf('tr[data-batch-id="b9"] .progress-text')).toBe('100 / 100');
    expect(await button.isDisabled()).toBe(true);
    expect(await textOf('#batches-info')).toContain('b9.csv is processed.');
    await eventually(() => metricsGets.length > metricsBefore);

    // Idle: no more polling (the poll interval is 1 s; wait for more than two of them).
    const polls = batchesGets.length;
    await page.waitForTimeout(2500);
    expect(batchesGets.length).toBe(polls);
    expect(problems).toEqual([]);
  });

  it('shows the day as a table and a bar chart with the same counts, and says so when a day is empty', async () => {
    metricsFor = (date) =>
      date === '2024-01-15'
        ? {
            status: 200,
            body: {
              date,
              metrics: [
                { eventType: 'view', count: 80 },
                { eventType: 'click', count: 150 },
                { eventType: 'purchase', count: 25 },
              ],
            },
          }
        : { status: 200, body: { date, metrics: [] } };
    await open();
    const today = new Date().toISOString().slice(0, 10);
    await waitUntil(
      page,
      `document.querySelector("#metrics-message").textContent.includes("${today} (UTC)")`,
    );
    expect(metricsGets[0]?.searchParams.get('date')).toBe(today);
    expect(await textOf('#metrics-message')).toContain(`No events were counted for ${today} (UTC).`);
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
    await saveScreenshot(page, 'ui-contract-metrics-desktop');
    await page.setViewportSize({ width: 375, height: 812 });
    await waitUntil(page, 'document.querySelector("#metrics-chart svg").getAttribute("width") < 375');
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(375);
    await saveScreenshot(page, 'ui-contract-metrics-narrow');

    const before = metricsGets.length;
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await waitUntil(page, `document.querySelector("#metrics-results").getAttribute("aria-busy") === null`);
    expect(metricsGets.length).toBe(before + 1);

    await page.getByLabel('Day (UTC)').fill('2024-01-16');
    await waitUntil(page, 'document.querySelector("#metrics-message").textContent.includes("2024-01-16")');
    expect(await textOf('#metrics-message')).toContain('No events were counted for 2024-01-16 (UTC).');
    expect(await page.locator('#metrics-results').isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });
});
