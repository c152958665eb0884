/* test_qualifications.c: the spec importer against a real (temporary) database: the four
 * seeds as two qualifications and three units, idempotence, ambiguity, dry runs, moves
 * between outcomes keeping ids, one transaction per file, and the audit trail */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "db.h"
#include "qualifications.h"
#include "test.h"
#include "testdb.h"

static char seeds[4][1024];

static void find_seeds(void)
{
    const char *dir = getenv("SHARED_DIR") ? getenv("SHARED_DIR") : "../../shared";
    const char *names[] = {"000_e6cfc9a37bc0cea9.txt", "001_b904f578e9cb8f48.txt", "002_8dda24bba8e3972f.txt",
                           "004_52cd226400e6468e.txt"};
    for (int i = 0; i < 4; i++)
        snprintf(seeds[i], sizeof seeds[i], "%s/seeds/%s", dir, names[i]);
}

static db_t *fresh_db(char *path, size_t len)
{
    snprintf(path, len, "/tmp/evitrack-test-qual-XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    db_t *db = test_db_open(path);
    char err[256];
    if (!db || db_migrate(db, err, sizeof err) != EV_OK) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(1);
    }
    return db;
}

static void drop_db(db_t *db, const char *path)
{
    db_close(db);
    unlink(path);
    char side[1100];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static const qualifications_import_opts_t plain = {0, NULL, 0};

/* Imports and returns 1 when ok; the summary's changes in *changes. */
static int import_file(db_t *db, const char *path, const qualifications_import_opts_t *o, long long *changes)
{
    json_t *s = qualifications_import_file(db, path, o);
    int ok = json_is_true(json_object_get(s, "ok"));
    if (changes)
        *changes = json_integer_value(json_object_get(s, "changes"));
    if (!ok && getenv("VERBOSE")) {
        buf_t b = {0};
        qualifications_summary_text(s, &b);
        fputs(b.data, stderr);
        buf_free(&b);
    }
    json_decref(s);
    return ok;
}

static json_t *import_text(db_t *db, const char *name, const char *text, const qualifications_import_opts_t *o)
{
    return qualifications_import_buffer(db, name, text, strlen(text), o);
}

static const char *reason(json_t *s)
{
    const char *r = json_string_value(json_object_get(json_object_get(s, "error"), "reason"));
    return r ? r : "";
}

static void test_seeds(void)
{
    char path[64];
    db_t *db = fresh_db(path, sizeof path);
    long long ch = 0;
    for (int i = 0; i < 4; i++)
        CHECK(import_file(db, seeds[i], &plain, &ch));
    CHECK_INT(ch, 0); /* 004 after 000 changes nothing */
    CHECK_INT(db_int(db, "SELECT count(*) FROM qualifications", -1, ""), 2);
    CHECK_INT(db_int(db, "SELECT count(*) FROM units", -1, ""), 3);
    CHECK_INT(db_int(db, "SELECT count(*) FROM outcomes", -1, ""), 10);
    CHECK_INT(db_int(db, "SELECT count(*) FROM criteria", -1, ""), 12);
    CHECK_INT(db_int(db, "SELECT count(*) FROM unit_guidance", -1, ""), 70);
    CHECK_INT(db_int(db, "SELECT count(*) FROM units u JOIN qualifications q ON q.id = u.qualification_id "
                         "WHERE q.code = 'ICQ-L3-DIPLOMA-CUSTOMER-SERVICE-RQF'", -1, ""), 2);
    json_t *refs = db_all(db, "SELECT c.ref FROM criteria c JOIN units u ON u.id = c.unit_id "
                              "WHERE u.title LIKE 'Resolve%' ORDER BY c.position", "");
    char joined[64] = "";
    size_t ri;
    json_t *rr;
    json_array_foreach(refs, ri, rr)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", ri ? " " : "",
                 json_string_value(json_object_get(rr, "ref")));
    CHECK_STR(joined, "1.1 1.2 2.1 2.2");
    json_decref(refs);
    CHECK_INT(db_int(db, "SELECT count(*) FROM audit_events WHERE action = 'spec.import'", -1, ""), 3);
    /* everything again, in another order: no change, no audit event */
    for (int i = 3; i >= 0; i--) {
        CHECK(import_file(db, seeds[i], &plain, &ch));
        CHECK_INT(ch, 0);
    }
    CHECK_INT(db_int(db, "SELECT count(*) FROM audit_events WHERE action = 'spec.import'", -1, ""), 3);
    int64_t count = 0, bad = 0;
    char why[200];
    CHECK(audit_verify(db, &count, &bad, why, sizeof why) == EV_OK);
    CHECK_INT(count, 3);
    drop_db(db, path);
}

