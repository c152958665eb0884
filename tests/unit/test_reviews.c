/* test_reviews.c: the progress review schedule's arithmetic (month ends, leap days, breaks
 * in learning, a break still running) and the figures a review fills in by itself against
 * a worked example (UK local days at the period's edges) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "reviews.h"
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

static void test_schedule(void)
{
    char d[8][11];
    /* From a month end: 31 Jan 2026 + 12 weeks (84 days) is 25 Apr, not "30 Apr". */
    CHECK_INT(reviews_schedule("2026-01-31", 12, NULL, 0, 4, d), 4);
    CHECK_STR(d[0], "2026-04-25");
    CHECK_STR(d[1], "2026-07-18");
    CHECK_STR(d[2], "2026-10-10");
    CHECK_STR(d[3], "2027-01-02");
    /* Across a leap day: 31 Dec 2027 + 12 weeks passes 29 Feb 2028. */
    CHECK_INT(reviews_schedule("2027-12-31", 12, NULL, 0, 1, d), 1);
    CHECK_STR(d[0], "2028-03-24");
    /* A shorter interval set per enrolment. */
    CHECK_INT(reviews_schedule("2026-02-28", 4, NULL, 0, 2, d), 2);
    CHECK_STR(d[0], "2026-03-28");
    CHECK_STR(d[1], "2026-04-25");

    /* A two-week break before the first review moves every review by 14 days. */
    reviews_break_t b1[] = {{"2026-03-01", "2026-03-15"}};
    CHECK_INT(reviews_schedule("2026-01-31", 12, b1, 1, 2, d), 2);
    CHECK_STR(d[0], "2026-05-09");
    CHECK_STR(d[1], "2026-08-01");
    /* A break after the first review leaves it and moves the later ones. */
    reviews_break_t b2[] = {{"2026-05-01", "2026-05-29"}};
    CHECK_INT(reviews_schedule("2026-01-31", 12, b2, 1, 3, d), 3);
    CHECK_STR(d[0], "2026-04-25");
    CHECK_STR(d[1], "2026-08-15");
    CHECK_STR(d[2], "2026-11-07");
    /* A break starting on the due day itself moves it; two breaks add up, given in any order. */
    reviews_break_t b3[] = {{"2026-06-01", "2026-06-08"}, {"2026-04-25", "2026-05-02"}};
    CHECK_INT(reviews_schedule("2026-01-31", 12, b3, 2, 2, d), 2);
    CHECK_STR(d[0], "2026-05-02");
    CHECK_STR(d[1], "2026-08-01");
    /* A break that only begins after the shifted date is not counted for it. */
    reviews_break_t b4[] = {{"2026-04-26", "2026-05-03"}};
    CHECK_INT(reviews_schedule("2026-01-31", 12, b4, 1, 1, d), 1);
    CHECK_STR(d[0], "2026-04-25");
    /* A break still running pauses the schedule: the dates after its start are unknown. */
    reviews_break_t b5[] = {{"2026-06-01", ""}};
    CHECK_INT(reviews_schedule("2026-01-31", 12, b5, 1, 3, d), 1);
    CHECK_STR(d[0], "2026-04-25");
    /* Bad arguments. */
    CHECK_INT(reviews_schedule("2026-02-30", 12, NULL, 0, 1, d), -1);
    CHECK_INT(reviews_schedule("2026-01-31", 0, NULL, 0, 1, d), -1);
    CHECK_INT(reviews_schedule("2026-01-31", 53, NULL, 0, 1, d), -1);
    reviews_break_t bad[] = {{"2026-03-15", "2026-03-01"}};
    CHECK_INT(reviews_schedule("2026-01-31", 12, bad, 1, 1, d), -1);
}

/* The worked example (docs/reviews.md): one learner on a qualification of one unit with
 * five criteria, enrolled 31 Jan 2026, reviews every 12 weeks (25 Apr, 18 Jul). */
