/* reviews.c: progress reviews: the schedule, the review record, its signatures and versions */
#include "reviews.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apprenticeships.h"
#include "audit.h"
#include "centre.h"
#include "cli.h"
#include "decisions.h"
#include "notify.h"
#include "pages.h"
#include "policy.h"
#include "otj.h"
#include "progress.h"

#define STR(o, k) json_string_value(json_object_get((o), (k)))
#define INT(o, k) ((int64_t)json_integer_value(json_object_get((o), (k))))
#define MAX_SLOTS 120   /* reviews listed in one enrolment's schedule */
#define MAX_BREAKS 32
#define MAX_TARGETS 10
#define TEXT_MAX 8000

/* Lock keys (db_lock_xact) for one review and one enrolment's reviews. */
#define LOCK_REVIEW(id) (0x52455600000000LL + (id))
#define LOCK_ENROLMENT(id) (0x52455700000000LL + (id))

/* ------------------------------------------------------------------ */
/* The schedule                                                         */
/* ------------------------------------------------------------------ */

static int break_cmp(const void *a, const void *b)
{
    return strcmp(((const reviews_break_t *)a)->start, ((const reviews_break_t *)b)->start);
}

int reviews_schedule(const char *start, int weeks, const reviews_break_t *breaks, size_t nbreaks, int n,
                     char (*out)[11])
{
    int64_t day0, shift = 0;
    reviews_break_t sorted[MAX_BREAKS];
    size_t nb = 0, next = 0;
    if (!start || !out || n < 0 || weeks < 1 || weeks > 52 || nbreaks > MAX_BREAKS ||
        progress_day_number(start, &day0) != EV_OK)
        return -1;
    for (size_t i = 0; i < nbreaks; i++) {
        int64_t s, e;
        if (progress_day_number(breaks[i].start, &s) != EV_OK ||
            (breaks[i].end[0] && (progress_day_number(breaks[i].end, &e) != EV_OK || e < s)))
            return -1;
        sorted[nb++] = breaks[i];
    }
    qsort(sorted, nb, sizeof sorted[0], break_cmp);
    for (int k = 1; k <= n; k++) {
        int64_t due = day0 + (int64_t)k * weeks * 7 + shift;
        /* Every break that began on or before the date moves it (and later ones) on. */
        while (next < nb) {
            int64_t s, e;
            progress_day_number(sorted[next].start, &s);
            if (s > due)
                break;
            if (!sorted[next].end[0])
                return k - 1; /* still running: paused */
            progress_day_number(sorted[next].end, &e);
            shift += e - s;
            due += e - s;
            next++;
        }
        progress_day_iso(due, out[k - 1]);
    }
    return n;
}

/* The breaks in learning of an enrolment (apprenticeships, when that table exists). */
static size_t enrolment_breaks(db_t *db, int64_t enrolment_id, reviews_break_t *out)
{
    size_t n = 0;
    if (!db_table_exists(db, "learning_breaks"))
        return 0;
    db_stmt_t *st = db_query(db,
                             "SELECT b.start_date, b.end_date FROM learning_breaks b"
                             " JOIN apprenticeships a ON a.id = b.apprenticeship_id"
                             " WHERE a.enrolment_id = ? ORDER BY b.start_date",
                             "i", enrolment_id);
    while (st && n < MAX_BREAKS && db_next(st) == 1) {
        snprintf(out[n].start, sizeof out[n].start, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
        snprintf(out[n].end, sizeof out[n].end, "%s", db_col_text(st, 1) ? db_col_text(st, 1) : "");
        n++;
    }
    db_stmt_done(st);
    return n;
}

/* The employer whose contact signs the enrolment's reviews (0: none, a two-way review). */
static int64_t enrolment_employer(db_t *db, int64_t enrolment_id)
{
    if (!db_table_exists(db, "apprenticeships"))
        return 0;
    return db_int(db, "SELECT employer_id FROM apprenticeships WHERE enrolment_id = ?", 0, "i", enrolment_id);
}

/* Is user u a contact of employer employer_id? */
static int is_employer_contact(db_t *db, const user_t *u, int64_t employer_id)
{
    if (!employer_id || u->role != ROLE_EMPLOYER)
        return 0;
    return db_int(db, "SELECT 1 FROM employer_contacts WHERE user_id = ? AND employer_id = ?", 0, "ii", u->id,
                  employer_id) == 1;
}

/* Due date of review `number` of an enrolment (row with start_date, review_interval_weeks):
 * "" when a running break pauses it. */
static void due_of(db_t *db, json_t *enr, int number, char due[11])
{
    reviews_break_t breaks[MAX_BREAKS];
    size_t nb = enrolment_breaks(db, INT(enr, "id"), breaks);
    char dates[MAX_SLOTS][11];
    due[0] = '\0';
    if (number < 1 || number > MAX_SLOTS)
        return;
    int got = reviews_schedule(STR(enr, "start_date"), (int)INT(enr, "review_interval_weeks"), breaks, nb, number, dates);
    if (got == number)
        memcpy(due, dates[number - 1], 11);
}

/* The review due now: the number after the last completed one, due on the schedule's
 * date or the earlier date the last review set. due "" when paused or none. */
static int next_number_and_due(db_t *db, json_t *enr, char due[11])
{
    json_t *last = db_one(db,
                          "SELECT number, next_review_on FROM progress_reviews WHERE enrolment_id = ?"
                          " AND superseded = 0 AND status = 'complete' ORDER BY number DESC LIMIT 1",
                          "i", INT(enr, "id"));
    int number = last ? (int)INT(last, "number") + 1 : 1;
    due_of(db, enr, number, due);
    const char *set = last ? STR(last, "next_review_on") : NULL;
    if (due[0] && set && util_valid_date(set) && strcmp(set, due) < 0)
        memcpy(due, set, 11);
    json_decref(last);
    return number;
}

int reviews_next_due(db_t *db, int64_t enrolment_id, int64_t today, char due[11], int *overdue)
{
    char today_iso[11];
    json_t *enr = db_one(db, "SELECT id, start_date, review_interval_weeks, status FROM enrolments WHERE id = ?", "i",
                         enrolment_id);
    due[0] = '\0';
    *overdue = 0;
    if (!enr)
        return EV_ERR;
    if (!strcmp(STR(enr, "status"), "active")) {
        next_number_and_due(db, enr, due);
        progress_day_iso(today, today_iso);
        *overdue = due[0] && strcmp(due, today_iso) < 0;
    }
    json_decref(enr);
    return EV_OK;
}

/* Every break of every apprenticeship (of one assessor's enrolments when assessor_id),
 * sorted by enrolment (for the batched reads). */
static json_t *all_breaks(db_t *db, int64_t assessor_id)
{
    if (!db_table_exists(db, "learning_breaks"))
        return json_array();
    /* one assessor's: through their enrolments, not every apprenticeship of the centre */
    json_t *rows = assessor_id
        ? db_all(db,
                 "SELECT a.enrolment_id, b.start_date, b.end_date FROM enrolments e"
                 " JOIN apprenticeships a ON a.enrolment_id = e.id JOIN learning_breaks b ON b.apprenticeship_id = a.id"
                 " WHERE e.assessor_id = ? ORDER BY a.enrolment_id, b.start_date",
                 "i", assessor_id)
        : db_all(db,
                 "SELECT a.enrolment_id, b.start_date, b.end_date FROM learning_breaks b"
                 " JOIN apprenticeships a ON a.id = b.apprenticeship_id ORDER BY a.enrolment_id, b.start_date",
                 "");
    return rows ? rows : json_array();
}

/* The last complete review (current version) of each enrolment, ascending by enrolment. */
typedef struct last_review {
    int64_t enrolment_id;
    int number;
    char next_on[11];
} last_review_t;

/* Calls fn for every active enrolment (of assessor_id, or all when 0) with its next
 * review's number and due date ("" when paused) and whether that is before today.
 * Two plain reads (enrolments; complete reviews) merged in C, and the date arithmetic in
 * C: the centre dashboard does this for every enrolment of the centre. EV_OK/EV_ERR. */
static int due_walk(db_t *db, int64_t assessor_id, int64_t today,
                    void (*fn)(void *ctx, int64_t enrolment_id, int number, const char *due, int overdue), void *ctx)
{
    char today_iso[11];
    progress_day_iso(today, today_iso);
    size_t nlast = 0, cap = 0, li = 0;
    last_review_t *last = NULL;
    int rc = EV_ERR;
    /* one assessor's: through their enrolments (enrolments_assessor), not every review */
    db_stmt_t *st = assessor_id
        ? db_query(db,
                   /* the assessor's enrolments first (CROSS JOIN keeps SQLite's loop order),
                    * then each one's reviews through progress_reviews_enrolment: "+ 0" and
                    * "|| ''" keep the status test off progress_reviews_open, which would
                    * walk every complete review of the centre for each enrolment */
                   "SELECT r.enrolment_id, r.number, r.next_review_on FROM enrolments e"
                   " CROSS JOIN progress_reviews r WHERE r.enrolment_id = e.id AND e.assessor_id = ?"
                   " AND r.superseded + 0 = 0 AND r.status || '' = 'complete' ORDER BY r.enrolment_id, r.number",
                   "i", assessor_id)
        : db_query(db,
                   "SELECT enrolment_id, number, next_review_on FROM progress_reviews WHERE superseded = 0"
                   " AND status = 'complete' ORDER BY enrolment_id, number",
                   "");
    while (st && db_next(st) == 1) {
        if (nlast == cap) {
            cap = cap ? cap * 2 : 256;
            last = xrealloc(last, cap * sizeof *last);
        }
        /* ordered by number: the last row of an enrolment is its latest review */
        if (nlast && last[nlast - 1].enrolment_id == db_col_int(st, 0))
            nlast--;
        last[nlast].enrolment_id = db_col_int(st, 0);
        last[nlast].number = (int)db_col_int(st, 1);
        snprintf(last[nlast].next_on, sizeof last[nlast].next_on, "%s", db_col_text(st, 2) ? db_col_text(st, 2) : "");
        nlast++;
    }
    db_stmt_done(st);
    if (!st)
        goto out;
    json_t *breaks = all_breaks(db, assessor_id);
    size_t nall = json_array_size(breaks), bi = 0;
    /* two statements, so that one assessor's come from the enrolments_assessor index
     * (an "(? = 0 OR assessor_id = ?)" would read every enrolment of the centre) */
    st = assessor_id ? db_query(db,
                                "SELECT id, start_date, review_interval_weeks FROM enrolments WHERE assessor_id = ?"
                                " AND status = 'active' ORDER BY id",
                                "i", assessor_id)
                     : db_query(db,
                                "SELECT id, start_date, review_interval_weeks FROM enrolments WHERE status = 'active'"
                                " ORDER BY id",
                                "");
    while (st && db_next(st) == 1) {
        int64_t id = db_col_int(st, 0);
        while (li < nlast && last[li].enrolment_id < id)
            li++;
        const last_review_t *lr = li < nlast && last[li].enrolment_id == id ? &last[li] : NULL;
        int number = lr ? lr->number + 1 : 1;
        reviews_break_t b[MAX_BREAKS];
        size_t nb = 0;
        /* both in enrolment order: merged, not searched per enrolment */
        while (bi < nall && INT(json_array_get(breaks, bi), "enrolment_id") < id)
            bi++;
        for (size_t i = bi; i < nall && nb < MAX_BREAKS; i++) {
            json_t *x = json_array_get(breaks, i);
            if (INT(x, "enrolment_id") != id)
                break;
            snprintf(b[nb].start, sizeof b[nb].start, "%s", STR(x, "start_date") ? STR(x, "start_date") : "");
            snprintf(b[nb].end, sizeof b[nb].end, "%s", STR(x, "end_date") ? STR(x, "end_date") : "");
            nb++;
        }
        char due[11] = "", d[MAX_SLOTS][11];
        if (number <= MAX_SLOTS &&
            reviews_schedule(db_col_text(st, 1), (int)db_col_int(st, 2), b, nb, number, d) == number)
            memcpy(due, d[number - 1], 11);
        if (due[0] && lr && util_valid_date(lr->next_on) && strcmp(lr->next_on, due) < 0)
            memcpy(due, lr->next_on, 11);
        fn(ctx, id, number, due, due[0] && strcmp(due, today_iso) < 0);
    }
    db_stmt_done(st);
    json_decref(breaks);
    rc = st ? EV_OK : EV_ERR;
out:
    free(last);
    return rc;
}

static void due_to_json(void *ctx, int64_t enrolment_id, int number, const char *due, int overdue)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)enrolment_id);
    json_object_set_new((json_t *)ctx, key, json_pack("{s:s, s:b, s:i}", "due_on", due, "overdue", overdue, "number",
                                                      number));
}

