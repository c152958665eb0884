/* iqaplan.c: IQA sampling plans: risk ratings per assessor, CAMERA coverage, the due list, unit and portfolio samples */
#include "iqaplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "decisions.h"
#include "iqa.h"
#include "notify.h"
#include "policy.h"

/*
 * The plan, in one place:
 *   - each assessor has a risk rating (no rating: "new"), which sets the share of their
 *     decisions to sample (iqaplan_percent); target = ceil(decisions x share), due =
 *     target - decisions already sampled;
 *   - coverage is shown against it along CAMERA: candidates (learners sampled at least
 *     once), assessors (on or behind their share), methods (evidence types), evidence
 *     (files looked at, by SHA-256), records (unit sign-offs covered by a unit or
 *     portfolio sample) and sites (the enrolment's site), and by stage: interim (during
 *     the programme) and summative (a signed-off unit, a completed enrolment);
 *   - the due list picks, for each assessor behind their share, their unsampled current
 *     decisions: learners never sampled for that assessor first, then units never
 *     sampled for them, then the oldest.
 * The scope is the IQA's learners (enrolments naming them) or, for an admin, everyone.
 */

static const struct {
    const char *rating, *label;
    int percent;
} RATES[] = {
    {"new", "New assessor", 100},
    {"under_development", "Under development", 50},
    {"experienced", "Experienced", 20},
};
#define NRATES (sizeof RATES / sizeof RATES[0])

int iqaplan_percent(const char *rating)
{
    for (size_t i = 0; rating && i < NRATES; i++)
        if (!strcmp(rating, RATES[i].rating))
            return RATES[i].percent;
    return -1;
}

static const char *rating_label(const char *rating)
{
    for (size_t i = 0; rating && i < NRATES; i++)
        if (!strcmp(rating, RATES[i].rating))
            return RATES[i].label;
    return "";
}

int64_t iqaplan_target(int64_t decisions, int percent)
{
    if (decisions <= 0 || percent <= 0)
        return 0;
    if (percent > 100)
        percent = 100;
    return (decisions * percent + 99) / 100;
}

int64_t iqaplan_due(int64_t decisions, int64_t sampled, int percent)
{
    int64_t d = iqaplan_target(decisions, percent) - sampled;
    return d > 0 ? d : 0;
}

/* The scope, bound as (iqa, iqa): every learner for 0, else the IQA's. */
#define SCOPE_D " (? = 0 OR d.learner_id IN (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?))"
/* The same scope over decision_coverage (schema/006, kept by triggers): decisions and
 * decisions sampled at least once per learner, unit and assessor, a few rows a learner
 * instead of every decision (issue 22). */
#define SCOPE_DC " (? = 0 OR dc.learner_id IN (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?))"
#define SAMPLED(extra) "SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id" extra ") THEN 1 ELSE 0 END)"

static int64_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void add_percent(json_t *row, const char *total_key, const char *part_key)
{
    int64_t n = jint(row, total_key), s = jint(row, part_key);
    json_object_set_new(row, "percent_sampled", json_integer(n ? s * 100 / n : 0));
}

