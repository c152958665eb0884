/* test_iqaplan.c: the IQA sampling plan: shares by risk rating, targets, due counts, the due list and coverage */
#include <unistd.h>

#include "db.h"
#include "iqa.h"
#include "iqaplan.h"
#include "test.h"
#include "testdb.h"

static void test_arithmetic(void)
{
    CHECK_INT(iqaplan_percent("new"), 100);
    CHECK_INT(iqaplan_percent("under_development"), 50);
    CHECK_INT(iqaplan_percent("experienced"), 20);
    CHECK_INT(iqaplan_percent("expert"), -1);
    CHECK_INT(iqaplan_percent(NULL), -1);
    /* rounded up: any decision at all means at least one sample */
    CHECK_INT(iqaplan_target(0, 20), 0);
    CHECK_INT(iqaplan_target(1, 20), 1);
    CHECK_INT(iqaplan_target(5, 20), 1);
    CHECK_INT(iqaplan_target(6, 20), 2);
    CHECK_INT(iqaplan_target(10, 20), 2);
    CHECK_INT(iqaplan_target(11, 20), 3);
    CHECK_INT(iqaplan_target(7, 50), 4);
    CHECK_INT(iqaplan_target(7, 100), 7);
    CHECK_INT(iqaplan_target(7, 0), 0);
    CHECK_INT(iqaplan_target(7, -1), 0);
    CHECK_INT(iqaplan_target(7, 150), 7);
    CHECK_INT(iqaplan_due(10, 0, 20), 2);
    CHECK_INT(iqaplan_due(10, 1, 20), 1);
    CHECK_INT(iqaplan_due(10, 5, 20), 0); /* never below 0 */
    CHECK_INT(iqaplan_due(0, 0, 100), 0);
}

static json_t *find(json_t *list, const char *key, int64_t id)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (json_integer_value(json_object_get(e, key)) == id) return e;
    return NULL;
}

/* Two assessors, one IQA over learner 10 and 11, another IQA over learner 12. Assessor 2
 * (new) made 3 decisions for learner 10 and 1 for learner 11; assessor 3 (experienced)
 * 6 for learner 12. One of assessor 2's decisions is sampled. */
