/* audit.c: the append-only, hash-chained audit trail */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The canonical content of an event: a compact JSON object with sorted keys,
 * so the same fields always hash the same. Caller frees. */
static char *canonical(int64_t id, const char *at, int64_t actor_id, const char *action, const char *entity,
                       int64_t entity_id, int64_t learner_id, const char *before, const char *after)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "at", json_string(at));
    json_object_set_new(o, "actor_id", actor_id ? json_integer(actor_id) : json_null());
    json_object_set_new(o, "action", json_string(action));
    json_object_set_new(o, "entity", json_string(entity));
    json_object_set_new(o, "entity_id", entity_id ? json_integer(entity_id) : json_null());
    json_object_set_new(o, "learner_id", learner_id ? json_integer(learner_id) : json_null());
    json_object_set_new(o, "before", before ? json_string(before) : json_null());
    json_object_set_new(o, "after", after ? json_string(after) : json_null());
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static void chain_hash(const char *prev, const char *content, char out[65])
{
    struct sha256_ctx ctx;
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(prev), (const uint8_t *)prev);
    sha256_update(&ctx, strlen(content), (const uint8_t *)content);
    sha256_digest(&ctx, sizeof digest, digest);
    util_hex(digest, sizeof digest, out);
}

static atomic_llong head_pending; /* events linked since the last head record (may overcount rollbacks) */

/* ---- writing an event ----
 * SQLite: the write transaction is the only one (BEGIN IMMEDIATE), so the event is
 * linked as it is written: id = tail + 1, prev_hash = the tail's hash.
 * PostgreSQL: the event is written unlinked (prev_hash, hash NULL) with an id from the
 * identity sequence, taking no lock of its own, and the chainer below links it after its
 * transaction commits (docs/architecture.md gives the correctness argument). */

static int record_linked(db_t *db, int64_t actor_id, const char *action, const char *entity, int64_t entity_id,
                         int64_t learner_id, const char *before_s, const char *after_s)
{
    int result = EV_ERR;
    char *content = NULL, *prev = NULL;
    /* The tail in a statement of its own, after the write lock is held. */
    int64_t id = 1;
    db_stmt_t *st = db_query(db, "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1", "");
    int rc = db_next(st);
    if (rc == 1 && !db_col_is_null(st, 0)) {
        id = db_col_int(st, 0) + 1;
        prev = xstrdup(db_col_text(st, 1));
    }
    db_stmt_done(st);
    if (rc < 0)
        goto out;
    char at[21], hash[65];
    util_now_iso(at);
    content = canonical(id, at, actor_id, action, entity, entity_id, learner_id, before_s, after_s);
    if (!content)
        goto out;
    chain_hash(prev ? prev : GENESIS_HASH, content, hash);
    if (db_run(db,
               "INSERT INTO audit_events (id, at, actor_id, action, entity, entity_id, learner_id,"
               " before, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
               "itzttzztttt", id, at, actor_id, action, entity, entity_id, learner_id, before_s, after_s,
               prev ? prev : GENESIS_HASH, hash) != EV_OK)
        goto out;
    result = EV_OK;
    atomic_fetch_add(&head_pending, 1);
out:
    free(content);
    free(prev);
    return result;
}

static int record_unlinked(db_t *db, int64_t actor_id, const char *action, const char *entity, int64_t entity_id,
                           int64_t learner_id, const char *before_s, const char *after_s)
{
    char at[21];
    util_now_iso(at);
    /* The INSERT locks audit_events (RowExclusiveLock, to the end of the transaction)
     * before it draws the event's id from the sequence: the chainer relies on that order. */
    return db_run(db,
                  "INSERT INTO audit_events (at, actor_id, action, entity, entity_id, learner_id, before, after)"
                  " VALUES (?,?,?,?,?,?,?,?)",
                  "tzttzztt", at, actor_id, action, entity, entity_id, learner_id, before_s, after_s);
}

