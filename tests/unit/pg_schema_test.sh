#!/usr/bin/env bash
# tests/unit/pg_schema_test.sh: the PostgreSQL schema (schema/pg/) behaves as the SQLite one
# (schema/): it loads 001..006 into both engines, checks every table has the same columns
# with matching types, then runs tests/unit/pg_schema_steps.sql unit by unit on both (every
# trigger: the append-only refusals with their messages, the derived status, progress,
# queue, round, coverage and version counters) and compares the two transcripts line by
# line, and each with the lines a unit expects; then pgbench's concurrent writers must leave
# every derived row equal to a recount. PostgreSQL 15 runs in a throw-away cluster
# in a mktemp directory on a free 127.0.0.1 port, stopped on exit.
# Exit 0 pass, 1 fail, 77 skipped (PostgreSQL 15 or sqlite3 is not installed).
set -uo pipefail
SRC=${EVITRACK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STEPS=$SRC/tests/unit/pg_schema_steps.sql
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ ! -x "$PGBIN/postgres" ] || ! command -v psql >/dev/null; then
    echo "pg_schema_test: SKIP: PostgreSQL 15 is not installed ($PGBIN/postgres; apt install postgresql-15)"
    exit 77
fi
if ! command -v sqlite3 >/dev/null; then
    echo "pg_schema_test: SKIP: the sqlite3 command is not installed (apt install sqlite3)"
    exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-pgschema-XXXXXX")
PGDIR=$WORK/pg
AS=()   # postgres refuses to run as root: CI runs as root, so initdb and pg_ctl run as postgres
mkdir -p "$PGDIR"
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PGDIR"
    chmod 755 "$WORK"
    AS=(runuser -u postgres --)
