/* witness.c: remote witness testimony: nominating a witness, the one-time link, the witness's page */
#include "witness.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "audit.h"
#include "evidence.h"
#include "notify.h"
#include "policy.h"
#include "rules.h"
#include "session.h"
#include "util.h"

/*
 * A witness testimony an EQA can rely on names a real person who saw the work: the
 * learner or their assessor nominates the witness (name, job title, relationship to
 * the learner, work email) for a piece of work and the criteria it shows; the witness
 * gets a one-time link and writes the testimony themself, confirming their competence
 * to judge and their relationship. The link:
 *   - is 256 random bits (libsodium), of which only the SHA-256 is stored;
 *   - works once (a conditional UPDATE takes it, so two submissions race safely),
 *     for 14 days, and the nominator, the learner or their assessor can revoke it;
 *   - needs no account. As there is no session, the form's protection against
 *     cross-site posting is the token itself (secret, only in the page) plus a
 *     same-origin check of Origin / Sec-Fetch-Site.
 * The testimony becomes evidence written by the witness (evidence.author_role =
 * 'witness'), mapped to the nominated criteria and ready for assessment; the audit
 * event records the witness's name, job title, email, the time and the address.
 */

#define NAME_MAX_CHARS 200
#define ABOUT_MAX 5000
#define TESTIMONY_MAX 20000
#define EMAIL_MAX 254

/* Characters (not bytes) of UTF-8 text. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A copy of s without surrounding white space (caller frees); "" for NULL. */
static char *trimdup(const char *s)
{
    if (!s)
        return xstrdup("");
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return xstrndup(s, n);
}

/* A plausible single address: local@domain.tld, no spaces or angle brackets. */
static int email_ok(const char *e)
{
    const char *at = e ? strchr(e, '@') : NULL;
    if (!at || at == e || strchr(at + 1, '@') || !strchr(at + 1, '.') || strlen(e) > EMAIL_MAX)
        return 0;
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p <= ' ' || strchr("<>()[]\\,;:\"", *p))
            return 0;
    return at[1] != '.' && e[strlen(e) - 1] != '.';
}

/* The state a request shows: pending, completed, revoked or expired. */
static const char *state_of(json_t *w, const char *now)
{
    const char *st = json_string_value(json_object_get(w, "status"));
    const char *exp = json_string_value(json_object_get(w, "expires_at"));
    if (st && !strcmp(st, "pending") && exp && strcmp(exp, now) <= 0)
        return "expired";
    return st ? st : "pending";
}

static const char *state_label(const char *s)
{
    return !strcmp(s, "completed") ? "Testimony given"
           : !strcmp(s, "revoked") ? "Link cancelled"
           : !strcmp(s, "expired") ? "Link expired"
                                   : "Waiting for the witness";
}

/* May the signed-in user nominate a witness for learner_id? The learner themself
 * (enrolled) or their assessor. */
static int may_nominate(req_t *r, int64_t learner_id)
{
    if (r->user.role == ROLE_LEARNER)
        return r->user.id == learner_id &&
               db_int(r->db, "SELECT EXISTS (SELECT 1 FROM enrolments WHERE learner_id = ? AND status = 'active')", 0,
                      "i", learner_id);
    return policy_can_assess_learner(r->db, &r->user, learner_id);
}

/* 404 unless the user reads learner_id; 403 unless they may nominate. */
static int require_nominator(req_t *r, int64_t learner_id)
{
    if (!db_int(r->db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND role = 'learner')", 0, "i", learner_id) ||
        !policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "There is no learner %lld.", (long long)learner_id);
    if (!may_nominate(r, learner_id))
        return http_fail(r, 403, "forbidden",
                         "Only the learner (while enrolled) or their assessor can ask a witness for testimony.");
    return 0;
}

