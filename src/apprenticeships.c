/* apprenticeships.c: employers and their contacts, apprenticeship enrolments on a standard,
 * off-the-job training entries (record, verify, query), breaks in learning, their pages,
 * API and CSV exports */
#include "apprenticeships.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "audit.h"
#include "centre.h"
#include "demo.h"
#include "policy.h"
#include "progress.h"
#include "reviews.h"
#include "status.h"
#include "users.h"

/*
 * Who may do what (policy.c decides reads; these are the writes):
 *   record an entry     the apprentice themself, or their assessor
 *   verify / query      the apprentice's assessor, or a contact of the apprentice's employer
 *   start / end a break the apprentice's assessor, or an admin
 *   employers, apprenticeship enrolments, the cohort CSV: admin
 */

/* The activity types of off-the-job training (ESFA apprenticeship funding rules,
 * "Off-the-job training": examples of activities that count). */
static const struct {
    const char *value, *label;
} ACTIVITIES[] = {
    {"theory", "Teaching of theory"},
    {"practical", "Practical training"},
    {"shadowing", "Shadowing"},
    {"mentoring", "Mentoring"},
    {"industry_visit", "Industry visits"},
    {"online", "Online learning"},
    {"assignment", "Assignment writing"},
    {"other", "Other"},
};
#define NACTIVITIES (sizeof ACTIVITIES / sizeof ACTIVITIES[0])