int audit_record(db_t *db, int64_t actor_id, const char *action, const char *entity, int64_t entity_id,
                 int64_t learner_id, json_t *before, json_t *after)
{
    int result = EV_ERR, own = 0;
    char *before_s = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    char *after_s = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    if (!db_in_transaction(db)) {
        if (db_begin(db) != EV_OK)
            goto out;
        own = 1;
    }
    result = db_is_pg(db) ? record_unlinked(db, actor_id, action, entity, entity_id, learner_id, before_s, after_s)
                          : record_linked(db, actor_id, action, entity, entity_id, learner_id, before_s, after_s);
out:
    if (own)
        result = result == EV_OK ? db_commit(db) : (db_rollback(db), EV_ERR);
    free(before_s);
    free(after_s);
    return result;
}

/* ---- the chainer (PostgreSQL) ----
 * Links committed events in id order. A round remembers a horizon (v, W): v the largest
 * event id handed out when the round began, W the transactions writing to audit_events
 * just after. A writer's INSERT holds the table's lock from before it draws its id to
 * the end of its transaction, so every id <= v belongs to a transaction that has ended
 * or is in W; once none of W is running, the events with ids <= v are final (committed,
 * or never to appear), and they can be linked in id order with nothing ever to come in
 * between. */

typedef struct {
    int set;         /* a horizon is waiting */
    int64_t v;       /* its last issued id */
    char *writers;   /* the transactions it waits for (db_table_writers; owned) */
    int64_t covered; /* every id up to this one is linked or will never exist */
} horizon_t;

static void horizon_clear(horizon_t *h)
{
    free(h->writers);
    h->writers = NULL;
    h->set = 0;
}

#define CHAIN_BATCH 2048 /* events linked per transaction at most */
#define LINKS_PER_UPDATE 32
#define LINK1 "(CAST(? AS BIGINT), ?, ?)"
#define LINK4 LINK1 "," LINK1 "," LINK1 "," LINK1
#define LINK16 LINK4 "," LINK4 "," LINK4 "," LINK4
/* Sets the links of up to 32 unlinked events: (id, prev_hash, hash) triples. */
#define LINK_UPDATE_SQL                                                                                                \
    "UPDATE audit_events SET prev_hash = v.p, hash = v.h FROM (VALUES " LINK16 "," LINK16 ") AS v(id, p, h)"        \
    " WHERE audit_events.id = v.id AND audit_events.hash IS NULL"

static int chain_grace_s = 60;     /* unlinked events older than this are an error */
static int chain_wait_ms = 10000;  /* how long verify waits for the chain to catch up */

void audit_chain_configure(int grace_s, int wait_ms)
{
    chain_grace_s = grace_s >= 0 ? grace_s : 60;
    chain_wait_ms = wait_ms >= 0 ? wait_ms : 10000;
}

/* Links the unlinked events with tail < id <= upto in id order inside the open
 * transaction. *n gets how many; *more = 1 when the batch limit stopped it. */
