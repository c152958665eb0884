/* session.h: sign-in sessions (cookie or bearer token) and CSRF tokens */
#ifndef EVITRACK_SESSION_H
#define EVITRACK_SESSION_H

#include "http.h"

#define SESSION_COOKIE "evitrack_session"

/* Lifetimes: a session ends after SESSION_IDLE seconds without a request
 * (last_seen, written at most every SESSION_TOUCH seconds: a write per request
 * per session would be most of the database traffic) or SESSION_MAX seconds after
 * sign-in (expires_at), whichever comes first. */
#define SESSION_IDLE (2 * 3600)
#define SESSION_MAX (12 * 3600)
#define SESSION_TOUCH 300

/* Loads the signed-in user from the session cookie or an
 * "Authorization: Bearer <token>" header into r->user (id 0 when none or
 * expired) and sets r->by_cookie. Touches last_seen. EV_OK unless the
 * database fails. Called by http.c for every routed request. */
int session_load(req_t *r);
/* 1 when the request carries the session's CSRF token (header X-CSRF-Token
 * or form/JSON field csrf_token), compared in constant time. */
int session_csrf_ok(req_t *r);
/* Empties every worker's session cache (http.c calls it after each
 * state-changing request, before the response goes out). */
void session_cache_invalidate(void);

/* Starts a new session for u (a fresh 256-bit token: rotation at every
 * sign-in), ending the one the request came with, if any. Writes the
 * 'session.login' audit event in the same transaction. Fills r->user from u
 * with the new CSRF token and session hash, and sets r->set_cookie unless
 * token_out is given (scripts: the token is handed back instead, 65 bytes).
 * EV_OK or EV_ERR. */
int session_start(req_t *r, const user_t *u, char *token_out);
/* Ends the request's session (deletes its row, 'session.logout' audit event)
 * and clears the cookie. EV_OK or EV_ERR. */
int session_end(req_t *r);
/* Deletes every session of user_id except the one whose hash is keep_hash
 * (may be NULL). Call inside the caller's transaction. EV_OK or EV_ERR. */
int session_end_user(db_t *db, int64_t user_id, const char *keep_hash);
/* hex SHA-256 of a token into out (65 bytes). */
void session_hash_token(const char *token, char out[65]);
/* The Set-Cookie value for token (NULL token: a cookie that clears it).
 * Caller frees. */
char *session_cookie(const app_t *app, const char *token);

#endif
