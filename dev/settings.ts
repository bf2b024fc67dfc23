import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { StackPorts } from './stack';

/**
 * Settings of the local stack that `npm start` and `npm run stack` run (the service's own settings
 * are in src/config.ts). Read from the environment, then `.env`; the environment wins.
 */

const port = z.coerce.number().int().min(1).max(65535);

const schema = z.object({
  STACK_DIR: z.string().min(1).optional(),
  STACK_MONGO_PORT: port.default(27027),
  STACK_REDIS_PORT: port.default(6390),
  STACK_POSTGRES_PORT: port.default(54327),
});

export const PORT_SETTINGS: Record<keyof StackPorts, string> = {
  mongo: 'STACK_MONGO_PORT',
  redis: 'STACK_REDIS_PORT',
  postgres: 'STACK_POSTGRES_PORT',
};

/** The project folder: dev/ and its build, dist-dev/, both sit one level below it. */
export const PROJECT_ROOT = resolve(__dirname, '..');

export interface LocalStackSettings {
  dir: string;
  ports: StackPorts;
}

/** Loads `.env` from the project folder into process.env (existing variables win), if it exists. */
export function loadProjectEnv(): void {
  const file = join(PROJECT_ROOT, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

export function readLocalStackSettings(
  env: Record<string, string | undefined> = process.env,
): LocalStackSettings {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid local stack settings:\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  return {
    dir: resolve(PROJECT_ROOT, s.STACK_DIR ?? join('.data', 'stack')),
    ports: { mongo: s.STACK_MONGO_PORT, redis: s.STACK_REDIS_PORT, postgres: s.STACK_POSTGRES_PORT },
  };
}
