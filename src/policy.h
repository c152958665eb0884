/* policy.h: the one place that decides who may see and change whose portfolio */
#ifndef EVITRACK_POLICY_H
#define EVITRACK_POLICY_H

#include <stdint.h>

#include "db.h"
#include "http.h"

/* May u read learner_id's portfolio? The learner themself; an assessor or IQA
 * named on one of their enrolments; an admin; an EQA (read-only). */
int policy_can_read_learner(db_t *db, const user_t *u, int64_t learner_id);
/* May u make assessment decisions for learner_id? Only the assessor of one of
 * the learner's enrolments (and for a criterion, of that criterion's qualification). */
int policy_can_assess_learner(db_t *db, const user_t *u, int64_t learner_id);
int policy_can_assess_criterion(db_t *db, const user_t *u, int64_t learner_id, int64_t criterion_id);
/* May u sample (IQA) decisions for learner_id? Only the IQA named on an enrolment. */
int policy_can_sample_learner(db_t *db, const user_t *u, int64_t learner_id);
/* May u change learner_id's evidence? Only the learner themself. */
int policy_can_edit_evidence_of(const user_t *u, int64_t learner_id);
/* May u manage accounts, enrolments and specs? Admin only. */
int policy_is_admin(const user_t *u);

/* The learners u may read (as policy_can_read_learner decides), filtered by q
 * (part of a name or email; NULL or "" for all), ordered by name, one page of
 * them: *rows gets a new array of {id, name, email, disabled}, *total the
 * count before paging. EV_OK or EV_ERR. */
int policy_list_learners(db_t *db, const user_t *u, const char *q, int64_t limit, int64_t offset,
                         json_t **rows, int64_t *total);

/* ---- EQA visits (issue 18) ----
 * An EQA sees only the learners of a visit granted to them, only during its window.
 * Every request by an EQA goes through policy_eqa_check, and only the routes it lists
 * are open to an EQA at all. */

/* 1 when learner_id is in a visit of EQA eqa_id whose window is open now. */
int policy_eqa_learner_in_scope(db_t *db, int64_t eqa_id, int64_t learner_id);
/* The roles that may call route: its own, less EQA unless the route is one policy.c
 * lists as open to an EQA (so a route added later is closed to EQA by default). */
unsigned policy_route_roles(const route_t *route);
/* The EQA scope of route ("learner", "evidence", "self", ...), or NULL when closed to EQA. */
const char *policy_eqa_scope_name(const route_t *route);
/* For a request by an EQA (others: 0 at once): 0 when the object it names lies in an
 * open visit of theirs, with r->eqa_learner set to its learner and the view or download
 * recorded in the audit trail; 404 when it does not (exactly as if it did not exist);
 * 503 when the audit event could not be written (nothing is shown). */
int policy_eqa_check(req_t *r);

/* ---- What of a learner's portfolio a reader may see, qualification by qualification ----
 * An EQA's visit names qualifications as well as learners: during a visit the EQA sees
 * exactly the visit's qualifications of those learners (their enrolments, units,
 * criteria, the evidence mapped to them, decisions, IQA records, reviews and the audit
 * events about them); every other reader sees every qualification the learner-level
 * checks above let them read. */
typedef struct qscope {
    int all;      /* 1: no limit (every reader but an EQA) */
    int64_t *ids; /* the qualification ids that may be seen, ascending (owned) */
    size_t n;
} qscope_t;

/* The same rule inside SQL, for lists that page in the database. POLICY_QSCOPE_SQL: the
 * qualification qcol of learner lcol may be seen; POLICY_QSCOPE_EVIDENCE_SQL: evidence ecol
 * of learner lcol is mapped to a qualification that may be seen. Each takes the binds
 * "iitt" (eqa, eqa, now, now) that policy_qscope_binds gives (eqa 0: no limit). */
#define POLICY_QSCOPE_VISIT_SQL(lcol)                                                                     \
    " JOIN eqa_visits qv ON qv.id = qvq.visit_id JOIN eqa_visit_learners qvl ON qvl.visit_id = qv.id"   \
    " AND qvl.learner_id = " lcol " WHERE qv.eqa_id = ? AND qv.starts_at <= ? AND qv.ends_at > ?"        \
    " AND qv.ended_at IS NULL"
#define POLICY_QSCOPE_SQL(qcol, lcol)                                                                     \
    "(? = 0 OR " qcol " IN (SELECT qvq.qualification_id FROM eqa_visit_qualifications qvq"              \
    POLICY_QSCOPE_VISIT_SQL(lcol) "))"
#define POLICY_QSCOPE_EVIDENCE_SQL(ecol, lcol)                                                            \
    "(? = 0 OR EXISTS (SELECT 1 FROM evidence_criteria qec JOIN criteria qc ON qc.id = qec.criterion_id" \
    " JOIN units qun ON qun.id = qc.unit_id"                                                             \
    " JOIN eqa_visit_qualifications qvq ON qvq.qualification_id = qun.qualification_id"                  \
    POLICY_QSCOPE_VISIT_SQL(lcol) " AND qec.evidence_id = " ecol "))"
/* The binds of the two above for reader u: *eqa is u's id for an EQA, else 0; now the
 * current time (ISO 8601 UTC). */
void policy_qscope_binds(const user_t *u, int64_t *eqa, char now[21]);

/* Fills *s for reader u and learner_id: for an EQA the qualifications of the open visits
 * of theirs that sample the learner (none when there is no such visit); for anyone else
 * all. Free with qscope_free. EV_OK or EV_ERR (then *s holds nothing: shows nothing). */
int policy_qscope(db_t *db, const user_t *u, int64_t learner_id, qscope_t *s);
void qscope_free(qscope_t *s);
/* 1 when qualification_id may be seen under s. */
int qscope_has(const qscope_t *s, int64_t qualification_id);
/* 1 when evidence_id may be seen under s: always for all; otherwise when it is mapped
 * to a criterion of one of s's qualifications. */
int qscope_evidence(db_t *db, const qscope_t *s, int64_t evidence_id);
/* Removes from array arr the objects whose integer member key names a qualification
 * outside s (kept as they are when s is all). */
void qscope_filter(const qscope_t *s, json_t *arr, const char *key);
/* Removes from arr the objects whose integer member key names evidence outside s. */
void qscope_filter_evidence(db_t *db, const qscope_t *s, json_t *arr, const char *key);
/* 1 when the audit event about (entity, entity_id) may be seen under s: events about an
 * enrolment, evidence, a decision, an IQA sample, a unit sign-off or a progress review
 * of a qualification outside s are not; the rest (the learner's account, ...) are. */
int qscope_event(db_t *db, const qscope_t *s, const char *entity, int64_t entity_id);
/* Removes from arr the audit events (objects with entity and entity_id) outside s, and
 * those whose before/after name (criterion_id(s), criteria, unit_id(s), qualification_id(s))
 * any criterion, unit or qualification outside s: an event is dropped whole rather than
 * edited, since each event must still hash to its chained hash in an export (issue 18). */
void qscope_filter_events(db_t *db, const qscope_t *s, json_t *arr);

#endif
