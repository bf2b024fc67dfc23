import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium, driven by playwright-core (which downloads no browser of its own). */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.resolve(__dirname, '..', '..', 'artifacts');

/**
 * Installs Debian's chromium when it is missing. The browser project's global setup calls it once,
 * before any test file runs; apt-get waits for a dpkg lock another install holds.
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM_PATH)) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (args: string[]) => {
    const [command, ...rest] = [...sudo, ...args] as [string, ...string[]];
    execFileSync(command, rest, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  const waitForLock = ['-o', 'DPkg::Lock::Timeout=600'];
  run(['apt-get', ...waitForLock, 'update']);
  run(['apt-get', ...waitForLock, 'install', '-y', 'chromium']);
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot to artifacts/<name>.png (the folder is git-ignored). */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Saves one element (a card, say) to artifacts/<name>.png: readable where a full page is too tall. */
export async function saveElementScreenshot(page: Page, selector: string, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.locator(selector).screenshot({ path: file });
  return file;
}
