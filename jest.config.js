/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60_000,
  // Two cores: more workers only fight over the one FerretDB.
  maxWorkers: 2,
  // Starts a throwaway PostgreSQL + FerretDB + Redis, so `npx jest FILE` works on its own.
  globalSetup: '<rootDir>/tests/support/stack/globalSetup.ts',
  globalTeardown: '<rootDir>/tests/support/stack/globalTeardown.ts',
};
