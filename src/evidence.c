/* evidence.c: evidence items, their files and their mapping to criteria: handlers, helpers, gc */
#include "notify.h"
#include "evidence.h"
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "iqa.h"
#include "pages.h"
#include "cli.h"
#include "policy.h"
#include "sniff.h"
#include "status.h"
#include "storage.h"
#include "util.h"

#define TITLE_MAX 200
#define DESCRIPTION_MAX 5000
#define BODY_MAX 100000
#define NOTE_MAX 2000
#define FILES_MAX 20
#define MAPPING_MAX 500

/* ---- vocabulary ---- */

static const struct {
    const char *key;
    const char *label;
    int text_ok; /* may be typed in the page with no file */
} kinds[] = {
    {"observation", "Observation", 0},
    {"witness_testimony", "Witness testimony", 1},
    {"professional_discussion", "Professional discussion", 0},
    {"product", "Product (work product)", 0},
    {"reflective_account", "Reflective account", 1},
    {"question_and_answer", "Question and answer", 0},
    {"recognition_of_prior_learning", "Recognition of prior learning", 0},
    {NULL, NULL, 0},
};

static const struct {
    const char *key;
    const char *label;
    const char *tag; /* CSS modifier for the status tag */
} statuses[] = {
    {"draft", "Draft", "grey"},
    {"submitted", "Submitted", "blue"},
    {"assessed", "Assessed", "green"},
    {"returned", "Returned for more work", "orange"},
    {NULL, NULL, NULL},
};

static const struct {
    const char *key;
    const char *label;
} criterion_statuses[] = {
    {"not_started", "Not started"}, {"mapped", "Evidence mapped"}, {"submitted", "Submitted"},
    {"met", "Met"}, {"not_met", "Not yet met"}, {NULL, NULL},
};

static int kind_index(const char *kind)
{
    for (int i = 0; kind && kinds[i].key; i++)
        if (strcmp(kinds[i].key, kind) == 0)
            return i;
    return -1;
}

int evidence_kind_valid(const char *kind)
{
    return kind_index(kind) >= 0;
}

const char *evidence_kind_label(const char *kind)
{
    int i = kind_index(kind);
    return i >= 0 ? kinds[i].label : (kind ? kind : "");
}

static const char *status_label(const char *status, const char **tag)
{
    for (int i = 0; status && statuses[i].key; i++)
        if (strcmp(statuses[i].key, status) == 0) {
            if (tag)
                *tag = statuses[i].tag;
            return statuses[i].label;
        }
    if (tag)
        *tag = "grey";
    return status ? status : "";
}

const char *evidence_status_label(const char *status)
{
    return status_label(status, NULL);
}

static int status_valid(const char *status)
{
    for (int i = 0; status && statuses[i].key; i++)
        if (strcmp(statuses[i].key, status) == 0)
            return 1;
    return 0;
}

static const char *criterion_status_label(const char *status)
{
    for (int i = 0; status && criterion_statuses[i].key; i++)
        if (strcmp(criterion_statuses[i].key, status) == 0)
            return criterion_statuses[i].label;
    return "Not started";
}

/* [{value, label, selected, text_ok}] for a select. New reference. */
static json_t *kinds_json(const char *selected)
{
    json_t *a = json_array();
    for (int i = 0; kinds[i].key; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:b}", "value", kinds[i].key, "label",
                                           kinds[i].label, "selected",
                                           selected && strcmp(selected, kinds[i].key) == 0,
                                           "text_ok", kinds[i].text_ok));
    return a;
}

/* ---- small helpers ---- */

typedef struct ev_err {
    int status;
    const char *code;
    char msg[400];
    char codebuf[48]; /* code's storage when it came from rules.c */
} ev_err_t;

static int ev_fail(ev_err_t *e, int status, const char *code, const char *fmt, ...) EV_PRINTF(4, 5);
static int ev_fail(ev_err_t *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return EV_ERR;
}

/* Carries a refusal of the rules (rules.c) into an ev_err_t. Returns rc. */
static int ev_rule(int rc, const rules_err_t *re, ev_err_t *e)
{
    if (rc != EV_OK) {
        snprintf(e->codebuf, sizeof e->codebuf, "%s", re->code);
        ev_fail(e, re->status, e->codebuf, "%s", re->message);
    }
    return rc;
}

/* Opens a transaction unless the caller has one open; *own says which. */
static int txn_begin(db_t *db, int *own)
{
    *own = !db_in_transaction(db);
    return *own ? db_begin(db) : EV_OK;
}

/* Commits (ok) or rolls back our own transaction; inside the caller's, only
 * reports. Returns EV_OK when the work stands. */
static int txn_end(db_t *db, int own, int ok)
{
    if (!own)
        return ok ? EV_OK : EV_ERR;
    if (ok && db_commit(db) == EV_OK)
        return EV_OK;
    db_rollback(db);
    return EV_ERR;
}

/* A copy of s without leading and trailing white space (caller frees), or NULL. */
static char *trimdup(const char *s)
{
    if (!s)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return xstrndup(s, n);
}

/* Number of characters (not bytes) in UTF-8 text. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* An integer from a JSON integer or a decimal string; EV_OK or EV_ERR. */
static int json_to_id(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out > 0 ? EV_OK : EV_ERR;
    }
    if (json_is_string(v) && util_parse_i64(json_string_value(v), out) == EV_OK && *out > 0)
        return EV_OK;
    return EV_ERR;
}

static void size_label(int64_t size, char *out, size_t outlen)
{
    if (size < 1024)
        snprintf(out, outlen, "%lld bytes", (long long)size);
    else if (size < 1024 * 1024)
        snprintf(out, outlen, "%.1f KB", (double)size / 1024.0);
    else if (size < 1024LL * 1024 * 1024)
        snprintf(out, outlen, "%.1f MB", (double)size / (1024.0 * 1024.0));
    else
        snprintf(out, outlen, "%.2f GB", (double)size / (1024.0 * 1024.0 * 1024.0));
}

/* Tomorrow's UTC date, the latest activity date accepted (a learner in the UK
 * may be an hour ahead of UTC). */
