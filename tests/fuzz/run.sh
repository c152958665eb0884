#!/bin/sh
# tests/fuzz/run.sh: builds the libFuzzer target for the template engine with clang-14
# (ASan + UBSan) and runs it.  usage: tests/fuzz/run.sh [SECONDS] [OUTDIR]
# Defaults: 20 seconds, OUTDIR build/fuzz. Exit 77 (skipped) when clang-14 is missing.
# A longer run:  tests/fuzz/run.sh 1800     (crashes land in OUTDIR/crash-*)
set -eu
SECS=${1:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${2:-$ROOT/build/fuzz}
CC=${FUZZ_CC:-clang-14}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz: $CC not found; skipping"
    exit 77
fi
mkdir -p "$OUT/corpus"
# shellcheck disable=SC2046
"$CC" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DTMPL_MAX_STEPS=200000 -I"$ROOT/src" \
    "$HERE/fuzz_tmpl.c" "$ROOT/src/tmpl.c" "$ROOT/src/html.c" "$ROOT/src/util.c" \
    $(pkg-config --cflags --libs jansson) -lpthread -o "$OUT/fuzz_tmpl"
cp "$HERE"/corpus/* "$OUT/corpus/"
exec "$OUT/fuzz_tmpl" -max_total_time="$SECS" -dict="$HERE/mustache.dict" -max_len=4096 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/" "$OUT/corpus"
