/* users.c: accounts and enrolments: sign-in pages and API, admin management, CLI, demo accounts */
#include "accounts.h"
#include "notify.h"
#include "users.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auth.h"
#include "cli.h"
#include "demo.h"
#include "policy.h"
#include "router.h"
#include "session.h"
#include "status.h"

#define PER_PAGE 25

/* ------------------------------------------------------------------ */
/* Shapes shared by the handlers                                        */
/* ------------------------------------------------------------------ */

static const struct {
    const char *value;
    const char *label;
    const char *home;
} roles[] = {
    {"learner", "Learner", "/portfolio"},
    {"assessor", "Assessor", "/caseload"},
    {"iqa", "Internal quality assurer (IQA)", "/iqa"},
    {"admin", "Centre administrator", "/centre"},
    {"eqa", "External quality assurer (EQA)", "/eqa"},
    {"employer", "Employer contact", "/employer"},
};
#define NROLES (sizeof roles / sizeof roles[0])

static const struct {
    const char *value;
    const char *label;
} statuses[] = {
    {"active", "Active"},
    {"on_break", "On a break"},
    {"completed", "Completed"},
    {"withdrawn", "Withdrawn"},
};
#define NSTATUSES (sizeof statuses / sizeof statuses[0])

const char *users_role_home(unsigned role)
{
    const char *name = role_name(role);
    for (size_t i = 0; name && i < NROLES; i++)
        if (strcmp(roles[i].value, name) == 0)
            return roles[i].home;
    return "/";
}

static const char *role_label(const char *value)
{
    for (size_t i = 0; value && i < NROLES; i++)
        if (strcmp(roles[i].value, value) == 0)
            return roles[i].label;
    return value ? value : "";
}

static const char *status_label(const char *value)
{
    for (size_t i = 0; value && i < NSTATUSES; i++)
        if (strcmp(statuses[i].value, value) == 0)
            return statuses[i].label;
    return value ? value : "";
}

static int valid_status(const char *value)
{
    for (size_t i = 0; value && i < NSTATUSES; i++)
        if (strcmp(statuses[i].value, value) == 0)
            return 1;
    return 0;
}

/* [{value, label, selected}] for a <select>. */
static json_t *role_options(const char *selected)
{
    json_t *a = json_array();
    for (size_t i = 0; i < NROLES; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "value", roles[i].value, "label",
                                           roles[i].label, "selected",
                                           selected && strcmp(selected, roles[i].value) == 0));
    return a;
}

static json_t *status_options(const char *selected)
{
    json_t *a = json_array();
    for (size_t i = 0; i < NSTATUSES; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "value", statuses[i].value, "label",
                                           statuses[i].label, "selected",
                                           selected && strcmp(selected, statuses[i].value) == 0));
    return a;
}

/* Adds role_label, disabled as a boolean and the role flags to a user row. */
static json_t *shape_user(json_t *u)
{
    if (!u)
        return NULL;
    const char *role = json_string_value(json_object_get(u, "role"));
    json_object_set_new(u, "role_label", json_string(role_label(role)));
    json_t *d = json_object_get(u, "disabled");
    if (d && json_is_integer(d))
        json_object_set_new(u, "disabled", json_boolean(json_integer_value(d) != 0));
    return u;
}

static json_t *load_user(db_t *db, int64_t id)
{
    return shape_user(db_one(db, "SELECT id, email, name, role, disabled, created_at, updated_at"
                                 " FROM users WHERE id = ?", "i", id));
}

#define ENROL_SELECT \
    "SELECT e.id AS id, e.learner_id AS learner_id, l.name AS learner_name, l.email AS learner_email," \
    " e.qualification_id AS qualification_id, q.code AS qualification_code," \
    " q.title AS qualification_title, e.assessor_id AS assessor_id, a.name AS assessor_name," \
    " a.email AS assessor_email, e.iqa_id AS iqa_id, i.name AS iqa_name, i.email AS iqa_email," \
    " e.start_date AS start_date, e.planned_end_date AS planned_end_date, e.status AS status," \
    " e.ended_at AS ended_at, e.end_date AS end_date, e.end_reason AS end_reason, e.created_at AS created_at" \
    " FROM enrolments e JOIN users l ON l.id = e.learner_id" \
    " JOIN qualifications q ON q.id = e.qualification_id" \
    " JOIN users a ON a.id = e.assessor_id LEFT JOIN users i ON i.id = e.iqa_id"

/* Moves the flat prefix_id/prefix_name/... columns of an enrolment row into a
 * nested object {id, ...} (null when the id is null). */
static void nest(json_t *row, const char *prefix, const char *const *fields)
{
    char key[64];
    snprintf(key, sizeof key, "%s_id", prefix);
    json_t *id = json_object_get(row, key);
    if (!id || json_is_null(id)) {
        json_object_set_new(row, prefix, json_null());
    } else {
        json_t *o = json_pack("{s:O}", "id", id);
        for (size_t i = 0; fields[i]; i++) {
            snprintf(key, sizeof key, "%s_%s", prefix, fields[i]);
            json_t *v = json_object_get(row, key);
            json_object_set(o, fields[i], v ? v : json_null());
        }
        json_object_set_new(row, prefix, o);
    }
    for (size_t i = 0; fields[i]; i++) {
        snprintf(key, sizeof key, "%s_%s", prefix, fields[i]);
        json_object_del(row, key);
    }
}

static json_t *shape_enrolment(json_t *e)
{
    static const char *const person[] = {"name", "email", NULL};
    static const char *const qual[] = {"code", "title", NULL};
    if (!e)
        return NULL;
    nest(e, "learner", person);
    nest(e, "qualification", qual);
    nest(e, "assessor", person);
    nest(e, "iqa", person);
    const char *st = json_string_value(json_object_get(e, "status"));
    json_object_set_new(e, "status_label", json_string(status_label(st)));
    json_object_set_new(e, "ended", json_boolean(st && strcmp(st, "active") != 0));
    return e;
}

static json_t *shape_enrolments(json_t *a)
{
    size_t i;
    json_t *e;
    if (!a)
        return json_array();
    json_array_foreach(a, i, e) shape_enrolment(e);
    return a;
}

static json_t *learner_enrolments(db_t *db, int64_t learner_id)
{
    return shape_enrolments(db_all(db, ENROL_SELECT " WHERE e.learner_id = ? ORDER BY e.id", "i", learner_id));
}

static json_t *load_enrolment(db_t *db, int64_t id)
{
    return shape_enrolment(db_one(db, ENROL_SELECT " WHERE e.id = ?", "i", id));
}

/* Today (the centre's local date, pages.h's zone) moved by `months`
 * (negative: back) as YYYY-MM-DD. The day stays the same; only when the
 * target month is shorter is it the month's last day (31 Jan + 1 month =
 * 28 Feb or 29 Feb; 29 Feb + 12 months = 28 Feb), so on the 29th-31st today
 * is still today. */
static void date_months(char out[11], int months)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    int m = (tm.tm_year + 1900) * 12 + tm.tm_mon + months;
    int year = m / 12, mon = m % 12;
    int last = days[mon] + (mon == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0));
    int day = tm.tm_mday > last ? last : tm.tm_mday;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", year, mon + 1, day);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

/* Today as YYYY-MM-DD, and the same day `years` on. */
static void date_today(char out[11], int years)
{
    date_months(out, 12 * years);
}

/* A local path that is safe to redirect to after sign-in, else NULL. */
static const char *safe_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return NULL;
    for (const char *p = next; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\')
            return NULL;
    if (strlen(next) > 512)
        return NULL;
    return next;
}

