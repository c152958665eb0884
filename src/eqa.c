/* eqa.c: EQA visits: an admin grants an external quality assurer a sample for a window, and the EQA's visit report */
#include "eqa.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "decisions.h"
#include "pages.h"
#include "policy.h"

/*
 * What is kept here, and what is not: this module creates and shows visits and keeps
 * their reports. Who may see what during a visit is decided in policy.c
 * (policy_eqa_check), which every request by an EQA goes through before its handler.
 *
 * A visit: one EQA account, the qualifications it covers (and their awarding body), the
 * learners in its sample (chosen by the centre, or drawn by a stated rule) and a window
 * [starts_at, ends_at) in UTC. Dates given as YYYY-MM-DD are whole days in the centre's
 * time zone (--timezone): from the start of the first to the end of the last.
 * The report: findings, actions for the centre and sanctions, written by the EQA while
 * the window is open (their only write), each answered by an admin.
 */

static const char *const FINDING_KINDS[] = {"finding", "action", "sanction"};
static const char *const FINDING_LABELS[] = {"Finding", "Action for the centre", "Sanction"};
#define NFINDING_KINDS 3

/* ---- times ---- */

/* A window edge from the request: "YYYY-MM-DD" (local midnight starting that day, or,
 * when end, starting the next day) or an ISO 8601 UTC time. EV_OK with *t set. */
static int parse_edge(const char *s, int end, int64_t *t)
{
    if (!s || !*s)
        return EV_ERR;
    if (util_valid_date(s) && strlen(s) == 10) {
        struct tm tm = {0};
        tm.tm_year = atoi(s) - 1900;
        tm.tm_mon = atoi(s + 5) - 1;
        tm.tm_mday = atoi(s + 8) + (end ? 1 : 0);
        tm.tm_isdst = -1;
        time_t v = mktime(&tm);
        if (v == (time_t)-1)
            return EV_ERR;
        *t = (int64_t)v;
        return EV_OK;
    }
    return pages_parse_iso(s, t) == EV_OK ? EV_OK : EV_ERR;
}

/* ---- reading a visit ---- */

/* "upcoming", "open" or "ended" for a visit row at now. */
static const char *visit_state(json_t *v, const char *now)
{
    const char *from = json_string_value(json_object_get(v, "starts_at"));
    const char *to = json_string_value(json_object_get(v, "ends_at"));
    if (json_is_string(json_object_get(v, "ended_at")) || (to && strcmp(to, now) <= 0))
        return "ended";
    if (from && strcmp(from, now) > 0)
        return "upcoming";
    return "open";
}

#define VISIT_SELECT                                                                                         \
    "SELECT v.id, v.eqa_id, eu.name AS eqa_name, eu.email AS eqa_email, v.awarding_body, v.starts_at,"      \
    " v.ends_at, v.ended_at, v.sample_rule, v.created_at, cu.name AS created_by_name,"                    \
    " (SELECT count(*) FROM eqa_visit_learners vl WHERE vl.visit_id = v.id) AS learner_count,"             \
    " (SELECT count(*) FROM eqa_findings f WHERE f.visit_id = v.id) AS finding_count,"                     \
    " (SELECT count(*) FROM eqa_findings f WHERE f.visit_id = v.id AND f.response IS NULL) AS unanswered"  \
    " FROM eqa_visits v JOIN users eu ON eu.id = v.eqa_id JOIN users cu ON cu.id = v.created_by"

static void decorate_visit(json_t *v, const char *now)
{
    const char *st = visit_state(v, now);
    json_object_set_new(v, "state", json_string(st));
    json_object_set_new(v, "is_open", json_boolean(!strcmp(st, "open")));
    json_object_set_new(v, "state_label", json_string(!strcmp(st, "open")       ? "Open"
                                                      : !strcmp(st, "upcoming") ? "Not started"
                                                                                : "Ended"));
    /* the last day of the window, for people: ends_at is the start of the next day */
    int64_t t;
    if (pages_parse_iso(json_string_value(json_object_get(v, "ends_at")), &t) == EV_OK) {
        char last[21];
        util_iso_time((time_t)t - 1, last);
        json_object_set_new(v, "last_moment_at", json_string(last));
    }
}

