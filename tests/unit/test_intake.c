/* test_intake.c: ULN check digits and reading an intake CSV (quotes, line ends, headers, dates) */
#include <unistd.h>

#include "db.h"
#include "intake.h"
#include "test.h"

static void test_uln(void)
{
    CHECK_INT(intake_uln_valid("9276308686"), 1); /* the worked example of the ILR / HESA specification */
    CHECK_INT(intake_uln_valid("9276308687"), 0);
    CHECK_INT(intake_uln_valid("0276308686"), 0); /* never starts with 0 */
    CHECK_INT(intake_uln_valid("927630868"), 0);
    CHECK_INT(intake_uln_valid("92763086861"), 0);
    CHECK_INT(intake_uln_valid("92763O8686"), 0);
    CHECK_INT(intake_uln_valid(""), 0);
    CHECK_INT(intake_uln_valid(NULL), 0);
    /* exactly one check digit in 0..9 fits each valid head, or none does */
    int valid = 0;
    char u[11];
    for (int d = 0; d <= 9; d++) {
        snprintf(u, sizeof u, "123456789%d", d);
        valid += intake_uln_valid(u);
    }
    CHECK(valid <= 1);
}

static db_t *fresh(void)
{
    unlink("test_intake.db");
    unlink("test_intake.db-wal");
    unlink("test_intake.db-shm");
    db_t *db = db_open("test_intake.db");
    char err[300] = "";
    if (db && db_migrate(db, err, sizeof err) != EV_OK) {
        db_close(db);
        return NULL;
    }
    db_run(db, "INSERT INTO qualifications (code, title, awarding_body, level) VALUES ('Q1', 'Care', 'AB', 3)", "");
    db_run(db, "INSERT INTO users (email, name, role, password_hash) VALUES ('a@c.test', 'Ann', 'assessor', '!')", "");
    return db;
}

static void test_check(void)
{
    db_t *db = fresh();
    CHECK(db != NULL);
    if (!db)
        return;
    /* a BOM, CRLF, quoted commas, doubled quotes, a line break inside quotes, a blank
     * line, header names in any case and order, a UK date */
    const char csv[] = "\xEF\xBB\xBF" "Email,Full name,Qualification code,Assessor,Start date,Planned end date\r\n"
                       "x@c.test,\"Smith, \"\"Jo\"\"\",Q1,A@C.TEST,01/09/2026,2027-08-31\r\n"
                       "\r\n"
                       "y@c.test,\"Two\nLines\",q1,a@c.test,2026-09-01,2027-08-31\n";
    json_t *rep = intake_check(db, csv, sizeof csv - 1);
    CHECK_INT(json_array_size(json_object_get(rep, "file_problems")), 0);
    CHECK_INT(json_integer_value(json_object_get(rep, "total")), 2);
    CHECK(json_is_true(json_object_get(rep, "ready")));
    json_t *r0 = json_array_get(json_object_get(rep, "rows"), 0);
    json_t *r1 = json_array_get(json_object_get(rep, "rows"), 1);
    CHECK_STR(json_string_value(json_object_get(r0, "name")), "Smith, \"Jo\"");
    CHECK_STR(json_string_value(json_object_get(r0, "start")), "2026-09-01");
    CHECK_INT(json_integer_value(json_object_get(r0, "line")), 2);
    CHECK_STR(json_string_value(json_object_get(r1, "name")), "Two\nLines");
    CHECK_INT(json_integer_value(json_object_get(r1, "line")), 4);
    json_decref(rep);

    const char bad[] = "name,email,qualification,assessor_email,start_date,planned_end_date\n"
                       "A,a1@c.test,Q1,a@c.test,2026-09-01,2027-08-31,extra\n"
                       "B,b@c.test,Q1,a@c.test,30/02/2026,2027-08-31\n";
    rep = intake_check(db, bad, sizeof bad - 1);
    CHECK_INT(json_integer_value(json_object_get(rep, "with_problems")), 2);
    CHECK(!json_is_true(json_object_get(rep, "ready")));
    json_decref(rep);

    const char notutf8[] = "name,email,qualification,assessor_email,start_date,planned_end_date\n\xff\xfe,b@c.test\n";
    rep = intake_check(db, notutf8, sizeof notutf8 - 1);
    CHECK(json_array_size(json_object_get(rep, "file_problems")) == 1);
    json_decref(rep);

    /* import: one transaction, an invitation and an enrolment email per new learner */
    json_t *report = NULL;
    CHECK_INT(intake_import(db, 0, "Centre", csv, sizeof csv - 1, &report), EV_OK);
    CHECK_INT(json_integer_value(json_object_get(report, "accounts_created")), 2);
    CHECK_INT(db_int(db, "SELECT count(*) FROM outbox WHERE kind = 'invitation'", 0, ""), 2);
    CHECK_INT(db_int(db, "SELECT count(*) FROM enrolments", 0, ""), 2);
    json_decref(report);
    /* again: every line is already enrolled, nothing changes */
    CHECK_INT(intake_import(db, 0, "Centre", csv, sizeof csv - 1, &report), EV_ERR);
    CHECK_INT(db_int(db, "SELECT count(*) FROM enrolments", 0, ""), 2);
    json_decref(report);
    db_close(db);
    unlink("test_intake.db");
    unlink("test_intake.db-wal");
    unlink("test_intake.db-shm");
}

int main(void)
{
    test_uln();
    test_check();
    TEST_DONE();
}