static int link_upto(db_t *db, int64_t upto, int64_t *n, int *more)
{
    int result = EV_ERR;
    char *prev = NULL;
    json_t *rows = NULL;
    db_stmt_t *upd = NULL;
    int64_t tail = 0;
    *n = 0;
    *more = 0;
    db_stmt_t *st = db_query(db, "SELECT id, hash FROM audit_events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1", "");
    int rc = db_next(st);
    if (rc == 1) {
        tail = db_col_int(st, 0);
        prev = xstrdup(db_col_text(st, 1));
    }
    db_stmt_done(st);
    if (rc < 0)
        goto out;
    rows = db_all(db, "SELECT id, at, actor_id, action, entity, entity_id, learner_id, before, after FROM audit_events"
                      " WHERE hash IS NULL AND id > ? AND id <= ? ORDER BY id LIMIT ?",
                  "iiI", tail, upto, CHAIN_BATCH);
    if (!rows)
        goto out;
    size_t i;
    json_t *e;
    /* Links go out LINKS_PER_UPDATE to a statement (one round trip for 32 events rather
     * than 32): slots past the last event are padded with id 0, which matches nothing. */
    upd = db_prepare_dynamic(db, LINK_UPDATE_SQL);
    if (!upd)
        goto out;
    size_t filled = 0, total = json_array_size(rows);
    json_array_foreach(rows, i, e) {
#define S(k) json_string_value(json_object_get(e, k))
#define I(k) (int64_t) json_integer_value(json_object_get(e, k))
        char hash[65];
        char *content = canonical(I("id"), S("at") ? S("at") : "", I("actor_id"), S("action") ? S("action") : "",
                                  S("entity") ? S("entity") : "", I("entity_id"), I("learner_id"), S("before"),
                                  S("after"));
        if (!content)
            goto out;
        const char *link = prev ? prev : GENESIS_HASH;
        chain_hash(link, content, hash);
        free(content);
        int slot = (int)filled * 3;
        if (db_bind_int(upd, slot + 1, I("id")) != EV_OK || db_bind_text(upd, slot + 2, link) != EV_OK ||
            db_bind_text(upd, slot + 3, hash) != EV_OK)
            goto out;
#undef S
#undef I
        free(prev);
        prev = xstrdup(hash);
        filled++;
        if (filled == LINKS_PER_UPDATE || i + 1 == total) {
            for (size_t k = filled; k < LINKS_PER_UPDATE; k++)
                if (db_bind_int(upd, (int)k * 3 + 1, 0) != EV_OK || db_bind_null(upd, (int)k * 3 + 2) != EV_OK ||
                    db_bind_null(upd, (int)k * 3 + 3) != EV_OK)
                    goto out;
            int rc2 = db_next(upd);
            db_stmt_done(upd);
            if (rc2 != 0)
                goto out;
            if ((size_t)db_changes(db) != filled) {
                ev_log("audit chain: an event was linked by someone else: round abandoned");
                goto out;
            }
            *n += (int64_t)filled;
            filled = 0;
        }
    }
    *more = json_array_size(rows) == CHAIN_BATCH;
    result = EV_OK;
out:
    db_stmt_free(upd);
    json_decref(rows);
    free(prev);
    return result;
}

/* One round: links what the waiting horizon allows and takes the next horizon. Call
 * outside a transaction, holding the chainer lock. *linked gets how many events it
 * linked; *busy = 1 when work remains (a horizon waits, or a batch was cut short).
 * EV_OK or EV_ERR (the horizon is dropped: the next round starts afresh). */
static int chain_round(db_t *db, horizon_t *h, int64_t *linked, int *busy)
{
    int ready = 0, more = 0;
    *linked = 0;
    *busy = 0;
    if (h->set) {
        int64_t running = db_xacts_running(db, h->writers);
        if (running < 0)
            return EV_ERR;
        ready = running == 0;
        if (!ready) {
            *busy = 1; /* a transaction that may hold an id <= v is still running */
            return EV_OK;
        }
    } else {
        int64_t issued = db_id_last_issued(db, "audit_events");
        if (issued < 0)
            return EV_ERR;
        if (issued <= h->covered)
            return EV_OK; /* no event id handed out since the last horizon */
    }
    /* The next horizon: the last issued id, then the writers at that moment (in that order). */
    int64_t v = db_id_last_issued(db, "audit_events");
    char *writers = v >= 0 ? db_table_writers(db, "audit_events") : NULL;
    if (!writers)
        goto fail_out;
    if (ready) {
        if (db_begin(db) != EV_OK)
            goto fail_out;
        if (link_upto(db, h->v, linked, &more) != EV_OK) {
            db_rollback(db);
            goto fail_out;
        }
        if (db_commit(db) != EV_OK)
            goto fail_out;
        if (!more) {
            h->covered = h->v;
            horizon_clear(h);
        }
    }
    if (!h->set && v > h->covered) {
        h->v = v;
        h->writers = writers;
        writers = NULL;
        h->set = 1;
    }
    free(writers);
    if (*linked)
        atomic_fetch_add(&head_pending, *linked);
    *busy = h->set;
    return EV_OK;
fail_out:
    free(writers);
    *linked = 0;
    horizon_clear(h);
    return EV_ERR;
}

