/* evidence.h: evidence items, their files and their mapping to criteria: handlers, helpers, gc */
#ifndef EVITRACK_EVIDENCE_H
#define EVITRACK_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* The route table (API and pages), listed in routes.c. */
extern const route_t evidence_routes[];

/* ---- helpers for other modules (the demo, imports, tests) ----
 * Each runs inside the caller's transaction when one is open, else in its
 * own; each writes its audit event and refreshes the learner's criterion
 * status like the handlers do. They return EV_OK or EV_ERR (logged). */

/* A file given as bytes in memory. */
typedef struct evidence_file_in {
    const char *name; /* the file name shown to users */
    const void *data;
    size_t len;
} evidence_file_in_t;

/* Creates a draft for learner_id (acting as the learner): kind is one of
 * evidence_kind_valid(); body is typed text (may be NULL); occurred_on is
 * YYYY-MM-DD or NULL; files (nfiles may be 0) are sniffed and stored as
 * blobs in store like uploads. *id_out gets the new id. */
int evidence_create_text(db_t *db, struct storage *store, int64_t learner_id, const char *title,
                         const char *kind, const char *description, const char *body,
                         const char *occurred_on, const evidence_file_in_t *files, size_t nfiles,
                         int64_t *id_out);
/* Replaces the mapping of an evidence item: n criteria with a note each
 * (notes may be NULL). Only criteria of the learner's enrolments. */
int evidence_set_criteria(db_t *db, int64_t evidence_id, const int64_t *criterion_ids,
                          const char *const *notes, size_t n);
/* Submits a draft (or returned) item for assessment. */
int evidence_submit_item(db_t *db, int64_t evidence_id);

/* 1 when kind is one of the evidence types (observation, witness_testimony, ...). */
int evidence_kind_valid(const char *kind);
/* Serialises, until the open transaction ends, every change to one piece of evidence
 * and every decision made on it, in every process on the database (db_lock_xact; a
 * no-op on SQLite). Take several in ascending id order. EV_OK or EV_ERR. */
int evidence_lock(db_t *db, int64_t evidence_id);
/* "Witness testimony" for "witness_testimony"; the key itself when unknown. */
const char *evidence_kind_label(const char *kind);
/* Human label of an evidence status ("returned" -> "Returned for more work"):
 * static string; the code itself when unknown. */
const char *evidence_status_label(const char *status);
/* Decorates a file row ({id, name, size, mime, download_only, ...}) for pages
 * and the API: url (/evidence/ID/files/FID), size_label, preview kind and
 * is_image / is_pdf / is_audio / is_video, so every page previews the same
 * files the same way (the file itself is served with the sandboxed preview
 * policy). f is changed in place. */
void evidence_decorate_file(json_t *f, int64_t evidence_id);

/* ---- `evitrack gc` ---- */
typedef struct evidence_gc_stats {
    int64_t blobs_removed;   /* files under data/blobs no row refers to */
    int64_t bytes_removed;
    int64_t rows_removed;    /* blobs rows no evidence file refers to */
    int64_t tmp_removed;     /* stale temporary files under data/tmp */
    int64_t blobs_kept;      /* referenced, or too recent to judge */
} evidence_gc_stats_t;

/* Removes blobs (rows, and objects in the store: a directory or a bucket) that
 * no evidence file refers to, and stale spool files, leaving anything modified
 * in the last grace_s seconds (an upload may be between its store and its
 * commit). dry_run: only count. EV_OK or EV_ERR. */
int evidence_gc(db_t *db, struct storage *store, int64_t grace_s, int dry_run, evidence_gc_stats_t *st);
/* `evitrack gc [--db FILE] [--data DIR] [--store DIR|s3://...] [--store-credentials FILE]
 *  [--grace-minutes N] [--dry-run]`:
 * gets the arguments after "gc". Returns the process exit status. */
int evidence_cmd_gc(int argc, char **argv);

#endif
