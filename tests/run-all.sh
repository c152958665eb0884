#!/usr/bin/env bash
# tests/run-all.sh: the one test command: installs what is missing (scripts/install-deps.sh),
# builds build/ (warnings as errors) and build-asan/ (AddressSanitizer + UBSan), runs every
# ctest in build/ and the unit + http tests in build-asan/, then the unit, http and s3 tests
# again with the evidence store in S3 (a throw-away Ceph RADOS Gateway on loopback, started
# in the background while the builds run: tests/s3/ceph.sh), and exits non-zero on any failure.
#   bash tests/run-all.sh [--no-install] [--no-asan] [--no-s3]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
INSTALL=1
ASAN=1
S3=1
for a in "$@"; do
  case "$a" in
    --no-install) INSTALL=0 ;;
    --no-asan) ASAN=0 ;;
    --no-s3) S3=0 ;;
    *) echo "run-all: unknown argument $a" >&2; exit 2 ;;
  esac
done
JOBS=$(nproc)
LOG="$ROOT/build-logs"   # ctest and cmake output of the last run (ignored by git)
rm -rf "$LOG" && mkdir -p "$LOG"
START=$(date +%s)
step() { echo; echo "== $* ($(($(date +%s) - START))s)"; }

if [ "$INSTALL" = 1 ]; then
  step "installing what is missing"
  bash scripts/install-deps.sh
fi
[ -d "$ROOT/../shared" ] || echo "run-all: warning: ../shared is missing (tests that read it will fail)" >&2

# The S3 test gateway starts in the background while the builds run. Its own directory and
# free ports (tests/s3/ceph.sh), so another worktree's run at the same time has its own; it
# is stopped and removed when this script exits, however it exits.
S3_DIR=""
S3_PID=""
PG_DIR=""
# One exit trap for everything this script starts (a second `trap ... EXIT` would replace it).
cleanup() {
  if [ -n "$S3_PID" ]; then kill "$S3_PID" 2>/dev/null || true; wait "$S3_PID" 2>/dev/null || true; fi
  if [ -n "$S3_DIR" ]; then
    bash "$ROOT/tests/s3/ceph.sh" stop "$S3_DIR/c" >/dev/null 2>&1 || true
    rm -rf "$S3_DIR"
  fi
  [ -z "$PG_DIR" ] || bash "$ROOT/tests/pg.sh" stop "$PG_DIR" || true
}
if [ "$S3" = 1 ]; then
  S3_DIR=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-ceph.XXXXXX")
  trap cleanup EXIT
  ( for try in 1 2 3; do
      bash "$ROOT/tests/s3/ceph.sh" start "$S3_DIR/c" >"$S3_DIR/start.log" 2>&1 && exit 0
      bash "$ROOT/tests/s3/ceph.sh" stop "$S3_DIR/c" >/dev/null 2>&1 || true
      echo "run-all: the test gateway did not start (try $try)" >>"$S3_DIR/start.log"
    done; exit 1 ) &
  S3_PID=$!
fi

# The build type is set every time: build/ may have been configured by scripts/demo.sh
# (Release), whose -O3 warnings differ from the ones CI holds to.
step "build/ (warnings as errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVITRACK_SANITIZE=OFF -DEVITRACK_WERROR=ON >"$LOG/cmake-build.log" || { cat "$LOG/cmake-build.log"; exit 1; }
cmake --build build -j"$JOBS"

if [ "$ASAN" = 1 ]; then
  step "build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVITRACK_SANITIZE=ON -DEVITRACK_WERROR=ON >"$LOG/cmake-asan.log" \
    || { cat "$LOG/cmake-asan.log"; exit 1; }
  cmake --build build-asan -j"$JOBS"
fi

