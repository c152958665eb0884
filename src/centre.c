/* centre.c: the admin's centre dashboard, its drill-down list and CSV download */
#include "centre.h"
#include "reviews.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "combination.h"
#include "otj.h"
#include "progress.h"

/* One enrolment as the dashboard sees it. */
typedef struct enr {
    int64_t id, learner_id, qualification_id, assessor_id;
    int64_t total, met, decisions, sampled;
    int64_t awaiting, oldest_day; /* oldest_day -1: nothing waiting */
    int percent;
    progress_pace_t pace;
    int withdrawn;
    int apprentice;                   /* an apprenticeship: the off-the-job fields below apply */
    progress_pace_state_t otj_state;  /* off-the-job hours against expected-by-now (otj.h) */
    int64_t otj_recorded, otj_expected, otj_planned; /* minutes */
} enr_t;

/* One group row (a qualification or an assessor). */
typedef struct grp {
    int64_t id;
    int64_t learners, pct_sum;
    int64_t state[PACE_COUNT];
    int64_t awaiting, learners_waiting, oldest_day;
    int64_t decisions, sampled, learners_sampled;
    int64_t apprentices, otj_state[PACE_COUNT], otj_recorded, otj_expected, otj_planned;
    int64_t reviews_overdue; /* active enrolments whose next progress review is overdue */
} grp_t;

/* A small open-addressing map from id to group, grown by doubling. */
typedef struct grp_map {
    grp_t *v;
    int n, cap; /* cap: power of two */
} grp_map_t;

static grp_t *grp_get(grp_map_t *m, int64_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        grp_map_t big = {xcalloc((size_t)(m->cap ? m->cap * 2 : 64), sizeof(grp_t)), 0,
                         m->cap ? m->cap * 2 : 64};
        for (int i = 0; i < m->cap; i++) {
            if (!m->v[i].id)
                continue;
            unsigned h = (unsigned)((uint64_t)m->v[i].id * 0x9E3779B97F4A7C15ull >> 32) & (unsigned)(big.cap - 1);
            while (big.v[h].id)
                h = (h + 1) & (unsigned)(big.cap - 1);
            big.v[h] = m->v[i];
            big.n++;
        }
        free(m->v);
        *m = big;
    }
    unsigned h = (unsigned)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 32) & (unsigned)(m->cap - 1);
    while (m->v[h].id && m->v[h].id != id)
        h = (h + 1) & (unsigned)(m->cap - 1);
    if (!m->v[h].id) {
        memset(&m->v[h], 0, sizeof m->v[h]);
        m->v[h].id = id;
        m->v[h].oldest_day = -1;
        m->n++;
    }
    return &m->v[h];
}

/* The group of id, or NULL when the map has none (does not add one). */
static const grp_t *grp_find(const grp_map_t *m, int64_t id)
{
    if (!m->cap || !id)
        return NULL;
    unsigned h = (unsigned)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 32) & (unsigned)(m->cap - 1);
    while (m->v[h].id && m->v[h].id != id)
        h = (h + 1) & (unsigned)(m->cap - 1);
    return m->v[h].id ? &m->v[h] : NULL;
}

static void grp_add(grp_t *g, const enr_t *e)
{
    g->state[e->pace.state]++;
    if (e->withdrawn)
        return;
    g->learners++;
    g->pct_sum += e->percent;
    g->awaiting += e->awaiting;
    if (e->awaiting) {
        g->learners_waiting++;
        if (g->oldest_day < 0 || e->oldest_day < g->oldest_day)
            g->oldest_day = e->oldest_day;
    }
    g->decisions += e->decisions;
    g->sampled += e->sampled;
    g->learners_sampled += e->sampled > 0;
    if (e->apprentice) {
        g->apprentices++;
        g->otj_state[e->otj_state]++;
        g->otj_recorded += e->otj_recorded;
        g->otj_expected += e->otj_expected;
        g->otj_planned += e->otj_planned;
    }
}

typedef struct queue_row {
    int64_t learner_id, qualification_id, awaiting, oldest_day;
} queue_row_t;

typedef struct centre_data {
    enr_t *e;
    int n;
    int64_t distinct_learners; /* learners with an enrolment that is not withdrawn */
    grp_map_t by_q, by_a;
    grp_t all;
} centre_data_t;

