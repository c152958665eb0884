/* export.c: portfolio, cohort and subject-access exports as zip files with a SHA-256 manifest */
#include "export.h"
#include "reviews.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <sodium.h>

#include "audit.h"
#include "auditlog.h"
#include "cli.h"
#include "policy.h"
#include "pages.h"
#include "progress.h"
#include "sniff.h"
#include "storage.h"
#include "stream.h"
#include "tmpl.h"
#include "zipout.h"
#include "rules.h"

/* ------------------------------------------------------------ zip writer */

/* One zip being written, with the manifest of what went in. */
typedef struct zipw {
    zipout_t *zo;
    http_stream_t *stream; /* the download it is written to, or NULL (a file) */
    int fd;                /* the file it is written to, or -1 */
    int out_errno;         /* why writing to the file failed */
    json_t *manifest; /* [{path, size, sha256}] */
    json_t *missing;  /* paths whose evidence file was missing from the store */
    json_t *basis;    /* [{decision_id, criterion_ref, outcome, evidence_id, file_id, name, sha256, path}] */
    json_t *damaged;  /* paths of files known to be damaged in the store (a note in their place) */
    json_t *learned;  /* [[sha256, crc32]]: files with no CRC recorded that passed their SHA-256 check */
    json_t *found_damaged; /* [sha256]: files that failed their check in this export */
    db_t *db;         /* for each file's recorded CRC-32 (borrowed) */
    int left_out;     /* missing + damaged, counted when the zip is closed */
    time_t now;
    char *err;
    size_t errlen;
    int failed;
} zipw_t;

static void zfail(zipw_t *z, const char *fmt, ...) EV_PRINTF(2, 3);
static void zfail(zipw_t *z, const char *fmt, ...)
{
    if (z->failed)
        return;
    z->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->err, z->errlen, fmt, ap);
    va_end(ap);
}

/* Why the zip's bytes could not be written, for messages. */
static const char *zwhy(zipw_t *z)
{
    return z->stream ? "the download stopped" : z->out_errno ? strerror(z->out_errno) : "write failed";
}

static void manifest_add(zipw_t *z, const char *path, uint64_t size, const unsigned char digest[32])
{
    char hex[65];
    util_hex(digest, 32, hex);
    json_array_append_new(z->manifest, json_pack("{s:s, s:I, s:s}", "path", path, "size", (json_int_t)size,
                                                 "sha256", hex));
}

/* Adds a buffer as path, deflated (and to the manifest unless it is the manifest itself). */
static void zadd(zipw_t *z, const char *path, const char *data, size_t len, int in_manifest)
{
    if (z->failed)
        return;
    if (zipout_add(z->zo, path, data, len, 1) != EV_OK)
        zfail(z, "cannot write %s: %s", path, zwhy(z));
    if (in_manifest && !z->failed) {
        unsigned char d[32];
        crypto_hash_sha256(d, (const unsigned char *)data, len);
        manifest_add(z, path, len, d);
    }
}

/* Feeds one piece of a stored file into the open zip entry. */
typedef struct zsink {
    zipw_t *z;
    uint64_t total;
    int write_failed; /* the zip (the download) refused a piece: it is not the store's fault */
} zsink_t;

static int zsink_write(void *ctx, const void *data, size_t len)
{
    zsink_t *k = ctx;
    if (zipout_data(k->z->zo, data, len) != EV_OK) {
        k->write_failed = 1;
        return EV_ERR;
    }
    k->total += len;
    return EV_OK;
}

#define ZREAD_MAX (256 * 1024) /* bytes read from the store at a time */

/* storage_get's loop for a zip sent as it is made: each piece is read from the
 * store straight into the download's buffer (stream_reserve), checked there, and
 * handed to the zip writer, which passes a stored entry's bytes on unchanged to
 * stream_write: one copy of every byte less than reading into a buffer of our
 * own. The check is the blob's SHA-256 (hashed 1), or the CRC-32 the zip writer
 * takes anyway against the one recorded at upload (hashed 0, zipout_expect_crc
 * already called). Either way the last piece of a file that fails is never handed
 * on, so it is never sent. EV_OK, STORAGE_CORRUPT, or as storage_get. */
static int zcopy_stream(zipw_t *z, storage_t *store, const char *sha, uint64_t size, int hashed, zsink_t *k)
{
    storage_reader_t *r = NULL;
    int rc = hashed ? storage_open_read(store, sha, 0, UINT64_MAX, size, &r)
                    : storage_open_read_unhashed(store, sha, size, &r);
    while (rc == EV_OK) {
        size_t room = 0;
        void *p = stream_reserve(z->stream, ZREAD_MAX, &room);
        if (!p) { /* the client went away */
            k->write_failed = 1;
            rc = EV_ERR;
            break;
        }
        long n = storage_read(r, p, room);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            break;
        else
            rc = zsink_write(k, p, (size_t)n);
    }
    if (rc != EV_OK && zipout_crc_mismatch(z->zo)) {
        ev_log("export: blob %s does not match the CRC-32 recorded when it was uploaded: refusing it", sha);
        k->write_failed = 0;
        rc = STORAGE_CORRUPT;
    }
    storage_close_read(r);
    return rc;
}

/* What is recorded of blob sha: its CRC-32 (from the upload or a full check; -1 when
 * none is) and, when it was found damaged, the date (YYYY-MM-DD into damaged_on, else ""). */
static int64_t blob_record(zipw_t *z, const char *sha, char damaged_on[11])
{
    damaged_on[0] = '\0';
    if (!z->db)
        return -1;
    json_t *row = db_one(z->db, "SELECT crc32, damaged_at FROM blobs WHERE sha256 = ?", "t", sha);
    json_t *v = row ? json_object_get(row, "crc32") : NULL;
    int64_t crc = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= UINT32_MAX
                      ? (int64_t)json_integer_value(v) : -1;
    const char *d = row ? json_string_value(json_object_get(row, "damaged_at")) : NULL;
    if (d)
        snprintf(damaged_on, 11, "%s", d);
    json_decref(row);
    return crc;
}

/* Puts a short note at path in place of an evidence file that cannot go in, and lists
 * the path (in manifest.json's "missing" or "damaged"). */
static void zadd_note(zipw_t *z, const char *path, json_t *list, const char *note)
{
    zadd(z, path, note, strlen(note), 1);
    json_array_append_new(list, json_string(path));
}

/* Records what the export learned. The CRC-32 of each file that passed its full SHA-256
 * check and had none recorded (stored before schema/019, or by the demo), so the next
 * export checks it at the CRC's cost. And each file that failed its check: marked damaged
 * (the next export puts a note in its place instead of failing again), its CRC cleared,
 * and made due for the scrub's next round, which clears the mark if the copy reads back
 * whole after all. Run after the export's read transaction. */
static void record_learned(zipw_t *z, db_t *db)
{
    if ((!z->learned || !json_array_size(z->learned)) && (!z->found_damaged || !json_array_size(z->found_damaged)))
        goto out;
    if (db_begin(db) != EV_OK)
        goto out;
    char now[21];
    util_now_iso(now);
    size_t i;
    json_t *v;
    int ok = 1;
    json_array_foreach(z->learned, i, v)
        ok = ok && db_run(db, "UPDATE blobs SET crc32 = coalesce(crc32, ?), checked_at = ? WHERE sha256 = ?", "itt",
                          (int64_t)json_integer_value(json_array_get(v, 1)), now,
                          json_string_value(json_array_get(v, 0))) == EV_OK;
    json_array_foreach(z->found_damaged, i, v)
        ok = ok && db_run(db, "UPDATE blobs SET damaged_at = coalesce(damaged_at, ?), crc32 = NULL, checked_at = NULL "
                              "WHERE sha256 = ?", "tt", now, json_string_value(v)) == EV_OK;
    if (ok)
        db_commit(db);
    else
        db_rollback(db);
out:
    json_decref(z->learned);
    json_decref(z->found_damaged);
    z->learned = z->found_damaged = NULL;
}

/* Streams blob sha from the store into the zip as path, checked as it goes: against
 * the CRC-32 recorded when it was uploaded when there is one and the export is a
 * download (a tenth of the CPU of SHA-256, and the zip needs the CRC anyway), else
 * against its SHA-256 (storage_get), after which its CRC is recorded. A mismatch fails
 * the export (a damaged file is never handed over as good). The manifest's hash is
 * the blob's name, which `evitrack audit verify --export` checks every file against,
 * and the scheduled scrub re-checks the store's copies against (scrub.c). */
