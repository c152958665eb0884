/* test_db.c: migrations, query helpers, the derived criterion status and the audit chain */
#include <unistd.h>

#include "audit.h"
#include "db.h"
#include "status.h"
#include "test.h"
#include "testdb.h"

static db_t *fresh(const char *path)
{
    unlink(path);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    return test_db_open(path);
}

static void test_migrations(void)
{
    char err[300] = "";
    db_t *db = fresh("test_db_migrate.db");
    CHECK(db != NULL);
    CHECK_INT(db_version(db), 0);
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    CHECK_INT(db_version(db), db_latest_version());
    CHECK(db_latest_version() >= 4);
    /* running again changes nothing */
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM schema_version", -1, ""),
              db_int(db, "SELECT count(*) FROM schema_version", -2, "")); /* one row per file */
    {
        int files = 0;
        for (const db_migration_t *m = db_migrations; m->name; m++)
            files++;
        CHECK_INT(db_int(db, "SELECT count(*) FROM schema_version", -1, ""), files);
        /* versions are the files' numbers: 001_core.sql is version 1 */
        CHECK_INT(db_int(db, "SELECT version FROM schema_version WHERE name = '001_core.sql'", -1, ""), 1);
    }
    if (!db_is_pg(db)) { /* SQLite's pragmas */
        char *mode = db_text(db, "PRAGMA journal_mode", "");
        CHECK_STR(mode, "wal");
        free(mode);
        CHECK_INT(db_int(db, "PRAGMA foreign_keys", -1, ""), 1);
        CHECK_INT(db_int(db, "PRAGMA synchronous", -1, ""), 2); /* FULL */
    }
    CHECK_STR(db_engine(db), test_on_pg() ? "postgresql" : "sqlite");
    /* a migration not yet recorded applies even below the newest recorded one
     * (files landed out of number order): with version 1 unrecorded, migrate
     * tries 001 again (and fails here, as its tables exist) */
    CHECK_INT(db_run(db, "DELETE FROM schema_version WHERE version = 1", ""), EV_OK);
    CHECK_INT(db_migrate(db, err, sizeof err), EV_ERR);
    CHECK(strstr(err, "001_core.sql") != NULL);
    CHECK_INT(db_run(db, "INSERT INTO schema_version (version, name, applied_at) VALUES (1, '001_core.sql', 'x')", ""),
              EV_OK);
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    /* a database from a newer evitrack is refused */
    CHECK_INT(db_run(db, "INSERT INTO schema_version VALUES (?, 'future.sql', 'x')", "I", db_latest_version() + 1), EV_OK);
    CHECK_INT(db_migrate(db, err, sizeof err), EV_ERR);
    CHECK(strstr(err, "newer") != NULL);
    db_close(db);

    /* a failing migration leaves the version where it was */
    db = fresh("test_db_migrate2.db");
    CHECK_INT(db_exec(db, "CREATE TABLE users (x INTEGER)"), EV_OK); /* collides with 001 */
    CHECK_INT(db_migrate(db, err, sizeof err), EV_ERR);
    CHECK(strstr(err, "001_core.sql") != NULL);
    CHECK_INT(db_version(db), 0);
    db_close(db);
}

static void test_helpers(db_t *db)
{
    int64_t id = db_int(db, "INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, ?, ?) RETURNING id", 0, "tttt",
                     "a@x.test", "Ann <b>", "learner", "h");
    CHECK(id > 0);
    json_t *row = db_one(db, "SELECT id, name, disabled, '[1,2]' AS list_json FROM users WHERE id = ?", "i", id);
    CHECK(row != NULL);
    CHECK_STR(json_string_value(json_object_get(row, "name")), "Ann <b>");
    CHECK_INT(json_integer_value(json_object_get(row, "disabled")), 0);
    CHECK_INT(json_array_size(json_object_get(row, "list")), 2);
    json_decref(row);
    CHECK(db_one(db, "SELECT id FROM users WHERE id = ?", "i", (int64_t)999) == NULL);
    json_t *all = db_all(db, "SELECT id FROM users WHERE email LIKE ?", "t", "%@x.test");
    CHECK_INT(json_array_size(all), 1);
    json_decref(all);
    /* the same statement is cached and reused */
    static const char *const one = "SELECT 1";
    db_stmt_t *a = db_query(db, one, "");
    CHECK_INT(db_next(a), 1);
    CHECK_INT(db_col_int(a, 0), 1);
    CHECK_INT(db_next(a), 0);
    db_stmt_done(a);
    db_stmt_t *b = db_query(db, one, "");
    CHECK(a == b);
    db_stmt_done(b);
    /* NULL binding for optional ids */
    CHECK_INT(db_int(db, "SELECT ? IS NULL", -1, "z", (int64_t)0), 1);
    CHECK_INT(db_int(db, "SELECT ?", -1, "z", (int64_t)7), 7);
    /* bad SQL fails cleanly */
    CHECK(db_all(db, "SELECT nonsense FROM nowhere", "") == NULL);
}

static int64_t add_user(db_t *db, const char *email, const char *role)
{
    return db_int(db, "INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, ?, 'h') RETURNING id", 0,
                  "ttt", email, email, role);
}

