/* bench_centre.c: seeds a centre of 10,000 learners x 120 criteria with evidence and
 * decisions in a temporary database, then times (1) in process, CPU per call: the
 * centre dashboard (query + render), one learner's matrix page and progress API,
 * against a bare-query baseline measured in the same run; (2) with wrk at 64
 * connections against `evitrack serve` on that database: requests/s and p99,
 * against the bare libmicrohttpd server (bench_bare_hello) in the same run.
 *
 *   bench_centre [--learners N] [--duration S] [--keep DIR] [--no-wrk] [--db postgres://...]
 *
 * --db seeds and measures an empty PostgreSQL database instead of a temporary SQLite file
 * (tests/bench/engines.sh runs both and prints them side by side).
 *
 * Every learner is also an apprentice with off-the-job hours (issue 16), so the dashboard's
 * figure includes the hours.
 *
 * Then (3) the matrix page through HTTP (its own section, issue 22): server CPU per request
 * plain, gzip and JSON, and the 304 of a repeat view, against the bare server.
 *
 * Budgets (DESIGN.md): dashboard <= 15 ms, matrix page <= 150 us CPU in process and
 * <= 130 us server CPU per request through HTTP (issue 22), p99 < 10 ms. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "centre.h"
#include "db.h"
#include "http.h"
#include "policy.h"
#include "progress.h"
#include "reviews.h"
#include "router.h"
#include "tmpl.h"

#define NQUALS 4
#define NUNITS 10
#define NOUTCOMES 3
#define NCRIT_PER_OUTCOME 4
#define NCRIT (NUNITS * NOUTCOMES * NCRIT_PER_OUTCOME) /* 120 */
#define NASSESSORS 50
/* A session token of the form session.c accepts (64 hex digits). */
#define BENCH_TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NIQAS 10

static db_t *db;
static int64_t crit_ids[NQUALS][NCRIT];
static int64_t crit_unit[NQUALS][NCRIT];
static int64_t quals[NQUALS];

static uint64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_centre: %s: %s\n", what, db_errmsg(db));
    exit(1);
}

/* Steps a bound statement to completion; returns the first column of its
 * first row (the new row's id from RETURNING id), else 0. */
static int64_t step(db_stmt_t *st)
{
    int64_t first = 0;
    int rc = st ? db_next(st) : -1;
    if (rc == 1) {
        first = db_col_int(st, 0);
        rc = db_next(st);
    }
    if (rc != 0)
        die("insert");
    db_stmt_done(st);
    return first;
}

static int64_t ins(const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    return step(st);
}

static void day_iso(int64_t day, char out[11])
{
    progress_day_iso(day, out);
}