static void test_build(void)
{
    unlink("test_iqaplan.db");
    db_t *db = test_db_open("test_iqaplan.db");
    char err[300] = "";
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    CHECK_INT(db_exec(db,
                      "INSERT INTO users (id, email, name, role, password_hash) VALUES"
                      " (1, 'iqa@t', 'Iqa One', 'iqa', 'x'), (2, 'a2@t', 'Ann New', 'assessor', 'x'),"
                      " (3, 'a3@t', 'Bob Old', 'assessor', 'x'), (4, 'iqa2@t', 'Iqa Two', 'iqa', 'x'),"
                      " (10, 'l10@t', 'Lara', 'learner', 'x'), (11, 'l11@t', 'Liam', 'learner', 'x'),"
                      " (12, 'l12@t', 'Lena', 'learner', 'x');"
                      "INSERT INTO qualifications (id, code, title) VALUES (1, 'Q1', 'Q one');"
                      "INSERT INTO units (id, qualification_id, ref, title, position) VALUES (1, 1, 'U1', 'u1', 1),"
                      " (2, 1, 'U2', 'u2', 2);"
                      "INSERT INTO outcomes (id, unit_id, number, text) VALUES (1, 1, 1, 'o'), (2, 2, 1, 'o');"
                      "INSERT INTO criteria (id, unit_id, outcome_id, ref, text, position) VALUES"
                      " (1, 1, 1, '1.1', 'c', 1), (2, 1, 1, '1.2', 'c', 2), (3, 2, 2, '1.1', 'c', 1),"
                      " (4, 2, 2, '1.2', 'c', 2), (5, 1, 1, '1.3', 'c', 3), (6, 2, 2, '1.3', 'c', 3);"
                      "INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date,"
                      " planned_end_date, status, site) VALUES (10, 1, 2, 1, '2026-01-01', '2027-01-01', 'active', 'Leeds'),"
                      " (11, 1, 2, 1, '2026-01-01', '2027-01-01', 'active', ''),"
                      " (12, 1, 3, 4, '2026-01-01', '2027-01-01', 'active', '');"
                      "INSERT INTO decisions (id, learner_id, criterion_id, assessor_id, outcome, created_at) VALUES"
                      " (1, 10, 1, 2, 'met', '2026-02-01T10:00:00Z'), (2, 10, 2, 2, 'met', '2026-02-02T10:00:00Z'),"
                      " (3, 10, 3, 2, 'met', '2026-02-03T10:00:00Z'), (4, 11, 1, 2, 'met', '2026-02-04T10:00:00Z'),"
                      " (5, 12, 1, 3, 'met', '2026-02-01T10:00:00Z'), (6, 12, 2, 3, 'met', '2026-02-01T10:00:00Z'),"
                      " (7, 12, 3, 3, 'met', '2026-02-01T10:00:00Z'), (8, 12, 4, 3, 'met', '2026-02-01T10:00:00Z'),"
                      " (9, 12, 5, 3, 'met', '2026-02-01T10:00:00Z'), (10, 12, 6, 3, 'met', '2026-02-01T10:00:00Z');"
                      "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at, stage) VALUES"
                      " (1, 1, 'agree', '2026-03-01T10:00:00Z', 'interim');"
                      "INSERT INTO iqa_assessor_risk (assessor_id, rating, set_at) VALUES"
                      " (3, 'experienced', '2026-01-01T00:00:00Z');"),
              EV_OK);
    /* rows inserted directly: the coverage summaries the application keeps as it writes
     * (iqa.h) are filled as a bulk load would */
    CHECK(iqa_coverage_rebuild(db) == EV_OK);

    /* IQA 1: only assessor 2's four decisions; new = 100%: target 4, due 3 */
    json_t *plan = iqaplan_build(db, 1, 100);
    CHECK(plan != NULL);
    json_t *as = json_object_get(plan, "assessors");
    CHECK_INT(json_array_size(as), 1);
    json_t *a2 = find(as, "id", 2);
    CHECK(a2 != NULL);
    CHECK_STR(json_string_value(json_object_get(a2, "rating")), "new");
    CHECK_INT(json_integer_value(json_object_get(a2, "decisions")), 4);
    CHECK_INT(json_integer_value(json_object_get(a2, "sampled")), 1);
    CHECK_INT(json_integer_value(json_object_get(a2, "target")), 4);
    CHECK_INT(json_integer_value(json_object_get(a2, "due")), 3);
    CHECK_INT(json_integer_value(json_object_get(a2, "interim")), 1);
    /* the due list: Liam (never sampled for Ann) first, then U2 (unit never sampled), then the rest */
    json_t *due = json_object_get(plan, "due");
    CHECK_INT(json_array_size(due), 3);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(due, 0), "decision_id")), 4);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(due, 1), "decision_id")), 3);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(due, 2), "decision_id")), 2);
    /* candidates and sites */
    json_t *cam = json_object_get(plan, "camera");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(cam, "candidates"), "learners")), 2);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(cam, "candidates"), "sampled")), 1);
    json_t *sites = json_object_get(cam, "sites");
    CHECK_INT(json_array_size(sites), 2);
    json_decref(plan);

    /* due_limit caps the list */
    plan = iqaplan_build(db, 1, 2);
    CHECK_INT(json_array_size(json_object_get(plan, "due")), 2);
    json_decref(plan);

    /* the whole centre: assessor 3 is experienced: 6 decisions at 20% -> 2 due */
    plan = iqaplan_build(db, 0, 100);
    as = json_object_get(plan, "assessors");
    CHECK_INT(json_array_size(as), 2);
    json_t *a3 = find(as, "id", 3);
    CHECK(a3 != NULL);
    CHECK_INT(json_integer_value(json_object_get(a3, "percent")), 20);
    CHECK_INT(json_integer_value(json_object_get(a3, "target")), 2);
    CHECK_INT(json_integer_value(json_object_get(a3, "due")), 2);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(plan, "totals"), "due")), 5);
    CHECK_INT(json_array_size(json_object_get(plan, "due")), 5);
    json_decref(plan);

    /* sampling two of assessor 3's decisions puts them on plan */
    CHECK_INT(db_exec(db, "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at, stage) VALUES"
                          " (5, 4, 'agree', '2026-03-01T10:00:00Z', 'summative'),"
                          " (6, 4, 'agree', '2026-03-01T10:00:00Z', 'summative')"), EV_OK);
    plan = iqaplan_build(db, 4, 100);
    a3 = find(json_object_get(plan, "assessors"), "id", 3);
    CHECK_INT(json_integer_value(json_object_get(a3, "due")), 0);
    CHECK(json_is_true(json_object_get(a3, "on_plan")));
    CHECK_INT(json_integer_value(json_object_get(a3, "summative")), 2);
    CHECK_INT(json_array_size(json_object_get(plan, "due")), 0);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(plan, "stages"), "summative")), 2);
    json_decref(plan);

    /* default stage: interim, summative once the unit is signed off */
    CHECK_STR(iqaplan_default_stage(db, 2), "interim");
    CHECK_INT(db_exec(db, "INSERT INTO unit_signoffs (learner_id, unit_id, assessor_id, assessor_signed_at)"
                          " VALUES (10, 1, 2, '2026-04-01T10:00:00Z')"), EV_OK);
    CHECK_STR(iqaplan_default_stage(db, 2), "summative");
    CHECK_STR(iqaplan_default_stage(db, 3), "interim");
    db_close(db);
}

int main(void)
{
    test_arithmetic();
    test_build();
    TEST_DONE();
}
