/* caseload.c: the assessor's caseload, the assessment queue and the review page */
#include "caseload.h"
#include "reviews.h"
#include "records.h"
#include "apprenticeships.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "combination.h"
#include "decisions.h"
#include "evidence.h"
#include "policy.h"
#include "progress.h"
#include "status.h"

/* The assessor whose caseload a request looks at: the signed-in assessor, or
 * for an admin ?assessor_id= (0: every assessor). */
static int64_t caseload_owner(req_t *r)
{
    int64_t id = 0;
    if (r->user.role == ROLE_ASSESSOR)
        return r->user.id;
    in_int(r, "assessor_id", &id);
    return id;
}

static void set_age(json_t *obj, const char *iso_key)
{
    char text[32];
    const char *iso = json_string_value(json_object_get(obj, iso_key));
    int64_t days = iso ? decisions_age(iso, text, sizeof text) : -1;
    json_object_set_new(obj, "age_days", days >= 0 ? json_integer(days) : json_null());
    json_object_set_new(obj, "age_text", json_string(days >= 0 ? text : ""));
    json_object_set_new(obj, "overdue", json_boolean(days >= 14));
}

/* The caseload's rows: scoped to one assessor (their learners come from the
 * enrolments_assessor index, most overdue first), or for an admin every
 * enrolment (by name, so only one page of rows is computed). Each statement
 * takes the same binds: the assessor (or 0), limit, offset; the page's ids are
 * chosen first on the sort keys alone, then only those rows are read whole. Percent and the
 * evidence awaiting come from the summaries the triggers keep in the writes'
 * transactions (schema/005_progress.sql): enrolment_progress (criteria by status,
 * the sums of unit_progress over the qualification's units) and learner_queue
 * (submitted evidence of the learner mapped to a criterion of that enrolment's
 * qualification, as the queue and the centre dashboard count it, so a learner on
 * two qualifications is not counted twice), one row each, instead of counting
 * criteria and evidence per row. */
#define CASELOAD_QUEUE_JOIN                                                                                    \
    " LEFT JOIN learner_queue lq ON lq.learner_id = e.learner_id AND lq.qualification_id = e.qualification_id"
#define CASELOAD_SELECT(FROM, WHERE, ORDER)                                                                    \
    "SELECT e.id AS enrolment_id, e.learner_id AS id, u.name, u.email, e.status AS enrolment_status,"        \
    " q.id AS qualification_id, q.code AS qualification_code, q.title AS qualification_title,"              \
    " e.assessor_id, au.name AS assessor_name,"                                                              \
    " e.start_date, e.planned_end_date, COALESCE(ap.break_days, 0) AS break_days, ap.break_open_since,"      \
    " COALESCE(p.total, 0) AS criteria_total, COALESCE(p.met, 0) AS criteria_met,"                           \
    " COALESCE(lq.awaiting, 0) AS awaiting, lq.oldest_submitted_at"                                         \
    " FROM (SELECT e.id FROM " FROM                                                                          \
    " JOIN qualifications q ON q.id = e.qualification_id" CASELOAD_QUEUE_JOIN                                \
    " WHERE " WHERE " ORDER BY " ORDER " LIMIT ? OFFSET ?) pick"                                               \
    " JOIN enrolments e ON e.id = pick.id JOIN users u ON u.id = e.learner_id JOIN users au ON au.id = e.assessor_id" \
    " JOIN qualifications q ON q.id = e.qualification_id LEFT JOIN apprenticeships ap ON ap.enrolment_id = e.id" \
    " LEFT JOIN enrolment_progress p ON p.enrolment_id = e.id" CASELOAD_QUEUE_JOIN " ORDER BY " ORDER

/* Submitted evidence of the caseload (the queue), scoped or centre-wide. An assessor's
 * is read learner by learner (their learners from the enrolments_assessor index, then
 * each one's submitted evidence from evidence_learner_status) and sorted, rather than
 * walking every submitted item of the centre in date order for the few that are theirs. */
#define QUEUE_FROM_MINE                                                                                        \
    " FROM (SELECT DISTINCT en.learner_id FROM enrolments en WHERE en.assessor_id = ?) mine"                 \
    " JOIN evidence ev ON ev.learner_id = mine.learner_id AND ev.status = 'submitted'"
