/* housekeeping.h: the start-up sweep of files a crash left behind, and stored-file collection on a schedule */
#ifndef EVITRACK_HOUSEKEEPING_H
#define EVITRACK_HOUSEKEEPING_H

#include <stdint.h>

#include "http.h"

/* Files in data/tmp younger than this may belong to an upload in progress on
 * another server sharing the data directory: the start-up sweep leaves them. */
#define HOUSEKEEPING_GRACE_S (15 * 60)

/* The scrub (scrub.h) on the same schedule: every stored file is checked against its
 * SHA-256 again once it was last checked more than a cycle ago, at most so many bytes a
 * round (about 12 s of one core at nice 10; at the default round every 6 hours that is
 * 64 GB a day, so a 2 TB store is gone through about once a month). */
#define HOUSEKEEPING_SCRUB_CYCLE_S (30 * 86400)
#define HOUSEKEEPING_SCRUB_BYTES ((uint64_t)16 << 30)

typedef struct sweep_stats {
    int64_t uploads;      /* temporary uploads (upload-*, and any other plain file) */
    int64_t exports;      /* export zips of earlier versions (export-*, *.tmp-*) */
    int64_t bytes;
} sweep_stats_t;

/* Removes plain files under data_dir/tmp last modified more than grace_s
 * seconds ago (what a kill -9 left), counting them in *st. EV_OK, or EV_ERR
 * when some file could not be removed (logged). */
int housekeeping_sweep_tmp(const char *data_dir, int64_t grace_s, sweep_stats_t *st);

/* Serve start: sweeps data/tmp (and logs what it removed), then starts a
 * thread that runs evidence_gc() on app->store (listing the directory or the
 * bucket), then a round of the scrub, every app->gc_interval_s seconds (0: never)
 * with its own database connection, off the request threads. EV_OK or EV_ERR. */
int housekeeping_start(const app_t *app);

/* Serve stop: ends the collector thread (waiting for a run in progress). */
void housekeeping_stop(void);

#endif
