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

#endif
