/* bench_audit.c: write transactions per second with N concurrent writers, three ways, in one run:
 *   plain     each transaction writes one plain row (the baseline);
 *   one lock  each transaction links one hash-chained event into a bench table under one lock
 *             held to its COMMIT (pg_advisory_xact_lock; BEGIN IMMEDIATE on SQLite): the audit
 *             chain's design before issue 19's chainer, kept here as the "before" figure;
 *   audit     each transaction records one event through audit_record (the current design: on
 *             PostgreSQL written unlinked, no lock, and linked by the chainer).
 * Then the audit trail is verified (on PostgreSQL audit_verify waits for the chain: this process
 * links it, as no server holds the chainer lock). Any engine:
 *   bench_audit DB_PATH_OR_URL [WRITERS=1,8,64] [SECONDS=3]
 * One line per writer count: tx/s of each and the ratios to plain; exit 1 if a chain is broken. */
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "db.h"

enum { MODE_PLAIN, MODE_LOCK, MODE_AUDIT };

static const char *target;
static double seconds;
static int mode;

typedef struct {
    long done, failed;
} result_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pre-chainer design: the tail read and extended under one lock held to COMMIT. */
static int link_under_lock(db_t *db, long n)
{
    if (db_lock_xact(db, 0x62656e6368) != EV_OK) /* "bench" */
        return EV_ERR;
    int64_t id = 1;
    char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000", hash[65], content[96];
    db_stmt_t *st = db_query(db, "SELECT id, hash FROM bench_chain ORDER BY id DESC LIMIT 1", "");
    int rc = db_next(st);
    if (rc == 1) {
        id = db_col_int(st, 0) + 1;
        snprintf(prev, sizeof prev, "%s", db_col_text(st, 1));
    }
    db_stmt_done(st);
    if (rc < 0)
        return EV_ERR;
    snprintf(content, sizeof content, "{\"id\":%lld,\"n\":%ld}", (long long)id, n);
    struct sha256_ctx ctx;
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(prev), (const uint8_t *)prev);
    sha256_update(&ctx, strlen(content), (const uint8_t *)content);
    sha256_digest(&ctx, sizeof digest, digest);
    util_hex(digest, sizeof digest, hash);
    return db_run(db, "INSERT INTO bench_chain (id, prev_hash, hash) VALUES (?, ?, ?)", "itt", id, prev, hash);
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
        if (ok && mode == MODE_AUDIT)
            ok = audit_record(db, 0, "bench.write", "bench", i + 1, 0, NULL, NULL) == EV_OK;
        else if (ok && mode == MODE_LOCK)
            ok = link_under_lock(db, i) == EV_OK;
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

/* The bench_chain table links from the genesis hash without a gap. */
static int lock_chain_intact(db_t *db, int64_t *n)
{
    *n = db_int(db, "SELECT count(*) FROM bench_chain", -1, "");
    return db_int(db, "SELECT count(*) FROM bench_chain c JOIN bench_chain p ON p.id = c.id - 1 AND p.hash = c.prev_hash",
                  -1, "") == *n - 1 || *n == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_audit DB_PATH_OR_URL [WRITERS=1,8,64] [SECONDS=3]\n");
        return 2;
    }
    target = argv[1];
    const char *list = argc > 2 ? argv[2] : "1,8,64";
    seconds = argc > 3 ? atof(argv[3]) : 3;
    char err[512];
    db_t *db = db_open(target);
    if (!db || db_migrate(db, err, sizeof err) != EV_OK ||
        db_exec(db, "CREATE TABLE IF NOT EXISTS bench_plain (n INTEGER NOT NULL, at TEXT NOT NULL)") != EV_OK ||
        db_exec(db, "CREATE TABLE IF NOT EXISTS bench_chain (id INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL,"
                    " hash TEXT NOT NULL)") != EV_OK) {
        fprintf(stderr, "bench_audit: cannot prepare %s\n", target);
        return 1;
    }
    int broken = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int writers = atoi(w);
        if (writers < 1)
            continue;
        long failed_plain = 0, failed_lock = 0, failed_audit = 0;
        mode = MODE_PLAIN;
        double plain = run(writers, &failed_plain);
        mode = MODE_LOCK;
        double locked = run(writers, &failed_lock);
        mode = MODE_AUDIT;
        double audit = run(writers, &failed_audit);
        double t0 = now_s();
        int64_t count = 0, bad = 0, lock_n = 0;
        char reason[256] = "";
        int intact = audit_verify(db, &count, &bad, reason, sizeof reason) == EV_OK;
        double verify_s = now_s() - t0;
        int lock_intact = lock_chain_intact(db, &lock_n);
        broken |= !intact || !lock_intact;
        printf("bench_audit[%s] %2d writers, %.0f s each: plain %6.0f tx/s (%ld failed) | one lock %6.0f tx/s, "
               "ratio %.2f (%ld failed), chain %s | audit %6.0f tx/s, ratio %.2f (%ld failed), chain %s: %lld events "
               "(verify with catch-up %.2f s)%s%s\n",
               db_engine(db), writers, seconds, plain, failed_plain, locked, plain > 0 ? locked / plain : 0,
               failed_lock, lock_intact ? "intact" : "BROKEN", audit, plain > 0 ? audit / plain : 0, failed_audit,
               intact ? "intact" : "BROKEN", (long long)count, verify_s, intact ? "" : ": ", intact ? "" : reason);
        fflush(stdout);
    }
    free(copy);
    db_close(db);
    return broken ? 1 : 0;
}