static void zadd_file(zipw_t *z, const char *path, storage_t *store, const char *sha)
{
    if (z->failed)
        return;
    storage_stat_t sb;
    int rc = storage_stat(store, sha, &sb);
    if (rc == STORAGE_NOT_FOUND) {
        /* One lost blob must not sink the whole export: a note takes its place (its
         * hash then differs from the one index.html shows) and the manifest says so. */
        ev_log("export: evidence file missing from the store: %s (%s): a note takes its place", sha, path);
        char *note = fmtalloc("This evidence file (SHA-256 %s) was missing from the store when the "
                              "portfolio was exported.\n", sha);
        zadd_note(z, path, z->missing, note);
        free(note);
        return;
    }
    if (rc != EV_OK) {
        zfail(z, "cannot read %s from the store: %s", sha, storage_strerror(rc));
        return;
    }
    char damaged_on[11];
    int64_t crc = blob_record(z, sha, damaged_on);
    if (damaged_on[0]) {
        /* Known to be damaged (a check found it so): a note, not a failed download each time */
        ev_log("export: evidence file damaged in the store: %s (%s): a note takes its place", sha, path);
        char *note = fmtalloc("This evidence file (SHA-256 %s) was found damaged in the store on %s, so it was left "
                              "out of this export. The centre can restore it from a backup.\n",
                              sha, damaged_on);
        zadd_note(z, path, z->damaged, note);
        free(note);
        return;
    }
    /* Evidence files (photos, video, PDFs) are mostly compressed already, so
     * they are stored: deflate would cost a core for ~nothing. */
    zsink_t k = {.z = z};
    if (zipout_begin(z->zo, path, sb.size) != EV_OK) {
        zfail(z, "cannot write %s: %s", path, zwhy(z));
        return;
    }
    if (!z->stream)
        crc = -1; /* a zip written to a file (the CLI) checks every file's SHA-256 */
    if (crc >= 0)
        zipout_expect_crc(z->zo, (uint32_t)crc);
    rc = z->stream ? zcopy_stream(z, store, sha, sb.size, crc < 0, &k)
                   : storage_get(store, sha, 0, UINT64_MAX, zsink_write, &k);
    if (rc != EV_OK && k.write_failed) /* e.g. the client went away */
        zfail(z, "cannot write %s: %s", path, zwhy(z));
    else if (rc != EV_OK)
        zfail(z, "cannot copy %s (%s) from the store into the export: %s", path, sha, storage_strerror(rc));
    if (rc == STORAGE_CORRUPT) {
        if (!z->found_damaged)
            z->found_damaged = json_array();
        json_array_append_new(z->found_damaged, json_string(sha));
    }
    else if (k.total != sb.size)
        zfail(z, "the store gave %llu bytes of %s where %llu were expected", (unsigned long long)k.total, sha,
              (unsigned long long)sb.size);
    else if (zipout_end(z->zo) != EV_OK)
        zfail(z, "cannot write %s: %s", path, zwhy(z));
    if (z->failed)
        return;
    if (crc < 0) {
        if (!z->learned)
            z->learned = json_array();
        json_array_append_new(z->learned, json_pack("[s, I]", sha, (json_int_t)zipout_crc(z->zo)));
    }
    unsigned char d[32];
    size_t bin_len = 0;
    if (sodium_hex2bin(d, sizeof d, sha, strlen(sha), NULL, &bin_len, NULL) != 0 || bin_len != sizeof d) {
        zfail(z, "the blob name %s is not a SHA-256", sha);
        return;
    }
    manifest_add(z, path, k.total, d);
}

static void zadd_json(zipw_t *z, const char *path, json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s) {
        zfail(z, "cannot serialise %s", path);
        return;
    }
    zadd(z, path, s, strlen(s), 1);
    free(s);
}

/* The zip writer's output for a zip sent as it is made. Once the export has failed
 * nothing more goes out, so a download never ends as a well-formed zip holding a
 * corrupt file's bytes or only part of the portfolio. */
static int zout_stream(void *ctx, const void *data, size_t len)
{
    zipw_t *z = ctx;
    if (z->failed)
        return EV_ERR;
    return stream_write(z->stream, data, len);
}

/* The zip writer's output for a zip written to a file. */
static int zout_file(void *ctx, const void *data, size_t len)
{
    zipw_t *z = ctx;
    const char *p = data;
    while (len) {
        ssize_t n = write(z->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            z->out_errno = n < 0 ? errno : EIO;
            return EV_ERR;
        }
        p += n;
        len -= (size_t)n;
    }
    return EV_OK;
}

/* Opens a zip writing to the file path, or (path NULL) to the stream s. */
static int zopen(zipw_t *z, const char *path, http_stream_t *s, char *err, size_t errlen)
{
    memset(z, 0, sizeof *z);
    z->err = err;
    z->errlen = errlen;
    z->now = time(NULL);
    z->fd = -1;
    if (path) {
        z->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (z->fd < 0) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return EV_ERR;
        }
    } else {
        z->stream = s;
    }
    z->manifest = json_array();
    z->missing = json_array();
    z->damaged = json_array();
    z->basis = json_array();
    z->zo = zipout_new(path ? zout_file : zout_stream, z, z->now);
    return EV_OK;
}

/* Writes the manifest (manifest.txt in `sha256sum -c` form, and manifest.json)
 * and closes the zip. */
static int zclose(zipw_t *z)
{
    if (!z->failed) {
        buf_t txt = {0};
        buf_puts(&txt, "");
        size_t i;
        json_t *m;
        json_array_foreach(z->manifest, i, m)
            buf_printf(&txt, "%s  %s\n", json_string_value(json_object_get(m, "sha256")),
                       json_string_value(json_object_get(m, "path")));
        zadd(z, "manifest.txt", txt.data ? txt.data : "", txt.len, 0);
        buf_free(&txt);
        /* decision_basis: the files each decision was made on (frozen at decision time). */
        json_t *mj = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "algorithm", "SHA-256", "generator",
                               "evitrack " EVITRACK_VERSION, "files", z->manifest, "missing", z->missing,
                               "damaged", z->damaged, "decision_basis", z->basis);
        char *s = json_dumps(mj, JSON_INDENT(2));
        zadd(z, "manifest.json", s, strlen(s), 0);
        free(s);
        json_decref(mj);
    }
    /* An export that failed part-way must not end as a well-formed zip holding what it
     * had so far (a corrupt file's bytes, or only index.html): no central directory is
     * written, so unzip refuses what arrived, and the download is cut. */
    if (!z->failed && zipout_finish(z->zo) != EV_OK)
        zfail(z, "cannot finish the zip: %s", zwhy(z));
    zipout_free(z->zo);
    if (z->fd >= 0 && close(z->fd) != 0)
        zfail(z, "cannot finish the zip: %s", strerror(errno));
    json_decref(z->manifest);
    z->left_out = (int)(json_array_size(z->missing) + json_array_size(z->damaged));
    json_decref(z->missing);
    json_decref(z->damaged);
    json_decref(z->basis);
    return z->failed ? EV_ERR : EV_OK;
}

/* ---------------------------------------------------------- the data */

/* A file name safe inside a zip and in a relative link: [A-Za-z0-9._-], at most
 * 80 characters (shortened by sniff_shorten_name, so the extension stays),
 * never starting with a dot. */
static char *safe_name(const char *name)
{
    buf_t b = {0};
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p && b.len < 4096; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '.' || *p == '-' || *p == '_';
        buf_putc(&b, ok && !(b.len == 0 && *p == '.') ? (char)*p : '_');
    }
    if (!b.len)
        buf_puts(&b, "file");
    char *short_name = sniff_shorten_name(b.data, 80);
    buf_free(&b);
    return short_name;
}

/* Groups rows of `items` into objects of `into` by id: into[k].key[] += item
 * where item[fk] == into[k].id. Consumes items. */
static void attach(json_t *into, const char *key, json_t *items, const char *fk)
{
    size_t i, j;
    json_t *o, *it;
    json_array_foreach(into, i, o) {
        json_t *arr = json_array();
        int64_t id = json_integer_value(json_object_get(o, "id"));
        json_array_foreach(items, j, it)
            if (json_integer_value(json_object_get(it, fk)) == id)
                json_array_append(arr, it);
        json_object_set_new(o, key, arr);
    }
    json_decref(items);
}

static json_t *or_empty(json_t *a)
{
    return a ? a : json_array();
}

