import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIOS, type Scenario } from './scenarios';
import { ROOT, World } from './world';

/**
 * `npm run chaos [-- --quick] [--runs N] [--rows N] [--only TEXT] [--keep]`: the fault-injection
 * suite. Each run of each scenario gets a stack and service processes of its own, breaks something
 * real (SIGKILL of the API, a worker, Redis, FerretDB, PostgreSQL or all of them), then checks that
 * every metric equals an independent recount, no batch is stuck, `rebuild-projections --verify`
 * exits 0 and /health is ok. Prints a table; exits 1 if any run failed.
 */

interface RunResult {
  scenario: string;
  run: number;
  ok: boolean;
  recoveryMs: number | null;
  note: string;
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    rows: { type: 'string' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs ?? (values.quick ? 1 : 3));
const rows = Number(values.rows ?? (values.quick ? 4000 : 30_000));
const only = values.only?.toLowerCase();

function say(line: string): void {
  process.stderr.write(`chaos: ${line}\n`);
}

async function runOnce(scenario: Scenario, run: number): Promise<RunResult> {
  const seed = 1000 * run + scenario.name.length;
  const world = await World.create(
    scenario.name.replace(/\W+/g, '-').toLowerCase(),
    scenario.env,
    scenario.apis ?? 1,
  );
  let failed = false;
  try {
    for (let i = 0; i < (scenario.apis ?? 1); i++) await world.startApi(i);
    for (let i = 0; i < (scenario.workers ?? 1); i++) await world.startWorker();
    const outcome = await scenario.run(world, rows, seed);
    return { scenario: scenario.name, run, ok: true, recoveryMs: outcome.recoveryMs, note: outcome.note };
  } catch (error) {
    failed = true;
    const message = error instanceof Error ? error.message : String(error);
    return {
      scenario: scenario.name,
      run,
      ok: false,
      recoveryMs: null,
      note: `${message} (logs: ${world.dir})`,
    };
  } finally {
    await world.close(failed || values.keep);
  }
}

function table(results: readonly RunResult[]): string {
  const lines = ['| scenario | runs | passed | recovery (s) | notes |', '| --- | --- | --- | --- | --- |'];
  for (const scenario of [...new Set(results.map((r) => r.scenario))]) {
    const mine = results.filter((r) => r.scenario === scenario);
    const times = mine.flatMap((r) => (r.recoveryMs === null ? [] : [r.recoveryMs / 1000]));
    const range =
      times.length === 0 ? '-' : `${Math.min(...times).toFixed(1)}-${Math.max(...times).toFixed(1)}`;
    const notes = mine.map((r) => `run ${r.run}: ${r.note || 'ok'}`).join('; ');
    lines.push(`| ${scenario} | ${mine.length} | ${mine.filter((r) => r.ok).length} | ${range} | ${notes} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const chosen = SCENARIOS.filter((s) => only === undefined || s.name.toLowerCase().includes(only));
  say(`${chosen.length} scenarios x ${runs} run(s), ${rows} rows per file`);
  const results: RunResult[] = [];
  for (const scenario of chosen) {
    for (let run = 1; run <= runs; run++) {
      const started = Date.now();
      const result = await runOnce(scenario, run);
      results.push(result);
      say(
        `${result.ok ? 'ok  ' : 'FAIL'} ${scenario.name} #${run} (${((Date.now() - started) / 1000).toFixed(0)} s) ${result.note}`,
      );
    }
  }
  const out = join(ROOT, 'artifacts', 'chaos');
  mkdirSync(out, { recursive: true });
  const file = join(out, `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ rows, runs, results }, null, 2)}\n`);
  process.stdout.write(`\n${table(results)}\n\nwritten ${file}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
