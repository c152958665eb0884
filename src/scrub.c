/* scrub.c: re-checks stored evidence files against their SHA-256 (scheduled, and `store verify`), recording each one's CRC-32 */
#include "scrub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "storage.h"
#include "util.h"

#define SCRUB_BATCH 200 /* blobs rows fetched at a time */

/* The CRC-32 of what a full (SHA-256 checked) read hands on. */
typedef struct crc_sink {
    uint32_t crc;
    uint64_t bytes;
} crc_sink_t;

static int crc_take(void *ctx, const void *data, size_t len)
{
    crc_sink_t *c = ctx;
    c->crc = storage_crc32(c->crc, data, len);
    c->bytes += len;
    return EV_OK;
}

/* "evidence 12 (photo.jpg) of learner@x.test" for each file that holds blob sha, for
 * the log; a new string (caller frees). */
static char *holders(db_t *db, const char *sha)
{
    json_t *rows = db_all(db,
                          "SELECT f.evidence_id, f.name, u.email FROM evidence_files f JOIN evidence e ON e.id = "
                          "f.evidence_id JOIN users u ON u.id = e.learner_id WHERE f.sha256 = ? ORDER BY f.id",
                          "t", sha);
    buf_t b = {0};
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        if (i == 5) {
            buf_printf(&b, " and %zu more", json_array_size(rows) - 5);
            break;
        }
        buf_printf(&b, "%sevidence %lld (%s) of %s", i ? ", " : "",
                   (long long)json_integer_value(json_object_get(r, "evidence_id")),
                   json_string_value(json_object_get(r, "name")), json_string_value(json_object_get(r, "email")));
    }
    json_decref(rows);
    if (!b.data)
        buf_puts(&b, "no evidence file (a decision's frozen basis only)");
    return b.data;
}

/* Checks one blob and records the outcome; log lines start with label ("scrub", "store
 * verify"). EV_OK (counted in st), or the store's or the database's error. */
static int scrub_one(db_t *db, storage_t *store, json_t *row, const char *label, int scheduled, scrub_stats_t *st)
{
    const char *sha = json_string_value(json_object_get(row, "sha256"));
    json_t *old = json_object_get(row, "crc32");
    char now[21];
    crc_sink_t sink = {0};
    int rc = storage_valid_hash(sha) ? storage_get(store, sha, 0, UINT64_MAX, crc_take, &sink) : STORAGE_NOT_FOUND;
    util_now_iso(now);
    st->bytes += sink.bytes;
    if (rc == EV_OK) {
        st->checked++;
        st->intact++;
        if (!json_is_integer(old))
            st->crc_recorded++;
        else if ((uint32_t)json_integer_value(old) != sink.crc)
            ev_log("scrub: blob %s matches its SHA-256 but its recorded CRC-32 did not: corrected", sha);
        return db_run(db, "UPDATE blobs SET crc32 = ?, checked_at = ?, damaged_at = NULL WHERE sha256 = ?", "itt",
                      (int64_t)sink.crc, now, sha);
    }
    if (rc != STORAGE_CORRUPT && rc != STORAGE_NOT_FOUND)
        return rc; /* the store is down or refused: nothing is known of this file */
    char *who = holders(db, sha);
    if (rc == STORAGE_CORRUPT) {
        st->checked++;
        st->damaged++;
        ev_log("%s: DAMAGED: the stored copy of %s does not match its SHA-256 (%s); exports now put a note in its "
               "place. Restore it from a backup (docs/operations.md, \"A damaged or missing object\")",
               label, sha, who);
    } else {
        st->missing++;
        ev_log("%s: MISSING: %s is not in the store (%s); an export puts a note in its place. Restore it from a backup "
               "(docs/operations.md, \"A damaged or missing object\")",
               label, sha, who);
    }
    free(who);
    /* A damaged file is marked (exports leave it out with a note) and loses its CRC, so
     * nothing passes it on the CRC alone; it is checked again a cycle later, or by `store
     * verify` after a restore. A missing file keeps its record (nothing was read); the
     * schedule moves on past it, and `store verify` leaves it as it was. */
    if (rc == STORAGE_CORRUPT)
        return db_run(db, "UPDATE blobs SET crc32 = NULL, checked_at = ?, damaged_at = coalesce(damaged_at, ?) "
                          "WHERE sha256 = ?", "ttt", now, now, sha);
    return scheduled ? db_run(db, "UPDATE blobs SET checked_at = ? WHERE sha256 = ?", "tt", now, sha) : EV_OK;
}

/* The next batch of blobs rows to check: with checked_before NULL every row, in
 * SHA-256 order after *after (""); else those never checked, then those checked before
 * checked_before, oldest first (each row read gets checked_at = now, so the next batch
 * starts where this one ended). NULL on a database error. */
static json_t *next_batch(db_t *db, const char *checked_before, const char *after)
{
    if (!checked_before)
        return db_all(db, "SELECT sha256, crc32 FROM blobs WHERE sha256 > ? ORDER BY sha256 LIMIT ?", "ti", after,
                      (int64_t)SCRUB_BATCH);
    json_t *rows = db_all(db, "SELECT sha256, crc32 FROM blobs WHERE checked_at IS NULL ORDER BY sha256 LIMIT ?", "i",
                          (int64_t)SCRUB_BATCH);
    if (rows && json_array_size(rows) == 0) {
        json_decref(rows);
        rows = db_all(db, "SELECT sha256, crc32 FROM blobs WHERE checked_at < ? ORDER BY checked_at, sha256 LIMIT ?",
                      "ti", checked_before, (int64_t)SCRUB_BATCH);
    }
    return rows;
}

