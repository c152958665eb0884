/* test_auth.c: password hashing, token hashing, throttling and the access policy table */
#include <unistd.h>

#include "auth.h"
#include "db.h"
#include "policy.h"
#include "session.h"
#include "test.h"
#include "testdb.h"
#include "users.h"

static db_t *fresh(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    db_t *db = test_db_open(path);
    char err[300] = "";
    if (db && db_migrate(db, err, sizeof err) != EV_OK) {
        fprintf(stderr, "migrate: %s\n", err);
        db_close(db);
        return NULL;
    }
    return db;
}

static void test_hashing(void)
{
    char h[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];
    CHECK_INT(auth_init(), EV_OK);
    CHECK_INT(auth_hash_password("correct horse battery", h), EV_OK);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(strstr(h, "m=65536,t=2,p=1") != NULL); /* the documented parameters */
    CHECK_INT(auth_verify_password(h, "correct horse battery"), 1);
    CHECK_INT(auth_verify_password(h, "correct horse batterY"), 0);
    CHECK_INT(auth_verify_password(h, ""), 0);
    CHECK_INT(auth_verify_password("not a hash", "x"), 0);
    CHECK_INT(auth_verify_password(NULL, "x"), 0);
    /* salted: the same password hashes differently */
    CHECK_INT(auth_hash_password("correct horse battery", h2), EV_OK);
    CHECK(strcmp(h, h2) != 0);
    CHECK_INT(auth_needs_rehash(h), 0);
    CHECK_INT(auth_needs_rehash("$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"), 1);

    /* timing: a wrong password and a verify against another hash cost about the same */
    uint64_t t0 = util_now_us();
    auth_verify_password(h, "wrong");
    uint64_t t1 = util_now_us();
    auth_verify_password(h2, "wrong again");
    uint64_t t2 = util_now_us();
    printf("argon2id verify: %.1f ms, %.1f ms\n", (t1 - t0) / 1000.0, (t2 - t1) / 1000.0);
    CHECK(t1 - t0 > 5000); /* really does the memory-hard work */

    CHECK(auth_password_problem("short") != NULL);
    CHECK(auth_password_problem("") != NULL);
    CHECK(auth_password_problem(NULL) != NULL);
    CHECK(auth_password_problem("long enough pw") == NULL);
    /* ten characters, not ten bytes */
    CHECK(auth_password_problem("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9") != NULL);
}

static void test_tokens(void)
{
    char out[65];
    /* SHA-256("abc") */
    session_hash_token("abc", out);
    CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char *c = session_cookie(NULL, "00ff");
    CHECK(strstr(c, "evitrack_session=00ff;") == c);
    CHECK(strstr(c, "HttpOnly") != NULL);
    CHECK(strstr(c, "SameSite=Lax") != NULL);
    CHECK(strstr(c, "Path=/") != NULL);
    CHECK(strstr(c, "Secure") == NULL);
    free(c);
    app_t app = {0};
    app.secure_cookies = 1;
    c = session_cookie(&app, "00ff");
    CHECK(strstr(c, "; Secure") != NULL);
    free(c);
    app.secure_cookies = 0;
    app.tls = 1;
    c = session_cookie(&app, NULL);
    CHECK(strstr(c, "evitrack_session=;") == c);
    CHECK(strstr(c, "Max-Age=0") != NULL);
    CHECK(strstr(c, "; Secure") != NULL);
    free(c);
}

static int64_t user_id(db_t *db, const char *email)
{
    return db_int(db, "SELECT id FROM users WHERE email = ?", 0, "t", email);
}

static user_t as(db_t *db, const char *email)
{
    user_t u = {0};
    json_t *row = db_one(db, "SELECT id, role FROM users WHERE email = ?", "t", email);
    if (row) {
        u.id = json_integer_value(json_object_get(row, "id"));
        u.role = role_from_name(json_string_value(json_object_get(row, "role")));
        snprintf(u.email, sizeof u.email, "%s", email);
    }
    json_decref(row);
    return u;
}