json_t *export_portfolio_json(db_t *db, int64_t learner_id)
{
    json_t *doc = progress_learner(db, learner_id, progress_today());
    if (!doc)
        return NULL;
    json_t *evidence = or_empty(db_all(db,
        "SELECT e.id, e.title, e.kind, e.description, e.body, e.occurred_on, e.status, e.submitted_at, e.created_at,"
        " e.updated_at, e.place, e.activity, e.group_id, e.acknowledged_at, e.author_role,"
        " CASE WHEN e.author_role = 'assessor' THEN a.name WHEN e.author_role = 'witness' THEN w.witness_name"
        " ELSE l.name END AS author_name, w.witness_job_title, w.witness_relationship, w.witness_email,"
        " w.completed_at AS witness_given_at FROM evidence e JOIN users l ON l.id = e.learner_id"
        " LEFT JOIN users a ON a.id = e.author_id"
        " LEFT JOIN witness_requests w ON w.evidence_id = e.id AND e.author_role = 'witness'"
        " WHERE e.learner_id = ? ORDER BY e.id", "i", learner_id));
    json_t *questions = or_empty(db_all(db,
        "SELECT q.evidence_id, q.position, q.question, q.answer FROM evidence_questions q JOIN evidence e"
        " ON e.id = q.evidence_id WHERE e.learner_id = ? ORDER BY q.evidence_id, q.position, q.id", "i", learner_id));
    json_t *files = or_empty(db_all(db,
        "SELECT f.id, f.evidence_id, f.name, f.size, f.sha256, f.mime, f.created_at"
        " FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id"
        " WHERE e.learner_id = ? ORDER BY f.id", "i", learner_id));
    /* where each file sits in the zip, relative to the learner's folder */
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        char *sn = safe_name(json_string_value(json_object_get(f, "name")));
        char *zp = fmtalloc("evidence/%lld/%lld-%s", (long long)json_integer_value(json_object_get(f, "evidence_id")),
                            (long long)json_integer_value(json_object_get(f, "id")), sn);
        json_object_set_new(f, "zip_path", json_string(zp));
        free(zp);
        free(sn);
    }
    json_t *maps = or_empty(db_all(db,
        "SELECT ec.evidence_id, ec.criterion_id, c.ref, u.ref AS unit_ref, ec.note, u.qualification_id"
        " FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id"
        " WHERE ec.learner_id = ? ORDER BY ec.evidence_id, u.position, c.position", "i", learner_id));
    attach(evidence, "files", files, "evidence_id");
    attach(evidence, "criteria", maps, "evidence_id");
    attach(evidence, "questions", questions, "evidence_id");
    json_object_set_new(doc, "evidence", evidence);

    json_t *decisions = or_empty(db_all(db,
        "SELECT d.id, d.criterion_id, c.ref AS criterion_ref, c.text AS criterion_text, u.ref AS unit_ref,"
        " d.outcome, d.feedback, d.vacsr AS vacsr_json, d.declaration, d.supersedes_id, d.created_at,"
        " d.assessor_id, a.name AS assessor_name, d.rpl_reason, d.criterion_text AS decided_criterion_text,"
        " u.qualification_id,"
        " cs.signed_at AS countersigned_at, cs.comment AS countersign_comment"
        " FROM decisions d JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id"
        " JOIN users a ON a.id = d.assessor_id LEFT JOIN countersigns cs ON cs.decision_id = d.id"
        " WHERE d.learner_id = ? ORDER BY d.id", "i", learner_id));
    json_t *dev = or_empty(db_all(db,
        "SELECT de.decision_id, de.evidence_id FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id"
        " WHERE d.learner_id = ?", "i", learner_id));
    json_t *samples = or_empty(db_all(db,
        "SELECT s.id, s.decision_id, s.outcome, s.feedback, s.created_at, s.response, s.responded_at,"
        " s.iqa_id, i.name AS iqa_name, c.ref AS criterion_ref, u.ref AS unit_ref, u.qualification_id"
        " FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id JOIN users i ON i.id = s.iqa_id"
        " JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id"
        " WHERE d.learner_id = ? ORDER BY s.id", "i", learner_id));
    size_t di;
    json_t *dd;
    json_array_foreach(decisions, di, dd) {
        json_t *basis = rules_basis(db, json_integer_value(json_object_get(dd, "id")));
        size_t bi, fi;
        json_t *bb, *bf;
        json_array_foreach(basis, bi, bb) json_array_foreach(json_object_get(bb, "files"), fi, bf) {
            char *sn = safe_name(json_string_value(json_object_get(bf, "name")));
            char *zp = fmtalloc("evidence/%lld/%lld-%s", (long long)json_integer_value(json_object_get(bb, "evidence_id")),
                                (long long)json_integer_value(json_object_get(bf, "id")), sn);
            json_object_set_new(bf, "zip_path", json_string(zp));
            free(zp);
            free(sn);
        }
        json_object_set_new(dd, "basis", basis);
    }
    attach(decisions, "evidence", dev, "decision_id");
    attach(decisions, "iqa_samples", json_deep_copy(samples), "decision_id");
    json_object_set_new(doc, "decisions", decisions);
    json_object_set_new(doc, "iqa_samples", samples);
    json_object_set_new(doc, "unit_signoffs", or_empty(db_all(db,
        "SELECT s.unit_id, u.ref AS unit_ref, u.title AS unit_title, u.qualification_id, a.name AS assessor_name,"
        " s.assessor_signed_at, s.learner_signed_at FROM unit_signoffs s JOIN units u ON u.id = s.unit_id"
        " JOIN users a ON a.id = s.assessor_id WHERE s.learner_id = ? ORDER BY s.id", "i", learner_id)));
    json_object_set_new(doc, "progress_reviews", reviews_export_json(db, learner_id));
    json_object_set_new(doc, "audit_events", or_empty(db_all(db,
        "SELECT e.id, e.at, e.actor_id, u.name AS actor_name, e.action, e.entity, e.entity_id, e.learner_id,"
        " e.before AS before_json, e.after AS after_json, e.before AS before_text, e.after AS after_text,"
        " e.prev_hash, e.hash"
        " FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id"
        " WHERE e.learner_id = ? ORDER BY e.id", "i", learner_id)));
    char now[21];
    util_now_iso(now);
    json_object_set_new(doc, "exported_at", json_string(now));
    json_object_set_new(doc, "generator", json_string("evitrack " EVITRACK_VERSION));
    return doc;
}

/* Everything held about the learner beyond the portfolio: the account (without
 * the password hash), sign-in sessions and failures, and every audit event in
 * which they acted. */
static json_t *subject_access_json(db_t *db, int64_t learner_id, json_t *portfolio)
{
    json_t *d = json_object();
    json_object_set_new(d, "account", db_one(db,
        "SELECT id, email, name, role, disabled, created_at, updated_at FROM users WHERE id = ?", "i", learner_id));
    json_object_set_new(d, "enrolments", or_empty(db_all(db,
        "SELECT e.id, q.code AS qualification_code, q.title AS qualification_title, a.name AS assessor_name,"
        " i.name AS iqa_name, e.start_date, e.planned_end_date, e.status, e.ended_at, e.created_at"
        " FROM enrolments e JOIN qualifications q ON q.id = e.qualification_id JOIN users a ON a.id = e.assessor_id"
        " LEFT JOIN users i ON i.id = e.iqa_id WHERE e.learner_id = ? ORDER BY e.id", "i", learner_id)));
    json_object_set_new(d, "sessions", or_empty(db_all(db,
        "SELECT created_at, last_seen, expires_at FROM sessions WHERE user_id = ? ORDER BY created_at",
        "i", learner_id)));
    json_object_set_new(d, "sign_in_failures", or_empty(db_all(db,
        "SELECT f.addr, f.at FROM login_failures f JOIN users u ON u.email = f.email WHERE u.id = ? ORDER BY f.id",
        "i", learner_id)));
    json_object_set_new(d, "audit_events_as_actor", or_empty(db_all(db,
        "SELECT id, at, action, entity, entity_id, learner_id, before AS before_json, after AS after_json"
        " FROM audit_events WHERE actor_id = ? ORDER BY id", "i", learner_id)));
    json_object_set(d, "portfolio", portfolio);
    json_object_set_new(d, "note", json_string(
        "A copy of the personal data evitrack holds about you (UK GDPR, Article 15). "
        "Evidence files are in the evidence folder; index.html shows the portfolio."));
    return d;
}

/* ---------------------------------------------------------- index.html */

static void h(buf_t *b, const char *s)
{
    if (s)
        html_escape(b, s, strlen(s));
}

