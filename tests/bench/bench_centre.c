/* bench_centre.c: seeds a centre of 10,000 learners x 120 criteria (or --learners N, e.g.
 * 100000) with evidence and decisions in a temporary database, then times (1) in process,
 * CPU per call: the centre dashboard (query + render, afresh and from its snapshot), one
 * learner's matrix page and progress API, and every list page (centre learners, caseload,
 * queue, enrolments, users, learners, IQA), against a bare-query baseline measured in the
 * same run; (2) with wrk at 64 connections against `evitrack serve` on that database: the
 * maximum requests/s, against the bare libmicrohttpd server (bench_bare_hello) in the same
 * run; (3) with hey, open loop at half that maximum: p50/p99 beside the bare server's at the
 * same offered rate, and the server's RSS.
 *
 *   bench_centre [--learners N] [--duration S] [--keep DIR [--reuse]] [--no-wrk] [--db postgres://...]
 *
 * --db seeds and measures an empty PostgreSQL database instead of a temporary SQLite file
 * (tests/bench/engines.sh runs both and prints them side by side). --keep DIR keeps the
 * database; with --reuse a kept database of the same size is measured again without
 * seeding (100,000 learners take about 6 minutes to seed on SQLite). BENCH_LISTS=part
 * times only the list pages whose label holds part ("!part": all but those).
 *
 * Every learner is also an apprentice with off-the-job hours (issue 16), so the dashboard's
 * figure includes the hours. Every figure is printed with the load average: the machine is
 * shared, so only ratios within one run mean much.
 *
 * Then (4) the matrix page through HTTP (its own section, issue 22): server CPU per request
 * built afresh (plain, gzip, JSON: a query argument per request so no tag repeats), the
 * gzip'd copy kept by ETag, and the 304 of a repeat view, against the bare server.
 *
 * Budgets (DESIGN.md, issue 22): dashboard and every list page <= 15 ms CPU, matrix page
 * <= 150 us CPU in process and <= 130 us server CPU per request through HTTP, p99 < 10 ms
 * at half the maximum throughput. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "caseload.h"
#include "centre.h"
#include "db.h"
#include "http.h"
#include "iqa.h"
#include "iqaplan.h"
#include "policy.h"
#include "progress.h"
#include "reviews.h"
#include "router.h"
#include "tmpl.h"
#include "users.h"

#define NQUALS 4
#define NUNITS 10
#define NOUTCOMES 3
#define NCRIT_PER_OUTCOME 4
#define NCRIT (NUNITS * NOUTCOMES * NCRIT_PER_OUTCOME) /* 120 */
#define NASSESSORS 50
/* A session token of the form session.c accepts (64 hex digits). */
#define BENCH_TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NIQAS 10

static db_t *db;
static int64_t crit_ids[NQUALS][NCRIT];
static int64_t crit_unit[NQUALS][NCRIT];
static int64_t quals[NQUALS];

static uint64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_centre: %s: %s\n", what, db_errmsg(db));
    exit(1);
}

/* Steps a bound statement to completion; returns the first column of its
 * first row (the new row's id from RETURNING id), else 0. */
static int64_t step(db_stmt_t *st)
{
    int64_t first = 0;
    int rc = st ? db_next(st) : -1;
    if (rc == 1) {
        first = db_col_int(st, 0);
        rc = db_next(st);
    }
    if (rc != 0)
        die("insert");
    db_stmt_done(st);
    return first;
}

static int64_t ins(const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    return step(st);
}

static void day_iso(int64_t day, char out[11])
{
    progress_day_iso(day, out);
}

/* The machine's 1, 5 and 15-minute load averages, printed next to every figure. */
static const char *loadavg(void)
{
    static char la[64];
    FILE *f = fopen("/proc/loadavg", "r");
    la[0] = '\0';
    if (f) {
        double a = 0, b = 0, c = 0;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
            snprintf(la, sizeof la, "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
    return la;
}

/* ---- bulk seeding ----
 * Rows are collected per table with ids chosen here (the tables are empty), then sent
 * as multi-row INSERTs of up to BULK_ROWS rows through one reused prepared statement
 * per table, the tables in the order their references need, every SEED_CHUNK learners;
 * a transaction holds SEED_TXN learners. The triggers that keep the summaries fire row
 * by row as they do for the application's writes. */
#define BULK_ROWS 100
#define SEED_CHUNK 25
#define SEED_TXN 2000

typedef struct bval {
    char kind; /* 'i' integer, 't' text, 'n' NULL */
    int64_t i;
    char *t;
} bval_t;

typedef struct bulk {
    const char *head; /* "INSERT INTO t (a, b)" */
    int ncols, n, cap;
    bval_t *v;         /* n rows of ncols values */
    db_stmt_t *full;   /* the statement of BULK_ROWS rows, prepared once */
    int64_t next_id;   /* the next id to hand out (tables with an id column) */
    int64_t rows;      /* rows sent so far */
} bulk_t;

static void bulk_init(bulk_t *b, const char *table, const char *head, int ncols)
{
    memset(b, 0, sizeof *b);
    b->head = head;
    b->ncols = ncols;
    if (table) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) + 1 FROM %s", table);
        db_stmt_t *st = db_prepare_dynamic(db, sql);
        if (!st || db_next(st) != 1)
            die(sql);
        b->next_id = db_col_int(st, 0);
        db_stmt_free(st);
    }
}

/* Adds one row; fmt has one letter per column: i int64_t, z int64_t NULL when 0,
 * t text (NULL binds NULL). */
static void bulk_add(bulk_t *b, const char *fmt, ...)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = xrealloc(b->v, (size_t)b->cap * (size_t)b->ncols * sizeof *b->v);
    }
    bval_t *row = &b->v[(size_t)b->n * (size_t)b->ncols];
    va_list ap;
    va_start(ap, fmt);
    for (int c = 0; c < b->ncols; c++) {
        bval_t *x = &row[c];
        x->t = NULL;
        if (fmt[c] == 'i' || fmt[c] == 'z') {
            x->i = va_arg(ap, int64_t);
            x->kind = fmt[c] == 'z' && !x->i ? 'n' : 'i';
        } else {
            const char *s = va_arg(ap, const char *);
            x->kind = s ? 't' : 'n';
            x->t = s ? xstrdup(s) : NULL;
        }
    }
    va_end(ap);
    b->n++;
}

static db_stmt_t *bulk_prepare(const bulk_t *b, int rows)
{
    buf_t sql = {0};
    buf_printf(&sql, "%s VALUES ", b->head);
    for (int r = 0; r < rows; r++) {
        buf_puts(&sql, r ? ", (" : "(");
        for (int c = 0; c < b->ncols; c++)
            buf_puts(&sql, c ? ", ?" : "?");
        buf_putc(&sql, ')');
    }
    db_stmt_t *st = db_prepare_dynamic(db, sql.data);
    if (!st)
        die(b->head);
    buf_free(&sql);
    return st;
}

