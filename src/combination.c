/* combination.c: a qualification's structure (QAN, unit reference numbers, credits, GLH, TQT, unit
 * groups, rules of combination), the optional units each learner chooses, and progress by those rules */
#include "combination.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "centre.h"
#include "policy.h"
#include "progress.h"
#include "specimport.h"
#include "util.h"

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int64_t jint(json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

/* ==== import ==== */

/* One text column set from the document when given and different. The SQL
 * comes from the callers' literals (one per column). */
static int sync_text(db_t *db, const char *get_sql, const char *set_sql, int64_t id, json_t *doc, const char *key,
                     int *changes)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v))
        return EV_OK;
    char *cur = db_text(db, get_sql, "i", id);
    int same = cur && !strcmp(cur, json_string_value(v));
    free(cur);
    if (same)
        return EV_OK;
    (*changes)++;
    return db_run(db, set_sql, "ti", json_string_value(v), id);
}

/* One integer column (NULL when absent from the row) set when given and different. */
static int sync_int(db_t *db, const char *get_sql, const char *set_sql, int64_t id, json_t *doc, const char *key,
                    int *changes)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_integer(v))
        return EV_OK;
    json_t *row = db_one(db, get_sql, "i", id);
    json_t *cur = json_object_get(row, "v");
    int same = json_is_integer(cur) && json_integer_value(cur) == json_integer_value(v);
    json_decref(row);
    if (same)
        return EV_OK;
    (*changes)++;
    return db_run(db, set_sql, "ii", (int64_t)json_integer_value(v), id);
}

/* The stored groups of a qualification in canonical form. */
static json_t *stored_groups(db_t *db, int64_t qid)
{
    json_t *groups = db_all(db, "SELECT id, name, mandatory, min_credits, min_units FROM unit_groups "
                                "WHERE qualification_id = ? ORDER BY position", "i", qid);
    json_t *out = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        json_t *refs = db_all(db, "SELECT unit_ref FROM unit_group_members WHERE group_id = ? ORDER BY position",
                              "i", jint(g, "id"));
        json_t *units = json_array();
        size_t k;
        json_t *r;
        json_array_foreach(refs, k, r) json_array_append_new(units, json_string(jstr(r, "unit_ref")));
        json_decref(refs);
        json_t *o = json_pack("{s:s, s:b, s:o}", "name", jstr(g, "name"), "mandatory", jint(g, "mandatory") == 1,
                              "units", units);
        if (json_is_integer(json_object_get(g, "min_credits")))
            json_object_set(o, "min_credits", json_object_get(g, "min_credits"));
        if (json_is_integer(json_object_get(g, "min_units")))
            json_object_set(o, "min_units", json_object_get(g, "min_units"));
        json_array_append_new(out, o);
    }
    json_decref(groups);
    return out;
}

/* The stored rules of a qualification in canonical form. */
static json_t *stored_rules(db_t *db, int64_t qid)
{
    json_t *out = json_object();
    json_t *row = db_one(db, "SELECT min_credits FROM qualifications WHERE id = ?", "i", qid);
    if (json_is_integer(json_object_get(row, "min_credits")))
        json_object_set(out, "min_credits", json_object_get(row, "min_credits"));
    json_decref(row);
    json_t *lv = db_all(db, "SELECT level, min_credits FROM qualification_level_rules WHERE qualification_id = ? "
                            "ORDER BY level", "i", qid);
    if (json_array_size(lv))
        json_object_set(out, "at_or_above_level", lv);
    json_decref(lv);
    return out;
}

/* Canonical rules with the level rules in level order (as stored). */
static json_t *sorted_rules(json_t *rules)
{
    json_t *out = json_deep_copy(rules);
    json_t *al = json_object_get(out, "at_or_above_level");
    size_t n = json_array_size(al);
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of items */
        for (size_t k = i; k > 0 && jint(json_array_get(al, k - 1), "level") > jint(json_array_get(al, k), "level"); k--) {
            json_t *a = json_incref(json_array_get(al, k - 1));
            json_array_set(al, k - 1, json_array_get(al, k));
            json_array_set_new(al, k, a);
        }
    if (al && !n)
        json_object_del(out, "at_or_above_level");
    return out;
}

