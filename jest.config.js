/**
 * Three Jest projects: `unit` (tests/unit: pure code, no servers), `integration` (the real stack:
 * FerretDB on PostgreSQL and Redis, started by the global setup) and `browser` (tests/e2e: headless
 * Chromium against the real API; its setup also installs Debian's chromium when missing).
 * `npx jest FILE` runs one file with whatever its project needs.
 */
const ts = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const stack = {
  globalSetup: '<rootDir>/tests/support/stack/globalSetup.ts',
  globalTeardown: '<rootDir>/tests/support/stack/globalTeardown.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60_000,
  // Two cores: more workers only fight over the one FerretDB.
  maxWorkers: 2,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: ts,
      roots: ['<rootDir>/tests/unit'],
      testMatch: ['**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: ts,
      roots: ['<rootDir>/tests'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/tests/unit/', '/tests/e2e/'],
      ...stack,
    },
    {
      displayName: 'browser',
      testEnvironment: 'node',
      transform: ts,
      roots: ['<rootDir>/tests/e2e'],
      testMatch: ['**/*.test.ts'],
      ...stack,
      globalSetup: '<rootDir>/tests/support/stack/browserSetup.ts',
    },
  ],
};