/* Copies the trimmed s into out; returns out. */
static char *trim_copy(const char *s, char *out, size_t outlen)
{
    if (!s)
        s = "";
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static int valid_email(const char *e)
{
    size_t n = strlen(e);
    const char *at = strchr(e, '@');
    if (n < 3 || n > 254 || !at || at == e || strchr(at + 1, '@') || !at[1] || !strchr(at + 1, '.'))
        return 0;
    for (const char *p = e; *p; p++)
        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 || *p == '<' || *p == '>')
            return 0;
    return e[n - 1] != '.';
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Opens a write transaction unless the caller already holds one; *own says
 * whether this code must commit it. */
static int begin_if_needed(db_t *db, int *own)
{
    *own = !db_in_transaction(db);
    return *own ? db_begin(db) : EV_OK;
}

/* http_fail for forms (http_field_error has indexed the field errors by field
 * name, "field_errors": {"email": "..."}, so a template can mark each field). */
static int form_fail(req_t *r, int status, const char *code, const char *fmt, ...) EV_PRINTF(4, 5);
static int form_fail(req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_fail(r, status, code, "%s", msg);
}

/* The client address for throttling. Behind a TLS-terminating proxy every
 * request comes from the proxy, so when EVITRACK_TRUSTED_PROXY names the peer
 * address the last X-Forwarded-For entry (the one that proxy added) is used. */
void users_client_addr(req_t *r, char *out, size_t outlen)
{
    http_client_addr(r, out, outlen);
    const char *proxy = getenv("EVITRACK_TRUSTED_PROXY");
    const char *xff = proxy && *proxy && strcmp(proxy, out) == 0 ? http_header(r, "X-Forwarded-For") : NULL;
    if (!xff)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    size_t n = strspn(last, "0123456789abcdefABCDEF:.");
    if (n == 0 || n >= outlen || n > 45 || (last[n] && last[n] != ' '))
        return;
    memcpy(out, last, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Accounts and enrolments: the operations behind handlers, CLI and demo */
/* ------------------------------------------------------------------ */

/* Field checks shared by the operations (first problem) and the forms (every
 * problem at once). Each returns NULL or the message for the user. */
static const char *email_problem(const char *email)
{
    if (!*email)
        return "Enter an email address";
    return valid_email(email) ? NULL : "Enter an email address in the correct format, like name@example.com";
}

static const char *name_problem(const char *name)
{
    if (!*name)
        return "Enter a name";
    return strlen(name) > 200 ? "Name must be 200 characters or fewer" : NULL;
}

static const char *role_problem(const char *role)
{
    return role && role_from_name(role) ? NULL : "Select a role";
}

static int create_with_hash(db_t *db, int64_t actor_id, const char *email_in, const char *name_in,
                            const char *role, const char *hash, int64_t *id,
                            const char **field, char *err, size_t errlen)
{
    char email[256], name[256];
    trim_copy(email_in, email, sizeof email);
    trim_copy(name_in, name, sizeof name);
    lower_ascii(email);
    *id = 0;
    const char *problem;
    if ((problem = email_problem(email)) || (problem = name_problem(name)) || (problem = role_problem(role))) {
        *field = email_problem(email) ? "email" : name_problem(name) ? "name" : "role";
        snprintf(err, errlen, "%s", problem);
        return 400;
    }
    if (db_int(db, "SELECT 1 FROM users WHERE lower(email) = lower(?)", 0, "t", email) == 1) {
        *field = "email";
        snprintf(err, errlen, "An account with this email address already exists");
        return 409;
    }
    *id = db_int(db, "INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, ?, ?) RETURNING id", 0,
                 "tttt", email, name, role, hash);
    if (*id <= 0) {
        *field = NULL;
        snprintf(err, errlen, "Could not save the account");
        return 500;
    }
    json_t *after = json_pack("{s:s, s:s, s:s}", "email", email, "name", name, "role", role);
    int rc = audit_record(db, actor_id, "user.create", "user", *id,
                          strcmp(role, "learner") == 0 ? *id : 0, NULL, after);
    json_decref(after);
    if (rc != EV_OK) {
        *field = NULL;
        snprintf(err, errlen, "Could not record the change");
        return 500;
    }
    return 0;
}

int users_create(db_t *db, int64_t actor_id, const char *email, const char *name,
                 const char *role, const char *password, int64_t *id,
                 const char **field, char *err, size_t errlen)
{
    *field = NULL;
    const char *problem = auth_password_problem(password);
    if (problem) {
        *field = "password";
        snprintf(err, errlen, "%s", problem);
        return 400;
    }
    char hash[AUTH_HASH_MAX];
    if (auth_hash_password(password, hash) != EV_OK) {
        snprintf(err, errlen, "Could not hash the password");
        return 500;
    }
    return create_with_hash(db, actor_id, email, name, role, hash, id, field, err, errlen);
}

int users_create_invited(db_t *db, int64_t actor_id, const char *email, const char *name, const char *role,
                         int64_t *id, const char **field, char *err, size_t errlen)
{
    *field = NULL;
    /* "!" is no Argon2id hash: no password verifies against it. */
    return create_with_hash(db, actor_id, email, name, role, "!", id, field, err, errlen);
}

const char *users_role_label(const char *role)
{
    return role_label(role);
}

/* Messages shared by the enrolment checks. */
#define MSG_LEARNER "Choose a learner account that exists and is not disabled"
#define MSG_QUALIFICATION "Choose a qualification"
#define MSG_ASSESSOR "Choose an assessor"
#define MSG_IQA "Choose an internal quality assurer, or none"

/* 1 when id is an enabled account with the role. */
static int has_role(db_t *db, int64_t id, const char *role)
{
    return db_int(db, "SELECT 1 FROM users WHERE id = ? AND role = ? AND disabled = 0", 0, "it", id, role) == 1;
}

static const char *start_problem(const char *start)
{
    return util_valid_date(start) ? NULL : "Enter the start date as YYYY-MM-DD";
}

static const char *end_problem(const char *start, const char *end)
{
    if (!util_valid_date(end))
        return "Enter the planned end date as YYYY-MM-DD";
    if (util_valid_date(start) && strcmp(end, start) <= 0)
        return "The planned end date must be after the start date";
    return NULL;
}

static int check_dates(const char *start, const char *end, const char **field, char *err, size_t errlen)
{
    if (!util_valid_date(start)) {
        *field = "start_date";
        snprintf(err, errlen, "Enter the start date as YYYY-MM-DD");
        return 400;
    }
    if (!util_valid_date(end)) {
        *field = "planned_end_date";
        snprintf(err, errlen, "Enter the planned end date as YYYY-MM-DD");
        return 400;
    }
    if (strcmp(end, start) <= 0) {
        *field = "planned_end_date";
        snprintf(err, errlen, "The planned end date must be after the start date");
        return 400;
    }
    return 0;
}

int users_enrol(db_t *db, int64_t actor_id, int64_t learner_id, int64_t qualification_id,
                int64_t assessor_id, int64_t iqa_id, const char *start, const char *end,
                int64_t *id, const char **field, char *err, size_t errlen)
{
    char today[11], later[11];
    date_today(today, 0);
    date_today(later, 1);
    if (!start || !*start)
        start = today;
    if (!end || !*end)
        end = later;
    *field = NULL;
    *id = 0;
    if (!has_role(db, learner_id, "learner")) {
        *field = "learner";
        snprintf(err, errlen, "%s", MSG_LEARNER);
        return 400;
    }
    if (db_int(db, "SELECT 1 FROM qualifications WHERE id = ?", 0, "i", qualification_id) != 1) {
        *field = "qualification_id";
        snprintf(err, errlen, "%s", MSG_QUALIFICATION);
        return 400;
    }
    if (!has_role(db, assessor_id, "assessor")) {
        *field = "assessor";
        snprintf(err, errlen, "%s", MSG_ASSESSOR);
        return 400;
    }
    if (iqa_id && !has_role(db, iqa_id, "iqa")) {
        *field = "iqa";
        snprintf(err, errlen, "%s", MSG_IQA);
        return 400;
    }
    int rc = check_dates(start, end, field, err, errlen);
    if (rc)
        return rc;
    if (db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND qualification_id = ?", 0, "ii",
               learner_id, qualification_id) == 1) {
        *field = "qualification_id";
        snprintf(err, errlen, "This learner is already enrolled on this qualification");
        return 409;
    }
    /* No IQA is NULL, not 0 (the column references users). */
    *id = db_int(db, "INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id,"
                     " start_date, planned_end_date) VALUES (?, ?, ?, ?, ?, ?) RETURNING id", 0, "iiiztt",
                 learner_id, qualification_id, assessor_id, iqa_id, start, end);
    if (*id <= 0) {
        snprintf(err, errlen, "Could not save the enrolment");
        return 500;
    }
    json_t *after = json_pack("{s:I, s:I, s:I, s:o, s:s, s:s, s:s}", "learner_id", (json_int_t)learner_id,
                              "qualification_id", (json_int_t)qualification_id,
                              "assessor_id", (json_int_t)assessor_id,
                              "iqa_id", iqa_id ? json_integer(iqa_id) : json_null(),
                              "start_date", start, "planned_end_date", end, "status", "active");
    int arc = audit_record(db, actor_id, "enrolment.create", "enrolment", *id, learner_id, NULL, after);
    json_decref(after);
    if (arc != EV_OK || status_sync_learner(db, learner_id) != EV_OK || notify_enrolled(db, *id) != EV_OK) {
        snprintf(err, errlen, "Could not record the enrolment");
        return 500;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sign-in, sign-out, home                                              */
/* ------------------------------------------------------------------ */

static json_t *me_json(const user_t *u)
{
    const char *role = role_name(u->role);
    return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)u->id, "email", u->email,
                     "name", u->name, "role", role ? role : "", "role_label", role_label(role));
}

/* GET / : the landing page, or the signed-in user's home. */
static int home_h(req_t *r)
{
    if (r->user.id) {
        http_redirect(r, "%s", users_role_home(r->user.role));
        return 303;
    }
    json_object_set_new(http_out(r), "landing", json_true());
    return 200;
}

/* GET /login */
static int login_page_h(req_t *r)
{
    const char *next = safe_next(in_str(r, "next"));
    json_t *out = http_out(r);
    /* Signed in already: still the form (to switch account; signing in again
     * replaces the session), with a note of who is signed in. */
    if (r->user.id)
        json_object_set_new(out, "signed_in_as", json_string(r->user.name));
    if (next)
        json_object_set_new(out, "next", json_string(next));
    if (in_bool(r, "signed_out"))
        json_object_set_new(out, "notice", json_string("You have signed out."));
    if (in_bool(r, "expired"))
        json_object_set_new(out, "notice", json_string("Your session has ended. Sign in again to continue."));
    if (in_bool(r, "password_set"))
        json_object_set_new(out, "notice", json_string("Your password has been set. Sign in with it now."));
    return 200;
}

/* 1 when the request's Origin header, if any, names this server (the Host
 * header). Sign-in carries no CSRF token (there is no session yet), so this
 * stops another site from signing a browser into an account of its choosing. */
static int same_origin(req_t *r)
{
    const char *origin = http_header(r, "Origin");
    const char *host = http_header(r, "Host");
    if (!origin)
        return 1;
    const char *sep = strstr(origin, "://");
    return host && sep && strcmp(sep + 3, host) == 0;
}

/* POST /login, POST /api/v1/session: {email, password[, token: true][, next]} */
static int session_create_h(req_t *r)
{
    const char *email = in_str(r, "email"), *password = in_str(r, "password");
    const char *next = safe_next(in_str(r, "next"));
    json_t *out = http_out(r);
    char addr[80] = "";
    char em[256];
    if (!same_origin(r))
        return form_fail(r, 403, "cross_origin", "Sign in from evitrack's own sign-in page.");
    trim_copy(email, em, sizeof em);
    json_object_set_new(out, "email", json_string(em));
    if (next)
        json_object_set_new(out, "next", json_string(next));
    if (!*em)
        http_field_error(r, "email", "Enter your email address");
    if (!password || !*password)
        http_field_error(r, "password", "Enter your password");
    if (http_field_error_count(r))
        return form_fail(r, 400, "invalid_input", "Enter your email address and password.");

    users_client_addr(r, addr, sizeof addr);
    user_t u;
    int64_t wait = 0;
    switch (auth_login(r->db, em, password, addr, &u, &wait)) {
    case AUTH_OK:
        break;
    case AUTH_THROTTLED:
        free(r->extra_header_name);
        free(r->extra_header_value);
        r->extra_header_name = xstrdup("Retry-After");
        r->extra_header_value = fmtalloc("%lld", (long long)wait);
        json_object_set_new(out, "retry_after", json_integer(wait));
        return form_fail(r, 429, "too_many_attempts",
                         "Too many failed sign-in attempts. Try again in %lld minute%s.",
                         (long long)((wait + 59) / 60), (wait + 59) / 60 == 1 ? "" : "s");
    case AUTH_BAD:
        /* 401 for the API; a page re-renders its form (a 401 page would be
         * answered with a bare redirect to /login, losing the message). */
        http_field_error(r, "email", "The email address or password is incorrect");
        return form_fail(r, r->is_api ? 401 : 400, "invalid_credentials",
                         "The email address or password is incorrect.");
    default:
        return form_fail(r, 500, "internal", "Signing in failed. Try again.");
    }

    char token[65];
    int want_token = r->is_api && in_bool(r, "token");
    if (session_start(r, &u, want_token ? token : NULL) != EV_OK)
        return form_fail(r, 500, "internal", "Signing in failed. Try again.");
    json_t *res = json_pack("{s:o, s:s, s:s}", "user", me_json(&r->user), "csrf_token",
                            r->user.csrf_token, "home", users_role_home(r->user.role));
    if (want_token) {
        json_object_set_new(res, "token", json_string(token));
        json_object_set_new(res, "expires_in", json_integer(SESSION_MAX));
    }
    http_set_out(r, res);
    http_redirect(r, "%s", next ? next : users_role_home(r->user.role));
    return 200;
}

/* DELETE /api/v1/session, POST /logout */
static int session_delete_h(req_t *r)
{
    if (session_end(r) != EV_OK)
        return form_fail(r, 500, "internal", "Signing out failed. Try again.");
    json_object_set_new(http_out(r), "signed_out", json_true());
    http_redirect(r, "/login?signed_out=1");
    return 200;
}

/* GET /api/v1/me: the user, with their enrolments (a learner's own; a
 * staff member's as assessor or IQA). */
static int me_h(req_t *r)
{
    json_t *out = me_json(&r->user);
    json_t *en;
    if (r->user.role == ROLE_LEARNER)
        en = learner_enrolments(r->db, r->user.id);
    else if (r->user.role == ROLE_ASSESSOR || r->user.role == ROLE_IQA)
        en = shape_enrolments(db_all(r->db, ENROL_SELECT " WHERE e.assessor_id = ? OR e.iqa_id = ?"
                                            " ORDER BY l.name, e.id LIMIT 500", "ii", r->user.id, r->user.id));
    else
        en = json_array();
    json_object_set_new(out, "enrolments", en);
    json_object_set_new(out, "home", json_string(users_role_home(r->user.role)));
    json_object_set_new(out, "csrf_token", json_string(r->user.csrf_token));
    json_object_set_new(out, "user", me_json(&r->user));
    http_set_out(r, out);
    return 200;
}

/* ------------------------------------------------------------------ */
/* Learners                                                             */
/* ------------------------------------------------------------------ */

/* GET /api/v1/learners/{id}, GET /learners/{id} */
/* learner_enrolments, less the qualifications the reader may not see (an EQA sees only
 * its visit's: policy_qscope). Caller owns the array. */
static json_t *visible_enrolments(req_t *r, int64_t learner_id)
{
    json_t *arr = learner_enrolments(r->db, learner_id);
    qscope_t qs;
    if (policy_qscope(r->db, &r->user, learner_id, &qs) != EV_OK)
        json_array_clear(arr);
    else
        qscope_filter(&qs, arr, "qualification_id");
    qscope_free(&qs);
    return arr;
}

static int learner_h(req_t *r)
{
    int64_t id = r->params[0];
    if (!policy_can_read_learner(r->db, &r->user, id))
        return form_fail(r, 404, "not_found", "No such learner.");
    json_t *u = load_user(r->db, id);
    if (!u)
        return form_fail(r, 404, "not_found", "No such learner.");
    json_object_set_new(u, "enrolments", visible_enrolments(r, id));
    json_object_set_new(u, "is_self", json_boolean(id == r->user.id));
    json_object_set_new(u, "can_manage", json_boolean(policy_is_admin(&r->user)));
    /* an apprentice's apprenticeships: the off-the-job page, and the admin's plan (apprenticeships.c) */
    json_t *apps = db_all(r->db, "SELECT a.id AS apprenticeship_id, q.title, e.qualification_id FROM apprenticeships a"
                                 " JOIN enrolments e ON e.id = a.enrolment_id"
                                 " JOIN qualifications q ON q.id = e.qualification_id WHERE a.learner_id = ? ORDER BY a.id",
                          "i", id);
    qscope_t aqs = {0}; /* an EQA: only the apprenticeships on its visit's qualifications (issue 18) */
    if (apps && policy_qscope(r->db, &r->user, id, &aqs) == EV_OK)
        qscope_filter(&aqs, apps, "qualification_id");
    else if (apps)
        json_array_clear(apps);
    qscope_free(&aqs);
    json_object_set_new(u, "apprenticeships", apps ? apps : json_array());
    http_set_out(r, u);
    return 200;
}

/* GET /api/v1/learners, GET /learners: the learners the user may read. */
static int learners_h(req_t *r)
{
    int64_t limit, offset, total;
    json_t *rows = NULL;
    const char *q = in_str(r, "q");
    http_page(r, PER_PAGE, &limit, &offset);
    if (policy_list_learners(r->db, &r->user, q, limit, offset, &rows, &total) != EV_OK)
        return form_fail(r, 500, "internal", "Could not list learners.");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        shape_user(row);
        json_object_set_new(row, "enrolments",
                            visible_enrolments(r, json_integer_value(json_object_get(row, "id"))));
    }
    json_t *out = json_pack("{s:o, s:s}", "learners", rows, "q", q ? q : "");
    http_paginate(r, out, total);
    http_set_out(r, out);
    return 200;
}

/* ------------------------------------------------------------------ */
/* Own password                                                         */
/* ------------------------------------------------------------------ */

/* GET /account/password */
static int password_page_h(req_t *r)
{
    if (in_bool(r, "done"))
        json_object_set_new(http_out(r), "notice", json_string("Your password has been changed."));
    return 200;
}

/* POST /account/password, POST /api/v1/me/password:
 * {current_password, new_password[, confirm_password]} */
static int password_change_h(req_t *r)
{
    const char *cur = in_str(r, "current_password"), *pw = in_str(r, "new_password");
    const char *confirm = in_str(r, "confirm_password");
    char addr[80] = "";
    users_client_addr(r, addr, sizeof addr);
    if (!cur || !*cur)
        http_field_error(r, "current_password", "Enter your current password");
    const char *problem = auth_password_problem(pw);
    if (problem)
        http_field_error(r, "new_password", problem);
    else if (confirm && strcmp(confirm, pw) != 0)
        http_field_error(r, "confirm_password", "The passwords do not match");
    if (http_field_error_count(r))
        return form_fail(r, 400, "invalid_input", "Check the passwords you entered.");

    int64_t wait = auth_throttle_wait(r->db, r->user.email, addr, util_now_s());
    if (wait > 0) {
        free(r->extra_header_name);
        free(r->extra_header_value);
        r->extra_header_name = xstrdup("Retry-After");
        r->extra_header_value = fmtalloc("%lld", (long long)wait);
        return form_fail(r, 429, "too_many_attempts", "Too many failed attempts. Try again later.");
    }
    char *hash = db_text(r->db, "SELECT password_hash FROM users WHERE id = ?", "i", r->user.id);
    int ok = auth_verify_password(hash, cur);
    free(hash);
    if (!ok) {
        auth_record_failure(r->db, r->user.email, addr, r->user.id);
        http_field_error(r, "current_password", "Your current password is incorrect");
        return form_fail(r, 400, "invalid_input", "Your current password is incorrect.");
    }
    char fresh[AUTH_HASH_MAX];
    if (auth_hash_password(pw, fresh) != EV_OK)
        return form_fail(r, 500, "internal", "Could not change the password.");
    char now[21];
    util_now_iso(now);
    int rc = db_begin(r->db);
    if (rc == EV_OK)
        rc = db_run(r->db, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", "tti", fresh, now,
                    r->user.id);
    /* Every other session of the account ends; this one stays. */
    if (rc == EV_OK)
        rc = session_end_user(r->db, r->user.id, r->user.session_hash);
    if (rc == EV_OK)
        rc = audit_record(r->db, r->user.id, "user.password_change", "user", r->user.id,
                          r->user.role == ROLE_LEARNER ? r->user.id : 0, NULL, NULL);
    if (rc == EV_OK)
        rc = accounts_password_changed(r->db, r->user.id, 0);
    if (rc == EV_OK)
        rc = db_commit(r->db);
    else
        db_rollback(r->db);
    sodium_memzero(fresh, sizeof fresh);
    if (rc != EV_OK)
        return form_fail(r, 500, "internal", "Could not change the password.");
    json_object_set_new(http_out(r), "changed", json_true());
    http_redirect(r, "/account/password?done=1");
    return 200;
}

/* ------------------------------------------------------------------ */
/* Admin: users                                                         */
/* ------------------------------------------------------------------ */

/* GET /api/v1/users, GET /admin/users: ?q= ?role= ?page= */
static int users_list_h(req_t *r)
{
    int64_t limit, offset;
    const char *q = in_str(r, "q"), *role = in_str(r, "role");
    if (!role || !role_from_name(role))
        role = "";
    char *pat = fmtalloc("%%%s%%", q ? q : "");
    http_page(r, PER_PAGE, &limit, &offset);
    int64_t total;
    json_t *rows;
    /* Without search text the page is read in index order (users_role, users_name:
     * schema/018) and counted from the index alone; a search reads every row (issue 22). */
    if (q && *q) {
        total = db_int(r->db, "SELECT count(*) FROM users WHERE (? = '' OR role = ?)"
                              " AND (lower(name) LIKE lower(?) OR lower(email) LIKE lower(?))", 0, "tttt", role, role, pat, pat);
        rows = db_all(r->db, "SELECT id, email, name, role, disabled, created_at FROM users"
                             " WHERE (? = '' OR role = ?) AND (lower(name) LIKE lower(?) OR lower(email) LIKE lower(?))"
                             " ORDER BY name, id LIMIT ? OFFSET ?", "ttttii", role, role, pat, pat, limit, offset);
    } else if (*role) {
        total = strcmp(role, "learner") == 0 ? users_count_learners(r->db)
                                               : db_int(r->db, "SELECT count(*) FROM users WHERE role = ?", 0, "t", role);
        rows = db_all(r->db, "SELECT id, email, name, role, disabled, created_at FROM users WHERE role = ?"
                             " ORDER BY name, id LIMIT ? OFFSET ?", "tii", role, limit, offset);
    } else {
        total = db_int(r->db, "SELECT count(*) FROM users", 0, "");
        rows = db_all(r->db, "SELECT id, email, name, role, disabled, created_at FROM users"
                             " ORDER BY name, id LIMIT ? OFFSET ?", "ii", limit, offset);
    }
    free(pat);
    if (!rows)
        return form_fail(r, 500, "internal", "Could not list users.");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) shape_user(row);
    json_t *out = json_pack("{s:o, s:s, s:s, s:o}", "users", rows, "q", q ? q : "", "role", role,
                            "roles", role_options(role));
    http_paginate(r, out, total);
    http_set_out(r, out);
    return 200;
}

