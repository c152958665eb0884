/* decisions.c: assessment decisions (append-only history), learner countersigns, unit sign-off */
#include "notify.h"
#include "decisions.h"

#include "pages.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "evidence.h"
#include "iqa.h"
#include "policy.h"
#include "rules.h"
#include "status.h"

/* ---- small helpers shared by the assessment modules ---- */

static const struct {
    const char *key, *label, *hint;
} VACSR[5] = {
    {"valid", "Valid", "The evidence is relevant to the criteria it is mapped to."},
    {"authentic", "Authentic", "The evidence is the learner's own work."},
    {"current", "Current", "The evidence shows the learner's competence now."},
    {"sufficient", "Sufficient", "There is enough evidence to cover the criteria."},
    {"reliable", "Reliable", "The evidence would lead another assessor to the same judgement."},
};

const char *decisions_kind_label(const char *kind)
{
    static const struct {
        const char *kind, *label;
    } kinds[] = {
        {"observation", "Observation"},
        {"witness_testimony", "Witness testimony"},
        {"professional_discussion", "Professional discussion"},
        {"product", "Product"},
        {"reflective_account", "Reflective account"},
        {"question_and_answer", "Question and answer"},
        {"recognition_of_prior_learning", "Recognition of prior learning"},
    };
    if (!kind)
        return "";
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return kinds[i].label;
    return kind;
}

int64_t decisions_age(const char *iso, char *text, size_t textlen)
{
    int64_t t, now = util_now_s();
    if (textlen)
        text[0] = '\0';
    if (pages_parse_iso(iso, &t) != EV_OK)
        return -1;
    if (textlen)
        pages_ago(t, now, text, textlen);
    return now > t ? (now - t) / 86400 : 0;
}

void decisions_humanize(json_t *v)
{
    pages_humanize(v, util_now_s());
}

int decisions_page_ok(req_t *r)
{
    if (!r->is_api && r->out)
        decisions_humanize(r->out);
    return 200;
}

json_t *decisions_vacsr_list(json_t *vacsr)
{
    json_t *list = json_array();
    for (int i = 0; i < 5; i++) {
        json_t *v = json_is_object(vacsr) ? json_object_get(vacsr, VACSR[i].key) : NULL;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:b}", "key", VACSR[i].key,
                                              "name", VACSR[i].key, "label", VACSR[i].label,
                                              "hint", VACSR[i].hint, "checked", json_is_true(v)));
    }
    return list;
}

json_t *decisions_vacsr_from_request(req_t *r)
{
    json_t *obj = json_object_get(r->in, "vacsr");
    if (json_is_object(obj)) {
        json_t *out = json_object();
        for (int i = 0; i < 5; i++) {
            json_t *v = json_object_get(obj, VACSR[i].key);
            int on = json_is_true(v) ||
                     (json_is_string(v) && (strcmp(json_string_value(v), "on") == 0 ||
                                            strcmp(json_string_value(v), "true") == 0 ||
                                            strcmp(json_string_value(v), "1") == 0));
            json_object_set_new(out, VACSR[i].key, json_boolean(on));
        }
        return out;
    }
    /* Form checkboxes: vacsr_valid=on ... An unticked box is simply absent,
     * so a page form always yields an answer; a JSON call without any yields none. */
    int any = 0;
    char key[32];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "vacsr_%s", VACSR[i].key);
        if (json_object_get(r->in, key))
            any = 1;
    }
    if (!any && r->is_api)
        return NULL;
    json_t *out = json_object();
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "vacsr_%s", VACSR[i].key);
        json_object_set_new(out, VACSR[i].key, json_boolean(in_bool(r, key)));
    }
    return out;
}

int decisions_vacsr_all(json_t *vacsr)
{
    if (!json_is_object(vacsr))
        return 0;
    for (int i = 0; i < 5; i++)
        if (!json_is_true(json_object_get(vacsr, VACSR[i].key)))
            return 0;
    return 1;
}

/* An integer from a JSON value that may be a number or a numeric string. */
static int json_id(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out > 0 ? EV_OK : EV_ERR;
    }
    if (json_is_string(v) && util_parse_i64(json_string_value(v), out) == EV_OK && *out > 0)
        return EV_OK;
    return EV_ERR;
}

/* ---- reading decisions ---- */

/* The qualification of decision d (for POLICY_QSCOPE_SQL). */
#define DEC_QUALIFICATION "(SELECT qun.qualification_id FROM criteria qc JOIN units qun ON qun.id = qc.unit_id WHERE qc.id = d.criterion_id)"
#define DEC_SELECT                                                                             \
    "SELECT d.id, d.learner_id, lu.name AS learner_name, d.criterion_id,"                       \
    " c.ref AS criterion_ref, c.text AS criterion_text, c.unit_id, un.ref AS unit_ref,"         \
    " un.title AS unit_title, un.qualification_id, d.assessor_id, au.name AS assessor_name,"    \
    " (SELECT q.title FROM qualifications q WHERE q.id = un.qualification_id)"                  \
    " AS qualification_title,"                                                                  \
    " d.outcome, d.feedback, d.vacsr AS vacsr_json, d.declaration, d.supersedes_id,"           \
    " (SELECT s.id FROM decisions s WHERE s.supersedes_id = d.id) AS superseded_by,"            \
    " d.created_at, cs.signed_at AS countersigned_at, cs.comment AS countersign_comment,"       \
    " d.rpl_reason, d.criterion_ref AS decided_criterion_ref, d.criterion_text AS decided_criterion_text" \
    " FROM decisions d JOIN users lu ON lu.id = d.learner_id"                                   \
    " JOIN users au ON au.id = d.assessor_id JOIN criteria c ON c.id = d.criterion_id"          \
    " JOIN units un ON un.id = c.unit_id LEFT JOIN countersigns cs ON cs.decision_id = d.id"

void decisions_decorate(json_t *d)
{
    const char *outcome = json_string_value(json_object_get(d, "outcome"));
    int met = outcome && strcmp(outcome, "met") == 0;
    json_object_set_new(d, "is_met", json_boolean(met));
    json_object_set_new(d, "outcome_label", json_string(met ? "Met" : "Not yet met"));
    const char *fb = json_string_value(json_object_get(d, "feedback"));
    json_object_set_new(d, "has_feedback", json_boolean(fb && *fb));
    json_object_set_new(d, "declaration",
                        json_boolean(json_integer_value(json_object_get(d, "declaration")) != 0));
    json_object_set_new(d, "is_current", json_boolean(json_is_null(json_object_get(d, "superseded_by")) ||
                                                      !json_object_get(d, "superseded_by")));
    json_t *cs = json_object_get(d, "countersigned_at");
    json_object_set_new(d, "countersigned", json_boolean(json_is_string(cs)));
    json_t *vacsr = json_object_get(d, "vacsr");
    json_object_set_new(d, "vacsr_list", decisions_vacsr_list(vacsr));
    json_object_set_new(d, "vacsr_recorded", json_boolean(json_is_object(vacsr) && json_object_size(vacsr) > 0));
    const char *wording = json_string_value(json_object_get(d, "decided_criterion_text"));
    const char *now_text = json_string_value(json_object_get(d, "criterion_text"));
    json_object_set_new(d, "criterion_reworded", json_boolean(wording && now_text && strcmp(wording, now_text) != 0));
    json_object_set_new(d, "is_rpl", json_boolean(json_is_string(json_object_get(d, "rpl_reason"))));
}