static void test_status(db_t *db)
{
    int64_t learner = add_user(db, "l@x.test", "learner");
    int64_t assessor = add_user(db, "a@y.test", "assessor");
    int64_t q = db_int(db, "INSERT INTO qualifications (code, title) VALUES ('Q1', 'Q') RETURNING id", 0, "");
    int64_t u = db_int(db, "INSERT INTO units (qualification_id, ref, title) VALUES (?, 'U1', 'Unit') RETURNING id", 0, "i", q);
    int64_t o = db_int(db, "INSERT INTO outcomes (unit_id, number, text) VALUES (?, 1, 'LO') RETURNING id", 0, "i", u);
    int64_t c[3];
    for (int i = 0; i < 3; i++) {
        char ref[8];
        snprintf(ref, sizeof ref, "1.%d", i + 1);
        c[i] = db_int(db, "INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, 'AC', ?)"
                          " RETURNING id", 0, "iitI", u, o, ref, i);
    }
    db_run(db, "INSERT INTO enrolments (learner_id, qualification_id, assessor_id, start_date, planned_end_date)"
               " VALUES (?, ?, ?, '2026-01-01', '2027-01-01')", "iii", learner, q, assessor);
    CHECK_INT(status_sync_learner(db, learner), EV_OK);
    CHECK_INT(db_int(db, "SELECT total FROM unit_progress WHERE learner_id = ? AND unit_id = ?", -1, "ii", learner, u), 3);

    int64_t e = db_int(db, "INSERT INTO evidence (learner_id, title, kind) VALUES (?, 'E', 'product') RETURNING id", 0, "i", learner);
    db_run(db, "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", e, c[0], learner);
    db_run(db, "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (?, ?, ?)", "iii", e, c[1], learner);
    CHECK_INT(status_refresh_learner(db, learner), EV_OK);
    CHECK_INT(db_int(db, "SELECT mapped FROM unit_progress WHERE learner_id = ?", -1, "i", learner), 2);

    db_run(db, "UPDATE evidence SET status = 'submitted' WHERE id = ?", "i", e);
    status_refresh_learner(db, learner);
    CHECK_INT(db_int(db, "SELECT submitted FROM unit_progress WHERE learner_id = ?", -1, "i", learner), 2);
    CHECK_INT(db_int(db, "SELECT mapped FROM unit_progress WHERE learner_id = ?", -1, "i", learner), 0);

    db_run(db, "INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (?, ?, ?, 'met', 'x')",
           "iii", learner, c[0], assessor);
    db_run(db, "INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (?, ?, ?, 'not_met', 'x')",
           "iii", learner, c[1], assessor);
    db_run(db, "UPDATE evidence SET status = 'returned' WHERE id = ?", "i", e);
    status_refresh_learner(db, learner);
    json_t *up = db_one(db, "SELECT total, mapped, submitted, met, not_met FROM unit_progress WHERE learner_id = ?", "i", learner);
    CHECK_INT(json_integer_value(json_object_get(up, "met")), 1);
    CHECK_INT(json_integer_value(json_object_get(up, "not_met")), 1);
    CHECK_INT(json_integer_value(json_object_get(up, "submitted")), 0);
    CHECK_INT(json_integer_value(json_object_get(up, "mapped")), 0);
    CHECK_INT(json_integer_value(json_object_get(up, "total")), 3);
    json_decref(up);
    char *s = db_text(db, "SELECT status FROM criterion_status WHERE learner_id = ? AND criterion_id = ?", "ii", learner, c[2]);
    CHECK_STR(s, "not_started");
    free(s);
    /* decisions are never edited */
    CHECK_INT(db_run(db, "UPDATE decisions SET outcome = 'met'", ""), EV_ERR);
    /* a retired criterion leaves the summary */
    db_run(db, "UPDATE criteria SET retired = 1 WHERE id = ?", "i", c[2]);
    status_sync_learner(db, learner);
    CHECK_INT(db_int(db, "SELECT total FROM unit_progress WHERE learner_id = ?", -1, "i", learner), 2);
}

static void test_audit(db_t *db)
{
    json_t *after = json_pack("{s:s}", "title", "New");
    CHECK_INT(audit_record(db, 0, "test.one", "thing", 1, 0, NULL, after), EV_OK);
    CHECK_INT(audit_record(db, 1, "test.two", "thing", 1, 1, after, after), EV_OK);
    CHECK_INT(audit_record(db, 1, "test.three", "thing", 2, 0, NULL, NULL), EV_OK);
    json_decref(after);
    int64_t count = 0, bad = 0;
    char reason[200] = "";
    CHECK_INT(audit_verify(db, &count, &bad, reason, sizeof reason), EV_OK);
    CHECK_INT(count, 3);
    /* the table refuses changes */
    CHECK_INT(db_run(db, "UPDATE audit_events SET action = 'x'", ""), EV_ERR);
    CHECK_INT(db_run(db, "DELETE FROM audit_events", ""), EV_ERR);
    /* tampering behind the program's back is found and named */
    int64_t second = db_int(db, "SELECT id FROM audit_events WHERE action = 'test.two'", 0, "");
    db_exec(db, db_is_pg(db) ? "DROP TRIGGER audit_no_update ON audit_events" : "DROP TRIGGER audit_no_update");
    CHECK_INT(db_run(db, "UPDATE audit_events SET after = '{\"title\":\"Forged\"}' WHERE id = ?", "i", second), EV_OK);
    CHECK_INT(audit_verify(db, &count, &bad, reason, sizeof reason), EV_ERR);
    CHECK_INT(bad, second);
    CHECK(strstr(reason, "altered") != NULL);
}