#define QUEUE_FROM_ALL " FROM evidence ev WHERE ev.status = 'submitted' AND ? = 0"
#define QUEUE_SELECT(FROM)                                                                                     \
    "SELECT ev.id, ev.title, ev.kind, ev.submitted_at, ev.occurred_on, ev.learner_id,"                       \
    " u.name AS learner_name,"                                                                               \
    " (SELECT COUNT(*) FROM evidence_criteria ec WHERE ec.evidence_id = ev.id) AS criteria_count,"           \
    " (SELECT COUNT(*) FROM evidence_files f WHERE f.evidence_id = ev.id) AS file_count"                     \
    " FROM (SELECT ev.id" FROM " ORDER BY ev.submitted_at, ev.id LIMIT ? OFFSET ?) pick"                     \
    " JOIN evidence ev ON ev.id = pick.id JOIN users u ON u.id = ev.learner_id ORDER BY ev.submitted_at, ev.id"

static int64_t queue_total(db_t *db, int64_t owner)
{
    return owner ? db_int(db, "SELECT COUNT(*)" QUEUE_FROM_MINE, 0, "i", owner)
                 : db_int(db, "SELECT COUNT(*)" QUEUE_FROM_ALL, 0, "i", owner);
}

/* GET /caseload, /api/v1/caseload: each learner (enrolment) with percent
 * complete, evidence awaiting assessment and the age of the oldest. */
static int caseload_index(req_t *r)
{
    int64_t limit, offset, owner = caseload_owner(r);
    http_page(r, 25, &limit, &offset);
    int64_t total = owner ? db_int(r->db, "SELECT COUNT(*) FROM enrolments e WHERE e.assessor_id = ?", 0, "i", owner)
                          : db_int(r->db, "SELECT COUNT(*) FROM enrolments", 0, ""); /* SQLite: from the b-tree's size */
    json_t *items =
        owner ? db_all(r->db,
                       CASELOAD_SELECT("enrolments e JOIN users u ON u.id = e.learner_id", "e.assessor_id = ?",
                                       "lq.oldest_submitted_at NULLS LAST, u.name, q.title, e.id"),
                       "iii", owner, limit, offset)
              /* every enrolment by learner name: walked in users_name order (CROSS JOIN keeps
               * SQLite's loop order; schema/018), not sorted whole (issue 22) */
              : db_all(r->db,
                       CASELOAD_SELECT("users u CROSS JOIN enrolments e", "e.learner_id = u.id AND ? = 0",
                                       "u.name, u.id, q.title, e.id"),
                       "iii", owner, limit, offset);
    if (!items)
        return http_fail(r, 500, "db_error", "Could not load the caseload.");
    size_t i;
    json_t *it;
    combination_cache_t *rules = combination_cache_new(r->db);
    json_array_foreach(items, i, it)
    {
        int64_t t = json_integer_value(json_object_get(it, "criteria_total"));
        int64_t m = json_integer_value(json_object_get(it, "criteria_met"));
        int percent = progress_percent(m, t), achieved = 0;
        /* a qualification with rules of combination: percent by credits (combination.h) */
        if (combination_enrolment_percent(rules, json_integer_value(json_object_get(it, "enrolment_id")),
                                          json_integer_value(json_object_get(it, "id")),
                                          json_integer_value(json_object_get(it, "qualification_id")), &percent,
                                          &achieved) &&
            !achieved && percent >= 100)
            percent = 99;
        json_object_set_new(it, "percent", json_integer(percent));
        progress_pace_t pace; /* expected progress: on track / behind / at risk (progress.h) */
        progress_pace_breaks(json_string_value(json_object_get(it, "enrolment_status")),
                             json_string_value(json_object_get(it, "start_date")),
                             json_string_value(json_object_get(it, "planned_end_date")),
                             json_integer_value(json_object_get(it, "break_days")),
                             json_string_value(json_object_get(it, "break_open_since")), percent,
                             progress_today(), &pace);
        json_object_set_new(it, "pace", progress_pace_json(&pace));
        json_t *otj = apprenticeships_enrolment_otj(r->db, json_integer_value(json_object_get(it, "enrolment_id")),
                                                    progress_today());
        if (otj) /* an apprenticeship: off-the-job hours against expected-by-now */
            json_object_set_new(it, "otj", otj);
        json_object_set_new(it, "has_awaiting", json_boolean(json_integer_value(json_object_get(it, "awaiting")) > 0));
        set_age(it, "oldest_submitted_at");
    }
    combination_cache_free(rules);
    /* progress reviews: the caseload's count of overdue ones, and when each listed
     * enrolment's next review is due (only the page's rows: reviews.h) */
    int64_t overdue_reviews = reviews_overdue_count(r->db, owner, progress_today());
    json_array_foreach(items, i, it)
    {
        char on[11] = "";
        int overdue = 0;
        if (reviews_next_due(r->db, json_integer_value(json_object_get(it, "enrolment_id")), progress_today(), on,
                             &overdue) != EV_OK)
            on[0] = '\0', overdue = 0;
        json_object_set_new(it, "review_due_on", on[0] ? json_string(on) : json_null());
        json_object_set_new(it, "review_overdue", json_boolean(overdue));
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "reviews_overdue", json_integer(overdue_reviews));
    json_object_set_new(out, "items", items);
    json_object_set_new(out, "total_label", json_string(total == 1 ? "learner enrolment" : "learner enrolments"));
    json_object_set_new(out, "awaiting_total", json_integer(queue_total(r->db, owner)));
    json_object_set_new(out, "open_actions",
                        json_integer(owner ? db_int(r->db,
                                                    "SELECT COUNT(*) FROM decisions d JOIN iqa_samples s"
                                                    " ON s.decision_id = d.id WHERE d.assessor_id = ?"
                                                    " AND s.outcome = 'action_required' AND s.responded_at IS NULL",
                                                    0, "i", owner)
                                           : db_int(r->db,
                                                    "SELECT COUNT(*) FROM iqa_samples s WHERE ? = 0 AND"
                                                    " s.outcome = 'action_required' AND s.responded_at IS NULL",
                                                    0, "i", owner)));
    json_object_set_new(out, "sorted_by_overdue", json_boolean(owner != 0));
    /* the assessor's own records still to write up (records.c) */
    json_t *planned = owner ? records_to_write_up(r->db, owner) : json_array();
    json_object_set_new(out, "to_write_up_total", json_integer((json_int_t)json_array_size(planned)));
    json_object_set_new(out, "to_write_up", planned);
    http_paginate(r, out, total);
    return decisions_page_ok(r);
}