/* A time for people: <time datetime="ISO">29 Nov 2026, 14:05</time> in the
 * centre's zone (pages.h); the ISO value itself when it does not parse. */
static void ht(buf_t *b, const char *iso)
{
    char text[48];
    if (!iso || !*iso)
        return;
    pages_local_time_iso(iso, text, sizeof text);
    buf_puts(b, "<time datetime=\"");
    h(b, iso);
    buf_puts(b, "\">");
    h(b, *text ? text : iso);
    buf_puts(b, "</time>");
}

/* A YYYY-MM-DD date as "29 Nov 2026" (the value itself when it is not a date). */
static void hd(buf_t *b, const char *date)
{
    char text[32];
    pages_date_text(date, text, sizeof text);
    h(b, *text ? text : date);
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long ji(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *outcome_label(const char *o)
{
    if (!strcmp(o, "met"))
        return "Met";
    if (!strcmp(o, "not_met"))
        return "Not yet met";
    if (!strcmp(o, "agree"))
        return "Agree";
    if (!strcmp(o, "action_required"))
        return "Action required";
    return o;
}

static const char STYLE[] =
    "body{font-family:system-ui,Arial,sans-serif;color:#0b0c0c;max-width:1100px;margin:0 auto;padding:20px;line-height:1.45}"
    "h1{font-size:2rem}h2{border-top:2px solid #1d4f91;padding-top:12px;margin-top:36px}"
    "table{border-collapse:collapse;width:100%;margin:10px 0 24px}"
    "th,td{border-bottom:1px solid #b1b4b6;padding:6px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f2f1}.met{color:#005a30;font-weight:700}.not_met{color:#942514;font-weight:700}"
    ".muted{color:#505a5f}.ev{border:1px solid #b1b4b6;padding:10px 15px;margin:12px 0}"
    "a{color:#1d4f91}nav ul{columns:2}pre{white-space:pre-wrap;background:#f3f2f1;padding:8px}"
    "@media print{a{color:inherit}}";

static void render_index(buf_t *b, json_t *doc, const char *title_prefix)
{
    json_t *learner = json_object_get(doc, "learner");
    buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    h(b, title_prefix);
    h(b, js(learner, "name"));
    buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>Portfolio: ", STYLE);
    h(b, js(learner, "name"));
    buf_puts(b, "</h1>\n<p class=\"muted\">");
    h(b, js(learner, "email"));
    buf_puts(b, " · exported ");
    ht(b, js(doc, "exported_at"));
    buf_puts(b, " by ");
    h(b, js(doc, "generator"));
    buf_puts(b, ". Every file in this archive is listed with its SHA-256 in manifest.txt "
                "(check with <code>sha256sum -c manifest.txt</code>).</p>\n"
                "<nav aria-label=\"Contents\"><ul><li><a href=\"#progress\">Progress</a></li>"
                "<li><a href=\"#criteria\">Units and criteria</a></li><li><a href=\"#decisions\">Decisions</a></li>"
                "<li><a href=\"#iqa\">IQA samples</a></li><li><a href=\"#signoffs\">Unit sign-offs</a></li>"
                "<li><a href=\"#reviews\">Progress reviews</a></li>"
                "<li><a href=\"#evidence\">Evidence</a></li><li><a href=\"#audit\">Audit trail</a></li></ul></nav>\n");

    size_t i, j, k;
    json_t *q, *u, *c;
    buf_puts(b, "<h2 id=\"progress\">Progress</h2>\n<table><thead><tr><th>Qualification</th><th>Assessor</th>"
                "<th>IQA</th><th>Dates</th><th>Status</th><th>Criteria met</th><th>Expected progress</th></tr></thead><tbody>\n");
    json_array_foreach(json_object_get(doc, "qualifications"), i, q) {
        buf_puts(b, "<tr><td>");
        h(b, js(q, "code"));
        buf_puts(b, " ");
        h(b, js(q, "title"));
        buf_puts(b, "</td><td>");
        h(b, js(json_object_get(q, "assessor"), "name"));
        buf_puts(b, "</td><td>");
        h(b, js(json_object_get(q, "iqa"), "name"));
        buf_puts(b, "</td><td>");
        hd(b, js(q, "start_date"));
        buf_puts(b, " to ");
        hd(b, js(q, "planned_end_date"));
        buf_puts(b, "</td><td>");
        h(b, js(q, "status"));
        buf_printf(b, "</td><td>%lld of %lld (%lld%%)</td><td>", ji(q, "met"), ji(q, "total"), ji(q, "percent"));
        h(b, js(json_object_get(q, "pace"), "label"));
        buf_puts(b, "</td></tr>\n");
    }
    buf_puts(b, "</tbody></table>\n");

    /* latest decision per criterion, for the criteria tables */
    json_t *decisions = json_object_get(doc, "decisions");
    buf_puts(b, "<h2 id=\"criteria\">Units and criteria</h2>\n");
    json_array_foreach(json_object_get(doc, "qualifications"), i, q) {
        json_array_foreach(json_object_get(q, "units"), j, u) {
            buf_puts(b, "<h3>");
            h(b, js(q, "code"));
            buf_puts(b, " unit ");
            h(b, js(u, "ref"));
            buf_puts(b, ": ");
            h(b, js(u, "title"));
            buf_printf(b, " <span class=\"muted\">(%lld of %lld met)</span></h3>\n", ji(u, "met"), ji(u, "total"));
            buf_puts(b, "<table><thead><tr><th>Criterion</th><th>Status</th><th>Latest decision</th><th>Evidence</th>"
                        "</tr></thead><tbody>\n");
            json_array_foreach(json_object_get(u, "criteria"), k, c) {
                buf_puts(b, "<tr><td><strong>");
                h(b, js(c, "ref"));
                buf_puts(b, "</strong> ");
                h(b, js(c, "text"));
                buf_printf(b, "</td><td class=\"%s\">", js(c, "status"));
                h(b, js(c, "status_label"));
                buf_puts(b, "</td><td>");
                long long did = ji(c, "decision_id");
                size_t di;
                json_t *d;
                json_array_foreach(decisions, di, d) {
                    if (ji(d, "id") != did || !did)
                        continue;
                    buf_printf(b, "<a href=\"#d%lld\">%s</a>, ", did, outcome_label(js(d, "outcome")));
                    h(b, js(d, "assessor_name"));
                    buf_puts(b, ", ");
                    ht(b, js(d, "created_at"));
                }
                buf_puts(b, "</td><td>");
                size_t ei;
                json_t *ev, *m;
                json_array_foreach(json_object_get(doc, "evidence"), ei, ev) {
                    size_t mi;
                    json_array_foreach(json_object_get(ev, "criteria"), mi, m)
                        if (ji(m, "criterion_id") == ji(c, "id"))
                            buf_printf(b, "<a href=\"#e%lld\">E%lld</a> ", ji(ev, "id"), ji(ev, "id"));
                }
                buf_puts(b, "</td></tr>\n");
            }
            buf_puts(b, "</tbody></table>\n");
        }
    }

    json_t *d;
    buf_puts(b, "<h2 id=\"decisions\">Assessment decisions</h2>\n");
    if (!json_array_size(decisions))
        buf_puts(b, "<p>No decisions yet.</p>\n");
    else
        buf_puts(b, "<table><thead><tr><th>Decision</th><th>Criterion</th><th>Outcome</th><th>Assessor and date</th>"
                    "<th>Feedback</th><th>Evidence</th><th>Learner countersign</th><th>IQA</th></tr></thead><tbody>\n");
    json_array_foreach(decisions, i, d) {
        buf_printf(b, "<tr id=\"d%lld\"><td>D%lld%s", ji(d, "id"), ji(d, "id"),
                   ji(d, "supersedes_id") ? "" : "");
        if (ji(d, "supersedes_id"))
            buf_printf(b, " <span class=\"muted\">(replaces <a href=\"#d%lld\">D%lld</a>)</span>", ji(d, "supersedes_id"),
                       ji(d, "supersedes_id"));
        buf_puts(b, "</td><td>");
        h(b, js(d, "unit_ref"));
        buf_puts(b, " ");
        h(b, js(d, "criterion_ref"));
        buf_printf(b, "</td><td class=\"%s\">%s</td><td>", js(d, "outcome"), outcome_label(js(d, "outcome")));
        h(b, js(d, "assessor_name"));
        buf_puts(b, "<br><span class=\"muted\">");
        ht(b, js(d, "created_at"));
        buf_puts(b, json_is_true(json_object_get(d, "declaration")) || ji(d, "declaration") ? "<br>declaration signed" : "");
        buf_puts(b, "</span></td><td>");
        h(b, js(d, "feedback"));
        json_t *vacsr = json_object_get(d, "vacsr");
        if (json_is_object(vacsr) && json_object_size(vacsr)) {
            const char *key;
            json_t *v;
            buf_puts(b, "<br><span class=\"muted\">");
            json_object_foreach(vacsr, key, v) {
                h(b, key);
                buf_puts(b, json_is_true(v) ? " ✓ " : " ✗ ");
            }
            buf_puts(b, "</span>");
        }
        buf_puts(b, "</td><td>");
        json_t *x, *bf;
        size_t bk;
        json_array_foreach(json_object_get(d, "evidence"), j, x)
            buf_printf(b, "<a href=\"#e%lld\">E%lld</a> ", ji(x, "evidence_id"), ji(x, "evidence_id"));
        /* What the decision was made on, as frozen then: each file's name and SHA-256. */
        json_array_foreach(json_object_get(d, "basis"), j, x) {
            json_array_foreach(json_object_get(x, "files"), bk, bf) {
                buf_printf(b, "<br><span class=\"basis\">E%lld ", ji(x, "evidence_id"));
                h(b, js(bf, "name"));
                buf_puts(b, " <code>");
                h(b, js(bf, "sha256"));
                buf_puts(b, "</code></span>");
            }
        }
        if (*js(d, "rpl_reason")) {
            buf_puts(b, "<br>Recognition of prior learning: ");
            h(b, js(d, "rpl_reason"));
        }
        buf_puts(b, "</td><td>");
        if (*js(d, "countersigned_at")) {
            buf_puts(b, "Signed ");
            ht(b, js(d, "countersigned_at"));
            if (*js(d, "countersign_comment")) {
                buf_puts(b, ": ");
                h(b, js(d, "countersign_comment"));
            }
        } else {
            buf_puts(b, "<span class=\"muted\">not yet</span>");
        }
        buf_puts(b, "</td><td>");
        json_array_foreach(json_object_get(d, "iqa_samples"), j, x) {
            buf_printf(b, "<a href=\"#s%lld\">%s</a> ", ji(x, "id"), outcome_label(js(x, "outcome")));
        }
        buf_puts(b, "</td></tr>\n");
    }
    if (json_array_size(decisions))
        buf_puts(b, "</tbody></table>\n");

    json_t *s;
    json_t *samples = json_object_get(doc, "iqa_samples");
    buf_puts(b, "<h2 id=\"iqa\">Internal quality assurance samples</h2>\n");
    if (!json_array_size(samples))
        buf_puts(b, "<p>No decisions sampled yet.</p>\n");
    else
        buf_puts(b, "<table><thead><tr><th>Sample</th><th>Decision</th><th>IQA and date</th><th>Outcome</th>"
                    "<th>Feedback</th><th>Assessor's response</th></tr></thead><tbody>\n");
    json_array_foreach(samples, i, s) {
        buf_printf(b, "<tr id=\"s%lld\"><td>S%lld</td><td><a href=\"#d%lld\">D%lld</a> ", ji(s, "id"), ji(s, "id"),
                   ji(s, "decision_id"), ji(s, "decision_id"));
        h(b, js(s, "unit_ref"));
        buf_puts(b, " ");
        h(b, js(s, "criterion_ref"));
        buf_puts(b, "</td><td>");
        h(b, js(s, "iqa_name"));
        buf_puts(b, "<br><span class=\"muted\">");
        ht(b, js(s, "created_at"));
        buf_printf(b, "</span></td><td>%s</td><td>", outcome_label(js(s, "outcome")));
        h(b, js(s, "feedback"));
        buf_puts(b, "</td><td>");
        h(b, js(s, "response"));
        if (*js(s, "responded_at")) {
            buf_puts(b, " <span class=\"muted\">");
            ht(b, js(s, "responded_at"));
            buf_puts(b, "</span>");
        }
        buf_puts(b, "</td></tr>\n");
    }
    if (json_array_size(samples))
        buf_puts(b, "</tbody></table>\n");

    json_t *so = json_object_get(doc, "unit_signoffs");
    buf_puts(b, "<h2 id=\"signoffs\">Unit sign-offs</h2>\n");
    if (!json_array_size(so))
        buf_puts(b, "<p>No units signed off yet.</p>\n");
    else
        buf_puts(b, "<table><thead><tr><th>Unit</th><th>Assessor signed</th><th>Learner signed</th></tr></thead><tbody>\n");
    json_array_foreach(so, i, s) {
        buf_puts(b, "<tr><td>");
        h(b, js(s, "unit_ref"));
        buf_puts(b, " ");
        h(b, js(s, "unit_title"));
        buf_puts(b, "</td><td>");
        h(b, js(s, "assessor_name"));
        buf_puts(b, ", ");
        ht(b, js(s, "assessor_signed_at"));
        buf_puts(b, "</td><td>");
        if (*js(s, "learner_signed_at"))
            ht(b, js(s, "learner_signed_at"));
        else
            buf_puts(b, "not yet");
        buf_puts(b, "</td></tr>\n");
    }
    if (json_array_size(so))
        buf_puts(b, "</tbody></table>\n");

    reviews_export_html(b, json_object_get(doc, "progress_reviews"));

    json_t *ev;
    buf_puts(b, "<h2 id=\"evidence\">Evidence</h2>\n");
    if (!json_array_size(json_object_get(doc, "evidence")))
        buf_puts(b, "<p>No evidence yet.</p>\n");
    json_array_foreach(json_object_get(doc, "evidence"), i, ev) {
        buf_printf(b, "<section class=\"ev\" id=\"e%lld\"><h3>E%lld: ", ji(ev, "id"), ji(ev, "id"));
        h(b, js(ev, "title"));
        buf_puts(b, "</h3>\n<p class=\"muted\">");
        h(b, js(ev, "kind"));
        if (*js(ev, "occurred_on")) {
            buf_puts(b, " · ");
            hd(b, js(ev, "occurred_on"));
        }
        buf_puts(b, " · ");
        h(b, js(ev, "status"));
        if (*js(ev, "submitted_at")) {
            buf_puts(b, " · submitted ");
            ht(b, js(ev, "submitted_at"));
        }
        buf_puts(b, "</p>\n");
        /* who wrote it: the learner, their assessor, or a witness with their details */
        buf_puts(b, "<p class=\"author\"><strong>Written by:</strong> ");
        h(b, js(ev, "author_name"));
        buf_puts(b, " (");
        h(b, !strcmp(js(ev, "author_role"), "assessor") ? "assessor" : !strcmp(js(ev, "author_role"), "witness") ? "witness" : "learner");
        buf_puts(b, ")");
        if (!strcmp(js(ev, "author_role"), "witness")) {
            buf_puts(b, ", ");
            h(b, js(ev, "witness_job_title"));
            buf_puts(b, ", ");
            h(b, js(ev, "witness_relationship"));
            buf_puts(b, ", ");
            h(b, js(ev, "witness_email"));
            if (*js(ev, "witness_given_at")) {
                buf_puts(b, ", given ");
                ht(b, js(ev, "witness_given_at"));
            }
        }
        if (strcmp(js(ev, "author_role"), "learner") != 0 && strcmp(js(ev, "author_role"), "") != 0) {
            buf_puts(b, ". Read by the learner: ");
            if (*js(ev, "acknowledged_at"))
                ht(b, js(ev, "acknowledged_at"));
            else
                buf_puts(b, "not yet");
        }
        buf_puts(b, "</p>\n");
        if (*js(ev, "place") || *js(ev, "activity")) {
            buf_puts(b, "<p>");
            if (*js(ev, "place")) {
                buf_puts(b, "<strong>Place:</strong> ");
                h(b, js(ev, "place"));
                buf_puts(b, " ");
            }
            if (*js(ev, "activity")) {
                buf_puts(b, "<strong>Activity observed:</strong> ");
                h(b, js(ev, "activity"));
            }
            buf_puts(b, "</p>\n");
        }
        if (*js(ev, "description")) {
            buf_puts(b, "<p>");
            h(b, js(ev, "description"));
            buf_puts(b, "</p>\n");
        }
        if (json_array_size(json_object_get(ev, "questions"))) {
            json_t *qa;
            buf_puts(b, "<ol class=\"questions\">\n");
            json_array_foreach(json_object_get(ev, "questions"), j, qa) {
                buf_puts(b, "<li><strong>");
                h(b, js(qa, "question"));
                buf_puts(b, "</strong>");
                if (*js(qa, "answer")) {
                    buf_puts(b, "<br>");
                    h(b, js(qa, "answer"));
                }
                buf_puts(b, "</li>\n");
            }
            buf_puts(b, "</ol>\n");
        }
        if (*js(ev, "body")) {
            buf_puts(b, "<pre>");
            h(b, js(ev, "body"));
            buf_puts(b, "</pre>\n");
        }
        json_t *m;
        if (json_array_size(json_object_get(ev, "criteria"))) {
            buf_puts(b, "<p><strong>Mapped to:</strong></p><ul>\n");
            json_array_foreach(json_object_get(ev, "criteria"), j, m) {
                buf_puts(b, "<li>");
                h(b, js(m, "unit_ref"));
                buf_puts(b, " ");
                h(b, js(m, "ref"));
                if (*js(m, "note")) {
                    buf_puts(b, ": ");
                    h(b, js(m, "note"));
                }
                buf_puts(b, "</li>\n");
            }
            buf_puts(b, "</ul>\n");
        }
        if (json_array_size(json_object_get(ev, "files"))) {
            buf_puts(b, "<p><strong>Files:</strong></p><ul>\n");
            json_array_foreach(json_object_get(ev, "files"), j, m) {
                buf_puts(b, "<li><a href=\"");
                h(b, js(m, "zip_path"));
                buf_puts(b, "\">");
                h(b, js(m, "name"));
                buf_printf(b, "</a> <span class=\"muted\">%lld bytes, ", ji(m, "size"));
                h(b, js(m, "mime"));
                buf_puts(b, ", SHA-256 <code>");
                h(b, js(m, "sha256"));
                buf_puts(b, "</code></span></li>\n");
            }
            buf_puts(b, "</ul>\n");
        }
        buf_puts(b, "</section>\n");
    }

    json_t *a;
    buf_puts(b, "<h2 id=\"audit\">Audit trail</h2>\n<p class=\"muted\">Every change to this portfolio, in order; "
                "each event carries the hash of the one before (also in audit.json).</p>\n"
                "<table><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th></tr></thead><tbody>\n");
    json_array_foreach(json_object_get(doc, "audit_events"), i, a) {
        buf_printf(b, "<tr><td>%lld</td><td>", ji(a, "id"));
        ht(b, js(a, "at"));
        buf_puts(b, "</td><td>");
        h(b, *js(a, "actor_name") ? js(a, "actor_name") : "system");
        buf_puts(b, "</td><td>");
        h(b, auditlog_action_label(js(a, "action"))); /* plain words; the code beside it */
        buf_puts(b, " <span class=\"muted\">(");
        h(b, js(a, "action"));
        buf_puts(b, " ");
        h(b, js(a, "entity"));
        if (ji(a, "entity_id"))
            buf_printf(b, " %lld", ji(a, "entity_id"));
        buf_puts(b, ")</span></td></tr>\n");
    }
    buf_puts(b, "</tbody></table>\n</main>\n</body>\n</html>\n");
}

/* Adds one learner's portfolio under prefix ("" or "learners/ID-NAME/"). */
/* Narrows a portfolio (export_portfolio_json) to the qualifications of qs: their
 * enrolments, the evidence mapped to them (and only those mappings), decisions, IQA
 * samples, unit sign-offs, progress reviews and the audit events about them. An EQA's
 * download holds exactly the visit's qualifications (issue 18). */
static void scope_portfolio(db_t *db, json_t *doc, const qscope_t *qs)
{
    if (!qs || qs->all)
        return;
    qscope_filter(qs, json_object_get(doc, "qualifications"), "qualification_id");
    json_t *evidence = json_object_get(doc, "evidence"), *ev;
    qscope_filter_evidence(db, qs, evidence, "id");
    size_t i;
    json_array_foreach(evidence, i, ev)
        qscope_filter(qs, json_object_get(ev, "criteria"), "qualification_id");
    qscope_filter(qs, json_object_get(doc, "decisions"), "qualification_id");
    qscope_filter(qs, json_object_get(doc, "iqa_samples"), "qualification_id");
    qscope_filter(qs, json_object_get(doc, "unit_signoffs"), "qualification_id");
    qscope_filter(qs, json_object_get(doc, "progress_reviews"), "qualification_id");
    qscope_filter_events(db, qs, json_object_get(doc, "audit_events"));
}

static void add_learner(zipw_t *z, db_t *db, storage_t *store, int64_t learner_id, const char *prefix,
                        export_kind_t kind, const char *title_prefix, const qscope_t *qs)
{
    /* The chain's head first: the export proves its events against the chain up to it
     * (on PostgreSQL after the chainer has linked what has committed: audit.h). */
    audit_chain_sync(db, 5000);
    json_t *head = audit_head(db);
    int64_t head_seq = json_integer_value(json_object_get(head, "seq"));
    json_t *doc = export_portfolio_json(db, learner_id);
    if (!doc) {
        json_decref(head);
        zfail(z, "no learner %lld", (long long)learner_id);
        return;
    }
    scope_portfolio(db, doc, qs);
    json_t *evs = json_object_get(doc, "audit_events");
    for (size_t ei = json_array_size(evs); ei-- > 0;)
        if (json_integer_value(json_object_get(json_array_get(evs, ei), "id")) > head_seq)
            json_array_remove(evs, ei);
    buf_t html = {0};
    render_index(&html, doc, title_prefix);
    char *p = fmtalloc("%sindex.html", prefix);
    zadd(z, p, html.data, html.len, 1);
    free(p);
    buf_free(&html);
    size_t i, j;
    json_t *ev, *f;
    json_array_foreach(json_object_get(doc, "evidence"), i, ev) {
        json_array_foreach(json_object_get(ev, "files"), j, f) {
            const char *sha = js(f, "sha256");
            p = fmtalloc("%s%s", prefix, js(f, "zip_path"));
            if (!storage_valid_hash(sha))
                zfail(z, "bad stored hash for file %lld", ji(f, "id"));
            else
                zadd_file(z, p, store, sha);
            free(p);
        }
    }
    /* Files a decision was made on that the evidence no longer has (removed after a
     * not yet met decision): the blob is still referenced, so it goes in too. */
    json_t *d, *bb;
    size_t k;
    json_array_foreach(json_object_get(doc, "decisions"), i, d) {
        json_array_foreach(json_object_get(d, "basis"), j, bb) json_array_foreach(json_object_get(bb, "files"), k, f) {
            const char *sha = js(f, "sha256");
            p = fmtalloc("%s%s", prefix, js(f, "zip_path"));
            json_array_append_new(z->basis, json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "decision_id",
                                                      (json_int_t)ji(d, "id"), "criterion_ref", js(d, "criterion_ref"),
                                                      "outcome", js(d, "outcome"), "evidence_id",
                                                      (json_int_t)ji(bb, "evidence_id"), "file_id", (json_int_t)ji(f, "id"),
                                                      "name", js(f, "name"), "sha256", sha, "path", p));
            int have = 0;
            size_t m;
            json_t *me;
            json_array_foreach(z->manifest, m, me) have |= strcmp(js(me, "path"), p) == 0;
            if (!have) {
                if (storage_valid_hash(sha))
                    zadd_file(z, p, store, sha);
            }
            free(p);
        }
    }
    p = fmtalloc("%saudit.json", prefix);
    zadd_json(z, p, json_object_get(doc, "audit_events"));
    free(p);
    /* The whole chain's links ([id, prev_hash, hash], no content) up to the head, so
     * `evitrack audit verify --export` can check the learner's events belong to it. */
    json_t *chain = json_array();
    json_t *links = db_all(db, "SELECT id, prev_hash, hash FROM audit_events WHERE id <= ? ORDER BY id", "i", head_seq);
    json_t *ln;
    json_array_foreach(links, i, ln)
        json_array_append_new(chain, json_pack("[O, O, O]", json_object_get(ln, "id"), json_object_get(ln, "prev_hash"),
                                               json_object_get(ln, "hash")));
    json_decref(links);
    p = fmtalloc("%saudit-chain.json", prefix);
    zadd_json(z, p, chain);
    free(p);
    json_decref(chain);
    p = fmtalloc("%saudit-head.json", prefix);
    zadd_json(z, p, head);
    free(p);
    json_decref(head);
    p = fmtalloc("%sportfolio.json", prefix);
    zadd_json(z, p, doc);
    free(p);
    if (kind == EXPORT_SUBJECT_ACCESS) {
        json_t *sa = subject_access_json(db, learner_id, doc);
        p = fmtalloc("%sdata.json", prefix);
        zadd_json(z, p, sa);
        free(p);
        json_decref(sa);
    }
    json_decref(doc);
}

/* Opens out_path.tmp-XXXXXX beside out_path; on success renames it into place. */
static int finish_tmp(int rc, const char *tmp, const char *out_path, char *err, size_t errlen)
{
    if (rc == EV_OK && rename(tmp, out_path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
        rc = EV_ERR;
    }
    if (rc != EV_OK)
        unlink(tmp);
    return rc;
}

/* Writes one learner's export into z (opened) and closes it. EV_OK or EV_ERR. */
static int build_learner(zipw_t *z, db_t *db, storage_t *store, int64_t learner_id, export_kind_t kind, int *files,
                         const qscope_t *qs)
{
    z->db = db;
    int began = progress_read_begin(db);
    add_learner(z, db, store, learner_id, "", kind, kind == EXPORT_SUBJECT_ACCESS ? "Your data: " : "Portfolio: ", qs);
    if (files)
        *files = (int)json_array_size(z->manifest) + 2;
    int rc = zclose(z);
    progress_read_end(db, began);
    record_learned(z, db);
    return rc;
}

/* Writes a qualification's cohort into z (opened) and closes it. EV_OK or EV_ERR. */
static int build_cohort(zipw_t *z, db_t *db, storage_t *store, int64_t qualification_id, int *files)
{
    json_t *q = db_one(db, "SELECT id, code, title FROM qualifications WHERE id = ?", "i", qualification_id);
    if (!q) {
        zfail(z, "no qualification %lld", (long long)qualification_id);
        return zclose(z);
    }
    z->db = db;
    int began = progress_read_begin(db);
    json_t *learners = or_empty(db_all(db,
        "SELECT u.id, u.name, u.email, e.status FROM enrolments e JOIN users u ON u.id = e.learner_id"
        " WHERE e.qualification_id = ? ORDER BY u.name, u.id", "i", qualification_id));
    buf_t top = {0};
    buf_printf(&top, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Cohort: ");
    h(&top, js(q, "code"));
    buf_printf(&top, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>Cohort: ", STYLE);
    h(&top, js(q, "code"));
    buf_puts(&top, " ");
    h(&top, js(q, "title"));
    buf_printf(&top, "</h1>\n<p>%zu learners. Each learner's portfolio is in its own folder; manifest.txt lists "
                     "every file with its SHA-256.</p>\n<table><thead><tr><th>Learner</th><th>Email</th><th>Status</th>"
                     "</tr></thead><tbody>\n", json_array_size(learners));
    size_t i;
    json_t *l;
    json_array_foreach(learners, i, l) {
        char *sn = safe_name(js(l, "name"));
        char *prefix = fmtalloc("learners/%lld-%s/", ji(l, "id"), sn);
        buf_puts(&top, "<tr><td><a href=\"");
        h(&top, prefix);
        buf_puts(&top, "index.html\">");
        h(&top, js(l, "name"));
        buf_puts(&top, "</a></td><td>");
        h(&top, js(l, "email"));
        buf_puts(&top, "</td><td>");
        h(&top, js(l, "status"));
        buf_puts(&top, "</td></tr>\n");
        add_learner(z, db, store, ji(l, "id"), prefix, EXPORT_PORTFOLIO, "Portfolio: ", NULL);
        free(prefix);
        free(sn);
    }
    buf_puts(&top, "</tbody></table>\n</main>\n</body>\n</html>\n");
    zadd(z, "index.html", top.data, top.len, 1);
    buf_free(&top);
    json_decref(learners);
    if (files)
        *files = (int)json_array_size(z->manifest) + 2;
    int rc = zclose(z);
    progress_read_end(db, began);
    record_learned(z, db);
    json_decref(q);
    return rc;
}

int export_learner(db_t *db, storage_t *store, int64_t learner_id, export_kind_t kind,
                   const char *out_path, int *files, int *left_out, char *err, size_t errlen)
{
    zipw_t z;
    char *tmp = fmtalloc("%s.tmp-%ld", out_path, (long)getpid());
    int rc = zopen(&z, tmp, NULL, err, errlen);
    if (rc == EV_OK) {
        rc = build_learner(&z, db, store, learner_id, kind, files, NULL);
        if (left_out)
            *left_out = z.left_out;
    }
    rc = finish_tmp(rc, tmp, out_path, err, errlen);
    free(tmp);
    return rc;
}

int export_cohort(db_t *db, storage_t *store, int64_t qualification_id,
                  const char *out_path, int *files, int *left_out, char *err, size_t errlen)
{
    if (!db_int(db, "SELECT 1 FROM qualifications WHERE id = ?", 0, "i", qualification_id)) {
        snprintf(err, errlen, "no qualification %lld", (long long)qualification_id);
        return EV_ERR;
    }
    zipw_t z;
    char *tmp = fmtalloc("%s.tmp-%ld", out_path, (long)getpid());
    int rc = zopen(&z, tmp, NULL, err, errlen);
    if (rc == EV_OK) {
        rc = build_cohort(&z, db, store, qualification_id, files);
        if (left_out)
            *left_out = z.left_out;
    }
    rc = finish_tmp(rc, tmp, out_path, err, errlen);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------ the CLI */

int export_cli(int argc, char **argv)
{
    const char *dbpath = "evitrack.db", *data = "data", *email = NULL, *qual = NULL, *out = NULL;
    const char *store_spec = NULL, *creds = NULL;
    int subject = 0;
    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &dbpath)) || (got = cli_opt(argc, argv, &i, "data", &data)) ||
            (got = cli_opt(argc, argv, &i, "store", &store_spec)) ||
            (got = cli_opt(argc, argv, &i, "store-credentials", &creds)) ||
            (got = cli_opt(argc, argv, &i, "learner", &email)) ||
            (got = cli_opt(argc, argv, &i, "qualification", &qual)) || (got = cli_opt(argc, argv, &i, "out", &out))) {
            if (got < 0)
                return 2;
        } else if (cli_flag(argv, &i, "subject-access")) {
            subject = 1;
        } else {
            return cli_usage_error("export: unknown argument %s (usage: export [--db FILE] [--data DIR] [--store DIR|s3://...] "
                                   "--learner EMAIL | --qualification ID_OR_CODE --out FILE.zip)", argv[i]);
        }
    }
    if (!!email == !!qual)
        return cli_usage_error("export: name either --learner EMAIL or --qualification ID_OR_CODE");
    if (!out)
        return cli_usage_error("export: name the zip to write with --out FILE.zip");
    if (subject && !email)
        return cli_usage_error("export: --subject-access goes with --learner");
    storage_t *store = NULL;
    db_t *db = NULL;
    if (cli_open_centre(dbpath, store_spec, creds, data, &db, &store) != EV_OK)
        return 1;
    int rc = 1, files = 0, left_out = 0;
    char err[512] = "";
    if (email) {
        int64_t id = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?) AND role = 'learner'", 0, "t", email);
        if (!id) {
            fprintf(stderr, "evitrack: no learner with the email %s\n", email);
            goto out;
        }
        if (export_learner(db, store, id, subject ? EXPORT_SUBJECT_ACCESS : EXPORT_PORTFOLIO, out, &files, &left_out, err,
                           sizeof err) != EV_OK) {
            fprintf(stderr, "evitrack: export failed: %s\n", err);
            goto out;
        }
    } else {
        int64_t qid = 0;
        if (util_parse_i64(qual, &qid) != EV_OK || !db_int(db, "SELECT 1 FROM qualifications WHERE id = ?", 0, "i", qid))
            qid = db_int(db, "SELECT id FROM qualifications WHERE code = ?", 0, "t", qual);
        if (!qid) {
            fprintf(stderr, "evitrack: no qualification %s\n", qual);
            goto out;
        }
        if (export_cohort(db, store, qid, out, &files, &left_out, err, sizeof err) != EV_OK) {
            fprintf(stderr, "evitrack: export failed: %s\n", err);
            goto out;
        }
    }
    if (db_begin(db) == EV_OK) {
        json_t *after = json_pack("{s:s, s:s}", "to", out, "kind", subject ? "subject_access" : qual ? "cohort" : "portfolio");
        int64_t lid = email ? db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?)", 0, "t", email) : 0;
        if (audit_record(db, 0, qual ? "export.cohort" : "export.portfolio", qual ? "qualification" : "user",
                         qual ? 0 : lid, lid, NULL, after) == EV_OK)
            db_commit(db);
        else
            db_rollback(db);
        json_decref(after);
    }
    printf("wrote %s: %d files with a SHA-256 manifest\n", out, files);
    if (left_out) {
        /* the zip is written, but it is not the whole portfolio: say so, and exit 1 */
        printf("INCOMPLETE: %d evidence file%s %s missing from the store or found damaged there; a note stands in "
               "%s place (manifest.json lists %s; `evitrack audit verify --export %s` names %s)\n",
               left_out, left_out == 1 ? "" : "s", left_out == 1 ? "was" : "were", left_out == 1 ? "its" : "their",
               left_out == 1 ? "it" : "them", out, left_out == 1 ? "it" : "them");
        rc = 1;
        goto out;
    }
    rc = 0;