/* The criteria the user may ask testimony for, by unit (ticked from sel). New ref. */
static json_t *criteria_choices(req_t *r, int64_t learner_id, const evidence_map_item_t *sel, size_t nsel)
{
    int64_t assessor = r->user.role == ROLE_ASSESSOR ? r->user.id : 0;
    json_t *rows = db_all(r->db,
                          "SELECT c.id, c.ref, c.text, u.id AS unit_id, u.ref AS unit_ref, u.title AS unit_title"
                          " FROM enrolments e JOIN units u ON u.qualification_id = e.qualification_id"
                          " JOIN criteria c ON c.unit_id = u.id WHERE e.learner_id = ? AND e.status = 'active'"
                          " AND (? = 0 OR e.assessor_id = ?) AND c.retired = 0 AND u.retired = 0"
                          " ORDER BY e.qualification_id, u.position, u.id, c.position, c.id",
                          "iii", learner_id, assessor, assessor);
    json_t *units = json_array(), *cur = NULL, *row;
    int64_t cur_unit = 0;
    size_t i;
    json_array_foreach(rows, i, row) {
        int64_t uid = json_integer_value(json_object_get(row, "unit_id"));
        int64_t cid = json_integer_value(json_object_get(row, "id"));
        if (!cur || uid != cur_unit) {
            cur = json_pack("{s:O, s:O, s:[]}", "unit_ref", json_object_get(row, "unit_ref"), "unit_title",
                            json_object_get(row, "unit_title"), "criteria");
            json_array_append_new(units, cur);
            cur_unit = uid;
        }
        int checked = 0;
        for (size_t k = 0; k < nsel; k++)
            checked |= sel[k].criterion_id == cid;
        json_array_append_new(json_object_get(cur, "criteria"),
                              json_pack("{s:I, s:O, s:O, s:b}", "id", (json_int_t)cid, "ref",
                                        json_object_get(row, "ref"), "text", json_object_get(row, "text"),
                                        "checked", checked));
    }
    json_decref(rows);
    return units;
}

/* The nomination form's context (typed values from the request). */
static void form_context(req_t *r, int64_t learner_id, const evidence_map_item_t *sel, size_t nsel)
{
    json_t *out = http_out(r);
    static const char *const keys[] = {"title", "about", "occurred_on", "witness_name", "witness_job_title",
                                       "witness_relationship", "witness_email", NULL};
    json_t *form = json_object();
    for (int i = 0; keys[i]; i++)
        json_object_set_new(form, keys[i], json_string(in_str(r, keys[i]) ? in_str(r, keys[i]) : ""));
    json_object_set_new(out, "form", form);
    json_object_set_new(out, "units", criteria_choices(r, learner_id, sel, nsel));
    json_object_set_new(out, "learner", db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", learner_id));
    json_object_set_new(out, "is_own", json_boolean(r->user.id == learner_id));
    /* field_errors ({field: first message}) is kept by http_field_error */
}

/* GET /learners/{id}/witness-requests/new */
static int h_new_form(req_t *r)
{
    int st = require_nominator(r, r->params[0]);
    if (st)
        return st;
    form_context(r, r->params[0], NULL, 0);
    return 200;
}

/* Checks a nomination's fields (field errors on r). *items from the request. */
static void check_nomination(req_t *r, int64_t learner_id, evidence_map_item_t **items, size_t *n)
{
    static const struct {
        const char *key, *missing;
        size_t max;
    } F[] = {
        {"title", "Enter a title for the piece of work", NAME_MAX_CHARS},
        {"about", "Describe what you are asking the witness to confirm", ABOUT_MAX},
        {"witness_name", "Enter the witness's full name", NAME_MAX_CHARS},
        {"witness_job_title", "Enter the witness's job title", NAME_MAX_CHARS},
        {"witness_relationship", "Enter how the witness knows the learner, for example their line manager",
         NAME_MAX_CHARS},
        {"witness_email", "Enter the witness's work email address", EMAIL_MAX},
        {NULL, NULL, 0},
    };
    for (int i = 0; F[i].key; i++) {
        json_t *v = json_object_get(r->in, F[i].key);
        char *t = trimdup(json_string_value(v));
        if (v && !json_is_string(v))
            http_field_error(r, F[i].key, "Send this field as text");
        else if (!*t)
            http_field_error(r, F[i].key, F[i].missing);
        else if (chars(t) > F[i].max)
            http_field_error(r, F[i].key, "This is too long");
        free(t);
    }
    const char *email = in_str(r, "witness_email");
    if (email && *email && !email_ok(email))
        http_field_error(r, "witness_email", "Enter an email address like name@example.co.uk");
    else if (email && db_int(r->db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND lower(email) = lower(?))", 0,
                             "it", learner_id, email))
        http_field_error(r, "witness_email", "The witness must be someone other than the learner");
    const char *occ = in_str(r, "occurred_on");
    char today[21];
    util_iso_time((time_t)util_now_s() + 86400, today);
    today[10] = '\0';
    if (json_object_get(r->in, "occurred_on") && !json_is_string(json_object_get(r->in, "occurred_on")) &&
        !json_is_null(json_object_get(r->in, "occurred_on")))
        http_field_error(r, "occurred_on", "Send this field as text");
    else if (occ && *occ && (!util_valid_date(occ) || strcmp(occ, "1950-01-01") < 0))
        http_field_error(r, "occurred_on", "Enter a real date as YYYY-MM-DD");
    else if (occ && *occ && strcmp(occ, today) > 0)
        http_field_error(r, "occurred_on", "The date of the work must be today or in the past");
    *items = NULL;
    *n = 0;
    if (!json_object_get(r->in, "criteria") && !json_object_get(r->in, "criterion")) {
        http_field_error(r, "criteria", "Choose the criteria the witness's testimony is for");
        return;
    }
    if (evidence_mapping_read(r, items, n) != 0) {
        json_t *err = json_object_get(http_out(r), "error");
        http_field_error(r, "criteria", json_string_value(json_object_get(err, "message")));
        json_object_del(http_out(r), "error");
        return;
    }
    if (!*n)
        http_field_error(r, "criteria", "Choose the criteria the witness's testimony is for");
    for (size_t i = 0; i < *n; i++) {
        int ok = r->user.role == ROLE_ASSESSOR
                     ? policy_can_assess_criterion(r->db, &r->user, learner_id, (*items)[i].criterion_id)
                     : db_int(r->db, "SELECT EXISTS (SELECT 1 FROM criteria c JOIN units u ON u.id = c.unit_id"
                                     " JOIN enrolments e ON e.qualification_id = u.qualification_id WHERE c.id = ?"
                                     " AND e.learner_id = ? AND e.status = 'active' AND c.retired = 0)",
                              0, "ii", (*items)[i].criterion_id, learner_id);
        if (!ok) {
            http_field_error(r, "criteria", "Choose criteria of the learner's qualification");
            break;
        }
    }
}