static const queue_row_t *queue_find(const queue_row_t *v, int n, int64_t learner_id, int64_t qid)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (v[mid].learner_id == learner_id && v[mid].qualification_id == qid)
            return &v[mid];
        if (v[mid].learner_id < learner_id || (v[mid].learner_id == learner_id && v[mid].qualification_id < qid))
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* An enrolment's dates (YYYY-MM-DD) and status, held between the two passes. */
typedef struct enr_text {
    char start[11], end[11], status[24];
    char break_open[11]; /* an apprenticeship's running break, "" for none */
    int64_t break_days;  /* its ended breaks (progress_pace_breaks) */
} enr_text_t;

/* The one pass: every enrolment with its summary row and the learner's queue. */
static int centre_load(db_t *db, int64_t today, centre_data_t *d)
{
    int qn = 0, qcap = 0, cap = 0;
    enr_text_t *texts = NULL; /* per enrolment, for the second pass */
    queue_row_t *qv = NULL;
    memset(d, 0, sizeof *d);
    d->all.oldest_day = -1;
    db_stmt_t *st = db_query(db, "SELECT learner_id, qualification_id, awaiting, oldest_submitted_at"
                                   " FROM learner_queue WHERE awaiting > 0 ORDER BY learner_id, qualification_id", "");
    if (!st)
        return EV_ERR;
    while (db_next(st) == 1) {
        if (qn == qcap) {
            qcap = qcap ? qcap * 2 : 256;
            qv = xrealloc(qv, (size_t)qcap * sizeof *qv);
        }
        qv[qn].learner_id = db_col_int(st, 0);
        qv[qn].qualification_id = db_col_int(st, 1);
        qv[qn].awaiting = db_col_int(st, 2);
        if (progress_day_number(db_col_text(st, 3), &qv[qn].oldest_day) != EV_OK)
            qv[qn].oldest_day = today;
        qn++;
    }
    db_stmt_done(st);

    st = db_query(db,
        "SELECT e.id, e.learner_id, e.qualification_id, e.assessor_id, e.start_date,"
        " e.planned_end_date, e.status, p.total, p.met, p.decisions, p.sampled,"
        " a.id, a.planned_otj_minutes, a.recorded_minutes, a.break_days, a.break_open_since"
        " FROM enrolments e LEFT JOIN enrolment_progress p ON p.enrolment_id = e.id"
        " LEFT JOIN apprenticeships a ON a.enrolment_id = e.id", "");
    if (!st) {
        free(qv);
        return EV_ERR;
    }
    while (db_next(st) == 1) {
        if (d->n == cap) {
            cap = cap ? cap * 2 : 1024;
            d->e = xrealloc(d->e, (size_t)cap * sizeof *d->e);
            texts = xrealloc(texts, (size_t)cap * sizeof *texts);
        }
        enr_t *e = &d->e[d->n++];
        e->id = db_col_int(st, 0);
        e->learner_id = db_col_int(st, 1);
        e->qualification_id = db_col_int(st, 2);
        e->assessor_id = db_col_int(st, 3);
        e->total = db_col_int(st, 7);
        e->met = db_col_int(st, 8);
        e->decisions = db_col_int(st, 9);
        e->sampled = db_col_int(st, 10);
        e->withdrawn = db_col_text(st, 6) && strcmp(db_col_text(st, 6), "withdrawn") == 0;
        enr_text_t *tx = &texts[d->n - 1];
        snprintf(tx->start, sizeof tx->start, "%s", db_col_text(st, 4) ? db_col_text(st, 4) : "");
        snprintf(tx->end, sizeof tx->end, "%s", db_col_text(st, 5) ? db_col_text(st, 5) : "");
        snprintf(tx->status, sizeof tx->status, "%s", db_col_text(st, 6) ? db_col_text(st, 6) : "");
        tx->break_days = db_col_int(st, 14);
        snprintf(tx->break_open, sizeof tx->break_open, "%s", db_col_text(st, 15) ? db_col_text(st, 15) : "");
        e->apprentice = db_col_int(st, 11) > 0;
        if (e->apprentice) { /* off-the-job hours, by the same rule (otj.h) */
            otj_plan_t plan = {0, 0, db_col_int(st, 14), -1, db_col_int(st, 12)};
            otj_pace_t op;
            if (progress_day_number(db_col_text(st, 4), &plan.start) != EV_OK ||
                progress_day_number(db_col_text(st, 5), &plan.end) != EV_OK)
                plan.start = plan.end = today;
            if (db_col_text(st, 15) && progress_day_number(db_col_text(st, 15), &plan.open_since) != EV_OK)
                plan.open_since = -1;
            e->otj_recorded = db_col_int(st, 13);
            otj_pace(&plan, e->otj_recorded, today, &op);
            e->otj_state = e->withdrawn ? PACE_WITHDRAWN : op.state;
            e->otj_expected = op.expected_minutes;
            e->otj_planned = plan.planned_minutes;
        }
    }
    db_stmt_done(st);
    /* second pass, with no statement open: percent (by the rules of combination
     * where the qualification has them), pace, queue and the group sums */
    combination_cache_t *rules = combination_cache_new(db);
    for (int i = 0; i < d->n; i++) {
        enr_t *e = &d->e[i];
        e->percent = progress_percent(e->met, e->total);
        int achieved = 0;
        if (combination_enrolment_percent(rules, e->id, e->learner_id, e->qualification_id, &e->percent, &achieved) &&
            !achieved && e->percent >= 100)
            e->percent = 99;
        progress_pace_breaks(texts[i].status, texts[i].start, texts[i].end, texts[i].break_days, texts[i].break_open,
                             e->percent, today, &e->pace);
        const queue_row_t *qr = queue_find(qv, qn, e->learner_id, e->qualification_id);
        e->awaiting = qr ? qr->awaiting : 0;
        e->oldest_day = qr ? qr->oldest_day : -1;
        grp_add(grp_get(&d->by_q, e->qualification_id), e);
        grp_add(grp_get(&d->by_a, e->assessor_id), e);
        grp_add(&d->all, e);
    }
    combination_cache_free(rules);
    free(texts);
    free(qv);
    d->distinct_learners = db_int(db, "SELECT count(DISTINCT learner_id) FROM enrolments WHERE status <> 'withdrawn'",
                                  0, "");
    return EV_OK;
}

