import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, saveElementScreenshot, saveScreenshot } from '../support/browser';
import { projectionsCaughtUp } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';
import { waitUntil, watchProblems } from './pageChecks';

jest.setTimeout(120_000);

/** 20 types over January 2024 (type_00 busiest), users repeating, plus one event at Kathmandu's midnight. */
function januaryCsv(): string {
  const lines = ['userId,eventType,timestamp'];
  for (let t = 0; t < 20; t++) {
    for (let day = 1; day <= 31; day += 1 + (t % 3)) {
      for (let i = 0; i < 20 - t; i++) {
        lines.push(
          `user-${i % 7},type_${String(t).padStart(2, '0')},2024-01-${String(day).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z`,
        );
      }
    }
  }
  // 18:15Z on Jan 31 is 00:00 on Feb 1 in Kathmandu: in a Kathmandu January it is left out.
  lines.push('late,edge,2024-01-31T18:15:00Z');
  return lines.join('\n');
}

/**
 * The trends view against the real service: range presets and custom dates, the time zone
 * defaulting to the browser's, the type filter, the chart (one row per type, 20 types), the table
 * of counts and unique users, Export CSV, and the location hash both ways.
 */
describe('web UI trends over a range', () => {
  let service: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let expected: { totals: { eventType: string; count: number; uniqueUsers: number }[] };

  beforeAll(async () => {
    service = await startTestService();
    const upload = await uploadCsv(service.baseUrl, januaryCsv());
    expect(upload.status).toBe(201);
    await fetch(`${service.baseUrl}/api/batches/${upload.body.batchId as string}/process`, {
      method: 'POST',
    });
    await waitFor(
      async () =>
        (
          (await (await fetch(`${service.baseUrl}/api/batches/${upload.body.batchId as string}`)).json()) as {
            status: string;
          }
        ).status,
      (s) => s === 'completed',
      60_000,
      'batch completed',
    );
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
    expected = (await (
      await fetch(`${service.baseUrl}/api/metrics/series?from=2024-01-01&to=2024-01-31&tz=Asia/Kathmandu`)
    ).json()) as typeof expected;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  afterEach(async () => {
    expect(problems).toEqual([]);
    await page.context().close();
  });

  async function open(hash: string, width = 1280, allowStatuses: number[] = []) {
    const context = await browser.newContext({
      viewport: { width, height: 900 },
      timezoneId: 'Asia/Kathmandu',
      acceptDownloads: true,
    });
    page = await context.newPage();
    problems = watchProblems(page, allowStatuses);
    await page.goto(`${service.baseUrl}/${hash}`);
    await page.waitForSelector('body[data-ready="true"]');
  }
  const value = (selector: string) => page.locator(selector).inputValue();
  const rows = () =>
    page.evaluate<[string, number, number, string][]>(
      '[...document.querySelectorAll("#trends-body tr")].map((r) => [r.dataset.eventType, Number(r.dataset.count), Number(r.dataset.uniqueUsers), r.cells[2].textContent])',
    );

  it('opens the range a link names, in the browser zone, with a row per type in the chart and the table', async () => {
    await open('#metrics?from=2024-01-01&to=2024-01-31');
    await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 20');
    // Chromium's ICU names the zone by its older id (Asia/Katmandu); both name the same zone.
    const browserZone = await page.evaluate('Intl.DateTimeFormat().resolvedOptions().timeZone');
    expect(['Asia/Kathmandu', 'Asia/Katmandu']).toContain(browserZone);
    expect(await value('#page-tz')).toBe(browserZone);
    expect([await value('#trends-from'), await value('#trends-to')]).toEqual(['2024-01-01', '2024-01-31']);
    const shown = await rows();
    const want = [...expected.totals].sort(
      (a, b) => b.count - a.count || a.eventType.localeCompare(b.eventType),
    );
    expect(shown.map(([type, count, users]) => [type, count, users])).toEqual(
      want.map((t) => [t.eventType, t.count, t.uniqueUsers]),
    );
    expect(shown.map(([type]) => type)).not.toContain('edge');
    expect(await page.locator('#trends-chart svg g.trend-row').count()).toBe(20);
    expect(
      await page.locator('#trends-chart svg g.trend-row').first().locator('rect.trend-bar').count(),
    ).toBe(31);
    // The link stays as it was (the day view reads it too) until the controls change.
    expect(await page.evaluate('location.hash')).toBe('#metrics?from=2024-01-01&to=2024-01-31');
    await saveScreenshot(page, 'ui-trends-desktop');
    await saveElementScreenshot(page, '#trends', 'ui-trends-card-desktop');
  });

  it('filters by event type and interval, and keeps the hash in sync both ways', async () => {
    await open('#metrics?from=2024-01-01&to=2024-01-31&tz=UTC');
    await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 21');
    await page.selectOption('#trends-type', 'type_05');
    await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 1');
    expect((await rows())[0]?.[0]).toBe('type_05');
    await page.selectOption('#trends-interval', 'week');
    await waitUntil(page, 'location.hash.includes("interval=week")');
    expect(await page.evaluate('location.hash')).toBe(
      '#metrics?from=2024-01-01&to=2024-01-31&tz=UTC&interval=week&eventType=type_05',
    );
    await waitUntil(page, 'document.querySelectorAll("#trends-chart rect.trend-bar").length === 5');
    // A link followed from elsewhere on the page (a batch row) changes the view.
    await page.evaluate('location.hash = "#metrics?from=2024-01-10&to=2024-01-12&tz=Europe/Berlin"');
    await waitUntil(page, 'document.getElementById("trends-from").value === "2024-01-10"');
    expect(await value('#page-tz')).toBe('Europe/Berlin');
    expect(await value('#trends-type')).toBe('');
    await waitUntil(
      page,
      'document.querySelectorAll("#trends-chart g.trend-row rect.trend-bar").length % 3 === 0',
    );
    expect(await page.locator('#trends-chart g.trend-row').first().locator('rect.trend-bar').count()).toBe(3);
  });

  it("uses the zone a link names when this browser lists it under an older name (the README's Asia/Kolkata)", async () => {
    const series = async (tz: string) =>
      (await (
        await fetch(`${service.baseUrl}/api/metrics/series?from=2024-01-01&to=2024-01-31&tz=${tz}`)
      ).json()) as typeof expected;
    const kolkata = await series('Asia/Kolkata');
    // 19:00Z on Jan 31 is Feb 1 in Kolkata: the zone changes the answer, so UTC cannot pass for it.
    expect(kolkata.totals).not.toEqual((await series('UTC')).totals);
    await open('#metrics?from=2024-01-01&to=2024-01-31&tz=Asia/Kolkata');
    await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 21');
    expect(await value('#page-tz')).toBe('Asia/Kolkata');
    expect(await page.locator('#trends-message').textContent()).toContain('(Asia/Kolkata)');
    expect(await page.locator('#trends-csv').getAttribute('href')).toContain('tz=Asia%2FKolkata');
    const shown = await rows();
    expect(Object.fromEntries(shown.map(([type, count, users]) => [type, [count, users]]))).toEqual(
      Object.fromEntries(kolkata.totals.map((t) => [t.eventType, [t.count, t.uniqueUsers]])),
    );
    expect(await page.locator('#trends-alert').textContent()).toBe('');
    await saveScreenshot(page, 'ui-trends-kolkata');
    await saveElementScreenshot(page, '#trends', 'ui-trends-card-kolkata');

    await page.evaluate('location.hash = "#metrics?from=2024-01-01&to=2024-01-31&tz=Europe/Kyiv"');
    await waitUntil(page, 'document.getElementById("trends-message").textContent.includes("(Europe/Kyiv)")');
    expect(await value('#page-tz')).toBe('Europe/Kyiv');
  });

  it('shows the refusal of a zone the API does not know, not UTC', async () => {
    await open('#metrics?from=2024-01-01&to=2024-01-31&tz=Mars/Olympus', 1280, [400]);
    await waitUntil(page, 'document.getElementById("trends-alert").textContent !== ""');
    expect(await page.locator('#trends-alert').textContent()).toContain('tz must be an IANA time zone');
    expect(await value('#page-tz')).toBe('Mars/Olympus');
    expect(await page.locator('#trends-results').isHidden()).toBe(true);
  });

  it('sets the last 7, 30 or 90 days from the presets, today in the chosen zone', async () => {
    await open('');
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kathmandu' }).format(new Date());
    await waitUntil(page, 'document.getElementById("trends-message").textContent !== ""');
    expect(await value('#trends-to')).toBe(today);
    for (const days of [7, 90, 30]) {
      await page.click(`#trends-presets button[data-days="${days}"]`);
      const from = new Date(`${today}T00:00:00Z`);
      from.setUTCDate(from.getUTCDate() - (days - 1));
      expect(await value('#trends-from')).toBe(from.toISOString().slice(0, 10));
      expect(
        await page.locator(`#trends-presets button[data-days="${days}"]`).getAttribute('aria-pressed'),
      ).toBe('true');
    }
    await waitUntil(page, 'document.getElementById("trends-message").textContent.startsWith("No events")');
  });

  it('exports the shown range as CSV', async () => {
    await open('#metrics?from=2024-01-30&to=2024-01-31&tz=UTC&eventType=edge');
    await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 1');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#trends-csv')]);
    expect(download.suggestedFilename()).toBe('metrics-2024-01-30-2024-01-31.csv');
    const file = await download.path();
    expect(readFileSync(file, 'utf8')).toBe('date,eventType,count,uniqueUsers\r\n2024-01-31,edge,1,1\r\n');
  });

  it('is readable at 390 px with 20 types', async () => {
    await open('#metrics?from=2024-01-01&to=2024-01-31&tz=UTC', 390);
    await waitUntil(page, 'document.querySelectorAll("#trends-chart g.trend-row").length === 21');
    const width = Number(await page.locator('#trends-chart svg').getAttribute('width'));
    expect(width).toBeLessThanOrEqual(390);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await saveScreenshot(page, 'ui-trends-narrow');
    await saveElementScreenshot(page, '#trends', 'ui-trends-card-narrow');
  });
});
