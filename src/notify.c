/* notify.c: notifications: queued in the caller's transaction, shown in-app, emailed through the outbox */
#include "notify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "tmpl.h"

/* ------------------------------------------------------------------ */
/* Kinds                                                                */
/* ------------------------------------------------------------------ */

/* Every kind of notification. label/hint: the preferences page. security:
 * always emailed at once, whatever the preferences. in_app: also listed in
 * the app (not for one-time links). */
static const struct kind {
    const char *name;
    const char *label;
    const char *hint;
    int security;
    int in_app;
} kinds[] = {
    {"evidence_submitted", "Evidence submitted", "A learner on your caseload submits evidence for assessment", 0, 1},
    {"decision_recorded", "Assessment decisions", "Your assessor records a decision on your evidence", 0, 1},
    {"iqa_action", "IQA actions raised", "An internal quality assurer asks you to act on a decision", 0, 1},
    {"iqa_response", "IQA actions answered", "An assessor answers an action you raised", 0, 1},
    {"unit_signed_off", "Units signed off", "A unit is signed off as complete", 0, 1},
    {"witness_request", "Witness requests", "Someone asks you to witness their work", 0, 1},
    {"enrolment", "Enrolments", "You are enrolled on a qualification", 0, 1},
    {"review_due", "Progress reviews due", "A progress review falls due in the next two weeks", 0, 1},
    {"review_signature", "Review signatures", "A progress review asks for your signature", 0, 1},
    {"password_changed", "Password changes", "Your password is changed or reset", 1, 1},
    {"password_reset", "Password reset links", NULL, 1, 0},
    {"invitation", "Invitations", NULL, 1, 0},
    {0},
};

static const struct kind *kind_find(const char *name)
{
    for (const struct kind *k = kinds; name && k->name; k++)
        if (!strcmp(k->name, name))
            return k;
    return NULL;
}

static const char *const DELIVERIES[] = {"now", "digest", "off", NULL};

