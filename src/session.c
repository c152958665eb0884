/* session.c: sign-in sessions (cookie or bearer token) and CSRF tokens */
#include "session.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "auth.h"

#define TOKEN_BYTES 32 /* 256 bits */
#define TOKEN_HEX (2 * TOKEN_BYTES)

/* 1 when s is exactly TOKEN_HEX lower-case hex digits. */
static int token_well_formed(const char *s)
{
    if (!s)
        return 0;
    size_t i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (i >= TOKEN_HEX || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return i == TOKEN_HEX;
}

static void new_token(char out[TOKEN_HEX + 1])
{
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    util_hex(raw, sizeof raw, out);
    sodium_memzero(raw, sizeof raw);
}

void session_hash_token(const char *token, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    util_hex(h, sizeof h, out);
}

char *session_cookie(const app_t *app, const char *token)
{
    int secure = app && (app->secure_cookies || app->tls);
    if (token)
        return fmtalloc("%s=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%d%s",
                        SESSION_COOKIE, token, SESSION_MAX, secure ? "; Secure" : "");
    return fmtalloc("%s=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0%s",
                    SESSION_COOKIE, secure ? "; Secure" : "");
}

/* The token the request presents: a bearer token (scripts) wins over the
 * cookie. *by_cookie says which. NULL when neither is well formed. */
static const char *request_token(req_t *r, int *by_cookie)
{
    *by_cookie = 0;
    const char *auth = http_header(r, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        return token_well_formed(t) ? t : NULL;
    }
    const char *c = http_cookie(r, SESSION_COOKIE);
    if (token_well_formed(c)) {
        *by_cookie = 1;
        return c;
    }
    return NULL;
}

/* ---- the session cache ----
 * Looking a session up costs an SQLite read transaction (file locks, a join),
 * which is most of a small signed-in request. Each worker thread keeps the
 * sessions it saw in the last second. Any state-changing request anywhere in
 * the process (sign-out, password change, disabling a user, ...) bumps a
 * generation number that empties every cache before its response is sent, and
 * entries live at most SESSION_CACHE_SECONDS, which bounds how long a change
 * made by another process (the command line) can go unseen. */
#define SESSION_CACHE_SLOTS 64
#define SESSION_CACHE_SECONDS 1

typedef struct session_cache_entry {
    char hash[65];
    user_t user;       /* with csrf_token and session_hash */
    int64_t last_seen;
    int64_t expires_at;
    int64_t cached_at;
    uint64_t generation;
} session_cache_entry_t;

static atomic_uint_fast64_t session_generation = 1;
static _Thread_local session_cache_entry_t session_cache[SESSION_CACHE_SLOTS];

void session_cache_invalidate(void)
{
    atomic_fetch_add(&session_generation, 1);
}

static session_cache_entry_t *cache_slot(const char *hash)
{
    /* the hash is uniformly distributed: its first hex digits pick the slot */
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &session_cache[v % SESSION_CACHE_SLOTS];
}

int session_load(req_t *r)
{
    int by_cookie = 0;
    memset(&r->user, 0, sizeof r->user);
    r->by_cookie = 0;

    const char *token = request_token(r, &by_cookie);
    if (!token)
        return EV_OK;
    char hash[65];
    session_hash_token(token, hash);
    int64_t now_s = util_now_s();
    uint64_t generation = atomic_load(&session_generation);
    /* On PostgreSQL several servers share the sessions: another one may end a
     * session at any moment, so nothing is cached (one indexed read instead). */
    int cache = !db_is_pg(r->db);
    session_cache_entry_t *hit = cache_slot(hash);
    if (cache && hit->generation == generation && now_s - hit->cached_at < SESSION_CACHE_SECONDS &&
        now_s >= hit->cached_at && strcmp(hit->hash, hash) == 0 && now_s < hit->expires_at &&
        now_s - hit->last_seen < SESSION_TOUCH) {
        r->user = hit->user;
        r->by_cookie = by_cookie;
        return EV_OK;
    }
    /* Read straight from the cached statement: this runs on every request,
     * so no JSON objects are built for it. */
    db_stmt_t *st = db_query(r->db,
        "SELECT s.user_id, s.csrf_token, s.last_seen, s.expires_at, u.role, u.email, u.name,"
        " EXISTS (SELECT 1 FROM apprenticeships a WHERE a.learner_id = u.id)"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND u.disabled = 0", "t", hash);
    if (!st)
        return EV_ERR;
    int rc = db_next(st);
    if (rc != 1) {
        db_stmt_done(st);
        return rc == 0 ? EV_OK : EV_ERR;
    }
    user_t *u = &r->user;
    int64_t now = util_now_s();
    int64_t last = db_col_int(st, 2);
    int64_t expires = db_col_int(st, 3);
    u->id = db_col_int(st, 0);
    u->role = role_from_name(db_col_text(st, 4));
    snprintf(u->csrf_token, sizeof u->csrf_token, "%s", db_col_text(st, 1));
    snprintf(u->email, sizeof u->email, "%s", db_col_text(st, 5));
    snprintf(u->name, sizeof u->name, "%s", db_col_text(st, 6));
    u->is_apprentice = db_col_int(st, 7) != 0;
    db_stmt_done(st);
    if (now >= expires || now - last >= SESSION_IDLE) {
        memset(&r->user, 0, sizeof r->user);
        db_run(r->db, "DELETE FROM sessions WHERE token_hash = ?", "t", hash);
        return EV_OK;
    }
    memcpy(u->session_hash, hash, sizeof hash);
    r->by_cookie = by_cookie;
    if (cache && now - last < SESSION_TOUCH) { /* a session due a touch is never cached */
        session_cache_entry_t *slot = cache_slot(hash);
        memcpy(slot->hash, hash, sizeof hash);
        slot->user = *u;
        slot->last_seen = last;
        slot->expires_at = expires;
        slot->cached_at = now;
        slot->generation = generation;
    }
    /* Best effort: a busy database delays the idle clock by a minute at most,
     * which is no reason to refuse the request. */
    if (now - last >= SESSION_TOUCH)
        db_run(r->db, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", "it", now, hash);
    return EV_OK;
}

int session_csrf_ok(req_t *r)
{
    if (!r->user.id || strlen(r->user.csrf_token) != TOKEN_HEX)
        return 0;
    const char *given = http_header(r, "X-CSRF-Token");
    if (!given || !*given)
        given = in_str(r, "csrf_token");
    if (!given || strlen(given) != TOKEN_HEX)
        return 0;
    return sodium_memcmp(given, r->user.csrf_token, TOKEN_HEX) == 0;
}

int session_end_user(db_t *db, int64_t user_id, const char *keep_hash)
{
    return db_run(db, "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", "it",
                  user_id, keep_hash ? keep_hash : "");
}

int session_start(req_t *r, const user_t *u, char *token_out)
{
    int rc = EV_ERR;
    char token[TOKEN_HEX + 1], csrf[TOKEN_HEX + 1], hash[65], old[65] = "";
    int64_t now = util_now_s();
    int by_cookie = 0;
    if (auth_init() != EV_OK)
        return EV_ERR;
    const char *prev = request_token(r, &by_cookie);
    if (prev)
        session_hash_token(prev, old);
    new_token(token);
    new_token(csrf);
    session_hash_token(token, hash);

    if (db_begin(r->db) != EV_OK)
        return EV_ERR;
    /* The old session ends (rotation), and so does every expired one, anyone's
     * (sign-ins are rare next to requests; the table stays small). */
    if (db_run(r->db, "DELETE FROM sessions WHERE token_hash = ?", "t", old) != EV_OK)
        goto fail;
    if (db_run(r->db, "DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?",
               "ii", now, now - SESSION_IDLE) != EV_OK)
        goto fail;
    if (db_run(r->db, "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen,"
               " expires_at) VALUES (?, ?, ?, ?, ?, ?)", "titiii",
               hash, u->id, csrf, now, now, now + SESSION_MAX) != EV_OK)
        goto fail;
    json_t *after = json_pack("{s:s}", "via", token_out ? "token" : "cookie");
    int arc = audit_record(r->db, u->id, "session.login", "user", u->id, 0, NULL, after);
    json_decref(after);
    if (arc != EV_OK || db_commit(r->db) != EV_OK)
        goto fail;

    r->user = *u;
    snprintf(r->user.csrf_token, sizeof r->user.csrf_token, "%s", csrf);
    memcpy(r->user.session_hash, hash, sizeof hash);
    if (token_out) {
        memcpy(token_out, token, sizeof token);
        r->by_cookie = 0;
    } else {
        free(r->set_cookie);
        r->set_cookie = session_cookie(r->app, token);
        r->by_cookie = 1;
    }
    rc = EV_OK;
    goto out;
fail:
    db_rollback(r->db);
out:
    sodium_memzero(token, sizeof token);
    return rc;
}

int session_end(req_t *r)
{
    int rc = EV_ERR;
    if (r->user.id && r->user.session_hash[0]) {
        if (db_begin(r->db) != EV_OK)
            return EV_ERR;
        if (db_run(r->db, "DELETE FROM sessions WHERE token_hash = ?", "t", r->user.session_hash) != EV_OK ||
            audit_record(r->db, r->user.id, "session.logout", "user", r->user.id, 0, NULL, NULL) != EV_OK ||
            db_commit(r->db) != EV_OK) {
            db_rollback(r->db);
            return EV_ERR;
        }
    }
    rc = EV_OK;
    if (r->by_cookie || http_cookie(r, SESSION_COOKIE)) {
        free(r->set_cookie);
        r->set_cookie = session_cookie(r->app, NULL);
    }
    /* Pages that carry an ETag (the matrix) are kept by the browser to be
     * revalidated (Cache-Control: private, no-cache): signing out drops them,
     * so the next person at a shared computer cannot page back to them. */
    if (!r->extra_header_name) {
        r->extra_header_name = xstrdup("Clear-Site-Data");
        r->extra_header_value = xstrdup("\"cache\"");
    }
    memset(&r->user, 0, sizeof r->user);
    r->by_cookie = 0;
    return rc;
}
