#!/usr/bin/env bash
# Runs the built service (dist/main.js) in one role (all | api | worker) with the Node flags it was
# measured with (src/nodeFlags.ts). Build first (`npm run build`); `npm start` does both.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
read -ra flags < <(node -p 'require(process.argv[1]).SERVICE_NODE_FLAGS.join(" ")' "$ROOT/dist/nodeFlags.js")
exec node "${flags[@]}" "$ROOT/dist/main.js" "$@"
