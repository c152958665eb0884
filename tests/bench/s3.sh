#!/usr/bin/env bash
# tests/bench/s3.sh: evidence upload and download throughput through evitrack on an S3 store
# (a local Ceph RADOS Gateway), each as a ratio to `curl --aws-sigv4` moving the same bytes
# straight to and from the gateway, and the server's peak memory growth meanwhile.
#   upload:   curl -F file=@F to evitrack (spooled and hashed, then PUT to the gateway with
#             the SHA-256 signed, multipart above the part size; 201 after the store's 200)
#             against curl --aws-sigv4 -T F (the hash given, as evitrack has it from the spool)
#   download: GET of the file through evitrack (HEAD + streamed GET, whole-file hash checked)
#             against curl --aws-sigv4 GET of the object
# Prints MB/s of each, the ratios (budget >= 0.8x) and peak RSS growth (budget <= 16 MB).
#
#   tests/bench/s3.sh [--build DIR] [--size-mb N] [--rounds N] [--check]
#
#   --size-mb N  file size (default 1024: the 1 GB case; CI runs a small one)
#   --rounds N   rounds, interleaved; the best of each is reported (default 3)
#   --check      exit 1 when a budget is missed
#   --smoke      the CI run: exit 0 at once (saying so) when there is no test gateway
# Uses the gateway named by $EVITRACK_TEST_S3_DIR (tests/s3/ceph.sh start DIR), or starts
# its own for the run. $EVITRACK_STORE_ARGS adds settings to the store URL (e.g. &part_mb=16).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
SIZE_MB=1024
ROUNDS=3
CHECK=0
SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; shift ;;
    --build) BUILD=$2; shift 2 ;;
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "s3.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${EVITRACK_BIN:-$BUILD/evitrack}
[ -x "$BIN" ] || cmake --build "$BUILD" --target evitrack -j"$(nproc)" >/dev/null

TMP=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-s3-bench.XXXXXX")
PID=
OWN_GW=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$OWN_GW" ] && bash "$ROOT/tests/s3/ceph.sh" stop "$OWN_GW" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

GW=${EVITRACK_TEST_S3_DIR:-}
if [ -z "$GW" ] && [ "$SMOKE" = 1 ]; then
  echo "s3.sh: skipped: no test gateway (tests/run-all.sh runs this in its S3 pass)"
  exit 0
fi
if [ -z "$GW" ]; then
  GW="$TMP/ceph"
  OWN_GW=$GW
  echo "starting a test gateway in $GW ..."
  bash "$ROOT/tests/s3/ceph.sh" start "$GW" | tail -n1
fi
set -a; . "$GW/env"; set +a
E=$EVITRACK_S3_ENDPOINT
SIG="aws:amz:us-east-1:s3"
AUTH="$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
BUCKET="evt-bench-$(date +%s)-$$"
bash "$ROOT/tests/s3/ceph.sh" bucket "$GW" "$BUCKET"

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print('%.0f' % ($1 / 1048576 / (float(sys.argv[2]) - float(sys.argv[1]))))" "$2" "$3"; }
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in clock ticks
cpu_s() { python3 -c "print('%.2f' % (($2 - $1) / $(getconf CLK_TCK)))"; }

BIG="$TMP/big.pdf"
BYTES=$((SIZE_MB * 1024 * 1024))
echo "making a ${SIZE_MB} MB file in $TMP ..."
{ printf '%%PDF-1.5\n'; head -c $((BYTES - 9)) /dev/urandom; } > "$BIG"

DATA="$TMP/data"
mkdir -p "$DATA"
"$BIN" serve --db "$TMP/evitrack.db" --data "$DATA" --store "s3://$BUCKET?endpoint=$E&region=us-east-1${EVITRACK_STORE_ARGS:-}" \
  --listen 127.0.0.1 --port 0 --quiet --max-upload-mb $((SIZE_MB + 64)) --max-request-mb $((SIZE_MB + 128)) ${EVITRACK_SERVE_ARGS:-} \
  > "$TMP/server.out" 2> "$TMP/server.err" &
PID=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$TMP/server.out" 2>/dev/null && break
  sleep 0.1