static int valid_delivery(const char *d)
{
    for (int i = 0; d && DELIVERIES[i]; i++)
        if (!strcmp(DELIVERIES[i], d))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Settings and the email templates                                     */
/* ------------------------------------------------------------------ */

static char base_url[512] = "http://127.0.0.1:8080";
static char templates_dir[1024] = EVITRACK_SOURCE_DIR "/templates";
static int smtp_on; /* a sender delivers the outbox (else the demo: messages wait) */
static pthread_once_t email_once = PTHREAD_ONCE_INIT;
static tmpl_set_t *email_set; /* loaded once, read-only after (tmpl_set_render is thread-safe) */

void notify_configure(const char *url, const char *dir)
{
    if (url) {
        snprintf(base_url, sizeof base_url, "%s", url);
        size_t n = strlen(base_url);
        while (n > 0 && base_url[n - 1] == '/')
            base_url[--n] = '\0';
    }
    if (dir)
        snprintf(templates_dir, sizeof templates_dir, "%s", dir);
}

void notify_set_smtp(int on)
{
    smtp_on = on;
}

const char *notify_base_url(void)
{
    return base_url;
}

static void email_load(void)
{
    char err[512] = "";
    char *dir = fmtalloc("%s/email", templates_dir);
    email_set = tmpl_set_load(dir, 0, err, sizeof err);
    if (!email_set)
        ev_log("notify: email templates: %s", err);
    free(dir);
}

static tmpl_set_t *emails(void)
{
    pthread_once(&email_once, email_load);
    return email_set;
}

/* Strips CR and LF (a subject becomes a mail header) and trims spaces. */
static void one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

int notify_render(const char *kind, json_t *data, char **subject, char **body)
{
    *subject = *body = NULL;
    tmpl_set_t *set = emails();
    char err[256] = "";
    buf_t out = {0};
    if (!set || !tmpl_set_has(set, kind) || tmpl_set_render(set, kind, data, &out, err, sizeof err) != EV_OK) {
        ev_log("notify: cannot render email %s: %s", kind, err);
        buf_free(&out);
        return EV_ERR;
    }
    char *text = buf_take(&out);
    if (!text)
        text = xstrdup("");
    char *nl = strchr(text, '\n');
    const char *rest = "";
    if (nl) {
        *nl = '\0';
        rest = nl + 1;
        while (*rest == '\n')
            rest++;
    }
    *subject = xstrdup(text);
    one_line(*subject);
    *body = xstrdup(rest);
    free(text);
    return EV_OK;
}

/* Splits text into paragraphs at blank lines: [{"lines": [{"text", "url"?}]}],
 * a line that is one http(s) URL becoming a link. */
static json_t *paragraphs(const char *text)
{
    json_t *paras = json_array(), *lines = NULL;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0) {
            lines = NULL;
        } else {
            if (!lines) {
                lines = json_array();
                json_array_append_new(paras, json_pack("{s:o}", "lines", lines));
            }
            char *line = xstrndup(p, n);
            json_t *l = json_pack("{s:s}", "text", line);
            if ((!strncmp(line, "https://", 8) || !strncmp(line, "http://", 7)) && !strchr(line, ' '))
                json_object_set_new(l, "url", json_string(line));
            json_array_append_new(lines, l);
            free(line);
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    return paras;
}

char *notify_render_html(const char *subject, const char *body, const char *link, const char *unsubscribe)
{
    tmpl_set_t *set = emails();
    json_t *ctx = json_pack("{s:s, s:o, s:s}", "subject", subject, "paragraphs", paragraphs(body),
                            "base_url", base_url);
    if (link && *link)
        json_object_set_new(ctx, "link", json_string(link));
    if (unsubscribe)
        json_object_set_new(ctx, "unsubscribe", json_string(unsubscribe));
    buf_t out = {0};
    char err[256] = "";
    if (!set || tmpl_set_render(set, "html", ctx, &out, err, sizeof err) != EV_OK) {
        ev_log("notify: cannot render the HTML email: %s", err);
        buf_free(&out);
        buf_puts(&out, "<!doctype html><html lang=\"en\"><body><p>");
        html_escape(&out, subject, strlen(subject));
        buf_puts(&out, "</p></body></html>");
    }
    json_decref(ctx);
    return buf_take(&out);
}

/* ------------------------------------------------------------------ */
/* Queueing                                                             */
/* ------------------------------------------------------------------ */

/* The template's data: data's fields plus name, link (absolute), base_url. */
static json_t *render_ctx(json_t *data, const char *name, const char *link)
{
    json_t *ctx = json_is_object(data) ? json_deep_copy(data) : json_object();
    char *abs = fmtalloc("%s%s", base_url, link ? link : "/");
    json_object_set_new(ctx, "name", json_string(name ? name : ""));
    json_object_set_new(ctx, "link", json_string(abs));
    json_object_set_new(ctx, "base_url", json_string(base_url));
    free(abs);
    return ctx;
}

/* The user's choice for kind k: "now", "digest" or "off". */
static char *delivery_for(db_t *db, int64_t user_id, const struct kind *k)
{
    if (k->security || !user_id)
        return xstrdup("now");
    char *d = db_text(db, "SELECT delivery FROM notification_prefs WHERE user_id = ? AND kind = ?", "it",
                      user_id, k->name);
    return d && valid_delivery(d) ? d : (free(d), xstrdup("now"));
}

/* Renders and stores one notification (and its email). in_app: add the
 * in-app row. secret: the body holds a one-time link. */
static int queue_one(db_t *db, int64_t user_id, const char *email, const char *name, const char *kind,
                     const char *link, json_t *data, int in_app, int secret)
{
    int rc = EV_ERR;
    char *subject = NULL, *body = NULL, *delivery = NULL;
    const struct kind *k = kind_find(kind);
    json_t *ctx = NULL;
    char now[21];
    util_now_iso(now);
    if (!k) {
        ev_log("notify: unknown kind %s", kind ? kind : "(null)");
        goto out;
    }
    if (!link || link[0] != '/')
        link = "/";
    ctx = render_ctx(data, name, link);
    if (notify_render(kind, ctx, &subject, &body) != EV_OK)
        goto out;
    int64_t nid = 0;
    if (in_app && k->in_app && user_id) {
        nid = db_int(db, "INSERT INTO notifications (user_id, kind, subject, body, link, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?) RETURNING id", 0, "itttt" "t",
                     user_id, kind, subject, body, link, now);
        if (nid <= 0)
            goto out;
    }
    delivery = delivery_for(db, user_id, k);
    if (strcmp(delivery, "off") != 0 &&
        db_run(db, "INSERT INTO outbox (user_id, notification_id, kind, to_addr, to_name, subject, body, link,"
                   " secret, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               "zzttttttItt" "t", user_id, nid, kind, email, name ? name : "", subject, body, link, secret,
               strcmp(delivery, "digest") == 0 ? "digest" : "pending", now, now) != EV_OK)
        goto out;
    rc = EV_OK;
out:
    free(subject);
    free(body);
    free(delivery);
    json_decref(ctx);
    return rc;
}

/* Loads an enabled account's email and name; EV_ERR when there is none. */
static int account(db_t *db, int64_t user_id, json_t **u)
{
    *u = user_id ? db_one(db, "SELECT email, name FROM users WHERE id = ? AND disabled = 0", "i", user_id) : NULL;
    return *u ? EV_OK : EV_ERR;
}

int notify_queue(db_t *db, int64_t user_id, const char *kind, const char *link, json_t *data)
{
    json_t *u = NULL;
    int rc = EV_OK;
    if (account(db, user_id, &u) == EV_OK)
        rc = queue_one(db, user_id, json_string_value(json_object_get(u, "email")),
                       json_string_value(json_object_get(u, "name")), kind, link, data, 1, 0);
    json_decref(u);
    json_decref(data);
    return rc;
}

int notify_queue_address(db_t *db, const char *email, const char *name, const char *kind, const char *link,
                         json_t *data)
{
    int rc = email && *email ? queue_one(db, 0, email, name, kind, link, data, 0, 1) : EV_OK;
    json_decref(data);
    return rc;
}

int notify_queue_secret(db_t *db, int64_t user_id, const char *kind, const char *link, json_t *data)
{
    json_t *u = NULL;
    int rc = EV_OK;
    if (account(db, user_id, &u) == EV_OK)
        rc = queue_one(db, user_id, json_string_value(json_object_get(u, "email")),
                       json_string_value(json_object_get(u, "name")), kind, link, data, 0, 1);
    json_decref(u);
    json_decref(data);
    return rc;
}

int64_t notify_unread_count(db_t *db, int64_t user_id)
{
    return db_int(db, "SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL", 0, "i", user_id);
}

int64_t notify_failed_count(db_t *db)
{
    return db_int(db, "SELECT count(*) FROM outbox WHERE status = 'failed'", 0, "");
}

/* Adds KEY_label (UK local time) next to each ISO timestamp KEY of rows. */
static void uk_labels(json_t *rows, const char *const *keys)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        for (const char *const *k = keys; *k; k++) {
            const char *iso = json_string_value(json_object_get(row, *k));
            if (!iso)
                continue;
            char label[64], key[64];
            accounts_uk_time_iso(iso, label, sizeof label);
            snprintf(key, sizeof key, "%s_label", *k);
            json_object_set_new(row, key, json_string(label));
        }
    }
}