static void centre_free(centre_data_t *d)
{
    free(d->e);
    free(d->by_q.v);
    free(d->by_a.v);
}

int centre_mark_stale(db_t *db, int64_t enrolment_id, int64_t qualification_id)
{
    if (!enrolment_id)
        enrolment_id = db_int(db, "SELECT min(id) FROM enrolments WHERE qualification_id = ?", 0, "i",
                              qualification_id);
    return enrolment_id ? db_run(db, "UPDATE enrolments SET status = status WHERE id = ?", "i", enrolment_id) : EV_OK;
}

/* ---- the snapshot cache ----
 * Computing the dashboard reads every enrolment (about 14 ms of CPU for 10,000, 250 ms
 * for 100,000: docs/architecture.md). The result depends only on rows that bump
 * centre_version (005_progress.sql; reviews.c and apprenticeships.c mark it stale when
 * a review is completed or superseded or a break changes, as those move review due
 * dates) and on the date, so one immutable snapshot, the overdue-review counts
 * included, is shared by all threads until either changes; a replaced snapshot is freed
 * when its last reader releases it. */
typedef struct snap {
    int64_t version, today;
    centre_data_t d;
    const enr_t **sorted; /* every enrolment, most urgent first */
    json_t *by_q, *by_a;  /* the group rows with their names (copied per request) */
    int refs;
} snap_t;

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static snap_t *snap_cur;
/* One build at a time per (version, day): the other requests for it wait for that build
 * (snap_built) instead of each reading every enrolment too, which on a busy server made
 * 64 concurrent first requests 64 builds sharing the cores (issue 22). */
static pthread_cond_t snap_built = PTHREAD_COND_INITIALIZER;
static int snap_building;
static int64_t building_version, building_today;

static int enr_cmp(const void *a, const void *b);
static json_t *groups_json(db_t *db, const grp_map_t *m, int by_assessor, int64_t today);

/* Overdue progress reviews, counted into the snapshot: the centre's and each
 * assessor's (reviews.h walks every active enrolment once, at build time). */
typedef struct overdue_ctx {
    centre_data_t *d;
    const enr_t **by_id; /* every enrolment, ascending id */
} overdue_ctx_t;