static void test_untitled_and_ambiguous(void)
{
    char path[64];
    db_t *db = fresh_db(path, sizeof path);
    /* the short page first: nothing to match */
    json_t *s = qualifications_import_file(db, seeds[3], &plain);
    CHECK(!json_is_true(json_object_get(s, "ok")));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(s, "error"), "line")), 1);
    CHECK(strstr(reason(s), "--qualification") != NULL);
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT count(*) FROM units", -1, ""), 0);

    CHECK(import_file(db, seeds[0], &plain, NULL));
    CHECK(import_file(db, seeds[2], &plain, NULL));
    /* a titled unit naming no qualification, whose title is in both */
    const char *doc = "{\"evitrack_spec\": 1, \"units\": [{\"title\": \"Understand the customer service environment\",\n"
                      "\"outcomes\": [{\"text\": \"Know it\"}], \"criteria\": [{\"text\": \"Explain it\"}]}]}";
    s = import_text(db, "amb.json", doc, &plain);
    CHECK(!json_is_true(json_object_get(s, "ok")));
    CHECK(strstr(reason(s), "in several") != NULL);
    json_decref(s);
    /* --qualification picks one: the unit is updated there, not duplicated */
    qualifications_import_opts_t o = {0, "PROQUAL-L3-DIPLOMA-CUSTOMER-SERVICE-QCF", 1};
    s = import_text(db, "amb.json", doc, &o);
    CHECK(json_is_true(json_object_get(s, "ok")));
    json_t *u = json_array_get(json_object_get(s, "units"), 0);
    CHECK_STR(json_string_value(json_object_get(u, "action")), "updated");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(u, "criteria"), "retired")), 3);
    json_decref(s);
    /* that was a dry run: nothing changed */
    CHECK_INT(db_int(db, "SELECT count(*) FROM criteria WHERE retired = 1", -1, ""), 0);
    CHECK_INT(db_int(db, "SELECT count(*) FROM units", -1, ""), 2);
    /* the short page matches 000's unit by content, not 002's */
    o.dry_run = 0;
    o.qualification = NULL;
    long long ch = -1;
    CHECK(import_file(db, seeds[3], &o, &ch));
    CHECK_INT(ch, 0);
    /* scoped to the other qualification it matches nothing */
    o.qualification = "PROQUAL-L3-DIPLOMA-CUSTOMER-SERVICE-QCF";
    CHECK(!import_file(db, seeds[3], &o, NULL));
    drop_db(db, path);
}