static void seed(int nlearners, int64_t today, int64_t *admin_id, int64_t *sample_learner)
{
    uint64_t t0 = util_now_us();
    if (db_exec(db, "BEGIN") != EV_OK)
        die("begin");
    *admin_id = ins("INSERT INTO users (email, name, role, password_hash) VALUES ('admin@bench.test', 'Admin', 'admin', 'x') RETURNING id", "");
    int64_t assessors[NASSESSORS], iqas[NIQAS];
    char email[64], name[64];
    for (int i = 0; i < NASSESSORS; i++) {
        snprintf(email, sizeof email, "assessor%d@bench.test", i);
        snprintf(name, sizeof name, "Assessor %02d", i);
        assessors[i] = ins("INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, 'assessor', 'x') RETURNING id", "tt", email, name);
    }
    for (int i = 0; i < NIQAS; i++) {
        snprintf(email, sizeof email, "iqa%d@bench.test", i);
        snprintf(name, sizeof name, "IQA %02d", i);
        iqas[i] = ins("INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, 'iqa', 'x') RETURNING id", "tt", email, name);
    }
    for (int q = 0; q < NQUALS; q++) {
        char code[32], title[96];
        snprintf(code, sizeof code, "BENCH-%d", q + 1);
        snprintf(title, sizeof title, "Level %d Diploma in Benchmarking (RQF)", q + 2);
        quals[q] = ins("INSERT INTO qualifications (code, title, awarding_body, level) VALUES (?, ?, 'Bench Awards', '3') RETURNING id",
                       "tt", code, title);
        int k = 0;
        for (int u = 0; u < NUNITS; u++) {
            char ref[16], utitle[96];
            snprintf(ref, sizeof ref, "%d", 200 + u);
            snprintf(utitle, sizeof utitle, "Working practice in area %d of the sector", u + 1);
            int64_t uid = ins("INSERT INTO units (qualification_id, ref, title, position) VALUES (?, ?, ?, ?) RETURNING id",
                              "ittI", quals[q], ref, utitle, u);
            for (int o = 0; o < NOUTCOMES; o++) {
                char otext[128];
                snprintf(otext, sizeof otext, "Understand how to carry out task %d of unit %d safely and well", o + 1, u + 1);
                int64_t oid = ins("INSERT INTO outcomes (unit_id, number, text) VALUES (?, ?, ?) RETURNING id", "iIt", uid, o + 1, otext);
                for (int c = 0; c < NCRIT_PER_OUTCOME; c++) {
                    char cref[16], ctext[160];
                    snprintf(cref, sizeof cref, "%d.%d", o + 1, c + 1);
                    snprintf(ctext, sizeof ctext, "Describe how to plan, carry out and review activity %d, "
                             "and explain why each step matters to customers", c + 1);
                    crit_unit[q][k] = uid;
                    crit_ids[q][k++] = ins("INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, ?, ?) RETURNING id",
                                           "iittI", uid, oid, cref, ctext, c);
                }
            }
        }
    }
    const char *SQL_USER = "INSERT INTO users (email, name, role, password_hash) VALUES (?, ?, 'learner', 'x') RETURNING id";
    const char *SQL_ENROL = "INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date)"
                            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id";
    /* Every learner is also an apprentice (issue 16): the dashboard reads each one's
     * off-the-job hours and breaks too. 100 employers; an entry per learner behind the
     * running total; every 25th with an ended break, every 50th on a break. */
    const char *SQL_APP = "INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes,"
                          " planned_otj_minutes, recorded_minutes, verified_minutes, break_days, break_open_since, created_at)"
                          " VALUES (?, ?, ?, 1800, ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z') RETURNING id";
    const char *SQL_OTJ = "INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity, description,"
                          " recorded_by, recorded_at, status) VALUES (?, ?, ?, ?, 'practical', 'Training at work', ?, ?, 'verified')";
    int64_t employers[100];
    for (int e = 0; e < 100; e++) {
        char ename[64];
        snprintf(ename, sizeof ename, "Bench Employer %03d Ltd", e);
        employers[e] = ins("INSERT INTO employers (name, created_at) VALUES (?, '2026-01-01T00:00:00Z') RETURNING id", "t",
                           ename);
    }
    const char *SQL_EV = "INSERT INTO evidence (learner_id, title, kind, description, occurred_on, status, submitted_at)"
                         " VALUES (?, ?, ?, 'Evidence gathered at work', ?, ?, ?) RETURNING id";
    const char *SQL_EC = "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note) VALUES (?, ?, ?, 'Shows this')";
    const char *SQL_DEC = "INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, declaration, created_at)"
                          " VALUES (?, ?, ?, ?, 'Feedback', 1, ?) RETURNING id";
    const char *SQL_DE = "INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)";
    const char *SQL_CS = "INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status, decision_id) VALUES (?, ?, ?, ?, ?)";
    const char *SQL_IQA = "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at) VALUES (?, ?, 'agree', 'Agreed', ?)";
    static const char *const kinds[] = {"observation", "product", "witness_testimony", "reflective_account",
                                        "professional_discussion", "question_and_answer"};
    int64_t nev = 0, ndec = 0, nsamples = 0;
    for (int i = 0; i < nlearners; i++) {
        snprintf(email, sizeof email, "learner%d@bench.test", i);
        snprintf(name, sizeof name, "Learner %05d", i);
        int64_t lid = step(db_query(db, SQL_USER, "tt", email, name));
        int q = i % NQUALS;
        int64_t ass = assessors[i % NASSESSORS], iqa = iqas[i % NIQAS];
        char sd[11], ed[11], when[21];
        int64_t start = today - (i * 7) % 500;
        day_iso(start, sd);
        day_iso(start + 365, ed);
        int64_t enr = step(db_query(db, SQL_ENROL, "iiiitt", lid, quals[q], ass, iqa, sd, ed));
        {
            int64_t planned = 279 * 60, rec = (int64_t)((i * 53) % 300) * 60, brk = i % 25 == 0 ? 14 : 0;
            char open[11];
            day_iso(today - 3, open);
            int64_t app = step(db_query(db, SQL_APP, "iiiiiiit", enr, lid, employers[i % 100], planned, rec, rec, brk,
                                        i % 50 == 1 ? open : NULL));
            char on[11], at[32];
            day_iso(start + 1, on);
            snprintf(at, sizeof at, "%sT17:00:00Z", on);
            if (rec > 0)
                step(db_query(db, SQL_OTJ, "iitiit", app, lid, on, rec < 1440 ? rec : 1440, lid, at));
        }
        /* a spread of stages: met 0..120, then submitted, not yet met, mapped */
        int met = (i * 37) % (NCRIT + 1);
        int sub = NCRIT - met < 6 ? NCRIT - met : 6;
        int nm = NCRIT - met - sub < 2 ? NCRIT - met - sub : 2;
        int mp = NCRIT - met - sub - nm < 5 ? NCRIT - met - sub - nm : 5;
        int64_t dec_of[NCRIT] = {0};
        const char *st_of[NCRIT];
        for (int k = 0; k < NCRIT; k++)
            st_of[k] = "not_started";
        /* evidence pieces of up to 4 consecutive criteria, per stage */
        int k = 0;
        struct { int n; const char *ev_status, *cs_status, *outcome; } stages[] = {
            {met, "assessed", "met", "met"}, {sub, "submitted", "submitted", NULL},
            {nm, "returned", "not_met", "not_met"}, {mp, "draft", "mapped", NULL}};
        for (size_t s = 0; s < sizeof stages / sizeof *stages; s++) {
            int end = k + stages[s].n;
            while (k < end) {
                int span = end - k < 4 ? end - k : 4;
                char title[64];
                snprintf(title, sizeof title, "Evidence %lld", (long long)(nev + 1));
                day_iso(start + 10 + k, when);
                char sat[32];
                snprintf(sat, sizeof sat, "%sT09:00:00Z", when);
                int is_sub = strcmp(stages[s].ev_status, "draft") != 0;
                int64_t ev = step(db_query(db, SQL_EV, "ittttt", lid, title, kinds[nev % 6], when,
                                          stages[s].ev_status, is_sub ? sat : NULL));
                nev++;
                for (int j = k; j < k + span; j++) {
                    step(db_query(db, SQL_EC, "iii", ev, crit_ids[q][j], lid));
                    st_of[j] = stages[s].cs_status;
                    if (stages[s].outcome) {
                        int64_t d = step(db_query(db, SQL_DEC, "iiitt", lid, crit_ids[q][j], ass, stages[s].outcome, sat));
                        step(db_query(db, SQL_DE, "ii", d, ev));
                        dec_of[j] = d;
                        ndec++;
                        if (ndec % 40 == 0) {
                            step(db_query(db, SQL_IQA, "iit", d, iqa, sat));
                            nsamples++;
                        }
                    }
                }
                k += span;
            }
        }
        for (int j = 0; j < NCRIT; j++)
            step(db_query(db, SQL_CS, "iiitz", lid, crit_ids[q][j], crit_unit[q][j], st_of[j], dec_of[j]));
        if (i > nlearners / 2 && *sample_learner == 0 && met >= 55 && met <= 70)
            *sample_learner = lid;
        if ((i + 1) % 2000 == 0) {
            fprintf(stderr, "# seeded %d learners (%.1f s)\n", i + 1, (double)(util_now_us() - t0) / 1e6);
        }
    }
    if (db_exec(db, "COMMIT") != EV_OK)
        die("commit");
    if (db_exec(db, "ANALYZE") != EV_OK)
        die("analyze");
    printf("seeded %d learners x %d criteria: %lld evidence, %lld decisions, %lld IQA samples in %.1f s\n",
           nlearners, NCRIT, (long long)nev, (long long)ndec, (long long)nsamples,
           (double)(util_now_us() - t0) / 1e6);
}

