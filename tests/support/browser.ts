import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for browser tests: Debian's package (playwright's own browser download cannot be
 * fetched here). `findChromium()` installs it with apt-get when it is missing and we are root; it
 * returns the reason when neither works, so a test can skip with that message and only then.
 */

export const CHROMIUM_PATH = '/usr/bin/chromium';

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export type ChromiumLookup = { path: string } | { path?: undefined; reason: string };

let cached: ChromiumLookup | undefined;

function installWithApt(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return 'not root, cannot apt-get install';
  const options = { stdio: 'ignore' as const, timeout: 8 * 60_000 };
  if (spawnSync('apt-get', ['update'], options).status !== 0) return '`apt-get update` failed';
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
    ...options,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return install.status === 0 ? undefined : '`apt-get install -y chromium` failed';
}

/** Synchronous so a test file can choose `describe` or `describe.skip` when it loads. */
export function findChromium(): ChromiumLookup {
  if (cached) return cached;
  if (!existsSync(CHROMIUM_PATH)) {
    const problem = installWithApt();
    if (problem !== undefined || !existsSync(CHROMIUM_PATH)) {
      cached = {
        reason: `Chromium is not at ${CHROMIUM_PATH} and could not be installed: ${problem ?? 'unknown'}`,
      };
      return cached;
    }
  }
  cached = { path: CHROMIUM_PATH };
  return cached;
}

export async function launchChromium(path: string): Promise<Browser> {
  return chromium.launch({ executablePath: path, headless: true, args: LAUNCH_ARGS });
}
