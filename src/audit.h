/* audit.h: the append-only, hash-chained audit trail */
#ifndef EVITRACK_AUDIT_H
#define EVITRACK_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"

/* Appends one event inside the caller's open transaction (so it commits or
 * rolls back with the change it records). actor_id 0 = system/CLI,
 * learner_id 0 = concerns no learner. before/after may be NULL; they are
 * borrowed, not taken. EV_OK or EV_ERR. */
int audit_record(db_t *db, int64_t actor_id, const char *action, const char *entity,
                 int64_t entity_id, int64_t learner_id, json_t *before, json_t *after);

/* Walks the whole chain. EV_OK with *count events checked; EV_ERR with
 * *bad_id the first event whose hash or link does not match (and a reason). */
int audit_verify(db_t *db, int64_t *count, int64_t *bad_id, char *reason, size_t reasonlen);

#endif