/* Every assessor in scope (with decisions or only enrolments), with the plan's numbers. */
static json_t *plan_assessors(db_t *db, int64_t iqa, json_t *totals)
{
    json_t *rows = db_all(db,
                          "SELECT g.assessor_id AS id, au.name, COALESCE(r.rating, 'new') AS rating,"
                          " COALESCE(r.note, '') AS risk_note, g.decisions, g.sampled"
                          " FROM (SELECT dc.assessor_id, SUM(dc.decisions) AS decisions, SUM(dc.sampled) AS sampled"
                          " FROM decision_coverage dc WHERE" SCOPE_DC " GROUP BY dc.assessor_id) g"
                          " JOIN users au ON au.id = g.assessor_id"
                          " LEFT JOIN iqa_assessor_risk r ON r.assessor_id = g.assessor_id ORDER BY au.name, g.assessor_id",
                          "ii", iqa, iqa);
    /* decisions with an interim or a summative sample, from the samples (fewer than the
     * decisions), per assessor and stage */
    json_t *staged = db_all(db,
                            "SELECT d.assessor_id, s.stage, COUNT(DISTINCT s.decision_id) AS n FROM iqa_samples s"
                            " JOIN decisions d ON d.id = s.decision_id WHERE s.stage IN ('interim', 'summative') AND"
                            SCOPE_D " GROUP BY d.assessor_id, s.stage",
                            "ii", iqa, iqa);
    if (rows && staged) {
        size_t i, j;
        json_t *a, *st;
        json_array_foreach(rows, i, a)
        {
            json_object_set_new(a, "interim", json_integer(0));
            json_object_set_new(a, "summative", json_integer(0));
            json_array_foreach(staged, j, st) if (jint(st, "assessor_id") == jint(a, "id"))
                json_object_set_new(a, json_string_value(json_object_get(st, "stage")), json_integer(jint(st, "n")));
        }
    } else {
        json_decref(rows);
        rows = NULL;
    }
    json_decref(staged);
    json_t *more = db_all(db,
                          "SELECT DISTINCT en.assessor_id AS id, au.name, COALESCE(r.rating, 'new') AS rating,"
                          " COALESCE(r.note, '') AS risk_note FROM enrolments en JOIN users au ON au.id = en.assessor_id"
                          " LEFT JOIN iqa_assessor_risk r ON r.assessor_id = en.assessor_id WHERE (? = 0 OR en.iqa_id = ?)"
                          " ORDER BY au.name",
                          "ii", iqa, iqa);
    if (!rows || !more) {
        json_decref(rows);
        json_decref(more);
        return NULL;
    }
    size_t i, j;
    json_t *m, *a;
    json_array_foreach(more, i, m)
    {
        int found = 0;
        json_array_foreach(rows, j, a) found |= jint(a, "id") == jint(m, "id");
        if (!found) {
            json_object_set_new(m, "decisions", json_integer(0));
            json_object_set_new(m, "sampled", json_integer(0));
            json_object_set_new(m, "interim", json_integer(0));
            json_object_set_new(m, "summative", json_integer(0));
            json_array_append(rows, m);
        }
    }
    json_decref(more);
    int64_t td = 0, ts = 0, tt = 0, tdue = 0, on_plan = 0;
    json_array_foreach(rows, i, a)
    {
        const char *rating = json_string_value(json_object_get(a, "rating"));
        int pct = iqaplan_percent(rating);
        int64_t n = jint(a, "decisions"), s = jint(a, "sampled");
        int64_t target = iqaplan_target(n, pct), due = iqaplan_due(n, s, pct);
        json_object_set_new(a, "rating_label", json_string(rating_label(rating)));
        json_object_set_new(a, "percent", json_integer(pct));
        json_object_set_new(a, "target", json_integer(target));
        json_object_set_new(a, "due", json_integer(due));
        json_object_set_new(a, "on_plan", json_boolean(due == 0));
        add_percent(a, "decisions", "sampled");
        json_t *opts = json_array();
        for (size_t k = 0; k < NRATES; k++)
            json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "value", RATES[k].rating, "label", RATES[k].label,
                                                  "selected", rating && !strcmp(rating, RATES[k].rating)));
        json_object_set_new(a, "rating_options", opts);
        td += n;
        ts += s;
        tt += target;
        tdue += due;
        on_plan += due == 0;
    }
    json_object_set_new(totals, "decisions", json_integer(td));
    json_object_set_new(totals, "sampled", json_integer(ts));
    json_object_set_new(totals, "target", json_integer(tt));
    json_object_set_new(totals, "due", json_integer(tdue));
    json_object_set_new(totals, "assessors", json_integer((json_int_t)json_array_size(rows)));
    json_object_set_new(totals, "assessors_on_plan", json_integer(on_plan));
    json_object_set_new(totals, "percent_sampled", json_integer(td ? ts * 100 / td : 0));
    return rows;
}

