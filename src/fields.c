/* fields.c: the fields each state-changing route accepts, and refusing the rest */
#include "fields.h"

#include <string.h>

/* One line per route, grouped by module (add yours beside your routes). A form
 * page and its API twin usually accept the same names. Shared by the router (http.c
 * checks the request before the handler runs) and tests (every POST/PUT/PATCH/DELETE
 * route must be declared: tests/unit/test_fields.c). */
#define EVIDENCE_FIELDS "title kind description body occurred_on file"
#define APPRENTICESHIP_PLAN_FIELDS "employer_id weekly_hours planned_otj_hours rpl_otj_hours rpl_note rpl_ksbs " \
                                   "review_interval_weeks"
#define APPRENTICESHIP_FIELDS "learner_id learner_email standard_id assessor_id iqa_id start_date planned_end_date " \
                              "qualification_ids " APPRENTICESHIP_PLAN_FIELDS
#define DECISION_FIELDS                                                                                      \
    "learner_id criterion_id outcome feedback evidence_ids vacsr vacsr_* declaration rpl_reason from_decision"
#define REVIEW_FIELDS "decisions outcome_* feedback_* vacsr vacsr_* declaration"
#define MAPPING_FIELDS "criteria criterion note_* mapping then q unit gaps"
#define USER_FIELDS "email name role password invite"
#define NOTIFICATION_KINDS                                                                                  \
    "evidence_submitted decision_recorded iqa_action iqa_response unit_signed_off witness_request enrolment "       \
    "password_changed password_reset invitation review_due review_signature"
#define PROGRESS_REVIEW_FIELDS                                                                              \
    "enrolment_id held_on next_review_on english_maths wellbeing safeguarding safeguarding_concern "          \
    "learner_comments employer_comments assessor_summary targets target_* previous_targets result_*"
#define EQA_VISIT_FIELDS "eqa_id qualification_ids starts_at ends_at sample_rule learner_ids sample_size awarding_body"
#define RECORD_FIELDS                                                                                        \
    "kind title occurred_on place activity description body questions question_* answer_* criteria criterion "      \
    "note_* mapping file plan"
#define GROUP_FIELDS "title occurred_on place activity description file learners learner lb_* lc_* ln_*"
#define WITNESS_FIELDS                                                                                       \
    "title about occurred_on witness_name witness_job_title witness_relationship witness_email criteria criterion "  \
    "note_* mapping"
#define ENROL_FIELDS                                                                                          \
    "learner_id learner_email qualification_id assessor_id assessor_email iqa_id iqa_email start_date planned_end_date"