static int replace_groups(db_t *db, int64_t qid, json_t *groups)
{
    if (db_run(db, "DELETE FROM unit_group_members WHERE group_id IN (SELECT id FROM unit_groups "
                   "WHERE qualification_id = ?)", "i", qid) != EV_OK ||
        db_run(db, "DELETE FROM unit_groups WHERE qualification_id = ?", "i", qid) != EV_OK)
        return EV_ERR;
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        json_t *mc = json_object_get(g, "min_credits"), *mu = json_object_get(g, "min_units");
        int64_t gid = db_int(db, "INSERT INTO unit_groups (qualification_id, position, name, mandatory, min_credits, "
                                 "min_units) VALUES (?, ?, ?, ?, ?, ?) RETURNING id", 0,
                             mc && mu ? "iitiii" : mc ? "iitiin" : mu ? "iitini" : "iitinn", qid, (int64_t)i + 1,
                             jstr(g, "name"), (int64_t)json_is_true(json_object_get(g, "mandatory")),
                             mc ? (int64_t)json_integer_value(mc) : (int64_t)json_integer_value(mu),
                             (int64_t)json_integer_value(mu));
        if (!gid)
            return EV_ERR;
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(g, "units"), k, r) {
            if (db_run(db, "INSERT INTO unit_group_members (group_id, position, unit_ref) VALUES (?, ?, ?)", "iit",
                       gid, (int64_t)k + 1, json_string_value(r)) != EV_OK)
                return EV_ERR;
        }
    }
    return EV_OK;
}

static int replace_rules(db_t *db, int64_t qid, json_t *rules)
{
    json_t *mc = json_object_get(rules, "min_credits");
    int rc = mc ? db_run(db, "UPDATE qualifications SET min_credits = ? WHERE id = ?", "ii",
                         (int64_t)json_integer_value(mc), qid)
                : db_run(db, "UPDATE qualifications SET min_credits = NULL WHERE id = ?", "i", qid);
    if (rc != EV_OK || db_run(db, "DELETE FROM qualification_level_rules WHERE qualification_id = ?", "i", qid) != EV_OK)
        return EV_ERR;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(rules, "at_or_above_level"), i, l) {
        if (db_run(db, "INSERT INTO qualification_level_rules (qualification_id, level, min_credits) VALUES (?, ?, ?)",
                   "iii", qid, jint(l, "level"), jint(l, "min_credits")) != EV_OK)
            return EV_ERR;
    }
    return EV_OK;
}

int combination_sync_qualification(db_t *db, int64_t qid, json_t *q, int *changes)
{
    if (sync_text(db, "SELECT qan FROM qualifications WHERE id = ?", "UPDATE qualifications SET qan = ? WHERE id = ?",
                  qid, q, "qan", changes) != EV_OK ||
        sync_int(db, "SELECT glh AS v FROM qualifications WHERE id = ?", "UPDATE qualifications SET glh = ? WHERE id = ?",
                 qid, q, "glh", changes) != EV_OK ||
        sync_int(db, "SELECT tqt AS v FROM qualifications WHERE id = ?", "UPDATE qualifications SET tqt = ? WHERE id = ?",
                 qid, q, "tqt", changes) != EV_OK ||
        sync_int(db, "SELECT credit_value AS v FROM qualifications WHERE id = ?",
                 "UPDATE qualifications SET credit_value = ? WHERE id = ?", qid, q, "credit_value", changes) != EV_OK)
        return EV_ERR;
    int rc = EV_OK;
    json_t *groups = json_object_get(q, "groups");
    if (groups) {
        json_t *cur = stored_groups(db, qid);
        if (!json_equal(cur, groups)) {
            (*changes)++;
            rc = replace_groups(db, qid, groups);
        }
        json_decref(cur);
    }
    json_t *rules = json_object_get(q, "rules");
    if (rc == EV_OK && rules) {
        json_t *cur = stored_rules(db, qid), *want = sorted_rules(rules);
        if (!json_equal(cur, want)) {
            (*changes)++;
            rc = replace_rules(db, qid, want);
        }
        json_decref(cur);
        json_decref(want);
    }
    if (rc == EV_OK && *changes)
        rc = centre_mark_stale(db, 0, qid);
    return rc;
}