json_t *reviews_due_all(db_t *db, int64_t assessor_id, int64_t today)
{
    json_t *out = json_object();
    due_walk(db, assessor_id, today, due_to_json, out);
    return out;
}

static void due_count(void *ctx, int64_t enrolment_id, int number, const char *due, int overdue)
{
    (void)enrolment_id;
    (void)number;
    (void)due;
    *(int64_t *)ctx += overdue;
}

typedef struct overdue_each {
    void (*fn)(void *ctx, int64_t enrolment_id);
    void *ctx;
} overdue_each_t;

static void due_each(void *ctx, int64_t enrolment_id, int number, const char *due, int overdue)
{
    const overdue_each_t *o = ctx;
    (void)number;
    (void)due;
    if (overdue)
        o->fn(o->ctx, enrolment_id);
}

int reviews_overdue_each(db_t *db, int64_t today, void (*fn)(void *ctx, int64_t enrolment_id), void *ctx)
{
    overdue_each_t o = {fn, ctx};
    return due_walk(db, 0, today, due_each, &o);
}

int64_t reviews_overdue_count(db_t *db, int64_t assessor_id, int64_t today)
{
    int64_t n = 0;
    due_walk(db, assessor_id, today, due_count, &n);
    return n;
}

/* ------------------------------------------------------------------ */
/* Figures filled in by themselves                                      */
/* ------------------------------------------------------------------ */

