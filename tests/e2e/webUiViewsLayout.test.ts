import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, saveElementScreenshot, saveScreenshot } from '../support/browser';
import type { TestService } from '../support/testService';
import { waitUntil, watchProblems } from './pageChecks';
import { startViewsService } from './viewsService';

jest.setTimeout(180_000);

/**
 * The metrics card with a compared range at 1280 and 390 px, light and dark: no chart label
 * outside the chart, nothing wider than the screen, the scheme's background; screenshots under
 * artifacts/ to look at.
 */
describe('web UI views layout', () => {
  let service: TestService;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

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

  async function open(hash: string, { width = 1280, dark = false } = {}) {
    context = await browser.newContext({
      viewport: { width, height: 900 },
      timezoneId: 'UTC',
      colorScheme: dark ? 'dark' : 'light',
    });
    page = await context.newPage();
    problems = watchProblems(page);
    await page.goto(`${service.baseUrl}/${hash}`);
    await page.waitForSelector('body[data-ready="true"]');
  }
  const shownRows = (count: number) =>
    waitUntil(page, `document.querySelectorAll("#trends-body tr").length === ${count}`, 30_000);

  it.each([
    [1280, false],
    [390, false],
    [1280, true],
    [390, true],
  ])(
    'is readable at %i px (dark: %s): no label outside the chart, nothing wider than the screen',
    async (width, dark) => {
      await open('#metrics?from=2024-01-10&to=2024-01-19&tz=UTC&compare=previous', { width, dark });
      await shownRows(12);
      await waitUntil(page, 'document.querySelectorAll("#metrics-body tr").length > 0', 30_000);
      const name = `ui-views-${width}-${dark ? 'dark' : 'light'}`;
      await saveScreenshot(page, name);
      await saveElementScreenshot(page, '#metrics-section', `${name}-metrics`);
      await saveElementScreenshot(page, '#trends-chart', `${name}-chart`);
      const outside = await page.evaluate<string[]>(`(() => {
        const svg = document.querySelector('#trends-chart svg');
        const frame = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('text')].filter((t) => {
          const box = t.getBoundingClientRect();
          return box.width > 0 && (box.left < frame.left - 0.5 || box.right > frame.right + 0.5);
        }).map((t) => t.textContent);
      })()`);
      expect(outside).toEqual([]);
      const wide = await page.evaluate<string[]>(
        '[...document.querySelectorAll("main *")].filter((e) => !e.closest(".visually-hidden, .batches-table thead") && e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 5).map((e) => e.tagName + "#" + e.id + "." + e.className)',
      );
      expect(wide).toEqual([]);
      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
      const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
      expect(background).toBe(dark ? 'rgb(17, 22, 29)' : 'rgb(244, 246, 249)');
    },
  );
});
