import type { Browser, Page } from 'playwright-core';
import { launchBrowser, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { waitUntil } from './pageChecks';
import {
  batch,
  eventually,
  json,
  newApiState,
  openStubbed,
  type ApiState,
  type BatchBody,
} from './stubbedApi';

/**
 * Batches and metrics against the HTTP contract: badges, cursor paging, polling, table and chart.
 * The API's answers are stubbed in the browser (see stubbedApi.ts); the page is the real one.
 */
describe('web UI batches and metrics against the HTTP contract', () => {
  let service: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let api: ApiState;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  beforeEach(() => {
    api = newApiState();
  });

  afterEach(async () => {
    await page.close();
  });

  async function open(options: { width?: number; height?: number; allowStatuses?: number[] } = {}) {
    ({ page, problems } = await openStubbed(browser, service.baseUrl, api, options));
  }

  const textOf = async (selector: string) => (await page.locator(selector).textContent()) ?? '';

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
      api.batchesGets.push(url);
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
    expect(api.batchesGets.at(-1)?.searchParams.get('cursor')).toBe('cursor-2');
    expect(await page.locator('#batches-body tr').count()).toBe(1);
    expect(await textOf('#batches-page')).toBe('Page 2');
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.locator('tr[data-batch-id="b3"]').waitFor();
    expect(api.batchesGets.at(-1)?.searchParams.has('cursor')).toBe(false);
    expect(problems).toEqual([]);
  });

  it('processes a batch: disables its button, polls while it runs, stops when idle, refreshes the metrics', async () => {
    let state = batch('b9', 'uploaded', 0, 100);
    api.batchList = () => {
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
    const metricsBefore = api.metricsGets.length;

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
    await eventually(() => api.metricsGets.length > metricsBefore);

    // Idle: no more polling (the poll interval is 1 s; wait for more than two of them).
    const polls = api.batchesGets.length;
    await page.waitForTimeout(2500);
    expect(api.batchesGets.length).toBe(polls);
    expect(problems).toEqual([]);
  });

  it('shows the day as a table and a bar chart with the same counts, and says so when a day is empty', async () => {
    api.metricsFor = (date) =>
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
      `document.querySelector("#metrics-message").textContent.includes("No events were counted for ${today}")`,
    );
    expect(api.metricsGets[0]?.searchParams.get('date')).toBe(today);
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

    const before = api.metricsGets.length;
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await waitUntil(page, `document.querySelector("#metrics-results").getAttribute("aria-busy") === null`);
    expect(api.metricsGets.length).toBe(before + 1);

    await page.getByLabel('Day (UTC)').fill('2024-01-16');
    await waitUntil(
      page,
      'document.querySelector("#metrics-message").textContent.includes("No events were counted for 2024-01-16")',
    );
    expect(await textOf('#metrics-message')).toContain('No events were counted for 2024-01-16 (UTC).');
    expect(await page.locator('#metrics-results').isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });
});