/* ------------------------------------------------------------------ */
/* In-app list                                                          */
/* ------------------------------------------------------------------ */

/* GET /api/v1/notifications, GET /notifications: ?page= ?per_page= ?unread=1 */
static int list_h(req_t *r)
{
    int64_t limit, offset;
    int unread_only = in_bool(r, "unread");
    http_page(r, 20, &limit, &offset);
    int64_t unread = notify_unread_count(r->db, r->user.id);
    int64_t total = unread_only ? unread
                                : db_int(r->db, "SELECT count(*) FROM notifications WHERE user_id = ?", 0, "i",
                                         r->user.id);
    json_t *rows = db_all(r->db,
                          "SELECT id, kind, subject, body, link, created_at, read_at FROM notifications"
                          " WHERE user_id = ? AND (? = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT ? OFFSET ?",
                          "iIii", r->user.id, unread_only, limit, offset);
    if (!rows)
        return http_fail(r, 500, "internal", "Could not list your notifications.");
    size_t i;
    json_t *n;
    json_array_foreach(rows, i, n) json_object_set_new(n, "read", json_boolean(!json_is_null(json_object_get(n, "read_at"))));
    static const char *const stamps[] = {"created_at", NULL};
    uk_labels(rows, stamps);
    json_t *out = json_pack("{s:o, s:I, s:b}", "notifications", rows, "unread", (json_int_t)unread, "unread_only",
                            unread_only);
    if (in_bool(r, "done"))
        json_object_set_new(out, "notice", json_string("Marked as read."));
    http_paginate(r, out, total);
    http_set_out(r, out);
    return 200;
}

/* POST /api/v1/notifications/{id}/read, POST /notifications/{id}/read */
static int read_h(req_t *r)
{
    char now[21];
    util_now_iso(now);
    int64_t id = db_int(r->db, "UPDATE notifications SET read_at = coalesce(read_at, ?) WHERE id = ? AND user_id = ?"
                               " RETURNING id", 0, "tii", now, r->params[0], r->user.id);
    if (id <= 0)
        return http_fail(r, 404, "not_found", "There is no such notification.");
    http_set_out(r, json_pack("{s:I, s:b, s:I}", "id", (json_int_t)id, "read", 1, "unread",
                              (json_int_t)notify_unread_count(r->db, r->user.id)));
    http_redirect(r, "/notifications?done=1");
    return 200;
}