static const char *activity_label(const char *v)
{
    for (size_t i = 0; i < NACTIVITIES; i++)
        if (v && !strcmp(v, ACTIVITIES[i].value))
            return ACTIVITIES[i].label;
    return NULL;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static void set_text(json_t *o, const char *key, int64_t minutes)
{
    char t[32];
    otj_format_minutes(minutes, t);
    json_object_set_new(o, key, json_string(t));
}

/* ------------------------------------------------------------------ pace */

/* Columns every caller selects for apprenticeships_pace. */
#define PACE_COLUMNS                                                                                        \
    "e.start_date, e.planned_end_date, e.status, a.planned_otj_minutes, a.recorded_minutes, "                \
    "a.verified_minutes, a.break_days, a.break_open_since"

int apprenticeships_pace(json_t *row, int64_t today, otj_plan_t *plan, otj_pace_t *pace)
{
    int64_t s = 0, e = 0, o = -1;
    int ok = progress_day_number(jstr(row, "start_date"), &s) == EV_OK &&
             progress_day_number(jstr(row, "planned_end_date"), &e) == EV_OK;
    if (*jstr(row, "break_open_since") && progress_day_number(jstr(row, "break_open_since"), &o) != EV_OK)
        o = -1;
    plan->start = ok ? s : today;
    plan->end = ok ? e : today + 1;
    plan->break_days = jint(row, "break_days");
    plan->open_since = o;
    plan->planned_minutes = ok ? jint(row, "planned_otj_minutes") : 0;
    otj_pace(plan, jint(row, "recorded_minutes"), today, pace);
    if (!strcmp(jstr(row, "status"), "withdrawn"))
        pace->state = PACE_WITHDRAWN;
    return ok ? EV_OK : EV_ERR;
}

json_t *apprenticeships_pace_json(json_t *row, int64_t today)
{
    otj_plan_t plan;
    otj_pace_t p;
    apprenticeships_pace(row, today, &plan, &p);
    json_t *o = json_object();
    json_object_set_new(o, "planned_minutes", json_integer(plan.planned_minutes));
    json_object_set_new(o, "recorded_minutes", json_integer(jint(row, "recorded_minutes")));
    json_object_set_new(o, "verified_minutes", json_integer(jint(row, "verified_minutes")));
    json_object_set_new(o, "expected_minutes", json_integer(p.expected_minutes));
    set_text(o, "planned_text", plan.planned_minutes);
    set_text(o, "recorded_text", jint(row, "recorded_minutes"));
    set_text(o, "verified_text", jint(row, "verified_minutes"));
    set_text(o, "expected_text", p.expected_minutes);
    json_object_set_new(o, "percent", json_integer(p.percent));
    json_object_set_new(o, "expected_percent", json_integer(p.expected_percent));
    json_object_set_new(o, "plan_days", json_integer(p.plan_days));
    json_object_set_new(o, "active_days", json_integer(p.active_days));
    json_object_set_new(o, "break_days", json_integer(plan.break_days));
    json_object_set_new(o, "on_break", json_boolean(plan.open_since >= 0 && plan.open_since <= today));
    json_object_set_new(o, "state", json_string(progress_pace_name(p.state)));
    json_object_set_new(o, "label", json_string(progress_pace_label(p.state)));
    char key[32];
    snprintf(key, sizeof key, "is_%s", progress_pace_name(p.state));
    json_object_set_new(o, key, json_true());
    return o;
}

/* The learner's apprenticeship rows (newest first) with the pace columns, standard and
 * employer. Caller owns. */
static json_t *load_apprenticeships(db_t *db, int64_t learner_id)
{
    return db_all(db,
                  "SELECT a.id, a.enrolment_id, a.employer_id, a.weekly_minutes, a.rpl_otj_minutes, a.rpl_note, "
                  PACE_COLUMNS ", e.qualification_id, e.assessor_id, q.code, q.title, em.name AS employer "
                  "FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id "
                  "JOIN qualifications q ON q.id = e.qualification_id JOIN employers em ON em.id = a.employer_id "
                  "WHERE a.learner_id = ? ORDER BY a.id DESC",
                  "i", learner_id);
}

void apprenticeships_annotate_progress(db_t *db, int64_t learner_id, json_t *doc, int64_t today)
{
    json_t *apps = load_apprenticeships(db, learner_id);
    size_t i, k;
    json_t *a, *q;
    json_array_foreach(apps, i, a) {
        json_array_foreach(json_object_get(doc, "qualifications"), k, q) {
            if (jint(q, "enrolment_id") != jint(a, "enrolment_id"))
                continue;
            json_t *o = apprenticeships_pace_json(a, today);
            json_object_set_new(o, "apprenticeship_id", json_integer(jint(a, "id")));
            json_object_set_new(o, "employer", json_string(jstr(a, "employer")));
            json_object_set_new(o, "learner_id", json_integer(learner_id));
            json_object_set_new(q, "otj", o);
        }
    }
    json_decref(apps);
}

int apprenticeships_employer_of(db_t *db, int64_t user_id, int64_t learner_id)
{
    return db_int(db,
                  "SELECT 1 FROM apprenticeships a JOIN employer_contacts c ON c.employer_id = a.employer_id "
                  "WHERE a.learner_id = ? AND c.user_id = ? LIMIT 1",
                  0, "ii", learner_id, user_id) == 1;
}

json_t *apprenticeships_enrolment_otj(db_t *db, int64_t enrolment_id, int64_t today)
{
    json_t *row = db_one(db, "SELECT " PACE_COLUMNS " FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id "
                             "WHERE a.enrolment_id = ?", "i", enrolment_id);
    if (!row)
        return NULL;
    json_t *o = apprenticeships_pace_json(row, today);
    json_decref(row);
    return o;
}

/* ------------------------------------------------------------------ input helpers */

/* A whole number field given as a JSON integer or a form string; *out untouched and 0
 * returned when absent or empty; -1 when present but not a whole number in 0..max. */
static int opt_int(req_t *r, const char *key, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(r->in, key);
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        return 0;
    int64_t n;
    if (in_int(r, key, &n) != EV_OK || n < 0 || n > max)
        return -1;
    *out = n;
    return 1;
}

/* A number of hours given as 30, "37.5" or "7.25": minutes into *out. 1, 0 absent, -1 bad. */
static int opt_hours(req_t *r, const char *key, int64_t max_hours, int64_t *out)
{
    json_t *v = json_object_get(r->in, key);
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        return 0;
    double h;
    if (json_is_number(v)) {
        h = json_number_value(v);
    } else if (json_is_string(v)) {
        char *end = NULL;
        h = strtod(json_string_value(v), &end);
        if (!end || *end || end == json_string_value(v))
            return -1;
    } else {
        return -1;
    }
    if (!(h >= 0 && h <= (double)max_hours))
        return -1;
    *out = (int64_t)(h * 60 + 0.5);
    return 1;
}

/* A copy of s without leading and trailing white space (caller frees). */
static char *util_trim_dup(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *out = malloc(n + 1);
    if (!out)
        abort();
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static int64_t today_day(void)
{
    return progress_today();
}

/* YYYY-MM-DD and its day number; NULL message when fine, else why not. */
static const char *date_problem(const char *s, int64_t *day)
{
    if (!s || !*s)
        return "Enter a date";
    if (!util_valid_date(s) || progress_day_number(s, day) != EV_OK)
        return "Enter a real date in the format YYYY-MM-DD, for example 2026-03-27";
    return NULL;
}

/* Sends the form errors as one 400 (pages re-render with the summary). */
static int fail_fields(req_t *r, const char *message)
{
    return http_fail(r, 400, "invalid_input", "%s", message);
}

/* ------------------------------------------------------------------ employers */

/* Every employer with its contacts and apprentice count (a new array). */
static json_t *employers_rows(db_t *db)
{
    json_t *rows = db_all(db,
                          "SELECT em.id, em.name, (SELECT count(*) FROM apprenticeships a WHERE a.employer_id = em.id) "
                          "AS apprentices FROM employers em ORDER BY lower(em.name), em.id", "");
    size_t i;
    json_t *e;
    json_array_foreach(rows, i, e) {
        json_t *c = db_all(db, "SELECT u.id, u.name, u.email FROM employer_contacts c JOIN users u ON u.id = c.user_id "
                               "WHERE c.employer_id = ? ORDER BY u.name, u.id", "i", jint(e, "id"));
        json_object_set_new(e, "contacts", c ? c : json_array());
    }
    return rows ? rows : json_array();
}

/* GET /api/v1/employers: every employer with its contacts and apprentice count. */
static int employers_list(req_t *r)
{
    http_set_out(r, json_pack("{s:o}", "employers", employers_rows(r->db)));
    return 200;
}

/* POST /api/v1/employers {name}: 201 {employer}; 409 when the name is taken. */
static int employer_create(req_t *r)
{
    const char *name = in_str(r, "name");
    char *n = util_trim_dup(name ? name : "");
    int st = 201;
    if (!r->is_api) /* the page shows the list and the form again */
        json_object_set_new(http_out(r), "employers", employers_rows(r->db)),
            json_object_set_new(http_out(r), "form", json_pack("{s:s}", "name", name ? name : ""));
    if (!*n || strlen(n) > 200) {
        http_field_error(r, "name", "Enter the employer's name (up to 200 characters)");
        st = fail_fields(r, "Check the employer's details.");
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    int64_t id = db_int(r->db, "INSERT INTO employers (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING "
                               "RETURNING id", 0, "tt", n, now);
    if (id <= 0) {
        db_rollback(r->db);
        http_field_error(r, "name", "There is already an employer with this name");
        st = http_fail(r, 409, "conflict", "There is already an employer called %s.", n);
        goto out;
    }
    json_t *after = json_pack("{s:s}", "name", n);
    int arc = audit_record(r->db, r->user.id, "employer.create", "employer", id, 0, NULL, after);
    json_decref(after);
    if (arc != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The employer could not be saved.");
        goto out;
    }
    http_set_out(r, json_pack("{s:{s:I, s:s}}", "employer", "id", (json_int_t)id, "name", n));
    http_redirect(r, "/admin/employers/%lld?done=employer_created", (long long)id);
out:
    free(n);
    return st;
}

static int employer_show_for(req_t *r, int64_t id);

/* POST /api/v1/employers/{id}/contacts, /admin/employers/{id}/contacts {user_id} or
 * {name, email}: links an account of role employer to the employer (one employer per
 * contact), or creates one (it chooses its own password through an emailed invitation,
 * accounts_invite) and links it. 201 {contact}; 400 not an employer account or bad
 * name/email; 409 linked already or the email is taken. */
static int employer_contact_add(req_t *r)
{
    int64_t eid = r->params[0], uid = 0;
    const char *field = NULL;
    char err[200] = "";
    int st = 201, created = 0;
    if (db_int(r->db, "SELECT 1 FROM employers WHERE id = ?", 0, "i", eid) != 1)
        return http_fail(r, 404, "not_found", "There is no employer %lld.", (long long)eid);
    if (!r->is_api)
        json_object_set(http_out(r), "form", r->in);
    json_t *uv = json_object_get(r->in, "user_id");
    int by_account = uv && !json_is_null(uv) && !(json_is_string(uv) && !*json_string_value(uv));
    const char *name = in_str(r, "name"), *email = in_str(r, "email");
    if (by_account) {
        if (in_int(r, "user_id", &uid) != EV_OK ||
            db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'employer'", 0, "i", uid) != 1)
            http_field_error(r, "user_id", "Choose an account with the employer role");
    } else if ((!name || !*name) && (!email || !*email)) {
        http_field_error(r, "name", "Enter the contact's full name, or choose an existing employer account");
        http_field_error(r, "email", "Enter the contact's email address");
    }
    if (http_field_error_count(r)) {
        st = fail_fields(r, "Check the contact.");
        goto fail;
    }
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    if (!by_account) {
        char *n = util_trim_dup(name ? name : ""), *e = util_trim_dup(email ? email : "");
        st = users_create_invited(r->db, r->user.id, e, n, "employer", &uid, &field, err, sizeof err);
        free(n);
        free(e);
        if (st) {
            db_rollback(r->db);
            http_field_error(r, field && !strcmp(field, "name") ? "name" : "email", err);
            st = st == 409 ? http_fail(r, 409, "conflict", "%s", err) : fail_fields(r, "Check the contact.");
            goto fail;
        }
        st = 201;
        created = 1;
    }
    int64_t id = db_int(r->db, "INSERT INTO employer_contacts (user_id, employer_id) VALUES (?, ?) "
                               "ON CONFLICT (user_id) DO NOTHING RETURNING id", 0, "ii", uid, eid);
    if (id <= 0) {
        db_rollback(r->db);
        http_field_error(r, "user_id", "This account is already the contact of an employer");
        st = http_fail(r, 409, "conflict", "This account is already the contact of an employer.");
        goto fail;
    }
    json_t *after = json_pack("{s:I, s:I, s:b}", "user_id", (json_int_t)uid, "employer_id", (json_int_t)eid, "invited",
                              created);
    int arc = audit_record(r->db, r->user.id, "employer.contact", "employer", eid, 0, NULL, after);
    json_decref(after);
    if (arc != EV_OK || (created && accounts_invite(r->db, uid, r->user.name, "Employer contact") != EV_OK) ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "internal", "The contact could not be saved.");
    }
    http_set_out(r, json_pack("{s:{s:I, s:I, s:b}}", "contact", "user_id", (json_int_t)uid, "employer_id", (json_int_t)eid,
                              "invited", created));
    http_redirect(r, "/admin/employers/%lld?done=contact_added", (long long)eid);
    return 201;
fail:
    if (!r->is_api)
        employer_show_for(r, eid);
    return st;
}

/* ------------------------------------------------------------------ apprenticeship enrolment */

/* Creates the apprenticeship inside the caller's transaction: the enrolment on the standard
 * (users_enrol), optional enrolments on qualifications, the apprenticeship row and its RPL
 * KSBs, and the audit event. Returns 0 and *id, or a status with a field error set on r. */
static int create_apprenticeship(req_t *r, int64_t learner, int64_t standard, int64_t assessor, int64_t iqa,
                                 int64_t employer, const char *start, const char *end, int64_t weekly,
                                 int64_t planned, int64_t rpl, const char *rpl_note, json_t *rpl_ksbs,
                                 json_t *quals, int64_t review_weeks, int64_t *id)
{
    const char *field = NULL;
    char err[200] = "";
    int64_t eid = 0, other = 0;
    int st = users_enrol(r->db, r->user.id, learner, standard, assessor, iqa, start, end, &eid, &field, err, sizeof err);
    if (st) {
        http_field_error(r, field ? field : "standard_id", err);
        return st;
    }
    size_t i;
    json_t *v;
    json_array_foreach(quals, i, v) {
        st = users_enrol(r->db, r->user.id, learner, (int64_t)json_integer_value(v), assessor, iqa, start, end, &other,
                         &field, err, sizeof err);
        if (st) {
            http_field_error(r, "qualification_ids", err);
            return st;
        }
    }
    if (db_run(r->db, "UPDATE enrolments SET review_interval_weeks = ? WHERE id = ?", "ii", review_weeks, eid) != EV_OK)
        return 500;
    char now[21];
    util_now_iso(now);
    *id = db_int(r->db,
                 "INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes, planned_otj_minutes,"
                 " rpl_otj_minutes, rpl_note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                 0, "iiiiiitt", eid, learner, employer, weekly, planned, rpl, rpl_note, now);
    if (*id <= 0) {
        http_field_error(r, "learner_id", "This enrolment is already an apprenticeship");
        return 409;
    }
    json_array_foreach(rpl_ksbs, i, v) {
        if (db_run(r->db, "INSERT INTO apprenticeship_rpl_ksbs (apprenticeship_id, criterion_id) VALUES (?, ?) "
                          "ON CONFLICT (apprenticeship_id, criterion_id) DO NOTHING",
                   "ii", *id, (int64_t)json_integer_value(v)) != EV_OK)
            return 500;
    }
    /* the recognised KSBs leave the learner's totals (status.h) */
    if (json_array_size(rpl_ksbs) && status_sync_learner(r->db, learner) != EV_OK)
        return 500;
    json_t *after = json_pack("{s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:O, s:I}", "enrolment_id", (json_int_t)eid,
                              "standard_id", (json_int_t)standard, "employer_id", (json_int_t)employer, "start_date",
                              start, "planned_end_date", end, "weekly_minutes", (json_int_t)weekly,
                              "planned_otj_minutes", (json_int_t)planned, "rpl_otj_minutes", (json_int_t)rpl,
                              "rpl_ksbs", rpl_ksbs, "review_interval_weeks", (json_int_t)review_weeks);
    int arc = audit_record(r->db, r->user.id, "apprenticeship.create", "apprenticeship", *id, learner, NULL, after);
    json_decref(after);
    return arc == EV_OK ? 0 : 500;
}

/* The KSB codes of a form or API value: an array of codes, or text like "K1, S2 B3"
 * (commas, semicolons or spaces between). A new array of strings. */
static json_t *ksb_codes(req_t *r)
{
    json_t *in = in_array(r, "rpl_ksbs"), *out = json_array(), *v;
    size_t i;
    json_array_foreach(in, i, v) {
        if (!json_is_string(v)) {
            json_array_append_new(out, json_string("?"));
            continue;
        }
        char *copy = xstrdup(json_string_value(v)), *save = NULL;
        for (char *t = strtok_r(copy, " ,;\t\r\n", &save); t; t = strtok_r(NULL, " ,;\t\r\n", &save))
            json_array_append_new(out, json_string(t));
        free(copy);
    }
    json_decref(in);
    return out;
}

/* The RPL KSB codes as ids of standard's KSBs into ids (appended); a field error and
 * EV_ERR when one is not a KSB of it. */
static int ksb_ids_of(req_t *r, int64_t standard, json_t *codes, json_t *ids)
{
    size_t i;
    json_t *v;
    json_array_foreach(codes, i, v) {
        int64_t cid = db_int(r->db, "SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id "
                                    "WHERE u.qualification_id = ? AND u.kind <> '' AND c.retired = 0 "
                                    "AND lower(c.ref) = lower(?)", 0, "it", standard, json_string_value(v));
        if (cid <= 0) {
            http_field_error(r, "rpl_ksbs", "List KSB codes of the standard (K1, S2, B3)");
            return EV_ERR;
        }
        json_array_append_new(ids, json_integer(cid));
    }
    return EV_OK;
}

/* The fields an apprenticeship's plan shares between creating and editing it: weekly
 * hours (required when need_weekly), planned hours (before prior learning; *planned
 * stays -1 when left empty), RPL hours and note, review interval in weeks. A field left
 * out keeps the value its out-argument came in with. Field errors on r. */
static void plan_fields(req_t *r, int need_weekly, int64_t *weekly, int64_t *planned, int64_t *rpl, int64_t *weeks,
                        const char **note)
{
    int wk = opt_hours(r, "weekly_hours", 80, weekly);
    if (wk < 0 || (wk == 0 && need_weekly) || (wk == 1 && *weekly < 60))
        http_field_error(r, "weekly_hours", "Enter the apprentice's contracted hours a week, from 1 to 80");
    if (opt_hours(r, "planned_otj_hours", 10000, planned) < 0)
        http_field_error(r, "planned_otj_hours", "Enter the planned off-the-job hours as a number from 0 to 10000");
    if (opt_hours(r, "rpl_otj_hours", 10000, rpl) < 0)
        http_field_error(r, "rpl_otj_hours", "Enter the hours recognised as prior learning as a number from 0 to 10000");
    *note = in_str(r, "rpl_note");
    if (*note && strlen(*note) > 2000)
        http_field_error(r, "rpl_note", "Keep the note on prior learning under 2000 characters");
    int64_t w = *weeks;
    int got = opt_int(r, "review_interval_weeks", 12, &w);
    if (got < 0 || (got == 1 && w < 1))
        http_field_error(r, "review_interval_weeks", "Enter how often progress reviews are due, in weeks, from 1 to 12");
    else
        *weeks = w;
}

/* The choices of the apprenticeship forms (standards, qualifications, assessors, IQAs,
 * employers), each marked selected as the request (or form) has it, onto r->out. */
static void appr_options(req_t *r, json_t *form)
{
    static const struct {
        const char *key, *field, *sql;
    } lists[] = {
        {"standards", "standard_id", "SELECT id, code, title FROM qualifications WHERE kind = 'standard' ORDER BY title, id"},
        {"qualifications", "qualification_ids",
         "SELECT id, code, title FROM qualifications WHERE kind = 'qualification' ORDER BY title, id"},
        {"assessors", "assessor_id", "SELECT id, name, email FROM users WHERE role = 'assessor' AND disabled = 0 "
                                     "ORDER BY name, id"},
        {"iqas", "iqa_id", "SELECT id, name, email FROM users WHERE role = 'iqa' AND disabled = 0 ORDER BY name, id"},
        {"employers", "employer_id", "SELECT id, name FROM employers ORDER BY lower(name), id"},
    };
    json_t *out = http_out(r);
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        json_t *rows = db_all(r->db, lists[k].sql, "");
        json_t *want = json_object_get(form, lists[k].field), *row, *w;
        size_t i, j;
        json_array_foreach(rows, i, row) {
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)jint(row, "id"));
            int sel = 0;
            if (json_is_array(want)) {
                json_array_foreach(want, j, w)
                    sel |= (json_is_string(w) && !strcmp(json_string_value(w), id)) ||
                           (json_is_integer(w) && json_integer_value(w) == jint(row, "id"));
            } else {
                sel = (json_is_string(want) && !strcmp(json_string_value(want), id)) ||
                      (json_is_integer(want) && json_integer_value(want) == jint(row, "id"));
            }
            if (sel)
                json_object_set_new(row, "selected", json_true());
        }
        json_object_set_new(out, lists[k].key, rows ? rows : json_array());
    }
}

/* Hours as a form shows them: "30", "7.5", "" for none. */
static void hours_text(int64_t minutes, char out[32])
{
    if (minutes % 60 == 0)
        snprintf(out, 32, "%lld", (long long)(minutes / 60));
    else
        snprintf(out, 32, "%.2f", (double)minutes / 60.0);
}

/* POST /api/v1/apprenticeships, /admin/apprenticeships {learner_id | learner_email,
 * standard_id, assessor_id, iqa_id?, employer_id, start_date, planned_end_date,
 * weekly_hours, planned_otj_hours?, rpl_otj_hours?, rpl_note?, rpl_ksbs?: ["K1", ...] or
 * "K1, B4", qualification_ids?: [...], review_interval_weeks? (1..12, default 12)}:
 * 201 {apprenticeship}. Planned hours default to the minimum (otj_minimum_minutes);
 * either way the RPL hours are taken off (otj_after_rpl): planned_otj_minutes is the
 * plan after the reduction. The page re-renders its form with every error. */
static int apprenticeship_create(req_t *r)
{
    int64_t learner = 0, standard = 0, assessor = 0, iqa = 0, employer = 0, weekly = 0, planned = -1, rpl = 0;
    int64_t sd = 0, ed = 0, weeks = 12;
    json_t *ksb_ids = json_array(), *qual_ids = json_array(), *codes = ksb_codes(r),
           *quals = in_array(r, "qualification_ids");
    const char *start = in_str(r, "start_date"), *end = in_str(r, "planned_end_date"), *pr, *note = NULL;
    const char *lemail = in_str(r, "learner_email");
    int st = 201;
    if (!r->is_api) { /* the page shows the form again as it was sent */
        json_object_set(http_out(r), "form", r->in);
        appr_options(r, r->in);
    }
    if (in_int(r, "learner_id", &learner) != EV_OK && lemail && *lemail)
        learner = db_int(r->db, "SELECT id FROM users WHERE lower(email) = lower(?) AND role = 'learner'", 0, "t", lemail);
    if (learner <= 0 || db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'learner'", 0, "i", learner) != 1)
        http_field_error(r, r->is_api || json_object_get(r->in, "learner_id") ? "learner_id" : "learner_email",
                         "Choose the apprentice (an account with the learner role)");
    if (in_int(r, "standard_id", &standard) != EV_OK ||
        db_int(r->db, "SELECT 1 FROM qualifications WHERE id = ? AND kind = 'standard'", 0, "i", standard) != 1)
        http_field_error(r, "standard_id", "Choose an apprenticeship standard that has been imported");
    if (in_int(r, "assessor_id", &assessor) != EV_OK ||
        db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'assessor'", 0, "i", assessor) != 1)
        http_field_error(r, "assessor_id", "Choose the assessor");
    json_t *iv = json_object_get(r->in, "iqa_id");
    if (iv && !json_is_null(iv) && !(json_is_string(iv) && !*json_string_value(iv)) &&
        (in_int(r, "iqa_id", &iqa) != EV_OK ||
         db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'iqa'", 0, "i", iqa) != 1))
        http_field_error(r, "iqa_id", "Choose an internal quality assurer, or leave it out");
    if (in_int(r, "employer_id", &employer) != EV_OK ||
        db_int(r->db, "SELECT 1 FROM employers WHERE id = ?", 0, "i", employer) != 1)
        http_field_error(r, "employer_id", "Choose the employer");
    if ((pr = date_problem(start, &sd)))
        http_field_error(r, "start_date", pr);
    if ((pr = date_problem(end, &ed)))
        http_field_error(r, "planned_end_date", pr);
    else if (start && sd && ed <= sd)
        http_field_error(r, "planned_end_date", "The planned end date must be after the start date");
    plan_fields(r, 1, &weekly, &planned, &rpl, &weeks, &note);
    if (standard > 0)
        ksb_ids_of(r, standard, codes, ksb_ids);
    size_t i;
    json_t *v;
    json_array_foreach(quals, i, v) {
        int64_t qid = 0;
        if (!(json_is_integer(v) || json_is_string(v)) ||
            (json_is_integer(v) ? (qid = json_integer_value(v)) : (util_parse_i64(json_string_value(v), &qid) == EV_OK ? qid : 0)) <= 0 ||
            db_int(r->db, "SELECT 1 FROM qualifications WHERE id = ? AND kind = 'qualification'", 0, "i", qid) != 1) {
            http_field_error(r, "qualification_ids", "Choose qualifications that have been imported");
            break;
        }
        json_array_append_new(qual_ids, json_integer(qid));
    }
    if (http_field_error_count(r)) {
        st = fail_fields(r, "Check the apprenticeship details.");
        goto out;
    }
    if (planned < 0) {
        int64_t min_hours = db_int(r->db, "SELECT coalesce(min_otj_hours, 0) FROM qualifications WHERE id = ?", 0,
                                   "i", standard);
        planned = otj_minimum_minutes(sd, ed, weekly, min_hours);
    }
    planned = otj_after_rpl(planned, rpl); /* hours given are the plan before prior learning */
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    int64_t id = 0;
    int cst = create_apprenticeship(r, learner, standard, assessor, iqa, employer, start, end, weekly, planned, rpl,
                                    note ? note : "", ksb_ids, qual_ids, weeks, &id);
    if (cst || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        st = cst && cst != 500 ? http_fail(r, cst, cst == 409 ? "conflict" : "invalid_input", "The apprenticeship could "
                                                                                             "not be created.")
                               : http_fail(r, 500, "internal", "The apprenticeship could not be saved.");
        goto out;
    }
    json_t *row = db_one(r->db,
                         "SELECT a.id, a.enrolment_id, a.learner_id, a.employer_id, a.weekly_minutes, "
                         "a.planned_otj_minutes, a.rpl_otj_minutes, a.rpl_note FROM apprenticeships a WHERE a.id = ?",
                         "i", id);
    http_set_out(r, json_pack("{s:o}", "apprenticeship", row ? row : json_object()));
    http_redirect(r, "/admin/apprenticeships/%lld?done=apprenticeship_created", (long long)id);
out:
    json_decref(ksb_ids);
    json_decref(qual_ids);
    json_decref(codes);
    json_decref(quals);
    return st;
}

/* The dashboard reads the hours afresh once the apprenticeship's enrolment is touched. */
static int touch_enrolment(db_t *db, int64_t apprenticeship_id)
{
    return centre_mark_stale(db, db_int(db, "SELECT enrolment_id FROM apprenticeships WHERE id = ?", 0, "i",
                                        apprenticeship_id), 0);
}

/* ------------------------------------------------------------------ the off-the-job page */
/* Leaves in apps (and entries, by apprenticeship_id) only the apprenticeships on the
 * qualifications the reader may see: an EQA sees its visit's (issue 18, policy_qscope). */
static void visible_apprenticeships(req_t *r, int64_t learner_id, json_t *apps, json_t *entries)
{
    qscope_t qs;
    if (policy_qscope(r->db, &r->user, learner_id, &qs) != EV_OK) {
        json_array_clear(apps);
        json_array_clear(entries);
        return;
    }
    if (!qs.all) {
        qscope_filter(&qs, apps, "qualification_id");
        for (size_t i = json_array_size(entries); i-- > 0;) {
            int64_t app = jint(json_array_get(entries, i), "apprenticeship_id");
            int keep = 0;
            size_t k;
            json_t *a;
            json_array_foreach(apps, k, a) keep |= jint(a, "id") == app;
            if (!keep)
                json_array_remove(entries, i);
        }
    }
    qscope_free(&qs);
}


/* The learner's off-the-job document: {learner, apprenticeships[{..., pace, breaks[]}],
 * entries[], activities[], can_record, can_verify, can_manage_breaks}. NULL: no learner. */
static json_t *otj_doc(req_t *r, int64_t learner_id, int64_t today)
{
    json_t *learner = db_one(r->db, "SELECT id, name, email, uln FROM users WHERE id = ? AND role = 'learner'", "i",
                             learner_id);
    if (!learner)
        return NULL;
    json_t *apps = load_apprenticeships(r->db, learner_id);
    if (!apps)
        apps = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(apps, i, a) {
        json_object_set_new(a, "pace", apprenticeships_pace_json(a, today));
        set_text(a, "rpl_text", jint(a, "rpl_otj_minutes"));
        char wk[32];
        otj_format_minutes(jint(a, "weekly_minutes"), wk);
        json_object_set_new(a, "weekly_text", json_string(wk));
        json_t *b = db_all(r->db,
                           "SELECT b.id, b.start_date, b.end_date, b.reason, b.recorded_at, u.name AS recorded_by "
                           "FROM learning_breaks b LEFT JOIN users u ON u.id = b.recorded_by "
                           "WHERE b.apprenticeship_id = ? ORDER BY b.start_date DESC, b.id DESC",
                           "i", jint(a, "id"));
        json_t *br;
        size_t k;
        json_array_foreach(b, k, br) {
            int64_t s = 0, e = 0;
            if (json_is_string(json_object_get(br, "end_date")) &&
                progress_day_number(jstr(br, "start_date"), &s) == EV_OK &&
                progress_day_number(jstr(br, "end_date"), &e) == EV_OK)
                json_object_set_new(br, "days", json_integer(e - s));
            else
                json_object_set_new(br, "open", json_true());
        }
        json_object_set_new(a, "breaks", b ? b : json_array());
        json_object_set_new(a, "rpl_ksbs",
                            db_all(r->db, "SELECT c.ref FROM apprenticeship_rpl_ksbs k JOIN criteria c ON c.id = "
                                          "k.criterion_id WHERE k.apprenticeship_id = ? ORDER BY c.unit_id, c.position",
                                   "i", jint(a, "id")));
    }
    json_t *entries = db_all(r->db,
                             "SELECT o.id, o.apprenticeship_id, o.occurred_on, o.minutes, o.activity, o.description, "
                             "o.evidence_id, o.status, o.recorded_at, o.reviewed_at, o.review_note, "
                             "rb.name AS recorded_by, vb.name AS reviewed_by, ev.title AS evidence_title "
                             "FROM otj_entries o JOIN users rb ON rb.id = o.recorded_by "
                             "LEFT JOIN users vb ON vb.id = o.reviewed_by "
                             "LEFT JOIN evidence ev ON ev.id = o.evidence_id "
                             "WHERE o.learner_id = ? ORDER BY o.occurred_on DESC, o.id DESC",
                             "i", learner_id);
    visible_apprenticeships(r, learner_id, apps, entries);
    json_t *e;
    int can_verify = (r->user.role == ROLE_ASSESSOR && policy_can_assess_learner(r->db, &r->user, learner_id)) ||
                     (r->user.role == ROLE_EMPLOYER && apprenticeships_employer_of(r->db, r->user.id, learner_id));
    json_array_foreach(entries, i, e) {
        set_text(e, "duration_text", jint(e, "minutes"));
        const char *l = activity_label(jstr(e, "activity"));
        json_object_set_new(e, "activity_label", json_string(l ? l : jstr(e, "activity")));
        char key[32];
        snprintf(key, sizeof key, "is_%s", jstr(e, "status"));
        json_object_set_new(e, key, json_true());
        json_object_set_new(e, "verifiable", json_boolean(can_verify && strcmp(jstr(e, "status"), "verified")));
        json_object_set_new(e, "can_query", json_boolean(can_verify && strcmp(jstr(e, "status"), "queried")));
    }
    json_t *acts = json_array();
    for (size_t k = 0; k < NACTIVITIES; k++)
        json_array_append_new(acts, json_pack("{s:s, s:s}", "value", ACTIVITIES[k].value, "label", ACTIVITIES[k].label));
    int is_self = r->user.role == ROLE_LEARNER && r->user.id == learner_id;
    int has_app = json_array_size(apps) > 0;
    json_t *doc = json_pack("{s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:b, s:b}", "learner", learner, "apprenticeships", apps,
                            "entries", entries ? entries : json_array(), "activities", acts, "is_self", is_self,
                            "has_apprenticeship", has_app,
                            "can_record", has_app && (is_self || (r->user.role == ROLE_ASSESSOR &&
                                                                  policy_can_assess_learner(r->db, &r->user, learner_id))),
                            "can_verify", can_verify,
                            "can_manage_breaks", has_app && (r->user.role == ROLE_ADMIN ||
                                                             (r->user.role == ROLE_ASSESSOR &&
                                                              policy_can_read_learner(r->db, &r->user, learner_id))));
    /* The form's optional link to evidence: the learner's own items, newest first. */
    if (json_is_true(json_object_get(doc, "can_record")))
        json_object_set_new(doc, "evidence_options",
                            db_all(r->db, "SELECT id, title, occurred_on, created_at FROM evidence WHERE learner_id = ?"
                                          " ORDER BY created_at DESC, id DESC LIMIT 500", "i", learner_id));
    /* The summary of the newest apprenticeship, at the top level for the API. */
    json_t *first = json_array_get(apps, 0);
    if (first) {
        json_t *p = json_object_get(first, "pace");
        json_object_set(doc, "planned_minutes", json_object_get(p, "planned_minutes"));
        json_object_set(doc, "recorded_minutes", json_object_get(p, "recorded_minutes"));
        json_object_set(doc, "verified_minutes", json_object_get(p, "verified_minutes"));
        json_object_set(doc, "expected_minutes", json_object_get(p, "expected_minutes"));
        json_object_set(doc, "state", json_object_get(p, "state"));
    }
    return doc;
}

/* The off-the-job page or document of learner lid, keeping a refused form's errors. */
static int otj_show_for(req_t *r, int64_t lid)
{
    if (!policy_can_read_learner(r->db, &r->user, lid))
        return http_fail(r, 404, "not_found", "No such learner.");
    json_t *doc = otj_doc(r, lid, today_day());
    if (!doc)
        return http_fail(r, 404, "not_found", "No such learner.");
    json_t *keep = json_object_get(r->out, "errors") ? json_incref(r->out) : NULL;
    http_set_out(r, doc);
    if (keep) { /* a refused form keeps its errors and values */
        json_object_set(doc, "errors", json_object_get(keep, "errors"));
        json_object_set(doc, "field_errors", json_object_get(keep, "field_errors"));
        json_object_set(doc, "error", json_object_get(keep, "error"));
        json_object_set(doc, "form", json_object_get(keep, "form"));
        int64_t qid = jint(keep, "query_entry_id"); /* a refused query: open its box */
        size_t k;
        json_t *en;
        json_array_foreach(json_object_get(doc, "entries"), k, en)
            if (qid && jint(en, "id") == qid)
                json_object_set(en, "note_error", json_object_get(json_object_get(keep, "field_errors"), "note"));
        json_decref(keep);
    }
    const char *want = jstr(json_object_get(doc, "form"), "activity");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "activities"), i, a)
        if (*want && !strcmp(want, jstr(a, "value")))
            json_object_set_new(a, "selected", json_true());
    int64_t evid = 0;
    if (util_parse_i64(jstr(json_object_get(doc, "form"), "evidence_id"), &evid) == EV_OK && evid > 0)
        json_array_foreach(json_object_get(doc, "evidence_options"), i, a)
            if (jint(a, "id") == evid)
                json_object_set_new(a, "selected", json_true());
    return 200;
}

/* GET /api/v1/learners/{id}/otj, /learners/{id}/otj */
static int otj_show(req_t *r)
{
    return otj_show_for(r, r->params[0]);
}

/* Re-renders the page with the errors already on r->out; status st. */
static int page_fail(req_t *r, int64_t lid, int st)
{
    if (r->is_api)
        return st;
    otj_show_for(r, lid);
    return st;
}

/* POST /api/v1/learners/{id}/otj, /learners/{id}/otj: records an entry {occurred_on,
 * hours, minutes, activity, description, evidence_id?} on the learner's newest
 * apprenticeship. 201 {entry}. */
static int otj_record(req_t *r)
{
    int64_t lid = r->params[0];
    int self = r->user.role == ROLE_LEARNER && r->user.id == lid;
    if (!self && !(r->user.role == ROLE_ASSESSOR && policy_can_assess_learner(r->db, &r->user, lid)))
        return http_fail(r, r->user.role == ROLE_LEARNER || !policy_can_read_learner(r->db, &r->user, lid) ? 404 : 403,
                         "forbidden", "Only the apprentice or their assessor can record off-the-job training.");
    json_t *app = db_one(r->db, "SELECT a.id, e.start_date FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id "
                                "WHERE a.learner_id = ? ORDER BY a.id DESC LIMIT 1", "i", lid);
    if (!app)
        return http_fail(r, 409, "not_an_apprentice", "This learner is not on an apprenticeship.");
    const char *on = in_str(r, "occurred_on"), *act = in_str(r, "activity"), *desc = in_str(r, "description"), *pr;
    int64_t day = 0, h = 0, m = 0, evid = 0;
    json_object_set_new(http_out(r), "form", json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "occurred_on", on ? on : "",
                                                       "activity", act ? act : "", "description", desc ? desc : "",
                                                       "hours", in_str(r, "hours") ? in_str(r, "hours") : "",
                                                       "minutes", in_str(r, "minutes") ? in_str(r, "minutes") : "",
                                                       "evidence_id", in_str(r, "evidence_id") ? in_str(r, "evidence_id") : ""));
    int64_t start = 0;
    progress_day_number(jstr(app, "start_date"), &start);
    if ((pr = date_problem(on, &day)))
        http_field_error(r, "occurred_on", pr);
    else if (day > today_day())
        http_field_error(r, "occurred_on", "The date must be today or in the past");
    else if (day < start)
        http_field_error(r, "occurred_on", "The date must be on or after the start of the apprenticeship");
    int hr = opt_int(r, "hours", 24, &h), mr = opt_int(r, "minutes", 59, &m);
    if (hr < 0)
        http_field_error(r, "hours", "Enter the hours as a whole number from 0 to 24");
    if (mr < 0)
        http_field_error(r, "minutes", "Enter the minutes as a whole number from 0 to 59");
    if (hr >= 0 && mr >= 0 && (h * 60 + m < 1 || h * 60 + m > 1440))
        http_field_error(r, "hours", "Enter a time of at least 1 minute and at most 24 hours");
    if (!activity_label(act))
        http_field_error(r, "activity", "Choose the type of activity");
    char *d = util_trim_dup(desc ? desc : "");
    if (!*d || strlen(d) > 4000)
        http_field_error(r, "description", "Describe what the training was and what was learnt (up to 4000 characters)");
    if (opt_int(r, "evidence_id", INT64_MAX, &evid) < 0 ||
        (evid && db_int(r->db, "SELECT 1 FROM evidence WHERE id = ? AND learner_id = ?", 0, "ii", evid, lid) != 1))
        http_field_error(r, "evidence_id", "Choose evidence from this apprentice's portfolio, or none");
    int st = 201;
    if (http_field_error_count(r)) {
        st = page_fail(r, lid, fail_fields(r, "Check the off-the-job training entry."));
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    int64_t minutes = h * 60 + m;
    int64_t id = db_int(r->db,
                        "INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity, description,"
                        " evidence_id, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        0, "iitittzit", jint(app, "id"), lid, on, minutes, act, d, evid, r->user.id, now);
    json_t *after = json_pack("{s:s, s:I, s:s, s:s}", "occurred_on", on, "minutes", (json_int_t)minutes, "activity", act,
                              "description", d);
    int ok = id > 0 &&
             db_run(r->db, "UPDATE apprenticeships SET recorded_minutes = recorded_minutes + ? WHERE id = ?", "ii",
                    minutes, jint(app, "id")) == EV_OK &&
             touch_enrolment(r->db, jint(app, "id")) == EV_OK &&
             audit_record(r->db, r->user.id, "otj.record", "otj_entry", id, lid, NULL, after) == EV_OK &&
             db_commit(r->db) == EV_OK;
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The entry could not be saved.");
        goto out;
    }
    http_set_out(r, json_pack("{s:{s:I, s:s, s:I, s:s, s:s, s:s}}", "entry", "id", (json_int_t)id, "occurred_on", on,
                              "minutes", (json_int_t)minutes, "activity", act, "description", d, "status", "pending"));
    http_redirect(r, "/learners/%lld/otj?done=otj_recorded", (long long)lid);
out:
    free(d);
    json_decref(app);
    return st;
}

/* POST /api/v1/otj/{id}/verify|query (and the page forms): the learner's assessor or a
 * contact of their employer verifies the entry, or queries it with a note. 200 {entry}. */
/* Refuses the note of a verify or query of entry id (learner lid): 400 with the field
 * error. On a page the summary links to that entry's own note box (note-{id}) and the page
 * opens that box with the message beside it (GOV.UK error summary pattern). */
static int note_fail(req_t *r, int64_t lid, int64_t id, const char *field_msg, const char *msg)
{
    http_field_error(r, "note", field_msg);
    int st = fail_fields(r, msg);
    if (r->is_api)
        return st;
    char href[48];
    snprintf(href, sizeof href, "#note-%lld", (long long)id);
    size_t i;
    json_t *er;
    json_array_foreach(json_object_get(http_out(r), "errors"), i, er)
        if (!strcmp(jstr(er, "field"), "note"))
            json_object_set_new(er, "href", json_string(href));
    json_object_set_new(http_out(r), "query_entry_id", json_integer(id));
    return page_fail(r, lid, st);
}

static int otj_review(req_t *r, int verify)
{
    int64_t id = r->params[0];
    json_t *e = db_one(r->db, "SELECT id, learner_id, apprenticeship_id, minutes, status FROM otj_entries WHERE id = ?",
                       "i", id);
    int st = 200;
    char *note = NULL;
    if (!e || !policy_can_read_learner(r->db, &r->user, jint(e, "learner_id"))) {
        st = http_fail(r, 404, "not_found", "No such off-the-job training entry.");
        goto out;
    }
    int64_t lid = jint(e, "learner_id");
    if (!((r->user.role == ROLE_ASSESSOR && policy_can_assess_learner(r->db, &r->user, lid)) ||
          (r->user.role == ROLE_EMPLOYER && apprenticeships_employer_of(r->db, r->user.id, lid)))) {
        st = http_fail(r, 403, "forbidden", "Only the apprentice's assessor or employer can verify or query their hours.");
        goto out;
    }
    const char *n = in_str(r, "note");
    note = util_trim_dup(n ? n : "");
    if (!verify && (!*note || strlen(note) > 2000)) {
        st = note_fail(r, lid, id, "Say what needs checking or correcting (up to 2000 characters)",
                       "Add a note to the query.");
        goto out;
    }
    if (strlen(note) > 2000) {
        st = note_fail(r, lid, id, "Keep the note under 2000 characters", "Check the note.");
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    /* Conditional updates: two reviewers at once move the verified total once. */
    int64_t delta = 0, changed;
    if (verify) {
        changed = db_int(r->db, "UPDATE otj_entries SET status = 'verified', reviewed_by = ?, reviewed_at = ?, "
                                "review_note = ? WHERE id = ? AND status <> 'verified' RETURNING minutes",
                         0, "itti", r->user.id, now, note, id);
        delta = changed;
    } else {
        changed = db_int(r->db, "UPDATE otj_entries SET status = 'queried', reviewed_by = ?, reviewed_at = ?, "
                                "review_note = ? WHERE id = ? AND status = 'verified' RETURNING minutes",
                         0, "itti", r->user.id, now, note, id);
        delta = -changed;
        if (!changed)
            changed = db_int(r->db, "UPDATE otj_entries SET status = 'queried', reviewed_by = ?, reviewed_at = ?, "
                                    "review_note = ? WHERE id = ? AND status = 'pending' RETURNING id",
                             0, "itti", r->user.id, now, note, id);
    }
    if (!changed) {
        db_rollback(r->db);
        st = http_fail(r, 409, "already_done", verify ? "This entry has already been verified."
                                                      : "This entry has already been queried.");
        goto out;
    }
    json_t *before = json_pack("{s:s}", "status", jstr(e, "status"));
    json_t *after = json_pack("{s:s, s:s}", "status", verify ? "verified" : "queried", "note", note);
    int ok = db_run(r->db, "UPDATE apprenticeships SET verified_minutes = verified_minutes + ? WHERE id = ?", "ii", delta,
                    jint(e, "apprenticeship_id")) == EV_OK &&
             touch_enrolment(r->db, jint(e, "apprenticeship_id")) == EV_OK &&
             audit_record(r->db, r->user.id, verify ? "otj.verify" : "otj.query", "otj_entry", id, lid, before, after) ==
                 EV_OK &&
             db_commit(r->db) == EV_OK;
    json_decref(before);
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The entry could not be updated.");
        goto out;
    }
    http_set_out(r, json_pack("{s:{s:I, s:s, s:s}}", "entry", "id", (json_int_t)id, "status",
                              verify ? "verified" : "queried", "review_note", note));
    http_redirect(r, "/learners/%lld/otj?done=%s", (long long)lid, verify ? "otj_verified" : "otj_queried");
out:
    free(note);
    json_decref(e);
    return st;
}

static int otj_verify(req_t *r)
{
    return otj_review(r, 1);
}

static int otj_query(req_t *r)
{
    return otj_review(r, 0);
}

/* ------------------------------------------------------------------ breaks in learning */

/* May the user start or end a break for learner lid? Their assessor, or an admin. */
static int can_manage_breaks(req_t *r, int64_t lid)
{
    return r->user.role == ROLE_ADMIN || (r->user.role == ROLE_ASSESSOR && policy_can_read_learner(r->db, &r->user, lid));
}

/* POST /api/v1/learners/{id}/breaks {start_date, reason}: starts a break on the learner's
 * newest apprenticeship: its enrolment goes on break (the expected pace pauses). 201 {break}. */
static int break_start(req_t *r)
{
    int64_t lid = r->params[0];
    if (!policy_can_read_learner(r->db, &r->user, lid))
        return http_fail(r, 404, "not_found", "No such learner.");
    if (!can_manage_breaks(r, lid))
        return http_fail(r, 403, "forbidden", "Only the apprentice's assessor or an administrator can record a break.");
    json_t *app = db_one(r->db, "SELECT a.id, a.enrolment_id, a.break_open_since, e.start_date, e.status "
                                "FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id "
                                "WHERE a.learner_id = ? ORDER BY a.id DESC LIMIT 1", "i", lid);
    int st = 201;
    char *reason = NULL;
    if (!app) {
        st = http_fail(r, 409, "not_an_apprentice", "This learner is not on an apprenticeship.");
        goto out;
    }
    const char *sd = in_str(r, "start_date"), *rs = in_str(r, "reason"), *pr;
    reason = util_trim_dup(rs ? rs : "");
    if (!r->is_api) /* a refused form keeps what was typed */
        json_object_set_new(http_out(r), "form", json_pack("{s:s, s:s}", "start_date", sd ? sd : "", "reason",
                                                           rs ? rs : ""));
    int64_t day = 0, start = 0;
    progress_day_number(jstr(app, "start_date"), &start);
    if ((pr = date_problem(sd, &day)))
        http_field_error(r, "start_date", pr);
    else if (day > today_day())
        http_field_error(r, "start_date", "A break is recorded once it has started: the date must be today or in the past");
    else if (day < start)
        http_field_error(r, "start_date", "The break must start on or after the start of the apprenticeship");
    if (!*reason || strlen(reason) > 1000)
        http_field_error(r, "reason", "Give the reason for the break (up to 1000 characters)");
    if (http_field_error_count(r)) {
        st = page_fail(r, lid, fail_fields(r, "Check the break in learning."));
        goto out;
    }
    if (strcmp(jstr(app, "status"), "active")) {
        st = http_fail(r, 409, "not_active", "The apprenticeship is %s, so a break cannot start.", jstr(app, "status"));
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    /* Only one break at a time: the conditional update wins once. */
    int ok = db_int(r->db, "UPDATE apprenticeships SET break_open_since = ? WHERE id = ? AND break_open_since IS NULL "
                           "RETURNING id", 0, "ti", sd, jint(app, "id")) > 0;
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 409, "on_break", "A break is already running: end it first.");
        goto out;
    }
    int64_t id = db_int(r->db, "INSERT INTO learning_breaks (apprenticeship_id, start_date, reason, recorded_by, "
                               "recorded_at) VALUES (?, ?, ?, ?, ?) RETURNING id", 0, "ittit", jint(app, "id"), sd, reason,
                        r->user.id, now);
    json_t *after = json_pack("{s:s, s:s}", "start_date", sd, "reason", reason);
    ok = id > 0 &&
         db_run(r->db, "UPDATE enrolments SET status = 'on_break' WHERE id = ?", "i", jint(app, "enrolment_id")) == EV_OK &&
         audit_record(r->db, r->user.id, "break.start", "learning_break", id, lid, NULL, after) == EV_OK &&
         db_commit(r->db) == EV_OK;
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The break could not be saved.");
        goto out;
    }
    http_set_out(r, json_pack("{s:{s:I, s:s, s:s}}", "break", "id", (json_int_t)id, "start_date", sd, "reason", reason));
    http_redirect(r, "/learners/%lld/otj?done=break_started", (long long)lid);
out:
    free(reason);
    json_decref(app);
    return st;
}

/* POST /api/v1/breaks/{id}/end {end_date}: the day learning resumed. The planned end date
 * moves out by the break's length (end - start days) and the enrolment is active again.
 * 200 {break}. */
static int break_end(req_t *r)
{
    int64_t bid = r->params[0];
    json_t *b = db_one(r->db, "SELECT b.id, b.start_date, b.end_date, a.id AS apprenticeship_id, a.learner_id, "
                              "a.enrolment_id, e.planned_end_date FROM learning_breaks b "
                              "JOIN apprenticeships a ON a.id = b.apprenticeship_id "
                              "JOIN enrolments e ON e.id = a.enrolment_id WHERE b.id = ?", "i", bid);
    int st = 200;
    if (!b || !policy_can_read_learner(r->db, &r->user, jint(b, "learner_id"))) {
        st = http_fail(r, 404, "not_found", "No such break in learning.");
        goto out;
    }
    int64_t lid = jint(b, "learner_id");
    if (!can_manage_breaks(r, lid)) {
        st = http_fail(r, 403, "forbidden", "Only the apprentice's assessor or an administrator can end a break.");
        goto out;
    }
    const char *ed = in_str(r, "end_date"), *pr;
    int64_t day = 0, start = 0, end_plan = 0;
    if (!r->is_api)
        json_object_set_new(http_out(r), "form", json_pack("{s:s}", "end_date", ed ? ed : ""));
    progress_day_number(jstr(b, "start_date"), &start);
    progress_day_number(jstr(b, "planned_end_date"), &end_plan);
    if ((pr = date_problem(ed, &day)))
        http_field_error(r, "end_date", pr);
    else if (day <= start)
        http_field_error(r, "end_date", "The return date must be after the first day of the break");
    else if (day > today_day())
        http_field_error(r, "end_date", "The return date must be today or in the past");
    if (http_field_error_count(r)) {
        st = page_fail(r, lid, fail_fields(r, "Check the return date."));
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    char now[21], moved[11];
    util_now_iso(now);
    int64_t len = day - start;
    progress_day_iso(end_plan + len, moved);
    int ok = db_int(r->db, "UPDATE learning_breaks SET end_date = ?, ended_by = ?, ended_at = ? WHERE id = ? "
                           "AND end_date IS NULL RETURNING id", 0, "titi", ed, r->user.id, now, bid) > 0;
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 409, "already_ended", "This break has already ended.");
        goto out;
    }
    json_t *before = json_pack("{s:s}", "planned_end_date", jstr(b, "planned_end_date"));
    json_t *after = json_pack("{s:s, s:I, s:s}", "end_date", ed, "days", (json_int_t)len, "planned_end_date", moved);
    ok = db_run(r->db, "UPDATE apprenticeships SET break_days = break_days + ?, break_open_since = NULL WHERE id = ?",
                "ii", len, jint(b, "apprenticeship_id")) == EV_OK &&
         db_run(r->db, "UPDATE enrolments SET planned_end_date = ?, status = 'active' WHERE id = ? AND status = 'on_break'",
                "ti", moved, jint(b, "enrolment_id")) == EV_OK &&
         audit_record(r->db, r->user.id, "break.end", "learning_break", bid, lid, before, after) == EV_OK &&
         db_commit(r->db) == EV_OK;
    json_decref(before);
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The break could not be ended.");
        goto out;
    }
    http_set_out(r, json_pack("{s:{s:I, s:s, s:s, s:I, s:s}}", "break", "id", (json_int_t)bid, "start_date",
                              jstr(b, "start_date"), "end_date", ed, "days", (json_int_t)len, "planned_end_date", moved));
    http_redirect(r, "/learners/%lld/otj?done=break_ended", (long long)lid);