/* Decisions to sample next for one assessor, at most limit, with why each was picked. */
static json_t *due_for(db_t *db, int64_t iqa, int64_t assessor, int64_t limit)
{
    json_t *rows = db_all(
        db,
        "SELECT d.id AS decision_id, d.learner_id, lu.name AS learner_name, d.assessor_id, au.name AS assessor_name,"
        " c.ref AS criterion_ref, c.text AS criterion_text, un.id AS unit_id, un.ref AS unit_ref, un.title AS unit_title,"
        " d.outcome, d.created_at,"
        /* learner seen: a sampled decision of this learner by this assessor (decision_coverage,
         * by learner: a few rows); unit seen: of this unit by this assessor, any learner
         * (iqa_cover_au: one row), instead of walking samples for each decision (issue 22) */
        " CASE WHEN EXISTS (SELECT 1 FROM decision_coverage dc WHERE dc.learner_id = d.learner_id"
        "  AND dc.assessor_id = d.assessor_id AND dc.sampled > 0) THEN 1 ELSE 0 END AS learner_seen,"
        " CASE WHEN EXISTS (SELECT 1 FROM iqa_cover_au ca WHERE ca.assessor_id = d.assessor_id"
        "  AND ca.unit_id = c.unit_id AND ca.sampled > 0) THEN 1 ELSE 0 END AS unit_seen"
        " FROM decisions d JOIN criteria c ON c.id = d.criterion_id JOIN units un ON un.id = c.unit_id"
        " JOIN users lu ON lu.id = d.learner_id JOIN users au ON au.id = d.assessor_id"
        " WHERE d.assessor_id = ? AND" SCOPE_D
        " AND NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id)"
        " AND NOT EXISTS (SELECT 1 FROM decisions s2 WHERE s2.supersedes_id = d.id)"
        " ORDER BY learner_seen, unit_seen, d.created_at, d.id LIMIT ?",
        "iiii", assessor, iqa, iqa, limit);
    size_t i;
    json_t *d;
    json_array_foreach(rows, i, d)
    {
        const char *why = !jint(d, "learner_seen") ? "No decision of this learner by this assessor sampled yet"
                          : !jint(d, "unit_seen")  ? "No decision in this unit by this assessor sampled yet"
                                                   : "Towards the assessor's share";
        json_object_set_new(d, "reason", json_string(why));
        const char *o = json_string_value(json_object_get(d, "outcome"));
        json_object_set_new(d, "outcome_label", json_string(o && !strcmp(o, "met") ? "Met" : "Not yet met"));
    }
    return rows;
}

/* CAMERA coverage beyond the assessors. */
static json_t *camera(db_t *db, int64_t iqa)
{
    json_t *c = json_object();
    /* candidates: learners in scope, and those with a sampled decision */
    int64_t learners = db_int(db, "SELECT COUNT(DISTINCT en.learner_id) FROM enrolments en WHERE (? = 0 OR en.iqa_id = ?)",
                              0, "ii", iqa, iqa);
    int64_t seen = db_int(db, "SELECT COUNT(DISTINCT dc.learner_id) FROM decision_coverage dc WHERE" SCOPE_DC
                              " AND dc.sampled > 0", 0, "ii", iqa, iqa);
    json_t *cand = json_pack("{s:I, s:I}", "learners", (json_int_t)learners, "sampled", (json_int_t)seen);
    add_percent(cand, "learners", "sampled");
    json_object_set_new(cand, "unsampled",
                        db_all(db, "SELECT DISTINCT u.id, u.name FROM enrolments en JOIN users u ON u.id = en.learner_id"
                                   " WHERE (? = 0 OR en.iqa_id = ?) AND NOT EXISTS (SELECT 1 FROM decisions d"
                                   " JOIN iqa_samples s ON s.decision_id = d.id WHERE d.learner_id = u.id)"
                                   " ORDER BY u.name LIMIT 50", "ii", iqa, iqa));
    json_object_set_new(c, "candidates", cand);
    /* methods: evidence types behind the decisions */
    json_t *methods = db_all(db, "SELECT ev.kind AS id, COUNT(DISTINCT d.id) AS decisions, COUNT(DISTINCT CASE WHEN"
                                 " EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN d.id END) AS sampled"
                                 " FROM decisions d JOIN decision_evidence de ON de.decision_id = d.id"
                                 " JOIN evidence ev ON ev.id = de.evidence_id WHERE" SCOPE_D
                                 " GROUP BY ev.kind ORDER BY ev.kind", "ii", iqa, iqa);
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m)
    {
        json_object_set_new(m, "name", json_string(decisions_kind_label(json_string_value(json_object_get(m, "id")))));
        add_percent(m, "decisions", "sampled");
        json_object_set_new(m, "unsampled", json_boolean(jint(m, "sampled") == 0));
    }
    json_object_set_new(c, "methods", methods ? methods : json_array());
    /* evidence: the files samples looked at, by content */
    json_object_set_new(c, "evidence",
                        json_pack("{s:I, s:I}", "files_checked",
                                  (json_int_t)db_int(db, "SELECT COUNT(DISTINCT f.sha256) FROM iqa_sample_files f"
                                                         " JOIN iqa_samples s ON s.id = f.sample_id WHERE (? = 0 OR s.iqa_id = ?)",
                                                     0, "ii", iqa, iqa),
                                  "items_checked",
                                  (json_int_t)db_int(db, "SELECT COUNT(DISTINCT f.evidence_id) FROM iqa_sample_files f"
                                                         " JOIN iqa_samples s ON s.id = f.sample_id WHERE (? = 0 OR s.iqa_id = ?)",
                                                     0, "ii", iqa, iqa)));
    /* records: unit sign-offs, and those a unit or portfolio sample covered */
    json_t *rec = json_pack(
        "{s:I, s:I, s:I, s:I}", "signoffs",
        (json_int_t)db_int(db, "SELECT COUNT(*) FROM unit_signoffs so WHERE (? = 0 OR so.learner_id IN"
                               " (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?))", 0, "ii", iqa, iqa),
        "signoffs_sampled",
        (json_int_t)db_int(db, "SELECT COUNT(*) FROM unit_signoffs so WHERE (? = 0 OR so.learner_id IN"
                               " (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?)) AND EXISTS (SELECT 1"
                               " FROM iqa_sample_groups g WHERE g.learner_id = so.learner_id AND (g.scope = 'portfolio'"
                               " OR g.unit_id = so.unit_id))", 0, "ii", iqa, iqa),
        "unit_samples",
        (json_int_t)db_int(db, "SELECT COUNT(*) FROM iqa_sample_groups g WHERE g.scope = 'unit' AND (? = 0 OR g.iqa_id = ?)",
                           0, "ii", iqa, iqa),
        "portfolio_samples",
        (json_int_t)db_int(db, "SELECT COUNT(*) FROM iqa_sample_groups g WHERE g.scope = 'portfolio' AND (? = 0 OR g.iqa_id = ?)",
                           0, "ii", iqa, iqa));
    add_percent(rec, "signoffs", "signoffs_sampled");
    json_object_set_new(c, "records", rec);
    /* sites: the enrolments' sites */
    json_t *sites = db_all(db, "SELECT en.site, COUNT(DISTINCT en.learner_id) AS learners,"
                               " COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM decisions d JOIN iqa_samples s"
                               " ON s.decision_id = d.id WHERE d.learner_id = en.learner_id) THEN en.learner_id END) AS sampled"
                               " FROM enrolments en WHERE (? = 0 OR en.iqa_id = ?) GROUP BY en.site ORDER BY en.site",
                           "ii", iqa, iqa);
    json_array_foreach(sites, i, m)
    {
        const char *s = json_string_value(json_object_get(m, "site"));
        json_object_set_new(m, "name", json_string(s && *s ? s : "Main site"));
        add_percent(m, "learners", "sampled");
        json_object_set_new(m, "unsampled", json_boolean(jint(m, "sampled") == 0));
    }
    json_object_set_new(c, "sites", sites ? sites : json_array());
    return c;
}