int combination_sync_unit(db_t *db, int64_t uid, json_t *unit, int *changes)
{
    if (sync_text(db, "SELECT number FROM units WHERE id = ?", "UPDATE units SET number = ? WHERE id = ?", uid, unit,
                  "number", changes) != EV_OK ||
        sync_text(db, "SELECT urn FROM units WHERE id = ?", "UPDATE units SET urn = ? WHERE id = ?", uid, unit, "urn",
                  changes) != EV_OK ||
        sync_text(db, "SELECT level FROM units WHERE id = ?", "UPDATE units SET level = ? WHERE id = ?", uid, unit,
                  "level", changes) != EV_OK ||
        sync_int(db, "SELECT credit_value AS v FROM units WHERE id = ?", "UPDATE units SET credit_value = ? WHERE id = ?",
                 uid, unit, "credit_value", changes) != EV_OK ||
        sync_int(db, "SELECT glh AS v FROM units WHERE id = ?", "UPDATE units SET glh = ? WHERE id = ?", uid, unit,
                 "glh", changes) != EV_OK ||
        sync_int(db, "SELECT tqt AS v FROM units WHERE id = ?", "UPDATE units SET tqt = ? WHERE id = ?", uid, unit,
                 "tqt", changes) != EV_OK)
        return EV_ERR;
    int64_t qid = db_int(db, "SELECT qualification_id FROM units WHERE id = ?", 0, "i", uid);
    return *changes && qid ? centre_mark_stale(db, 0, qid) : EV_OK;
}

/* ==== export ==== */

/* Copies the non-empty, non-null columns of row named in keys into out. */
static void copy_set(json_t *row, const char *const *keys, json_t *out)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(row, keys[i]);
        if (json_is_integer(v) || (json_is_string(v) && *json_string_value(v)))
            json_object_set(out, keys[i], v);
    }
}

void combination_export_qualification(db_t *db, int64_t qid, json_t *q)
{
    static const char *const keys[] = {"qan", "glh", "tqt", "credit_value", NULL};
    json_t *row = db_one(db, "SELECT qan, glh, tqt, credit_value FROM qualifications WHERE id = ?", "i", qid);
    copy_set(row, keys, q);
    json_decref(row);
    json_t *g = stored_groups(db, qid), *r = stored_rules(db, qid);
    if (json_array_size(g))
        json_object_set(q, "groups", g);
    if (json_object_size(r))
        json_object_set(q, "rules", r);
    json_decref(g);
    json_decref(r);
}

void combination_export_unit(db_t *db, int64_t uid, json_t *u)
{
    static const char *const keys[] = {"number", "urn", "level", "credit_value", "glh", "tqt", NULL};
    json_t *row = db_one(db, "SELECT number, urn, level, credit_value, glh, tqt FROM units WHERE id = ?", "i", uid);
    copy_set(row, keys, u);
    json_decref(row);
}

/* ==== structure ==== */

/* The current unit a group member names (by ref, number or unit reference number), or NULL. */
static json_t *member_unit(json_t *units, const char *ref)
{
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u) if (!strcmp(jstr(u, "ref"), ref)) return u;
    json_array_foreach(units, i, u) if (!strcmp(jstr(u, "number"), ref) || !strcmp(jstr(u, "urn"), ref)) return u;
    return NULL;
}

json_t *combination_structure(db_t *db, int64_t qid)
{
    json_t *units = db_all(db, "SELECT id, ref, number, urn, title, level, credit_value, glh FROM units "
                               "WHERE qualification_id = ? AND retired = 0 ORDER BY position, id", "i", qid);
    json_t *groups = stored_groups(db, qid), *rules = stored_rules(db, qid);
    json_t *q = db_one(db, "SELECT credit_value FROM qualifications WHERE id = ?", "i", qid);
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        json_t *list = json_array(), *missing = json_array();
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(g, "units"), k, r) {
            json_t *u = member_unit(units, json_string_value(r));
            if (u) {
                json_t *c = json_deep_copy(u);
                json_object_set_new(c, "optional", json_boolean(!json_is_true(json_object_get(g, "mandatory"))));
                json_array_append_new(list, c);
            } else {
                json_array_append(missing, r);
            }
        }
        json_object_set_new(g, "unit_refs", json_object_get(g, "units") ? json_incref(json_object_get(g, "units")) : json_array());
        json_object_set_new(g, "units", list);
        json_object_set_new(g, "missing", missing);
        json_object_set_new(g, "optional", json_boolean(!json_is_true(json_object_get(g, "mandatory"))));
    }
    if (!json_object_get(rules, "min_credits") && json_is_integer(json_object_get(q, "credit_value")))
        json_object_set_new(rules, "min_credits_from_credit_value", json_true());
    int has = json_array_size(groups) > 0 || json_object_size(rules) > 0;
    json_t *out = json_pack("{s:o, s:o, s:b}", "groups", groups, "rules", rules, "has_structure", has);
    json_decref(units);
    json_decref(q);
    return out;
}