/* GET /queue, /api/v1/queue: submitted evidence across the caseload, oldest first. */
static int caseload_queue(req_t *r)
{
    int64_t limit, offset, owner = caseload_owner(r);
    http_page(r, 25, &limit, &offset);
    int64_t total = queue_total(r->db, owner);
    json_t *items = owner ? db_all(r->db, QUEUE_SELECT(QUEUE_FROM_MINE), "iii", owner, limit, offset)
                          : db_all(r->db, QUEUE_SELECT(QUEUE_FROM_ALL), "iii", owner, limit, offset);
    if (!items)
        return http_fail(r, 500, "db_error", "Could not load the queue.");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_object_set_new(it, "kind_label",
                            json_string(decisions_kind_label(json_string_value(json_object_get(it, "kind")))));
        set_age(it, "submitted_at");
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "items", items);
    /* besides learner submissions: the assessor's own planned records to write up */
    json_object_set_new(out, "to_write_up", owner ? records_to_write_up(r->db, owner) : json_array());
    http_paginate(r, out, total);
    return decisions_page_ok(r);
}

/* One requested decision of a review form. */
typedef struct review_item {
    int64_t criterion_id;
    const char *outcome;
    const char *feedback;
} review_item_t;

/* The answer given for criterion cid in the request: the JSON "decisions"
 * list, or the form fields outcome_<cid> / feedback_<cid>. */
