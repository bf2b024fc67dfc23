import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, saveScreenshot } from '../support/browser';
import { startTestService, type TestService } from '../support/testService';
import { focusedId, unnamedControls, watchProblems } from './pageChecks';

/**
 * The web UI as the app serves it, in Debian's Chromium. None of this needs the upload, batch or
 * metrics routes: where a test needs an API answer it is the real server's answer to an unknown route.
 */
describe('web UI at /', () => {
  let service: TestService;
  let browser: Browser;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    await service.stop();
  });

  async function openPage(width: number, height: number, allowStatuses: number[] = [404]) {
    const page = await browser.newPage({ viewport: { width, height } });
    const problems = watchProblems(page, allowStatuses);
    await page.goto(`${service.baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
    return { page, problems };
  }

  /** Answers matching API calls with what the real server answers for a route it does not have. */
  async function answerLikeUnknownRoute(page: Page, pattern: string) {
    await page.route(pattern, async (route) => {
      const response = await route.fetch({ url: `${service.baseUrl}/api/no-such-route` });
      await route.fulfill({ response });
    });
  }

  it('serves index.html with a strict CSP and revalidation, and the assets with max-age and ETag', async () => {
    const res = await fetch(`${service.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const etag = res.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(await conditionalStatus(`${service.baseUrl}/`, etag ?? '')).toBe(304);

    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i); // no inline scripts
    expect(html).not.toMatch(/\son[a-z]+\s*=/i); // no inline event handlers
    expect(html).not.toMatch(/\sstyle\s*=/i); // no inline styles
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i); // nothing from another origin

    const assets = [
      'app.js',
      'api.js',
      'dom.js',
      'upload.js',
      'batches.js',
      'batchRow.js',
      'metrics.js',
      'barChart.js',
    ];
    for (const name of [...assets, 'styles.css', 'favicon.svg']) {
      const asset = await fetch(`${service.baseUrl}/ui/${name}`);
      expect({ name, status: asset.status }).toEqual({ name, status: 200 });
      expect(asset.headers.get('cache-control')).toBe('public, max-age=300');
      const assetTag = asset.headers.get('etag') ?? '';
      expect(await conditionalStatus(`${service.baseUrl}/ui/${name}`, assetTag)).toBe(304);
      const text = await asset.text();
      if (name.endsWith('.js')) {
        expect(asset.headers.get('content-type')).toMatch(/javascript/);
        expect({ name, usesInnerHtml: /innerHTML|outerHTML|insertAdjacentHTML/.test(text) }).toEqual({
          name,
          usesInnerHtml: false,
        });
      }
    }
    const missing = await fetch(`${service.baseUrl}/ui/no-such-file.js`);
    expect(missing.status).toBe(404);
  });

  it('finds the page from the compiled build in dist/ as well (tsc copies no static files)', () => {
    // `npm test` compiles dist/ before Jest runs, exactly as `npm start` does.
    const root = path.resolve(__dirname, '..', '..');
    const script = "process.stdout.write(require('./dist/http/webUi.js').defaultPublicDir())";
    const publicDir = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(existsSync(path.join(publicDir, 'index.html'))).toBe(true);
    expect(existsSync(path.join(publicDir, 'app.js'))).toBe(true);
  });

  it('renders the three cards under the CSP with no script errors and a name on every control', async () => {
    const { page, problems } = await openPage(1280, 900);
    try {
      expect(await page.title()).toBe('Event Metrics');
      const headings = await page.locator('h2').allTextContents();
      expect(headings).toEqual(['1. Upload a CSV file', '2. Batches', '3. Daily metrics']);
      // Today's date in UTC is preselected, and the label says the day is a UTC day.
      const today = new Date().toISOString().slice(0, 10);
      expect(await page.getByLabel('Day (UTC)').inputValue()).toBe(today);
      expect(await page.getByLabel('Choose a CSV file…').count()).toBe(1);
      expect(await unnamedControls(page)).toEqual([]);
      // The stylesheet applied (the CSP allowed it): the upload card is a styled card.
      const radius = await page.evaluate(
        'getComputedStyle(document.getElementById("upload-section")).borderTopLeftRadius',
      );
      expect(radius).toBe('10px');
      await saveScreenshot(page, 'ui-empty-desktop');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('stays within a 375 px wide screen', async () => {
    const { page, problems } = await openPage(375, 812);
    try {
      const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
      expect(scrollWidth).toBeLessThanOrEqual(375);
      await saveScreenshot(page, 'ui-empty-narrow');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('can be used from the keyboard: choose a file with the chooser and upload it', async () => {
    const { page, problems } = await openPage(1280, 900);
    await answerLikeUnknownRoute(page, '**/api/uploads');
    // Listen before pressing: Playwright turns on file-chooser interception asynchronously.
    const chooserOpened = page.waitForEvent('filechooser');
    try {
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe(''); // the skip link comes first
      expect(await page.locator(':focus').textContent()).toBe('Skip to content');
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe('file-input');
      await page.keyboard.press('Space');
      const chooser = await chooserOpened;
      await chooser.setFiles({
        name: 'keyboard.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('userId,eventType,timestamp\nu1,click,2024-01-15T10:00:00Z\n'),
      });
      expect(await page.locator('#chosen-file').textContent()).toContain('keyboard.csv');
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe('upload-timezone');
      // The more options (closed) and the skip checkbox come before the button.
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe('upload-more-toggle');
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe('upload-skip-invalid');
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe('upload-button');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#upload-result [data-outcome="failed"]');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('explains in words that uploads are unavailable when the API answers 404', async () => {
    const { page, problems } = await openPage(1280, 900);
    await answerLikeUnknownRoute(page, '**/api/uploads');
    try {
      await page.locator('#file-input').setInputFiles({
        name: 'events.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('userId,eventType,timestamp\nu1,click,2024-01-15T10:00:00Z\n'),
      });
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      const notice = page.locator('#upload-result [data-outcome="failed"]');
      await notice.waitFor();
      expect(await notice.getAttribute('data-status')).toBe('404');
      expect(await notice.getAttribute('role')).toBe('alert');
      const text = await notice.textContent();
      expect(text).toContain('events.csv was not uploaded.');
      expect(text).toContain('This server does not accept uploads: it has no upload endpoint (404).');
      // The file stays chosen, so the upload can be retried.
      expect(await page.getByRole('button', { name: 'Upload', exact: true }).isEnabled()).toBe(true);
      expect(await page.locator('#upload-progress-row').isHidden()).toBe(true);
      await saveScreenshot(page, 'ui-upload-404');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('accepts a CSV dropped on the drop zone', async () => {
    const { page, problems } = await openPage(1280, 900);
    try {
      const dataTransfer = await page.evaluateHandle(
        '(() => { const dt = new DataTransfer(); dt.items.add(new File(["userId,eventType,timestamp\\n"], "dropped.csv", { type: "text/csv" })); return dt; })()',
      );
      await page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
      expect(await page.locator('#drop-zone').getAttribute('class')).toContain('drag-over');
      await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
      expect(await page.locator('#chosen-file').textContent()).toContain('dropped.csv');
      expect(await page.locator('#drop-zone').getAttribute('class')).not.toContain('drag-over');
      expect(await page.getByRole('button', { name: 'Upload', exact: true }).isEnabled()).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

/** A conditional GET without fetch, which adds `Cache-Control: no-cache` and so defeats the ETag. */
function conditionalStatus(url: string, etag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { 'If-None-Match': etag } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}