/* ---- in-process timing ---- */

typedef struct timing {
    double cpu_us, wall_us;
    size_t bytes;
} timing_t;

static void add_context(json_t *ctx, const user_t *u, const char *path)
{
    json_t *me = json_pack("{s:I, s:s, s:s, s:s, s:b, s:b}", "id", (json_int_t)u->id, "name", u->name,
                           "email", u->email, "role", role_name(u->role), "is_admin", 1, "is_staff", 1);
    json_object_set_new(ctx, "me", me);
    json_object_set_new(ctx, "csrf_token", json_string(u->csrf_token));
    json_object_set_new(ctx, "path", json_string(path));
    json_object_set_new(ctx, "status", json_integer(200));
}

/* Runs the route's handler for path as user u, then renders its page (tmpl) or
 * serialises its JSON (tmpl NULL), n times; CPU and wall time per call. */
static int invalidate_each; /* bump centre_version before each call: time the cold path */

static timing_t time_route(app_t *app, const route_t *rt, const char *path, int64_t param,
                           const user_t *u, const char *query_key, const char *query_val, int n)
{
    timing_t t = {0};
    uint64_t cpu_total = 0, wall_total = 0;
    for (int i = -3; i < n; i++) {
        if (invalidate_each && db_run(db, db_is_pg(db) ? "UPDATE centre_version_slots SET version = version + 1 WHERE slot = 0"
                                                       : "UPDATE centre_version SET version = version + 1", "") != EV_OK)
            die("invalidate");
        uint64_t c0 = cpu_us(), w0 = util_now_us();
        req_t r;
        memset(&r, 0, sizeof r);
        r.app = app;
        r.route = rt;
        r.method = "GET";
        r.path = path;
        r.is_api = strncmp(path, "/api/v1/", 8) == 0;
        r.params[0] = param;
        r.nparams = param ? 1 : 0;
        r.in = json_object();
        if (query_key)
            json_object_set_new(r.in, query_key, json_string(query_val));
        r.db = db;
        r.user = *u;
        int status = rt->handler(&r);
        if (status != 200) {
            fprintf(stderr, "bench_centre: %s answered %d\n", path, status);
            exit(1);
        }
        buf_t out = {0};
        if (rt->tmpl) {
            json_t *ctx = json_incref(r.out);
            add_context(ctx, u, path);
            char err[256];
            if (tmpl_set_render(app->templates, rt->tmpl, ctx, &out, err, sizeof err) != EV_OK) {
                fprintf(stderr, "bench_centre: render %s: %s\n", rt->tmpl, err);
                exit(1);
            }
            json_decref(ctx);
        } else {
            char *s = json_dumps(r.out, JSON_COMPACT);
            buf_puts(&out, s);
            free(s);
        }
        t.bytes = out.len;
        buf_free(&out);
        json_decref(r.out);
        json_decref(r.in);
        free(r.redirect);
        free(r.raw_body);
        free(r.content_type);
        free(r.download_name);
        if (i >= 0) {
            cpu_total += cpu_us() - c0;
            wall_total += util_now_us() - w0;
        }
    }
    t.cpu_us = (double)cpu_total / n;
    t.wall_us = (double)wall_total / n;
    return t;
}

