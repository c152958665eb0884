/* notify_events.c: who hears about each change, and what they are told (called inside the change's transaction) */
#include <string.h>

#include "notify.h"

#define STR(o, k) json_string_value(json_object_get((o), (k)))
#define INT(o, k) ((int64_t)json_integer_value(json_object_get((o), (k))))

int notify_evidence_submitted(db_t *db, int64_t evidence_id)
{
    int rc = EV_ERR;
    json_t *ev = db_one(db, "SELECT e.title, e.learner_id, u.name AS learner_name FROM evidence e"
                            " JOIN users u ON u.id = e.learner_id WHERE e.id = ?", "i", evidence_id);
    json_t *to = ev ? db_all(db, "SELECT DISTINCT assessor_id FROM enrolments WHERE learner_id = ?"
                                 " AND status = 'active'", "i", INT(ev, "learner_id"))
                    : NULL;
    if (!to)
        goto out;
    char link[64];
    snprintf(link, sizeof link, "/review/%lld", (long long)evidence_id);
    size_t i;
    json_t *a;
    rc = EV_OK;
    json_array_foreach(to, i, a) {
        if (rc == EV_OK)
            rc = notify_queue(db, INT(a, "assessor_id"), "evidence_submitted", link,
                              json_pack("{s:s, s:s, s:I}", "learner_name", STR(ev, "learner_name"), "evidence_title",
                                        STR(ev, "title"), "evidence_id", (json_int_t)evidence_id));
    }
out:
    json_decref(ev);
    json_decref(to);
    return rc;
}

int notify_decision_recorded(db_t *db, int64_t decision_id)
{
    json_t *d = db_one(db, "SELECT d.learner_id, d.outcome, d.feedback, c.ref AS criterion_ref,"
                           " c.text AS criterion_text, a.name AS assessor_name FROM decisions d"
                           " JOIN criteria c ON c.id = d.criterion_id JOIN users a ON a.id = d.assessor_id"
                           " WHERE d.id = ?", "i", decision_id);
    if (!d)
        return EV_ERR;
    char link[64];
    snprintf(link, sizeof link, "/decisions/%lld", (long long)decision_id);
    const char *fb = STR(d, "feedback");
    int rc = notify_queue(db, INT(d, "learner_id"), "decision_recorded", link,
                          json_pack("{s:s, s:s, s:s, s:b, s:s?, s:I}", "criterion_ref", STR(d, "criterion_ref"),
                                    "criterion_text", STR(d, "criterion_text"), "assessor_name",
                                    STR(d, "assessor_name"), "met", !strcmp(STR(d, "outcome"), "met"),
                                    "feedback", fb && *fb ? fb : NULL, "decision_id", (json_int_t)decision_id));
    json_decref(d);
    return rc;
}

/* The sample with its decision's people and criterion. */
static json_t *load_sample(db_t *db, int64_t sample_id)
{
    return db_one(db, "SELECT s.decision_id, s.outcome, s.feedback, s.response, s.iqa_id, d.assessor_id,"
                      " c.ref AS criterion_ref, l.name AS learner_name, i.name AS iqa_name, a.name AS assessor_name"
                      " FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id"
                      " JOIN criteria c ON c.id = d.criterion_id JOIN users l ON l.id = d.learner_id"
                      " JOIN users i ON i.id = s.iqa_id JOIN users a ON a.id = d.assessor_id WHERE s.id = ?",
                  "i", sample_id);
}

int notify_iqa_sampled(db_t *db, int64_t sample_id)
{
    json_t *s = load_sample(db, sample_id);
    if (!s)
        return EV_ERR;
    int rc = EV_OK;
    if (!strcmp(STR(s, "outcome"), "action_required")) {
        char link[64];
        snprintf(link, sizeof link, "/decisions/%lld", (long long)INT(s, "decision_id"));
        rc = notify_queue(db, INT(s, "assessor_id"), "iqa_action", link,
                          json_pack("{s:s, s:s, s:s, s:s?}", "learner_name", STR(s, "learner_name"), "criterion_ref",
                                    STR(s, "criterion_ref"), "iqa_name", STR(s, "iqa_name"), "feedback",
                                    STR(s, "feedback")));
    }
    json_decref(s);
    return rc;
}

int notify_iqa_answered(db_t *db, int64_t sample_id)
{
    json_t *s = load_sample(db, sample_id);
    if (!s)
        return EV_ERR;
    char link[64];
    snprintf(link, sizeof link, "/decisions/%lld", (long long)INT(s, "decision_id"));
    int rc = notify_queue(db, INT(s, "iqa_id"), "iqa_response", link,
                          json_pack("{s:s, s:s, s:s, s:s?}", "learner_name", STR(s, "learner_name"), "criterion_ref",
                                    STR(s, "criterion_ref"), "assessor_name", STR(s, "assessor_name"), "response",
                                    STR(s, "response")));
    json_decref(s);
    return rc;
}

int notify_unit_signed_off(db_t *db, int64_t signoff_id)
{
    int rc = EV_ERR;
    json_t *so = db_one(db, "SELECT s.learner_id, s.unit_id, u.ref AS unit_ref, u.title AS unit_title,"
                            " u.qualification_id, l.name AS learner_name, a.name AS assessor_name FROM unit_signoffs s"
                            " JOIN units u ON u.id = s.unit_id JOIN users l ON l.id = s.learner_id"
                            " JOIN users a ON a.id = s.assessor_id WHERE s.id = ?", "i", signoff_id);
    json_t *iqas = so ? db_all(db, "SELECT DISTINCT iqa_id FROM enrolments WHERE learner_id = ?"
                                   " AND qualification_id = ? AND iqa_id IS NOT NULL", "ii",
                               INT(so, "learner_id"), INT(so, "qualification_id"))
                      : NULL;
    if (!iqas)
        goto out;
    char link[96];
    snprintf(link, sizeof link, "/learners/%lld/units/%lld/signoff", (long long)INT(so, "learner_id"),
             (long long)INT(so, "unit_id"));
    json_t *data = json_pack("{s:s, s:s, s:s, s:s}", "unit_ref", STR(so, "unit_ref"), "unit_title",
                             STR(so, "unit_title"), "learner_name", STR(so, "learner_name"), "assessor_name",
                             STR(so, "assessor_name"));
    rc = notify_queue(db, INT(so, "learner_id"), "unit_signed_off", link, json_deep_copy(data));
    size_t i;
    json_t *q;
    json_array_foreach(iqas, i, q) {
        if (rc == EV_OK)
            rc = notify_queue(db, INT(q, "iqa_id"), "unit_signed_off", link, json_deep_copy(data));
    }
    json_decref(data);
out:
    json_decref(so);
    json_decref(iqas);
    return rc;
}

int notify_enrolled(db_t *db, int64_t enrolment_id)
{
    json_t *e = db_one(db, "SELECT e.learner_id, e.start_date, e.planned_end_date, q.code AS qualification_code,"
                           " q.title AS qualification_title, a.name AS assessor_name FROM enrolments e"
                           " JOIN qualifications q ON q.id = e.qualification_id JOIN users a ON a.id = e.assessor_id"
                           " WHERE e.id = ?", "i", enrolment_id);
    if (!e)
        return EV_ERR;
    int rc = notify_queue(db, INT(e, "learner_id"), "enrolment", "/portfolio",
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "qualification_code", STR(e, "qualification_code"),
                                    "qualification_title", STR(e, "qualification_title"), "start_date",
                                    STR(e, "start_date"), "planned_end_date", STR(e, "planned_end_date"),
                                    "assessor_name", STR(e, "assessor_name")));
    json_decref(e);
    return rc;
}