/* Sends every collected row: full statements of BULK_ROWS rows, then one of the rest. */
static void bulk_flush(bulk_t *b)
{
    for (int r0 = 0; r0 < b->n; r0 += BULK_ROWS) {
        int rows = b->n - r0 < BULK_ROWS ? b->n - r0 : BULK_ROWS;
        db_stmt_t *st = rows == BULK_ROWS ? (b->full ? b->full : (b->full = bulk_prepare(b, BULK_ROWS)))
                                          : bulk_prepare(b, rows);
        int idx = 1;
        for (int r = r0; r < r0 + rows; r++)
            for (int c = 0; c < b->ncols; c++, idx++) {
                const bval_t *x = &b->v[(size_t)r * (size_t)b->ncols + (size_t)c];
                int rc = x->kind == 'i' ? db_bind_int(st, idx, x->i)
                         : x->kind == 't' ? db_bind_text(st, idx, x->t) : db_bind_null(st, idx);
                if (rc != EV_OK)
                    die("bind");
            }
        int rc;
        while ((rc = db_next(st)) == 1)
            ;
        if (rc != 0)
            die(b->head);
        db_stmt_done(st);
        if (st != b->full)
            db_stmt_free(st);
    }
    for (size_t k = 0; k < (size_t)b->n * (size_t)b->ncols; k++)
        free(b->v[k].t);
    b->rows += b->n;
    b->n = 0;
}

static void bulk_free(bulk_t *b)
{
    db_stmt_free(b->full);
    free(b->v);
}

enum { T_USERS, T_ENROL, T_APP, T_OTJ, T_EV, T_EC, T_DEC, T_DE, T_CS, T_IQA, T_COUNT };

/* The PostgreSQL triggers that bump centre_version are deferred to commit and bump one
 * counter row once per changed row: hundreds of thousands of updates of one row in one
 * transaction, each walking the row's versions so far, is what made seeding 2,000
 * learners take more than 30 minutes. They are off while seeding (the counter is bumped
 * once after); the summary triggers stay on. */
static void pg_version_triggers(int on)
{
    static const char *const sql[2] = {
        "ALTER TABLE enrolment_progress DISABLE TRIGGER centre_version_ep_ins;"
        " ALTER TABLE enrolment_progress DISABLE TRIGGER centre_version_ep_upd;"
        " ALTER TABLE learner_queue DISABLE TRIGGER centre_version_lq_ins;"
        " ALTER TABLE learner_queue DISABLE TRIGGER centre_version_lq_upd;"
        " ALTER TABLE learner_queue DISABLE TRIGGER centre_version_lq_del;",
        "ALTER TABLE enrolment_progress ENABLE TRIGGER centre_version_ep_ins;"
        " ALTER TABLE enrolment_progress ENABLE TRIGGER centre_version_ep_upd;"
        " ALTER TABLE learner_queue ENABLE TRIGGER centre_version_lq_ins;"
        " ALTER TABLE learner_queue ENABLE TRIGGER centre_version_lq_upd;"
        " ALTER TABLE learner_queue ENABLE TRIGGER centre_version_lq_del;"
        " UPDATE centre_version_slots SET version = version + 1 WHERE slot = 0;"};
    if (db_is_pg(db) && db_exec(db, sql[on]) != EV_OK)
        die("centre_version triggers");
}