/* GET /admin/users/new */
static int user_new_h(req_t *r)
{
    json_t *out = http_out(r);
    json_object_set_new(out, "roles", role_options(in_str(r, "role")));
    json_object_set_new(out, "form", json_object());
    return 200;
}

/* POST /api/v1/users, POST /admin/users: {email, name, role, password} */
static int user_create_h(req_t *r)
{
    const char *email = in_str(r, "email"), *name = in_str(r, "name"), *role = in_str(r, "role");
    const char *password = in_str(r, "password");
    json_t *out = http_out(r);
    json_object_set_new(out, "roles", role_options(role));
    json_object_set_new(out, "form", json_pack("{s:s, s:s}", "email", email ? email : "", "name", name ? name : ""));
    const char *field = NULL;
    char err[200] = "", em[256], nm[256];
    int64_t id = 0;
    /* every problem at once, as a form should */
    trim_copy(email, em, sizeof em);
    lower_ascii(em);
    trim_copy(name, nm, sizeof nm);
    const char *pr;
    if ((pr = name_problem(nm)))
        http_field_error(r, "name", pr);
    if ((pr = email_problem(em)))
        http_field_error(r, "email", pr);
    if ((pr = role_problem(role)))
        http_field_error(r, "role", pr);
    /* No password and "invite": the account chooses its own through an emailed link. */
    int invite = (!password || !*password) && in_bool(r, "invite");
    if (!invite && (pr = auth_password_problem(password)))
        http_field_error(r, "password", pr);
    if (http_field_error_count(r))
        return form_fail(r, 400, "invalid_input", "Check the account details.");
    if (db_begin(r->db) != EV_OK)
        return form_fail(r, 500, "internal", "Could not save the account.");
    int st = invite ? users_create_invited(r->db, r->user.id, email, name, role, &id, &field, err, sizeof err)
                    : users_create(r->db, r->user.id, email, name, role, password, &id, &field, err, sizeof err);
    if (st == 0 && invite && accounts_invite(r->db, id, r->user.name, role_label(role)) != EV_OK)
        st = 500;
    if (st == 0 && db_commit(r->db) == EV_OK) {
        json_t *u = load_user(r->db, id);
        http_set_out(r, json_pack("{s:o, s:b}", "user", u ? u : json_null(), "invited", invite));
        http_redirect(r, "/admin/users/%lld?done=%s", (long long)id, invite ? "invited" : "created");
        return 201;
    }
    db_rollback(r->db);
    if (st == 0)
        st = 500;
    if (field)
        http_field_error(r, field, err);
    return form_fail(r, st, st == 409 ? "conflict" : st == 400 ? "invalid_input" : "internal", "%s.", err);
}