json_t *iqaplan_build(db_t *db, int64_t iqa, int64_t due_limit)
{
    json_t *plan = json_object(), *totals = json_object();
    json_t *assessors = plan_assessors(db, iqa, totals);
    if (!assessors) {
        json_decref(plan);
        json_decref(totals);
        return NULL;
    }
    json_t *rates = json_array();
    for (size_t k = 0; k < NRATES; k++)
        json_array_append_new(rates, json_pack("{s:s, s:s, s:i, s:b}", "rating", RATES[k].rating, "label",
                                               RATES[k].label, "percent", RATES[k].percent, "last", k + 1 == NRATES));
    json_object_set_new(plan, "rates", rates);
    /* the due list: each assessor behind their share, most behind first */
    json_t *due = json_array();
    size_t n = json_array_size(assessors);
    int64_t left = due_limit;
    while (left > 0) {
        json_t *worst = NULL, *a;
        size_t i;
        int64_t worst_due = 0;
        json_array_foreach(assessors, i, a)
        {
            int64_t d = jint(a, "due") - jint(a, "listed");
            if (d > worst_due) {
                worst_due = d;
                worst = a;
            }
        }
        if (!worst)
            break;
        int64_t take = worst_due < left ? worst_due : left;
        json_t *rows = due_for(db, iqa, jint(worst, "id"), take);
        json_object_set_new(worst, "listed", json_integer(jint(worst, "due"))); /* done with this assessor */
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            json_array_append(due, row);
            left--;
        }
        json_decref(rows);
    }
    size_t i;
    json_t *a;
    json_array_foreach(assessors, i, a) json_object_del(a, "listed");
    (void)n;
    json_object_set_new(plan, "assessors", assessors);
    json_object_set_new(plan, "totals", totals);
    json_object_set_new(plan, "due", due);
    json_object_set_new(plan, "due_count", json_integer((json_int_t)json_array_size(due)));
    json_object_set_new(plan, "camera", camera(db, iqa));
    json_t *units = db_all(db, "SELECT g.unit_id AS id, un.ref, un.title, q.title AS qualification_title, g.decisions,"
                               " g.sampled FROM (SELECT dc.unit_id, SUM(dc.decisions) AS decisions, SUM(dc.sampled) AS sampled"
                               " FROM decision_coverage dc WHERE" SCOPE_DC
                               " GROUP BY dc.unit_id) g JOIN units un ON un.id = g.unit_id"
                               " JOIN qualifications q ON q.id = un.qualification_id ORDER BY q.title, un.position, un.ref",
                           "ii", iqa, iqa);
    json_array_foreach(units, i, a)
    {
        add_percent(a, "decisions", "sampled");
        json_object_set_new(a, "unsampled", json_boolean(jint(a, "sampled") == 0));
    }
    json_object_set_new(plan, "units", units ? units : json_array());
    json_object_set_new(
        plan, "stages",
        json_pack("{s:I, s:I, s:I}", "interim",
                  (json_int_t)db_int(db, "SELECT COUNT(*) FROM iqa_samples s WHERE s.stage = 'interim' AND (? = 0 OR s.iqa_id = ?)",
                                     0, "ii", iqa, iqa),
                  "summative",
                  (json_int_t)db_int(db, "SELECT COUNT(*) FROM iqa_samples s WHERE s.stage = 'summative' AND (? = 0 OR s.iqa_id = ?)",
                                     0, "ii", iqa, iqa),
                  "unstaged",
                  (json_int_t)db_int(db, "SELECT COUNT(*) FROM iqa_samples s WHERE s.stage IS NULL AND (? = 0 OR s.iqa_id = ?)",
                                     0, "ii", iqa, iqa)));
    return plan;
}