out:
    json_decref(b);
    return st;
}

/* ------------------------------------------------------------------ CSV exports */

static void csv_row_end(buf_t *b)
{
    buf_puts(b, "\r\n");
}

static void csv_sep(buf_t *b, const char *s)
{
    centre_csv_field(b, s);
    buf_putc(b, ',');
}

static void csv_hours(buf_t *b, int64_t minutes, int last)
{
    buf_printf(b, "%lld.%02lld%s", (long long)(minutes / 60), (long long)((minutes % 60) * 100 / 60), last ? "" : ",");
}

/* GET /learners/{id}/otj.csv: every entry of the learner, for a funding audit. */
static int otj_csv_learner(req_t *r)
{
    int64_t lid = r->params[0];
    if (!policy_can_read_learner(r->db, &r->user, lid))
        return http_fail(r, 404, "not_found", "No such learner.");
    json_t *l = db_one(r->db, "SELECT name, email, uln FROM users WHERE id = ?", "i", lid);
    json_t *rows = db_all(r->db,
                          "SELECT o.occurred_on, o.minutes, o.activity, o.description, o.evidence_id, o.status, "
                          "o.recorded_at, o.reviewed_at, o.review_note, rb.name AS recorded_by, vb.name AS reviewed_by, "
                          "q.code, e.qualification_id FROM otj_entries o JOIN users rb ON rb.id = o.recorded_by "
                          "LEFT JOIN users vb ON vb.id = o.reviewed_by JOIN apprenticeships a ON a.id = o.apprenticeship_id "
                          "JOIN enrolments e ON e.id = a.enrolment_id JOIN qualifications q ON q.id = e.qualification_id "
                          "WHERE o.learner_id = ? ORDER BY o.occurred_on, o.id", "i", lid);
    qscope_t qs; /* an EQA: only the apprenticeships on its visit's qualifications (issue 18) */
    if (policy_qscope(r->db, &r->user, lid, &qs) == EV_OK)
        qscope_filter(&qs, rows, "qualification_id");
    else
        json_array_clear(rows);
    qscope_free(&qs);
    buf_t b = {0};
    buf_puts(&b, "learner,email,uln,standard,date,hours,activity,description,evidence_id,status,recorded_by,"
                 "recorded_at,reviewed_by,reviewed_at,review_note\r\n");
    size_t i;
    json_t *e;
    json_array_foreach(rows, i, e) {
        csv_sep(&b, jstr(l, "name"));
        csv_sep(&b, jstr(l, "email"));
        csv_sep(&b, jstr(l, "uln"));
        csv_sep(&b, jstr(e, "code"));
        csv_sep(&b, jstr(e, "occurred_on"));
        csv_hours(&b, jint(e, "minutes"), 0);
        csv_sep(&b, activity_label(jstr(e, "activity")));
        csv_sep(&b, jstr(e, "description"));
        if (jint(e, "evidence_id"))
            buf_printf(&b, "%lld", (long long)jint(e, "evidence_id"));
        buf_putc(&b, ',');
        csv_sep(&b, jstr(e, "status"));
        csv_sep(&b, jstr(e, "recorded_by"));
        csv_sep(&b, jstr(e, "recorded_at"));
        csv_sep(&b, jstr(e, "reviewed_by"));
        csv_sep(&b, jstr(e, "reviewed_at"));
        centre_csv_field(&b, jstr(e, "review_note"));
        csv_row_end(&b);
    }
    char *name = fmtalloc("otj-learner-%lld.csv", (long long)lid);
    size_t len = b.len;
    http_send_buffer(r, buf_take(&b), len, "text/csv; charset=utf-8", name);
    free(name);
    json_decref(l);
    json_decref(rows);
    return 200;
}

