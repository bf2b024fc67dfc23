#!/usr/bin/env bash
# `npm start`: installs what is missing, builds, starts the embedded stack when MONGODB_URI / REDIS_URL
# are not configured, then runs the API and the worker in one process. Ctrl-C stops all of it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/ensure-deps.sh
echo "start: building..." >&2
npx tsc -p tsconfig.build.json

# A value from the environment wins over .env, as in the service itself.
configured() {
  local key="$1"
  [[ -n "${!key:-}" ]] && return 0
  [[ -f .env ]] && grep -Eq "^[[:space:]]*${key}[[:space:]]*=[[:space:]]*[^[:space:]#]" .env
}

# The embedded FerretDB may use PostgreSQL instead of SQLite (scripts/stack.sh reads this variable).
if [[ -z "${FERRETDB_POSTGRESQL_URL:-}" && -f .env ]]; then
  FERRETDB_POSTGRESQL_URL="$(sed -nE 's/^[[:space:]]*FERRETDB_POSTGRESQL_URL[[:space:]]*=[[:space:]]*//p' .env | tail -n 1)"
  export FERRETDB_POSTGRESQL_URL
fi

stack_args=()
configured MONGODB_URI && stack_args+=(--no-mongo)
configured REDIS_URL && stack_args+=(--no-redis)
started_stack=0
if [[ ${#stack_args[@]} -lt 2 ]]; then
  while IFS='=' read -r key value; do
    export "$key=$value"
  done < <(bash scripts/stack.sh start --dir "$ROOT/.data/stack" "${stack_args[@]}")
  started_stack=1
fi

stop_all() {
  trap - INT TERM EXIT
  if [[ -n "${app_pid:-}" ]] && kill -0 "$app_pid" 2>/dev/null; then
    kill -TERM "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  if [[ $started_stack -eq 1 ]]; then bash scripts/stack.sh stop --dir "$ROOT/.data/stack"; fi
}
trap stop_all INT TERM EXIT

bash scripts/service.sh all &
app_pid=$!
set +e
wait "$app_pid"
status=$?
set -e
app_pid=""
stop_all
exit "$status"