/* The baseline: one query of 30 rows turned into jansson and HTML (DESIGN.md's anchor). */
static timing_t time_baseline(app_t *app, int n)
{
    char err[256];
    const char *src = "<ul>{{#rows}}<li>{{id}} {{name}} {{email}}</li>{{/rows}}</ul>";
    tmpl_t *tp = tmpl_compile("baseline", src, strlen(src), err, sizeof err);
    timing_t t = {0};
    uint64_t c0 = 0, w0 = 0;
    for (int i = -3; i < n; i++) {
        if (i == 0) {
            c0 = cpu_us();
            w0 = util_now_us();
        }
        json_t *rows = db_all(db, "SELECT id, name, email FROM users WHERE role = 'learner' ORDER BY id LIMIT 30", "");
        json_t *ctx = json_pack("{s:o}", "rows", rows);
        buf_t out = {0};
        tmpl_render(tp, ctx, NULL, NULL, &out, err, sizeof err);
        t.bytes = out.len;
        buf_free(&out);
        json_decref(ctx);
    }
    t.cpu_us = (double)(cpu_us() - c0) / n;
    t.wall_us = (double)(util_now_us() - w0) / n;
    tmpl_free(tp);
    (void)app;
    return t;
}

static const route_t *find_route(const route_t *table, const char *pattern)
{
    for (const route_t *r = table; r->method; r++)
        if (!strcmp(r->pattern, pattern))
            return r;
    fprintf(stderr, "bench_centre: no route %s\n", pattern);
    exit(1);
}

/* ---- wrk against a server ---- */

static char *self_dir(void)
{
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return ".";
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return buf;
}

/* Starts argv in the background with stdout to out_path; waits for "listening on
 * http://..." and copies the URL. Returns the pid, or -1. */
static pid_t start_server(char *const argv[], const char *out_path, char *url, size_t urllen)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(out_path, "w", stdout);
        (void)f;
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        usleep(100000);
        FILE *f = fopen(out_path, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "listening on http://");
            if (p) {
                p += strlen("listening on ");
                size_t len = strcspn(p, " \n");
                snprintf(url, urllen, "%.*s", (int)len, p);
                fclose(f);
                return pid;
            }
        }
        if (f)
            fclose(f);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return -1;
    }
    kill(pid, SIGTERM);
    return -1;
}

static void stop_server(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

typedef struct wrk_result {
    double rps, p99_ms, p50_ms;
    long non2xx, requests;
} wrk_result_t;

/* CPU ticks (user + system) used so far by process pid. */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) == 2)
        return ut + st;
    return 0;
}

static double to_ms(const char *v)
{
    double x = atof(v);
    if (strstr(v, "us"))
        return x / 1000.0;
    if (strstr(v, "ms"))
        return x;
    if (strstr(v, "s"))
        return x * 1000.0;
    return x;
}

static wrk_result_t run_wrk(const char *url, const char *cookie, int duration)
{
    wrk_result_t w = {0};
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c64 -d%ds --latency %s%s%s '%s' 2>&1", duration,
             cookie ? "-H 'Cookie: " : "", cookie ? cookie : "", cookie ? "'" : "", url);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char a[64], b[64];
        if (sscanf(line, " 99%% %63s", a) == 1)
            w.p99_ms = to_ms(a);
        else if (sscanf(line, " 50%% %63s", a) == 1)
            w.p50_ms = to_ms(a);
        else if (sscanf(line, "Requests/sec: %63s", a) == 1)
            w.rps = atof(a);
        else if (sscanf(line, " Non-2xx or 3xx responses: %63s", b) == 1)
            w.non2xx = atol(b);
        else if (strstr(line, " requests in "))
            w.requests = atol(line);
    }
    if (p)
        pclose(p);
    return w;
}

