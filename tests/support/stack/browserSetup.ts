import { ensureChromium } from '../browser';
import globalSetup from './globalSetup';

/**
 * The browser tests' global setup: Chromium once, before any test file starts (each file launching
 * the install itself made parallel files race for the dpkg lock on a fresh machine), then the stack.
 */
export default async function browserSetup(): Promise<void> {
  ensureChromium();
  await globalSetup();
}
