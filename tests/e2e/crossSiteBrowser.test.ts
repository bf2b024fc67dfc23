import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../support/browser';
import { sample } from '../support/prometheus';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents } from '../support/uploads';

/** The page another site would serve: it posts to the service without asking CORS. */
function attackerPage(target: string): string {
  return `<!doctype html><title>elsewhere</title><script>
    window.attack = async () => {
      const form = new FormData();
      form.append('file', new Blob(['userId,eventType,timestamp\\nvisitor,forged,2024-01-15T10:00:00Z\\n']), 'x.csv');
      // The answer is opaque, or blocked by its Cross-Origin-Resource-Policy; the request went out anyway.
      await fetch('${target}/api/uploads', { method: 'POST', mode: 'no-cors', body: form }).catch(() => undefined);
      return 'sent';
    };
  </script>`;
}

/** A real browser's cross-site upload, from a page on another origin, stores nothing. */
describe('cross-site writes from a browser', () => {
  let service: TestService;
  let elsewhere: Server;
  let elsewhereUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    elsewhere = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(attackerPage(service.baseUrl));
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    // localhost and 127.0.0.1 are different sites, and both are loopback (no private-network block).
    elsewhereUrl = `http://localhost:${(elsewhere.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    await new Promise((resolve) => elsewhere.close(resolve));
    await service.stop();
  });

  it('refuses a no-cors multipart POST from a page on another origin, and serves our own page', async () => {
    const page = await browser.newPage();
    await page.goto(`${elsewhereUrl}/`);
    expect(await page.evaluate('window.attack()')).toBe('sent');
    // The request did reach the service (nothing in the browser stopped it) and was refused there.
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    expect(sample(metrics, 'ems_http_requests_total{method="POST",route="(unmatched)",status="403"}')).toBe(
      1,
    );
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({ eventType: 'forged' })).toBe(0);

    // The same request from the service's own origin is a same-origin upload, and is stored.
    await page.goto(`${service.baseUrl}/`);
    const stored = await page.evaluate(`(async () => {
      const form = new FormData();
      form.append('file', new Blob(['userId,eventType,timestamp\\nvisitor,own,2024-01-15T10:00:00Z\\n']), 'x.csv');
      return (await fetch('/api/uploads', { method: 'POST', body: form })).status;
    })()`);
    expect(stored).toBe(201);
    await page.close();
  });
});
