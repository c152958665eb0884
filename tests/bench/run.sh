#!/usr/bin/env bash
# tests/bench/run.sh: wrk benchmark of evitrack against a bare libmicrohttpd baseline built
# in the same tree, run in the same session on loopback; prints requests/s, p99 latency,
# server CPU per request and each target's ratio to the bare server.
#
#   tests/bench/run.sh [--build DIR] [--duration SECONDS] [--connections N] [--rounds N]
#                      [--models] [--priority] [--check]
#
#   --rounds N run every target N times, interleaved, and report the best of each
#              (requests/s: highest; p99 and CPU per request: lowest): on a shared
#              machine the best round is the one least disturbed by other work
#   --models   instead: compare libmicrohttpd thread models with the bare server
#   --priority run the servers and wrk at nice -10 (root only), so that other work on a
#              shared machine disturbs the measurement less
#   --check    exit 1 unless every ratio was measured (used by the ctest "bench_smoke";
#              it never judges absolute times, and budgets are only reported)
# $EVITRACK_SERVE_ARGS adds arguments to `evitrack serve` (e.g. --quiet).
# With $EVITRACK_TEST_DB (a postgres:// URL, as tests/run-all.sh sets) the evitrack targets
# run a second time on PostgreSQL (a fresh database on that server), printed side by side
# as "target[postgresql]" with their own ratios to the same bare baseline.
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
ROUNDS=1
NICE=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --models) MODE=models; shift ;;
    --check) CHECK=1; shift ;;
    --priority) NICE=(nice -n -10); shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
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
  : >"$TMP/$name.out"
  : >"$TMP/$name.err"
  "${NICE[@]}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
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

# measure LABEL PID URL: runs wrk once and prints a row; keeps the best of the rounds
# in RPS[LABEL] (highest), P99[LABEL] and CPU[LABEL] (lowest).
declare -A RPS P99 CPU HWM
measure() {
  local label=$1 pid=$2 url=$3 out t0 t1
  t0=$(cpu_ticks "$pid")
  out=$("${NICE[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
        ${WRK_HEADER:+-H "$WRK_HEADER"} "$url")
  t1=$(cpu_ticks "$pid")
  echo "$out" >>"$TMP/wrk-$label.txt"
  local rps p99 reqs bad cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 0;
        printf "%.3f", v * f}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print "non-2xx/3xx: " $NF} /Socket errors:/ {print $0}' <<<"$out" | tr '\n' ' ')
  cpu=$(awk -v d="$((t1 - t0))" -v n="${reqs:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.1f", d / hz / n * 1e6; else print "" }')
  rps=${rps:-0} p99=${p99:-0}
  RPS[$label]=$(awk -v a="${RPS[$label]:-0}" -v b="$rps" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
  P99[$label]=$(awk -v a="${P99[$label]:-}" -v b="$p99" 'BEGIN { print (a == "" || (b + 0 > 0 && b + 0 < a + 0)) ? b : a }')
  if [ -n "$cpu" ]; then
    CPU[$label]=$(awk -v a="${CPU[$label]:-}" -v b="$cpu" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
  fi
  local hwm
  hwm=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || true)
  HWM[$label]=$hwm
  row "$label${round_tag:-}" "$rps" "$p99" "${cpu:--}" "${hwm:--}"
  if [ -n "$bad" ]; then printf '   (WARNING: %s)' "$bad"; fi
  printf '\n'
}

row() { printf '%-30s %12s %10s %10s %10s' "$1" "$2" "$3" "$4" "$5"; }

header() { row "target" "requests/s" "p99 ms" "cpu us/req" "peak MB"; printf '\n'; }

# best LABEL...: the best-of-rounds table.
best() {
  [ "$ROUNDS" -gt 1 ] || return 0
  echo "# best of $ROUNDS rounds"
  header
  for l in "$@"; do row "$l" "${RPS[$l]}" "${P99[$l]}" "${CPU[$l]:--}" "${HWM[$l]:--}"; printf '\n'; done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

echo "# evitrack bench: wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency, loopback, $(nproc) cores," \
  "$ROUNDS round(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$MODE" = models ]; then
  MODELS=(pool-epoll pool-poll pool-select single-epoll per-connection auto pool-epoll:no-trick)
  header
  for r in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && round_tag=" #$r"
    for model in "${MODELS[@]}"; do
      args=(--model "${model%%:*}")
      [ "${model#*:}" = no-trick ] && args+=(--no-trick)
      start "bare-$model" "$BARE_BIN" --port 0 "${args[@]}"
      measure "$model" "$PID" "$URL/"
      stop "$PID"
    done
  done
  best "${MODELS[@]}"
  for model in "${MODELS[@]:1}"; do
    echo "ratio $model/pool-epoll: $(ratio "${RPS[$model]}" "${RPS[pool-epoll]}") requests/s," \
      "$(ratio "${CPU[$model]:-0}" "${CPU[pool-epoll]:-0}")x the CPU per request"
  done
  exit 0