static const char *user_notice(const char *done)
{
    if (!done)
        return NULL;
    if (strcmp(done, "created") == 0)
        return "The account has been created.";
    if (strcmp(done, "invited") == 0)
        return "The account has been created and emailed an invitation to choose a password.";
    if (strcmp(done, "disabled") == 0)
        return "The account has been disabled and signed out everywhere.";
    if (strcmp(done, "enabled") == 0)
        return "The account has been enabled.";
    if (strcmp(done, "password") == 0)
        return "The password has been reset and the account signed out everywhere.";
    return NULL;
}

/* Puts the user's detail page data into r->out; NULL when there is no such user. */
static json_t *user_detail(req_t *r, int64_t id)
{
    json_t *u = load_user(r->db, id);
    if (!u)
        return NULL;
    const char *role = json_string_value(json_object_get(u, "role"));
    json_t *out = json_pack("{s:o}", "user", u);
    if (role && strcmp(role, "learner") == 0)
        json_object_set_new(out, "enrolments", learner_enrolments(r->db, id));
    else
        json_object_set_new(out, "enrolments", json_array());
    json_object_set_new(out, "account_is_learner", json_boolean(role && strcmp(role, "learner") == 0));
    json_object_set_new(out, "caseload", shape_enrolments(db_all(r->db,
        ENROL_SELECT " WHERE e.assessor_id = ? OR e.iqa_id = ? ORDER BY l.name, e.id LIMIT 200", "ii", id, id)));
    json_object_set_new(out, "sessions", json_integer(db_int(r->db,
        "SELECT count(*) FROM sessions WHERE user_id = ? AND expires_at > ?", 0, "ii", id, util_now_s())));
    json_object_set_new(out, "is_self", json_boolean(id == r->user.id));
    const char *notice = user_notice(in_str(r, "done"));
    if (notice)
        json_object_set_new(out, "notice", json_string(notice));
    http_set_out(r, out);
    return out;
}

/* GET /api/v1/users/{id}, GET /admin/users/{id} */
static int user_show_h(req_t *r)
{
    if (!user_detail(r, r->params[0]))
        return form_fail(r, 404, "not_found", "No such user.");
    return 200;
}

/* Disables (ending every session) or enables account id, with its audit event
 * by actor_id, in one transaction. EV_OK or EV_ERR. */
static int account_set_disabled(db_t *db, int64_t actor_id, int64_t id, int disabled)
{
    int64_t was = db_int(db, "SELECT disabled FROM users WHERE id = ?", 0, "i", id);
    int64_t learner = db_int(db, "SELECT id FROM users WHERE id = ? AND role = 'learner'", 0, "i", id);
    char now[21];
    util_now_iso(now);
    int rc = db_begin(db);
    if (rc == EV_OK)
        rc = db_run(db, "UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?", "Iti", disabled, now, id);
    if (rc == EV_OK && disabled)
        rc = session_end_user(db, id, NULL);
    if (rc == EV_OK) {
        json_t *before = json_pack("{s:b}", "disabled", (int)was);
        json_t *after = json_pack("{s:b}", "disabled", disabled);
        rc = audit_record(db, actor_id, disabled ? "user.disable" : "user.enable", "user", id, learner,
                          before, after);
        json_decref(before);
        json_decref(after);
    }
    if (rc == EV_OK)
        rc = db_commit(db);
    else
        db_rollback(db);
    return rc;
}

/* Sets account id's password (already checked) and ends its sessions but
 * keep_hash (may be NULL), with a 'user.password_reset' audit event by
 * actor_id, in one transaction. EV_OK or EV_ERR. */
