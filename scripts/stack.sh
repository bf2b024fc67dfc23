#!/usr/bin/env bash
# Starts and stops the local stack: FerretDB (MongoDB wire protocol) and a private redis-server.
#
#   scripts/stack.sh start [--dir DIR] [--mongo-port N] [--redis-port N] [--no-mongo] [--no-redis] [--ephemeral]
#   scripts/stack.sh stop  [--dir DIR]
#   scripts/stack.sh status [--dir DIR]
#
# Defaults: DIR=.data/stack, MongoDB-compatible port 27027, Redis port 6390 (never the machine's 6379).
# FerretDB uses SQLite files under DIR/ferretdb/ unless FERRETDB_POSTGRESQL_URL is set.
# --ephemeral: Redis keeps nothing on disk (for throwaway test stacks).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRETDB_BIN="${FERRETDB_BIN:-$ROOT/.bin/ferretdb}"

cmd="${1:-}"
shift || true
dir="$ROOT/.data/stack"
mongo_port="${STACK_MONGO_PORT:-27027}"
redis_port="${STACK_REDIS_PORT:-6390}"
want_mongo=1
want_redis=1
ephemeral=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --mongo-port) mongo_port="$2"; shift 2 ;;
    --redis-port) redis_port="$2"; shift 2 ;;
    --no-mongo) want_mongo=0; shift ;;
    --no-redis) want_redis=0; shift ;;
    --ephemeral) ephemeral=1; shift ;;
    *) echo "stack: unknown option $1" >&2; exit 2 ;;
  esac
done

say() { echo "stack: $*" >&2; }
die() { echo "stack: ERROR: $*" >&2; exit 1; }

# Answers 0 when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local name="$1" port="$2" pidfile="$3" log="$4" tries=150
  while ! port_open "$port"; do
    if ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
      say "$name exited during start-up; last lines of $log:"
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    tries=$((tries - 1))
    [[ $tries -gt 0 ]] || die "$name did not answer on port $port within 30 s (log: $log)"
    sleep 0.2
  done
}

ensure_ferretdb() {
  [[ -x "$FERRETDB_BIN" ]] && return 0
  command -v go >/dev/null 2>&1 || die "FerretDB is not built and Go is missing. Install Go >= 1.24 (https://go.dev/doc/install, or 'apt-get install golang-go' if your distribution's Go is new enough), then run this again."
  say "building FerretDB v1.24.2 from the Go module proxy (first time only, about a minute)..."
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$ROOT/tools/ferretdb" && GOFLAGS=-mod=mod go build -o "$FERRETDB_BIN" .) ||
    die "building FerretDB failed (see above). It needs the Go module proxy to be reachable."
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "redis-server is missing; installing Debian's redis-server package..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) ||
      die "apt-get install redis-server failed"
    # The package may start a system-wide Redis on 6379; we use our own private one.
  else
    die "redis-server is missing. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL."
  fi
}

start_mongo() {
  local pidfile="$dir/ferretdb.pid" log="$dir/ferretdb.log"
  if kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then say "FerretDB already running"; return 0; fi
  port_open "$mongo_port" && die "port $mongo_port is taken by another program; choose another with --mongo-port or STACK_MONGO_PORT"
  ensure_ferretdb
  local backend=(--handler=sqlite "--sqlite-url=file:$dir/ferretdb/")
  if [[ -n "${FERRETDB_POSTGRESQL_URL:-}" ]]; then backend=(--handler=postgresql "--postgresql-url=$FERRETDB_POSTGRESQL_URL"); fi
  mkdir -p "$dir/ferretdb"
  nohup "$FERRETDB_BIN" "--listen-addr=127.0.0.1:$mongo_port" "${backend[@]}" --log-level=warn >"$log" 2>&1 &
  echo $! >"$pidfile"
  wait_for_port FerretDB "$mongo_port" "$pidfile" "$log"
  say "FerretDB ready on 127.0.0.1:$mongo_port (${backend[0]#--handler=})"
}

start_redis() {
  local pidfile="$dir/redis.pid" log="$dir/redis.log"
  if kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then say "Redis already running"; return 0; fi
  port_open "$redis_port" && die "port $redis_port is taken by another program; choose another with --redis-port or STACK_REDIS_PORT"
  ensure_redis
  local persistence=(--appendonly yes --appendfsync everysec)
  if [[ $ephemeral -eq 1 ]]; then persistence=(--appendonly no); fi
  mkdir -p "$dir/redis"
  nohup redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" --save "" "${persistence[@]}" \
    --maxmemory-policy noeviction --daemonize no --logfile "" >"$log" 2>&1 &
  echo $! >"$pidfile"
  wait_for_port Redis "$redis_port" "$pidfile" "$log"
  say "Redis ready on 127.0.0.1:$redis_port"
}

stop_one() {
  local name="$1" pidfile="$dir/$2.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    say "$name stopped"
  fi
  rm -f "$pidfile"
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [[ $want_mongo -eq 1 ]]; then start_mongo; fi
    if [[ $want_redis -eq 1 ]]; then start_redis; fi
    if [[ $want_mongo -eq 1 ]]; then echo "MONGODB_URI=mongodb://127.0.0.1:$mongo_port/"; fi
    if [[ $want_redis -eq 1 ]]; then echo "REDIS_URL=redis://127.0.0.1:$redis_port"; fi
    ;;
  stop)
    stop_one Redis redis
    stop_one FerretDB ferretdb
    ;;
  status)
    for s in ferretdb redis; do
      if kill -0 "$(cat "$dir/$s.pid" 2>/dev/null)" 2>/dev/null; then echo "$s: running"; else echo "$s: stopped"; fi
    done
    ;;
  *)
    echo "usage: scripts/stack.sh start|stop|status [--dir DIR] [--mongo-port N] [--redis-port N] [--no-mongo] [--no-redis] [--ephemeral]" >&2
    exit 2
    ;;
esac