done
URL=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$TMP/server.out" | head -n1)
[ -n "$URL" ] || { echo "s3.sh: the server did not start"; cat "$TMP/server.err"; exit 1; }
echo 'bench-password-1' | "$BIN" user add --db "$TMP/evitrack.db" --email bench@s3.test --name Bench \
  --role learner > /dev/null
JAR="$TMP/cookies"
TOKEN=$(curl -sf -c "$JAR" -H 'Content-Type: application/json' \
  -d '{"email":"bench@s3.test","password":"bench-password-1"}' "$URL/api/v1/session" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')

upload() { # FILE -> prints "HTTP_CODE SHA256 EVIDENCE_ID FILE_ID"
  curl -s -b "$JAR" -H "X-CSRF-Token: $TOKEN" -o "$TMP/resp.json" -w '%{http_code}' \
    -F title=Benchmark -F kind=product -F "file=@$1;type=application/pdf" "$URL/api/v1/evidence" > "$TMP/code"
  printf '%s %s\n' "$(cat "$TMP/code")" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["files"][0]["sha256"], d["id"], d["files"][0]["id"]) if "files" in d else print(d)' "$TMP/resp.json")"
}

printf '%%PDF-1.4\nwarm-up\n' > "$TMP/small.pdf"
for _ in 1 2 3 4; do
  read -r code _ < <(upload "$TMP/small.pdf")
  [ "$code" = 201 ] || { echo "s3.sh: warm-up upload failed: HTTP $code $(cat "$TMP/resp.json")"; exit 1; }
done

best_cu=0 best_up=0 best_leg=0 best_cd=0 best_down=0 worst_up_growth=0 worst_down_growth=0
base0=$(rss_kb "$PID" VmRSS)
for round in $(seq "$ROUNDS"); do
  printf '%08d' "$round" | dd of="$BIG" bs=1 seek=9 conv=notrunc status=none
  cat "$BIG" > /dev/null # in the page cache for both
  want=$(sha256sum "$BIG" | cut -d' ' -f1)

  # curl straight to the gateway (under another key, so both really write)
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "$SIG" -u "$AUTH" -H "x-amz-content-sha256: $want" \
    -T "$BIG" "$E/$BUCKET/curl-$want")
  t1=$(now)
  [ "$code" = 200 ] || { echo "s3.sh: curl PUT failed: HTTP $code"; exit 1; }
  cu_rate=$(mbps "$BYTES" "$t0" "$t1")

  echo 5 > "/proc/$PID/clear_refs"
  c0=$(cpu_ticks "$PID")
  t0=$(now)
  read -r code got eid fid < <(upload "$BIG")
  t1=$(now)
  up_cpu=$(cpu_s "$c0" "$(cpu_ticks "$PID")")
  peak=$(rss_kb "$PID" VmHWM)
  [ "$code" = 201 ] || { echo "s3.sh: upload failed: HTTP $code $(head -c 300 "$TMP/resp.json")"; exit 1; }
  [ "$got" = "$want" ] || { echo "s3.sh: stored SHA-256 $got, expected $want"; exit 1; }
  up_rate=$(mbps "$BYTES" "$t0" "$t1")
  up_growth=$(( (peak - base0) / 1024 ))
  # the store's leg of it (spool to gateway), as the server logs it for a multipart upload
  leg_s=$(sed -n "s/.*s3 stored $want ([0-9]* bytes, multipart) in \([0-9.]*\) s.*/\1/p" "$TMP/server.err" | tail -n1)
  leg_rate=0
  [ -n "$leg_s" ] && leg_rate=$(python3 -c "print('%.0f' % ($BYTES / 1048576 / $leg_s))")

  # downloads: curl from the gateway, then through evitrack
  t0=$(now)
  code=$(curl -s -o "$TMP/down.curl" -w '%{http_code}' --aws-sigv4 "$SIG" -u "$AUTH" -H "x-amz-content-sha256: $EMPTY" \
    "$E/$BUCKET/$want")
  t1=$(now)
  [ "$code" = 200 ] || { echo "s3.sh: curl GET failed: HTTP $code"; exit 1; }
  cd_rate=$(mbps "$BYTES" "$t0" "$t1")
  rm -f "$TMP/down.curl"

  echo 5 > "/proc/$PID/clear_refs"
  c0=$(cpu_ticks "$PID")
  t0=$(now)
  code=$(curl -s -b "$JAR" -o "$TMP/down.ev" -w '%{http_code}' "$URL/api/v1/evidence/$eid/files/$fid")
  t1=$(now)
  down_cpu=$(cpu_s "$c0" "$(cpu_ticks "$PID")")
  peak=$(rss_kb "$PID" VmHWM)
  [ "$code" = 200 ] || { echo "s3.sh: download failed: HTTP $code"; exit 1; }
  [ "$(sha256sum "$TMP/down.ev" | cut -d' ' -f1)" = "$want" ] || { echo "s3.sh: the download differs"; exit 1; }
  rm -f "$TMP/down.ev"
  down_rate=$(mbps "$BYTES" "$t0" "$t1")
  down_growth=$(( (peak - base0) / 1024 ))

  echo "round $round: upload curl ${cu_rate} MB/s, evitrack ${up_rate} MB/s (its store leg ${leg_rate} MB/s; server CPU ${up_cpu} s, peak RSS growth ${up_growth} MB);" \
    "download curl ${cd_rate} MB/s, evitrack ${down_rate} MB/s (server CPU ${down_cpu} s, peak RSS growth ${down_growth} MB); load $(cut -d' ' -f1 /proc/loadavg)"
  [ "$cu_rate" -gt "$best_cu" ] && best_cu=$cu_rate
  [ "$up_rate" -gt "$best_up" ] && best_up=$up_rate
  [ "$leg_rate" -gt "$best_leg" ] && best_leg=$leg_rate
  [ "$cd_rate" -gt "$best_cd" ] && best_cd=$cd_rate
  [ "$down_rate" -gt "$best_down" ] && best_down=$down_rate
  [ "$up_growth" -gt "$worst_up_growth" ] && worst_up_growth=$up_growth
  [ "$down_growth" -gt "$worst_down_growth" ] && worst_down_growth=$down_growth
  # free the gateway's disk for the next round
  curl -s -o /dev/null --aws-sigv4 "$SIG" -u "$AUTH" -H "x-amz-content-sha256: $EMPTY" -X DELETE "$E/$BUCKET/curl-$want"
  curl -s -o /dev/null --aws-sigv4 "$SIG" -u "$AUTH" -H "x-amz-content-sha256: $EMPTY" -X DELETE "$E/$BUCKET/$want"
