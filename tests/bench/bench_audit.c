/* bench_audit.c: write transactions per second with N concurrent writers, each adding one
 * hash-chained audit event (audit_record under its chain lock), against a baseline of the
 * same transactions writing one plain row; then verifies the chain. Any engine:
 *   bench_audit DB_PATH_OR_URL [WRITERS=64] [SECONDS=5]
 * Prints "audit: T tx/s, plain: P tx/s, ratio R, chain intact: N events". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "db.h"

static const char *target;
static double seconds;
static int chained;

typedef struct {
    long done, failed;
} result_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
    result_t *res = arg;
    db_t *db = db_open(target);
    if (!db) {
        res->failed = -1;
        return NULL;
    }
    double end = now_s() + seconds;
    for (long i = 0; now_s() < end; i++) {
        int ok = db_begin(db) == EV_OK;
        if (ok && chained)
            ok = audit_record(db, 0, "bench.write", "bench", i + 1, 0, NULL, NULL) == EV_OK;
        else if (ok)
            ok = db_run(db, "INSERT INTO bench_plain (n, at) VALUES (?, ?)", "it", i, "2026-11-29T00:00:00Z") == EV_OK;
        if (ok && db_commit(db) == EV_OK) {
            res->done++;
        } else {
            db_rollback(db);
            res->failed++;
        }
    }
    db_close(db);
    return NULL;
}

/* Runs the writers; returns transactions per second (failures added to *failed). */
static double run(int writers, long *failed)
{
    pthread_t *t = calloc((size_t)writers, sizeof *t);
    result_t *r = calloc((size_t)writers, sizeof *r);
    double t0 = now_s();
    for (int i = 0; i < writers; i++)
        pthread_create(&t[i], NULL, writer, &r[i]);
    long done = 0;
    for (int i = 0; i < writers; i++) {
        pthread_join(t[i], NULL);
        done += r[i].done;
        *failed += r[i].failed;
    }
    double tps = (double)done / (now_s() - t0);
    free(t);
    free(r);
    return tps;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_audit DB_PATH_OR_URL [WRITERS] [SECONDS]\n");
        return 2;
    }
    target = argv[1];
    int writers = argc > 2 ? atoi(argv[2]) : 64;
    seconds = argc > 3 ? atof(argv[3]) : 5;
    char err[512];
    db_t *db = db_open(target);
    if (!db || db_migrate(db, err, sizeof err) != EV_OK ||
        db_exec(db, "CREATE TABLE IF NOT EXISTS bench_plain (n INTEGER NOT NULL, at TEXT NOT NULL)") != EV_OK) {
        fprintf(stderr, "bench_audit: cannot prepare %s\n", target);
        return 1;
    }
    long failed_plain = 0, failed_audit = 0;
    chained = 0;
    double plain = run(writers, &failed_plain);
    chained = 1;
    double audit = run(writers, &failed_audit);
    int64_t count = 0, bad = 0;
    char reason[256] = "";
    int intact = audit_verify(db, &count, &bad, reason, sizeof reason) == EV_OK;
    printf("bench_audit[%s]: %d writers, %.0f s each: audit %.0f tx/s (%ld failed), plain %.0f tx/s (%ld failed), "
           "ratio audit/plain %.2f, chain %s: %lld events%s%s\n",
           db_engine(db), writers, seconds, audit, failed_audit, plain, failed_plain, plain > 0 ? audit / plain : 0,
           intact ? "intact" : "BROKEN", (long long)count, intact ? "" : ": ", intact ? "" : reason);
    db_close(db);
    return intact ? 0 : 1;
}