/* The chainer lock: whoever holds it links events (a session advisory lock, so a
 * process that dies gives it up with its connection). "chain" in ASCII. */
#define AUDIT_CHAINER_LOCK 0x636861696e

/* The chainer thread of a server (audit_chainer_start). */
static struct {
    pthread_t thread;
    int started;
    char *target;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, nudged;
} chainer = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Waits up to ms on the chainer's condition (a nudge or a stop ends it early).
 * Returns 1 when asked to stop. */
static int chainer_wait(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&chainer.mu);
    while (!chainer.stop && !chainer.nudged)
        if (pthread_cond_timedwait(&chainer.cv, &chainer.mu, &ts) != 0)
            break;
    chainer.nudged = 0;
    int stop = chainer.stop;
    pthread_mutex_unlock(&chainer.mu);
    return stop;
}

static void chainer_nudge(void)
{
    pthread_mutex_lock(&chainer.mu);
    chainer.nudged = 1;
    pthread_cond_signal(&chainer.cv);
    pthread_mutex_unlock(&chainer.mu);
}

/* Unlinked events with tail < id <= upto (what a catch-up waits for); -1 on error. */
static int64_t unlinked_upto(db_t *db, int64_t upto)
{
    return db_int(db, "SELECT count(*) FROM audit_events WHERE hash IS NULL AND id <= ? AND id >"
                      " (SELECT COALESCE(MAX(id), 0) FROM audit_events WHERE hash IS NOT NULL)", -1, "i", upto);
}

static void *chainer_main(void *arg)
{
    (void)arg;
    db_t *db = NULL;
    int leader = 0, stop = 0;
    horizon_t h = {0};
    while (!stop) {
        if (!db && !(db = db_open(chainer.target))) {
            stop = chainer_wait(1000);
            continue;
        }
        if (!leader) {
            int got = db_try_lock_session(db, AUDIT_CHAINER_LOCK);
            if (got < 0) {
                db_close(db);
                db = NULL;
            } else if (got == 1) {
                leader = 1;
                horizon_clear(&h);
                h.covered = 0;
                ev_log("audit chain: this server links the audit events now");
            }
            if (!leader) {
                stop = chainer_wait(500); /* another server links them; take over if it dies */
                continue;
            }
        }
        int64_t linked = 0;
        int busy = 0;
        if (chain_round(db, &h, &linked, &busy) != EV_OK) {
            ev_log("audit chain: a round failed (%s); reconnecting", db_errmsg(db));
            db_close(db); /* gives up the lock: this or another server takes it again */
            db = NULL;
            leader = 0;
            stop = chainer_wait(200);
            continue;
        }
        if (linked)
            audit_head_write(db, 0);
        stop = chainer_wait(busy ? 2 : 20);
    }
    if (db && leader) {
        /* A clean stop: link what has committed before letting go. */
        audit_chain_sync(db, 5000);
        db_unlock_session(db, AUDIT_CHAINER_LOCK);
    }
    horizon_clear(&h);
    db_close(db);
    return NULL;
}

int audit_chainer_start(const char *target)
{
    if (!db_target_is_pg(target) || chainer.started)
        return EV_OK;
    chainer.target = xstrdup(target);
    chainer.stop = 0;
    if (pthread_create(&chainer.thread, NULL, chainer_main, NULL) != 0) {
        free(chainer.target);
        chainer.target = NULL;
        return EV_ERR;
    }
    chainer.started = 1;
    return EV_OK;
}

void audit_chainer_stop(void)
{
    if (!chainer.started)
        return;
    pthread_mutex_lock(&chainer.mu);
    chainer.stop = 1;
    pthread_cond_signal(&chainer.cv);
    pthread_mutex_unlock(&chainer.mu);
    pthread_join(chainer.thread, NULL);
    chainer.started = 0;
    free(chainer.target);
    chainer.target = NULL;
}

