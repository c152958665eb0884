/* rules.c: the assessment integrity rules: what a decision needs, what it freezes, what may no longer change */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const VACSR_KEYS[5] = {"valid", "authentic", "current", "sufficient", "reliable"};

static int fail(rules_err_t *e, int status, const char *code, const char *field, const char *fmt, ...)
    EV_PRINTF(5, 6);
static int fail(rules_err_t *e, int status, const char *code, const char *field, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return EV_ERR;
}

static int vacsr_all(const json_t *vacsr)
{
    if (!json_is_object(vacsr))
        return 0;
    for (int i = 0; i < 5; i++)
        if (!json_is_true(json_object_get(vacsr, VACSR_KEYS[i])))
            return 0;
    return 1;
}

int rules_check_enrolment_open(db_t *db, int64_t learner_id, int64_t criterion_id, rules_err_t *e)
{
    json_t *rows = db_all(db,
                          "SELECT en.status FROM enrolments en WHERE en.learner_id = ? AND (? = 0 OR"
                          " en.qualification_id = (SELECT u.qualification_id FROM criteria c JOIN units u"
                          " ON u.id = c.unit_id WHERE c.id = ?))",
                          "iii", learner_id, criterion_id, criterion_id);
    int rc = EV_ERR;
    size_t i;
    json_t *row;
    if (!rows) {
        fail(e, 500, "db_error", "", "Could not read the enrolment.");
        goto out;
    }
    if (json_array_size(rows) == 0) {
        fail(e, 409, "not_enrolled", "", "The learner is not enrolled on %s.",
             criterion_id ? "the qualification of that criterion" : "any qualification");
        goto out;
    }
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "status")), "active") == 0) {
            rc = EV_OK;
            goto out;
        }
    }
    fail(e, 409, "enrolment_ended", "",
         "The learner's enrolment has ended (completed, withdrawn or on a break in learning): no new evidence, "
         "mappings or decisions can be added. An admin can resume the enrolment first.");
out:
    json_decref(rows);
    return rc;
}

/* One cited evidence item against the rules; *rpl set when it is cited unmapped as
 * recognition of prior learning. */
static int check_cited(db_t *db, const rules_decision_t *d, int64_t eid, int has_rpl_reason, int *rpl,
                       rules_err_t *e)
{
    json_t *ev = db_one(db,
                        "SELECT e.learner_id, e.status, e.kind, e.author_role, EXISTS (SELECT 1 FROM evidence_criteria ec"
                        " WHERE ec.evidence_id = e.id AND ec.criterion_id = ?) AS mapped FROM evidence e WHERE e.id = ?",
                        "ii", d->criterion_id, eid);
    int rc = EV_ERR;
    *rpl = 0;
    if (!ev || json_integer_value(json_object_get(ev, "learner_id")) != d->learner_id) {
        fail(e, 400, "invalid_evidence", "evidence_ids", "Evidence %lld is not this learner's.", (long long)eid);
        goto out;
    }
    if (strcmp(json_string_value(json_object_get(ev, "status")), "draft") == 0) {
        if (strcmp(json_string_value(json_object_get(ev, "author_role")), "assessor") == 0)
            fail(e, 409, "not_written_up", "evidence_ids",
                 "Evidence %lld is a planned record that has not been written up yet.", (long long)eid);
        else
            fail(e, 409, "not_submitted", "evidence_ids", "Evidence %lld has not been submitted for assessment.",
                 (long long)eid);
        goto out;
    }
    if (json_integer_value(json_object_get(ev, "mapped")) == 0) {
        int is_rpl = strcmp(json_string_value(json_object_get(ev, "kind")), "recognition_of_prior_learning") == 0;
        if (!is_rpl || !has_rpl_reason) {
            fail(e, 422, "evidence_not_mapped", "evidence_ids",
                 "Evidence %lld is not mapped to this criterion, so a decision on the criterion cannot cite it. "
                 "The learner maps it first (or, for recognition of prior learning, give rpl_reason).",
                 (long long)eid);
            goto out;
        }
        *rpl = 1;
    }
    rc = EV_OK;
out:
    json_decref(ev);
    return rc;
}

