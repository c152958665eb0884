/* iqa.c: internal quality assurance: sampling assessors' decisions, actions and the assessor's answers */
#include "notify.h"
#include "iqa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "decisions.h"
#include "iqaplan.h"
#include "policy.h"

static const char *const KINDS[] = {"observation", "witness_testimony", "professional_discussion", "product",
                                    "reflective_account", "question_and_answer", "recognition_of_prior_learning"};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])

static void decorate_sample(json_t *s)
{
    const char *o = json_string_value(json_object_get(s, "outcome"));
    int agree = o && strcmp(o, "agree") == 0;
    json_object_set_new(s, "is_agree", json_boolean(agree));
    json_object_set_new(s, "outcome_label", json_string(agree ? "Agree" : "Action required"));
    const char *st = json_string_value(json_object_get(s, "action_state"));
    if (!st) /* a row read without the state: from the response */
        st = agree ? NULL : json_is_string(json_object_get(s, "responded_at")) ? "answered" : "open";
    json_object_set_new(s, "answered", json_boolean(st && strcmp(st, "answered") == 0));
    json_object_set_new(s, "open", json_boolean(st && strcmp(st, "open") == 0));
    json_object_set_new(s, "closed", json_boolean(st && strcmp(st, "closed") == 0));
    json_object_set_new(s, "state_label", json_string(!st                         ? "Agreed"
                                                      : strcmp(st, "open") == 0     ? "Waiting for the assessor"
                                                      : strcmp(st, "answered") == 0 ? "Answered, waiting for the IQA"
                                                                                    : "Closed"));
}

/* Who answers an open action: the assessor an admin handed it to, else the
 * learner's current assessor on the decision's qualification (not the one who made
 * the decision: a learner may have moved to another assessor since). */
#define ACTION_RESPONDER                                                                                     \
    "COALESCE(s.assignee_id, (SELECT en.assessor_id FROM enrolments en JOIN criteria rc ON rc.id = d.criterion_id" \
    " JOIN units ru ON ru.id = rc.unit_id WHERE en.learner_id = d.learner_id"                               \
    " AND en.qualification_id = ru.qualification_id))"

/* The files a sample looked at, with their SHA-256 then (and sha256_short: its first 12
 * hex digits, for pages that show the whole hash on request). Caller owns it. */
static json_t *sample_files(db_t *db, int64_t sample_id)
{
    json_t *f = db_all(db, "SELECT evidence_id, file_id, name, sha256 FROM iqa_sample_files WHERE sample_id = ?"
                           " ORDER BY id", "i", sample_id);
    size_t i;
    json_t *x;
    json_array_foreach(f, i, x)
    {
        char brief[16];
        snprintf(brief, sizeof brief, "%.12s", json_string_value(json_object_get(x, "sha256")) ?
                                                   json_string_value(json_object_get(x, "sha256")) : "");
        json_object_set_new(x, "sha256_short", json_string(brief));
    }
    return f ? f : json_array();
}

/* The assessment methods (CAMERA's M) a decision stands on: the kinds of its evidence, in
 * words ("Observation, Product"); "" when it has none. Caller frees. */
static char *decision_methods(db_t *db, int64_t decision_id)
{
    json_t *kinds = db_all(db, "SELECT DISTINCT e.kind FROM decision_evidence de JOIN evidence e ON e.id = de.evidence_id"
                               " WHERE de.decision_id = ? ORDER BY e.kind", "i", decision_id);
    buf_t b = {0};
    size_t i;
    json_t *k;
    json_array_foreach(kinds, i, k)
    {
        if (i)
            buf_puts(&b, ", ");
        buf_puts(&b, decisions_kind_label(json_string_value(json_object_get(k, "kind"))));
    }
    json_decref(kinds);
    char *m = buf_take(&b);
    return m ? m : xstrdup("");
}

json_t *iqa_samples_of(db_t *db, int64_t decision_id)
{
    json_t *list = db_all(db,
                          "SELECT s.id, s.decision_id, s.iqa_id, u.name AS iqa_name, s.outcome, s.feedback,"
                          " s.created_at, s.response, s.responded_at, s.action_state, s.closed_at, s.stage, s.group_id"
                          " FROM iqa_samples s"
                          " JOIN users u ON u.id = s.iqa_id WHERE s.decision_id = ? ORDER BY s.id",
                          "i", decision_id);
    char *methods = decision_methods(db, decision_id);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        decorate_sample(s);
        json_t *files = sample_files(db, json_integer_value(json_object_get(s, "id")));
        json_object_set_new(s, "file_count", json_integer((json_int_t)json_array_size(files)));
        json_object_set_new(s, "files", files);
        /* what the sample was: its stage, the methods it covered, and its reach */
        const char *stage = json_string_value(json_object_get(s, "stage"));
        json_object_set_new(s, "stage_label", json_string(!stage ? "Not recorded (sampled before stages were kept)"
                                                          : !strcmp(stage, "summative") ? "Summative" : "Interim"));
        json_object_set_new(s, "methods", json_string(methods));
        char *scope = json_is_integer(json_object_get(s, "group_id"))
                          ? db_text(db, "SELECT scope FROM iqa_sample_groups WHERE id = ?", "i",
                                    (int64_t)json_integer_value(json_object_get(s, "group_id")))
                          : NULL;
        json_object_set_new(s, "scope_label", json_string(!scope ? "This decision"
                                                          : !strcmp(scope, "unit") ? "The whole unit (every current decision in it)"
                                                                                   : "The whole portfolio (every current decision)"));
        free(scope);
    }
    free(methods);
    return list;
}

/* ---- the coverage summaries (iqa.h; schema/018_list_scale.sql) ---- */

/* Adds dd decisions and ds sampled to the rows of decision_id: with au_learner its
 * assessor-and-unit and learner rows, with kinds the row of each distinct kind of the
 * evidence it cites now. */