static int enr_id_cmp(const void *a, const void *b)
{
    int64_t x = (*(enr_t *const *)a)->id, y = (*(enr_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

static void overdue_one(void *ctx, int64_t enrolment_id)
{
    overdue_ctx_t *o = ctx;
    int lo = 0, hi = o->d->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (o->by_id[mid]->id == enrolment_id) {
            o->d->all.reviews_overdue++;
            grp_get(&o->d->by_a, o->by_id[mid]->assessor_id)->reviews_overdue++;
            return;
        }
        if (o->by_id[mid]->id < enrolment_id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
}

static int count_overdue(db_t *db, int64_t today, centre_data_t *d)
{
    overdue_ctx_t o = {d, xmalloc((size_t)(d->n ? d->n : 1) * sizeof *o.by_id)};
    for (int i = 0; i < d->n; i++)
        o.by_id[i] = &d->e[i];
    qsort(o.by_id, (size_t)d->n, sizeof *o.by_id, enr_id_cmp);
    int rc = reviews_overdue_each(db, today, overdue_one, &o);
    free(o.by_id);
    return rc;
}

static void snap_release(snap_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&snap_lock);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&snap_lock);
    if (last) {
        centre_free(&s->d);
        free(s->sorted);
        json_decref(s->by_q);
        json_decref(s->by_a);
        free(s);
    }
}

/* The current snapshot (a reference the caller releases), or NULL on error. */
static snap_t *snap_get(db_t *db, int64_t today)
{
    int began = progress_read_begin(db);
    int64_t v = db_int(db, "SELECT version FROM centre_version WHERE id = 1", -1, "");
    snap_t *s = NULL;
    int builder = 0;
    pthread_mutex_lock(&snap_lock);
    for (;;) {
        if (v >= 0 && snap_cur && snap_cur->version == v && snap_cur->today == today) {
            s = snap_cur;
            s->refs++;
            break;
        }
        if (v < 0 || !snap_building || building_version != v || building_today != today)
            break;
        pthread_cond_wait(&snap_built, &snap_lock); /* that build, then look again */
    }
    if (!s && v >= 0 && !snap_building) {
        snap_building = builder = 1;
        building_version = v;
        building_today = today;
    }
    pthread_mutex_unlock(&snap_lock);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->version = v;
        s->today = today;
        s->refs = 1;
        if (centre_load(db, today, &s->d) != EV_OK || count_overdue(db, today, &s->d) != EV_OK) {
            centre_free(&s->d);
            free(s);
            s = NULL;
        } else {
            s->sorted = xmalloc((size_t)(s->d.n ? s->d.n : 1) * sizeof *s->sorted);
            for (int i = 0; i < s->d.n; i++)
                s->sorted[i] = &s->d.e[i];
            qsort(s->sorted, (size_t)s->d.n, sizeof *s->sorted, enr_cmp);
            s->by_q = groups_json(db, &s->d.by_q, 0, today);
            s->by_a = groups_json(db, &s->d.by_a, 1, today);
            if (v >= 0) {
                pthread_mutex_lock(&snap_lock);
                snap_t *old = snap_cur;
                snap_cur = s;
                s->refs++;
                pthread_mutex_unlock(&snap_lock);
                snap_release(old);
            }
        }
    }
    if (builder) { /* built or failed: the waiters look again (and build themselves after a failure) */
        pthread_mutex_lock(&snap_lock);
        snap_building = 0;
        pthread_cond_broadcast(&snap_built);
        pthread_mutex_unlock(&snap_lock);
    }
    progress_read_end(db, began);
    return s;
}

static int pct(int64_t part, int64_t whole)
{
    return whole > 0 ? (int)((part * 100 + whole / 2) / whole) : 0;
}

static void grp_json(json_t *o, const grp_t *g, int64_t today)
{
    json_object_set_new(o, "learners", json_integer(g->learners));
    json_object_set_new(o, "average_percent", json_integer(g->learners ? (g->pct_sum + g->learners / 2) / g->learners : 0));
    for (int s = 0; s < PACE_COUNT; s++)
        json_object_set_new(o, progress_pace_name((progress_pace_state_t)s), json_integer(g->state[s]));
    json_object_set_new(o, "behind_or_at_risk", json_integer(g->state[PACE_BEHIND] + g->state[PACE_AT_RISK]));
    json_object_set_new(o, "awaiting", json_integer(g->awaiting));
    json_object_set_new(o, "learners_waiting", json_integer(g->learners_waiting));
    json_object_set_new(o, "oldest_days", g->oldest_day >= 0 ? json_integer(today - g->oldest_day) : json_null());
    json_object_set_new(o, "decisions", json_integer(g->decisions));
    json_object_set_new(o, "sampled", json_integer(g->sampled));
    json_object_set_new(o, "coverage_percent", json_integer(pct(g->sampled, g->decisions)));
    json_object_set_new(o, "learners_sampled", json_integer(g->learners_sampled));
    json_object_set_new(o, "learners_sampled_percent", json_integer(pct(g->learners_sampled, g->learners)));
    if (g->apprentices) { /* off-the-job hours of the group's apprentices */
        char t[32];
        json_t *h = json_pack("{s:I, s:I, s:I, s:I, s:I}", "apprentices", (json_int_t)g->apprentices, "recorded_minutes",
                              (json_int_t)g->otj_recorded, "expected_minutes", (json_int_t)g->otj_expected,
                              "planned_minutes", (json_int_t)g->otj_planned, "behind_or_at_risk",
                              (json_int_t)(g->otj_state[PACE_BEHIND] + g->otj_state[PACE_AT_RISK]));
        for (int s = 0; s < PACE_COUNT; s++)
            json_object_set_new(h, progress_pace_name((progress_pace_state_t)s), json_integer(g->otj_state[s]));
        otj_format_minutes(g->otj_recorded, t);
        json_object_set_new(h, "recorded_text", json_string(t));
        otj_format_minutes(g->otj_expected, t);
        json_object_set_new(h, "expected_text", json_string(t));
        json_object_set_new(h, "recorded_percent_of_expected", json_integer(pct(g->otj_recorded, g->otj_expected)));
        json_object_set_new(o, "otj", h);
    }
}

static int grp_cmp_id(const void *a, const void *b)
{
    int64_t x = ((const grp_t *)a)->id, y = ((const grp_t *)b)->id;
    return x < y ? -1 : x > y;
}

/* The map's groups as a new array sorted by id (caller frees). */
static grp_t *grp_sorted(const grp_map_t *m)
{
    grp_t *v = xmalloc((size_t)(m->n ? m->n : 1) * sizeof *v);
    int k = 0;
    for (int i = 0; i < m->cap; i++)
        if (m->v[i].id)
            v[k++] = m->v[i];
    qsort(v, (size_t)k, sizeof *v, grp_cmp_id);
    return v;
}

static json_t *groups_json(db_t *db, const grp_map_t *m, int by_assessor, int64_t today)
{
    json_t *arr = json_array();
    grp_t *v = grp_sorted(m);
    for (int i = 0; i < m->n; i++) {
        json_t *o = by_assessor
            ? db_one(db, "SELECT id, name, email FROM users WHERE id = ?", "i", v[i].id)
            : db_one(db, "SELECT id, code, title FROM qualifications WHERE id = ?", "i", v[i].id);
        if (!o)
            continue;
        grp_json(o, &v[i], today);
        json_array_append_new(arr, o);
    }
    free(v);
    return arr;
}

/* Most urgent first: at risk, behind, on track, on break, complete, withdrawn;
 * then the widest gap; then enrolment id. */
static int urgency(progress_pace_state_t s)
{
    static const int rank[PACE_COUNT] = {[PACE_AT_RISK] = 0, [PACE_BEHIND] = 1, [PACE_ON_TRACK] = 2,
                                         [PACE_ON_BREAK] = 3, [PACE_COMPLETE] = 4, [PACE_WITHDRAWN] = 5};
    return rank[s];
}

static int enr_cmp(const void *a, const void *b)
{
    const enr_t *x = *(enr_t *const *)a, *y = *(enr_t *const *)b;
    int ux = urgency(x->pace.state), uy = urgency(y->pace.state);
    if (ux != uy)
        return ux - uy;
    if (x->pace.gap != y->pace.gap)
        return y->pace.gap - x->pace.gap;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int state_from_name(const char *s)
{
    for (int i = 0; s && i < PACE_COUNT; i++)
        if (strcmp(s, progress_pace_name((progress_pace_state_t)i)) == 0)
            return i;
    return -1;
}

/* The figures of one enrolment onto o (which holds its names). */
static void enr_figures(json_t *o, const enr_t *e, int64_t today)
{
    json_object_set_new(o, "met", json_integer(e->met));
    json_object_set_new(o, "total", json_integer(e->total));
    json_object_set_new(o, "percent", json_integer(e->percent));
    json_object_set_new(o, "pace", progress_pace_json(&e->pace));
    json_object_set_new(o, "awaiting", json_integer(e->awaiting));
    json_object_set_new(o, "oldest_days", e->oldest_day >= 0 ? json_integer(today - e->oldest_day) : json_null());
    json_object_set_new(o, "decisions", json_integer(e->decisions));
    json_object_set_new(o, "sampled", json_integer(e->sampled));
}

/* Rows for the given enrolments (one page), in the given order, with names:
 * one cached primary-key lookup per row. */
static json_t *enr_rows(db_t *db, const enr_t *const *v, size_t n, int64_t today)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = db_one(db,
            "SELECT e.id AS enrolment_id, e.learner_id, l.name AS learner_name, l.email AS learner_email,"
            " e.qualification_id, q.code AS qualification_code, q.title AS qualification_title,"
            " e.assessor_id, a.name AS assessor_name, e.status, e.start_date, e.planned_end_date"
            " FROM enrolments e JOIN users l ON l.id = e.learner_id"
            " JOIN qualifications q ON q.id = e.qualification_id JOIN users a ON a.id = e.assessor_id"
            " WHERE e.id = ?", "i", v[i]->id);
        if (o) {
            enr_figures(o, v[i], today);
            json_array_append_new(out, o);
        }
    }
    return out;
}