/* POST /learners/{id}/witness-requests, POST /api/v1/learners/{id}/witness-requests:
 * nominates a witness. 201 {id, link (absolute, shown once), expires_at, emailed}. */
static int h_create(req_t *r)
{
    int64_t learner_id = r->params[0];
    evidence_map_item_t *items = NULL;
    size_t n = 0;
    char token[65] = "", hash[65], now[21], expires[21], *link = NULL;
    unsigned char raw[32];
    char *title = NULL, *about = NULL, *wname = NULL, *wjob = NULL, *wrel = NULL, *wemail = NULL;
    int status = require_nominator(r, learner_id);
    if (status)
        return status;
    check_nomination(r, learner_id, &items, &n);
    if (http_field_error_count(r)) {
        if (!r->is_api)
            form_context(r, learner_id, items, n);
        status = http_fail(r, 400, "invalid", "Check the details of the witness: %zu problem%s.",
                           http_field_error_count(r), http_field_error_count(r) == 1 ? "" : "s");
        goto out;
    }
    title = trimdup(in_str(r, "title"));
    about = trimdup(in_str(r, "about"));
    wname = trimdup(in_str(r, "witness_name"));
    wjob = trimdup(in_str(r, "witness_job_title"));
    wrel = trimdup(in_str(r, "witness_relationship"));
    wemail = trimdup(in_str(r, "witness_email"));
    const char *occ = in_str(r, "occurred_on");
    randombytes_buf(raw, sizeof raw);
    util_hex(raw, sizeof raw, token);
    sodium_memzero(raw, sizeof raw);
    session_hash_token(token, hash);
    util_now_iso(now);
    util_iso_time((time_t)util_now_s() + WITNESS_TTL_S, expires);
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    int64_t id = db_int(r->db,
                        "INSERT INTO witness_requests (learner_id, requested_by, title, about, occurred_on, witness_name,"
                        " witness_job_title, witness_relationship, witness_email, token_hash, status, created_at,"
                        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id",
                        0, "iitttttttttt", learner_id, r->user.id, title, about, occ && *occ ? occ : NULL, wname,
                        wjob, wrel, wemail, hash, now, expires);
    int ok = id > 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = db_run(r->db, "INSERT INTO witness_request_criteria (request_id, criterion_id) VALUES (?, ?)"
                           " ON CONFLICT (request_id, criterion_id) DO NOTHING", "ii", id, items[i].criterion_id) == EV_OK;
    json_t *after = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "title", title, "witness_name", wname,
                              "witness_job_title", wjob, "witness_relationship", wrel, "witness_email", wemail,
                              "expires_at", expires, "requested_by", role_name(r->user.role));
    ok = ok && audit_record(r->db, r->user.id, "witness.request", "witness_request", id, learner_id, NULL, after) == EV_OK;
    json_decref(after);
    link = fmtalloc("/witness?token=%s", token);
    char *learner_name = db_text(r->db, "SELECT name FROM users WHERE id = ?", "i", learner_id);
    /* emailed to the witness at once (the outbox blanks the body once sent: it holds the link) */
    ok = ok && notify_queue_address(r->db, wemail, wname, "witness_request", link,
                                    json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "requester_name", r->user.name,
                                              "learner_name", learner_name ? learner_name : "", "about", title,
                                              "expires", expires, "valid_days", WITNESS_TTL_S / 86400,
                                              "own_work", r->user.id == learner_id)) == EV_OK;
    free(learner_name);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "internal_error", "Could not save the request.");
        goto out;
    }
    char *abs = fmtalloc("%s%s", notify_base_url(), link);
    char label[64];
    accounts_uk_time_iso(expires, label, sizeof label);
    json_t *out = http_out(r);
    json_object_set_new(out, "id", json_integer((json_int_t)id));
    json_object_set_new(out, "link", json_string(abs));
    json_object_set_new(out, "expires_at", json_string(expires));
    json_object_set_new(out, "expires_label", json_string(label));
    json_object_set_new(out, "witness_name", json_string(wname));
    json_object_set_new(out, "witness_email", json_string(wemail));
    json_object_set_new(out, "emailed", json_true());
    json_object_set_new(out, "created", json_true());
    json_object_set_new(out, "learner", db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", learner_id));
    free(abs);
    status = 201;
out:
    sodium_memzero(token, sizeof token);
    if (link)
        sodium_memzero(link, strlen(link));
    free(link);
    free(items);
    free(title);
    free(about);
    free(wname);
    free(wjob);
    free(wrel);
    free(wemail);
    return status;
}

