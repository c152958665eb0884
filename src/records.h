/* records.h: evidence the assessor writes (observations, professional discussions, Q&A, group observations) and the learner's acknowledgement */
#ifndef EVITRACK_RECORDS_H
#define EVITRACK_RECORDS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* The route table (API and pages), listed in routes.c. */
extern const route_t records_routes[];

/* The kinds an assessor writes: observation, professional_discussion,
 * question_and_answer. 1 when kind is one of them. */
int records_kind_ok(const char *kind);

/* The assessor's own records still to write up (planned, status draft), oldest
 * planned date first: [{id, title, kind, kind_label, occurred_on, learner_id,
 * learner_name, url}]. Never NULL; caller owns it. */
json_t *records_to_write_up(db_t *db, int64_t assessor_id);

#endif