static void seed(int nlearners, int64_t today, int64_t *admin_id, int64_t *sample_learner)
{
    uint64_t t0 = util_now_us();
    if (!db_is_pg(db) && db_exec(db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -524288") != EV_OK)
        die("pragma");
    pg_version_triggers(0);
    if (db_exec(db, "BEGIN") != EV_OK)
        die("begin");
    *admin_id = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('admin@bench.test', 'Admin', 'admin', 'x') RETURNING id", "");
    int64_t assessors[NASSESSORS], iqas[NIQAS];
    char email[64], name[64];
    for (int i = 0; i < NASSESSORS; i++) {
        snprintf(email, sizeof email, "assessor%d@bench.test", i);
        snprintf(name, sizeof name, "Assessor %02d", i);
        assessors[i] = ins("INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, 'assessor', 'x') RETURNING id", "tt", email, name);
    }
    for (int i = 0; i < NIQAS; i++) {
        snprintf(email, sizeof email, "iqa%d@bench.test", i);
        snprintf(name, sizeof name, "IQA %02d", i);
        iqas[i] = ins("INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, 'iqa', 'x') RETURNING id", "tt", email, name);
    }
    for (int q = 0; q < NQUALS; q++) {
        char code[32], title[96];
        snprintf(code, sizeof code, "BENCH-%d", q + 1);
        snprintf(title, sizeof title, "Level %d Diploma in Benchmarking (RQF)", q + 2);
        quals[q] = ins("INSERT INTO qualifications (code, title, awarding_body, level) VALUES (?, ?, 'Bench Awards', '3') RETURNING id",
                       "tt", code, title);
        int k = 0;
        for (int u = 0; u < NUNITS; u++) {
            char ref[16], utitle[96];
            snprintf(ref, sizeof ref, "%d", 200 + u);
            snprintf(utitle, sizeof utitle, "Working practice in area %d of the sector", u + 1);
            int64_t uid = ins("INSERT INTO units (qualification_id, ref, title, position) VALUES (?, ?, ?, ?) RETURNING id",
                              "ittI", quals[q], ref, utitle, u);
            for (int o = 0; o < NOUTCOMES; o++) {
                char otext[128];
                snprintf(otext, sizeof otext, "Understand how to carry out task %d of unit %d safely and well", o + 1, u + 1);
                int64_t oid = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, ?, ?) RETURNING id", "iIt", uid, o + 1, otext);
                for (int c = 0; c < NCRIT_PER_OUTCOME; c++) {
                    char cref[16], ctext[160];
                    snprintf(cref, sizeof cref, "%d.%d", o + 1, c + 1);
                    snprintf(ctext, sizeof ctext, "Describe how to plan, carry out and review activity %d, "
                             "and explain why each step matters to customers", c + 1);
                    crit_unit[q][k] = uid;
                    crit_ids[q][k++] = ins("INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, ?, ?) RETURNING id",
                                           "iittI", uid, oid, cref, ctext, c);
                }
            }
        }
    }
    int64_t employers[100];
    for (int e = 0; e < 100; e++) {
        char ename[64];
        snprintf(ename, sizeof ename, "Bench Employer %03d Ltd", e);
        employers[e] = ins("INSERT INTO employers (name, created_at) VALUES (?, '2026-01-01T00:00:00Z') RETURNING id", "t",
                           ename);
    }
    bulk_t t[T_COUNT];
    bulk_init(&t[T_USERS], "users", "INSERT INTO users (id, email, name, role, password_hash)", 5);
    bulk_init(&t[T_ENROL], "enrolments", "INSERT INTO enrolments (id, learner_id, qualification_id, assessor_id, iqa_id,"
              " start_date, planned_end_date)", 7);
    /* Every learner is also an apprentice (issue 16): the dashboard reads each one's
     * off-the-job hours and breaks too. 100 employers; an entry per learner behind the
     * running total; every 25th with an ended break, every 50th on a break. */
    bulk_init(&t[T_APP], "apprenticeships", "INSERT INTO apprenticeships (id, enrolment_id, learner_id, employer_id,"
              " weekly_minutes, planned_otj_minutes, recorded_minutes, verified_minutes, break_days, break_open_since,"
              " created_at)", 11);
    bulk_init(&t[T_OTJ], NULL, "INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity,"
              " description, recorded_by, recorded_at, status)", 9);
    bulk_init(&t[T_EV], "evidence", "INSERT INTO evidence (id, learner_id, title, kind, description, occurred_on, status,"
              " submitted_at)", 8);
    bulk_init(&t[T_EC], NULL, "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note)", 4);
    bulk_init(&t[T_DEC], "decisions", "INSERT INTO decisions (id, learner_id, criterion_id, assessor_id, outcome, feedback,"
              " declaration, created_at)", 8);
    bulk_init(&t[T_DE], NULL, "INSERT INTO decision_evidence (decision_id, evidence_id)", 2);
    bulk_init(&t[T_CS], NULL, "INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status, decision_id)", 5);
    bulk_init(&t[T_IQA], NULL, "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at)", 5);
    static const char *const kinds[] = {"observation", "product", "witness_testimony", "reflective_account",
                                        "professional_discussion", "question_and_answer"};
    int64_t nev = 0, ndec = 0, nsamples = 0;
    char open[11];
    day_iso(today - 3, open);
    for (int i = 0; i < nlearners; i++) {
        snprintf(email, sizeof email, "learner%d@bench.test", i);
        snprintf(name, sizeof name, "Learner %05d", i);
        int64_t lid = t[T_USERS].next_id++;
        bulk_add(&t[T_USERS], "itttt", lid, email, name, "learner", "x");
        int q = i % NQUALS;
        int64_t ass = assessors[i % NASSESSORS], iqa = iqas[i % NIQAS];
        char sd[11], ed[11], when[21];
        int64_t start = today - (i * 7) % 500;
        day_iso(start, sd);
        day_iso(start + 365, ed);
        int64_t enr = t[T_ENROL].next_id++;
        bulk_add(&t[T_ENROL], "iiiiitt", enr, lid, quals[q], ass, iqa, sd, ed);
        {
            int64_t planned = 279 * 60, rec = (int64_t)((i * 53) % 300) * 60, brk = i % 25 == 0 ? 14 : 0;
            int64_t app = t[T_APP].next_id++;
            bulk_add(&t[T_APP], "iiiiiiiiitt", app, enr, lid, employers[i % 100], (int64_t)1800, planned, rec, rec, brk,
                     i % 50 == 1 ? open : NULL, "2026-01-01T00:00:00Z");
            char on[11], at[32];
            day_iso(start + 1, on);
            snprintf(at, sizeof at, "%sT17:00:00Z", on);
            if (rec > 0)
                bulk_add(&t[T_OTJ], "iitittitt", app, lid, on, rec < 1440 ? rec : (int64_t)1440, "practical",
                         "Training at work", lid, at, "verified");
        }
        /* a spread of stages: met 0..120, then submitted, not yet met, mapped */
        int met = (i * 37) % (NCRIT + 1);
        int sub = NCRIT - met < 6 ? NCRIT - met : 6;
        int nm = NCRIT - met - sub < 2 ? NCRIT - met - sub : 2;
        int mp = NCRIT - met - sub - nm < 5 ? NCRIT - met - sub - nm : 5;
        int64_t dec_of[NCRIT] = {0};
        const char *st_of[NCRIT];
        for (int k = 0; k < NCRIT; k++)
            st_of[k] = "not_started";
        /* evidence pieces of up to 4 consecutive criteria, per stage */
        int k = 0;
        struct { int n; const char *ev_status, *cs_status, *outcome; } stages[] = {
            {met, "assessed", "met", "met"}, {sub, "submitted", "submitted", NULL},
            {nm, "returned", "not_met", "not_met"}, {mp, "draft", "mapped", NULL}};
        for (size_t s = 0; s < sizeof stages / sizeof *stages; s++) {
            int end = k + stages[s].n;
            while (k < end) {
                int span = end - k < 4 ? end - k : 4;
                char title[64];
                snprintf(title, sizeof title, "Evidence %lld", (long long)(nev + 1));
                day_iso(start + 10 + k, when);
                char sat[32];
                snprintf(sat, sizeof sat, "%sT09:00:00Z", when);
                int is_sub = strcmp(stages[s].ev_status, "draft") != 0;
                int64_t ev = t[T_EV].next_id++;
                bulk_add(&t[T_EV], "iitttttt", ev, lid, title, kinds[nev % 6], "Evidence gathered at work", when,
                         stages[s].ev_status, is_sub ? sat : NULL);
                nev++;
                for (int j = k; j < k + span; j++) {
                    bulk_add(&t[T_EC], "iiit", ev, crit_ids[q][j], lid, "Shows this");
                    st_of[j] = stages[s].cs_status;
                    if (stages[s].outcome) {
                        int64_t d = t[T_DEC].next_id++;
                        bulk_add(&t[T_DEC], "iiiittit", d, lid, crit_ids[q][j], ass, stages[s].outcome, "Feedback",
                                 (int64_t)1, sat);
                        bulk_add(&t[T_DE], "ii", d, ev);
                        dec_of[j] = d;
                        ndec++;
                        if (ndec % 40 == 0) {
                            bulk_add(&t[T_IQA], "iittt", d, iqa, "agree", "Agreed", sat);
                            nsamples++;
                        }
                    }
                }
                k += span;
            }
        }
        for (int j = 0; j < NCRIT; j++)
            bulk_add(&t[T_CS], "iiitz", lid, crit_ids[q][j], crit_unit[q][j], st_of[j], dec_of[j]);
        if (i > nlearners / 2 && *sample_learner == 0 && met >= 55 && met <= 70)
            *sample_learner = lid;
        if ((i + 1) % SEED_CHUNK == 0 || i + 1 == nlearners)
            for (int b = 0; b < T_COUNT; b++)
                bulk_flush(&t[b]);
        if ((i + 1) % SEED_TXN == 0 && i + 1 < nlearners) {
            if (db_exec(db, "COMMIT") != EV_OK || db_exec(db, "BEGIN") != EV_OK)
                die("commit");
            fprintf(stderr, "# seeded %d learners (%.1f s)\n", i + 1, (double)(util_now_us() - t0) / 1e6);
        }
    }
    int64_t rows = 0;
    for (int b = 0; b < T_COUNT; b++) {
        rows += t[b].rows;
        bulk_free(&t[b]);
    }
    if (db_exec(db, "COMMIT") != EV_OK)
        die("commit");
    /* the IQA page's coverage summaries, which the application keeps in C as it writes
     * (iqa.h): filled once from the rows inserted directly (part of the seeding time) */
    if (db_begin(db) != EV_OK || iqa_coverage_rebuild(db) != EV_OK || db_commit(db) != EV_OK)
        die("iqa coverage");
    pg_version_triggers(1);
    if (db_is_pg(db) && db_int(db, "SELECT evitrack_sync_identities()", -1, "") < 0)
        die("identities");
    if (!db_is_pg(db) && db_exec(db, "PRAGMA synchronous = FULL") != EV_OK)
        die("pragma");
    double secs = (double)(util_now_us() - t0) / 1e6;
    /* PostgreSQL's autovacuum gathers statistics by itself; evitrack never runs ANALYZE
     * on SQLite, whose planner then goes by its rules (an equality on an index first).
     * The bench keeps to what production has: ANALYZE there would record, e.g., that
     * evidence.author_id is NULL on every row (SQLite's statistics count NULLs as one
     * value) and send an assessor's "records to write up" through every learner. */
    if (db_is_pg(db) && db_exec(db, "ANALYZE") != EV_OK)
        die("analyze");
    printf("seeded %d learners x %d criteria: %lld evidence, %lld decisions, %lld IQA samples, %lld rows"
           " in %.1f s (%.0f rows/s, %.2f ms per learner; ANALYZE %.1f s) [%s, load average %s]\n",
           nlearners, NCRIT, (long long)nev, (long long)ndec, (long long)nsamples, (long long)rows, secs,
           (double)rows / secs, secs * 1000 / nlearners, (double)(util_now_us() - t0) / 1e6 - secs, db_engine(db),
           loadavg());
}

/* --reuse with --keep: a database seeded by an earlier run of the same size is used as
 * it is (the seed is deterministic; the sample learner is found by the same rule).
 * 1 when it was, else 0 (the caller seeds). */
static int reuse_seeded(int nlearners, int64_t *admin_id, int64_t *sample_learner)
{
    if (!db_table_exists(db, "users") ||
        db_int(db, "SELECT count(*) FROM users WHERE role = 'learner'", -1, "") != nlearners)
        return 0;
    *admin_id = db_int(db, "SELECT id FROM users WHERE email = 'admin@bench.test'", 0, "");
    for (int i = nlearners / 2 + 1; i < nlearners && !*sample_learner; i++) {
        int met = (i * 37) % (NCRIT + 1);
        if (met >= 55 && met <= 70) {
            char email[64];
            snprintf(email, sizeof email, "learner%d@bench.test", i);
            *sample_learner = db_int(db, "SELECT id FROM users WHERE email = ?", 0, "t", email);
        }
    }
    db_run(db, "DELETE FROM sessions", "");
    printf("reused the seeded database of %d learners [%s, load average %s]\n", nlearners, db_engine(db), loadavg());
    return *admin_id && *sample_learner;
}

/* ---- in-process timing ---- */

typedef struct timing {
    double cpu_us, wall_us;
    size_t bytes;
} timing_t;

static void add_context(json_t *ctx, const user_t *u, const char *path)
{
    json_t *me = json_pack("{s:I, s:s, s:s, s:s, s:b, s:b}", "id", (json_int_t)u->id, "name", u->name,
                           "email", u->email, "role", role_name(u->role), "is_admin", 1, "is_staff", 1);
    json_object_set_new(ctx, "me", me);
    json_object_set_new(ctx, "csrf_token", json_string(u->csrf_token));
    json_object_set_new(ctx, "path", json_string(path));
    json_object_set_new(ctx, "status", json_integer(200));
}

/* Runs the route's handler for path as user u, then renders its page (tmpl) or
 * serialises its JSON (tmpl NULL), n times; CPU and wall time per call. */
static int invalidate_each; /* bump centre_version before each call: time the cold path */
static int warmups = 3;     /* untimed calls first */

static timing_t time_route(app_t *app, const route_t *rt, const char *path, int64_t param,
                           const user_t *u, const char *query_key, const char *query_val, int n)
{
    timing_t t = {0};
    uint64_t cpu_total = 0, wall_total = 0;
    for (int i = -warmups; i < n; i++) {
        if (invalidate_each && db_run(db, db_is_pg(db) ? "UPDATE centre_version_slots SET version = version + 1 WHERE slot = 0"
                                                       : "UPDATE centre_version SET version = version + 1", "") != EV_OK)
            die("invalidate");
        uint64_t c0 = cpu_us(), w0 = util_now_us();
        req_t r;
        memset(&r, 0, sizeof r);
        r.app = app;
        r.route = rt;
        r.method = "GET";
        r.path = path;
        r.is_api = strncmp(path, "/api/v1/", 8) == 0;
        r.params[0] = param;
        r.nparams = param ? 1 : 0;
        r.in = json_object();
        if (query_key)
            json_object_set_new(r.in, query_key, json_string(query_val));
        r.db = db;
        r.user = *u;
        int status = rt->handler(&r);
        if (status != 200) {
            fprintf(stderr, "bench_centre: %s answered %d\n", path, status);
            exit(1);
        }
        buf_t out = {0};
        if (rt->tmpl) {
            json_t *ctx = json_incref(r.out);
            add_context(ctx, u, path);
            char err[256];
            if (tmpl_set_render(app->templates, rt->tmpl, ctx, &out, err, sizeof err) != EV_OK) {
                fprintf(stderr, "bench_centre: render %s: %s\n", rt->tmpl, err);
                exit(1);
            }
            json_decref(ctx);
        } else {
            char *s = json_dumps(r.out, JSON_COMPACT);
            buf_puts(&out, s);
            free(s);
        }
        t.bytes = out.len;
        buf_free(&out);
        json_decref(r.out);
        json_decref(r.in);
        free(r.redirect);
        free(r.raw_body);
        free(r.content_type);
        free(r.download_name);
        if (i >= 0) {
            cpu_total += cpu_us() - c0;
            wall_total += util_now_us() - w0;
        }
    }
    t.cpu_us = (double)cpu_total / n;
    t.wall_us = (double)wall_total / n;
    return t;
}

/* The baseline: one query of 30 rows turned into jansson and HTML (DESIGN.md's anchor). */
static timing_t time_baseline(app_t *app, int n)
{
    char err[256];
    const char *src = "<ul>{{#rows}}<li>{{id}} {{name}} {{email}}</li>{{/rows}}</ul>";
    tmpl_t *tp = tmpl_compile("baseline", src, strlen(src), err, sizeof err);
    int64_t first_learner = db_int(db, "SELECT min(id) FROM users WHERE email = 'learner0@bench.test'", 0, "");
    timing_t t = {0};
    uint64_t c0 = 0, w0 = 0;
    for (int i = -3; i < n; i++) {
        if (i == 0) {
            c0 = cpu_us();
            w0 = util_now_us();
        }
        /* thirty learners by primary key (a range of ids, so the plan does not depend on
         * statistics or on the centre's size) */
        json_t *rows = db_all(db, "SELECT id, name, email FROM users WHERE id >= ? AND id < ? ORDER BY id", "ii",
                              first_learner, first_learner + 30);
        json_t *ctx = json_pack("{s:o}", "rows", rows);
        buf_t out = {0};
        tmpl_render(tp, ctx, NULL, NULL, &out, err, sizeof err);
        t.bytes = out.len;
        buf_free(&out);
        json_decref(ctx);
    }
    t.cpu_us = (double)(cpu_us() - c0) / n;
    t.wall_us = (double)(util_now_us() - w0) / n;
    tmpl_free(tp);
    (void)app;
    return t;
}

static const route_t *find_route(const route_t *table, const char *pattern)
{
    for (const route_t *r = table; r->method; r++)
        if (!strcmp(r->pattern, pattern))
            return r;
    fprintf(stderr, "bench_centre: no route %s\n", pattern);
    exit(1);
}

/* ---- wrk against a server ---- */

static char *self_dir(void)
{
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return ".";
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return buf;
}

/* Starts argv in the background with stdout to out_path; waits for "listening on
 * http://..." and copies the URL. Returns the pid, or -1. */
static pid_t start_server(char *const argv[], const char *out_path, char *url, size_t urllen)
{
    fflush(stdout); /* else the child's freopen writes out what the parent had buffered */
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(out_path, "w", stdout);
        (void)f;
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        usleep(100000);
        FILE *f = fopen(out_path, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "listening on http://");
            if (p) {
                p += strlen("listening on ");
                size_t len = strcspn(p, " \n");
                snprintf(url, urllen, "%.*s", (int)len, p);
                fclose(f);
                return pid;
            }
        }
        if (f)
            fclose(f);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return -1;
    }
    kill(pid, SIGTERM);
    return -1;
}