/* GET /api/v1/learners/{id}/witness-requests, GET /learners/{id}/witness-requests:
 * the learner's witness requests, newest first (never the link: it is shown once). */
static int h_list(req_t *r)
{
    int64_t learner_id = r->params[0];
    if (!db_int(r->db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND role = 'learner')", 0, "i", learner_id) ||
        !policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "There is no learner %lld.", (long long)learner_id);
    json_t *rows = db_all(r->db,
                          "SELECT w.id, w.title, w.about, w.occurred_on, w.witness_name, w.witness_job_title,"
                          " w.witness_relationship, w.witness_email, w.status, w.created_at, w.expires_at,"
                          " w.completed_at, w.revoked_at, w.evidence_id, w.requested_by, u.name AS requested_by_name"
                          " FROM witness_requests w JOIN users u ON u.id = w.requested_by WHERE w.learner_id = ?"
                          " ORDER BY w.id DESC LIMIT 200",
                          "i", learner_id);
    if (!rows)
        return http_fail(r, 500, "internal_error", "Could not list the witness requests.");
    char now[21];
    util_now_iso(now);
    int can_revoke = may_nominate(r, learner_id) || r->user.id == learner_id;
    qscope_t qs; /* an EQA: not the requests about other qualifications than its visit's (issue 18) */
    if (policy_qscope(r->db, &r->user, learner_id, &qs) != EV_OK) {
        json_decref(rows);
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    }
    size_t i;
    json_t *w;
    for (i = json_array_size(rows); !qs.all && i-- > 0;) {
        w = json_array_get(rows, i);
        int64_t ev = json_integer_value(json_object_get(w, "evidence_id"));
        json_t *quals = db_all(r->db, "SELECT DISTINCT un.qualification_id AS q FROM witness_request_criteria wc"
                                      " JOIN criteria c ON c.id = wc.criterion_id JOIN units un ON un.id = c.unit_id"
                                      " WHERE wc.request_id = ?", "i", json_integer_value(json_object_get(w, "id")));
        int named = json_array_size(quals) > 0, keep = !named && !ev; /* about no qualification */
        size_t k;
        json_t *q;
        json_array_foreach(quals, k, q) keep |= qscope_has(&qs, json_integer_value(json_object_get(q, "q")));
        json_decref(quals);
        keep |= ev && qscope_evidence(r->db, &qs, ev);
        if (!keep)
            json_array_remove(rows, i);
    }
    json_array_foreach(rows, i, w) {
        const char *st = state_of(w, now);
        json_object_set_new(w, "state", json_string(st));
        json_object_set_new(w, "state_label", json_string(state_label(st)));
        json_object_set_new(w, "can_revoke", json_boolean(!strcmp(st, "pending") &&
                                                          (can_revoke || json_integer_value(json_object_get(
                                                                             w, "requested_by")) == r->user.id)));
        json_t *crit = db_all(r->db, "SELECT c.id, c.ref, (SELECT un.qualification_id FROM units un WHERE un.id = c.unit_id)"
                                     " AS qualification_id FROM witness_request_criteria wc JOIN criteria c"
                                     " ON c.id = wc.criterion_id WHERE wc.request_id = ? ORDER BY c.position, c.id",
                              "i", json_integer_value(json_object_get(w, "id")));
        qscope_filter(&qs, crit, "qualification_id");
        json_object_set_new(w, "criteria", crit ? crit : json_array());
    }
    qscope_free(&qs);
    json_t *out = http_out(r);
    json_object_set_new(out, "requests", rows);
    json_object_set_new(out, "learner", db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", learner_id));
    json_object_set_new(out, "can_nominate", json_boolean(may_nominate(r, learner_id)));
    return 200;
}

/* POST /api/v1/witness-requests/{id}/revoke, POST /witness-requests/{id}/revoke:
 * the nominator, the learner or their assessor cancels a link not yet used. */
static int h_revoke(req_t *r)
{
    int64_t id = r->params[0];
    json_t *w = db_one(r->db, "SELECT learner_id, requested_by FROM witness_requests WHERE id = ?", "i", id);
    int64_t learner_id = w ? json_integer_value(json_object_get(w, "learner_id")) : 0;
    int64_t by = w ? json_integer_value(json_object_get(w, "requested_by")) : 0;
    json_decref(w);
    if (!w || !policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "There is no witness request %lld.", (long long)id);
    if (!(by == r->user.id || r->user.id == learner_id || policy_can_assess_learner(r->db, &r->user, learner_id)))
        return http_fail(r, 403, "forbidden", "Only the person who asked, the learner or their assessor can cancel it.");
    char now[21];
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The server is busy; try again.");
    int64_t done = db_int(r->db, "UPDATE witness_requests SET status = 'revoked', revoked_at = ? WHERE id = ?"
                                 " AND status = 'pending' RETURNING id", 0, "ti", now, id);
    if (done != id) {
        db_rollback(r->db);
        return http_fail(r, 409, "not_pending", "This link has already been used or cancelled.");
    }
    json_t *after = json_pack("{s:s}", "status", "revoked");
    int ok = audit_record(r->db, r->user.id, "witness.revoke", "witness_request", id, learner_id, NULL, after) == EV_OK;
    json_decref(after);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "internal_error", "Could not cancel the link.");
    }
    http_set_out(r, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "revoked"));
    http_redirect(r, "/learners/%lld/witness-requests?done=witness_revoked", (long long)learner_id);
    return 200;
}