int audit_chain_sync(db_t *db, int timeout_ms)
{
    if (!db_is_pg(db))
        return EV_OK;
    if (db_in_transaction(db))
        return EV_ERR; /* its own transaction would hold the horizon back */
    int64_t upto = db_int(db, "SELECT COALESCE(MAX(id), 0) FROM audit_events", -1, "");
    uint64_t deadline = util_now_us() + (uint64_t)timeout_ms * 1000;
    horizon_t h = {0};
    int rc = EV_ERR;
    for (;;) {
        int64_t left = unlinked_upto(db, upto);
        if (left == 0) {
            rc = EV_OK;
            break;
        }
        if (left < 0 || util_now_us() >= deadline)
            break;
        int got = db_try_lock_session(db, AUDIT_CHAINER_LOCK);
        if (got < 0)
            break;
        if (got == 1) {
            /* No server is linking (or it is this caller's own chainer thread at a stop):
             * link them here, then let go. */
            int64_t linked;
            int busy = 1, ok = EV_OK;
            while ((ok = chain_round(db, &h, &linked, &busy)) == EV_OK && (left = unlinked_upto(db, upto)) > 0 &&
                   util_now_us() < deadline)
                if (!linked)
                    usleep(1000); /* waiting on a transaction (busy), or on nothing linkable */
            db_unlock_session(db, AUDIT_CHAINER_LOCK);
            if (ok == EV_OK && left == 0) {
                rc = EV_OK;
                audit_head_write(db, 0);
            }
            break;
        }
        if (chainer.started)
            chainer_nudge();
        usleep(2000);
    }
    horizon_clear(&h);
    return rc;
}

/* at (ISO 8601 UTC) is more than seconds ago. */
static int older_than(const char *at, int seconds)
{
    char limit[21];
    util_iso_time((time_t)(util_now_s() - seconds), limit);
    return strcmp(at, limit) < 0;
}

int audit_verify(db_t *db, int64_t *count, int64_t *bad_id, char *reason, size_t reasonlen)
{
    /* PostgreSQL: let the chainer link what has committed (or link it here when no
     * server does); what is still unlinked after the wait is judged below. */
    audit_chain_sync(db, chain_wait_ms);
    db_stmt_t *st = db_query(db, "SELECT id, at, actor_id, action, entity, entity_id, learner_id,"
                                 " before, after, prev_hash, hash FROM audit_events ORDER BY id", "");
    char prev[65] = GENESIS_HASH;
    int result = EV_OK;
    int64_t first_unlinked = 0;
    *count = 0;
    *bad_id = 0;
    if (!st) {
        snprintf(reason, reasonlen, "cannot read the audit_events table");
        return EV_ERR;
    }
    int rc;
    while ((rc = db_next(st)) == 1) {
        int64_t id = db_col_int(st, 0);
#define COL_TEXT(i) db_col_text(st, (i))
        if (db_col_is_null(st, 10)) {
            /* Not linked yet (PostgreSQL): only the newest events may wait, and not for long. */
            if (!first_unlinked)
                first_unlinked = id;
            if (older_than(COL_TEXT(1) ? COL_TEXT(1) : "", chain_grace_s)) {
                *bad_id = id;
                snprintf(reason, reasonlen,
                         "event %lld (written at %s) is still not in the chain after %d seconds: no server is "
                         "linking events, or a transaction has been open since then",
                         (long long)id, COL_TEXT(1) ? COL_TEXT(1) : "", chain_grace_s);
                result = EV_ERR;
                break;
            }
            continue;
        }
        if (first_unlinked) {
            *bad_id = first_unlinked;
            snprintf(reason, reasonlen, "event %lld is not in the chain but event %lld after it is (inserted behind "
                     "the program's back, or unlinked)", (long long)first_unlinked, (long long)id);
            result = EV_ERR;
            break;
        }
        char *content = canonical(id, COL_TEXT(1) ? COL_TEXT(1) : "", db_col_int(st, 2),
                                  COL_TEXT(3) ? COL_TEXT(3) : "", COL_TEXT(4) ? COL_TEXT(4) : "",
                                  db_col_int(st, 5), db_col_int(st, 6), COL_TEXT(7),
                                  COL_TEXT(8));
        const char *stored_prev = COL_TEXT(9) ? COL_TEXT(9) : "";
        const char *stored_hash = COL_TEXT(10) ? COL_TEXT(10) : "";
#undef COL_TEXT
        char hash[65];
        chain_hash(prev, content ? content : "", hash);
        free(content);
        if (strcmp(stored_prev, prev) != 0) {
            *bad_id = id;
            snprintf(reason, reasonlen, "event %lld does not link to the event before it (prev_hash differs)",
                     (long long)id);
            result = EV_ERR;
            break;
        }
        if (strcmp(stored_hash, hash) != 0) {
            *bad_id = id;
            snprintf(reason, reasonlen, "event %lld was altered: its content no longer matches its hash",
                     (long long)id);
            result = EV_ERR;
            break;
        }
        snprintf(prev, sizeof prev, "%s", stored_hash);
        (*count)++;
    }
    if (result == EV_OK && rc != 0) {
        snprintf(reason, reasonlen, "cannot read the audit trail: %s", db_errmsg(db));
        result = EV_ERR;
    }
    db_stmt_done(st);
    return result;
}

