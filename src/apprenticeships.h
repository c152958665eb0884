/* apprenticeships.h: employers and their contacts, apprenticeship enrolments on a standard,
 * off-the-job training entries (record, verify, query), breaks in learning, their pages,
 * API and CSV exports */
#ifndef EVITRACK_APPRENTICESHIPS_H
#define EVITRACK_APPRENTICESHIPS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"
#include "otj.h"

/* /api/v1/employers, /api/v1/apprenticeships, /api/v1/learners/{id}/otj, /otj/{id}/...,
 * /breaks/{id}/end, /employer, /learners/{id}/otj, the CSV exports. */
extern const route_t apprenticeships_routes[];

/* The off-the-job summary of one apprenticeship row as selected by the callers (columns
 * start_date, planned_end_date, planned_otj_minutes, recorded_minutes, verified_minutes,
 * break_days, break_open_since): fills *plan and *pace for day today. EV_OK, or EV_ERR
 * when its dates are malformed (pace then reads on track with nothing expected). */
int apprenticeships_pace(json_t *row, int64_t today, otj_plan_t *plan, otj_pace_t *pace);

/* A new JSON object for the summary: {planned_minutes, recorded_minutes, verified_minutes,
 * expected_minutes, *_text ("12h 30m"), percent, expected_percent, state, label, is_<state>}. */
json_t *apprenticeships_pace_json(json_t *row, int64_t today);

/* The summary (apprenticeships_pace_json) of the apprenticeship whose enrolment is
 * enrolment_id, or NULL when that enrolment is not an apprenticeship. Caller owns. */
json_t *apprenticeships_enrolment_otj(db_t *db, int64_t enrolment_id, int64_t today);

/* Adds "otj" (apprenticeships_pace_json plus employer and apprenticeship id) to each
 * entry of doc's "qualifications" array whose enrolment_id is an apprenticeship of
 * learner_id (the progress document, progress.c). */
void apprenticeships_annotate_progress(db_t *db, int64_t learner_id, json_t *doc, int64_t today);

/* Is user u an employer contact of learner_id's employer on one of their apprenticeships? */
int apprenticeships_employer_of(db_t *db, int64_t user_id, int64_t learner_id);

/* Demo: the employer, its contact (employer@demo.test), an apprentice enrolled on the
 * bundled standard with assessor@demo.test and some off-the-job entries. EV_OK or EV_ERR. */
int apprenticeships_demo_seed(db_t *db);

#endif