# run_ctest NAME DIR ARGS...: runs ctest, keeps its output, records passed/failed counts.
PASSED=0
FAILED=0
SUMMARY=()
run_ctest() {
  local name=$1 dir=$2; shift 2
  local rc=0 total failed
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$LOG/ctest-$name.log" || rc=$?
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\2/p' "$LOG/ctest-$name.log" | tail -n1)
  failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1/p' "$LOG/ctest-$name.log" | tail -n1)
  if [ -z "$total" ] || [ "$total" = 0 ]; then
    SUMMARY+=("$name: no tests ran (ctest exit $rc)")
    FAILED=$((FAILED + 1))
    return
  fi
  [ "$rc" = 0 ] || [ "$failed" != 0 ] || failed=1
  PASSED=$((PASSED + total - failed))
  FAILED=$((FAILED + failed))
  local which
  which=$(sed -n '/The following tests FAILED/,$ s/^[[:space:]]*[0-9]* - \(.*\)/\1/p' "$LOG/ctest-$name.log" | tr '\n' ' ')
  SUMMARY+=("$name: $((total - failed)) of $total tests passed${which:+; failed: $which}")
}

# A throw-away PostgreSQL 15 for the tests that run on both engines (tests/pg.sh: a free
# port, a mktemp directory, stopped at exit); without PostgreSQL those tests are skipped.
if pg_env=$(bash tests/pg.sh start); then
  eval "$pg_env"
  PG_DIR=$EVITRACK_PG_DIR
  export EVITRACK_TEST_DB
  echo "run-all: PostgreSQL for the tests at $EVITRACK_TEST_DB"
else
  echo "run-all: warning: no PostgreSQL 15: the *_postgresql tests are skipped" >&2
fi
trap cleanup EXIT

step "ctest in build/ (all tests)"
run_ctest build build -j"$JOBS"

if [ "$ASAN" = 1 ]; then
  step "ctest in build-asan/ (unit and http tests)"
  # LeakSanitizer is on: a leak in the server or a tool fails the test that ran it.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  run_ctest asan build-asan -j"$JOBS" -L 'unit|http'
fi

if [ "$S3" = 1 ]; then
  step "S3 store: waiting for the test gateway"
  s3_rc=0
  wait "$S3_PID" || s3_rc=$?
  S3_PID=""
  if [ "$s3_rc" = 0 ]; then
    tail -n1 "$S3_DIR/start.log"
    set -a; . "$S3_DIR/c/env"; set +a
    export EVITRACK_TEST_S3_DIR="$S3_DIR/c"
    # test_storage runs the seam's checks on a new, empty bucket each time
    new_bucket() {
      local b="evt-unit-$1-$$"
      bash tests/s3/ceph.sh bucket "$S3_DIR/c" "$b"
      export EVITRACK_TEST_S3_STORE="s3://$b?endpoint=$EVITRACK_S3_ENDPOINT&region=us-east-1"
    }
    new_bucket build
    # The store does not depend on the database engine: the http suite runs once (SQLite),
    # whole; the multi-server test needs PostgreSQL and runs after it.
    step "ctest in build/ again with --store s3://... (storage unit test, http and s3 tests)"
    run_ctest s3 build -j"$JOBS" -R 'unit_test_storage|^http_|^s3_' -E '_postgresql$'
    # several servers on one PostgreSQL database sharing one bucket (the set-up S3 is for)
    if [ -n "${EVITRACK_TEST_DB:-}" ]; then
      step "three servers sharing one bucket and one PostgreSQL database, one killed (S3)"
      run_ctest s3-pg build -R '^http_multiserver_postgresql$'
    fi
    if [ "$ASAN" = 1 ]; then
      step "the storage unit test on S3 in build-asan/"
      new_bucket asan
      run_ctest s3-asan build-asan -R unit_test_storage
    fi
  else
    cat "$S3_DIR/start.log" >&2 || true
    echo "run-all: FAILED: the S3 test gateway (Ceph RADOS Gateway) did not start; the S3 pass did not run" >&2
    SUMMARY+=("s3: FAILED: the test gateway did not start (log above; --no-s3 skips the S3 pass on purpose)")
    FAILED=$((FAILED + 1))
  fi
fi

step "summary"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
echo "  took $(($(date +%s) - START))s; logs in $LOG"
echo "run-all: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
