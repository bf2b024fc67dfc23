/**
 * Node (V8) flags every launcher of the service passes on the command line (they cannot be set
 * from inside a running process): `scripts/service.sh`, `npm start`, the benchmark.
 *
 * Measured with bench/uploadMemory.ts (10 MiB CSV, 160,611 rows, FerretDB on SQLite):
 * - defaults: the API's RSS grew by 94 MiB while the live heap stayed near 32 MB; V8 let garbage
 *   pile up to about four times the live heap before a full collection;
 * - `--heap-growing-percent=50` (collect when the heap is 1.5x what was live) brought it to 39 MiB;
 * - with `--max-semi-space-size=4` as well (a young generation of at most 4 MB per semi-space):
 *   25 MiB, for about 8% fewer rows per second (5,724 vs 6,237).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];