static void latest_date(char out[11])
{
    time_t t = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* ---- reading ---- */

int evidence_lock(db_t *db, int64_t evidence_id)
{
    return db_lock_xact(db, (int64_t)0x6576 << 48 ^ evidence_id);
}

/* The evidence row for checks: learner and status. EV_OK, or EV_ERR when missing.
 * Inside a transaction it first takes the item's lock (evidence_lock), so what it
 * reads stays true until the transaction ends: two servers cannot both submit the
 * item, or withdraw it while an assessor decides on it. */
static int ev_head(db_t *db, int64_t id, int64_t *learner_id, char status[16])
{
    if (db_in_transaction(db) && evidence_lock(db, id) != EV_OK)
        return EV_ERR;
    db_stmt_t *st = db_query(db, "SELECT learner_id, status FROM evidence WHERE id = ?", "i", id);
    int rc = EV_ERR;
    *learner_id = 0;
    status[0] = '\0';
    if (st && db_next(st) == 1) {
        *learner_id = db_col_int(st, 0);
        snprintf(status, 16, "%s", db_col_text(st, 1));
        rc = EV_OK;
    }
    if (st)
        db_stmt_done(st);
    return rc;
}

/* NULL when the learner may still change the item, else why not (and the
 * error code through *code). Drafts and items the assessor returned can
 * change; once an assessor has decided on it (assessed) it is fixed for good,
 * and while it waits in the assessor's queue (submitted) it can be withdrawn
 * first. (Returned items keep the decisions already made on them: those are
 * separate, never-edited records, and every change here is audited.) */
static const char *ev_lock_reason(db_t *db, int64_t id, const char *status, const char **code)
{
    (void)db;
    (void)id;
    if (strcmp(status, "assessed") == 0) {
        *code = "evidence_assessed";
        return "An assessor has decided on this evidence, so its files and mapping can no longer change.";
    }
    if (strcmp(status, "submitted") == 0) {
        *code = "evidence_submitted";
        return "This evidence is waiting for assessment. Withdraw it first to change it.";
    }
    return NULL;
}

static int ev_check_editable(db_t *db, int64_t id, const char *status, ev_err_t *e)
{
    const char *code = NULL;
    const char *why = ev_lock_reason(db, id, status, &code);
    if (why)
        return ev_fail(e, 409, code, "%s", why);
    return EV_OK;
}

/* When a stored copy was found damaged (blobs.damaged_at, ISO 8601): the day as
 * YYYY-MM-DD into day, and as "30 Nov 2026" into text (the day again if it will not read). */
static void damaged_day(const char *damaged_at, char day[11], char text[32])
{
    snprintf(day, 11, "%.10s", damaged_at);
    pages_date_text(day, text, 32);
    if (!text[0])
        snprintf(text, 32, "%s", day);
}

void evidence_decorate_file(json_t *f, int64_t evidence_id)
{
    int64_t fid = json_integer_value(json_object_get(f, "id"));
    const char *mime = json_string_value(json_object_get(f, "mime"));
    int download_only = json_is_true(json_object_get(f, "download_only")) ||
                        json_integer_value(json_object_get(f, "download_only")) != 0;
    /* a stored copy found damaged (scrub.h) is not previewed: the page says so instead */
    const char *damaged_at = json_string_value(json_object_get(f, "damaged_at"));
    const char *preview = download_only || damaged_at ? NULL : sniff_preview_kind(mime);
    char label[32];
    size_label(json_integer_value(json_object_get(f, "size")), label, sizeof label);
    json_object_set_new(f, "download_only", json_boolean(download_only));
    json_object_set_new(f, "preview", preview ? json_string(preview) : json_null());
    json_object_set_new(f, "is_image", json_boolean(preview && strcmp(preview, "image") == 0));
    json_object_set_new(f, "is_pdf", json_boolean(preview && strcmp(preview, "pdf") == 0));
    json_object_set_new(f, "is_audio", json_boolean(preview && strcmp(preview, "audio") == 0));
    json_object_set_new(f, "is_video", json_boolean(preview && strcmp(preview, "video") == 0));
    json_object_set_new(f, "damaged", json_boolean(damaged_at != NULL));
    if (damaged_at) {
        char day[11], text[32];
        damaged_day(damaged_at, day, text);
        json_object_set_new(f, "damaged_on", json_string(day));
        json_object_set_new(f, "damaged_on_text", json_string(text));
    }
    json_object_del(f, "damaged_at");
    json_object_set_new(f, "size_label", json_string(label));
    json_object_set_new(f, "url", json_sprintf("/evidence/%lld/files/%lld", (long long)evidence_id,
                                               (long long)fid));
    json_object_set_new(f, "api_url", json_sprintf("/api/v1/evidence/%lld/files/%lld",
                                                   (long long)evidence_id, (long long)fid));
}

/* The whole item as the API returns it, with flags for the viewer u.
 * NULL when it does not exist. New reference. */
static json_t *ev_load(db_t *db, int64_t id, const user_t *u)
{
    json_t *ev = db_one(db,
                        "SELECT e.id, e.learner_id, l.name AS learner_name, e.title, e.kind, e.description,"
                        " e.body, e.occurred_on, e.status, e.submitted_at, e.created_at, e.updated_at,"
                        " e.place, e.activity, e.group_id, e.acknowledged_at, e.author_role"
                        " FROM evidence e JOIN users l ON l.id = e.learner_id WHERE e.id = ?",
                        "i", id);
    if (!ev)
        return NULL;
    const char *tag = NULL;
    const char *status = json_string_value(json_object_get(ev, "status"));
    json_object_set_new(ev, "kind_label", json_string(evidence_kind_label(json_string_value(
                                              json_object_get(ev, "kind")))));
    json_object_set_new(ev, "status_label", json_string(status_label(status, &tag)));
    json_object_set_new(ev, "status_tag", json_string(tag));
    char key[32];
    snprintf(key, sizeof key, "is_%s", status ? status : "draft");
    json_object_set_new(ev, key, json_true());

    json_t *files = db_all(db,
                           "SELECT f.id, f.name, f.size, f.sha256, f.mime, f.download_only, f.created_at, b.damaged_at"
                           " FROM evidence_files f LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.evidence_id = ?"
                           " ORDER BY f.id",
                           "i", id);
    if (!files)
        files = json_array();
    size_t i;
    json_t *f;
    int64_t total = 0;
    json_array_foreach(files, i, f) {
        evidence_decorate_file(f, id);
        total += json_integer_value(json_object_get(f, "size"));
    }
    json_object_set_new(ev, "files", files);
    json_object_set_new(ev, "file_count", json_integer((json_int_t)json_array_size(files)));

    json_t *crit = db_all(db,
                          "SELECT ec.criterion_id, ec.note, c.ref, c.text, u.id AS unit_id,"
                          " u.ref AS unit_ref, u.title AS unit_title, q.id AS qualification_id,"
                          " q.title AS qualification_title,"
                          " coalesce(cs.status, 'not_started') AS criterion_status"
                          " FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id"
                          " JOIN units u ON u.id = c.unit_id JOIN qualifications q ON q.id = u.qualification_id"
                          " LEFT JOIN criterion_status cs ON cs.learner_id = ec.learner_id"
                          "  AND cs.criterion_id = ec.criterion_id"
                          " WHERE ec.evidence_id = ? ORDER BY q.id, u.position, u.id, c.position, c.id",
                          "i", id);
    if (!crit)
        crit = json_array();
    /* an EQA sees only the mappings and decisions of its visit's qualifications */
    qscope_t qscope;
    if (policy_qscope(db, u, json_integer_value(json_object_get(ev, "learner_id")), &qscope) != EV_OK) {
        json_decref(crit);
        json_decref(files);
        json_decref(ev);
        return NULL;
    }
    qscope_filter(&qscope, crit, "qualification_id");
    json_array_foreach(crit, i, f) {
        json_object_set_new(f, "criterion_status_label", json_string(criterion_status_label(
                                    json_string_value(json_object_get(f, "criterion_status")))));
    }
    json_object_set_new(ev, "criteria", crit);
    json_object_set_new(ev, "criteria_count", json_integer((json_int_t)json_array_size(crit)));

    json_t *dec = db_all(db,
                         "SELECT d.id, d.criterion_id, c.ref AS criterion_ref, d.outcome, d.feedback,"
                         " d.created_at, a.name AS assessor_name, (d.outcome = 'met') AS is_met,"
                         " (SELECT un.qualification_id FROM units un WHERE un.id = c.unit_id) AS qualification_id"
                         " FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id"
                         " JOIN criteria c ON c.id = d.criterion_id JOIN users a ON a.id = d.assessor_id"
                         " WHERE de.evidence_id = ? ORDER BY d.id",
                         "i", id);
    qscope_filter(&qscope, dec, "qualification_id");
    qscope_free(&qscope);
    json_object_set_new(ev, "decisions", dec ? dec : json_array());

    int64_t learner_id = json_integer_value(json_object_get(ev, "learner_id"));
    json_t *author = evidence_author_json(db, id);
    int learner_written = !author || json_is_true(json_object_get(author, "is_learner"));
    json_object_set_new(ev, "author", author ? author : json_null());
    json_t *qs = db_all(db, "SELECT position, question, answer FROM evidence_questions WHERE evidence_id = ?"
                            " ORDER BY position, id", "i", id);
    json_object_set_new(ev, "questions", qs ? qs : json_array());
    json_object_set_new(ev, "has_questions", json_boolean(qs && json_array_size(qs) > 0));
    const char *acked = json_string_value(json_object_get(ev, "acknowledged_at"));
    json_object_set_new(ev, "needs_acknowledgement", json_boolean(!learner_written && !acked &&
                                                                  status && strcmp(status, "draft") != 0));
    json_object_set_new(ev, "can_acknowledge",
                        json_boolean(!learner_written && !acked && status && strcmp(status, "draft") != 0 &&
                                     u && u->role == ROLE_LEARNER && u->id == learner_id));
    int owner = u && policy_can_edit_evidence_of(u, learner_id) && learner_written;
    const char *code = NULL;
    const char *lock = ev_lock_reason(db, id, status ? status : "draft", &code);
    int has_decisions = json_array_size(json_object_get(ev, "decisions")) > 0;
    int has_content = json_array_size(files) > 0 ||
                      (json_string_value(json_object_get(ev, "body")) &&
                       json_string_value(json_object_get(ev, "body"))[0]);
    json_object_set_new(ev, "is_owner", json_boolean(owner));
    /* the learner's assessor: a link to the review page (src/caseload.c) */
    json_object_set_new(ev, "can_review", json_boolean(u && !owner && status && strcmp(status, "submitted") == 0 &&
                                                       policy_can_assess_learner(db, u, learner_id)));
    json_object_set_new(ev, "editable", json_boolean(owner && !lock));
    json_object_set_new(ev, "locked_reason", lock ? json_string(lock) : json_null());
    json_object_set_new(ev, "can_submit", json_boolean(owner && !lock && has_content &&
                                                       json_array_size(crit) > 0));
    json_object_set_new(ev, "can_delete", json_boolean(owner && !lock && !has_decisions));
    int decided_this_round = (int)db_int(
        db,
        "SELECT EXISTS (SELECT 1 FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id"
        " JOIN evidence e ON e.id = de.evidence_id WHERE de.evidence_id = ?"
        " AND d.id > e.round_decision_floor)",
        0, "i", id);
    json_object_set_new(ev, "can_withdraw", json_boolean(owner && status &&
                                                         strcmp(status, "submitted") == 0 &&
                                                         !decided_this_round));
    char tl[32];
    size_label(total, tl, sizeof tl);
    json_object_set_new(ev, "total_size_label", json_string(tl));
    json_object_set_new(ev, "url", json_sprintf("/evidence/%lld", (long long)id));
    return ev;
}

/* What the audit trail keeps of an item. New reference or NULL. */
static json_t *ev_snapshot(db_t *db, int64_t id)
{
    json_t *o = db_one(db,
                       "SELECT title, kind, description, body, occurred_on, status, submitted_at,"
                       " author_role, author_id, place, activity, group_id FROM evidence WHERE id = ?",
                       "i", id);
    if (!o)
        return NULL;
    json_t *files = db_all(db,
                           "SELECT id, name, size, sha256, mime FROM evidence_files"
                           " WHERE evidence_id = ? ORDER BY id",
                           "i", id);
    json_t *crit = db_all(db,
                          "SELECT criterion_id, note FROM evidence_criteria WHERE evidence_id = ?"
                          " ORDER BY criterion_id",
                          "i", id);
    json_t *qs = db_all(db, "SELECT position, question, answer FROM evidence_questions WHERE evidence_id = ?"
                            " ORDER BY position, id", "i", id);
    json_object_set_new(o, "files", files ? files : json_array());
    json_object_set_new(o, "criteria", crit ? crit : json_array());
    if (qs && json_array_size(qs))
        json_object_set_new(o, "questions", qs);
    else
        json_decref(qs);
    return o;
}

/* Finds the item for a handler: 404 when it does not exist or the user may
 * not read that learner's portfolio (so nobody learns what exists). */
static int ev_find(req_t *r, int64_t id, int64_t *learner_id, char status[16])
{
    if (ev_head(r->db, id, learner_id, status) != EV_OK ||
        !policy_can_read_learner(r->db, &r->user, *learner_id))
        return http_fail(r, 404, "not_found", "There is no evidence %lld.", (long long)id);
    return 0;
}

/* ev_find, then only the learner themself may change it (403 for staff). */
static int ev_find_own(req_t *r, int64_t id, int64_t *learner_id, char status[16])
{
    int st = ev_find(r, id, learner_id, status);
    if (st)
        return st;
    if (!policy_can_edit_evidence_of(&r->user, *learner_id))
        return http_fail(r, 403, "forbidden", "Only the learner can change their evidence.");
    /* An item the assessor or a witness wrote stays as they wrote it (records.c, witness.c). */
    char *author = db_text(r->db, "SELECT author_role FROM evidence WHERE id = ?", "i", id);
    int theirs = author && strcmp(author, "learner") != 0;
    free(author);
    if (theirs)
        return http_fail(r, 403, "written_by_other",
                         "Your assessor or a witness wrote this evidence, so only they can change it. "
                         "You can read it and confirm you have read it.");
    return 0;
}

static int fail_with(req_t *r, const ev_err_t *e)
{
    return http_fail(r, e->status ? e->status : 500, e->code ? e->code : "internal_error", "%s",
                     e->msg[0] ? e->msg : "Something went wrong.");
}

/* ---- writing ---- */

/* A file ready to record. */
typedef struct ev_file {
    char *name;        /* cleaned display name (owned) */
    const char *tmp;   /* temporary path (uploads; borrowed) */
    char sha256[65];
    int64_t size;
    uint32_t crc32;    /* of the bytes received (blobs.crc32: the export's check) */
    int repaired;      /* the stored copy was marked damaged and these bytes replaced it */
    char mime[128];
    int download_only;
} ev_file_t;

static void ev_files_free(ev_file_t *files, size_t n)
{
    for (size_t i = 0; files && i < n; i++)
        free(files[i].name);
    free(files);
}

/* Records files (blobs rows + evidence_files rows) for an item; inside a
 * transaction. A blob already recorded keeps its CRC-32, or takes this one when it had
 * none (stored before schema/019): the bytes just received hash to the same SHA-256.
 * EV_OK or EV_ERR. */
static int ev_add_files(db_t *db, int64_t evidence_id, const ev_file_t *files, size_t n)
{
    char now[21];
    util_now_iso(now);
    for (size_t i = 0; i < n; i++) {
        int blob_ok = files[i].repaired
                          ? db_run(db, "UPDATE blobs SET crc32 = ?, checked_at = ?, damaged_at = NULL WHERE sha256 = ?",
                                   "itt", (int64_t)files[i].crc32, now, files[i].sha256) == EV_OK
                          : db_run(db,
                                   "INSERT INTO blobs (sha256, size, crc32) VALUES (?, ?, ?)"
                                   " ON CONFLICT (sha256) DO UPDATE SET crc32 = coalesce(blobs.crc32, excluded.crc32)",
                                   "tii", files[i].sha256, files[i].size, (int64_t)files[i].crc32) == EV_OK;
        if (!blob_ok ||
            db_run(db,
                   "INSERT INTO evidence_files (evidence_id, name, size, sha256, mime, download_only)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   "itittI", evidence_id, files[i].name, files[i].size, files[i].sha256, files[i].mime,
                   files[i].download_only) != EV_OK)
            return EV_ERR;
    }
    return EV_OK;
}

/* The fields of a create or edit, borrowed from the request (title trimmed, owned). */
typedef struct ev_fields {
    char *title;
    const char *kind;
    const char *description;
    const char *body;
    const char *occurred_on; /* NULL or "" clears */
    int has_title, has_kind, has_description, has_body, has_occurred_on;
} ev_fields_t;

/* Validates fields; a missing title/kind is an error only when required.
 * Records field errors on r (when r) and returns their number. */
/* A field sent as something other than text (a number, an object...). */
static int not_text(req_t *r, const char *key)
{
    json_t *v = json_object_get(r->in, key);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    return v && !json_is_string(v) && !json_is_null(v);
}

static int ev_validate(req_t *r, const ev_fields_t *f, int required)
{
    int errs = 0;
    char latest[11];
    static const char *const text_fields[] = {"title", "kind", "description", "body", "occurred_on", NULL};
    for (int i = 0; text_fields[i]; i++)
        if (not_text(r, text_fields[i])) {
            http_field_error(r, text_fields[i], "Send this field as text");
            return 1;
        }
    if ((required || f->has_title) && (!f->title || !*f->title)) {
        http_field_error(r, "title", "Enter a title");
        errs++;
    } else if (f->title && utf8_chars(f->title) > TITLE_MAX) {
        http_field_error(r, "title", "Title must be 200 characters or fewer");
        errs++;
    }
    if ((required || f->has_kind) && !evidence_kind_valid(f->kind)) {
        http_field_error(r, "kind", "Select the type of evidence");
        errs++;
    }
    if (f->description && utf8_chars(f->description) > DESCRIPTION_MAX) {
        http_field_error(r, "description", "Description must be 5,000 characters or fewer");
        errs++;
    }
    if (f->body && utf8_chars(f->body) > BODY_MAX) {
        http_field_error(r, "body", "The typed account must be 100,000 characters or fewer");
        errs++;
    }
    if (f->occurred_on && *f->occurred_on) {
        latest_date(latest);
        if (!util_valid_date(f->occurred_on)) {
            http_field_error(r, "occurred_on", "Enter the date of the activity as YYYY-MM-DD");
            errs++;
        } else if (strcmp(f->occurred_on, latest) > 0) {
            http_field_error(r, "occurred_on", "The date of the activity must be today or in the past");
            errs++;
        } else if (strcmp(f->occurred_on, "1950-01-01") < 0) {
            http_field_error(r, "occurred_on", "Enter a real date for the activity");
            errs++;
        }
    }
    return errs;
}

static void ev_read_fields(req_t *r, ev_fields_t *f)
{
    memset(f, 0, sizeof *f);
    f->has_title = json_object_get(r->in, "title") != NULL;
    f->has_kind = json_object_get(r->in, "kind") != NULL;
    f->has_description = json_object_get(r->in, "description") != NULL;
    f->has_body = json_object_get(r->in, "body") != NULL;
    f->has_occurred_on = json_object_get(r->in, "occurred_on") != NULL;
    f->title = trimdup(in_str(r, "title"));
    f->kind = in_str(r, "kind");
    f->description = in_str(r, "description");
    f->body = in_str(r, "body");
    f->occurred_on = in_str(r, "occurred_on");
    if (f->has_occurred_on && json_is_null(json_object_get(r->in, "occurred_on")))
        f->occurred_on = "";
}

/* The form's values for re-rendering a page after an error. */
static json_t *form_json(const ev_fields_t *f)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "title", f->title ? f->title : "", "kind",
                     f->kind ? f->kind : "", "description", f->description ? f->description : "",
                     "body", f->body ? f->body : "", "occurred_on",
                     f->occurred_on ? f->occurred_on : "");
}