json_t *centre_progress(db_t *db, int64_t today, const centre_query_t *q)
{
    snap_t *sn = snap_get(db, today);
    if (!sn)
        return NULL;
    const centre_data_t *d = &sn->d;
    json_t *doc = json_object();
    char day[11];
    progress_day_iso(today, day);
    json_object_set_new(doc, "today", json_string(day));
    json_t *totals = json_object();
    grp_json(totals, &d->all, today);
    json_object_set_new(totals, "enrolments", json_integer(d->n));
    json_object_set_new(totals, "distinct_learners", json_integer(d->distinct_learners));
    json_object_set_new(doc, "totals", totals);
    json_object_set_new(doc, "by_qualification", json_deep_copy(sn->by_q));
    json_object_set_new(doc, "by_assessor", json_deep_copy(sn->by_a));

    /* the filtered page of enrolments, most urgent first */
    int want_state = q && q->state && *q->state ? state_from_name(q->state) : -1;
    int either = q && q->state && strcmp(q->state, "behind_or_at_risk") == 0;
    int64_t limit = q && q->limit > 0 ? q->limit : 25, offset = q && q->offset > 0 ? q->offset : 0;
    int64_t ns = 0;
    const enr_t **page = xmalloc((size_t)(limit < 200 ? limit : 200) * sizeof *page);
    size_t np = 0;
    for (int i = 0; i < d->n; i++) {
        const enr_t *e = sn->sorted[i];
        if (q && q->qualification_id && e->qualification_id != q->qualification_id)
            continue;
        if (q && q->assessor_id && e->assessor_id != q->assessor_id)
            continue;
        if (want_state >= 0 && (int)e->pace.state != want_state)
            continue;
        if (either && e->pace.state != PACE_BEHIND && e->pace.state != PACE_AT_RISK)
            continue;
        if (ns >= offset && ns < offset + limit && np < 200)
            page[np++] = e;
        ns++;
    }
    json_t *list = enr_rows(db, page, np, today);
    free(page);
    json_object_set_new(doc, "enrolments", list);
    json_object_set_new(doc, "enrolments_total", json_integer(ns));
    const grp_t *ga = q && q->assessor_id ? grp_find(&d->by_a, q->assessor_id) : NULL;
    json_object_set_new(doc, "reviews_overdue",
                        json_integer(q && q->assessor_id ? (ga ? ga->reviews_overdue : 0) : d->all.reviews_overdue));
    snap_release(sn);
    return doc;
}

