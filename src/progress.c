/* progress.c: a learner's progress per qualification and unit, the pace rule, the criteria matrix */
#include "progress.h"

#include "combination.h"
#include "apprenticeships.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "pages.h"
#include "policy.h"

/* ------------------------------------------------------------------ dates */

/* Howard Hinnant's days_from_civil: proleptic Gregorian date -> days since 1970-01-01. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned mp = m > 2 ? m - 3 : m + 9;
    const unsigned doy = (153 * mp + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int progress_day_number(const char *ymd, int64_t *out)
{
    char d[11];
    if (!ymd || strlen(ymd) < 10)
        return EV_ERR;
    memcpy(d, ymd, 10);
    d[10] = '\0';
    if (!util_valid_date(d))
        return EV_ERR;
    *out = days_from_civil(atoi(d), (unsigned)atoi(d + 5), (unsigned)atoi(d + 8));
    return EV_OK;
}

int64_t progress_today(void)
{
    int64_t day;
    const char *env = getenv("EVITRACK_TODAY");
    if (env && progress_day_number(env, &day) == EV_OK)
        return day;
    return util_now_s() / 86400;
}

/* Day number -> "YYYY-MM-DD" (civil_from_days). */
void progress_day_iso(int64_t z, char out[11])
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = 0;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
}

/* -------------------------------------------------------------- the rule */

int progress_percent(int64_t met, int64_t total)
{
    if (total <= 0 || met <= 0)
        return 0;
    if (met >= total)
        return 100;
    return (int)(met * 100 / total);
}

void progress_active_days(int64_t start, int64_t end, int64_t break_days, int64_t open_since, int64_t today,
                          int64_t *plan_days, int64_t *active)
{
    int64_t total = end - start - (break_days > 0 ? break_days : 0);
    if (total < 1)
        total = 1;
    /* learning days elapsed: to today, or to the first day of a break that has begun */
    int64_t upto = open_since >= 0 && open_since <= today ? open_since : today;
    int64_t el = upto - start - (break_days > 0 ? break_days : 0);
    if (el < 0)
        el = 0;
    if (el > total)
        el = total;
    *plan_days = total;
    *active = el;
}

void progress_pace(const char *status, const char *start_date, const char *planned_end,
                   int percent, int64_t today, progress_pace_t *out)
{
    progress_pace_breaks(status, start_date, planned_end, 0, NULL, percent, today, out);
}

void progress_pace_breaks(const char *status, const char *start_date, const char *planned_end,
                          int64_t break_days, const char *break_open_since, int percent, int64_t today,
                          progress_pace_t *out)
{
    int64_t s = 0, e = 0, open = -1;
    int have_plan = progress_day_number(start_date, &s) == EV_OK &&
                    progress_day_number(planned_end, &e) == EV_OK;
    if (break_open_since && *break_open_since && progress_day_number(break_open_since, &open) != EV_OK)
        open = -1;
    memset(out, 0, sizeof *out);
    if (have_plan) {
        progress_active_days(s, e, break_days, open, today, &out->days_total, &out->days_elapsed);
        out->expected_percent = (int)(out->days_elapsed * 100 / out->days_total);
        out->days_left = e - today;
    }
    out->gap = out->expected_percent - percent;

    if (status && strcmp(status, "withdrawn") == 0)
        out->state = PACE_WITHDRAWN;
    else if ((status && strcmp(status, "completed") == 0) || percent >= 100)
        out->state = PACE_COMPLETE;
    else if (status && strcmp(status, "on_break") == 0)
        out->state = PACE_ON_BREAK;
    else if (!have_plan)
        out->state = PACE_ON_TRACK;
    else if (today > e)
        out->state = PACE_AT_RISK; /* past the planned end and not complete */
    else if (out->gap > PACE_AT_RISK_GAP)
        out->state = PACE_AT_RISK;
    else if (out->gap > PACE_BEHIND_GAP)
        out->state = PACE_BEHIND;
    else
        out->state = PACE_ON_TRACK;
}

static const char *const pace_names[PACE_COUNT] = {
    "on_track", "behind", "at_risk", "complete", "on_break", "withdrawn"};
static const char *const pace_labels[PACE_COUNT] = {
    "On track", "Behind", "At risk", "Complete", "On break", "Withdrawn"};

const char *progress_pace_name(progress_pace_state_t s)
{
    return (unsigned)s < PACE_COUNT ? pace_names[s] : "on_track";
}

const char *progress_pace_label(progress_pace_state_t s)
{
    return (unsigned)s < PACE_COUNT ? pace_labels[s] : "On track";
}

json_t *progress_pace_json(const progress_pace_t *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(progress_pace_name(p->state)));
    json_object_set_new(o, "label", json_string(progress_pace_label(p->state)));
    json_object_set_new(o, "expected_percent", json_integer(p->expected_percent));
    json_object_set_new(o, "gap", json_integer(p->gap));
    json_object_set_new(o, "days_elapsed", json_integer(p->days_elapsed));
    json_object_set_new(o, "days_total", json_integer(p->days_total));
    json_object_set_new(o, "days_left", json_integer(p->days_left));
    json_object_set_new(o, "overdue", json_boolean(p->days_left < 0 && p->days_total > 0));
    json_object_set_new(o, p->state == PACE_ON_TRACK ? "is_on_track" :
                           p->state == PACE_BEHIND ? "is_behind" :
                           p->state == PACE_AT_RISK ? "is_at_risk" :
                           p->state == PACE_COMPLETE ? "is_complete" :
                           p->state == PACE_ON_BREAK ? "is_on_break" : "is_withdrawn",
                        json_true());
    return o;
}

/* ------------------------------------------------------- criterion status */

/* ST_RPL: a KSB recognised as prior learning on the learner's apprenticeship (issue 16):
 * shown as such, counted in no total (it has no criterion_status row: status.h). */
enum { ST_NOT_STARTED, ST_MAPPED, ST_SUBMITTED, ST_MET, ST_NOT_MET, ST_RPL, ST_COUNT };
static const char *const st_names[ST_COUNT] = {"not_started", "mapped", "submitted", "met", "not_met", "rpl"};
static const char *const st_labels[ST_COUNT] = {"Not started", "Evidence mapped", "Submitted",
                                                "Met", "Not yet met", "Recognised prior learning"};

static int st_parse(const char *s)
{
    if (!s)
        return ST_NOT_STARTED;
    switch (s[0]) {
    case 'm':
        return s[1] == 'e' ? ST_MET : ST_MAPPED;
    case 's':
        return ST_SUBMITTED;
    case 'n':
        return strcmp(s, "not_met") == 0 ? ST_NOT_MET : ST_NOT_STARTED;
    case 'r':
        return strcmp(s, "rpl") == 0 ? ST_RPL : ST_NOT_STARTED;
    default:
        return ST_NOT_STARTED;
    }
}

const char *progress_status_label(const char *status)
{
    return st_labels[st_parse(status)];
}

/* --------------------------------------------- a qualification's tree, cached */