/* The visit's findings, oldest first, with labels. Caller owns it. */
static json_t *visit_findings(db_t *db, int64_t visit_id, int can_answer)
{
    json_t *list = db_all(db,
                          "SELECT f.id, f.kind, f.body, f.learner_id, lu.name AS learner_name, f.due_on,"
                          " f.created_at, cu.name AS created_by_name, f.response, f.responded_at,"
                          " ru.name AS responded_by_name FROM eqa_findings f JOIN users cu ON cu.id = f.created_by"
                          " LEFT JOIN users lu ON lu.id = f.learner_id LEFT JOIN users ru ON ru.id = f.responded_by"
                          " WHERE f.visit_id = ? ORDER BY f.id",
                          "i", visit_id);
    if (!list)
        return json_array();
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *k = json_string_value(json_object_get(f, "kind"));
        for (size_t j = 0; k && j < NFINDING_KINDS; j++)
            if (!strcmp(k, FINDING_KINDS[j]))
                json_object_set_new(f, "kind_label", json_string(FINDING_LABELS[j]));
        int answered = json_is_string(json_object_get(f, "response"));
        json_object_set_new(f, "answered", json_boolean(answered));
        json_object_set_new(f, "can_answer", json_boolean(can_answer && !answered));
    }
    return list;
}

/* The visit {id} as the user may see it, or NULL when it does not exist (or is not
 * this EQA's). Learners are listed to an EQA only while the window is open. */
static json_t *load_visit(req_t *r, int64_t id)
{
    char now[21];
    util_now_iso(now);
    json_t *v = db_one(r->db, VISIT_SELECT " WHERE v.id = ? AND (? = 0 OR v.eqa_id = ?)", "iii", id,
                       (int64_t)(r->user.role == ROLE_EQA), r->user.id);
    if (!v)
        return NULL;
    decorate_visit(v, now);
    int is_eqa = r->user.role == ROLE_EQA, open = json_is_true(json_object_get(v, "is_open"));
    json_object_set_new(v, "qualifications",
                        db_all(r->db, "SELECT q.id, q.code, q.title, q.awarding_body FROM eqa_visit_qualifications vq"
                                      " JOIN qualifications q ON q.id = vq.qualification_id WHERE vq.visit_id = ?"
                                      " ORDER BY q.title, q.id", "i", id));
    json_t *learners = (!is_eqa || open)
                           ? db_all(r->db,
                                    "SELECT u.id, u.name, u.email FROM eqa_visit_learners vl JOIN users u"
                                    " ON u.id = vl.learner_id WHERE vl.visit_id = ? ORDER BY u.name, u.id", "i", id)
                           : json_array();
    json_object_set_new(v, "learners", learners ? learners : json_array());
    json_object_set_new(v, "learners_hidden", json_boolean(is_eqa && !open));
    json_object_set_new(v, "findings", visit_findings(r->db, id, r->user.role == ROLE_ADMIN));
    json_object_set_new(v, "can_write", json_boolean(is_eqa && open));
    json_object_set_new(v, "can_end", json_boolean(r->user.role == ROLE_ADMIN && strcmp(visit_state(v, now), "ended")));
    json_t *kinds = json_array();
    for (size_t j = 0; j < NFINDING_KINDS; j++)
        json_array_append_new(kinds, json_pack("{s:s, s:s}", "value", FINDING_KINDS[j], "label", FINDING_LABELS[j]));
    json_object_set_new(v, "kind_options", kinds);
    return v;
}

/* GET /eqa, /api/v1/eqa/visits: an admin sees every visit, an EQA their own. */
static int eqa_visits_index(req_t *r)
{
    char now[21];
    util_now_iso(now);
    json_t *items = db_all(r->db, VISIT_SELECT " WHERE (? = 0 OR v.eqa_id = ?) ORDER BY v.starts_at DESC, v.id DESC"
                                               " LIMIT 200", "ii", (int64_t)(r->user.role == ROLE_EQA), r->user.id);
    if (!items)
        return http_fail(r, 500, "db_error", "Could not list visits.");
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v) decorate_visit(v, now);
    json_t *out = http_out(r);
    json_object_set_new(out, "items", items);
    json_object_set_new(out, "can_create", json_boolean(r->user.role == ROLE_ADMIN));
    return decisions_page_ok(r);
}