/* What the new and edit forms show besides their data: the typed values
 * (form, taken), the evidence types with kind selected, and the upload limit. */
static void set_form_context(req_t *r, json_t *obj, json_t *form, const char *kind)
{
    json_object_set_new(obj, "form", form);
    json_object_set_new(obj, "kinds", kinds_json(kind));
    json_object_set_new(obj, "max_upload_mb",
                        json_integer((json_int_t)(r->app->max_upload_bytes / (1024 * 1024))));
    json_object_set_new(obj, "max_upload_bytes", json_integer((json_int_t)r->app->max_upload_bytes));
}

static int page_status(req_t *r, int status);

/* The answer to a form with field errors: the upload's own error if it had
 * one, else 400 counting the problems. */
static int invalid_fields(req_t *r, const ev_err_t *e)
{
    if (e->status)
        return page_status(r, fail_with(r, e));
    return http_fail(r, 400, "invalid", "Check the evidence details: %zu problem%s.",
                     http_field_error_count(r), http_field_error_count(r) == 1 ? "" : "s");
}

/* A refused file type: 415 for the API; a page re-shows its form (400). */
static int page_status(req_t *r, int status)
{
    return (!r->is_api && status == 415) ? 400 : status;
}

/* Sniffs the request's `file` parts. On success *files holds the accepted
 * ones (their temporary files still in data/tmp). Refused files become field
 * errors and a 415. EV_OK or EV_ERR with e set. */
static int ev_take_uploads(req_t *r, ev_file_t **files_out, size_t *n_out, ev_err_t *e)
{
    ev_file_t *files = NULL;
    size_t n = 0, refused = 0;
    json_t *u;
    size_t i;
    char first[700] = "";
    *files_out = NULL;
    *n_out = 0;
    if (!json_is_array(r->uploads))
        return EV_OK;
    files = xcalloc(json_array_size(r->uploads) + 1, sizeof *files);
    json_array_foreach(r->uploads, i, u) {
        const char *field = json_string_value(json_object_get(u, "field"));
        const char *name = json_string_value(json_object_get(u, "name"));
        const char *sha = json_string_value(json_object_get(u, "sha256"));
        const char *tmp = json_string_value(json_object_get(u, "tmp_path"));
        int64_t size = json_integer_value(json_object_get(u, "size"));
        json_t *crc = json_object_get(u, "crc32");
        if (!field || strcmp(field, "file") != 0)
            continue;
        if (size == 0 && (!name || !*name))
            continue; /* a form's file input left empty */
        if (!sha || !storage_valid_hash(sha) || !tmp || !json_is_integer(crc)) {
            ev_files_free(files, n);
            return ev_fail(e, 500, "internal_error", "An upload was not stored properly.");
        }
        char *clean = sniff_clean_name(name);
        sniff_result_t sr;
        if (sniff_file(tmp, clean, &sr) != EV_OK) {
            free(clean);
            ev_files_free(files, n);
            return ev_fail(e, 500, "internal_error", "Could not read the type of an uploaded file.");
        }
        if (sr.verdict == SNIFF_REFUSED) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s was not added: %s", clean, sr.reason);
            http_field_error(r, "file", msg);
            if (!refused++)
                snprintf(first, sizeof first, "%s", msg);
            free(clean);
            continue;
        }
        ev_file_t *f = &files[n++];
        f->name = clean;
        f->tmp = tmp;
        snprintf(f->sha256, sizeof f->sha256, "%s", sha);
        f->size = size;
        f->crc32 = (uint32_t)json_integer_value(crc);
        snprintf(f->mime, sizeof f->mime, "%s", sr.mime);
        f->download_only = sr.verdict != SNIFF_INLINE;
    }
    if (refused) {
        ev_files_free(files, n);
        return ev_fail(e, 415, "unsupported_type", "%s", first);
    }
    if (n > FILES_MAX) {
        ev_files_free(files, n);
        http_field_error(r, "file", "Add at most 20 files to one piece of evidence");
        return ev_fail(e, 400, "too_many_files", "Add at most %d files to one piece of evidence.",
                       FILES_MAX);
    }
    *files_out = files;
    *n_out = n;
    return EV_OK;
}

/* Hands accepted uploads to the store (before the transaction that records
 * them: a crash in between leaves a blob that gc collects). The store has
 * verified and durably kept each one when this returns EV_OK; a store that is
 * down or slow is a 503 and nothing is recorded. */
static int ev_promote(db_t *db, storage_t *store, ev_file_t *files, size_t n, ev_err_t *e)
{
    for (size_t i = 0; i < n; i++) {
        /* The same bytes as a stored copy found damaged (scrub.h): they hash to its name,
         * so they replace it, and the evidence that holds it is whole again. */
        files[i].repaired = db_int(db, "SELECT count(*) FROM blobs WHERE sha256 = ? AND damaged_at IS NOT NULL", 0, "t",
                                   files[i].sha256) > 0;
        int rc = files[i].repaired
                     ? storage_replace_file(store, files[i].tmp, files[i].sha256, (uint64_t)files[i].size)
                     : storage_put_file(store, files[i].tmp, files[i].sha256, (uint64_t)files[i].size, NULL);
        if (rc == STORAGE_UNAVAILABLE)
            return ev_fail(e, 503, "store_unavailable",
                           "The evidence store is not answering, so %s was not saved and nothing was recorded. "
                           "Please try again in a few minutes.",
                           files[i].name);
        if (rc != EV_OK)
            return ev_fail(e, 500, "storage_error", "Could not store %s.", files[i].name);
    }
    return EV_OK;
}

/* Inserts a new item with its files, audits it; inside a transaction. */
static int ev_insert(db_t *db, int64_t learner_id, int64_t actor_id, const ev_fields_t *f,
                     const ev_file_t *files, size_t n, int64_t *id_out)
{
    char now[21];
    util_now_iso(now);
    int64_t id = db_int(db,
                        "INSERT INTO evidence (learner_id, title, kind, description, body, occurred_on,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        0, "itttttt" "t", learner_id, f->title, f->kind, f->description ? f->description : "",
                        f->body ? f->body : "", (f->occurred_on && *f->occurred_on) ? f->occurred_on : NULL, now,
                        now);
    if (id <= 0)
        return EV_ERR;
    if (ev_add_files(db, id, files, n) != EV_OK)
        return EV_ERR;
    json_t *after = ev_snapshot(db, id);
    int rc = audit_record(db, actor_id, "evidence.create", "evidence", id, learner_id, NULL, after);
    json_decref(after);
    if (rc != EV_OK || status_refresh_learner(db, learner_id) != EV_OK)
        return EV_ERR;
    *id_out = id;
    return EV_OK;
}

/* A file is required unless the kind may be typed and some text was. */
static int ev_needs_file(const ev_fields_t *f, size_t nfiles)
{
    int k = kind_index(f->kind);
    int typed = f->body && *f->body && k >= 0 && kinds[k].text_ok;
    return nfiles == 0 && !typed;
}

static int learner_enrolled(db_t *db, int64_t learner_id)
{
    return (int)db_int(db,
                       "SELECT EXISTS (SELECT 1 FROM enrolments WHERE learner_id = ?"
                       " AND status <> 'withdrawn')",
                       0, "i", learner_id);
}

/* POST /api/v1/evidence, POST /evidence/new: multipart title, kind,
 * description, occurred_on, body, file... -> 201 with the item. */
static int h_create(req_t *r)
{
    ev_fields_t f;
    ev_file_t *files = NULL;
    size_t n = 0;
    ev_err_t e = {0};
    int status = 500;
    int64_t id = 0;

    ev_read_fields(r, &f);
    if (!policy_can_edit_evidence_of(&r->user, r->user.id)) {
        status = http_fail(r, 403, "forbidden", "Only learners add evidence.");
        goto out;
    }
    ev_validate(r, &f, 1);
    if (ev_take_uploads(r, &files, &n, &e) != EV_OK) {
        if (e.status != 415 && e.status != 400) {
            status = fail_with(r, &e);
            goto out;
        }
    } else if (http_field_error_count(r) == 0 && ev_needs_file(&f, n)) {
        int k = kind_index(f.kind);
        http_field_error(r, "file", k >= 0 && kinds[k].text_ok
                                        ? "Choose a file, or type the account in the box"
                                        : "Choose at least one file");
    }
    if (http_field_error_count(r) > 0) {
        if (!r->is_api) {
            set_form_context(r, http_out(r), form_json(&f), f.kind);
        }
        status = invalid_fields(r, &e);
        goto out;
    }
    if (ev_promote(r->db, r->app->store, files, n, &e) != EV_OK) {
        status = fail_with(r, &e);
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    /* A learner whose every enrolment has ended adds no new evidence (rules.c). */
    rules_err_t re;
    if (rules_check_enrolment_open(r->db, r->user.id, 0, &re) != EV_OK && strcmp(re.code, "not_enrolled") != 0) {
        db_rollback(r->db);
        status = http_fail(r, re.status, re.code, "%s", re.message);
        goto out;
    }
    if (ev_insert(r->db, r->user.id, r->user.id, &f, files, n, &id) != EV_OK ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "internal_error", "Could not save the evidence.");
        goto out;
    }
    json_t *ev = ev_load(r->db, id, &r->user);
    int enrolled = learner_enrolled(r->db, r->user.id);
    if (ev)
        json_object_set_new(ev, "next_url", json_sprintf(enrolled ? "/evidence/%lld/criteria" : "/evidence/%lld",
                                                         (long long)id));
    http_set_out(r, ev);
    if (enrolled)
        http_redirect(r, "/evidence/%lld/criteria?done=evidence_added", (long long)id);
    else
        http_redirect(r, "/evidence/%lld?done=evidence_added", (long long)id);
    status = 201;
out:
    free(f.title);
    ev_files_free(files, n);
    return status;
}

/* GET /evidence/new: the empty form. */
static int h_new_form(req_t *r)
{
    const char *kind = in_str(r, "kind");
    if (!kind)
        kind = "product";
    set_form_context(r, http_out(r), json_pack("{s:s}", "kind", kind), kind);
    return 200;
}

/* GET /api/v1/evidence/{id}, GET /evidence/{id}. */
static int h_show(req_t *r)
{
    int64_t learner_id = 0;
    char status[16];
    int st = ev_find(r, r->params[0], &learner_id, status);
    if (st)
        return st;
    json_t *ev = ev_load(r->db, r->params[0], &r->user);
    if (!ev)
        return http_fail(r, 500, "internal_error", "Could not load the evidence.");
    http_set_out(r, ev);
    return 200;
}

/* GET /evidence/{id}/edit: the edit form. */
static int h_edit_form(req_t *r)
{
    int64_t learner_id = 0;
    char status[16];
    int st = ev_find_own(r, r->params[0], &learner_id, status);
    if (st)
        return st;
    json_t *ev = ev_load(r->db, r->params[0], &r->user);
    if (!ev)
        return http_fail(r, 500, "internal_error", "Could not load the evidence.");
    json_t *occurred = json_object_get(ev, "occurred_on");
    json_t *form = json_pack("{s:O, s:O, s:O, s:O, s:s}", "title", json_object_get(ev, "title"),
                             "kind", json_object_get(ev, "kind"), "description",
                             json_object_get(ev, "description"), "body", json_object_get(ev, "body"),
                             "occurred_on", json_is_string(occurred) ? json_string_value(occurred) : "");
    set_form_context(r, ev, form, json_string_value(json_object_get(ev, "kind")));
    http_set_out(r, ev);
    return 200;
}