/* The UTC instant (ISO) at which the UK local day ymd (+ add days) begins. */
static void local_day_start(const char *ymd, int add, char out[21])
{
    int64_t d;
    char iso[11];
    struct tm tm = {0};
    if (progress_day_number(ymd, &d) != EV_OK) {
        snprintf(out, 21, "%s", "0000-00-00T00:00:00Z");
        return;
    }
    progress_day_iso(d + add, iso);
    sscanf(iso, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    util_iso_time(mktime(&tm), out); /* the process runs in the centre's time zone (pages_set_timezone) */
}

json_t *reviews_figures(db_t *db, int64_t learner_id, int64_t qualification_id, const char *from, const char *to)
{
    char t0[21], t1[21];
    buf_t refs = {0};
    int64_t met = 0;
    local_day_start(from, 0, t0);
    local_day_start(to, 1, t1);
    db_stmt_t *st = db_query(db,
                             "SELECT u.ref, c.ref FROM criterion_status cs JOIN criteria c ON c.id = cs.criterion_id"
                             " JOIN units u ON u.id = c.unit_id WHERE cs.learner_id = ? AND u.qualification_id = ?"
                             " AND cs.status = 'met' AND (SELECT MIN(d.created_at) FROM decisions d"
                             " WHERE d.learner_id = cs.learner_id AND d.criterion_id = cs.criterion_id"
                             " AND d.outcome = 'met') >= ? AND (SELECT MIN(d.created_at) FROM decisions d"
                             " WHERE d.learner_id = cs.learner_id AND d.criterion_id = cs.criterion_id"
                             " AND d.outcome = 'met') < ? ORDER BY u.position, u.ref, c.position, c.ref",
                             "iitt", learner_id, qualification_id, t0, t1);
    if (!st)
        return NULL;
    int rc;
    while ((rc = db_next(st)) == 1) {
        buf_printf(&refs, "%s%s %s", met ? ", " : "", db_col_text(st, 0), db_col_text(st, 1));
        met++;
    }
    db_stmt_done(st);
    if (rc < 0) {
        buf_free(&refs);
        return NULL;
    }
    int64_t ev = db_int(db,
                        "SELECT COUNT(*) FROM evidence e WHERE e.learner_id = ? AND e.submitted_at >= ?"
                        " AND e.submitted_at < ? AND EXISTS (SELECT 1 FROM evidence_criteria ec"
                        " JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id"
                        " WHERE ec.evidence_id = e.id AND u.qualification_id = ?)",
                        -1, "itti", learner_id, t0, t1, qualification_id);
    char *r = buf_take(&refs);
    json_t *out = ev < 0 ? NULL
                         : json_pack("{s:I, s:s, s:I}", "criteria_met", (json_int_t)met, "criteria_met_refs",
                                     r ? r : "", "evidence_submitted", (json_int_t)ev);
    free(r);
    return out;
}

/* Off-the-job minutes recorded by day `to` (every entry, as the hours page totals them) and
 * expected by then by issue 16's rule (apprenticeships_pace: the planned minutes over the
 * planned days of learning, breaks excluded); both -1 when the enrolment is not an
 * apprenticeship. */
static void otj_figures(db_t *db, int64_t enrolment_id, const char *to, int64_t *recorded, int64_t *expected)
{
    int64_t day;
    *recorded = *expected = -1;
    json_t *a = db_one(db,
                       "SELECT a.id, e.start_date, e.planned_end_date, e.status, a.planned_otj_minutes,"
                       " a.verified_minutes, a.break_days, a.break_open_since FROM apprenticeships a"
                       " JOIN enrolments e ON e.id = a.enrolment_id WHERE a.enrolment_id = ?",
                       "i", enrolment_id);
    if (!a || progress_day_number(to, &day) != EV_OK)
        goto out;
    *recorded = db_int(db, "SELECT COALESCE(SUM(minutes), 0) FROM otj_entries WHERE apprenticeship_id = ?"
                           " AND occurred_on <= ?", 0, "it", INT(a, "id"), to);
    json_object_set_new(a, "recorded_minutes", json_integer(*recorded));
    if (json_is_null(json_object_get(a, "break_open_since")))
        json_object_set_new(a, "break_open_since", json_string(""));
    otj_plan_t plan;
    otj_pace_t pace;
    apprenticeships_pace(a, day, &plan, &pace);
    *expected = pace.expected_minutes;
out:
    json_decref(a);
}

/* ------------------------------------------------------------------ */
/* Reading reviews                                                      */
/* ------------------------------------------------------------------ */

#define REVIEW_SELECT                                                                                         \
    "SELECT r.id, r.enrolment_id, r.learner_id, lu.name AS learner_name, r.assessor_id,"                      \
    " au.name AS assessor_name, e.qualification_id, q.title AS qualification_title, r.number, r.version,"   \
    " r.supersedes_id, (SELECT s.id FROM progress_reviews s WHERE s.supersedes_id = r.id) AS superseded_by,"  \
    " r.superseded, r.status, r.due_on, r.held_on, r.period_from, r.criteria_met, r.criteria_met_refs,"       \
    " r.evidence_submitted, r.otj_recorded_minutes, r.otj_expected_minutes, r.english_maths, r.wellbeing,"   \
    " r.safeguarding, r.safeguarding_concern, r.learner_comments, r.employer_comments, r.assessor_summary,"   \
    " r.next_review_on, r.signers, r.employer_id, r.created_at, r.updated_at, r.completed_at"               \
    " FROM progress_reviews r JOIN users lu ON lu.id = r.learner_id JOIN users au ON au.id = r.assessor_id"  \
    " JOIN enrolments e ON e.id = r.enrolment_id JOIN qualifications q ON q.id = e.qualification_id"

static const char *status_label(const char *s)
{
    if (!s)
        return "";
    if (!strcmp(s, "draft"))
        return "Being prepared";
    if (!strcmp(s, "signing"))
        return "Awaiting signatures";
    if (!strcmp(s, "declined"))
        return "Signature declined";
    if (!strcmp(s, "complete"))
        return "Complete";
    return s;
}

static const char *role_label(const char *role)
{
    return !strcmp(role, "learner") ? "Learner" : !strcmp(role, "employer") ? "Employer" : "Assessor";
}

static int signer_required(json_t *rv, const char *role)
{
    const char *s = STR(rv, "signers");
    char padded[64];
    snprintf(padded, sizeof padded, " %s ", s ? s : "");
    char want[24];
    snprintf(want, sizeof want, " %s ", role);
    return strstr(padded, want) != NULL;
}

/* Adds the labels and booleans a page shows, and the figures as one object. */
static void decorate(db_t *db, json_t *rv)
{
    const char *st = STR(rv, "status");
    json_object_set_new(rv, "status_label", json_string(status_label(st)));
    json_object_set(rv, "period_start_on", json_object_get(rv, "period_from")); /* for pages: a readable date */
    json_object_set_new(rv, "is_complete", json_boolean(st && !strcmp(st, "complete")));
    json_object_set_new(rv, "is_draft", json_boolean(st && !strcmp(st, "draft")));
    json_object_set_new(rv, "superseded", json_boolean(INT(rv, "superseded") != 0));
    json_object_set_new(rv, "safeguarding_concern", json_boolean(INT(rv, "safeguarding_concern") != 0));
    json_object_set_new(rv, "locked", json_boolean(!st || strcmp(st, "draft") != 0 || INT(rv, "superseded")));
    json_t *otj = json_null();
    if (json_is_integer(json_object_get(rv, "otj_recorded_minutes"))) {
        int64_t rec = INT(rv, "otj_recorded_minutes"), exp = INT(rv, "otj_expected_minutes");
        char rs[32], es[32];
        otj_format_minutes(rec, rs);
        otj_format_minutes(exp, es);
        otj = json_pack("{s:I, s:I, s:s, s:s, s:b}", "recorded_minutes", (json_int_t)rec, "expected_minutes",
                        (json_int_t)exp, "recorded_hours", rs, "expected_hours", es, "behind", rec < exp);
    }
    json_object_set_new(rv, "figures",
                        json_pack("{s:I, s:s, s:I, s:o}", "criteria_met", (json_int_t)INT(rv, "criteria_met"),
                                  "criteria_met_refs", STR(rv, "criteria_met_refs") ? STR(rv, "criteria_met_refs") : "",
                                  "evidence_submitted", (json_int_t)INT(rv, "evidence_submitted"), "otj", otj));
    json_t *req = json_array();
    const char *roles[] = {"learner", "employer", "assessor"};
    for (int i = 0; i < 3; i++)
        if (signer_required(rv, roles[i]))
            json_array_append_new(req, json_string(roles[i]));
    json_object_set_new(rv, "signers_required", req);
    json_object_set_new(rv, "three_way", json_boolean(json_array_size(req) == 3));
    int64_t id = INT(rv, "id");
    json_t *targets = db_all(db, "SELECT id, position, text, due_on, support FROM progress_review_targets"
                                 " WHERE review_id = ? ORDER BY position", "i", id);
    json_object_set_new(rv, "targets", targets ? targets : json_array());
    /* The previous review's targets (its current version), with this review's verdicts. */
    json_t *prev = db_all(db,
                          "SELECT t.id, t.text, t.due_on, t.support, x.outcome, x.note FROM progress_reviews p"
                          " JOIN progress_review_targets t ON t.review_id = p.id"
                          " LEFT JOIN progress_review_target_results x ON x.target_id = t.id AND x.review_id = ?"
                          " WHERE p.enrolment_id = ? AND p.number = ? AND p.superseded = 0 ORDER BY t.position",
                          "iii", id, INT(rv, "enrolment_id"), INT(rv, "number") - 1);
    size_t i;
    json_t *t;
    json_array_foreach(prev, i, t)
    {
        const char *o = STR(t, "outcome");
        json_object_set_new(t, "is_met", json_boolean(o && !strcmp(o, "met")));
        json_object_set_new(t, "is_not_met", json_boolean(o && !strcmp(o, "not_met")));
        json_object_set_new(t, "outcome_label", json_string(!o ? "Not recorded" : !strcmp(o, "met") ? "Met" : "Not met"));
    }
    json_object_set_new(rv, "previous_targets", prev ? prev : json_array());
    json_t *sigs = db_all(db,
                          "SELECT s.role, s.user_id, u.name, s.outcome, s.comment, s.reason, s.signed_at"
                          " FROM progress_review_signatures s JOIN users u ON u.id = s.user_id"
                          " WHERE s.review_id = ? ORDER BY s.id", "i", id);
    json_t *slots = json_array();
    json_array_foreach(req, i, t)
    {
        const char *role = json_string_value(t);
        json_t *slot = json_pack("{s:s, s:s, s:b, s:b}", "role", role, "role_label", role_label(role), "signed", 0,
                                 "declined", 0);
        size_t j;
        json_t *s;
        json_array_foreach(sigs, j, s) if (!strcmp(STR(s, "role"), role))
        {
            json_object_update(slot, s);
            json_object_set_new(slot, "signed", json_boolean(!strcmp(STR(s, "outcome"), "signed")));
            json_object_set_new(slot, "declined", json_boolean(!strcmp(STR(s, "outcome"), "declined")));
        }
        json_array_append_new(slots, slot);
    }
    json_decref(sigs);
    json_object_set_new(rv, "signatures", slots);
}

static json_t *review_get(db_t *db, int64_t id)
{
    json_t *rv = db_one(db, REVIEW_SELECT " WHERE r.id = ?", "i", id);
    if (rv)
        decorate(db, rv);
    return rv;
}

/* The role u signs rv as ("learner", "employer", "assessor"), or NULL. */
static const char *signer_role(db_t *db, const user_t *u, json_t *rv)
{
    if (u->role == ROLE_LEARNER && u->id == INT(rv, "learner_id"))
        return "learner";
    if (u->role == ROLE_ASSESSOR &&
        (u->id == INT(rv, "assessor_id") ||
         db_int(db, "SELECT 1 FROM enrolments WHERE id = ? AND assessor_id = ?", 0, "ii", INT(rv, "enrolment_id"),
                u->id) == 1))
        return "assessor";
    if (is_employer_contact(db, u, INT(rv, "employer_id")))
        return "employer";
    return NULL;
}

/* May u read the review? Whoever reads the learner's portfolio, and the employer's contacts. */
static int can_read_review(db_t *db, const user_t *u, json_t *rv)
{
    if (u->role == ROLE_EMPLOYER) /* only reviews of an apprenticeship with their employer */
        return is_employer_contact(db, u, INT(rv, "employer_id")) ||
               db_int(db, "SELECT 1 FROM apprenticeships a JOIN employer_contacts c ON c.employer_id = a.employer_id"
                          " WHERE a.enrolment_id = ? AND c.user_id = ?", 0, "ii", INT(rv, "enrolment_id"), u->id) == 1;
    return policy_can_read_learner(db, u, INT(rv, "learner_id"));
}

static int is_enrolment_assessor(db_t *db, const user_t *u, int64_t enrolment_id)
{
    return u->role == ROLE_ASSESSOR &&
           db_int(db, "SELECT 1 FROM enrolments WHERE id = ? AND assessor_id = ?", 0, "ii", enrolment_id, u->id) == 1;
}

/* The schedule of one enrolment for the list page: each review's due date and state. */
static json_t *enrolment_schedule(db_t *db, json_t *enr, int64_t today)
{
    char today_iso[11], next_due[11];
    progress_day_iso(today, today_iso);
    reviews_break_t breaks[MAX_BREAKS];
    size_t nb = enrolment_breaks(db, INT(enr, "id"), breaks);
    char (*d)[11] = malloc(sizeof(char[MAX_SLOTS][11]));
    int n = d ? reviews_schedule(STR(enr, "start_date"), (int)INT(enr, "review_interval_weeks"), breaks, nb, MAX_SLOTS, d)
              : -1;
    int next = next_number_and_due(db, enr, next_due);
    int active = !strcmp(STR(enr, "status"), "active");
    const char *end = STR(enr, "planned_end_date");
    json_t *list = json_array();
    for (int k = 0; k < n; k++) {
        int number = k + 1;
        if (number > next && end && strcmp(d[k], end) > 0)
            break;
        json_t *rv = db_one(db,
                            "SELECT id, status FROM progress_reviews WHERE enrolment_id = ? AND number = ?"
                            " AND superseded = 0 ORDER BY version DESC LIMIT 1",
                            "ii", INT(enr, "id"), (int64_t)number);
        const char *due = number == next && next_due[0] ? next_due : d[k];
        const char *state, *label;
        if (rv && !strcmp(STR(rv, "status"), "complete"))
            state = "complete", label = "Complete";
        else if (number == next && active && strcmp(due, today_iso) < 0)
            state = "overdue", label = rv ? "Overdue: in progress" : "Overdue";
        else if (rv)
            state = "in_progress", label = status_label(STR(rv, "status"));
        else if (number > next && active && strcmp(due, today_iso) < 0)
            state = "overdue", label = "Overdue"; /* a later review whose date has passed too */
        else if (number == next)
            state = "next", label = "Next due";
        else
            state = "upcoming", label = "Upcoming";
        json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s, s:O}", "number", number, "due_on", due, "state",
                                              state, "state_label", label, "review_id",
                                              rv ? json_object_get(rv, "id") : json_null()));
        json_decref(rv);
    }
    free(d);
    json_t *out = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:b, s:b, s:i}", "enrolment_id",
                            json_object_get(enr, "id"), "qualification_id", json_object_get(enr, "qualification_id"),
                            "qualification_title", json_object_get(enr, "qualification_title"), "start_date",
                            json_object_get(enr, "start_date"), "planned_end_date",
                            json_object_get(enr, "planned_end_date"), "interval_weeks",
                            json_object_get(enr, "review_interval_weeks"), "next_due_on", next_due,
                            "overdue", active && next_due[0] && strcmp(next_due, today_iso) < 0, "paused",
                            active && !next_due[0], "next_number", next);
    json_object_set_new(out, "schedule", list);
    json_object_set_new(out, "active", json_boolean(active));
    return out;
}

/* ------------------------------------------------------------------ */
/* Input                                                                */
/* ------------------------------------------------------------------ */