static int account_reset_password(db_t *db, int64_t actor_id, int64_t id, const char *password,
                                  const char *keep_hash)
{
    char fresh[AUTH_HASH_MAX];
    if (auth_hash_password(password, fresh) != EV_OK)
        return EV_ERR;
    int64_t learner = db_int(db, "SELECT id FROM users WHERE id = ? AND role = 'learner'", 0, "i", id);
    char now[21];
    util_now_iso(now);
    int rc = db_begin(db);
    if (rc == EV_OK)
        rc = db_run(db, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", "tti", fresh, now, id);
    if (rc == EV_OK)
        rc = session_end_user(db, id, keep_hash);
    if (rc == EV_OK)
        rc = audit_record(db, actor_id, "user.password_reset", "user", id, learner, NULL, NULL);
    if (rc == EV_OK)
        rc = accounts_password_changed(db, id, 1);
    if (rc == EV_OK)
        rc = db_commit(db);
    else
        db_rollback(db);
    sodium_memzero(fresh, sizeof fresh);
    return rc;
}

static int set_disabled(req_t *r, int disabled)
{
    int64_t id = r->params[0];
    json_t *out = user_detail(r, id);
    if (!out)
        return form_fail(r, 404, "not_found", "No such user.");
    if (id == r->user.id && disabled)
        return form_fail(r, 400, "invalid_input", "You cannot disable your own account.");
    int rc = account_set_disabled(r->db, r->user.id, id, disabled);
    if (rc != EV_OK)
        return form_fail(r, 500, "internal", "Could not change the account.");
    user_detail(r, id);
    http_redirect(r, "/admin/users/%lld?done=%s", (long long)id, disabled ? "disabled" : "enabled");
    return 200;
}

/* POST /api/v1/users/{id}/disable, POST /admin/users/{id}/disable */
static int user_disable_h(req_t *r)
{
    return set_disabled(r, 1);
}

/* POST /api/v1/users/{id}/enable, POST /admin/users/{id}/enable */
static int user_enable_h(req_t *r)
{
    return set_disabled(r, 0);
}

/* POST /api/v1/users/{id}/password, POST /admin/users/{id}/password: {password} */
static int user_password_h(req_t *r)
{
    int64_t id = r->params[0];
    if (!user_detail(r, id))
        return form_fail(r, 404, "not_found", "No such user.");
    const char *pw = in_str(r, "password");
    const char *problem = auth_password_problem(pw);
    if (problem) {
        http_field_error(r, "password", problem);
        return form_fail(r, 400, "invalid_input", "%s.", problem);
    }
    int rc = account_reset_password(r->db, r->user.id, id, pw, id == r->user.id ? r->user.session_hash : NULL);
    if (rc != EV_OK)
        return form_fail(r, 500, "internal", "Could not reset the password.");
    json_object_set_new(http_out(r), "password_reset", json_true());
    http_redirect(r, "/admin/users/%lld?done=password", (long long)id);
    return 200;
}

/* ------------------------------------------------------------------ */
/* Admin: enrolments                                                    */
/* ------------------------------------------------------------------ */

/* Marks the entry of array a whose id is sel as selected. */
static json_t *mark_selected(json_t *a, int64_t sel)
{
    size_t i;
    json_t *o;
    if (!a)
        return json_array();
    json_array_foreach(a, i, o)
        json_object_set_new(o, "selected", json_boolean(json_integer_value(json_object_get(o, "id")) == sel));
    return a;
}

/* The choices of the enrolment forms, with the given ones selected. */
static void enrol_options(req_t *r, int64_t qual, int64_t assessor, int64_t iqa, const char *status)
{
    json_t *out = http_out(r);
    json_object_set_new(out, "qualifications", mark_selected(db_all(r->db,
        "SELECT id, code, title FROM qualifications ORDER BY title, id", ""), qual));
    json_object_set_new(out, "assessors", mark_selected(db_all(r->db,
        "SELECT id, name, email FROM users WHERE role = 'assessor' AND disabled = 0 ORDER BY name, id", ""),
        assessor));
    json_object_set_new(out, "iqas", mark_selected(db_all(r->db,
        "SELECT id, name, email FROM users WHERE role = 'iqa' AND disabled = 0 ORDER BY name, id", ""), iqa));
    json_object_set_new(out, "no_iqa", json_boolean(iqa == 0));
    json_object_set_new(out, "statuses", status_options(status));
}

/* GET /api/v1/enrolments, GET /admin/enrolments: ?q= (learner) ?status= ?qualification_id= */
static int enrolments_list_h(req_t *r)
{
    int64_t limit, offset, qual = 0;
    const char *q = in_str(r, "q"), *status = in_str(r, "status");
    if (!valid_status(status))
        status = "";
    if (in_int(r, "qualification_id", &qual) != EV_OK)
        qual = 0;
    char *pat = fmtalloc("%%%s%%", q ? q : "");
    http_page(r, PER_PAGE, &limit, &offset);
    int64_t total;
    json_t *rows;
    if (q && *q) { /* a search reads every learner's name and email */
        total = db_int(r->db, "SELECT count(*) FROM enrolments e JOIN users l ON l.id = e.learner_id"
                              " WHERE (? = '' OR e.status = ?) AND (? = 0 OR e.qualification_id = ?)"
                              " AND (lower(l.name) LIKE lower(?) OR lower(l.email) LIKE lower(?))", 0, "ttiitt",
                       status, status, qual, qual, pat, pat);
        rows = db_all(r->db, ENROL_SELECT " WHERE (? = '' OR e.status = ?) AND (? = 0 OR e.qualification_id = ?)"
                             " AND (lower(l.name) LIKE lower(?) OR lower(l.email) LIKE lower(?))"
                             " ORDER BY l.name, l.id, e.id LIMIT ? OFFSET ?",
                      "ttiittii", status, status, qual, qual, pat, pat, limit, offset);
    } else {
        /* Without one (issue 22): counted from enrolments_status or the table's smallest
         * index alone; the page's ids chosen walking users_name and each learner's
         * enrolments (enrolments_learner_id), then only those rows read whole. */
        total = *status ? (qual ? db_int(r->db, "SELECT count(*) FROM enrolments WHERE status = ? AND qualification_id = ?",
                                         0, "ti", status, qual)
                                : db_int(r->db, "SELECT count(*) FROM enrolments WHERE status = ?", 0, "t", status))
                        : (qual ? db_int(r->db, "SELECT count(*) FROM enrolments WHERE qualification_id = ?", 0, "i", qual)
                                : db_int(r->db, "SELECT count(*) FROM enrolments", 0, ""));
        rows = db_all(r->db, ENROL_SELECT " WHERE e.id IN (SELECT pe.id FROM users pl CROSS JOIN enrolments pe"
                             " WHERE pe.learner_id = pl.id AND (? = '' OR pe.status = ?) AND (? = 0 OR pe.qualification_id = ?)"
                             " ORDER BY pl.name, pl.id, pe.id LIMIT ? OFFSET ?) ORDER BY l.name, l.id, e.id",
                      "ttiiii", status, status, qual, qual, limit, offset);
    }
    free(pat);
    if (!rows)
        return form_fail(r, 500, "internal", "Could not list enrolments.");
    json_t *out = json_pack("{s:o, s:s, s:s}", "enrolments", shape_enrolments(rows), "q", q ? q : "",
                            "status", status);
    http_set_out(r, out);
    enrol_options(r, qual, 0, 0, status);
    http_paginate(r, out, total);
    return 200;
}

/* Resolves a person from field_id (integer) or field_email; 0 when neither given, -1 when unknown. */
static int64_t person_ref(req_t *r, const char *id_field, const char *email_field)
{
    int64_t id = 0;
    if (in_int(r, id_field, &id) == EV_OK && id > 0)
        return id;
    const char *email = in_str(r, email_field);
    char em[256];
    trim_copy(email, em, sizeof em);
    if (!*em)
        return 0;
    return db_int(r->db, "SELECT id FROM users WHERE lower(email) = lower(?)", -1, "t", em);
}

/* GET /admin/enrolments/new: ?learner_id= prefills the learner */
static int enrolment_new_h(req_t *r)
{
    char today[11], later[11];
    int64_t learner = 0;
    date_today(today, 0);
    date_today(later, 1);
    json_t *form = json_pack("{s:s, s:s, s:s}", "start_date", today, "planned_end_date", later,
                             "learner_email", "");
    if (in_int(r, "learner_id", &learner) == EV_OK) {
        char *email = db_text(r->db, "SELECT email FROM users WHERE id = ? AND role = 'learner'", "i", learner);
        if (email)
            json_object_set_new(form, "learner_email", json_string(email));
        free(email);
    }
    json_object_set_new(http_out(r), "form", form);
    enrol_options(r, 0, 0, 0, "active");
    return 200;
}

/* POST /api/v1/enrolments, POST /admin/enrolments:
 * {learner_id | learner_email, qualification_id, assessor_id | assessor_email,
 *  [iqa_id | iqa_email], [start_date], [planned_end_date]} */
static int enrolment_create_h(req_t *r)
{
    int64_t qual = 0;
    int64_t learner = person_ref(r, "learner_id", "learner_email");
    int64_t assessor = person_ref(r, "assessor_id", "assessor_email");
    int64_t iqa = person_ref(r, "iqa_id", "iqa_email");
    const char *start = in_str(r, "start_date"), *end = in_str(r, "planned_end_date");
    if (in_int(r, "qualification_id", &qual) != EV_OK)
        qual = 0;
    const char *le = in_str(r, "learner_email");
    json_object_set_new(http_out(r), "form", json_pack("{s:s, s:s, s:s}", "learner_email", le ? le : "",
                        "start_date", start ? start : "", "planned_end_date", end ? end : ""));
    enrol_options(r, qual, assessor, iqa > 0 ? iqa : 0, "active");
    /* every problem at once, as a form should */
    const char *pr;
    if (!has_role(r->db, learner, "learner"))
        http_field_error(r, "learner", MSG_LEARNER);
    if (db_int(r->db, "SELECT 1 FROM qualifications WHERE id = ?", 0, "i", qual) != 1)
        http_field_error(r, "qualification_id", MSG_QUALIFICATION);
    if (!has_role(r->db, assessor, "assessor"))
        http_field_error(r, "assessor", MSG_ASSESSOR);
    if (iqa < 0 || (iqa > 0 && !has_role(r->db, iqa, "iqa")))
        http_field_error(r, "iqa", MSG_IQA);
    if (start && *start && (pr = start_problem(start)))
        http_field_error(r, "start_date", pr);
    if (end && *end && (pr = end_problem(start && *start ? start : "", end)))
        http_field_error(r, "planned_end_date", pr);
    if (http_field_error_count(r))
        return form_fail(r, 400, "invalid_input", "Check the enrolment details.");
    const char *field = NULL;
    char err[200] = "";
    int64_t id = 0;
    if (db_begin(r->db) != EV_OK)
        return form_fail(r, 500, "internal", "Could not save the enrolment.");
    int st = users_enrol(r->db, r->user.id, learner, qual, assessor, iqa, start, end, &id, &field,
                         err, sizeof err);
    if (st == 0 && db_commit(r->db) == EV_OK) {
        http_set_out(r, json_pack("{s:o}", "enrolment", load_enrolment(r->db, id)));
        http_redirect(r, "/admin/enrolments/%lld?done=created", (long long)id);
        return 201;
    }
    db_rollback(r->db);
    if (st == 0)
        st = 500;
    if (field)
        http_field_error(r, field, err);
    return form_fail(r, st, st == 409 ? "conflict" : st == 400 ? "invalid_input" : "internal", "%s.", err);
}

static json_t *enrolment_detail(req_t *r, int64_t id)
{
    json_t *e = load_enrolment(r->db, id);
    if (!e)
        return NULL;
    json_t *iqa = json_object_get(e, "iqa_id");
    enrol_options(r, json_integer_value(json_object_get(e, "qualification_id")),
                  json_integer_value(json_object_get(e, "assessor_id")),
                  json_is_integer(iqa) ? json_integer_value(iqa) : 0,
                  json_string_value(json_object_get(e, "status")));
    json_t *out = http_out(r);
    json_object_set_new(out, "enrolment", e);
    json_object_set_new(out, "form", json_pack("{s:O, s:O}", "start_date", json_object_get(e, "start_date"),
                                               "planned_end_date", json_object_get(e, "planned_end_date")));
    const char *done = in_str(r, "done");
    if (done && strcmp(done, "created") == 0)
        json_object_set_new(out, "notice", json_string("The learner has been enrolled."));
    else if (done && strcmp(done, "saved") == 0)
        json_object_set_new(out, "notice", json_string("The enrolment has been updated."));
    else if (done && strcmp(done, "ended") == 0)
        json_object_set_new(out, "notice", json_string("The enrolment has been ended."));
    return e;
}

/* GET /api/v1/enrolments/{id}, GET /admin/enrolments/{id} */
static int enrolment_show_h(req_t *r)
{
    if (!enrolment_detail(r, r->params[0]))
        return form_fail(r, 404, "not_found", "No such enrolment.");
    return 200;
}

/* Applies new values to an enrolment with its audit event (action), in one transaction. */
static int enrolment_apply(req_t *r, json_t *before, int64_t assessor, int64_t iqa, const char *start,
                           const char *end, const char *status, const char *action, const char *end_date,
                           const char *end_reason)
{
    int64_t id = json_integer_value(json_object_get(before, "id"));
    int64_t learner = json_integer_value(json_object_get(before, "learner_id"));
    int ended = strcmp(status, "completed") == 0 || strcmp(status, "withdrawn") == 0;
    int active = strcmp(status, "active") == 0;
    char now[21];
    util_now_iso(now);
    json_t *b = json_pack("{s:O, s:O, s:O, s:O, s:O}", "assessor_id", json_object_get(before, "assessor_id"),
                          "iqa_id", json_object_get(before, "iqa_id"),
                          "start_date", json_object_get(before, "start_date"),
                          "planned_end_date", json_object_get(before, "planned_end_date"),
                          "status", json_object_get(before, "status"));
    json_t *a = json_pack("{s:I, s:o, s:s, s:s, s:s}", "assessor_id", (json_int_t)assessor,
                          "iqa_id", iqa ? json_integer(iqa) : json_null(), "start_date", start,
                          "planned_end_date", end, "status", status);
    /* ended_at: kept when it was already ended, set now when it ends, cleared when it resumes. */
    const char *was_ended = json_string_value(json_object_get(before, "ended_at"));
    const char *ended_at = ended ? (was_ended ? was_ended : now) : NULL;
    int rc = db_begin(r->db);
    if (rc == EV_OK)
        rc = iqa ? db_run(r->db, "UPDATE enrolments SET assessor_id = ?, iqa_id = ?, start_date = ?,"
                                 " planned_end_date = ?, status = ?, ended_at = ? WHERE id = ?", "iitttti",
                          assessor, iqa, start, end, status, ended_at, id)
                 : db_run(r->db, "UPDATE enrolments SET assessor_id = ?, iqa_id = NULL, start_date = ?,"
                                 " planned_end_date = ?, status = ?, ended_at = ? WHERE id = ?", "itttti",
                          assessor, start, end, status, ended_at, id);
    /* How it ended (end handler), or cleared when it resumes; otherwise kept. */
    if (rc == EV_OK && end_date) {
        rc = db_run(r->db, "UPDATE enrolments SET end_date = ?, end_reason = ? WHERE id = ?", "tti", end_date,
                    end_reason ? end_reason : "", id);
        json_object_set_new(a, "end_date", json_string(end_date));
        json_object_set_new(a, "end_reason", json_string(end_reason ? end_reason : ""));
    } else if (rc == EV_OK && active) {
        rc = db_run(r->db, "UPDATE enrolments SET end_date = NULL, end_reason = NULL WHERE id = ?", "i", id);
    }
    if (rc == EV_OK)
        rc = audit_record(r->db, r->user.id, action, "enrolment", id, learner, b, a);
    if (rc == EV_OK)
        rc = status_sync_learner(r->db, learner);
    if (rc == EV_OK)
        rc = db_commit(r->db);
    else
        db_rollback(r->db);
    json_decref(b);
    json_decref(a);
    return rc;
}

/* PUT /api/v1/enrolments/{id}, POST /admin/enrolments/{id}: any of
 * {assessor_id | assessor_email, iqa_id | iqa_email ("" or 0 for none),
 *  start_date, planned_end_date, status} */
static int enrolment_update_h(req_t *r)
{
    int64_t id = r->params[0];
    json_t *e = enrolment_detail(r, id);
    if (!e)
        return form_fail(r, 404, "not_found", "No such enrolment.");
    json_t *before = json_deep_copy(e);
    int64_t assessor = person_ref(r, "assessor_id", "assessor_email");
    if (!assessor)
        assessor = json_integer_value(json_object_get(before, "assessor_id"));
    int64_t iqa;
    if (json_object_get(r->in, "iqa_id") || json_object_get(r->in, "iqa_email"))
        iqa = person_ref(r, "iqa_id", "iqa_email");
    else
        iqa = json_integer_value(json_object_get(before, "iqa_id"));
    const char *start = in_str(r, "start_date"), *end = in_str(r, "planned_end_date");
    const char *status = in_str(r, "status");
    if (!start || !*start)
        start = json_string_value(json_object_get(before, "start_date"));
    if (!end || !*end)
        end = json_string_value(json_object_get(before, "planned_end_date"));
    if (!status || !*status)
        status = json_string_value(json_object_get(before, "status"));
    const char *field = NULL;
    char err[200] = "";
    int st = 0;
    if (!has_role(r->db, assessor, "assessor")) {
        st = 400, field = "assessor", snprintf(err, sizeof err, "%s", MSG_ASSESSOR);
    } else if (iqa && !has_role(r->db, iqa, "iqa")) {
        st = 400, field = "iqa", snprintf(err, sizeof err, "%s", MSG_IQA);
    } else if (!valid_status(status)) {
        st = 400, field = "status", snprintf(err, sizeof err, "Choose a status");
    } else {
        st = check_dates(start, end, &field, err, sizeof err);
    }
    if (st) {
        json_object_set_new(http_out(r), "form", json_pack("{s:s, s:s}", "start_date", start ? start : "",
                                                           "planned_end_date", end ? end : ""));
        json_decref(before);
        http_field_error(r, field, err);
        return form_fail(r, st, "invalid_input", "%s.", err);
    }
    int rc = enrolment_apply(r, before, assessor, iqa, start, end, status, "enrolment.update", NULL, NULL);
    json_decref(before);
    if (rc != EV_OK)
        return form_fail(r, 500, "internal", "Could not save the enrolment.");
    json_object_set_new(http_out(r), "enrolment", load_enrolment(r->db, id));
    http_redirect(r, "/admin/enrolments/%lld?done=saved", (long long)id);
    return 200;
}

/* POST /api/v1/enrolments/{id}/end, POST /admin/enrolments/{id}/end:
 * {status: completed | withdrawn | break_in_learning, date: YYYY-MM-DD (default today), reason}.
 * A reason is required except for completion (ESFA funding rules: a withdrawal or a break in
 * learning is evidenced by its date and reason). An ended enrolment takes no new evidence,
 * mappings or decisions (rules.c); an update back to "active" resumes it. */
static int enrolment_end_h(req_t *r)
{
    int64_t id = r->params[0];
    json_t *e = enrolment_detail(r, id);
    if (!e)
        return form_fail(r, 404, "not_found", "No such enrolment.");
    const char *status = in_str(r, "status"), *date = in_str(r, "date"), *reason = in_str(r, "reason");
    char today[21];
    util_now_iso(today);
    today[10] = '\0';
    if (!status || !*status)
        status = "completed";
    if (strcmp(status, "break_in_learning") == 0)
        status = "on_break"; /* the stored name */
    if (!date || !*date)
        date = today;
    if (!reason)
        reason = "";
    const char *field = NULL, *msg = NULL;
    const char *start = json_string_value(json_object_get(e, "start_date"));
    if (strcmp(status, "completed") != 0 && strcmp(status, "withdrawn") != 0 && strcmp(status, "on_break") != 0)
        field = "status", msg = "Choose completed, withdrawn or break in learning";
    else if (!util_valid_date(date))
        field = "date", msg = "Enter the date it ended as YYYY-MM-DD";
    else if (start && strcmp(date, start) < 0)
        field = "date", msg = "The end date cannot be before the start date";
    else if (strcmp(date, today) > 0)
        field = "date", msg = "The end date cannot be in the future";
    else if (strcmp(status, "completed") != 0 && !*reason)
        field = "reason", msg = "Give the reason for the withdrawal or break in learning";
    else if (strlen(reason) > 2000)
        field = "reason", msg = "Keep the reason under 2000 characters";
    if (field) {
        http_field_error(r, field, msg);
        return form_fail(r, 400, "invalid_input", "%s.", msg);
    }
    if (strcmp(json_string_value(json_object_get(e, "status")), "active") != 0) {
        http_field_error(r, "status", "This enrolment has already ended");
        return form_fail(r, 409, "already_ended", "This enrolment has already ended.");
    }
    json_t *before = json_deep_copy(e);
    const json_t *iqa = json_object_get(before, "iqa_id");
    int rc = enrolment_apply(r, before, json_integer_value(json_object_get(before, "assessor_id")),
                             json_is_integer(iqa) ? json_integer_value(iqa) : 0,
                             json_string_value(json_object_get(before, "start_date")),
                             json_string_value(json_object_get(before, "planned_end_date")), status,
                             "enrolment.end", date, reason);
    json_decref(before);
    if (rc != EV_OK)
        return form_fail(r, 500, "internal", "Could not end the enrolment.");
    json_object_set_new(http_out(r), "enrolment", load_enrolment(r->db, id));
    http_redirect(r, "/admin/enrolments/%lld?done=ended", (long long)id);
    return 200;
}

/* ------------------------------------------------------------------ */
/* Routes                                                               */
/* ------------------------------------------------------------------ */

const route_t users_routes[] = {
    {"GET", "/", home_h, 0, "home", ROUTE_OPTIONAL_AUTH},
    {"GET", "/login", login_page_h, 0, "login", ROUTE_OPTIONAL_AUTH},
    {"POST", "/login", session_create_h, 0, "login", ROUTE_NO_CSRF | ROUTE_OPTIONAL_AUTH},
    {"POST", "/api/v1/session", session_create_h, 0, NULL, ROUTE_NO_CSRF | ROUTE_OPTIONAL_AUTH},
    {"DELETE", "/api/v1/session", session_delete_h, ROLE_SIGNED_IN, NULL, 0},
    {"POST", "/logout", session_delete_h, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/api/v1/me", me_h, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/account/password", password_page_h, ROLE_SIGNED_IN, "account_password", 0},
    {"POST", "/account/password", password_change_h, ROLE_SIGNED_IN, "account_password", 0},
    {"POST", "/api/v1/me/password", password_change_h, ROLE_SIGNED_IN, NULL, 0},

    {"GET", "/api/v1/learners", learners_h, ROLE_STAFF, NULL, 0},
    {"GET", "/learners", learners_h, ROLE_STAFF, "learners", 0},
    {"GET", "/api/v1/learners/{id}", learner_h, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/learners/{id}", learner_h, ROLE_SIGNED_IN, "learner", 0},

    {"GET", "/api/v1/users", users_list_h, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/users", users_list_h, ROLE_ADMIN, "admin_users", 0},
    {"GET", "/admin/users/new", user_new_h, ROLE_ADMIN, "admin_user_new", 0},
    {"POST", "/api/v1/users", user_create_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/users", user_create_h, ROLE_ADMIN, "admin_user_new", 0},
    {"GET", "/api/v1/users/{id}", user_show_h, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/users/{id}", user_show_h, ROLE_ADMIN, "admin_user", 0},
    {"POST", "/api/v1/users/{id}/disable", user_disable_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/users/{id}/disable", user_disable_h, ROLE_ADMIN, "admin_user", 0},
    {"POST", "/api/v1/users/{id}/enable", user_enable_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/users/{id}/enable", user_enable_h, ROLE_ADMIN, "admin_user", 0},
    {"POST", "/api/v1/users/{id}/password", user_password_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/users/{id}/password", user_password_h, ROLE_ADMIN, "admin_user", 0},

    {"GET", "/api/v1/enrolments", enrolments_list_h, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/enrolments", enrolments_list_h, ROLE_ADMIN, "admin_enrolments", 0},
    {"GET", "/admin/enrolments/new", enrolment_new_h, ROLE_ADMIN, "admin_enrolment_new", 0},
    {"POST", "/api/v1/enrolments", enrolment_create_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/enrolments", enrolment_create_h, ROLE_ADMIN, "admin_enrolment_new", 0},
    {"GET", "/api/v1/enrolments/{id}", enrolment_show_h, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/enrolments/{id}", enrolment_show_h, ROLE_ADMIN, "admin_enrolment", 0},
    {"PUT", "/api/v1/enrolments/{id}", enrolment_update_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/enrolments/{id}", enrolment_update_h, ROLE_ADMIN, "admin_enrolment", 0},
    {"POST", "/api/v1/enrolments/{id}/end", enrolment_end_h, ROLE_ADMIN, NULL, 0},
    {"POST", "/admin/enrolments/{id}/end", enrolment_end_h, ROLE_ADMIN, "admin_enrolment", 0},
    {0},
};

/* ------------------------------------------------------------------ */
/* Commands                                                             */
/* ------------------------------------------------------------------ */

/* Reads "--name value" / "--name=value" options (names without the dashes)
 * into vals (NULL when absent). Returns 0, or prints a one-line message and
 * returns 2 on an unknown or incomplete option. */
static int parse_opts(const char *cmd, int argc, char **argv, const char *const *names,
                      const char **vals, size_t n)
{
    for (size_t k = 0; k < n; k++)
        vals[k] = NULL;
    for (int i = 0; i < argc;) {
        int got = 0;
        for (size_t k = 0; k < n && !got; k++) {
            got = cli_opt(argc, argv, &i, names[k], &vals[k]);
            if (got < 0)
                return 2;
        }
        if (!got)
            return cli_usage_error("%s: unknown argument '%s' (see evitrack --help)", cmd, argv[i]);
    }
    return 0;
}

static db_t *open_db(const char *path)
{
    return cli_open_db(path ? path : "evitrack.db");
}

/* Reads the password: one line of standard input (caller frees *line). */
static int read_password(const char *cmd, char **line, size_t *cap)
{
    ssize_t n = getline(line, cap, stdin);
    if (n <= 0) {
        fprintf(stderr, "evitrack %s: give the password as one line on standard input\n", cmd);
        return EV_ERR;
    }
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
        (*line)[--n] = '\0';
    return EV_OK;
}

static void free_password(char *line, size_t cap)
{
    if (line) {
        sodium_memzero(line, cap);
        free(line);
    }
}

/* evitrack user add [--db FILE] --email E --name N --role R  (password on stdin) */
static int cmd_user_add(int argc, char **argv)
{
    static const char *const names[] = {"db", "email", "name", "role"};
    const char *v[4];
    int code = 1;
    db_t *db = NULL;
    char *line = NULL;
    size_t cap = 0;
    if (parse_opts("user add", argc, argv, names, v, 4))
        return 2;
    if (!v[1] || !v[2] || !v[3]) {
        fprintf(stderr, "evitrack user add: --email, --name and --role are required\n");
        return 2;
    }
    if (!role_from_name(v[3])) {
        fprintf(stderr, "evitrack user add: --role must be learner, assessor, iqa, admin, eqa or employer\n");
        return 2;
    }
    if (read_password("user add", &line, &cap) != EV_OK) {
        code = 2;
        goto out;
    }
    if (!(db = open_db(v[0])))
        goto out;
    const char *field = NULL;
    char err[200] = "";
    int64_t id = 0;
    if (db_begin(db) != EV_OK) {
        fprintf(stderr, "evitrack user add: the database is busy\n");
        goto out;
    }
    int st = users_create(db, 0, v[1], v[2], v[3], line, &id, &field, err, sizeof err);
    if (st != 0 || db_commit(db) != EV_OK) {
        db_rollback(db);
        fprintf(stderr, "evitrack user add: %s%s%s\n", field ? field : "", field ? ": " : "",
                err[0] ? err : "could not save");
        goto out;
    }
    printf("created %s user %s (id %lld)\n", v[3], v[1], (long long)id);
    code = 0;
out:
    free_password(line, cap);
    db_close(db);
    return code;
}

/* evitrack user passwd|disable|enable [--db FILE] --email E  (passwd: password on stdin) */
static int cmd_user_change(const char *what, int argc, char **argv)
{
    static const char *const names[] = {"db", "email"};
    const char *v[2];
    char cmd[32];
    int code = 1;
    db_t *db = NULL;
    char *line = NULL;
    size_t cap = 0;
    snprintf(cmd, sizeof cmd, "user %s", what);
    if (parse_opts(cmd, argc, argv, names, v, 2))
        return 2;
    if (!v[1]) {
        fprintf(stderr, "evitrack %s: --email is required\n", cmd);
        return 2;
    }
    int passwd = strcmp(what, "passwd") == 0;
    if (passwd) {
        if (read_password(cmd, &line, &cap) != EV_OK) {
            code = 2;
            goto out;
        }
        const char *problem = auth_password_problem(line);
        if (problem) {
            fprintf(stderr, "evitrack %s: %s\n", cmd, problem);
            code = 2;
            goto out;
        }
    }
    if (!(db = open_db(v[0])))
        goto out;
    int64_t id = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?)", 0, "t", v[1]);
    if (!id) {
        fprintf(stderr, "evitrack %s: no account with email %s\n", cmd, v[1]);
        goto out;
    }
    int rc = passwd ? account_reset_password(db, 0, id, line, NULL)
                    : account_set_disabled(db, 0, id, strcmp(what, "disable") == 0);
    if (rc != EV_OK) {
        fprintf(stderr, "evitrack %s: could not save the change\n", cmd);
        goto out;
    }
    printf("%s: %s\n", v[1], passwd ? "password set, signed out everywhere"
                                    : strcmp(what, "disable") == 0 ? "disabled, signed out everywhere" : "enabled");
    code = 0;
out:
    free_password(line, cap);
    db_close(db);
    return code;
}

int users_cmd_user(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "add") == 0)
        return cmd_user_add(argc - 1, argv + 1);
    if (argc >= 1 && (strcmp(argv[0], "passwd") == 0 || strcmp(argv[0], "disable") == 0 ||
                      strcmp(argv[0], "enable") == 0))
        return cmd_user_change(argv[0], argc - 1, argv + 1);
    fprintf(stderr, "evitrack user: usage: evitrack user add|passwd|disable|enable [--db FILE] --email E ..."
                    " (see evitrack --help)\n");
    return 2;
}

/* A user id by email with the role, or 0 (message printed). */
static int64_t cli_person(db_t *db, const char *email, const char *role, const char *opt)
{
    int64_t id = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?) AND role = ?", 0, "tt", email, role);
    if (!id)
        fprintf(stderr, "evitrack enrol: %s: no %s account with email %s\n", opt, role, email);
    return id;
}

int users_cmd_enrol(int argc, char **argv)
{
    static const char *const names[] = {"db", "learner", "qualification", "assessor", "iqa", "start", "end"};
    const char *v[7];
    int code = 1;
    db_t *db = NULL;
    if (parse_opts("enrol", argc, argv, names, v, 7))
        return 2;
    if (!v[1] || !v[2] || !v[3]) {
        fprintf(stderr, "evitrack enrol: --learner, --qualification and --assessor are required\n");
        return 2;
    }
    if ((v[5] && !util_valid_date(v[5])) || (v[6] && !util_valid_date(v[6]))) {
        fprintf(stderr, "evitrack enrol: --start and --end take dates as YYYY-MM-DD\n");
        return 2;
    }
    if (!(db = open_db(v[0])))
        goto out;
    int64_t learner = cli_person(db, v[1], "learner", "--learner");
    int64_t assessor = learner ? cli_person(db, v[3], "assessor", "--assessor") : 0;
    int64_t iqa = 0;
    if (!learner || !assessor)
        goto out;
    if (v[4] && !(iqa = cli_person(db, v[4], "iqa", "--iqa")))
        goto out;
    int64_t qid = 0;
    if (util_parse_i64(v[2], &qid) == EV_OK)
        qid = db_int(db, "SELECT id FROM qualifications WHERE id = ?", 0, "i", qid);
    if (!qid)
        qid = db_int(db, "SELECT id FROM qualifications WHERE code = ?", 0, "t", v[2]);
    if (!qid) {
        fprintf(stderr, "evitrack enrol: --qualification: no qualification with id or code %s\n", v[2]);
        goto out;
    }
    const char *field = NULL;
    char err[200] = "";
    int64_t id = 0;
    if (db_begin(db) != EV_OK) {
        fprintf(stderr, "evitrack enrol: the database is busy\n");
        goto out;
    }
    int st = users_enrol(db, 0, learner, qid, assessor, iqa, v[5], v[6], &id, &field, err, sizeof err);
    if (st != 0 || db_commit(db) != EV_OK) {
        db_rollback(db);
        fprintf(stderr, "evitrack enrol: %s\n", err[0] ? err : "could not save");
        goto out;
    }
    printf("enrolled %s on %s with assessor %s%s%s (enrolment %lld)\n", v[1], v[2], v[3],
           v[4] ? " and IQA " : "", v[4] ? v[4] : "", (long long)id);
    code = 0;
out:
    db_close(db);
    return code;
}

int users_cmd_routes(int argc, char **argv)
{
    if (argc > 0) {
        fprintf(stderr, "evitrack routes: takes no arguments\n");
        return 2;
    }
    json_t *all = json_array();
    for (size_t t = 0; router_tables[t]; t++) {
        for (const route_t *rt = router_tables[t]; rt->method; rt++) {
            json_t *rl = json_array();
            for (unsigned bit = 1; bit <= ROLE_EMPLOYER; bit <<= 1)
                if (policy_route_roles(rt) & bit)
                    json_array_append_new(rl, json_string(role_name(bit)));
            const char *eqa_scope = policy_eqa_scope_name(rt);
            json_array_append_new(all, json_pack("{s:s, s:s, s:o, s:s?, s:b, s:b, s:b, s:b, s:b}",
                "method", rt->method, "pattern", rt->pattern, "roles", rl, "eqa_scope", eqa_scope,
                "public", rt->roles == 0, "page", rt->tmpl != NULL,
                "upload", (rt->flags & ROUTE_UPLOAD) != 0, "no_csrf", (rt->flags & ROUTE_NO_CSRF) != 0,
                "optional_auth", (rt->flags & ROUTE_OPTIONAL_AUTH) != 0));
        }
    }
    char *s = json_dumps(all, JSON_INDENT(1));
    json_decref(all);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Demo accounts                                                        */
/* ------------------------------------------------------------------ */

int users_demo_seed(db_t *db)
{
    static const struct {
        const char *email, *name, *role;
    } people[] = {
        {"admin@demo.test", "Priya Shah", "admin"},
        {"assessor@demo.test", "Tom Okafor", "assessor"},
        {"assessor2@demo.test", "Hannah Price", "assessor"},
        {"iqa@demo.test", "Gareth Lewis", "iqa"},
        {"eqa@demo.test", "Fiona Campbell", "eqa"},
        {"learner@demo.test", "Amy Clarke", "learner"},
        {"learner2@demo.test", "Ben Wright", "learner"},
        {"learner3@demo.test", "Chloe Evans", "learner"},
    };
    /* Started some months ago, for a year: the centre has learners at
     * different points of their programme. */
    static const struct {
        const char *learner, *assessor;
        int started_months_ago;
    } enrol[] = {
        {"learner@demo.test", "assessor@demo.test", 6},
        {"learner2@demo.test", "assessor@demo.test", 10},
        {"learner3@demo.test", "assessor2@demo.test", 2},
    };
    int own = 0, rc = EV_ERR;
    json_t *quals = NULL;
    char hash[AUTH_HASH_MAX], err[200] = "";
    const char *field = NULL;
    int64_t id;
    /* One hash for all: the demo accounts share one password anyway, and this
     * keeps `serve --demo` from spending ~70 ms per account. */
    if (auth_hash_password(DEMO_PASSWORD, hash) != EV_OK)
        return EV_ERR;
    if (begin_if_needed(db, &own) != EV_OK)
        return EV_ERR;
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        if (db_int(db, "SELECT 1 FROM users WHERE lower(email) = lower(?)", 0, "t", people[i].email) == 1)
            continue;
        if (create_with_hash(db, 0, people[i].email, people[i].name, people[i].role, hash, &id, &field,
                             err, sizeof err) != 0) {
            ev_log("demo: %s: %s", people[i].email, err);
            goto out;
        }
    }
    quals = db_all(db, "SELECT id, code FROM qualifications WHERE kind = 'qualification' ORDER BY id LIMIT 3", "");
    int64_t iqa = db_int(db, "SELECT id FROM users WHERE email = 'iqa@demo.test'", 0, "");
    size_t qi;
    json_t *q;
    json_array_foreach(quals, qi, q) {
        int64_t qid = json_integer_value(json_object_get(q, "id"));
        for (size_t i = 0; i < sizeof enrol / sizeof enrol[0]; i++) {
            int64_t l = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?)", 0, "t", enrol[i].learner);
            int64_t a = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?)", 0, "t", enrol[i].assessor);
            if (db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND qualification_id = ?", 0,
                       "ii", l, qid) == 1)
                continue;
            char start[11], end[11];
            date_months(start, -enrol[i].started_months_ago);
            date_months(end, 12 - enrol[i].started_months_ago);
            int st = users_enrol(db, 0, l, qid, a, iqa, start, end, &id, &field, err, sizeof err);
            if (st != 0) {
                ev_log("demo: enrol %s: %s", enrol[i].learner, err);
                goto out;
            }
        }
    }
    if (own && db_commit(db) != EV_OK)
        goto out;
    own = 0;
    printf("Demo accounts (password: %s):\n", DEMO_PASSWORD);
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++)
        printf("  %-9s %s\n", people[i].role, people[i].email);
    fflush(stdout);
    rc = EV_OK;
out:
    if (own)
        db_rollback(db);
    json_decref(quals);
    return rc;
}

int64_t users_count_learners(db_t *db)
{
    /* "role <> 'learner'" as two ranges, so each is a search of users_role */
    return db_int(db, "SELECT (SELECT count(*) FROM users) - (SELECT count(*) FROM users"
                      " WHERE role < 'learner' OR role > 'learner')", 0, "");
}