static void review_answer(req_t *r, int64_t cid, const char **outcome, const char **feedback)
{
    *outcome = NULL;
    *feedback = NULL;
    json_t *list = json_object_get(r->in, "decisions");
    if (json_is_array(list)) {
        size_t i;
        json_t *d;
        json_array_foreach(list, i, d)
        {
            json_t *c = json_object_get(d, "criterion_id");
            int64_t v = 0;
            if (json_is_integer(c))
                v = json_integer_value(c);
            else if (json_is_string(c))
                util_parse_i64(json_string_value(c), &v);
            if (v == cid) {
                *outcome = json_string_value(json_object_get(d, "outcome"));
                *feedback = json_string_value(json_object_get(d, "feedback"));
            }
        }
        return;
    }
    char key[48];
    snprintf(key, sizeof key, "outcome_%lld", (long long)cid);
    *outcome = in_str(r, key);
    snprintf(key, sizeof key, "feedback_%lld", (long long)cid);
    *feedback = in_str(r, key);
}

static const char *status_label(const char *s)
{
    if (!s)
        return "";
    if (!strcmp(s, "draft"))
        return "Draft";
    if (!strcmp(s, "submitted"))
        return "Awaiting assessment";
    if (!strcmp(s, "assessed"))
        return "Assessed";
    if (!strcmp(s, "returned"))
        return "Returned to learner";
    return s;
}

/* Fills r->out with the review page of evidence_id; with_input: keep what the
 * request entered (re-showing a form with errors). 200 or an error status. */