/* ------------------------------------------------------------------ CSV */

void centre_csv_field(buf_t *out, const char *s)
{
    if (!s)
        s = "";
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int defuse = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t';
    if (!quote && !defuse) {
        buf_puts(out, s);
        return;
    }
    buf_putc(out, '"');
    if (defuse)
        buf_putc(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            buf_putc(out, '"');
        buf_putc(out, *p);
    }
    buf_putc(out, '"');
}

static void csv_int(buf_t *out, int64_t v)
{
    buf_printf(out, ",%lld", (long long)v);
}

static void csv_group_rows(buf_t *out, db_t *db, const grp_map_t *m, int by_assessor, int64_t today)
{
    grp_t *v = grp_sorted(m);
    for (int i = 0; i < m->n; i++) {
        const grp_t *g = &v[i];
        char *name = by_assessor
            ? db_text(db, "SELECT name FROM users WHERE id = ?", "i", g->id)
            : db_text(db, "SELECT code || ' ' || title FROM qualifications WHERE id = ?", "i", g->id);
        buf_puts(out, by_assessor ? "assessor" : "qualification");
        csv_int(out, g->id);
        buf_putc(out, ',');
        centre_csv_field(out, name);
        free(name);
        csv_int(out, g->learners);
        csv_int(out, g->learners ? (g->pct_sum + g->learners / 2) / g->learners : 0);
        csv_int(out, g->state[PACE_ON_TRACK]);
        csv_int(out, g->state[PACE_BEHIND]);
        csv_int(out, g->state[PACE_AT_RISK]);
        csv_int(out, g->state[PACE_COMPLETE]);
        csv_int(out, g->awaiting);
        if (g->oldest_day >= 0)
            csv_int(out, today - g->oldest_day);
        else
            buf_putc(out, ',');
        csv_int(out, g->decisions);
        csv_int(out, g->sampled);
        csv_int(out, pct(g->sampled, g->decisions));
        csv_int(out, g->learners_sampled);
        buf_puts(out, "\r\n");
    }
    free(v);
}