/* GET /centre/otj.csv: one row per apprenticeship (the cohort), for a funding audit. */
static int otj_csv_cohort(req_t *r)
{
    int64_t today = today_day();
    json_t *rows = db_all(r->db,
                          "SELECT u.name, u.email, u.uln, q.code, em.name AS employer, a.weekly_minutes, "
                          "a.rpl_otj_minutes, " PACE_COLUMNS ", "
                          "(SELECT count(*) FROM learning_breaks b WHERE b.apprenticeship_id = a.id) AS breaks "
                          "FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id "
                          "JOIN users u ON u.id = a.learner_id JOIN qualifications q ON q.id = e.qualification_id "
                          "JOIN employers em ON em.id = a.employer_id ORDER BY lower(u.name), a.id", "");
    buf_t b = {0};
    buf_puts(&b, "learner,email,uln,standard,employer,start_date,planned_end_date,weekly_hours,rpl_hours,"
                 "planned_hours,recorded_hours,verified_hours,expected_hours,state,break_days,breaks\r\n");
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a) {
        otj_plan_t plan;
        otj_pace_t p;
        apprenticeships_pace(a, today, &plan, &p);
        csv_sep(&b, jstr(a, "name"));
        csv_sep(&b, jstr(a, "email"));
        csv_sep(&b, jstr(a, "uln"));
        csv_sep(&b, jstr(a, "code"));
        csv_sep(&b, jstr(a, "employer"));
        csv_sep(&b, jstr(a, "start_date"));
        csv_sep(&b, jstr(a, "planned_end_date"));
        csv_hours(&b, jint(a, "weekly_minutes"), 0);
        csv_hours(&b, jint(a, "rpl_otj_minutes"), 0);
        csv_hours(&b, plan.planned_minutes, 0);
        csv_hours(&b, jint(a, "recorded_minutes"), 0);
        csv_hours(&b, jint(a, "verified_minutes"), 0);
        csv_hours(&b, p.expected_minutes, 0);
        csv_sep(&b, progress_pace_name(p.state));
        buf_printf(&b, "%lld,%lld", (long long)plan.break_days, (long long)jint(a, "breaks"));
        csv_row_end(&b);
    }
    size_t len = b.len;
    http_send_buffer(r, buf_take(&b), len, "text/csv; charset=utf-8", "otj-cohort.csv");
    json_decref(rows);
    return 200;
}