out:
    db_close(db);
    storage_close(store);
    return rc;
}

/* ------------------------------------------------------------ handlers */

/* ---- exports streamed to the client ----
 * An export is never built in a libmicrohttpd worker: the handler checks
 * access, takes a slot and hands a producer to stream.c, which runs it on its
 * own thread, writing the zip (zipout.c) into the response as it is made:
 * the first bytes leave at once, memory stays flat, no file is left in
 * data/tmp. Slots bound the work: one export at a time per user (a double
 * click does not start a second) and app->max_exports at once overall. */

#define MAX_EXPORT_SLOTS 64

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t slot_user[MAX_EXPORT_SLOTS]; /* 0: free */

/* Takes a slot for user_id: 0, or 429 (theirs is running) / 503 (server full). */
static int slot_take(int64_t user_id, int max_total)
{
    int status = 0, used = 0, free_at = -1;
    if (max_total < 1 || max_total > MAX_EXPORT_SLOTS)
        max_total = MAX_EXPORT_SLOTS;
    pthread_mutex_lock(&slot_lock);
    for (int i = 0; i < MAX_EXPORT_SLOTS; i++) {
        if (slot_user[i] == user_id)
            status = 429;
        if (slot_user[i])
            used++;
        else if (free_at < 0)
            free_at = i;
    }
    if (!status && (used >= max_total || free_at < 0))
        status = 503;
    if (!status)
        slot_user[free_at] = user_id;
    pthread_mutex_unlock(&slot_lock);
    return status;
}

