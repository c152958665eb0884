/* test_rules.c: the assessment integrity rules (rules.c) against a real database: what a
 * decision needs, the RPL exception, ended enrolments, the frozen basis and what it freezes. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "db.h"
#include "rules.h"
#include "test.h"

static int check(db_t *db, const rules_decision_t *d, const char *want_code)
{
    rules_err_t e = {0};
    int rc = rules_check_decision(db, d, &e);
    if (!want_code)
        return rc == EV_OK;
    return rc == EV_ERR && strcmp(e.code, want_code) == 0;
}

static void rules(void)
{
    char path[] = "/tmp/evitrack-test-rules-XXXXXX", err[256];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    db_t *db = db_open(path);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    CHECK_INT(db_exec(db,
                      "INSERT INTO users (id, email, name, role, password_hash) VALUES"
                      " (1, 'l@t', 'L', 'learner', 'x'), (2, 'a@t', 'A', 'assessor', 'x');"
                      "INSERT INTO qualifications (id, code, title) VALUES (1, 'Q', 'Q');"
                      "INSERT INTO units (id, qualification_id, ref, title) VALUES (1, 1, 'U1', 'U');"
                      "INSERT INTO outcomes (id, unit_id, number, text) VALUES (1, 1, 1, 'o');"
                      "INSERT INTO criteria (id, unit_id, outcome_id, ref, text) VALUES"
                      " (1, 1, 1, '1.1', 'a'), (2, 1, 1, '1.2', 'b');"
                      "INSERT INTO enrolments (id, learner_id, qualification_id, assessor_id, start_date,"
                      " planned_end_date) VALUES (1, 1, 1, 2, '2026-01-01', '2027-01-01');"
                      "INSERT INTO evidence (id, learner_id, title, kind, status) VALUES"
                      " (1, 1, 'E', 'product', 'submitted'), (2, 1, 'Cert', 'recognition_of_prior_learning', 'submitted'),"
                      " (3, 1, 'Draft', 'product', 'draft');"
                      "INSERT INTO blobs (sha256, size) VALUES ('aa', 3);"
                      "INSERT INTO evidence_files (id, evidence_id, name, size, sha256, mime) VALUES"
                      " (7, 1, 'a.txt', 3, 'aa', 'text/plain');"
                      "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note) VALUES"
                      " (1, 1, 1, 'shows 1.1'), (3, 1, 1, '');"),
              EV_OK);
    json_t *vacsr = json_pack("{s:b, s:b, s:b, s:b, s:b}", "valid", 1, "authentic", 1, "current", 1,
                              "sufficient", 1, "reliable", 1);
    json_t *e1 = json_pack("[i]", 1), *e2 = json_pack("[i]", 2), *e3 = json_pack("[i]", 3), *none = json_array();
    rules_decision_t d = {1, 1, "met", "", vacsr, 1, e1, NULL};
    CHECK(check(db, &d, NULL));
    d.declaration = 0;
    CHECK(check(db, &d, "declaration_required"));
    d.declaration = 1;
    d.vacsr = NULL;
    CHECK(check(db, &d, "vacsr_incomplete"));
    d.vacsr = vacsr;
    d.evidence_ids = none;
    CHECK(check(db, &d, "evidence_required"));
    d.evidence_ids = e3;
    CHECK(check(db, &d, "not_submitted"));
    d.evidence_ids = e1;
    d.criterion_id = 2;
    CHECK(check(db, &d, "evidence_not_mapped"));
    d.evidence_ids = e2;
    CHECK(check(db, &d, "evidence_not_mapped"));
    d.rpl_reason = "Prior certificate";
    CHECK(check(db, &d, NULL));
    d.evidence_ids = e1;
    d.criterion_id = 1;
    CHECK(check(db, &d, "rpl_evidence_required"));
    d.rpl_reason = NULL;
    d.outcome = "not_met";
    CHECK(check(db, &d, "feedback_required"));
    d.feedback = "more";
    CHECK(check(db, &d, NULL));
    d.outcome = "maybe";
    CHECK(check(db, &d, "invalid_outcome"));
    d.outcome = "met";

    /* The basis is frozen at decision time and freezes the evidence while met and current. */
    CHECK_INT(db_run(db,
                     "INSERT INTO decisions (id, learner_id, criterion_id, assessor_id, outcome, declaration, created_at)"
                     " VALUES (10, 1, 1, 2, 'met', 1, '2026-11-23T10:00:00Z')", ""), EV_OK);
    CHECK_INT(db_run(db, "INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (10, 1)", ""), EV_OK);
    CHECK_INT(rules_freeze_basis(db, 10, 1, 1, e1), EV_OK);
    CHECK_INT(db_run(db, "DELETE FROM evidence_files WHERE id = 7", ""), EV_OK);
    json_t *basis = rules_basis(db, 10);
    json_t *f = json_array_get(json_object_get(json_array_get(basis, 0), "files"), 0);
    CHECK_STR(json_string_value(json_object_get(f, "sha256")), "aa");
    CHECK_INT(json_integer_value(json_object_get(f, "id")), 7);
    CHECK_STR(json_string_value(json_object_get(json_array_get(basis, 0), "note")), "shows 1.1");
    json_decref(basis);
    rules_err_t e;
    CHECK_INT(rules_check_files_change(db, 1, &e), EV_ERR);
    CHECK_STR(e.code, "evidence_frozen");
    int64_t keep1[] = {1}, keep2[] = {2};
    CHECK_INT(rules_check_mapping_change(db, 1, keep1, 1, &e), EV_OK);
    CHECK_INT(rules_check_mapping_change(db, 1, keep2, 1, &e), EV_ERR);
    CHECK_STR(e.code, "criterion_met_frozen");
    CHECK_INT(rules_check_files_change(db, 2, &e), EV_OK);
    /* Superseded by a not yet met decision: no longer frozen. */
    CHECK_INT(db_run(db,
                     "INSERT INTO decisions (id, learner_id, criterion_id, assessor_id, outcome, declaration,"
                     " supersedes_id, created_at) VALUES (11, 1, 1, 2, 'not_met', 1, 10, '2026-11-24T10:00:00Z')", ""),
              EV_OK);
    CHECK_INT(rules_check_files_change(db, 1, &e), EV_OK);

    /* An ended enrolment takes no new decisions. */
    CHECK_INT(rules_check_enrolment_open(db, 1, 1, &e), EV_OK);
    CHECK_INT(db_run(db, "UPDATE enrolments SET status = 'withdrawn' WHERE id = 1", ""), EV_OK);
    CHECK_INT(rules_check_enrolment_open(db, 1, 1, &e), EV_ERR);
    CHECK_STR(e.code, "enrolment_ended");
    CHECK(check(db, &d, "enrolment_ended"));

    json_decref(vacsr);
    json_decref(e1);
    json_decref(e2);
    json_decref(e3);
    json_decref(none);
    db_close(db);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

int main(void)
{
    rules();
    TEST_DONE();
}