fi

start bare "$BARE_BIN" --port 0
BARE_PID=$PID BARE_URL=$URL
start evitrack "$EVITRACK_BIN" serve --db "$TMP/bench.db" --data "$TMP/data" \
  --listen 127.0.0.1 --port 0 --demo ${EVITRACK_SERVE_ARGS:-}
APP_PID=$PID APP_URL=$URL
# A signed-in script's token (the admin demo account) for the authenticated GET.
token() {
  curl -s -i -H 'Content-Type: application/json' \
    -d '{"email":"admin@demo.test","password":"evitrack-demo"}' "$1/api/v1/session" \
    | sed -n 's/^[Ss]et-[Cc]ookie: evitrack_session=\([0-9a-f]*\).*/\1/p' | head -n1
}
TOKEN=$(token "$APP_URL")
TARGETS=(healthz home me)
PG_DB=${EVITRACK_TEST_DB:-}
if [[ "$PG_DB" == postgres://* || "$PG_DB" == postgresql://* ]] && command -v psql >/dev/null; then
  PG_NAME="bench_$$"
  psql -X -q -d "$PG_DB" -c "CREATE DATABASE $PG_NAME" >/dev/null
  PG_URL="${PG_DB%/*}/$PG_NAME"
  start evitrack_pg "$EVITRACK_BIN" serve --db "$PG_URL" --data "$TMP/data-pg" \
    --listen 127.0.0.1 --port 0 --demo ${EVITRACK_SERVE_ARGS:-}
  PG_PID=$PID PG_APP_URL=$URL
  PG_TOKEN=$(token "$PG_APP_URL")
  TARGETS+=("healthz[postgresql]" "home[postgresql]" "me[postgresql]")
fi

header
for r in $(seq 1 "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && round_tag=" #$r"
  measure bare "$BARE_PID" "$BARE_URL/"
  measure healthz "$APP_PID" "$APP_URL/healthz"
  measure home "$APP_PID" "$APP_URL/"
  WRK_HEADER="Authorization: Bearer $TOKEN" measure me "$APP_PID" "$APP_URL/api/v1/me"
  if [ -n "${PG_PID:-}" ]; then
    measure "healthz[postgresql]" "$PG_PID" "$PG_APP_URL/healthz"
    measure "home[postgresql]" "$PG_PID" "$PG_APP_URL/"
    WRK_HEADER="Authorization: Bearer $PG_TOKEN" measure "me[postgresql]" "$PG_PID" "$PG_APP_URL/api/v1/me"
  fi
done
stop "$BARE_PID"
best bare "${TARGETS[@]}"

status=0
for t in "${TARGETS[@]}"; do
  r=$(ratio "${RPS[$t]}" "${RPS[bare]}")
  p=$(ratio "${P99[$t]}" "${P99[bare]}")
  c=$(ratio "${CPU[$t]:-0}" "${CPU[bare]:-0}")
  line="ratio $t/bare: $r requests/s, p99 ${P99[$t]} ms (${p}x bare), ${c}x the CPU per request"
  if [ "$t" = healthz ] || [ "$t" = "healthz[postgresql]" ]; then
    line+=$(awk -v r="$r" 'BEGIN { print (r + 0 >= 0.8) ? "  [budget >= 0.8: met]" : "  [budget >= 0.8: NOT met]" }')
  elif [ "$t" = me ] || [ "$t" = "me[postgresql]" ]; then
    line+=$(awk -v r="$r" 'BEGIN { print (r + 0 >= 0.5) ? "  [authenticated JSON GET, budget >= 0.5: met]" : "  [authenticated JSON GET, budget >= 0.5: NOT met]" }')
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