static json_t *decision_evidence(db_t *db, int64_t decision_id)
{
    json_t *ev = db_all(db,
                        "SELECT e.id, e.title, e.kind, e.status FROM decision_evidence de"
                        " JOIN evidence e ON e.id = de.evidence_id WHERE de.decision_id = ? ORDER BY e.id",
                        "i", decision_id);
    if (!ev)
        return json_array();
    /* Beside each item, what the decision was made on (frozen at decision time). */
    json_t *basis = rules_basis(db, decision_id);
    size_t i, j;
    json_t *e, *b;
    json_array_foreach(ev, i, e)
    {
        json_object_set_new(e, "kind_label",
                            json_string(decisions_kind_label(json_string_value(json_object_get(e, "kind")))));
        json_t *frozen = NULL;
        json_array_foreach(basis, j, b) if (json_integer_value(json_object_get(b, "evidence_id")) ==
                                            json_integer_value(json_object_get(e, "id"))) frozen = b;
        json_object_set_new(e, "frozen", json_boolean(frozen != NULL));
        json_object_set_new(e, "files", frozen ? json_incref(json_object_get(frozen, "files")) : json_array());
        if (frozen) {
            json_object_set(e, "title_at_decision", json_object_get(frozen, "title"));
            json_object_set(e, "note_at_decision", json_object_get(frozen, "note"));
            json_object_set(e, "mapped_at_decision", json_object_get(frozen, "mapped"));
            json_object_set(e, "author_role", json_object_get(frozen, "author_role"));
            json_object_set(e, "author_name", json_object_get(frozen, "author_name"));
            const char *ar = json_string_value(json_object_get(frozen, "author_role"));
            json_object_set_new(e, "by_other", json_boolean(ar && strcmp(ar, "learner") != 0));
        }
    }
    json_decref(basis);
    return ev;
}

json_t *decisions_get(db_t *db, int64_t id)
{
    json_t *d = db_one(db, DEC_SELECT " WHERE d.id = ?", "i", id);
    if (!d)
        return NULL;
    decisions_decorate(d);
    json_object_set_new(d, "evidence", decision_evidence(db, id));
    return d;
}

/* Decorates every row of a list and attaches its evidence. */
static void decorate_list(db_t *db, json_t *list)
{
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        decisions_decorate(d);
        json_object_set_new(d, "evidence", decision_evidence(db, json_integer_value(json_object_get(d, "id"))));
    }
}

/* Serialises, until the transaction ends and on every server, one learner's decisions on
 * a unit's criteria with that unit's sign-off and its reopening (db_lock_xact): a decision
 * cannot land on a unit being signed off, nor a sign-off count a criterion being decided.
 * Taken after the evidence locks (evidence_lock) and before the per-criterion decision lock. */
static int lock_unit(db_t *db, int64_t learner_id, int64_t unit_id)
{
    return db_lock_xact(db, (int64_t)0x756e << 48 ^ learner_id << 24 ^ unit_id);
}

/* ---- recording ---- */

int decisions_rule_fail(req_t *r, const rules_err_t *e)
{
    if (e->field[0] && e->status != 500)
        http_field_error(r, e->field, e->message);
    return http_fail(r, e->status, e->code, "%s", e->message);
}

