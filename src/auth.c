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
    return NULL;
}

/* Seconds until the key may try again: the moment the max-th most recent
 * failure inside the window ages out, or 0 when fewer than max are in it. */
static int64_t throttle_one(db_t *db, const char *sql, const char *key, int64_t now, int max)
{
    int64_t at = db_int(db, sql, -1, "tiI", key, now - AUTH_WINDOW, max - 1);
    if (at < 0)
        return 0;
    int64_t wait = at + AUTH_WINDOW - now;
    return wait > 0 ? wait : 1;
}

int64_t auth_throttle_wait(db_t *db, const char *email, const char *addr, int64_t now)
{
    int64_t a = throttle_one(db,
        "SELECT at FROM login_failures WHERE lower(email) = lower(?) AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
        email, now, AUTH_MAX_PER_ACCOUNT);
    int64_t b = throttle_one(db,
        "SELECT at FROM login_failures WHERE addr = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
        addr, now, AUTH_MAX_PER_ADDR);
    return a > b ? a : b;
}

/* Records one failed sign-in (and its audit event) in one transaction,
 * pruning this account's and address's failures older than the window. */
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
    db_run(db, "DELETE FROM login_failures WHERE lower(email) = lower(?)", "t", email);
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
