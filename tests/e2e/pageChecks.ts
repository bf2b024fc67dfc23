import type { ConsoleMessage, Page } from 'playwright-core';

/**
 * Collects uncaught page errors and console errors (CSP violations land there too). A failed
 * request is logged by Chromium as a console error; `allowStatuses` names the statuses a test
 * provokes on purpose.
 */
export function watchProblems(page: Page, allowStatuses: number[] = []): string[] {
  const problems: string[] = [];
  const allowed = (message: ConsoleMessage) =>
    allowStatuses.some((status) =>
      message.text().startsWith(`Failed to load resource: the server responded with a status of ${status}`),
    );
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !allowed(message)) {
      problems.push(`console.error: ${message.text()} (${message.location().url})`);
    }
  });
  return problems;
}

const INTERACTIVE_ROLES = new Set([
  'button',
  'link',
  'textbox',
  'searchbox',
  'combobox',
  'spinbutton',
  'checkbox',
  'radio',
  'slider',
  'progressbar',
  'Date',
  'DateTime',
]);

/** Controls in the accessibility tree (as Chromium computes it) that have no accessible name. */
export async function unnamedControls(page: Page): Promise<string[]> {
  const session = await page.context().newCDPSession(page);
  try {
    const { nodes } = await session.send('Accessibility.getFullAXTree');
    const controls = nodes.filter(
      (node) => !node.ignored && INTERACTIVE_ROLES.has(String(node.role?.value ?? '')),
    );
    if (controls.length === 0) throw new Error('the accessibility tree has no controls at all');
    return controls
      .filter((node) => String(node.name?.value ?? '').trim() === '')
      .map((node) => `${String(node.role?.value)} (backend node ${node.backendDOMNodeId ?? '?'})`);
  } finally {
    await session.detach();
  }
}

/** The id of the element that has keyboard focus ('' for none, or one without an id). */
export async function focusedId(page: Page): Promise<string> {
  return String(await page.evaluate('document.activeElement ? document.activeElement.id : ""'));
}

/**
 * Polls a page expression until it is truthy. page.waitForFunction with a string would eval() inside
 * the page, which the page's CSP (rightly) refuses; page.evaluate runs through the debugger instead.
 */
export async function waitUntil(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`Still false after ${timeoutMs} ms: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Chooses a CSV in the upload card, presses Upload, and waits for the outcome notice. */
export async function uploadInPage(page: Page, name: string, csv: string): Promise<void> {
  await page.locator('#file-input').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.waitForSelector('#upload-result [data-outcome]', { timeout: 30_000 });
}

/** The text of the first element matching `selector` ('' when it has none). */
export async function textIn(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? '';
}