static int load_review(req_t *r, int64_t evidence_id, int with_input)
{
    json_t *ev = db_one(r->db,
                        "SELECT ev.id, ev.learner_id, u.name AS learner_name, ev.title, ev.kind, ev.description,"
                        " ev.body, ev.occurred_on, ev.status, ev.submitted_at, ev.created_at"
                        " FROM evidence ev JOIN users u ON u.id = ev.learner_id WHERE ev.id = ?",
                        "i", evidence_id);
    if (!ev)
        return http_fail(r, 404, "not_found", "No such evidence.");
    int64_t learner_id = json_integer_value(json_object_get(ev, "learner_id"));
    const char *st = json_string_value(json_object_get(ev, "status"));
    if (!policy_can_read_learner(r->db, &r->user, learner_id) || r->user.id == learner_id ||
        !strcmp(st, "draft")) {
        json_decref(ev);
        return http_fail(r, 404, "not_found", "No such evidence."); /* as if it did not exist */
    }
    int can_decide = policy_can_assess_learner(r->db, &r->user, learner_id) && !strcmp(st, "submitted");
    json_object_set_new(ev, "kind_label",
                        json_string(decisions_kind_label(json_string_value(json_object_get(ev, "kind")))));
    json_object_set_new(ev, "status_label", json_string(status_label(st)));
    const char *desc = json_string_value(json_object_get(ev, "description"));
    const char *body = json_string_value(json_object_get(ev, "body"));
    json_object_set_new(ev, "has_description", json_boolean(desc && *desc));
    json_object_set_new(ev, "has_body", json_boolean(body && *body));
    set_age(ev, "submitted_at");
    json_t *files = db_all(r->db, "SELECT id, name, size, mime, sha256, download_only FROM evidence_files"
                                  " WHERE evidence_id = ? ORDER BY id", "i", evidence_id);
    size_t i;
    json_t *f;
    /* the same url, size label and preview flags as the evidence page (previews inline) */
    json_array_foreach(files, i, f) evidence_decorate_file(f, evidence_id);
    json_object_set_new(ev, "file_count", json_integer((json_int_t)json_array_size(files)));
    json_object_set_new(ev, "files", files ? files : json_array());

    json_t *crits = db_all(r->db,
                           "SELECT ec.criterion_id, ec.note, c.ref, c.text, c.unit_id, o.number AS outcome_number,"
                           " o.text AS outcome_text, un.ref AS unit_ref, un.title AS unit_title,"
                           " q.code AS qualification_code, q.title AS qualification_title,"
                           " COALESCE(s.status, 'not_started') AS status, s.decision_id AS latest_decision_id"
                           " FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id"
                           " JOIN units un ON un.id = c.unit_id JOIN qualifications q ON q.id = un.qualification_id"
                           " LEFT JOIN outcomes o ON o.id = c.outcome_id"
                           " LEFT JOIN criterion_status s ON s.learner_id = ec.learner_id AND s.criterion_id = c.id"
                           " WHERE ec.evidence_id = ? ORDER BY q.id, un.position, un.id, c.position, c.id",
                           "i", evidence_id);
    if (!crits) {
        json_decref(ev);
        return http_fail(r, 500, "db_error", "Could not load the criteria.");
    }
    /* Group the criteria by unit, with the unit's guidance beside them. */
    json_t *units = json_array(), *unit = NULL;
    int64_t cur_unit = 0;
    json_t *c;
    json_array_foreach(crits, i, c)
    {
        int64_t uid = json_integer_value(json_object_get(c, "unit_id"));
        int64_t cid = json_integer_value(json_object_get(c, "criterion_id"));
        if (uid != cur_unit) {
            cur_unit = uid;
            unit = json_pack("{s:I, s:O, s:O, s:O, s:O, s:[]}", "id", (json_int_t)uid, "ref",
                             json_object_get(c, "unit_ref"), "title", json_object_get(c, "unit_title"),
                             "qualification_code", json_object_get(c, "qualification_code"), "qualification_title",
                             json_object_get(c, "qualification_title"), "criteria");
            json_t *g = db_all(r->db,
                               "SELECT kind, text FROM unit_guidance WHERE unit_id = ?"
                               " AND kind IN ('assessment_guidance', 'common_mistakes', 'key_terms')"
                               " ORDER BY kind, position",
                               "i", uid);
            json_t *guid = json_array(), *mist = json_array(), *terms = json_array(), *gi;
            size_t k;
            json_array_foreach(g, k, gi)
            {
                const char *kind = json_string_value(json_object_get(gi, "kind"));
                json_t *dst = !strcmp(kind, "common_mistakes") ? mist : !strcmp(kind, "key_terms") ? terms : guid;
                json_array_append(dst, json_object_get(gi, "text"));
            }
            json_decref(g);
            json_object_set_new(unit, "has_guidance", json_boolean(json_array_size(guid) > 0));
            json_object_set_new(unit, "has_mistakes", json_boolean(json_array_size(mist) > 0));
            json_object_set_new(unit, "has_terms", json_boolean(json_array_size(terms) > 0));
            json_object_set_new(unit, "guidance", guid);
            json_object_set_new(unit, "common_mistakes", mist);
            json_object_set_new(unit, "key_terms", terms);
            json_array_append_new(units, unit);
        }
        char name[48];
        snprintf(name, sizeof name, "outcome_%lld", (long long)cid);
        json_object_set_new(c, "field_outcome", json_string(name));
        const char *note = json_string_value(json_object_get(c, "note"));
        json_object_set_new(c, "has_note", json_boolean(note && *note));
        snprintf(name, sizeof name, "feedback_%lld", (long long)cid);
        json_object_set_new(c, "field_feedback", json_string(name));
        int64_t latest = json_integer_value(json_object_get(c, "latest_decision_id"));
        json_t *ld = latest ? decisions_get(r->db, latest) : NULL;
        json_object_set_new(c, "latest", ld ? ld : json_null());
        if (with_input) {
            const char *o, *fb;
            review_answer(r, cid, &o, &fb);
            json_object_set_new(c, "checked_met", json_boolean(o && !strcmp(o, "met")));
            json_object_set_new(c, "checked_not_met", json_boolean(o && !strcmp(o, "not_met")));
            json_object_set_new(c, "feedback", json_string(fb ? fb : ""));
        }
        json_array_append(json_object_get(unit, "criteria"), c);
    }
    json_t *history = db_all(r->db,
                             "SELECT d.id, d.outcome, d.feedback, d.created_at, c.ref AS criterion_ref,"
                             " au.name AS assessor_name,"
                             " (SELECT s.id FROM decisions s WHERE s.supersedes_id = d.id) AS superseded_by"
                             " FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id"
                             " JOIN criteria c ON c.id = d.criterion_id JOIN users au ON au.id = d.assessor_id"
                             " WHERE de.evidence_id = ? ORDER BY d.id DESC",
                             "i", evidence_id);
    json_array_foreach(history, i, c)
    {
        const char *o = json_string_value(json_object_get(c, "outcome"));
        json_object_set_new(c, "is_met", json_boolean(o && !strcmp(o, "met")));
        json_object_set_new(c, "outcome_label", json_string(o && !strcmp(o, "met") ? "Met" : "Not yet met"));
        json_object_set_new(c, "is_current", json_boolean(json_is_null(json_object_get(c, "superseded_by"))));
    }
    json_t *vacsr = with_input ? decisions_vacsr_from_request(r) : NULL;
    json_t *out = http_out(r);
    json_object_set_new(out, "evidence", ev);
    json_object_set_new(out, "criteria", crits);
    json_object_set_new(out, "units", units);
    json_object_set_new(out, "history", history ? history : json_array());
    json_object_set_new(out, "vacsr", decisions_vacsr_list(vacsr));
    json_object_set_new(out, "declaration_checked", json_boolean(with_input && in_bool(r, "declaration")));
    json_object_set_new(out, "can_decide", json_boolean(can_decide));
    json_decref(vacsr);
    return decisions_page_ok(r);
}