/* Reads an optional text field into rec (key), checking its length. */
static void take_text(req_t *r, json_t *rec, const char *key, const char *label)
{
    json_t *v = json_object_get(r->in, key);
    if (!v)
        return;
    if (!json_is_string(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Enter %s as text", label);
        http_field_error(r, key, msg);
        return;
    }
    if (strlen(json_string_value(v)) > TEXT_MAX) {
        char msg[160];
        snprintf(msg, sizeof msg, "Keep %s under %d characters", label, TEXT_MAX);
        http_field_error(r, key, msg);
        return;
    }
    json_object_set(rec, key, v);
}

static void take_date(req_t *r, json_t *rec, const char *key, const char *label, int allow_empty)
{
    json_t *v = json_object_get(r->in, key);
    if (!v)
        return;
    const char *s = json_string_value(v);
    if (allow_empty && (json_is_null(v) || (s && !*s))) {
        json_object_set_new(rec, key, json_null());
        return;
    }
    if (!s || !util_valid_date(s)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Enter %s as a real date, for example 2026-09-01", label);
        http_field_error(r, key, msg);
        return;
    }
    json_object_set(rec, key, v);
}

/* New targets: JSON "targets": [{text, due_on, support}] or the form's target_N_text,
 * target_N_due_on, target_N_support (rows left blank are skipped). NULL when absent. */
static json_t *take_targets(req_t *r)
{
    json_t *in = json_object_get(r->in, "targets");
    json_t *out = json_array();
    char key[48];
    if (in && !json_is_array(in)) {
        http_field_error(r, "targets", "Give the targets as a list");
        return out;
    }
    int from_form = 0;
    for (int i = 1; i <= MAX_TARGETS && !in; i++) {
        snprintf(key, sizeof key, "target_%d_text", i);
        if (json_object_get(r->in, key))
            from_form = 1;
    }
    if (!in && !from_form) {
        json_decref(out);
        return NULL;
    }
    size_t n = in ? json_array_size(in) : MAX_TARGETS;
    if (n > MAX_TARGETS) {
        http_field_error(r, "targets", "Set at most 10 targets at one review");
        return out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *text, *due, *support;
        if (in) {
            json_t *t = json_array_get(in, i);
            text = json_is_object(t) ? STR(t, "text") : NULL;
            due = json_is_object(t) ? STR(t, "due_on") : NULL;
            support = json_is_object(t) ? STR(t, "support") : NULL;
            if (!json_is_object(t) || !text) {
                http_field_error(r, "targets", "Each target needs its text");
                continue;
            }
        } else {
            snprintf(key, sizeof key, "target_%zu_text", i + 1);
            text = in_str(r, key);
            snprintf(key, sizeof key, "target_%zu_due_on", i + 1);
            due = in_str(r, key);
            snprintf(key, sizeof key, "target_%zu_support", i + 1);
            support = in_str(r, key);
            if ((!text || !*text) && (!due || !*due) && (!support || !*support))
                continue;
        }
        snprintf(key, sizeof key, "target_%zu_text", i + 1);
        if (!text || !*text) {
            http_field_error(r, in ? "targets" : key, "Enter what the target is");
            continue;
        }
        if (strlen(text) > 2000 || (support && strlen(support) > 2000)) {
            http_field_error(r, in ? "targets" : key, "Keep each target under 2000 characters");
            continue;
        }
        snprintf(key, sizeof key, "target_%zu_due_on", i + 1);
        if (due && *due && !util_valid_date(due)) {
            http_field_error(r, in ? "targets" : key, "Enter the target's date as a real date, for example 2026-09-01");
            continue;
        }
        json_array_append_new(out, json_pack("{s:s, s:s?, s:s}", "text", text, "due_on", due && *due ? due : NULL,
                                             "support", support ? support : ""));
    }
    return out;
}

/* Verdicts on the previous targets: JSON "previous_targets": [{target_id, outcome, note}]
 * or the form's result_ID = met|not_met and result_ID_note. NULL when absent. allowed:
 * the ids of the previous review's targets. */
static json_t *take_results(req_t *r, json_t *allowed)
{
    json_t *in = json_object_get(r->in, "previous_targets");
    json_t *out = json_object();
    char key[48];
    size_t i;
    json_t *t;
    int any = 0;
    if (in && !json_is_array(in)) {
        http_field_error(r, "previous_targets", "Give the previous targets as a list");
        return out;
    }
    json_array_foreach(in, i, t)
    {
        json_t *idv = json_is_object(t) ? json_object_get(t, "target_id") : NULL;
        const char *o = json_is_object(t) ? STR(t, "outcome") : NULL;
        const char *note = json_is_object(t) ? STR(t, "note") : NULL;
        int ok = 0;
        size_t j;
        json_t *a;
        json_array_foreach(allowed, j, a) if (json_is_integer(idv) && INT(a, "id") == json_integer_value(idv)) ok = 1;
        if (!ok || !o || (strcmp(o, "met") && strcmp(o, "not_met")) || (note && strlen(note) > 2000)) {
            http_field_error(r, "previous_targets",
                             "Each previous target needs its target_id from the last review and an outcome: met or not_met");
            continue;
        }
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(idv));
        json_object_set_new(out, key, json_pack("{s:s, s:s}", "outcome", o, "note", note ? note : ""));
        any = 1;
    }
    if (!in) {
        json_array_foreach(allowed, i, t)
        {
            snprintf(key, sizeof key, "result_%lld", (long long)INT(t, "id"));
            const char *o = in_str(r, key);
            if (!o)
                continue;
            any = 1;
            if (!*o)
                continue;
            if (strcmp(o, "met") && strcmp(o, "not_met")) {
                http_field_error(r, key, "Choose met or not met");
                continue;
            }
            char nkey[64];
            snprintf(nkey, sizeof nkey, "result_%lld_note", (long long)INT(t, "id"));
            const char *note = in_str(r, nkey);
            snprintf(key, sizeof key, "%lld", (long long)INT(t, "id"));
            json_object_set_new(out, key, json_pack("{s:s, s:s}", "outcome", o, "note", note ? note : ""));
        }
    }
    if (!in && !any) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Reads the record's fields from the request into a new object (only those given). */
static json_t *take_record(req_t *r)
{
    json_t *rec = json_object();
    take_date(r, rec, "held_on", "the date of the review", 0);
    take_date(r, rec, "next_review_on", "the next review date", 1);
    take_text(r, rec, "english_maths", "English and maths");
    take_text(r, rec, "wellbeing", "the wellbeing check-in");
    take_text(r, rec, "safeguarding", "the safeguarding check-in");
    take_text(r, rec, "learner_comments", "the learner's comments");
    take_text(r, rec, "employer_comments", "the employer's comments");
    take_text(r, rec, "assessor_summary", "the assessor's summary");
    if (json_object_get(r->in, "safeguarding_concern") || !r->is_api)
        json_object_set_new(rec, "safeguarding_concern", json_integer(in_bool(r, "safeguarding_concern")));
    return rec;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/* The previous review (current version) of the same enrolment, or NULL. */
static json_t *previous_review(db_t *db, int64_t enrolment_id, int64_t number)
{
    return db_one(db,
                  "SELECT id, held_on FROM progress_reviews WHERE enrolment_id = ? AND number = ? AND superseded = 0"
                  " ORDER BY version DESC LIMIT 1",
                  "ii", enrolment_id, number - 1);
}

/* Applies rec (held_on and the texts), recomputes the figures, and replaces the
 * targets and verdicts when given. Inside the caller's transaction. */
static int save_record(db_t *db, int64_t id, json_t *cur, json_t *rec, json_t *targets, json_t *results)
{
    char now[21];
    util_now_iso(now);
    static const char *texts[] = {"english_maths", "wellbeing", "safeguarding", "learner_comments",
                                  "employer_comments", "assessor_summary"};
    json_t *merged = json_deep_copy(cur);
    json_object_update(merged, rec);
    const char *held = STR(merged, "held_on");
    int64_t rec_min, exp_min;
    json_t *fig = reviews_figures(db, INT(merged, "learner_id"), INT(merged, "qualification_id"),
                                  STR(merged, "period_from"), held);
    otj_figures(db, INT(merged, "enrolment_id"), held, &rec_min, &exp_min);
    int rc = EV_ERR;
    if (!fig)
        goto out;
    if (db_run(db,
               "UPDATE progress_reviews SET held_on = ?, next_review_on = ?, english_maths = ?, wellbeing = ?,"
               " safeguarding = ?, safeguarding_concern = ?, learner_comments = ?, employer_comments = ?,"
               " assessor_summary = ?, criteria_met = ?, criteria_met_refs = ?, evidence_submitted = ?,"
               " otj_recorded_minutes = ?, otj_expected_minutes = ?, updated_at = ? WHERE id = ?",
               "tttttItttitinnti", held, STR(merged, "next_review_on"), STR(merged, texts[0]),
               STR(merged, texts[1]), STR(merged, texts[2]),
               (int)(json_is_true(json_object_get(merged, "safeguarding_concern")) ||
                     json_integer_value(json_object_get(merged, "safeguarding_concern")) != 0),
               STR(merged, texts[3]), STR(merged, texts[4]), STR(merged, texts[5]), INT(fig, "criteria_met"),
               STR(fig, "criteria_met_refs"), INT(fig, "evidence_submitted"), now, id) != EV_OK)
        goto out;
    if (rec_min >= 0 && db_run(db, "UPDATE progress_reviews SET otj_recorded_minutes = ?, otj_expected_minutes = ?"
                                   " WHERE id = ?", "iii", rec_min, exp_min, id) != EV_OK)
        goto out;
    if (targets) {
        if (db_run(db, "DELETE FROM progress_review_targets WHERE review_id = ?", "i", id) != EV_OK)
            goto out;
        size_t i;
        json_t *t;
        json_array_foreach(targets, i, t) if (db_run(db,
                                                     "INSERT INTO progress_review_targets (review_id, position, text,"
                                                     " due_on, support) VALUES (?, ?, ?, ?, ?)",
                                                     "iIttt", id, (int)i + 1, STR(t, "text"), STR(t, "due_on"),
                                                     STR(t, "support")) != EV_OK) goto out;
    }
    if (results) {
        if (db_run(db, "DELETE FROM progress_review_target_results WHERE review_id = ?", "i", id) != EV_OK)
            goto out;
        const char *k;
        json_t *v;
        json_object_foreach(results, k, v)
        {
            int64_t tid = 0;
            util_parse_i64(k, &tid);
            if (db_run(db, "INSERT INTO progress_review_target_results (review_id, target_id, outcome, note)"
                           " VALUES (?, ?, ?, ?)", "iitt", id, tid, STR(v, "outcome"), STR(v, "note")) != EV_OK)
                goto out;
        }
    }
    rc = EV_OK;
out:
    json_decref(fig);
    json_decref(merged);
    return rc;
}

/* Checks the dates of a record against each other and the schedule. */
static void check_dates(req_t *r, json_t *rv, json_t *rec, const char *next_scheduled)
{
    const char *held = STR(rec, "held_on") ? STR(rec, "held_on") : STR(rv, "held_on");
    const char *from = STR(rv, "period_from");
    json_t *nv = json_object_get(rec, "next_review_on");
    const char *next = nv ? json_string_value(nv) : STR(rv, "next_review_on");
    char today[11];
    progress_day_iso(progress_today(), today);
    if (held && from && strcmp(held, from) < 0)
        http_field_error(r, "held_on", "The date of the review must be after the last review (or the start)");
    else if (held && strcmp(held, today) > 0)
        http_field_error(r, "held_on", "The date of the review cannot be in the future");
    if (next && held && strcmp(next, held) <= 0)
        http_field_error(r, "next_review_on", "The next review date must be after this review");
    else if (next && next_scheduled && *next_scheduled && strcmp(next, next_scheduled) > 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "The next review must be on or before %s, when the schedule has it due",
                 next_scheduled);
        http_field_error(r, "next_review_on", msg);
    }
}

/* Renders the form again (pages) with the errors; the API answers the errors. */
static int form_failed(req_t *r, json_t *page_data)
{
    json_t *out = http_out(r);
    if (page_data)
        json_object_update(out, page_data);
    json_object_set(out, "form", r->in);
    r->tmpl = "review_form";
    return http_fail(r, 400, "invalid", "Check the review's details.");
}

/* ------------------------------------------------------------------ */
/* Handlers                                                             */
/* ------------------------------------------------------------------ */

/* The enrolments the user sees reviews of for a learner (employer: their apprenticeships). */
static json_t *learner_enrolments(db_t *db, const user_t *u, int64_t learner_id)
{
    if (u->role == ROLE_EMPLOYER)
        return db_all(db,
                      "SELECT e.id, e.qualification_id, q.title AS qualification_title, e.start_date,"
                      " e.planned_end_date, e.status, e.review_interval_weeks, e.assessor_id FROM enrolments e"
                      " JOIN qualifications q ON q.id = e.qualification_id JOIN apprenticeships a ON a.enrolment_id = e.id"
                      " JOIN employer_contacts c ON c.employer_id = a.employer_id"
                      " WHERE e.learner_id = ? AND c.user_id = ? ORDER BY e.id",
                      "ii", learner_id, u->id);
    json_t *rows = db_all(db,
                          "SELECT e.id, e.qualification_id, q.title AS qualification_title, e.start_date,"
                          " e.planned_end_date, e.status, e.review_interval_weeks, e.assessor_id FROM enrolments e"
                          " JOIN qualifications q ON q.id = e.qualification_id WHERE e.learner_id = ? ORDER BY e.id",
                          "i", learner_id);
    qscope_t qs = {0}; /* an EQA: only its visit's qualifications */
    if (rows && policy_qscope(db, u, learner_id, &qs) == EV_OK)
        qscope_filter(&qs, rows, "qualification_id");
    else
        json_array_clear(rows);
    qscope_free(&qs);
    return rows;
}

static int may_read_learner_reviews(db_t *db, const user_t *u, int64_t learner_id)
{
    if (u->role == ROLE_EMPLOYER) {
        return db_int(db,
                      "SELECT 1 FROM apprenticeships a JOIN employer_contacts c ON c.employer_id = a.employer_id"
                      " WHERE a.learner_id = ? AND c.user_id = ? LIMIT 1",
                      0, "ii", learner_id, u->id) == 1;
    }
    return policy_can_read_learner(db, u, learner_id);
}

/* GET /api/v1/learners/{id}/reviews, /learners/{id}/reviews */
static int reviews_index(req_t *r)
{
    int64_t learner_id = r->params[0];
    if (!may_read_learner_reviews(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such learner.");
    json_t *learner = db_one(r->db, "SELECT id, name, email FROM users WHERE id = ? AND role = 'learner'", "i", learner_id);
    if (!learner)
        return http_fail(r, 404, "not_found", "No such learner.");
    int64_t today = progress_today();
    json_t *enrs = learner_enrolments(r->db, &r->user, learner_id);
    json_t *sched = json_array(), *list = json_array();
    size_t i;
    json_t *e;
    int can_prepare = 0;
    json_array_foreach(enrs, i, e)
    {
        json_t *s = enrolment_schedule(r->db, e, today);
        int mine = r->user.role == ROLE_ASSESSOR && INT(e, "assessor_id") == r->user.id;
        /* One review per enrolment is open at a time (reviews_create answers 409 review_open):
         * while one is, the assessor is offered that review rather than a new one. */
        int64_t open_id = db_int(r->db, "SELECT id FROM progress_reviews WHERE enrolment_id = ? AND superseded = 0"
                                        " AND status <> 'complete' ORDER BY id DESC LIMIT 1",
                                 0, "i", INT(e, "id"));
        if (open_id > 0)
            json_object_set_new(s, "open_review_id", json_integer(open_id));
        json_object_set_new(s, "can_prepare",
                            json_boolean(mine && open_id <= 0 && json_is_true(json_object_get(s, "active"))));
        can_prepare |= mine;
        json_array_append_new(sched, s);
        json_t *rows = db_all(r->db, REVIEW_SELECT " WHERE r.enrolment_id = ? ORDER BY r.number DESC, r.version DESC",
                              "i", INT(e, "id"));
        size_t j;
        json_t *rv;
        json_array_foreach(rows, j, rv)
        {
            decorate(r->db, rv);
            json_array_append(list, rv);
        }
        json_decref(rows);
    }
    json_decref(enrs);
    json_t *out = http_out(r);
    json_object_set_new(out, "learner", learner);
    json_object_set_new(out, "enrolments", sched);
    json_object_set_new(out, "reviews", list);
    json_object_set_new(out, "can_prepare", json_boolean(can_prepare));
    return decisions_page_ok(r);
}

/* The form's data for a new review of enrolment enr (number, due, period, previous targets). */
static json_t *new_review_data(db_t *db, json_t *enr)
{
    char due[11];
    int number = next_number_and_due(db, enr, due);
    if (!due[0])
        due_of(db, enr, number, due);
    json_t *prev = previous_review(db, INT(enr, "id"), number);
    json_t *targets = prev ? db_all(db, "SELECT id, text, due_on, support FROM progress_review_targets"
                                        " WHERE review_id = ? ORDER BY position", "i", INT(prev, "id"))
                           : json_array();
    char from[11];
    int64_t d;
    if (prev && progress_day_number(STR(prev, "held_on"), &d) == EV_OK)
        progress_day_iso(d + 1, from);
    else
        snprintf(from, sizeof from, "%s", STR(enr, "start_date"));
    json_t *out = json_pack("{s:i, s:s, s:s, s:o}", "number", number, "due_on", due[0] ? due : STR(enr, "start_date"),
                            "period_from", from, "previous_targets", targets ? targets : json_array());
    /* with an employer contact on the apprenticeship the review is three-way (and asks for their comments) */
    json_object_set_new(out, "three_way", json_boolean(enrolment_employer(db, INT(enr, "id")) != 0));
    json_decref(prev);
    return out;
}

static json_t *form_rows(void)
{
    json_t *rows = json_array();
    for (int i = 1; i <= 3; i++)
        json_array_append_new(rows, json_pack("{s:i}", "n", i));
    return rows;
}

/* GET /learners/{id}/reviews/new?enrolment_id= : the assessor's form for a new review. */
static int reviews_new_form(req_t *r)
{
    int64_t learner_id = r->params[0], enrolment_id = 0;
    in_int(r, "enrolment_id", &enrolment_id);
    json_t *enr = enrolment_id ? db_one(r->db, "SELECT e.id, e.qualification_id, q.title AS qualification_title,"
                                               " e.start_date, e.planned_end_date, e.status, e.review_interval_weeks"
                                               " FROM enrolments e JOIN qualifications q ON q.id = e.qualification_id"
                                               " WHERE e.id = ? AND e.learner_id = ? AND e.assessor_id = ?",
                                        "iii", enrolment_id, learner_id, r->user.id)
                               : db_one(r->db, "SELECT e.id, e.qualification_id, q.title AS qualification_title,"
                                               " e.start_date, e.planned_end_date, e.status, e.review_interval_weeks"
                                               " FROM enrolments e JOIN qualifications q ON q.id = e.qualification_id"
                                               " WHERE e.learner_id = ? AND e.assessor_id = ? AND e.status = 'active'"
                                               " ORDER BY e.id LIMIT 1",
                                        "ii", learner_id, r->user.id);
    if (!enr)
        return http_fail(r, 404, "not_found", "No enrolment of this learner on your caseload.");
    /* One review per enrolment is open at a time: while one is, the form would only end
     * in 409 review_open, so the assessor is taken to that review instead. */
    int64_t open_id = db_int(r->db, "SELECT id FROM progress_reviews WHERE enrolment_id = ? AND superseded = 0"
                                    " AND status <> 'complete' ORDER BY id DESC LIMIT 1",
                             0, "i", INT(enr, "id"));
    if (open_id > 0) {
        json_decref(enr);
        http_redirect(r, "/progress-reviews/%lld", (long long)open_id);
        return 200;
    }
    json_t *out = http_out(r);
    json_t *d = new_review_data(r->db, enr);
    char today[11];
    progress_day_iso(progress_today(), today);
    json_object_set_new(out, "review", d);
    json_object_set_new(out, "enrolment", enr);
    json_object_set_new(out, "learner", db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", learner_id));
    json_object_set_new(out, "target_rows", form_rows());
    json_object_set_new(out, "form", json_pack("{s:s}", "held_on", today));
    json_object_set_new(out, "action", json_sprintf("/learners/%lld/reviews", (long long)learner_id));
    json_object_set_new(out, "is_new", json_true());
    return 200;
}

/* POST /api/v1/learners/{id}/reviews, /learners/{id}/reviews: the learner's assessor
 * prepares the next review of an enrolment (draft). 201 with the review. */
static int reviews_create(req_t *r)
{
    int64_t learner_id = r->params[0], enrolment_id = 0, id = 0;
    int status;
    json_t *enr = NULL, *d = NULL, *rec = NULL, *targets = NULL, *results = NULL, *rv = NULL, *page = NULL;
    char now[21];
    if (json_object_get(r->in, "enrolment_id") && in_int(r, "enrolment_id", &enrolment_id) != EV_OK) {
        http_field_error(r, "enrolment_id", "Choose one of the learner's enrolments");
        return http_fail(r, 400, "invalid", "Check the review's details.");
    }
    if (!policy_can_assess_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such learner on your caseload.");
    json_t *mine = db_all(r->db, "SELECT e.id, e.qualification_id, q.title AS qualification_title, e.start_date,"
                                 " e.planned_end_date, e.status, e.review_interval_weeks FROM enrolments e"
                                 " JOIN qualifications q ON q.id = e.qualification_id"
                                 " WHERE e.learner_id = ? AND e.assessor_id = ? AND e.status = 'active' ORDER BY e.id",
                          "ii", learner_id, r->user.id);
    size_t i;
    json_t *e;
    json_array_foreach(mine, i, e) if (!enrolment_id || INT(e, "id") == enrolment_id) if (!enr) enr = json_incref(e);
    if (!enr || (!enrolment_id && json_array_size(mine) > 1)) {
        json_decref(mine);
        json_decref(enr);
        http_field_error(r, "enrolment_id", json_array_size(mine) > 1 ? "Choose which enrolment the review is for"
                                                                     : "Choose an active enrolment on your caseload");
        return http_fail(r, 400, "invalid", "Check the review's details.");
    }
    json_decref(mine);
    enrolment_id = INT(enr, "id");
    d = new_review_data(r->db, enr);
    page = json_pack("{s:O, s:O, s:o, s:s, s:b}", "review", d, "enrolment", enr, "target_rows", form_rows(),
                     "action", "", "is_new", 1);
    json_object_set_new(page, "action", json_sprintf("/learners/%lld/reviews", (long long)learner_id));
    rec = take_record(r);
    if (!json_object_get(rec, "held_on") && !json_object_get(r->in, "held_on")) {
        char today[11];
        progress_day_iso(progress_today(), today);
        json_object_set_new(rec, "held_on", json_string(today));
    }
    targets = take_targets(r);
    results = take_results(r, json_object_get(d, "previous_targets"));
    char sched_next[11];
    due_of(r->db, enr, (int)INT(d, "number") + 1, sched_next);
    check_dates(r, d, rec, sched_next);
    if (http_field_error_count(r)) {
        status = form_failed(r, page);
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    db_lock_xact(r->db, LOCK_ENROLMENT(enrolment_id));
    if (db_int(r->db, "SELECT 1 FROM progress_reviews WHERE enrolment_id = ? AND superseded = 0"
                      " AND status <> 'complete' LIMIT 1", 0, "i", enrolment_id)) {
        db_rollback(r->db);
        status = http_fail(r, 409, "review_open",
                           "A review of this enrolment is still open: finish it (or correct it) before preparing the next.");
        goto out;
    }
    /* Recomputed inside the transaction: another review may have completed meanwhile. */
    json_decref(d);
    d = new_review_data(r->db, enr);
    int64_t employer_id = enrolment_employer(r->db, enrolment_id);
    util_now_iso(now);
    id = db_int(r->db,
                "INSERT INTO progress_reviews (enrolment_id, learner_id, assessor_id, number, version, status, due_on,"
                " held_on, period_from, next_review_on, signers, employer_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 1, 'draft', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                0, "iiiItttttztt", enrolment_id, learner_id, r->user.id, (int)INT(d, "number"), STR(d, "due_on"),
                STR(rec, "held_on"), STR(d, "period_from"), NULL, /* NULL: as the schedule has it */
                employer_id ? "learner employer assessor" : "learner assessor", employer_id, now, now);
    json_t *cur = id ? db_one(r->db, "SELECT id, learner_id, enrolment_id, period_from, held_on, next_review_on,"
                                     " english_maths, wellbeing, safeguarding, safeguarding_concern, learner_comments,"
                                     " employer_comments, assessor_summary FROM progress_reviews WHERE id = ?", "i", id)
                     : NULL;
    if (cur)
        json_object_set_new(cur, "qualification_id", json_integer(INT(enr, "qualification_id")));
    json_t *after = json_pack("{s:I, s:I, s:I}", "enrolment_id", (json_int_t)enrolment_id, "number",
                              (json_int_t)INT(d, "number"), "version", (json_int_t)1);
    if (!cur || save_record(r->db, id, cur, rec, targets, results) != EV_OK ||
        audit_record(r->db, r->user.id, "review.create", "progress_review", id, learner_id, NULL, after) != EV_OK ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        json_decref(cur);
        json_decref(after);
        status = db_retryable(r->db) ? http_fail(r, 409, "conflict", "Someone else changed these reviews; try again.")
                                     : http_fail(r, 500, "db_error", "Could not save the review.");
        goto out;
    }
    json_decref(cur);
    json_decref(after);
    rv = review_get(r->db, id);
    http_set_out(r, rv);
    rv = NULL;
    http_redirect(r, "/progress-reviews/%lld?done=review_saved", (long long)id);
    status = 201;
out:
    json_decref(enr);
    json_decref(d);
    json_decref(rec);
    json_decref(targets);
    json_decref(results);
    json_decref(page);
    return status;
}

/* GET /api/v1/progress-reviews/{id}, /progress-reviews/{id} */
static int review_show_in(req_t *r, int64_t id)
{
    json_t *rv = review_get(r->db, id);
    if (!rv || !can_read_review(r->db, &r->user, rv)) {
        json_decref(rv);
        return http_fail(r, 404, "not_found", "No such review.");
    }
    const char *role = signer_role(r->db, &r->user, rv);
    int signed_already = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rv, "signatures"), i, s) if (role && !strcmp(STR(s, "role"), role) &&
                                                                     STR(s, "outcome")) signed_already = 1;
    int open = !json_is_true(json_object_get(rv, "superseded")) && !json_is_true(json_object_get(rv, "is_complete"));
    int assessor = is_enrolment_assessor(r->db, &r->user, INT(rv, "enrolment_id"));
    json_t *history = db_all(r->db,
                             "SELECT r.id, r.version, r.status, r.created_at, r.completed_at, r.superseded,"
                             " u.name AS assessor_name FROM progress_reviews r JOIN users u ON u.id = r.assessor_id"
                             " WHERE r.enrolment_id = ? AND r.number = ? ORDER BY r.version DESC",
                             "ii", INT(rv, "enrolment_id"), INT(rv, "number"));
    json_array_foreach(history, i, s)
    {
        json_object_set_new(s, "status_label", json_string(status_label(STR(s, "status"))));
        json_object_set_new(s, "is_this", json_boolean(INT(s, "id") == id));
    }
    /* No date set: the next review is as the schedule has it (a break may still move it). */
    if (!json_is_string(json_object_get(rv, "next_review_on"))) {
        json_t *enr = db_one(r->db, "SELECT id, start_date, review_interval_weeks FROM enrolments WHERE id = ?", "i",
                             INT(rv, "enrolment_id"));
        char next[11] = "";
        if (enr)
            due_of(r->db, enr, (int)INT(rv, "number") + 1, next);
        json_decref(enr);
        json_object_set_new(rv, "next_review_scheduled_on", next[0] ? json_string(next) : json_null());
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "review", rv);
    json_object_set_new(out, "history", history ? history : json_array());
    json_object_set_new(out, "has_history", json_boolean(json_array_size(history) > 1));
    json_object_set_new(out, "sign_as", role ? json_string(role) : json_null());
    json_object_set_new(out, "sign_as_label", json_string(role ? role_label(role) : ""));
    json_object_set_new(out, "can_sign", json_boolean(role && open && !signed_already && signer_required(rv, role)));
    json_object_set_new(out, "can_edit", json_boolean(assessor && json_is_true(json_object_get(rv, "is_draft")) &&
                                                      !json_is_true(json_object_get(rv, "superseded"))));
    json_object_set_new(out, "can_revise", json_boolean(assessor && !json_is_true(json_object_get(rv, "is_draft")) &&
                                                        !json_is_true(json_object_get(rv, "superseded"))));
    return decisions_page_ok(r);
}

static int review_show(req_t *r)
{
    int status = review_show_in(r, r->params[0]);
    if (status == 200 && r->is_api) {
        /* The API answers the review itself, its versions beside it. */
        json_t *out = http_out(r);
        json_t *rv = json_incref(json_object_get(out, "review"));
        json_object_del(out, "review");
        json_object_update(out, rv);
        json_decref(rv);
    }
    return status;
}

/* Loads the review for a change by its enrolment's assessor: 404/403 set in r, or the review. */
static json_t *review_for_assessor(req_t *r, int64_t id, int *status)
{
    json_t *rv = review_get(r->db, id);
    *status = 0;
    if (!rv || !can_read_review(r->db, &r->user, rv))
        *status = http_fail(r, 404, "not_found", "No such review.");
    else if (!is_enrolment_assessor(r->db, &r->user, INT(rv, "enrolment_id")))
        *status = http_fail(r, 403, "forbidden", "Only the learner's assessor prepares and corrects their reviews.");
    if (*status) {
        json_decref(rv);
        return NULL;
    }
    return rv;
}

/* GET /progress-reviews/{id}/edit */
static int review_edit_form(req_t *r)
{
    int status;
    json_t *rv = review_for_assessor(r, r->params[0], &status);
    if (!rv)
        return status;
    json_t *out = http_out(r);
    json_t *rows = form_rows();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(rv, "targets"), i, t) if (i < 3)
    {
        json_t *row = json_array_get(rows, i);
        json_object_set(row, "text", json_object_get(t, "text"));
        json_object_set(row, "due_on", json_object_get(t, "due_on"));
        json_object_set(row, "support", json_object_get(t, "support"));
    }
    json_object_set_new(out, "target_rows", rows);
    json_object_set(out, "form", rv);
    json_object_set_new(out, "action", json_sprintf("/progress-reviews/%lld", (long long)r->params[0]));
    json_object_set_new(out, "learner", json_pack("{s:O, s:O}", "id", json_object_get(rv, "learner_id"), "name",
                                                   json_object_get(rv, "learner_name")));
    json_object_set_new(out, "review", rv);
    if (!json_is_true(json_object_get(rv, "is_draft")) || json_is_true(json_object_get(rv, "superseded")))
        return http_fail(r, 409, "locked", "This review has been signed, so it can no longer be edited: make a correction instead.");
    return 200;
}

/* PUT /api/v1/progress-reviews/{id}, POST /progress-reviews/{id}: the assessor edits a
 * draft (no one has signed yet). 409 locked once anyone has signed. */
static int review_update(req_t *r)
{
    int64_t id = r->params[0];
    int status;
    json_t *rec = NULL, *targets = NULL, *results = NULL, *cur = NULL, *before = NULL;
    json_t *rv = review_for_assessor(r, id, &status);
    if (!rv)
        return status;
    json_t *page = json_pack("{s:O, s:o, s:o}", "review", rv, "target_rows", form_rows(), "action",
                             json_sprintf("/progress-reviews/%lld", (long long)id));
    json_object_set_new(page, "learner", json_pack("{s:O, s:O}", "id", json_object_get(rv, "learner_id"), "name",
                                                    json_object_get(rv, "learner_name")));
    rec = take_record(r);
    targets = take_targets(r);
    results = take_results(r, json_object_get(rv, "previous_targets"));
    char sched_next[11];
    json_t *enr = db_one(r->db, "SELECT id, start_date, review_interval_weeks FROM enrolments WHERE id = ?", "i",
                         INT(rv, "enrolment_id"));
    sched_next[0] = '\0';
    if (enr)
        due_of(r->db, enr, (int)INT(rv, "number") + 1, sched_next);
    json_decref(enr);
    check_dates(r, rv, rec, sched_next);
    if (http_field_error_count(r)) {
        status = form_failed(r, page);
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    db_lock_xact(r->db, LOCK_REVIEW(id));
    cur = db_one(r->db, "SELECT r.id, r.learner_id, r.enrolment_id, r.period_from, r.held_on, r.next_review_on,"
                        " r.english_maths, r.wellbeing, r.safeguarding, r.safeguarding_concern, r.learner_comments,"
                        " r.employer_comments, r.assessor_summary, e.qualification_id FROM progress_reviews r"
                        " JOIN enrolments e ON e.id = r.enrolment_id WHERE r.id = ? AND r.status = 'draft'"
                        " AND r.superseded = 0 AND NOT EXISTS (SELECT 1 FROM progress_review_signatures s"
                        " WHERE s.review_id = r.id)",
                 "i", id);
    if (!cur) {
        db_rollback(r->db);
        status = http_fail(r, 409, "locked",
                           "This review has been signed (or replaced), so it can no longer be edited: make a correction instead.");
        goto out;
    }
    before = json_deep_copy(cur);
    json_t *after = json_deep_copy(rec);
    if (save_record(r->db, id, cur, rec, targets, results) != EV_OK ||
        audit_record(r->db, r->user.id, "review.update", "progress_review", id, INT(rv, "learner_id"), before, after) !=
            EV_OK ||
        db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        json_decref(after);
        status = http_fail(r, 500, "db_error", "Could not save the review.");
        goto out;
    }
    json_decref(after);
    http_set_out(r, review_get(r->db, id));
    http_redirect(r, "/progress-reviews/%lld?done=review_saved", (long long)id);
    status = 200;
out:
    json_decref(page);
    json_decref(rv);
    json_decref(rec);
    json_decref(targets);
    json_decref(results);
    json_decref(cur);
    json_decref(before);
    return status;
}

/* The review's status from its signatures: declined, complete or signing. */
static const char *status_from_signatures(db_t *db, int64_t id, const char *signers)
{
    if (db_int(db, "SELECT 1 FROM progress_review_signatures WHERE review_id = ? AND outcome = 'declined' LIMIT 1", 0,
               "i", id))
        return "declined";
    int need = 0, have = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", signers ? signers : "");
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        need++;
        have += db_int(db, "SELECT 1 FROM progress_review_signatures WHERE review_id = ? AND role = ?"
                           " AND outcome = 'signed'", 0, "it", id, tok) == 1;
    }
    return need > 0 && have == need ? "complete" : "signing";
}

/* Tells the signers who have not yet signed that their signature is wanted. */
static int request_signatures(db_t *db, json_t *rv)
{
    int64_t id = INT(rv, "id");
    char link[64];
    snprintf(link, sizeof link, "/progress-reviews/%lld", (long long)id);
    int rc = EV_OK;
    json_t *to = json_array();
    if (signer_required(rv, "learner") &&
        !db_int(db, "SELECT 1 FROM progress_review_signatures WHERE review_id = ? AND role = 'learner'", 0, "i", id))
        json_array_append_new(to, json_integer(INT(rv, "learner_id")));
    if (signer_required(rv, "employer") && db_table_exists(db, "employer_contacts") &&
        !db_int(db, "SELECT 1 FROM progress_review_signatures WHERE review_id = ? AND role = 'employer'", 0, "i", id)) {
        json_t *cs = db_all(db, "SELECT user_id FROM employer_contacts WHERE employer_id = ? ORDER BY user_id", "i",
                            INT(rv, "employer_id"));
        size_t i;
        json_t *c;
        json_array_foreach(cs, i, c) json_array_append(to, json_object_get(c, "user_id"));
        json_decref(cs);
    }
    size_t i;
    json_t *u;
    json_array_foreach(to, i, u) if (rc == EV_OK) rc = notify_queue(
        db, json_integer_value(u), "review_signature", link,
        json_pack("{s:s, s:s, s:s, s:I}", "learner_name", STR(rv, "learner_name"), "assessor_name",
                  STR(rv, "assessor_name"), "held_on", STR(rv, "held_on"), "number", (json_int_t)INT(rv, "number")));
    json_decref(to);
    return rc;
}

/* POST /api/v1/progress-reviews/{id}/sign, /progress-reviews/{id}/sign {decision: sign |
 * decline, comment, reason}: a required signer signs (or declines, with a reason) once,
 * in any order. The last required signature completes and locks the review. */
static int review_sign(req_t *r)
{
    int64_t id = r->params[0];
    int status;
    char now[21];
    json_t *after = NULL;
    json_t *rv = review_get(r->db, id);
    if (!rv || !can_read_review(r->db, &r->user, rv)) {
        json_decref(rv);
        return http_fail(r, 404, "not_found", "No such review.");
    }
    const char *role = signer_role(r->db, &r->user, rv);
    if (!role || !signer_required(rv, role)) {
        status = http_fail(r, 403, "not_a_signer", "You are not one of this review's signers.");
        goto out;
    }
    const char *decision = in_str(r, "decision");
    const char *comment = in_str(r, "comment"), *reason = in_str(r, "reason");
    if (!decision || !*decision)
        decision = "sign";
    if (strcmp(decision, "sign") && strcmp(decision, "decline"))
        http_field_error(r, "decision", "Choose sign or decline");
    if (comment && strlen(comment) > 4000)
        http_field_error(r, "comment", "Keep the comment under 4000 characters");
    if (!strcmp(decision, "decline") && (!reason || !*reason))
        http_field_error(r, "reason", "Enter why you are not signing");
    else if (reason && strlen(reason) > 4000)
        http_field_error(r, "reason", "Keep the reason under 4000 characters");
    if (http_field_error_count(r)) {
        review_show_in(r, id);
        status = http_fail(r, 400, "invalid", "Check your signature.");
        goto out;
    }
    int declining = !strcmp(decision, "decline");
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    db_lock_xact(r->db, LOCK_REVIEW(id));
    json_t *now_state = db_one(r->db, "SELECT status, superseded, signers FROM progress_reviews WHERE id = ?", "i", id);
    const char *st = now_state ? STR(now_state, "status") : NULL;
    const char *fail_code = !now_state                       ? "not_found"
                            : INT(now_state, "superseded")   ? "superseded"
                            : !strcmp(st, "complete")        ? "locked"
                            : db_int(r->db, "SELECT 1 FROM progress_review_signatures WHERE review_id = ? AND role = ?",
                                     0, "it", id, role)      ? "already_signed"
                                                             : NULL;
    if (fail_code) {
        db_rollback(r->db);
        json_decref(now_state);
        review_show_in(r, id);
        status = http_fail(r, 409, fail_code, "%s",
                           !strcmp(fail_code, "already_signed") ? "You have already signed this review."
                           : !strcmp(fail_code, "locked")       ? "This review is complete and locked."
                           : !strcmp(fail_code, "superseded")   ? "This version has been replaced by a correction: sign the new one."
                                                                : "No such review.");
        goto out;
    }
    util_now_iso(now);
    int ok = db_run(r->db,
                    "INSERT INTO progress_review_signatures (review_id, role, user_id, outcome, comment, reason,"
                    " signed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    "itittt" "t", id, role, r->user.id, declining ? "declined" : "signed", comment ? comment : "",
                    declining ? reason : "", now) == EV_OK;
    const char *new_status = ok ? status_from_signatures(r->db, id, STR(now_state, "signers")) : "signing";
    int complete = !strcmp(new_status, "complete");
    ok = ok && db_run(r->db, "UPDATE progress_reviews SET status = ?, completed_at = ?, updated_at = ? WHERE id = ?",
                      "ttti", new_status, complete ? now : NULL, now, id) == EV_OK;
    /* a completed review moves the next one's due date: the dashboard's overdue count
     * (kept in its snapshot, centre.c) is read afresh */
    ok = ok && (!complete || centre_mark_stale(r->db, INT(rv, "enrolment_id"), 0) == EV_OK);
    after = json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", role, "outcome", declining ? "declined" : "signed",
                      "comment", comment ? comment : "", "reason", declining ? reason : "", "status", new_status);
    ok = ok && audit_record(r->db, r->user.id, declining ? "review.decline" : "review.sign", "progress_review", id,
                            INT(rv, "learner_id"), NULL, after) == EV_OK;
    if (ok && complete)
        ok = audit_record(r->db, 0, "review.complete", "progress_review", id, INT(rv, "learner_id"), NULL, NULL) == EV_OK;
    /* The assessor's signature asks the others for theirs. */
    if (ok && !complete && !declining && !strcmp(role, "assessor"))
        ok = request_signatures(r->db, rv) == EV_OK;
    json_decref(now_state);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not save the signature.");
        goto out;
    }
    http_set_out(r, review_get(r->db, id));
    http_redirect(r, "/progress-reviews/%lld?done=%s", (long long)id,
                  complete ? "review_complete" : declining ? "review_declined" : "review_signed");
    status = 201;
out:
    json_decref(after);
    json_decref(rv);
    return status;
}

/* POST /api/v1/progress-reviews/{id}/revise, /progress-reviews/{id}/revise: the
 * assessor corrects a signed (or declined) review: a new draft version that supersedes
 * it, its fields and targets copied; the old version and its signatures stay. 201. */
static int review_revise(req_t *r)
{
    int64_t id = r->params[0], nid = 0;
    int status;
    char now[21];
    json_t *rv = review_for_assessor(r, id, &status);
    if (!rv)
        return status;
    if (db_begin(r->db) != EV_OK) {
        json_decref(rv);
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    }
    db_lock_xact(r->db, LOCK_REVIEW(id));
    util_now_iso(now);
    int ok = db_run(r->db, "UPDATE progress_reviews SET superseded = 1, updated_at = ? WHERE id = ? AND superseded = 0"
                           " AND status <> 'draft'", "ti", now, id) == EV_OK;
    int superseded = ok && db_changes(r->db) == 1;
    /* a superseded complete review no longer sets the next one's due date (centre.c) */
    ok = ok && (!superseded || centre_mark_stale(r->db, INT(rv, "enrolment_id"), 0) == EV_OK);
    if (ok && !superseded) {
        db_rollback(r->db);
        review_show_in(r, id);
        status = http_fail(r, 409, "not_correctable",
                           "Only the current version of a signed or declined review is corrected this way; edit a draft directly.");
        goto out;
    }
    int64_t employer_id = enrolment_employer(r->db, INT(rv, "enrolment_id"));
    nid = ok ? db_int(r->db,
                      "INSERT INTO progress_reviews (enrolment_id, learner_id, assessor_id, number, version,"
                      " supersedes_id, status, due_on, held_on, period_from, criteria_met, criteria_met_refs,"
                      " evidence_submitted, otj_recorded_minutes, otj_expected_minutes, english_maths, wellbeing,"
                      " safeguarding, safeguarding_concern, learner_comments, employer_comments, assessor_summary,"
                      " next_review_on, signers, employer_id, created_at, updated_at)"
                      " SELECT enrolment_id, learner_id, ?, number, version + 1, id, 'draft', due_on, held_on,"
                      " period_from, criteria_met, criteria_met_refs, evidence_submitted, otj_recorded_minutes,"
                      " otj_expected_minutes, english_maths, wellbeing, safeguarding, safeguarding_concern,"
                      " learner_comments, employer_comments, assessor_summary, next_review_on, ?, ?, ?, ?"
                      " FROM progress_reviews WHERE id = ? RETURNING id",
                      0, "itztti", r->user.id, employer_id ? "learner employer assessor" : "learner assessor",
                      employer_id, now, now, id)
             : 0;
    ok = nid > 0;
    ok = ok && db_run(r->db, "INSERT INTO progress_review_targets (review_id, position, text, due_on, support)"
                             " SELECT ?, position, text, due_on, support FROM progress_review_targets WHERE review_id = ?",
                      "ii", nid, id) == EV_OK;
    ok = ok && db_run(r->db, "INSERT INTO progress_review_target_results (review_id, target_id, outcome, note)"
                             " SELECT ?, target_id, outcome, note FROM progress_review_target_results WHERE review_id = ?",
                      "ii", nid, id) == EV_OK;
    json_t *after = json_pack("{s:I, s:I}", "supersedes_id", (json_int_t)id, "version", (json_int_t)(INT(rv, "version") + 1));
    ok = ok && audit_record(r->db, r->user.id, "review.revise", "progress_review", nid, INT(rv, "learner_id"), NULL,
                            after) == EV_OK;
    json_decref(after);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not start the correction.");
        goto out;
    }
    http_set_out(r, review_get(r->db, nid));
    http_redirect(r, "/progress-reviews/%lld/edit", (long long)nid);
    status = 201;
out:
    json_decref(rv);
    return status;
}