/* ==== progress ==== */

typedef struct cunit {
    int64_t id;
    int64_t credits;
    int level;        /* -1 unknown */
    int64_t total, met;
    int group;        /* index in groups, -1 none */
    int mandatory, chosen, in_plan, achieved;
} cunit_t;

static json_t *progress_by_rules(db_t *db, json_t *st, json_t *q, int64_t enrolment_id, json_t *units);

static json_t *check(const char *label, int64_t required, int64_t achieved, int64_t planned)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:b, s:b}", "label", label, "required", (json_int_t)required, "achieved",
                     (json_int_t)achieved, "planned", (json_int_t)planned, "met", achieved >= required, "plan_ok",
                     planned >= required);
}

json_t *combination_progress(db_t *db, int64_t enrolment_id, int64_t qid, json_t *units)
{
    json_t *st = combination_structure(db, qid);
    if (!json_is_true(json_object_get(st, "has_structure"))) {
        json_decref(st);
        return NULL;
    }
    json_t *q = db_one(db, "SELECT credit_value FROM qualifications WHERE id = ?", "i", qid);
    json_t *out = progress_by_rules(db, st, q, enrolment_id, units);
    json_decref(q);
    json_decref(st);
    return out;
}

/* combination_progress's work on a structure already loaded (st: has_structure
 * true; q: {credit_value}); borrows both. */
