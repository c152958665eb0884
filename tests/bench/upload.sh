#!/usr/bin/env bash
# tests/bench/upload.sh: a 1 GB evidence upload through evitrack (multipart, streamed to a
# temporary file while hashed, fsync'd, renamed into the blob store, row committed) against
# `dd conv=fsync` of the same file onto the same disk, and the server's peak memory growth.
# Prints MB/s of both, their ratio (budget >= 0.8x) and the peak RSS growth (budget <= 8 MB).
#
#   tests/bench/upload.sh [--build DIR] [--size-mb N] [--rounds N] [--check] [--db postgres://...]
#
#   --size-mb N  file size (default 1024)
#   --rounds N   rounds, interleaved dd/upload; the best of each is reported (default 3)
#   --check      exit 1 when a budget is missed
#   --db URL     record the uploads in this (empty) PostgreSQL database instead of a temporary
#                SQLite file (tests/bench/engines.sh runs both side by side)
# The work directory is under $TMPDIR (default /tmp): keep it on the disk you mean to measure.
# $EVITRACK_SERVE_ARGS adds arguments to `evitrack serve` (e.g. --connection-memory-kb 1024).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
SIZE_MB=1024
ROUNDS=3
CHECK=0
DB=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    --db) DB=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "upload.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${EVITRACK_BIN:-$BUILD/evitrack}
[ -x "$BIN" ] || cmake --build "$BUILD" --target evitrack -j"$(nproc)" >/dev/null
for tool in curl python3 dd; do
  command -v "$tool" >/dev/null || { echo "upload.sh: $tool not found" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-upload-bench.XXXXXX")
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print('%.0f' % ($1 / 1048576 / (float(sys.argv[2]) - float(sys.argv[1]))))" "$2" "$3"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in clock ticks
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# The file: a PDF header (so the allowlist takes it) and random bytes.
BIG="$TMP/big.pdf"
BYTES=$((SIZE_MB * 1024 * 1024))
echo "making a ${SIZE_MB} MB file in $TMP ..."
{ printf '%%PDF-1.5\n'; head -c $((BYTES - 9)) /dev/urandom; } > "$BIG"
cat "$BIG" > /dev/null # in the page cache, so both sides read it from memory

DB=${DB:-$TMP/evitrack.db}
ENGINE=sqlite
case "$DB" in postgres://*|postgresql://*) ENGINE=postgresql ;; esac
DATA="$TMP/data"
mkdir -p "$DATA"
"$BIN" serve --db "$DB" --data "$DATA" --listen 127.0.0.1 --port 0 --quiet \
  --max-upload-mb $((SIZE_MB + 64)) --max-request-mb $((SIZE_MB + 128)) ${EVITRACK_SERVE_ARGS:-} > "$TMP/server.out" 2> "$TMP/server.err" &
PID=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$TMP/server.out" 2>/dev/null && break
  sleep 0.1
done
URL=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$TMP/server.out" | head -n1)
[ -n "$URL" ] || { echo "upload.sh: the server did not start"; cat "$TMP/server.err"; exit 1; }
echo 'bench-password-1' | "$BIN" user add --db "$DB" --email bench@upload.test --name Bench \
  --role learner > /dev/null
JAR="$TMP/cookies"
TOKEN=$(curl -sf -c "$JAR" -H 'Content-Type: application/json' \
  -d '{"email":"bench@upload.test","password":"bench-password-1"}' "$URL/api/v1/session" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')

upload() { # FILE -> prints "HTTP_CODE SHA256"
  curl -s -b "$JAR" -H "X-CSRF-Token: $TOKEN" -o "$TMP/resp.json" -w '%{http_code}' \
    -F title=Benchmark -F kind=product -F "file=@$1;type=application/pdf" "$URL/api/v1/evidence" > "$TMP/code"
  printf '%s %s\n' "$(cat "$TMP/code")" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["files"][0]["sha256"] if "files" in d else d)' "$TMP/resp.json")"
}

# Warm-up: the first upload loads libmagic's database, and the first request on each
# worker thread opens its SQLite connection; one small upload per new connection (4
# connections for the pool's threads) so the rounds measure what the size adds.
printf '%%PDF-1.4\nwarm-up\n' > "$TMP/small.pdf"
for _ in 1 2 3 4; do
  read -r code _ < <(upload "$TMP/small.pdf")
  [ "$code" = 201 ] || { echo "upload.sh: warm-up upload failed: HTTP $code $(cat "$TMP/resp.json")"; exit 1; }
done

best_dd=0 best_up=0 worst_growth=0
for round in $(seq "$ROUNDS"); do
  # a different file each round (so the store really writes it), still in the page cache
  printf '%08d' "$round" | dd of="$BIG" bs=1 seek=9 conv=notrunc status=none
  want=$(sha256sum "$BIG" | cut -d' ' -f1)

  rm -f "$DATA/dd.out"
  t0=$(now)
  dd if="$BIG" of="$DATA/dd.out" bs=1M conv=fsync status=none
  t1=$(now)
  rm -f "$DATA/dd.out"
  dd_rate=$(mbps "$BYTES" "$t0" "$t1")

  base=$(rss_kb "$PID" VmRSS)
  echo 5 > "/proc/$PID/clear_refs" # resets VmHWM (the peak) to the current RSS
  c0=$(cpu_ticks "$PID")
  t0=$(now)
  read -r code got < <(upload "$BIG")
  t1=$(now)
  c1=$(cpu_ticks "$PID")
  peak=$(rss_kb "$PID" VmHWM)
  [ "$code" = 201 ] || { echo "upload.sh: upload failed: HTTP $code $(head -c 300 "$TMP/resp.json")"; exit 1; }
  [ "$got" = "$want" ] || { echo "upload.sh: stored SHA-256 $got, expected $want"; exit 1; }
  blob="$DATA/blobs/${want:0:2}/$want"
  [ "$(stat -c %s "$blob")" = "$BYTES" ] || { echo "upload.sh: the blob has the wrong size"; exit 1; }
  up_rate=$(mbps "$BYTES" "$t0" "$t1")
  [ -n "${base0:-}" ] || base0=$base
  growth=$(( (peak - base0) / 1024 )) # against the idle server before round 1
  cpu_s=$(python3 -c "print('%.2f' % (($c1 - $c0) / $(getconf CLK_TCK)))")
  cpu_rate=$(python3 -c "print('%.0f' % ($BYTES / 1048576 / max($cpu_s, 0.01)))")
  echo "round $round: dd conv=fsync ${dd_rate} MB/s, upload ${up_rate} MB/s (server CPU ${cpu_s} s: ${cpu_rate} MB per CPU second), peak RSS growth ${growth} MB"
  [ "$dd_rate" -gt "$best_dd" ] && best_dd=$dd_rate
  [ "$up_rate" -gt "$best_up" ] && best_up=$up_rate
  [ "$growth" -gt "$worst_growth" ] && worst_growth=$growth
  rm -f "$blob" # keep the disk from filling; the row no longer matters here
done

ratio=$(python3 -c "print('%.2f' % ($best_up / $best_dd))")
echo
echo "upload of ${SIZE_MB} MB [$ENGINE]: ${best_up} MB/s; dd conv=fsync: ${best_dd} MB/s; ratio ${ratio}x (budget >= 0.8x)"
echo "server peak RSS growth [$ENGINE]: ${worst_growth} MB (budget <= 8 MB)"
if [ "$CHECK" = 1 ]; then
  python3 -c "import sys; sys.exit(0 if $ratio >= 0.8 and $worst_growth <= 8 else 1)" ||
    { echo "upload.sh: budget missed"; exit 1; }
fi