/* ------------------------------------------------------------------ */
/* The witness's page (no account)                                      */
/* ------------------------------------------------------------------ */

/* The live request for token (pending, not expired), or NULL. New ref. */
static json_t *find_live(db_t *db, const char *token)
{
    if (!token || strlen(token) != 64 || strspn(token, "0123456789abcdef") != 64)
        return NULL;
    char hash[65], now[21];
    session_hash_token(token, hash);
    util_now_iso(now);
    return db_one(db,
                  "SELECT w.id, w.learner_id, w.title, w.about, w.occurred_on, w.witness_name, w.witness_job_title,"
                  " w.witness_relationship, w.witness_email, w.expires_at, l.name AS learner_name,"
                  " u.name AS requested_by_name FROM witness_requests w JOIN users l ON l.id = w.learner_id"
                  " JOIN users u ON u.id = w.requested_by WHERE w.token_hash = ? AND w.status = 'pending'"
                  " AND w.expires_at > ?",
                  "tt", hash, now);
}

/* The page's context: the request and the criteria it asks about. */
static void page_context(req_t *r, json_t *w, const char *token)
{
    json_t *out = http_out(r);
    json_t *crit = db_all(r->db, "SELECT c.ref, c.text FROM witness_request_criteria wc JOIN criteria c"
                                 " ON c.id = wc.criterion_id WHERE wc.request_id = ? ORDER BY c.position, c.id",
                          "i", json_integer_value(json_object_get(w, "id")));
    json_object_set_new(out, "request", json_incref(w));
    json_object_set_new(out, "criteria", crit ? crit : json_array());
    json_object_set_new(out, "token", json_string(token));
    json_object_set_new(out, "form", json_pack("{s:s}", "testimony", in_str(r, "testimony") ? in_str(r, "testimony") : ""));
    /* field_errors ({field: first message}) is kept by http_field_error */
}