/* ------------------------------------------------------------------------
 * The matrix page through HTTP (issue 22): server CPU per request, plain and
 * gzip, the 304 answer to a repeat view, and the JSON, each against a bare
 * libmicrohttpd server measured with the same wrk settings in the same run.
 * Kept in its own section: the rest of this file is the centre's figures. */

#define MATRIX_BUDGET_US 130.0

/* wrk -t1 -c8 for duration s against url with the headers (each "Name: value"
 * or NULL); *cpu_us gets server pid's CPU per request. */
static wrk_result_t matrix_wrk(pid_t pid, const char *url, const char *h1, const char *h2, int duration,
                               double *cpu_us)
{
    wrk_result_t w = {0};
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "wrk -t1 -c8 -d%ds %s%s%s %s%s%s '%s' 2>&1", duration, h1 ? "-H '" : "",
             h1 ? h1 : "", h1 ? "'" : "", h2 ? "-H '" : "", h2 ? h2 : "", h2 ? "'" : "", url);
    long long t0 = cpu_ticks(pid);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char a[64];
        if (sscanf(line, "Requests/sec: %63s", a) == 1)
            w.rps = atof(a);
        else if (sscanf(line, " Non-2xx or 3xx responses: %63s", a) == 1)
            w.non2xx = atol(a);
        else if (strstr(line, " requests in "))
            w.requests = atol(line);
    }
    if (p)
        pclose(p);
    *cpu_us = w.requests ? (double)(cpu_ticks(pid) - t0) / (double)sysconf(_SC_CLK_TCK) / (double)w.requests * 1e6
                         : 0;
    return w;
}

/* The ETag the server gives url (curl), into tag; "" when none. */
static void matrix_etag(const char *url, const char *cookie_header, char *tag, size_t taglen)
{
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -D - -H '%s' '%s'", cookie_header, url);
    tag[0] = '\0';
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof line, p))
        if (strncasecmp(line, "ETag: ", 6) == 0) {
            snprintf(tag, taglen, "%.*s", (int)strcspn(line + 6, "\r\n"), line + 6);
        }
    if (p)
        pclose(p);
}

/* Prints the matrix figures against server sp (at base_url) with the signed-in
 * cookie; bare is bench_bare_hello's path. Returns 1 when an answer was wrong. */
static int matrix_http_figures(pid_t sp, const char *base_url, const char *cookie, const char *mpath,
                               const char *bare, const char *dir, int duration)
{
    int rc = 0;
    char bare_url[256], bare_out[300], cookie_h[256], url[512], api[512], tag[128], inm[200], loadavg[64] = "";
    snprintf(bare_out, sizeof bare_out, "%s/bare-matrix.out", dir);
    snprintf(cookie_h, sizeof cookie_h, "Cookie: %s", cookie);
    snprintf(url, sizeof url, "%s%s", base_url, mpath);
    snprintf(api, sizeof api, "%s/api/v1%s", base_url, mpath);
    char *bare_argv[] = {(char *)bare, "--port", "0", NULL};
    pid_t bp = start_server(bare_argv, bare_out, bare_url, sizeof bare_url);
    double bare_cpu = 0, c;
    if (bp > 0) {
        matrix_wrk(bp, bare_url, NULL, NULL, duration, &bare_cpu);
        stop_server(bp);
    }
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (!fgets(loadavg, sizeof loadavg, la))
            loadavg[0] = '\0';
        loadavg[strcspn(loadavg, "\n")] = '\0';
        fclose(la);
    }
    printf("\n# the matrix page through HTTP: server CPU per request, wrk -t1 -c8 -d%ds (load average %s)\n",
           duration, loadavg);
    printf("%-36s %12s %10s %8s\n", "target", "requests/s", "cpu us/req", "ratio");
    printf("%-36s %12s %10.1f %8s\n", "bare libmicrohttpd (baseline)", "-", bare_cpu, "1.00");
    matrix_wrk(sp, url, cookie_h, NULL, 1, &c); /* warm up */
    struct {
        const char *label, *url, *h2;
        int budget;
    } runs[] = {
        {"matrix page, plain", url, NULL, 1},
        {"matrix page, gzip", url, "Accept-Encoding: gzip", 1},
        {"matrix JSON, plain", api, NULL, 0},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        wrk_result_t w = matrix_wrk(sp, runs[i].url, cookie_h, runs[i].h2, duration, &c);
        printf("%-36s %12.0f %10.1f %8.1f", runs[i].label, w.rps, c, bare_cpu > 0 ? c / bare_cpu : 0);
        if (runs[i].budget)
            printf("  [budget <= %.0f us: %s]", MATRIX_BUDGET_US, c <= MATRIX_BUDGET_US ? "met" : "NOT met");
        printf("\n");
        if (w.non2xx || !w.requests)
            rc = 1;
    }
    /* a repeat view: If-None-Match with the page's current tag is answered 304, nothing built */
    matrix_etag(url, cookie_h, tag, sizeof tag);
    if (!tag[0]) {
        fprintf(stderr, "bench_centre: the matrix page carries no ETag\n");
        return 1;
    }
    snprintf(inm, sizeof inm, "If-None-Match: %s", tag);
    char cmd[1024], code[16] = "";
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' -H '%s' -H '%s' '%s'", cookie_h, inm, url);
    FILE *cp = popen(cmd, "r");
    if (!cp || !fgets(code, sizeof code, cp) || strcmp(code, "304") != 0) {
        fprintf(stderr, "bench_centre: a repeat view answered %s, not 304\n", code);
        rc = 1;
    }
    if (cp)
        pclose(cp);
    wrk_result_t w = matrix_wrk(sp, url, cookie_h, inm, duration, &c);
    printf("%-36s %12.0f %10.1f %8.1f\n", "matrix page, repeat view (304)", w.rps, c, bare_cpu > 0 ? c / bare_cpu : 0);
    return rc;
}