/* ------------------------------------------------------------------ the employer's home */

/* GET /api/v1/employer/apprentices, /employer: the contact's apprentices with their KSB
 * progress and off-the-job hours, and entries waiting for verification. */
static int employer_home(req_t *r)
{
    int64_t today = today_day();
    json_t *emp = db_one(r->db, "SELECT em.id, em.name FROM employer_contacts c JOIN employers em ON em.id = c.employer_id "
                                "WHERE c.user_id = ?", "i", r->user.id);
    json_t *rows = db_all(r->db,
                          "SELECT a.id, a.learner_id, a.enrolment_id, u.name, u.email, q.code, q.title, " PACE_COLUMNS ", "
                          "coalesce(p.total, 0) AS ksb_total, coalesce(p.met, 0) AS ksb_met, "
                          "(SELECT count(*) FROM otj_entries o WHERE o.apprenticeship_id = a.id AND o.status = 'pending') "
                          "AS to_verify FROM apprenticeships a JOIN employer_contacts c ON c.employer_id = a.employer_id "
                          "JOIN enrolments e ON e.id = a.enrolment_id JOIN users u ON u.id = a.learner_id "
                          "JOIN qualifications q ON q.id = e.qualification_id "
                          "LEFT JOIN enrolment_progress p ON p.enrolment_id = e.id "
                          "WHERE c.user_id = ? ORDER BY lower(u.name), a.id", "i", r->user.id);
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a) {
        json_object_set_new(a, "otj", apprenticeships_pace_json(a, today));
        json_object_set_new(a, "ksb_percent", json_integer(progress_percent(jint(a, "ksb_met"), jint(a, "ksb_total"))));
        char due[11]; /* the next progress review (reviews.h) */
        int overdue = 0;
        reviews_next_due(r->db, jint(a, "enrolment_id"), today, due, &overdue);
        json_object_set_new(a, "review_due_on", due[0] ? json_string(due) : json_null());
        json_object_set_new(a, "review_overdue", json_boolean(overdue));
    }
    http_set_out(r, json_pack("{s:o, s:o}", "employer", emp ? emp : json_null(), "apprentices", rows ? rows : json_array()));
    return 200;
}

