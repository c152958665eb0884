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

#endif