/* PATCH /api/v1/evidence/{id}, POST /api/v1/evidence/{id}/files,
 * POST /evidence/{id}/edit: changes the fields that are present, adds `file`
 * parts, removes the files listed in remove_file. Drafts and returned items only. */
static int h_update(req_t *r)
{
    ev_fields_t f;
    ev_file_t *files = NULL;
    size_t n = 0, i;
    ev_err_t e = {0};
    int status = 500;
    int64_t id = r->params[0], learner_id;
    char st_now[16];
    json_t *remove = NULL, *cur = NULL, *before = NULL, *after = NULL, *v;
    int64_t *remove_ids = NULL;
    size_t nremove = 0;
    rules_err_t re;

    ev_read_fields(r, &f);
    if ((status = ev_find_own(r, id, &learner_id, st_now)) != 0)
        goto out;
    if (ev_check_editable(r->db, id, st_now, &e) != EV_OK) {
        status = fail_with(r, &e);
        goto out;
    }
    ev_validate(r, &f, 0);
    remove = in_array(r, "remove_file");
    if (remove) {
        remove_ids = xcalloc(json_array_size(remove) + 1, sizeof *remove_ids);
        json_array_foreach(remove, i, v) {
            int64_t fid;
            if (json_to_id(v, &fid) != EV_OK ||
                !db_int(r->db, "SELECT EXISTS (SELECT 1 FROM evidence_files WHERE id = ? AND evidence_id = ?)",
                        0, "ii", fid, id)) {
                http_field_error(r, "remove_file", "That file is not part of this evidence");
                continue;
            }
            remove_ids[nremove++] = fid;
        }
    }
    if (ev_take_uploads(r, &files, &n, &e) != EV_OK && e.status != 415 && e.status != 400) {
        status = fail_with(r, &e);
        goto out;
    }
    if (http_field_error_count(r) > 0) {
        if (!r->is_api) {
            json_t *ev = ev_load(r->db, id, &r->user);
            if (ev) {
                set_form_context(r, ev, form_json(&f), f.kind);
                json_object_update(http_out(r), ev);
                json_decref(ev);
            }
        }
        status = invalid_fields(r, &e);
        goto out;
    }
    if (ev_promote(r->db, r->app->store, files, n, &e) != EV_OK) {
        status = fail_with(r, &e);
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    /* Checked again inside the transaction: an assessor may have decided meanwhile. */
    if (ev_head(r->db, id, &learner_id, st_now) != EV_OK ||
        ev_check_editable(r->db, id, st_now, &e) != EV_OK) {
        db_rollback(r->db);
        status = e.status ? fail_with(r, &e) : http_fail(r, 404, "not_found", "No such evidence.");
        goto out;
    }
    if (nremove > 0 && ev_rule(rules_check_files_change(r->db, id, &re), &re, &e) != EV_OK) {
        db_rollback(r->db);
        status = fail_with(r, &e);
        goto out;
    }
    before = ev_snapshot(r->db, id);
    cur = db_one(r->db, "SELECT title, kind, description, body, occurred_on FROM evidence WHERE id = ?",
                 "i", id);
    if (!before || !cur) {
        db_rollback(r->db);
        status = http_fail(r, 500, "internal_error", "Could not load the evidence.");
        goto out;
    }
#define PICK(field, has) ((has) && f.field ? f.field : json_string_value(json_object_get(cur, #field)))
    const char *occ = f.has_occurred_on ? f.occurred_on
                                        : json_string_value(json_object_get(cur, "occurred_on"));
    char now[21];
    util_now_iso(now);
    /* a returned item keeps its decisions: a new kind moves them in the IQA page's
     * coverage by kind (iqa.h) */
    const char *old_kind = json_string_value(json_object_get(cur, "kind"));
    int kind_moves = f.has_kind && f.kind && old_kind && strcmp(f.kind, old_kind) != 0;
    int ok = !kind_moves || iqa_coverage_evidence_kind(r->db, id, -1) == EV_OK;
    ok = ok && db_run(r->db,
                    "UPDATE evidence SET title = ?, kind = ?, description = ?, body = ?, occurred_on = ?,"
                    " updated_at = ? WHERE id = ?",
                    "tttttti", PICK(title, f.has_title), PICK(kind, f.has_kind),
                    PICK(description, f.has_description), PICK(body, f.has_body),
                    (occ && *occ) ? occ : NULL, now, id) == EV_OK;
    ok = ok && (!kind_moves || iqa_coverage_evidence_kind(r->db, id, 1) == EV_OK);
#undef PICK
    for (i = 0; ok && i < nremove; i++)
        ok = db_run(r->db, "DELETE FROM evidence_files WHERE id = ? AND evidence_id = ?", "ii",
                    remove_ids[i], id) == EV_OK;
    ok = ok && ev_add_files(r->db, id, files, n) == EV_OK;
    after = ok ? ev_snapshot(r->db, id) : NULL;
    ok = ok && after &&
         audit_record(r->db, r->user.id, "evidence.update", "evidence", id, learner_id, before, after) ==
             EV_OK &&
         status_refresh_learner(r->db, learner_id) == EV_OK;
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "internal_error", "Could not save the evidence.");
        goto out;
    }
    http_set_out(r, ev_load(r->db, id, &r->user));
    http_redirect(r, "/evidence/%lld?done=evidence_saved", (long long)id);
    status = 200;
out:
    free(f.title);
    ev_files_free(files, n);
    free(remove_ids);
    json_decref(remove);
    json_decref(cur);
    json_decref(before);
    json_decref(after);
    return status;
}

/* DELETE /api/v1/evidence/{id}/files/{file_id}, POST /evidence/{id}/files/{file_id}/delete. */
static int h_file_delete(req_t *r)
{
    int64_t id = r->params[0], fid = r->params[1], learner_id;
    char st_now[16];
    ev_err_t e = {0};
    int st = ev_find_own(r, id, &learner_id, st_now);
    if (st)
        return st;
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The server is busy; try again.");
    if (ev_head(r->db, id, &learner_id, st_now) != EV_OK ||
        ev_check_editable(r->db, id, st_now, &e) != EV_OK) {
        db_rollback(r->db);
        return e.status ? fail_with(r, &e) : http_fail(r, 404, "not_found", "No such evidence.");
    }
    if (!db_int(r->db, "SELECT EXISTS (SELECT 1 FROM evidence_files WHERE id = ? AND evidence_id = ?)", 0,
                "ii", fid, id)) {
        db_rollback(r->db);
        return http_fail(r, 404, "not_found", "That file is not part of this evidence.");
    }
    rules_err_t re;
    if (ev_rule(rules_check_files_change(r->db, id, &re), &re, &e) != EV_OK) {
        db_rollback(r->db);
        return fail_with(r, &e);
    }
    char now[21];
    util_now_iso(now);
    json_t *before = ev_snapshot(r->db, id), *after = NULL;
    int ok = before &&
             db_run(r->db, "DELETE FROM evidence_files WHERE id = ? AND evidence_id = ?", "ii", fid, id) ==
                 EV_OK &&
             db_run(r->db, "UPDATE evidence SET updated_at = ? WHERE id = ?", "ti", now, id) == EV_OK &&
             (after = ev_snapshot(r->db, id)) != NULL &&
             audit_record(r->db, r->user.id, "evidence.file_remove", "evidence", id, learner_id, before,
                          after) == EV_OK &&
             status_refresh_learner(r->db, learner_id) == EV_OK;
    json_decref(before);
    json_decref(after);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "internal_error", "Could not remove the file.");
    }
    http_set_out(r, ev_load(r->db, id, &r->user));
    http_redirect(r, "/evidence/%lld/edit?done=file_removed", (long long)id);
    return 200;
}

/* DELETE /api/v1/evidence/{id}, POST /evidence/{id}/delete: drafts and
 * returned items that no decision cites. */
static int h_delete(req_t *r)
{
    int64_t id = r->params[0], learner_id;
    char st_now[16];
    ev_err_t e = {0};
    int st = ev_find_own(r, id, &learner_id, st_now);
    if (st)
        return st;
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The server is busy; try again.");
    if (ev_head(r->db, id, &learner_id, st_now) != EV_OK ||
        ev_check_editable(r->db, id, st_now, &e) != EV_OK) {
        db_rollback(r->db);
        return e.status ? fail_with(r, &e) : http_fail(r, 404, "not_found", "No such evidence.");
    }
    if (db_int(r->db, "SELECT EXISTS (SELECT 1 FROM decision_evidence WHERE evidence_id = ?)", 0, "i", id)) {
        db_rollback(r->db);
        return http_fail(r, 409, "evidence_cited",
                         "An assessor's decision refers to this evidence, so it cannot be deleted. "
                         "Edit it instead.");
    }
    json_t *before = ev_snapshot(r->db, id);
    int ok = before && db_run(r->db, "DELETE FROM evidence_criteria WHERE evidence_id = ?", "i", id) == EV_OK &&
             db_run(r->db, "DELETE FROM evidence_files WHERE evidence_id = ?", "i", id) == EV_OK &&
             db_run(r->db, "DELETE FROM evidence WHERE id = ?", "i", id) == EV_OK &&
             audit_record(r->db, r->user.id, "evidence.delete", "evidence", id, learner_id, before, NULL) ==
                 EV_OK &&
             status_refresh_learner(r->db, learner_id) == EV_OK;
    json_decref(before);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "internal_error", "Could not delete the evidence.");
    }
    http_set_out(r, json_pack("{s:b, s:I}", "deleted", 1, "id", (json_int_t)id));
    http_redirect(r, "/evidence?done=evidence_deleted");
    return 200;
}

/* ---- mapping ---- */

typedef evidence_map_item_t ev_map_item_t;

/* Replaces the mapping (inside a transaction): checks that the item may
 * change and that every criterion belongs to the learner's enrolments. */
static int ev_replace_mapping(db_t *db, int64_t id, int64_t actor_id, const ev_map_item_t *items, size_t n,
                              ev_err_t *e)
{
    int64_t learner_id = 0;
    char st_now[16];
    json_t *before = NULL, *after = NULL;
    int rc = EV_ERR;
    if (ev_head(db, id, &learner_id, st_now) != EV_OK) {
        ev_fail(e, 404, "not_found", "There is no evidence %lld.", (long long)id);
        goto out;
    }
    if (ev_check_editable(db, id, st_now, e) != EV_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        /* A criterion newly mapped must belong to an enrolment that has not ended. */
        rules_err_t re;
        if (!db_int(db, "SELECT EXISTS (SELECT 1 FROM evidence_criteria WHERE evidence_id = ? AND criterion_id = ?)", 0,
                    "ii", id, items[i].criterion_id) &&
            db_int(db, "SELECT EXISTS (SELECT 1 FROM criteria WHERE id = ?)", 0, "i", items[i].criterion_id) &&
            ev_rule(rules_check_enrolment_open(db, learner_id, items[i].criterion_id, &re), &re, e) != EV_OK &&
            strcmp(re.code, "not_enrolled") != 0)
            goto out;
        if (!db_int(db,
                    "SELECT EXISTS (SELECT 1 FROM criteria c JOIN units u ON u.id = c.unit_id"
                    " JOIN enrolments en ON en.qualification_id = u.qualification_id"
                    " WHERE c.id = ? AND en.learner_id = ? AND en.status <> 'withdrawn'"
                    " AND ((c.retired = 0 AND u.retired = 0) OR EXISTS (SELECT 1 FROM evidence_criteria x"
                    "  WHERE x.evidence_id = ? AND x.criterion_id = c.id)))",
                    0, "iii", items[i].criterion_id, learner_id, id)) {
            ev_fail(e, 400, "criterion_not_enrolled",
                    "Criterion %lld is not part of a qualification this learner is enrolled on.",
                    (long long)items[i].criterion_id);
            goto out;
        }
    }
    {
        rules_err_t re;
        int64_t *keep = xcalloc(n + 1, sizeof *keep);
        for (size_t i = 0; i < n; i++)
            keep[i] = items[i].criterion_id;
        int rrc = rules_check_mapping_change(db, id, keep, n, &re);
        free(keep);
        if (ev_rule(rrc, &re, e) != EV_OK)
            goto out;
    }
    before = db_all(db, "SELECT criterion_id, note FROM evidence_criteria WHERE evidence_id = ? ORDER BY criterion_id",
                    "i", id);
    char now[21];
    util_now_iso(now);
    if (!before || db_run(db, "DELETE FROM evidence_criteria WHERE evidence_id = ?", "i", id) != EV_OK)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (db_run(db,
                   "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note)"
                   " VALUES (?, ?, ?, ?)",
                   "iiit", id, items[i].criterion_id, learner_id, items[i].note ? items[i].note : "") != EV_OK)
            goto fail;
    if (db_run(db, "UPDATE evidence SET updated_at = ? WHERE id = ?", "ti", now, id) != EV_OK)
        goto fail;
    after = db_all(db, "SELECT criterion_id, note FROM evidence_criteria WHERE evidence_id = ? ORDER BY criterion_id",
                   "i", id);
    {
        json_t *b = json_pack("{s:O}", "criteria", before);
        json_t *a = json_pack("{s:O?}", "criteria", after);
        int arc = audit_record(db, actor_id, "evidence.map", "evidence", id, learner_id, b, a);
        json_decref(b);
        json_decref(a);
        if (!after || arc != EV_OK)
            goto fail;
    }
    if (status_refresh_learner(db, learner_id) != EV_OK)
        goto fail;
    rc = EV_OK;
    goto out;
fail:
    ev_fail(e, 500, "internal_error", "Could not save the mapping.");
out:
    json_decref(before);
    json_decref(after);
    return rc;
}

