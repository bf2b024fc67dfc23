// `npm test`: the unit and integration projects, then the browser project (it keeps both cores
// busy, so checks with short timeouts run before it). Both runs always happen; either failing fails.
// With arguments (`npm test -- tests/uploads`), one Jest run with those arguments.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const jest = join(import.meta.dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const run = (args) => spawnSync(process.execPath, [jest, ...args], { stdio: 'inherit' }).status ?? 1;

const extra = process.argv.slice(2);
if (extra.length > 0) process.exit(run(extra));
const rest = run(['--selectProjects', 'unit', 'integration']);
const browser = run(['--selectProjects', 'browser']);
process.exit(rest !== 0 ? rest : browser);