/* ------------------------------------------------------------------ admin pages */

/* Copies a refused form's errors and values from r->out into doc, which becomes r->out. */
static void set_out_keeping_errors(req_t *r, json_t *doc)
{
    json_t *keep = json_object_get(r->out, "errors") ? json_incref(r->out) : NULL;
    http_set_out(r, doc);
    if (keep) {
        json_object_set(doc, "errors", json_object_get(keep, "errors"));
        json_object_set(doc, "field_errors", json_object_get(keep, "field_errors"));
        json_object_set(doc, "error", json_object_get(keep, "error"));
        if (json_object_get(keep, "form"))
            json_object_set(doc, "form", json_object_get(keep, "form"));
        json_decref(keep);
    }
}

/* GET /admin/employers: every employer, and the form to add one. */
static int employers_page(req_t *r)
{
    json_t *doc = json_pack("{s:o, s:o}", "employers", employers_rows(r->db), "form", json_object());
    set_out_keeping_errors(r, doc);
    return 200;
}

/* The employer page's document: {employer{id, name, contacts[]}, apprentices[], accounts[]
 * (employer accounts with no employer yet), form}; NULL when there is no such employer. */
static json_t *employer_doc(db_t *db, int64_t id)
{
    json_t *e = db_one(db, "SELECT id, name, created_at FROM employers WHERE id = ?", "i", id);
    if (!e)
        return NULL;
    json_t *c = db_all(db, "SELECT u.id, u.name, u.email, u.disabled FROM employer_contacts c JOIN users u ON u.id = "
                           "c.user_id WHERE c.employer_id = ? ORDER BY u.name, u.id", "i", id);
    json_object_set_new(e, "contacts", c ? c : json_array());
    json_t *apps = db_all(db, "SELECT a.id, a.learner_id, u.name, q.code, q.title, en.status FROM apprenticeships a "
                              "JOIN users u ON u.id = a.learner_id JOIN enrolments en ON en.id = a.enrolment_id "
                              "JOIN qualifications q ON q.id = en.qualification_id WHERE a.employer_id = ? "
                              "ORDER BY lower(u.name), a.id", "i", id);
    json_t *acc = db_all(db, "SELECT u.id, u.name, u.email FROM users u WHERE u.role = 'employer' AND u.disabled = 0 "
                             "AND NOT EXISTS (SELECT 1 FROM employer_contacts c WHERE c.user_id = u.id) "
                             "ORDER BY u.name, u.id", "");
    return json_pack("{s:o, s:o, s:o, s:{s:O}}", "employer", e, "apprentices", apps ? apps : json_array(), "accounts",
                     acc ? acc : json_array(), "form", "employer_name", json_object_get(e, "name"));
}

