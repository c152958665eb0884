/* policy.c: the one place that decides who may see and change whose portfolio */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "users.h"

/*
 * The whole policy, role by role (a disabled account never gets this far:
 * its sessions are deleted and session_load refuses it):
 *
 *   read a learner     learner: only themself; assessor / IQA: learners with an
 *                      enrolment naming them (any status, so finished records
 *                      stay readable); admin: every learner; EQA: the learners
 *                      of a visit granted to them, during its window only; employer
 *                      contact: the apprentices of their employer (and only the
 *                      routes that name the employer role: progress, hours, the
 *                      learner's summary, never evidence, decisions or the timeline).
 *   assess             the assessor named on an active enrolment of the learner
 *                      (for a criterion: the enrolment on that criterion's
 *                      qualification). Nobody else: not IQA, admin or EQA.
 *   sample (IQA)       the IQA named on an active or completed enrolment.
 *   edit evidence      the learner themself only.
 *   administer         admin only.
 */

/* An EQA's visits open now: binds (eqa id, now, now). The window is [starts_at, ends_at)
 * in UTC; a visit an admin ended early is closed. */
#define EQA_OPEN_VISIT "v.eqa_id = ? AND v.starts_at <= ? AND v.ends_at > ? AND v.ended_at IS NULL"
/* The learners of an EQA's open visits: binds (eqa id, now, now). */
#define EQA_SCOPE_LEARNERS                                                                                   \
    "SELECT vl.learner_id FROM eqa_visit_learners vl JOIN eqa_visits v ON v.id = vl.visit_id WHERE " EQA_OPEN_VISIT

static int is_learner_account(db_t *db, int64_t learner_id)
{
    return db_int(db, "SELECT 1 FROM users WHERE id = ? AND role = 'learner'", 0, "i", learner_id) == 1;
}

int policy_can_read_learner(db_t *db, const user_t *u, int64_t learner_id)
{
    if (!u || !u->id || learner_id <= 0)
        return 0;
    switch (u->role) {
    case ROLE_LEARNER:
        return u->id == learner_id;
    case ROLE_ASSESSOR:
        return db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND assessor_id = ? LIMIT 1",
                      0, "ii", learner_id, u->id) == 1;
    case ROLE_IQA:
        return db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND iqa_id = ? LIMIT 1",
                      0, "ii", learner_id, u->id) == 1;
    case ROLE_ADMIN:
        return is_learner_account(db, learner_id);
    case ROLE_EQA:
        return policy_eqa_learner_in_scope(db, u->id, learner_id);
    case ROLE_EMPLOYER: /* a contact of the employer of one of the learner's apprenticeships */
        return db_int(db, "SELECT 1 FROM apprenticeships a JOIN employer_contacts c ON c.employer_id = a.employer_id"
                          " WHERE a.learner_id = ? AND c.user_id = ? LIMIT 1", 0, "ii", learner_id, u->id) == 1;
    default:
        return 0;
    }
}

int policy_can_assess_learner(db_t *db, const user_t *u, int64_t learner_id)
{
    if (!u || !u->id || u->role != ROLE_ASSESSOR || learner_id <= 0)
        return 0;
    return db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND assessor_id = ?"
                      " AND status = 'active' LIMIT 1", 0, "ii", learner_id, u->id) == 1;
}

int policy_can_assess_criterion(db_t *db, const user_t *u, int64_t learner_id, int64_t criterion_id)
{
    if (!u || !u->id || u->role != ROLE_ASSESSOR || learner_id <= 0 || criterion_id <= 0)
        return 0;
    return db_int(db, "SELECT 1 FROM enrolments e JOIN units un ON un.qualification_id = e.qualification_id"
                      " JOIN criteria c ON c.unit_id = un.id"
                      " WHERE e.learner_id = ? AND e.assessor_id = ? AND e.status = 'active'"
                      " AND c.id = ? LIMIT 1", 0, "iii", learner_id, u->id, criterion_id) == 1;
}

int policy_can_sample_learner(db_t *db, const user_t *u, int64_t learner_id)
{
    if (!u || !u->id || u->role != ROLE_IQA || learner_id <= 0)
        return 0;
    return db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND iqa_id = ?"
                      " AND status IN ('active','completed') LIMIT 1", 0, "ii", learner_id, u->id) == 1;
}

int policy_can_edit_evidence_of(const user_t *u, int64_t learner_id)
{
    return u && u->id && u->role == ROLE_LEARNER && u->id == learner_id;
}

