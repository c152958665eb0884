/* test_evidence.c: the evidence helpers other modules call (create with files, map,
 * submit), their audit events and status refresh, and `gc` on a real store */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "db.h"
#include "evidence.h"
#include "status.h"
#include "storage.h"
#include "test.h"
#include "testdb.h"
#include "util.h"

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Sets a file's times to `ago` seconds in the past. */
static void age(const char *path, int ago)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= ago;
    ts[1] = ts[0];
    utimensat(0, path, ts, 0);
}

/* Where the directory store keeps blob sha (caller frees). */
static char *blob_path(const char *data, const char *sha)
{
    return fmtalloc("%s/blobs/%.2s/%s", data, sha, sha);
}

int main(void)
{
    char dir[] = "/tmp/test_evidence_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *db_path = fmtalloc("%s/t.db", dir);
    char *data = fmtalloc("%s/data", dir);
    mkdir(data, 0700);
    char err[256] = "";
    storage_t *store = storage_open(NULL, NULL, data, err, sizeof err);
    CHECK(store != NULL);
    db_t *db = test_db_open(db_path);
    CHECK(db != NULL);
    CHECK_INT(db_migrate(db, err, sizeof err), EV_OK);

    CHECK_INT(db_exec(db,
                      "INSERT INTO users (id, email, name, role, password_hash) VALUES"
                      " (1, 'l@t', 'Lee', 'learner', 'x'), (2, 'a@t', 'Ali', 'assessor', 'x');"
                      "INSERT INTO qualifications (id, code, title) VALUES (1, 'Q1', 'Q one'), (2, 'Q2', 'Q two');"
                      "INSERT INTO units (id, qualification_id, ref, title) VALUES (1, 1, 'U1', 'Unit 1'),"
                      " (2, 1, 'U2', 'Unit 2'), (3, 2, 'X', 'Other');"
                      "INSERT INTO outcomes (id, unit_id, number, text) VALUES (1, 1, 1, 'o1'), (2, 2, 1, 'o2'),"
                      " (3, 3, 1, 'o3');"
                      "INSERT INTO criteria (id, unit_id, outcome_id, ref, text) VALUES (11, 1, 1, '1.1', 'c'),"
                      " (12, 1, 1, '1.2', 'c'), (21, 2, 2, '1.1', 'c'), (31, 3, 3, '1.1', 'c');"
                      "INSERT INTO enrolments (learner_id, qualification_id, assessor_id, start_date, planned_end_date)"
                      " VALUES (1, 1, 2, '2026-01-01', '2027-01-01');"),
              EV_OK);
    CHECK_INT(status_sync_learner(db, 1), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM criterion_status WHERE learner_id = 1", 0, ""), 3);

    /* create: typed text plus two in-memory files (one refused type would fail it) */
    static const char pdf[] = "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    static const char note[] = "A plain note about the day.\n";
    evidence_file_in_t files[] = {{"report.pdf", pdf, sizeof pdf - 1}, {"dir/../note.txt", note, sizeof note - 1}};
    int64_t id = 0;
    CHECK_INT(evidence_create_text(db, store, 1, "  Day one  ", "reflective_account", "desc", "I learned.", "2026-02-01",
                                   files, 2, &id),
              EV_OK);
    CHECK(id > 0);
    char *title = db_text(db, "SELECT title FROM evidence WHERE id = ?", "i", id);
    CHECK_STR(title, "Day one");
    free(title);
    json_t *rows = db_all(db, "SELECT name, mime, download_only, sha256 FROM evidence_files WHERE evidence_id = ? ORDER BY id",
                          "i", id);
    CHECK_INT(json_array_size(rows), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(rows, 0), "mime")), "application/pdf");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(rows, 0), "download_only")), 0);
    CHECK_STR(json_string_value(json_object_get(json_array_get(rows, 1), "name")), "note.txt");
    CHECK_STR(json_string_value(json_object_get(json_array_get(rows, 1), "mime")), "text/plain");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(rows, 1), "download_only")), 1);
    char *blob = blob_path(data, json_string_value(json_object_get(json_array_get(rows, 0), "sha256")));
    CHECK(blob && exists(blob));
    json_decref(rows);
    CHECK_INT(db_int(db, "SELECT count(*) FROM audit_events WHERE action = 'evidence.create' AND entity_id = ?", 0, "i", id),
              1);

    /* refused content, bad kind, bad date: nothing created */
    int64_t bad = 0;
    evidence_file_in_t html[] = {{"x.txt", "<html><body>x</body></html>\n", 28}};
    CHECK_INT(evidence_create_text(db, store, 1, "Bad", "product", NULL, NULL, NULL, html, 1, &bad), EV_ERR);
    CHECK_INT(evidence_create_text(db, store, 1, "Bad", "essay", NULL, "x", NULL, NULL, 0, &bad), EV_ERR);
    CHECK_INT(evidence_create_text(db, store, 1, "Bad", "product", NULL, "x", "2026-02-30", NULL, 0, &bad), EV_ERR);
    CHECK_INT(db_int(db, "SELECT count(*) FROM evidence", 0, ""), 1);

    /* map across two units; a criterion of another qualification is refused whole */
    int64_t across[] = {11, 21};
    const char *notes[] = {"how 1.1", "how U2 1.1"};
    CHECK_INT(evidence_set_criteria(db, id, across, notes, 2), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM evidence_criteria WHERE evidence_id = ?", 0, "i", id), 2);
    CHECK_INT(db_int(db, "SELECT count(*) FROM criterion_status WHERE learner_id = 1 AND status = 'mapped'", 0, ""), 2);
    int64_t outside[] = {12, 31};
    CHECK_INT(evidence_set_criteria(db, id, outside, NULL, 2), EV_ERR);
    CHECK_INT(db_int(db, "SELECT count(*) FROM evidence_criteria WHERE evidence_id = ? AND criterion_id IN (11, 21)", 0,
                     "i", id),
              2);

    /* submit; twice is refused */
    CHECK_INT(evidence_submit_item(db, id), EV_OK);
    char *st = db_text(db, "SELECT status FROM evidence WHERE id = ?", "i", id);
    CHECK_STR(st, "submitted");
    free(st);
    CHECK_INT(db_int(db, "SELECT count(*) FROM criterion_status WHERE learner_id = 1 AND status = 'submitted'", 0, ""), 2);
    CHECK_INT(evidence_submit_item(db, id), EV_ERR);
    /* while submitted the mapping is fixed */
    CHECK_INT(evidence_set_criteria(db, id, across, NULL, 1), EV_ERR);

    /* inside the caller's transaction: rolled back with it */
    int64_t id2 = 0;
    CHECK_INT(db_begin(db), EV_OK);
    CHECK_INT(evidence_create_text(db, store, 1, "Rolled back", "witness_testimony", NULL, "Seen.", NULL, NULL, 0, &id2),
              EV_OK);
    CHECK_INT(db_rollback(db), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM evidence WHERE title = 'Rolled back'", 0, ""), 0);

    /* the audit chain still verifies */
    int64_t count = 0, bad_id = 0;
    char reason[200] = "";
    CHECK_INT(audit_verify(db, &count, &bad_id, reason, sizeof reason), EV_OK);
    CHECK_INT(count, 3); /* create, map, submit */

    /* gc: an orphan blob (no row) and a stale temporary file go once out of the grace
     * period; referenced blobs stay */
    char orphan_hash[65];
    CHECK_INT(storage_put(store, "orphan bytes", 12, orphan_hash), EV_OK);
    char *orphan = blob_path(data, orphan_hash);
    char *tmpdir = fmtalloc("%s/tmp", data);
    mkdir(tmpdir, 0700);
    char *stale = fmtalloc("%s/upload-stale", tmpdir);
    FILE *f = fopen(stale, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("partial", f);
        fclose(f);
    }
    evidence_gc_stats_t gs;
    CHECK_INT(evidence_gc(db, store, 3600, 3600, 0, &gs), EV_OK);
    CHECK_INT(gs.blobs_removed, 0); /* all recent */
    CHECK(exists(orphan));
    CHECK(exists(stale));
    age(orphan, 7200);
    age(stale, 7200);
    age(blob, 7200);
    CHECK_INT(evidence_gc(db, store, 3600, 3600, 1, &gs), EV_OK); /* dry run */
    CHECK_INT(gs.blobs_removed, 1);
    CHECK_INT(gs.tmp_removed, 1);
    CHECK(exists(orphan));
    CHECK_INT(evidence_gc(db, store, 3600, 3600, 0, &gs), EV_OK);
    CHECK_INT(gs.blobs_removed, 1);
    CHECK_INT(gs.bytes_removed, 12);
    CHECK_INT(gs.tmp_removed, 1);
    CHECK(!exists(orphan));
    CHECK(!exists(stale));
    CHECK(exists(blob)); /* referenced, however old */

    /* a deleted item's blob: its row goes at once, its file after the grace period */
    CHECK_INT(db_exec(db, "DELETE FROM evidence_criteria; DELETE FROM evidence_files;"), EV_OK);
    CHECK_INT(evidence_gc(db, store, 0, 0, 0, &gs), EV_OK);
    CHECK(gs.rows_removed >= 2);
    CHECK_INT(gs.blobs_removed, 2);
    CHECK(!exists(blob));
    CHECK_INT(db_int(db, "SELECT count(*) FROM blobs", 0, ""), 0);

    free(orphan);
    free(stale);
    free(tmpdir);
    free(blob);
    db_close(db);
    storage_close(store);
    char *cmd = fmtalloc("rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    free(db_path);
    free(data);
    TEST_DONE();
}