/* Reads the requested mapping: JSON {"criteria": [{criterion_id, note}]} or a
 * form with checkboxes `criterion` (ids) and a `note_<id>` field each (plus a
 * hidden `mapping` so that nothing ticked means an empty mapping).
 * *items_out (caller frees) borrows notes from r->in. */
static int ev_read_mapping(req_t *r, ev_map_item_t **items_out, size_t *n_out, ev_err_t *e)
{
    json_t *arr = json_object_get(r->in, "criteria");
    json_t *form = NULL, *v;
    ev_map_item_t *items = NULL;
    size_t n = 0, i;
    int rc = EV_ERR;
    *items_out = NULL;
    *n_out = 0;
    if (json_is_array(arr)) {
        items = xcalloc(json_array_size(arr) + 1, sizeof *items);
        json_array_foreach(arr, i, v) {
            int64_t cid;
            json_t *note = NULL;
            if (json_is_object(v)) {
                if (json_to_id(json_object_get(v, "criterion_id"), &cid) != EV_OK) {
                    ev_fail(e, 400, "invalid", "Each entry of criteria needs a criterion_id.");
                    goto out;
                }
                note = json_object_get(v, "note");
                if (note && !json_is_string(note) && !json_is_null(note)) {
                    ev_fail(e, 400, "invalid", "A note must be text.");
                    goto out;
                }
            } else if (json_to_id(v, &cid) != EV_OK) {
                ev_fail(e, 400, "invalid", "criteria must be a list of {criterion_id, note}.");
                goto out;
            }
            items[n].criterion_id = cid;
            items[n].note = json_is_string(note) ? json_string_value(note) : "";
            n++;
        }
    } else if (arr) {
        ev_fail(e, 400, "invalid", "criteria must be a list of {criterion_id, note}.");
        goto out;
    } else if (json_object_get(r->in, "criterion") && (form = in_array(r, "criterion")) != NULL) {
        items = xcalloc(json_array_size(form) + 1, sizeof *items);
        json_array_foreach(form, i, v) {
            int64_t cid;
            char key[48];
            if (json_to_id(v, &cid) != EV_OK) {
                ev_fail(e, 400, "invalid", "Unknown criterion in the form.");
                goto out;
            }
            snprintf(key, sizeof key, "note_%lld", (long long)cid);
            items[n].criterion_id = cid;
            items[n].note = in_str(r, key);
            n++;
        }
    } else if (!in_str(r, "mapping")) {
        ev_fail(e, 400, "invalid", "Send criteria: a list of {criterion_id, note}.");
        goto out;
    }
    if (n > MAPPING_MAX) {
        ev_fail(e, 400, "invalid", "Map at most %d criteria to one piece of evidence.", MAPPING_MAX);
        goto out;
    }
    /* Drop repeats (the first wins), trim notes' length. */
    size_t m = 0;
    for (i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < m && !dup; j++)
            dup = items[j].criterion_id == items[i].criterion_id;
        if (dup)
            continue;
        if (items[i].note && utf8_chars(items[i].note) > NOTE_MAX) {
            ev_fail(e, 400, "invalid", "A note must be 2,000 characters or fewer.");
            goto out;
        }
        items[m++] = items[i];
    }
    *items_out = items;
    *n_out = m;
    items = NULL;
    rc = EV_OK;
out:
    free(items);
    json_decref(form);
    return rc;
}

static void mapping_page_data(req_t *r, int64_t id, const ev_map_item_t *sel, size_t nsel, int use_sel);

/* The qualification code of the mapping query's current row (column 1), for
 * unit labels: two qualifications may have units with the same name. */
static const char *qcode_of(db_stmt_t *st)
{
    const char *c = db_col_text(st, 1);
    return c ? c : "";
}

/* PUT /api/v1/evidence/{id}/criteria, POST /evidence/{id}/criteria. */
static int h_map(req_t *r)
{
    int64_t id = r->params[0], learner_id;
    char st_now[16];
    ev_err_t e = {0};
    ev_map_item_t *items = NULL;
    size_t n = 0;
    int status;
    if ((status = ev_find_own(r, id, &learner_id, st_now)) != 0)
        return status;
    if (ev_check_editable(r->db, id, st_now, &e) != EV_OK) {
        if (!r->is_api)
            mapping_page_data(r, id, NULL, 0, 0);
        return fail_with(r, &e);
    }
    if (ev_read_mapping(r, &items, &n, &e) != EV_OK) {
        if (!r->is_api)
            mapping_page_data(r, id, NULL, 0, 0);
        return fail_with(r, &e);
    }
    if (db_begin(r->db) != EV_OK) {
        free(items);
        return http_fail(r, 503, "busy", "The server is busy; try again.");
    }
    if (ev_replace_mapping(r->db, id, r->user.id, items, n, &e) != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (!r->is_api)
            mapping_page_data(r, id, items, n, 1);
        free(items);
        return e.status ? fail_with(r, &e) : http_fail(r, 500, "internal_error", "Could not save the mapping.");
    }
    free(items);
    http_set_out(r, ev_load(r->db, id, &r->user));
    if (in_str(r, "then") && strcmp(in_str(r, "then"), "submit") == 0)
        http_redirect(r, "/evidence/%lld?done=mapped#submit", (long long)id);
    else
        http_redirect(r, "/evidence/%lld?done=mapped", (long long)id);
    return 200;
}

/* Case-insensitive substring test. */
static int contains_ci(const char *hay, const char *needle)
{
    if (!needle || !*needle)
        return 1;
    if (!hay)
        return 0;
    size_t nl = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, nl) == 0)
            return 1;
    return 0;
}

/* The mapping page's data into r->out: the item, and per enrolled
 * qualification its units -> outcomes -> criteria with checked/note, the
 * learner's status for the criterion and how many other items cover it.
 * Filter: ?q= (text) and ?unit= (unit id); mapped criteria hidden by the
 * filter ride along as hidden inputs so that saving keeps them. With
 * use_sel, the ticks and notes come from sel (a form being re-shown). */
static void mapping_page_data(req_t *r, int64_t id, const ev_map_item_t *sel, size_t nsel, int use_sel)
{
    json_t *out = http_out(r);
    json_t *ev = ev_load(r->db, id, &r->user);
    json_t *quals = json_array(), *hidden = json_array(), *unit_opts = json_array();
    json_t *q = NULL, *u = NULL, *o = NULL;
    int64_t cur_q = 0, cur_u = 0, cur_o = 0, unit_filter = 0;
    const char *text_filter = in_str(r, "q");
    int shown = 0, total = 0, checked_count = 0, gaps = 0;
    if (!ev)
        goto done;
    in_int(r, "unit", &unit_filter);
    gaps = in_bool(r, "gaps"); /* only criteria no other evidence covers, not yet met */
    int64_t eqa;
    char now[21];
    policy_qscope_binds(&r->user, &eqa, now);
    int64_t learner_id = json_integer_value(json_object_get(ev, "learner_id"));
    /* KSBs the learner's apprenticeship recognises as prior learning need no evidence */
    json_t *rpl = db_all(r->db, "SELECT k.criterion_id FROM apprenticeship_rpl_ksbs k"
                                " JOIN apprenticeships a ON a.id = k.apprenticeship_id WHERE a.learner_id = ?",
                         "i", learner_id);
    db_stmt_t *st = db_query(
        r->db,
        "SELECT q.id, q.code, q.title, u.id, u.ref, u.title, o.id, o.number, o.text, c.id, c.ref, c.text,"
        " coalesce(cs.status, 'not_started'), m.note, m.criterion_id IS NOT NULL,"
        " (SELECT count(*) FROM evidence_criteria x WHERE x.learner_id = en.learner_id"
        "   AND x.criterion_id = c.id AND x.evidence_id <> ?)"
        " FROM enrolments en JOIN qualifications q ON q.id = en.qualification_id"
        " JOIN units u ON u.qualification_id = q.id AND u.retired = 0"
        " JOIN criteria c ON c.unit_id = u.id AND c.retired = 0"
        " JOIN outcomes o ON o.id = c.outcome_id"
        " LEFT JOIN criterion_status cs ON cs.learner_id = en.learner_id AND cs.criterion_id = c.id"
        " LEFT JOIN evidence_criteria m ON m.evidence_id = ? AND m.criterion_id = c.id"
        " WHERE en.learner_id = ? AND en.status <> 'withdrawn'"
        " AND " POLICY_QSCOPE_SQL("q.id", "en.learner_id") /* an EQA: its visit's qualifications */
        " ORDER BY q.id, u.position, u.id, o.number, o.id, c.position, c.id",
        "iiiiitt", id, id, learner_id, eqa, eqa, now, now);
    while (st && db_next(st) == 1) {
        int64_t qid = db_col_int(st, 0), uid = db_col_int(st, 3);
        int64_t oid = db_col_int(st, 6), cid = db_col_int(st, 9);
        const char *uref = db_col_text(st, 4);
        const char *utitle = db_col_text(st, 5);
        const char *cref = db_col_text(st, 10);
        const char *ctext = db_col_text(st, 11);
        const char *cstatus = db_col_text(st, 12);
        const char *note = db_col_text(st, 13);
        int checked = (int)db_col_int(st, 14);
        int64_t others = db_col_int(st, 15);
        if (use_sel) {
            checked = 0;
            note = NULL;
            for (size_t i = 0; i < nsel; i++)
                if (sel[i].criterion_id == cid) {
                    checked = 1;
                    note = sel[i].note;
                }
        }
        total++;
        checked_count += checked;
        if (uid != cur_u)
            json_array_append_new(unit_opts,
                                  json_pack("{s:I, s:s+++++, s:b}", "id", (json_int_t)uid, "label",
                                            uref ? uref : "", " ", utitle ? utitle : "", " (",
                                            qcode_of(st), ")", "selected", uid == unit_filter));
        int visible = (!gaps || (others == 0 && strcmp(cstatus, "met") != 0)) &&
                      (!unit_filter || unit_filter == uid) &&
                      (contains_ci(ctext, text_filter) || contains_ci(cref, text_filter) ||
                       contains_ci(utitle, text_filter) || contains_ci(uref, text_filter));
        if (!visible) {
            if (checked)
                json_array_append_new(hidden, json_pack("{s:I, s:s}", "id", (json_int_t)cid, "note",
                                                        note ? note : ""));
            cur_u = uid; /* keep the unit list complete */
            cur_q = 0;   /* the next visible row reopens its group */
            cur_o = 0;
            q = u = o = NULL;
            continue;
        }
        shown++;
        if (qid != cur_q || !q) {
            q = NULL;
            /* reuse the qualification's entry when a filtered row split it */
            size_t qi;
            json_t *qq;
            json_array_foreach(quals, qi, qq) if (json_integer_value(json_object_get(qq, "id")) == qid) q = qq;
            if (!q) {
                q = json_pack("{s:I, s:s, s:s, s:[]}", "id", (json_int_t)qid, "code",
                              db_col_text(st, 1), "title",
                              db_col_text(st, 2), "units");
                json_array_append_new(quals, q);
            }
            cur_q = qid;
            cur_u = 0;
        }
        if (uid != cur_u || !u) {
            json_t *units = json_object_get(q, "units");
            u = NULL;
            size_t ui;
            json_t *uu;
            json_array_foreach(units, ui, uu) if (json_integer_value(json_object_get(uu, "id")) == uid) u = uu;
            if (!u) {
                u = json_pack("{s:I, s:s, s:s, s:[]}", "id", (json_int_t)uid, "ref", uref ? uref : "", "title",
                              utitle ? utitle : "", "outcomes");
                json_array_append_new(units, u);
            }
            cur_u = uid;
            cur_o = 0;
        }
        if (oid != cur_o || !o) {
            json_t *outs = json_object_get(u, "outcomes");
            o = NULL;
            size_t oi;
            json_t *oo;
            json_array_foreach(outs, oi, oo) if (json_integer_value(json_object_get(oo, "id")) == oid) o = oo;
            if (!o) {
                o = json_pack("{s:I, s:I, s:s, s:[]}", "id", (json_int_t)oid, "number",
                              (json_int_t)db_col_int(st, 7), "text",
                              db_col_text(st, 8), "criteria");
                json_array_append_new(outs, o);
            }
            cur_o = oid;
        }
        json_array_append_new(
            json_object_get(o, "criteria"),
            json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:s, s:I, s:b, s:s}", "id", (json_int_t)cid, "ref",
                      cref ? cref : "", "text", ctext ? ctext : "", "checked", checked, "note",
                      note ? note : "", "status", cstatus, "status_label", criterion_status_label(cstatus),
                      "other_evidence", (json_int_t)others, "has_other_evidence", others > 0, "input_id",
                      ""));
        json_object_set_new(json_array_get(json_object_get(o, "criteria"),
                                           json_array_size(json_object_get(o, "criteria")) - 1),
                            "other_plural", json_boolean(others != 1));
        json_t *crit = json_array_get(json_object_get(o, "criteria"),
                                      json_array_size(json_object_get(o, "criteria")) - 1);
        json_object_set_new(crit, "input_id", json_sprintf("c%lld", (long long)cid));
        int is_rpl = 0;
        size_t ri;
        json_t *rv;
        json_array_foreach(rpl, ri, rv) is_rpl |= json_integer_value(json_object_get(rv, "criterion_id")) == cid;
        if (is_rpl) {
            json_object_set_new(crit, "status", json_string("rpl"));
            json_object_set_new(crit, "status_label", json_string("Recognised prior learning: no evidence needed"));
        }
        json_object_set_new(crit, "can_tick", json_boolean(!is_rpl || checked));
    }
    if (st)
        db_stmt_done(st);
    json_decref(rpl);