static int cover_apply(db_t *db, int64_t decision_id, int64_t dd, int64_t ds, int au_learner, int kinds)
{
    int rc = EV_ERR;
    json_t *ks = NULL;
    json_t *d = db_one(db, "SELECT d.assessor_id, c.unit_id, d.learner_id FROM decisions d"
                           " JOIN criteria c ON c.id = d.criterion_id WHERE d.id = ?", "i", decision_id);
    if (!d)
        goto out;
    int64_t a = json_integer_value(json_object_get(d, "assessor_id"));
    int64_t u = json_integer_value(json_object_get(d, "unit_id"));
    int64_t l = json_integer_value(json_object_get(d, "learner_id"));
    if (au_learner) {
        if (db_run(db, "INSERT INTO iqa_cover_au (assessor_id, unit_id, decisions, sampled) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (assessor_id, unit_id) DO UPDATE SET decisions = iqa_cover_au.decisions + ?,"
                       " sampled = iqa_cover_au.sampled + ?", "iiiiii", a, u, dd, ds, dd, ds) != EV_OK ||
            db_run(db, "INSERT INTO iqa_cover_learner (learner_id, decisions, sampled) VALUES (?, ?, ?)"
                       " ON CONFLICT (learner_id) DO UPDATE SET decisions = iqa_cover_learner.decisions + ?,"
                       " sampled = iqa_cover_learner.sampled + ?", "iiiii", l, dd, ds, dd, ds) != EV_OK)
            goto out;
        json_t *row = db_one(db, "SELECT decisions, sampled FROM iqa_cover_learner WHERE learner_id = ?", "i", l);
        int64_t n = row ? json_integer_value(json_object_get(row, "decisions")) : 0;
        int64_t sm = row ? json_integer_value(json_object_get(row, "sampled")) : 0;
        json_decref(row);
        /* the rank the page's fifty least-sampled learners are read in (schema/018) */
        if (!row || db_run(db, "UPDATE iqa_cover_learner SET sampled_ppb = ? WHERE learner_id = ?", "ii",
                           n > 0 ? sm * 1000000000 / n : 0, l) != EV_OK)
            goto out;
    }
    if (kinds) {
        /* in kind order, so concurrent writers take the rows' locks in one order */
        ks = db_all(db, "SELECT DISTINCT ev.kind FROM decision_evidence de JOIN evidence ev ON ev.id = de.evidence_id"
                        " WHERE de.decision_id = ? ORDER BY ev.kind", "i", decision_id);
        if (!ks)
            goto out;
        size_t i;
        json_t *k;
        json_array_foreach(ks, i, k)
        {
            if (db_run(db, "INSERT INTO iqa_cover_kind (assessor_id, unit_id, kind, decisions, sampled)"
                           " VALUES (?, ?, ?, ?, ?) ON CONFLICT (assessor_id, unit_id, kind) DO UPDATE SET"
                           " decisions = iqa_cover_kind.decisions + ?, sampled = iqa_cover_kind.sampled + ?",
                       "iitiiii", a, u, json_string_value(json_object_get(k, "kind")), dd, ds, dd, ds) != EV_OK)
                goto out;
        }
    }
    rc = EV_OK;
out:
    json_decref(d);
    json_decref(ks);
    return rc;
}

int iqa_coverage_decision_added(db_t *db, int64_t decision_id)
{
    int sampled = db_int(db, "SELECT 1 FROM iqa_samples WHERE decision_id = ? LIMIT 1", 0, "i", decision_id) == 1;
    return cover_apply(db, decision_id, 1, sampled, 1, 1);
}

int iqa_coverage_sample_added(db_t *db, int64_t decision_id)
{
    if (db_lock_xact(db, (int64_t)0x6963 << 48 ^ decision_id) != EV_OK)
        return EV_ERR;
    if (db_int(db, "SELECT count(*) FROM iqa_samples WHERE decision_id = ?", 0, "i", decision_id) != 1)
        return EV_OK; /* sampled before: already counted */
    return cover_apply(db, decision_id, 0, 1, 1, 1);
}

int iqa_coverage_evidence_kind(db_t *db, int64_t evidence_id, int sign)
{
    json_t *ds = db_all(db, "SELECT de.decision_id AS id, CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s"
                            " WHERE s.decision_id = de.decision_id) THEN 1 ELSE 0 END AS sampled"
                            " FROM decision_evidence de WHERE de.evidence_id = ?", "i", evidence_id);
    int rc = ds ? EV_OK : EV_ERR;
    size_t i;
    json_t *d;
    json_array_foreach(ds, i, d)
    {
        if (rc == EV_OK)
            rc = cover_apply(db, json_integer_value(json_object_get(d, "id")), sign,
                             sign * json_integer_value(json_object_get(d, "sampled")), 0, 1);
    }
    json_decref(ds);
    return rc;
}

int iqa_coverage_rebuild(db_t *db)
{
    /* the same statements as the migration's backfill (schema/018_list_scale.sql) */
    if (db_run(db, "DELETE FROM iqa_cover_au", "") != EV_OK || db_run(db, "DELETE FROM iqa_cover_kind", "") != EV_OK ||
        db_run(db, "DELETE FROM iqa_cover_learner", "") != EV_OK)
        return EV_ERR;
    if (db_run(db, "INSERT INTO iqa_cover_au (assessor_id, unit_id, decisions, sampled)"
                   " SELECT d.assessor_id, c.unit_id, COUNT(*),"
                   " SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END)"
                   " FROM decisions d JOIN criteria c ON c.id = d.criterion_id GROUP BY d.assessor_id, c.unit_id", "") != EV_OK ||
        db_run(db, "INSERT INTO iqa_cover_kind (assessor_id, unit_id, kind, decisions, sampled)"
                   " SELECT d.assessor_id, c.unit_id, k.kind, COUNT(*),"
                   " SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END)"
                   " FROM (SELECT DISTINCT de.decision_id, ev.kind FROM decision_evidence de"
                   " JOIN evidence ev ON ev.id = de.evidence_id) k"
                   " JOIN decisions d ON d.id = k.decision_id JOIN criteria c ON c.id = d.criterion_id"
                   " GROUP BY d.assessor_id, c.unit_id, k.kind", "") != EV_OK ||
        db_run(db, "INSERT INTO iqa_cover_learner (learner_id, decisions, sampled, sampled_ppb)"
                   " SELECT g.learner_id, g.decisions, g.sampled, g.sampled * 1000000000 / g.decisions"
                   " FROM (SELECT d.learner_id, COUNT(*) AS decisions,"
                   " SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END)"
                   " AS sampled FROM decisions d GROUP BY d.learner_id) g", "") != EV_OK)
        return EV_ERR;
    return EV_OK;
}

/* ---- the sampling page ---- */

/* The filters of the sampling page, as read from the query string. */
typedef struct filters {
    int64_t iqa;      /* scope: only learners this IQA is named on (0: all) */
    int64_t assessor, unit, learner;
    const char *kind; /* evidence type, or NULL */
    const char *from, *to; /* YYYY-MM-DD, or NULL */
    int sampled;      /* 0 any, 1 sampled, 2 not sampled */
} filters_t;

#define IQA_FROM                                                                                             \
    " FROM decisions d JOIN criteria c ON c.id = d.criterion_id JOIN units un ON un.id = c.unit_id"          \
    " JOIN users lu ON lu.id = d.learner_id JOIN users au ON au.id = d.assessor_id"

/* The IQA's scope comes first so SQLite walks that IQA's learners through the
 * enrolments_iqa and decisions_learner indexes; admin and EQA see every decision. */