/* ------------------------------------------------------------------ */
/* Export                                                               */
/* ------------------------------------------------------------------ */

json_t *reviews_export_json(db_t *db, int64_t learner_id)
{
    json_t *rows = db_all(db, REVIEW_SELECT " WHERE r.learner_id = ? ORDER BY r.enrolment_id, r.number, r.version", "i",
                          learner_id);
    size_t i;
    json_t *rv;
    json_array_foreach(rows, i, rv) decorate(db, rv);
    return rows ? rows : json_array();
}

static void hx(buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_putc(b, *s);
        }
    }
}

static void dd(buf_t *b, const char *label, const char *text)
{
    buf_puts(b, "<dt>");
    hx(b, label);
    buf_puts(b, "</dt><dd>");
    hx(b, text && *text ? text : "—");
    buf_puts(b, "</dd>\n");
}

void reviews_export_html(buf_t *b, json_t *reviews)
{
    size_t i, j;
    json_t *rv, *t;
    buf_puts(b, "<h2 id=\"reviews\">Progress reviews</h2>\n");
    if (!json_array_size(reviews))
        buf_puts(b, "<p>No progress reviews yet.</p>\n");
    json_array_foreach(reviews, i, rv)
    {
        char lt[64];
        buf_printf(b, "<section class=\"review\" id=\"r%lld\"><h3>Review %lld", (long long)INT(rv, "id"),
                   (long long)INT(rv, "number"));
        if (INT(rv, "version") > 1)
            buf_printf(b, " (version %lld)", (long long)INT(rv, "version"));
        buf_puts(b, ": ");
        hx(b, STR(rv, "qualification_title"));
        buf_puts(b, "</h3>\n<p class=\"muted\">");
        hx(b, STR(rv, "status_label"));
        if (json_is_true(json_object_get(rv, "superseded")))
            buf_puts(b, " · superseded by a correction");
        buf_puts(b, " · held ");
        hx(b, STR(rv, "held_on"));
        buf_puts(b, " · due ");
        hx(b, STR(rv, "due_on"));
        buf_puts(b, "</p>\n<dl>\n");
        dd(b, "Assessor", STR(rv, "assessor_name"));
        char fig[256];
        json_t *f = json_object_get(rv, "figures");
        snprintf(fig, sizeof fig, "%lld criteria met, %lld pieces of evidence submitted (from %s)",
                 (long long)INT(f, "criteria_met"), (long long)INT(f, "evidence_submitted"),
                 STR(rv, "period_from") ? STR(rv, "period_from") : "");
        dd(b, "Progress since the last review", fig);
        dd(b, "Criteria met", STR(f, "criteria_met_refs"));
        json_t *otj = json_object_get(f, "otj");
        if (json_is_object(otj)) {
            snprintf(fig, sizeof fig, "%s hours recorded, %s expected", STR(otj, "recorded_hours"),
                     STR(otj, "expected_hours"));
            dd(b, "Off-the-job hours", fig);
        }
        dd(b, "English and maths", STR(rv, "english_maths"));
        dd(b, "Wellbeing", STR(rv, "wellbeing"));
        dd(b, "Safeguarding", STR(rv, "safeguarding"));
        dd(b, "Learner's comments", STR(rv, "learner_comments"));
        dd(b, "Employer's comments", STR(rv, "employer_comments"));
        dd(b, "Assessor's summary", STR(rv, "assessor_summary"));
        dd(b, "Next review", STR(rv, "next_review_on"));
        buf_puts(b, "</dl>\n");
        if (json_array_size(json_object_get(rv, "previous_targets"))) {
            buf_puts(b, "<p><strong>Previous targets:</strong></p><ul>\n");
            json_array_foreach(json_object_get(rv, "previous_targets"), j, t)
            {
                buf_puts(b, "<li>");
                hx(b, STR(t, "text"));
                buf_puts(b, ": ");
                hx(b, STR(t, "outcome_label"));
                buf_puts(b, "</li>\n");
            }
            buf_puts(b, "</ul>\n");
        }
        if (json_array_size(json_object_get(rv, "targets"))) {
            buf_puts(b, "<p><strong>New targets:</strong></p><ul>\n");
            json_array_foreach(json_object_get(rv, "targets"), j, t)
            {
                buf_puts(b, "<li>");
                hx(b, STR(t, "text"));
                if (STR(t, "due_on")) {
                    buf_puts(b, " (by ");
                    hx(b, STR(t, "due_on"));
                    buf_puts(b, ")");
                }
                if (STR(t, "support") && *STR(t, "support")) {
                    buf_puts(b, "; support: ");
                    hx(b, STR(t, "support"));
                }
                buf_puts(b, "</li>\n");
            }
            buf_puts(b, "</ul>\n");
        }
        buf_puts(b, "<p><strong>Signatures:</strong></p><ul>\n");
        json_array_foreach(json_object_get(rv, "signatures"), j, t)
        {
            buf_puts(b, "<li>");
            hx(b, STR(t, "role_label"));
            buf_puts(b, ": ");
            if (STR(t, "outcome")) {
                hx(b, STR(t, "name"));
                buf_puts(b, json_is_true(json_object_get(t, "signed")) ? " signed " : " declined ");
                pages_local_time_iso(STR(t, "signed_at"), lt, sizeof lt);
                buf_puts(b, "<time datetime=\"");
                hx(b, STR(t, "signed_at"));
                buf_puts(b, "\">");
                hx(b, lt);
                buf_puts(b, "</time>");
                if (STR(t, "reason") && *STR(t, "reason")) {
                    buf_puts(b, "; reason: ");
                    hx(b, STR(t, "reason"));
                }
                if (STR(t, "comment") && *STR(t, "comment")) {
                    buf_puts(b, "; comment: ");
                    hx(b, STR(t, "comment"));
                }
            } else {
                buf_puts(b, "not signed");
            }
            buf_puts(b, "</li>\n");
        }
        buf_puts(b, "</ul>\n</section>\n");
    }
}