const fields_decl_t fields_table[] = {
    /* evidence.c */
    {"POST", "/api/v1/evidence", EVIDENCE_FIELDS},
    {"POST", "/evidence/new", EVIDENCE_FIELDS},
    {"PATCH", "/api/v1/evidence/{id}", EVIDENCE_FIELDS " remove_file"},
    {"POST", "/api/v1/evidence/{id}/files", EVIDENCE_FIELDS " remove_file"},
    {"POST", "/evidence/{id}/edit", EVIDENCE_FIELDS " remove_file"},
    {"DELETE", "/api/v1/evidence/{id}", ""},
    {"POST", "/evidence/{id}/delete", ""},
    {"DELETE", "/api/v1/evidence/{id}/files/{file_id}", ""},
    {"POST", "/evidence/{id}/files/{file_id}/delete", ""},
    {"PUT", "/api/v1/evidence/{id}/criteria", MAPPING_FIELDS},
    {"POST", "/evidence/{id}/criteria", MAPPING_FIELDS},
    {"POST", "/api/v1/evidence/{id}/submit", ""},
    {"POST", "/evidence/{id}/submit", ""},
    {"POST", "/api/v1/evidence/{id}/withdraw", ""},
    {"POST", "/evidence/{id}/withdraw", ""},
    /* apprenticeships.c */
    {"POST", "/api/v1/employers", "name"},
    {"POST", "/admin/employers", "name"},
    {"PUT", "/api/v1/employers/{id}", "name"},
    {"POST", "/admin/employers/{id}", "name"},
    {"POST", "/api/v1/employers/{id}/contacts", "user_id name email"},
    {"POST", "/admin/employers/{id}/contacts", "user_id name email"},
    {"POST", "/api/v1/apprenticeships", APPRENTICESHIP_FIELDS},
    {"POST", "/admin/apprenticeships", APPRENTICESHIP_FIELDS},
    {"PUT", "/api/v1/apprenticeships/{id}", APPRENTICESHIP_PLAN_FIELDS},
    {"POST", "/admin/apprenticeships/{id}", APPRENTICESHIP_PLAN_FIELDS},
    {"POST", "/api/v1/learners/{id}/otj", "occurred_on hours minutes activity description evidence_id"},
    {"POST", "/learners/{id}/otj", "occurred_on hours minutes activity description evidence_id"},
    {"POST", "/api/v1/otj/{id}/verify", "note"},
    {"POST", "/otj/{id}/verify", "note"},
    {"POST", "/api/v1/otj/{id}/query", "note"},
    {"POST", "/otj/{id}/query", "note"},
    {"POST", "/api/v1/learners/{id}/breaks", "start_date reason"},
    {"POST", "/learners/{id}/breaks", "start_date reason"},
    {"POST", "/api/v1/breaks/{id}/end", "end_date"},
    {"POST", "/breaks/{id}/end", "end_date"},
    /* qualifications.c */
    {"POST", "/api/v1/specs", "file content name qualification dry_run"},
    {"POST", "/admin/specs", "file content name qualification dry_run"},
    /* users.c */
    {"POST", "/login", "email password next token"},
    {"POST", "/api/v1/session", "email password next token"},
    {"DELETE", "/api/v1/session", ""},
    {"POST", "/logout", ""},
    {"POST", "/account/password", "current_password new_password confirm_password"},
    {"POST", "/api/v1/me/password", "current_password new_password confirm_password"},
    {"POST", "/api/v1/users", USER_FIELDS},
    {"POST", "/admin/users", USER_FIELDS},
    {"POST", "/api/v1/users/{id}/disable", ""},
    {"POST", "/admin/users/{id}/disable", ""},
    {"POST", "/api/v1/users/{id}/enable", ""},
    {"POST", "/admin/users/{id}/enable", ""},
    {"POST", "/api/v1/users/{id}/password", "password"},
    {"POST", "/admin/users/{id}/password", "password"},
    {"POST", "/api/v1/enrolments", ENROL_FIELDS},
    {"POST", "/admin/enrolments", ENROL_FIELDS},
    {"PUT", "/api/v1/enrolments/{id}", ENROL_FIELDS " status"},
    {"POST", "/admin/enrolments/{id}", ENROL_FIELDS " status"},
    {"POST", "/api/v1/enrolments/{id}/end", "status date reason"},
    {"POST", "/admin/enrolments/{id}/end", "status date reason"},
    /* decisions.c */
    {"POST", "/api/v1/decisions", DECISION_FIELDS},
    {"POST", "/decisions", DECISION_FIELDS},
    {"POST", "/api/v1/decisions/{id}/countersign", "comment"},
    {"POST", "/decisions/{id}/countersign", "comment"},
    {"POST", "/api/v1/learners/{id}/units/{unit_id}/signoff", ""},
    {"POST", "/learners/{id}/units/{unit_id}/signoff", ""},
    {"POST", "/api/v1/learners/{id}/units/{unit_id}/countersign", "comment"},
    {"POST", "/learners/{id}/units/{unit_id}/countersign", "comment"},
    {"POST", "/api/v1/learners/{id}/units/{unit_id}/signoff/reopen", "reason"},
    {"POST", "/learners/{id}/units/{unit_id}/signoff/reopen", "reason"},
    /* caseload.c */
    {"POST", "/api/v1/reviews/{id}", REVIEW_FIELDS},
    {"POST", "/review/{id}", REVIEW_FIELDS},
    /* eqa.c */
    {"POST", "/api/v1/eqa/visits", EQA_VISIT_FIELDS},
    {"POST", "/eqa/visits", EQA_VISIT_FIELDS},
    {"POST", "/api/v1/eqa/visits/{id}/end", ""},
    {"POST", "/eqa/visits/{id}/end", ""},
    {"POST", "/api/v1/eqa/visits/{id}/findings", "kind body learner_id due_on"},
    {"POST", "/eqa/visits/{id}/findings", "kind body learner_id due_on"},
    {"POST", "/api/v1/eqa/findings/{id}/response", "response"},
    {"POST", "/eqa/findings/{id}/response", "response"},
    /* iqa.c */
    {"POST", "/api/v1/iqa/samples", "decision_id outcome feedback stage"},
    {"POST", "/iqa/samples", "decision_id outcome feedback stage"},
    /* iqaplan.c */
    {"POST", "/api/v1/iqa/assessors/{id}/risk", "rating note"},
    {"POST", "/iqa/assessors/{id}/risk", "rating note"},
    {"POST", "/api/v1/iqa/sample-groups", "learner_id unit_id stage outcome feedback"},
    {"POST", "/iqa/sample-groups", "learner_id unit_id stage outcome feedback"},
    {"POST", "/api/v1/iqa/samples/{id}/response", "response"},
    {"POST", "/actions/{id}/response", "response"},
    {"POST", "/api/v1/iqa/samples/{id}/close", "comment"},
    {"POST", "/actions/{id}/close", "comment"},
    {"POST", "/api/v1/iqa/samples/{id}/send-back", "comment"},
    {"POST", "/actions/{id}/send-back", "comment"},
    {"POST", "/api/v1/iqa/samples/{id}/assign", "assessor_id comment"},
    {"POST", "/actions/{id}/assign", "assessor_id comment"},
    /* combination.c */
    {"PUT", "/api/v1/enrolments/{id}/units", "unit_ids"},
    {"POST", "/enrolments/{id}/units", "unit_ids"},
    /* notify.c */
    {"POST", "/api/v1/notifications/read-all", ""},
    {"POST", "/notifications/read-all", ""},
    {"POST", "/api/v1/notifications/{id}/read", ""},
    {"POST", "/notifications/{id}/read", ""},
    {"PUT", "/api/v1/me/notification-preferences", NOTIFICATION_KINDS},
    {"POST", "/account/notifications", NOTIFICATION_KINDS},
    {"POST", "/api/v1/outbox/{id}/retry", ""},
    {"POST", "/admin/outbox/{id}/retry", ""},
    /* accounts.c */
    {"POST", "/password-reset", "email"},
    {"POST", "/api/v1/password-resets", "email"},
    {"POST", "/set-password", "token username new_password confirm_password"}, /* username: for password managers */
    {"POST", "/api/v1/password-resets/confirm", "token new_password confirm_password"},
    /* intake.c */
    {"POST", "/admin/intake", "file csv confirm"},
    {"POST", "/api/v1/intake", "file csv confirm"},
    /* reviews.c */
    {"POST", "/api/v1/learners/{id}/reviews", PROGRESS_REVIEW_FIELDS},
    {"POST", "/learners/{id}/reviews", PROGRESS_REVIEW_FIELDS},
    {"PUT", "/api/v1/progress-reviews/{id}", PROGRESS_REVIEW_FIELDS},
    {"POST", "/progress-reviews/{id}", PROGRESS_REVIEW_FIELDS},
    {"POST", "/api/v1/progress-reviews/{id}/sign", "decision comment reason"},
    {"POST", "/progress-reviews/{id}/sign", "decision comment reason"},
    {"POST", "/api/v1/progress-reviews/{id}/revise", ""},
    {"POST", "/progress-reviews/{id}/revise", ""},
    /* records.c */
    {"POST", "/api/v1/learners/{id}/records", RECORD_FIELDS},
    {"POST", "/learners/{id}/records", RECORD_FIELDS},
    {"POST", "/api/v1/evidence/{id}/record", RECORD_FIELDS},
    {"POST", "/evidence/{id}/record", RECORD_FIELDS},
    {"POST", "/api/v1/evidence/{id}/acknowledge", ""},
    {"POST", "/evidence/{id}/acknowledge", ""},
    {"POST", "/api/v1/group-observations", GROUP_FIELDS},
    {"POST", "/group-observations", GROUP_FIELDS},
    /* witness.c */
    {"POST", "/api/v1/learners/{id}/witness-requests", WITNESS_FIELDS},
    {"POST", "/learners/{id}/witness-requests", WITNESS_FIELDS},
    {"POST", "/api/v1/witness-requests/{id}/revoke", ""},
    {"POST", "/witness-requests/{id}/revoke", ""},
    {"POST", "/witness", "token testimony confirm_competent confirm_relationship"},
    {0, 0, 0},
};

