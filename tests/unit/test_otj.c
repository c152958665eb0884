/* test_otj.c: off-the-job arithmetic at its boundaries: the 6-hours-a-week minimum less
 * statutory leave, part-time pro rata, a stated minimum, RPL reduction, expected-by-now
 * with a break spanning a month end, a running break pausing the pace, the on-track rule */
#include "otj.h"
#include "test.h"

static int64_t day(const char *ymd)
{
    int64_t d = 0;
    progress_day_number(ymd, &d);
    return d;
}

static void test_minimum(void)
{
    /* one year, 30 hours a week: 52.14 weeks less 5.6 of leave = 46.54 weeks x 6 h = 279.2 h */
    int64_t m = otj_minimum_minutes(day("2026-01-01"), day("2027-01-01"), 30 * 60, 0);
    CHECK_INT(m, 365 * 360 * 464 / 3640);
    CHECK(m / 60 == 279);
    /* more than 30 hours is still 6 hours a week */
    CHECK_INT(otj_minimum_minutes(day("2026-01-01"), day("2027-01-01"), 37 * 60 + 30, 0), m);
    /* part time: 20 hours a week is 4 hours a week (pro rata 20/30) */
    int64_t pt = otj_minimum_minutes(day("2026-01-01"), day("2027-01-01"), 20 * 60, 0);
    CHECK_INT(pt, 365 * 240 * 464 / 3640);
    CHECK(pt * 3 / 2 <= m && pt * 3 / 2 >= m - 2);
    /* a stated minimum wins */
    CHECK_INT(otj_minimum_minutes(day("2026-01-01"), day("2027-01-01"), 20 * 60, 372), 372 * 60);
    /* empty and reversed plans */
    CHECK_INT(otj_minimum_minutes(day("2026-01-01"), day("2026-01-01"), 30 * 60, 0), 0);
    CHECK_INT(otj_minimum_minutes(day("2026-02-01"), day("2026-01-01"), 30 * 60, 0), 0);
    /* RPL reduces, never below nothing */
    CHECK_INT(otj_after_rpl(300 * 60, 40 * 60), 260 * 60);
    CHECK_INT(otj_after_rpl(30 * 60, 40 * 60), 0);
    CHECK_INT(otj_after_rpl(30 * 60, -5), 30 * 60);
}

static void test_pace_with_breaks(void)
{
    /* 2026-01-01 .. 2027-01-01 (365 days), 365 hours planned: one hour a day of learning. */
    otj_plan_t p = {day("2026-01-01"), day("2027-01-01"), 0, -1, 365 * 60};
    otj_pace_t o;
    otj_pace(&p, 0, day("2026-01-01"), &o);
    CHECK_INT(o.plan_days, 365);
    CHECK_INT(o.active_days, 0);
    CHECK_INT(o.expected_minutes, 0);
    CHECK_INT(o.state, PACE_ON_TRACK);
    otj_pace(&p, 59 * 60, day("2026-03-01"), &o); /* 59 days in, 59 hours recorded */
    CHECK_INT(o.active_days, 59);
    CHECK_INT(o.expected_minutes, 59 * 60);
    CHECK_INT(o.state, PACE_ON_TRACK);

    /* A break spanning a month end: away 25 January, back 5 February = 11 days. Ended,
     * so the planned end has moved out by 11 days and the pace skips them. */
    int64_t len = day("2026-02-05") - day("2026-01-25");
    CHECK_INT(len, 11);
    otj_plan_t b = {day("2026-01-01"), day("2027-01-01") + len, len, -1, 365 * 60};
    otj_pace(&b, 48 * 60, day("2026-03-01"), &o);
    CHECK_INT(o.plan_days, 365);
    CHECK_INT(o.active_days, 59 - 11);
    CHECK_INT(o.expected_minutes, 48 * 60);
    CHECK_INT(o.state, PACE_ON_TRACK);
    /* the last day of the moved plan: everything expected; the old end is no longer overdue */
    otj_pace(&b, 300 * 60, day("2027-01-05"), &o);
    CHECK_INT(o.active_days, 365 - 11 + 4);
    CHECK(o.state != PACE_AT_RISK || o.gap > PACE_AT_RISK_GAP);
    otj_pace(&b, 364 * 60, day("2027-01-12"), &o);
    CHECK_INT(o.expected_minutes, 365 * 60);
    CHECK_INT(o.state, PACE_ON_TRACK);
    otj_pace(&b, 364 * 60, day("2027-01-13"), &o); /* one day past the moved end, an hour short */
    CHECK_INT(o.state, PACE_AT_RISK);
    otj_pace(&b, 365 * 60, day("2027-01-13"), &o);
    CHECK_INT(o.state, PACE_COMPLETE);

    /* The same break while it runs (from 25 January): the pace pauses at 24 days. */
    otj_plan_t r = {day("2026-01-01"), day("2027-01-01"), 0, day("2026-01-25"), 365 * 60};
    otj_pace(&r, 0, day("2026-02-03"), &o);
    CHECK_INT(o.state, PACE_ON_BREAK);
    CHECK_INT(o.active_days, 24);
    CHECK_INT(o.expected_minutes, 24 * 60);
    /* a break recorded ahead (starting tomorrow) does not pause today */
    otj_plan_t f = {day("2026-01-01"), day("2027-01-01"), 0, day("2026-03-02"), 365 * 60};
    otj_pace(&f, 0, day("2026-03-01"), &o);
    CHECK_INT(o.active_days, 59);
    CHECK_INT(o.state, PACE_BEHIND); /* 16 points below the expected 16% */
}