/* The structure of a qualification changes only on spec import, while every
 * progress page and matrix reads it. Each tree is loaded once per spec_version
 * (a counter bumped by triggers in 005_progress.sql) and then shared read-only
 * between threads. Trees are never freed while serving (a request may still hold
 * one); replaced trees move to a graveyard list, which also keeps them reachable. */
typedef struct tree_crit {
    int64_t id;
    int unit, outcome; /* indices into units / outcomes */
    char *ref, *text;
    char *head_html;   /* "<th scope=row>...ref + text...</th>", escaped */
} tree_crit_t;

typedef struct tree_outcome {
    int64_t id;
    int number;
    char *text;
} tree_outcome_t;

typedef struct tree_unit {
    int64_t id;
    char *ref, *title;
    char *title_html; /* escaped "ref: title" */
    int first, count; /* its criteria: crit[first .. first+count) */
} tree_unit_t;

typedef struct qtree {
    int64_t qualification_id, version;
    char *code, *title;
    int nunits, noutcomes, ncrit;
    tree_unit_t *units;
    tree_outcome_t *outcomes;
    tree_crit_t *crit;
    struct crit_key { int64_t id; int idx; } *by_id; /* criteria sorted by id */
    struct qtree *next;
} qtree_t;

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;
static qtree_t *trees, *tree_graveyard;

/* HTML-escapes s onto b (& < > " '), copying unescaped runs in one piece. */
static void esc(buf_t *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        buf_append(b, run, (size_t)(s - run));
        buf_puts(b, rep);
        run = s + 1;
    }
    buf_append(b, run, (size_t)(s - run));
}

static char *utf8_or_blank(char *s);

static char *col_dup(db_stmt_t *st, int i)
{
    const char *t = db_col_text(st, i);
    return utf8_or_blank(xstrdup(t ? t : ""));
}

static int by_id_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct crit_key *)a)->id, y = ((const struct crit_key *)b)->id;
    return x < y ? -1 : x > y;
}

/* Strings kept in a tree are checked as UTF-8 once here, so the JSON built from
 * them per request can skip the check (json_string_nocheck). */
static char *utf8_or_blank(char *s)
{
    json_t *j = json_string(s);
    if (j) {
        json_decref(j);
        return s;
    }
    free(s);
    return xstrdup("?");
}

static qtree_t *tree_load(db_t *db, int64_t qid, int64_t version)
{
    json_t *q = db_one(db, "SELECT code, title FROM qualifications WHERE id = ?", "i", qid);
    if (!q)
        return NULL;
    qtree_t *t = xcalloc(1, sizeof *t);
    t->qualification_id = qid;
    t->version = version;
    const char *code = json_string_value(json_object_get(q, "code"));
    const char *title = json_string_value(json_object_get(q, "title"));
    t->code = xstrdup(code ? code : "");
    t->title = xstrdup(title ? title : "");
    json_decref(q);

    db_stmt_t *st = db_query(db,
        "SELECT u.id, u.ref, u.title, o.id, o.number, o.text, c.id, c.ref, c.text"
        " FROM units u JOIN criteria c ON c.unit_id = u.id JOIN outcomes o ON o.id = c.outcome_id"
        " WHERE u.qualification_id = ? AND u.retired = 0 AND c.retired = 0"
        " ORDER BY u.position, u.id, o.number, o.id, c.position, c.id", "i", qid);
    int cap = 0, ucap = 0, ocap = 0;
    while (st && db_next(st) == 1) {
        int64_t uid = db_col_int(st, 0), oid = db_col_int(st, 3);
        if (t->nunits == 0 || t->units[t->nunits - 1].id != uid) {
            if (t->nunits == ucap) {
                ucap = ucap ? ucap * 2 : 16;
                t->units = xrealloc(t->units, (size_t)ucap * sizeof *t->units);
            }
            tree_unit_t *u = &t->units[t->nunits++];
            u->id = uid;
            u->ref = col_dup(st, 1);
            u->title = col_dup(st, 2);
            buf_t b = {0};
            esc(&b, u->ref);
            buf_puts(&b, ": ");
            esc(&b, u->title);
            u->title_html = buf_take(&b);
            u->first = t->ncrit;
            u->count = 0;
        }
        if (t->noutcomes == 0 || t->outcomes[t->noutcomes - 1].id != oid) {
            if (t->noutcomes == ocap) {
                ocap = ocap ? ocap * 2 : 32;
                t->outcomes = xrealloc(t->outcomes, (size_t)ocap * sizeof *t->outcomes);
            }
            tree_outcome_t *o = &t->outcomes[t->noutcomes++];
            o->id = oid;
            o->number = (int)db_col_int(st, 4);
            o->text = col_dup(st, 5);
        }
        if (t->ncrit == cap) {
            cap = cap ? cap * 2 : 64;
            t->crit = xrealloc(t->crit, (size_t)cap * sizeof *t->crit);
        }
        tree_crit_t *c = &t->crit[t->ncrit++];
        c->id = db_col_int(st, 6);
        c->unit = t->nunits - 1;
        c->outcome = t->noutcomes - 1;
        c->ref = col_dup(st, 7);
        c->text = col_dup(st, 8);
        buf_t b = {0};
        buf_puts(&b, "<th scope=\"row\" class=\"mx-crit\"><span class=\"mx-ref\">");
        esc(&b, c->ref);
        buf_puts(&b, "</span> ");
        esc(&b, c->text);
        buf_puts(&b, "</th>");
        c->head_html = buf_take(&b);
        t->units[t->nunits - 1].count++;
    }
    if (st)
        db_stmt_done(st);
    t->by_id = xmalloc((size_t)(t->ncrit ? t->ncrit : 1) * sizeof *t->by_id);
    for (int i = 0; i < t->ncrit; i++) {
        t->by_id[i].id = t->crit[i].id;
        t->by_id[i].idx = i;
    }
    qsort(t->by_id, (size_t)t->ncrit, sizeof *t->by_id, by_id_cmp);
    return t;
}

/* The current tree of qualification qid, or NULL when there is no such qualification. */
static const qtree_t *tree_get(db_t *db, int64_t qid)
{
    int64_t v = db_int(db, "SELECT version FROM spec_version WHERE id = 1", -1, "");
    qtree_t *t;
    pthread_mutex_lock(&tree_lock);
    for (t = trees; t; t = t->next)
        if (t->qualification_id == qid && t->version == v)
            break;
    pthread_mutex_unlock(&tree_lock);
    if (t)
        return t;
    t = tree_load(db, qid, v);
    if (!t)
        return NULL;
    pthread_mutex_lock(&tree_lock);
    /* retire this qualification's older trees */
    qtree_t **pp = &trees;
    while (*pp) {
        qtree_t *x = *pp;
        if (x->qualification_id == qid || x->version != v) {
            *pp = x->next;
            x->next = tree_graveyard;
            tree_graveyard = x;
        } else {
            pp = &x->next;
        }
    }
    t->next = trees;
    trees = t;
    pthread_mutex_unlock(&tree_lock);
    return t;
}