static void test_moves_and_transactions(void)
{
    char path[64];
    db_t *db = fresh_db(path, sizeof path);
    const char *v1 = "{\"evitrack_spec\": 1, \"qualification\": {\"title\": \"Test Award\", \"code\": \"TA\"},\n"
                     "\"units\": [{\"ref\": \"101\", \"title\": \"Testing\",\n"
                     "\"outcomes\": [{\"text\": \"Know apples\"}, {\"text\": \"Know pears\"}],\n"
                     "\"criteria\": [{\"text\": \"Name apples\"}, {\"text\": \"Name pears\"}, {\"text\": \"Peel pears\"}]}]}";
    json_t *s = import_text(db, "v1.json", v1, &plain);
    CHECK(json_is_true(json_object_get(s, "ok")));
    json_decref(s);
    int64_t peel = db_int(db, "SELECT id FROM criteria WHERE text = 'Peel pears'", 0, "");
    char *ref = db_text(db, "SELECT ref FROM criteria WHERE id = ?", "i", peel);
    CHECK_STR(ref, "2.2");
    free(ref);
    /* v2 moves "Peel pears" to outcome 1 explicitly and renumbers: same id, new outcome and ref */
    const char *v2 = "{\"evitrack_spec\": 1, \"qualification\": {\"title\": \"Test Award\", \"code\": \"TA\"},\n"
                     "\"units\": [{\"ref\": \"101\", \"title\": \"Testing\",\n"
                     "\"outcomes\": [{\"text\": \"Know apples\"}, {\"text\": \"Know pears\"}],\n"
                     "\"criteria\": [{\"text\": \"Name apples\"}, {\"text\": \"Peel pears\", \"outcome\": 1},"
                     " {\"text\": \"Name pears\"}]}]}";
    s = import_text(db, "v2.json", v2, &plain);
    CHECK(json_is_true(json_object_get(s, "ok")));
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT id FROM criteria WHERE text = 'Peel pears'", 0, ""), peel);
    ref = db_text(db, "SELECT ref FROM criteria WHERE id = ?", "i", peel);
    CHECK_STR(ref, "1.2");
    free(ref);
    CHECK_INT(db_int(db, "SELECT o.number FROM criteria c JOIN outcomes o ON o.id = c.outcome_id WHERE c.id = ?", 0,
                     "i", peel), 1);
    CHECK_INT(db_int(db, "SELECT count(*) FROM criteria", -1, ""), 3);
    /* a bad second unit rolls back the good first one */
    const char *v3 = "{\"evitrack_spec\": 1, \"qualification\": {\"title\": \"Test Award\", \"code\": \"TA\"},\n"
                     "\"units\": [{\"ref\": \"102\", \"title\": \"More testing\", \"outcomes\": [{\"text\": \"Know plums\"}],"
                     " \"criteria\": [{\"text\": \"Name plums\"}]},\n"
                     "{\"partial\": true, \"criteria\": [{\"text\": \"Nothing like it\"}]}]}";
    s = import_text(db, "v3.json", v3, &plain);
    CHECK(!json_is_true(json_object_get(s, "ok")));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(s, "error"), "line")), 3);
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT count(*) FROM units", -1, ""), 1);
    CHECK_INT(db_int(db, "SELECT count(*) FROM audit_events", -1, ""), 2);
    drop_db(db, path);
}

/* An apprenticeship standard imports as a qualification of kind 'standard' with units
 * K, S and B whose criteria are the KSBs; a re-import changes nothing; a reworded KSB
 * keeps its id; a duty naming an unknown KSB is refused at its line. */