/* Criteria and KSBs (progress_pace_breaks) pause for a break exactly as hours do:
 * 2026-01-01 .. 2027-01-01 planned, 365 days. */
static void test_criteria_pace_with_breaks(void)
{
    progress_pace_t p;
    otj_pace_t o;
    /* no break: 59 days in, 16% expected; 5% met is behind */
    progress_pace_breaks("active", "2026-01-01", "2027-01-01", 0, NULL, 5, day("2026-03-01"), &p);
    CHECK_INT(p.days_elapsed, 59);
    CHECK_INT(p.expected_percent, 16);
    CHECK_INT(p.state, PACE_BEHIND);

    /* A break spanning a month end, ended: away 25 January, back 5 February (11 days).
     * The planned end has moved out to 2027-01-12; the break's days are not elapsed time. */
    progress_pace_breaks("active", "2026-01-01", "2027-01-12", 11, NULL, 4, day("2026-03-01"), &p);
    CHECK_INT(p.days_total, 365);
    CHECK_INT(p.days_elapsed, 48);
    CHECK_INT(p.expected_percent, 13); /* 48 / 365 */
    CHECK_INT(p.state, PACE_ON_TRACK); /* 9 points under: the break is not held against them */
    /* without the break adjustment the same learner would read behind (the old rule:
     * 59 of 376 days, 15% expected) */
    progress_pace("active", "2026-01-01", "2027-01-12", 4, day("2026-03-01"), &p);
    CHECK_INT(p.state, PACE_BEHIND);
    /* the day learning resumed: nothing elapsed while away */
    progress_pace_breaks("active", "2026-01-01", "2027-01-12", 11, NULL, 0, day("2026-02-05"), &p);
    CHECK_INT(p.days_elapsed, 24);
    /* the moved end: the last planned day is not overdue, the day after is */
    progress_pace_breaks("active", "2026-01-01", "2027-01-12", 11, NULL, 95, day("2027-01-12"), &p);
    CHECK_INT(p.expected_percent, 100);
    CHECK_INT(p.state, PACE_ON_TRACK);
    CHECK_INT(p.days_left, 0);
    progress_pace_breaks("active", "2026-01-01", "2027-01-12", 11, NULL, 95, day("2027-01-13"), &p);
    CHECK_INT(p.state, PACE_AT_RISK);
    /* hours agree: the same plan for off-the-job hours expects the same share */
    otj_plan_t b = {day("2026-01-01"), day("2027-01-12"), 11, -1, 365 * 60};
    otj_pace(&b, 0, day("2026-03-01"), &o);
    CHECK_INT(o.active_days, 48);
    CHECK_INT(o.expected_percent, 13);

    /* A break still running since 25 January, asked on 3 March: paused at 24 days. */
    progress_pace_breaks("on_break", "2026-01-01", "2027-01-01", 0, "2026-01-25", 0, day("2026-03-03"), &p);
    CHECK_INT(p.state, PACE_ON_BREAK);
    CHECK_INT(p.days_elapsed, 24);
    CHECK_INT(p.expected_percent, 6); /* 24 / 365, frozen */
    progress_pace_breaks("on_break", "2026-01-01", "2027-01-01", 0, "2026-01-25", 0, day("2026-06-30"), &p);
    CHECK_INT(p.days_elapsed, 24);
    otj_plan_t r = {day("2026-01-01"), day("2027-01-01"), 0, day("2026-01-25"), 365 * 60};
    otj_pace(&r, 0, day("2026-06-30"), &o);
    CHECK_INT(o.active_days, p.days_elapsed);
    CHECK_INT(o.expected_percent, p.expected_percent);
    /* recorded to start tomorrow: today still counts */
    progress_pace_breaks("active", "2026-01-01", "2027-01-01", 0, "2026-03-02", 0, day("2026-03-01"), &p);
    CHECK_INT(p.days_elapsed, 59);

    /* Two breaks: 25 Jan - 5 Feb (11 days) and 30 Apr - 4 May (4 days), both ended: the
     * end moved out by 15 days; on 1 June, 151 calendar days in, 136 of learning. */
    progress_pace_breaks("active", "2026-01-01", "2027-01-16", 15, NULL, 30, day("2026-06-01"), &p);
    CHECK_INT(p.days_total, 365);
    CHECK_INT(p.days_elapsed, 151 - 15);
    CHECK_INT(p.expected_percent, 37);
    CHECK_INT(p.state, PACE_ON_TRACK); /* 7 under */
    /* the first ended, the second running since 30 April: paused at 119 - 11 = 108 days */
    progress_pace_breaks("on_break", "2026-01-01", "2027-01-12", 11, "2026-04-30", 0, day("2026-06-01"), &p);
    CHECK_INT(p.days_elapsed, 119 - 11);
    CHECK_INT(p.state, PACE_ON_BREAK);
    otj_plan_t t = {day("2026-01-01"), day("2027-01-12"), 11, day("2026-04-30"), 365 * 60};
    otj_pace(&t, 0, day("2026-06-01"), &o);
    CHECK_INT(o.active_days, 119 - 11);
    CHECK_INT(o.expected_percent, p.expected_percent);
}