static void stop_server(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

typedef struct wrk_result {
    double rps, p99_ms, p50_ms;
    long non2xx, requests;
} wrk_result_t;

/* CPU ticks (user + system) used so far by process pid. */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) == 2)
        return ut + st;
    return 0;
}

static double to_ms(const char *v)
{
    double x = atof(v);
    if (strstr(v, "us"))
        return x / 1000.0;
    if (strstr(v, "ms"))
        return x;
    if (strstr(v, "s"))
        return x * 1000.0;
    return x;
}

static wrk_result_t run_wrk(const char *url, const char *cookie, int duration)
{
    wrk_result_t w = {0};
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c64 -d%ds --latency %s%s%s '%s' 2>&1", duration,
             cookie ? "-H 'Cookie: " : "", cookie ? cookie : "", cookie ? "'" : "", url);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char a[64], b[64];
        if (sscanf(line, " 99%% %63s", a) == 1)
            w.p99_ms = to_ms(a);
        else if (sscanf(line, " 50%% %63s", a) == 1)
            w.p50_ms = to_ms(a);
        else if (sscanf(line, "Requests/sec: %63s", a) == 1)
            w.rps = atof(a);
        else if (sscanf(line, " Non-2xx or 3xx responses: %63s", b) == 1)
            w.non2xx = atol(b);
        else if (strstr(line, " requests in "))
            w.requests = atol(line);
    }
    if (p)
        pclose(p);
    return w;
}

