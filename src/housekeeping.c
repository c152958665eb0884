/* housekeeping.c: the start-up sweep of files a crash left behind, and stored-file collection on a schedule */
#include "housekeeping.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "evidence.h"
#include "progress.h"
#include "reviews.h"
#include "scrub.h"
#include "storage.h"
#include "stream.h"
#include "util.h"

int housekeeping_sweep_tmp(const char *data_dir, int64_t grace_s, sweep_stats_t *st)
{
    int rc = EV_OK;
    memset(st, 0, sizeof *st);
    char *dir = fmtalloc("%s/tmp", data_dir);
    DIR *d = opendir(dir);
    time_t cutoff = time(NULL) - (time_t)grace_s;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = fmtalloc("%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_mtime <= cutoff) {
            if (unlink(p) == 0) {
                if (!strncmp(de->d_name, "export-", 7) || strstr(de->d_name, ".tmp-"))
                    st->exports++;
                else
                    st->uploads++;
                st->bytes += sb.st_size;
            } else {
                ev_log("sweep: cannot remove %s: %s", p, strerror(errno));
                rc = EV_ERR;
            }
        }
        free(p);
    }
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

static pthread_mutex_t hk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_wake = PTHREAD_COND_INITIALIZER;
static int hk_stop;
static int hk_running;
static pthread_t hk_thread;

typedef struct hk_args {
    storage_t *store; /* the server's: it outlives the collector (housekeeping_stop) */
    int interval_s;
} hk_args_t;

static void *collector(void *arg)
{
    hk_args_t *a = arg;
    /* collection and the scrub give way to requests, as export producers do (stream.h) */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), STREAM_NICE);
    pthread_mutex_lock(&hk_lock);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += a->interval_s;
        while (!hk_stop && pthread_cond_timedwait(&hk_wake, &hk_lock, &until) == 0)
            ;
        if (hk_stop)
            break;
        pthread_mutex_unlock(&hk_lock);
        db_t *db = db_thread();
        evidence_gc_stats_t st;
        uint64_t t0 = util_now_us();
        /* an hour's grace: an upload may sit between its store and its commit; a day for
         * unfinished uploads to S3, so a long upload's parts are never taken mid-way */
        if (db && evidence_gc(db, a->store, 3600, 86400, 0, &st) == EV_OK)
            ev_log("gc: removed %lld unreferenced stored file%s (%lld bytes), %lld row%s and %lld temporary file%s "
                   "in %llu ms",
                   (long long)st.blobs_removed, st.blobs_removed == 1 ? "" : "s", (long long)st.bytes_removed,
                   (long long)st.rows_removed, st.rows_removed == 1 ? "" : "s", (long long)st.tmp_removed,
                   st.tmp_removed == 1 ? "" : "s", (unsigned long long)((util_now_us() - t0) / 1000));
        else
            ev_log("gc: the scheduled collection failed (it runs again in %d s)", a->interval_s);
        /* the scrub: stored files last checked more than a cycle ago are read again and
         * checked against their SHA-256, a few GB a round, so every file is checked about
         * once a cycle without a round ever taking long (scrub.h) */
        char before[21];
        util_iso_time(time(NULL) - HOUSEKEEPING_SCRUB_CYCLE_S, before);
        scrub_stats_t ss;
        t0 = util_now_us();
        if (db && scrub_run(db, a->store, before, HOUSEKEEPING_SCRUB_BYTES, "scrub", &ss) == EV_OK) {
            if (ss.checked || ss.missing)
                ev_log("scrub: %lld stored file%s checked against %s SHA-256 (%.1f MB in %llu ms): %lld intact, %lld "
                       "damaged, %lld missing",
                       (long long)ss.checked, ss.checked == 1 ? "" : "s", ss.checked == 1 ? "its" : "their",
                       (double)ss.bytes / 1e6, (unsigned long long)((util_now_us() - t0) / 1000),
                       (long long)ss.intact, (long long)ss.damaged, (long long)ss.missing);
            else
                ev_log("scrub: nothing due: every stored file was checked against its SHA-256 within the last %d days",
                       HOUSEKEEPING_SCRUB_CYCLE_S / 86400);
            /* a reminder each round while any stays damaged (restored files are cleared by
             * `store verify`) */
            int64_t damaged = db_int(db, "SELECT count(*) FROM blobs WHERE damaged_at IS NOT NULL", 0, "");
            if (damaged > 0)
                ev_log("scrub: %lld stored file%s still marked damaged: restore %s from a backup, then run `evitrack "
                       "store verify` (docs/operations.md, \"A damaged or missing object\")",
                       (long long)damaged, damaged == 1 ? " is" : "s are", damaged == 1 ? "it" : "them");
        }
        /* progress reviews falling due within two weeks: told once each (reviews.h) */
        int queued = 0;
        if (db && reviews_remind(db, progress_today(), 14, &queued) == EV_OK && queued)
            ev_log("reviews: %d \"review due\" reminder%s queued", queued, queued == 1 ? "" : "s");
        pthread_mutex_lock(&hk_lock);
    }
    pthread_mutex_unlock(&hk_lock);
    db_thread_close();
    free(a);
    return NULL;
}

int housekeeping_start(const app_t *app)
{
    sweep_stats_t st;
    char *tmp = fmtalloc("%s/tmp", app->data_dir);
    mkdir(app->data_dir, 0700);
    mkdir(tmp, 0700);
    free(tmp);
    housekeeping_sweep_tmp(app->data_dir, HOUSEKEEPING_GRACE_S, &st);
    ev_log("start-up sweep: removed %lld temporary upload%s and %lld export file%s (%lld bytes) older than %d minutes "
           "from %s/tmp",
           (long long)st.uploads, st.uploads == 1 ? "" : "s", (long long)st.exports, st.exports == 1 ? "" : "s",
           (long long)st.bytes, HOUSEKEEPING_GRACE_S / 60, app->data_dir);
    if (app->gc_interval_s <= 0)
        return EV_OK;
    hk_args_t *a = xcalloc(1, sizeof *a);
    a->store = app->store;
    a->interval_s = app->gc_interval_s;
    hk_stop = 0;
    if (pthread_create(&hk_thread, NULL, collector, a) != 0) {
        free(a);
        return EV_ERR;
    }
    hk_running = 1;
    return EV_OK;
}

void housekeeping_stop(void)
{
    if (!hk_running)
        return;
    pthread_mutex_lock(&hk_lock);
    hk_stop = 1;
    pthread_cond_broadcast(&hk_wake);
    pthread_mutex_unlock(&hk_lock);
    pthread_join(hk_thread, NULL);
    hk_running = 0;
}