/* GET /eqa/visits/{id}, /api/v1/eqa/visits/{id} */
static int eqa_visit_show(req_t *r)
{
    json_t *v = load_visit(r, r->params[0]);
    if (!v)
        return http_fail(r, 404, "not_found", "No such visit.");
    json_object_update(http_out(r), v);
    json_decref(v);
    return decisions_page_ok(r);
}

/* ---- creating a visit ---- */

/* Sets "chosen": true on each option (objects {value}) whose value was sent as field key
 * (one value or several: a select, or ticked checkboxes). */
static void mark_chosen(req_t *r, json_t *options, const char *key)
{
    json_t *sent = in_array(r, key), *o, *v;
    size_t i, k;
    json_array_foreach(options, i, o)
    {
        int64_t value = json_integer_value(json_object_get(o, "value"));
        int chosen = 0;
        json_array_foreach(sent, k, v)
        {
            int64_t id = 0;
            if (json_is_integer(v))
                id = json_integer_value(v);
            else if (!json_is_string(v) || util_parse_i64(json_string_value(v), &id) != EV_OK)
                id = 0;
            chosen |= id > 0 && id == value;
        }
        json_object_set_new(o, "chosen", json_boolean(chosen));
    }
    json_decref(sent);
}

/* The options of the new-visit form: EQA accounts, qualifications, learners. */
static void form_options(req_t *r)
{
    json_t *out = http_out(r);
    if (!json_object_get(out, "form"))
        json_object_set_new(out, "form", json_deep_copy(r->in));
    json_object_set_new(out, "eqa_options",
                        db_all(r->db, "SELECT id AS value, name || ' (' || email || ')' AS label FROM users"
                                      " WHERE role = 'eqa' AND disabled = 0 ORDER BY name LIMIT 500", ""));
    json_object_set_new(out, "qualification_options",
                        db_all(r->db, "SELECT id AS value, code || ' ' || title AS label, awarding_body"
                                      " FROM qualifications ORDER BY title, id LIMIT 500", ""));
    json_object_set_new(out, "learner_options",
                        db_all(r->db, "SELECT u.id AS value, u.name || ' (' || u.email || ')' AS label FROM users u"
                                      " WHERE u.role = 'learner' AND u.id IN (SELECT learner_id FROM enrolments)"
                                      " ORDER BY u.name, u.id LIMIT 500", ""));
    /* A refused form keeps every choice: the account, the ticked qualifications and
     * learners, and the rule. */
    mark_chosen(r, json_object_get(out, "eqa_options"), "eqa_id");
    mark_chosen(r, json_object_get(out, "qualification_options"), "qualification_ids");
    mark_chosen(r, json_object_get(out, "learner_options"), "learner_ids");
    const char *how = in_str(r, "sample_rule");
    json_t *form = json_object_get(out, "form");
    json_object_set_new(form, "rule_random", json_boolean(how && !strcmp(how, "random")));
    json_object_set_new(form, "rule_per_assessor", json_boolean(how && !strcmp(how, "per_assessor")));
    json_object_set_new(form, "rule_chosen", json_boolean(!how || (strcmp(how, "random") && strcmp(how, "per_assessor"))));
}

/* GET /eqa/visits/new: the form. */
static int eqa_visit_new(req_t *r)
{
    form_options(r);
    return decisions_page_ok(r);
}

/* Reads a list of positive ids (JSON array, a lone value, or form values) into a new
 * array of integers; NULL when one is not a positive integer. */
static json_t *read_ids(req_t *r, const char *key)
{
    json_t *in = in_array(r, key), *ids = json_array(), *v;
    size_t i;
    json_array_foreach(in, i, v)
    {
        int64_t id = 0;
        if (json_is_integer(v))
            id = json_integer_value(v);
        else if (json_is_string(v) && util_parse_i64(json_string_value(v), &id) != EV_OK)
            id = 0;
        if (id <= 0) {
            json_decref(ids);
            ids = NULL;
            break;
        }
        json_array_append_new(ids, json_integer(id));
    }
    json_decref(in);
    return ids;
}

/* Picks up to n of the candidate ids at random (libsodium's uniform draw), appending them
 * to out. */