/* POST /api/v1/notifications/read-all, POST /notifications/read-all */
static int read_all_h(req_t *r)
{
    char now[21];
    util_now_iso(now);
    if (db_run(r->db, "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL", "ti", now,
               r->user.id) != EV_OK)
        return http_fail(r, 500, "internal", "Could not mark your notifications as read.");
    http_set_out(r, json_pack("{s:i}", "unread", 0));
    http_redirect(r, "/notifications?done=1");
    return 200;
}

/* ------------------------------------------------------------------ */
/* Preferences                                                          */
/* ------------------------------------------------------------------ */

static json_t *prefs_json(db_t *db, int64_t user_id, json_t *override)
{
    json_t *list = json_array();
    for (const struct kind *k = kinds; k->name; k++) {
        if (!k->hint)
            continue;
        const char *chosen = json_string_value(json_object_get(override, k->name));
        char *d = chosen ? xstrdup(chosen) : delivery_for(db, user_id, k);
        json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind", k->name, "label", k->label, "hint", k->hint,
                                 "delivery", d, "security", k->security);
        for (int i = 0; DELIVERIES[i]; i++) {
            char key[32];
            snprintf(key, sizeof key, "is_%s", DELIVERIES[i]);
            json_object_set_new(item, key, json_boolean(!strcmp(d, DELIVERIES[i])));
        }
        json_array_append_new(list, item);
        free(d);
    }
    return list;
}

/* GET /api/v1/me/notification-preferences, GET /account/notifications */
static int prefs_h(req_t *r)
{
    json_t *out = json_pack("{s:o}", "preferences", prefs_json(r->db, r->user.id, NULL));
    if (in_bool(r, "done"))
        json_object_set_new(out, "notice", json_string("Your choices have been saved."));
    http_set_out(r, out);
    return 200;
}

/* PUT /api/v1/me/notification-preferences, POST /account/notifications:
 * {KIND: "now"|"digest"|"off", ...} for the kinds on the page; security kinds
 * accept only "now". Every value is checked before any is saved. */
static int prefs_save_h(req_t *r)
{
    json_t *in = r->in;
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v) {
        if (!strcmp(key, "csrf_token"))
            continue;
        const struct kind *k = kind_find(key);
        const char *d = json_string_value(v);
        char *msg = NULL;
        if (!k || !k->hint)
            msg = fmtalloc("%s is not a kind of notification", key);
        else if (!valid_delivery(d))
            msg = fmtalloc("Choose at once, daily digest or off for %s", k->label);
        else if (k->security && strcmp(d, "now") != 0)
            msg = fmtalloc("%s are always emailed at once, for your account's safety", k->label);
        if (msg) {
            http_field_error(r, key, msg);
            free(msg);
        }
    }
    if (http_field_error_count(r)) {
        json_object_set_new(http_out(r), "preferences", prefs_json(r->db, r->user.id, NULL));
        return http_fail(r, 400, "invalid_input", "Check your choices.");
    }
    int rc = db_begin(r->db);
    json_object_foreach(in, key, v) {
        const struct kind *k = kind_find(key);
        if (rc != EV_OK || !k || k->security)
            continue;
        rc = db_run(r->db, "INSERT INTO notification_prefs (user_id, kind, delivery) VALUES (?, ?, ?)"
                           " ON CONFLICT (user_id, kind) DO UPDATE SET delivery = excluded.delivery",
                    "itt", r->user.id, k->name, json_string_value(v));
    }
    if (rc == EV_OK)
        rc = db_commit(r->db);
    else
        db_rollback(r->db);
    if (rc != EV_OK)
        return http_fail(r, 500, "internal", "Could not save your choices.");
    http_set_out(r, json_pack("{s:o}", "preferences", prefs_json(r->db, r->user.id, NULL)));
    http_redirect(r, "/account/notifications?done=1");
    return 200;
}

/* ------------------------------------------------------------------ */
/* Admin: the outbox                                                    */
/* ------------------------------------------------------------------ */

static const char *const STATUSES[] = {"pending", "sending", "sent", "failed", "digest", "digested", NULL};