static void slot_give(int64_t user_id)
{
    pthread_mutex_lock(&slot_lock);
    for (int i = 0; i < MAX_EXPORT_SLOTS; i++)
        if (slot_user[i] == user_id) {
            slot_user[i] = 0;
            break;
        }
    pthread_mutex_unlock(&slot_lock);
}

/* One export being streamed: what the producer needs (owned by the stream). */
typedef struct export_job {
    int64_t user_id, learner_id, qualification_id;
    export_kind_t kind;
    storage_t *store; /* the server's (it outlives every stream) */
    qscope_t qs;      /* the qualifications the reader may see (an EQA: its visit's) */
} export_job_t;

static void job_free(void *arg)
{
    export_job_t *j = arg;
    slot_give(j->user_id);
    qscope_free(&j->qs);
    free(j);
}

/* The producer (stream.c's thread): builds the zip into the response; records
 * the export in the audit trail once the last byte was made. */
static int job_run(http_stream_t *s, void *arg)
{
    export_job_t *j = arg;
    db_t *db = db_thread();
    char err[512] = "";
    zipw_t z;
    uint64_t t0 = util_now_us();
    if (!db || zopen(&z, NULL, s, err, sizeof err) != EV_OK) {
        ev_log("export: %s", db ? err : "no database connection");
        return EV_ERR;
    }
    int rc = j->learner_id ? build_learner(&z, db, j->store, j->learner_id, j->kind, NULL, &j->qs)
                           : build_cohort(&z, db, j->store, j->qualification_id, NULL);
    if (rc != EV_OK) {
        ev_log("export: %s", err[0] ? err : "stopped (the client went away?)");
        return EV_ERR;
    }
    ev_log("export: %s %lld: %llu bytes in %llu ms", j->learner_id ? "learner" : "qualification",
           (long long)(j->learner_id ? j->learner_id : j->qualification_id), (unsigned long long)stream_written(s),
           (unsigned long long)((util_now_us() - t0) / 1000));
    if (db_begin(db) == EV_OK) {
        json_t *after = json_pack("{s:s, s:I}", "kind", j->kind == EXPORT_SUBJECT_ACCESS ? "subject_access" :
                                  j->learner_id ? "portfolio" : "cohort", "bytes", (json_int_t)stream_written(s));
        int ok = audit_record(db, j->user_id, j->learner_id ? "export.portfolio" : "export.cohort",
                              j->learner_id ? "user" : "qualification",
                              j->learner_id ? j->learner_id : j->qualification_id, j->learner_id, NULL, after) == EV_OK;
        json_decref(after);
        if (ok)
            db_commit(db);
        else
            db_rollback(db);
    }
    return EV_OK;
}