int centre_csv(db_t *db, int64_t today, const char *rows, buf_t *out)
{
    snap_t *sn = snap_get(db, today);
    if (!sn)
        return EV_ERR;
    const centre_data_t *dp = &sn->d;
    if (rows && strcmp(rows, "enrolments") == 0) {
        buf_puts(out, "enrolment_id,learner_id,learner_name,learner_email,qualification_code,"
                      "assessor_name,status,start_date,planned_end_date,met,total,percent,"
                      "expected_percent,pace,awaiting_assessment,decisions,iqa_sampled\r\n");
        static const char *const keys[] = {"learner_name", "learner_email", "qualification_code",
                                           "assessor_name", "status", "start_date", "planned_end_date"};
        const enr_t **chunk = xmalloc(200 * sizeof *chunk);
        for (int i = 0; i < dp->n; i += 200) {
            size_t m = 0;
            for (int k = i; k < dp->n && k < i + 200; k++)
                chunk[m++] = &dp->e[k];
            json_t *named = enr_rows(db, chunk, m, today);
            size_t j;
            json_t *o;
            json_array_foreach(named, j, o) {
                const enr_t *e = chunk[j];
                buf_printf(out, "%lld,%lld,", (long long)e->id, (long long)e->learner_id);
                for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
                    centre_csv_field(out, json_string_value(json_object_get(o, keys[k])));
                    buf_putc(out, ',');
                }
                buf_printf(out, "%lld,%lld,%d,%d,%s", (long long)e->met, (long long)e->total, e->percent,
                           e->pace.expected_percent, progress_pace_name(e->pace.state));
                csv_int(out, e->awaiting);
                csv_int(out, e->decisions);
                csv_int(out, e->sampled);
                buf_puts(out, "\r\n");
            }
            json_decref(named);
        }
        free(chunk);
        snap_release(sn);
        return EV_OK;
    }
    buf_puts(out, "group,id,name,learners,average_percent,on_track,behind,at_risk,complete,"
                  "awaiting_assessment,oldest_awaiting_days,decisions,iqa_sampled,"
                  "iqa_coverage_percent,learners_sampled\r\n");
    csv_group_rows(out, db, &dp->by_q, 0, today);
    csv_group_rows(out, db, &dp->by_a, 1, today);
    snap_release(sn);
    return EV_OK;
}

/* ------------------------------------------------------------- handlers */

/* GET /api/v1/centre/progress, /centre, /api/v1/centre/learners, /centre/learners
 * ?qualification_id= &assessor_id= &state= &page= &per_page= */
static int centre_show_in(req_t *r);

static int centre_show(req_t *r)
{
    int began = progress_read_begin(r->db);
    int rc = centre_show_in(r);
    progress_read_end(r->db, began);
    return rc;
}

