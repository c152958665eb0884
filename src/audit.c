/* audit.c: the append-only, hash-chained audit trail */
#include "audit.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int audit_record(db_t *db, int64_t actor_id, const char *action, const char *entity, int64_t entity_id,
                 int64_t learner_id, json_t *before, json_t *after)
{
    int result = EV_ERR;
    char *before_s = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    char *after_s = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    char *content = NULL;
    char *prev = db_text(db, "SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1", "");
    int64_t id = db_int(db, "SELECT coalesce(max(id), 0) + 1 FROM audit_events", 1, "");
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
out:
    free(before_s);
    free(after_s);
    free(content);
    free(prev);
    return result;
}

int audit_verify(db_t *db, int64_t *count, int64_t *bad_id, char *reason, size_t reasonlen)
{
    db_stmt_t *st = db_query(db, "SELECT id, at, actor_id, action, entity, entity_id, learner_id,"
                                 " before, after, prev_hash, hash FROM audit_events ORDER BY id", "");
    char prev[65] = GENESIS_HASH;
    int result = EV_OK;
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