int decisions_record(req_t *r, const decision_input_t *in, int64_t *id)
{
    db_t *db = r->db;
    json_t *ids = NULL, *before = NULL, *after = NULL, *vacsr = NULL;
    int status = 500;
    char now[21];

    if (!in->outcome || (strcmp(in->outcome, "met") != 0 && strcmp(in->outcome, "not_met") != 0)) {
        http_field_error(r, "outcome", "Choose met or not yet met");
        status = http_fail(r, 400, "invalid_outcome", "outcome must be \"met\" or \"not_met\".");
        goto out;
    }
    if (!policy_can_assess_criterion(db, &r->user, in->learner_id, in->criterion_id)) {
        /* Their own learner whose enrolment has ended: say so (409) rather than 403. */
        rules_err_t e;
        if (db_int(db,
                   "SELECT EXISTS (SELECT 1 FROM enrolments en JOIN units u ON u.qualification_id = en.qualification_id"
                   " JOIN criteria c ON c.unit_id = u.id WHERE c.id = ? AND en.learner_id = ? AND en.assessor_id = ?)",
                   0, "iii", in->criterion_id, in->learner_id, r->user.id) &&
            rules_check_enrolment_open(db, in->learner_id, in->criterion_id, &e) != EV_OK) {
            status = decisions_rule_fail(r, &e);
            goto out;
        }
        status = http_fail(r, 403, "forbidden", "You are not this learner's assessor for that criterion.");
        goto out;
    }
    json_t *crit = db_one(db, "SELECT c.id, c.unit_id, c.retired FROM criteria c WHERE c.id = ?", "i",
                          in->criterion_id);
    if (!crit) {
        status = http_fail(r, 404, "not_found", "No such criterion.");
        goto out;
    }
    int64_t unit_id = json_integer_value(json_object_get(crit, "unit_id"));
    json_decref(crit);
    if (db_int(db, "SELECT 1 FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?", 0, "ii",
               in->learner_id, unit_id)) {
        status = http_fail(r, 409, "unit_signed_off",
                           "The unit is signed off: its decisions can no longer change unless the learner's IQA or "
                           "an admin reopens the sign-off.");
        goto out;
    }
    const char *feedback = in->feedback ? in->feedback : "";
    if (strlen(feedback) > DECISIONS_MAX_TEXT) {
        http_field_error(r, "feedback", "Keep the feedback under 20000 characters");
        status = http_fail(r, 400, "too_long", "The feedback is too long.");
        goto out;
    }
    if (in->rpl_reason && strlen(in->rpl_reason) > DECISIONS_MAX_TEXT) {
        http_field_error(r, "rpl_reason", "Keep the reason under 20000 characters");
        status = http_fail(r, 400, "too_long", "The recognition of prior learning reason is too long.");
        goto out;
    }
    if (in->vacsr && !json_is_object(in->vacsr)) {
        status = http_fail(r, 400, "invalid_vacsr", "vacsr must be an object of five booleans.");
        goto out;
    }
    vacsr = json_object();
    if (in->vacsr) {
        const char *k;
        json_t *v;
        json_object_foreach(in->vacsr, k, v)
        {
            if (strcmp(k, "valid") && strcmp(k, "authentic") && strcmp(k, "current") && strcmp(k, "sufficient") &&
                strcmp(k, "reliable")) {
                status = http_fail(r, 400, "invalid_vacsr", "Unknown VACSR key \"%s\".", k);
                goto out;
            }
            if (!json_is_boolean(v)) {
                status = http_fail(r, 400, "invalid_vacsr", "VACSR \"%s\" must be true or false.", k);
                goto out;
            }
            json_object_set(vacsr, k, v);
        }
    }

    /* Evidence ids: parsed and de-duplicated here, judged by the rules. */
    ids = json_array();
    if (in->evidence_ids) {
        size_t i;
        json_t *v;
        if (!json_is_array(in->evidence_ids)) {
            status = http_fail(r, 400, "invalid_evidence_ids", "evidence_ids must be a list of evidence ids.");
            goto out;
        }
        json_array_foreach(in->evidence_ids, i, v)
        {
            int64_t eid;
            if (json_id(v, &eid) != EV_OK) {
                http_field_error(r, "evidence_ids", "Choose the evidence the decision is made on");
                status = http_fail(r, 400, "invalid_evidence_ids", "evidence_ids must be a list of evidence ids.");
                goto out;
            }
            int dup = 0;
            size_t j;
            json_t *w;
            json_array_foreach(ids, j, w) if (json_integer_value(w) == eid) dup = 1;
            if (!dup)
                json_array_append_new(ids, json_integer(eid));
        }
    }
    /* The evidence decided on cannot be withdrawn or changed meanwhile on another server, nor
     * the unit signed off: their locks (evidence ascending, then the unit: the order every
     * path takes them in) before the rules read their state. */
    {
        size_t n = json_array_size(ids), i, j;
        int64_t *sorted = xcalloc(n + 1, sizeof *sorted);
        for (i = 0; i < n; i++) {
            int64_t v = (int64_t)json_integer_value(json_array_get(ids, i));
            for (j = i; j > 0 && sorted[j - 1] > v; j--)
                sorted[j] = sorted[j - 1];
            sorted[j] = v;
        }
        int locked = EV_OK;
        for (i = 0; i < n && locked == EV_OK; i++)
            locked = evidence_lock(db, sorted[i]);
        free(sorted);
        if (locked != EV_OK || lock_unit(db, in->learner_id, unit_id) != EV_OK) {
            status = http_fail(r, 500, "db_error", "Could not lock the evidence and the unit.");
            goto out;
        }
        /* signed off meanwhile on another server? (read again after the unit's lock) */
        if (db_int(db, "SELECT 1 FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?", 0, "ii", in->learner_id,
                   unit_id)) {
            status = http_fail(r, 409, "unit_signed_off",
                               "The unit is signed off: its decisions can no longer change unless the learner's IQA or "
                               "an admin reopens the sign-off.");
            goto out;
        }
    }
    {
        rules_err_t e;
        rules_decision_t rd = {.learner_id = in->learner_id,
                               .criterion_id = in->criterion_id,
                               .outcome = in->outcome,
                               .feedback = feedback,
                               .vacsr = vacsr,
                               .declaration = in->declaration,
                               .evidence_ids = ids,
                               .rpl_reason = in->rpl_reason};
        if (rules_check_decision(db, &rd, &e) != EV_OK) {
            status = decisions_rule_fail(r, &e);
            goto out;
        }
    }

    /* One decision at a time per learner and criterion, on every server: each
     * supersedes the one before it, so two must never both supersede the same. */
    if (db_lock_xact(db, (int64_t)0x6465 << 48 ^ in->learner_id << 24 ^ in->criterion_id) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    int64_t prev = db_int(db, "SELECT MAX(id) FROM decisions WHERE learner_id = ? AND criterion_id = ?", 0, "ii",
                          in->learner_id, in->criterion_id);
    if (prev > 0)
        before = db_one(db, "SELECT id, outcome, feedback, assessor_id, created_at FROM decisions WHERE id = ?",
                        "i", prev);

    util_now_iso(now);
    const char *rpl = in->rpl_reason && *in->rpl_reason ? in->rpl_reason : NULL;
    *id = db_int(db,
                 "INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, vacsr,"
                 " declaration, supersedes_id, created_at, rpl_reason, criterion_ref, criterion_text)"
                 " SELECT ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, c.ref, c.text FROM criteria c WHERE c.id = ?"
                 " RETURNING id",
                 0, "iiittjztti", in->learner_id, in->criterion_id, r->user.id, in->outcome, feedback, vacsr, prev,
                 now, rpl, in->criterion_id);
    if (*id <= 0) {
        status = http_fail(r, 500, "db_error", "Could not record the decision.");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (db_run(db, "INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)", "ii", *id,
                   (int64_t)json_integer_value(v)) != EV_OK) {
            status = http_fail(r, 500, "db_error", "Could not link the evidence.");
            goto out;
        }
    }
    if (rules_freeze_basis(db, *id, in->learner_id, in->criterion_id, ids) != EV_OK) {
        status = http_fail(r, 500, "db_error", "Could not record what the decision was made on.");
        goto out;
    }
    if (iqa_coverage_decision_added(db, *id) != EV_OK) { /* the IQA page's coverage (iqa.h) */
        status = http_fail(r, 500, "db_error", "Could not record the decision.");
        goto out;
    }
    after = json_pack("{s:I, s:I, s:s, s:s, s:O, s:b, s:O}", "id", (json_int_t)*id, "criterion_id",
                      (json_int_t)in->criterion_id, "outcome", in->outcome, "feedback", feedback, "vacsr", vacsr,
                      "declaration", 1, "evidence_ids", ids);
    if (prev > 0)
        json_object_set_new(after, "supersedes_id", json_integer(prev));
    if (rpl)
        json_object_set_new(after, "rpl_reason", json_string(rpl));
    /* The audit event carries the frozen basis: criterion wording and every file's SHA-256. */
    json_object_set_new(after, "basis", rules_basis(db, *id));
    {
        json_t *cw = db_one(db, "SELECT criterion_ref, criterion_text FROM decisions WHERE id = ?", "i", *id);
        json_object_set_new(after, "criterion", cw ? cw : json_null());
    }
    if (audit_record(db, r->user.id, "decision.create", "decision", *id, in->learner_id, before, after) != EV_OK ||
        notify_decision_recorded(db, *id) != EV_OK) {
        status = http_fail(r, 500, "audit_error", "Could not write the audit trail.");
        goto out;
    }
    status = 201;
out:
    json_decref(ids);
    json_decref(before);
    json_decref(after);
    json_decref(vacsr);
    return status;
}

int decisions_settle_evidence(db_t *db, int64_t actor_id, int64_t evidence_id)
{
    json_t *ev = db_one(db, "SELECT e.learner_id, e.status, COALESCE(r.decision_mark, 0) AS mark FROM evidence e"
                            " LEFT JOIN evidence_rounds r ON r.evidence_id = e.id WHERE e.id = ?",
                        "i", evidence_id);
    if (!ev)
        return EV_ERR;
    int rc = EV_OK;
    const char *cur = json_string_value(json_object_get(ev, "status"));
    int64_t learner_id = json_integer_value(json_object_get(ev, "learner_id"));
    int64_t mark = json_integer_value(json_object_get(ev, "mark"));
    /* Per mapped criterion, the latest decision of this round that judged this evidence. */
    json_t *rows = db_all(db,
                          "SELECT ec.criterion_id,"
                          " (SELECT d.outcome FROM decisions d JOIN decision_evidence de"
                          "   ON de.decision_id = d.id AND de.evidence_id = ec.evidence_id"
                          "  WHERE d.learner_id = ec.learner_id AND d.criterion_id = ec.criterion_id AND d.id > ?"
                          "  ORDER BY d.id DESC LIMIT 1) AS outcome"
                          " FROM evidence_criteria ec WHERE ec.evidence_id = ?",
                          "ii", mark, evidence_id);
    if (!rows) {
        rc = EV_ERR;
        goto out;
    }
    size_t i, decided = 0, met = 0, not_met = 0;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *o = json_string_value(json_object_get(row, "outcome"));
        if (!o)
            continue;
        decided++;
        if (strcmp(o, "met") == 0)
            met++;
        else
            not_met++;
    }
    const char *next = NULL;
    if (not_met)
        next = "returned";
    else if (decided && met == json_array_size(rows))
        next = "assessed";
    if (next && cur && strcmp(cur, next) != 0 && strcmp(cur, "draft") != 0) {
        char now[21];
        util_now_iso(now);
        json_t *b = json_pack("{s:s}", "status", cur), *a = json_pack("{s:s}", "status", next);
        if (db_run(db, "UPDATE evidence SET status = ?, updated_at = ? WHERE id = ?", "tti", next, now,
                   evidence_id) != EV_OK ||
            audit_record(db, actor_id, strcmp(next, "returned") == 0 ? "evidence.return" : "evidence.assess",
                         "evidence", evidence_id, learner_id, b, a) != EV_OK)
            rc = EV_ERR;
        json_decref(b);
        json_decref(a);
    }
    json_decref(rows);
out:
    json_decref(ev);
    return rc;
}