/* GET /admin/employers/{id} (and re-rendered by its refused forms). */
static int employer_show_for(req_t *r, int64_t id)
{
    json_t *doc = employer_doc(r->db, id);
    if (!doc)
        return http_fail(r, 404, "not_found", "There is no employer %lld.", (long long)id);
    set_out_keeping_errors(r, doc);
    return 200;
}

static int employer_show(req_t *r)
{
    return employer_show_for(r, r->params[0]);
}

/* PUT /api/v1/employers/{id}, POST /admin/employers/{id} {name}: renames it. 200
 * {employer}; 409 when another employer has the name. */
static int employer_update(req_t *r)
{
    int64_t id = r->params[0];
    char *name = NULL;
    int st = 200;
    json_t *old = db_one(r->db, "SELECT id, name FROM employers WHERE id = ?", "i", id);
    if (!old) {
        st = http_fail(r, 404, "not_found", "There is no employer %lld.", (long long)id);
        goto out;
    }
    const char *in = in_str(r, "name");
    name = util_trim_dup(in ? in : "");
    /* the page's rename form calls its field employer_name (the contact form has a name) */
    const char *fname = r->is_api ? "name" : "employer_name";
    if (!r->is_api)
        json_object_set_new(http_out(r), "form", json_pack("{s:s}", "employer_name", in ? in : ""));
    if (!*name || strlen(name) > 200) {
        http_field_error(r, fname, "Enter the employer's name (up to 200 characters)");
        st = fail_fields(r, "Check the employer's details.");
        goto fail;
    }
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    if (db_int(r->db, "SELECT 1 FROM employers WHERE lower(name) = lower(?) AND id <> ?", 0, "ti", name, id) == 1 ||
        db_run(r->db, "UPDATE employers SET name = ? WHERE id = ?", "ti", name, id) != EV_OK) {
        db_rollback(r->db);
        http_field_error(r, fname, "There is already an employer with this name");
        st = http_fail(r, 409, "conflict", "There is already an employer called %s.", name);
        goto fail;
    }
    json_t *before = json_pack("{s:s}", "name", jstr(old, "name")), *after = json_pack("{s:s}", "name", name);
    int ok = audit_record(r->db, r->user.id, "employer.update", "employer", id, 0, before, after) == EV_OK &&
             db_commit(r->db) == EV_OK;
    json_decref(before);
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The employer could not be saved.");
        goto out;
    }
    http_set_out(r, json_pack("{s:{s:I, s:s}}", "employer", "id", (json_int_t)id, "name", name));
    http_redirect(r, "/admin/employers/%lld?done=employer_saved", (long long)id);
    goto out;
fail:
    if (!r->is_api)
        employer_show_for(r, id);
out:
    free(name);
    json_decref(old);
    return st;
}

/* The apprenticeship page's document: {apprenticeship{..., learner, standard, employer,
 * enrolment dates, review_interval_weeks, rpl_ksbs[]}, form (as saved), choices}. NULL
 * when there is no such apprenticeship. */
static json_t *appr_doc(req_t *r, int64_t id)
{
    json_t *a = db_one(r->db,
                       "SELECT a.id, a.enrolment_id, a.learner_id, a.employer_id, a.weekly_minutes, a.planned_otj_minutes, "
                       "a.rpl_otj_minutes, a.rpl_note, a.break_days, a.break_open_since, u.name AS learner_name, "
                       "u.email AS learner_email, q.id AS standard_id, q.code AS standard_code, q.title AS standard_title, "
                       "em.name AS employer_name, e.start_date, e.planned_end_date, e.status, e.review_interval_weeks "
                       "FROM apprenticeships a JOIN users u ON u.id = a.learner_id JOIN enrolments e ON e.id = a.enrolment_id "
                       "JOIN qualifications q ON q.id = e.qualification_id JOIN employers em ON em.id = a.employer_id "
                       "WHERE a.id = ?", "i", id);
    if (!a)
        return NULL;
    json_t *k = db_all(r->db, "SELECT c.ref FROM apprenticeship_rpl_ksbs k JOIN criteria c ON c.id = k.criterion_id "
                              "WHERE k.apprenticeship_id = ? ORDER BY c.unit_id, c.position, c.ref", "i", id);
    buf_t codes = {0};
    size_t i;
    json_t *v;
    json_array_foreach(k, i, v)
        buf_printf(&codes, "%s%s", i ? ", " : "", jstr(v, "ref"));
    char *ct = buf_take(&codes);
    json_object_set_new(a, "rpl_ksbs", k ? k : json_array());
    json_object_set_new(a, "rpl_ksbs_text", json_string(ct ? ct : ""));
    char wk[32], pl[32], rp[32];
    hours_text(jint(a, "weekly_minutes"), wk);
    hours_text(jint(a, "planned_otj_minutes") + jint(a, "rpl_otj_minutes"), pl);
    hours_text(jint(a, "rpl_otj_minutes"), rp);
    set_text(a, "planned_text", jint(a, "planned_otj_minutes"));
    json_t *form = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "employer_id", (json_int_t)jint(a, "employer_id"),
                             "weekly_hours", wk, "planned_otj_hours", pl, "rpl_otj_hours", rp, "rpl_note",
                             jstr(a, "rpl_note"), "rpl_ksbs", ct ? ct : "", "review_interval_weeks",
                             (json_int_t)jint(a, "review_interval_weeks"));
    free(ct);
    return json_pack("{s:o, s:o}", "apprenticeship", a, "form", form);
}

/* GET /admin/apprenticeships/{id} (and re-rendered by its refused form). */
static int appr_show_for(req_t *r, int64_t id)
{
    json_t *doc = appr_doc(r, id);
    if (!doc)
        return http_fail(r, 404, "not_found", "There is no apprenticeship %lld.", (long long)id);
    set_out_keeping_errors(r, doc);
    appr_options(r, json_object_get(doc, "form"));
    return 200;
}

static int appr_show(req_t *r)
{
    return appr_show_for(r, r->params[0]);
}

/* GET /admin/apprenticeships/new (?learner_id= fills in the learner). */
static int appr_new(req_t *r)
{
    int64_t lid = 0;
    char today[11], later[11];
    progress_day_iso(today_day(), today);
    progress_day_iso(today_day() + 456, later); /* 15 months: a common planned duration */
    json_t *form = json_pack("{s:s, s:s, s:s, s:s}", "start_date", today, "planned_end_date", later, "weekly_hours", "30",
                             "review_interval_weeks", "12");
    if (in_int(r, "learner_id", &lid) == EV_OK) {
        char *email = db_text(r->db, "SELECT email FROM users WHERE id = ? AND role = 'learner'", "i", lid);
        if (email)
            json_object_set_new(form, "learner_email", json_string(email));
        free(email);
    }
    json_object_set_new(http_out(r), "form", form);
    appr_options(r, form);
    return 200;
}

/* PUT /api/v1/apprenticeships/{id}, POST /admin/apprenticeships/{id} {employer_id?,
 * weekly_hours?, planned_otj_hours? (before prior learning), rpl_otj_hours?, rpl_note?,
 * rpl_ksbs?, review_interval_weeks?}: a field left out keeps its value. The KSBs given
 * replace the recognised ones (and leave or rejoin the learner's totals). 200. */