/* A session row for the admin, so wrk can fetch signed-in pages (the token is
 * stored as the hex SHA-256, like session.c does). */
static void make_session(int64_t user_id, const char *token)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    util_hex(h, sizeof h, hex);
    int64_t now = util_now_s();
    if (db_run(db, "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen, expires_at)"
                   " VALUES (?, ?, 'benchcsrf', ?, ?, ?)", "tiiii",
               hex, user_id, now, now, now + 86400) != EV_OK)
        die("session");
}

int main(int argc, char **argv)
{
    int nlearners = 10000, duration = 5, wrk_on = 1;
    const char *keep = NULL, *target = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--learners") && i + 1 < argc)
            nlearners = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            duration = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else if (!strcmp(argv[i], "--no-wrk"))
            wrk_on = 0;
        else if (!strcmp(argv[i], "--db") && i + 1 < argc && db_target_is_pg(argv[i + 1]))
            target = argv[++i];
        else {
            fprintf(stderr, "usage: bench_centre [--learners N] [--duration S] [--keep DIR] [--no-wrk] [--db postgres://...]\n");
            return 2;
        }
    }
    if (sodium_init() < 0 || nlearners < 10)
        return 2;
    char dir[256];
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0700);
    } else {
        snprintf(dir, sizeof dir, "/tmp/evitrack-bench-centre-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    char datadir[300], outpath[300];
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s", target ? target : "");
    if (!target)
        snprintf(dbpath, sizeof dbpath, "%s/bench.db", dir);
    snprintf(datadir, sizeof datadir, "%s/data", dir);
    snprintf(outpath, sizeof outpath, "%s/server.out", dir);
    if (!target)
        unlink(dbpath);
    db = db_open(dbpath);
    char err[512];
    if (!db || db_migrate(db, err, sizeof err) != EV_OK) {
        fprintf(stderr, "bench_centre: %s\n", err);
        return 1;
    }
    int64_t today = progress_today(), admin = 0, learner = 0;
    seed(nlearners, today, &admin, &learner);

    app_t app = {.db_path = dbpath, .data_dir = datadir, .templates_dir = EVITRACK_SOURCE_DIR "/templates"};
    app.templates = tmpl_set_load(app.templates_dir, 0, err, sizeof err);
    if (!app.templates) {
        fprintf(stderr, "bench_centre: templates: %s\n", err);
        return 1;
    }
    user_t u = {.id = admin, .role = ROLE_ADMIN};
    snprintf(u.email, sizeof u.email, "admin@bench.test");
    snprintf(u.name, sizeof u.name, "Admin");
    snprintf(u.csrf_token, sizeof u.csrf_token, "benchcsrf");

    char mpath[64], ppath[64];
    snprintf(mpath, sizeof mpath, "/learners/%lld/matrix", (long long)learner);
    snprintf(ppath, sizeof ppath, "/api/v1/learners/%lld/progress", (long long)learner);
    json_t *lp = progress_learner(db, learner, today);
    json_t *lq = json_array_get(json_object_get(lp, "qualifications"), 0);
    printf("sample learner %lld: %lld of %lld criteria met, %lld evidence\n", (long long)learner,
           (long long)json_integer_value(json_object_get(lq, "met")),
           (long long)json_integer_value(json_object_get(lq, "total")),
           (long long)db_int(db, "SELECT count(*) FROM evidence WHERE learner_id = ?", 0, "i", learner));
    json_decref(lp);

    timing_t base_select = {0};
    {
        uint64_t c0 = cpu_us();
        for (int i = 0; i < 20000; i++)
            db_int(db, "SELECT 1", 0, "");
        base_select.cpu_us = (double)(cpu_us() - c0) / 20000;
    }
    timing_t base = time_baseline(&app, 2000);
    invalidate_each = 1;
    timing_t dash_cold = time_route(&app, find_route(centre_routes, "/centre"), "/centre", 0, &u, NULL, NULL, 20);
    invalidate_each = 0;
    timing_t dash = time_route(&app, find_route(centre_routes, "/centre"), "/centre", 0, &u, NULL, NULL, 200);
    timing_t dash_api = time_route(&app, find_route(centre_routes, "/api/v1/centre/progress"),
                                   "/api/v1/centre/progress", 0, &u, NULL, NULL, 30);
    timing_t mx = time_route(&app, find_route(progress_routes, "/learners/{id}/matrix"), mpath, learner, &u,
                             NULL, NULL, 2000);
    timing_t pg = time_route(&app, find_route(progress_routes, "/api/v1/learners/{id}/progress"), ppath, learner,
                             &u, NULL, NULL, 2000);
    timing_t pgpage = time_route(&app, find_route(progress_routes, "/learners/{id}/progress"), ppath + 7, learner,
                                 &u, NULL, NULL, 500);

    if (getenv("BENCH_PROGRESS_LOOP")) { /* profiling aid: the progress API alone */
        for (int i = 0; i < 20000; i++)
            json_decref(progress_learner(db, learner, today));
    }
    if (getenv("BENCH_SPLIT")) {
        const route_t *rt = find_route(progress_routes, "/learners/{id}/matrix");
        route_t api = *rt;
        api.tmpl = NULL;
        timing_t h = time_route(&app, &api, mpath, learner, &u, NULL, NULL, 2000);
        printf("matrix handler + json dump: %.1f us cpu\n", h.cpu_us);
        req_t r;
        memset(&r, 0, sizeof r);
        r.app = &app; r.route = rt; r.method = "GET"; r.path = mpath; r.params[0] = learner; r.nparams = 1;
        r.in = json_object(); r.db = db; r.user = u;
        rt->handler(&r);
        json_t *ctx = json_incref(r.out);
        add_context(ctx, &u, mpath);
        uint64_t c0 = cpu_us();
        for (int i = 0; i < 2000; i++) {
            buf_t out = {0};
            tmpl_set_render(app.templates, "matrix", ctx, &out, err, sizeof err);
            buf_free(&out);
        }
        printf("matrix render only: %.1f us cpu\n", (double)(cpu_us() - c0) / 2000);
        c0 = cpu_us();
        for (int i = 0; i < 2000; i++) {
            json_t *m = progress_matrix(db, learner, json_integer_value(json_object_get(json_object_get(r.out, "qualification"), "id")), 12, 0, 1);
            json_decref(m);
        }
        printf("progress_matrix only: %.1f us cpu\n", (double)(cpu_us() - c0) / 2000);
        c0 = cpu_us();
        for (int i = 0; i < 2000; i++)
            policy_can_read_learner(db, &u, learner);
        printf("policy only: %.1f us cpu\n", (double)(cpu_us() - c0) / 2000);
        json_decref(ctx);
        c0 = cpu_us();
        for (int i = 0; i < 300; i++) {
            centre_query_t cq = {.limit = 25};
            json_t *cd = centre_progress(db, today, &cq);
            json_decref(cd);
        }
        printf("centre_progress only (snapshot reused): %.1f us cpu\n", (double)(cpu_us() - c0) / 300);
    }
    printf("\n# in process, one thread: CPU per call (wall), bytes [%s]\n", db_engine(db));
    printf("%-36s %10s %10s %9s %8s\n", "target", "cpu us", "wall us", "bytes", "ratio");
    printf("%-36s %10.2f %10s %9s %8s\n", "bare SELECT 1", base_select.cpu_us, "-", "-", "-");
    printf("%-36s %10.1f %10.1f %9zu %8s\n", "baseline: 30 rows -> json -> html", base.cpu_us, base.wall_us, base.bytes, "1.00");
    printf("%-36s %10.1f %10.1f %9zu %8.2f  [budget <= 15000 us: %s]\n", "centre dashboard (+ hours), afresh",
           dash_cold.cpu_us, dash_cold.wall_us, dash_cold.bytes, dash_cold.cpu_us / base.cpu_us,
           dash_cold.wall_us <= 15000 ? "met" : "NOT met");
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "centre dashboard, snapshot reused", dash.cpu_us,
           dash.wall_us, dash.bytes, dash.cpu_us / base.cpu_us);
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "centre progress API (reused)", dash_api.cpu_us, dash_api.wall_us,
           dash_api.bytes, dash_api.cpu_us / base.cpu_us);
    printf("%-36s %10.1f %10.1f %9zu %8.2f  [budget <= 150 us: %s]\n", "matrix page (120 criteria)", mx.cpu_us,
           mx.wall_us, mx.bytes, mx.cpu_us / base.cpu_us, mx.cpu_us <= 150 ? "met" : "NOT met");
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "progress API (120 criteria)", pg.cpu_us, pg.wall_us, pg.bytes,
           pg.cpu_us / base.cpu_us);
    printf("%-36s %10.1f %10.1f %9zu %8.2f\n", "progress page (120 criteria)", pgpage.cpu_us, pgpage.wall_us,
           pgpage.bytes, pgpage.cpu_us / base.cpu_us);
    { /* the dashboard's count of overdue progress reviews (part of it), every enrolment's schedule */
        int64_t n = 0;
        uint64_t c0 = cpu_us(), w0 = util_now_us();
        for (int i = 0; i < 20; i++)
            n = reviews_overdue_count(db, 0, today);
        double c = (double)(cpu_us() - c0) / 20, w = (double)(util_now_us() - w0) / 20;
        printf("%-36s %10.1f %10.1f %9lld %8.2f\n", "reviews overdue (every enrolment)", c, w, (long long)n,
               c / base.cpu_us);
    }
    fflush(stdout);

    int rc = 0;
    if (wrk_on) {
        make_session(admin, BENCH_TOKEN);
        db_close(db);
        db = NULL;
        char *bin = self_dir();
        char evi[4200], bare[4200];
        snprintf(evi, sizeof evi, "%s/../../evitrack", bin);
        snprintf(bare, sizeof bare, "%s/bench_bare_hello", bin);
        char url[256], bare_url[256];
        char bare_out[300];
        snprintf(bare_out, sizeof bare_out, "%s/bare.out", dir);
        char *bare_argv[] = {bare, "--port", "0", NULL};
        pid_t bp = start_server(bare_argv, bare_out, bare_url, sizeof bare_url);
        char *evi_argv[] = {evi, "serve", "--db", dbpath, "--data", datadir, "--port", "0", "--quiet", NULL};
        pid_t sp = start_server(evi_argv, outpath, url, sizeof url);
        if (sp < 0) {
            fprintf(stderr, "bench_centre: the server did not start (%s)\n", evi);
            stop_server(bp);
            return 1;
        }
        const char *cookie = "evitrack_session=" BENCH_TOKEN;
        printf("\n# wrk -t2 -c64 -d%ds against the server on the same database [%s]\n", duration,
               db_target_is_pg(dbpath) ? "postgresql" : "sqlite");
        printf("%-36s %12s %9s %9s %8s %10s\n", "target", "requests/s", "p50 ms", "p99 ms", "non-2xx", "cpu us/req");
        wrk_result_t wb = {0};
        if (bp > 0) {
            long long t0 = cpu_ticks(bp);
            wb = run_wrk(bare_url, NULL, duration);
            double cpu = wb.requests ? (double)(cpu_ticks(bp) - t0) / (double)sysconf(_SC_CLK_TCK) / (double)wb.requests * 1e6 : 0;
            printf("%-36s %12.0f %9.3f %9.3f %8ld %10.1f\n", "bare libmicrohttpd (baseline)", wb.rps, wb.p50_ms,
                   wb.p99_ms, wb.non2xx, cpu);
            stop_server(bp);
        }
        struct { const char *label, *path; } targets[] = {
            {"centre dashboard page", "/centre"},
            {"matrix page", mpath},
            {"progress API", ppath},
        };
        for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
            char full[512], cmd[1024], code[16] = "";
            snprintf(full, sizeof full, "%s%s", url, targets[i].path);
            /* wrk counts redirects as success: make sure the page really answers 200 */
            snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' -H 'Cookie: %s' '%s'", cookie, full);
            FILE *cp = popen(cmd, "r");
            if (!cp || !fgets(code, sizeof code, cp) || strcmp(code, "200") != 0) {
                fprintf(stderr, "bench_centre: %s answered %s, not 200\n", full, code);
                rc = 1;
            }
            if (cp)
                pclose(cp);
            long long t0 = cpu_ticks(sp);
            wrk_result_t w = run_wrk(full, cookie, duration);
            double cpu = w.requests ? (double)(cpu_ticks(sp) - t0) / (double)sysconf(_SC_CLK_TCK) / (double)w.requests * 1e6 : 0;
            printf("%-36s %12.0f %9.3f %9.3f %8ld %10.1f  ratio %.3f of bare rps; [p99 < 10 ms: %s]\n",
                   targets[i].label, w.rps, w.p50_ms, w.p99_ms, w.non2xx, cpu, wb.rps > 0 ? w.rps / wb.rps : 0,
                   w.p99_ms > 0 && w.p99_ms < 10 ? "met" : "NOT met");
            if (w.non2xx)
                rc = 1;
        }
        if (matrix_http_figures(sp, url, cookie, mpath, bare, dir, duration))
            rc = 1;
        stop_server(sp);
    } else {
        db_close(db);
    }
    tmpl_set_free(app.templates);
    if (!keep) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