static json_t *progress_by_rules(db_t *db, json_t *st, json_t *q, int64_t enrolment_id, json_t *units)
{
    json_t *groups = json_object_get(st, "groups"), *rules = json_object_get(st, "rules");
    json_t *chosen = db_all(db, "SELECT unit_id FROM enrolment_units WHERE enrolment_id = ?", "i", enrolment_id);
    size_t n = json_array_size(units);
    cunit_t *cu = xcalloc(n ? n : 1, sizeof *cu);
    json_t *out = json_object(), *checks = json_array(), *problems = json_array();
    size_t i;
    json_t *u;
    int64_t mand_credits = 0, plan_credits = 0, achieved_credits = 0;
    double earned = 0, earned_share = 0;
    int64_t plan_total = 0, plan_met = 0;
    json_array_foreach(units, i, u) {
        cunit_t *c = &cu[i];
        c->id = jint(u, "id");
        c->total = jint(u, "total");
        c->met = jint(u, "met");
        c->group = -1;
        c->level = -1;
        size_t gi;
        json_t *g;
        json_array_foreach(groups, gi, g) {
            size_t k;
            json_t *m;
            json_array_foreach(json_object_get(g, "units"), k, m) if (jint(m, "id") == c->id) {
                c->group = (int)gi;
                c->mandatory = json_is_true(json_object_get(g, "mandatory"));
                c->credits = jint(m, "credit_value");
                c->level = specimport_level_number(jstr(m, "level"));
            }
        }
        if (c->group < 0) { /* a unit in no group: counts by its own credit value */
            json_t *row = db_one(db, "SELECT credit_value, level FROM units WHERE id = ?", "i", c->id);
            c->credits = jint(row, "credit_value");
            c->level = specimport_level_number(jstr(row, "level"));
            c->mandatory = !json_array_size(groups); /* no groups: every unit is needed */
            json_decref(row);
        }
        size_t k;
        json_t *ch;
        json_array_foreach(chosen, k, ch) c->chosen |= jint(ch, "unit_id") == c->id;
        c->in_plan = c->mandatory || c->chosen;
        c->achieved = c->total > 0 && c->met >= c->total;
        if (c->mandatory)
            mand_credits += c->credits;
        if (c->in_plan) {
            plan_credits += c->credits;
            plan_total += c->total;
            plan_met += c->met;
            if (c->total)
                earned += (double)c->credits * (double)c->met / (double)c->total;
        }
        if (c->achieved)
            achieved_credits += c->credits;
        json_object_set_new(u, "credit_value", json_integer(c->credits));
        json_object_set_new(u, "mandatory", json_boolean(c->mandatory));
        json_object_set_new(u, "chosen", json_boolean(c->chosen));
        json_object_set_new(u, "in_plan", json_boolean(c->in_plan));
        json_object_set_new(u, "not_in_plan", json_boolean(!c->in_plan));
        json_object_set_new(u, "unit_achieved", json_boolean(c->achieved));
        json_object_set_new(u, "group", c->group >= 0 ? json_string(jstr(json_array_get(groups, (size_t)c->group), "name"))
                                                      : json_null());
    }
    (void)earned_share;

    /* Overall minimum: the rule's, else the qualification's credit value, else every planned credit. */
    int64_t min_credits = json_is_integer(json_object_get(rules, "min_credits")) ? jint(rules, "min_credits")
                          : json_is_integer(json_object_get(q, "credit_value")) ? jint(q, "credit_value")
                                                                                 : plan_credits;
    int64_t required = min_credits > mand_credits ? min_credits : mand_credits;
    int all_met = 1;
    char label[256];

    json_t *g;
    json_array_foreach(groups, i, g) {
        int64_t gach = 0, gplan = 0, gall = 0, nach = 0, nplan = 0, nall = 0;
        for (size_t k = 0; k < n; k++) {
            if (cu[k].group != (int)i)
                continue;
            gall += cu[k].credits;
            nall++;
            if (cu[k].achieved) {
                gach += cu[k].credits;
                nach++;
            }
            if (cu[k].in_plan) {
                gplan += cu[k].credits;
                nplan++;
            }
        }
        json_t *ck;
        if (json_is_true(json_object_get(g, "mandatory"))) {
            snprintf(label, sizeof label, "All units of %s", jstr(g, "name"));
            ck = check(label, gall, gach, gplan);
            json_object_set_new(ck, "units_required", json_integer(nall));
            json_object_set_new(ck, "units_achieved", json_integer(nach));
            json_object_set_new(ck, "met", json_boolean(nach >= nall && nall > 0));
            json_array_append_new(checks, ck);
            if (nach < nall || !nall)
                all_met = 0;
            if (json_array_size(json_object_get(g, "missing"))) {
                all_met = 0;
                json_array_append_new(problems, json_sprintf("%s names %zu unit(s) that are not loaded yet.",
                                                             jstr(g, "name"),
                                                             json_array_size(json_object_get(g, "missing"))));
            }
            continue;
        }
        if (json_is_integer(json_object_get(g, "min_credits"))) {
            snprintf(label, sizeof label, "Credits from %s", jstr(g, "name"));
            ck = check(label, jint(g, "min_credits"), gach, gplan);
            json_array_append_new(checks, ck);
            if (gach < jint(g, "min_credits"))
                all_met = 0;
            if (gplan < jint(g, "min_credits"))
                json_array_append_new(problems, json_sprintf("The units chosen from %s give %lld credits; at least "
                                                             "%lld are needed. Choose more optional units.",
                                                             jstr(g, "name"), (long long)gplan,
                                                             (long long)jint(g, "min_credits")));
        }
        if (json_is_integer(json_object_get(g, "min_units"))) {
            snprintf(label, sizeof label, "Units from %s", jstr(g, "name"));
            ck = check(label, jint(g, "min_units"), nach, nplan);
            json_object_set_new(ck, "counts_units", json_true());
            json_array_append_new(checks, ck);
            if (nach < jint(g, "min_units"))
                all_met = 0;
            if (nplan < jint(g, "min_units"))
                json_array_append_new(problems, json_sprintf("%lld unit(s) chosen from %s; at least %lld are needed.",
                                                             (long long)nplan, jstr(g, "name"),
                                                             (long long)jint(g, "min_units")));
        }
    }
    json_t *lr;
    json_array_foreach(json_object_get(rules, "at_or_above_level"), i, lr) {
        int64_t lach = 0, lplan = 0, lvl = jint(lr, "level");
        for (size_t k = 0; k < n; k++) {
            if (cu[k].level < lvl)
                continue;
            if (cu[k].achieved)
                lach += cu[k].credits;
            if (cu[k].in_plan)
                lplan += cu[k].credits;
        }
        if (lvl == 0)
            snprintf(label, sizeof label, "Credits at Entry level or above");
        else
            snprintf(label, sizeof label, "Credits at level %lld or above", (long long)lvl);
        json_array_append_new(checks, check(label, jint(lr, "min_credits"), lach, lplan));
        if (lach < jint(lr, "min_credits"))
            all_met = 0;
        if (lplan < jint(lr, "min_credits"))
            json_array_append_new(problems, json_sprintf("The planned units give %lld credits at level %lld or above; "
                                                         "at least %lld are needed.",
                                                         (long long)lplan, (long long)lvl,
                                                         (long long)jint(lr, "min_credits")));
    }
    json_array_append_new(checks, check("Credits overall", min_credits, achieved_credits, plan_credits));
    if (achieved_credits < min_credits)
        all_met = 0;
    if (plan_credits < min_credits)
        json_array_append_new(problems, json_sprintf("The units chosen give %lld credits; the qualification needs at "
                                                     "least %lld. Choose more optional units.",
                                                     (long long)plan_credits, (long long)min_credits));
    int percent;
    if (required > 0) {
        double e = earned > (double)required ? (double)required : earned;
        percent = (int)(100.0 * e / (double)required);
    } else { /* no credit values loaded: the share of the planned units' criteria met */
        percent = progress_percent(plan_met, plan_total);
    }
    if (!all_met && percent >= 100)
        percent = 99;
    if (all_met)
        percent = 100;
    json_object_set_new(out, "credits_required", json_integer(required));
    json_object_set_new(out, "min_credits", json_integer(min_credits));
    json_object_set_new(out, "credits_planned", json_integer(plan_credits));
    json_object_set_new(out, "credits_achieved", json_integer(achieved_credits));
    json_object_set_new(out, "percent", json_integer(percent));
    json_object_set_new(out, "achieved", json_boolean(all_met));
    json_object_set_new(out, "checks", checks);
    json_object_set_new(out, "plan_problems", problems);
    json_object_set_new(out, "plan_ok", json_boolean(json_array_size(problems) == 0));
    json_object_set(out, "groups", groups);
    free(cu);
    json_decref(chosen);
    return out;
}

