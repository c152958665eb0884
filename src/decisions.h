/* decisions.h: assessment decisions (append-only history), learner countersigns, unit sign-off */
#ifndef EVITRACK_DECISIONS_H
#define EVITRACK_DECISIONS_H

#include <jansson.h>
#include <stdint.h>

#include "http.h"
#include "rules.h"

extern const route_t decisions_routes[];

/* The longest feedback, comment or response accepted (bytes). */
#define DECISIONS_MAX_TEXT 20000

/* One decision to record (see decisions_record). */
typedef struct decision_input {
    int64_t learner_id;
    int64_t criterion_id;
    const char *outcome;   /* "met" | "not_met" */
    const char *feedback;  /* may be NULL (= "") */
    json_t *vacsr;         /* borrowed: {valid, authentic, current, sufficient, reliable} or NULL */
    int declaration;       /* the assessor's declaration was made */
    json_t *evidence_ids;  /* borrowed: array of evidence ids (integers) or NULL */
    const char *rpl_reason; /* recognition of prior learning: why (may be NULL) */
} decision_input_t;

/* Answers a refusal of the rules (rules.c): the field error for a form and the
 * {"error"} body. Returns e->status. */
int decisions_rule_fail(req_t *r, const rules_err_t *e);

/* Records one decision by r->user inside the caller's open transaction:
 * checks the assessor may assess this learner and criterion, that the unit is
 * not signed off, and the decision rules (rules_check_decision: evidence mapped,
 * VACSR, declaration, feedback, enrolment open); links the evidence, freezes
 * the basis (rules_freeze_basis: files with SHA-256, notes, criterion wording), supersedes the
 * latest decision for the same learner and criterion and writes the audit
 * event. Does not settle evidence status or refresh criterion status (callers
 * do, once per request: decisions_settle_evidence, status_refresh_learner).
 * Returns 201 with *id set, or an error status already put in r->out by
 * http_fail (the caller rolls back). */
int decisions_record(req_t *r, const decision_input_t *in, int64_t *id);

/* After decisions on evidence_id: 'returned' (editable, with feedback) when a
 * decision of the current assessment round on one of its mapped criteria is
 * not yet met; 'assessed' when every mapped criterion has a met decision in
 * this round; otherwise unchanged. Audits a change. EV_OK or EV_ERR. */
int decisions_settle_evidence(db_t *db, int64_t actor_id, int64_t evidence_id);

/* A decision as JSON (with criterion, unit, people, evidence, countersign),
 * or NULL when there is none. Caller owns it. */
json_t *decisions_get(db_t *db, int64_t id);
/* Adds to r->out everything the decision page shows for decision id (the
 * decision, its history, IQA samples, what the user may do). 200, or 404/403
 * via http_fail. */
int decisions_load_page(req_t *r, int64_t id);
/* Adds display fields (labels, booleans) to a decision row from a query. */
void decisions_decorate(json_t *d);

/* The VACSR checklist ([{key, label, hint, checked}]) for a page, ticked from
 * a vacsr object (may be NULL). Caller owns it. */
json_t *decisions_vacsr_list(json_t *vacsr);
/* Reads the VACSR answers of a request: a "vacsr" object, or form checkboxes
 * vacsr_valid ... vacsr_reliable. NULL when the request carries neither (API).
 * Caller owns it. */
json_t *decisions_vacsr_from_request(req_t *r);
/* 1 when all five VACSR answers are true. */
int decisions_vacsr_all(json_t *vacsr);

/* Human label of an evidence kind ("witness_testimony" -> "Witness testimony"). */
const char *decisions_kind_label(const char *kind);
/* Whole days (>= 0) and a whole phrase ("3 days ago", "5 hours ago", "just now",
 * pages_ago) since an ISO 8601 UTC timestamp. text gets at most textlen bytes. -1 days when unparsable. */
int64_t decisions_age(const char *iso, char *text, size_t textlen);

/* For pages: pages_humanize(v, now): local times ("23 Nov 2026, 09:15" in the
 * zone of serve --timezone), ages and dates beside the ISO values. */
void decisions_humanize(json_t *v);
/* Returns 200, first humanizing r->out's timestamps when r is a page. */
int decisions_page_ok(req_t *r);

#endif