int policy_is_admin(const user_t *u)
{
    return u && u->id && u->role == ROLE_ADMIN;
}

/* "%q%" for LIKE, with %, _ and \ in q escaped (ESCAPE '\'). Caller frees. */
static char *like_pattern(const char *q)
{
    buf_t b = {0};
    buf_putc(&b, '%');
    for (const char *p = q ? q : ""; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            buf_putc(&b, '\\');
        buf_putc(&b, *p);
    }
    buf_putc(&b, '%');
    return buf_take(&b);
}

int policy_list_learners(db_t *db, const user_t *u, const char *q, int64_t limit, int64_t offset,
                         json_t **rows, int64_t *total)
{
    *rows = NULL;
    *total = 0;
    if (!u || !u->id)
        return EV_ERR;
    char *pat = like_pattern(q);
    /* Each role's scope is one query, so the rule reads plainly next to
     * policy_can_read_learner above. */
    switch (u->role) {
    case ROLE_EQA: {
        char now[21];
        util_now_iso(now);
        *total = db_int(db, "SELECT count(*) FROM users u WHERE u.role = 'learner' AND u.id IN (" EQA_SCOPE_LEARNERS ")"
                            " AND (lower(u.name) LIKE lower(?) ESCAPE '\\' OR lower(u.email) LIKE lower(?) ESCAPE '\\')",
                        0, "itttt", u->id, now, now, pat, pat);
        *rows = db_all(db, "SELECT u.id, u.name, u.email, u.disabled FROM users u WHERE u.role = 'learner'"
                           " AND u.id IN (" EQA_SCOPE_LEARNERS ")"
                           " AND (lower(u.name) LIKE lower(?) ESCAPE '\\' OR lower(u.email) LIKE lower(?) ESCAPE '\\')"
                           " ORDER BY u.name, u.id LIMIT ? OFFSET ?", "ittttii", u->id, now, now, pat, pat, limit, offset);
        break;
    }
    case ROLE_ADMIN:
        if (!q || !*q) { /* every learner: in users_role order, counted from that index (issue 22) */
            *total = users_count_learners(db);
            *rows = db_all(db, "SELECT id, name, email, disabled FROM users WHERE role = 'learner'"
                               " ORDER BY name, id LIMIT ? OFFSET ?", "ii", limit, offset);
            break;
        }
        *total = db_int(db, "SELECT count(*) FROM users WHERE role = 'learner'"
                            " AND (lower(name) LIKE lower(?) ESCAPE '\\' OR lower(email) LIKE lower(?) ESCAPE '\\')", 0, "tt", pat, pat);
        *rows = db_all(db, "SELECT id, name, email, disabled FROM users WHERE role = 'learner'"
                           " AND (lower(name) LIKE lower(?) ESCAPE '\\' OR lower(email) LIKE lower(?) ESCAPE '\\')"
                           " ORDER BY name, id LIMIT ? OFFSET ?", "ttii", pat, pat, limit, offset);
        break;
    case ROLE_ASSESSOR:
        *total = db_int(db, "SELECT count(*) FROM users u WHERE u.role = 'learner'"
                            " AND u.id IN (SELECT learner_id FROM enrolments WHERE assessor_id = ?)"
                            " AND (lower(u.name) LIKE lower(?) ESCAPE '\\' OR lower(u.email) LIKE lower(?) ESCAPE '\\')",
                        0, "itt", u->id, pat, pat);
        *rows = db_all(db, "SELECT u.id, u.name, u.email, u.disabled FROM users u WHERE u.role = 'learner'"
                           " AND u.id IN (SELECT learner_id FROM enrolments WHERE assessor_id = ?)"
                           " AND (lower(u.name) LIKE lower(?) ESCAPE '\\' OR lower(u.email) LIKE lower(?) ESCAPE '\\')"
                           " ORDER BY u.name, u.id LIMIT ? OFFSET ?", "ittii", u->id, pat, pat, limit, offset);
        break;
    case ROLE_IQA:
        *total = db_int(db, "SELECT count(*) FROM users u WHERE u.role = 'learner'"
                            " AND u.id IN (SELECT learner_id FROM enrolments WHERE iqa_id = ?)"
                            " AND (lower(u.name) LIKE lower(?) ESCAPE '\\' OR lower(u.email) LIKE lower(?) ESCAPE '\\')",
                        0, "itt", u->id, pat, pat);
        *rows = db_all(db, "SELECT u.id, u.name, u.email, u.disabled FROM users u WHERE u.role = 'learner'"
                           " AND u.id IN (SELECT learner_id FROM enrolments WHERE iqa_id = ?)"
                           " AND (lower(u.name) LIKE lower(?) ESCAPE '\\' OR lower(u.email) LIKE lower(?) ESCAPE '\\')"
                           " ORDER BY u.name, u.id LIMIT ? OFFSET ?", "ittii", u->id, pat, pat, limit, offset);
        break;
    case ROLE_LEARNER:
        *total = db_int(db, "SELECT count(*) FROM users WHERE id = ? AND role = 'learner'"
                            " AND (lower(name) LIKE lower(?) ESCAPE '\\' OR lower(email) LIKE lower(?) ESCAPE '\\')", 0, "itt", u->id, pat, pat);
        *rows = db_all(db, "SELECT id, name, email, disabled FROM users WHERE id = ? AND role = 'learner'"
                           " AND (lower(name) LIKE lower(?) ESCAPE '\\' OR lower(email) LIKE lower(?) ESCAPE '\\')"
                           " LIMIT ? OFFSET ?", "ittii", u->id, pat, pat, limit, offset);
        break;
    default:
        *rows = json_array();
        break;
    }
    free(pat);
    return *rows ? EV_OK : EV_ERR;
}