/* ---- summaries: percent by the rules for many enrolments (dashboard, caseload) ---- */

typedef struct rules_entry {
    int64_t qid;
    json_t *st; /* NULL: no structure (percent is the share of criteria met) */
    json_t *q;
} rules_entry_t;

struct combination_cache {
    db_t *db;
    rules_entry_t *v;
    int n, cap;
};

combination_cache_t *combination_cache_new(db_t *db)
{
    combination_cache_t *c = xcalloc(1, sizeof *c);
    c->db = db;
    return c;
}

void combination_cache_free(combination_cache_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        json_decref(c->v[i].st);
        json_decref(c->v[i].q);
    }
    free(c->v);
    free(c);
}

static rules_entry_t *cache_entry(combination_cache_t *c, int64_t qid)
{
    for (int i = 0; i < c->n; i++)
        if (c->v[i].qid == qid)
            return &c->v[i];
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->v = xrealloc(c->v, (size_t)c->cap * sizeof *c->v);
    }
    rules_entry_t *e = &c->v[c->n++];
    e->qid = qid;
    e->st = combination_structure(c->db, qid);
    e->q = NULL;
    if (!json_is_true(json_object_get(e->st, "has_structure"))) {
        json_decref(e->st);
        e->st = NULL;
    } else {
        e->q = db_one(c->db, "SELECT credit_value FROM qualifications WHERE id = ?", "i", qid);
    }
    return e;
}

int combination_has_rules(combination_cache_t *c, int64_t qid)
{
    return cache_entry(c, qid)->st != NULL;
}

int combination_enrolment_percent(combination_cache_t *c, int64_t enrolment_id, int64_t learner_id, int64_t qid,
                                  int *percent, int *achieved)
{
    rules_entry_t *e = cache_entry(c, qid);
    if (!e->st)
        return 0;
    /* each current unit's criteria and how many this learner has met (as progress.c counts them) */
    json_t *units = db_all(c->db,
                           "SELECT u.id, COUNT(c.id) AS total,"
                           " SUM(CASE WHEN cs.status = 'met' THEN 1 ELSE 0 END) AS met"
                           " FROM units u JOIN criteria c ON c.unit_id = u.id AND c.retired = 0"
                           " LEFT JOIN criterion_status cs ON cs.criterion_id = c.id AND cs.learner_id = ?"
                           " WHERE u.qualification_id = ? AND u.retired = 0 GROUP BY u.id ORDER BY u.id",
                           "ii", learner_id, qid);
    json_t *out = units ? progress_by_rules(c->db, e->st, e->q, enrolment_id, units) : NULL;
    int rc = out ? 1 : 0;
    if (out) {
        *percent = (int)json_integer_value(json_object_get(out, "percent"));
        *achieved = json_is_true(json_object_get(out, "achieved"));
    }
    json_decref(out);
    json_decref(units);
    return rc;
}