/* POST /api/v1/decisions (and the page form POST /decisions):
 * {learner_id, criterion_id, outcome, feedback, evidence_ids, vacsr?, declaration?} -> 201 */
static int create_decision(req_t *r)
{
    json_t *evidence_ids = NULL, *vacsr = NULL, *d = NULL;
    decision_input_t in = {0};
    int status;
    int64_t id = 0;

    if (in_int(r, "learner_id", &in.learner_id) != EV_OK || in_int(r, "criterion_id", &in.criterion_id) != EV_OK) {
        status = http_fail(r, 400, "invalid_request", "learner_id and criterion_id are required.");
        goto out;
    }
    in.outcome = in_str(r, "outcome");
    in.feedback = in_str(r, "feedback");
    vacsr = decisions_vacsr_from_request(r);
    in.vacsr = vacsr;
    /* The declaration is never assumed: the form's box ticked or "declaration": true. */
    in.declaration = in_bool(r, "declaration");
    in.rpl_reason = in_str(r, "rpl_reason");
    if (json_object_get(r->in, "evidence_ids"))
        evidence_ids = in_array(r, "evidence_ids");
    in.evidence_ids = evidence_ids;

    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    status = decisions_record(r, &in, &id);
    if (status == 201) {
        size_t i;
        json_t *v;
        json_array_foreach(evidence_ids, i, v)
        {
            int64_t eid;
            if (json_id(v, &eid) == EV_OK && decisions_settle_evidence(r->db, r->user.id, eid) != EV_OK)
                status = http_fail(r, 500, "db_error", "Could not update the evidence.");
        }
        if (status == 201 && status_refresh_learner(r->db, in.learner_id) != EV_OK)
            status = http_fail(r, 500, "db_error", "Could not refresh progress.");
    }
    if (status != 201 || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (status == 201)
            status = http_fail(r, 500, "db_error", "Could not save the decision.");
        goto out;
    }
    d = decisions_get(r->db, id);
    http_set_out(r, json_pack("{s:O}", "decision", d ? d : json_null()));
    /* Flatten the main fields too so API clients can read id directly. */
    if (d)
        json_object_update(http_out(r), d);
    http_redirect(r, "/decisions/%lld?done=decision", (long long)id);
out:
    json_decref(evidence_ids);
    json_decref(vacsr);
    json_decref(d);
    return status;
}

int decisions_load_page(req_t *r, int64_t id)
{
    json_t *d = decisions_get(r->db, id);
    if (!d)
        return http_fail(r, 404, "not_found", "No such decision.");
    int64_t learner_id = json_integer_value(json_object_get(d, "learner_id"));
    int64_t criterion_id = json_integer_value(json_object_get(d, "criterion_id"));
    if (!policy_can_read_learner(r->db, &r->user, learner_id)) {
        json_decref(d);
        return http_fail(r, 404, "not_found", "No such decision."); /* as if it did not exist */
    }
    json_t *out = http_out(r);
    json_t *history = db_all(r->db, DEC_SELECT " WHERE d.learner_id = ? AND d.criterion_id = ? ORDER BY d.id DESC",
                             "ii", learner_id, criterion_id);
    if (history)
        decorate_list(r->db, history);
    json_t *samples = iqa_samples_of(r->db, id);
    int can_cs = r->user.id == learner_id && !json_is_true(json_object_get(d, "countersigned"));
    int can_decide = policy_can_assess_criterion(r->db, &r->user, learner_id, criterion_id) &&
                     !db_int(r->db, "SELECT 1 FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?", 0, "ii",
                             learner_id, (int64_t)json_integer_value(json_object_get(d, "unit_id")));
    int can_sample = policy_can_sample_learner(r->db, &r->user, learner_id);
    json_t *ev_ids = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(d, "evidence"), i, e) json_array_append(ev_ids, json_object_get(e, "id"));
    json_object_set_new(out, "decision", d);
    json_object_set_new(out, "history", history ? history : json_array());
    json_object_set_new(out, "samples", samples ? samples : json_array());
    json_object_set_new(out, "can_countersign", json_boolean(can_cs));
    json_object_set_new(out, "can_decide", json_boolean(can_decide));
    json_object_set_new(out, "can_sample", json_boolean(can_sample));
    json_object_set_new(out, "evidence_ids", ev_ids);
    if (!json_object_get(out, "vacsr_list"))
        json_object_set_new(out, "vacsr_list", decisions_vacsr_list(NULL));
    return decisions_page_ok(r);
}