#define IQA_SCOPE_MINE " WHERE d.learner_id IN (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?)"
#define IQA_SCOPE_ALL " WHERE ? = 0"
#define IQA_FILTERS                                                                                          \
    " AND (? = 0 OR d.assessor_id = ?) AND (? = 0 OR c.unit_id = ?) AND (? = 0 OR d.learner_id = ?)"         \
    " AND (? IS NULL OR EXISTS (SELECT 1 FROM decision_evidence fde JOIN evidence fev"                        \
    "   ON fev.id = fde.evidence_id WHERE fde.decision_id = d.id AND fev.kind = ?))"                         \
    " AND (? IS NULL OR substr(d.created_at, 1, 10) >= ?) AND (? IS NULL OR substr(d.created_at, 1, 10) <= ?)" \
    " AND (? = 0 OR (? = 1 AND EXISTS (SELECT 1 FROM iqa_samples fs WHERE fs.decision_id = d.id))"           \
    "   OR (? = 2 AND NOT EXISTS (SELECT 1 FROM iqa_samples fs WHERE fs.decision_id = d.id)))"

#define IQA_WHERE_FMT "iiiiiiittttttIII"
#define IQA_WHERE_ARGS(f)                                                                                    \
    (f).iqa, (f).assessor, (f).assessor, (f).unit, (f).unit, (f).learner, (f).learner, (f).kind,             \
        (f).kind, (f).from, (f).from, (f).to, (f).to, (f).sampled, (f).sampled, (f).sampled

#define SAMPLED_EXPR "EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id)"

/* Each query of the sampling page in its two scopes. The filtered set is
 * computed over decisions and criteria only; names are joined afterwards, to
 * the page of items or the groups, not to every decision. */
#define IQA_BASE " FROM decisions d JOIN criteria c ON c.id = d.criterion_id"
#define Q_ITEMS(SCOPE)                                                                                        \
    "SELECT d.id, d.learner_id, lu.name AS learner_name, d.assessor_id,"                                     \
    " au.name AS assessor_name, d.criterion_id, c.ref AS criterion_ref,"                                     \
    " c.text AS criterion_text, c.unit_id, un.ref AS unit_ref, un.title AS unit_title,"                      \
    " (SELECT q.title FROM qualifications q WHERE q.id = un.qualification_id) AS qualification_title,"       \
    " d.outcome, d.created_at,"                                                                              \
    " (SELECT COUNT(*) FROM iqa_samples s WHERE s.decision_id = d.id) AS samples,"                           \
    " (SELECT s.outcome FROM iqa_samples s WHERE s.decision_id = d.id"                                       \
    "   ORDER BY s.id DESC LIMIT 1) AS sample_outcome,"                                                      \
    " (SELECT s2.id FROM decisions s2 WHERE s2.supersedes_id = d.id) AS superseded_by"                       \
    " FROM (SELECT d.id" IQA_BASE SCOPE IQA_FILTERS " ORDER BY d.id DESC LIMIT ? OFFSET ?) pick"             \
    " JOIN decisions d ON d.id = pick.id" " JOIN criteria c ON c.id = d.criterion_id"                        \
    " JOIN units un ON un.id = c.unit_id JOIN users lu ON lu.id = d.learner_id"                              \
    " JOIN users au ON au.id = d.assessor_id ORDER BY d.id DESC"
#define Q_AU(SCOPE)                                                                                           \
    "SELECT g.assessor_id, au.name AS assessor_name, g.unit_id, un.ref AS unit_ref, un.title AS unit_title,"  \
    " un.position AS unit_position, g.decisions, g.sampled FROM (SELECT d.assessor_id, c.unit_id,"            \
    " COUNT(*) AS decisions, SUM(CASE WHEN " SAMPLED_EXPR " THEN 1 ELSE 0 END) AS sampled" IQA_BASE SCOPE IQA_FILTERS                    \
    " GROUP BY d.assessor_id, c.unit_id) g JOIN users au ON au.id = g.assessor_id"                           \
    " JOIN units un ON un.id = g.unit_id"
#define Q_LEARNERS(SCOPE)                                                                                     \
    "SELECT g.id, lu.name, g.decisions, g.sampled FROM (SELECT d.learner_id AS id, COUNT(*) AS decisions,"    \
    " SUM(CASE WHEN " SAMPLED_EXPR " THEN 1 ELSE 0 END) AS sampled" IQA_BASE SCOPE IQA_FILTERS " GROUP BY d.learner_id"                  \
    " ORDER BY 1.0 * SUM(CASE WHEN " SAMPLED_EXPR " THEN 1 ELSE 0 END) / COUNT(*), d.learner_id LIMIT 50) g JOIN users lu ON lu.id = g.id"            \
    " ORDER BY 1.0 * g.sampled / g.decisions, lu.name"
#define Q_METHODS(SCOPE)                                                                                      \
    "SELECT ev.kind AS id, COUNT(DISTINCT d.id) AS decisions,"                                               \
    " COUNT(DISTINCT CASE WHEN " SAMPLED_EXPR " THEN d.id END) AS sampled" IQA_BASE                          \
    " JOIN decision_evidence mde ON mde.decision_id = d.id"                                                  \
    " JOIN evidence ev ON ev.id = mde.evidence_id" SCOPE IQA_FILTERS " GROUP BY ev.kind ORDER BY ev.kind"

/* Coverage from the decision_coverage summary (schema/006), usable when the only
 * filters are assessor, unit and learner: its rows are exactly those dimensions. */
#define SUM_SCOPE_MINE " WHERE dc.learner_id IN (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?)"
#define SUM_SCOPE_ALL " WHERE ? = 0"
#define SUM_FILTERS " AND (? = 0 OR dc.assessor_id = ?) AND (? = 0 OR dc.unit_id = ?) AND (? = 0 OR dc.learner_id = ?)"
#define SUM_FMT "iiiiiii"
#define SUM_ARGS(f) (f).iqa, (f).assessor, (f).assessor, (f).unit, (f).unit, (f).learner, (f).learner
#define S_AU(SCOPE)                                                                                           \
    "SELECT g.assessor_id, au.name AS assessor_name, g.unit_id, un.ref AS unit_ref, un.title AS unit_title,"  \
    " un.position AS unit_position, g.decisions, g.sampled FROM (SELECT dc.assessor_id, dc.unit_id,"          \
    " SUM(dc.decisions) AS decisions, SUM(dc.sampled) AS sampled FROM decision_coverage dc" SCOPE SUM_FILTERS \
    " GROUP BY dc.assessor_id, dc.unit_id) g JOIN users au ON au.id = g.assessor_id"                        \
    " JOIN units un ON un.id = g.unit_id"
#define S_LEARNERS(SCOPE)                                                                                     \
    "SELECT g.id, lu.name, g.decisions, g.sampled FROM (SELECT dc.learner_id AS id,"                          \
    " SUM(dc.decisions) AS decisions, SUM(dc.sampled) AS sampled FROM decision_coverage dc" SCOPE SUM_FILTERS \
    " GROUP BY dc.learner_id ORDER BY 1.0 * SUM(dc.sampled) / SUM(dc.decisions), dc.learner_id LIMIT 50) g"                   \
    " JOIN users lu ON lu.id = g.id ORDER BY 1.0 * g.sampled / g.decisions, lu.name"
/* Coverage for the whole centre from the summaries kept in C (iqa.h, schema/018), when
 * the scope is every learner and the only filters are assessor and unit: a few rows per
 * assessor and unit instead of every decision (issue 22). */