/* ------------------------------------------------------------------ */
/* EQA visits: the scope every EQA request goes through (issue 18)      */
/* ------------------------------------------------------------------ */

int policy_eqa_learner_in_scope(db_t *db, int64_t eqa_id, int64_t learner_id)
{
    char now[21];
    if (eqa_id <= 0 || learner_id <= 0)
        return 0;
    util_now_iso(now);
    return db_int(db, "SELECT 1 FROM eqa_visit_learners vl JOIN eqa_visits v ON v.id = vl.visit_id"
                      " WHERE vl.learner_id = ? AND " EQA_OPEN_VISIT " LIMIT 1",
                  0, "iitt", learner_id, eqa_id, now, now) == 1;
}

/* What an EQA-reachable route's {id} (or ?decision_id=) names, so the one check below
 * can find the learner (and qualification) behind it. */
enum eqa_scope {
    EQA_SELF,          /* the EQA's own account, session and notifications */
    EQA_LIST,          /* a list its handler draws from the scope (policy_list_learners, visits) */
    EQA_OPEN,          /* needs an open visit, names no learner (the audit trail's head) */
    EQA_VISIT,         /* {id}: a visit granted to this EQA, open or not (its report stays readable) */
    EQA_VISIT_OPEN,    /* {id}: a visit of this EQA, open now (writing the report) */
    EQA_LEARNER,       /* {id}: a learner (and a ?qualification_id=, when given, one of the visit's) */
    EQA_LEARNER_UNIT,  /* {id}: a learner, {unit_id}: a unit of one of the visit's qualifications */
    EQA_EVIDENCE,      /* {id}: an evidence item mapped to a criterion of one of the visit's qualifications */
    EQA_DECISION,      /* {id}: a decision, on one of the visit's qualifications */
    EQA_DECISION_ARG,  /* ?decision_id=: as EQA_DECISION */
    EQA_ENROLMENT,     /* {id}: an enrolment on one of the visit's qualifications */
    EQA_REVIEW,        /* {id}: a progress review, of such an enrolment */
    EQA_GROUP,         /* {id}: a group observation with a learner of the visit (the handler
                        * shows an EQA only those learners' items) */
    EQA_QUALIFICATION, /* {id}: one of the visit's qualifications */
    EQA_UNIT,          /* {id}: a unit of one of them */
};
enum { EQA_NO_AUDIT, EQA_AUDIT_VIEW, EQA_AUDIT_DOWNLOAD };

/* Every route an EQA may call. A route that admits ROLE_EQA but is not listed here is
 * closed to EQA (404, as for an object that does not exist): routes added later are
 * shut until someone decides what of them an EQA may see. */