done

up_ratio=$(python3 -c "print('%.2f' % ($best_up / $best_cu))")
down_ratio=$(python3 -c "print('%.2f' % ($best_down / $best_cd))")
echo
echo "S3 upload of ${SIZE_MB} MB: evitrack ${best_up} MB/s; curl --aws-sigv4 ${best_cu} MB/s; ratio ${up_ratio}x (budget >= 0.8x)"
if [ "$best_leg" -gt 0 ]; then
  leg_ratio=$(python3 -c "print('%.2f' % ($best_leg / $best_cu))")
  echo "  its store leg (the spool sent to the gateway: parts hashed and signed, 3 at once): ${best_leg} MB/s; ratio ${leg_ratio}x to curl"
  echo "  (the upload first receives and hashes the client's bytes into the spool, since the object's key and"
  echo "   signed hash are the SHA-256 known only at the end; the whole is those two legs one after the other)"
fi
echo "S3 download of ${SIZE_MB} MB: evitrack ${best_down} MB/s; curl --aws-sigv4 ${best_cd} MB/s; ratio ${down_ratio}x (budget >= 0.8x)"
echo "server peak RSS growth: upload ${worst_up_growth} MB, download ${worst_down_growth} MB (budget <= 16 MB)"
if [ "$CHECK" = 1 ]; then
  python3 -c "import sys; sys.exit(0 if $up_ratio >= 0.8 and $down_ratio >= 0.8 and $worst_up_growth <= 16 and $worst_down_growth <= 16 else 1)" ||
    { echo "s3.sh: budget missed"; exit 1; }
fi
