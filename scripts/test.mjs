// `npm test`: everything but the browser tests, then the browser tests (they keep both cores busy,
// so checks with short timeouts run before them). Both runs always happen; either failing fails.
// With arguments (`npm test -- tests/uploads`), one Jest run with those arguments.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const jest = join(import.meta.dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const run = (args) => spawnSync(process.execPath, [jest, ...args], { stdio: 'inherit' }).status ?? 1;

const extra = process.argv.slice(2);
if (extra.length > 0) process.exit(run(extra));
const rest = run(['--testPathIgnorePatterns', '/tests/e2e/']);
const browser = run(['tests/e2e']);
process.exit(rest !== 0 ? rest : browser);
