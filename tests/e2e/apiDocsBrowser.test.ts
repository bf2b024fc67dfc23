import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { buildOpenApi } from '../../src/compose';
import { launchBrowser } from '../support/browser';
import { documentedRoutes } from '../support/openapi';
import { startTestService, type TestService } from '../support/testService';

/**
 * The documented check that Swagger UI works under our CSP: /api-docs is opened in headless Chromium,
 * must render the operations with no console error and no CSP violation, and try-it-out must reach
 * the running service. A screenshot is saved as artifacts/api-docs.png for a person to look at.
 */

const ARTIFACTS = join(__dirname, '..', '..', 'artifacts');

// Runs in the page before any of its scripts; CSP does not apply to scripts injected this way.
const RECORD_CSP_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
`;

describe('Swagger UI at /api-docs in headless Chromium', () => {
  let service: TestService;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => {
      consoleErrors.push(error.message);
    });
    await page.addInitScript(RECORD_CSP_VIOLATIONS);
  });

  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  it('renders every operation with no CSP violation or console error', async () => {
    const res = await page.goto(`${service.baseUrl}/api-docs`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    const methods = await page.locator('.opblock-summary-method').allTextContents();
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    const shown = paths.map((p, i) => `${methods[i] ?? ''} ${p.replace(/\u200b/g, '').trim()}`);
    // Every operation of the document, and nothing Swagger UI could not resolve.
    expect(shown.sort()).toEqual(documentedRoutes(buildOpenApi()));
    expect(await page.locator('.errors-wrapper').count()).toBe(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'api-docs.png'), fullPage: false });

    expect(await page.evaluate('window.__cspViolations')).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('shows query parameters taken from the zod request schemas, defaults in words', async () => {
    const list = page.locator('#operations-Batches-get_api_batches');
    await list.locator('.opblock-summary').click();
    const limit = list.locator('tr[data-param-name="limit"]');
    await limit.waitFor({ timeout: 15_000 });
    // Not as a schema default: Swagger UI would fill the field with it, and send it.
    expect(await limit.textContent()).toMatch(/integer.*Default: 20\./s);
    expect(await list.locator('tr[data-param-name="cursor"]').count()).toBe(1);
    expect(await page.locator('.errors-wrapper').count()).toBe(0);
  });

  it('offers a file input for the upload and runs try-it-out against the service', async () => {
    const upload = page.locator('#operations-Uploads-post_api_uploads');
    await upload.locator('.opblock-summary').click();
    await upload.locator('button.try-out__btn').click();
    expect(await upload.locator('input[type=file]').count()).toBe(1);

    const health = page.locator('#operations-Operations-get_health');
    await health.locator('.opblock-summary').click();
    await health.locator('button.try-out__btn').click();
    await health.locator('button.execute').click();
    const status = health.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor({ timeout: 15_000 });
    expect((await status.textContent())?.trim()).toBe('200');
    await page.screenshot({ path: join(ARTIFACTS, 'api-docs-try-it-out.png'), fullPage: false });

    expect(await page.evaluate('window.__cspViolations')).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  /**
   * Opens an operation, presses Try it out (and, after `fill`, Execute), and returns the request
   * Swagger UI sent with the status it shows.
   */
  async function tryItOut(operationId: string, fill: (operation: Locator) => Promise<void> = async () => {}) {
    const operation = page.locator(`[id$="-${operationId}"]`);
    // An earlier test may have opened it already.
    if (!(await operation.getAttribute('class'))?.includes('is-open'))
      await operation.locator('.opblock-summary').click();
    if ((await operation.locator('button.try-out__btn.cancel').count()) === 0)
      await operation.locator('button.try-out__btn').click();
    await fill(operation);
    const [request] = await Promise.all([
      page.waitForRequest(
        (r) =>
          r.method() !== 'OPTIONS' && !r.url().includes('/api-docs') && !r.url().endsWith('/openapi.json'),
        { timeout: 15_000 },
      ),
      operation.locator('button.execute').click(),
    ]);
    const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor({ timeout: 30_000 });
    return {
      url: new URL(request.url()),
      body: request.postData() ?? '',
      status: (await status.textContent())?.trim(),
    };
  }

  it('sends no example value for an optional parameter of the upload, and uploads the chosen file', async () => {
    const sent = await tryItOut('post_api_uploads', async (operation) => {
      // The option as a query parameter and as a form field: both empty, so the file is read as it is.
      expect(await operation.locator('tr[data-param-name="timezone"] input[type=text]').inputValue()).toBe(
        '',
      );
      expect(await operation.locator('tr[data-property-name="timezone"] input[type=text]').inputValue()).toBe(
        '',
      );
      await operation.locator('input[type=file]').setInputFiles({
        name: 'events.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('userId,eventType,timestamp\nu1,click,2024-01-15T10:00:00Z\n'),
      });
    });
    expect({ query: sent.url.search, status: sent.status }).toEqual({ query: '', status: '201' });
  });

  it('sends only the required parameters of the series, as their examples', async () => {
    const sent = await tryItOut('get_api_metrics_series');
    expect({ query: sent.url.search, status: sent.status }).toEqual({
      query: '?from=2024-01-14&to=2024-01-16',
      status: '200',
    });
  });

  it('sends the ndjson example of POST /api/events verbatim, and it is stored', async () => {
    const operation = page.locator('[id$="-post_api_events"]');
    const sent = await tryItOut('post_api_events', async () => {
      expect(await operation.locator('.body-param-content-type select').inputValue()).toBe(
        'application/x-ndjson',
      );
    });
    const example = (
      buildOpenApi() as {
        paths: Record<
          string,
          Record<string, { requestBody: { content: Record<string, { example: unknown }> } }>
        >;
      }
    ).paths['/api/events']?.post?.requestBody.content['application/x-ndjson']?.example;
    expect({ query: sent.url.search, body: sent.body, status: sent.status }).toEqual({
      query: '',
      body: example,
      status: '201',
    });
  });
});
