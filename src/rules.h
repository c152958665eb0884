/* rules.h: the assessment integrity rules: what a decision needs, what it freezes, what may no longer change */
#ifndef EVITRACK_RULES_H
#define EVITRACK_RULES_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"

/* Why a rule refused: an HTTP status (400/403/404/409/422), a snake_case code, the
 * request field it concerns (may be "") and a plain-words message. */
typedef struct rules_err {
    int status;
    char code[48];
    char field[48];
    char message[320];
} rules_err_t;

/* A decision as asked for (all borrowed). */
typedef struct rules_decision {
    int64_t learner_id;
    int64_t criterion_id;
    const char *outcome;    /* "met" | "not_met" */
    const char *feedback;   /* may be NULL */
    json_t *vacsr;          /* {valid, authentic, current, sufficient, reliable} or NULL */
    int declaration;        /* 1 only when the assessor explicitly declared (no default) */
    json_t *evidence_ids;   /* array of positive integers (already parsed) or NULL */
    const char *rpl_reason; /* recognition of prior learning: why, or NULL */
} rules_decision_t;

/* The decision rules, the same for the API, the pages and the command line
 * (awarding-body practice: a judgement stands on evidence the assessor saw and
 * declared valid, authentic, current, sufficient and reliable):
 *  - outcome is "met" or "not_met"; "not_met" needs feedback;
 *  - "met" needs all five VACSR checks true, the explicit declaration and at least one
 *    cited evidence item;
 *  - every cited item is the learner's, submitted (not a draft), and mapped to the
 *    criterion, whoever wrote it (the learner, their assessor's written-up record, a
 *    witness's testimony; an assessor's record only planned is refused: not_written_up). The one exception: evidence of kind recognition_of_prior_learning may be
 *    cited unmapped when rpl_reason says why (and rpl_reason needs such evidence);
 *  - the learner's enrolment on the criterion's qualification has not ended.
 * Reads only. EV_OK, or EV_ERR with *e filled (nothing changed). */
int rules_check_decision(db_t *db, const rules_decision_t *d, rules_err_t *e);

/* Records what decision_id was made on, inside the caller's transaction: per cited
 * evidence its title, kind, mapping note and author (role and name), and every file (id, name, size, SHA-256,
 * type) it has now; and the criterion's ref and wording are read by the caller into
 * the decision row. EV_OK or EV_ERR. */
int rules_freeze_basis(db_t *db, int64_t decision_id, int64_t learner_id, int64_t criterion_id,
                       json_t *evidence_ids);

/* The frozen basis of a decision: [{evidence_id, title, kind, note, mapped, author_role, author_name,
 * files: [{id, name, size, sha256, mime}]}]. Never NULL; caller owns it. */
json_t *rules_basis(db_t *db, int64_t decision_id);

/* Evidence cited by a current "met" decision is frozen: its files may not be removed or
 * replaced. EV_OK when evidence_id may lose files; EV_ERR with a 409 in *e otherwise. */
int rules_check_files_change(db_t *db, int64_t evidence_id, rules_err_t *e);

/* Mapping changes: a criterion whose current "met" decision cites evidence_id may not be
 * unmapped from it. keep[] are the criterion ids of the new mapping. EV_OK or EV_ERR (409). */
int rules_check_mapping_change(db_t *db, int64_t evidence_id, const int64_t *keep, size_t nkeep,
                               rules_err_t *e);

/* Ended enrolments take no new work: EV_OK when the learner has an active enrolment on
 * the qualification of criterion_id (criterion_id 0: on any qualification), else EV_ERR
 * with a 409 enrolment_ended (or 409 not_enrolled) in *e. */
int rules_check_enrolment_open(db_t *db, int64_t learner_id, int64_t criterion_id, rules_err_t *e);

/* A specification revision's effect on assessment, inside the importer's transaction.
 * revisions: [{criterion_id, unit_id, ref, change: "added"|"reworded"|"retired",
 * text, old_text?}] (as the importer found them); each gains learners (how many
 * learners it touches: enrolled ones for "added", those with evidence mapped or a
 * decision on it otherwise), decisions (current decisions on it) and signed_off
 * (sign-offs of its unit). Every sign-off of a changed unit is flagged needs_review
 * with a note naming the changes, for its assessor and IQA (awarding-body practice:
 * a unit signed off against an older revision is reviewed, and reopened if need be).
 * today: YYYY-MM-DD for the note. EV_OK or EV_ERR. */
int rules_spec_revision(db_t *db, json_t *revisions, const char *today);

#endif
