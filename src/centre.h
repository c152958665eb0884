/* centre.h: the admin's centre dashboard: progress by qualification and by assessor,
 * learners behind, the assessment queue, IQA sampling coverage, and its CSV */
#ifndef EVITRACK_CENTRE_H
#define EVITRACK_CENTRE_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* Filters and page of the enrolment list (0 / NULL: no filter). */
typedef struct centre_query {
    int64_t qualification_id;
    int64_t assessor_id;
    const char *state; /* a pace state name: "behind", "at_risk", ... */
    int64_t limit, offset;
} centre_query_t;

/* The dashboard document: {today, totals, by_qualification[], by_assessor[],
 * enrolments[] (the filtered page, most urgent first), enrolments_total}.
 * One pass over the per-enrolment summaries. Caller owns; NULL on error. */
json_t *centre_progress(db_t *db, int64_t today, const centre_query_t *q);

/* Marks the dashboard's snapshot stale after a change its figures depend on
 * that the summary tables do not see (optional units chosen, a structure
 * imported, off-the-job hours): a no-op update of one enrolment fires the
 * centre_version triggers on both engines (005_progress.sql), in the caller's
 * transaction. enrolment_id 0 with qualification_id: any enrolment of that
 * qualification (none: nothing to refresh). EV_OK or EV_ERR. */
int centre_mark_stale(db_t *db, int64_t enrolment_id, int64_t qualification_id);

/* The CSV of the dashboard's group rows (rows="groups") or of every enrolment
 * (rows="enrolments") into out. EV_OK or EV_ERR. */
int centre_csv(db_t *db, int64_t today, const char *rows, buf_t *out);

/* Appends one CSV field (quoted when needed; a leading = + - @ is defused). */
void centre_csv_field(buf_t *out, const char *s);

extern const route_t centre_routes[];

#endif
