/* otj.h: off-the-job training arithmetic: the planned minimum, expected-by-now over the
 * planned duration with breaks in learning, and the on-track rule (pure functions) */
#ifndef EVITRACK_OTJ_H
#define EVITRACK_OTJ_H

#include <stdint.h>

#include "progress.h"

/* Full-time for the off-the-job rule: 30 hours a week, in minutes. */
#define OTJ_FULL_TIME_MINUTES (30 * 60)

/* The minimum off-the-job training for a plan, in minutes, before any RPL reduction.
 *
 * Source: ESFA apprenticeship funding rules (2023 to 2024 and 2024 to 2025, "Off-the-job
 * training"): at least 6 hours a week for an apprentice contracted for 30 hours a week or
 * more, over the planned duration less statutory annual leave (5.6 weeks a year); for
 * fewer than 30 hours a week the 6 hours are reduced pro rata (6 x hours / 30, i.e. 20%
 * of the contracted hours). Where the standard states a minimum number of hours
 * (min_hours > 0, as the rules from August 2025 publish per standard), that is the minimum.
 *
 * start_day, end_day: day numbers (progress_day_number) of the start and planned end;
 * weekly_minutes: contracted working minutes a week (> 0). Returns minutes, 0 for an
 * empty or reversed plan. Whole minutes, rounded down. */
int64_t otj_minimum_minutes(int64_t start_day, int64_t end_day, int64_t weekly_minutes, int64_t min_hours);

/* Planned minutes after the RPL reduction: planned - rpl, never below 0. */
int64_t otj_after_rpl(int64_t planned_minutes, int64_t rpl_minutes);

/* One apprenticeship's plan as the database keeps it. end is the current planned end,
 * already moved out by the length of every ended break; break_days is the total length
 * of the ended breaks (a break runs from its first day away to the day learning
 * resumes, end exclusive); open_since is the first day of a break still running, or
 * -1. Day numbers throughout. */
typedef struct otj_plan {
    int64_t start, end;
    int64_t break_days;
    int64_t open_since;
    int64_t planned_minutes;
} otj_plan_t;

typedef struct otj_pace {
    progress_pace_state_t state;
    int64_t plan_days;        /* days of learning the plan holds: end - start - break_days (at least 1) */
    int64_t active_days;      /* days of learning elapsed by today, breaks excluded, 0..plan_days */
    int64_t expected_minutes; /* planned_minutes x active_days / plan_days, rounded down */
    int expected_percent;     /* 100 x active_days / plan_days */
    int percent;              /* 100 x recorded / planned (0 when nothing is planned) */
    int gap;                  /* expected_percent - percent */
} otj_pace_t;

/* Expected-by-now and the state for recorded_minutes against plan p on day today, by the
 * rule criteria follow (progress_pace): during a break the pace pauses (state on_break,
 * the expected figure frozen at the break's first day); all planned minutes recorded:
 * complete; past the planned end with minutes missing: at risk; else more than
 * PACE_AT_RISK_GAP points below the expected share: at risk; more than
 * PACE_BEHIND_GAP: behind; otherwise on track. Always fills *out. */
void otj_pace(const otj_plan_t *p, int64_t recorded_minutes, int64_t today, otj_pace_t *out);

/* "7h 30m" (or "0h") for minutes, into out. */
void otj_format_minutes(int64_t minutes, char out[32]);

#endif
