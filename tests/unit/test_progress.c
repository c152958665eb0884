/* test_progress.c: progress figures against a worked example, the pace rule at its
 * boundaries, the matrix cells, the centre summaries and their CSV */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "centre.h"
#include "db.h"
#include "progress.h"
#include "status.h"
#include "test.h"
#include "testdb.h"

static db_t *db;

static int64_t ins(const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    int64_t first = 0;
    int rc = st ? db_next(st) : -1;
    if (rc == 1) {
        first = db_col_int(st, 0); /* RETURNING id */
        rc = db_next(st);
    }
    db_stmt_done(st);
    if (rc != 0) {
        fprintf(stderr, "insert failed: %s\n", sql);
        exit(1);
    }
    return first;
}

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_string_value(json_object_get(v, key)) && !strcmp(json_string_value(json_object_get(v, key)), val))
            return v;
    return NULL;
}

static int64_t geti(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void test_dates_and_pace(void)
{
    int64_t d;
    CHECK(progress_day_number("1970-01-01", &d) == EV_OK && d == 0);
    CHECK(progress_day_number("2000-03-01", &d) == EV_OK && d == 11017);
    CHECK(progress_day_number("2024-02-29T10:00:00Z", &d) == EV_OK);
    CHECK(progress_day_number("2023-02-29", &d) == EV_ERR);
    CHECK(progress_day_number("nonsense", &d) == EV_ERR);
    char iso[11];
    progress_day_number("2026-11-23", &d);
    progress_day_iso(d, iso);
    CHECK_STR(iso, "2026-11-23");

    CHECK_INT(progress_percent(0, 0), 0);
    CHECK_INT(progress_percent(1, 3), 33);
    CHECK_INT(progress_percent(2, 3), 66);
    CHECK_INT(progress_percent(119, 120), 99);
    CHECK_INT(progress_percent(120, 120), 100);

    /* a 100-day plan: 2026-01-01 .. 2026-04-11; on day 50, 50% is expected */
    int64_t start;
    progress_day_number("2026-01-01", &start);
    const char *S = "2026-01-01", *E = "2026-04-11";
    progress_pace_t p;
    progress_pace("active", S, E, 40, start + 50, &p);
    CHECK_INT(p.expected_percent, 50);
    CHECK_INT(p.days_total, 100);
    CHECK_INT(p.gap, 10);
    CHECK_INT(p.state, PACE_ON_TRACK);      /* 10 points under: still on track */
    progress_pace("active", S, E, 39, start + 50, &p);
    CHECK_INT(p.state, PACE_BEHIND);        /* 11 points under */
    progress_pace("active", S, E, 25, start + 50, &p);
    CHECK_INT(p.state, PACE_BEHIND);        /* 25 points under: still only behind */
    progress_pace("active", S, E, 24, start + 50, &p);
    CHECK_INT(p.state, PACE_AT_RISK);       /* 26 points under */
    progress_pace("active", S, E, 90, start + 100, &p);
    CHECK_INT(p.expected_percent, 100);
    CHECK_INT(p.state, PACE_ON_TRACK);      /* the last planned day, 10 under */
    CHECK_INT(p.days_left, 0);
    progress_pace("active", S, E, 99, start + 101, &p);
    CHECK_INT(p.state, PACE_AT_RISK);       /* the day after the planned end, not complete */
    CHECK_INT(p.days_left, -1);
    progress_pace("active", S, E, 100, start + 300, &p);
    CHECK_INT(p.state, PACE_COMPLETE);
    progress_pace("completed", S, E, 80, start + 300, &p);
    CHECK_INT(p.state, PACE_COMPLETE);
    progress_pace("withdrawn", S, E, 0, start + 50, &p);
    CHECK_INT(p.state, PACE_WITHDRAWN);
    progress_pace("on_break", S, E, 0, start + 90, &p);
    CHECK_INT(p.state, PACE_ON_BREAK);
    progress_pace("active", S, E, 0, start - 5, &p);
    CHECK_INT(p.expected_percent, 0);
    CHECK_INT(p.state, PACE_ON_TRACK);      /* not started yet */
    progress_pace("active", S, E, 0, start + 10, &p);
    CHECK_INT(p.state, PACE_ON_TRACK);      /* day 10: 10 expected, 0 done: gap 10 */
    progress_pace("active", S, E, 0, start + 11, &p);
    CHECK_INT(p.state, PACE_BEHIND);        /* day 11: gap 11 */
    progress_pace("active", "bad", E, 0, start + 90, &p);
    CHECK_INT(p.state, PACE_ON_TRACK);      /* no usable plan: not judged */
    CHECK_STR(progress_pace_name(PACE_AT_RISK), "at_risk");
    CHECK_STR(progress_pace_label(PACE_BEHIND), "Behind");
}

/* The worked example: one qualification, two units, ten criteria.
 *   Unit A: LO1 1.1 1.2 1.3, LO2 2.1          Unit B: LO1 1.1 .. 1.6
 *   E1 (assessed) -> A1.1 (met), A1.2 (not yet met)
 *   E2 (draft)    -> B1.1                     E3 (submitted) -> B1.2 (met), B1.3
 * Expected: A 1 met, 1 not met, 2 not started = 25%;
 *           B 1 met, 1 submitted, 1 mapped, 3 not started = 16%;
 *           overall 2 of 10 = 20%. */
static int64_t L, L2, A, I, Q, crit_a[4], crit_b[6], E1, E2, E3, D1, D2, D3;

static void seed(void)
{
    L = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('l@x.test', 'Lee Learner', 'learner', 'x') RETURNING id", "");
    L2 = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('m@x.test', '=Mo Learner', 'learner', 'x') RETURNING id", "");
    A = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('a@x.test', 'Ash Assessor', 'assessor', 'x') RETURNING id", "");
    I = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('i@x.test', 'Ivy IQA', 'iqa', 'x') RETURNING id", "");
    Q = ins("INSERT INTO qualifications (code, title) VALUES ('Q1', 'Diploma in Testing') RETURNING id", "");
    int64_t ua = ins("INSERT INTO units (qualification_id, ref, title, position) VALUES (?, 'A', 'Unit A', 1) RETURNING id", "i", Q);
    int64_t ub = ins("INSERT INTO units (qualification_id, ref, title, position) VALUES (?, 'B', 'Unit <B>', 2) RETURNING id", "i", Q);
    int64_t oa1 = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, 1, 'Know A') RETURNING id", "i", ua);
    int64_t oa2 = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, 2, 'Do A') RETURNING id", "i", ua);
    int64_t ob1 = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, 1, 'Know B') RETURNING id", "i", ub);
    const char *refs_a[] = {"1.1", "1.2", "1.3", "2.1"};
    for (int i = 0; i < 4; i++)
        crit_a[i] = ins("INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, 'Criterion', ?) RETURNING id",
                        "iitI", ua, i < 3 ? oa1 : oa2, refs_a[i], i);
    const char *refs_b[] = {"1.1", "1.2", "1.3", "1.4", "1.5", "1.6"};
    for (int i = 0; i < 6; i++)
        crit_b[i] = ins("INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, 'Criterion & co', ?) RETURNING id",
                        "iitI", ub, ob1, refs_b[i], i);
    ins("INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date)"
        " VALUES (?, ?, ?, ?, '2026-01-01', '2026-04-11')", "iiii", L, Q, A, I);
    ins("INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date)"
        " VALUES (?, ?, ?, ?, '2026-01-01', '2026-04-11')", "iiii", L2, Q, A, I);
    CHECK(status_sync_learner(db, L) == EV_OK);
    CHECK(status_sync_learner(db, L2) == EV_OK);

    E1 = ins("INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (?, 'Obs 1', 'observation', 'submitted', '2026-02-01T09:00:00Z') RETURNING id", "i", L);
    E2 = ins("INSERT INTO evidence (learner_id, title, kind) VALUES (?, 'Draft 2', 'product') RETURNING id", "i", L);
    E3 = ins("INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (?, 'Account 3', 'reflective_account', 'submitted', '2026-02-10T09:00:00Z') RETURNING id", "i", L);
    ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", E1, crit_a[0], L);
    ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", E1, crit_a[1], L);
    ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", E2, crit_b[0], L);
    ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", E3, crit_b[1], L);
    ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", E3, crit_b[2], L);
    D1 = ins("INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (?, ?, ?, 'met', '2026-02-02T10:00:00Z') RETURNING id", "iii", L, crit_a[0], A);
    D2 = ins("INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (?, ?, ?, 'not_met', '2026-02-02T10:00:00Z') RETURNING id", "iii", L, crit_a[1], A);
    D3 = ins("INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (?, ?, ?, 'met', '2026-02-11T10:00:00Z') RETURNING id", "iii", L, crit_b[1], A);
    ins("INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)", "ii", D1, E1);
    ins("INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)", "ii", D2, E1);
    ins("INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)", "ii", D3, E3);
    CHECK(db_run(db, "UPDATE evidence SET status = 'assessed' WHERE id = ?", "i", E1) == EV_OK);
    CHECK(status_refresh_learner(db, L) == EV_OK);
}

