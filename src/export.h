/* export.h: portfolio exports as zip files (libarchive): one learner, a cohort, and
 * the learner's own subject-access copy; each with a static index.html that reads
 * offline, every evidence file, the audit events and a SHA-256 manifest */
#ifndef EVITRACK_EXPORT_H
#define EVITRACK_EXPORT_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* What goes into an export. */
struct storage;

typedef enum export_kind {
    EXPORT_PORTFOLIO,      /* for an awarding body: portfolio, files, audit, manifest */
    EXPORT_SUBJECT_ACCESS, /* the same plus data.json: everything held about the learner */
} export_kind_t;

/* Writes learner_id's portfolio to out_path (via a temporary file renamed into
 * place). Evidence files are streamed from the store (verified as they are read). On success fills
 * *files (entries written) and *left_out (evidence files missing from the store or found
 * damaged there, each with a note in its place) where non-NULL. EV_OK, or EV_ERR with a
 * message in err. */
int export_learner(db_t *db, struct storage *store, int64_t learner_id, export_kind_t kind,
                   const char *out_path, int *files, int *left_out, char *err, size_t errlen);

/* Writes every learner enrolled on qualification_id, each in learners/ID-NAME/,
 * with a top index.html and one manifest; *files and *left_out as export_learner.
 * EV_OK, or EV_ERR with a message. */
int export_cohort(db_t *db, struct storage *store, int64_t qualification_id,
                  const char *out_path, int *files, int *left_out, char *err, size_t errlen);

/* The portfolio as one JSON document (what index.html shows; portfolio.json in the
 * zip). NULL when there is no such learner. Caller owns. */
json_t *export_portfolio_json(db_t *db, int64_t learner_id);

/* `evitrack export [--db FILE] [--data DIR] [--store DIR|s3://...] [--store-credentials FILE]
 *  (--learner EMAIL | --qualification ID_OR_CODE)
 *  [--subject-access] --out FILE.zip`: argv after "export". Returns the exit code. */
int export_cli(int argc, char **argv);

extern const route_t export_routes[];

#endif
