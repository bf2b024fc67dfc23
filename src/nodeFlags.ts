/**
 * Node (V8) flags every launcher of the service passes on the command line (they cannot be set
 * from inside a running process): `scripts/service.sh` (which `npm start` runs), the benchmark, chaos.
 * By default V8 lets garbage pile up to several times the live heap before a full collection, so
 * a large upload grows the API's memory far past what it holds; these flags collect earlier. The
 * measurements behind the values are in docs/performance.md ("Node flags").
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];
