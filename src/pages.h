/* pages.h: what people read on pages: local times, relative ages, plurals, confirmation banners, one-time form tokens */
#ifndef EVITRACK_PAGES_H
#define EVITRACK_PAGES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Sets the zone every page time is shown in, once at start before any worker
 * thread runs (it sets TZ and calls tzset(); localtime_r then reads it from
 * every thread). zone is an IANA name from the system tz database
 * ("Europe/London", "America/New_York") or "UTC". When the tz database has no
 * Europe/London (a bare system without tzdata), the UK rule is used from its
 * POSIX form (GMT0BST,M3.5.0/1,M10.5.0: BST from 01:00 UTC on the last Sunday
 * of March to 01:00 UTC on the last Sunday of October, the Summer Time Order
 * 2002). EV_OK, or EV_ERR for a name that is not a zone (nothing changed). */
int pages_set_timezone(const char *zone);
/* The zone set (a static string; "Europe/London" until set). */
const char *pages_timezone(void);

/* Parses ISO 8601 UTC "YYYY-MM-DDTHH:MM[:SS][.fff]Z" into seconds since the
 * epoch. EV_OK or EV_ERR. */
int pages_parse_iso(const char *iso, int64_t *out);
/* Seconds since the epoch as local time "29 Nov 2026, 14:05" into out
 * (at least 32 bytes is enough). */
void pages_local_time(int64_t t, char *out, size_t outlen);
/* An ISO 8601 UTC string as local time, as above; "" when it does not parse. */
void pages_local_time_iso(const char *iso, char *out, size_t outlen);
/* A YYYY-MM-DD date as "29 Nov 2026"; "" when it is not a date. */
void pages_date_text(const char *date, char *out, size_t outlen);
/* How long ago `then` was at `now` (seconds since the epoch), as a whole
 * phrase: "just now" (under a minute, or in the future), "1 minute ago",
 * "5 hours ago", "3 days ago". */
void pages_ago(int64_t then, int64_t now, char *out, size_t outlen);

/* "1 item" / "2 items": n then the singular or plural word, into out. */
void pages_count(int64_t n, const char *one, const char *many, char *out, size_t outlen);

/* Adds, through objects and arrays, a "KEY_text" beside every string value
 * whose key is "at" or ends in "_at" and holds an ISO 8601 UTC time (local
 * time, as pages_local_time), and beside every key ending in "_on" or "_date"
 * holding a YYYY-MM-DD date ("29 Nov 2026"); an "_at" value also gets
 * "KEY_ago" ("3 days ago") relative to now; a count pages print with its noun
 * (file_count, unit_count, criteria_count, enrolments, oldest_days, ...) gets
 * "KEY_text" ("1 file", "2 files"); a "text" or "criterion_text" holding
 * several lines (a criterion with sub-items, as the importers keep them) gets
 * "KEY_parts", specimport_text_items()'s {lead, items[]}, for a list.
 * Existing "_text" and "_parts" keys are kept.
 * Pages only: the JSON API keeps its ISO 8601 UTC values untouched. */
void pages_humanize(json_t *v, int64_t now);

/* The confirmation banner for a finished action, from the `done` code a form
 * handler put in its redirect (`?done=decision`): a static sentence, or NULL
 * for an unknown code (so no text from the URL is ever shown). */
const char *pages_done_text(const char *done);

/* The "What to do next" panel of a role's home page: an array of
 * {text, href} (new reference), the most urgent first, from the
 * database as it is now. role is ROLE_* of http.h; page is the home page's
 * own output (the admin's centre page already holds the count of learners
 * behind, which is read from it rather than computed twice). An empty array
 * when there is nothing to do. Sources: the learner's countersignatures,
 * returned and draft evidence and criteria not started; the assessor's queue
 * (size, oldest) and open IQA actions; the IQA's unsampled decisions of their
 * learners; the admin's learners behind and enrolments or learners without
 * an IQA or an enrolment. */
json_t *pages_next_steps(db_t *db, int64_t user_id, unsigned role, const json_t *page);

/* One-time form tokens (schema/009_pages.sql). A page form that creates
 * something carries a hidden form_token (a fresh random value each render);
 * http.c claims (user, token, path) before the handler runs.
 * pages_form_claim: 1 claimed (run the handler), 0 the database refused (run
 * it anyway: a missing token must not stop work), -1 already used: *location
 * gets where the first request went (caller frees; NULL while that request
 * is still running after a 3 s wait). Tokens of other users never match.
 * pages_form_finish: after the handler: ok keeps the claim with the location
 * (a repeat goes there), !ok deletes it so the corrected form can be sent. */
int pages_form_claim(db_t *db, int64_t user_id, const char *token, const char *path, char **location);
void pages_form_finish(db_t *db, int64_t user_id, const char *token, const char *path, int ok,
                       const char *location);

#endif
