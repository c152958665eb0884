/* test_decisions.c: decisions helpers (labels, ages, VACSR, readable times) and how a
 * decision settles its evidence across assessment rounds, against a real database. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "db.h"
#include "decisions.h"
#include "test.h"
#include "testdb.h"

static void helpers(void)
{
    char text[32];
    CHECK_STR(decisions_kind_label("witness_testimony"), "Witness testimony");
    CHECK_STR(decisions_kind_label("something_else"), "something_else");
    CHECK_INT(decisions_age("not a time", text, sizeof text), -1);
    char now[21];
    util_now_iso(now);
    CHECK_INT(decisions_age(now, text, sizeof text), 0);
    CHECK_STR(text, "just now");
    CHECK_INT(decisions_age("2000-01-01T00:00:00Z", text, sizeof text) > 9000, 1);

    json_t *v = json_pack("{s:b, s:b, s:b, s:b, s:b}", "valid", 1, "authentic", 1, "current", 1, "sufficient", 1,
                          "reliable", 1);
    CHECK(decisions_vacsr_all(v));
    json_object_set_new(v, "current", json_false());
    CHECK(!decisions_vacsr_all(v));
    CHECK(!decisions_vacsr_all(NULL));
    json_t *list = decisions_vacsr_list(v);
    CHECK_INT(json_array_size(list), 5);
    CHECK(json_is_true(json_object_get(json_array_get(list, 0), "checked")));
    CHECK(json_is_false(json_object_get(json_array_get(list, 2), "checked")));
    json_decref(list);
    json_decref(v);

    json_t *o = json_pack("{s:s, s:[{s:s, s:s}], s:s}", "created_at", "2026-11-23T09:05:00Z", "items", "at",
                          "2026-01-02T10:00:00Z", "note", "2026", "title_at", "not a time");
    decisions_humanize(o);
    CHECK_STR(json_string_value(json_object_get(o, "created_at_text")), "23 Nov 2026, 09:05");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(o, "items"), 0), "at_text")),
              "2 Jan 2026, 10:00");
    CHECK(json_object_get(o, "title_at_text") == NULL);
    json_decref(o);
}

static const char *evidence_status(db_t *db, int64_t id, char *buf, size_t n)
{
    char *s = db_text(db, "SELECT status FROM evidence WHERE id = ?", "i", id);
    snprintf(buf, n, "%s", s ? s : "(none)");
    free(s);
    return buf;
}

static int64_t decide(db_t *db, int64_t criterion, const char *outcome, int64_t evidence)
{
    int64_t id = db_int(db,
                        "INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, declaration, created_at)"
                        " VALUES (1, ?, 2, ?, 1, '2026-11-23T10:00:00Z') RETURNING id",
                        0, "it", criterion, outcome);
    db_run(db, "INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)", "ii", id, evidence);
    return id;
}

static void settle(void)
{
    char path[] = "/tmp/evitrack-test-decisions-XXXXXX", err[256], buf[32];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    db_t *db = test_db_open(path);
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
                      "INSERT INTO evidence (id, learner_id, title, kind) VALUES (1, 1, 'E', 'product');"
                      "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (1, 1, 1), (1, 2, 1);"
                      "UPDATE evidence SET status = 'submitted', submitted_at = '2026-11-23T09:00:00Z';"),
              EV_OK);
    CHECK_INT(db_int(db, "SELECT round FROM evidence_rounds WHERE evidence_id = 1", 0, ""), 1);

    /* Round 1: one criterion met, nothing else yet: still submitted. */
    decide(db, 1, "met", 1);
    CHECK_INT(decisions_settle_evidence(db, 2, 1), EV_OK);
    CHECK_STR(evidence_status(db, 1, buf, sizeof buf), "submitted");
    /* The other not yet met: back to the learner. */
    int64_t nm = decide(db, 2, "not_met", 1);
    CHECK_INT(decisions_settle_evidence(db, 2, 1), EV_OK);
    CHECK_STR(evidence_status(db, 1, buf, sizeof buf), "returned");
    CHECK_INT(db_int(db, "SELECT COUNT(*) FROM audit_events WHERE action = 'evidence.return'", 0, ""), 1);

    /* Round 2: resubmitted; the old not yet met no longer counts. */
    db_run(db, "UPDATE evidence SET status = 'submitted' WHERE id = 1", "");
    CHECK_INT(db_int(db, "SELECT round FROM evidence_rounds WHERE evidence_id = 1", 0, ""), 2);
    CHECK_INT(db_int(db, "SELECT decision_mark FROM evidence_rounds WHERE evidence_id = 1", 0, ""), nm);
    decide(db, 1, "met", 1);
    CHECK_INT(decisions_settle_evidence(db, 2, 1), EV_OK);
    CHECK_STR(evidence_status(db, 1, buf, sizeof buf), "submitted");
    decide(db, 2, "met", 1);
    CHECK_INT(decisions_settle_evidence(db, 2, 1), EV_OK);
    CHECK_STR(evidence_status(db, 1, buf, sizeof buf), "assessed");
    CHECK_INT(db_int(db, "SELECT COUNT(*) FROM audit_events WHERE action = 'evidence.assess'", 0, ""), 1);

    /* Decisions are append-only. */
    CHECK_INT(db_run(db, "UPDATE decisions SET outcome = 'met' WHERE id = ?", "i", nm), EV_ERR);
    CHECK_INT(db_run(db, "DELETE FROM decisions WHERE id = ?", "i", nm), EV_ERR);
    CHECK_INT(db_int(db, "SELECT outcome = 'not_met' FROM decisions WHERE id = ?", 0, "i", nm), 1);

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
    helpers();
    settle();
    TEST_DONE();
}
