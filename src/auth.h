/* auth.h: password hashing (Argon2id), sign-in by email and password, and login throttling */
#ifndef EVITRACK_AUTH_H
#define EVITRACK_AUTH_H

#include <sodium.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* Argon2id parameters (libsodium crypto_pwhash_str, ALG_ARGON2ID13):
 *   opslimit 2 passes, memlimit 64 MiB (libsodium's "interactive" level),
 *   parallelism 1 — about 50-75 ms per hash on the 2-core test machines.
 * EVITRACK_PWHASH_FAST=1 in the environment selects 1 pass over 8 MiB, for
 * tests only. The parameters travel inside each stored hash string, so a hash
 * made under one setting still verifies under another (and is re-hashed at the
 * next successful sign-in when it is weaker than the current setting). */
#define AUTH_OPSLIMIT 2ULL
#define AUTH_MEMLIMIT (64u << 20)
#define AUTH_FAST_OPSLIMIT 1ULL
#define AUTH_FAST_MEMLIMIT (8u << 20)

#define AUTH_HASH_MAX crypto_pwhash_STRBYTES /* 128, with the NUL */
#define AUTH_MIN_PASSWORD 10  /* characters, for new passwords */
#define AUTH_MAX_PASSWORD 1024

/* Throttling over login_failures (those of the last AUTH_WINDOW seconds), with
 * growing delays rather than a lock-out: after the free failures of a scope,
 * the next attempt in that scope waits 2, 4, 8 ... seconds (at most
 * AUTH_MAX_DELAY) from its latest failure; 429 with Retry-After meanwhile.
 * Scopes: one account from one address (AUTH_FREE_PAIR); one address across
 * accounts, against password spraying (AUTH_FREE_ADDR); one account across
 * addresses, against a guessing botnet (AUTH_FREE_ACCOUNT). The last two do not
 * apply to an address the account has signed in from before (login_known), so
 * nobody can lock the owner out from elsewhere, nor a college's NAT out of
 * accounts used there. A successful sign-in clears its own pair's failures.
 * (OWASP Authentication Cheat Sheet: account lockout vs. throttling.) */
#define AUTH_WINDOW 900
#define AUTH_FREE_PAIR 3
#define AUTH_FREE_ACCOUNT 5
#define AUTH_FREE_ADDR 20
#define AUTH_MAX_DELAY 900

/* Initialises libsodium (idempotent). EV_OK or EV_ERR. */
int auth_init(void);

/* Hashes password into out (AUTH_HASH_MAX bytes) with the current
 * parameters. EV_OK or EV_ERR (out of memory). */
int auth_hash_password(const char *password, char out[AUTH_HASH_MAX]);
/* 1 when password matches the stored hash string, else 0. */
int auth_verify_password(const char *hash, const char *password);
/* 1 when a stored hash was made with weaker parameters than the current ones. */
int auth_needs_rehash(const char *hash);

/* Checks a proposed new password; NULL when acceptable, else a message for the user. */
const char *auth_password_problem(const char *password);

enum auth_result {
    AUTH_OK = 0,
    AUTH_BAD = 1,       /* unknown email, wrong password or disabled account: one answer */
    AUTH_THROTTLED = 2, /* too many failures: *retry_after seconds */
    AUTH_ERROR = 3,     /* the database failed */
};

/* Signs in: throttling first, then the password (an unknown email verifies
 * against a dummy hash so it costs the same time). On AUTH_OK fills *u
 * (id, role, email, name) and clears the account's failures; on AUTH_BAD
 * records a failure and a 'session.login_failed' audit event. addr is the
 * client address. */
enum auth_result auth_login(db_t *db, const char *email, const char *password,
                            const char *addr, user_t *u, int64_t *retry_after);

/* Seconds until addr/email may try again (0 = now), by the rules above. */
int64_t auth_throttle_wait(db_t *db, const char *email, const char *addr, int64_t now);
/* Records a failed password check (sign-in, or the current password when
 * changing it) with its audit event, in its own transaction. EV_OK or EV_ERR. */
int auth_record_failure(db_t *db, const char *email, const char *addr, int64_t user_id);

#endif