int fields_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && p[len - 1] == '*') {
            if (n >= len - 1 && strncmp(p, name, len - 1) == 0)
                return 1;
        } else if (len == n && strncmp(p, name, n) == 0) {
            return 1;
        }
        p = end;
    }
    return 0;
}

const fields_decl_t *fields_find(const route_t *route)
{
    for (const fields_decl_t *d = fields_table; route && d->method; d++)
        if (strcmp(d->method, route->method) == 0 && strcmp(d->pattern, route->pattern) == 0)
            return d;
    return NULL;
}

/* 1 when name is accepted by decl (or always accepted). */
static int accepted(const fields_decl_t *decl, const char *name)
{
    return strcmp(name, "csrf_token") == 0 || strcmp(name, "form_token") == 0 || fields_listed(decl->fields, name);
}

int fields_check(const route_t *route, const json_t *body, const json_t *uploads, char *bad, size_t badlen)
{
    const fields_decl_t *decl = fields_find(route);
    const char *key;
    json_t *v;
    size_t i;
    if (badlen)
        bad[0] = '\0';
    if (!decl)
        return 1;
    json_object_foreach((json_t *)body, key, v)
    {
        if (!accepted(decl, key)) {
            if (badlen) {
                strncpy(bad, key, badlen - 1);
                bad[badlen - 1] = '\0';
            }
            return 0;
        }
    }
    json_array_foreach(uploads, i, v)
    {
        const char *f = json_string_value(json_object_get(v, "field"));
        if (f && !accepted(decl, f)) {
            if (badlen) {
                strncpy(bad, f, badlen - 1);
                bad[badlen - 1] = '\0';
            }
            return 0;
        }
    }
    return 1;
}