int scrub_run(db_t *db, storage_t *store, const char *checked_before, uint64_t max_bytes, const char *label,
              scrub_stats_t *st)
{
    memset(st, 0, sizeof *st);
    int rc = EV_OK;
    char after[65] = "";
    while (rc == EV_OK && !(max_bytes && st->bytes >= max_bytes)) {
        json_t *rows = next_batch(db, checked_before, after);
        if (!rows) {
            rc = EV_ERR;
            break;
        }
        size_t n = json_array_size(rows), i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            if ((max_bytes && st->bytes >= max_bytes) ||
                (rc = scrub_one(db, store, row, label, checked_before != NULL, st)) != EV_OK)
                break;
            snprintf(after, sizeof after, "%s", json_string_value(json_object_get(row, "sha256")));
        }
        json_decref(rows);
        if (n == 0)
            break;
    }
    if (rc != EV_OK)
        ev_log("%s: stopped after %lld file%s: %s", label, (long long)(st->checked + st->missing),
               st->checked + st->missing == 1 ? "" : "s", storage_strerror(rc));
    return rc;
}

#define VERIFY_USAGE "usage: store verify [--db FILE] [--data DIR] [--store DIR|s3://...] [--store-credentials FILE]"
#define STORE_PROBE 20 /* files looked for before a whole check: is this the centre's store? */

/* EV_OK when the store holds at least one of the first STORE_PROBE files the database
 * records (or it records none): a mistyped --data or --store would otherwise read as
 * "every file missing". */
static int store_matches(db_t *db, storage_t *store)
{
    json_t *rows = db_all(db, "SELECT sha256 FROM blobs ORDER BY sha256 LIMIT ?", "i", (int64_t)STORE_PROBE);
    size_t i, n = json_array_size(rows);
    json_t *row;
    int found = 0;
    json_array_foreach(rows, i, row) {
        storage_stat_t sb;
        const char *sha = json_string_value(json_object_get(row, "sha256"));
        if (storage_valid_hash(sha) && storage_stat(store, sha, &sb) == EV_OK) {
            found = 1;
            break;
        }
    }
    json_decref(rows);
    return !rows || n == 0 || found ? EV_OK : EV_ERR;
}

int scrub_cmd(int argc, char **argv)
{
    const char *db_path = "evitrack.db", *data_dir = "data", *store_spec = NULL, *creds = NULL;
    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &db_path)) || (got = cli_opt(argc, argv, &i, "data", &data_dir)) ||
            (got = cli_opt(argc, argv, &i, "store", &store_spec)) ||
            (got = cli_opt(argc, argv, &i, "store-credentials", &creds))) {
            if (got < 0)
                return 2;
        } else if (cli_flag(argv, &i, "help")) {
            printf("%s\nReads every stored evidence file the database records and checks it against its SHA-256.\n"
                   "Exit 0 when all are intact, 1 when any is damaged or missing.\n",
                   VERIFY_USAGE);
            return 0;
        } else {
            return cli_usage_error("store verify: unknown argument %s (%s)", argv[i], VERIFY_USAGE);
        }
    }
    storage_t *store = NULL;
    db_t *db = NULL;
    if (cli_open_centre(db_path, store_spec, creds, data_dir, &db, &store) != EV_OK)
        return 1;
    if (store_matches(db, store) != EV_OK) {
        fprintf(stderr, "evitrack: store verify: the store %s holds none of the first files the database %s records, "
                        "so it is not this centre's store: give the server's --data (or --store). Nothing was checked "
                        "or changed.\n",
                store->desc, db_path);
        db_close(db);
        storage_close(store);
        return 1;
    }
    uint64_t t0 = util_now_us();
    scrub_stats_t st;
    int rc = scrub_run(db, store, NULL, 0, "store verify", &st); /* every file, whenever it was last checked */
    double secs = (double)(util_now_us() - t0) / 1e6;
    printf("store verify: %lld stored file%s checked against %s SHA-256 (%.2f MB in %.1f s): %lld intact, %lld "
           "damaged, %lld missing; CRC-32 newly recorded for %lld\n",
           (long long)st.checked, st.checked == 1 ? "" : "s", st.checked == 1 ? "its" : "their",
           (double)st.bytes / 1e6, secs, (long long)st.intact, (long long)st.damaged, (long long)st.missing,
           (long long)st.crc_recorded);
    fflush(stdout); /* before the advice below, when both go to one log */
    if (rc != EV_OK)
        fprintf(stderr, "evitrack: store verify stopped before the end: %s. Run it again when the store answers.\n",
                storage_strerror(rc));
    else if (st.damaged || st.missing)
        fprintf(stderr, "evitrack: store verify: %lld damaged, %lld missing: the lines before the summary name each "
                        "file and the evidence it belongs to; restore them from a backup (docs/operations.md, \"A "
                        "damaged or missing object\")\n",
                (long long)st.damaged, (long long)st.missing);
    db_close(db);
    storage_close(store);
    return rc == EV_OK && !st.damaged && !st.missing ? 0 : 1;
}
