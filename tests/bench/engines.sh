#!/usr/bin/env bash
# tests/bench/engines.sh: the benchmarks on both engines in one run, printed side by side, each
# figure as a ratio to the baseline its benchmark measures in the same run (issue 19):
#   bench_audit  write tx/s at 1, 8 and 64 writers: plain rows (the baseline), the one-lock audit
#                chain of before the chainer, and audit_record as it is now; chains verified;
#   bench_centre the dashboard, matrix and progress pages: CPU per call against the 30-row
#                baseline in process, and requests/s under wrk against the bare libmicrohttpd
#                server (bench_bare_hello);
#   upload.sh    a large upload against `dd conv=fsync` of the same file;
#   export.sh    a portfolio export against `cat` of its files, and other users' p99 during
#                cohort exports against alone.
#
#   tests/bench/engines.sh [--build DIR] [--full] [--durable] [--only audit,centre,upload,export]
#
#   --full     the issues' sizes (10,000 learners, 1 GB upload, the export bench's --full, 3 s
#              audit runs); default: quick sizes (2,000 learners, 2 s wrk runs, 64 MB upload,
#              1 s audit runs)
#   --durable  start a PostgreSQL of its own with fsync and synchronous_commit on (the tests'
#              cluster runs with them off), so the audit figures include the commit's flush
#   --only     run only the named benchmarks
#   --learners N  bench_centre's centre size (seeding 10,000 learners into PostgreSQL takes
#              minutes on a small machine)
# PostgreSQL: the server $EVITRACK_TEST_DB names (tests/run-all.sh sets it; each benchmark gets
# a fresh database on it), else one started here with tests/pg.sh and stopped at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
FULL=0
DURABLE=0
ONLY=audit,centre,upload,export
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --full) FULL=1; shift ;;
    --durable) DURABLE=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --learners) LEARNERS_SET=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "engines.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BUILD=$(cd "$BUILD" && pwd)
export EVITRACK_BIN=${EVITRACK_BIN:-$BUILD/evitrack}
for b in "$EVITRACK_BIN" "$BUILD/tests/bench/bench_audit" "$BUILD/tests/bench/bench_centre"; do
  [ -x "$b" ] || { echo "engines.sh: $b is not built (cmake --build $BUILD)" >&2; exit 1; }