static int link_gone(req_t *r)
{
    json_object_set_new(http_out(r), "gone", json_true());
    return http_fail(r, 410, "link_expired",
                     "This link has expired, has been cancelled or has already been used. "
                     "If you still need to give testimony, ask the person who sent it for a new link.");
}

/* GET /witness?token=: what the witness is asked to confirm, and the form. */
static int h_page(req_t *r)
{
    const char *token = in_str(r, "token");
    if (!token || !*token) {
        json_object_set_new(http_out(r), "no_token", json_true());
        return 200;
    }
    json_t *w = find_live(r->db, token);
    if (!w)
        return link_gone(r);
    page_context(r, w, token);
    json_decref(w);
    return 200;
}

/* 1 when the request comes from this site's own page (or from a client that sends
 * neither Origin nor Sec-Fetch-Site, such as a script holding the token). */
static int same_origin(req_t *r)
{
    const char *site = http_header(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return 0;
    const char *origin = http_header(r, "Origin"), *host = http_header(r, "Host");
    if (!origin || !strcmp(origin, "null"))
        return origin == NULL;
    const char *p = strstr(origin, "://");
    return p && host && strcmp(p + 3, host) == 0;
}

/* POST /witness: token, testimony, confirm_competent, confirm_relationship. Takes
 * the link (once), writes the testimony as the witness's evidence, ready for
 * assessment, and audits who gave it, when and from where. */
static int h_submit(req_t *r)
{
    const char *token = in_str(r, "token");
    char *testimony = NULL;
    int status;
    if (!same_origin(r))
        return http_fail(r, 403, "csrf_failed", "This form was not sent from evitrack's own page.");
    json_t *w = find_live(r->db, token);
    if (!w)
        return link_gone(r);
    json_t *tv = json_object_get(r->in, "testimony");
    testimony = trimdup(json_string_value(tv));
    if (tv && !json_is_string(tv))
        http_field_error(r, "testimony", "Send your testimony as text");
    else if (!*testimony)
        http_field_error(r, "testimony", "Write your testimony: what you saw the learner do");
    else if (chars(testimony) > TESTIMONY_MAX)
        http_field_error(r, "testimony", "Your testimony must be 20,000 characters or fewer");
    if (!in_bool(r, "confirm_competent"))
        http_field_error(r, "confirm_competent", "Confirm that you are competent to judge this work");
    if (!in_bool(r, "confirm_relationship"))
        http_field_error(r, "confirm_relationship", "Confirm your relationship to the learner");
    if (http_field_error_count(r)) {
        page_context(r, w, token);
        status = http_fail(r, 400, "invalid", "Check your testimony: %zu problem%s.", http_field_error_count(r),
                           http_field_error_count(r) == 1 ? "" : "s");
        goto out;
    }
    int64_t rid = json_integer_value(json_object_get(w, "id"));
    int64_t learner_id = json_integer_value(json_object_get(w, "learner_id"));
    char now[21], addr[64], hash[65];
    util_now_iso(now);
    http_client_addr(r, addr, sizeof addr);
    session_hash_token(token, hash);
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    /* Taken once: a second submission (or a race) finds it no longer pending. */
    if (db_int(r->db, "UPDATE witness_requests SET status = 'completed', completed_at = ?, witness_address = ?"
                      " WHERE id = ? AND token_hash = ? AND status = 'pending' AND expires_at > ? RETURNING id",
               0, "ttitt", now, addr, rid, hash, now) != rid) {
        db_rollback(r->db);
        status = link_gone(r);
        goto out;
    }
    evidence_authored_t a = {.learner_id = learner_id, .actor_id = 0, .author_role = "witness",
                             .title = json_string_value(json_object_get(w, "title")), .kind = "witness_testimony",
                             .description = json_string_value(json_object_get(w, "about")), .body = testimony,
                             .occurred_on = json_string_value(json_object_get(w, "occurred_on"))};
    int64_t eid = 0;
    json_t *crit = db_all(r->db, "SELECT criterion_id FROM witness_request_criteria WHERE request_id = ?"
                                 " ORDER BY criterion_id", "i", rid);
    size_t n = json_array_size(crit), i;
    evidence_map_item_t *items = xcalloc(n + 1, sizeof *items);
    char *note = fmtalloc("Confirmed by %s, %s", json_string_value(json_object_get(w, "witness_name")),
                          json_string_value(json_object_get(w, "witness_job_title")));
    for (i = 0; i < n; i++) {
        items[i].criterion_id = json_integer_value(json_object_get(json_array_get(crit, i), "criterion_id"));
        items[i].note = note;
    }
    rules_err_t re = {0};
    json_t *after = json_pack("{s:O, s:O, s:O, s:O, s:s, s:s, s:b, s:b, s:I}", "witness_name",
                              json_object_get(w, "witness_name"), "witness_job_title",
                              json_object_get(w, "witness_job_title"), "witness_email", json_object_get(w, "witness_email"),
                              "witness_relationship", json_object_get(w, "witness_relationship"), "given_at", now,
                              "address", addr, "confirmed_competent", 1, "confirmed_relationship", 1, "request_id",
                              (json_int_t)rid);
    int ok = evidence_insert_authored(r->db, &a, NULL, NULL, &eid) == EV_OK &&
             db_run(r->db, "UPDATE witness_requests SET evidence_id = ? WHERE id = ?", "ii", eid, rid) == EV_OK &&
             evidence_mapping_apply(r->db, eid, 0, items, n, &re) == EV_OK &&
             evidence_mark_ready(r->db, eid, 0, 1, &re) == EV_OK;
    if (ok)
        json_object_set_new(after, "evidence_id", json_integer((json_int_t)eid));
    ok = ok && audit_record(r->db, 0, "witness.testimony", "witness_request", rid, learner_id, NULL, after) == EV_OK;
    json_decref(after);
    json_decref(crit);
    free(items);
    free(note);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (re.status == 409)
            status = http_fail(r, 409, re.code, "The learner's enrolment has ended, so the testimony cannot be "
                                                "accepted now. Please tell the person who asked you.");
        else
            status = http_fail(r, 500, "internal_error", "Could not save your testimony. Please try again.");
        goto out;
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "thanks", json_true());
    json_object_set_new(out, "evidence_id", json_integer((json_int_t)eid));
    json_object_set_new(out, "request", json_incref(w));
    status = 201;
out:
    free(testimony);
    json_decref(w);
    return status;
}

const route_t witness_routes[] = {
    {"POST", "/api/v1/learners/{id}/witness-requests", h_create, ROLE_LEARNER | ROLE_ASSESSOR, NULL, 0},
    {"GET", "/api/v1/learners/{id}/witness-requests", h_list, ROLE_ANY, NULL, 0},
    {"POST", "/api/v1/witness-requests/{id}/revoke", h_revoke, ROLE_LEARNER | ROLE_ASSESSOR, NULL, 0},
    {"GET", "/learners/{id}/witness-requests/new", h_new_form, ROLE_LEARNER | ROLE_ASSESSOR, "witness_request_new", 0},
    {"POST", "/learners/{id}/witness-requests", h_create, ROLE_LEARNER | ROLE_ASSESSOR, "witness_request_new", 0},
    {"GET", "/learners/{id}/witness-requests", h_list, ROLE_ANY, "witness_requests", 0},
    {"POST", "/witness-requests/{id}/revoke", h_revoke, ROLE_LEARNER | ROLE_ASSESSOR, "witness_requests", 0},
    {"GET", "/witness", h_page, 0, "witness", 0},
    {"POST", "/witness", h_submit, 0, "witness", ROUTE_NO_CSRF},
    {0},
};