int64_t audit_unlinked(db_t *db)
{
    return db_int(db, "SELECT count(*) FROM audit_events WHERE hash IS NULL", -1, "");
}

/* ---- completeness: the head log, and current state against the chain ---- */

static pthread_mutex_t head_mu = PTHREAD_MUTEX_INITIALIZER;
static char *head_path;          /* the head log (owned; NULL: none) */
static int64_t head_every = 100; /* events between head records */
static int64_t head_written;     /* the last sequence number written */

void audit_head_configure(const char *path, int64_t every)
{
    pthread_mutex_lock(&head_mu);
    free(head_path);
    head_path = path && *path ? xstrdup(path) : NULL;
    head_every = every > 0 ? every : 100;
    head_written = 0;
    atomic_store(&head_pending, 0);
    pthread_mutex_unlock(&head_mu);
}

const char *audit_head_path(void)
{
    return head_path;
}

json_t *audit_head(db_t *db)
{
    json_t *h = db_one(db, "SELECT id AS seq, hash, at FROM audit_events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1", "");
    return h ? h : json_pack("{s:i, s:s, s:n}", "seq", 0, "hash", GENESIS_HASH, "at");
}

int audit_head_write(db_t *db, int force)
{
    int rc = EV_OK;
    if (!force && atomic_load(&head_pending) < head_every)
        return EV_OK;
    pthread_mutex_lock(&head_mu);
    json_t *h = head_path ? audit_head(db) : NULL;
    int64_t seq = h ? json_integer_value(json_object_get(h, "seq")) : 0;
    if (h && seq > head_written) {
        char now[21], line[160];
        util_now_iso(now);
        int n = snprintf(line, sizeof line, "%lld %s %s\n", (long long)seq,
                         json_string_value(json_object_get(h, "hash")), now);
        int fd = open(head_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
            ev_log("audit head log %s: %s", head_path, strerror(errno));
            rc = EV_ERR;
        } else {
            head_written = seq;
            atomic_store(&head_pending, 0);
        }
        if (fd >= 0)
            close(fd);
    }
    json_decref(h);
    pthread_mutex_unlock(&head_mu);
    return rc;
}