/* Starts the streamed download of an export (access already checked). */
static int send_export(req_t *r, int64_t learner_id, int64_t qualification_id, export_kind_t kind,
                       const char *download_name)
{
    int busy = slot_take(r->user.id, r->app->max_exports);
    if (busy) {
        free(r->extra_header_name);
        free(r->extra_header_value);
        r->extra_header_name = xstrdup("Retry-After");
        r->extra_header_value = xstrdup(busy == 429 ? "10" : "30");
        return busy == 429
                   ? http_fail(r, 429, "export_running",
                               "Your earlier download is still being made. Wait for it to finish, then try again.")
                   : http_fail(r, 503, "exports_busy",
                               "Other downloads are being made just now. Try again in a minute.");
    }
    export_job_t *j = xcalloc(1, sizeof *j);
    if (learner_id && policy_qscope(r->db, &r->user, learner_id, &j->qs) != EV_OK) {
        slot_give(r->user.id);
        free(j);
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    }
    if (!learner_id)
        j->qs.all = 1;
    j->user_id = r->user.id;
    j->learner_id = learner_id;
    j->qualification_id = qualification_id;
    j->kind = kind;
    j->store = r->app->store;
    http_send_stream(r, stream_new(job_run, j, job_free), "application/zip", download_name);
    return 200;
}