/* ==== choosing optional units ==== */

/* The enrolment with the reader's rights: 0 and *e set, or an error status. */
static int load_enrolment(req_t *r, json_t **e, int write)
{
    *e = db_one(r->db, "SELECT e.id, e.learner_id, e.qualification_id, e.assessor_id, e.iqa_id, e.status, "
                       "l.name AS learner_name, q.title AS qualification_title, q.code AS qualification_code "
                       "FROM enrolments e JOIN users l ON l.id = e.learner_id JOIN qualifications q "
                       "ON q.id = e.qualification_id WHERE e.id = ?", "i", r->params[0]);
    if (!*e)
        return http_fail(r, 404, "not_found", "There is no enrolment %lld.", (long long)r->params[0]);
    int admin = r->user.role == ROLE_ADMIN;
    int assessor = r->user.role == ROLE_ASSESSOR && jint(*e, "assessor_id") == r->user.id;
    int ok = write ? admin || assessor : admin || assessor || policy_can_read_learner(r->db, &r->user, jint(*e, "learner_id"));
    if (!ok) {
        json_decref(*e);
        *e = NULL;
        return http_fail(r, 403, "forbidden",
                         write ? "Only an admin or the learner's assessor may choose the learner's optional units."
                               : "You may not see this enrolment.");
    }
    return 0;
}

/* Fills r->out with the enrolment, its structure and the chosen units (checked flags). */
static void units_doc(req_t *r, json_t *e, json_t *picked)
{
    int64_t qid = jint(e, "qualification_id");
    json_t *st = combination_structure(r->db, qid);
    json_t *chosen = picked ? json_incref(picked) : json_array();
    if (!picked) {
        json_t *rows = db_all(r->db, "SELECT unit_id FROM enrolment_units WHERE enrolment_id = ? ORDER BY unit_id", "i",
                              jint(e, "id"));
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) json_array_append_new(chosen, json_integer(jint(row, "unit_id")));
        json_decref(rows);
    }
    size_t i, k;
    json_t *g, *u, *c;
    int any_optional = 0;
    json_array_foreach(json_object_get(st, "groups"), i, g) {
        json_array_foreach(json_object_get(g, "units"), k, u) {
            int on = 0;
            size_t j;
            json_array_foreach(chosen, j, c) on |= json_integer_value(c) == jint(u, "id");
            json_object_set_new(u, "chosen", json_boolean(on));
            any_optional |= !json_is_true(json_object_get(g, "mandatory"));
        }
    }
    json_t *out = http_out(r);
    json_object_set(out, "enrolment", e);
    json_object_set_new(out, "structure", st);
    json_object_set_new(out, "chosen_unit_ids", chosen);
    json_object_set_new(out, "has_optional", json_boolean(any_optional));
    json_object_set_new(out, "can_choose", json_boolean(r->user.role == ROLE_ADMIN ||
                                                        (r->user.role == ROLE_ASSESSOR &&
                                                         jint(e, "assessor_id") == r->user.id)));
}

/* GET /api/v1/enrolments/{id}/units, /enrolments/{id}/units: the qualification's
 * unit groups with the learner's chosen optional units. */
static int units_show(req_t *r)
{
    json_t *e;
    int st = load_enrolment(r, &e, 0);
    if (st)
        return st;
    units_doc(r, e, NULL);
    json_decref(e);
    return 200;
}

/* PUT /api/v1/enrolments/{id}/units {"unit_ids": [..]}, POST /enrolments/{id}/units
 * (form: unit_ids checkboxes): replaces the learner's chosen optional units.
 * Every id must be a unit of an optional group of the enrolment's
 * qualification; else 400 with a field error and nothing changed. Records an
 * 'enrolment.units' audit event in the same transaction. */
