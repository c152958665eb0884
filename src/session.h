/* session.h: sign-in sessions (cookie or bearer token) and CSRF tokens */
#ifndef EVITRACK_SESSION_H
#define EVITRACK_SESSION_H

#include "http.h"

#define SESSION_COOKIE "evitrack_session"

/* Loads the signed-in user from the session cookie or an
 * "Authorization: Bearer <token>" header into r->user (id 0 when none or
 * expired) and sets r->by_cookie. Touches last_seen. EV_OK unless the
 * database fails. Called by http.c for every routed request. */
int session_load(req_t *r);
/* 1 when the request carries the session's CSRF token (header X-CSRF-Token
 * or form/JSON field csrf_token), compared in constant time. */
int session_csrf_ok(req_t *r);

#endif
