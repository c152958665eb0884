/* qualifications.h: qualifications, units, outcomes and criteria: spec import into the
 * database, the qualification API and pages, and the `evitrack import` command */
#ifndef EVITRACK_QUALIFICATIONS_H
#define EVITRACK_QUALIFICATIONS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "embed.h"
#include "http.h"

/* GET /api/v1/qualifications[/{id}], GET /api/v1/units/{id}, POST /api/v1/specs
 * and their pages (/qualifications, /qualifications/{id}, /units/{id}, /admin/specs). */
extern const route_t qualifications_routes[];

/* The seed units converted to canonical JSON (the JSON files in schema/demo), compiled in. */
extern const embedded_file_t embedded_demo_specs[];

typedef struct qualifications_import_opts {
    int64_t actor_id;          /* who imports, for the audit trail (0: command line) */
    const char *qualification; /* ID_OR_CODE for documents that name no qualification, or NULL */
    int dry_run;               /* do everything, report it, then roll back */
} qualifications_import_opts_t;

/* Imports one spec document (either format; name is its file name for
 * messages) in one transaction: creates or updates the qualification and
 * units, keeps criterion ids (matched by text, then by ref), retires criteria
 * and outcomes that vanished from a full document, records a 'spec.import'
 * audit event and syncs learners' criterion status when anything changed.
 * A document that names no qualification is matched to a unit already loaded
 * (by title, else by content), or goes into opts->qualification.
 *
 * Returns a new summary the caller owns, in both cases:
 *   {"file", "ok": true, "format", "changes", "dry_run", "qualification": {...},
 *    "units": [{"id","ref","title","action","outcomes":{...},"criteria":{...},
 *               "guidance":{kind: count}, "assignment": [...]}], "warnings": [...]}
 *   {"file", "ok": false, "error": {"file", "line", "reason"}}   (nothing written)
 */
json_t *qualifications_import_buffer(db_t *db, const char *name, const char *data, size_t len,
                                     const qualifications_import_opts_t *opts);
/* The same for a file on disk (name in messages: the path's last component). */
json_t *qualifications_import_file(db_t *db, const char *path, const qualifications_import_opts_t *opts);

/* Appends a human-readable rendering of one file's summary to out (the
 * command's output: what was created or updated, the outcome assignment,
 * warnings; or "FILE:LINE: reason"). */
void qualifications_summary_text(json_t *summary, buf_t *out);

/* `evitrack import [--db FILE] [--qualification ID_OR_CODE] [--dry-run] [--json]
 *  [--print-json] FILE...`: argv after "import". Returns the exit code
 * (0 all imported, 1 some file refused, 2 bad usage). */
int qualifications_cli_import(int argc, char **argv);

/* Imports the bundled demo specs (embedded_demo_specs) into db. EV_OK or EV_ERR. */
int qualifications_demo_seed(db_t *db);

#endif
