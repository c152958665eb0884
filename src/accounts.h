/* accounts.h: self-service accounts: forgotten-password links, invitations, one-time tokens, password-change emails */
#ifndef EVITRACK_ACCOUNTS_H
#define EVITRACK_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* "Forgotten your password?" (/password-reset) and choosing a password with a
 * one-time link (/set-password?token=), pages and API. */
extern const route_t accounts_routes[];

/* Emails account user_id an invitation to choose its password: a one-time
 * link valid for 7 days (only its SHA-256 is stored), queued through the
 * outbox. inviter: the admin's name (NULL: "Your centre"); role_label may be
 * NULL. Inside the caller's transaction. EV_OK or EV_ERR. */
int accounts_invite(db_t *db, int64_t user_id, const char *inviter, const char *role_label);

/* Emails (and shows in-app) that the account's password was changed (reset: 1
 * when set by a link or an admin rather than by the user). Security email:
 * always sent at once. Inside the caller's transaction. EV_OK or EV_ERR. */
int accounts_password_changed(db_t *db, int64_t user_id, int reset);

/* Unix time t as UK local time ("29 November 2026 at 17:49 GMT"; BST in summer,
 * per The Summer Time Order 2002) into out. */
void accounts_uk_time(int64_t t, char *out, size_t outlen);

/* The same for an ISO 8601 UTC timestamp ("2026-11-29T17:49:00Z"); the input
 * copied unchanged when it does not parse. */
void accounts_uk_time_iso(const char *iso, char *out, size_t outlen);

#endif