int rules_check_decision(db_t *db, const rules_decision_t *d, rules_err_t *e)
{
    const char *o = d->outcome;
    int met, has_rpl = d->rpl_reason && *d->rpl_reason, any_rpl = 0;
    size_t i, n = json_is_array(d->evidence_ids) ? json_array_size(d->evidence_ids) : 0;
    if (!o || (strcmp(o, "met") != 0 && strcmp(o, "not_met") != 0))
        return fail(e, 400, "invalid_outcome", "outcome", "outcome must be \"met\" or \"not_met\".");
    met = strcmp(o, "met") == 0;
    if (!met && !(d->feedback && *d->feedback))
        return fail(e, 400, "feedback_required", "feedback", "A not yet met decision needs feedback for the learner.");
    if (!d->declaration)
        return fail(e, 400, "declaration_required", "declaration",
                    "The assessor declaration is required: send \"declaration\": true (or tick it on the form).");
    if (met && !vacsr_all(d->vacsr))
        return fail(e, 400, "vacsr_incomplete", "vacsr",
                    "A met decision needs evidence that is valid, authentic, current, sufficient and reliable: "
                    "all five VACSR checks must be true.");
    if (met && n == 0)
        return fail(e, 422, "evidence_required", "evidence_ids",
                    "A met decision must cite at least one piece of the learner's evidence mapped to the criterion.");
    if (rules_check_enrolment_open(db, d->learner_id, d->criterion_id, e) != EV_OK)
        return EV_ERR;
    for (i = 0; i < n; i++) {
        int rpl = 0;
        json_t *v = json_array_get(d->evidence_ids, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return fail(e, 400, "invalid_evidence_ids", "evidence_ids", "evidence_ids must be a list of evidence ids.");
        if (check_cited(db, d, json_integer_value(v), has_rpl, &rpl, e) != EV_OK)
            return EV_ERR;
        any_rpl |= rpl;
    }
    if (has_rpl && !any_rpl)
        return fail(e, 422, "rpl_evidence_required", "rpl_reason",
                    "rpl_reason is for a decision that cites unmapped recognition of prior learning evidence; "
                    "none is cited.");
    return EV_OK;
}

int rules_freeze_basis(db_t *db, int64_t decision_id, int64_t learner_id, int64_t criterion_id,
                       json_t *evidence_ids)
{
    size_t i;
    json_t *v;
    (void)learner_id;
    json_array_foreach(evidence_ids, i, v)
    {
        int64_t eid = json_integer_value(v);
        if (db_run(db,
                   "INSERT INTO decision_basis (decision_id, evidence_id, title, kind, note, mapped, author_role,"
                   " author_name) SELECT ?, e.id, e.title, e.kind, COALESCE(ec.note, ''), CASE WHEN ec.evidence_id"
                   " IS NULL THEN 0 ELSE 1 END, e.author_role, CASE WHEN e.author_role = 'assessor' THEN"
                   " (SELECT a.name FROM users a WHERE a.id = e.author_id) WHEN e.author_role = 'witness' THEN"
                   " (SELECT w.witness_name FROM witness_requests w WHERE w.evidence_id = e.id)"
                   " ELSE (SELECT l.name FROM users l WHERE l.id = e.learner_id) END"
                   " FROM evidence e LEFT JOIN evidence_criteria ec ON ec.evidence_id = e.id"
                   " AND ec.criterion_id = ? WHERE e.id = ?",
                   "iii", decision_id, criterion_id, eid) != EV_OK ||
            db_run(db,
                   "INSERT INTO decision_basis_files (decision_id, evidence_id, file_id, name, size, sha256, mime)"
                   " SELECT ?, f.evidence_id, f.id, f.name, f.size, f.sha256, f.mime FROM evidence_files f"
                   " WHERE f.evidence_id = ? ORDER BY f.id",
                   "ii", decision_id, eid) != EV_OK)
            return EV_ERR;
    }
    return EV_OK;
}

json_t *rules_basis(db_t *db, int64_t decision_id)
{
    json_t *items = db_all(db,
                           "SELECT evidence_id, title, kind, note, mapped, author_role, author_name FROM decision_basis"
                           " WHERE decision_id = ?"
                           " ORDER BY evidence_id",
                           "i", decision_id);
    json_t *files = db_all(db,
                           "SELECT evidence_id, file_id AS id, name, size, sha256, mime FROM decision_basis_files"
                           " WHERE decision_id = ? ORDER BY evidence_id, file_id",
                           "i", decision_id);
    size_t i, j;
    json_t *it, *f;
    if (!items)
        items = json_array();
    json_array_foreach(items, i, it)
    {
        json_t *list = json_array();
        int64_t eid = json_integer_value(json_object_get(it, "evidence_id"));
        json_object_set_new(it, "mapped", json_boolean(json_integer_value(json_object_get(it, "mapped")) != 0));
        json_array_foreach(files, j, f)
        {
            if (json_integer_value(json_object_get(f, "evidence_id")) != eid)
                continue;
            json_t *c = json_deep_copy(f);
            json_object_del(c, "evidence_id");
            json_array_append_new(list, c);
        }
        json_object_set_new(it, "files", list);
    }
    json_decref(files);
    return items;
}

/* The current met decisions citing evidence_id: [{criterion_id, ref}]. */
static json_t *current_met(db_t *db, int64_t evidence_id)
{
    return db_all(db,
                  "SELECT d.id, d.criterion_id, c.ref FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id"
                  " JOIN criteria c ON c.id = d.criterion_id WHERE de.evidence_id = ? AND d.outcome = 'met'"
                  " AND NOT EXISTS (SELECT 1 FROM decisions s WHERE s.supersedes_id = d.id) ORDER BY d.id",
                  "i", evidence_id);
}

int rules_check_files_change(db_t *db, int64_t evidence_id, rules_err_t *e)
{
    json_t *met = current_met(db, evidence_id);
    int rc = EV_OK;
    if (!met)
        return fail(e, 500, "db_error", "", "Could not read the decisions on this evidence.");
    if (json_array_size(met) > 0)
        rc = fail(e, 409, "evidence_frozen", "remove_file",
                  "An assessor judged criterion %s met on these files, so they cannot be removed or replaced. "
                  "To fix what was returned, add files here or upload new evidence.",
                  json_string_value(json_object_get(json_array_get(met, 0), "ref")));
    json_decref(met);
    return rc;
}

int rules_check_mapping_change(db_t *db, int64_t evidence_id, const int64_t *keep, size_t nkeep, rules_err_t *e)
{
    json_t *met = current_met(db, evidence_id);
    size_t i, k;
    json_t *m;
    int rc = EV_OK;
    if (!met)
        return fail(e, 500, "db_error", "", "Could not read the decisions on this evidence.");
    json_array_foreach(met, i, m)
    {
        int64_t cid = json_integer_value(json_object_get(m, "criterion_id"));
        int kept = 0;
        for (k = 0; k < nkeep; k++)
            kept |= keep[k] == cid;
        if (!kept) {
            rc = fail(e, 409, "criterion_met_frozen", "criteria",
                      "Criterion %s was judged met on this evidence, so it cannot be unmapped. "
                      "Map other criteria as well, or upload new evidence for them.",
                      json_string_value(json_object_get(m, "ref")));
            break;
        }
    }
    json_decref(met);
    return rc;
}

int rules_spec_revision(db_t *db, json_t *revisions, const char *today)
{
    size_t i;
    json_t *rv;
    json_t *units = json_object(); /* unit id -> note text */
    int rc = EV_OK;
    json_array_foreach(revisions, i, rv)
    {
        int64_t cid = json_integer_value(json_object_get(rv, "criterion_id"));
        int64_t uid = json_integer_value(json_object_get(rv, "unit_id"));
        const char *change = json_string_value(json_object_get(rv, "change"));
        int64_t learners, decisions;
        if (strcmp(change, "added") == 0) {
            learners = db_int(db,
                              "SELECT COUNT(*) FROM enrolments en JOIN units u ON u.qualification_id = en.qualification_id"
                              " WHERE u.id = ? AND en.status = 'active'",
                              0, "i", uid);
            decisions = 0;
        } else {
            learners = db_int(db,
                              "SELECT COUNT(*) FROM (SELECT learner_id FROM evidence_criteria WHERE criterion_id = ?"
                              " UNION SELECT learner_id FROM decisions WHERE criterion_id = ?) x",
                              0, "ii", cid, cid);
            decisions = db_int(db,
                               "SELECT COUNT(*) FROM decisions d WHERE d.criterion_id = ? AND NOT EXISTS"
                               " (SELECT 1 FROM decisions s WHERE s.supersedes_id = d.id)",
                               0, "i", cid);
        }
        int64_t signed_off = db_int(db, "SELECT COUNT(*) FROM unit_signoffs WHERE unit_id = ?", 0, "i", uid);
        json_object_set_new(rv, "learners", json_integer(learners));
        json_object_set_new(rv, "decisions", json_integer(decisions));
        json_object_set_new(rv, "signed_off", json_integer(signed_off));
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)uid);
        const char *prev = json_string_value(json_object_get(units, key));
        char *note = fmtalloc("%s%s%s %s", prev ? prev : "", prev ? "; " : "",
                              json_string_value(json_object_get(rv, "ref")), change);
        json_object_set_new(units, key, json_string(note));
        free(note);
    }
    const char *key;
    json_t *note;
    json_object_foreach(units, key, note)
    {
        int64_t uid = 0;
        char *full = fmtalloc("Specification revised on %s: %s.", today, json_string_value(note));
        if (util_parse_i64(key, &uid) != EV_OK ||
            db_run(db, "UPDATE unit_signoffs SET needs_review = 1, review_note = ? WHERE unit_id = ?", "ti", full,
                   uid) != EV_OK)
            rc = EV_ERR;
        free(full);
    }
    json_decref(units);
    return rc;
}
