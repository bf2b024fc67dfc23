import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, saveElementScreenshot } from '../support/browser';
import type { TestService } from '../support/testService';
import { waitUntil, watchProblems } from './pageChecks';
import { startViewsService } from './viewsService';

jest.setTimeout(180_000);

type Metrics = { eventType: string; count: number; uniqueUsers: number };
type Change = { eventType: string; previousCount: number; percentChange: number | null };

/**
 * The views an analyst reads, against the real service: the comparison with the previous period,
 * the chart's shared scale, values on hover and keyboard focus, dated ticks and line view, the
 * loading state, one remembered time zone for both cards, unique users in the day card (the page at
 * 1280 and 390 px, light and dark: webUiViewsLayout.test.ts).
 */
describe('web UI views', () => {
  let service: TestService;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  const api = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${service.baseUrl}${path}`)).json()) as T;

  beforeAll(async () => {
    service = await startViewsService();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
    await service.stop();
  });
  afterEach(async () => {
    expect(problems).toEqual([]);
    await context.close();
  });

  async function open(hash: string, { width = 1280, dark = false, timezoneId = 'UTC' } = {}) {
    context = await browser.newContext({
      viewport: { width, height: 900 },
      timezoneId,
      colorScheme: dark ? 'dark' : 'light',
    });
    page = await context.newPage();
    problems = watchProblems(page);
    await page.goto(`${service.baseUrl}/${hash}`);
    await page.waitForSelector('body[data-ready="true"]');
  }
  const shownRows = (count: number) =>
    waitUntil(page, `document.querySelectorAll("#trends-body tr").length === ${count}`, 30_000);
  const maxBarHeight = (type: string) =>
    page.evaluate<number>(
      `Math.max(...[...document.querySelectorAll('#trends-chart g.trend-row[data-event-type="${type}"] rect.trend-bar:not(.trend-bar-zero)')].map((r) => Number(r.getAttribute('height'))))`,
    );

  it('compares with the previous period: the previous count and the change per type, as the API says', async () => {
    await open('#metrics?from=2024-01-10&to=2024-01-19&tz=UTC&compare=previous');
    await shownRows(12);
    const answer = await api<{ previous: { change: Change[] } }>(
      '/api/metrics/series?from=2024-01-10&to=2024-01-19&compare=previous',
    );
    const shown = await page.evaluate<[string, string, string][]>(
      '[...document.querySelectorAll("#trends-body tr")].map((r) => [r.dataset.eventType, r.cells[3].dataset.previousCount, r.cells[4].dataset.percentChange])',
    );
    for (const [type, previousCount, percent] of shown) {
      const want = answer.previous.change.find((c) => c.eventType === type);
      expect([type, Number(previousCount), percent === '' ? null : Number(percent)]).toEqual([
        type,
        want?.previousCount,
        want?.percentChange,
      ]);
    }
    expect(await page.locator('#trends-compare').isChecked()).toBe(true);
    // The chart marks each bucket's previous value: as many marks as non-zero previous buckets.
    const previousSeries = await api<{ previous: { series: { metrics: Metrics[] }[] } }>(
      '/api/metrics/series?from=2024-01-10&to=2024-01-19&compare=previous',
    );
    const nonZero = previousSeries.previous.series.reduce((n, b) => n + b.metrics.length, 0);
    expect(await page.locator('#trends-chart line.trend-prev').count()).toBe(nonZero);
    expect(await page.locator('#trends-chart rect.trend-bar').first().getAttribute('aria-label')).toMatch(
      /^big, 2024-01-10: \d+, previous period \d+$/,
    );
    expect(await page.locator('#trends-message').textContent()).toContain(
      'Previous period 2023-12-27 to 2024-01-05',
    );
    expect(await page.locator('#trends-table th.compare-col').first().isVisible()).toBe(true);
    await page.locator('#trends-compare').uncheck();
    await waitUntil(page, '!location.hash.includes("compare")');
    await waitUntil(page, 'document.querySelector("#trends-body tr").cells.length === 3', 30_000);
    expect(await page.locator('#trends-chart line.trend-prev').count()).toBe(0);
    expect(await page.locator('#trends-table th.compare-col').first().isVisible()).toBe(false);
  });

  it('draws every type on one scale (or each on its own), tells each value on hover and focus, with dated ticks', async () => {
    await open('#metrics?from=2024-01-01&to=2024-01-31&tz=UTC');
    await shownRows(12);
    // One scale: the rare type's busiest day is far shorter than the busy type's.
    expect(await maxBarHeight('small')).toBeLessThan((await maxBarHeight('big')) / 4);
    await page.selectOption('#trends-scale', 'type');
    await waitUntil(page, 'document.querySelectorAll("#trends-chart text.trend-max").length === 12');
    expect(await maxBarHeight('small')).toBe(await maxBarHeight('big'));

    const bar = page.locator('#trends-chart g.trend-row[data-event-type="big"] rect.trend-bar').nth(14);
    const count = await bar.getAttribute('data-count');
    await bar.hover();
    await waitUntil(page, '!document.querySelector("#trends-chart .chart-tip").hidden');
    expect(await page.locator('#trends-chart .chart-tip').textContent()).toBe(
      `big, 2024-01-15: ${count ?? ''}`,
    );

    await page.locator('#trends-chart rect.trend-bar[tabindex="0"]').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const focused = await page.evaluate('document.activeElement.getAttribute("aria-label")');
    expect(focused).toMatch(/^big, 2024-01-03: \d+$/);
    expect(await page.locator('#trends-chart .chart-tip').textContent()).toBe(focused);
    expect(await page.locator('#trends-chart rect.trend-bar[tabindex="0"]').count()).toBe(1);
    await saveElementScreenshot(page, '#trends', 'ui-views-focused-bar');

    const ticks = await page.locator('#trends-chart text.trend-axis').allTextContents();
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(ticks[0]).toMatch(/Jan 1$|^1 Jan/);
    expect(ticks.at(-1)).toMatch(/Jan 31$|^31 Jan/);
  });

  it('overlays the ten busiest types as lines with a legend, and marks weeks the range cuts', async () => {
    await open('#metrics?from=2024-01-03&to=2024-01-31&tz=UTC&interval=week');
    await shownRows(12);
    expect(await page.locator('#trends-chart rect.trend-bar-partial').count()).toBe(24); // first and last week, 12 types
    await page.selectOption('#trends-view', 'lines');
    await waitUntil(page, 'document.querySelectorAll("#trends-chart polyline.trend-line").length === 10');
    expect(await page.locator('#trends-chart .chart-legend li').count()).toBe(10);
    expect(await page.locator('#trends-chart .chart-legend li').first().getAttribute('data-event-type')).toBe(
      'big',
    );
    expect(await page.locator('#trends-chart').textContent()).toContain('The 10 busiest of 12 types');
    const point = page.locator('#trends-chart circle.trend-point').first();
    await point.focus();
    expect(await page.locator('#trends-chart .chart-tip').textContent()).toMatch(
      /^big, week of 2024-01-01 \(partial week\): \d+$/,
    );
    await saveElementScreenshot(page, '#trends', 'ui-views-lines');
  });

  it('hides the old chart while a new range loads', async () => {
    await open('#metrics?from=2024-01-01&to=2024-01-31&tz=UTC');
    await shownRows(12);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/metrics/series?*', async (route) => {
      await held;
      await route.continue();
    });
    await page.selectOption('#trends-interval', 'week');
    await waitUntil(page, 'document.getElementById("trends-results").getAttribute("aria-busy") === "true"');
    expect(await page.locator('#trends-chart svg').isVisible()).toBe(false);
    release();
    await waitUntil(
      page,
      'document.querySelectorAll("#trends-chart g.trend-row")[0]?.querySelectorAll("rect").length === 5',
      30_000,
    );
    expect(await page.locator('#trends-chart svg').isVisible()).toBe(true);
  });

  it('uses one time zone, chosen once and remembered, for the day and the trends; the day shows unique users', async () => {
    const day = await api<{ totals: Metrics[] }>('/api/metrics/series?from=2024-01-15&to=2024-01-15');
    await open('#metrics?from=2024-01-15&to=2024-01-15&tz=UTC');
    await waitUntil(
      page,
      `document.querySelectorAll("#metrics-body tr").length === ${day.totals.length}`,
      30_000,
    );
    const shown = await page.evaluate<[string, string, string][]>(
      '[...document.querySelectorAll("#metrics-body tr")].map((r) => [r.dataset.eventType, r.dataset.uniqueUsers, r.cells[2].textContent])',
    );
    expect(shown.sort()).toEqual(
      day.totals.map((m) => [m.eventType, String(m.uniqueUsers), String(m.uniqueUsers)]).sort(),
    );

    const asked: string[] = [];
    page.on('request', (request) => asked.push(request.url()));
    await page.selectOption('#page-tz', 'Europe/Berlin');
    await waitUntil(
      page,
      'document.getElementById("metrics-message").textContent.includes("(Europe/Berlin)")',
      30_000,
    );
    await waitUntil(
      page,
      'document.getElementById("trends-message").textContent.includes("(Europe/Berlin)")',
      30_000,
    );
    expect(asked.some((url) => url.includes('/api/metrics?') && url.includes('tz=Europe%2FBerlin'))).toBe(
      true,
    );
    expect(await page.locator('label[for="metrics-date"]').textContent()).toBe('Day (Europe/Berlin)');

    await page.goto(`${service.baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#page-tz').inputValue()).toBe('Europe/Berlin');
    await waitUntil(
      page,
      'document.getElementById("trends-message").textContent.includes("(Europe/Berlin)")',
      30_000,
    );
  });
});