static void check_summary_row(const char *when)
{
    json_t *p = db_one(db, "SELECT * FROM enrolment_progress WHERE learner_id = ?", "i", L);
    CHECK(p != NULL);
    if (!p)
        return;
    fprintf(stderr, "# enrolment_progress %s\n", when);
    CHECK_INT(geti(p, "total"), 10);
    CHECK_INT(geti(p, "met"), 2);
    CHECK_INT(geti(p, "submitted"), 1);
    CHECK_INT(geti(p, "mapped"), 1);
    CHECK_INT(geti(p, "not_met"), 1);
    CHECK_INT(geti(p, "decisions"), 3);
    json_decref(p);
    CHECK_INT(db_int(db, "SELECT awaiting FROM learner_queue WHERE learner_id = ?", -1, "i", L), 1);
    char *oldest = db_text(db, "SELECT oldest_submitted_at FROM learner_queue WHERE learner_id = ?", "i", L);
    CHECK_STR(oldest, "2026-02-10T09:00:00Z");
    free(oldest);
}

static void test_worked_example(void)
{
    int64_t today;
    progress_day_number("2026-02-20", &today); /* day 50 of 100 */
    json_t *doc = progress_learner(db, L, today);
    CHECK(doc != NULL);
    if (!doc)
        return;
    CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "learner"), "name")), "Lee Learner");
    json_t *q = json_array_get(json_object_get(doc, "qualifications"), 0);
    CHECK_STR(json_string_value(json_object_get(q, "code")), "Q1");
    CHECK_INT(geti(q, "total"), 10);
    CHECK_INT(geti(q, "met"), 2);
    CHECK_INT(geti(q, "submitted"), 1);
    CHECK_INT(geti(q, "mapped"), 1);
    CHECK_INT(geti(q, "not_met"), 1);
    CHECK_INT(geti(q, "not_started"), 5);
    CHECK_INT(geti(q, "percent"), 20);
    json_t *pace = json_object_get(q, "pace");
    CHECK_INT(geti(pace, "expected_percent"), 50);
    CHECK_STR(json_string_value(json_object_get(pace, "state")), "at_risk"); /* 30 points under */

    json_t *units = json_object_get(q, "units");
    CHECK_INT(json_array_size(units), 2);
    json_t *ua = find_by(units, "ref", "A"), *ub = find_by(units, "ref", "B");
    CHECK(ua && ub);
    if (ua && ub) {
        CHECK_INT(geti(ua, "total"), 4);
        CHECK_INT(geti(ua, "met"), 1);
        CHECK_INT(geti(ua, "not_met"), 1);
        CHECK_INT(geti(ua, "not_started"), 2);
        CHECK_INT(geti(ua, "percent"), 25);
        CHECK_INT(geti(ub, "total"), 6);
        CHECK_INT(geti(ub, "met"), 1);
        CHECK_INT(geti(ub, "submitted"), 1);
        CHECK_INT(geti(ub, "mapped"), 1);
        CHECK_INT(geti(ub, "not_started"), 3);
        CHECK_INT(geti(ub, "percent"), 16);
        json_t *crits = json_object_get(ua, "criteria");
        CHECK_STR(json_string_value(json_object_get(json_array_get(crits, 0), "status")), "met");
        CHECK_STR(json_string_value(json_object_get(json_array_get(crits, 1), "status")), "not_met");
        CHECK_STR(json_string_value(json_object_get(json_array_get(crits, 1), "status_label")), "Not yet met");
        CHECK_INT(geti(json_array_get(crits, 3), "outcome"), 2);
        crits = json_object_get(ub, "criteria");
        CHECK_STR(json_string_value(json_object_get(json_array_get(crits, 0), "status")), "mapped");
        CHECK_STR(json_string_value(json_object_get(json_array_get(crits, 2), "status")), "submitted");
    }
    json_decref(doc);
    CHECK(progress_learner(db, 999999, today) == NULL);

    /* the trigger-kept summaries agree, and a rebuild gives the same */
    check_summary_row("by triggers");
    CHECK(progress_rebuild_summaries(db) == EV_OK);
    check_summary_row("after rebuild");

    /* IQA samples: distinct decisions */
    ins("INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (?, ?, 'agree', '2026-02-12T00:00:00Z')", "ii", D1, I);
    ins("INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (?, ?, 'agree', '2026-02-13T00:00:00Z')", "ii", D1, I);
    CHECK_INT(db_int(db, "SELECT sampled FROM enrolment_progress WHERE learner_id = ?", -1, "i", L), 1);
}