fi
PGSTARTED=0
cleanup() {
    [ "$PGSTARTED" = 1 ] && "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

t0=$(date +%s%3N)
"${AS[@]}" "$PGBIN/initdb" --no-sync -D "$PGDIR/data" -U evitrack --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 ||
    { cat "$WORK/initdb.log"; echo "pg_schema_test: FAIL: initdb"; exit 1; }
# A port another test took between asking and binding makes the start fail: try again.
for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    if "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c fsync=off" start >/dev/null 2>&1; then
        PGSTARTED=1
        break
    fi
done
[ "$PGSTARTED" = 1 ] || { cat "$PGDIR/log"; echo "pg_schema_test: FAIL: PostgreSQL did not start"; exit 1; }
"${AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U evitrack evitrack || { echo "pg_schema_test: FAIL: createdb"; exit 1; }
echo "pg_schema_test: PostgreSQL on 127.0.0.1:$PORT ready in $(($(date +%s%3N) - t0)) ms"

export PGOPTIONS='-c client_min_messages=warning'   # no NOTICEs in the transcript
PSQL=(psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$PORT" -U evitrack -d evitrack)
DB=$WORK/sqlite.db
FAILS=0
fail() { echo "pg_schema_test: FAIL: $*"; FAILS=$((FAILS + 1)); }

# ---- load the schemas as db_migrate does, each migration in one transaction: on PostgreSQL
# schema/pg/NNN_name.sql where there is one (001..006 must have one), else schema/NNN_name.sql
# through db_pg_translate_ddl (DDL_TOOL, the unit test's --translate filter). Then the
# sample of every construct of the portable subset (pg_schema_portable.sql), both ways.
DDL_TOOL=${DDL_TOOL:-$SRC/build/tests/test_db_pg_ddl}
[ -x "$DDL_TOOL" ] || { echo "pg_schema_test: FAIL: no DDL translator at $DDL_TOOL (build test_db_pg_ddl)"; exit 1; }
load() { # FILE [portable]
    local f=$1 name twin
    name=$(basename "$f")
    { echo "PRAGMA foreign_keys=ON; BEGIN;"; cat "$f"; echo "COMMIT;"; } | sqlite3 -batch -bail "$DB" ||
        fail "SQLite could not load $name"
    twin=$SRC/schema/pg/$name
    if [ -f "$twin" ] && [ "${2:-}" != portable ]; then
        "${PSQL[@]}" -1 -f "$twin" || fail "PostgreSQL could not load schema/pg/$name"
    else
        case "$name" in 00[1-6]_*) fail "schema/pg/$name is missing (001..006 use SQLite-only DDL)" ;; esac
        "$DDL_TOOL" --translate <"$f" >"$WORK/translated.sql" || fail "db_pg_translate_ddl failed on $name"
        "${PSQL[@]}" -1 -f "$WORK/translated.sql" || fail "PostgreSQL could not load $name as db_pg_translate_ddl gives it:
$(cat "$WORK/translated.sql")"
    fi
}
for f in "$SRC"/schema/[0-9][0-9][0-9]_*.sql; do
    load "$f"
done
for f in "$SRC"/schema/pg/*; do
    [ -f "$SRC/schema/$(basename "$f")" ] || fail "schema/pg/$(basename "$f") has no schema/ migration of that name"
done
load "$SRC/tests/unit/pg_schema_portable.sql" portable
[ "$FAILS" = 0 ] || exit 1

# ---- the same tables and columns, INTEGER as bigint and TEXT as text (REAL as double)
sqlite3 -batch "$DB" "SELECT m.name || '|' || p.name || '|' || lower(p.type) FROM sqlite_master m,
    pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
    ORDER BY m.name, p.cid" |
    sed -e 's/|integer$/|bigint/' -e 's/|real$/|double precision/' >"$WORK/cols.sqlite"
"${PSQL[@]}" -c "SELECT table_name || '|' || column_name || '|' || data_type FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name <> 'centre_version_slots'
    ORDER BY table_name, ordinal_position" >"$WORK/cols.pg"
diff -u "$WORK/cols.sqlite" "$WORK/cols.pg" >"$WORK/cols.diff" ||
    fail "the tables or columns differ (- SQLite, + PostgreSQL):
$(cat "$WORK/cols.diff")"
echo "pg_schema_test: $(wc -l <"$WORK/cols.pg") columns in $(cut -d'|' -f1 "$WORK/cols.pg" | sort -u | wc -l) tables match"
lite_trig=$(sqlite3 -batch "$DB" "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
pg_trig=$("${PSQL[@]}" -c "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal
    AND tgname NOT IN ('audit_no_truncate', 'decisions_no_truncate') ORDER BY tgname COLLATE \"C\"")
[ "$lite_trig" = "$pg_trig" ] || fail "the triggers differ (- SQLite, + PostgreSQL):
$(diff <(echo "$lite_trig") <(echo "$pg_trig"))"
echo "pg_schema_test: $(echo "$pg_trig" | wc -l) triggers on both engines"

# ---- split the steps into units: blank-line separated blocks (comment-only blocks skipped)
mkdir -p "$WORK/units"
awk -v dir="$WORK/units" '
    function flush() { if (sql) { n++; f = sprintf("%s/%03d", dir, n); printf "%s", body > (f ".sql");
                                  printf "%s", meta > (f ".meta"); close(f ".sql"); close(f ".meta") }
                       body = ""; meta = ""; sql = 0 }
    /^[ \t]*$/ { flush(); next }
    /^-- (error|expect|pg-only)/ { meta = meta $0 "\n"; next }
    /^--/ { next }
    { body = body $0 "\n"; sql = 1 }
    END { flush() }' "$STEPS"

# normalize ENGINE UNITFILE RAWERR: an error as the transcript shows it
normalize_error() {
    local msg=$1 want=$2
    msg=$(printf '%s' "$msg" | sed -e 's/^Runtime error near line [0-9]*: //' -e 's/^Parse error near line [0-9]*: //' \
        -e 's/^Error: near line [0-9]*: //' -e 's/ ([0-9]*)$//' -e 's/^psql:[^:]*:[0-9]*: //' -e 's/^ERROR:  //' | head -n 1)
    local ok=0
    case "$want" in
        unique) [[ $msg == *"UNIQUE constraint failed"* || $msg == *"violates unique constraint"* ]] && ok=1 ;;
        check) [[ $msg == *"CHECK constraint failed"* || $msg == *"violates check constraint"* ]] && ok=1 ;;
        "foreign key") [[ $msg == *"FOREIGN KEY constraint failed"* || $msg == *"violates foreign key constraint"* ]] && ok=1 ;;
        "not null") [[ $msg == *"NOT NULL constraint failed"* || $msg == *"violates not-null constraint"* ]] && ok=1 ;;
        "") ok=0 ;;
        *) [[ $msg == *"$want"* ]] && ok=1 ;;
    esac
    if [ "$ok" = 1 ]; then echo "ERROR: $want"; else echo "UNEXPECTED ERROR: $msg"; fi
}

run_unit() { # ENGINE FILE -> transcript lines on stdout
    local engine=$1 f=$2 out err rc want
    want=$(sed -n 's/^-- error: //p' "${f%.sql}.meta")
    if [ "$engine" = sqlite ]; then
        out=$({ echo "PRAGMA foreign_keys=ON;"; cat "$f"; } | sqlite3 -batch -bail "$DB" 2>"$WORK/err")
        rc=$?
    else
        out=$("${PSQL[@]}" -f "$f" 2>"$WORK/err")
        rc=$?
    fi
    err=$(grep -m 1 'ERROR: \|error near line\|^Error' "$WORK/err")
    [ -n "$out" ] && printf '%s\n' "$out"
    if [ "$rc" != 0 ]; then
        normalize_error "${err:-exit $rc}" "$want"
    elif [ -n "$want" ]; then
        echo "NO ERROR (expected: $want)"
    fi
}

units=0
for f in "$WORK"/units/*.sql; do
    n=$(basename "$f" .sql)
    meta=${f%.sql}.meta
    pg=$(run_unit pg "$f")
    if grep -q '^-- pg-only' "$meta"; then
        lite=$pg
    else
        lite=$(run_unit sqlite "$f")
    fi
    units=$((units + 1))
    head=$(head -n 1 "$f")
    if [ "$lite" != "$pg" ]; then
        fail "unit $n ($head) differs (- SQLite, + PostgreSQL):
$(diff <(echo "$lite") <(echo "$pg"))"
    fi
    if grep -q '^UNEXPECTED\|^NO ERROR' <<<"$pg$lite"; then
        fail "unit $n ($head):
$(printf '%s\n' "$lite" "$pg" | grep '^UNEXPECTED\|^NO ERROR' | sort -u)"
    fi
    expect=$(sed -n 's/^-- expect: \{0,1\}//p' "$meta")
    if [ -n "$expect" ]; then
        got=$(grep -v '^ERROR: ' <<<"$pg")
        [ "$got" = "$expect" ] || fail "unit $n ($head) expected:
$expect
but PostgreSQL printed:
$got"
    fi
    { echo "== unit $n"; echo "$pg"; } >>"$WORK/transcript"
done
# ---- concurrent writers: the derived tables stay exact with many PostgreSQL sessions at once
# (SQLite's one-writer lock made them so; here the advisory locks and row locks must). pgbench
# runs 16 clients for a few seconds, each transaction submitting or returning evidence,
# moving a criterion's status, sampling a decision and recording one; deadlocks between
# them are retried as the application's data layer does. Then every derived row must equal
# a recount from the base tables.
PGBENCH=$PGBIN/pgbench
if [ ! -x "$PGBENCH" ]; then
    echo "pg_schema_test: concurrency check skipped: no pgbench at $PGBENCH"
else
    "${AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U evitrack concurrency || fail "createdb concurrency"
    PC=(psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$PORT" -U evitrack -d concurrency)
    for f in "$SRC"/schema/pg/[0-9][0-9][0-9]_*.sql; do
        "${PC[@]}" -1 -f "$f" || fail "concurrency: PostgreSQL could not load schema/pg/$(basename "$f")"
    done
    "${PC[@]}" -1 <<'SQL' || fail "concurrency: seeding failed"
INSERT INTO users (email, name, role, password_hash) SELECT 'l' || g || '@x', 'L' || g, 'learner', 'x' FROM generate_series(1, 4) g;
INSERT INTO users (email, name, role, password_hash) VALUES ('a@x', 'A', 'assessor', 'x'), ('b@x', 'B', 'assessor', 'x'), ('i@x', 'I', 'iqa', 'x');
INSERT INTO qualifications (code, title) VALUES ('Q1', 'Q1'), ('Q2', 'Q2');
INSERT INTO units (qualification_id, ref, title) VALUES (1, 'U1', 'U1'), (1, 'U2', 'U2'), (2, 'U3', 'U3');
INSERT INTO outcomes (unit_id, number, text) VALUES (1, 1, 'o'), (2, 1, 'o'), (3, 1, 'o');
INSERT INTO criteria (unit_id, outcome_id, ref, text) SELECT 1 + g % 3, 1 + g % 3, 'c' || g, 't' FROM generate_series(1, 12) g;
INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date)
    SELECT l, q, 5, 7, '2026-01-01', '2027-01-01' FROM generate_series(1, 4) l, generate_series(1, 2) q;
INSERT INTO criterion_status (learner_id, criterion_id, unit_id) SELECT l, c.id, c.unit_id FROM generate_series(1, 4) l, criteria c;
INSERT INTO evidence (learner_id, title, kind) SELECT 1 + g % 4, 'e' || g, 'product' FROM generate_series(1, 40) g;
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id)
    SELECT e.id, c.id, e.learner_id FROM evidence e JOIN criteria c ON c.id % 4 = e.id % 4;
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at)
    SELECT 1 + g % 4, 1 + g % 12, 5 + g % 2, 'met', '2026-01-01T00:00:00Z' FROM generate_series(1, 30) g;
SQL
    cat >"$WORK/bench.sql" <<'SQL'
\set e random(1, 40)
\set d random(1, 30)
\set l random(1, 4)
\set c random(1, 12)
\set s random(0, 4)
BEGIN;
UPDATE evidence SET status = CASE WHEN status = 'submitted' THEN 'returned' ELSE 'submitted' END,
    submitted_at = '2026-02-0' || (1 + :e % 9) || 'T00:00:00Z' WHERE id = :e;
UPDATE criterion_status SET status = (ARRAY['not_started', 'mapped', 'submitted', 'met', 'not_met'])[:s + 1]
    WHERE learner_id = :l AND criterion_id = :c;
INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (:d, 7, 'agree', '2026-03-01T00:00:00Z');
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at)
    VALUES (:l, :c, 5 + :d % 2, 'not_met', '2026-03-01T00:00:00Z');
COMMIT;
SQL
    bench_out=$("$PGBENCH" -n -h 127.0.0.1 -p "$PORT" -U evitrack -c 16 -j 4 -T 5 --max-tries=50 -f "$WORK/bench.sql" concurrency 2>&1)
    bench_rc=$?
    echo "pg_schema_test: concurrency: $(grep -E '^(number of transactions actually processed|number of failed|number of transactions retried|tps)' <<<"$bench_out" | tr '\n' ';')"
    [ "$bench_rc" = 0 ] || fail "concurrency: pgbench failed (exit $bench_rc):
$bench_out"
    grep -q '^number of failed transactions: [1-9]' <<<"$bench_out" && fail "concurrency: transactions failed:
$bench_out"
    drift=$("${PC[@]}" <<'SQL'
CREATE TEMP VIEW q AS SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id) AS awaiting, min(e.submitted_at) AS oldest
    FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id JOIN criteria c ON c.id = ec.criterion_id
    JOIN units u ON u.id = c.unit_id WHERE e.status = 'submitted' GROUP BY e.learner_id, u.qualification_id;
SELECT 'learner_queue', * FROM ((SELECT learner_id, qualification_id, awaiting, oldest_submitted_at FROM learner_queue EXCEPT SELECT * FROM q)
    UNION ALL (SELECT * FROM q EXCEPT SELECT learner_id, qualification_id, awaiting, oldest_submitted_at FROM learner_queue)) x;
SELECT 'unit_progress', p.* FROM unit_progress p WHERE (p.total, p.mapped, p.submitted, p.met, p.not_met) <>
    (SELECT count(*), count(*) FILTER (WHERE status = 'mapped'), count(*) FILTER (WHERE status = 'submitted'),
            count(*) FILTER (WHERE status = 'met'), count(*) FILTER (WHERE status = 'not_met')
     FROM criterion_status cs WHERE cs.learner_id = p.learner_id AND cs.unit_id = p.unit_id);
SELECT 'enrolment_progress', p.* FROM enrolment_progress p
    WHERE (p.total, p.mapped, p.submitted, p.met, p.not_met) <>
          (SELECT count(*), count(*) FILTER (WHERE status = 'mapped'), count(*) FILTER (WHERE status = 'submitted'),
                  count(*) FILTER (WHERE status = 'met'), count(*) FILTER (WHERE status = 'not_met')
           FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
           WHERE cs.learner_id = p.learner_id AND u.qualification_id = p.qualification_id)
       OR p.decisions <> (SELECT count(*) FROM decisions d JOIN criteria c ON c.id = d.criterion_id
                          JOIN units u ON u.id = c.unit_id WHERE d.learner_id = p.learner_id AND u.qualification_id = p.qualification_id)
       OR p.sampled <> (SELECT count(DISTINCT s.decision_id) FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id
                        JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id
                        WHERE d.learner_id = p.learner_id AND u.qualification_id = p.qualification_id);
SELECT 'decision_coverage', v.* FROM decision_coverage v
    WHERE (v.decisions, v.sampled) <>
          (SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id))
           FROM decisions d JOIN criteria c ON c.id = d.criterion_id
           WHERE d.learner_id = v.learner_id AND c.unit_id = v.unit_id AND d.assessor_id = v.assessor_id);
SELECT 'evidence_rounds', e.id FROM evidence e WHERE e.status = 'submitted'
    AND NOT EXISTS (SELECT 1 FROM evidence_rounds r WHERE r.evidence_id = e.id);
SQL
) || fail "concurrency: the recount query failed"
    [ -z "$drift" ] || fail "concurrency: derived rows differ from a recount:
$drift"
    counts=$("${PC[@]}" -c "SELECT (SELECT count(*) FROM decisions) || ' decisions, ' || (SELECT count(*) FROM iqa_samples)
        || ' samples, centre_version ' || (SELECT version FROM centre_version)")
    echo "pg_schema_test: concurrency: derived tables equal their recount ($counts)"
fi

[ -n "${PG_SCHEMA_TRANSCRIPT:-}" ] && cp "$WORK/transcript" "$PG_SCHEMA_TRANSCRIPT"
if [ "$FAILS" != 0 ]; then
    echo "pg_schema_test: $FAILS failure(s) in $units units"
    exit 1
fi
echo "pg_schema_test: $units units gave the same results on SQLite and PostgreSQL"