/* GET /api/v1/outbox, GET /admin/outbox: ?status= ?page= */
static int outbox_h(req_t *r)
{
    const char *status = in_str(r, "status");
    int known = 0;
    for (int i = 0; status && STATUSES[i]; i++)
        known |= !strcmp(status, STATUSES[i]);
    if (status && *status && !known) {
        http_field_error(r, "status", "Choose a status from the list");
        return http_fail(r, 400, "invalid_input", "Unknown status %.40s.", status);
    }
    if (!known)
        status = "";
    int64_t limit, offset;
    http_page(r, 50, &limit, &offset);
    int64_t total = db_int(r->db, "SELECT count(*) FROM outbox WHERE (? = '' OR status = ?)", 0, "tt", status,
                           status);
    json_t *rows = db_all(r->db,
                          "SELECT id, kind, to_addr, to_name, subject, body, link, status, attempts,"
                          " next_attempt_at, last_error, created_at, sent_at, digest_id FROM outbox"
                          " WHERE (? = '' OR status = ?) ORDER BY id DESC LIMIT ? OFFSET ?",
                          "ttii", status, status, limit, offset);
    json_t *counts = json_object(), *filters = json_array();
    for (int i = 0; STATUSES[i]; i++) {
        int64_t c = db_int(r->db, "SELECT count(*) FROM outbox WHERE status = ?", 0, "t", STATUSES[i]);
        json_object_set_new(counts, STATUSES[i], json_integer(c));
        json_array_append_new(filters, json_pack("{s:s, s:I, s:b}", "value", STATUSES[i], "count", (json_int_t)c,
                                                 "selected", !strcmp(status, STATUSES[i])));
    }
    static const char *const stamps[] = {"created_at", "sent_at", "next_attempt_at", NULL};
    uk_labels(rows, stamps);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *st = json_string_value(json_object_get(row, "status"));
        json_object_set_new(row, "is_failed", json_boolean(st && !strcmp(st, "failed")));
        char *abs = fmtalloc("%s%s", base_url, json_string_value(json_object_get(row, "link")));
        json_object_set_new(row, "url", json_string(abs));
        free(abs);
    }
    json_t *out = json_pack("{s:o, s:o, s:o, s:s, s:b, s:s}", "messages", rows ? rows : json_array(), "counts", counts,
                            "statuses", filters, "status", status, "smtp", smtp_on,
                            "base_url", base_url);
    if (in_bool(r, "done"))
        json_object_set_new(out, "notice", json_string("The message will be tried again."));
    http_paginate(r, out, total);
    http_set_out(r, out);
    return 200;
}

/* POST /api/v1/outbox/{id}/retry, POST /admin/outbox/{id}/retry: a failed
 * message goes back to the queue with its attempts reset. */
static int outbox_retry_h(req_t *r)
{
    char now[21];
    util_now_iso(now);
    int64_t id = db_int(r->db, "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                               " last_error = NULL WHERE id = ? AND status = 'failed' RETURNING id",
                        0, "ti", now, r->params[0]);
    if (id <= 0) {
        if (db_int(r->db, "SELECT 1 FROM outbox WHERE id = ?", 0, "i", r->params[0]) != 1)
            return http_fail(r, 404, "not_found", "There is no such message.");
        return http_fail(r, 409, "not_failed", "Only a message that failed can be tried again.");
    }
    http_set_out(r, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "pending"));
    http_redirect(r, "/admin/outbox?done=1");
    return 200;
}

const route_t notify_routes[] = {
    {"GET", "/api/v1/notifications", list_h, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/notifications", list_h, ROLE_SIGNED_IN, "notifications", 0},
    {"POST", "/api/v1/notifications/read-all", read_all_h, ROLE_SIGNED_IN, NULL, 0},
    {"POST", "/notifications/read-all", read_all_h, ROLE_SIGNED_IN, "notifications", 0},
    {"POST", "/api/v1/notifications/{id}/read", read_h, ROLE_SIGNED_IN, NULL, 0},
    {"POST", "/notifications/{id}/read", read_h, ROLE_SIGNED_IN, "notifications", 0},
    {"GET", "/api/v1/me/notification-preferences", prefs_h, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/account/notifications", prefs_h, ROLE_SIGNED_IN, "notification_prefs", 0},
    {"PUT", "/api/v1/me/notification-preferences", prefs_save_h, ROLE_SIGNED_IN, NULL, 0},
    {"POST", "/account/notifications", prefs_save_h, ROLE_SIGNED_IN, "notification_prefs", 0},
    {"GET", "/api/v1/outbox", outbox_h, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/outbox", outbox_h, ROLE_ADMIN, "admin_outbox", 0},
    {"POST", "/api/v1/outbox/{id}/retry", outbox_retry_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/outbox/{id}/retry", outbox_retry_h, ROLE_ADMIN, "admin_outbox", 0},
    {0},
};
