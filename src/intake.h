/* intake.h: onboarding an intake: a CSV of learners and enrolments, checked row by row, imported all or nothing */
#ifndef EVITRACK_INTAKE_H
#define EVITRACK_INTAKE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* /admin/intake (upload, preview, import) and POST /api/v1/intake. */
extern const route_t intake_routes[];

/* Checks an intake CSV (RFC 4180, UTF-8, a header row naming the columns name,
 * email, uln, qualification, assessor_email, iqa_email, start_date,
 * planned_end_date, employer; dates YYYY-MM-DD or DD/MM/YYYY) against the
 * database. Returns a new report: {rows: [{line, the columns..., problems:
 * [{field, message}], ok, existing_learner}], file_problems: [text], total,
 * with_problems, ready}. Reads only. */
json_t *intake_check(db_t *db, const char *csv, size_t len);

/* Imports the whole intake in ONE transaction, or nothing: checks it again
 * inside the transaction, then for each row creates the learner's account
 * (invited: an emailed link to choose a password) unless one exists, records
 * the ULN, enrols them (the enrolment email is queued too) and stores the
 * employer. EV_OK with *report (caller frees) carrying accounts_created,
 * enrolments_created, invitations_queued; EV_ERR with *report showing the
 * problems (or NULL when the database failed). actor_id 0 = the command line. */
int intake_import(db_t *db, int64_t actor_id, const char *actor_name, const char *csv, size_t len, json_t **report);

/* 1 when uln is a valid Unique Learner Number: 10 digits, not starting with 0,
 * whose digits times 10, 9, ..., 1 sum to 10 modulo 11 (Learning Records
 * Service check digit, as specified for the ILR and HESA returns). */
int intake_uln_valid(const char *uln);

/* evitrack import-learners [--db FILE] [--base-url URL] [--dry-run] FILE.csv */
int intake_cli(int argc, char **argv);

#endif
