import type { Browser, Page } from 'playwright-core';
import { launchBrowser, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { focusedId, textIn, uploadInPage, waitUntil, watchProblems } from './pageChecks';

// Two UTC days: 2024-03-04 and 2024-03-06. The last row repeats the first: 3 new events, 1 duplicate.
const SPAN_CSV = [
  'userId,eventType,timestamp',
  'u1,click,2024-03-04T10:00:00Z',
  'u2,view,2024-03-05T23:30:00-01:00',
  'u3,click,2024-03-06T12:00:00Z',
  'u1,click,2024-03-04T10:00:00Z',
].join('\n');

const BAD_CSV = [
  'userId,eventType,timestamp,metadata',
  'u1,click,2024-01-15 10:00:00,',
  `u2,click,${'unreadable-timestamp-'.repeat(8)},`,
  ',view,2024-01-15T12:00:00Z,',
  'u4,view,2024-01-15T12:00:00Z,{not json',
].join('\n');

/**
 * The web UI follows the data against the real API and workers: a finished batch shows its UTC days
 * and the metrics view opens them; outcomes take focus; a re-upload that stores nothing says so;
 * the row-error table reads at 390 px; a 429 counts its Retry-After down; a 413 states the limit
 * in the unit the file size is shown in.
 */
describe('web UI that follows the data', () => {
  let service: TestService;
  let limited: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    service = await startTestService();
    limited = await startTestService({
      workers: false,
      env: { UPLOAD_RATE_LIMIT: '1', MAX_UPLOAD_BYTES: '300' },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
    await Promise.all([service.stop(), limited.stop()]);
  });
  afterEach(async () => {
    await page.close();
  });

  async function open(baseUrl: string, width: number, allowStatuses: number[] = []) {
    page = await browser.newPage({ viewport: { width, height: 900 } });
    problems = watchProblems(page, allowStatuses);
    await page.goto(`${baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
  }
  const upload = (name: string, csv: string) => uploadInPage(page, name, csv);
  const textOf = (selector: string) => textIn(page, selector);

  it.each([1280, 390])(
    'at %i px: a finished batch links its UTC days, the metrics show them, stale notices go',
    async (width) => {
      await open(service.baseUrl, width);
      // Other users per width: both runs share one service.
      const csv = SPAN_CSV.replace(/^u(\d)/gm, `w${width}-u$1`);
      await upload(`span-${width}.csv`, csv);
      // Focus moves to the outcome.
      expect(await focusedId(page)).toBe('upload-notice');
      expect(await textOf('#upload-next')).toBe(
        'Next: press Process on this batch in the Batches table to count its 3 new events.',
      );
      const batchId = await textOf('#uploaded-batch-id');
      const row = page.locator(`tr[data-batch-id="${batchId}"]`);
      await row.waitFor();
      expect(await row.locator('.progress-text').textContent()).toBe('0 / 3');
      await row.getByRole('button', { name: `Process span-${width}.csv` }).click();
      await waitUntil(
        page,
        `document.querySelector('tr[data-batch-id="${batchId}"]').dataset.status === 'completed'`,
        60_000,
      );

      const link = row.locator('a.days-link');
      await waitUntil(
        page,
        `!document.querySelector('tr[data-batch-id="${batchId}"] a.days-link').hidden`,
        10_000,
      );
      expect(await link.textContent()).toBe('Events 2024-03-04 to 2024-03-06 (UTC)');
      expect(await link.getAttribute('href')).toBe('#metrics?from=2024-03-04&to=2024-03-06');
      // The metrics follow the batch: its first day, with its counts.
      expect(await page.locator('#metrics-date').inputValue()).toBe('2024-03-04');
      await waitUntil(
        page,
        `document.querySelector('#metrics-body tr[data-event-type="click"]')?.dataset.count === '${width === 1280 ? 1 : 2}'`,
        30_000,
      );
      // The notice that said to press Process no longer applies.
      await waitUntil(page, `document.getElementById('upload-notice') === null`, 10_000);

      // The link opens the metrics view at the batch's first day even after another day was picked.
      await page.locator('#metrics-date').fill('2024-01-01');
      await link.click();
      await waitUntil(page, `document.getElementById('metrics-date').value === '2024-03-04'`);
      expect(await page.evaluate('location.hash')).toBe('#metrics?from=2024-03-04&to=2024-03-06');
      expect(await page.locator('#metrics-section').getAttribute('data-to')).toBe('2024-03-06');
      await saveScreenshot(page, `ui-batch-days-${width}`);

      // The same file again stores nothing: the notice and the row say so, no "0 / 0" with a full bar.
      await upload(`again-${width}.csv`, csv);
      expect(await focusedId(page)).toBe('upload-notice');
      expect(await textOf('#upload-next')).toBe(
        'Nothing new was stored: all 4 rows were stored before, so this batch adds nothing to count.',
      );
      expect(await textOf('#upload-result')).toContain('No new events in 4 rows: all were already stored');
      const againId = await textOf('#uploaded-batch-id');
      const again = page.locator(`tr[data-batch-id="${againId}"]`);
      await again.waitFor();
      await waitUntil(
        page,
        `document.querySelector('tr[data-batch-id="${againId}"]').dataset.nothingNew === 'true'`,
      );
      expect(await again.locator('.status-detail').textContent()).toBe(
        'Nothing new: every event in it was already stored.',
      );
      expect(await again.locator('.progress-text').textContent()).toBe('no new events');
      expect(await again.locator('progress').isHidden()).toBe(true);
      await saveScreenshot(page, `ui-nothing-new-${width}`);
      expect(problems).toEqual([]);
    },
  );

  it('keeps the row-error table readable at 390 px: whole words, values echoed, a scroll cue', async () => {
    await open(service.baseUrl, 390, [400]);
    await upload('bad.csv', BAD_CSV);
    expect(await focusedId(page)).toBe('upload-notice');
    const cells = await page.evaluate<string[][]>(
      '[...document.querySelectorAll("#row-errors tbody tr")].map((r) => [...r.cells].map((c) => c.textContent))',
    );
    expect(cells.map((c) => [c[0], c[1], c[2]])).toEqual([
      ['2', 'timestamp', '2024-01-15 10:00:00'],
      ['3', 'timestamp', 'unreadable-timestamp-'.repeat(8).slice(0, 100) + '…'],
      ['4', 'userId', ''],
      ['5', 'metadata', '{not json'],
    ]);
    const style = await page.evaluate<Record<string, unknown>>(
      `(() => { const parts = [...document.querySelectorAll('#row-errors td, #row-errors th, #row-errors code')];
        const styles = parts.map((p) => getComputedStyle(p));
        const s = { overflowWrap: [...new Set(styles.map((x) => x.overflowWrap))].join(),
          wordBreak: [...new Set(styles.map((x) => x.wordBreak))].join() };
        const box = document.querySelector('#upload-result .table-scroll');
        const cue = document.getElementById('row-errors-scroll-cue');
        return { wrap: s.overflowWrap, breakWord: s.wordBreak, scrolls: box.scrollWidth > box.clientWidth,
          cue: getComputedStyle(cue).display !== 'none' && cue.getBoundingClientRect().height > 0 }; })()`,
    );
    expect(style).toEqual({ wrap: 'normal', breakWord: 'normal', scrolls: true, cue: true });
    await saveScreenshot(page, 'ui-row-errors-390');
    expect(problems).toEqual([]);
  });

  it('counts a 429 down on the Upload button, and states a 413 limit in the file size unit', async () => {
    await open(limited.baseUrl, 1280, [413, 429]);
    const big = ['userId,eventType,timestamp'];
    for (let i = 0; i < 20; i++) big.push(`user-${i},click,2024-01-15T10:00:${String(i).padStart(2, '0')}Z`);
    const bigCsv = big.join('\n');
    await upload('big.csv', bigCsv);
    expect(await textOf('#upload-result')).toContain(
      `The file (${Buffer.byteLength(bigCsv)} B) is larger than the server's upload limit of 300 B (413).`,
    );
    expect(await focusedId(page)).toBe('upload-notice');
    // The refused one gave its count back; the accepted one takes the limit of 1 a minute: the next is a 429.
    await upload('small.csv', 'userId,eventType,timestamp\nu1,click,2024-01-15T10:00:00Z\n');
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-outcome')).toBe('uploaded');
    await upload('small-again.csv', 'userId,eventType,timestamp\nu2,click,2024-01-15T10:00:00Z\n');
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-status')).toBe('429');
    const button = page.locator('#upload-button');
    expect(await button.isDisabled()).toBe(true);
    const first = (await button.textContent()) ?? '';
    expect(first).toMatch(/^Upload \(wait \d+ s\)$/);
    const seconds = Number(/\d+/.exec(first)?.[0]);
    await waitUntil(
      page,
      `Number(document.getElementById('upload-button').dataset.waiting) < ${seconds}`,
      5_000,
    );
    expect(await button.isDisabled()).toBe(true);
    await saveScreenshot(page, 'ui-429-countdown-1280');
    expect(problems).toEqual([]);
  });
});