/* ------------------------------------------------------------------------
 * The matrix page through HTTP (issue 22): server CPU per request, plain and
 * gzip, the 304 answer to a repeat view, and the JSON, each against a bare
 * libmicrohttpd server measured with the same wrk settings in the same run.
 * Kept in its own section: the rest of this file is the centre's figures. */

#define MATRIX_BUDGET_US 130.0

/* wrk -t1 -c8 for duration s against url with the headers (each "Name: value"
 * or NULL); *cpu_us gets server pid's CPU per request. */
static wrk_result_t matrix_wrk(pid_t pid, const char *url, const char *h1, const char *h2, const char *script,
                               int duration, double *cpu_us)
{
    wrk_result_t w = {0};
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "wrk -t1 -c8 -d%ds %s%s%s %s%s%s %s%s '%s' 2>&1", duration, h1 ? "-H '" : "",
             h1 ? h1 : "", h1 ? "'" : "", h2 ? "-H '" : "", h2 ? h2 : "", h2 ? "'" : "", script ? "-s " : "",
             script ? script : "", url);
    long long t0 = cpu_ticks(pid);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char a[64];
        if (sscanf(line, "Requests/sec: %63s", a) == 1)
            w.rps = atof(a);
        else if (sscanf(line, " Non-2xx or 3xx responses: %63s", a) == 1)
            w.non2xx = atol(a);
        else if (strstr(line, " requests in "))
            w.requests = atol(line);
    }
    if (p)
        pclose(p);
    *cpu_us = w.requests ? (double)(cpu_ticks(pid) - t0) / (double)sysconf(_SC_CLK_TCK) / (double)w.requests * 1e6
                         : 0;
    return w;
}

/* The ETag the server gives url (curl), into tag; "" when none. */
static void matrix_etag(const char *url, const char *cookie_header, char *tag, size_t taglen)
{
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -D - -H '%s' '%s'", cookie_header, url);
    tag[0] = '\0';
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof line, p))
        if (strncasecmp(line, "ETag: ", 6) == 0) {
            snprintf(tag, taglen, "%.*s", (int)strcspn(line + 6, "\r\n"), line + 6);
        }
    if (p)
        pclose(p);
}

/* Prints the matrix figures against server sp (at base_url) with the signed-in
 * cookie; bare is bench_bare_hello's path. Returns 1 when an answer was wrong. */
static int matrix_http_figures(pid_t sp, const char *base_url, const char *cookie, const char *mpath,
                               const char *bare, const char *dir, int duration)
{
    int rc = 0;
    char bare_url[256], bare_out[300], cookie_h[256], url[512], api[512], tag[128], inm[200], loadavg[64] = "";
    snprintf(bare_out, sizeof bare_out, "%s/bare-matrix.out", dir);
    snprintf(cookie_h, sizeof cookie_h, "Cookie: %s", cookie);
    snprintf(url, sizeof url, "%s%s", base_url, mpath);
    snprintf(api, sizeof api, "%s/api/v1%s", base_url, mpath);
    char *bare_argv[] = {(char *)bare, "--port", "0", NULL};
    pid_t bp = start_server(bare_argv, bare_out, bare_url, sizeof bare_url);
    double bare_cpu = 0, c;
    if (bp > 0) {
        matrix_wrk(bp, bare_url, NULL, NULL, NULL, duration, &bare_cpu);
        stop_server(bp);
    }
    /* every request a query argument of its own: a tag of its own, so nothing is kept
     * and each answer is built (and compressed) afresh */
    char vary[320];
    snprintf(vary, sizeof vary, "%s/matrix-vary.lua", dir);
    FILE *vf = fopen(vary, "w");
    if (vf) {
        fputs("local n = 0\nrequest = function()\n  n = n + 1\n"
              "  return wrk.format(nil, wrk.path .. \"?v=\" .. n)\nend\n", vf);
        fclose(vf);
    }
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (!fgets(loadavg, sizeof loadavg, la))
            loadavg[0] = '\0';
        loadavg[strcspn(loadavg, "\n")] = '\0';
        fclose(la);
    }
    printf("\n# the matrix page through HTTP: server CPU per request, wrk -t1 -c8 -d%ds (load average %s)\n",
           duration, loadavg);
    printf("%-36s %12s %10s %8s\n", "target", "requests/s", "cpu us/req", "ratio");
    printf("%-36s %12s %10.1f %8s\n", "bare libmicrohttpd (baseline)", "-", bare_cpu, "1.00");
    matrix_wrk(sp, url, cookie_h, NULL, NULL, 1, &c); /* warm up */
    struct {
        const char *label, *url, *h2, *script;
        int budget;
    } runs[] = {
        {"matrix page, plain, built", url, NULL, vary, 1},
        {"matrix page, gzip, built", url, "Accept-Encoding: gzip", vary, 1},
        {"matrix page, gzip, kept copy", url, "Accept-Encoding: gzip", NULL, 0},
        {"matrix JSON, plain, built", api, NULL, vary, 0},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        wrk_result_t w = matrix_wrk(sp, runs[i].url, cookie_h, runs[i].h2, runs[i].script, duration, &c);
        printf("%-36s %12.0f %10.1f %8.1f", runs[i].label, w.rps, c, bare_cpu > 0 ? c / bare_cpu : 0);
        if (runs[i].budget)
            printf("  [budget <= %.0f us: %s]", MATRIX_BUDGET_US, c <= MATRIX_BUDGET_US ? "met" : "NOT met");
        printf("\n");
        if (w.non2xx || !w.requests)
            rc = 1;
    }
    /* a repeat view: If-None-Match with the page's current tag is answered 304, nothing built */
    matrix_etag(url, cookie_h, tag, sizeof tag);
    if (!tag[0]) {
        fprintf(stderr, "bench_centre: the matrix page carries no ETag\n");
        return 1;
    }
    snprintf(inm, sizeof inm, "If-None-Match: %s", tag);
    char cmd[1024], code[16] = "";
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' -H '%s' -H '%s' '%s'", cookie_h, inm, url);
    FILE *cp = popen(cmd, "r");
    if (!cp || !fgets(code, sizeof code, cp) || strcmp(code, "304") != 0) {
        fprintf(stderr, "bench_centre: a repeat view answered %s, not 304\n", code);
        rc = 1;
    }
    if (cp)
        pclose(cp);
    wrk_result_t w = matrix_wrk(sp, url, cookie_h, inm, NULL, duration, &c);
    printf("%-36s %12.0f %10.1f %8.1f\n", "matrix page, repeat view (304)", w.rps, c, bare_cpu > 0 ? c / bare_cpu : 0);
    return rc;
}

