/* policy.c: the one place that decides who may see and change whose portfolio */
#include "policy.h"

#include <stdlib.h>

/*
 * The whole policy, role by role (a disabled account never gets this far:
 * its sessions are deleted and session_load refuses it):
 *
 *   read a learner     learner: only themself; assessor / IQA: learners with an
 *                      enrolment naming them (any status, so finished records
 *                      stay readable); admin, EQA: every learner; employer
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
    case ROLE_EQA:
        return is_learner_account(db, learner_id);
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
    case ROLE_ADMIN:
    case ROLE_EQA:
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
