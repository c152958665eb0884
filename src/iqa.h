/* iqa.h: internal quality assurance: sampling assessors' decisions, actions and the assessor's answers */
#ifndef EVITRACK_IQA_H
#define EVITRACK_IQA_H

#include <jansson.h>
#include <stdint.h>

#include "http.h"

extern const route_t iqa_routes[];

/* The IQA samples of one decision, oldest first, with the IQA's name and
 * display fields. Caller owns the array (NULL on a database error). */
json_t *iqa_samples_of(db_t *db, int64_t decision_id);

/* ---- the coverage summaries (schema/018_list_scale.sql, issue 22) ----
 * iqa_cover_au, iqa_cover_kind and iqa_cover_learner hold, for the whole centre, how many
 * decisions each assessor made per unit, per kind of evidence cited and per learner, and
 * how many of them have an IQA sample. They are kept here, in the caller's transaction,
 * by the writes that change them (no triggers: DESIGN.md). Each returns EV_OK or EV_ERR. */

/* A decision just recorded, with its decision_evidence rows already inserted. */
int iqa_coverage_decision_added(db_t *db, int64_t decision_id);

/* Call after inserting an IQA sample of decision_id: counts the decision as sampled when
 * this is its first sample. Serialised per decision (db_lock_xact), so two first samples
 * on two servers count once. */
int iqa_coverage_sample_added(db_t *db, int64_t decision_id);

/* The kind of evidence_id is about to change (sign -1, before the UPDATE) or has just
 * changed (sign +1, after it): the decisions that cite it leave, then re-enter, the
 * per-kind rows with their kinds as they are at that moment. */
int iqa_coverage_evidence_kind(db_t *db, int64_t evidence_id, int sign);

/* Empties and refills the three summaries from the decisions (the migration's backfill;
 * for bulk loads such as the benchmark's seeding, which insert rows directly). */
int iqa_coverage_rebuild(db_t *db);

#endif
