/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60_000,
  // Two cores: more workers only fight over the one FerretDB.
  maxWorkers: 2,
  globalSetup: '<rootDir>/tests/support/requireStack.js',
};