done:
    json_object_set_new(out, "evidence", ev ? ev : json_null());
    json_object_set_new(out, "qualifications", quals);
    json_object_set_new(out, "hidden", hidden);
    json_object_set_new(out, "units", unit_opts);
    json_object_set_new(out, "filter", json_pack("{s:s, s:I, s:b, s:b}", "q", text_filter ? text_filter : "",
                                                 "unit", (json_int_t)unit_filter, "gaps", gaps, "active",
                                                 (text_filter && *text_filter) || unit_filter || gaps));
    json_object_set_new(out, "shown", json_integer(shown));
    json_object_set_new(out, "total", json_integer(total));
    json_object_set_new(out, "checked_count", json_integer(checked_count));
    json_object_set_new(out, "enrolled", json_boolean(total > 0));
    json_object_set_new(out, "editable", json_boolean(ev && json_is_true(json_object_get(ev, "editable"))));
}

/* GET /api/v1/evidence/{id}/criteria, GET /evidence/{id}/criteria. */
static int h_mapping(req_t *r)
{
    int64_t learner_id = 0;
    char status[16];
    int st = ev_find(r, r->params[0], &learner_id, status);
    if (st)
        return st;
    mapping_page_data(r, r->params[0], NULL, 0, 0);
    return 200;
}

/* ---- submit / withdraw ---- */

static int ev_do_submit(db_t *db, int64_t id, int64_t actor_id, int notify_assessor, ev_err_t *e)
{
    int64_t learner_id = 0;
    char st_now[16];
    if (ev_head(db, id, &learner_id, st_now) != EV_OK)
        return ev_fail(e, 404, "not_found", "There is no evidence %lld.", (long long)id);
    if (strcmp(st_now, "submitted") == 0)
        return ev_fail(e, 409, "evidence_submitted", "This evidence has already been submitted.");
    if (ev_check_editable(db, id, st_now, e) != EV_OK)
        return EV_ERR;
    if (!db_int(db, "SELECT count(*) FROM evidence_criteria WHERE evidence_id = ?", 0, "i", id))
        return ev_fail(e, 400, "no_criteria",
                       "Map this evidence to at least one assessment criterion before submitting it.");
    if (!db_int(db,
                "SELECT EXISTS (SELECT 1 FROM evidence_files WHERE evidence_id = ?)"
                " OR EXISTS (SELECT 1 FROM evidence WHERE id = ? AND body <> '')"
                " OR EXISTS (SELECT 1 FROM evidence_questions WHERE evidence_id = ?)",
                0, "iii", id, id, id))
        return ev_fail(e, 400, "no_content", "Add a file or type the account before submitting.");
    char now[21];
    util_now_iso(now);
    json_t *before = json_pack("{s:s}", "status", st_now);
    json_t *after = json_pack("{s:s, s:s}", "status", "submitted", "submitted_at", now);
    /* a new round of assessment: the decisions so far are of earlier rounds (schema/017) */
    int ok = db_run(db, "UPDATE evidence SET status = 'submitted', submitted_at = ?, updated_at = ?,"
                        " round_decision_floor = (SELECT coalesce(max(de.decision_id), 0) FROM decision_evidence de"
                        " WHERE de.evidence_id = ?) WHERE id = ?",
                    "ttii", now, now, id, id) == EV_OK &&
             audit_record(db, actor_id, "evidence.submit", "evidence", id, learner_id, before, after) == EV_OK &&
             status_refresh_learner(db, learner_id) == EV_OK &&
             (!notify_assessor || notify_evidence_submitted(db, id) == EV_OK);
    json_decref(before);
    json_decref(after);
    if (!ok)
        return ev_fail(e, 500, "internal_error", "Could not submit the evidence.");
    return EV_OK;
}

/* POST /api/v1/evidence/{id}/submit, POST /evidence/{id}/submit. */
static int h_submit(req_t *r)
{
    int64_t id = r->params[0], learner_id;
    char st_now[16];
    ev_err_t e = {0};
    int st = ev_find_own(r, id, &learner_id, st_now);
    if (st)
        return st;
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The server is busy; try again.");
    if (ev_do_submit(r->db, id, r->user.id, 1, &e) != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (!r->is_api) {
            json_t *ev = ev_load(r->db, id, &r->user);
            if (ev) {
                json_object_update(http_out(r), ev);
                json_decref(ev);
            }
        }
        return e.status ? fail_with(r, &e) : http_fail(r, 500, "internal_error", "Could not submit.");
    }
    http_set_out(r, ev_load(r->db, id, &r->user));
    http_redirect(r, "/evidence/%lld?done=submitted", (long long)id);
    return 200;
}

/* POST /api/v1/evidence/{id}/withdraw, POST /evidence/{id}/withdraw: back to
 * draft while no assessor has decided on it. */
static int h_withdraw(req_t *r)
{
    int64_t id = r->params[0], learner_id;
    char st_now[16];
    int st = ev_find_own(r, id, &learner_id, st_now);
    if (st)
        return st;
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The server is busy; try again.");
    /* Decisions of an earlier round (before a returned item was resubmitted) do not count. */
    if (ev_head(r->db, id, &learner_id, st_now) != EV_OK || strcmp(st_now, "submitted") != 0 ||
        db_int(r->db,
               "SELECT EXISTS (SELECT 1 FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id"
               " JOIN evidence e ON e.id = de.evidence_id WHERE de.evidence_id = ?"
               " AND d.id > e.round_decision_floor)",
               0, "i", id)) {
        db_rollback(r->db);
        return http_fail(r, 409, "not_withdrawable",
                         "Only submitted evidence that no assessor has decided on can be withdrawn.");
    }
    char now[21];
    util_now_iso(now);
    json_t *before = json_pack("{s:s}", "status", "submitted");
    json_t *after = json_pack("{s:s}", "status", "draft");
    int ok = db_run(r->db, "UPDATE evidence SET status = 'draft', submitted_at = NULL, updated_at = ? WHERE id = ?",
                    "ti", now, id) == EV_OK &&
             audit_record(r->db, r->user.id, "evidence.withdraw", "evidence", id, learner_id, before, after) ==
                 EV_OK &&
             status_refresh_learner(r->db, learner_id) == EV_OK;
    json_decref(before);
    json_decref(after);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "internal_error", "Could not withdraw the evidence.");
    }
    http_set_out(r, ev_load(r->db, id, &r->user));
    http_redirect(r, "/evidence/%lld?done=withdrawn", (long long)id);
    return 200;
}

/* ---- files ---- */

/* GET /api/v1/evidence/{id}/files/{file_id}, GET /evidence/{id}/files/{file_id}:
 * the bytes, with the sniffed type, nosniff, and Content-Disposition naming
 * the original file; inline only for previewable types (?download=1 forces
 * an attachment). */
static int h_file(req_t *r)
{
    int64_t id = r->params[0], fid = r->params[1], learner_id;
    char status[16];
    int st = ev_find(r, id, &learner_id, status);
    if (st)
        return st;
    json_t *f = db_one(r->db,
                       "SELECT f.name, f.sha256, f.mime, f.download_only, b.damaged_at FROM evidence_files f"
                       " LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.id = ? AND f.evidence_id = ?",
                       "ii", fid, id);
    if (!f)
        return http_fail(r, 404, "not_found", "That file is not part of this evidence.");
    const char *mime = json_string_value(json_object_get(f, "mime"));
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *sha = json_string_value(json_object_get(f, "sha256"));
    const char *damaged_at = json_string_value(json_object_get(f, "damaged_at"));
    if (damaged_at) {
        /* a check found the stored copy damaged (scrub.h): say so, rather than send bytes
         * that would be cut off before their end */
        char day[11], text[32];
        damaged_day(damaged_at, day, text);
        int rc = http_fail(r, 500, "blob_damaged",
                           "This file is damaged in the evidence store (found on %s), so it cannot be shown. "
                           "Your centre's administrator can restore it from a backup.",
                           text);
        json_decref(f);
        return rc;
    }
    storage_stat_t sb;
    int rc = storage_stat(r->app->store, sha, &sb);
    if (rc != EV_OK) {
        json_decref(f);
        if (rc == STORAGE_UNAVAILABLE)
            return http_fail(r, 503, "store_unavailable",
                             "The evidence store is not answering. Please try again in a few minutes.");
        ev_log("evidence: blob missing for file %lld: %s (%s)", (long long)fid, sha ? sha : "(none)",
               storage_strerror(rc));
        return http_fail(r, 500, "blob_missing", "The file's contents are missing from the store.");
    }
    int inline_ok = !json_integer_value(json_object_get(f, "download_only")) && sniff_preview_kind(mime) &&
                    !in_bool(r, "download");
    http_send_blob(r, sha, sb.size, mime && *mime ? mime : "application/octet-stream", name ? name : "file",
                   inline_ok);
    json_decref(f);
    return 200;
}

/* ---- lists ---- */

