/* status.h: the derived status of each criterion for each learner, and its summaries */
#ifndef EVITRACK_STATUS_H
#define EVITRACK_STATUS_H

#include <stdint.h>

#include "db.h"

/* Recomputes criterion_status for one learner and criterion from evidence and
 * decisions (call inside the transaction that changed them). The rule:
 *   met        the latest decision is met
 *   submitted  else some submitted evidence is mapped to it
 *   not_met    else the latest decision is not yet met
 *   mapped     else some evidence (any status) is mapped to it
 *   not_started otherwise.
 * Only criteria of the learner's enrolments have rows. EV_OK or EV_ERR. */
int status_refresh(db_t *db, int64_t learner_id, int64_t criterion_id);
/* Recomputes every criterion row of one learner (after a mapping changes,
 * evidence is submitted or deleted: about 0.1 ms for 120 criteria). */
int status_refresh_learner(db_t *db, int64_t learner_id);
/* Creates the rows for every current criterion of the learner's enrolments
 * (after enrolment, or after a spec import added criteria); drops retired ones, and the
 * KSBs recognised as prior learning on the learner's apprenticeships (issue 16: they
 * count in no total; call it again after the recognised KSBs change). */
int status_sync_learner(db_t *db, int64_t learner_id);
/* status_sync_learner for every learner enrolled on a qualification. */
int status_sync_qualification(db_t *db, int64_t qualification_id);

#endif