/* The page form on /decisions/{id} shows that decision again with the errors. */
static int decisions_create(req_t *r)
{
    int64_t from;
    int status = create_decision(r);
    if (!r->is_api && status >= 400 && status < 500 && in_int(r, "from_decision", &from) == EV_OK)
        decisions_load_page(r, from);
    return status;
}

/* GET /api/v1/decisions/{id}, /decisions/{id} */
static int decisions_show(req_t *r)
{
    int status = decisions_load_page(r, r->params[0]);
    if (status == 200 && r->is_api) {
        /* The API answers the decision itself, with its history and samples beside it. */
        json_t *out = http_out(r);
        json_t *d = json_incref(json_object_get(out, "decision"));
        json_object_update(out, d);
        json_decref(d);
    }
    return status;
}

/* POST /api/v1/decisions/{id}/countersign {comment?}: the learner acknowledges a decision. */
static int decisions_countersign(req_t *r)
{
    int64_t id = r->params[0];
    char now[21];
    json_t *after = NULL;
    int status;
    json_t *d = db_one(r->db, "SELECT learner_id FROM decisions WHERE id = ?", "i", id);
    if (!d)
        return http_fail(r, 404, "not_found", "No such decision.");
    int64_t learner_id = json_integer_value(json_object_get(d, "learner_id"));
    json_decref(d);
    if (r->user.id != learner_id)
        return http_fail(r, 404, "not_found", "No such decision."); /* not theirs: as if it did not exist */
    const char *comment = in_str(r, "comment");
    if (!comment)
        comment = "";
    if (strlen(comment) > 4000) {
        http_field_error(r, "comment", "Keep the comment under 4000 characters");
        decisions_load_page(r, id);
        return http_fail(r, 400, "too_long", "The comment is too long.");
    }
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    if (db_int(r->db, "SELECT 1 FROM countersigns WHERE decision_id = ?", 0, "i", id)) {
        db_rollback(r->db);
        decisions_load_page(r, id);
        return http_fail(r, 409, "already_countersigned", "You have already countersigned this decision.");
    }
    util_now_iso(now);
    after = json_pack("{s:I, s:s, s:s}", "decision_id", (json_int_t)id, "comment", comment, "signed_at", now);
    /* ON CONFLICT: a countersignature saved meanwhile on another server wins, and this one is a 409. */
    int inserted = db_run(r->db, "INSERT INTO countersigns (decision_id, learner_id, comment, signed_at) VALUES (?, ?, ?, ?)"
                                 " ON CONFLICT (decision_id) DO NOTHING",
                          "iitt", id, learner_id, comment, now) == EV_OK;
    if (inserted && db_changes(r->db) == 0) {
        db_rollback(r->db);
        decisions_load_page(r, id);
        status = http_fail(r, 409, "already_countersigned", "You have already countersigned this decision.");
        goto out;
    }
    if (!inserted ||
        audit_record(r->db, r->user.id, "decision.countersign", "decision", id, learner_id, NULL, after) != EV_OK ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not save the countersignature.");
        goto out;
    }
    status = 201;
    http_set_out(r, json_pack("{s:I, s:s, s:s}", "decision_id", (json_int_t)id, "signed_at", now, "comment", comment));
    http_redirect(r, "/learners/%lld/decisions?done=countersigned", (long long)learner_id);
out:
    json_decref(after);
    return status;
}

/* Lists decisions (newest first, paginated) for a learner, optionally one
 * criterion or one piece of evidence, into r->out. */