static void test_matrix(void)
{
    json_t *m = progress_matrix(db, L, Q, 12, 0, 0);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_INT(geti(m, "columns"), 3);
    CHECK_INT(geti(m, "evidence_total"), 3);
    CHECK_INT(geti(m, "percent"), 20);
    json_t *ua = json_array_get(json_object_get(m, "units"), 0);
    json_t *lo1 = json_array_get(json_object_get(ua, "outcomes"), 0);
    json_t *c11 = json_array_get(json_object_get(lo1, "criteria"), 0);
    json_t *c12 = json_array_get(json_object_get(lo1, "criteria"), 1);
    CHECK_STR(json_string_value(json_array_get(json_object_get(c11, "cells"), 0)), "met");
    CHECK(json_is_null(json_array_get(json_object_get(c11, "cells"), 1)));
    CHECK_STR(json_string_value(json_array_get(json_object_get(c12, "cells"), 0)), "not_met");
    CHECK_INT(json_array_size(json_object_get(ua, "outcomes")), 2);
    json_t *ub = json_array_get(json_object_get(m, "units"), 1);
    json_t *crits = json_object_get(json_array_get(json_object_get(ub, "outcomes"), 0), "criteria");
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(crits, 0), "cells"), 1)), "mapped");
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(crits, 1), "cells"), 2)), "met");
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(crits, 2), "cells"), 2)), "submitted");
    json_decref(m);

    m = progress_matrix(db, L, Q, 12, 0, 1);
    const char *html = json_string_value(json_object_get(m, "rows_html"));
    CHECK(html != NULL);
    if (html) {
        int met = 0, not_met = 0, sub = 0, mapped = 0;
        for (const char *p = html; (p = strstr(p, "class=\"mx-c mx-")); p++) {
            p += strlen("class=\"mx-c mx-");
            met += !strncmp(p, "met\"", 4);
            not_met += !strncmp(p, "not-met\"", 8);
            sub += !strncmp(p, "submitted\"", 10);
            mapped += !strncmp(p, "mapped\"", 7);
        }
        CHECK_INT(met, 2);
        CHECK_INT(not_met, 1);
        CHECK_INT(sub, 1);
        CHECK_INT(mapped, 1);
        CHECK(strstr(html, "Unit B: Unit &lt;B&gt;") != NULL); /* escaped */
        CHECK(strstr(html, "Criterion &amp; co") != NULL);
        CHECK(strstr(html, "colspan=\"5\"") != NULL);            /* 3 evidence + 2 */
    }
    json_decref(m);

    /* second page of columns: just E3 */
    m = progress_matrix(db, L, Q, 2, 2, 0);
    CHECK_INT(geti(m, "columns"), 1);
    CHECK_INT(geti(json_array_get(json_object_get(m, "evidence"), 0), "id"), E3);
    json_decref(m);

    /* the cached tree follows a spec change */
    CHECK(db_run(db, "UPDATE criteria SET text = 'Renamed' WHERE id = ?", "i", crit_a[0]) == EV_OK);
    m = progress_matrix(db, L, Q, 12, 0, 1);
    CHECK(strstr(json_string_value(json_object_get(m, "rows_html")), "Renamed") != NULL);
    json_decref(m);
}