int audit_head_check(db_t *db, const char *path, json_t **last, char *reason, size_t reasonlen)
{
    size_t len = 0;
    char *text = util_read_file(path, &len);
    int rc = EV_OK;
    *last = NULL;
    if (!text)
        return 1; /* no head log: nothing to compare */
    int64_t max_id = db_int(db, "SELECT COALESCE(MAX(id), 0) FROM audit_events WHERE hash IS NOT NULL", 0, "");
    char *save = NULL;
    long long top = 0;
    char top_at[32] = "";
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long long seq = 0;
        char hash[65] = "", at[32] = "";
        if (sscanf(line, "%lld %64s %31s", &seq, hash, at) < 2 || seq <= 0)
            continue;
        json_decref(*last);
        *last = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)seq, "hash", hash, "at", at);
        if (seq > top) {
            top = seq;
            snprintf(top_at, sizeof top_at, "%s", at);
        }
        if (seq > max_id || rc != EV_OK)
            continue;
        char *stored = db_text(db, "SELECT hash FROM audit_events WHERE id = ?", "i", (int64_t)seq);
        int same = stored && strcmp(stored, hash) == 0;
        free(stored);
        if (!same) {
            snprintf(reason, reasonlen, "event %lld does not match the head log recorded at %s (replaced events)",
                     seq, at);
            rc = EV_ERR;
        }
    }
    /* Events removed from the end (or all of them): the trail stops short of a recorded head. */
    if (top > max_id) {
        snprintf(reason, reasonlen,
                 "events were removed from the end of the trail: the head log recorded event %lld (at %s) "
                 "but the trail ends at event %lld",
                 top, top_at, (long long)max_id);
        rc = EV_ERR;
    }
    free(text);
    return rc;
}

/* 1 when the event's recorded field (if it recorded it) matches the row's. */
static int same_field(json_t *after, json_t *row, const char *ekey, const char *rkey)
{
    json_t *e = json_object_get(after, ekey), *v = json_object_get(row, rkey);
    if (!e || json_is_null(e))
        return 1;
    if (json_is_integer(e) && json_is_integer(v))
        return json_integer_value(e) == json_integer_value(v);
    if (json_is_string(e) && json_is_string(v))
        return strcmp(json_string_value(e), json_string_value(v)) == 0;
    if (json_is_boolean(e))
        return json_is_true(e) == (json_integer_value(v) != 0);
    return json_equal(e, v);
}

/* Every row of one table against the event that recorded it (sql gives the row's fields
 * and the event as after_json plus event_id, actor_id, event_learner_id). fields: pairs of
 * event key / row key, NULL-ended. */
static int state_table(db_t *db, const char *what, const char *sql, const char *const *fields, const char *actor_key,
                       char *reason, size_t reasonlen)
{
    json_t *rows = db_all(db, sql, "");
    size_t i;
    json_t *row;
    int rc = EV_OK;
    if (!rows) {
        snprintf(reason, reasonlen, "cannot read the %s", what);
        return EV_ERR;
    }
    json_array_foreach(rows, i, row)
    {
        long long id = (long long)json_integer_value(json_object_get(row, "id"));
        if (json_is_null(json_object_get(row, "event_id")) || !json_object_get(row, "event_id")) {
            snprintf(reason, reasonlen, "%s %lld has no audit event: it was written behind the program's back", what,
                     id);
            rc = EV_ERR;
            break;
        }
        json_t *after = json_object_get(row, "after");
        int ok = 1;
        const char *bad = "";
        for (size_t k = 0; fields[k]; k += 2)
            if (!same_field(after, row, fields[k], fields[k + 1])) {
                ok = 0;
                bad = fields[k + 1];
                break;
            }
        if (ok && actor_key && json_integer_value(json_object_get(row, "actor_id")) &&
            json_integer_value(json_object_get(row, "actor_id")) != json_integer_value(json_object_get(row, actor_key)))
            ok = 0, bad = actor_key;
        if (!ok) {
            snprintf(reason, reasonlen, "%s %lld disagrees with audit event %lld that recorded it (%s differs)", what, id,
                     (long long)json_integer_value(json_object_get(row, "event_id")), bad);
            rc = EV_ERR;
            break;
        }
    }
    json_decref(rows);
    return rc;
}