/* GET /review/{evidence_id}, /api/v1/reviews/{evidence_id} */
static int review_show(req_t *r)
{
    return load_review(r, r->params[0], 0);
}

/* POST /review/{evidence_id}, /api/v1/reviews/{evidence_id}: a decision for
 * every criterion the evidence is mapped to, with the VACSR checklist and the
 * declaration. JSON: {"decisions": [{criterion_id, outcome, feedback}],
 * "vacsr": {...}, "declaration": true}; form: outcome_<id>, feedback_<id>,
 * vacsr_valid..., declaration. */
static int review_decide(req_t *r)
{
    int64_t evidence_id = r->params[0];
    json_t *vacsr = NULL, *ids = NULL, *made = NULL;
    review_item_t *items = NULL;
    int status = load_review(r, evidence_id, 1);
    if (status != 200)
        goto out;
    json_t *out = http_out(r);
    json_t *ev = json_object_get(out, "evidence");
    int64_t learner_id = json_integer_value(json_object_get(ev, "learner_id"));
    if (!policy_can_assess_learner(r->db, &r->user, learner_id)) {
        status = http_fail(r, 403, "forbidden", "You are not this learner's assessor.");
        goto out;
    }
    if (strcmp(json_string_value(json_object_get(ev, "status")), "submitted") != 0) {
        status = http_fail(r, 409, "not_awaiting_assessment", "This evidence is not awaiting assessment.");
        goto out;
    }
    json_t *crits = json_object_get(out, "criteria");
    size_t n = json_array_size(crits), i, met = 0;
    if (!n) {
        status = http_fail(r, 409, "not_mapped", "This evidence is not mapped to any criteria.");
        goto out;
    }
    items = xcalloc(n, sizeof *items);
    json_t *c;
    json_array_foreach(crits, i, c)
    {
        int64_t cid = json_integer_value(json_object_get(c, "criterion_id"));
        const char *ref = json_string_value(json_object_get(c, "ref"));
        char field[48], msg[160];
        items[i].criterion_id = cid;
        review_answer(r, cid, &items[i].outcome, &items[i].feedback);
        const char *o = items[i].outcome;
        if (!o || (strcmp(o, "met") && strcmp(o, "not_met"))) {
            snprintf(field, sizeof field, "outcome_%lld", (long long)cid);
            snprintf(msg, sizeof msg, "Choose met or not yet met for criterion %s", ref ? ref : "");
            http_field_error(r, field, msg);
            continue;
        }
        if (items[i].feedback && strlen(items[i].feedback) > DECISIONS_MAX_TEXT) {
            snprintf(field, sizeof field, "feedback_%lld", (long long)cid);
            http_field_error(r, field, "Keep the feedback under 20000 characters");
        }
        if (!strcmp(o, "met"))
            met++;
        else if (!items[i].feedback || !*items[i].feedback) {
            snprintf(field, sizeof field, "feedback_%lld", (long long)cid);
            snprintf(msg, sizeof msg, "Give feedback on criterion %s so the learner knows what to do next",
                     ref ? ref : "");
            http_field_error(r, field, msg);
        }
    }
    vacsr = decisions_vacsr_from_request(r);
    if (met && !decisions_vacsr_all(vacsr))
        http_field_error(r, "vacsr_valid",
                         "Confirm the evidence is valid, authentic, current, sufficient and reliable before judging it met");
    int declared = in_bool(r, "declaration"); /* never assumed: rules.c */
    if (!declared)
        http_field_error(r, "declaration", "Confirm the assessor declaration");
    if (http_field_error_count(r)) {
        /* Each criterion shows its own messages beside its fields. */
        json_t *by = json_object_get(out, "field_errors");
        json_array_foreach(crits, i, c)
        {
            json_t *m = json_object_get(by, json_string_value(json_object_get(c, "field_outcome")));
            if (m)
                json_object_set(c, "error_outcome", m);
            m = json_object_get(by, json_string_value(json_object_get(c, "field_feedback")));
            if (m)
                json_object_set(c, "error_feedback", m);
        }
        status = http_fail(r, 400, "invalid_review", "Check the decisions and try again.");
        goto out;
    }

    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    ids = json_pack("[I]", (json_int_t)evidence_id);
    made = json_array();
    status = 201;
    for (i = 0; i < n && status == 201; i++) {
        decision_input_t in = {learner_id, items[i].criterion_id, items[i].outcome, items[i].feedback, vacsr,
                               declared, ids, NULL};
        int64_t id = 0;
        status = decisions_record(r, &in, &id);
        if (status == 201)
            json_array_append_new(made, json_integer(id));
    }
    if (status == 201 && (decisions_settle_evidence(r->db, r->user.id, evidence_id) != EV_OK ||
                          status_refresh_learner(r->db, learner_id) != EV_OK))
        status = http_fail(r, 500, "db_error", "Could not update the evidence.");
    if (status != 201 || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (status == 201)
            status = http_fail(r, 500, "db_error", "Could not save the decisions.");
        goto out;
    }
    char *ev_status = db_text(r->db, "SELECT status FROM evidence WHERE id = ?", "i", evidence_id);
    http_set_out(r, json_pack("{s:I, s:s, s:O}", "evidence_id", (json_int_t)evidence_id, "evidence_status",
                              ev_status ? ev_status : "", "decision_ids", made));
    free(ev_status);
    /* A unit this evidence completed goes straight to its sign-off; else the next in the queue. */
    int64_t ready = db_int(r->db,
                           "SELECT c.unit_id FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id"
                           " WHERE ec.evidence_id = ? AND NOT EXISTS (SELECT 1 FROM unit_signoffs so"
                           "   WHERE so.learner_id = ec.learner_id AND so.unit_id = c.unit_id)"
                           " AND NOT EXISTS (SELECT 1 FROM criteria c2 WHERE c2.unit_id = c.unit_id AND c2.retired = 0"
                           "   AND NOT EXISTS (SELECT 1 FROM criterion_status cs WHERE cs.learner_id = ec.learner_id"
                           "   AND cs.criterion_id = c2.id AND cs.status = 'met')) LIMIT 1",
                           0, "i", evidence_id);
    json_object_set_new(http_out(r), "unit_ready_for_signoff", ready ? json_integer(ready) : json_null());
    if (ready)
        http_redirect(r, "/learners/%lld/units/%lld/signoff?done=decisions", (long long)learner_id, (long long)ready);
    else
        http_redirect(r, "/queue?done=decisions");
out:
    free(items);
    json_decref(vacsr);
    json_decref(ids);
    json_decref(made);
    return status;
}

const route_t caseload_routes[] = {
    {"GET", "/api/v1/caseload", caseload_index, ROLE_ASSESSOR | ROLE_ADMIN, NULL, 0},
    {"GET", "/caseload", caseload_index, ROLE_ASSESSOR | ROLE_ADMIN, "caseload", 0},
    {"GET", "/api/v1/queue", caseload_queue, ROLE_ASSESSOR | ROLE_ADMIN, NULL, 0},
    {"GET", "/queue", caseload_queue, ROLE_ASSESSOR | ROLE_ADMIN, "queue", 0},
    {"GET", "/api/v1/reviews/{id}", review_show, ROLE_STAFF, NULL, 0},
    {"GET", "/review/{id}", review_show, ROLE_STAFF, "review", 0},
    {"POST", "/api/v1/reviews/{id}", review_decide, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/review/{id}", review_decide, ROLE_ASSESSOR, "review", 0},
    {0},
};