static void draw(json_t *candidates, size_t n, json_t *out)
{
    size_t m = json_array_size(candidates);
    for (size_t i = 0; i < m && i < n; i++) {
        size_t j = i + randombytes_uniform((uint32_t)(m - i));
        json_t *a = json_incref(json_array_get(candidates, i)), *b = json_incref(json_array_get(candidates, j));
        json_array_set_new(candidates, i, b);
        json_array_set_new(candidates, j, a);
        json_array_append(out, json_object_get(json_array_get(candidates, i), "id"));
    }
}

/* The qualification ids as "?, ?, ..." cannot be bound portably as a list, so the
 * candidates are read per qualification and merged. Learners enrolled (any status) on
 * qualification q, with their assessor. */
static json_t *enrolled(req_t *r, json_t *quals)
{
    json_t *all = json_array(), *q;
    size_t i;
    json_array_foreach(quals, i, q)
    {
        json_t *rows = db_all(r->db, "SELECT learner_id AS id, assessor_id FROM enrolments WHERE qualification_id = ?"
                                     " ORDER BY learner_id", "i", (int64_t)json_integer_value(q));
        size_t j;
        json_t *row;
        json_array_foreach(rows, j, row)
        {
            int dup = 0;
            size_t k;
            json_t *e;
            json_array_foreach(all, k, e) dup |= json_integer_value(json_object_get(e, "id")) ==
                                                 json_integer_value(json_object_get(row, "id"));
            if (!dup)
                json_array_append(all, row);
        }
        json_decref(rows);
    }
    return all;
}

static int create_fail(req_t *r, const char *field, const char *message)
{
    http_field_error(r, field, message);
    if (!r->is_api)
        form_options(r);
    return http_fail(r, 400, "invalid_visit", "%s.", message);
}

/* POST /api/v1/eqa/visits, /eqa/visits (admin):
 *   {eqa_id, qualification_ids: [..], starts_at, ends_at (YYYY-MM-DD or ISO UTC),
 *    sample_rule: "chosen" (with learner_ids: [..]) | "random" | "per_assessor" (with sample_size),
 *    awarding_body?}
 * -> 201 with the visit. Every learner must be enrolled on one of the qualifications. */