static void test_figures(void)
{
    int64_t L = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('rl@x.test', 'Rae Learner', 'learner', 'x') RETURNING id", "");
    int64_t A = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('ra@x.test', 'Rob Assessor', 'assessor', 'x') RETURNING id", "");
    int64_t Q = ins("INSERT INTO qualifications (code, title) VALUES ('RQ', 'Certificate in Reviewing') RETURNING id", "");
    int64_t Q2 = ins("INSERT INTO qualifications (code, title) VALUES ('RQ2', 'Another qualification') RETURNING id", "");
    int64_t U = ins("INSERT INTO units (qualification_id, ref, title, position) VALUES (?, 'U1', 'Unit one', 1) RETURNING id", "i", Q);
    int64_t U2 = ins("INSERT INTO units (qualification_id, ref, title, position) VALUES (?, 'X', 'Other unit', 1) RETURNING id", "i", Q2);
    int64_t O = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, 1, 'Know') RETURNING id", "i", U);
    int64_t O2 = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, 1, 'Other') RETURNING id", "i", U2);
    int64_t C[6];
    for (int i = 1; i <= 5; i++) {
        char ref[8];
        snprintf(ref, sizeof ref, "1.%d", i);
        C[i] = ins("INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, 'Describe', ?) RETURNING id",
                   "iitI", U, O, ref, i);
    }
    int64_t CX = ins("INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, '9.9', 'Other', 1) RETURNING id",
                     "ii", U2, O2);
    ins("INSERT INTO enrolments (learner_id, qualification_id, assessor_id, start_date, planned_end_date)"
        " VALUES (?, ?, ?, '2026-01-31', '2027-01-31') RETURNING id", "iii", L, Q, A);
    /* Decisions: 1.1 met in period 1 (and again in period 2: counted once, when first met);
     * 1.2 not met in period 1, met in period 2; 1.3 met at 23:30 BST on the review day
     * (22:30 UTC: period 1); 1.4 met at 00:30 BST the day after (23:30 UTC on the review
     * day: period 2); 1.5 met in period 1 but since judged not met (not counted); a
     * criterion of another qualification met in period 1 (not counted). */
    struct { int64_t c; const char *outcome, *at, *status; } dec[] = {
        {0, "met", "2026-02-10T10:00:00Z", NULL},       {0, "not_met", "2026-03-01T10:00:00Z", NULL},
        {0, "met", "2026-04-25T22:30:00Z", NULL},       {0, "met", "2026-04-25T23:30:00Z", NULL},
        {0, "met", "2026-05-02T09:00:00Z", NULL},       {0, "met", "2026-05-10T09:00:00Z", NULL},
        {0, "met", "2026-02-20T09:00:00Z", NULL},       {0, "not_met", "2026-03-20T09:00:00Z", NULL},
        {0, "met", "2026-02-11T09:00:00Z", NULL},
    };
    int64_t which[] = {C[1], C[2], C[3], C[4], C[2], C[1], C[5], C[5], CX};
    for (size_t i = 0; i < sizeof which / sizeof which[0]; i++)
        ins("INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (?, ?, ?, ?, ?)",
            "iiitt", L, which[i], A, dec[i].outcome, dec[i].at);
    const char *status[] = {NULL, "met", "met", "met", "met", "not_met"};
    for (int i = 1; i <= 5; i++)
        ins("INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status) VALUES (?, ?, ?, ?)", "iiit", L, C[i], U,
            status[i]);
    ins("INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status) VALUES (?, ?, ?, 'met')", "iii", L, CX, U2);
    /* Evidence: mapped and submitted in period 1; submitted in period 1 but mapped only to the
     * other qualification; submitted at 23:10 UTC on 25 Apr (26 Apr in the UK: period 2);
     * a draft (never submitted). */
    struct { const char *at; int64_t crit; } ev[] = {
        {"2026-02-01T12:00:00Z", 0}, {"2026-03-01T12:00:00Z", 0}, {"2026-04-25T23:10:00Z", 0}, {NULL, 0}};
    int64_t evc[] = {C[1], CX, C[2], C[3]};
    for (int i = 0; i < 4; i++) {
        int64_t e = ins("INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (?, 'E', 'product', ?, ?) RETURNING id",
                        "itt", L, ev[i].at ? "submitted" : "draft", ev[i].at);
        ins("INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", e, evc[i], L);
    }
    json_t *f = reviews_figures(db, L, Q, "2026-01-31", "2026-04-25");
    CHECK(f != NULL);
    CHECK_INT(json_integer_value(json_object_get(f, "criteria_met")), 2);
    CHECK_STR(json_string_value(json_object_get(f, "criteria_met_refs")), "U1 1.1, U1 1.3");
    CHECK_INT(json_integer_value(json_object_get(f, "evidence_submitted")), 1);
    json_decref(f);
    f = reviews_figures(db, L, Q, "2026-04-26", "2026-07-18");
    CHECK(f != NULL);
    CHECK_INT(json_integer_value(json_object_get(f, "criteria_met")), 2);
    CHECK_STR(json_string_value(json_object_get(f, "criteria_met_refs")), "U1 1.2, U1 1.4");
    CHECK_INT(json_integer_value(json_object_get(f, "evidence_submitted")), 1);
    json_decref(f);
    /* The whole enrolment: every criterion met now, each once. */
    f = reviews_figures(db, L, Q, "2026-01-31", "2027-01-31");
    CHECK_INT(json_integer_value(json_object_get(f, "criteria_met")), 4);
    CHECK_INT(json_integer_value(json_object_get(f, "evidence_submitted")), 2);
    json_decref(f);
}

int main(void)
{
    setenv("TZ", "Europe/London", 1);
    tzset();
    test_schedule();
    char path[] = "/tmp/test_reviews_XXXXXX";
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
    test_figures();
    db_close(db);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    TEST_DONE();
}