/* GET /api/v1/learners/{id}/export, /learners/{id}/export: admin, the learner's
 * assessor, EQA (and IQA on the enrolment) */
static int export_learner_route(req_t *r)
{
    int64_t id = r->params[0];
    if (!db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'learner'", 0, "i", id))
        return http_fail(r, 404, "not_found", "No such learner.");
    if (!policy_can_read_learner(r->db, &r->user, id))
        return http_fail(r, 404, "not_found", "No such learner."); /* as if it did not exist */
    char name[64];
    snprintf(name, sizeof name, "portfolio-%lld.zip", (long long)id);
    return send_export(r, id, 0, EXPORT_PORTFOLIO, name);
}

/* GET /api/v1/qualifications/{id}/export, /qualifications/{id}/export: the cohort */
static int export_cohort_route(req_t *r)
{
    int64_t id = r->params[0];
    char *code = db_text(r->db, "SELECT code FROM qualifications WHERE id = ?", "i", id);
    if (!code)
        return http_fail(r, 404, "not_found", "No such qualification.");
    char *sn = safe_name(code);
    char *name = fmtalloc("cohort-%s.zip", sn);
    int rc = send_export(r, 0, id, EXPORT_PORTFOLIO, name);
    free(name);
    free(sn);
    free(code);
    return rc;
}

/* GET /api/v1/me/export, /portfolio/download: the learner's own subject-access copy */
static int export_me_route(req_t *r)
{
    return send_export(r, r->user.id, 0, EXPORT_SUBJECT_ACCESS, "my-evitrack-data.zip");
}

const route_t export_routes[] = {
    {"GET", "/api/v1/learners/{id}/export", export_learner_route, ROLE_ADMIN | ROLE_ASSESSOR | ROLE_IQA | ROLE_EQA, NULL, 0},
    {"GET", "/learners/{id}/export", export_learner_route, ROLE_ADMIN | ROLE_ASSESSOR | ROLE_IQA | ROLE_EQA, "error", 0},
    {"GET", "/api/v1/qualifications/{id}/export", export_cohort_route, ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/qualifications/{id}/export", export_cohort_route, ROLE_ADMIN | ROLE_EQA, "error", 0},
    {"GET", "/api/v1/me/export", export_me_route, ROLE_LEARNER, NULL, 0},
    {"GET", "/portfolio/download", export_me_route, ROLE_LEARNER, "error", 0},
    {0},
};
