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

#endif
