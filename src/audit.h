/* audit.h: the append-only, hash-chained audit trail */
#ifndef EVITRACK_AUDIT_H
#define EVITRACK_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"

/* Appends one event inside the caller's open transaction (so it commits or
 * rolls back with the change it records). actor_id 0 = system/CLI,
 * learner_id 0 = concerns no learner. before/after may be NULL; they are
 * borrowed, not taken. EV_OK or EV_ERR. On SQLite the event is linked into the
 * chain at once; on PostgreSQL it is written unlinked, taking no lock, and the
 * chainer links it once it has committed (below). */
int audit_record(db_t *db, int64_t actor_id, const char *action, const char *entity,
                 int64_t entity_id, int64_t learner_id, json_t *before, json_t *after);

/* Walks the whole chain. EV_OK with *count events checked; EV_ERR with
 * *bad_id the first event whose hash or link does not match (and a reason).
 * On PostgreSQL it first waits (audit_chain_configure) for the chain to take in
 * the events committed before the call; an event still unlinked then is an error
 * when older than the grace period, or when a linked event follows it. Call
 * outside a transaction. */
int audit_verify(db_t *db, int64_t *count, int64_t *bad_id, char *reason, size_t reasonlen);

/* ---- the chainer (PostgreSQL; everything here is a no-op on SQLite) ----
 * One process at a time links committed events into the chain in id order: the one
 * holding a session advisory lock. Every `evitrack serve` runs a chainer thread that
 * tries for the lock every half second, so when the linking server dies another takes
 * over. docs/architecture.md gives the correctness argument. */

/* Starts the chainer thread on its own connection to target (a PostgreSQL URL;
 * nothing for SQLite). EV_OK or EV_ERR. */
int audit_chainer_start(const char *target);
/* Stops it, linking what has committed first when it holds the lock (up to 5 s). */
void audit_chainer_stop(void);
/* Waits until every event committed before the call is linked, linking them on db
 * itself when no process holds the chainer lock. timeout_ms bounds the wait. EV_OK,
 * or EV_ERR on timeout, error, or when db is inside a transaction. */
int audit_chain_sync(db_t *db, int timeout_ms);
/* grace_s: how old an unlinked event may be before verify calls it an error (default
 * 60); wait_ms: how long verify waits for the chain first (default 10000). */
void audit_chain_configure(int grace_s, int wait_ms);
/* Events not linked yet (0 on SQLite); -1 on error. */
int64_t audit_unlinked(db_t *db);

/* ---- completeness (issue 11) ----
 * A hash chain proves no event was altered, not that none was removed from its end. So the
 * head of the chain (sequence number, hash, time) is appended to a head log outside the
 * database every N events and at a clean stop; verify compares the trail with it. */

/* Sets the head log (path copied; NULL: none) and how many events between records. */
void audit_head_configure(const char *path, int64_t every);
/* The configured head log path, or NULL. */
const char *audit_head_path(void);
/* The chain's head {seq, hash, at} ({0, genesis hash} when empty). Caller owns it. */
json_t *audit_head(db_t *db);
/* Appends "SEQ HASH TIME" to the head log (fsync'd) when N events were recorded since the
 * last record, or always when force (clean stop), and the head moved. Call outside any
 * transaction. EV_OK (also when no head log is set) or EV_ERR. Thread-safe. */
int audit_head_write(db_t *db, int force);
/* Compares the trail with the head log at path: every recorded head must still be in the
 * trail with the same hash. EV_OK, EV_ERR (reason says which: tail removed or replaced), or
 * 1 when there is no head log. *last receives the last recorded head (caller owns; may be NULL). */
int audit_head_check(db_t *db, const char *path, json_t **last, char *reason, size_t reasonlen);
/* Compares current state with the events that recorded it: every decision, unit sign-off,
 * unit countersignature, decision countersignature and IQA sample must have its event and
 * agree with the fields the event recorded. EV_OK, or EV_ERR with the first disagreement. */
int audit_verify_state(db_t *db, char *reason, size_t reasonlen);
/* 1 when an exported event {id, at, actor_id, action, entity, entity_id, learner_id,
 * before_text, after_text, prev_hash, hash} hashes to its hash from its prev_hash. */
int audit_event_hash_ok(const json_t *e);

#endif