#define C_AU                                                                                                  \
    "SELECT g.assessor_id, au.name AS assessor_name, g.unit_id, un.ref AS unit_ref, un.title AS unit_title,"  \
    " un.position AS unit_position, g.decisions, g.sampled FROM iqa_cover_au g"                              \
    " JOIN users au ON au.id = g.assessor_id JOIN units un ON un.id = g.unit_id"                             \
    " WHERE (? = 0 OR g.assessor_id = ?) AND (? = 0 OR g.unit_id = ?) AND g.decisions > 0"
#define C_METHODS                                                                                             \
    "SELECT kind AS id, SUM(decisions) AS decisions, SUM(sampled) AS sampled FROM iqa_cover_kind"            \
    " WHERE (? = 0 OR assessor_id = ?) AND (? = 0 OR unit_id = ?) GROUP BY kind HAVING SUM(decisions) > 0"   \
    " ORDER BY kind"
/* the fifty least sampled, in iqa_cover_learner_rank order (ratio, then learner id) */
#define C_LEARNERS                                                                                            \
    "SELECT g.learner_id AS id, lu.name, g.decisions, g.sampled FROM (SELECT learner_id, decisions, sampled"  \
    " FROM iqa_cover_learner WHERE decisions > 0 ORDER BY sampled_ppb, learner_id LIMIT 50) g"               \
    " JOIN users lu ON lu.id = g.learner_id ORDER BY 1.0 * g.sampled / g.decisions, lu.name"
#define C_ARGS(f) (f).assessor, (f).assessor, (f).unit, (f).unit

#define SUM_QUERY(f, Q)                                                                                       \
    ((f).iqa ? db_all(r->db, Q(SUM_SCOPE_MINE), SUM_FMT, SUM_ARGS(f))                                         \
             : db_all(r->db, Q(SUM_SCOPE_ALL), SUM_FMT, SUM_ARGS(f)))

/* Runs query Q in the request's scope. */
#define IQA_QUERY(f, Q, ...)                                                                                  \
    ((f).iqa ? db_all(r->db, Q(IQA_SCOPE_MINE), IQA_WHERE_FMT __VA_ARGS__)                                   \
             : db_all(r->db, Q(IQA_SCOPE_ALL), IQA_WHERE_FMT __VA_ARGS__))

static int read_filters(req_t *r, filters_t *f)
{
    memset(f, 0, sizeof *f);
    f->iqa = r->user.role == ROLE_IQA ? r->user.id : 0;
    in_int(r, "assessor_id", &f->assessor);
    in_int(r, "unit_id", &f->unit);
    in_int(r, "learner_id", &f->learner);
    const char *kind = in_str(r, "kind");
    if (kind && *kind) {
        int ok = 0;
        for (size_t i = 0; i < NKINDS; i++)
            ok |= strcmp(kind, KINDS[i]) == 0;
        if (!ok) {
            http_field_error(r, "kind", "Choose an evidence type from the list");
            return EV_ERR;
        }
        f->kind = kind;
    }
    const char *from = in_str(r, "from"), *to = in_str(r, "to");
    if (from && *from) {
        if (!util_valid_date(from)) {
            http_field_error(r, "from", "Enter the from date as YYYY-MM-DD");
            return EV_ERR;
        }
        f->from = from;
    }
    if (to && *to) {
        if (!util_valid_date(to)) {
            http_field_error(r, "to", "Enter the to date as YYYY-MM-DD");
            return EV_ERR;
        }
        f->to = to;
    }
    const char *sampled = in_str(r, "sampled");
    if (sampled && strcmp(sampled, "yes") == 0)
        f->sampled = 1;
    else if (sampled && strcmp(sampled, "no") == 0)
        f->sampled = 2;
    return EV_OK;
}

/* [{value, label, selected}] from rows of {id, label}. */
static json_t *options(json_t *rows, int64_t selected)
{
    json_t *list = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        int64_t id = json_integer_value(json_object_get(row, "id"));
        json_array_append_new(list, json_pack("{s:I, s:O, s:b}", "value", (json_int_t)id, "label",
                                              json_object_get(row, "label"), "selected", id == selected));
    }
    json_decref(rows);
    return list;
}

/* Adds percent to each coverage row {decisions, sampled}. */
static json_t *coverage(json_t *rows)
{
    if (!rows)
        return json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        int64_t n = json_integer_value(json_object_get(row, "decisions"));
        int64_t s = json_integer_value(json_object_get(row, "sampled"));
        json_object_set_new(row, "percent", json_integer(n ? s * 100 / n : 0));
        json_object_set_new(row, "unsampled", json_boolean(s == 0));
    }
    return rows;
}

/* Adds {decisions, sampled} of row to the entry of list whose "id" is id
 * (created with name/ref from row when missing). */
static void tally(json_t *list, json_int_t id, const char *name, const char *ref, json_int_t position, json_t *row)
{
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(list, i, e) if (json_integer_value(json_object_get(e, "id")) == id) found = e;
    if (!found) {
        found = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I}", "id", id, "name", name ? name : "", "ref", ref ? ref : "",
                          "position", position, "decisions", (json_int_t)0, "sampled", (json_int_t)0);
        json_array_append_new(list, found);
    }
    json_object_set_new(found, "decisions", json_integer(json_integer_value(json_object_get(found, "decisions")) +
                                                         json_integer_value(json_object_get(row, "decisions"))));
    json_object_set_new(found, "sampled", json_integer(json_integer_value(json_object_get(found, "sampled")) +
                                                       json_integer_value(json_object_get(row, "sampled"))));
}

static int by_name(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
}

static int by_position(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t p = json_integer_value(json_object_get(x, "position")), q = json_integer_value(json_object_get(y, "position"));
    return p < q ? -1 : p > q ? 1 : strcmp(json_string_value(json_object_get(x, "ref")),
                                           json_string_value(json_object_get(y, "ref")));
}

/* Sorts a JSON array in place with cmp. */
static void sort_array(json_t *list, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(list);
    if (n < 2)
        return;
    json_t **items = xcalloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof *items, cmp);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    free(items);
}

