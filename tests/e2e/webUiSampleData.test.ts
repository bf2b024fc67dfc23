import type { Browser } from 'playwright-core';
import { launchBrowser, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { waitUntil, watchProblems } from './pageChecks';

jest.setTimeout(180_000);

/**
 * A first run that shows something: on an empty service the page offers sample data, which goes
 * through the normal path (POST /api/uploads, then POST /api/batches/:id/process) and ends in the
 * day's and the trends' numbers; in a dark colour scheme the page is dark.
 */
describe('web UI first run', () => {
  let service: TestService;
  let browser: Browser;

  beforeAll(async () => {
    service = await startTestService({ env: { PROJECTION_POLL_MS: '300' } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  it.each([false, true])('loads sample data from the empty page and shows it (dark: %s)', async (dark) => {
    const context = await browser.newContext({
      viewport: { width: dark ? 390 : 1280, height: 900 },
      timezoneId: 'UTC',
      colorScheme: dark ? 'dark' : 'light',
    });
    const page = await context.newPage();
    const problems = watchProblems(page);
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
    });
    await page.goto(`${service.baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(background).toBe(dark ? 'rgb(17, 22, 29)' : 'rgb(244, 246, 249)');
    if (!dark) {
      await page.getByRole('button', { name: 'Load sample data' }).waitFor();
      await saveScreenshot(page, 'ui-first-run-empty');
      await page.getByRole('button', { name: 'Load sample data' }).click();
      await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 4', 90_000);
      expect(posts[0]).toBe('/api/uploads');
      expect(posts[1]).toMatch(/^\/api\/batches\/[^/]+\/process$/);
    }
    // The batch is processed (by the light run, for the dark one): both cards show its numbers.
    await waitUntil(page, 'document.querySelectorAll("#metrics-body tr").length > 0', 90_000);
    await waitUntil(page, 'document.querySelectorAll("#trends-body tr").length === 4', 90_000);
    const types = await page.evaluate<string[]>(
      '[...document.querySelectorAll("#trends-body tr")].map((r) => r.dataset.eventType)',
    );
    expect(types).toEqual(['page_view', 'search', 'add_to_cart', 'purchase']);
    const batches = (await (await fetch(`${service.baseUrl}/api/batches`)).json()) as {
      batches: { fileName: string; status: string }[];
    };
    expect(batches.batches.map((b) => [b.fileName, b.status])).toEqual([['sample-events.csv', 'completed']]);
    await saveScreenshot(page, `ui-first-run-${dark ? 'dark-390' : 'light-1280'}`);
    expect(problems).toEqual([]);
    await context.close();
  });
});