/* ------------------------------------------------------------------ */
/* Reminders                                                            */
/* ------------------------------------------------------------------ */

int reviews_remind(db_t *db, int64_t today, int days, int *queued)
{
    int rc = EV_OK;
    char now[21], horizon[11];
    *queued = 0;
    util_now_iso(now);
    progress_day_iso(today + days, horizon);
    json_t *enrs = db_all(db,
                          "SELECT e.id, e.learner_id, e.assessor_id, e.start_date, e.review_interval_weeks,"
                          " u.name AS learner_name, q.title AS qualification_title FROM enrolments e"
                          " JOIN users u ON u.id = e.learner_id JOIN qualifications q ON q.id = e.qualification_id"
                          " WHERE e.status = 'active' ORDER BY e.id",
                          "");
    size_t i;
    json_t *e;
    json_array_foreach(enrs, i, e)
    {
        char due[11];
        int number = next_number_and_due(db, e, due);
        if (!due[0] || strcmp(due, horizon) > 0)
            continue;
        if (db_begin(db) != EV_OK)
            return EV_ERR;
        db_lock_xact(db, LOCK_ENROLMENT(INT(e, "id")));
        int fresh = db_int(db,
                           "INSERT INTO progress_review_reminders (enrolment_id, number, kind, sent_at)"
                           " VALUES (?, ?, 'due', ?) ON CONFLICT (enrolment_id, number, kind) DO NOTHING RETURNING 1",
                           0, "iIt", INT(e, "id"), number, now) == 1;
        int ok = 1;
        if (fresh) {
            char link[64];
            snprintf(link, sizeof link, "/learners/%lld/reviews", (long long)INT(e, "learner_id"));
            json_t *to = json_pack("[I, I]", (json_int_t)INT(e, "learner_id"), (json_int_t)INT(e, "assessor_id"));
            int64_t emp = enrolment_employer(db, INT(e, "id"));
            if (emp) {
                json_t *cs = db_all(db, "SELECT user_id FROM employer_contacts WHERE employer_id = ?", "i", emp);
                size_t j;
                json_t *c;
                json_array_foreach(cs, j, c) json_array_append(to, json_object_get(c, "user_id"));
                json_decref(cs);
            }
            size_t j;
            json_t *u;
            json_array_foreach(to, j, u) if (ok) ok = notify_queue(db, json_integer_value(u), "review_due", link,
                                                                json_pack("{s:s, s:s, s:s, s:i}", "learner_name",
                                                                          STR(e, "learner_name"), "qualification_title",
                                                                          STR(e, "qualification_title"), "due_on", due,
                                                                          "number", number)) == EV_OK;
            json_decref(to);
            ok = ok && audit_record(db, 0, "review.reminder", "enrolment", INT(e, "id"), INT(e, "learner_id"), NULL,
                                    NULL) == EV_OK;
        }
        if (!ok || db_commit(db) != EV_OK) {
            db_rollback(db);
            rc = EV_ERR;
            break;
        }
        *queued += fresh;
    }
    json_decref(enrs);
    return rc;
}

