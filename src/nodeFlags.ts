/**
 * Node (V8) flags every launcher of the service passes on the command line (they cannot be set
 * from inside a running process): `scripts/service.sh`, `npm start`, the benchmark.
 *
 * Measured with bench/uploadMemory.ts (10 MiB CSV, 160,611 rows, FerretDB on SQLite):
 * - defaults: the API's RSS grew by 94 MiB while the live heap stayed near 32 MB; V8 let garbage
 *   pile up to about four times the live heap before a full collection (`--trace-gc`);
 * - `--heap-growing-percent=50` (collect when the heap is 1.5x what was live): 39 MiB;
 * - with `--max-semi-space-size=8` as well: 27 MiB; with `=4`: 21-25 MiB.
 * Upload rows per second stayed within the run-to-run spread (5,200-6,300). One `npm run bench --
 * --quick --postgresql` run each (20,000 rows; single runs vary by 20% or more here): end to end
 * 4.7 s without flags, 5.2 s with semi-space 8, 7.6 s with semi-space 4; API peak RSS 240, 130 and
 * 127 MB. Semi-space 4 is kept for the memory target; the 100,000-row bench is the check.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];
