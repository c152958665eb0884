/* users.h: accounts and enrolments: sign-in pages and API, admin management, CLI, demo accounts */
#ifndef EVITRACK_USERS_H
#define EVITRACK_USERS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* Sign-in/out, /api/v1/me, learners, admin users and enrolments, own password. */
extern const route_t users_routes[];

/* The role's home page: learner /portfolio, assessor /caseload, iqa /iqa,
 * admin /centre, eqa /learners. */
const char *users_role_home(unsigned role);

/* Creates an account (password hashed with Argon2id), writing the
 * 'user.create' audit event by actor_id inside the caller's transaction.
 * On failure returns an HTTP-like status (400 bad field, 409 email taken) with
 * the field name and a message for the user in err; 0 on success with *id set. */
int users_create(db_t *db, int64_t actor_id, const char *email, const char *name,
                 const char *role, const char *password, int64_t *id,
                 const char **field, char *err, size_t errlen);
/* Enrols a learner (ids) on a qualification with an assessor and optional IQA
 * (0 for none), dates YYYY-MM-DD (NULL: today, and a year on). Same return
 * convention as users_create; calls status_sync_learner. Inside the caller's
 * transaction. */
int users_enrol(db_t *db, int64_t actor_id, int64_t learner_id, int64_t qualification_id,
                int64_t assessor_id, int64_t iqa_id, const char *start, const char *end,
                int64_t *id, const char **field, char *err, size_t errlen);

/* As users_create, for an account that chooses its own password through an
 * invitation link (accounts_invite): no password can sign in until then. */
int users_create_invited(db_t *db, int64_t actor_id, const char *email, const char *name, const char *role,
                         int64_t *id, const char **field, char *err, size_t errlen);

/* The client address for throttling into out: the peer, or behind the proxy
 * named by EVITRACK_TRUSTED_PROXY the last X-Forwarded-For entry. */
void users_client_addr(req_t *r, char *out, size_t outlen);

/* The label of a role name ("iqa" -> "Internal quality assurer (IQA)"). */
const char *users_role_label(const char *role);

/* Demo accounts (password DEMO_PASSWORD) and their enrolments on the demo
 * qualifications, the logins printed to stdout. Called by demo.c once the
 * qualifications are in. EV_OK or EV_ERR. */
int users_demo_seed(db_t *db);
/* How many users are learners, read from indexes only (every user less the others,
 * which are few: users_role ranges either side of 'learner'), so a centre of 100,000
 * learners is counted without walking them (issue 22). 0 on a database error. */
int64_t users_count_learners(db_t *db);

/* Commands: argv starts after the command name. Return the exit code.
 *   evitrack user add [--db FILE] --email E --name N --role R   (password on stdin)
 *   evitrack enrol [--db FILE] --learner EMAIL --qualification ID_OR_CODE
 *                  --assessor EMAIL [--iqa EMAIL] [--start DATE] [--end DATE]
 *   evitrack routes      (every route as JSON: method, pattern, roles, page, flags) */
int users_cmd_user(int argc, char **argv);
int users_cmd_enrol(int argc, char **argv);
int users_cmd_routes(int argc, char **argv);

#endif
