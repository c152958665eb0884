/* status.c: the derived status of each criterion for each learner, kept in criterion_status */
#include "status.h"

/* One statement computes every row's status from evidence and decisions and
 * writes only the rows that changed (so the unit_progress triggers fire only
 * for real changes). ?1 learner, ?2 now, ?3 criterion (0 = all). */
static const char REFRESH_SQL[] =
    "WITH latest AS ("
    "  SELECT cs.criterion_id,"
    "    (SELECT d.id FROM decisions d WHERE d.learner_id = ?1 AND d.criterion_id = cs.criterion_id"
    "       ORDER BY d.id DESC LIMIT 1) AS did"
    "  FROM criterion_status cs WHERE cs.learner_id = ?1 AND (?3 = 0 OR cs.criterion_id = ?3)"
    "), calc AS ("
    "  SELECT l.criterion_id, l.did, CASE"
    "    WHEN (SELECT outcome FROM decisions WHERE id = l.did) = 'met' THEN 'met'"
    "    WHEN EXISTS (SELECT 1 FROM evidence_criteria ec JOIN evidence e ON e.id = ec.evidence_id"
    "                 WHERE ec.learner_id = ?1 AND ec.criterion_id = l.criterion_id"
    "                   AND e.status = 'submitted') THEN 'submitted'"
    "    WHEN l.did IS NOT NULL THEN 'not_met'"
    "    WHEN EXISTS (SELECT 1 FROM evidence_criteria ec"
    "                 WHERE ec.learner_id = ?1 AND ec.criterion_id = l.criterion_id) THEN 'mapped'"
    "    ELSE 'not_started' END AS st"
    "  FROM latest l"
    ")"
    " UPDATE criterion_status SET status = calc.st, decision_id = calc.did, updated_at = ?2"
    " FROM calc WHERE criterion_status.learner_id = ?1"
    "   AND criterion_status.criterion_id = calc.criterion_id"
    "   AND (criterion_status.status <> calc.st OR criterion_status.decision_id IS DISTINCT FROM calc.did)";

static int refresh(db_t *db, int64_t learner_id, int64_t criterion_id)
{
    char now[21];
    util_now_iso(now);
    return db_run(db, REFRESH_SQL, "iti", learner_id, now, criterion_id);
}

int status_refresh(db_t *db, int64_t learner_id, int64_t criterion_id)
{
    return refresh(db, learner_id, criterion_id);
}

int status_refresh_learner(db_t *db, int64_t learner_id)
{
    return refresh(db, learner_id, 0);
}

/* The KSBs of a learner's apprenticeships recognised as prior learning (issue 16): they
 * have no criterion_status row, so they count in no total, percent or summary. ?1 learner. */
#define RPL_KSBS "SELECT k.criterion_id FROM apprenticeship_rpl_ksbs k" \
                 " JOIN apprenticeships a ON a.id = k.apprenticeship_id WHERE a.learner_id = ?1"

int status_sync_learner(db_t *db, int64_t learner_id)
{
    if (db_run(db,
               "INSERT INTO criterion_status (learner_id, criterion_id, unit_id)"
               " SELECT e.learner_id, c.id, c.unit_id FROM enrolments e"
               " JOIN units u ON u.qualification_id = e.qualification_id AND u.retired = 0"
               " JOIN criteria c ON c.unit_id = u.id AND c.retired = 0"
               " WHERE e.learner_id = ?1 AND c.id NOT IN (" RPL_KSBS ") ON CONFLICT DO NOTHING",
               "i", learner_id) != EV_OK)
        return EV_ERR;
    if (db_run(db,
               "DELETE FROM criterion_status WHERE learner_id = ?1 AND (criterion_id NOT IN ("
               " SELECT c.id FROM enrolments e"
               " JOIN units u ON u.qualification_id = e.qualification_id AND u.retired = 0"
               " JOIN criteria c ON c.unit_id = u.id AND c.retired = 0 WHERE e.learner_id = ?1)"
               " OR criterion_id IN (" RPL_KSBS "))",
               "i", learner_id) != EV_OK)
        return EV_ERR;
    return status_refresh_learner(db, learner_id);
}

int status_sync_qualification(db_t *db, int64_t qualification_id)
{
    json_t *learners = db_all(db, "SELECT DISTINCT learner_id FROM enrolments WHERE qualification_id = ?",
                              "i", qualification_id);
    if (!learners)
        return EV_ERR;
    int result = EV_OK;
    size_t i;
    json_t *row;
    json_array_foreach(learners, i, row) {
        if (status_sync_learner(db, json_integer_value(json_object_get(row, "learner_id"))) != EV_OK) {
            result = EV_ERR;
            break;
        }
    }
    json_decref(learners);
    return result;
}