/* GET /iqa, /api/v1/iqa/decisions: decisions to sample, filtered, with coverage. */
static int iqa_index(req_t *r)
{
    filters_t f;
    int64_t limit, offset;
    json_t *out = http_out(r);
    int bad = read_filters(r, &f) != EV_OK;
    if (bad) { /* show the page unfiltered beside the error */
        int64_t scope = f.iqa;
        memset(&f, 0, sizeof f);
        f.iqa = scope;
    }
    http_page(r, 25, &limit, &offset);

    /* Coverage by assessor and by unit from one pass; the total is its sum. */
    int summary = !f.kind && !f.from && !f.to && !f.sampled;
    int centre = summary && !f.iqa && !f.learner; /* the centre-wide summaries answer it */
    json_t *au = centre    ? db_all(r->db, C_AU, "iiii", C_ARGS(f))
                 : summary ? SUM_QUERY(f, S_AU)
                           : IQA_QUERY(f, Q_AU, , IQA_WHERE_ARGS(f));
    json_t *items = IQA_QUERY(f, Q_ITEMS, "ii", IQA_WHERE_ARGS(f), limit, offset);
    if (!au || !items) {
        json_decref(au);
        json_decref(items);
        return http_fail(r, 500, "db_error", "Could not list decisions.");
    }
    json_t *assessors = json_array(), *units = json_array(), *row;
    int64_t total = 0;
    size_t i;
    json_array_foreach(au, i, row)
    {
        total += json_integer_value(json_object_get(row, "decisions"));
        tally(assessors, json_integer_value(json_object_get(row, "assessor_id")),
              json_string_value(json_object_get(row, "assessor_name")), NULL, 0, row);
        tally(units, json_integer_value(json_object_get(row, "unit_id")),
              json_string_value(json_object_get(row, "unit_title")), json_string_value(json_object_get(row, "unit_ref")),
              json_integer_value(json_object_get(row, "unit_position")), row);
    }
    json_decref(au);
    sort_array(assessors, by_name);
    sort_array(units, by_position);
    /* Units of two qualifications may share a name: say whose each is. */
    json_array_foreach(units, i, row)
    {
        char *qt = db_text(r->db, "SELECT q.title FROM units un JOIN qualifications q ON q.id = un.qualification_id"
                                  " WHERE un.id = ?", "i", (int64_t)json_integer_value(json_object_get(row, "id")));
        json_object_set_new(row, "qualification_title", json_string(qt ? qt : ""));
        free(qt);
    }

    json_t *d;
    json_array_foreach(items, i, d)
    {
        const char *o = json_string_value(json_object_get(d, "outcome"));
        const char *so = json_string_value(json_object_get(d, "sample_outcome"));
        /* the kinds of evidence the decision rests on, in evidence order */
        json_t *kinds = db_all(r->db,
                               "SELECT ev.kind FROM decision_evidence de JOIN evidence ev ON ev.id = de.evidence_id"
                               " WHERE de.decision_id = ? GROUP BY ev.kind ORDER BY min(ev.id)",
                               "i", (int64_t)json_integer_value(json_object_get(d, "id")));
        json_object_set_new(d, "is_met", json_boolean(o && !strcmp(o, "met")));
        json_object_set_new(d, "outcome_label", json_string(o && !strcmp(o, "met") ? "Met" : "Not yet met"));
        json_object_set_new(d, "sampled", json_boolean(so != NULL));
        json_object_set_new(d, "sample_label",
                            json_string(!so ? "Not sampled" : !strcmp(so, "agree") ? "Agreed" : "Action required"));
        json_object_set_new(d, "is_current", json_boolean(json_is_null(json_object_get(d, "superseded_by"))));
        /* "product,observation" -> "Product, Observation" */
        char labels[512] = "";
        size_t ki;
        json_t *kr;
        json_array_foreach(kinds, ki, kr) {
            const char *k = json_string_value(json_object_get(kr, "kind"));
            if (!k)
                continue;
            if (labels[0])
                strncat(labels, ", ", sizeof labels - strlen(labels) - 1);
            strncat(labels, decisions_kind_label(k), sizeof labels - strlen(labels) - 1);
        }
        json_decref(kinds);
        json_object_set_new(d, "kind_labels", json_string(labels));
    }
    json_object_set_new(out, "items", items);
    http_paginate(r, out, total);

    /* Coverage (CAMERA: candidates, assessors, methods; evidence and records are
     * the decisions themselves) over the same filtered set. Candidates: the 50
     * least sampled. */
    json_object_set_new(out, "coverage_assessors", coverage(assessors));
    json_object_set_new(out, "coverage_units", coverage(units));
    json_object_set_new(out, "coverage_learners",
                        coverage(centre && !f.assessor && !f.unit ? db_all(r->db, C_LEARNERS, "")
                                 : summary                        ? SUM_QUERY(f, S_LEARNERS)
                                                                  : IQA_QUERY(f, Q_LEARNERS, , IQA_WHERE_ARGS(f))));
    json_t *methods = centre ? db_all(r->db, C_METHODS, "iiii", C_ARGS(f)) : IQA_QUERY(f, Q_METHODS, , IQA_WHERE_ARGS(f));
    json_array_foreach(methods, i, d)
    {
        json_object_set_new(d, "name", json_string(decisions_kind_label(json_string_value(json_object_get(d, "id")))));
    }
    json_object_set_new(out, "coverage_methods", coverage(methods));

    /* Options for the filter form, from the enrolments in scope. For the whole centre
     * they start from the staff and units (few) and look each up in the enrolments'
     * indexes, rather than reading every enrolment (an enrolment's assessor has the
     * assessor role: users_enrol); learners are listed only up to 500, so they are
     * counted only that far. */
    json_object_set_new(out, "assessor_options",
                        options(f.iqa ? db_all(r->db,
                                               "SELECT DISTINCT au.id, au.name AS label FROM enrolments en"
                                               " JOIN users au ON au.id = en.assessor_id WHERE en.iqa_id = ?"
                                               " ORDER BY au.name LIMIT 500",
                                               "i", f.iqa)
                                      : db_all(r->db,
                                               "SELECT au.id, au.name AS label FROM users au WHERE au.role = 'assessor'"
                                               " AND EXISTS (SELECT 1 FROM enrolments en WHERE en.assessor_id = au.id)"
                                               " ORDER BY au.name LIMIT 500",
                                               ""),
                                f.assessor));
    int64_t nlearners = db_int(r->db, "SELECT COUNT(*) FROM (SELECT DISTINCT en.learner_id FROM enrolments en"
                                      " WHERE (? = 0 OR en.iqa_id = ?) LIMIT 501) x", 0, "ii", f.iqa, f.iqa);
    json_object_set_new(out, "learner_select", json_boolean(nlearners <= 500));
    json_object_set_new(out, "learner_filter", f.learner ? json_integer(f.learner) : json_string(""));
    json_object_set_new(out, "learner_options",
                        nlearners <= 500
                            ? options(db_all(r->db,
                                             "SELECT DISTINCT lu.id, lu.name AS label FROM enrolments en"
                                             " JOIN users lu ON lu.id = en.learner_id WHERE (? = 0 OR en.iqa_id = ?)"
                                             " ORDER BY lu.name LIMIT 500",
                                             "ii", f.iqa, f.iqa),
                                      f.learner)
                            : json_array());
    json_object_set_new(out, "unit_options",
                        options(db_all(r->db,
                                       "SELECT un.id, un.ref || ' ' || un.title || ' (' || q.code || ')' AS label"
                                       " FROM units un JOIN qualifications q ON q.id = un.qualification_id"
                                       " WHERE EXISTS (SELECT 1 FROM enrolments en WHERE en.qualification_id = un.qualification_id"
                                       " AND (? = 0 OR en.iqa_id = ?)) ORDER BY q.id, un.position, un.ref LIMIT 500",
                                       "ii", f.iqa, f.iqa),
                                f.unit));
    json_t *kinds = json_array();
    for (size_t k = 0; k < NKINDS; k++)
        json_array_append_new(kinds, json_pack("{s:s, s:s, s:b}", "value", KINDS[k], "label",
                                               decisions_kind_label(KINDS[k]), "selected",
                                               f.kind && !strcmp(f.kind, KINDS[k])));
    json_object_set_new(out, "kind_options", kinds);
    json_object_set_new(out, "filter",
                        json_pack("{s:s, s:s, s:b, s:b, s:b}", "from", f.from ? f.from : "", "to", f.to ? f.to : "",
                                  "sampled_any", f.sampled == 0, "sampled_yes", f.sampled == 1, "sampled_no",
                                  f.sampled == 2));
    json_object_set_new(out, "can_sample", json_boolean(r->user.role == ROLE_IQA));
    if (bad)
        return http_fail(r, 400, "invalid_filter", "Check the filters.");
    return decisions_page_ok(r);
}