static const struct eqa_route {
    const char *method, *pattern;
    enum eqa_scope scope;
    int audit;
} EQA_ROUTES[] = {
    {"GET", "/api/v1/me", EQA_SELF, EQA_NO_AUDIT},
    {"DELETE", "/api/v1/session", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/logout", EQA_SELF, EQA_NO_AUDIT},
    {"GET", "/account/password", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/account/password", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/api/v1/me/password", EQA_SELF, EQA_NO_AUDIT},
    {"GET", "/api/v1/notifications", EQA_SELF, EQA_NO_AUDIT},
    {"GET", "/notifications", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/api/v1/notifications/read-all", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/notifications/read-all", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/api/v1/notifications/{id}/read", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/notifications/{id}/read", EQA_SELF, EQA_NO_AUDIT},
    {"GET", "/api/v1/me/notification-preferences", EQA_SELF, EQA_NO_AUDIT},
    {"GET", "/account/notifications", EQA_SELF, EQA_NO_AUDIT},
    {"PUT", "/api/v1/me/notification-preferences", EQA_SELF, EQA_NO_AUDIT},
    {"POST", "/account/notifications", EQA_SELF, EQA_NO_AUDIT},
    /* the visits and their report (eqa.c) */
    {"GET", "/api/v1/eqa/visits", EQA_LIST, EQA_NO_AUDIT},
    {"GET", "/eqa", EQA_LIST, EQA_NO_AUDIT},
    {"GET", "/api/v1/eqa/visits/{id}", EQA_VISIT, EQA_AUDIT_VIEW},
    {"GET", "/eqa/visits/{id}", EQA_VISIT, EQA_AUDIT_VIEW},
    {"POST", "/api/v1/eqa/visits/{id}/findings", EQA_VISIT_OPEN, EQA_NO_AUDIT},
    {"POST", "/eqa/visits/{id}/findings", EQA_VISIT_OPEN, EQA_NO_AUDIT},
    /* the sample's portfolios */
    {"GET", "/api/v1/learners", EQA_LIST, EQA_AUDIT_VIEW},
    {"GET", "/learners", EQA_LIST, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/evidence", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/evidence", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/decisions", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/decisions", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/signoffs", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/signoffs", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/units/{unit_id}/signoff", EQA_LEARNER_UNIT, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/units/{unit_id}/signoff", EQA_LEARNER_UNIT, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/timeline", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/timeline", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/progress", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/progress", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/matrix", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/matrix", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/export", EQA_LEARNER, EQA_AUDIT_DOWNLOAD},
    {"GET", "/learners/{id}/export", EQA_LEARNER, EQA_AUDIT_DOWNLOAD},
    {"GET", "/api/v1/evidence/{id}", EQA_EVIDENCE, EQA_AUDIT_VIEW},
    {"GET", "/evidence/{id}", EQA_EVIDENCE, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/evidence/{id}/criteria", EQA_EVIDENCE, EQA_AUDIT_VIEW},
    {"GET", "/evidence/{id}/criteria", EQA_EVIDENCE, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/evidence/{id}/files/{file_id}", EQA_EVIDENCE, EQA_AUDIT_DOWNLOAD},
    {"GET", "/evidence/{id}/files/{file_id}", EQA_EVIDENCE, EQA_AUDIT_DOWNLOAD},
    {"GET", "/api/v1/decisions/{id}", EQA_DECISION, EQA_AUDIT_VIEW},
    {"GET", "/decisions/{id}", EQA_DECISION, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/iqa/samples", EQA_DECISION_ARG, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/enrolments/{id}/units", EQA_ENROLMENT, EQA_AUDIT_VIEW},
    {"GET", "/enrolments/{id}/units", EQA_ENROLMENT, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/reviews", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/reviews", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/progress-reviews/{id}", EQA_REVIEW, EQA_AUDIT_VIEW},
    {"GET", "/progress-reviews/{id}", EQA_REVIEW, EQA_AUDIT_VIEW},
    {"GET", "/api/v1/learners/{id}/witness-requests", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/witness-requests", EQA_LEARNER, EQA_AUDIT_VIEW},
    /* an apprentice's off-the-job hours, read only (apprenticeships.c, issue 16) */
    {"GET", "/api/v1/learners/{id}/otj", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/otj", EQA_LEARNER, EQA_AUDIT_VIEW},
    {"GET", "/learners/{id}/otj.csv", EQA_LEARNER, EQA_AUDIT_DOWNLOAD},
    {"GET", "/api/v1/group-observations/{id}", EQA_GROUP, EQA_AUDIT_VIEW},
    {"GET", "/group-observations/{id}", EQA_GROUP, EQA_AUDIT_VIEW},
    /* the visit's qualifications, and the audit trail's integrity */
    {"GET", "/api/v1/qualifications/{id}", EQA_QUALIFICATION, EQA_NO_AUDIT},
    {"GET", "/qualifications/{id}", EQA_QUALIFICATION, EQA_NO_AUDIT},
    {"GET", "/api/v1/qualifications/{id}/spec", EQA_QUALIFICATION, EQA_NO_AUDIT},
    {"GET", "/api/v1/units/{id}", EQA_UNIT, EQA_NO_AUDIT},
    {"GET", "/units/{id}", EQA_UNIT, EQA_NO_AUDIT},
    {"GET", "/api/v1/audit/verify", EQA_OPEN, EQA_NO_AUDIT},
    {"GET", "/audit/verify", EQA_OPEN, EQA_NO_AUDIT},
};
#define N_EQA_ROUTES (sizeof EQA_ROUTES / sizeof EQA_ROUTES[0])

static const struct eqa_route *eqa_route_of(const route_t *route)
{
    for (size_t i = 0; route && i < N_EQA_ROUTES; i++)
        if (!strcmp(EQA_ROUTES[i].method, route->method) && !strcmp(EQA_ROUTES[i].pattern, route->pattern))
            return &EQA_ROUTES[i];
    return NULL;
}

unsigned policy_route_roles(const route_t *route)
{
    if (!route)
        return 0;
    unsigned roles = route->roles;
    if ((roles & ROLE_EQA) && !eqa_route_of(route))
        roles &= ~(unsigned)ROLE_EQA;
    return roles;
}

const char *policy_eqa_scope_name(const route_t *route)
{
    static const char *const names[] = {"self", "list", "open", "visit", "visit_open", "learner", "learner_unit", "evidence",
                                        "decision", "decision_arg", "enrolment", "review", "group", "qualification", "unit"};
    const struct eqa_route *er = (route && (route->roles & ROLE_EQA)) ? eqa_route_of(route) : NULL;
    return er ? names[er->scope] : NULL;
}

/* Evidence e is mapped to a criterion of a qualification of an open visit of the EQA that
 * samples its learner: binds (eqa id, now, now). */
#define EQA_EVIDENCE_OPEN                                                                                    \
    "EXISTS (SELECT 1 FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id"                  \
    " JOIN units un ON un.id = c.unit_id"                                                                   \
    " JOIN eqa_visit_qualifications vq ON vq.qualification_id = un.qualification_id"                        \
    " JOIN eqa_visits v ON v.id = vq.visit_id"                                                              \
    " JOIN eqa_visit_learners vl ON vl.visit_id = v.id AND vl.learner_id = e.learner_id"                    \
    " WHERE ec.evidence_id = e.id AND " EQA_OPEN_VISIT ")"

/* 1 when qualification qid is one of an open visit of EQA eqa that samples learner. */
static int eqa_visit_has(db_t *db, int64_t eqa, int64_t learner, int64_t qid, const char *now)
{
    return db_int(db, "SELECT 1 FROM eqa_visit_learners vl JOIN eqa_visits v ON v.id = vl.visit_id"
                      " JOIN eqa_visit_qualifications vq ON vq.visit_id = v.id WHERE vl.learner_id = ?"
                      " AND vq.qualification_id = ? AND " EQA_OPEN_VISIT " LIMIT 1",
                  0, "iiitt", learner, qid, eqa, now, now) == 1;
}

/* The learner behind the EQA request's object, when it lies in an open visit of theirs
 * (for decisions, enrolments, evidence and units: on one of that visit's qualifications);
 * 0 otherwise, also when the object does not exist. */
static int64_t eqa_object_learner(db_t *db, int64_t eqa, enum eqa_scope scope, int64_t id, const char *now)
{
    if (id <= 0)
        return 0;
    switch (scope) {
    case EQA_LEARNER:
        return policy_eqa_learner_in_scope(db, eqa, id) ? id : 0;
    case EQA_EVIDENCE: /* evidence mapped only to other qualifications is not the visit's */
        return db_int(db, "SELECT e.learner_id FROM evidence e WHERE e.id = ? AND " EQA_EVIDENCE_OPEN,
                      0, "iitt", id, eqa, now, now);
    case EQA_DECISION:
    case EQA_DECISION_ARG:
        return db_int(db, "SELECT d.learner_id FROM decisions d JOIN criteria c ON c.id = d.criterion_id"
                          " JOIN units un ON un.id = c.unit_id WHERE d.id = ? AND EXISTS (SELECT 1"
                          " FROM eqa_visit_learners vl JOIN eqa_visits v ON v.id = vl.visit_id"
                          " JOIN eqa_visit_qualifications vq ON vq.visit_id = v.id WHERE vl.learner_id = d.learner_id"
                          " AND vq.qualification_id = un.qualification_id AND " EQA_OPEN_VISIT ")",
                      0, "iitt", id, eqa, now, now);
    case EQA_GROUP:
        return db_int(db, "SELECT min(e.learner_id) FROM evidence e WHERE e.group_id = ? AND " EQA_EVIDENCE_OPEN,
                      0, "iitt", id, eqa, now, now);
    case EQA_REVIEW:
        id = db_int(db, "SELECT enrolment_id FROM progress_reviews WHERE id = ?", 0, "i", id);
        __attribute__((fallthrough)); /* the review's enrolment decides */
    case EQA_ENROLMENT:
        return db_int(db, "SELECT e.learner_id FROM enrolments e WHERE e.id = ? AND EXISTS (SELECT 1"
                          " FROM eqa_visit_learners vl JOIN eqa_visits v ON v.id = vl.visit_id"
                          " JOIN eqa_visit_qualifications vq ON vq.visit_id = v.id WHERE vl.learner_id = e.learner_id"
                          " AND vq.qualification_id = e.qualification_id AND " EQA_OPEN_VISIT ")",
                      0, "iitt", id, eqa, now, now);
    default:
        return 0;
    }
}

int policy_eqa_check(req_t *r)
{
    char now[21];
    int64_t learner = 0, id = r->nparams > 0 ? r->params[0] : 0;
    int ok = 0;
    r->eqa_learner = 0;
    if (r->user.role != ROLE_EQA || !r->route || !r->route->roles)
        return 0; /* public routes (the landing page, sign-in) show nobody's portfolio */
    const struct eqa_route *er = eqa_route_of(r->route);
    if (!er)
        return 404; /* not reached: the role gate closes unlisted routes (policy_route_roles) */
    util_now_iso(now);
    switch (er->scope) {
    case EQA_SELF:
    case EQA_LIST:
        ok = 1;
        break;
    case EQA_OPEN:
        ok = db_int(r->db, "SELECT 1 FROM eqa_visits v WHERE " EQA_OPEN_VISIT " LIMIT 1", 0, "itt", r->user.id, now,
                    now) == 1;
        break;
    case EQA_VISIT:
        ok = db_int(r->db, "SELECT 1 FROM eqa_visits WHERE id = ? AND eqa_id = ?", 0, "ii", id, r->user.id) == 1;
        break;
    case EQA_VISIT_OPEN:
        ok = db_int(r->db, "SELECT 1 FROM eqa_visits v WHERE v.id = ? AND " EQA_OPEN_VISIT, 0, "iitt", id,
                    r->user.id, now, now) == 1;
        break;
    case EQA_QUALIFICATION:
    case EQA_UNIT:
        ok = db_int(r->db, "SELECT 1 FROM eqa_visit_qualifications vq JOIN eqa_visits v ON v.id = vq.visit_id"
                           " WHERE vq.qualification_id = (CASE WHEN ? = 1 THEN ? ELSE"
                           " (SELECT qualification_id FROM units WHERE id = ?) END) AND " EQA_OPEN_VISIT " LIMIT 1",
                    0, "iiiitt", (int64_t)(er->scope == EQA_QUALIFICATION), id, id, r->user.id, now, now) == 1;
        break;
    case EQA_LEARNER_UNIT:
        learner = eqa_object_learner(r->db, r->user.id, EQA_LEARNER, id, now);
        ok = learner > 0 && r->nparams > 1 &&
             eqa_visit_has(r->db, r->user.id, learner,
                           db_int(r->db, "SELECT qualification_id FROM units WHERE id = ?", 0, "i", r->params[1]), now);
        break;
    case EQA_DECISION_ARG:
        if (in_int(r, "decision_id", &id) != EV_OK)
            id = 0;
        /* fall through */
    default:
        learner = eqa_object_learner(r->db, r->user.id, er->scope, id, now);
        ok = learner > 0;
        /* a learner's page asked about one qualification (the matrix): one of the visit's */
        if (ok && er->scope == EQA_LEARNER && json_object_get(r->in, "qualification_id")) {
            int64_t qid = 0;
            ok = in_int(r, "qualification_id", &qid) == EV_OK && eqa_visit_has(r->db, r->user.id, learner, qid, now);
        }
        break;
    }
    if (!ok)
        return 404;
    r->eqa_learner = learner;
    if (er->audit == EQA_NO_AUDIT)
        return 0;
    /* Every view and download by an EQA is recorded, before anything is shown. */
    json_t *after = json_pack("{s:s, s:s}", "method", r->method, "path", r->path);
    int rc = db_begin(r->db) == EV_OK &&
             audit_record(r->db, r->user.id, er->audit == EQA_AUDIT_DOWNLOAD ? "eqa.download" : "eqa.view",
                          er->scope == EQA_VISIT ? "eqa_visit" : learner ? "learner" : "page",
                          er->scope == EQA_VISIT ? id : learner, learner, NULL, after) == EV_OK &&
             db_commit(r->db) == EV_OK;
    json_decref(after);
    if (!rc) {
        db_rollback(r->db);
        return 503;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Qualification scope: what of a learner's portfolio a reader sees     */
/* ------------------------------------------------------------------ */

int policy_qscope(db_t *db, const user_t *u, int64_t learner_id, qscope_t *s)
{
    char now[21];
    int rc = EV_ERR;
    memset(s, 0, sizeof *s);
    if (!u || u->role != ROLE_EQA) {
        s->all = 1;
        return EV_OK;
    }
    util_now_iso(now);
    json_t *rows = db_all(db, "SELECT DISTINCT vq.qualification_id AS id FROM eqa_visit_qualifications vq"
                              " JOIN eqa_visits v ON v.id = vq.visit_id JOIN eqa_visit_learners vl ON vl.visit_id = v.id"
                              " WHERE vl.learner_id = ? AND " EQA_OPEN_VISIT " ORDER BY vq.qualification_id",
                          "iitt", learner_id, u->id, now, now);
    if (!rows)
        goto out;
    s->ids = xcalloc(json_array_size(rows) + 1, sizeof *s->ids);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
        s->ids[s->n++] = json_integer_value(json_object_get(row, "id"));
    rc = EV_OK;
out:
    json_decref(rows);
    return rc;
}

void qscope_free(qscope_t *s)
{
    if (!s)
        return;
    free(s->ids);
    memset(s, 0, sizeof *s);
}

int qscope_has(const qscope_t *s, int64_t qualification_id)
{
    if (s->all)
        return 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->ids[i] == qualification_id)
            return 1;
    return 0;
}

/* 1 when any of the qualifications in rows (objects {q}) is in s. Frees rows. */
static int any_in_scope(const qscope_t *s, json_t *rows)
{
    int found = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
        found |= qscope_has(s, json_integer_value(json_object_get(row, "q")));
    json_decref(rows);
    return found;
}

int qscope_evidence(db_t *db, const qscope_t *s, int64_t evidence_id)
{
    if (s->all)
        return 1;
    return any_in_scope(s, db_all(db, "SELECT DISTINCT un.qualification_id AS q FROM evidence_criteria ec"
                                      " JOIN criteria c ON c.id = ec.criterion_id JOIN units un ON un.id = c.unit_id"
                                      " WHERE ec.evidence_id = ?", "i", evidence_id));
}

void qscope_filter(const qscope_t *s, json_t *arr, const char *key)
{
    if (s->all || !json_is_array(arr))
        return;
    for (size_t i = json_array_size(arr); i-- > 0;)
        if (!qscope_has(s, json_integer_value(json_object_get(json_array_get(arr, i), key))))
            json_array_remove(arr, i);
}

void qscope_filter_evidence(db_t *db, const qscope_t *s, json_t *arr, const char *key)
{
    if (s->all || !json_is_array(arr))
        return;
    for (size_t i = json_array_size(arr); i-- > 0;)
        if (!qscope_evidence(db, s, json_integer_value(json_object_get(json_array_get(arr, i), key))))
            json_array_remove(arr, i);
}

int qscope_event(db_t *db, const qscope_t *s, const char *entity, int64_t entity_id)
{
    int64_t q = -1; /* -1: the event is about no one qualification */
    if (s->all || !entity)
        return 1;
    if (!strcmp(entity, "evidence"))
        return qscope_evidence(db, s, entity_id);
    if (!strcmp(entity, "enrolment"))
        q = db_int(db, "SELECT qualification_id FROM enrolments WHERE id = ?", 0, "i", entity_id);
    else if (!strcmp(entity, "progress_review"))
        q = db_int(db, "SELECT e.qualification_id FROM progress_reviews r JOIN enrolments e ON e.id = r.enrolment_id"
                       " WHERE r.id = ?", 0, "i", entity_id);
    else if (!strcmp(entity, "decision"))
        q = db_int(db, "SELECT un.qualification_id FROM decisions d JOIN criteria c ON c.id = d.criterion_id"
                       " JOIN units un ON un.id = c.unit_id WHERE d.id = ?", 0, "i", entity_id);
    else if (!strcmp(entity, "iqa_sample"))
        q = db_int(db, "SELECT un.qualification_id FROM iqa_samples sm JOIN decisions d ON d.id = sm.decision_id"
                       " JOIN criteria c ON c.id = d.criterion_id JOIN units un ON un.id = c.unit_id WHERE sm.id = ?",
                   0, "i", entity_id);
    else if (!strcmp(entity, "iqa_sample_group"))
        q = db_int(db, "SELECT coalesce((SELECT un.qualification_id FROM units un WHERE un.id = g.unit_id), -1)"
                       " FROM iqa_sample_groups g WHERE g.id = ?", 0, "i", entity_id);
    else if (!strcmp(entity, "unit_signoff"))
        q = db_int(db, "SELECT un.qualification_id FROM unit_signoffs so JOIN units un ON un.id = so.unit_id"
                       " WHERE so.id = ?", 0, "i", entity_id);
    else if (!strcmp(entity, "qualification"))
        q = entity_id;
    return q == -1 || qscope_has(s, q);
}

/* 1 when the qualification of the criterion (kind 'c'), unit ('u') or qualification ('q')
 * id may be seen under s; ids that no longer resolve count as outside. */
static int qscope_ref(db_t *db, const qscope_t *s, char kind, int64_t id)
{
    int64_t q = kind == 'q' ? id
                : kind == 'u' ? db_int(db, "SELECT qualification_id FROM units WHERE id = ?", -1, "i", id)
                              : db_int(db, "SELECT u.qualification_id FROM criteria c JOIN units u ON u.id = c.unit_id"
                                           " WHERE c.id = ?", -1, "i", id);
    return qscope_has(s, q);
}

/* 1 when the ids in v (an integer, or an array of integers or objects) are all inside s. */
static int qscope_payload(db_t *db, const qscope_t *s, const json_t *v, int depth);

static int qscope_ids(db_t *db, const qscope_t *s, char kind, const json_t *v, int depth)
{
    if (json_is_integer(v))
        return qscope_ref(db, s, kind, json_integer_value(v));
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!(json_is_integer(x) ? qscope_ref(db, s, kind, json_integer_value(x))
                                                              : qscope_payload(db, s, x, depth + 1))) return 0;
    }
    return 1;
}

static int qscope_payload(db_t *db, const qscope_t *s, const json_t *v, int depth)
{
    const char *k;
    json_t *x;
    size_t i;
    if (depth > 8)
        return 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (!qscope_payload(db, s, x, depth + 1)) return 0;
        return 1;
    }
    if (!json_is_object(v))
        return 1;
    json_object_foreach((json_t *)v, k, x)
    {
        char kind = !strcmp(k, "criterion_id") || !strcmp(k, "criterion_ids") || !strcmp(k, "criteria") ? 'c'
                    : !strcmp(k, "unit_id") || !strcmp(k, "unit_ids")                                    ? 'u'
                    : !strcmp(k, "qualification_id") || !strcmp(k, "qualification_ids")                  ? 'q'
                                                                                                         : 0;
        if (kind == 'c' && !strcmp(k, "criteria") && !json_is_array(x))
            kind = 0; /* a count, not ids */
        if (kind ? !qscope_ids(db, s, kind, x, depth) : !qscope_payload(db, s, x, depth + 1))
            return 0;
    }
    return 1;
}

void qscope_filter_events(db_t *db, const qscope_t *s, json_t *arr)
{
    if (s->all || !json_is_array(arr))
        return;
    for (size_t i = json_array_size(arr); i-- > 0;) {
        json_t *ev = json_array_get(arr, i);
        if (!qscope_event(db, s, json_string_value(json_object_get(ev, "entity")),
                          json_integer_value(json_object_get(ev, "entity_id"))) ||
            !qscope_payload(db, s, json_object_get(ev, "before"), 0) ||
            !qscope_payload(db, s, json_object_get(ev, "after"), 0))
            json_array_remove(arr, i);
    }
}

void policy_qscope_binds(const user_t *u, int64_t *eqa, char now[21])
{
    *eqa = u && u->role == ROLE_EQA ? u->id : 0;
    util_now_iso(now);
}