int iqaplan_record_files(db_t *db, int64_t sample_id, int64_t decision_id)
{
    if (db_int(db, "SELECT COUNT(*) FROM decision_basis_files WHERE decision_id = ?", 0, "i", decision_id) > 0)
        return db_run(db, "INSERT INTO iqa_sample_files (sample_id, evidence_id, file_id, name, sha256)"
                          " SELECT ?, evidence_id, file_id, name, sha256 FROM decision_basis_files WHERE decision_id = ?"
                          " ORDER BY id", "ii", sample_id, decision_id);
    return db_run(db, "INSERT INTO iqa_sample_files (sample_id, evidence_id, file_id, name, sha256)"
                      " SELECT ?, f.evidence_id, f.id, f.name, f.sha256 FROM decision_evidence de"
                      " JOIN evidence_files f ON f.evidence_id = de.evidence_id WHERE de.decision_id = ? ORDER BY f.id",
                  "ii", sample_id, decision_id);
}

const char *iqaplan_default_stage(db_t *db, int64_t decision_id)
{
    return db_int(db, "SELECT 1 FROM decisions d JOIN criteria c ON c.id = d.criterion_id"
                      " JOIN units un ON un.id = c.unit_id WHERE d.id = ? AND (EXISTS (SELECT 1 FROM unit_signoffs so"
                      " WHERE so.learner_id = d.learner_id AND so.unit_id = c.unit_id) OR EXISTS (SELECT 1 FROM enrolments en"
                      " WHERE en.learner_id = d.learner_id AND en.qualification_id = un.qualification_id"
                      " AND en.status = 'completed'))", 0, "i", decision_id) == 1
               ? "summative"
               : "interim";
}

/* ---- handlers ---- */

/* 1 when field key of the request names id (one value or several). */
static int sent_id(req_t *r, const char *key, int64_t id)
{
    json_t *sent = in_array(r, key), *v;
    size_t i;
    int found = 0;
    json_array_foreach(sent, i, v)
    {
        int64_t x = 0;
        if (json_is_integer(v))
            x = json_integer_value(v);
        else if (!json_is_string(v) || util_parse_i64(json_string_value(v), &x) != EV_OK)
            x = 0;
        found |= x > 0 && x == id;
    }
    json_decref(sent);
    return found;
}

/* The page's forms as the request left them, so a refused form keeps every choice: the
 * unit or portfolio sample's learner, unit, stage, outcome and feedback, and the risk
 * rating chosen for an assessor (with its error beside it). */