/* ---- latency at a steady offered load (issue 22) ---- */

typedef struct target {
    const char *label, *path;
    double max_rps; /* measured closed loop (wrk -c64) just before */
} target_t;

typedef struct hey_result {
    double rps, p50_ms, p99_ms;
    long ok, other;
} hey_result_t;

#define HEY_WORKERS 16

/* hey -z Ds -c HEY_WORKERS -q rate/HEY_WORKERS: the offered load is held at rate
 * requests/s whatever the server's answers take (while each worker's answers take less
 * than its interval, HEY_WORKERS / rate; past that hey falls behind, which shows as a
 * lower achieved rate). */
static hey_result_t run_hey(const char *url, const char *cookie, double rate, int duration)
{
    hey_result_t h = {0};
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "hey -z %ds -c %d -q %.3f -disable-compression %s%s%s '%s' 2>&1", duration, HEY_WORKERS,
             rate / HEY_WORKERS, cookie ? "-H 'Cookie: " : "", cookie ? cookie : "", cookie ? "'" : "", url);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        double v;
        long n;
        int code;
        if (sscanf(line, " 99%% in %lf secs", &v) == 1)
            h.p99_ms = v * 1000;
        else if (sscanf(line, " 50%% in %lf secs", &v) == 1)
            h.p50_ms = v * 1000;
        else if (sscanf(line, " Requests/sec: %lf", &v) == 1)
            h.rps = v;
        else if (sscanf(line, " [%d] %ld responses", &code, &n) == 2)
            *(code == 200 ? &h.ok : &h.other) += n;
    }
    if (p)
        pclose(p);
    return h;
}

/* kB of the process's status field ("VmRSS:", "VmHWM:"), 0 when unknown. */
static long proc_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atol(line + strlen(field));
    if (f)
        fclose(f);
    return kb;
}

/* Each target at half its measured maximum, open loop, with the bare server at the same
 * offered rate as its baseline: p50, p99 (budget < 10 ms), and the server's RSS after.
 * Returns 0, or 1 when hey is missing or a target answered anything but 200. */
static int open_loop(const char *url, const char *bare_url, pid_t bp, pid_t sp, const char *cookie,
                     target_t *t, size_t n, int duration)
{
    if (system("command -v hey >/dev/null 2>&1") != 0) {
        printf("\n# open loop: hey not found (apt-get install hey): not measured\n");
        return 1;
    }
    int rc = 0;
    printf("\n# hey -c %d -q, open loop at half each target's maximum, %d s [load average %s]\n", HEY_WORKERS, duration,
           loadavg());
    printf("%-30s %9s %9s %9s %9s %9s %10s\n", "target", "offered/s", "done/s", "p50 ms", "p99 ms", "bare p99", "RSS MB");
    for (size_t i = 0; i < n; i++) {
        double rate = t[i].max_rps / 2;
        if (rate < 1)
            rate = 1;
        hey_result_t b = {0};
        if (bp > 0)
            b = run_hey(bare_url, NULL, rate, duration);
        char full[512];
        snprintf(full, sizeof full, "%s%s", url, t[i].path);
        hey_result_t h = run_hey(full, cookie, rate, duration);
        printf("%-30s %9.0f %9.0f %9.2f %9.2f %9.2f %10.1f  p99 %.1fx bare; [p99 < 10 ms: %s]\n", t[i].label, rate,
               h.rps, h.p50_ms, h.p99_ms, b.p99_ms, (double)proc_kb(sp, "VmRSS:") / 1024,
               b.p99_ms > 0 ? h.p99_ms / b.p99_ms : 0, h.p99_ms > 0 && h.p99_ms < 10 ? "met" : "NOT met");
        fflush(stdout);
        if (h.other || !h.ok)
            rc = 1;
    }
    printf("server RSS after the open-loop runs: %.1f MB (peak %.1f MB) [load average %s]\n",
           (double)proc_kb(sp, "VmRSS:") / 1024, (double)proc_kb(sp, "VmHWM:") / 1024, loadavg());
    return rc;
}

/* A session row for the admin, so wrk can fetch signed-in pages (the token is
 * stored as the hex SHA-256, like session.c does). */
static void make_session(int64_t user_id, const char *token)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    util_hex(h, sizeof h, hex);
    int64_t now = util_now_s();
    if (db_run(db, "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen, expires_at)"
                   " VALUES (?, ?, 'benchcsrf', ?, ?, ?)", "tiiii",
               hex, user_id, now, now, now + 86400) != EV_OK)
        die("session");
}

/* ---- the list pages (issue 22): every dashboard, caseload and list page at this size,
 * page one as each would first be opened, afresh (centre_version bumped before each call,
 * so the centre's snapshot is rebuilt), against the same baseline. Budget 15 ms CPU. ---- */
static void time_lists(app_t *app, const user_t *admin, timing_t base)
{
    /* a part of a label: time only those pages; "!part": all but those */
    const char *only = getenv("BENCH_LISTS");
    user_t ass = {.role = ROLE_ASSESSOR}, iqa = {.role = ROLE_IQA};
    ass.id = db_int(db, "SELECT id FROM users WHERE email = 'assessor0@bench.test'", 0, "");
    iqa.id = db_int(db, "SELECT id FROM users WHERE email = 'iqa0@bench.test'", 0, "");
    snprintf(ass.email, sizeof ass.email, "assessor0@bench.test");
    snprintf(iqa.email, sizeof iqa.email, "iqa0@bench.test");
    snprintf(ass.csrf_token, sizeof ass.csrf_token, "benchcsrf");
    snprintf(iqa.csrf_token, sizeof iqa.csrf_token, "benchcsrf");
    struct {
        const char *label;
        const route_t *table;
        const char *pattern;
        const user_t *u;
        int afresh, n;
    } pages[] = {
        {"centre learners list (admin)", centre_routes, "/centre/learners", admin, 1, 5},
        {"caseload (admin, every assessor)", caseload_routes, "/caseload", admin, 0, 5},
        {"caseload (an assessor)", caseload_routes, "/caseload", &ass, 0, 5},
        {"queue (admin)", caseload_routes, "/queue", admin, 0, 5},
        {"queue (an assessor)", caseload_routes, "/queue", &ass, 0, 5},
        {"enrolments list (admin)", users_routes, "/admin/enrolments", admin, 0, 5},
        {"users list (admin)", users_routes, "/admin/users", admin, 0, 5},
        {"learners list (admin)", users_routes, "/learners", admin, 0, 5},
        {"IQA decisions list (admin)", iqa_routes, "/iqa", admin, 0, 1},
        {"IQA plan and due list (an IQA)", iqaplan_routes, "/iqa/plan", &iqa, 0, 1},
    };
    printf("\n# list pages, page one, in process: CPU per call (wall), bytes [%s, load average %s]\n",
           db_engine(db), loadavg());
    printf("%-36s %10s %10s %9s %8s\n", "target", "cpu us", "wall us", "bytes", "ratio");
    fflush(stdout);
    warmups = 1;
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        if (only && (*only == '!' ? strstr(pages[i].label, only + 1) != NULL : !strstr(pages[i].label, only)))
            continue;
        invalidate_each = pages[i].afresh;
        warmups = pages[i].n > 1; /* the slowest (seconds at 100,000 learners) once, cold */
        timing_t t = time_route(app, find_route(pages[i].table, pages[i].pattern), pages[i].pattern, 0, pages[i].u,
                                NULL, NULL, pages[i].n);
        invalidate_each = 0;
        printf("%-36s %10.1f %10.1f %9zu %8.2f  [budget <= 15000 us: %s]\n", pages[i].label, t.cpu_us, t.wall_us,
               t.bytes, t.cpu_us / base.cpu_us, t.cpu_us <= 15000 ? "met" : "NOT met");
        fflush(stdout);
    }
    warmups = 3;
}