static int appr_update(req_t *r)
{
    int64_t id = r->params[0];
    int st = 200;
    json_t *a = db_one(r->db, "SELECT a.id, a.enrolment_id, a.learner_id, a.employer_id, a.weekly_minutes, "
                              "a.planned_otj_minutes, a.rpl_otj_minutes, a.rpl_note, e.qualification_id, "
                              "e.review_interval_weeks FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id "
                              "WHERE a.id = ?", "i", id);
    json_t *ksb_ids = json_array(), *codes = NULL;
    if (!a) {
        st = http_fail(r, 404, "not_found", "There is no apprenticeship %lld.", (long long)id);
        goto out;
    }
    if (!r->is_api)
        json_object_set(http_out(r), "form", r->in);
    int64_t employer = jint(a, "employer_id"), weekly = jint(a, "weekly_minutes"), rpl = jint(a, "rpl_otj_minutes");
    int64_t planned = -1, weeks = jint(a, "review_interval_weeks");
    const char *note = NULL;
    if (json_object_get(r->in, "employer_id") &&
        (in_int(r, "employer_id", &employer) != EV_OK ||
         db_int(r->db, "SELECT 1 FROM employers WHERE id = ?", 0, "i", employer) != 1))
        http_field_error(r, "employer_id", "Choose the employer");
    int64_t w2 = weekly, r2 = rpl, k2 = weeks;
    plan_fields(r, 0, &w2, &planned, &r2, &k2, &note);
    int have_ksbs = json_object_get(r->in, "rpl_ksbs") != NULL;
    if (have_ksbs) {
        codes = ksb_codes(r);
        ksb_ids_of(r, jint(a, "qualification_id"), codes, ksb_ids);
    }
    if (http_field_error_count(r)) {
        st = fail_fields(r, "Check the apprenticeship details.");
        goto fail;
    }
    /* planned hours before prior learning: as given, else as they were */
    int64_t before_rpl = planned >= 0 ? planned : jint(a, "planned_otj_minutes") + rpl;
    int64_t plan = otj_after_rpl(before_rpl, r2);
    if (db_begin(r->db) != EV_OK) {
        st = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    int ok = db_run(r->db, "UPDATE apprenticeships SET employer_id = ?, weekly_minutes = ?, planned_otj_minutes = ?, "
                           "rpl_otj_minutes = ?, rpl_note = ? WHERE id = ?", "iiiiti", employer, w2, plan, r2,
                    note ? note : jstr(a, "rpl_note"), id) == EV_OK &&
             db_run(r->db, "UPDATE enrolments SET review_interval_weeks = ? WHERE id = ?", "ii", k2,
                    jint(a, "enrolment_id")) == EV_OK;
    if (ok && have_ksbs) {
        ok = db_run(r->db, "DELETE FROM apprenticeship_rpl_ksbs WHERE apprenticeship_id = ?", "i", id) == EV_OK;
        size_t i;
        json_t *v;
        json_array_foreach(ksb_ids, i, v)
            ok = ok && db_run(r->db, "INSERT INTO apprenticeship_rpl_ksbs (apprenticeship_id, criterion_id) VALUES (?, ?) "
                                     "ON CONFLICT (apprenticeship_id, criterion_id) DO NOTHING",
                              "ii", id, (int64_t)json_integer_value(v)) == EV_OK;
        /* the recognised KSBs leave (or rejoin) the learner's totals (status.h) */
        ok = ok && status_sync_learner(r->db, jint(a, "learner_id")) == EV_OK;
    }
    json_t *before = json_pack("{s:I, s:I, s:I, s:I, s:I}", "employer_id", (json_int_t)jint(a, "employer_id"),
                               "weekly_minutes", (json_int_t)weekly, "planned_otj_minutes",
                               (json_int_t)jint(a, "planned_otj_minutes"), "rpl_otj_minutes", (json_int_t)rpl,
                               "review_interval_weeks", (json_int_t)weeks);
    json_t *after = json_pack("{s:I, s:I, s:I, s:I, s:I}", "employer_id", (json_int_t)employer, "weekly_minutes",
                              (json_int_t)w2, "planned_otj_minutes", (json_int_t)plan, "rpl_otj_minutes", (json_int_t)r2,
                              "review_interval_weeks", (json_int_t)k2);
    if (have_ksbs)
        json_object_set(after, "rpl_ksbs", codes);
    ok = ok && touch_enrolment(r->db, id) == EV_OK &&
         audit_record(r->db, r->user.id, "apprenticeship.update", "apprenticeship", id, jint(a, "learner_id"), before,
                      after) == EV_OK &&
         db_commit(r->db) == EV_OK;
    json_decref(before);
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        st = http_fail(r, 500, "internal", "The apprenticeship could not be saved.");
        goto out;
    }
    json_t *doc = appr_doc(r, id);
    http_set_out(r, json_pack("{s:O}", "apprenticeship", json_object_get(doc, "apprenticeship")));
    json_decref(doc);
    http_redirect(r, "/admin/apprenticeships/%lld?done=apprenticeship_saved", (long long)id);
    goto out;
fail:
    if (!r->is_api)
        appr_show_for(r, id);
out:
    json_decref(a);
    json_decref(ksb_ids);
    json_decref(codes);
    return st;
}

/* ------------------------------------------------------------------ demo */

int apprenticeships_demo_seed(db_t *db)
{
    int rc = EV_ERR;
    char err[200] = "", now[21], start[11], end[11];
    const char *field = NULL;
    int64_t emp_user = 0, appr = 0, eid = 0;
    int64_t standard = db_int(db, "SELECT id FROM qualifications WHERE kind = 'standard' ORDER BY id LIMIT 1", 0, "");
    int64_t assessor = db_int(db, "SELECT id FROM users WHERE email = 'assessor@demo.test'", 0, "");
    int64_t iqa = db_int(db, "SELECT id FROM users WHERE email = 'iqa@demo.test'", 0, "");
    if (!standard || !assessor)
        return EV_OK; /* nothing to build on */
    if (db_begin(db) != EV_OK)
        return EV_ERR;
    util_now_iso(now);
    int64_t today = progress_today();
    progress_day_iso(today - 120, start);
    progress_day_iso(today - 120 + 456, end);
    int64_t employer = db_int(db, "INSERT INTO employers (name, created_at) VALUES ('Northgate Retail Ltd', ?) "
                                  "RETURNING id", 0, "t", now);
    if (employer <= 0)
        goto out;
    if (users_create(db, 0, "employer@demo.test", "Dev Patel", "employer", DEMO_PASSWORD, &emp_user, &field, err,
                     sizeof err) ||
        users_create(db, 0, "apprentice@demo.test", "Jess Morgan", "learner", DEMO_PASSWORD, &appr, &field, err,
                     sizeof err)) {
        ev_log("demo: apprenticeship accounts: %s", err);
        goto out;
    }
    if (db_run(db, "INSERT INTO employer_contacts (user_id, employer_id) VALUES (?, ?)", "ii", emp_user, employer) != EV_OK ||
        users_enrol(db, 0, appr, standard, assessor, iqa, start, end, &eid, &field, err, sizeof err)) {
        ev_log("demo: apprenticeship: %s", err);
        goto out;
    }
    int64_t planned = otj_minimum_minutes(today - 120, today - 120 + 456, 30 * 60,
                                          db_int(db, "SELECT coalesce(min_otj_hours, 0) FROM qualifications WHERE id = ?",
                                                 0, "i", standard));
    int64_t aid = db_int(db, "INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes, "
                             "planned_otj_minutes, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                         0, "iiiiit", eid, appr, employer, (int64_t)30 * 60, planned, now);
    if (aid <= 0)
        goto out;
    /* Some weeks of training, most verified: well behind what is expected by now. */
    static const struct {
        int days_ago, minutes;
        const char *activity, *text, *status;
    } entries[] = {
        {110, 180, "theory", "Induction workshop: the organisation's products and services", "verified"},
        {96, 240, "shadowing", "Shadowed a senior adviser on the complaints line", "verified"},
        {81, 150, "online", "Online module: data protection in customer service", "verified"},
        {60, 210, "practical", "Practised handling escalated complaints with my mentor", "verified"},
        {40, 120, "mentoring", "Monthly mentoring session: reflecting on difficult calls", "verified"},
        {12, 240, "assignment", "Wrote up a service improvement proposal from customer feedback", "pending"},
    };
    int64_t rec = 0, ver = 0;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        char d[11];
        progress_day_iso(today - entries[i].days_ago, d);
        int verified = !strcmp(entries[i].status, "verified");
        if (db_run(db, "INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity, "
                       "description, recorded_by, recorded_at, status, reviewed_by, reviewed_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   "iitIttittzt", aid, appr, d, entries[i].minutes, entries[i].activity, entries[i].text, appr, now,
                   entries[i].status, verified ? emp_user : 0, verified ? now : NULL) != EV_OK)
            goto out;
        rec += entries[i].minutes;
        ver += verified ? entries[i].minutes : 0;
    }
    if (db_run(db, "UPDATE apprenticeships SET recorded_minutes = ?, verified_minutes = ? WHERE id = ?", "iii", rec, ver,
               aid) != EV_OK)
        goto out;
    rc = db_commit(db);
    if (rc == EV_OK) {
        printf("  %-9s %s (Northgate Retail Ltd)\n", "employer", "employer@demo.test");
        printf("  %-9s %s (apprentice on %s)\n", "learner", "apprentice@demo.test", "ST9901");
    }
out:
    if (rc != EV_OK)
        db_rollback(db);
    return rc;
}

/* ------------------------------------------------------------------ routes */

const route_t apprenticeships_routes[] = {
    {"GET", "/api/v1/employers", employers_list, ROLE_ADMIN, NULL, 0},
    {"POST", "/api/v1/employers", employer_create, ROLE_ADMIN, NULL, 0},
    {"POST", "/api/v1/employers/{id}/contacts", employer_contact_add, ROLE_ADMIN, NULL, 0},
    {"PUT", "/api/v1/employers/{id}", employer_update, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/employers", employers_page, ROLE_ADMIN, "admin_employers", 0},
    {"POST", "/admin/employers", employer_create, ROLE_ADMIN, "admin_employers", 0},
    {"GET", "/admin/employers/{id}", employer_show, ROLE_ADMIN, "admin_employer", 0},
    {"POST", "/admin/employers/{id}", employer_update, ROLE_ADMIN, "admin_employer", 0},
    {"POST", "/admin/employers/{id}/contacts", employer_contact_add, ROLE_ADMIN, "admin_employer", 0},
    {"POST", "/api/v1/apprenticeships", apprenticeship_create, ROLE_ADMIN, NULL, 0},
    {"PUT", "/api/v1/apprenticeships/{id}", appr_update, ROLE_ADMIN, NULL, 0},
    {"GET", "/admin/apprenticeships/new", appr_new, ROLE_ADMIN, "admin_apprenticeship_new", 0},
    {"POST", "/admin/apprenticeships", apprenticeship_create, ROLE_ADMIN, "admin_apprenticeship_new", 0},
    {"GET", "/admin/apprenticeships/{id}", appr_show, ROLE_ADMIN, "admin_apprenticeship", 0},
    {"POST", "/admin/apprenticeships/{id}", appr_update, ROLE_ADMIN, "admin_apprenticeship", 0},
    {"GET", "/api/v1/learners/{id}/otj", otj_show, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/learners/{id}/otj", otj_show, ROLE_SIGNED_IN, "otj", 0},
    {"POST", "/api/v1/learners/{id}/otj", otj_record, ROLE_LEARNER | ROLE_ASSESSOR, NULL, 0},
    {"POST", "/learners/{id}/otj", otj_record, ROLE_LEARNER | ROLE_ASSESSOR, "otj", 0},
    {"POST", "/api/v1/otj/{id}/verify", otj_verify, ROLE_ASSESSOR | ROLE_EMPLOYER, NULL, 0},
    {"POST", "/otj/{id}/verify", otj_verify, ROLE_ASSESSOR | ROLE_EMPLOYER, "otj", 0},
    {"POST", "/api/v1/otj/{id}/query", otj_query, ROLE_ASSESSOR | ROLE_EMPLOYER, NULL, 0},
    {"POST", "/otj/{id}/query", otj_query, ROLE_ASSESSOR | ROLE_EMPLOYER, "otj", 0},
    {"POST", "/api/v1/learners/{id}/breaks", break_start, ROLE_ASSESSOR | ROLE_ADMIN, NULL, 0},
    {"POST", "/learners/{id}/breaks", break_start, ROLE_ASSESSOR | ROLE_ADMIN, "otj", 0},
    {"POST", "/api/v1/breaks/{id}/end", break_end, ROLE_ASSESSOR | ROLE_ADMIN, NULL, 0},
    {"POST", "/breaks/{id}/end", break_end, ROLE_ASSESSOR | ROLE_ADMIN, "otj", 0},
    {"GET", "/learners/{id}/otj.csv", otj_csv_learner, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/centre/otj.csv", otj_csv_cohort, ROLE_ADMIN, NULL, 0},
    {"GET", "/api/v1/employer/apprentices", employer_home, ROLE_EMPLOYER, NULL, 0},
    {"GET", "/employer", employer_home, ROLE_EMPLOYER, "employer", 0},
    {NULL, NULL, NULL, 0, NULL, 0},
};