static void test_centre(void)
{
    int64_t today;
    progress_day_number("2026-02-20", &today);
    centre_query_t q = {.limit = 25};
    json_t *c = centre_progress(db, today, &q);
    CHECK(c != NULL);
    if (!c)
        return;
    json_t *bq = json_array_get(json_object_get(c, "by_qualification"), 0);
    CHECK_STR(json_string_value(json_object_get(bq, "code")), "Q1");
    CHECK_INT(geti(bq, "learners"), 2);
    CHECK_INT(geti(bq, "average_percent"), 10); /* (20 + 0) / 2 */
    CHECK_INT(geti(bq, "at_risk"), 2);          /* L: 30 under; L2: 50 under */
    CHECK_INT(geti(bq, "awaiting"), 1);
    CHECK_INT(geti(bq, "oldest_days"), 10);     /* submitted 2026-02-10 */
    CHECK_INT(geti(bq, "decisions"), 3);
    CHECK_INT(geti(bq, "sampled"), 1);
    CHECK_INT(geti(bq, "coverage_percent"), 33);
    CHECK_INT(geti(bq, "learners_sampled"), 1);
    json_t *ba = json_array_get(json_object_get(c, "by_assessor"), 0);
    CHECK_STR(json_string_value(json_object_get(ba, "name")), "Ash Assessor");
    CHECK_INT(geti(ba, "learners"), 2);
    CHECK_INT(geti(c, "enrolments_total"), 2);
    /* most urgent first: L2 is 50 points under, L 30 */
    CHECK_INT(geti(json_array_get(json_object_get(c, "enrolments"), 0), "learner_id"), L2);
    json_decref(c);

    q.state = "on_track";
    c = centre_progress(db, today, &q);
    CHECK_INT(geti(c, "enrolments_total"), 0);
    json_decref(c);

    /* the cached snapshot follows changes: a new submission from L2 */
    c = centre_progress(db, today, &(centre_query_t){.limit = 25});
    CHECK_INT(geti(json_object_get(c, "totals"), "awaiting"), 1);
    json_decref(c);
    int64_t e4 = ins("INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (?, 'New', 'product', 'submitted', '2026-02-18T09:00:00Z') RETURNING id", "i", L2);
    c = centre_progress(db, today, &(centre_query_t){.limit = 25});
    CHECK_INT(geti(json_object_get(c, "totals"), "awaiting"), 1); /* not mapped yet: no qualification */
    json_decref(c);
    ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", e4, crit_b[5], L2);
    c = centre_progress(db, today, &(centre_query_t){.limit = 25});
    CHECK_INT(geti(json_object_get(c, "totals"), "awaiting"), 2);
    CHECK_INT(geti(json_object_get(c, "totals"), "learners_waiting"), 2);
    json_decref(c);
    CHECK(db_run(db, "DELETE FROM evidence WHERE id = ?", "i", e4) == EV_OK);
    c = centre_progress(db, today, &(centre_query_t){.limit = 25});
    CHECK_INT(geti(json_object_get(c, "totals"), "awaiting"), 1);
    json_decref(c);

    buf_t csv = {0};
    CHECK(centre_csv(db, today, NULL, &csv) == EV_OK);
    CHECK(strstr(csv.data, "group,id,name,learners,average_percent,") == csv.data);
    char line[256];
    snprintf(line, sizeof line, "qualification,%lld,Q1 Diploma in Testing,2,10,0,0,2,0,1,10,3,1,33,1\r\n", (long long)Q);
    CHECK(strstr(csv.data, line) != NULL);
    snprintf(line, sizeof line, "assessor,%lld,Ash Assessor,2,10,", (long long)A);
    CHECK(strstr(csv.data, line) != NULL);
    buf_free(&csv);
    CHECK(centre_csv(db, today, "enrolments", &csv) == EV_OK);
    CHECK(strstr(csv.data, "\"'=Mo Learner\"") != NULL); /* formula defused */
    CHECK(strstr(csv.data, ",Lee Learner,l@x.test,Q1,Ash Assessor,active,2026-01-01,2026-04-11,2,10,20,50,at_risk,1,3,1\r\n") != NULL);
    buf_free(&csv);

    buf_t f = {0};
    centre_csv_field(&f, "a,\"b\"");
    CHECK_STR(f.data, "\"a,\"\"b\"\"\"");
    buf_free(&f);
}

int main(void)
{
    char path[] = "/tmp/test_progress_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    db = test_db_open(path);
    char err[256];
    if (!db || db_migrate(db, err, sizeof err) != EV_OK) {
        fprintf(stderr, "db: %s\n", err);
        return 1;
    }
    test_dates_and_pace();
    seed();
    test_worked_example();
    test_matrix();
    test_centre();
    db_close(db);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    TEST_DONE();
}