static void keep_choices(req_t *r, json_t *plan)
{
    const char *stage = in_str(r, "stage"), *outcome = in_str(r, "outcome"), *feedback = in_str(r, "feedback");
    int is_post = !strcmp(r->method, "POST");
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(plan, "learner_options"), i, o)
        json_object_set_new(o, "chosen", json_boolean(is_post && sent_id(r, "learner_id", jint(o, "value"))));
    json_array_foreach(json_object_get(plan, "unit_options"), i, o)
        json_object_set_new(o, "chosen", json_boolean(is_post && sent_id(r, "unit_id", jint(o, "value"))));
    json_t *form = json_object();
    int interim = is_post && stage && !strcmp(stage, "interim"), summative = is_post && stage && !strcmp(stage, "summative");
    json_object_set_new(form, "stage_interim", json_boolean(interim));
    json_object_set_new(form, "stage_summative", json_boolean(summative));
    json_object_set_new(form, "stage_auto", json_boolean(!interim && !summative));
    json_object_set_new(form, "outcome_agree", json_boolean(is_post && outcome && !strcmp(outcome, "agree")));
    json_object_set_new(form, "outcome_action", json_boolean(is_post && outcome && !strcmp(outcome, "action_required")));
    json_object_set_new(form, "feedback", json_string(is_post && feedback && r->nparams == 0 ? feedback : ""));
    json_object_set_new(plan, "form", form);
    if (!is_post || r->nparams < 1)
        return;
    const char *rating = in_str(r, "rating");
    json_t *a, *errs = json_object_get(r->out, "field_errors");
    json_array_foreach(json_object_get(plan, "assessors"), i, a)
    {
        if (jint(a, "id") != r->params[0])
            continue;
        size_t k;
        json_array_foreach(json_object_get(a, "rating_options"), k, o)
        {
            const char *v = json_string_value(json_object_get(o, "value"));
            json_object_set_new(o, "selected", json_boolean(rating && v && !strcmp(v, rating)));
        }
        json_t *msg = json_object_get(errs, "rating") ? json_object_get(errs, "rating") : json_object_get(errs, "note");
        if (msg)
            json_object_set(a, "rating_error", msg);
    }
    /* the summary's link goes to that assessor's own control */
    json_t *e;
    json_array_foreach(json_object_get(r->out, "errors"), i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (f && (!strcmp(f, "rating") || !strcmp(f, "note")))
            json_object_set_new(e, "href", json_sprintf("#rating-%lld", (long long)r->params[0]));
    }
}

/* GET /iqa/plan, /api/v1/iqa/plan (IQA: their learners; admin: the centre). */
static int iqaplan_show(req_t *r)
{
    int64_t iqa = r->user.role == ROLE_IQA ? r->user.id : 0;
    json_t *plan = iqaplan_build(r->db, iqa, 100);
    if (!plan)
        return http_fail(r, 500, "db_error", "Could not work out the plan.");
    json_object_set_new(plan, "can_sample", json_boolean(r->user.role == ROLE_IQA));
    if (r->user.role == ROLE_IQA) { /* the unit and portfolio sample form */
        json_object_set_new(plan, "learner_options",
                            db_all(r->db, "SELECT DISTINCT u.id AS value, u.name AS label FROM enrolments en"
                                          " JOIN users u ON u.id = en.learner_id WHERE en.iqa_id = ?"
                                          " AND en.status IN ('active', 'completed') ORDER BY u.name LIMIT 500",
                                   "i", r->user.id));
        json_object_set_new(plan, "unit_options",
                            db_all(r->db, "SELECT un.id AS value, un.ref || ' ' || un.title || ' (' || q.code || ')' AS label"
                                          " FROM units un JOIN qualifications q ON q.id = un.qualification_id"
                                          " WHERE un.qualification_id IN (SELECT en.qualification_id FROM enrolments en"
                                          " WHERE en.iqa_id = ?) ORDER BY q.id, un.position, un.ref LIMIT 500",
                                   "i", r->user.id));
    }
    if (!r->is_api)
        keep_choices(r, plan);
    json_object_update(http_out(r), plan);
    json_decref(plan);
    return decisions_page_ok(r);
}

static int plan_fail(req_t *r, int status, const char *field, const char *message)
{
    if (field)
        http_field_error(r, field, message);
    if (!r->is_api && status < 500)
        iqaplan_show(r);
    return http_fail(r, status, status == 404 ? "not_found" : status == 409 ? "nothing_to_sample" : "invalid_input",
                     "%s.", message);
}

/* POST /api/v1/iqa/assessors/{id}/risk, /iqa/assessors/{id}/risk (IQA, admin):
 * {rating: new|under_development|experienced, note?} -> 200. An IQA rates only the
 * assessors of learners they quality-assure. Audited. */
