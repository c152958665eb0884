/* iqaplan.h: IQA sampling plans: risk ratings per assessor, CAMERA coverage, the due list, unit and portfolio samples */
#ifndef EVITRACK_IQAPLAN_H
#define EVITRACK_IQAPLAN_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

extern const route_t iqaplan_routes[];

/* The share of an assessor's decisions the plan samples, in percent, for a risk rating
 * ("new", "under_development", "experienced"); -1 for an unknown rating. A centre's
 * usual practice (awarding bodies' IQA guidance asks for more sampling of new and
 * developing assessors): new 100, under development 50, experienced 20. */
int iqaplan_percent(const char *rating);
/* Decisions the plan wants sampled out of `decisions` at `percent`: rounded up, so any
 * decision at all means at least one sample. 0 when decisions <= 0 or percent <= 0. */
int64_t iqaplan_target(int64_t decisions, int percent);
/* Samples still due: target - sampled, never below 0. */
int64_t iqaplan_due(int64_t decisions, int64_t sampled, int percent);

/* The plan for IQA iqa_id (0: the whole centre, as an admin sees it): rates[],
 * assessors[] ({id, name, rating, percent, decisions, sampled, target, due, interim,
 * summative, percent_sampled}), totals, camera {candidates, assessors, methods[],
 * evidence, records, sites[]}, units[], stages and due[] (decisions to sample next,
 * at most due_limit, each with the reason it was picked). Caller owns it; NULL on a
 * database error. */
json_t *iqaplan_build(db_t *db, int64_t iqa_id, int64_t due_limit);

/* For a new sample of decision_id: records the SHA-256 of the evidence files it looked
 * at (the decision's frozen basis, or the cited items' files when it has none) in
 * iqa_sample_files. Inside the caller's transaction. EV_OK or EV_ERR. */
int iqaplan_record_files(db_t *db, int64_t sample_id, int64_t decision_id);
/* The stage a sample of decision_id is by default: "summative" when its unit is signed
 * off or its enrolment has ended as completed, else "interim". */
const char *iqaplan_default_stage(db_t *db, int64_t decision_id);

#endif
