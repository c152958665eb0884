/* progress.h: a learner's progress per qualification and unit, the expected-progress
 * (pace) rule, the evidence-by-criteria matrix, and the living demo's activity */
#ifndef EVITRACK_PROGRESS_H
#define EVITRACK_PROGRESS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* Expected-progress states of an enrolment (docs/progress.md gives the rule). */
typedef enum progress_pace_state {
    PACE_ON_TRACK = 0,
    PACE_BEHIND,
    PACE_AT_RISK,
    PACE_COMPLETE,
    PACE_ON_BREAK,
    PACE_WITHDRAWN,
    PACE_COUNT
} progress_pace_state_t;

/* Percentage points below the expected figure still counted on track / behind. */
#define PACE_BEHIND_GAP 10
#define PACE_AT_RISK_GAP 25

typedef struct progress_pace {
    progress_pace_state_t state;
    int expected_percent; /* share of the planned time elapsed, 0..100 */
    int gap;              /* expected_percent - percent (negative: ahead) */
    int64_t days_elapsed; /* learning days since the start date, breaks excluded, clamped to 0.. */
    int64_t days_total;   /* planned end - start less ended breaks (at least 1) */
    int64_t days_left;    /* planned end - today (negative: overdue) */
} progress_pace_t;

/* Days since 1970-01-01 of a "YYYY-MM-DD" date (any trailing time is ignored).
 * EV_OK, or EV_ERR for a malformed date. */
int progress_day_number(const char *ymd, int64_t *out);
/* A day number as "YYYY-MM-DD". */
void progress_day_iso(int64_t day, char out[11]);
/* Today (UTC) as a day number; EVITRACK_TODAY=YYYY-MM-DD overrides it (tests, demos). */
int64_t progress_today(void);

/* floor(100 * met / total); 0 when total is 0. */
int progress_percent(int64_t met, int64_t total);

/* The rule: from the enrolment's status, start and planned end dates (YYYY-MM-DD),
 * percent of criteria met and today's day number. A malformed date counts as
 * "no plan": on track with expected 0. Always fills *out. progress_pace_breaks with
 * no breaks (0, NULL). */
void progress_pace(const char *status, const char *start_date, const char *planned_end,
                   int percent, int64_t today, progress_pace_t *out);

/* The same rule for an enrolment with breaks in learning (issue 16): break_days is the
 * total length of its ended breaks (the planned end has already moved out by them) and
 * break_open_since the first day (YYYY-MM-DD) of a break still running, or NULL/"".
 * The elapsed time is the break-adjusted one of progress_active_days, so the expected
 * share of criteria pauses during a break exactly as off-the-job hours do (otj.h). */
void progress_pace_breaks(const char *status, const char *start_date, const char *planned_end,
                          int64_t break_days, const char *break_open_since, int percent, int64_t today,
                          progress_pace_t *out);

/* Days of learning in a plan and elapsed by today, breaks excluded (day numbers): the plan
 * runs start..end (end exclusive, already moved out by the ended breaks' break_days);
 * open_since is the first day of a running break (or -1), from which nothing elapses.
 * *plan_days = max(1, end - start - break_days); *active = the learning days elapsed by
 * today (to open_since when a break runs), clamped to 0..*plan_days. Shared by the
 * criteria pace (progress_pace_breaks) and the off-the-job pace (otj_pace). */
void progress_active_days(int64_t start, int64_t end, int64_t break_days, int64_t open_since, int64_t today,
                          int64_t *plan_days, int64_t *active);
/* "on_track", "behind", ... and "On track", "Behind", ... */
const char *progress_pace_name(progress_pace_state_t s);
const char *progress_pace_label(progress_pace_state_t s);
/* The pace as a JSON object {state, label, expected_percent, gap, days_elapsed,
 * days_total, days_left, on_track/behind/at_risk/... booleans} (caller owns). */
json_t *progress_pace_json(const progress_pace_t *p);

/* Human label of a criterion status: "not_started" -> "Not started". */
const char *progress_status_label(const char *status);

/* A learner's progress document (the body of GET /api/v1/learners/{id}/progress):
 * {learner, qualifications[{..., counts, percent, pace, units[{..., criteria[]}]}]}.
 * NULL when the learner does not exist. Caller owns. */
json_t *progress_learner(db_t *db, int64_t learner_id, int64_t today);

/* The matrix page's table body (criteria rows grouped by unit and outcome, one
 * cell per evidence column) as escaped HTML, and the same as JSON, for one
 * learner and qualification with evidence columns limit/offset. Caller owns. */
json_t *progress_matrix(db_t *db, int64_t learner_id, int64_t qualification_id,
                        int64_t limit, int64_t offset, int want_html);
/* The same as reader sees it (NULL: everything): an EQA's columns are only the evidence
 * mapped to its visit's qualifications (policy.h, POLICY_QSCOPE_EVIDENCE_SQL). */
json_t *progress_matrix_for(db_t *db, const user_t *reader, int64_t learner_id, int64_t qualification_id,
                            int64_t limit, int64_t offset, int want_html);

/* A handler's several reads in one read transaction (one snapshot, one lock round
 * trip): returns 1 when it began one (0 inside a caller's transaction), to be
 * passed to progress_read_end. */
int progress_read_begin(db_t *db);
void progress_read_end(db_t *db, int began);

/* Recomputes enrolment_progress and learner_queue from the tables they summarise
 * (after bulk loads; the triggers keep them current otherwise). EV_OK or EV_ERR. */
int progress_rebuild_summaries(db_t *db);

/* serve --demo: activity for the demo learners (evidence with files, mappings,
 * submissions, decisions both ways, feedback, countersigns, an IQA sample), once
 * accounts, qualifications and enrolments exist. EV_OK or EV_ERR. */
int progress_demo_seed(db_t *db, const app_t *app);

extern const route_t progress_routes[];

#endif