/* POST /api/v1/iqa/samples {decision_id, outcome: agree|action_required, feedback} -> 201 */
static int iqa_sample_create(req_t *r)
{
    int64_t decision_id, id = 0;
    char now[21];
    json_t *after = NULL;
    int status;
    if (in_int(r, "decision_id", &decision_id) != EV_OK)
        return http_fail(r, 400, "invalid_request", "decision_id is required.");
    int64_t learner_id = db_int(r->db, "SELECT learner_id FROM decisions WHERE id = ?", 0, "i", decision_id);
    if (!learner_id)
        return http_fail(r, 404, "not_found", "No such decision.");
    if (!policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such decision."); /* as if it did not exist */
    if (!policy_can_sample_learner(r->db, &r->user, learner_id))
        return http_fail(r, 403, "forbidden", "You are not the IQA for this learner.");
    if (!r->is_api)
        decisions_load_page(r, decision_id); /* a failed form shows the decision again */
    const char *outcome = in_str(r, "outcome");
    const char *feedback = in_str(r, "feedback");
    const char *stage = in_str(r, "stage");
    if (!feedback)
        feedback = "";
    if (stage && *stage && strcmp(stage, "interim") != 0 && strcmp(stage, "summative") != 0) {
        http_field_error(r, "stage", "Choose interim or summative");
        return http_fail(r, 400, "invalid_stage", "stage must be \"interim\" or \"summative\".");
    }
    if (!stage || !*stage)
        stage = iqaplan_default_stage(r->db, decision_id);
    if (!outcome || (strcmp(outcome, "agree") != 0 && strcmp(outcome, "action_required") != 0)) {
        http_field_error(r, "outcome", "Choose agree or action required");
        return http_fail(r, 400, "invalid_outcome", "outcome must be \"agree\" or \"action_required\".");
    }
    if (strlen(feedback) > DECISIONS_MAX_TEXT) {
        http_field_error(r, "feedback", "Keep the feedback under 20000 characters");
        return http_fail(r, 400, "too_long", "The feedback is too long.");
    }
    if (strcmp(outcome, "action_required") == 0 && !*feedback) {
        http_field_error(r, "feedback", "Say what the assessor needs to do");
        return http_fail(r, 400, "feedback_required", "An action needs feedback for the assessor.");
    }
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    util_now_iso(now);
    id = db_int(r->db,
                "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at, action_state, stage)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                0, "iittttt", decision_id, r->user.id, outcome, feedback, now,
                strcmp(outcome, "action_required") == 0 ? "open" : NULL, stage);
    if (id <= 0 || iqaplan_record_files(r->db, id, decision_id) != EV_OK ||
        iqa_coverage_sample_added(r->db, decision_id) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not record the sample.");
    }
    after = json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)id, "decision_id", (json_int_t)decision_id,
                      "outcome", outcome, "feedback", feedback);
    if (audit_record(r->db, r->user.id, "iqa.sample", "iqa_sample", id, learner_id, NULL, after) != EV_OK ||
        notify_iqa_sampled(r->db, id) != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not record the sample.");
        goto out;
    }
    json_t *s = db_one(r->db,
                       "SELECT s.id, s.decision_id, s.iqa_id, u.name AS iqa_name, s.outcome, s.feedback, s.created_at,"
                       " s.response, s.responded_at, s.action_state, s.stage FROM iqa_samples s"
                       " JOIN users u ON u.id = s.iqa_id WHERE s.id = ?",
                       "i", id);
    if (s) {
        decorate_sample(s);
        json_object_set_new(s, "files", sample_files(r->db, id));
    }
    http_set_out(r, s ? s : json_object());
    http_redirect(r, "/decisions/%lld?done=sampled", (long long)decision_id);
    status = 201;
out:
    json_decref(after);
    return status;
}

/* The actions (samples) a user sees: the assessor's on their decisions, the
 * IQA's own, everything for admin. */
#define ACTIONS_SELECT                                                                                       \
    "SELECT s.id, s.decision_id, s.iqa_id, iu.name AS iqa_name, s.outcome, s.feedback, s.created_at,"       \
    " s.response, s.responded_at, s.action_state, s.closed_at, s.assignee_id, d.learner_id,"               \
    " lu.name AS learner_name, d.assessor_id, au.name AS assessor_name, " ACTION_RESPONDER " AS responder_id," \
    " d.outcome AS decision_outcome, c.ref AS criterion_ref,"                                               \
    " c.text AS criterion_text, un.ref AS unit_ref, un.title AS unit_title,"                               \
    " (SELECT q.title FROM qualifications q WHERE q.id = un.qualification_id) AS qualification_title"      \
    " FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id JOIN users iu ON iu.id = s.iqa_id"       \
    " JOIN users lu ON lu.id = d.learner_id JOIN users au ON au.id = d.assessor_id"                        \
    " JOIN criteria c ON c.id = d.criterion_id JOIN units un ON un.id = c.unit_id"
/* The actions an assessor must answer (ACTION_RESPONDER), of one IQA, or all; each takes the
 * same binds: the id (or 0), open (1: not closed; for the assessor: waiting for them). */
#define ACTIONS_MINE_ASSESSOR                                                                                \
    " WHERE " ACTION_RESPONDER " = ? AND s.outcome = 'action_required' AND (? = 0 OR s.action_state = 'open')"
#define ACTIONS_MINE_IQA                                                                                     \
    " WHERE s.iqa_id = ? AND s.outcome = 'action_required' AND (? = 0 OR s.action_state <> 'closed')"
#define ACTIONS_ALL " WHERE ? = 0 AND s.outcome = 'action_required' AND (? = 0 OR s.action_state <> 'closed')"
#define ACTIONS_COUNT(W) "SELECT COUNT(*) FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id" W
#define ACTIONS_LIST(W) ACTIONS_SELECT W " ORDER BY CASE WHEN s.action_state = 'closed' THEN 1 ELSE 0 END, s.id DESC LIMIT ? OFFSET ?"