/* Index into t->crit of criterion id, or -1. */
static int tree_find(const qtree_t *t, int64_t id)
{
    int lo = 0, hi = t->ncrit - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int64_t x = t->by_id[mid].id;
        if (x == id)
            return t->by_id[mid].idx;
        if (x < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* ------------------------------------------------- one learner's statuses */

typedef struct cstat {
    int64_t criterion_id, decision_id;
    int status;
} cstat_t;

typedef struct cstats {
    cstat_t *v;
    int n;
} cstats_t;

/* Every criterion_status row of a learner, in criterion id order (the table's key order). */
static void cstats_load(db_t *db, int64_t learner_id, cstats_t *out)
{
    int cap = 0;
    out->v = NULL;
    out->n = 0;
    db_stmt_t *st = db_query(db,
        "SELECT criterion_id, status, decision_id FROM criterion_status WHERE learner_id = ?"
        " ORDER BY criterion_id", "i", learner_id);
    while (st && db_next(st) == 1) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 128;
            out->v = xrealloc(out->v, (size_t)cap * sizeof *out->v);
        }
        cstat_t *c = &out->v[out->n++];
        c->criterion_id = db_col_int(st, 0);
        c->status = st_parse(db_col_text(st, 1));
        c->decision_id = db_col_int(st, 2);
    }
    if (st)
        db_stmt_done(st);
}

static const cstat_t *cstats_find(const cstats_t *s, int64_t criterion_id)
{
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int64_t x = s->v[mid].criterion_id;
        if (x == criterion_id)
            return &s->v[mid];
        if (x < criterion_id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* The criteria a learner's apprenticeships recognise as prior learning, sorted. */
typedef struct rpl_set {
    int64_t *v;
    int n;
} rpl_set_t;

static void rpl_load(db_t *db, int64_t learner_id, rpl_set_t *out)
{
    int cap = 0;
    out->v = NULL;
    out->n = 0;
    db_stmt_t *st = db_query(db, "SELECT k.criterion_id FROM apprenticeship_rpl_ksbs k"
                                 " JOIN apprenticeships a ON a.id = k.apprenticeship_id WHERE a.learner_id = ?"
                                 " ORDER BY k.criterion_id", "i", learner_id);
    while (st && db_next(st) == 1) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->v = xrealloc(out->v, (size_t)cap * sizeof *out->v);
        }
        out->v[out->n++] = db_col_int(st, 0);
    }
    if (st)
        db_stmt_done(st);
}

