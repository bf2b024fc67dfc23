import type { Browser, Page, Route } from 'playwright-core';
import { launchBrowser, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { batch, json, newApiState, openStubbed, type ApiState } from './stubbedApi';

const CSV = Buffer.from('userId,eventType,timestamp,metadata\nu1,click,2024-01-15T10:00:00Z,{}\n');

/**
 * Uploads against the HTTP contract: counts after a 201, the row errors of a 400, 413 and 429 in
 * words. The API's answers are stubbed in the browser (see stubbedApi.ts); the page is the real one.
 */
describe('web UI uploads against the HTTP contract', () => {
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

  async function uploadWith(answer: (route: Route) => Promise<void>) {
    await page.route('**/api/uploads', answer);
    const file = { name: 'events.csv', mimeType: 'text/csv', buffer: CSV };
    await page.locator('#file-input').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
  }

  const textOf = async (selector: string) => (await page.locator(selector).textContent()) ?? '';

  it('shows the new batch with its new and duplicate counts after a 201, and lists it first', async () => {
    await open();
    let uploadedBody = '';
    await uploadWith(async (route) => {
      uploadedBody = route.request().postDataBuffer()?.toString('latin1') ?? '';
      api.batchList = () => ({ batches: [batch('b-new', 'uploaded', 0, 3)], nextCursor: null });
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
    await open({ allowStatuses: [400] });
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
    await open({ allowStatuses: [413, 429] });
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
});