/* The action's lifecycle events, oldest first. Caller owns it. */
static json_t *action_history(db_t *db, int64_t sample_id)
{
    json_t *h = db_all(db,
                       "SELECT e.kind, e.comment, e.at, u.name AS actor_name FROM iqa_action_events e"
                       " JOIN users u ON u.id = e.actor_id WHERE e.sample_id = ? ORDER BY e.id",
                       "i", sample_id);
    return h ? h : json_array();
}

static int64_t actions_count(req_t *r, int64_t assessor, int64_t iqa, int open)
{
    return assessor ? db_int(r->db, ACTIONS_COUNT(ACTIONS_MINE_ASSESSOR), 0, "iI", assessor, open)
           : iqa    ? db_int(r->db, ACTIONS_COUNT(ACTIONS_MINE_IQA), 0, "iI", iqa, open)
                    : db_int(r->db, ACTIONS_COUNT(ACTIONS_ALL), 0, "iI", (int64_t)0, open);
}

/* GET /actions, /api/v1/iqa/actions?open=1 */
static int iqa_actions(req_t *r)
{
    int64_t limit, offset;
    int64_t assessor = r->user.role == ROLE_ASSESSOR ? r->user.id : 0;
    int64_t iqa = r->user.role == ROLE_IQA ? r->user.id : 0;
    int open = in_bool(r, "open");
    http_page(r, 25, &limit, &offset);
    int64_t total = actions_count(r, assessor, iqa, open);
    json_t *items = assessor ? db_all(r->db, ACTIONS_LIST(ACTIONS_MINE_ASSESSOR), "iIii", assessor, open, limit, offset)
                    : iqa    ? db_all(r->db, ACTIONS_LIST(ACTIONS_MINE_IQA), "iIii", iqa, open, limit, offset)
                             : db_all(r->db, ACTIONS_LIST(ACTIONS_ALL), "iIii", (int64_t)0, open, limit, offset);
    if (!items)
        return http_fail(r, 500, "db_error", "Could not list actions.");
    size_t i;
    json_t *s;
    json_array_foreach(items, i, s)
    {
        decorate_sample(s);
        json_object_set_new(s, "can_answer", json_boolean(json_is_true(json_object_get(s, "open")) &&
                                                          json_integer_value(json_object_get(s, "responder_id")) ==
                                                              r->user.id));
        int own_iqa = json_integer_value(json_object_get(s, "iqa_id")) == r->user.id;
        json_object_set_new(s, "can_close", json_boolean(own_iqa && json_is_true(json_object_get(s, "answered"))));
        json_object_set_new(s, "can_assign", json_boolean(r->user.role == ROLE_ADMIN &&
                                                          !json_is_true(json_object_get(s, "closed"))));
        json_object_set_new(s, "history", action_history(r->db, json_integer_value(json_object_get(s, "id"))));
        const char *o = json_string_value(json_object_get(s, "decision_outcome"));
        json_object_set_new(s, "decision_label", json_string(o && !strcmp(o, "met") ? "Met" : "Not yet met"));
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "items", items);
    json_object_set_new(out, "open_count",
                        json_integer(actions_count(r, assessor, iqa, 1)));
    json_object_set_new(out, "is_assessor", json_boolean(r->user.role == ROLE_ASSESSOR));
    http_paginate(r, out, total);
    return decisions_page_ok(r);
}

/* A failed answer on the page shows the actions list again with the error. */
static int respond_fail(req_t *r, int status, const char *code, const char *message)
{
    if (!r->is_api && status < 500)
        iqa_actions(r);
    return http_fail(r, status, code, "%s", message);
}

/* One step of an IQA action's lifecycle on sample r->params[0] (the rule, in one place):
 *   answer    {response}      the learner's current assessor (or the one an admin handed it to):
 *                             open -> answered
 *   close     {comment?}      the IQA who raised it: answered -> closed
 *   send_back {comment}       the IQA who raised it: answered -> open, with what is still needed
 *   reassign  {assessor_id}   an admin: open or answered -> open, now for that assessor
 * Each is conditional on the state it starts from (safe with concurrent writers), recorded in
 * iqa_action_events and audited. Returns 200, or an error via http_fail. */