static int centre_show_in(req_t *r)
{
    centre_query_t q = {0};
    int64_t v;
    if (in_int(r, "qualification_id", &v) == EV_OK)
        q.qualification_id = v;
    if (in_int(r, "assessor_id", &v) == EV_OK)
        q.assessor_id = v;
    q.state = in_str(r, "state");
    if (q.state && *q.state && strcmp(q.state, "behind_or_at_risk") != 0 && state_from_name(q.state) < 0)
        return http_fail(r, 400, "bad_state", "Unknown state: use on_track, behind, at_risk, "
                                              "behind_or_at_risk, complete, on_break or withdrawn.");
    http_page(r, 25, &q.limit, &q.offset);
    int64_t today = progress_today();
    json_t *doc = centre_progress(r->db, today, &q);
    if (!doc)
        return http_fail(r, 500, "db_error", "The dashboard could not be read.");
    json_t *filter = json_object();
    json_object_set_new(filter, "qualification_id", q.qualification_id ? json_integer(q.qualification_id) : json_null());
    json_object_set_new(filter, "assessor_id", q.assessor_id ? json_integer(q.assessor_id) : json_null());
    json_object_set_new(filter, "state", q.state && *q.state ? json_string(q.state) : json_null());
    if (!r->is_api) {
        /* names of what the list is filtered by, and chart geometry */
        if (q.qualification_id)
            json_object_set_new(filter, "qualification",
                                db_one(r->db, "SELECT id, code, title FROM qualifications WHERE id = ?",
                                       "i", q.qualification_id));
        if (q.assessor_id)
            json_object_set_new(filter, "assessor",
                                db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", q.assessor_id));
        if (q.state && *q.state) {
            int s = state_from_name(q.state);
            json_object_set_new(filter, "state_label",
                                json_string(s >= 0 ? progress_pace_label((progress_pace_state_t)s) : "Behind or at risk"));
        }
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(doc, "by_qualification"), i, g) {
            int64_t n = json_integer_value(json_object_get(g, "learners"));
            char w[4][16];
            static const char *const st[] = {"on_track", "behind", "at_risk", "complete"};
            double x = 0;
            json_t *bar = json_object();
            for (int k = 0; k < 4; k++) {
                double len = n ? 100.0 * (double)json_integer_value(json_object_get(g, st[k])) / (double)n : 0;
                snprintf(w[k], sizeof w[k], "%.2f", len);
                char key[24];
                snprintf(key, sizeof key, "%s_x", st[k]);
                char xs[16];
                snprintf(xs, sizeof xs, "%.2f", x);
                json_object_set_new(bar, key, json_string(xs));
                json_object_set_new(bar, st[k], json_string(w[k]));
                x += len;
            }
            json_object_set_new(g, "bar", bar);
        }
        json_array_foreach(json_object_get(doc, "by_qualification"), i, g)
            if (json_integer_value(json_object_get(g, "id")) == q.qualification_id)
                json_object_set_new(g, "selected", json_true());
        json_array_foreach(json_object_get(doc, "by_assessor"), i, g)
            if (json_integer_value(json_object_get(g, "id")) == q.assessor_id)
                json_object_set_new(g, "selected", json_true());
        static const char *const states[][2] = {
            {"", "All"}, {"behind_or_at_risk", "Behind or at risk"}, {"at_risk", "At risk"},
            {"behind", "Behind"}, {"on_track", "On track"}, {"complete", "Complete"},
            {"on_break", "On break"}, {"withdrawn", "Withdrawn"}};
        json_t *sl = json_array();
        for (size_t k = 0; k < sizeof states / sizeof *states; k++) {
            json_t *o = json_pack("{s:s, s:s}", "value", states[k][0], "label", states[k][1]);
            if (strcmp(states[k][0], q.state ? q.state : "") == 0)
                json_object_set_new(o, "selected", json_true());
            json_array_append_new(sl, o);
        }
        json_object_set_new(doc, "states", sl);
        json_object_set_new(doc, "pace_behind_gap", json_integer(PACE_BEHIND_GAP));
        json_object_set_new(doc, "pace_at_risk_gap", json_integer(PACE_AT_RISK_GAP));
    }
    json_object_set_new(doc, "filter", filter);
    http_paginate(r, doc, json_integer_value(json_object_get(doc, "enrolments_total")));
    http_set_out(r, doc);
    return 200;
}

/* GET /centre/progress.csv[?rows=enrolments] */
static int centre_csv_download(req_t *r)
{
    buf_t b = {0};
    const char *rows = in_str(r, "rows");
    if (rows && strcmp(rows, "groups") != 0 && strcmp(rows, "enrolments") != 0)
        return http_fail(r, 400, "bad_rows", "rows must be groups or enrolments.");
    int began = progress_read_begin(r->db);
    int rc = centre_csv(r->db, progress_today(), rows, &b);
    progress_read_end(r->db, began);
    if (rc != EV_OK) {
        buf_free(&b);
        return http_fail(r, 500, "db_error", "The dashboard could not be read.");
    }
    size_t len = b.len;
    http_send_buffer(r, buf_take(&b), len, "text/csv; charset=utf-8",
                     rows && strcmp(rows, "enrolments") == 0 ? "centre-enrolments.csv" : "centre-progress.csv");
    return 200;
}

const route_t centre_routes[] = {
    {"GET", "/api/v1/centre/progress", centre_show, ROLE_ADMIN, NULL, 0},
    {"GET", "/centre", centre_show, ROLE_ADMIN, "centre", 0},
    {"GET", "/api/v1/centre/learners", centre_show, ROLE_ADMIN, NULL, 0},
    {"GET", "/centre/learners", centre_show, ROLE_ADMIN, "centre_learners", 0},
    {"GET", "/centre/progress.csv", centre_csv_download, ROLE_ADMIN, NULL, 0},
    {"GET", "/api/v1/centre/progress.csv", centre_csv_download, ROLE_ADMIN, NULL, 0},
    {0},
};
