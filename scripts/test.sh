#!/usr/bin/env bash
# `npm test`: installs what is missing, starts a throwaway stack on free ports in a temporary folder,
# runs Jest against it, and tears the stack down whatever happens. Extra arguments go to Jest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/ensure-deps.sh

# The browser tests (tests/e2e) drive Debian's Chromium; install it once when it is missing.
if [[ ! -x /usr/bin/chromium ]]; then
  echo "test: installing chromium for the browser tests (apt-get)..." >&2
  sudo_cmd=()
  [[ "$(id -u)" -eq 0 ]] || sudo_cmd=(sudo -n)
  "${sudo_cmd[@]}" apt-get update -qq >&2
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
stack_dir="$(mktemp -d "${TMPDIR:-/tmp}/ems-test.XXXXXX")"
mongo_port="$(free_port)"
redis_port="$(free_port)"
while [[ "$redis_port" == "$mongo_port" ]]; do redis_port="$(free_port)"; done

cleanup() {
  # Quiet: when the output goes to a pipe that is already closed (`npm test | head`), a message
  # would kill the stop half-way and leave FerretDB running.
  bash scripts/stack.sh stop --dir "$stack_dir" >/dev/null 2>&1 || true
  rm -rf "$stack_dir"
}
trap cleanup EXIT

while IFS='=' read -r key value; do
  export "TEST_$key=$value"
done < <(bash scripts/stack.sh start --dir "$stack_dir" --mongo-port "$mongo_port" --redis-port "$redis_port" --ephemeral)

export FERRETDB_BIN="$ROOT/.bin/ferretdb"
export TEST_STACK_DIR="$stack_dir"
npx tsc -p tsconfig.build.json
if [[ $# -gt 0 ]]; then
  npx jest "$@"
else
  # The browser tests keep both cores busy; run them after the rest so that checks with short
  # timeouts (health probes) are not starved by Chromium. Both runs always happen; either failing fails.
  status=0
  npx jest --testPathIgnorePatterns '/tests/e2e/' || status=$?
  npx jest tests/e2e || status=$?
  exit "$status"
fi