static int list_decisions(req_t *r, int64_t learner_id, int64_t criterion_id, int64_t evidence_id, int current_only)
{
    int64_t limit, offset;
    if (!policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such learner."); /* as if it did not exist */
    json_t *learner = db_one(r->db, "SELECT id, name, email FROM users WHERE id = ? AND role = 'learner'", "i",
                             learner_id);
    if (!learner)
        return http_fail(r, 404, "not_found", "No such learner.");
    http_page(r, 25, &limit, &offset);
    int64_t eqa; /* an EQA sees only the decisions on its visit's qualifications */
    char now[21];
    policy_qscope_binds(&r->user, &eqa, now);
    int64_t total = db_int(r->db,
                           "SELECT COUNT(*) FROM decisions d WHERE d.learner_id = ? AND (? = 0 OR d.criterion_id = ?)"
                           " AND (? = 0 OR EXISTS (SELECT 1 FROM decision_evidence de WHERE de.decision_id = d.id"
                           " AND de.evidence_id = ?))"
                           " AND (? = 0 OR NOT EXISTS (SELECT 1 FROM decisions s WHERE s.supersedes_id = d.id))"
                           " AND " POLICY_QSCOPE_SQL(DEC_QUALIFICATION, "d.learner_id"),
                           0, "iiiiiIiitt", learner_id, criterion_id, criterion_id, evidence_id, evidence_id, current_only,
                           eqa, eqa, now, now);
    json_t *items = db_all(r->db,
                           DEC_SELECT " WHERE d.learner_id = ? AND (? = 0 OR d.criterion_id = ?)"
                                      " AND (? = 0 OR EXISTS (SELECT 1 FROM decision_evidence de WHERE"
                                      " de.decision_id = d.id AND de.evidence_id = ?))"
                                      " AND (? = 0 OR NOT EXISTS (SELECT 1 FROM decisions s WHERE s.supersedes_id = d.id))"
                                      " AND " POLICY_QSCOPE_SQL(DEC_QUALIFICATION, "d.learner_id")
                                      " ORDER BY d.id DESC LIMIT ? OFFSET ?",
                           "iiiiiIiittii", learner_id, criterion_id, criterion_id, evidence_id, evidence_id, current_only,
                           eqa, eqa, now, now, limit, offset);
    if (!items) {
        json_decref(learner);
        return http_fail(r, 500, "db_error", "Could not list decisions.");
    }
    decorate_list(r->db, items);
    int is_owner = r->user.id == learner_id;
    size_t i;
    json_t *d;
    json_array_foreach(items, i, d)
    {
        json_object_set_new(d, "can_countersign",
                            json_boolean(is_owner && !json_is_true(json_object_get(d, "countersigned"))));
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "learner", learner);
    json_object_set_new(out, "items", items);
    json_object_set_new(out, "is_owner", json_boolean(is_owner));
    json_object_set_new(out, "awaiting_countersign",
                        json_integer(db_int(r->db,
                                            "SELECT COUNT(*) FROM decisions d WHERE d.learner_id = ? AND NOT EXISTS"
                                            " (SELECT 1 FROM countersigns c WHERE c.decision_id = d.id)"
                                            " AND " POLICY_QSCOPE_SQL(DEC_QUALIFICATION, "d.learner_id"),
                                            0, "iiitt", learner_id, eqa, eqa, now, now)));
    http_paginate(r, out, total);
    return decisions_page_ok(r);
}

/* GET /api/v1/decisions?learner_id=&criterion_id=&evidence_id=&current=1 */
static int decisions_index(req_t *r)
{
    int64_t learner_id = 0, criterion_id = 0, evidence_id = 0;
    in_int(r, "criterion_id", &criterion_id);
    if (in_int(r, "evidence_id", &evidence_id) == EV_OK) {
        learner_id = db_int(r->db, "SELECT learner_id FROM evidence WHERE id = ?", 0, "i", evidence_id);
        if (!learner_id)
            return http_fail(r, 404, "not_found", "No such evidence.");
    }
    if (!learner_id && in_int(r, "learner_id", &learner_id) != EV_OK) {
        if (r->user.role == ROLE_LEARNER)
            learner_id = r->user.id;
        else
            return http_fail(r, 400, "invalid_request", "Give learner_id or evidence_id.");
    }
    return list_decisions(r, learner_id, criterion_id, evidence_id, in_bool(r, "current"));
}

/* GET /api/v1/learners/{id}/decisions, /learners/{id}/decisions */
static int decisions_for_learner(req_t *r)
{
    int64_t criterion_id = 0, evidence_id = 0;
    in_int(r, "criterion_id", &criterion_id);
    in_int(r, "evidence_id", &evidence_id);
    return list_decisions(r, r->params[0], criterion_id, evidence_id, in_bool(r, "current"));
}

/* ---- unit sign-off ---- */

/* The unit of a learner's enrolled qualification, with sign-off state and its
 * criteria's status, into r->out. 200, or an error via http_fail. */
static int load_signoff(req_t *r, int64_t learner_id, int64_t unit_id)
{
    if (!policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "The learner is not enrolled on a qualification with that unit.");
    json_t *unit = db_one(r->db,
                          "SELECT un.id, un.ref, un.title, q.id AS qualification_id, q.title AS qualification_title,"
                          " lu.id AS learner_id, lu.name AS learner_name"
                          " FROM units un JOIN qualifications q ON q.id = un.qualification_id"
                          " JOIN enrolments e ON e.qualification_id = q.id AND e.learner_id = ?"
                          " JOIN users lu ON lu.id = e.learner_id WHERE un.id = ?",
                          "ii", learner_id, unit_id);
    if (!unit)
        return http_fail(r, 404, "not_found", "The learner is not enrolled on a qualification with that unit.");
    json_t *criteria = db_all(r->db,
                              "SELECT c.id, c.ref, c.text, COALESCE(s.status, 'not_started') AS status, s.decision_id"
                              " FROM criteria c LEFT JOIN criterion_status s ON s.learner_id = ? AND s.criterion_id = c.id"
                              " WHERE c.unit_id = ? AND c.retired = 0 ORDER BY c.position, c.id",
                              "ii", learner_id, unit_id);
    size_t i, met = 0;
    json_t *c;
    json_array_foreach(criteria, i, c)
    {
        const char *st = json_string_value(json_object_get(c, "status"));
        int is_met = st && strcmp(st, "met") == 0;
        met += is_met;
        json_object_set_new(c, "is_met", json_boolean(is_met));
        json_object_set_new(c, "status_label",
                            json_string(is_met                              ? "Met"
                                        : st && !strcmp(st, "not_met")      ? "Not yet met"
                                        : st && !strcmp(st, "submitted")    ? "Submitted"
                                        : st && !strcmp(st, "mapped")       ? "Evidence mapped"
                                                                            : "Not started"));
    }
    size_t total = criteria ? json_array_size(criteria) : 0;
    json_t *so = db_one(r->db,
                        "SELECT s.id, s.assessor_id, au.name AS assessor_name, s.assessor_signed_at,"
                        " s.learner_signed_at, s.needs_review, s.review_note FROM unit_signoffs s"
                        " JOIN users au ON au.id = s.assessor_id WHERE s.learner_id = ? AND s.unit_id = ?",
                        "ii", learner_id, unit_id);
    if (so)
        json_object_set_new(so, "needs_review", json_boolean(json_integer_value(json_object_get(so, "needs_review"))));
    json_t *reopened = db_all(r->db,
                              "SELECT o.id, o.reason, o.reopened_at, ru.name AS reopened_by_name, o.assessor_signed_at,"
                              " o.learner_signed_at FROM unit_signoff_reopenings o JOIN users ru ON ru.id = o.reopened_by"
                              " WHERE o.learner_id = ? AND o.unit_id = ? ORDER BY o.id DESC",
                              "ii", learner_id, unit_id);
    int can_reopen = so && (r->user.role == ROLE_ADMIN || policy_can_sample_learner(r->db, &r->user, learner_id));
    int64_t first_crit = total ? json_integer_value(json_object_get(json_array_get(criteria, 0), "id")) : 0;
    int all_met = total > 0 && met == total;
    int is_assessor = first_crit && policy_can_assess_criterion(r->db, &r->user, learner_id, first_crit);
    json_t *out = http_out(r);
    json_object_set_new(out, "unit", unit);
    json_object_set_new(out, "criteria", criteria ? criteria : json_array());
    json_object_set_new(out, "total", json_integer((json_int_t)total));
    json_object_set_new(out, "met", json_integer((json_int_t)met));
    json_object_set_new(out, "all_met", json_boolean(all_met));
    json_object_set_new(out, "signed_off", json_boolean(so != NULL));
    json_object_set_new(out, "countersigned",
                        json_boolean(so && json_is_string(json_object_get(so, "learner_signed_at"))));
    json_object_set_new(out, "can_signoff", json_boolean(!so && all_met && is_assessor));
    json_object_set_new(out, "can_countersign",
                        json_boolean(so && r->user.id == learner_id &&
                                     !json_is_string(json_object_get(so, "learner_signed_at"))));
    json_object_set_new(out, "needs_review", json_boolean(so && json_is_true(json_object_get(so, "needs_review"))));
    json_object_set_new(out, "signoff", so ? so : json_null());
    json_object_set_new(out, "reopenings", reopened ? reopened : json_array());
    json_object_set_new(out, "can_reopen", json_boolean(can_reopen));
    return decisions_page_ok(r);
}

/* GET /api/v1/learners/{id}/units/{unit_id}/signoff */
static int signoff_show(req_t *r)
{
    return load_signoff(r, r->params[0], r->params[1]);
}

/* POST /api/v1/learners/{id}/units/{unit_id}/signoff: the assessor signs the unit off. */
static int signoff_create(req_t *r)
{
    int64_t learner_id = r->params[0], unit_id = r->params[1];
    char now[21];
    int status = load_signoff(r, learner_id, unit_id);
    if (status != 200)
        return status;
    json_t *out = http_out(r);
    int64_t first_crit =
        json_integer_value(json_object_get(json_array_get(json_object_get(out, "criteria"), 0), "id"));
    if (!first_crit || !policy_can_assess_criterion(r->db, &r->user, learner_id, first_crit))
        return http_fail(r, 403, "forbidden", "Only the learner's assessor can sign this unit off.");
    if (json_is_true(json_object_get(out, "signed_off")))
        return http_fail(r, 409, "already_signed_off", "This unit is already signed off.");
    if (!json_is_true(json_object_get(out, "all_met")))
        return http_fail(r, 409, "criteria_not_met", "Every criterion of the unit must be met before sign-off.");
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    if (lock_unit(r->db, learner_id, unit_id) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not lock the unit.");
    }
    /* Re-check inside the write transaction, after the lock: the state may have moved since. */
    int64_t unmet = db_int(r->db,
                           "SELECT COUNT(*) FROM criteria c WHERE c.unit_id = ? AND c.retired = 0 AND NOT EXISTS"
                           " (SELECT 1 FROM criterion_status s WHERE s.learner_id = ? AND s.criterion_id = c.id"
                           " AND s.status = 'met')",
                           -1, "ii", unit_id, learner_id);
    if (unmet != 0 || db_int(r->db, "SELECT 1 FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?", 0, "ii",
                             learner_id, unit_id)) {
        db_rollback(r->db);
        return http_fail(r, 409, "conflict", "The unit changed; reload and try again.");
    }
    util_now_iso(now);
    json_t *after = json_pack("{s:I, s:I, s:s}", "unit_id", (json_int_t)unit_id, "assessor_id",
                              (json_int_t)r->user.id, "assessor_signed_at", now);
    int64_t id = 0;
    if ((id = db_int(r->db,
                     "INSERT INTO unit_signoffs (learner_id, unit_id, assessor_id, assessor_signed_at)"
                     " VALUES (?, ?, ?, ?) RETURNING id",
                     0, "iiit", learner_id, unit_id, r->user.id, now)) <= 0 ||
        audit_record(r->db, r->user.id, "unit.signoff", "unit_signoff", id, learner_id, NULL, after) != EV_OK ||
        notify_unit_signed_off(r->db, id) != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        json_decref(after);
        return http_fail(r, 500, "db_error", "Could not sign the unit off.");
    }
    json_decref(after);
    json_object_clear(out);
    load_signoff(r, learner_id, unit_id);
    http_redirect(r, "/learners/%lld/units/%lld/signoff?done=signed_off", (long long)learner_id, (long long)unit_id);
    return 201;
}

/* POST /api/v1/learners/{id}/units/{unit_id}/countersign: the learner countersigns the sign-off. */
static int signoff_countersign(req_t *r)
{
    int64_t learner_id = r->params[0], unit_id = r->params[1];
    char now[21];
    if (r->user.id != learner_id)
        return http_fail(r, 404, "not_found", "The learner is not enrolled on a qualification with that unit.");
    int status = load_signoff(r, learner_id, unit_id);
    if (status != 200)
        return status;
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    json_t *so = db_one(r->db, "SELECT id, learner_signed_at FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?",
                        "ii", learner_id, unit_id);
    if (!so) {
        db_rollback(r->db);
        return http_fail(r, 409, "not_signed_off", "Your assessor has not signed this unit off yet.");
    }
    int64_t id = json_integer_value(json_object_get(so, "id"));
    int done = json_is_string(json_object_get(so, "learner_signed_at"));
    json_decref(so);
    if (done) {
        db_rollback(r->db);
        return http_fail(r, 409, "already_countersigned", "You have already countersigned this unit.");
    }
    util_now_iso(now);
    json_t *after = json_pack("{s:I, s:s}", "unit_id", (json_int_t)unit_id, "learner_signed_at", now);
    int updated = db_run(r->db, "UPDATE unit_signoffs SET learner_signed_at = ? WHERE id = ? AND learner_signed_at IS NULL",
                         "ti", now, id) == EV_OK;
    if (updated && db_changes(r->db) == 0) { /* another server's countersignature got there first */
        db_rollback(r->db);
        json_decref(after);
        return http_fail(r, 409, "already_countersigned", "You have already countersigned this unit.");
    }
    if (!updated || audit_record(r->db, r->user.id, "unit.countersign", "unit_signoff", id, learner_id, NULL, after) != EV_OK ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        json_decref(after);
        return http_fail(r, 500, "db_error", "Could not save the countersignature.");
    }
    json_decref(after);
    json_object_clear(http_out(r));
    load_signoff(r, learner_id, unit_id);
    http_redirect(r, "/learners/%lld/units/%lld/signoff?done=signoff_countersigned", (long long)learner_id, (long long)unit_id);
    return 201;
}

/* POST /api/v1/learners/{id}/units/{unit_id}/signoff/reopen {reason}: an IQA of the learner
 * or an admin reopens a unit sign-off (after a specification revision, or to put right an IQA
 * action on a signed-off unit). The sign-off moves to unit_signoff_reopenings with the reason,
 * audited; the assessor can then decide again and sign off anew, and the learner countersigns
 * the new sign-off. */
static int signoff_reopen(req_t *r)
{
    int64_t learner_id = r->params[0], unit_id = r->params[1];
    char now[21];
    int status = load_signoff(r, learner_id, unit_id);
    if (status != 200)
        return status;
    if (!(r->user.role == ROLE_ADMIN || policy_can_sample_learner(r->db, &r->user, learner_id)))
        return http_fail(r, 403, "forbidden", "Only the learner's IQA or an admin can reopen a unit sign-off.");
    const char *reason = in_str(r, "reason");
    if (!reason || !*reason) {
        http_field_error(r, "reason", "Give the reason for reopening the sign-off");
        return http_fail(r, 400, "reason_required", "Give the reason for reopening the sign-off.");
    }
    if (strlen(reason) > 4000) {
        http_field_error(r, "reason", "Keep the reason under 4000 characters");
        return http_fail(r, 400, "too_long", "The reason is too long.");
    }
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    if (lock_unit(r->db, learner_id, unit_id) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not lock the unit.");
    }
    json_t *so = db_one(r->db,
                        "SELECT id, assessor_id, assessor_signed_at, learner_signed_at, needs_review, review_note"
                        " FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?",
                        "ii", learner_id, unit_id);
    if (!so) {
        db_rollback(r->db);
        return http_fail(r, 409, "not_signed_off", "This unit is not signed off.");
    }
    util_now_iso(now);
    int64_t sid = json_integer_value(json_object_get(so, "id"));
    json_t *after = json_pack("{s:I, s:s, s:s}", "unit_id", (json_int_t)unit_id, "reason", reason, "reopened_at", now);
    int ok = db_run(r->db,
                    "INSERT INTO unit_signoff_reopenings (learner_id, unit_id, assessor_id, assessor_signed_at,"
                    " learner_signed_at, reopened_by, reason, reopened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    "iiittitt", learner_id, unit_id, (int64_t)json_integer_value(json_object_get(so, "assessor_id")),
                    json_string_value(json_object_get(so, "assessor_signed_at")),
                    json_string_value(json_object_get(so, "learner_signed_at")), r->user.id, reason, now) == EV_OK &&
             db_run(r->db, "DELETE FROM unit_signoffs WHERE id = ?", "i", sid) == EV_OK &&
             audit_record(r->db, r->user.id, "unit.signoff_reopen", "unit_signoff", sid, learner_id, so, after) ==
                 EV_OK &&
             db_commit(r->db) == EV_OK;
    json_decref(so);
    json_decref(after);
    if (!ok) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not reopen the sign-off.");
    }
    json_object_clear(http_out(r));
    load_signoff(r, learner_id, unit_id);
    http_redirect(r, "/learners/%lld/units/%lld/signoff", (long long)learner_id, (long long)unit_id);
    return 200;
}