int audit_verify_state(db_t *db, char *reason, size_t reasonlen)
{
    static const char *const dec[] = {"outcome", "outcome", "criterion_id", "criterion_id", "feedback", "feedback",
                                      NULL};
    static const char *const so[] = {"unit_id", "unit_id", "assessor_signed_at", "assessor_signed_at", NULL};
    static const char *const cs[] = {"comment", "comment", "signed_at", "signed_at", NULL};
    static const char *const smp[] = {"outcome", "outcome", "feedback", "feedback", "decision_id", "decision_id", NULL};
    static const char *const cso[] = {"learner_signed_at", "learner_signed_at", NULL};
    if (state_table(db, "decision",
                    "SELECT d.id, d.outcome, d.criterion_id, d.feedback, d.assessor_id, a.id AS event_id, a.actor_id,"
                    " a.after AS after_json FROM decisions d LEFT JOIN audit_events a ON a.id = (SELECT MIN(x.id)"
                    " FROM audit_events x WHERE x.action = 'decision.create' AND x.entity_id = d.id) ORDER BY d.id",
                    dec, "assessor_id", reason, reasonlen) != EV_OK ||
        state_table(db, "unit sign-off",
                    "SELECT s.id, s.unit_id, s.assessor_signed_at, s.assessor_id, a.id AS event_id, a.actor_id,"
                    " a.after AS after_json FROM unit_signoffs s LEFT JOIN audit_events a ON a.id = (SELECT MAX(x.id)"
                    " FROM audit_events x WHERE x.action = 'unit.signoff' AND x.entity_id = s.id) ORDER BY s.id",
                    so, "assessor_id", reason, reasonlen) != EV_OK ||
        state_table(db, "unit countersignature",
                    "SELECT s.id, s.learner_signed_at, s.learner_id, a.id AS event_id, a.actor_id, a.after AS after_json"
                    " FROM unit_signoffs s LEFT JOIN audit_events a ON a.id = (SELECT MAX(x.id) FROM audit_events x"
                    " WHERE x.action = 'unit.countersign' AND x.entity_id = s.id) WHERE s.learner_signed_at IS NOT NULL"
                    " ORDER BY s.id",
                    cso, "learner_id", reason, reasonlen) != EV_OK ||
        state_table(db, "countersignature of decision",
                    "SELECT c.decision_id AS id, c.comment, c.signed_at, c.learner_id, a.id AS event_id, a.actor_id,"
                    " a.after AS after_json FROM countersigns c LEFT JOIN audit_events a ON a.id = (SELECT MIN(x.id)"
                    " FROM audit_events x WHERE x.action = 'decision.countersign' AND x.entity_id = c.decision_id)"
                    " ORDER BY c.decision_id",
                    cs, "learner_id", reason, reasonlen) != EV_OK ||
        state_table(db, "IQA sample",
                    "SELECT s.id, s.outcome, s.feedback, s.decision_id, s.iqa_id, a.id AS event_id, a.actor_id,"
                    " a.after AS after_json FROM iqa_samples s LEFT JOIN audit_events a ON a.id = (SELECT MIN(x.id)"
                    " FROM audit_events x WHERE x.action = 'iqa.sample' AND x.entity_id = s.id) ORDER BY s.id",
                    smp, "iqa_id", reason, reasonlen) != EV_OK)
        return EV_ERR;
    return EV_OK;
}

int audit_event_hash_ok(const json_t *e)
{
    json_t *b = json_object_get(e, "before_text"), *a = json_object_get(e, "after_text");
    const char *prev = json_string_value(json_object_get(e, "prev_hash"));
    const char *hash = json_string_value(json_object_get(e, "hash"));
    if (!prev || !hash)
        return 0;
    char *content = canonical(json_integer_value(json_object_get(e, "id")),
                              json_string_value(json_object_get(e, "at")) ? json_string_value(json_object_get(e, "at")) : "",
                              json_integer_value(json_object_get(e, "actor_id")),
                              json_string_value(json_object_get(e, "action")) ? json_string_value(json_object_get(e, "action")) : "",
                              json_string_value(json_object_get(e, "entity")) ? json_string_value(json_object_get(e, "entity")) : "",
                              json_integer_value(json_object_get(e, "entity_id")),
                              json_integer_value(json_object_get(e, "learner_id")), json_string_value(b),
                              json_string_value(a));
    char h[65];
    chain_hash(prev, content ? content : "", h);
    free(content);
    return strcmp(h, hash) == 0;
}