static void test_policy(void)
{
    db_t *db = fresh("test_auth_policy.db");
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_INT(db_exec(db, "INSERT INTO qualifications (id, code, title) VALUES (1, 'Q1', 'Q one'), (2, 'Q2', 'Q two');"
                          "INSERT INTO units (id, qualification_id, ref, title) VALUES (1, 1, 'U1', 'u1'), (2, 2, 'U2', 'u2');"
                          "INSERT INTO outcomes (id, unit_id, number, text) VALUES (1, 1, 1, 'o'), (2, 2, 1, 'o');"
                          "INSERT INTO criteria (id, unit_id, outcome_id, ref, text) VALUES (1, 1, 1, '1.1', 'c'), (2, 2, 2, '1.1', 'c');"),
              EV_OK);
    CHECK_INT(users_demo_seed(db), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM users", 0, ""), 8);
    /* 3 learners x 2 qualifications */
    CHECK_INT(db_int(db, "SELECT count(*) FROM enrolments", 0, ""), 6);

    int64_t l1 = user_id(db, "learner@demo.test"), l2 = user_id(db, "learner2@demo.test");
    int64_t l3 = user_id(db, "learner3@demo.test");
    user_t admin = as(db, "admin@demo.test"), a1 = as(db, "assessor@demo.test");
    user_t a2 = as(db, "assessor2@demo.test"), iqa = as(db, "iqa@demo.test"), eqa = as(db, "eqa@demo.test");
    user_t u1 = as(db, "learner@demo.test"), u3 = as(db, "learner3@demo.test"), nobody = {0};
    /* EQA visits (issue 18): one open for Ben (l2) and Chloe (l3) on Q1, one ended for Amy (l1) */
    CHECK_INT(db_run(db, "INSERT INTO eqa_visits (id, eqa_id, starts_at, ends_at, sample_rule, created_by, created_at)"
                         " VALUES (1, ?, '2000-01-01T00:00:00Z', '2999-01-01T00:00:00Z', 'test', ?, '2026-01-01T00:00:00Z'),"
                         " (2, ?, '2001-01-01T00:00:00Z', '2001-02-01T00:00:00Z', 'test', ?, '2026-01-01T00:00:00Z')",
                     "iiii", eqa.id, admin.id, eqa.id, admin.id), EV_OK);
    CHECK_INT(db_run(db, "INSERT INTO eqa_visit_qualifications (visit_id, qualification_id) VALUES (1, 1), (2, 1)", ""), EV_OK);
    CHECK_INT(db_run(db, "INSERT INTO eqa_visit_learners (visit_id, learner_id) VALUES (1, ?), (1, ?), (2, ?)", "iii",
                     l2, l3, l1), EV_OK);

    /* the table: who may read / assess / sample / edit whose portfolio */
    struct {
        const char *who;
        const user_t *u;
        int64_t learner;
        int read, assess, sample, edit;
    } rows[] = {
        {"learner self", &u1, l1, 1, 0, 0, 1},
        {"learner other", &u1, l2, 0, 0, 0, 0},
        {"learner3 other", &u3, l1, 0, 0, 0, 0},
        {"assessor own", &a1, l1, 1, 1, 0, 0},
        {"assessor own 2", &a1, l2, 1, 1, 0, 0},
        {"assessor other's", &a1, l3, 0, 0, 0, 0},
        {"assessor2 own", &a2, l3, 1, 1, 0, 0},
        {"assessor2 other's", &a2, l1, 0, 0, 0, 0},
        {"iqa", &iqa, l1, 1, 0, 1, 0},
        {"iqa l3", &iqa, l3, 1, 0, 1, 0},
        {"admin", &admin, l2, 1, 0, 0, 0},
        {"eqa in an open visit", &eqa, l3, 1, 0, 0, 0},
        {"eqa in an ended visit", &eqa, l1, 0, 0, 0, 0},
        {"eqa admin not a learner", &eqa, admin.id, 0, 0, 0, 0},
        {"nobody", &nobody, l1, 0, 0, 0, 0},
        {"admin non-learner", &admin, a1.id, 0, 0, 0, 0},
        {"admin missing", &admin, 9999, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int r = policy_can_read_learner(db, rows[i].u, rows[i].learner);
        int a = policy_can_assess_learner(db, rows[i].u, rows[i].learner);
        int s = policy_can_sample_learner(db, rows[i].u, rows[i].learner);
        int e = policy_can_edit_evidence_of(rows[i].u, rows[i].learner);
        if (r != rows[i].read || a != rows[i].assess || s != rows[i].sample || e != rows[i].edit)
            fprintf(stderr, "policy row '%s': read %d assess %d sample %d edit %d\n", rows[i].who, r, a, s, e);
        CHECK_INT(r, rows[i].read);
        CHECK_INT(a, rows[i].assess);
        CHECK_INT(s, rows[i].sample);
        CHECK_INT(e, rows[i].edit);
    }
    CHECK_INT(policy_is_admin(&admin), 1);
    CHECK_INT(policy_is_admin(&eqa), 0);
    CHECK_INT(policy_is_admin(&nobody), 0);

    /* criterion: only on the assessor's enrolment's qualification */
    CHECK_INT(policy_can_assess_criterion(db, &a1, l1, 1), 1);
    CHECK_INT(policy_can_assess_criterion(db, &a1, l1, 2), 1);
    CHECK_INT(policy_can_assess_criterion(db, &a2, l1, 1), 0);
    CHECK_INT(db_run(db, "DELETE FROM enrolments WHERE learner_id = ? AND qualification_id = 2", "i", l1), EV_OK);
    CHECK_INT(policy_can_assess_criterion(db, &a1, l1, 2), 0);
    CHECK_INT(policy_can_assess_criterion(db, &a1, l1, 1), 1);
    /* an ended enrolment: still readable, no longer assessable */
    CHECK_INT(db_run(db, "UPDATE enrolments SET status = 'withdrawn' WHERE learner_id = ?", "i", l1), EV_OK);
    CHECK_INT(policy_can_read_learner(db, &a1, l1), 1);
    CHECK_INT(policy_can_assess_learner(db, &a1, l1), 0);
    CHECK_INT(policy_can_sample_learner(db, &iqa, l1), 0);

    /* lists follow the same rule */
    json_t *rows_json = NULL;
    int64_t total = 0;
    CHECK_INT(policy_list_learners(db, &a1, NULL, 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 2);
    json_decref(rows_json);
    CHECK_INT(policy_list_learners(db, &a2, "", 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 1);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(rows_json, 0), "id")), l3);
    json_decref(rows_json);
    CHECK_INT(policy_list_learners(db, &eqa, "Ben", 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 1);
    json_decref(rows_json);
    CHECK_INT(policy_list_learners(db, &eqa, NULL, 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 2); /* Ben and Chloe: Amy's visit has ended */
    json_decref(rows_json);
    CHECK_INT(db_run(db, "UPDATE eqa_visits SET ended_at = '2026-01-01T00:00:00Z' WHERE id = 1", ""), EV_OK);
    CHECK_INT(policy_can_read_learner(db, &eqa, l3), 0); /* ended early by an admin */
    CHECK_INT(policy_list_learners(db, &eqa, NULL, 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 0);
    json_decref(rows_json);
    CHECK_INT(policy_list_learners(db, &admin, "%", 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 0); /* LIKE wildcards in q are literal */
    json_decref(rows_json);
    CHECK_INT(policy_list_learners(db, &u1, NULL, 50, 0, &rows_json, &total), EV_OK);
    CHECK_INT(total, 1);
    json_decref(rows_json);

    /* sign-in: wrong password and unknown email answer alike, then throttling */
    user_t got;
    int64_t wait = 0;
    CHECK_INT(auth_login(db, "learner@demo.test", "evitrack-demo", "10.0.0.1", &got, &wait), AUTH_OK);
    CHECK_INT(got.id, l1);
    CHECK_INT(got.role, ROLE_LEARNER);
    CHECK_INT(auth_login(db, "LEARNER@demo.test", "evitrack-demo", "10.0.0.1", &got, &wait), AUTH_OK);
    CHECK_INT(auth_login(db, "nobody@demo.test", "evitrack-demo", "10.0.0.1", &got, &wait), AUTH_BAD);
    CHECK_INT(got.id, 0);
    /* one account from one address: a few free failures, then growing delays */
    for (int i = 0; i <= AUTH_FREE_PAIR; i++)
        CHECK_INT(auth_login(db, "learner2@demo.test", "wrong", "10.0.0.2", &got, &wait), AUTH_BAD);
    /* failures dated now: under a sanitizer Argon2id can outlast a 2 s delay */
    CHECK_INT(db_run(db, "UPDATE login_failures SET at = ?", "I", util_now_s()), EV_OK);
    CHECK_INT(auth_login(db, "learner2@demo.test", "evitrack-demo", "10.0.0.2", &got, &wait), AUTH_THROTTLED);
    CHECK(wait >= 1 && wait <= 2);
    /* the owner elsewhere is not held up; that address is now known */
    CHECK_INT(auth_login(db, "learner2@demo.test", "evitrack-demo", "10.0.0.3", &got, &wait), AUTH_OK);
    /* a guessing botnet: failures from many addresses slow down new addresses ... */
    for (int i = 0; i < AUTH_FREE_ACCOUNT - AUTH_FREE_PAIR; i++) { /* the account's 5th and 6th */
        char addr[32];
        snprintf(addr, sizeof addr, "10.0.1.%d", i);
        CHECK_INT(auth_login(db, "learner2@demo.test", "wrong", addr, &got, &wait), AUTH_BAD);
    }
    CHECK_INT(db_run(db, "UPDATE login_failures SET at = ?", "I", util_now_s()), EV_OK);
    CHECK_INT(auth_login(db, "learner2@demo.test", "evitrack-demo", "10.0.0.9", &got, &wait), AUTH_THROTTLED);
    CHECK(wait >= 1 && wait <= 2);
    /* ... but never the owner at an address they signed in from before */
    CHECK_INT(auth_login(db, "learner2@demo.test", "evitrack-demo", "10.0.0.3", &got, &wait), AUTH_OK);
    /* another account from the attacker's address: fine */
    CHECK_INT(auth_login(db, "learner3@demo.test", "evitrack-demo", "10.0.0.2", &got, &wait), AUTH_OK);
    /* the window passes: anyone gets back in */
    CHECK_INT(db_run(db, "UPDATE login_failures SET at = at - ?", "I", AUTH_WINDOW), EV_OK);
    CHECK_INT(auth_login(db, "learner2@demo.test", "evitrack-demo", "10.0.0.9", &got, &wait), AUTH_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM audit_events WHERE action = 'session.login_failed'", 0, ""),
              1 + AUTH_FREE_ACCOUNT + 1);
    CHECK(db_int(db, "SELECT count(*) FROM audit_events WHERE action = 'session.login_throttled'", 0, "") >= 2);
    /* spraying from one address: after AUTH_FREE_ADDR failures across accounts, unknown pairs wait */
    for (int i = 0; i < AUTH_FREE_ADDR + 1; i++) {
        char email[64];
        snprintf(email, sizeof email, "spray%d@demo.test", i);
        CHECK_INT(auth_login(db, email, "wrong", "10.0.2.1", &got, &wait), AUTH_BAD);
    }
    CHECK_INT(db_run(db, "UPDATE login_failures SET at = ?", "I", util_now_s()), EV_OK);
    CHECK_INT(auth_login(db, "learner@demo.test", "evitrack-demo", "10.0.2.1", &got, &wait), AUTH_THROTTLED);
    /* a disabled account answers like a wrong password */
    CHECK_INT(db_run(db, "UPDATE users SET disabled = 1 WHERE id = ?", "i", l3), EV_OK);
    CHECK_INT(auth_login(db, "learner3@demo.test", "evitrack-demo", "10.0.0.4", &got, &wait), AUTH_BAD);
    db_close(db);
}

int main(void)
{
    test_hashing();
    test_tokens();
    test_policy();
    TEST_DONE();
}