/* GET /api/v1/learners/{id}/signoffs: every unit of the learner's qualifications
 * with criteria met / total and its sign-off state. */
static int signoffs_list(req_t *r)
{
    int64_t learner_id = r->params[0];
    if (!policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such learner."); /* as if it did not exist */
    json_t *learner = db_one(r->db, "SELECT id, name FROM users WHERE id = ? AND role = 'learner'", "i", learner_id);
    if (!learner)
        return http_fail(r, 404, "not_found", "No such learner.");
    json_t *units = db_all(r->db,
                           "SELECT un.id, un.ref, un.title, q.id AS qualification_id, q.title AS qualification_title,"
                           " COALESCE(p.total, 0) AS total, COALESCE(p.met, 0) AS met,"
                           " s.assessor_signed_at, s.learner_signed_at, s.needs_review, au.name AS assessor_name"
                           " FROM enrolments e JOIN qualifications q ON q.id = e.qualification_id"
                           " JOIN units un ON un.qualification_id = q.id AND un.retired = 0"
                           " LEFT JOIN unit_progress p ON p.learner_id = e.learner_id AND p.unit_id = un.id"
                           " LEFT JOIN unit_signoffs s ON s.learner_id = e.learner_id AND s.unit_id = un.id"
                           " LEFT JOIN users au ON au.id = s.assessor_id"
                           " WHERE e.learner_id = ? ORDER BY q.title, un.position, un.id",
                           "i", learner_id);
    qscope_t qs; /* an EQA sees only its visit's qualifications */
    if (units && policy_qscope(r->db, &r->user, learner_id, &qs) == EV_OK) {
        qscope_filter(&qs, units, "qualification_id");
        qscope_free(&qs);
    } else {
        json_decref(units);
        units = NULL;
    }
    if (!units) {
        json_decref(learner);
        return http_fail(r, 500, "db_error", "Could not list units.");
    }
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u)
    {
        int64_t total = json_integer_value(json_object_get(u, "total"));
        int64_t met = json_integer_value(json_object_get(u, "met"));
        int signed_off = json_is_string(json_object_get(u, "assessor_signed_at"));
        int cs = json_is_string(json_object_get(u, "learner_signed_at"));
        json_object_set_new(u, "percent", json_integer(total ? met * 100 / total : 0));
        json_object_set_new(u, "all_met", json_boolean(total > 0 && met == total));
        json_object_set_new(u, "signed_off", json_boolean(signed_off));
        json_object_set_new(u, "countersigned", json_boolean(cs));
        int review = json_integer_value(json_object_get(u, "needs_review")) != 0;
        json_object_set_new(u, "needs_review", json_boolean(review));
        json_object_set_new(u, "state_label",
                            json_string(review       ? "Signed off: needs review (specification revised)"
                                        : cs         ? "Signed off and countersigned"
                                        : signed_off ? "Signed off, awaiting learner"
                                        : total > 0 && met == total ? "Ready for sign-off"
                                                                    : "In progress"));
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "learner", learner);
    json_object_set_new(out, "items", units);
    return decisions_page_ok(r);
}