static int units_choose(req_t *r)
{
    json_t *e;
    int st = load_enrolment(r, &e, 1);
    if (st)
        return st;
    json_t *ids = in_array(r, "unit_ids");
    json_t *picked = json_array();
    json_t *structure = combination_structure(r->db, jint(e, "qualification_id"));
    size_t i;
    json_t *v;
    if (!json_object_get(r->in, "unit_ids") && !r->is_api) {
        json_decref(ids);
        ids = json_array(); /* a form with every box unticked sends nothing */
    } else if (!json_object_get(r->in, "unit_ids")) {
        json_decref(ids);
        ids = NULL; /* the API says what it wants: [] to choose none */
    }
    if (!ids || !json_is_array(ids)) {
        http_field_error(r, "unit_ids", "Give unit_ids: a list of the optional units' ids");
        st = http_fail(r, 400, "invalid_units", "Give unit_ids: a list of the optional units' ids.");
        goto out;
    }
    json_array_foreach(ids, i, v) {
        int64_t id = 0;
        if (json_is_integer(v))
            id = json_integer_value(v);
        else if (!json_is_string(v) || util_parse_i64(json_string_value(v), &id) != EV_OK)
            id = -1;
        int optional = 0;
        size_t gi, k;
        json_t *g, *u;
        json_array_foreach(json_object_get(structure, "groups"), gi, g) json_array_foreach(json_object_get(g, "units"), k, u)
            if (jint(u, "id") == id && !json_is_true(json_object_get(g, "mandatory")))
                optional = 1;
        if (!optional) {
            http_field_error(r, "unit_ids", "Choose only optional units of this qualification");
            st = http_fail(r, 400, "invalid_units", "Unit %lld is not an optional unit of this qualification.",
                           (long long)id);
            goto out;
        }
        int dup = 0;
        size_t j;
        json_t *p;
        json_array_foreach(picked, j, p) dup |= json_integer_value(p) == id;
        if (!dup)
            json_array_append_new(picked, json_integer(id));
    }
    json_t *before = db_all(r->db, "SELECT unit_id FROM enrolment_units WHERE enrolment_id = ? ORDER BY unit_id", "i",
                            jint(e, "id"));
    json_t *bids = json_array();
    json_array_foreach(before, i, v) json_array_append_new(bids, json_integer(jint(v, "unit_id")));
    json_decref(before);
    char now[21];
    util_now_iso(now);
    int rc = db_begin(r->db);
    if (rc == EV_OK)
        rc = db_run(r->db, "DELETE FROM enrolment_units WHERE enrolment_id = ?", "i", jint(e, "id"));
    json_array_foreach(picked, i, v) {
        if (rc == EV_OK)
            rc = db_run(r->db, "INSERT INTO enrolment_units (enrolment_id, unit_id, chosen_by, chosen_at) "
                               "VALUES (?, ?, ?, ?)", "iiit", jint(e, "id"), (int64_t)json_integer_value(v),
                        r->user.id, now);
    }
    if (rc == EV_OK) {
        json_t *b = json_pack("{s:O}", "unit_ids", bids), *a = json_pack("{s:O}", "unit_ids", picked);
        rc = audit_record(r->db, r->user.id, "enrolment.units", "enrolment", jint(e, "id"), jint(e, "learner_id"), b, a);
        json_decref(b);
        json_decref(a);
    }
    if (rc == EV_OK) /* the dashboard's percent follows the plan */
        rc = centre_mark_stale(r->db, jint(e, "id"), 0);
    if (rc == EV_OK)
        rc = db_commit(r->db);
    else
        db_rollback(r->db);
    json_decref(bids);
    if (rc != EV_OK) {
        st = http_fail(r, 500, "database_error", "The chosen units could not be saved.");
        goto out;
    }
    units_doc(r, e, picked);
    http_redirect(r, "/enrolments/%lld/units?saved=1", (long long)jint(e, "id"));
    st = 200;
out:
    if (st != 200)
        units_doc(r, e, picked);
    json_decref(ids);
    json_decref(picked);
    json_decref(structure);
    json_decref(e);
    return st;
}

const route_t combination_routes[] = {
    {"GET", "/api/v1/enrolments/{id}/units", units_show, ROLE_STAFF | ROLE_LEARNER, NULL, 0},
    {"GET", "/enrolments/{id}/units", units_show, ROLE_STAFF | ROLE_LEARNER, "enrolment_units", 0},
    {"PUT", "/api/v1/enrolments/{id}/units", units_choose, ROLE_ADMIN | ROLE_ASSESSOR, NULL, 0},
    {"POST", "/enrolments/{id}/units", units_choose, ROLE_ADMIN | ROLE_ASSESSOR, "enrolment_units", 0},
    {0},
};
