import type { Browser, Page } from 'playwright-core';
import { launchBrowser, saveElementScreenshot, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';
import { textIn, uploadInPage, waitUntil, watchProblems } from './pageChecks';

// The fourth row repeats the first (same user, type and instant): 3 new events, 1 duplicate.
const GOOD_CSV = [
  'userId,eventType,timestamp,metadata',
  'u1,click,2024-01-15T10:00:00Z,',
  'u2,click,2024-01-15T11:00:00Z,',
  'u3,view,2024-01-15T12:00:00Z,',
  'u1,click,2024-01-15T10:00:00Z,',
].join('\n');

const BAD_CSV = [
  'userId,eventType,timestamp,metadata',
  'u1,click,2024-01-15T10:00:00Z,',
  'u2,click,yesterday,',
  ',view,2024-01-15T12:00:00Z,',
  'u4,view,2024-01-15T12:00:00Z,{not json',
].join('\n');

// Data that reaches the page through the server: the file name is stored and listed with the batch.
const HOSTILE_NAME = '<img src=x id=injected>.csv';

/**
 * Uploads through the web UI against the real upload route: counts after a 201, the row errors of a
 * 400, and (on a second service with tiny limits) a 413 and a 429 in words. No answer is stubbed.
 */
describe('web UI uploads against the real API', () => {
  let service: TestService;
  let limited: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    // No workers: the batch list's read model is never updated, so a just-uploaded batch can only be
    // shown from GET /api/batches/:id, which answers from the event log.
    service = await startTestService({ workers: false });
    limited = await startTestService({
      workers: false,
      env: { UPLOAD_RATE_LIMIT: '2', MAX_UPLOAD_BYTES: '300' },
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

  async function open(baseUrl: string, allowStatuses: number[] = []) {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    problems = watchProblems(page, allowStatuses);
    await page.goto(`${baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
  }

  const upload = (name: string, csv: string) => uploadInPage(page, name, csv);

  const textOf = (selector: string) => textIn(page, selector);

  it('shows the new batch with its new and duplicate counts after a 201, first in the list, as text', async () => {
    await open(service.baseUrl);
    await upload(HOSTILE_NAME, GOOD_CSV);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-outcome')).toBe('uploaded');
    const batchId = await textOf('#uploaded-batch-id');
    expect(batchId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await textOf('#uploaded-new')).toBe('3');
    expect(await textOf('#uploaded-duplicates')).toBe('1');
    expect(await textOf('#upload-result')).toContain(`Uploaded ${HOSTILE_NAME}.`);

    const row = page.locator(`tr[data-batch-id="${batchId}"]`);
    await row.waitFor();
    expect(await page.locator('#batches-body tr').first().getAttribute('data-batch-id')).toBe(batchId);
    expect(await row.getAttribute('class')).toContain('is-new');
    expect(await row.locator('.file-name').textContent()).toBe(HOSTILE_NAME);
    expect(await row.locator('.badge').textContent()).toBe('uploaded');
    expect(await row.locator('.progress-text').textContent()).toBe('0 / 3');
    expect(await row.getByRole('button', { name: `Process ${HOSTILE_NAME}` }).isEnabled()).toBe(true);
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Upload', exact: true }).isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('lists the row errors of a 400 as a table, exactly as the server sent them, with the count', async () => {
    const direct = await uploadCsv(service.baseUrl, BAD_CSV, { fileName: 'bad.csv' });
    expect(direct.status).toBe(400);
    const sent = direct.body.details as { row: number; field: string; message: string; value?: string }[];
    expect(sent.map((error) => [error.row, error.field])).toEqual([
      [3, 'timestamp'],
      [4, 'userId'],
      [5, 'metadata'],
    ]);

    await open(service.baseUrl, [400]);
    await upload('bad.csv', BAD_CSV);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-status')).toBe('400');
    const shown = await page.evaluate(
      '[...document.querySelectorAll("#row-errors tbody tr")].map((r) => [...r.cells].map((c) => c.textContent))',
    );
    expect(shown).toEqual(
      sent.map((error) => [String(error.row), error.field, error.value ?? '', error.message]),
    );
    expect(await textOf('#row-error-count')).toContain('3 row errors found.');
    expect(await textOf('#upload-result')).toContain(String(direct.body.message));
    await saveScreenshot(page, 'ui-row-errors');
    expect(problems).toEqual([]);
  });

  it('sends the time zone typed for timestamps without one; without it the error names the option', async () => {
    // 00:30 in Berlin (UTC+1 in January) is 23:30 UTC the day before.
    const zoneless = 'userId,eventType,timestamp\nzone-user,login,2024-01-15 00:30:00\n';
    await open(service.baseUrl, [400]);
    await upload('zoneless.csv', zoneless);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-status')).toBe('400');
    expect(await textOf('#row-errors')).toContain('timezone');

    await page.locator('#upload-timezone').fill('Europe/Berlin');
    await upload('zoneless.csv', zoneless);
    await page.waitForSelector('#upload-result [data-outcome="uploaded"]', { timeout: 30_000 });
    expect(await textOf('#uploaded-new')).toBe('1');
    const stored = await rawEvents(service.runtime.mongo.db).findOne({ userId: 'zone-user' });
    expect(stored?.timestamp.toISOString()).toBe('2024-01-14T23:30:00.000Z');
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-timezone-1280');
    await page.setViewportSize({ width: 390, height: 900 });
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-timezone-390');
    expect(problems).toEqual([]);
  });

  it('skips invalid rows when asked, and shows the summary per kind before the row list, at 1280 and 390 px', async () => {
    // A Berlin export over the October change: two rows in the repeated hour, one without a user.
    const berlin = [
      'userId,eventType,timestamp',
      'b1,view,2024-10-27 01:30:00',
      'b2,view,2024-10-27 02:15:00',
      'b3,view,2024-10-27 02:45:00',
      ',view,2024-10-27 03:30:00',
      'b5,view,2024-10-27 04:00:00',
    ].join('\n');
    await open(service.baseUrl, [400]);
    await page.locator('#upload-timezone').fill('Europe/Berlin');
    await upload('berlin.csv', berlin);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-status')).toBe('400');
    // The summary comes first: one line per kind, then the count, then the rows.
    const order = await page.evaluate(
      '[...document.querySelectorAll("#upload-notice > *")].map((e) => e.id || e.className)',
    );
    expect(order).toEqual(['', 'problem-summary', 'row-error-count', 'table-scroll']);
    const lines = await page.locator('#problem-list li').allTextContents();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^2 timestamps fall in the hour a daylight saving time change repeats: choose ambiguous=earlier .* \(rows 3, 4\)$/,
    );
    expect(lines[1]).toBe('1 row: userId is required (rows 5)');
    expect(await textOf('#row-error-count')).toContain('or tick "Skip invalid rows" to upload the rest.');
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-problems-1280');
    await page.setViewportSize({ width: 390, height: 900 });
    // At 390 px the summary wraps inside the page instead of scrolling sideways with the table.
    const right = await page.evaluate(
      'document.getElementById("problem-summary").getBoundingClientRect().right',
    );
    expect(right).toBeLessThanOrEqual(390);
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-problems-390');
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByLabel('Skip invalid rows and upload the rest').check();
    await upload('berlin.csv', berlin);
    await page.waitForSelector('#upload-result [data-outcome="uploaded"]', { timeout: 30_000 });
    expect(await textOf('#uploaded-new')).toBe('2');
    expect(await textOf('#skipped-count')).toBe('3 invalid rows skipped and not stored.');
    expect(await page.locator('#problem-list li').count()).toBe(2);
    const skippedRows = await page.evaluate(
      '[...document.querySelectorAll("#row-errors tbody tr")].map((r) => r.cells[0].textContent)',
    );
    expect(skippedRows).toEqual(['3', '4', '5']);
    const stored = await rawEvents(service.runtime.mongo.db).find({ userId: /^b/ }).toArray();
    expect(stored.map((e) => e.userId).sort()).toEqual(['b1', 'b5']);
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-skipped-1280');
    await page.setViewportSize({ width: 390, height: 900 });
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-skipped-390');
    expect(problems).toEqual([]);
  });

  it('sends the repeated-hour choice, a timestamp format and column names from the more options', async () => {
    await open(service.baseUrl);
    await page.locator('#upload-timezone').fill('Europe/Berlin');
    await page.getByText('More options: repeated hours, timestamp format, column names').click();
    await page.getByLabel('Times in the hour the clocks go back (ambiguous)').selectOption('later');
    await page.getByLabel('Timestamp format (timestampFormat)').fill('DD.MM.YYYY HH:mm');
    await page.getByLabel('Column names (columns)').fill('userId:candidate_id,eventType:action');
    await upload(
      'sheet.csv',
      'candidate_id,action,timestamp\nmore-1,apply,27.10.2024 02:30\nmore-2,apply,02.02.2024 13:54\n',
    );
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-outcome')).toBe('uploaded');
    expect(await textOf('#uploaded-new')).toBe('2');
    const stored = await rawEvents(service.runtime.mongo.db)
      .find({ userId: /^more-/ })
      .sort({ userId: 1 })
      .toArray();
    expect(stored.map((e) => [e.userId, e.eventType, e.timestamp.toISOString()])).toEqual([
      ['more-1', 'apply', '2024-10-27T01:30:00.000Z'],
      ['more-2', 'apply', '2024-02-02T12:54:00.000Z'],
    ]);
    await page.setViewportSize({ width: 390, height: 900 });
    await saveElementScreenshot(page, '#upload-section', 'ui-upload-more-options-390');
    expect(problems).toEqual([]);
  });

  it('explains a 413 as a file too large, and a 429 with the wait the server names', async () => {
    await open(limited.baseUrl, [413, 429]);
    const big = ['userId,eventType,timestamp,metadata'];
    for (let i = 0; i < 20; i++) big.push(`user-${i},click,2024-01-15T10:00:${String(i).padStart(2, '0')}Z,`);
    await upload('big.csv', big.join('\n'));
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-status')).toBe('413');
    // The limit in the unit the chosen file's size is shown in (the server's message says "300 bytes").
    expect(await textOf('#upload-result')).toMatch(
      /The file \(\d+ B\) is larger than the server's upload limit of 300 B \(413\)\./,
    );

    // The limit is 2 accepted uploads a minute, and the refused one gave its count back: these two
    // pass, the next does not.
    await upload('small.csv', GOOD_CSV);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-outcome')).toBe('uploaded');
    await upload('small-again.csv', GOOD_CSV);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-outcome')).toBe('uploaded');
    await upload('again.csv', GOOD_CSV);
    expect(await page.locator('#upload-result [data-outcome]').getAttribute('data-status')).toBe('429');
    const tooMany = await textOf('#upload-result');
    expect(tooMany).toContain('Too many uploads in a short time');
    expect(tooMany).toMatch(/Try again in \d+ seconds?\./);
    // The chosen file stays chosen, so trying again later is one click, once the wait has run out.
    expect(await textOf('#chosen-file')).toContain('again.csv');
    await waitUntil(
      page,
      '/^Upload \\(wait \\d+ s\\)$/.test(document.getElementById("upload-button").textContent)',
    );
    expect(await page.locator('#upload-button').isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  });
});