static int iqaplan_set_risk(req_t *r)
{
    int64_t assessor = r->params[0];
    char now[21];
    const char *rating = in_str(r, "rating"), *note = in_str(r, "note");
    if (!db_int(r->db, "SELECT 1 FROM users WHERE id = ? AND role = 'assessor'", 0, "i", assessor) ||
        (r->user.role == ROLE_IQA &&
         !db_int(r->db, "SELECT 1 FROM enrolments WHERE assessor_id = ? AND iqa_id = ? LIMIT 1", 0, "ii", assessor,
                 r->user.id)))
        return plan_fail(r, 404, NULL, "No such assessor among your learners' assessors");
    if (iqaplan_percent(rating) < 0)
        return plan_fail(r, 400, "rating", "Choose new, under development or experienced");
    if (note && strlen(note) > 2000)
        return plan_fail(r, 400, "note", "Keep the note under 2000 characters");
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    char *before = db_text(r->db, "SELECT rating FROM iqa_assessor_risk WHERE assessor_id = ?", "i", assessor);
    int ok = db_run(r->db, "INSERT INTO iqa_assessor_risk (assessor_id, rating, note, set_by, set_at) VALUES (?, ?, ?, ?, ?)"
                           " ON CONFLICT (assessor_id) DO UPDATE SET rating = excluded.rating, note = excluded.note,"
                           " set_by = excluded.set_by, set_at = excluded.set_at",
                    "ittit", assessor, rating, note ? note : "", r->user.id, now) == EV_OK;
    json_t *b = json_pack("{s:s?}", "rating", before), *a = json_pack("{s:s, s:s}", "rating", rating, "note", note ? note : "");
    free(before);
    ok = ok && audit_record(r->db, r->user.id, "iqa.risk", "user", assessor, 0, b, a) == EV_OK;
    json_decref(b);
    json_decref(a);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not save the rating.");
    }
    http_set_out(r, json_pack("{s:I, s:s, s:s, s:i}", "assessor_id", (json_int_t)assessor, "rating", rating,
                              "rating_label", rating_label(rating), "percent", iqaplan_percent(rating)));
    http_redirect(r, "/iqa/plan?done=risk_saved");
    return 200;
}

/* POST /api/v1/iqa/sample-groups, /iqa/sample-groups (the learner's IQA):
 *   {learner_id, unit_id? (a unit; none: the whole portfolio), stage?: interim|summative,
 *    outcome: agree|action_required, feedback}
 * -> 201 {id, scope, samples: [sample ids], decisions, files}. One sample per current
 * decision covered (so coverage, actions and audit stay per decision), each recording
 * the files it looked at; 409 when there is no decision to sample. */