static void test_standard(void)
{
    char path[256];
    db_t *db = fresh_db(path, sizeof path);
    const char *doc =
        "{\"evitrack_spec\": 1, \"standard\": {\"reference\": \"ST0001\", \"title\": \"Test standard\",\n"
        " \"level\": 3, \"version\": \"1.1\", \"typical_duration_months\": 12, \"min_off_the_job_hours\": 300,\n"
        " \"duties\": [{\"text\": \"Serve customers\", \"ksbs\": [\"k1\", \"S1\", \"B1\"]}],\n"
        " \"knowledge\": [{\"code\": \"K1\", \"text\": \"Know the products\"}, {\"code\": \"K2\", \"text\": \"Know the law\"}],\n"
        " \"skills\": [{\"code\": \"S1\", \"text\": \"Listen actively\"}],\n"
        " \"behaviours\": [{\"code\": \"B1\", \"text\": \"Customer first\"}]}}\n";
    json_t *s = import_text(db, "st.json", doc, &plain);
    CHECK(json_is_true(json_object_get(s, "ok")));
    CHECK_STR(json_string_value(json_object_get(s, "format")), "standard");
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT count(*) FROM qualifications WHERE code = 'ST0001' AND kind = 'standard'"
                         " AND version = '1.1' AND typical_duration_months = 12 AND min_otj_hours = 300", -1, ""), 1);
    CHECK_INT(db_int(db, "SELECT count(*) FROM units WHERE kind IN ('knowledge','skills','behaviours')", -1, ""), 3);
    CHECK_INT(db_int(db, "SELECT count(*) FROM criteria c JOIN units u ON u.id = c.unit_id"
                         " WHERE u.ref = 'K' AND c.ref IN ('K1','K2')", -1, ""), 2);
    char *ksbs = db_text(db, "SELECT ksbs FROM standard_duties WHERE ref = 'D1'", "");
    CHECK_STR(ksbs, "K1 S1 B1");
    free(ksbs);
    int64_t k1 = db_int(db, "SELECT id FROM criteria WHERE ref = 'K1'", 0, "");
    int64_t events = db_int(db, "SELECT count(*) FROM audit_events", -1, "");
    /* the same document again: nothing changes, nothing is written */
    s = import_text(db, "st.json", doc, &plain);
    CHECK(json_is_true(json_object_get(s, "ok")));
    CHECK_INT(json_integer_value(json_object_get(s, "changes")), 0);
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT count(*) FROM audit_events", -1, ""), events);
    /* K1 reworded: same id; K2 dropped: retired */
    const char *v2 =
        "{\"evitrack_spec\": 1, \"standard\": {\"reference\": \"ST0001\", \"title\": \"Test standard\",\n"
        " \"level\": 3, \"version\": \"1.2\",\n"
        " \"knowledge\": [{\"code\": \"K1\", \"text\": \"Know the products and services\"}],\n"
        " \"skills\": [{\"code\": \"S1\", \"text\": \"Listen actively\"}],\n"
        " \"behaviours\": [{\"code\": \"B1\", \"text\": \"Customer first\"}]}}\n";
    s = import_text(db, "st2.json", v2, &plain);
    CHECK(json_is_true(json_object_get(s, "ok")));
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT id FROM criteria WHERE ref = 'K1' AND retired = 0", 0, ""), k1);
    CHECK_INT(db_int(db, "SELECT retired FROM criteria WHERE ref = 'K2'", -1, ""), 1);
    CHECK_INT(db_int(db, "SELECT count(*) FROM qualifications WHERE version = '1.2' AND typical_duration_months IS NULL", -1, ""), 1);
    CHECK_INT(db_int(db, "SELECT count(*) FROM standard_duties", -1, ""), 0);
    /* refused with FILE:LINE: a duty naming a KSB the standard lacks, a code of the wrong kind */
    const char *bad =
        "{\"evitrack_spec\": 1, \"standard\": {\"reference\": \"ST0002\", \"title\": \"Bad\",\n"
        " \"duties\": [{\"text\": \"D\", \"ksbs\": [\"K9\"]}],\n"
        " \"knowledge\": [{\"code\": \"K1\", \"text\": \"k\"}],\n"
        " \"skills\": [{\"code\": \"S1\", \"text\": \"s\"}],\n"
        " \"behaviours\": [{\"code\": \"B1\", \"text\": \"b\"}]}}\n";
    s = import_text(db, "bad.json", bad, &plain);
    CHECK(!json_is_true(json_object_get(s, "ok")));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(s, "error"), "line")), 2);
    CHECK(strstr(reason(s), "K9") != NULL);
    json_decref(s);
    const char *bad2 =
        "{\"evitrack_spec\": 1, \"standard\": {\"reference\": \"ST0002\", \"title\": \"Bad\",\n"
        " \"knowledge\": [{\"code\": \"K1\", \"text\": \"k\"}],\n"
        " \"skills\": [{\"code\": \"K2\", \"text\": \"s\"}],\n"
        " \"behaviours\": [{\"code\": \"B1\", \"text\": \"b\"}]}}\n";
    s = import_text(db, "bad2.json", bad2, &plain);
    CHECK(!json_is_true(json_object_get(s, "ok")));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(s, "error"), "line")), 3);
    json_decref(s);
    CHECK_INT(db_int(db, "SELECT count(*) FROM qualifications WHERE code = 'ST0002'", -1, ""), 0);
    drop_db(db, path);
}

int main(void)
{
    find_seeds();
    test_seeds();
    test_untitled_and_ambiguous();
    test_moves_and_transactions();
    test_standard();
    TEST_DONE();
}