static int ev_list(req_t *r, int64_t learner_id)
{
    int64_t limit, offset;
    const char *status = in_str(r, "status");
    if (status && !*status)
        status = NULL;
    if (status && !status_valid(status))
        status = NULL;
    http_page(r, 25, &limit, &offset);
    json_t *learner = db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", learner_id);
    int64_t eqa; /* an EQA sees only the evidence mapped to its visit's qualifications */
    char now[21];
    policy_qscope_binds(&r->user, &eqa, now);
    int64_t total = db_int(r->db, "SELECT count(*) FROM evidence e WHERE e.learner_id = ? AND (? IS NULL OR e.status = ?)"
                                  " AND " POLICY_QSCOPE_EVIDENCE_SQL("e.id", "e.learner_id"),
                           0, "ittiitt", learner_id, status, status, eqa, eqa, now, now);
    json_t *items = db_all(r->db,
                           "SELECT e.id, e.title, e.kind, e.status, e.occurred_on, e.created_at, e.updated_at,"
                           " e.submitted_at, e.author_role, e.acknowledged_at,"
                           " (SELECT a.name FROM users a WHERE a.id = e.author_id) AS assessor_name,"
                           " (SELECT w.witness_name FROM witness_requests w WHERE w.evidence_id = e.id) AS witness_name,"
                           " (SELECT count(*) FROM evidence_files f WHERE f.evidence_id = e.id) AS file_count,"
                           " (SELECT count(*) FROM evidence_criteria ec WHERE ec.evidence_id = e.id) AS criteria_count"
                           " FROM evidence e WHERE e.learner_id = ? AND (? IS NULL OR e.status = ?)"
                           " AND " POLICY_QSCOPE_EVIDENCE_SQL("e.id", "e.learner_id")
                           " ORDER BY e.id DESC LIMIT ? OFFSET ?",
                           "ittiittii", learner_id, status, status, eqa, eqa, now, now, limit, offset);
    if (!items) {
        json_decref(learner);
        return http_fail(r, 500, "internal_error", "Could not list the evidence.");
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *tag = NULL;
        const char *s = json_string_value(json_object_get(it, "status"));
        json_object_set_new(it, "kind_label",
                            json_string(evidence_kind_label(json_string_value(json_object_get(it, "kind")))));
        json_object_set_new(it, "status_label", json_string(status_label(s, &tag)));
        json_object_set_new(it, "status_tag", json_string(tag));
        evidence_author_label(it);
        json_object_set_new(it, "needs_ack", json_boolean(json_is_true(json_object_get(it, "is_authored")) &&
                                                          json_is_null(json_object_get(it, "acknowledged_at")) &&
                                                          s && strcmp(s, "draft") != 0));
        json_object_set_new(it, "url", json_sprintf("/evidence/%lld",
                                                    (long long)json_integer_value(json_object_get(it, "id"))));
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "learner", learner ? learner : json_null());
    json_object_set_new(out, "learner_id", json_integer((json_int_t)learner_id));
    json_object_set_new(out, "evidence", items);
    json_object_set_new(out, "is_own", json_boolean(r->user.id == learner_id));
    int can_record = policy_can_assess_learner(r->db, &r->user, learner_id);
    json_object_set_new(out, "can_record", json_boolean(can_record));
    json_object_set_new(out, "can_ask_witness", json_boolean(can_record || (r->user.id == learner_id &&
                                                                            learner_enrolled(r->db, learner_id))));
    json_t *filters = json_array();
    json_array_append_new(filters, json_pack("{s:s, s:s, s:b}", "value", "", "label", "All", "selected", !status));
    for (int k = 0; statuses[k].key; k++)
        json_array_append_new(filters, json_pack("{s:s, s:s, s:b}", "value", statuses[k].key, "label",
                                                 statuses[k].label, "selected",
                                                 status && strcmp(status, statuses[k].key) == 0));
    json_object_set_new(out, "status_filters", filters);
    json_object_set_new(out, "status_filter", status ? json_string(status) : json_null());
    http_paginate(r, out, total);
    return 200;
}

/* GET /api/v1/learners/{id}/evidence, GET /learners/{id}/evidence. */
static int h_learner_list(req_t *r)
{
    int64_t learner_id = r->params[0];
    if (!policy_can_read_learner(r->db, &r->user, learner_id) ||
        !db_int(r->db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND role = 'learner')", 0, "i", learner_id))
        return http_fail(r, 404, "not_found", "There is no learner %lld.", (long long)learner_id);
    return ev_list(r, learner_id);
}

/* GET /api/v1/evidence, GET /evidence: the signed-in learner's own. */
static int h_my_list(req_t *r)
{
    return ev_list(r, r->user.id);
}

/* ---- helpers for other modules ---- */

int evidence_create_text(db_t *db, storage_t *store, int64_t learner_id, const char *title, const char *kind,
                         const char *description, const char *body, const char *occurred_on,
                         const evidence_file_in_t *files, size_t nfiles, int64_t *id_out)
{
    ev_fields_t f = {0};
    ev_file_t *ef = xcalloc(nfiles + 1, sizeof *ef);
    size_t n = 0;
    int own = 0, rc = EV_ERR;
    f.title = trimdup(title);
    f.kind = kind;
    f.description = description;
    f.body = body;
    f.occurred_on = occurred_on;
    if (!f.title || !*f.title || !evidence_kind_valid(kind) || (occurred_on && !util_valid_date(occurred_on))) {
        ev_log("evidence_create_text: invalid title, kind or date");
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        sniff_result_t sr;
        char *clean = sniff_clean_name(files[i].name);
        if (sniff_buffer(files[i].data, files[i].len, clean, &sr) != EV_OK || sr.verdict == SNIFF_REFUSED) {
            ev_log("evidence_create_text: %s refused (%s)", clean, sr.detected);
            free(clean);
            goto out;
        }
        if (storage_put(store, files[i].data, files[i].len, ef[n].sha256) != EV_OK) {
            free(clean);
            goto out;
        }
        ef[n].name = clean;
        ef[n].size = (int64_t)files[i].len;
        ef[n].crc32 = storage_crc32(0, files[i].data, files[i].len);
        snprintf(ef[n].mime, sizeof ef[n].mime, "%s", sr.mime);
        ef[n].download_only = sr.verdict != SNIFF_INLINE;
        n++;
    }
    if (txn_begin(db, &own) != EV_OK)
        goto out;
    rc = txn_end(db, own, ev_insert(db, learner_id, learner_id, &f, ef, n, id_out) == EV_OK);
out:
    free(f.title);
    ev_files_free(ef, n);
    return rc;
}

int evidence_set_criteria(db_t *db, int64_t evidence_id, const int64_t *criterion_ids, const char *const *notes,
                          size_t n)
{
    ev_map_item_t *items = xcalloc(n + 1, sizeof *items);
    ev_err_t e = {0};
    int own = 0, rc = EV_ERR;
    int64_t learner_id = 0;
    char st_now[16];
    for (size_t i = 0; i < n; i++) {
        items[i].criterion_id = criterion_ids[i];
        items[i].note = notes ? notes[i] : NULL;
    }
    if (ev_head(db, evidence_id, &learner_id, st_now) == EV_OK && txn_begin(db, &own) == EV_OK) {
        rc = txn_end(db, own, ev_replace_mapping(db, evidence_id, learner_id, items, n, &e) == EV_OK);
        if (rc != EV_OK && e.msg[0])
            ev_log("evidence_set_criteria: %s", e.msg);
    }
    free(items);
    return rc;
}

int evidence_submit_item(db_t *db, int64_t evidence_id)
{
    ev_err_t e = {0};
    int own = 0, rc = EV_ERR;
    int64_t learner_id = 0;
    char st_now[16];
    if (ev_head(db, evidence_id, &learner_id, st_now) == EV_OK && txn_begin(db, &own) == EV_OK) {
        rc = txn_end(db, own, ev_do_submit(db, evidence_id, learner_id, 1, &e) == EV_OK);
        if (rc != EV_OK && e.msg[0])
            ev_log("evidence_submit_item: %s", e.msg);
    }
    return rc;
}

/* ---- gc ---- */

/* gc's walk over the store: one call per stored object. */
typedef struct gc_walk {
    db_t *db;
    evidence_gc_stats_t *st;
    time_t cutoff;
    int dry_run;
    storage_t *store;
    int rc;
} gc_walk_t;

static int gc_visit(void *ctx, const char *key, const char *sha, const storage_stat_t *sb)
{
    gc_walk_t *w = ctx;
    /* a dry run has not removed the unreferenced blobs rows yet: count as a real run would */
    int referenced = sha && db_int(w->db,
                                   "SELECT (? = 0 AND EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?))"
                                   " OR EXISTS (SELECT 1 FROM evidence_files WHERE sha256 = ?)",
                                   1, "itt", (int64_t)w->dry_run, sha, sha);
    if (referenced || sb->mtime > (int64_t)w->cutoff) {
        w->st->blobs_kept++;
        return EV_OK;
    }
    int rc = w->dry_run ? EV_OK : storage_remove(w->store, key);
    if (rc == EV_OK || rc == STORAGE_NOT_FOUND) {
        w->st->blobs_removed++;
        w->st->bytes_removed += (int64_t)sb->size;
        return EV_OK;
    }
    ev_log("gc: cannot remove %s: %s", key, storage_strerror(rc));
    w->rc = EV_ERR;
    /* a store that stopped answering ends the walk */
    return rc == STORAGE_UNAVAILABLE ? EV_ERR : EV_OK;
}

int evidence_gc(db_t *db, storage_t *store, int64_t grace_s, int64_t uploads_grace_s, int dry_run,
                evidence_gc_stats_t *st)
{
    int rc = EV_OK;
    time_t cutoff = time(NULL) - (time_t)grace_s;
    memset(st, 0, sizeof *st);

    /* 1. blobs rows that no evidence file refers to. A row another table
     * still references (a foreign key) refuses to go and is kept. */
    json_t *rows = db_all(db,
                          "SELECT sha256 FROM blobs b WHERE NOT EXISTS"
                          " (SELECT 1 FROM evidence_files f WHERE f.sha256 = b.sha256)",
                          "");
    if (!rows)
        return EV_ERR;
    size_t i;
    json_t *row;
    if (!dry_run && json_array_size(rows) > 0) {
        if (db_begin(db) != EV_OK) {
            json_decref(rows);
            return EV_ERR;
        }
        json_array_foreach(rows, i, row) {
            const char *sha = json_string_value(json_object_get(row, "sha256"));
            if (db_run(db,
                       "DELETE FROM blobs WHERE sha256 = ? AND NOT EXISTS"
                       " (SELECT 1 FROM evidence_files WHERE sha256 = ?)",
                       "tt", sha, sha) == EV_OK)
                st->rows_removed += db_changes(db);
        }
        if (db_commit(db) != EV_OK) {
            db_rollback(db);
            rc = EV_ERR;
        }
    } else {
        st->rows_removed = (int64_t)json_array_size(rows);
    }
    json_decref(rows);

    /* 2. stored blobs with neither a blobs row nor an evidence file, listed from
     * the store itself (a directory or a bucket). */
    gc_walk_t w = {db, st, cutoff, dry_run, store, EV_OK};
    if (storage_list(store, gc_visit, &w) != EV_OK) {
        rc = EV_ERR;
        st->store_unlisted = w.rc == EV_OK;
    }
    if (w.rc != EV_OK)
        rc = EV_ERR;

    /* 3. uploads to the store that never finished (S3 multipart parts left by a crash
     * or an outage), begun before the grace period. */
    if (storage_sweep_uploads(store, (int64_t)time(NULL) - uploads_grace_s, dry_run, &st->uploads_aborted) != EV_OK)
        rc = EV_ERR;

    /* 4. temporary files no upload has touched within the grace period. */
    const char *tmpdir = store->spool_dir;
    DIR *td = opendir(tmpdir);
    struct dirent *d1;
    while (td && (d1 = readdir(td)) != NULL) {
        if (strcmp(d1->d_name, ".") == 0 || strcmp(d1->d_name, "..") == 0)
            continue;
        char *path = fmtalloc("%s/%s", tmpdir, d1->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_mtime <= cutoff) {
            if (dry_run || unlink(path) == 0)
                st->tmp_removed++;
            else
                rc = EV_ERR;
        }
        free(path);
    }
    if (td)
        closedir(td);
    return rc;
}

int evidence_cmd_gc(int argc, char **argv)
{
    const char *db_path = "evitrack.db", *data_dir = "data", *grace = NULL, *store_spec = NULL, *creds = NULL;
    int64_t grace_min = 60;
    int dry_run = 0, force = 0;
    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &db_path)) || (got = cli_opt(argc, argv, &i, "data", &data_dir)) ||
            (got = cli_opt(argc, argv, &i, "store", &store_spec)) ||
            (got = cli_opt(argc, argv, &i, "store-credentials", &creds)) ||
            (got = cli_opt(argc, argv, &i, "grace-minutes", &grace))) {
            if (got < 0)
                return 2;
        } else if (cli_flag(argv, &i, "dry-run")) {
            dry_run = 1;
        } else if (cli_flag(argv, &i, "force")) {
            force = 1;
        } else {
            return cli_usage_error("gc: unknown argument %s (usage: gc [--db FILE] [--data DIR] [--store DIR|s3://...] "
                                   "[--grace-minutes N] [--dry-run] [--force])",
                                   argv[i]);
        }
    }
    if (grace && (util_parse_i64(grace, &grace_min) != EV_OK || grace_min < 0))
        return cli_usage_error("gc: --grace-minutes takes a whole number of minutes");
    storage_t *store = NULL;
    db_t *db = NULL;
    if (cli_open_centre(db_path, store_spec, creds, data_dir, &db, &store) != EV_OK)
        return 1;
    evidence_gc_stats_t st;
    int rc = EV_OK;
    /* A database that records no stored file at all, beside a store that holds some, is
     * far more likely the wrong --db than a centre whose every file is garbage. */
    if (!dry_run && !force &&
        db_int(db, "SELECT (SELECT count(*) FROM blobs) + (SELECT count(*) FROM evidence_files)", 0, "") == 0) {
        rc = evidence_gc(db, store, grace_min * 60, grace_min * 60, 1, &st);
        if (rc == EV_OK && st.blobs_removed > 0) {
            fprintf(stderr,
                    "evitrack: gc: the database %s records no stored files, but the store holds %lld: is it the "
                    "centre's database? Nothing was removed (--force removes them).\n",
                    db_path, (long long)st.blobs_removed);
            db_close(db);
            storage_close(store);
            return 1;
        }
    }
    if (rc == EV_OK)
        rc = evidence_gc(db, store, grace_min * 60, grace_min * 60, dry_run, &st);
    printf("%s%lld unreferenced blob%s (%lld bytes), %lld blob row%s, %lld stale temporary file%s; "
           "%lld blob%s kept",
           dry_run ? "would remove " : "removed ", (long long)st.blobs_removed, st.blobs_removed == 1 ? "" : "s",
           (long long)st.bytes_removed, (long long)st.rows_removed, st.rows_removed == 1 ? "" : "s",
           (long long)st.tmp_removed, st.tmp_removed == 1 ? "" : "s", (long long)st.blobs_kept,
           st.blobs_kept == 1 ? "" : "s");
    if (st.uploads_aborted)
        printf("; %s %lld unfinished upload%s to the store", dry_run ? "would abort" : "aborted",
               (long long)st.uploads_aborted, st.uploads_aborted == 1 ? "" : "s");
    printf("\n");
    db_close(db);
    storage_close(store);
    if (rc != EV_OK) {
        fprintf(stderr, st.store_unlisted ? "evitrack: gc: the store could not be listed (the log above says why), "
                                            "so nothing in it was removed\n"
                                          : "evitrack: gc: some files could not be removed\n");
        return 1;
    }
    return 0;
}