int reviews_cli(int argc, char **argv)
{
    const char *dbpath = "evitrack.db", *v = NULL;
    int days = 14;
    if (argc < 1 || strcmp(argv[0], "remind") != 0)
        return cli_usage_error("reviews: usage: reviews remind [--db FILE] [--days N]");
    for (int i = 1; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &dbpath))) {
            if (got < 0)
                return 2;
        } else if ((got = cli_opt(argc, argv, &i, "days", &v))) {
            int64_t n;
            if (got < 0 || util_parse_i64(v, &n) != EV_OK || n < 0 || n > 365)
                return cli_usage_error("reviews remind: --days takes a number of days from 0 to 365");
            days = (int)n;
        } else {
            return cli_usage_error("reviews remind: unknown argument %s", argv[i]);
        }
    }
    db_t *db = cli_open_db(dbpath);
    if (!db)
        return 1;
    int queued = 0;
    int rc = reviews_remind(db, progress_today(), days, &queued) == EV_OK ? 0 : 1;
    if (rc == 0)
        printf("reviews due within %d days: %d reminders queued\n", days, queued);
    else
        fprintf(stderr, "evitrack: reviews remind failed\n");
    db_close(db);
    return rc;
}

const route_t reviews_routes[] = {
    {"GET", "/api/v1/learners/{id}/reviews", reviews_index, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/learners/{id}/reviews", reviews_index, ROLE_SIGNED_IN, "reviews_list", 0},
    {"POST", "/api/v1/learners/{id}/reviews", reviews_create, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/learners/{id}/reviews", reviews_create, ROLE_ASSESSOR, "review_form", 0},
    {"GET", "/learners/{id}/reviews/new", reviews_new_form, ROLE_ASSESSOR, "review_form", 0},
    {"GET", "/api/v1/progress-reviews/{id}", review_show, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/progress-reviews/{id}", review_show, ROLE_SIGNED_IN, "review_show", 0},
    {"GET", "/progress-reviews/{id}/edit", review_edit_form, ROLE_ASSESSOR, "review_form", 0},
    {"PUT", "/api/v1/progress-reviews/{id}", review_update, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/progress-reviews/{id}", review_update, ROLE_ASSESSOR, "review_form", 0},
    {"POST", "/api/v1/progress-reviews/{id}/sign", review_sign, ROLE_LEARNER | ROLE_ASSESSOR | ROLE_EMPLOYER, NULL, 0},
    {"POST", "/progress-reviews/{id}/sign", review_sign, ROLE_LEARNER | ROLE_ASSESSOR | ROLE_EMPLOYER, "review_show", 0},
    {"POST", "/api/v1/progress-reviews/{id}/revise", review_revise, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/progress-reviews/{id}/revise", review_revise, ROLE_ASSESSOR, "review_show", 0},
    {0},
};