static int action_step(req_t *r, const char *kind)
{
    int64_t id = r->params[0], assignee = 0;
    char now[21];
    int status = 500;
    json_t *after = NULL;
    json_t *s = db_one(r->db,
                       "SELECT s.outcome, s.action_state, s.iqa_id, d.learner_id, " ACTION_RESPONDER " AS responder_id"
                       " FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id WHERE s.id = ?",
                       "i", id);
    if (!s)
        return respond_fail(r, 404, "not_found", "No such IQA sample.");
    const char *state = json_string_value(json_object_get(s, "action_state"));
    int64_t learner_id = json_integer_value(json_object_get(s, "learner_id"));
    int64_t iqa_id = json_integer_value(json_object_get(s, "iqa_id"));
    int64_t responder = json_integer_value(json_object_get(s, "responder_id"));
    int agree = !strcmp(json_string_value(json_object_get(s, "outcome")), "agree");
    const char *text = in_str(r, strcmp(kind, "answer") == 0 ? "response" : "comment");
    const char *field = strcmp(kind, "answer") == 0 ? "response" : "comment";
    const char *from = "open", *to = "answered";
    if (!text)
        text = "";
    if (!policy_can_read_learner(r->db, &r->user, learner_id)) {
        status = respond_fail(r, 404, "not_found", "No such IQA sample."); /* as if it did not exist */
        goto out;
    }
    if (agree || !state) {
        status = respond_fail(r, 409, "no_action", "The IQA agreed with this decision: there is nothing to act on.");
        goto out;
    }
    if (strlen(text) > DECISIONS_MAX_TEXT) {
        http_field_error(r, field, "Keep it under 20000 characters");
        status = respond_fail(r, 400, "too_long", "The text is too long.");
        goto out;
    }
    if (strcmp(kind, "answer") == 0) {
        if (responder != r->user.id) {
            status = respond_fail(r, 403, "forbidden",
                                  "Only the learner's current assessor (or the assessor an admin handed this action "
                                  "to) can answer it.");
            goto out;
        }
        if (!*text) {
            http_field_error(r, "response", "Say what you have done about the action");
            status = respond_fail(r, 400, "response_required", "Enter a response.");
            goto out;
        }
    } else if (strcmp(kind, "close") == 0 || strcmp(kind, "send_back") == 0) {
        if (iqa_id != r->user.id) {
            status = respond_fail(r, 403, "forbidden", "Only the IQA who raised this action can close it or send it back.");
            goto out;
        }
        from = "answered";
        to = strcmp(kind, "close") == 0 ? "closed" : "open";
        if (strcmp(kind, "send_back") == 0 && !*text) {
            http_field_error(r, "comment", "Say what the assessor still needs to do");
            status = respond_fail(r, 400, "comment_required", "Say what the assessor still needs to do.");
            goto out;
        }
    } else { /* reassign */
        if (in_int(r, "assessor_id", &assignee) != EV_OK ||
            !db_int(r->db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND role = 'assessor' AND disabled = 0)", 0,
                    "i", assignee)) {
            http_field_error(r, "assessor_id", "Choose an assessor");
            status = respond_fail(r, 400, "invalid_assessor", "assessor_id must name an active assessor.");
            goto out;
        }
        from = state;
        to = "open";
        if (strcmp(state, "closed") == 0) {
            status = respond_fail(r, 409, "action_closed", "This action is closed.");
            goto out;
        }
    }
    if (strcmp(state, from) != 0) {
        status = respond_fail(r, 409, strcmp(state, "closed") == 0 ? "action_closed" : "wrong_state",
                              strcmp(state, "closed") == 0 ? "This action is closed."
                              : strcmp(state, "answered") == 0
                                  ? "This action has already been answered; the IQA closes it or sends it back."
                                  : "This action has not been answered yet.");
        goto out;
    }
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The database is busy; try again.");
        goto out;
    }
    util_now_iso(now);
    int64_t changed;
    if (strcmp(kind, "answer") == 0)
        changed = db_int(r->db,
                         "UPDATE iqa_samples SET response = ?, responded_at = ?, action_state = ? WHERE id = ?"
                         " AND action_state = ? RETURNING id",
                         0, "tttit", text, now, to, id, from);
    else if (strcmp(kind, "close") == 0)
        changed = db_int(r->db,
                         "UPDATE iqa_samples SET action_state = ?, closed_at = ? WHERE id = ? AND action_state = ?"
                         " RETURNING id",
                         0, "ttit", to, now, id, from);
    else if (strcmp(kind, "send_back") == 0)
        changed = db_int(r->db,
                         "UPDATE iqa_samples SET action_state = ?, response = NULL, responded_at = NULL WHERE id = ?"
                         " AND action_state = ? RETURNING id",
                         0, "tit", to, id, from);
    else
        changed = db_int(r->db,
                         "UPDATE iqa_samples SET action_state = ?, assignee_id = ?, response = NULL, responded_at = NULL"
                         " WHERE id = ? AND action_state = ? RETURNING id",
                         0, "tiit", to, assignee, id, from);
    after = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "from", from, "to", to, "comment", text);
    if (assignee)
        json_object_set_new(after, "assignee_id", json_integer(assignee));
    char action[32];
    snprintf(action, sizeof action, "iqa.%s", strcmp(kind, "answer") == 0 ? "response" : kind);
    if (changed != id) {
        db_rollback(r->db);
        status = respond_fail(r, 409, "conflict", "The action changed meanwhile; reload and try again.");
        goto out;
    }
    if (db_run(r->db, "INSERT INTO iqa_action_events (sample_id, actor_id, kind, comment, at) VALUES (?, ?, ?, ?, ?)",
               "iittt", id, r->user.id, kind, text, now) != EV_OK ||
        audit_record(r->db, r->user.id, action, "iqa_sample", id, learner_id, NULL, after) != EV_OK ||
        (strcmp(kind, "answer") == 0 && notify_iqa_answered(r->db, id) != EV_OK) || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not save the action.");
        goto out;
    }
    json_t *row = db_one(r->db, ACTIONS_SELECT " WHERE s.id = ?", "i", id);
    if (row) {
        decorate_sample(row);
        json_object_set_new(row, "history", action_history(r->db, id));
    }
    http_set_out(r, row ? row : json_object());
    http_redirect(r, strcmp(kind, "answer") == 0 ? "/actions?done=responded" : "/actions");
    status = decisions_page_ok(r);
out:
    json_decref(s);
    json_decref(after);
    return status;
}

/* POST /api/v1/iqa/samples/{id}/response {response} (and the page form). */
static int iqa_respond(req_t *r)
{
    return action_step(r, "answer");
}

/* POST /api/v1/iqa/samples/{id}/close {comment?} (and the page form). */
static int iqa_close(req_t *r)
{
    return action_step(r, "close");
}

/* POST /api/v1/iqa/samples/{id}/send-back {comment} (and the page form). */
static int iqa_send_back(req_t *r)
{
    return action_step(r, "send_back");
}

/* POST /api/v1/iqa/samples/{id}/assign {assessor_id, comment?} (and the page form). */
static int iqa_assign(req_t *r)
{
    return action_step(r, "reassign");
}

/* GET /api/v1/iqa/samples?decision_id=N */
static int iqa_samples_index(req_t *r)
{
    int64_t decision_id;
    if (in_int(r, "decision_id", &decision_id) != EV_OK)
        return http_fail(r, 400, "invalid_request", "decision_id is required.");
    int64_t learner_id = db_int(r->db, "SELECT learner_id FROM decisions WHERE id = ?", 0, "i", decision_id);
    if (!learner_id)
        return http_fail(r, 404, "not_found", "No such decision.");
    if (!policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "No such decision."); /* as if it did not exist */
    json_t *items = iqa_samples_of(r->db, decision_id);
    if (!items)
        return http_fail(r, 500, "db_error", "Could not list samples.");
    json_object_set_new(http_out(r), "items", items);
    return decisions_page_ok(r);
}

const route_t iqa_routes[] = {
    {"GET", "/api/v1/iqa/decisions", iqa_index, ROLE_IQA | ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/iqa", iqa_index, ROLE_IQA | ROLE_ADMIN | ROLE_EQA, "iqa", 0},
    {"GET", "/api/v1/iqa/samples", iqa_samples_index, ROLE_ANY, NULL, 0},
    {"POST", "/api/v1/iqa/samples", iqa_sample_create, ROLE_IQA, NULL, 0},
    {"POST", "/iqa/samples", iqa_sample_create, ROLE_IQA, "decision_show", 0},
    {"GET", "/api/v1/iqa/actions", iqa_actions, ROLE_ASSESSOR | ROLE_IQA | ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/actions", iqa_actions, ROLE_ASSESSOR | ROLE_IQA | ROLE_ADMIN | ROLE_EQA, "actions", 0},
    {"POST", "/api/v1/iqa/samples/{id}/response", iqa_respond, ROLE_ASSESSOR, NULL, 0},
    {"POST", "/actions/{id}/response", iqa_respond, ROLE_ASSESSOR, "actions", 0},
    {"POST", "/api/v1/iqa/samples/{id}/close", iqa_close, ROLE_IQA, NULL, 0},
    {"POST", "/actions/{id}/close", iqa_close, ROLE_IQA, "actions", 0},
    {"POST", "/api/v1/iqa/samples/{id}/send-back", iqa_send_back, ROLE_IQA, NULL, 0},
    {"POST", "/actions/{id}/send-back", iqa_send_back, ROLE_IQA, "actions", 0},
    {"POST", "/api/v1/iqa/samples/{id}/assign", iqa_assign, ROLE_ADMIN, NULL, 0},
    {"POST", "/actions/{id}/assign", iqa_assign, ROLE_ADMIN, "actions", 0},
    {0},
};