/* The centre dashboard (afresh and with its snapshot), one learner's matrix, progress API
 * and page, and the overdue-review count, in process against the baseline. */
static void time_centre(app_t *app, const user_t *up, timing_t base, timing_t base_select, const char *mpath,
                        const char *ppath, int64_t learner, int64_t today)
{
    user_t u = *up;
    char err[256];
    invalidate_each = 1;
    timing_t dash_cold = time_route(app, find_route(centre_routes, "/centre"), "/centre", 0, &u, NULL, NULL, 20);
    invalidate_each = 0;
    timing_t dash = time_route(app, find_route(centre_routes, "/centre"), "/centre", 0, &u, NULL, NULL, 200);
    timing_t dash_api = time_route(app, find_route(centre_routes, "/api/v1/centre/progress"),
                                   "/api/v1/centre/progress", 0, &u, NULL, NULL, 30);
    timing_t mx = time_route(app, find_route(progress_routes, "/learners/{id}/matrix"), mpath, learner, &u,
                             NULL, NULL, 2000);
    timing_t pg = time_route(app, find_route(progress_routes, "/api/v1/learners/{id}/progress"), ppath, learner,
                             &u, NULL, NULL, 2000);
    timing_t pgpage = time_route(app, find_route(progress_routes, "/learners/{id}/progress"), ppath + 7, learner,
                                 &u, NULL, NULL, 500);

    if (getenv("BENCH_PROGRESS_LOOP")) { /* profiling aid: the progress API alone */
        for (int i = 0; i < 20000; i++)
            json_decref(progress_learner(db, learner, today));
    }
    if (getenv("BENCH_SPLIT")) {
        const route_t *rt = find_route(progress_routes, "/learners/{id}/matrix");
        route_t api = *rt;
        api.tmpl = NULL;
        timing_t h = time_route(app, &api, mpath, learner, &u, NULL, NULL, 2000);
        printf("matrix handler + json dump: %.1f us cpu\n", h.cpu_us);
        req_t r;
        memset(&r, 0, sizeof r);
        r.app = app; r.route = rt; r.method = "GET"; r.path = mpath; r.params[0] = learner; r.nparams = 1;
        r.in = json_object(); r.db = db; r.user = u;
        rt->handler(&r);
        json_t *ctx = json_incref(r.out);
        add_context(ctx, &u, mpath);
        uint64_t c0 = cpu_us();
        for (int i = 0; i < 2000; i++) {
            buf_t out = {0};
            tmpl_set_render(app->templates, "matrix", ctx, &out, err, sizeof err);
            buf_free(&out);
        }
        printf("matrix render only: %.1f us cpu\n", (double)(cpu_us() - c0) / 2000);
        c0 = cpu_us();
        for (int i = 0; i < 2000; i++) {
            json_t *m = progress_matrix(db, learner, json_integer_value(json_object_get(json_object_get(r.out, "qualification"), "id")), 12, 0, 1);
            json_decref(m);
        }
        printf("progress_matrix only: %.1f us cpu\n", (double)(cpu_us() - c0) / 2000);
        c0 = cpu_us();
        for (int i = 0; i < 2000; i++)
            policy_can_read_learner(db, &u, learner);
        printf("policy only: %.1f us cpu\n", (double)(cpu_us() - c0) / 2000);
        json_decref(ctx);
        c0 = cpu_us();
        for (int i = 0; i < 300; i++) {
            centre_query_t cq = {.limit = 25};
            json_t *cd = centre_progress(db, today, &cq);
            json_decref(cd);
        }
        printf("centre_progress only (snapshot reused): %.1f us cpu\n", (double)(cpu_us() - c0) / 300);
    }
    printf("\n# in process, one thread: CPU per call (wall), bytes [%s]\n", db_engine(db));
    printf("%-36s %10s %10s %9s %8s\n", "target", "cpu us", "wall us", "bytes", "ratio");
    printf("%-36s %10.2f %10s %9s %8s\n", "bare SELECT 1", base_select.cpu_us, "-", "-", "-");
    printf("%-36s %10.1f %10.1f %9zu %8s\n", "baseline: 30 rows -> json -> html", base.cpu_us, base.wall_us, base.bytes, "1.00");
    printf("%-36s %10.1f %10.1f %9zu %8.2f  [budget <= 15000 us: %s]\n", "centre dashboard (+ hours), afresh",
           dash_cold.cpu_us, dash_cold.wall_us, dash_cold.bytes, dash_cold.cpu_us / base.cpu_us,
           dash_cold.cpu_us <= 15000 ? "met" : "NOT met");
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "centre dashboard, snapshot reused", dash.cpu_us,
           dash.wall_us, dash.bytes, dash.cpu_us / base.cpu_us);
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "centre progress API (reused)", dash_api.cpu_us, dash_api.wall_us,
           dash_api.bytes, dash_api.cpu_us / base.cpu_us);
    printf("%-36s %10.1f %10.1f %9zu %8.2f  [budget <= 150 us: %s]\n", "matrix page (120 criteria)", mx.cpu_us,
           mx.wall_us, mx.bytes, mx.cpu_us / base.cpu_us, mx.cpu_us <= 150 ? "met" : "NOT met");
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "progress API (120 criteria)", pg.cpu_us, pg.wall_us, pg.bytes,
           pg.cpu_us / base.cpu_us);
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "progress page (120 criteria)", pgpage.cpu_us, pgpage.wall_us,
           pgpage.bytes, pgpage.cpu_us / base.cpu_us);
    { /* the dashboard's count of overdue progress reviews (part of it), every enrolment's schedule */
        int64_t n = 0;
        uint64_t c0 = cpu_us(), w0 = util_now_us();
        for (int i = 0; i < 20; i++)
            n = reviews_overdue_count(db, 0, today);
        double c = (double)(cpu_us() - c0) / 20, w = (double)(util_now_us() - w0) / 20;
        printf("%-36s %10.1f %10.1f %9lld %8.2f\n", "reviews overdue (every enrolment)", c, w, (long long)n,
               c / base.cpu_us);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int nlearners = 10000, duration = 5, wrk_on = 1, reuse = 0;
    const char *keep = NULL, *target = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--learners") && i + 1 < argc)
            nlearners = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            duration = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else if (!strcmp(argv[i], "--no-wrk"))
            wrk_on = 0;
        else if (!strcmp(argv[i], "--reuse"))
            reuse = 1;
        else if (!strcmp(argv[i], "--db") && i + 1 < argc && db_target_is_pg(argv[i + 1]))
            target = argv[++i];
        else {
            fprintf(stderr, "usage: bench_centre [--learners N] [--duration S] [--keep DIR [--reuse]] [--no-wrk] [--db postgres://...]\n");
            return 2;
        }
    }
    if (sodium_init() < 0 || nlearners < 10)
        return 2;
    char dir[256];
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0700);
    } else {
        snprintf(dir, sizeof dir, "/tmp/evitrack-bench-centre-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    char datadir[300], outpath[300];
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s", target ? target : "");
    if (!target)
        snprintf(dbpath, sizeof dbpath, "%s/bench.db", dir);
    snprintf(datadir, sizeof datadir, "%s/data", dir);
    snprintf(outpath, sizeof outpath, "%s/server.out", dir);
    if (!target && !(reuse && keep))
        unlink(dbpath);
    db = db_open(dbpath);
    char err[512];
    if (!db || db_migrate(db, err, sizeof err) != EV_OK) {
        fprintf(stderr, "bench_centre: %s\n", err);
        return 1;
    }
    int64_t today = progress_today(), admin = 0, learner = 0;
    if (!(reuse && reuse_seeded(nlearners, &admin, &learner)))
        seed(nlearners, today, &admin, &learner);

    app_t app = {.db_path = dbpath, .data_dir = datadir, .templates_dir = EVITRACK_SOURCE_DIR "/templates"};
    app.templates = tmpl_set_load(app.templates_dir, 0, err, sizeof err);
    if (!app.templates) {
        fprintf(stderr, "bench_centre: templates: %s\n", err);
        return 1;
    }
    user_t u = {.id = admin, .role = ROLE_ADMIN};
    snprintf(u.email, sizeof u.email, "admin@bench.test");
    snprintf(u.name, sizeof u.name, "Admin");
    snprintf(u.csrf_token, sizeof u.csrf_token, "benchcsrf");

    char mpath[64], ppath[64];
    snprintf(mpath, sizeof mpath, "/learners/%lld/matrix", (long long)learner);
    snprintf(ppath, sizeof ppath, "/api/v1/learners/%lld/progress", (long long)learner);
    json_t *lp = progress_learner(db, learner, today);
    json_t *lq = json_array_get(json_object_get(lp, "qualifications"), 0);
    printf("sample learner %lld: %lld of %lld criteria met, %lld evidence\n", (long long)learner,
           (long long)json_integer_value(json_object_get(lq, "met")),
           (long long)json_integer_value(json_object_get(lq, "total")),
           (long long)db_int(db, "SELECT count(*) FROM evidence WHERE learner_id = ?", 0, "i", learner));
    json_decref(lp);

    timing_t base_select = {0};
    {
        uint64_t c0 = cpu_us();
        for (int i = 0; i < 20000; i++)
            db_int(db, "SELECT 1", 0, "");
        base_select.cpu_us = (double)(cpu_us() - c0) / 20000;
    }
    timing_t base = time_baseline(&app, 2000);
    if (!getenv("BENCH_LISTS") || *getenv("BENCH_LISTS") == '!') /* profiling aid: only the list pages named */
        time_centre(&app, &u, base, base_select, mpath, ppath, learner, today);
    time_lists(&app, &u, base);

    int rc = 0;
    if (wrk_on) {
        make_session(admin, BENCH_TOKEN);
        db_close(db);
        db = NULL;
        char *bin = self_dir();
        char evi[4200], bare[4200];
        snprintf(evi, sizeof evi, "%s/../../evitrack", bin);
        snprintf(bare, sizeof bare, "%s/bench_bare_hello", bin);
        char url[256], bare_url[256];
        char bare_out[300];
        snprintf(bare_out, sizeof bare_out, "%s/bare.out", dir);
        char *bare_argv[] = {bare, "--port", "0", NULL};
        pid_t bp = start_server(bare_argv, bare_out, bare_url, sizeof bare_url);
        char *evi_argv[] = {evi, "serve", "--db", dbpath, "--data", datadir, "--port", "0", "--quiet", NULL};
        pid_t sp = start_server(evi_argv, outpath, url, sizeof url);
        if (sp < 0) {
            fprintf(stderr, "bench_centre: the server did not start (%s)\n", evi);
            stop_server(bp);
            return 1;
        }
        const char *cookie = "evitrack_session=" BENCH_TOKEN;
        printf("\n# wrk -t2 -c64 -d%ds against the server on the same database [%s]\n", duration,
               db_target_is_pg(dbpath) ? "postgresql" : "sqlite");
        printf("%-36s %12s %9s %9s %8s %10s\n", "target", "requests/s", "p50 ms", "p99 ms", "non-2xx", "cpu us/req");
        wrk_result_t wb = {0};
        if (bp > 0) {
            long long t0 = cpu_ticks(bp);
            wb = run_wrk(bare_url, NULL, duration);
            double cpu = wb.requests ? (double)(cpu_ticks(bp) - t0) / (double)sysconf(_SC_CLK_TCK) / (double)wb.requests * 1e6 : 0;
            printf("%-36s %12.0f %9.3f %9.3f %8ld %10.1f\n", "bare libmicrohttpd (baseline)", wb.rps, wb.p50_ms,
                   wb.p99_ms, wb.non2xx, cpu);
        }
        target_t targets[] = {
            {"centre dashboard page", "/centre", 0},
            {"matrix page", mpath, 0},
            {"progress API", ppath, 0},
        };
        for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
            char full[512], cmd[1024], code[16] = "";
            snprintf(full, sizeof full, "%s%s", url, targets[i].path);
            /* wrk counts redirects as success: make sure the page really answers 200 */
            snprintf(cmd, sizeof cmd, "curl -s -m 30 -o /dev/null -w '%%{http_code}' -H 'Cookie: %s' '%s'", cookie, full);
            /* the previous target's requests may still be running: wait for an answer */
            for (int tries = 0; tries < 10 && strcmp(code, "200") != 0; tries++) {
                if (tries)
                    sleep(2);
                code[0] = '\0';
                FILE *cp = popen(cmd, "r");
                if (!cp || !fgets(code, sizeof code, cp))
                    code[0] = '\0';
                if (cp)
                    pclose(cp);
            }
            if (strcmp(code, "200") != 0) {
                fprintf(stderr, "bench_centre: %s answered %s, not 200\n", full, code);
                rc = 1;
            }
            long long t0 = cpu_ticks(sp);
            wrk_result_t w = run_wrk(full, cookie, duration);
            double cpu = w.requests ? (double)(cpu_ticks(sp) - t0) / (double)sysconf(_SC_CLK_TCK) / (double)w.requests * 1e6 : 0;
            printf("%-36s %12.0f %9.3f %9.3f %8ld %10.1f  ratio %.3f of bare rps (closed loop: the maximum)\n",
                   targets[i].label, w.rps, w.p50_ms, w.p99_ms, w.non2xx, cpu, wb.rps > 0 ? w.rps / wb.rps : 0);
            targets[i].max_rps = w.rps;
            if (w.non2xx)
                rc = 1;
        }
        if (open_loop(url, bare_url, bp, sp, cookie, targets, sizeof targets / sizeof *targets, duration) != 0)
            rc = 1;
        stop_server(bp);
        if (matrix_http_figures(sp, url, cookie, mpath, bare, dir, duration))
            rc = 1;
        stop_server(sp);
    } else {
        db_close(db);
    }
    tmpl_set_free(app.templates);
    if (!keep) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
