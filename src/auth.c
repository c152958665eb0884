/* auth.c: password hashing (Argon2id), sign-in by email and password, and login throttling */
#include "auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;
static int auth_ready = EV_ERR;
static unsigned long long auth_ops = AUTH_OPSLIMIT;
static size_t auth_mem = AUTH_MEMLIMIT;
/* A hash of a random password, verified against when the email is unknown so
 * that an unknown email costs the same time as a wrong password. */
static char auth_dummy[AUTH_HASH_MAX];

static void auth_setup(void)
{
    if (sodium_init() < 0)
        return;
    const char *fast = getenv("EVITRACK_PWHASH_FAST");
    if (fast && strcmp(fast, "1") == 0) {
        auth_ops = AUTH_FAST_OPSLIMIT;
        auth_mem = AUTH_FAST_MEMLIMIT;
    }
    unsigned char rnd[16];
    char pw[33];
    randombytes_buf(rnd, sizeof rnd);
    util_hex(rnd, sizeof rnd, pw);
    if (crypto_pwhash_str(auth_dummy, pw, strlen(pw), auth_ops, auth_mem) != 0)
        return;
    auth_ready = EV_OK;
}

int auth_init(void)
{
    pthread_once(&auth_once, auth_setup);
    return auth_ready;
}

int auth_hash_password(const char *password, char out[AUTH_HASH_MAX])
{
    if (auth_init() != EV_OK || !password)
        return EV_ERR;
    if (crypto_pwhash_str(out, password, strlen(password), auth_ops, auth_mem) != 0)
        return EV_ERR;
    return EV_OK;
}

int auth_verify_password(const char *hash, const char *password)
{
    if (auth_init() != EV_OK || !hash || !password)
        return 0;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

int auth_needs_rehash(const char *hash)
{
    if (auth_init() != EV_OK || !hash)
        return 0;
    /* 1: different parameters; -1: not an Argon2id string at all. Only
     * upgrade, never downgrade a strong hash to the fast test setting. */
    if (auth_ops < AUTH_OPSLIMIT || auth_mem < AUTH_MEMLIMIT)
        return 0;
    return crypto_pwhash_str_needs_rehash(hash, auth_ops, auth_mem) != 0;
}

const char *auth_password_problem(const char *password)
{
    if (!password || !*password)
        return "Enter a password";
    size_t n = strlen(password);
    /* count characters, not bytes, for the minimum */
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)password[i] & 0xC0) != 0x80)
            chars++;
    if (chars < AUTH_MIN_PASSWORD)
        return "Password must be at least 10 characters";
    if (n > AUTH_MAX_PASSWORD)
        return "Password must be at most 1024 characters";
    /* Spaces alone (or tabs, or line breaks) are no secret, however many. */
    size_t visible = 0;
    for (size_t i = 0; i < n; i++)
        visible += !strchr(" \t\r\n\v\f", password[i]);
    if (!visible)
        return "Password must contain characters other than spaces";
    return NULL;
}

/* The delay owed after n failures in a scope whose first `free` cost nothing:
 * 2^(n - free) seconds, at most AUTH_MAX_DELAY. */
static int64_t growing_delay(int64_t n, int free_failures)
{
    if (n <= free_failures)
        return 0;
    int64_t e = n - free_failures;
    return e >= 10 ? AUTH_MAX_DELAY : ((int64_t)1 << e) < AUTH_MAX_DELAY ? ((int64_t)1 << e) : AUTH_MAX_DELAY;
}

/* Seconds still to wait in one scope: its failure count and latest failure
 * in the window (a db_one row {n, last}) against its free allowance. */
static int64_t scope_wait(json_t *row, int free_failures, int64_t now)
{
    int64_t n = json_integer_value(json_object_get(row, "n"));
    int64_t last = json_integer_value(json_object_get(row, "last"));
    json_decref(row);
    int64_t wait = last + growing_delay(n, free_failures) - now;
    return n > free_failures && wait > 0 ? wait : 0;
}

/* 1 when the account of email has signed in from addr before. */
static int known_address(db_t *db, const char *email, const char *addr)
{
    return db_int(db, "SELECT 1 FROM login_known k JOIN users u ON u.id = k.user_id"
                      " WHERE lower(u.email) = lower(?) AND k.addr = ?", 0, "tt", email, addr) == 1;
}

/* auth_throttle_wait, also naming the scope that set the wait ("pair",
 * "address" or "account"; "" when none). */
static int64_t throttle_wait(db_t *db, const char *email, const char *addr, int64_t now, const char **scope)
{
    int64_t since = now - AUTH_WINDOW, wait, w;
    *scope = "";
    wait = scope_wait(db_one(db, "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures"
                                 " WHERE lower(email) = lower(?) AND addr = ? AND at > ?", "tti", email, addr, since),
                      AUTH_FREE_PAIR, now);
    if (wait)
        *scope = "pair";
    if (known_address(db, email, addr))
        return wait;
    w = scope_wait(db_one(db, "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE addr = ? AND at > ?",
                          "ti", addr, since), AUTH_FREE_ADDR, now);
    if (w > wait) {
        wait = w;
        *scope = "address";
    }
    w = scope_wait(db_one(db, "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures"
                              " WHERE lower(email) = lower(?) AND at > ?", "ti", email, since), AUTH_FREE_ACCOUNT, now);
    if (w > wait) {
        wait = w;
        *scope = "account";
    }
    return wait;
}