static int eqa_visit_create(req_t *r)
{
    int64_t eqa = 0, from = 0, to = 0, size = 0, id = 0;
    json_t *quals = NULL, *learners = NULL, *pool = NULL, *after = NULL, *v = NULL;
    char rule[300], sfrom[21], sto[21], now[21];
    int status;
    const char *how = in_str(r, "sample_rule");
    const char *body = in_str(r, "awarding_body");
    if (!how || !*how)
        how = "chosen";
    if (in_int(r, "eqa_id", &eqa) != EV_OK ||
        !db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'eqa' AND disabled = 0", 0, "i", eqa)) {
        status = create_fail(r, "eqa_id", "Choose the external quality assurer");
        goto out;
    }
    quals = read_ids(r, "qualification_ids");
    if (!quals || !json_array_size(quals) || json_array_size(quals) > 50) {
        status = create_fail(r, "qualification_ids", "Choose at least one qualification");
        goto out;
    }
    size_t i;
    json_t *q;
    json_array_foreach(quals, i, q) if (!db_int(r->db, "SELECT 1 FROM qualifications WHERE id = ?", 0, "i",
                                                (int64_t)json_integer_value(q)))
    {
        status = create_fail(r, "qualification_ids", "Choose qualifications from the list");
        goto out;
    }
    if (parse_edge(in_str(r, "starts_at"), 0, &from) != EV_OK) {
        status = create_fail(r, "starts_at", "Enter the first day of the visit as a date, like 2026-12-01");
        goto out;
    }
    if (parse_edge(in_str(r, "ends_at"), 1, &to) != EV_OK) {
        status = create_fail(r, "ends_at", "Enter the last day of the visit as a date, like 2026-12-03");
        goto out;
    }
    if (to <= from) {
        status = create_fail(r, "ends_at", "The last day must be the same as or after the first day");
        goto out;
    }
    if (to - from > (int64_t)EQA_MAX_WINDOW_DAYS * 86400 + 3600) {
        status = create_fail(r, "ends_at", "A visit can last at most 92 days");
        goto out;
    }
    pool = enrolled(r, quals);
    if (!strcmp(how, "chosen")) {
        learners = read_ids(r, "learner_ids");
        if (!learners || !json_array_size(learners)) {
            status = create_fail(r, "learner_ids", "Choose the learners in the sample");
            goto out;
        }
        json_t *l;
        json_array_foreach(learners, i, l)
        {
            int found = 0;
            size_t k;
            json_t *e;
            json_array_foreach(pool, k, e) found |= json_integer_value(json_object_get(e, "id")) == json_integer_value(l);
            if (!found) {
                status = create_fail(r, "learner_ids", "Choose learners enrolled on the visit's qualifications");
                goto out;
            }
        }
        snprintf(rule, sizeof rule, "Chosen by the centre: %zu learner%s", json_array_size(learners),
                 json_array_size(learners) == 1 ? "" : "s");
    } else if (!strcmp(how, "random") || !strcmp(how, "per_assessor")) {
        if (in_int(r, "sample_size", &size) != EV_OK || size < 1 || size > EQA_MAX_SAMPLE) {
            status = create_fail(r, "sample_size", "Enter how many learners to draw, from 1 to 200");
            goto out;
        }
        learners = json_array();
        if (!strcmp(how, "random")) {
            draw(pool, (size_t)size, learners);
            snprintf(rule, sizeof rule, "Drawn at random: %zu of the %zu learners enrolled on the qualifications",
                     json_array_size(learners), json_array_size(pool));
        } else {
            /* per assessor: each assessor's learners drawn separately */
            json_t *assessors = json_array(), *e;
            size_t k;
            json_array_foreach(pool, k, e)
            {
                json_t *a = json_object_get(e, "assessor_id");
                int seen = 0;
                size_t m;
                json_t *x;
                json_array_foreach(assessors, m, x) seen |= json_integer_value(x) == json_integer_value(a);
                if (!seen)
                    json_array_append(assessors, a);
            }
            json_t *a;
            json_array_foreach(assessors, k, a)
            {
                json_t *theirs = json_array();
                size_t m;
                json_t *x;
                json_array_foreach(pool, m, x) if (json_integer_value(json_object_get(x, "assessor_id")) ==
                                                   json_integer_value(a)) json_array_append(theirs, x);
                draw(theirs, (size_t)size, learners);
                json_decref(theirs);
            }
            snprintf(rule, sizeof rule, "Drawn at random: up to %lld learner%s of each of the %zu assessors (%zu learners)",
                     (long long)size, size == 1 ? "" : "s", json_array_size(assessors), json_array_size(learners));
            json_decref(assessors);
        }
        if (!json_array_size(learners)) {
            status = create_fail(r, "sample_size", "No learners are enrolled on these qualifications");
            goto out;
        }
    } else {
        status = create_fail(r, "sample_rule", "Choose how the learners are picked");
        goto out;
    }
    if (json_array_size(learners) > EQA_MAX_SAMPLE) {
        status = create_fail(r, "learner_ids", "A visit can sample at most 200 learners");
        goto out;
    }
    if (body && strlen(body) > 200) {
        status = create_fail(r, "awarding_body", "Keep the awarding body under 200 characters");
        goto out;
    }
    util_iso_time((time_t)from, sfrom);
    util_iso_time((time_t)to, sto);
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    char *ab = NULL;
    if (!body || !*body)
        ab = db_text(r->db, "SELECT awarding_body FROM qualifications WHERE id = ?", "i",
                     (int64_t)json_integer_value(json_array_get(quals, 0)));
    id = db_int(r->db, "INSERT INTO eqa_visits (eqa_id, awarding_body, starts_at, ends_at, sample_rule, created_by,"
                       " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                0, "ittttit", eqa, ab ? ab : body ? body : "", sfrom, sto, rule, r->user.id, now);
    free(ab);
    int ok = id > 0;
    json_array_foreach(quals, i, q) ok = ok && db_run(r->db, "INSERT INTO eqa_visit_qualifications (visit_id,"
                                                             " qualification_id) VALUES (?, ?)"
                                                             " ON CONFLICT (visit_id, qualification_id) DO NOTHING",
                                                      "ii", id, (int64_t)json_integer_value(q)) == EV_OK;
    json_array_foreach(learners, i, q) ok = ok && db_run(r->db, "INSERT INTO eqa_visit_learners (visit_id, learner_id)"
                                                                " VALUES (?, ?) ON CONFLICT (visit_id, learner_id)"
                                                                " DO NOTHING",
                                                         "ii", id, (int64_t)json_integer_value(q)) == EV_OK;
    after = json_pack("{s:I, s:s, s:s, s:s, s:O, s:O}", "eqa_id", (json_int_t)eqa, "starts_at", sfrom, "ends_at", sto,
                      "sample_rule", rule, "qualification_ids", quals, "learner_ids", learners);
    if (!ok || audit_record(r->db, r->user.id, "eqa.visit_create", "eqa_visit", id, 0, NULL, after) != EV_OK ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not save the visit.");
        goto out;
    }
    v = load_visit(r, id);
    http_set_out(r, v ? v : json_object());
    v = NULL;
    http_redirect(r, "/eqa/visits/%lld?done=visit_created", (long long)id);
    status = 201;
out:
    json_decref(quals);
    json_decref(learners);
    json_decref(pool);
    json_decref(after);
    json_decref(v);
    return status;
}

/* POST /api/v1/eqa/visits/{id}/end, /eqa/visits/{id}/end (admin): closes the window now. */
static int eqa_visit_end(req_t *r)
{
    char now[21];
    int64_t id = r->params[0];
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    int64_t changed = db_int(r->db, "UPDATE eqa_visits SET ended_at = ? WHERE id = ? AND ended_at IS NULL"
                                    " AND ends_at > ? RETURNING id", 0, "tit", now, id, now);
    if (changed != id) {
        db_rollback(r->db);
        if (!db_int(r->db, "SELECT 1 FROM eqa_visits WHERE id = ?", 0, "i", id))
            return http_fail(r, 404, "not_found", "No such visit.");
        return http_fail(r, 409, "visit_ended", "This visit has already ended.");
    }
    json_t *after = json_pack("{s:s}", "ended_at", now);
    int rc = audit_record(r->db, r->user.id, "eqa.visit_end", "eqa_visit", id, 0, NULL, after);
    json_decref(after);
    if (rc != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not end the visit.");
    }
    json_t *v = load_visit(r, id);
    http_set_out(r, v ? v : json_object());
    http_redirect(r, "/eqa/visits/%lld?done=visit_ended", (long long)id);
    return 200;
}

/* ---- the report ---- */

/* The finding form sent again keeps its choices: the kind ticked and the learner chosen
 * (the text and the date come back through the page's values). */
static void mark_finding_choices(req_t *r, json_t *visit)
{
    const char *kind = in_str(r, "kind");
    int64_t learner = 0;
    in_int(r, "learner_id", &learner);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(visit, "kind_options"), i, o) {
        const char *value = json_string_value(json_object_get(o, "value"));
        json_object_set_new(o, "checked", json_boolean(kind && value && !strcmp(kind, value)));
    }
    json_array_foreach(json_object_get(visit, "learners"), i, o) {
        json_object_set_new(o, "selected", json_boolean(learner > 0 &&
                                                        json_integer_value(json_object_get(o, "id")) == learner));
    }
}

