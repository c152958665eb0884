#!/usr/bin/env bash
# tests/bench/export.sh: serving-under-pressure benchmarks (issue 12), each a ratio against a
# baseline measured in the same run: a portfolio export's first byte and throughput vs `cat` of
# the same files, other users' p99 during two cohort exports vs alone, and the matrix page's
# bytes and CPU per request with gzip vs plain (tests/bench/export.js does the work).
#
#   tests/bench/export.sh [--build DIR] [--full] [--check]
#
#   --full   the issue's sizes: a 1 GB portfolio (16 x 64 MB), 8-learner cohorts, 10 s wrk runs
#            (default: 64 MB, 3 learners, 3 s: the quick run CI makes)
#   --check  exit 1 unless every figure was measured (budgets are only reported)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --full|--check) PASS+=("$1"); shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "export.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
export EVITRACK_BIN=${EVITRACK_BIN:-$BUILD/evitrack}
[ -x "$EVITRACK_BIN" ] || cmake --build "$BUILD" --target evitrack -j"$(nproc)" >/dev/null
for tool in curl wrk node sqlite3 openssl; do
  command -v "$tool" >/dev/null || { echo "export.sh: $tool not found" >&2; exit 1; }
done
echo "# evitrack export bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec node "$ROOT/tests/bench/export.js" "${PASS[@]}"
