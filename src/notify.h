/* notify.h: notifications: queued in the caller's transaction, shown in-app, emailed through the outbox */
#ifndef EVITRACK_NOTIFY_H
#define EVITRACK_NOTIFY_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* In-app list, mark read, preferences, the admin outbox page. */
extern const route_t notify_routes[];

/* Process-wide settings, set once before any thread queues or sends (serve,
 * import-learners); read-only afterwards. base_url: the absolute address links
 * in emails start with, no trailing slash ("https://evitrack.example.ac.uk").
 * templates_dir: the directory holding email/ (NULL: the source tree's). */
void notify_configure(const char *base_url, const char *templates_dir);
const char *notify_base_url(void);
/* Whether a sender delivers the outbox (serve --smtp-url): the admin page says so. */
void notify_set_smtp(int on);

/*
 * Queues a notification of `kind` for account user_id INSIDE THE CALLER'S OPEN
 * TRANSACTION, so it commits or rolls back with the change that caused it:
 *   - an in-app notification (the unread count and /notifications), and
 *   - an email in the outbox, unless the user turned this kind off; for kinds
 *     the user chose as a daily digest, held for the digest.
 * kind: one of the names in the kinds table of notify.c ("evidence_submitted",
 *   "decision_recorded", "iqa_action", "iqa_response", "unit_signed_off",
 *   "witness_request", "enrolment", "password_changed"). Its email comes from
 *   templates/email/KIND.mustache: first line the subject, then a blank line,
 *   then the plain-text body; {{{link}}} is the absolute link, {{{name}}} the
 *   recipient's name, and every field of data is available.
 * link: the page concerned, a path on this server ("/evidence/12").
 * data: fields for the template; TAKEN (the caller writes json_pack(...) inline);
 *   may be NULL.
 * A disabled account, or user_id 0, gets nothing (EV_OK). EV_OK or EV_ERR
 * (logged; the caller rolls back).
 */
int notify_queue(db_t *db, int64_t user_id, const char *kind, const char *link, json_t *data);

/* As notify_queue, for someone who may have no account (a witness): email only,
 * to address `email` (name for the greeting), always sent at once; the body carries
 * a one-time link, so it is marked secret and blanked once sent. data TAKEN. */
int notify_queue_address(db_t *db, const char *email, const char *name, const char *kind,
                         const char *link, json_t *data);

/* A security email (invitation, password reset) for account user_id: sent at
 * once whatever the preferences, never shown in-app; the body carries a
 * one-time link, so it is marked secret and blanked once sent. data TAKEN. */
int notify_queue_secret(db_t *db, int64_t user_id, const char *kind, const char *link, json_t *data);

/* Renders templates/email/KIND.mustache for data (borrowed) into a new subject
 * and body (caller frees both). EV_OK or EV_ERR (unknown template). */
int notify_render(const char *kind, json_t *data, char **subject, char **body);

/* Renders the HTML alternative of an email (templates/email/html.mustache)
 * from its subject, plain-text body (paragraphs at blank lines, links made
 * clickable), link and optional unsubscribe URL. Returns a new string. */
char *notify_render_html(const char *subject, const char *body, const char *link, const char *unsubscribe);

/* The number of the user's unread notifications (the header's badge). */
int64_t notify_unread_count(db_t *db, int64_t user_id);

/* Outbox rows that have failed (given up): shown to admins. */
int64_t notify_failed_count(db_t *db);

/* ---- The events (notify_events.c): each looks up who hears about the change
 * and what to tell them, and calls notify_queue inside the caller's open
 * transaction. Each returns EV_OK or EV_ERR (the caller rolls back). ---- */

/* Evidence submitted -> the assessor of each of the learner's active enrolments. */
int notify_evidence_submitted(db_t *db, int64_t evidence_id);
/* Decision recorded -> the learner, with what to do next (countersign when
 * met, what is missing when not yet met). */
int notify_decision_recorded(db_t *db, int64_t decision_id);
/* IQA sample recorded -> the decision's assessor, when it asks for action. */
int notify_iqa_sampled(db_t *db, int64_t sample_id);
/* IQA action answered -> the IQA who raised it. */
int notify_iqa_answered(db_t *db, int64_t sample_id);
/* Unit signed off -> the learner and the enrolment's IQA. */
int notify_unit_signed_off(db_t *db, int64_t signoff_id);
/* Enrolment created -> the learner. */
int notify_enrolled(db_t *db, int64_t enrolment_id);

#endif