int64_t auth_throttle_wait(db_t *db, const char *email, const char *addr, int64_t now)
{
    const char *scope;
    return throttle_wait(db, email, addr, now, &scope);
}

/* Records one failed sign-in (and its audit event) in one transaction,
 * pruning this account's and address's failures older than the window. When
 * the failure starts a wait, a 'session.login_throttled' event says so (who,
 * from where, how long, which scope), so admins see throttling in the audit
 * log; attempts refused while waiting record nothing. */
static int record_failure(db_t *db, const char *email, const char *addr, int64_t user_id, int64_t now)
{
    if (db_begin(db) != EV_OK)
        return EV_ERR;
    json_t *after = json_pack("{s:s, s:s}", "email", email, "addr", addr);
    int rc = db_run(db, "DELETE FROM login_failures WHERE (lower(email) = lower(?) OR addr = ?) AND at <= ?",
                    "tti", email, addr, now - AUTH_WINDOW);
    if (rc == EV_OK)
        rc = db_run(db, "INSERT INTO login_failures (email, addr, at) VALUES (?, ?, ?)",
                    "tti", email, addr, now);
    if (rc == EV_OK)
        rc = audit_record(db, user_id, "session.login_failed", "user", user_id, 0, NULL, after);
    json_decref(after);
    const char *scope;
    int64_t wait = rc == EV_OK ? throttle_wait(db, email, addr, now, &scope) : 0;
    if (wait > 0) {
        json_t *t = json_pack("{s:s, s:s, s:I, s:s}", "email", email, "addr", addr, "wait_seconds",
                              (json_int_t)wait, "scope", scope);
        rc = audit_record(db, user_id, "session.login_throttled", "user", user_id, 0, NULL, t);
        json_decref(t);
    }
    if (rc == EV_OK)
        rc = db_commit(db);
    else
        db_rollback(db);
    return rc;
}

enum auth_result auth_login(db_t *db, const char *email, const char *password,
                            const char *addr, user_t *u, int64_t *retry_after)
{
    enum auth_result res = AUTH_ERROR;
    json_t *row = NULL;
    int64_t now = util_now_s();
    *retry_after = 0;
    memset(u, 0, sizeof *u);
    if (auth_init() != EV_OK)
        goto out;
    if (!email)
        email = "";
    if (!password)
        password = "";
    if (strlen(email) > 254)
        email = "";  /* never a valid address; still costs a verify below */

    int64_t wait = auth_throttle_wait(db, email, addr, now);
    if (wait > 0) {
        *retry_after = wait;
        res = AUTH_THROTTLED;
        goto out;
    }

    row = *email ? db_one(db, "SELECT id, role, email, name, password_hash, disabled "
                              "FROM users WHERE lower(email) = lower(?)", "t", email) : NULL;
    const char *hash = row ? json_string_value(json_object_get(row, "password_hash")) : NULL;
    int ok = auth_verify_password(hash ? hash : auth_dummy, password);
    if (!row || !hash || !ok || json_integer_value(json_object_get(row, "disabled")) != 0) {
        int64_t uid = row ? json_integer_value(json_object_get(row, "id")) : 0;
        if (record_failure(db, email, addr, uid, now) != EV_OK)
            goto out;
        res = AUTH_BAD;
        goto out;
    }

    u->id = json_integer_value(json_object_get(row, "id"));
    u->role = role_from_name(json_string_value(json_object_get(row, "role")));
    snprintf(u->email, sizeof u->email, "%s", json_string_value(json_object_get(row, "email")));
    snprintf(u->name, sizeof u->name, "%s", json_string_value(json_object_get(row, "name")));
    /* Only this address's failures for the account are forgiven: another
     * address's count (an attacker's) stays. The address becomes known. */
    db_run(db, "DELETE FROM login_failures WHERE lower(email) = lower(?) AND addr = ?", "tt", email, addr);
    db_run(db, "INSERT INTO login_known (user_id, addr, last_ok) VALUES (?, ?, ?)"
               " ON CONFLICT (user_id, addr) DO UPDATE SET last_ok = excluded.last_ok", "iti", u->id, addr, now);
    if (auth_needs_rehash(hash)) {
        char fresh[AUTH_HASH_MAX];
        if (auth_hash_password(password, fresh) == EV_OK)
            db_run(db, "UPDATE users SET password_hash = ? WHERE id = ?", "ti", fresh, u->id);
        sodium_memzero(fresh, sizeof fresh);
    }
    res = AUTH_OK;
out:
    json_decref(row);
    return res;
}

int auth_record_failure(db_t *db, const char *email, const char *addr, int64_t user_id)
{
    return record_failure(db, email ? email : "", addr ? addr : "", user_id, util_now_s());
}