static int rpl_has(const rpl_set_t *s, int64_t criterion_id)
{
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s->v[mid] == criterion_id)
            return 1;
        if (s->v[mid] < criterion_id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

/* A criterion's status for the learner: recognised prior learning, or its row's. */
static int crit_status(const cstats_t *cs, const rpl_set_t *rpl, int64_t criterion_id)
{
    if (rpl->n && rpl_has(rpl, criterion_id))
        return ST_RPL;
    const cstat_t *s = cstats_find(cs, criterion_id);
    return s ? s->status : ST_NOT_STARTED;
}

/* ------------------------------------------------------ counts and charts */

typedef struct counts {
    int64_t n[ST_COUNT];
    int64_t total;
} counts_t;

static void counts_json(json_t *o, const counts_t *c)
{
    json_object_set_new(o, "total", json_integer(c->total));
    json_object_set_new(o, "met", json_integer(c->n[ST_MET]));
    json_object_set_new(o, "submitted", json_integer(c->n[ST_SUBMITTED]));
    json_object_set_new(o, "mapped", json_integer(c->n[ST_MAPPED]));
    json_object_set_new(o, "not_met", json_integer(c->n[ST_NOT_MET]));
    json_object_set_new(o, "not_started", json_integer(c->n[ST_NOT_STARTED]));
    /* recognised prior learning: outside total and percent */
    json_object_set_new(o, "rpl", json_integer(c->n[ST_RPL]));
    json_object_set_new(o, "percent", json_integer(progress_percent(c->n[ST_MET], c->total)));
}

static json_t *fixed2(double v)
{
    char s[32];
    snprintf(s, sizeof s, "%.2f", v);
    return json_string(s);
}

/* Page-only geometry for the SVG stacked bar (viewBox 0 0 100 h) and donut
 * (circumference 100), from an object holding the counts. */
static void add_chart_parts(json_t *o, int donut_too);

static void add_chart(json_t *o)
{
    add_chart_parts(o, 1);
}

/* add_chart with the donut only when donut_too (the matrix page draws the bar alone). */
static void add_chart_parts(json_t *o, int donut_too)
{
    static const char *const seg[] = {"met", "submitted", "not_met", "mapped"};
    double total = (double)json_integer_value(json_object_get(o, "total"));
    static const char *const seg_x[] = {"met_x", "submitted_x", "not_met_x", "mapped_x"};
    json_t *bar = json_object(), *donut = donut_too ? json_array() : NULL;
    double x = 0;
    for (size_t i = 0; i < sizeof seg / sizeof *seg; i++) {
        double w = total > 0 ? 100.0 * (double)json_integer_value(json_object_get(o, seg[i])) / total : 0;
        json_object_set_new(bar, seg_x[i], fixed2(x));
        json_object_set_new(bar, seg[i], fixed2(w));
        if (w > 0 && donut) {
            json_t *d = json_object();
            json_object_set_new(d, "kind", json_string(seg[i]));
            json_object_set_new(d, "len", fixed2(w));
            json_object_set_new(d, "rest", fixed2(100.0 - w));
            json_object_set_new(d, "offset", fixed2(25.0 - x));
            json_array_append_new(donut, d);
        }
        x += w;
    }
    json_object_set_new(o, "bar", bar);
    if (donut)
        json_object_set_new(o, "donut", donut);
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ------------------------------------------------------ progress document */

static json_t *learner_row(db_t *db, int64_t learner_id)
{
    return db_one(db, "SELECT id, name, email FROM users WHERE id = ? AND role = 'learner'",
                  "i", learner_id);
}

/* The enrolments of a learner with names, as prepared statement rows. */
#define ENROLMENTS_SQL \
    "SELECT e.id, e.qualification_id, q.code, q.title, e.status, e.start_date," \
    " e.planned_end_date, e.assessor_id, a.name, e.iqa_id, i.name, ap.break_days, ap.break_open_since" \
    " FROM enrolments e JOIN qualifications q ON q.id = e.qualification_id" \
    " JOIN users a ON a.id = e.assessor_id LEFT JOIN users i ON i.id = e.iqa_id" \
    " LEFT JOIN apprenticeships ap ON ap.enrolment_id = e.id" \
    " WHERE e.learner_id = ? ORDER BY e.id"

static json_t *enrolment_json(db_stmt_t *st)
{
    json_t *e = json_object();
    json_object_set_new(e, "enrolment_id", json_integer(db_col_int(st, 0)));
    json_object_set_new(e, "qualification_id", json_integer(db_col_int(st, 1)));
    json_object_set_new(e, "code", jstr(db_col_text(st, 2)));
    json_object_set_new(e, "title", jstr(db_col_text(st, 3)));
    json_object_set_new(e, "status", jstr(db_col_text(st, 4)));
    json_object_set_new(e, "start_date", jstr(db_col_text(st, 5)));
    json_object_set_new(e, "planned_end_date", jstr(db_col_text(st, 6)));
    /* an apprenticeship's breaks in learning: the pace pauses for them (progress_pace_breaks) */
    json_object_set_new(e, "break_days", json_integer(db_col_int(st, 11)));
    json_object_set_new(e, "break_open_since", db_col_is_null(st, 12) ? json_null() : jstr(db_col_text(st, 12)));
    json_t *a = json_object();
    json_object_set_new(a, "id", json_integer(db_col_int(st, 7)));
    json_object_set_new(a, "name", jstr(db_col_text(st, 8)));
    json_object_set_new(e, "assessor", a);
    if (!db_col_is_null(st, 9)) {
        json_t *i = json_object();
        json_object_set_new(i, "id", json_integer(db_col_int(st, 9)));
        json_object_set_new(i, "name", jstr(db_col_text(st, 10)));
        json_object_set_new(e, "iqa", i);
    } else {
        json_object_set_new(e, "iqa", json_null());
    }
    return e;
}

static json_t *load_enrolments(db_t *db, int64_t learner_id)
{
    json_t *arr = json_array();
    db_stmt_t *st = db_query(db, ENROLMENTS_SQL, "i", learner_id);
    while (st && db_next(st) == 1)
        json_array_append_new(arr, enrolment_json(st));
    if (st)
        db_stmt_done(st);
    return arr;
}

static void set_pace(json_t *e, int64_t today)
{
    progress_pace_t p;
    progress_pace_breaks(json_string_value(json_object_get(e, "status")),
                         json_string_value(json_object_get(e, "start_date")),
                         json_string_value(json_object_get(e, "planned_end_date")),
                         json_integer_value(json_object_get(e, "break_days")),
                         json_string_value(json_object_get(e, "break_open_since")),
                         (int)json_integer_value(json_object_get(e, "percent")), today, &p);
    json_object_set_new(e, "pace", progress_pace_json(&p));
}

/* Fills one enrolment object with counts, pace and units[criteria[]]. */
static void fill_enrolment(db_t *db, json_t *e, const cstats_t *cs, const rpl_set_t *rpl, int64_t today)
{
    int64_t qid = json_integer_value(json_object_get(e, "qualification_id"));
    const qtree_t *t = tree_get(db, qid);
    json_t *units = json_array();
    counts_t qc = {0};
    for (int ui = 0; t && ui < t->nunits; ui++) {
        const tree_unit_t *u = &t->units[ui];
        counts_t uc = {0};
        json_t *uo = json_object(), *crits = json_array();
        json_object_set_new(uo, "id", json_integer(u->id));
        json_object_set_new(uo, "ref", json_string_nocheck(u->ref));
        json_object_set_new(uo, "title", json_string_nocheck(u->title));
        for (int k = u->first; k < u->first + u->count; k++) {
            const tree_crit_t *c = &t->crit[k];
            const cstat_t *s = cstats_find(cs, c->id);
            int stv = crit_status(cs, rpl, c->id);
            uc.n[stv]++;
            uc.total += stv != ST_RPL;
            json_t *co = json_object();
            json_object_set_new(co, "id", json_integer(c->id));
            json_object_set_new(co, "ref", json_string_nocheck(c->ref));
            json_object_set_new(co, "text", json_string_nocheck(c->text));
            json_object_set_new(co, "outcome", json_integer(t->outcomes[c->outcome].number));
            json_object_set_new(co, "status", json_string_nocheck(st_names[stv]));
            json_object_set_new(co, "status_label", json_string_nocheck(st_labels[stv]));
            json_object_set_new(co, "decision_id",
                                s && s->decision_id && stv != ST_RPL ? json_integer(s->decision_id) : json_null());
            json_array_append_new(crits, co);
        }
        counts_json(uo, &uc);
        json_object_set_new(uo, "criteria", crits);
        json_array_append_new(units, uo);
        for (int k = 0; k < ST_COUNT; k++)
            qc.n[k] += uc.n[k];
        qc.total += uc.total;
    }
    counts_json(e, &qc);
    json_object_set_new(e, "units", units);
    /* A qualification with rules of combination: percent and achievement by credits. */
    json_t *rules = combination_progress(db, json_integer_value(json_object_get(e, "enrolment_id")), qid, units);
    if (rules) {
        json_object_set(e, "percent", json_object_get(rules, "percent"));
        json_object_set(e, "achieved", json_object_get(rules, "achieved"));
        json_object_set_new(e, "rules", rules);
    }
    set_pace(e, today);
}

json_t *progress_learner(db_t *db, int64_t learner_id, int64_t today)
{
    json_t *learner = learner_row(db, learner_id);
    if (!learner)
        return NULL;
    json_t *doc = json_object();
    char day[11];
    progress_day_iso(today, day);
    json_object_set_new(doc, "learner", learner);
    json_object_set_new(doc, "today", json_string(day));
    json_t *quals = load_enrolments(db, learner_id);
    cstats_t cs;
    cstats_load(db, learner_id, &cs);
    rpl_set_t rpl;
    rpl_load(db, learner_id, &rpl);
    size_t i;
    json_t *e;
    json_array_foreach(quals, i, e)
        fill_enrolment(db, e, &cs, &rpl, today);
    free(cs.v);
    free(rpl.v);
    json_object_set_new(doc, "qualifications", quals);
    return doc;
}

/* --------------------------------------------------------------- matrix */

/* Cell bits: the evidence is mapped to the criterion; the criterion's current
 * decision was made on this evidence. */
enum { CELL_MAPPED = 1, CELL_DECIDED = 2 };

static const char *kind_label(const char *k)
{
    static const char *const kinds[][2] = {
        {"observation", "Observation"},
        {"witness_testimony", "Witness testimony"},
        {"professional_discussion", "Professional discussion"},
        {"product", "Product"},
        {"reflective_account", "Reflective account"},
        {"question_and_answer", "Question and answer"},
        {"recognition_of_prior_learning", "Recognition of prior learning"},
    };
    for (size_t i = 0; k && i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(k, kinds[i][0]) == 0)
            return kinds[i][1];
    return k ? k : "";
}

static int col_find(const int64_t *ids, int n, int64_t id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ids[mid] == id)
            return mid;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* One cell's class and content; a mapped cell carries its column's label
 * ("E3") for the phone layout, where rows stack and each cell names its
 * evidence (app.css, .mx on narrow screens). Appended in pieces (no printf:
 * the matrix writes 1,440 cells a page). */
static void cell_html(buf_t *b, unsigned bits, int crit_status, int ev_submitted, const char *label, size_t label_len)
{
    if (!bits) {
        buf_append(b, "<td></td>", 9);
        return;
    }
#define CELL_OPEN(cls) "<td class=\"mx-c " cls "\" data-label=\"E"
#define CELL_MID(sym) "\"><span aria-hidden=\"true\">" sym "</span><span class=\"pg-vh\">"
#define CELL_PUT(s) buf_append(b, s, sizeof s - 1)
    int met = crit_status == ST_MET;
    if (bits & CELL_DECIDED) {
        if (met)
            CELL_PUT(CELL_OPEN("mx-met"));
        else
            CELL_PUT(CELL_OPEN("mx-not-met"));
    } else if (ev_submitted) {
        CELL_PUT(CELL_OPEN("mx-submitted"));
    } else {
        CELL_PUT(CELL_OPEN("mx-mapped"));
    }
    buf_append(b, label, label_len);
    if (bits & CELL_DECIDED) {
        if (met)
            CELL_PUT(CELL_MID("&#10003;") "mapped, met</span></td>");
        else
            CELL_PUT(CELL_MID("&#10007;") "mapped, not yet met</span></td>");
    } else if (ev_submitted) {
        CELL_PUT(CELL_MID("&#9679;") "mapped, submitted</span></td>");
    } else {
        CELL_PUT(CELL_MID("&#9675;") "mapped</span></td>");
    }
#undef CELL_OPEN
#undef CELL_MID
#undef CELL_PUT
}

/* A cell's name in the JSON: an index into CELL_NAMES, or -1 for an empty cell (null). */
static const char *const CELL_NAMES[] = {"met", "not_met", "submitted", "mapped"};

static int cell_name(unsigned bits, int crit_status, int ev_submitted)
{
    if (!bits)
        return -1;
    if (bits & CELL_DECIDED)
        return crit_status == ST_MET ? 0 : 1;
    return ev_submitted ? 2 : 3;
}

json_t *progress_matrix(db_t *db, int64_t learner_id, int64_t qualification_id,
                        int64_t limit, int64_t offset, int want_html)
{
    return progress_matrix_for(db, NULL, learner_id, qualification_id, limit, offset, want_html);
}

/* One evidence column of the matrix page: its header cell onto head (a link "E7" titled
 * with the evidence's title) and its entry in the key below the table onto list (title,
 * kind, date, status), as templates/matrix.mustache drew them from JSON; every text
 * escaped. The strings are the row's (title, kind, status may be NULL). */
static void column_html(buf_t *head, buf_t *list, int64_t id, int64_t number, const char *title, const char *kind,
                        const char *status, const char *occurred_on)
{
    char ids[24], num[24], date[48];
    int il = util_int_text(ids, id), nl = util_int_text(num, number);
    buf_puts(head, "<th scope=\"col\" class=\"mx-ev\"><a href=\"/evidence/");
    buf_append(head, ids, (size_t)il);
    buf_puts(head, "\" title=\"");
    esc(head, title ? title : "");
    buf_puts(head, "\">E");
    buf_append(head, num, (size_t)nl);
    buf_puts(head, "</a></th>");
    buf_puts(list, "<div><dt>E");
    buf_append(list, num, (size_t)nl);
    buf_puts(list, "</dt><dd><a href=\"/evidence/");
    buf_append(list, ids, (size_t)il);
    buf_puts(list, "\">");
    esc(list, title ? title : "");
    buf_puts(list, "</a> <span class=\"muted\">");
    esc(list, kind_label(kind));
    if (occurred_on && *occurred_on) {
        pages_date_text(occurred_on, date, sizeof date);
        buf_puts(list, ", ");
        esc(list, date);
    }
    buf_puts(list, "</span> <span class=\"tag tag--");
    esc(list, status ? status : "");
    buf_puts(list, "\">");
    esc(list, evidence_status_label(status));
    buf_puts(list, "</span></dd></div>");
}

json_t *progress_matrix_for(db_t *db, const user_t *reader, int64_t learner_id, int64_t qualification_id,
                            int64_t limit, int64_t offset, int want_html)
{
    int64_t eqa; /* an EQA's columns: only the evidence mapped to its visit's qualifications */
    char now[21];
    policy_qscope_binds(reader, &eqa, now);
    const qtree_t *t = tree_get(db, qualification_id);
    if (!t)
        return NULL;
    json_t *doc = json_object();
    json_t *q = json_object();
    json_object_set_new(q, "id", json_integer(t->qualification_id));
    json_object_set_new(q, "code", json_string_nocheck(t->code));
    json_object_set_new(q, "title", json_string_nocheck(t->title));
    json_object_set_new(doc, "qualification", q);

    /* evidence columns, oldest first */
    int ncols = 0, colcap = limit > 0 && limit <= 1000 ? (int)limit : 1000;
    int64_t *col_ids = xmalloc((size_t)colcap * sizeof *col_ids);
    unsigned char *col_sub = xmalloc((size_t)colcap);
    json_t *cols = json_array();
    db_stmt_t *st = db_query(db,
        "SELECT e.id, e.title, e.kind, e.status, e.occurred_on FROM evidence e WHERE e.learner_id = ?"
        " AND " POLICY_QSCOPE_EVIDENCE_SQL("e.id", "e.learner_id") " ORDER BY e.id LIMIT ? OFFSET ?",
        "iiittii", learner_id, eqa, eqa, now, now, (int64_t)colcap, offset);
    buf_t head_html = {0}, list_html = {0}; /* pages: the columns' header cells and their key */
    while (st && db_next(st) == 1 && ncols < colcap) {
        const char *status = db_col_text(st, 3);
        col_ids[ncols] = db_col_int(st, 0);
        col_sub[ncols] = status && strcmp(status, "submitted") == 0;
        if (want_html) {
            column_html(&head_html, &list_html, col_ids[ncols], offset + ncols + 1, db_col_text(st, 1),
                        db_col_text(st, 2), status, db_col_text(st, 4));
            ncols++;
            continue;
        }
        json_t *c = json_object();
        json_object_set_new(c, "id", json_integer(col_ids[ncols]));
        json_object_set_new(c, "status_label", json_string(evidence_status_label(status)));
        json_object_set_new(c, "number", json_integer(offset + ncols + 1));
        json_object_set_new(c, "title", jstr(db_col_text(st, 1)));
        json_object_set_new(c, "kind", jstr(db_col_text(st, 2)));
        json_object_set_new(c, "kind_label", json_string(kind_label(db_col_text(st, 2))));
        json_object_set_new(c, "status", jstr(db_col_text(st, 3)));
        json_object_set_new(c, "occurred_on", jstr(db_col_text(st, 4)));
        json_array_append_new(cols, c);
        ncols++;
    }
    if (st)
        db_stmt_done(st);
    if (want_html) {
        /* the page draws the columns from these two pieces (no JSON to build, walk and free) */
        json_decref(cols);
        json_object_set_new(doc, "has_evidence", json_boolean(ncols > 0));
        json_object_set_new(doc, "columns_head_html", json_stringn_nocheck(head_html.data ? head_html.data : "", head_html.len));
        json_object_set_new(doc, "columns_list_html", json_stringn_nocheck(list_html.data ? list_html.data : "", list_html.len));
    } else {
        json_object_set_new(doc, "evidence", cols);
    }
    buf_free(&head_html);
    buf_free(&list_html);
    json_object_set_new(doc, "evidence_total",
                        json_integer(db_int(db, "SELECT count(*) FROM evidence e WHERE e.learner_id = ?"
                                                " AND " POLICY_QSCOPE_EVIDENCE_SQL("e.id", "e.learner_id"),
                                            0, "iiitt", learner_id, eqa, eqa, now, now)));

    /* the grid: one byte per criterion x column */
    unsigned char *grid = xcalloc((size_t)(t->ncrit ? t->ncrit : 1) * (size_t)(ncols ? ncols : 1), 1);
    if (ncols) {
        st = db_query(db, "SELECT criterion_id, evidence_id FROM evidence_criteria"
                         " WHERE learner_id = ? AND evidence_id BETWEEN ? AND ?",
                     "iii", learner_id, col_ids[0], col_ids[ncols - 1]);
        while (st && db_next(st) == 1) {
            int row = tree_find(t, db_col_int(st, 0));
            int col = col_find(col_ids, ncols, db_col_int(st, 1));
            if (row >= 0 && col >= 0)
                grid[(size_t)row * (size_t)ncols + (size_t)col] |= CELL_MAPPED;
        }
        if (st)
            db_stmt_done(st);
    }
    /* Each criterion's status and, in the same read, the evidence its current
     * decision was made on (one row per piece; a criterion with no decision, or
     * a decision on no evidence, comes once with a NULL evidence id). */
    cstats_t cs = {0};
    int cscap = 0;
    st = db_query(db, "SELECT cs.criterion_id, cs.status, cs.decision_id, de.evidence_id FROM criterion_status cs"
                     " LEFT JOIN decision_evidence de ON de.decision_id = cs.decision_id"
                     " WHERE cs.learner_id = ? ORDER BY cs.criterion_id",
                 "i", learner_id);
    while (st && db_next(st) == 1) {
        int64_t cid = db_col_int(st, 0);
        if (cs.n == 0 || cs.v[cs.n - 1].criterion_id != cid) {
            if (cs.n == cscap) {
                cscap = cscap ? cscap * 2 : 128;
                cs.v = xrealloc(cs.v, (size_t)cscap * sizeof *cs.v);
            }
            cstat_t *c = &cs.v[cs.n++];
            c->criterion_id = cid;
            c->status = st_parse(db_col_text(st, 1));
            c->decision_id = db_col_int(st, 2);
        }
        if (ncols && !db_col_is_null(st, 3)) {
            int row = tree_find(t, cid);
            int col = col_find(col_ids, ncols, db_col_int(st, 3));
            if (row >= 0 && col >= 0)
                grid[(size_t)row * (size_t)ncols + (size_t)col] |= CELL_DECIDED;
        }
    }
    if (st)
        db_stmt_done(st);
    rpl_set_t rpl;
    rpl_load(db, learner_id, &rpl);
    counts_t qc = {0};
    buf_t html = {0};
    json_t *units = want_html ? NULL : json_array();
    /* the JSON's cells share one string per name (1,440 cells, four names) */
    json_t *cell_names[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; !want_html && i < 4; i++)
        cell_names[i] = json_string_nocheck(CELL_NAMES[i]);
    int span = ncols + 2;
    char span_text[24];
    int sl = snprintf(span_text, sizeof span_text, "%d", span);
    size_t span_len = (size_t)(sl > 0 ? sl : 0);
    /* each column's label ("E13") for the phone layout, made once */
    char (*labels)[24] = want_html ? xmalloc((size_t)(ncols ? ncols : 1) * sizeof *labels) : NULL;
    size_t *label_len = want_html ? xmalloc((size_t)(ncols ? ncols : 1) * sizeof *label_len) : NULL;
    for (int j = 0; want_html && j < ncols; j++)
        label_len[j] = (size_t)util_int_text(labels[j], offset + j + 1);
    if (want_html)
        buf_reserve(&html, (size_t)t->ncrit * (220 + (size_t)ncols * 16) + 4096);
    for (int ui = 0; ui < t->nunits; ui++) {
        const tree_unit_t *u = &t->units[ui];
        json_t *uo = NULL, *outs = NULL, *oo = NULL, *crits = NULL;
        if (want_html) {
            buf_puts(&html, "<tr class=\"mx-unit\"><th scope=\"colgroup\" colspan=\"");
            buf_append(&html, span_text, span_len);
            buf_puts(&html, "\">Unit ");
            buf_puts(&html, u->title_html);
            buf_puts(&html, "</th></tr>\n");
        } else {
            uo = json_object();
            outs = json_array();
            json_object_set_new(uo, "id", json_integer(u->id));
            json_object_set_new(uo, "ref", json_string_nocheck(u->ref));
            json_object_set_new(uo, "title", json_string_nocheck(u->title));
        }
        int last_outcome = -1;
        for (int k = u->first; k < u->first + u->count; k++) {
            const tree_crit_t *c = &t->crit[k];
            int stv = crit_status(&cs, &rpl, c->id);
            qc.n[stv]++;
            qc.total += stv != ST_RPL;
            const unsigned char *cells = grid + (size_t)k * (size_t)ncols;
            if (c->outcome != last_outcome) {
                const tree_outcome_t *o = &t->outcomes[c->outcome];
                last_outcome = c->outcome;
                if (want_html) {
                    char num[24];
                    int nl = util_int_text(num, o->number);
                    buf_puts(&html, "<tr class=\"mx-outcome\"><th scope=\"colgroup\" colspan=\"");
                    buf_append(&html, span_text, span_len);
                    buf_puts(&html, "\">Learning outcome ");
                    buf_append(&html, num, (size_t)(nl > 0 ? nl : 0));
                    buf_puts(&html, ": ");
                    esc(&html, o->text);
                    buf_puts(&html, "</th></tr>\n");
                } else {
                    oo = json_object();
                    crits = json_array();
                    json_object_set_new(oo, "number", json_integer(o->number));
                    json_object_set_new(oo, "text", json_string_nocheck(o->text));
                    json_object_set_new(oo, "criteria", crits);
                    json_array_append_new(outs, oo);
                }
            }
            if (want_html) {
                buf_puts(&html, "<tr>");
                buf_puts(&html, c->head_html);
                buf_puts(&html, "<td class=\"mx-st st-");
                buf_puts(&html, st_names[stv]);
                buf_puts(&html, "\">");
                buf_puts(&html, st_labels[stv]);
                buf_puts(&html, "</td>");
                for (int j = 0; j < ncols; j++)
                    cell_html(&html, cells[j], stv, col_sub[j], labels[j], label_len[j]);
                buf_puts(&html, "</tr>\n");
            } else {
                json_t *co = json_object(), *arr = json_array();
                json_object_set_new(co, "id", json_integer(c->id));
                json_object_set_new(co, "ref", json_string_nocheck(c->ref));
                json_object_set_new(co, "text", json_string_nocheck(c->text));
                json_object_set_new(co, "status", json_string_nocheck(st_names[stv]));
                json_object_set_new(co, "status_label", json_string_nocheck(st_labels[stv]));
                for (int j = 0; j < ncols; j++) {
                    int n = cell_name(cells[j], stv, col_sub[j]);
                    json_array_append(arr, n >= 0 ? cell_names[n] : json_null());
                }
                json_object_set_new(co, "cells", arr);
                json_array_append_new(crits, co);
            }
        }
        if (!want_html) {
            json_object_set_new(uo, "outcomes", outs);
            json_array_append_new(units, uo);
        }
    }
    counts_json(doc, &qc);
    if (want_html)
        /* the pieces are valid UTF-8 (criteria and outcomes came in through jansson) */
        json_object_set_new(doc, "rows_html", json_stringn_nocheck(html.data ? html.data : "", html.len));
    else
        json_object_set_new(doc, "units", units);
    json_object_set_new(doc, "columns", json_integer(ncols));
    buf_free(&html);
    free(cs.v);
    free(rpl.v);
    free(grid);
    free(col_ids);
    free(col_sub);
    free(labels);
    free(label_len);
    for (int i = 0; i < 4; i++)
        json_decref(cell_names[i]);
    return doc;
}

/* ------------------------------------------------------- summaries rebuild */

int progress_rebuild_summaries(db_t *db)
{
    int rc = EV_ERR;
    if (db_run(db, "DELETE FROM enrolment_progress", "") != EV_OK)
        goto out;
    if (db_run(db,
        "INSERT INTO enrolment_progress (enrolment_id, learner_id, qualification_id, total,"
        " mapped, submitted, met, not_met)"
        " SELECT e.id, e.learner_id, e.qualification_id, coalesce(sum(up.total), 0),"
        " coalesce(sum(up.mapped), 0), coalesce(sum(up.submitted), 0), coalesce(sum(up.met), 0),"
        " coalesce(sum(up.not_met), 0)"
        " FROM enrolments e LEFT JOIN units u ON u.qualification_id = e.qualification_id"
        " LEFT JOIN unit_progress up ON up.learner_id = e.learner_id AND up.unit_id = u.id"
        " GROUP BY e.id", "") != EV_OK)
        goto out;
    if (db_run(db,
        "UPDATE enrolment_progress SET decisions = coalesce((SELECT count(*) FROM decisions d"
        " JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id"
        " WHERE d.learner_id = enrolment_progress.learner_id"
        " AND u.qualification_id = enrolment_progress.qualification_id), 0),"
        " sampled = coalesce((SELECT count(DISTINCT s.decision_id) FROM decisions d"
        " JOIN iqa_samples s ON s.decision_id = d.id"
        " JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id"
        " WHERE d.learner_id = enrolment_progress.learner_id"
        " AND u.qualification_id = enrolment_progress.qualification_id), 0)", "") != EV_OK)
        goto out;
    if (db_run(db, "DELETE FROM learner_queue", "") != EV_OK)
        goto out;
    if (db_run(db,
        "INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)"
        " SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)"
        " FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id"
        " JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id"
        " WHERE e.status = 'submitted' GROUP BY e.learner_id, u.qualification_id", "") != EV_OK)
        goto out;
    rc = EV_OK;
out:
    return rc;
}

/* ------------------------------------------------------------- handlers */

int progress_read_begin(db_t *db)
{
    if (db_in_transaction(db))
        return 0;
    return db_run(db, "BEGIN", "") == EV_OK;
}

void progress_read_end(db_t *db, int began)
{
    if (began)
        db_run(db, "COMMIT", "");
}

/* 404 for no such learner and, with the same answer, when the user may not
 * read them (so ids cannot be probed); 0 when allowed. */
static int guard_learner(req_t *r, int64_t learner_id)
{
    if (!db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'learner'", 0, "i", learner_id))
        return http_fail(r, 404, "not_found", "No such learner.");
    if (!policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such learner.");
    return 0;
}

/* guard_learner that also gives the learner's row {id, name, email} in *row
 * (the caller owns it) from the same read; *row is NULL when refused. */
static int guard_learner_row(req_t *r, int64_t learner_id, json_t **row)
{
    *row = learner_row(r->db, learner_id);
    if (!*row || !policy_can_read_learner(r->db, &r->user, learner_id)) {
        json_decref(*row);
        *row = NULL;
        return http_fail(r, 404, "not_found", "No such learner.");
    }
    return 0;
}

/* The "criteria met over time" chart of one enrolment (viewBox 0 0 100 50): a step
 * line of how many of today's met criteria had been met by each day since the start,
 * against the straight line of the plan from the start to the planned end date. */
static void add_timeline(db_t *db, int64_t learner_id, json_t *e, int64_t today)
{
    int64_t s, end;
    int64_t total = json_integer_value(json_object_get(e, "total"));
    if (progress_day_number(json_string_value(json_object_get(e, "start_date")), &s) != EV_OK ||
        progress_day_number(json_string_value(json_object_get(e, "planned_end_date")), &end) != EV_OK || total <= 0)
        return;
    double span = end - s > 0 ? (double)(end - s) : 1.0;
#define TL_X(day) ((day) < s ? 0.0 : (day) > end ? 100.0 : 100.0 * (double)((day) - s) / span)
    buf_t pts = {0};
    int64_t met = 0;
    double y = 50.0;
    buf_printf(&pts, "0,50");
    db_stmt_t *st = db_query(db,
        "SELECT d.created_at FROM criterion_status cs JOIN decisions d ON d.id = cs.decision_id"
        " JOIN units u ON u.id = cs.unit_id WHERE cs.learner_id = ? AND cs.status = 'met'"
        " AND u.qualification_id = ? ORDER BY d.created_at",
        "ii", learner_id, (int64_t)json_integer_value(json_object_get(e, "qualification_id")));
    while (st && db_next(st) == 1) {
        int64_t day;
        if (progress_day_number(db_col_text(st, 0), &day) != EV_OK)
            continue;
        double x = TL_X(day);
        met++;
        buf_printf(&pts, " %.2f,%.2f", x, y);
        y = 50.0 - 50.0 * (double)met / (double)total;
        buf_printf(&pts, " %.2f,%.2f", x, y);
    }
    if (st)
        db_stmt_done(st);
    buf_printf(&pts, " %.2f,%.2f", TL_X(today), y);
    json_t *tl = json_object();
    json_object_set_new(tl, "points", json_string(pts.data));
    char v[32];
    snprintf(v, sizeof v, "%.2f", TL_X(today));
    json_object_set_new(tl, "today_x", json_string(v));
#undef TL_X
    json_object_set_new(e, "timeline", tl);
    buf_free(&pts);
}

static void add_page_charts(db_t *db, int64_t learner_id, json_t *doc, int64_t today)
{
    size_t i, j;
    json_t *e, *u;
    json_array_foreach(json_object_get(doc, "qualifications"), i, e) {
        add_chart(e);
        add_timeline(db, learner_id, e, today);
        json_array_foreach(json_object_get(e, "units"), j, u)
            add_chart(u);
    }
}

/* Drops from enrolments (objects with qualification_id) the qualifications the reader
 * may not see (an EQA: those outside its visit, policy_qscope). EV_OK or EV_ERR. */
static int visible_only(req_t *r, int64_t learner_id, json_t *enrolments)
{
    qscope_t qs;
    int rc = policy_qscope(r->db, &r->user, learner_id, &qs);
    if (rc == EV_OK)
        qscope_filter(&qs, enrolments, "qualification_id");
    qscope_free(&qs);
    return rc;
}

static int show_progress(req_t *r, int64_t learner_id)
{
    int64_t today = progress_today();
    json_t *doc = progress_learner(r->db, learner_id, today);
    if (!doc)
        return http_fail(r, 404, "not_found", "No such learner.");
    if (visible_only(r, learner_id, json_object_get(doc, "qualifications")) != EV_OK) {
        json_decref(doc);
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    }
    apprenticeships_annotate_progress(r->db, learner_id, doc, today); /* off-the-job hours */
    if (!r->is_api) {
        add_page_charts(r->db, learner_id, doc, today);
        json_object_set_new(doc, "is_self", json_boolean(r->user.id == learner_id));
        json_object_set_new(doc, "can_export", json_boolean(r->user.role & (ROLE_ADMIN | ROLE_ASSESSOR | ROLE_IQA | ROLE_EQA)));
        json_object_set_new(doc, "pace_behind_gap", json_integer(PACE_BEHIND_GAP));
        json_object_set_new(doc, "pace_at_risk_gap", json_integer(PACE_AT_RISK_GAP));
    }
    http_set_out(r, doc);
    return 200;
}

/* GET /api/v1/learners/{id}/progress, /learners/{id}/progress */
static int progress_show(req_t *r)
{
    int began = progress_read_begin(r->db);
    int rc = guard_learner(r, r->params[0]);
    if (!rc)
        rc = show_progress(r, r->params[0]);
    progress_read_end(r->db, began);
    return rc;
}

/* GET /portfolio: the signed-in learner's own progress */
static int progress_portfolio(req_t *r)
{
    int began = progress_read_begin(r->db);
    int rc = show_progress(r, r->user.id);
    progress_read_end(r->db, began);
    return rc;
}

/* The version of what a learner's matrix shows, for its ETag (http_not_modified):
 * their audit events' count and newest id, the spec version and today's date
 * (the pace). Every change to a learner's portfolio writes an audit event naming
 * them in the same transaction (DESIGN.md's audit rule: evidence, mapping,
 * decisions, sign-offs, IQA samples, enrolments, hours, reviews, witness
 * testimony), and the trail is append-only, so the count grows with every such
 * commit; it is the count, not only the newest id, because on PostgreSQL a
 * transaction that took a lower id may commit after one with a higher id.
 * Structure (units, criteria, a qualification's title) moves the spec version.
 * One read; EV_OK or EV_ERR (then answer in full). */
static int learner_data_version(db_t *db, int64_t learner_id, char *out, size_t outlen)
{
    int rc = EV_ERR;
    db_stmt_t *st = db_query(db, "SELECT count(*), max(id), (SELECT version FROM spec_version WHERE id = 1)"
                                 " FROM audit_events WHERE learner_id = ?", "i", learner_id);
    if (st && db_next(st) == 1) {
        char day[11];
        progress_day_iso(progress_today(), day);
        snprintf(out, outlen, "learner %lld: %lld.%lld.%lld %s", (long long)learner_id, (long long)db_col_int(st, 0),
                 (long long)db_col_int(st, 1), (long long)db_col_int(st, 2), day);
        rc = EV_OK;
    }
    if (st)
        db_stmt_done(st);
    return rc;
}

static int matrix_show(req_t *r);

/* GET /api/v1/learners/{id}/matrix, /learners/{id}/matrix[?qualification_id=N] */
static int progress_matrix_show(req_t *r)
{
    int began = progress_read_begin(r->db);
    int rc = matrix_show(r);
    progress_read_end(r->db, began);
    return rc;
}

static int matrix_show(req_t *r)
{
    int64_t learner_id = r->params[0], qid = 0, limit, offset;
    json_t *learner = NULL;
    int rc = guard_learner_row(r, learner_id, &learner);
    if (rc)
        return rc;
    char version[128];
    int kept = learner_data_version(r->db, learner_id, version, sizeof version) == EV_OK
                   ? http_not_modified(r, version) : 0;
    if (kept) { /* 304: the viewer's copy is current; 200: the server kept this answer. Nothing built. */
        json_decref(learner);
        return kept;
    }
    json_t *enrols = load_enrolments(r->db, learner_id);
    if (visible_only(r, learner_id, enrols) != EV_OK)
        json_array_clear(enrols);
    json_t *chosen = NULL, *e;
    size_t i;
    int have_q = in_int(r, "qualification_id", &qid) == EV_OK;
    json_array_foreach(enrols, i, e) {
        int64_t q = json_integer_value(json_object_get(e, "qualification_id"));
        if (!chosen && (!have_q || q == qid))
            chosen = e;
        json_object_set_new(e, "current", json_boolean(0));
    }
    if (!chosen) {
        json_decref(enrols);
        json_decref(learner);
        if (have_q)
            return http_fail(r, 404, "not_found", "The learner is not enrolled on that qualification.");
        return http_fail(r, 404, "not_enrolled", "The learner has no enrolments yet.");
    }
    json_object_set_new(chosen, "current", json_true());
    qid = json_integer_value(json_object_get(chosen, "qualification_id"));
    http_page(r, 12, &limit, &offset);
    json_t *doc = progress_matrix_for(r->db, &r->user, learner_id, qid, limit, offset, !r->is_api);
    if (!doc) {
        json_decref(enrols);
        json_decref(learner);
        return http_fail(r, 404, "not_found", "No such qualification.");
    }
    json_object_set(chosen, "percent", json_object_get(doc, "percent"));
    set_pace(chosen, progress_today());
    json_object_set(doc, "pace", json_object_get(chosen, "pace"));
    if (r->is_api) /* the page shows the tabs of every enrolment, not this copy */
        json_object_set_new(doc, "enrolment", json_copy(chosen));
    json_object_set_new(doc, "enrolments", enrols);
    json_object_set_new(doc, "learner", learner);
    if (!r->is_api) {
        add_chart_parts(doc, 0); /* the page draws the bar, not the donut */
        json_object_set_new(doc, "many_enrolments", json_boolean(json_array_size(enrols) > 1));
    }
    http_paginate(r, doc, json_integer_value(json_object_get(doc, "evidence_total")));
    http_set_out(r, doc);
    return 200;
}

const route_t progress_routes[] = {
    {"GET", "/api/v1/learners/{id}/progress", progress_show, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/learners/{id}/progress", progress_show, ROLE_SIGNED_IN, "progress", 0},
    {"GET", "/portfolio", progress_portfolio, ROLE_LEARNER, "progress", 0},
    {"GET", "/api/v1/learners/{id}/matrix", progress_matrix_show, ROLE_ANY, NULL, 0},
    {"GET", "/learners/{id}/matrix", progress_matrix_show, ROLE_ANY, "matrix", 0},
    {0},
};