static int report_fail(req_t *r, int64_t visit_id, int status, const char *field, const char *message)
{
    if (field)
        http_field_error(r, field, message);
    if (!r->is_api) {
        json_t *v = load_visit(r, visit_id);
        if (v) {
            mark_finding_choices(r, v);
            json_object_update_missing(http_out(r), v);
            json_decref(v);
        }
    }
    return http_fail(r, status, status == 400 ? "invalid_finding" : "conflict", "%s.", message);
}

/* POST /api/v1/eqa/visits/{id}/findings, /eqa/visits/{id}/findings (the visit's EQA,
 * while it is open: policy_eqa_check saw to that):
 *   {kind: finding|action|sanction, body, learner_id?, due_on?} -> 201 */
static int eqa_finding_create(req_t *r)
{
    int64_t visit = r->params[0], learner = 0, id;
    char now[21];
    const char *kind = in_str(r, "kind"), *body = in_str(r, "body"), *due = in_str(r, "due_on");
    int known = 0;
    for (size_t j = 0; kind && j < NFINDING_KINDS; j++)
        known |= !strcmp(kind, FINDING_KINDS[j]);
    if (!db_int(r->db, "SELECT 1 FROM eqa_visits WHERE id = ? AND eqa_id = ?", 0, "ii", visit, r->user.id))
        return http_fail(r, 404, "not_found", "No such visit.");
    if (!known)
        return report_fail(r, visit, 400, "kind", "Choose finding, action or sanction");
    if (!body || !*body)
        return report_fail(r, visit, 400, "body", "Write the finding");
    if (strlen(body) > DECISIONS_MAX_TEXT)
        return report_fail(r, visit, 400, "body", "Keep it under 20000 characters");
    if (due && *due && !util_valid_date(due))
        return report_fail(r, visit, 400, "due_on", "Enter the due date as a date, like 2027-01-31");
    json_t *lv = json_object_get(r->in, "learner_id");
    if (lv && !(json_is_string(lv) && !*json_string_value(lv))) {
        if (in_int(r, "learner_id", &learner) != EV_OK ||
            !db_int(r->db, "SELECT 1 FROM eqa_visit_learners WHERE visit_id = ? AND learner_id = ?", 0, "ii", visit,
                    learner))
            return report_fail(r, visit, 400, "learner_id", "Choose a learner of the visit's sample");
    }
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    id = db_int(r->db, "INSERT INTO eqa_findings (visit_id, kind, body, learner_id, due_on, created_by, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                0, "ittztit", visit, kind, body, learner, due && *due ? due : NULL, r->user.id, now);
    json_t *after = json_pack("{s:I, s:s, s:s}", "visit_id", (json_int_t)visit, "kind", kind, "body", body);
    int rc = id > 0 && audit_record(r->db, r->user.id, "eqa.finding", "eqa_finding", id, learner, NULL, after) == EV_OK;
    json_decref(after);
    if (!rc || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not save the finding.");
    }
    json_t *f = db_one(r->db, "SELECT id, visit_id, kind, body, learner_id, due_on, created_at FROM eqa_findings"
                              " WHERE id = ?", "i", id);
    http_set_out(r, f ? f : json_object());
    http_redirect(r, "/eqa/visits/%lld?done=finding_added#finding-%lld", (long long)visit, (long long)id);
    return 201;
}

/* POST /api/v1/eqa/findings/{id}/response, /eqa/findings/{id}/response (admin): the
 * centre's answer {response}; once. */
static int eqa_finding_respond(req_t *r)
{
    int64_t id = r->params[0];
    char now[21];
    const char *text = in_str(r, "response");
    int64_t visit = db_int(r->db, "SELECT visit_id FROM eqa_findings WHERE id = ?", 0, "i", id);
    if (!visit)
        return http_fail(r, 404, "not_found", "No such finding.");
    if (!text || !*text)
        return report_fail(r, visit, 400, "response", "Write the centre's response");
    if (strlen(text) > DECISIONS_MAX_TEXT)
        return report_fail(r, visit, 400, "response", "Keep it under 20000 characters");
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    int64_t changed = db_int(r->db, "UPDATE eqa_findings SET response = ?, responded_by = ?, responded_at = ?"
                                    " WHERE id = ? AND response IS NULL RETURNING id",
                             0, "titi", text, r->user.id, now, id);
    if (changed != id) {
        db_rollback(r->db);
        return report_fail(r, visit, 409, NULL, "This finding has already been answered");
    }
    int64_t learner = db_int(r->db, "SELECT COALESCE(learner_id, 0) FROM eqa_findings WHERE id = ?", 0, "i", id);
    json_t *after = json_pack("{s:I, s:s}", "visit_id", (json_int_t)visit, "response", text);
    int rc = audit_record(r->db, r->user.id, "eqa.finding_response", "eqa_finding", id, learner, NULL, after);
    json_decref(after);
    if (rc != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not save the response.");
    }
    json_t *f = db_one(r->db, "SELECT id, visit_id, kind, body, response, responded_at FROM eqa_findings WHERE id = ?",
                       "i", id);
    http_set_out(r, f ? f : json_object());
    http_redirect(r, "/eqa/visits/%lld?done=finding_answered#finding-%lld", (long long)visit, (long long)id);
    return 200;
}

/* ---- demo ---- */

int eqa_demo_seed(db_t *db)
{
    int64_t eqa = db_int(db, "SELECT id FROM users WHERE email = 'eqa@demo.test'", 0, "");
    int64_t admin = db_int(db, "SELECT id FROM users WHERE email = 'admin@demo.test'", 0, "");
    json_t *learners = db_all(db, "SELECT id FROM users WHERE email IN ('learner@demo.test', 'learner2@demo.test')"
                                  " ORDER BY id", "");
    json_t *quals = db_all(db, "SELECT DISTINCT e.qualification_id AS id FROM enrolments e JOIN users u"
                               " ON u.id = e.learner_id WHERE u.email IN ('learner@demo.test', 'learner2@demo.test')"
                               " ORDER BY 1", "");
    char from[21], to[21], now[21];
    int rc = EV_OK;
    if (!eqa || !admin || !json_array_size(learners) || !json_array_size(quals))
        goto out;
    int64_t t = util_now_s();
    util_iso_time((time_t)t - 86400, from);
    util_iso_time((time_t)t + 30 * 86400, to);
    util_now_iso(now);
    rc = EV_ERR;
    if (db_begin(db) != EV_OK)
        goto out;
    int64_t id = db_int(db, "INSERT INTO eqa_visits (eqa_id, awarding_body, starts_at, ends_at, sample_rule, created_by,"
                            " created_at) VALUES (?, (SELECT awarding_body FROM qualifications WHERE id = ?), ?, ?, ?, ?, ?)"
                            " RETURNING id",
                        0, "iitttit", eqa, (int64_t)json_integer_value(json_object_get(json_array_get(quals, 0), "id")),
                        from, to, "Chosen by the centre: 2 learners", admin, now);
    int ok = id > 0;
    size_t i;
    json_t *row;
    json_array_foreach(quals, i, row) ok = ok && db_run(db, "INSERT INTO eqa_visit_qualifications (visit_id,"
                                                            " qualification_id) VALUES (?, ?)", "ii", id,
                                                        (int64_t)json_integer_value(json_object_get(row, "id"))) == EV_OK;
    json_array_foreach(learners, i, row) ok = ok && db_run(db, "INSERT INTO eqa_visit_learners (visit_id, learner_id)"
                                                               " VALUES (?, ?)", "ii", id,
                                                           (int64_t)json_integer_value(json_object_get(row, "id"))) == EV_OK;
    json_t *after = json_pack("{s:I, s:s, s:s}", "eqa_id", (json_int_t)eqa, "starts_at", from, "ends_at", to);
    ok = ok && audit_record(db, admin, "eqa.visit_create", "eqa_visit", id, 0, NULL, after) == EV_OK;
    json_decref(after);
    if (!ok || db_commit(db) != EV_OK) {
        db_rollback(db);
        goto out;
    }
    rc = EV_OK;
out:
    json_decref(learners);
    json_decref(quals);
    return rc;
}

const route_t eqa_routes[] = {
    {"GET", "/api/v1/eqa/visits", eqa_visits_index, ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/eqa", eqa_visits_index, ROLE_ADMIN | ROLE_EQA, "eqa_visits", 0},
    {"GET", "/eqa/visits/new", eqa_visit_new, ROLE_ADMIN, "eqa_visit_new", 0},
    {"POST", "/api/v1/eqa/visits", eqa_visit_create, ROLE_ADMIN, NULL, 0},
    {"POST", "/eqa/visits", eqa_visit_create, ROLE_ADMIN, "eqa_visit_new", 0},
    {"GET", "/api/v1/eqa/visits/{id}", eqa_visit_show, ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/eqa/visits/{id}", eqa_visit_show, ROLE_ADMIN | ROLE_EQA, "eqa_visit", 0},
    {"POST", "/api/v1/eqa/visits/{id}/end", eqa_visit_end, ROLE_ADMIN, NULL, 0},
    {"POST", "/eqa/visits/{id}/end", eqa_visit_end, ROLE_ADMIN, "eqa_visit", 0},
    {"POST", "/api/v1/eqa/visits/{id}/findings", eqa_finding_create, ROLE_EQA, NULL, 0},
    {"POST", "/eqa/visits/{id}/findings", eqa_finding_create, ROLE_EQA, "eqa_visit", 0},
    {"POST", "/api/v1/eqa/findings/{id}/response", eqa_finding_respond, ROLE_ADMIN, NULL, 0},
    {"POST", "/eqa/findings/{id}/response", eqa_finding_respond, ROLE_ADMIN, "eqa_visit", 0},
    {0},
};