static int iqaplan_sample_group(req_t *r)
{
    int64_t learner = 0, unit = 0, gid = 0;
    char now[21];
    json_t *decisions = NULL, *ids = NULL, *after = NULL;
    int status;
    const char *stage = in_str(r, "stage"), *outcome = in_str(r, "outcome"), *feedback = in_str(r, "feedback");
    if (!feedback)
        feedback = "";
    const char *chosen = in_str(r, "learner_id");
    if (!json_object_get(r->in, "learner_id") || json_is_null(json_object_get(r->in, "learner_id")) ||
        (chosen && !*chosen))
        return plan_fail(r, 400, "learner_id", "Choose a learner"); /* nothing chosen: the form again */
    if (in_int(r, "learner_id", &learner) != EV_OK || !policy_can_read_learner(r->db, &r->user, learner))
        return plan_fail(r, 404, "learner_id", "Choose one of your learners");
    if (!policy_can_sample_learner(r->db, &r->user, learner))
        return plan_fail(r, 404, "learner_id", "Choose one of your learners");
    json_t *uv = json_object_get(r->in, "unit_id");
    if (uv && !(json_is_string(uv) && !*json_string_value(uv)) && !json_is_null(uv)) {
        if (in_int(r, "unit_id", &unit) != EV_OK ||
            !db_int(r->db, "SELECT 1 FROM units un JOIN enrolments en ON en.qualification_id = un.qualification_id"
                           " WHERE un.id = ? AND en.learner_id = ?", 0, "ii", unit, learner))
            return plan_fail(r, 400, "unit_id", "Choose a unit of the learner's qualifications");
    }
    if (stage && *stage && strcmp(stage, "interim") && strcmp(stage, "summative"))
        return plan_fail(r, 400, "stage", "Choose interim or summative");
    if (!outcome || (strcmp(outcome, "agree") && strcmp(outcome, "action_required")))
        return plan_fail(r, 400, "outcome", "Choose agree or action required");
    if (strlen(feedback) > DECISIONS_MAX_TEXT)
        return plan_fail(r, 400, "feedback", "Keep the feedback under 20000 characters");
    if (!strcmp(outcome, "action_required") && !*feedback)
        return plan_fail(r, 400, "feedback", "Say what the assessor needs to do");
    if (!stage || !*stage) /* summative when the unit is signed off / every unit for a portfolio */
        stage = unit ? (db_int(r->db, "SELECT 1 FROM unit_signoffs WHERE learner_id = ? AND unit_id = ?", 0, "ii", learner,
                               unit) ? "summative" : "interim")
                     : (db_int(r->db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND status = 'completed' LIMIT 1", 0,
                               "i", learner) ? "summative" : "interim");
    if (db_begin(r->db) != EV_OK)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    decisions = db_all(r->db, "SELECT d.id FROM decisions d JOIN criteria c ON c.id = d.criterion_id"
                              " WHERE d.learner_id = ? AND (? = 0 OR c.unit_id = ?)"
                              " AND NOT EXISTS (SELECT 1 FROM decisions s2 WHERE s2.supersedes_id = d.id) ORDER BY d.id",
                       "iii", learner, unit, unit);
    if (!decisions) {
        db_rollback(r->db);
        return http_fail(r, 500, "db_error", "Could not read the decisions.");
    }
    if (!json_array_size(decisions)) {
        db_rollback(r->db);
        status = plan_fail(r, 409, unit ? "unit_id" : "learner_id",
                           unit ? "There is no decision in this unit to sample yet" : "This learner has no decision to sample yet");
        goto out;
    }
    util_now_iso(now);
    gid = db_int(r->db, "INSERT INTO iqa_sample_groups (iqa_id, scope, learner_id, unit_id, stage, outcome, feedback,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                 0, "itiztttt", r->user.id, unit ? "unit" : "portfolio", learner, unit, stage, outcome, feedback, now);
    int ok = gid > 0;
    ids = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(decisions, i, d)
    {
        if (!ok)
            break;
        int64_t did = jint(d, "id");
        int64_t sid = db_int(r->db, "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at,"
                                    " action_state, stage, group_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                             0, "iittttti", did, r->user.id, outcome, feedback, now,
                             strcmp(outcome, "action_required") == 0 ? "open" : NULL, stage, gid);
        json_t *a = json_pack("{s:I, s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)sid, "decision_id", (json_int_t)did,
                              "outcome", outcome, "feedback", feedback, "group_id", (json_int_t)gid, "stage", stage);
        ok = sid > 0 && iqaplan_record_files(r->db, sid, did) == EV_OK &&
             iqa_coverage_sample_added(r->db, did) == EV_OK &&
             audit_record(r->db, r->user.id, "iqa.sample", "iqa_sample", sid, learner, NULL, a) == EV_OK;
        json_decref(a);
        json_array_append_new(ids, json_integer(sid));
    }
    after = json_pack("{s:s, s:I, s:I, s:s, s:s, s:O}", "scope", unit ? "unit" : "portfolio", "learner_id",
                      (json_int_t)learner, "unit_id", (json_int_t)unit, "stage", stage, "outcome", outcome, "samples", ids);
    ok = ok && audit_record(r->db, r->user.id, "iqa.sample_group", "iqa_sample_group", gid, learner, NULL, after) == EV_OK &&
         notify_iqa_sampled(r->db, json_integer_value(json_array_get(ids, 0))) == EV_OK;
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "db_error", "Could not record the sample.");
        goto out;
    }
    int64_t files = db_int(r->db, "SELECT COUNT(*) FROM iqa_sample_files f JOIN iqa_samples s ON s.id = f.sample_id"
                                  " WHERE s.group_id = ?", 0, "i", gid);
    http_set_out(r, json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:O, s:I, s:I}", "id", (json_int_t)gid, "scope",
                              unit ? "unit" : "portfolio", "learner_id", (json_int_t)learner, "unit_id", (json_int_t)unit,
                              "stage", stage, "outcome", outcome, "samples", ids, "decisions",
                              (json_int_t)json_array_size(ids), "files", (json_int_t)files));
    http_redirect(r, "/iqa/plan?done=group_sampled");
    status = 201;
out:
    json_decref(decisions);
    json_decref(ids);
    json_decref(after);
    return status;
}

const route_t iqaplan_routes[] = {
    {"GET", "/api/v1/iqa/plan", iqaplan_show, ROLE_IQA | ROLE_ADMIN, NULL, 0},
    {"GET", "/iqa/plan", iqaplan_show, ROLE_IQA | ROLE_ADMIN, "iqa_plan", 0},
    {"POST", "/api/v1/iqa/assessors/{id}/risk", iqaplan_set_risk, ROLE_IQA | ROLE_ADMIN, NULL, 0},
    {"POST", "/iqa/assessors/{id}/risk", iqaplan_set_risk, ROLE_IQA | ROLE_ADMIN, "iqa_plan", 0},
    {"POST", "/api/v1/iqa/sample-groups", iqaplan_sample_group, ROLE_IQA, NULL, 0},
    {"POST", "/iqa/sample-groups", iqaplan_sample_group, ROLE_IQA, "iqa_plan", 0},
    {0},
};