done
command -v psql >/dev/null || { echo "engines.sh: psql not found (apt-get install postgresql-15)" >&2; exit 1; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-engines-bench.XXXXXX")
OWN_PG=
cleanup() {
  [ -n "$OWN_PG" ] && bash "$ROOT/tests/pg.sh" stop "$OWN_PG" >/dev/null 2>&1
  rm -rf "$OUT"
}
trap cleanup EXIT
if [ "$DURABLE" = 1 ] || [ -z "${EVITRACK_TEST_DB:-}" ]; then
  eval "$(EVITRACK_PG_DURABLE=$DURABLE bash "$ROOT/tests/pg.sh" start)"
  OWN_PG=$EVITRACK_PG_DIR
fi
export EVITRACK_TEST_DB
fresh_pg() { # prints the URL of a new empty database on the server
  local name="bench_$$_$RANDOM$RANDOM"
  psql -X -q -d "$EVITRACK_TEST_DB" -c "CREATE DATABASE $name" >/dev/null
  echo "${EVITRACK_TEST_DB%/*}/$name"
}
echo "# evitrack benchmarks on SQLite and PostgreSQL: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "PostgreSQL fsync $(psql -X -At -d "$EVITRACK_TEST_DB" -c 'SHOW fsync'), synchronous_commit" \
  "$(psql -X -At -d "$EVITRACK_TEST_DB" -c 'SHOW synchronous_commit')"

want() { [[ ",$ONLY," == *",$1,"* ]]; }
FAILED=()
run() { # NAME OUTFILE CMD...: runs a benchmark; a failure is reported and the others still run
  local name=$1 out=$2; shift 2
  if ! "$@" > "$out" 2>&1; then
    FAILED+=("$name")
    echo "engines.sh: $name failed; its last lines:" >&2
    tail -n 8 "$out" >&2
  fi
}
if [ "$FULL" = 1 ]; then
  AUDIT_S=3 LEARNERS=10000 WRK_S=5 UPLOAD=(--size-mb 1024 --rounds 3) EXPORT=(--full)
else
  AUDIT_S=1 LEARNERS=2000 WRK_S=2 UPLOAD=(--size-mb 64 --rounds 1) EXPORT=()
fi
LEARNERS=${LEARNERS_SET:-$LEARNERS}

if want audit; then
  echo "## bench_audit"
  run "bench_audit [sqlite]" "$OUT/audit.sqlite" "$BUILD/tests/bench/bench_audit" "$OUT/audit.db" 1,8,64 "$AUDIT_S"
  run "bench_audit [postgresql]" "$OUT/audit.postgresql" "$BUILD/tests/bench/bench_audit" "$(fresh_pg)" 1,8,64 "$AUDIT_S"
  grep '^bench_audit' "$OUT/audit.sqlite" "$OUT/audit.postgresql" | sed 's/^[^:]*://' 
fi
if want centre; then
  echo "## bench_centre ($LEARNERS learners)"
  run "bench_centre [sqlite]" "$OUT/centre.sqlite" "$BUILD/tests/bench/bench_centre" --learners "$LEARNERS" --duration "$WRK_S"
  run "bench_centre [postgresql]" "$OUT/centre.postgresql" "$BUILD/tests/bench/bench_centre" --learners "$LEARNERS" \
    --duration "$WRK_S" --db "$(fresh_pg)"
fi
if want upload; then
  echo "## upload.sh"
  run "upload [sqlite]" "$OUT/upload.sqlite" bash "$ROOT/tests/bench/upload.sh" --build "$BUILD" "${UPLOAD[@]}"
  run "upload [postgresql]" "$OUT/upload.postgresql" bash "$ROOT/tests/bench/upload.sh" --build "$BUILD" "${UPLOAD[@]}" \
    --db "$(fresh_pg)"
fi
if want export; then
  echo "## export.sh"
  run "export [sqlite]" "$OUT/export.sqlite" env EVITRACK_TEST_ENGINE=sqlite bash "$ROOT/tests/bench/export.sh" \
    --build "$BUILD" "${EXPORT[@]}"
  run "export [postgresql]" "$OUT/export.postgresql" env EVITRACK_TEST_ENGINE=postgresql \
    bash "$ROOT/tests/bench/export.sh" --build "$BUILD" "${EXPORT[@]}"
fi

# ---- side by side
python3 - "$OUT" <<'PY'
import os, re, sys
out = sys.argv[1]
def read(name):
    p = os.path.join(out, name)
    return open(p).read() if os.path.exists(p) else None

def table(title, head, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    for r in [head] + rows:
        print("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))))

a = {e: read(f"audit.{e}") for e in ("sqlite", "postgresql")}
if all(a.values()):
    pat = re.compile(r"(\d+) writers.*?plain\s+(\d+) tx/s.*?one lock\s+(\d+) tx/s, ratio ([\d.]+).*?chain (\w+) \| "
                     r"audit\s+(\d+) tx/s, ratio ([\d.]+).*?chain (\w+)")
    got = {e: {int(m[1]): m for m in pat.finditer(a[e])} for e in a}
    rows = []
    for w in sorted(got["sqlite"]):
        r = [w]
        for e in ("sqlite", "postgresql"):
            m = got[e].get(w)
            r += [m[2], f"{m[3]} ({m[4]}x)", f"{m[6]} ({m[7]}x)", "intact" if m[5] == m[8] == "intact" else "BROKEN"] if m else ["-"] * 4
        rows.append(r)
    table("audit: write tx/s, ratio to plain rows (before: one lock to COMMIT; after: audit_record)",
          ["writers", "sqlite plain", "sqlite before", "sqlite after", "chains", "pg plain", "pg before", "pg after", "chains"], rows)

c = {e: read(f"centre.{e}") for e in ("sqlite", "postgresql")}
if all(c.values()):
    def section(text, head):
        i = text.find(head)
        if i < 0:
            return ""
        body = text[text.index("\n", i) + 1:]
        return body.split("\n\n")[0]
    inproc = re.compile(r"^(\S.*?)\s{2,}([\d.]+)\s+(\S+)\s+(\S+)\s+([\d.]+|-)", re.M)
    wrk = re.compile(r"^(\S.*?)\s{2,}(\d+)\s+([\d.]+)\s+([\d.]+)\s+\d+\s+[\d.]+(?:\s+ratio ([\d.]+))?", re.M)
    g = {e: {m[1]: m for m in inproc.finditer(section(c[e], "# in process"))} for e in c}
    rows = [[k] + sum(([g[e][k][2], g[e][k][5]] if k in g[e] else ["-", "-"] for e in ("sqlite", "postgresql")), [])
            for k in g["sqlite"]]
    table("centre, in process: CPU us per call and ratio to the 30-row baseline",
          ["target", "sqlite us", "ratio", "pg us", "ratio"], rows)
    g = {e: {m[1]: m for m in wrk.finditer(section(c[e], "# wrk"))} for e in c}
    rows = [[k] + sum(([g[e][k][2], g[e][k][4], g[e][k][5] or "1.000"] if k in g[e] else ["-"] * 3
                       for e in ("sqlite", "postgresql")), []) for k in g["sqlite"]]
    table("centre, wrk -c64: requests/s, p99 ms, ratio to the bare server's requests/s",
          ["target", "sqlite rps", "p99", "ratio", "pg rps", "p99", "ratio"], rows)

u = {e: read(f"upload.{e}") for e in ("sqlite", "postgresql")}
if all(u.values()):
    pat = re.compile(r"upload of (\d+) MB \[\w+\]: (\d+) MB/s; dd conv=fsync: (\d+) MB/s; ratio ([\d.]+)x")
    mem = re.compile(r"peak RSS growth \[\w+\]: (-?\d+) MB")
    rows = []
    for e in ("sqlite", "postgresql"):
        m, r = pat.search(u[e]), mem.search(u[e])
        rows.append([e, m[1] if m else "-", m[2] if m else "-", m[3] if m else "-", m[4] if m else "-", r[1] if r else "-"])
    table("upload: MB/s against dd conv=fsync of the same file", ["engine", "MB", "upload", "dd", "ratio", "RSS growth MB"], rows)

x = {e: read(f"export.{e}") for e in ("sqlite", "postgresql")}
if all(x.values()):
    keys = ["ratio export / cat", "ratio export / downloads", "ratio during / alone"]
    rows = []
    for k in keys:
        r = [k]
        for e in ("sqlite", "postgresql"):
            m = re.search(re.escape(k) + r"\s+([\d.]+|nan)x", x[e])
            r.append(m[1] if m else "-")
        rows.append(r)
    m = {e: re.search(r"first body byte\s+([\d.]+) ms", x[e]) for e in x}
    rows.append(["first byte ms"] + [m[e][1] if m[e] else "-" for e in ("sqlite", "postgresql")])
    table("export: ratios to the same run's baselines", ["figure", "sqlite", "postgresql"], rows)
PY
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "engines.sh: failed: ${FAILED[*]}" >&2
  exit 1
fi
