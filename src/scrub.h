/* scrub.h: re-checking the stored copies of evidence files against their SHA-256 */
#ifndef EVITRACK_SCRUB_H
#define EVITRACK_SCRUB_H

#include <stdint.h>

#include "db.h"

struct storage;

/*
 * A stored file's name is its SHA-256, recorded when it was uploaded. Uploads, single
 * downloads and `store copy` check every byte against it. An export checks each file
 * against the CRC-32 recorded at upload instead (blobs.crc32: a tenth of the CPU, and the
 * zip needs it anyway), which catches a disk's damage (flipped bits, a truncated or
 * swapped file) but not a copy deliberately forged to keep its CRC. The scrub closes that
 * gap, as ZFS's and Ceph's scrubs do: every stored file is read again in full and checked
 * against its SHA-256, the oldest check first, on the housekeeping schedule and with
 * `evitrack store verify`. A file that fails is marked damaged (blobs.damaged_at) and
 * its CRC-32 cleared: later exports put a note in its place, opening it says it is
 * damaged, and the failure is logged with the evidence it belongs to; a check that finds
 * it whole again (after a restore) clears the mark. The recipient of an export can check every file offline against the
 * manifest (`evitrack audit verify --export FILE.zip`).
 */

typedef struct scrub_stats {
    int64_t checked;      /* files read whole (intact + damaged) */
    int64_t intact;       /* matched their SHA-256 */
    int64_t damaged;      /* did not: their CRC-32 record is cleared */
    int64_t missing;      /* not in the store (not counted in checked) */
    int64_t crc_recorded; /* intact files that had no CRC-32 recorded (stored before schema/019) */
    uint64_t bytes;       /* bytes read */
} scrub_stats_t;

/* Checks recorded blobs: with checked_before NULL every one; else those never checked
 * first, then those last checked before checked_before (ISO 8601 UTC, e.g.
 * "2026-10-30T00:00:00Z"), oldest first. Stops once max_bytes have been read (0: no
 * limit; a file is never cut short). Records each
 * outcome in blobs (crc32, checked_at) and logs each damaged or missing file with the
 * evidence that holds it, each line starting with label ("scrub", "store verify").
 * EV_OK (damaged and missing files are counted, not errors), or STORAGE_UNAVAILABLE /
 * EV_ERR when the store or the database stopped answering: what was checked so far is
 * recorded and counted. */
int scrub_run(db_t *db, struct storage *store, const char *checked_before, uint64_t max_bytes, const char *label,
              scrub_stats_t *st);

/* `evitrack store verify [--db FILE] [--data DIR] [--store DIR|s3://...]
 * [--store-credentials FILE]`: checks every recorded file now. Exit 0 when all are
 * intact, 1 when any is damaged or missing or the run could not finish, 2 on a usage
 * error. */
int scrub_cmd(int argc, char **argv);

#endif
