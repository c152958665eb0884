/* evidence.h: evidence items, their files and their mapping to criteria: handlers, helpers, gc */
#ifndef EVITRACK_EVIDENCE_H
#define EVITRACK_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"
#include "rules.h"

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

/* ---- evidence written for the learner by someone else (records.c: the assessor;
 * witness.c: a witness through a one-time link) ---- */

/* The request's accepted `file` parts (sniffed), between taking and recording. */
typedef struct evidence_uploads evidence_uploads_t;

/* Sniffs the request's `file` parts. Returns 0 with *out set (caller frees with
 * evidence_uploads_free; NULL when none were sent), or an HTTP status with the
 * refusal recorded on r (a refused type or too many files also add a field error
 * on "file": 400/415). */
int evidence_uploads_take(req_t *r, evidence_uploads_t **out);
/* Number of accepted files (0 for NULL). */
size_t evidence_uploads_count(const evidence_uploads_t *u);
/* Hands them to the store before the transaction that records them: 0, or an HTTP
 * status (503 store down, 500) set on r. u may be NULL. */
int evidence_uploads_store(req_t *r, evidence_uploads_t *u);
void evidence_uploads_free(evidence_uploads_t *u);
/* Records u's files (stored already) on item evidence_id: blob and file rows, inside
 * the caller's transaction. u may be NULL. EV_OK or EV_ERR. */
int evidence_uploads_record(db_t *db, int64_t evidence_id, const evidence_uploads_t *u);

/* An item written by the learner's assessor or a witness (all strings borrowed;
 * description, body, occurred_on, place, activity may be NULL). */
typedef struct evidence_authored {
    int64_t learner_id;
    int64_t actor_id;         /* the audit actor: the assessor; 0 for a witness (no account) */
    const char *author_role;  /* "assessor" or "witness" */
    int64_t author_id;        /* the assessor's account; 0 for a witness */
    int64_t group_id;         /* a group observation's shared record, or 0 */
    const char *title, *kind, *description, *body, *occurred_on, *place, *activity;
} evidence_authored_t;

/* Inserts the item as a draft with u's files (may be NULL; already stored) and its
 * questions ([{question, answer}], borrowed, may be NULL), audited as evidence.create
 * with its author. INSIDE THE CALLER'S TRANSACTION. EV_OK (and *id_out) or EV_ERR. */
int evidence_insert_authored(db_t *db, const evidence_authored_t *a, const evidence_uploads_t *u,
                             json_t *questions, int64_t *id_out);

/* One criterion an item covers, with the note of how (borrowed). */
typedef struct evidence_map_item {
    int64_t criterion_id;
    const char *note;
} evidence_map_item_t;

/* Reads a mapping from the request: JSON "criteria": [{criterion_id, note}] or form
 * checkboxes `criterion` with `note_<id>`. 0 and *items (caller frees; notes borrow from
 * r->in) or an HTTP status with the error set on r. */
int evidence_mapping_read(req_t *r, evidence_map_item_t **items, size_t *n);
/* Replaces the item's mapping as the learner's page does (criteria of the learner's
 * enrolments, ended enrolments refused, met criteria kept: rules.c), audited as
 * evidence.map by actor_id. INSIDE THE CALLER'S TRANSACTION. EV_OK or EV_ERR with *e. */
int evidence_mapping_apply(db_t *db, int64_t id, int64_t actor_id, const evidence_map_item_t *items, size_t n,
                           rules_err_t *e);
/* Makes a draft ready for assessment without a learner's submit (it needs criteria and
 * content: files, text or questions), audited as evidence.submit by actor_id. The
 * assessor is told unless they wrote it. INSIDE THE CALLER'S TRANSACTION. EV_OK or EV_ERR. */
int evidence_mark_ready(db_t *db, int64_t id, int64_t actor_id, int notify_assessor, rules_err_t *e);

/* Who wrote evidence_id: {role ("learner"|"assessor"|"witness"), role_label, name,
 * is_learner/is_assessor/is_witness, and for a witness job_title, relationship, email,
 * given_at, request_id}. NULL when the item does not exist. New reference. */
json_t *evidence_author_json(db_t *db, int64_t evidence_id);
/* Adds author_label ("Written by the assessor, Sam Khan") and is_authored to a list row
 * holding author_role, assessor_name and witness_name. */
void evidence_author_label(json_t *row);

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
    int64_t uploads_aborted; /* unfinished S3 multipart uploads older than the grace */
    int store_unlisted;      /* the store could not be listed: none of it was judged */
} evidence_gc_stats_t;

/* Removes blobs (rows, and objects in the store: a directory or a bucket) that
 * no evidence file refers to, and stale spool files, leaving anything modified
 * in the last grace_s seconds (an upload may be between its store and its
 * commit), and aborts unfinished uploads to the store (S3 multipart) begun more than
 * uploads_grace_s seconds ago (an upload's store leg in progress must not be cut: the
 * schedule gives it a day). dry_run: only count. EV_OK or EV_ERR. */
int evidence_gc(db_t *db, struct storage *store, int64_t grace_s, int64_t uploads_grace_s, int dry_run,
                evidence_gc_stats_t *st);
/* `evitrack gc [--db FILE] [--data DIR] [--store DIR|s3://...] [--store-credentials FILE]
 *  [--grace-minutes N] [--dry-run]`:
 * gets the arguments after "gc". Returns the process exit status. */
int evidence_cmd_gc(int argc, char **argv);

#endif
