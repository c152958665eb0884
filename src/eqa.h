/* eqa.h: EQA visits: an admin grants an external quality assurer a sample for a window, and the EQA's visit report */
#ifndef EVITRACK_EQA_H
#define EVITRACK_EQA_H

#include "db.h"
#include "http.h"

extern const route_t eqa_routes[];

/* The longest window a visit may have, in days (a visit is days, not a standing grant). */
#define EQA_MAX_WINDOW_DAYS 92
/* The most learners one visit may sample. */
#define EQA_MAX_SAMPLE 200

/* `serve --demo`: a visit open now (from yesterday for 30 days) for eqa@demo.test on
 * the demo learners' qualifications, sampling learner@ and learner2@demo.test.
 * EV_OK (also when those accounts are missing) or EV_ERR. */
int eqa_demo_seed(db_t *db);

#endif