/* ---- evidence written for the learner by someone else (records.c, witness.c) ---- */

struct evidence_uploads {
    ev_file_t *files;
    size_t n;
};

/* An ev_err_t as the public rules_err_t. Returns EV_ERR. */
static int ev_to_rules(const ev_err_t *e, rules_err_t *out)
{
    out->status = e->status ? e->status : 500;
    snprintf(out->code, sizeof out->code, "%s", e->code ? e->code : "internal_error");
    out->field[0] = '\0';
    snprintf(out->message, sizeof out->message, "%.300s", e->msg[0] ? e->msg : "Something went wrong.");
    return EV_ERR;
}

int evidence_uploads_take(req_t *r, evidence_uploads_t **out)
{
    ev_err_t e = {0};
    ev_file_t *files = NULL;
    size_t n = 0;
    *out = NULL;
    if (ev_take_uploads(r, &files, &n, &e) != EV_OK)
        return page_status(r, fail_with(r, &e));
    if (!n) {
        free(files);
        return 0;
    }
    *out = xcalloc(1, sizeof **out);
    (*out)->files = files;
    (*out)->n = n;
    return 0;
}

size_t evidence_uploads_count(const evidence_uploads_t *u)
{
    return u ? u->n : 0;
}

int evidence_uploads_store(req_t *r, evidence_uploads_t *u)
{
    ev_err_t e = {0};
    if (u && ev_promote(r->db, r->app->store, u->files, u->n, &e) != EV_OK)
        return fail_with(r, &e);
    return 0;
}

int evidence_uploads_record(db_t *db, int64_t evidence_id, const evidence_uploads_t *u)
{
    return u ? ev_add_files(db, evidence_id, u->files, u->n) : EV_OK;
}

void evidence_uploads_free(evidence_uploads_t *u)
{
    if (!u)
        return;
    ev_files_free(u->files, u->n);
    free(u);
}

int evidence_insert_authored(db_t *db, const evidence_authored_t *a, const evidence_uploads_t *u,
                             json_t *questions, int64_t *id_out)
{
    char now[21];
    size_t i;
    json_t *q;
    util_now_iso(now);
    int64_t id = db_int(db,
                        "INSERT INTO evidence (learner_id, title, kind, description, body, occurred_on, created_at,"
                        " updated_at, author_role, author_id, place, activity, group_id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        0, "itttttttt" "ztt" "z", a->learner_id, a->title, a->kind,
                        a->description ? a->description : "", a->body ? a->body : "",
                        (a->occurred_on && *a->occurred_on) ? a->occurred_on : NULL, now, now, a->author_role,
                        a->author_id, a->place ? a->place : "", a->activity ? a->activity : "", a->group_id);
    if (id <= 0)
        return EV_ERR;
    if (u && ev_add_files(db, id, u->files, u->n) != EV_OK)
        return EV_ERR;
    json_array_foreach(questions, i, q) {
        if (db_run(db, "INSERT INTO evidence_questions (evidence_id, position, question, answer) VALUES (?, ?, ?, ?)",
                   "iItt", id, (int)i + 1, json_string_value(json_object_get(q, "question")),
                   json_string_value(json_object_get(q, "answer")) ? json_string_value(json_object_get(q, "answer"))
                                                                  : "") != EV_OK)
            return EV_ERR;
    }
    json_t *after = ev_snapshot(db, id);
    int rc = audit_record(db, a->actor_id, "evidence.create", "evidence", id, a->learner_id, NULL, after);
    json_decref(after);
    if (rc != EV_OK || status_refresh_learner(db, a->learner_id) != EV_OK)
        return EV_ERR;
    *id_out = id;
    return EV_OK;
}

int evidence_mapping_read(req_t *r, evidence_map_item_t **items, size_t *n)
{
    ev_err_t e = {0};
    if (ev_read_mapping(r, items, n, &e) != EV_OK)
        return fail_with(r, &e);
    return 0;
}

int evidence_mapping_apply(db_t *db, int64_t id, int64_t actor_id, const evidence_map_item_t *items, size_t n,
                           rules_err_t *e)
{
    ev_err_t ee = {0};
    if (ev_replace_mapping(db, id, actor_id, items, n, &ee) != EV_OK)
        return ev_to_rules(&ee, e);
    return EV_OK;
}

int evidence_mark_ready(db_t *db, int64_t id, int64_t actor_id, int notify_assessor, rules_err_t *e)
{
    ev_err_t ee = {0};
    if (ev_do_submit(db, id, actor_id, notify_assessor, &ee) != EV_OK)
        return ev_to_rules(&ee, e);
    return EV_OK;
}

json_t *evidence_author_json(db_t *db, int64_t evidence_id)
{
    json_t *a = db_one(db,
                       "SELECT e.author_role AS role, CASE WHEN e.author_role = 'assessor' THEN au.name"
                       " WHEN e.author_role = 'witness' THEN w.witness_name ELSE l.name END AS name,"
                       " w.witness_job_title AS job_title, w.witness_relationship AS relationship,"
                       " w.witness_email AS email, w.completed_at AS given_at, w.id AS request_id"
                       " FROM evidence e JOIN users l ON l.id = e.learner_id"
                       " LEFT JOIN users au ON au.id = e.author_id"
                       " LEFT JOIN witness_requests w ON w.evidence_id = e.id AND e.author_role = 'witness'"
                       " WHERE e.id = ?",
                       "i", evidence_id);
    if (!a)
        return NULL;
    const char *role = json_string_value(json_object_get(a, "role"));
    if (!role)
        role = "learner";
    json_object_set_new(a, "is_learner", json_boolean(!strcmp(role, "learner")));
    json_object_set_new(a, "is_assessor", json_boolean(!strcmp(role, "assessor")));
    json_object_set_new(a, "is_witness", json_boolean(!strcmp(role, "witness")));
    json_object_set_new(a, "role_label", json_string(!strcmp(role, "assessor")  ? "Assessor"
                                                     : !strcmp(role, "witness") ? "Witness"
                                                                                : "Learner"));
    if (strcmp(role, "witness") != 0) {
        json_object_del(a, "job_title");
        json_object_del(a, "relationship");
        json_object_del(a, "email");
        json_object_del(a, "given_at");
        json_object_del(a, "request_id");
    }
    return a;
}

void evidence_author_label(json_t *row)
{
    const char *role = json_string_value(json_object_get(row, "author_role"));
    const char *an = json_string_value(json_object_get(row, "assessor_name"));
    const char *wn = json_string_value(json_object_get(row, "witness_name"));
    char *label = NULL;
    if (role && !strcmp(role, "assessor"))
        label = fmtalloc("Written by the assessor%s%s", an ? ", " : "", an ? an : "");
    else if (role && !strcmp(role, "witness"))
        label = fmtalloc("Written by a witness%s%s", wn ? ", " : "", wn ? wn : "");
    json_object_set_new(row, "is_authored", json_boolean(label != NULL));
    json_object_set_new(row, "author_label", label ? json_string(label) : json_null());
    free(label);
}

/* ---- routes ---- */

const route_t evidence_routes[] = {
    /* API */
    {"GET", "/api/v1/evidence", h_my_list, ROLE_LEARNER, NULL, 0},
    {"POST", "/api/v1/evidence", h_create, ROLE_LEARNER, NULL, ROUTE_UPLOAD},
    {"GET", "/api/v1/evidence/{id}", h_show, ROLE_ANY, NULL, 0},
    {"PATCH", "/api/v1/evidence/{id}", h_update, ROLE_LEARNER, NULL, ROUTE_UPLOAD},
    {"DELETE", "/api/v1/evidence/{id}", h_delete, ROLE_LEARNER, NULL, 0},
    {"POST", "/api/v1/evidence/{id}/files", h_update, ROLE_LEARNER, NULL, ROUTE_UPLOAD},
    {"GET", "/api/v1/evidence/{id}/files/{file_id}", h_file, ROLE_ANY, NULL, 0},
    {"DELETE", "/api/v1/evidence/{id}/files/{file_id}", h_file_delete, ROLE_LEARNER, NULL, 0},
    {"GET", "/api/v1/evidence/{id}/criteria", h_mapping, ROLE_ANY, NULL, 0},
    {"PUT", "/api/v1/evidence/{id}/criteria", h_map, ROLE_LEARNER, NULL, 0},
    {"POST", "/api/v1/evidence/{id}/submit", h_submit, ROLE_LEARNER, NULL, 0},
    {"POST", "/api/v1/evidence/{id}/withdraw", h_withdraw, ROLE_LEARNER, NULL, 0},
    {"GET", "/api/v1/learners/{id}/evidence", h_learner_list, ROLE_ANY, NULL, 0},
    /* pages */
    {"GET", "/evidence", h_my_list, ROLE_LEARNER, "evidence_list", 0},
    {"GET", "/evidence/new", h_new_form, ROLE_LEARNER, "evidence_new", 0},
    {"POST", "/evidence/new", h_create, ROLE_LEARNER, "evidence_new", ROUTE_UPLOAD},
    {"GET", "/evidence/{id}", h_show, ROLE_ANY, "evidence_show", 0},
    {"GET", "/evidence/{id}/edit", h_edit_form, ROLE_LEARNER, "evidence_edit", 0},
    {"POST", "/evidence/{id}/edit", h_update, ROLE_LEARNER, "evidence_edit", ROUTE_UPLOAD},
    {"GET", "/evidence/{id}/delete", h_show, ROLE_LEARNER, "evidence_delete", 0},
    {"POST", "/evidence/{id}/delete", h_delete, ROLE_LEARNER, "evidence_delete", 0},
    {"GET", "/evidence/{id}/files/{file_id}", h_file, ROLE_ANY, NULL, 0},
    {"POST", "/evidence/{id}/files/{file_id}/delete", h_file_delete, ROLE_LEARNER, "evidence_edit", 0},
    {"GET", "/evidence/{id}/criteria", h_mapping, ROLE_ANY, "evidence_criteria", 0},
    {"POST", "/evidence/{id}/criteria", h_map, ROLE_LEARNER, "evidence_criteria", 0},
    {"POST", "/evidence/{id}/submit", h_submit, ROLE_LEARNER, "evidence_show", 0},
    {"POST", "/evidence/{id}/withdraw", h_withdraw, ROLE_LEARNER, "evidence_show", 0},
    {"GET", "/learners/{id}/evidence", h_learner_list, ROLE_ANY, "evidence_list", 0},
    {0},
};
