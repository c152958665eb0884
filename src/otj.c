/* otj.c: off-the-job training arithmetic: the planned minimum, expected-by-now over the
 * planned duration with breaks in learning, and the on-track rule (pure functions) */
#include "otj.h"

#include <stdio.h>

int64_t otj_minimum_minutes(int64_t start_day, int64_t end_day, int64_t weekly_minutes, int64_t min_hours)
{
    if (min_hours > 0)
        return min_hours * 60;
    int64_t days = end_day - start_day;
    if (days <= 0 || weekly_minutes <= 0)
        return 0;
    /* 6 hours a week at 30 contracted hours or more, pro rata below: 20% of the hours. */
    int64_t per_week = (weekly_minutes < OTJ_FULL_TIME_MINUTES ? weekly_minutes : OTJ_FULL_TIME_MINUTES) / 5;
    /* weeks = days / 7, less statutory leave of 5.6 weeks in 52: x (52 - 5.6) / 52 = x 464 / 520 */
    return days * per_week * 464 / (520 * 7);
}

int64_t otj_after_rpl(int64_t planned_minutes, int64_t rpl_minutes)
{
    int64_t v = planned_minutes - (rpl_minutes > 0 ? rpl_minutes : 0);
    return v > 0 ? v : 0;
}

void otj_pace(const otj_plan_t *p, int64_t recorded_minutes, int64_t today, otj_pace_t *out)
{
    int on_break = p->open_since >= 0 && p->open_since <= today;
    /* the same break-adjusted days of learning as the criteria pace (progress.h) */
    progress_active_days(p->start, p->end, p->break_days, p->open_since, today, &out->plan_days, &out->active_days);
    int64_t active = out->active_days;
    int64_t planned = p->planned_minutes > 0 ? p->planned_minutes : 0;
    out->expected_minutes = planned * active / out->plan_days;
    out->expected_percent = (int)(active * 100 / out->plan_days);
    out->percent = planned > 0 ? (recorded_minutes >= planned ? 100 : (int)(recorded_minutes * 100 / planned)) : 0;
    out->gap = out->expected_percent - out->percent;
    if (planned > 0 && recorded_minutes >= planned)
        out->state = PACE_COMPLETE;
    else if (on_break)
        out->state = PACE_ON_BREAK;
    else if (planned <= 0)
        out->state = PACE_ON_TRACK;
    else if (today > p->end)
        out->state = PACE_AT_RISK;
    else if (out->gap > PACE_AT_RISK_GAP)
        out->state = PACE_AT_RISK;
    else if (out->gap > PACE_BEHIND_GAP)
        out->state = PACE_BEHIND;
    else
        out->state = PACE_ON_TRACK;
}

void otj_format_minutes(int64_t minutes, char out[32])
{
    if (minutes < 0)
        minutes = 0;
    if (minutes % 60)
        snprintf(out, 32, "%lldh %02lldm", (long long)(minutes / 60), (long long)(minutes % 60));
    else
        snprintf(out, 32, "%lldh", (long long)(minutes / 60));
}
