#!/usr/bin/env bash
# tests/bench/run.sh: wrk benchmark of evitrack against a bare libmicrohttpd baseline built
# in the same tree, run in the same session on loopback; prints requests/s, p99 latency,
# server CPU per request and each target's ratio to the bare server.
#
#   tests/bench/run.sh [--build DIR] [--duration SECONDS] [--connections N] [--models] [--check]
#
#   --models   instead: compare libmicrohttpd thread models with the bare server
#   --check    exit 1 unless every ratio was measured (used by the ctest "bench_smoke";
#              it never judges absolute times, and budgets are only reported)
# Binaries: $EVITRACK_BIN and $BARE_BIN, else DIR/evitrack and DIR/tests/bench/bench_bare_hello
# (built here if missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
DURATION=5
CONNS=64
WRK_THREADS=2
MODE=app
CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --models) MODE=models; shift ;;
    --check) CHECK=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

EVITRACK_BIN=${EVITRACK_BIN:-$BUILD/evitrack}
BARE_BIN=${BARE_BIN:-$BUILD/tests/bench/bench_bare_hello}
command -v wrk >/dev/null || { echo "run.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
if [ ! -x "$BARE_BIN" ] || { [ "$MODE" = app ] && [ ! -x "$EVITRACK_BIN" ]; }; then
  cmake --build "$BUILD" --target evitrack bench_bare_hello -j"$(nproc)" >/dev/null
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME CMD...: starts a server in the background, waits for its "listening on
# http://ADDR:PORT" line and sets PID and URL.
start() {
  local name=$1; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 300); do
    URL=$(sed -n 's#.*listening on \(http://[0-9.]*:[0-9]*\).*#\1#p' "$TMP/$name.out" | head -n1)
    [ -n "$URL" ] && return 0
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "run.sh: $name did not start: $*" >&2
  tail -n 20 "$TMP/$name.out" "$TMP/$name.err" >&2 || true
  exit 1
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# CPU ticks (user + system) used so far by process $1.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure LABEL PID URL: runs wrk and prints one row; records RPS[LABEL] and P99[LABEL].
declare -A RPS P99 CPU
measure() {
  local label=$1 pid=$2 url=$3 out t0 t1
  t0=$(cpu_ticks "$pid")
  out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$url")
  t1=$(cpu_ticks "$pid")
  echo "$out" >"$TMP/wrk-$label.txt"
  local rps p99 reqs bad cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 0;
        printf "%.3f", v * f}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print "non-2xx/3xx: " $NF} /Socket errors:/ {print $0}' <<<"$out" | tr '\n' ' ')
  cpu=$(awk -v d="$((t1 - t0))" -v n="${reqs:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.1f", d / hz / n * 1e6; else print "-" }')
  RPS[$label]=${rps:-0}
  P99[$label]=${p99:-0}
  CPU[$label]=$cpu
  printf '%-26s %12s %10s %10s' "$label" "${rps:-?}" "${p99:-?}" "$cpu"
  [ -n "$bad" ] && printf '   (WARNING: %s)' "$bad"
  printf '\n'
}

header() {
  printf '%-26s %12s %10s %10s\n' "target" "requests/s" "p99 ms" "cpu us/req"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

echo "# evitrack bench: wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency, loopback, $(nproc) cores"

if [ "$MODE" = models ]; then
  header
  for model in pool-epoll pool-poll pool-select single-epoll per-connection auto pool-epoll:no-trick; do
    args=(--model "${model%%:*}")
    [ "${model#*:}" = no-trick ] && args+=(--no-trick)
    start "bare-$model" "$BARE_BIN" --port 0 "${args[@]}"
    measure "$model" "$PID" "$URL/"
    stop "$PID"
  done
  for model in pool-poll pool-select single-epoll per-connection auto pool-epoll:no-trick; do
    echo "ratio $model/pool-epoll: $(ratio "${RPS[$model]}" "${RPS[pool-epoll]}")"
  done
  exit 0
fi

start bare "$BARE_BIN" --port 0
BARE_PID=$PID BARE_URL=$URL
start evitrack "$EVITRACK_BIN" serve --db "$TMP/bench.db" --data "$TMP/data" \
  --listen 127.0.0.1 --port 0 --demo
APP_PID=$PID APP_URL=$URL

header
measure bare "$BARE_PID" "$BARE_URL/"
measure healthz "$APP_PID" "$APP_URL/healthz"
measure home "$APP_PID" "$APP_URL/"
stop "$BARE_PID"

status=0
for t in healthz home; do
  r=$(ratio "${RPS[$t]}" "${RPS[bare]}")
  p=$(ratio "${P99[$t]}" "${P99[bare]}")
  line="ratio $t/bare: $r requests/s, p99 ${P99[$t]} ms (${p}x bare)"
  if [ "$t" = healthz ]; then
    line+=$(awk -v r="$r" 'BEGIN { print (r + 0 >= 0.8) ? "  [budget >= 0.8: met]" : "  [budget >= 0.8: NOT met]" }')
  fi
  echo "$line"
  case "$r" in ''|nan|0.00) status=1 ;; esac
done

if [ "$CHECK" = 1 ] && [ "$status" != 0 ]; then
  echo "run.sh: a ratio could not be measured" >&2
  tail -n 20 "$TMP/evitrack.err" >&2 || true
  exit 1
fi
exit 0