static void test_rule(void)
{
    /* 100 days, 100 hours planned; day 50: 50% expected */
    otj_plan_t p = {day("2026-01-01"), day("2026-01-01") + 100, 0, -1, 100 * 60};
    otj_pace_t o;
    otj_pace(&p, 40 * 60, day("2026-01-01") + 50, &o); /* 40%: 10 points behind: still on track */
    CHECK_INT(o.gap, 10);
    CHECK_INT(o.state, PACE_ON_TRACK);
    otj_pace(&p, 39 * 60, day("2026-01-01") + 50, &o); /* 11 points: behind */
    CHECK_INT(o.state, PACE_BEHIND);
    otj_pace(&p, 25 * 60, day("2026-01-01") + 50, &o); /* 25 points: behind */
    CHECK_INT(o.state, PACE_BEHIND);
    otj_pace(&p, 24 * 60, day("2026-01-01") + 50, &o); /* 26 points: at risk */
    CHECK_INT(o.state, PACE_AT_RISK);
    /* RPL: 40 of the 100 hours recognised -> 60 planned; 30 recorded at half way is on track */
    otj_plan_t q = p;
    q.planned_minutes = otj_after_rpl(100 * 60, 40 * 60);
    otj_pace(&q, 30 * 60, day("2026-01-01") + 50, &o);
    CHECK_INT(o.expected_minutes, 30 * 60);
    CHECK_INT(o.state, PACE_ON_TRACK);
    /* nothing planned: never behind */
    q.planned_minutes = 0;
    otj_pace(&q, 0, day("2026-01-01") + 90, &o);
    CHECK_INT(o.state, PACE_ON_TRACK);
    char s[32];
    otj_format_minutes(450, s);
    CHECK_STR(s, "7h 30m");
    otj_format_minutes(120, s);
    CHECK_STR(s, "2h");
}

int main(void)
{
    test_minimum();
    test_pace_with_breaks();
    test_criteria_pace_with_breaks();
    test_rule();
    TEST_DONE();
}
