/* reviews.h: progress reviews: the schedule, the review record, its signatures and versions */
#ifndef EVITRACK_REVIEWS_H
#define EVITRACK_REVIEWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"
#include "util.h"

extern const route_t reviews_routes[];

/* A break in learning: the first day away and the day learning resumed
 * (YYYY-MM-DD; end "" while the break still runs). */
typedef struct reviews_break {
    char start[11];
    char end[11];
} reviews_break_t;

/* The schedule (docs/reviews.md): review k (1..n) falls due k * weeks * 7 days after
 * start (YYYY-MM-DD), moved later by the length of every break in learning that began
 * on or before the date it would otherwise fall on (a break pauses the clock; DESIGN.md:
 * "breaks in learning pause the expected pace"). Apprenticeship funding rules ask for a
 * review at least every 12 weeks; weeks is per enrolment (1..52).
 * breaks: any order, nbreaks of them (NULL when 0). out: room for n dates.
 * Returns how many dates were written: n, or fewer when a break still running pauses
 * the schedule (the dates after its start are not known yet); -1 on a bad argument. */
int reviews_schedule(const char *start, int weeks, const reviews_break_t *breaks, size_t nbreaks, int n,
                     char (*out)[11]);

/* The figures a review fills in by itself for the days from..to (YYYY-MM-DD, both
 * included, UK local days): criteria (and KSBs) of the qualification that are met now
 * and were first met in the period, with their references, and the learner's evidence
 * mapped to that qualification submitted in the period. A new object
 * {criteria_met, criteria_met_refs, evidence_submitted} (caller owns), NULL on error. */
json_t *reviews_figures(db_t *db, int64_t learner_id, int64_t qualification_id, const char *from, const char *to);

/* When the enrolment's next review is due (YYYY-MM-DD into due; "" when none: ended,
 * or paused by a break) and whether that is before today (a day number). EV_OK/EV_ERR. */
int reviews_next_due(db_t *db, int64_t enrolment_id, int64_t today, char due[11], int *overdue);

/* For every active enrolment (of one assessor, or all when 0), keyed by the enrolment id
 * as text: {due_on ("" when paused), overdue, number}. Batched: one query, for lists and
 * dashboards. A new object (caller owns). */
json_t *reviews_due_all(db_t *db, int64_t assessor_id, int64_t today);

/* Calls fn for every active enrolment of the centre whose next review is overdue on
 * day today (the centre dashboard's snapshot counts them per assessor). EV_OK/EV_ERR.
 * Writes that move a due date (a review completed or superseded, a break, an enrolment's
 * dates or interval) mark the dashboard stale (centre_mark_stale) in their transaction. */
int reviews_overdue_each(db_t *db, int64_t today, void (*fn)(void *ctx, int64_t enrolment_id), void *ctx);

/* Active enrolments whose next review is overdue on day today: of one assessor's
 * caseload (assessor_id), or the whole centre (0). */
int64_t reviews_overdue_count(db_t *db, int64_t assessor_id, int64_t today);

/* The learner's reviews (every version) for the export, as a new array (caller owns). */
json_t *reviews_export_json(db_t *db, int64_t learner_id);
/* Appends the export's "Progress reviews" section (HTML, values escaped) for that array. */
void reviews_export_html(buf_t *b, json_t *reviews);

/* Queues the "review due" emails: every active enrolment whose next review falls due
 * within days of today (or is overdue) and whose signers have not been told about that
 * review yet (learner, assessor, employer contacts). *queued: how many. EV_OK/EV_ERR. */
int reviews_remind(db_t *db, int64_t today, int days, int *queued);

/* `evitrack reviews remind [--db FILE] [--days N]`: the same, from cron. Exit code. */
int reviews_cli(int argc, char **argv);

#endif
