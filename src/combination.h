/* combination.h: a qualification's structure (QAN, unit reference numbers, credits, GLH, TQT, unit
 * groups, rules of combination), the optional units each learner chooses, and progress by those rules */
#ifndef EVITRACK_COMBINATION_H
#define EVITRACK_COMBINATION_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* Writes what a canonical qualification object gives of qan, glh, tqt,
 * credit_value, groups and rules to qualification qid (a field the document
 * leaves out is kept; "groups" and "rules", when given, replace the stored
 * ones). Adds to *changes what it changed (nothing when equal: re-import is a
 * no-op). Inside the caller's transaction. EV_OK or EV_ERR. */
int combination_sync_qualification(db_t *db, int64_t qid, json_t *q, int *changes);

/* The same for a canonical unit's number, urn, level, credit_value, glh, tqt. */
int combination_sync_unit(db_t *db, int64_t uid, json_t *unit, int *changes);

/* Adds the stored structure fields to an exported canonical qualification
 * object (qan, glh, tqt, credit_value, groups, rules) and unit object. */
void combination_export_qualification(db_t *db, int64_t qid, json_t *q);
void combination_export_unit(db_t *db, int64_t uid, json_t *u);

/* The qualification's structure for pages and the API: {groups: [{name,
 * mandatory, min_credits, min_units, units: [{id, ref, title, credit_value,
 * level}], missing: [refs not loaded]}], rules: {min_credits,
 * at_or_above_level}, has_structure}. Caller owns. */
json_t *combination_structure(db_t *db, int64_t qid);

/* Progress of one enrolment by the rules of combination, from its units'
 * progress (units: [{id, total, met, ...}] as progress.c builds them; each
 * gets "credit_value", "group", "mandatory", "chosen", "in_plan",
 * "unit_achieved"). Returns NULL when the qualification has no groups and no
 * rules (progress is then the share of all criteria met), else a new object:
 *   {credits_required, credits_planned, credits_achieved, percent (0..100,
 *    100 only when achieved), achieved, checks: [{label, required, achieved,
 *    planned, met, plan_ok}], plan_problems: ["..."]}
 * The rule (awarding-body practice for RQF/QCF rules of combination): a
 * learner achieves the qualification when every mandatory unit is achieved
 * and the credits of achieved units meet the overall minimum, each group's
 * minimum (credits, units) and each "at or above level" minimum. A unit is
 * achieved when all its current criteria are met. percent = credits earned
 * so far (each planned unit's credit value times its share of criteria met)
 * over the credits required, where planned units are the mandatory ones
 * plus the learner's chosen optional units. See docs/progress.md. */
json_t *combination_progress(db_t *db, int64_t enrolment_id, int64_t qid, json_t *units);

/* Percent complete by the rules of combination for many enrolments at once
 * (the centre dashboard, the caseload): a cache of each qualification's
 * structure, owned by the caller, for one request (one db connection).
 * combination_enrolment_percent() returns 1 and sets *percent (0..100, 100
 * only when achieved) and *achieved as combination_progress() would for that
 * enrolment; 0 when the qualification has no structure (the caller keeps the
 * share of criteria met). Two queries per enrolment of a structured
 * qualification; none for the others after the first. */
typedef struct combination_cache combination_cache_t;
combination_cache_t *combination_cache_new(db_t *db);
void combination_cache_free(combination_cache_t *c); /* accepts NULL */
int combination_has_rules(combination_cache_t *c, int64_t qid);
int combination_enrolment_percent(combination_cache_t *c, int64_t enrolment_id, int64_t learner_id, int64_t qid,
                                  int *percent, int *achieved);

/* GET/PUT /api/v1/enrolments/{id}/units and the page /enrolments/{id}/units. */
extern const route_t combination_routes[];

#endif