const route_t decisions_routes[] = {
    {"POST", "/api/v1/decisions", decisions_create, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/decisions", decisions_create, ROLE_ASSESSOR, "decision_show", 0},
    {"GET", "/api/v1/decisions", decisions_index, ROLE_ANY, NULL, 0},
    {"GET", "/api/v1/decisions/{id}", decisions_show, ROLE_ANY, NULL, 0},
    {"GET", "/decisions/{id}", decisions_show, ROLE_ANY, "decision_show", 0},
    {"POST", "/api/v1/decisions/{id}/countersign", decisions_countersign, ROLE_LEARNER, NULL, 0},
    {"POST", "/decisions/{id}/countersign", decisions_countersign, ROLE_LEARNER, "decision_show", 0},
    {"GET", "/api/v1/learners/{id}/decisions", decisions_for_learner, ROLE_ANY, NULL, 0},
    {"GET", "/learners/{id}/decisions", decisions_for_learner, ROLE_ANY, "decisions_learner", 0},
    {"GET", "/api/v1/learners/{id}/signoffs", signoffs_list, ROLE_ANY, NULL, 0},
    {"GET", "/learners/{id}/signoffs", signoffs_list, ROLE_ANY, "signoffs", 0},
    {"GET", "/api/v1/learners/{id}/units/{unit_id}/signoff", signoff_show, ROLE_ANY, NULL, 0},
    {"GET", "/learners/{id}/units/{unit_id}/signoff", signoff_show, ROLE_ANY, "signoff_show", 0},
    {"POST", "/api/v1/learners/{id}/units/{unit_id}/signoff", signoff_create, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/learners/{id}/units/{unit_id}/signoff", signoff_create, ROLE_ASSESSOR, "signoff_show", 0},
    {"POST", "/api/v1/learners/{id}/units/{unit_id}/countersign", signoff_countersign, ROLE_LEARNER, NULL, 0},
    {"POST", "/learners/{id}/units/{unit_id}/countersign", signoff_countersign, ROLE_LEARNER, "signoff_show", 0},
    {"POST", "/api/v1/learners/{id}/units/{unit_id}/signoff/reopen", signoff_reopen, ROLE_IQA | ROLE_ADMIN, NULL, 0},
    {"POST", "/learners/{id}/units/{unit_id}/signoff/reopen", signoff_reopen, ROLE_IQA | ROLE_ADMIN, "signoff_show", 0},
    {0},
};