/* The chain on PostgreSQL: events are written unlinked and linked in id order by the
 * chainer, which must not link past an event whose transaction is still open (it would
 * then have to go in between later); unlinked events past the grace period are an error. */
static void test_audit_chain(void)
{
    char err[300];
    db_t *db = fresh("test_db_chain.db");
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    if (!db_is_pg(db)) {
        /* SQLite: linked as written, nothing waits */
        CHECK_INT(audit_record(db, 0, "chain.one", "thing", 1, 0, NULL, NULL), EV_OK);
        CHECK_INT(audit_unlinked(db), 0);
        CHECK_INT(audit_chain_sync(db, 0), EV_OK);
        db_close(db);
        return;
    }
    db_t *a = db_open(test_db_target), *b = db_open(test_db_target);
    CHECK(a && b);
    if (!a || !b)
        goto out;
    /* a: an event in a transaction still open; b: a later event, committed */
    CHECK_INT(db_begin(a), EV_OK);
    CHECK_INT(audit_record(a, 0, "chain.early", "thing", 1, 0, NULL, NULL), EV_OK);
    CHECK_INT(audit_record(b, 0, "chain.late", "thing", 2, 0, NULL, NULL), EV_OK);
    int64_t late = db_int(b, "SELECT id FROM audit_events WHERE action = 'chain.late'", 0, "");
    CHECK(late > 0);
    CHECK_INT(audit_unlinked(b), 1);
    int64_t count = -1, bad = -1;
    char reason[300] = "";
    /* the chain cannot take the late event yet: it waits, and within the grace period that is fine */
    audit_chain_configure(60, 300);
    CHECK_INT(audit_chain_sync(b, 300), EV_ERR);
    CHECK_INT(audit_verify(b, &count, &bad, reason, sizeof reason), EV_OK);
    CHECK_INT(count, 0);
    CHECK_INT(db_int(b, "SELECT count(*) FROM audit_events WHERE hash IS NULL AND id = ?", -1, "i", late), 1);
    /* an unlinked event older than the grace period is an error */
    CHECK_INT(db_run(b, "INSERT INTO audit_events (at, action, entity) VALUES ('2020-01-01T00:00:00Z', 'chain.old', 'thing')",
                     ""), EV_OK);
    int64_t old = db_int(b, "SELECT id FROM audit_events WHERE action = 'chain.old'", 0, "");
    CHECK_INT(audit_verify(b, &count, &bad, reason, sizeof reason), EV_ERR);
    CHECK_INT(bad, old);
    CHECK(strstr(reason, "still not in the chain") != NULL);
    /* once a commits, all three are linked in id order: early, late, old */
    CHECK_INT(db_commit(a), EV_OK);
    int64_t early = db_int(b, "SELECT id FROM audit_events WHERE action = 'chain.early'", 0, "");
    CHECK(early < late && late < old);
    audit_chain_configure(60, 5000);
    CHECK_INT(audit_verify(b, &count, &bad, reason, sizeof reason), EV_OK);
    CHECK_INT(count, 3);
    CHECK_INT(audit_unlinked(b), 0);
    char *h1 = db_text(b, "SELECT hash FROM audit_events WHERE id = ?", "i", early);
    char *p2 = db_text(b, "SELECT prev_hash FROM audit_events WHERE id = ?", "i", late);
    CHECK(h1 && p2 && strcmp(h1, p2) == 0);
    /* linked events stay as they are; linking may not change an event's content; no fork */
    CHECK_INT(db_run(b, "UPDATE audit_events SET prev_hash = NULL, hash = NULL WHERE id = ?", "i", early), EV_ERR);
    CHECK_INT(db_run(b, "INSERT INTO audit_events (at, action, entity) VALUES ('2026-01-01T00:00:00Z', 'chain.new', 'thing')",
                     ""), EV_OK);
    CHECK_INT(db_run(b, "UPDATE audit_events SET prev_hash = 'x', hash = 'y', action = 'z' WHERE action = 'chain.new'",
                     ""), EV_ERR);
    CHECK_INT(db_run(b, "UPDATE audit_events SET prev_hash = ?, hash = 'y' WHERE action = 'chain.new'", "t", h1), EV_ERR);
    free(h1);
    free(p2);
out:
    audit_chain_configure(60, 10000);
    db_close(a);
    db_close(b);
    db_close(db);
}

int main(void)
{
    test_migrations();
    char err[300];
    db_t *db = fresh("test_db_main.db");
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);
    test_helpers(db);
    test_status(db);
    test_audit(db);
    db_close(db);
    test_audit_chain();
    TEST_DONE();
}
