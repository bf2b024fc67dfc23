// `npm run test:cluster`: the acceptance-level tests (upload, process, metrics, dead-letter queue,
// rate limit, rebuild, several workers) again, on a real Redis Cluster of 3 masters with a replica
// each that Jest's global setup starts (TEST_REDIS_CLUSTER=1) and stops, plus tests/cluster (the
// master failover, on a cluster of its own). With arguments, those test files instead.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ACCEPTANCE = [
  'tests/uploads/upload.test.ts',
  'tests/processing/batches.http.test.ts',
  'tests/http/metricsAfterProcessing.test.ts',
  'tests/processing/dlq.test.ts',
  'tests/uploads/uploadRateLimit.test.ts',
  'tests/http/rateLimit.test.ts',
  'tests/processing/rebuildCli.test.ts',
  'tests/processing/verify.test.ts',
  'tests/processing/twoWorkers.test.ts',
  'tests/http/metrics.test.ts',
  'tests/cluster',
];

const jest = join(import.meta.dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const files = process.argv.length > 2 ? process.argv.slice(2) : ACCEPTANCE;
const done = spawnSync(process.execPath, [jest, ...files], {
  stdio: 'inherit',
  env: { ...process.env, TEST_REDIS_CLUSTER: '1' },
});
process.exit(done.status ?? 1);
