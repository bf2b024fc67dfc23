import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The admin key `npm start` uses in development when ADMIN_API_KEY is not set: generated once and
 * kept with the local stack's data (`<STACK_DIR>/admin-api-key`, readable by its owner only), so a
 * restart keeps the key a developer already copied. Production never gets here: there the service
 * requires ADMIN_API_KEY (src/config.ts).
 */

export const ADMIN_KEY_FILE = 'admin-api-key';

/** A stored key shorter than this (an empty or cut file) is replaced by a new one. */
const MIN_STORED_LENGTH = 16;

export interface DevelopmentAdminKey {
  key: string;
  path: string;
  /** True when this call generated the key (first start, or the stored file was unusable). */
  created: boolean;
}

export function developmentAdminKey(stackDir: string): DevelopmentAdminKey {
  const path = join(stackDir, ADMIN_KEY_FILE);
  let stored: string | undefined;
  try {
    stored = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (stored !== undefined && stored.length >= MIN_STORED_LENGTH && new Set(stored).size >= 8) {
    return { key: stored, path, created: false };
  }
  const key = randomBytes(24).toString('base64url');
  mkdirSync(stackDir, { recursive: true });
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return { key, path, created: true };
}
