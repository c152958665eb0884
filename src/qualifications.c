/* qualifications.c: qualifications, units, outcomes and criteria: spec import into the
 * database, the qualification API and pages, and the `evitrack import` command */
#include "qualifications.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "combination.h"
#include "cli.h"
#include "progress.h"
#include "rules.h"
#include "specimport.h"
#include "status.h"

/* ==== import ==== */

/* State of one document's import. */
typedef struct imp {
    db_t *db;
    const qualifications_import_opts_t *o;
    const char *data; /* the document's text, for error lines */
    size_t len;
    const char *format;
    specimport_error_t *err;
    int changes;
    json_t *revisions; /* criteria added / reworded / retired in units that had criteria (rules.c) */
} imp_t;

static int imp_fail(imp_t *x, int line, const char *fmt, ...) EV_PRINTF(3, 4);

static int imp_fail(imp_t *x, int line, const char *fmt, ...)
{
    x->err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err->reason, sizeof x->err->reason, fmt, ap);
    va_end(ap);
    return EV_ERR;
}

/* The line where unit ui begins: its place in a JSON document; 1 for a page. */
static int unit_line(imp_t *x, size_t ui)
{
    if (strcmp(x->format, "json") != 0)
        return 1;
    char path[48];
    snprintf(path, sizeof path, "/units/%zu", ui);
    int line = specimport_json_line(x->data, x->len, path);
    return line ? line : 1;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int64_t jint(json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

/* ID_OR_CODE -> qualification id, or 0. */
static int64_t find_qualification(db_t *db, const char *id_or_code)
{
    int64_t id, found = 0;
    if (util_parse_i64(id_or_code, &id) == EV_OK)
        found = db_int(db, "SELECT id FROM qualifications WHERE id = ?", 0, "i", id);
    if (!found) /* codes may be all digits too (601/1234/5 is not, 6011234 could be) */
        found = db_int(db, "SELECT id FROM qualifications WHERE lower(code) = lower(?)", 0, "t", id_or_code);
    return found;
}

static json_t *counts_new(void)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i}", "total", 0, "created", 0, "updated", 0, "retired", 0,
                     "unchanged", 0);
}

static void count_add(json_t *counts, const char *key)
{
    json_object_set_new(counts, key, json_integer(json_integer_value(json_object_get(counts, key)) + 1));
}

static const char RETIRE_OUTCOME_SQL[] = "UPDATE outcomes SET retired = 1 WHERE id = ?";
static const char RETIRE_CRITERION_SQL[] = "UPDATE criteria SET retired = 1 WHERE id = ?";

/* A full document names every outcome or criterion the unit has: those in
 * cur that it did not claim are retired (kept, never deleted, so evidence and
 * decisions keep their target). what names one for the error. */
static int retire_unclaimed(imp_t *x, json_t *cur, const char *claimed, const char *sql, const char *what,
                            json_t *sum)
{
    size_t k;
    json_t *c;
    json_array_foreach(cur, k, c) if (!claimed[k] && !jint(c, "retired")) {
        if (db_run(x->db, sql, "i", jint(c, "id")) != EV_OK)
            return imp_fail(x, 0, "the database refused to retire %s", what);
        count_add(sum, "retired");
        x->changes++;
    }
    return EV_OK;
}

/* Creates or updates the qualification a document names; *qid receives its id. */
static int import_qualification(imp_t *x, json_t *q, int64_t *qid, json_t *qsum)
{
    const char *code = jstr(q, "code"), *title = jstr(q, "title"), *ab = jstr(q, "awarding_body");
    int64_t id = db_int(x->db, "SELECT id FROM qualifications WHERE lower(code) = lower(?)", 0, "t", code);
    if (!id)
        id = db_int(x->db,
                    "SELECT id FROM qualifications WHERE lower(title) = lower(?) "
                    "AND lower(awarding_body) = lower(?) ORDER BY id LIMIT 1",
                    0, "tt", title, ab);
    if (x->o->qualification) {
        int64_t want = find_qualification(x->db, x->o->qualification);
        if (want != id)
            return imp_fail(x, strcmp(x->format, "json") ? 1 : specimport_json_line(x->data, x->len, "/qualification"),
                            "the document names the qualification '%s', not the one given with "
                            "--qualification (%s)", title, x->o->qualification);
    }
    const char *action = "unchanged";
    if (!id) {
        id = db_int(x->db,
                    "INSERT INTO qualifications (code, title, awarding_body, level, framework, subject, "
                    "description) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    0, "ttttttt", code, title, ab, jstr(q, "level"), jstr(q, "framework"), jstr(q, "subject"),
                    jstr(q, "description"));
        if (id <= 0)
            return imp_fail(x, 0, "the database refused the qualification");
        action = "created";
        x->changes++;
    } else {
        json_t *cur = db_one(x->db,
                             "SELECT code, title, awarding_body, level, framework, subject, description "
                             "FROM qualifications WHERE id = ?",
                             "i", id);
        if (!cur)
            return imp_fail(x, 0, "the database could not read qualification %lld", (long long)id);
        static const char *const fields[] = {"title", "awarding_body", "level", "framework", "subject", NULL};
        int differ = 0;
        for (size_t i = 0; fields[i]; i++) {
            json_t *v = json_object_get(q, fields[i]);
            if (json_is_string(v) && *json_string_value(v) && strcmp(json_string_value(v), jstr(cur, fields[i])))
                differ = 1;
        }
        /* The description is only filled in when there is none: each revision
         * page of a qualification carries its own overview text. */
        const char *desc = *jstr(cur, "description") ? jstr(cur, "description") : jstr(q, "description");
        if (strcmp(desc, jstr(cur, "description")))
            differ = 1;
        if (differ) {
#define PICK(f) (*jstr(q, f) ? jstr(q, f) : jstr(cur, f))
            char now[21];
            util_now_iso(now);
            if (db_run(x->db,
                       "UPDATE qualifications SET title = ?, awarding_body = ?, level = ?, framework = ?, "
                       "subject = ?, description = ?, updated_at = ? "
                       "WHERE id = ?",
                       "ttttttti", PICK("title"), PICK("awarding_body"), PICK("level"), PICK("framework"),
                       PICK("subject"), desc, now, id) != EV_OK) {
                json_decref(cur);
                return imp_fail(x, 0, "the database refused the qualification update");
            }
#undef PICK
            action = "updated";
            x->changes++;
        }
        json_decref(cur);
    }
    json_t *row = db_one(x->db, "SELECT id, code, title, awarding_body, level, framework FROM qualifications "
                                "WHERE id = ?", "i", id);
    if (row) {
        json_object_update(qsum, row);
        json_decref(row);
    }
    json_object_set_new(qsum, "action", json_string(action));
    *qid = id;
    return EV_OK;
}

/* A unit already loaded that an untitled document describes: the one whose
 * synopsis is the same, else the one holding most of its criteria (at least
 * half). qid 0 searches every qualification. 0 when none; -1 when two tie. */
static int64_t match_unit_by_content(imp_t *x, int64_t qid, json_t *unit)
{
    const char *syn = jstr(unit, "synopsis");
    json_t *cands = db_all(x->db,
                           "SELECT id, synopsis FROM units WHERE retired = 0 AND (? = 0 OR qualification_id = ?)",
                           "ii", qid, qid);
    if (!cands)
        return 0;
    json_t *crit = json_object_get(unit, "criteria");
    int64_t best = 0;
    long best_score = 0;
    int tie = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c) {
        int64_t uid = jint(c, "id");
        long score = (*syn && strcmp(syn, jstr(c, "synopsis")) == 0) ? 100000 : 0;
        long hits = 0;
        size_t k;
        json_t *cr;
        json_array_foreach(crit, k, cr)
            hits += db_int(x->db, "SELECT count(*) FROM criteria WHERE unit_id = ? AND text = ? AND retired = 0",
                           0, "it", uid, jstr(cr, "text")) > 0;
        if (!score && hits * 2 < (long)json_array_size(crit))
            hits = 0;
        score += hits;
        if (score > best_score) {
            best = uid;
            best_score = score;
            tie = 0;
        } else if (score && score == best_score) {
            tie = 1;
        }
    }
    json_decref(cands);
    return tie ? -1 : best;
}

/* Finds the unit a document's unit describes; *uid 0 when it is new. *keep_ref
 * is set when the unit was recognised by its unit reference number (URN) or
 * awarding-body unit number rather than by its ref: the same unit published in
 * another layout (a unit page names it "Unit No: X/000/0001", the handbook "Unit
 * 201") updates the unit already loaded and keeps the ref it has. */
static int find_unit(imp_t *x, int64_t *qid, json_t *unit, size_t ui, int64_t *uid, int *keep_ref)
{
    const char *ref = jstr(unit, "ref"), *title = jstr(unit, "title");
    *uid = 0;
    *keep_ref = 0;
    if (*qid) {
        if (*ref)
            *uid = db_int(x->db, "SELECT id FROM units WHERE qualification_id = ? AND ref = ?", 0, "it", *qid, ref);
        const char *keys[] = {jstr(unit, "urn"), jstr(unit, "number"), ref};
        for (size_t k = 0; !*uid && k < sizeof keys / sizeof *keys; k++)
            if (*keys[k] && (*uid = db_int(x->db,
                                           "SELECT id FROM units WHERE qualification_id = ? AND (urn = ? OR number = ?)"
                                           " ORDER BY retired, id LIMIT 1",
                                           0, "itt", *qid, keys[k], keys[k])) > 0)
                *keep_ref = 1;
        if (!*uid && *title)
            *uid = db_int(x->db,
                          "SELECT id FROM units WHERE qualification_id = ? AND lower(title) = lower(?) "
                          "ORDER BY retired, id LIMIT 1",
                          0, "it", *qid, title);
        if (!*uid && !*title) {
            int64_t m = match_unit_by_content(x, *qid, unit);
            if (m <= 0)
                return imp_fail(x, unit_line(x, ui),
                                "the document names no unit (no title line) and matches no unit of "
                                "qualification %lld%s",
                                (long long)*qid, m < 0 ? " unambiguously" : "");
            *uid = m;
        }
        return EV_OK;
    }
    /* No qualification named: match a unit already loaded, first by its unit
     * reference number (one unit of that URN anywhere), then by title. */
    if (*jstr(unit, "urn")) {
        json_t *rows = db_all(x->db, "SELECT id, qualification_id FROM units WHERE urn = ? AND retired = 0 LIMIT 2",
                              "t", jstr(unit, "urn"));
        if (json_array_size(rows) == 1) {
            *uid = jint(json_array_get(rows, 0), "id");
            *qid = jint(json_array_get(rows, 0), "qualification_id");
            *keep_ref = 1;
        }
        json_decref(rows);
        if (*uid)
            return EV_OK;
    }
    if (*title) {
        json_t *rows = db_all(x->db,
                              "SELECT u.id, u.qualification_id, q.code FROM units u JOIN qualifications q "
                              "ON q.id = u.qualification_id WHERE lower(u.title) = lower(?) AND u.retired = 0",
                              "t", title);
        size_t n = json_array_size(rows);
        if (n == 1) {
            *uid = jint(json_array_get(rows, 0), "id");
            *qid = jint(json_array_get(rows, 0), "qualification_id");
        } else if (n > 1) {
            buf_t codes = {0};
            size_t i;
            json_t *r;
            json_array_foreach(rows, i, r) buf_printf(&codes, "%s%s", i ? ", " : "", jstr(r, "code"));
            imp_fail(x, unit_line(x, ui),
                     "the document names no qualification and the unit '%s' is in several (%s): "
                     "choose one (the Qualification list on the import page, or --qualification ID_OR_CODE on the command line)",
                     title, codes.data);
            buf_free(&codes);
            json_decref(rows);
            return EV_ERR;
        }
        json_decref(rows);
        if (!*uid)
            return imp_fail(x, unit_line(x, ui),
                            "the document names no qualification and no unit '%s' is loaded: "
                            "choose its qualification (the Qualification list on the import page, or --qualification ID_OR_CODE on the command line)",
                            title);
        return EV_OK;
    }
    int64_t m = match_unit_by_content(x, 0, unit);
    if (m < 0)
        return imp_fail(x, unit_line(x, ui),
                        "the document names no unit or qualification and matches more than one unit "
                        "already loaded: "
                        "choose its qualification (the Qualification list on the import page, or --qualification ID_OR_CODE on the command line)");
    if (!m)
        return imp_fail(x, unit_line(x, ui),
                        "the document names no unit or qualification (no title line) and matches no unit "
                        "already loaded: import the full unit page first, or "
                        "choose its qualification (the Qualification list on the import page, or --qualification ID_OR_CODE on the command line)");
    *uid = m;
    *qid = db_int(x->db, "SELECT qualification_id FROM units WHERE id = ?", 0, "i", m);
    return EV_OK;
}

/* Creates or updates the outcomes of unit uid from the document's list.
 * Outcomes are matched by text, then by number; a full document retires the
 * rest. Fills num2id: outcome number (string) -> id. */
static int sync_outcomes(imp_t *x, int64_t uid, json_t *outs, int partial, json_t *sum, json_t *num2id)
{
    json_t *cur = db_all(x->db, "SELECT id, number, text, retired FROM outcomes WHERE unit_id = ? "
                                "ORDER BY retired, number, id", "i", uid);
    if (!cur)
        return imp_fail(x, 0, "the database could not read the outcomes");
    size_t n = json_array_size(cur), i, k;
    char *claimed = xcalloc(n + 1, 1);
    int64_t *match = xcalloc(json_array_size(outs) + 1, sizeof *match);
    json_t *o, *c;
    int rc = EV_OK;
    json_array_foreach(outs, i, o) {
        json_array_foreach(cur, k, c) if (!claimed[k] && !strcmp(jstr(c, "text"), jstr(o, "text"))) {
            claimed[k] = 1;
            match[i] = (int64_t)k + 1;
            break;
        }
    }
    json_array_foreach(outs, i, o) {
        if (match[i])
            continue;
        json_array_foreach(cur, k, c) if (!claimed[k] && jint(c, "number") == jint(o, "number")) {
            claimed[k] = 1;
            match[i] = (int64_t)k + 1;
            break;
        }
    }
    json_array_foreach(outs, i, o) {
        int64_t id;
        count_add(sum, "total");
        if (!match[i]) {
            id = db_int(x->db, "INSERT INTO outcomes (unit_id, number, text) VALUES (?, ?, ?) RETURNING id", 0,
                        "iit", uid, jint(o, "number"), jstr(o, "text"));
            if (id <= 0) {
                rc = imp_fail(x, 0, "the database refused an outcome");
                goto out;
            }
            count_add(sum, "created");
            x->changes++;
        } else {
            c = json_array_get(cur, (size_t)match[i] - 1);
            id = jint(c, "id");
            if (jint(c, "number") != jint(o, "number") || strcmp(jstr(c, "text"), jstr(o, "text")) ||
                jint(c, "retired")) {
                if (db_run(x->db, "UPDATE outcomes SET number = ?, text = ?, retired = 0 WHERE id = ?", "iti",
                           jint(o, "number"), jstr(o, "text"), id) != EV_OK) {
                    rc = imp_fail(x, 0, "the database refused an outcome update");
                    goto out;
                }
                count_add(sum, "updated");
                x->changes++;
            } else {
                count_add(sum, "unchanged");
            }
        }
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)jint(o, "number"));
        json_object_set_new(num2id, key, json_integer(id));
    }
    if (!partial && retire_unclaimed(x, cur, claimed, RETIRE_OUTCOME_SQL, "an outcome", sum) != EV_OK) {
        rc = EV_ERR;
        goto out;
    }
out:
    free(claimed);
    free(match);
    json_decref(cur);
    return rc;
}

/* For a document without outcomes (the short page): takes the unit's current
 * outcomes, keeps the outcome of every criterion whose text is already
 * loaded, and assigns the rest by the rule. */
static int borrow_outcomes(imp_t *x, int64_t uid, json_t *unit, size_t ui, json_t *num2id)
{
    json_t *outs = db_all(x->db, "SELECT id, number, text FROM outcomes WHERE unit_id = ? AND retired = 0 "
                                 "ORDER BY number", "i", uid);
    if (!outs || !json_array_size(outs)) {
        json_decref(outs);
        return imp_fail(x, unit_line(x, ui), "the unit has no learning outcomes to place its criteria under");
    }
    json_t *plain = json_array();
    size_t i;
    json_t *o, *c;
    json_array_foreach(outs, i, o) {
        json_array_append_new(plain, json_pack("{s:I, s:s}", "number", (json_int_t)jint(o, "number"), "text",
                                               jstr(o, "text")));
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)jint(o, "number"));
        json_object_set_new(num2id, key, json_integer(jint(o, "id")));
    }
    json_object_set_new(unit, "outcomes", plain);
    json_array_foreach(json_object_get(unit, "criteria"), i, c) {
        if (json_object_get(c, "outcome"))
            continue;
        json_t *row = db_one(x->db,
                             "SELECT c.ref, o.number FROM criteria c JOIN outcomes o ON o.id = c.outcome_id "
                             "WHERE c.unit_id = ? AND c.text = ? AND o.retired = 0 ORDER BY c.retired LIMIT 1",
                             "it", uid, jstr(c, "text"));
        if (row) {
            json_object_set_new(c, "outcome", json_integer(jint(row, "number")));
            if (!json_object_get(c, "ref"))
                json_object_set_new(c, "ref", json_string(jstr(row, "ref")));
            json_object_set_new(c, "assigned_by", json_string("existing"));
            json_decref(row);
        }
    }
    specimport_assign_outcomes(unit);
    json_decref(outs);
    json_object_del(unit, "outcomes"); /* not the document's: never synced back */
    return EV_OK;
}

/* Creates or updates the criteria of unit uid. Matched by text, then by ref,
 * so a criterion keeps its id when its text or its ref changes; a full
 * document retires (never deletes) the ones it no longer lists. */
static int sync_criteria(imp_t *x, int64_t uid, json_t *crit, int partial, json_t *num2id, json_t *sum,
                         json_t *assignment)
{
    json_t *cur = db_all(x->db, "SELECT id, ref, text, outcome_id, position, retired FROM criteria "
                                "WHERE unit_id = ? ORDER BY retired, position, id", "i", uid);
    if (!cur)
        return imp_fail(x, 0, "the database could not read the criteria");
    size_t n = json_array_size(cur), i, k;
    char *claimed = xcalloc(n + 1, 1);
    int64_t *match = xcalloc(json_array_size(crit) + 1, sizeof *match);
    int64_t next_pos = db_int(x->db, "SELECT coalesce(max(position), 0) FROM criteria WHERE unit_id = ?", 0, "i", uid);
    json_t *d, *c;
    int rc = EV_OK;
    json_array_foreach(crit, i, d) {
        json_array_foreach(cur, k, c) if (!claimed[k] && !strcmp(jstr(c, "text"), jstr(d, "text"))) {
            claimed[k] = 1;
            match[i] = (int64_t)k + 1;
            break;
        }
    }
    json_array_foreach(crit, i, d) {
        if (match[i])
            continue;
        json_array_foreach(cur, k, c) if (!claimed[k] && !strcmp(jstr(c, "ref"), jstr(d, "ref"))) {
            claimed[k] = 1;
            match[i] = (int64_t)k + 1;
            break;
        }
    }
    json_array_foreach(crit, i, d) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)jint(d, "outcome"));
        int64_t oid = jint(num2id, key);
        if (!oid) {
            rc = imp_fail(x, 0, "criterion %s names outcome %s, which the unit does not have", jstr(d, "ref"), key);
            goto out;
        }
        int64_t id, pos = (int64_t)i + 1;
        const char *action;
        count_add(sum, "total");
        if (!match[i]) {
            if (partial)
                pos = ++next_pos;
            id = db_int(x->db,
                        "INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (?, ?, ?, ?, ?)"
                        " RETURNING id",
                        0, "iitti", uid, oid, jstr(d, "ref"), jstr(d, "text"), pos);
            if (id <= 0) {
                rc = imp_fail(x, 0, "the database refused a criterion");
                goto out;
            }
            action = "created";
            x->changes++;
            if (n > 0) /* a criterion added to a unit that already had criteria */
                json_array_append_new(x->revisions, json_pack("{s:I, s:I, s:s, s:s, s:s}", "criterion_id",
                                                              (json_int_t)id, "unit_id", (json_int_t)uid, "ref",
                                                              jstr(d, "ref"), "change", "added", "text",
                                                              jstr(d, "text")));
        } else {
            c = json_array_get(cur, (size_t)match[i] - 1);
            id = jint(c, "id");
            if (partial)
                pos = jint(c, "position");
            if (jint(c, "outcome_id") != oid || strcmp(jstr(c, "ref"), jstr(d, "ref")) ||
                strcmp(jstr(c, "text"), jstr(d, "text")) || jint(c, "position") != pos || jint(c, "retired")) {
                if (db_run(x->db,
                           "UPDATE criteria SET outcome_id = ?, ref = ?, text = ?, position = ?, retired = 0 "
                           "WHERE id = ?",
                           "ittii", oid, jstr(d, "ref"), jstr(d, "text"), pos, id) != EV_OK) {
                    rc = imp_fail(x, 0, "the database refused a criterion update");
                    goto out;
                }
                action = "updated";
                x->changes++;
                if (strcmp(jstr(c, "text"), jstr(d, "text")) != 0 && !jint(c, "retired"))
                    json_array_append_new(x->revisions,
                                          json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "criterion_id", (json_int_t)id,
                                                    "unit_id", (json_int_t)uid, "ref", jstr(d, "ref"), "change",
                                                    "reworded", "text", jstr(d, "text"), "old_text", jstr(c, "text")));
            } else {
                action = "unchanged";
            }
        }
        count_add(sum, action);
        json_t *a = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "ref", jstr(d, "ref"),
                              "outcome", (json_int_t)jint(d, "outcome"), "by",
                              *jstr(d, "assigned_by") ? jstr(d, "assigned_by") : "document", "action", action,
                              "text", jstr(d, "text"));
        json_t *m = json_object_get(d, "matched");
        json_object_set_new(a, "matched", m ? json_incref(m) : json_array());
        json_object_set_new(a, "matched_text", json_string(""));
        if (m && json_array_size(m)) {
            buf_t b = {0};
            size_t q;
            json_t *w;
            json_array_foreach(m, q, w) buf_printf(&b, "%s%s", q ? ", " : "", json_string_value(w));
            json_object_set_new(a, "matched_text", json_string(b.data));
            buf_free(&b);
        }
        json_array_append_new(assignment, a);
    }
    if (!partial) {
        json_array_foreach(cur, k, c) if (!claimed[k] && !jint(c, "retired"))
            json_array_append_new(x->revisions, json_pack("{s:I, s:I, s:s, s:s, s:s}", "criterion_id",
                                                          (json_int_t)jint(c, "id"), "unit_id", (json_int_t)uid, "ref",
                                                          jstr(c, "ref"), "change", "retired", "text", jstr(c, "text")));
    }
    if (!partial && retire_unclaimed(x, cur, claimed, RETIRE_CRITERION_SQL, "a criterion", sum) != EV_OK) {
        rc = EV_ERR;
        goto out;
    }
out:
    free(claimed);
    free(match);
    json_decref(cur);
    return rc;
}

/* Replaces (full document) or extends (partial document) each guidance list
 * the document gives; lists it does not give are left alone. */
static int sync_guidance(imp_t *x, int64_t uid, json_t *guidance, int partial, json_t *gsum)
{
    for (size_t k = 0; specimport_guidance_kinds[k]; k++) {
        const char *kind = specimport_guidance_kinds[k];
        json_t *want = json_object_get(guidance, kind);
        json_t *have = db_all(x->db, "SELECT text FROM unit_guidance WHERE unit_id = ? AND kind = ? ORDER BY position",
                              "it", uid, kind);
        if (!have)
            return imp_fail(x, 0, "the database could not read the guidance");
        size_t nh = json_array_size(have), i, j;
        json_t *v, *h;
        int rc = EV_OK;
        if (want && !partial) {
            int same = nh == json_array_size(want);
            for (i = 0; same && i < nh; i++)
                same = !strcmp(jstr(json_array_get(have, i), "text"), json_string_value(json_array_get(want, i)));
            if (!same) {
                if (db_run(x->db, "DELETE FROM unit_guidance WHERE unit_id = ? AND kind = ?", "it", uid, kind) != EV_OK)
                    rc = EV_ERR;
                json_array_foreach(want, i, v) if (rc == EV_OK) rc = db_run(
                    x->db, "INSERT INTO unit_guidance (unit_id, kind, position, text) VALUES (?, ?, ?, ?)", "itit",
                    uid, kind, (int64_t)i + 1, json_string_value(v));
                x->changes++;
                nh = json_array_size(want);
            }
        } else if (want) {
            json_array_foreach(want, i, v) {
                int found = 0;
                json_array_foreach(have, j, h) if (!strcmp(jstr(h, "text"), json_string_value(v))) found = 1;
                if (found || rc != EV_OK)
                    continue;
                rc = db_run(x->db, "INSERT INTO unit_guidance (unit_id, kind, position, text) VALUES (?, ?, ?, ?)",
                            "itit", uid, kind, (int64_t)++nh, json_string_value(v));
                json_array_append_new(have, json_pack("{s:s}", "text", json_string_value(v)));
                x->changes++;
            }
        }
        json_decref(have);
        if (rc != EV_OK)
            return imp_fail(x, 0, "the database refused a guidance item");
        json_object_set_new(gsum, kind, json_integer((json_int_t)nh));
    }
    return EV_OK;
}

static int import_unit(imp_t *x, int64_t qid_named, json_t *unit, size_t ui, json_t *usum, int64_t *qid_out)
{
    int64_t qid = qid_named, uid = 0;
    int partial = json_is_true(json_object_get(unit, "partial"));
    int before = x->changes, keep_ref = 0;
    if (find_unit(x, &qid, unit, ui, &uid, &keep_ref) != EV_OK)
        return EV_ERR;
    const char *action = "unchanged";
    if (!uid) {
        if (!*jstr(unit, "title"))
            return imp_fail(x, unit_line(x, ui), "the unit has no title");
        if (!json_object_get(unit, "outcomes"))
            return imp_fail(x, unit_line(x, ui), "a new unit needs its learning outcomes");
        char ref[64];
        if (*jstr(unit, "ref")) {
            snprintf(ref, sizeof ref, "%s", jstr(unit, "ref"));
        } else {
            int64_t n = db_int(x->db, "SELECT count(*) FROM units WHERE qualification_id = ?", 0, "i", qid);
            do
                snprintf(ref, sizeof ref, "U%lld", (long long)++n);
            while (db_int(x->db, "SELECT count(*) FROM units WHERE qualification_id = ? AND ref = ?", 0, "it", qid, ref));
        }
        int64_t pos = db_int(x->db, "SELECT coalesce(max(position), 0) + 1 FROM units WHERE qualification_id = ?", 1,
                             "i", qid);
        uid = db_int(x->db,
                     "INSERT INTO units (qualification_id, ref, title, synopsis, position) VALUES (?, ?, ?, ?, ?)"
                     " RETURNING id",
                     0, "itttI", qid, ref, jstr(unit, "title"), jstr(unit, "synopsis"), (int)pos);
        if (uid <= 0)
            return imp_fail(x, unit_line(x, ui), "the database refused the unit (is its ref '%s' taken?)", ref);
        action = "created";
        x->changes++;
    } else {
        json_t *cur = db_one(x->db, "SELECT ref, title, synopsis, retired FROM units WHERE id = ?", "i", uid);
        if (!cur)
            return imp_fail(x, 0, "the database could not read unit %lld", (long long)uid);
        const char *title = *jstr(unit, "title") ? jstr(unit, "title") : jstr(cur, "title");
        const char *syn = json_object_get(unit, "synopsis") ? jstr(unit, "synopsis") : jstr(cur, "synopsis");
        const char *ref = *jstr(unit, "ref") && !keep_ref ? jstr(unit, "ref") : jstr(cur, "ref");
        if (strcmp(title, jstr(cur, "title")) || strcmp(syn, jstr(cur, "synopsis")) || strcmp(ref, jstr(cur, "ref")) ||
            jint(cur, "retired")) {
            if (db_run(x->db, "UPDATE units SET ref = ?, title = ?, synopsis = ?, retired = 0 WHERE id = ?", "ttti",
                       ref, title, syn, uid) != EV_OK) {
                json_decref(cur);
                return imp_fail(x, unit_line(x, ui), "the database refused the unit update (is ref '%s' taken?)", ref);
            }
            x->changes++;
        }
        json_decref(cur);
    }

    json_t *num2id = json_object(), *osum = counts_new(), *csum = counts_new(), *gsum = json_object(),
           *assignment = json_array();
    int rc = EV_ERR;
    if (json_object_get(unit, "outcomes")) {
        if (sync_outcomes(x, uid, json_object_get(unit, "outcomes"), partial, osum, num2id) != EV_OK)
            goto out;
    } else if (borrow_outcomes(x, uid, unit, ui, num2id) != EV_OK) {
        goto out;
    }
    if (sync_criteria(x, uid, json_object_get(unit, "criteria"), partial, num2id, csum, assignment) != EV_OK)
        goto out;
    json_t *g = json_object_get(unit, "guidance");
    if (sync_guidance(x, uid, g, partial, gsum) != EV_OK)
        goto out;
    if (combination_sync_unit(x->db, uid, unit, &x->changes) != EV_OK) {
        imp_fail(x, unit_line(x, ui), "the database refused the unit's credit value, level or reference numbers");
        goto out;
    }
    if (!json_object_get(unit, "outcomes"))
        json_object_set_new(osum, "total", json_integer(json_object_size(num2id)));
    if (*jstr(unit, "kind") &&
        db_int(x->db, "SELECT count(*) FROM units WHERE id = ? AND kind = ?", 0, "it", uid, jstr(unit, "kind")) == 0) {
        if (db_run(x->db, "UPDATE units SET kind = ? WHERE id = ?", "ti", jstr(unit, "kind"), uid) != EV_OK) {
            imp_fail(x, 1, "the database refused the unit's kind");
            goto out;
        }
        x->changes++;
    }
    if (!strcmp(action, "unchanged") && x->changes > before)
        action = "updated";
    json_t *row = db_one(x->db, "SELECT id, ref, title FROM units WHERE id = ?", "i", uid);
    if (row) {
        json_object_update(usum, row);
        json_decref(row);
    }
    json_object_set_new(usum, "qualification_id", json_integer(qid));
    json_object_set_new(usum, "action", json_string(action));
    json_object_set_new(usum, "partial", json_boolean(partial));
    json_object_set(usum, "outcomes", osum);
    json_object_set(usum, "criteria", csum);
    json_object_set(usum, "guidance", gsum);
    json_object_set(usum, "assignment", assignment);
    *qid_out = qid;
    rc = EV_OK;
out:
    json_decref(num2id);
    json_decref(osum);
    json_decref(csum);
    json_decref(gsum);
    json_decref(assignment);
    return rc;
}

static json_t *error_summary(const specimport_error_t *err)
{
    return json_pack("{s:s, s:b, s:{s:s, s:i, s:s}}", "file", err->file, "ok", 0, "error", "file", err->file,
                     "line", err->line, "reason", err->reason);
}

/* A standard's own details on its qualification row (kind 'standard', version,
 * typical duration, minimum off-the-job hours) and its duties, each with the KSB
 * codes it covers; compared first, so an unchanged document changes nothing. */
static int sync_standard(imp_t *x, int64_t qid, json_t *st)
{
    json_t *dm = json_object_get(st, "typical_duration_months"), *mh = json_object_get(st, "min_off_the_job_hours");
    int64_t months = dm ? (int64_t)json_integer_value(dm) : 0, hours = mh ? (int64_t)json_integer_value(mh) : 0;
    if (db_int(x->db,
               "SELECT count(*) FROM qualifications WHERE id = ? AND kind = 'standard' AND version = ?"
               " AND coalesce(typical_duration_months, 0) = ? AND coalesce(min_otj_hours, 0) = ?",
               0, "itii", qid, jstr(st, "version"), months, hours) == 0) {
        if (db_run(x->db,
                   "UPDATE qualifications SET kind = 'standard', version = ?, typical_duration_months = ?,"
                   " min_otj_hours = ? WHERE id = ?",
                   "tzzi", jstr(st, "version"), months, hours, qid) != EV_OK)
            return imp_fail(x, 1, "the database refused the standard's details");
        x->changes++;
    }
    json_t *cur = db_all(x->db, "SELECT ref, text, ksbs FROM standard_duties WHERE qualification_id = ?"
                                " ORDER BY position", "i", qid);
    json_t *want = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(st, "duties"), i, d) {
        buf_t b = {0};
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(d, "ksbs"), k, c) buf_printf(&b, "%s%s", k ? " " : "", json_string_value(c));
        json_array_append_new(want, json_pack("{s:s, s:s, s:s}", "ref", jstr(d, "ref"), "text", jstr(d, "text"),
                                              "ksbs", b.data ? b.data : ""));
        buf_free(&b);
    }
    int rc = EV_OK;
    if (!cur || !json_equal(cur, want)) {
        if (db_run(x->db, "DELETE FROM standard_duties WHERE qualification_id = ?", "i", qid) != EV_OK)
            rc = imp_fail(x, 1, "the database refused the standard's duties");
        json_array_foreach(want, i, d) {
            if (rc == EV_OK &&
                db_run(x->db, "INSERT INTO standard_duties (qualification_id, position, ref, text, ksbs)"
                              " VALUES (?, ?, ?, ?, ?)", "iIttt", qid, (int)i + 1, jstr(d, "ref"), jstr(d, "text"),
                       jstr(d, "ksbs")) != EV_OK)
                rc = imp_fail(x, 1, "the database refused duty %s", jstr(d, "ref"));
        }
        if (rc == EV_OK)
            x->changes++;
    }
    json_decref(cur);
    json_decref(want);
    return rc;
}

/* Imports a parsed document (see qualifications_import_buffer). */
static json_t *import_parsed(db_t *db, const char *data, size_t len, json_t *parsed,
                             const qualifications_import_opts_t *o, specimport_error_t *err)
{
    imp_t x = {db, o, data, len, jstr(parsed, "format"), err, 0, json_array()};
    json_t *spec = json_object_get(parsed, "spec");
    /* A standard imports as its qualification-shaped form (specimport_standard_units). */
    json_t *standard = json_object_get(spec, "standard");
    json_t *std_spec = standard ? specimport_standard_units(standard) : NULL;
    if (std_spec)
        spec = std_spec;
    json_t *sum = json_pack("{s:s, s:b, s:s, s:b, s:n, s:[], s:O}", "file", err->file, "ok", 1, "format", x.format,
                            "dry_run", o->dry_run, "qualification", "units", "warnings",
                            json_object_get(parsed, "warnings"));
    json_t *touched = json_array();
    int64_t qid = 0;
    if (db_begin(db) != EV_OK) {
        imp_fail(&x, 0, "the database is busy; try again");
        goto fail_nobegin;
    }
    json_t *q = json_object_get(spec, "qualification");
    if (q) {
        json_t *qsum = json_object();
        json_object_set_new(sum, "qualification", qsum);
        if (import_qualification(&x, q, &qid, qsum) != EV_OK)
            goto fail;
        if (combination_sync_qualification(db, qid, q, &x.changes) != EV_OK) {
            imp_fail(&x, 0, "the database refused the qualification's structure");
            goto fail;
        }
        if (standard && sync_standard(&x, qid, standard) != EV_OK)
            goto fail;
    } else if (o->qualification) {
        qid = find_qualification(db, o->qualification);
        if (!qid) {
            imp_fail(&x, 0, "no qualification '%s' (--qualification takes an id or a code)", o->qualification);
            goto fail;
        }
        json_t *row = db_one(db, "SELECT id, code, title, awarding_body, level, framework FROM qualifications "
                                 "WHERE id = ?", "i", qid);
        if (row) {
            json_object_set_new(row, "action", json_string("unchanged"));
            json_object_set_new(sum, "qualification", row);
        }
    }
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(spec, "units"), i, u) {
        json_t *usum = json_object();
        json_array_append_new(json_object_get(sum, "units"), usum);
        int64_t uq = 0;
        if (import_unit(&x, qid, u, i, usum, &uq) != EV_OK)
            goto fail;
        int seen = 0;
        size_t k;
        json_t *t;
        json_array_foreach(touched, k, t) seen |= json_integer_value(t) == uq;
        if (!seen)
            json_array_append_new(touched, json_integer(uq));
    }
    if (json_is_null(json_object_get(sum, "qualification")) && json_array_size(touched)) {
        json_t *row = db_one(db, "SELECT id, code, title, awarding_body, level, framework FROM qualifications "
                                 "WHERE id = ?", "i", (int64_t)json_integer_value(json_array_get(touched, 0)));
        if (row) {
            json_object_set_new(row, "action", json_string("unchanged"));
            json_object_set_new(sum, "qualification", row);
        }
    }
    if (x.changes) {
        /* What the revision means for assessment: counts, and sign-offs flagged for review. */
        char today[21];
        util_now_iso(today);
        today[10] = '\0';
        if (rules_spec_revision(db, x.revisions, today) != EV_OK) {
            imp_fail(&x, 0, "the sign-offs the revision affects could not be flagged");
            goto fail;
        }
        json_t *t;
        json_array_foreach(touched, i, t) {
            int64_t tq = (int64_t)json_integer_value(t);
            json_t *after = json_pack("{s:s, s:s, s:i, s:[]}", "file", err->file, "format", x.format, "changes",
                                      x.changes, "units");
            size_t k;
            json_array_foreach(json_object_get(sum, "units"), k, u) {
                if (jint(u, "qualification_id") != tq)
                    continue;
                json_array_append_new(json_object_get(after, "units"),
                                      json_pack("{s:I, s:s, s:s, s:O, s:O}", "id", (json_int_t)jint(u, "id"), "title",
                                                jstr(u, "title"), "action", jstr(u, "action"), "outcomes",
                                                json_object_get(u, "outcomes"), "criteria",
                                                json_object_get(u, "criteria")));
            }
            json_object_set(after, "revisions", x.revisions);
            int arc = audit_record(db, o->actor_id, "spec.import", "qualification", tq, 0, NULL, after);
            json_decref(after);
            if (arc != EV_OK) {
                imp_fail(&x, 0, "the audit trail could not record the import");
                goto fail;
            }
            if (status_sync_qualification(db, tq) != EV_OK) {
                imp_fail(&x, 0, "learners' criterion status could not be updated");
                goto fail;
            }
        }
    }
    if (o->dry_run ? db_rollback(db) : db_commit(db)) {
        imp_fail(&x, 0, "the database could not commit the import");
        goto fail_nobegin;
    }
    json_object_set_new(sum, "changes", json_integer(x.changes));
    json_object_set_new(sum, "revisions", x.revisions);
    json_decref(touched);
    json_decref(std_spec);
    return sum;
fail:
    db_rollback(db);
fail_nobegin:
    json_decref(std_spec);
    json_decref(x.revisions);
    json_decref(touched);
    json_decref(sum);
    return NULL;
}

json_t *qualifications_import_buffer(db_t *db, const char *name, const char *data, size_t len,
                                     const qualifications_import_opts_t *opts)
{
    specimport_error_t err;
    json_t *parsed = specimport_parse(name, data, len, &err);
    if (!parsed)
        return error_summary(&err);
    json_t *sum = import_parsed(db, data, len, parsed, opts, &err);
    json_decref(parsed);
    return sum ? sum : error_summary(&err);
}

json_t *qualifications_import_file(db_t *db, const char *path, const qualifications_import_opts_t *opts)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = 0;
    char *data = util_read_file(path, &len);
    if (!data) {
        specimport_error_t err = {{0}, 0, {0}};
        snprintf(err.file, sizeof err.file, "%s", base);
        snprintf(err.reason, sizeof err.reason, "cannot read the file");
        return error_summary(&err);
    }
    json_t *sum = qualifications_import_buffer(db, base, data, len, opts);
    free(data);
    return sum;
}

/* The layout a summary's "format" names, in words. */
static const char *format_name(const char *fmt)
{
    return !strcmp(fmt, "json")            ? "canonical JSON"
           : !strcmp(fmt, "standard")      ? "apprenticeship standard (canonical JSON)"
           : !strcmp(fmt, "revision-page") ? "revision page"
           : !strcmp(fmt, "unit-page")     ? "unit page (learning outcomes with their assessment criteria)"
           : !strcmp(fmt, "unit-handbook") ? "unit handbook text"
                                           : "revision page (short, no title line)";
}

void qualifications_summary_text(json_t *s, buf_t *out)
{
    if (!json_is_true(json_object_get(s, "ok"))) {
        json_t *e = json_object_get(s, "error");
        if (jint(e, "line"))
            buf_printf(out, "%s:%lld: %s\n", jstr(e, "file"), (long long)jint(e, "line"), jstr(e, "reason"));
        else
            buf_printf(out, "%s: %s\n", jstr(e, "file"), jstr(e, "reason"));
        buf_printf(out, "%s: nothing imported from this file\n", jstr(e, "file"));
        return;
    }
    const char *fmt = jstr(s, "format");
    buf_printf(out, "%s: %s%s: %s\n", jstr(s, "file"),
               format_name(fmt),
               json_is_true(json_object_get(s, "dry_run")) ? " (dry run: nothing saved)" : "",
               jint(s, "changes") ? "changes below" : "no changes (already up to date)");
    json_t *q = json_object_get(s, "qualification");
    if (json_is_object(q))
        buf_printf(out, "  qualification %s \"%s\" (id %lld): %s\n", jstr(q, "code"), jstr(q, "title"),
                   (long long)jint(q, "id"), jstr(q, "action"));
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(s, "units"), i, u) {
        json_t *oc = json_object_get(u, "outcomes"), *cc = json_object_get(u, "criteria");
        buf_printf(out, "  unit %s \"%s\" (id %lld): %s: %lld outcomes", jstr(u, "ref"), jstr(u, "title"),
                   (long long)jint(u, "id"), jstr(u, "action"), (long long)jint(oc, "total"));
        if (jint(oc, "created") || jint(oc, "updated") || jint(oc, "retired"))
            buf_printf(out, " (%lld new, %lld updated, %lld retired)", (long long)jint(oc, "created"),
                       (long long)jint(oc, "updated"), (long long)jint(oc, "retired"));
        buf_printf(out, ", %lld criteria", (long long)jint(cc, "total"));
        if (jint(cc, "created") || jint(cc, "updated") || jint(cc, "retired"))
            buf_printf(out, " (%lld new, %lld updated, %lld retired)", (long long)jint(cc, "created"),
                       (long long)jint(cc, "updated"), (long long)jint(cc, "retired"));
        buf_puts(out, "\n    guidance:");
        for (size_t k = 0; specimport_guidance_kinds[k]; k++)
            buf_printf(out, " %s %lld", specimport_guidance_kinds[k],
                       (long long)jint(json_object_get(u, "guidance"), specimport_guidance_kinds[k]));
        buf_puts(out, "\n");
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(u, "assignment"), k, a) {
            const char *t = jstr(a, "text");
            buf_printf(out, "    %-5s -> outcome %lld by %s", jstr(a, "ref"), (long long)jint(a, "outcome"), jstr(a, "by"));
            if (*jstr(a, "matched_text"))
                buf_printf(out, " (%s)", jstr(a, "matched_text"));
            size_t tl = strlen(t), cut = tl > 70 ? 70 : tl;
            while (cut < tl && cut && ((unsigned char)t[cut] & 0xC0) == 0x80)
                cut--; /* not inside a UTF-8 sequence */
            buf_puts(out, ": ");
            for (size_t ci = 0; ci < cut; ci++) /* sub-items on one line here */
                buf_putc(out, t[ci] == '\n' ? ' ' : t[ci]);
            buf_printf(out, "%s\n", cut < tl ? "..." : "");
        }
    }
    /* The revision's effect on assessment (rules_spec_revision). */
    json_array_foreach(json_object_get(s, "revisions"), i, u) {
        buf_printf(out, "  revision: criterion %s %s: %lld learner%s, %lld current decision%s affected", jstr(u, "ref"),
                   jstr(u, "change"), (long long)jint(u, "learners"), jint(u, "learners") == 1 ? "" : "s",
                   (long long)jint(u, "decisions"), jint(u, "decisions") == 1 ? "" : "s");
        if (jint(u, "signed_off"))
            buf_printf(out, "; %lld unit sign-off%s flagged for review", (long long)jint(u, "signed_off"),
                       jint(u, "signed_off") == 1 ? "" : "s");
        buf_puts(out, "\n");
    }
    json_t *w;
    json_array_foreach(json_object_get(s, "warnings"), i, w) buf_printf(out, "  note: %s\n", json_string_value(w));
}

int qualifications_cli_import(int argc, char **argv)
{
    const char *path = "evitrack.db";
    qualifications_import_opts_t o = {0, NULL, 0};
    int as_json = 0, print_json = 0, nfiles = 0, failed = 0;
    char **files = xcalloc((size_t)argc + 1, sizeof *files);
    int rc = 2;
    db_t *db = NULL;
    json_t *all = json_array();
    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &path)) || (got = cli_opt(argc, argv, &i, "qualification", &o.qualification))) {
            if (got < 0)
                goto out;
        } else if (cli_flag(argv, &i, "dry-run")) {
            o.dry_run = 1;
        } else if (cli_flag(argv, &i, "json")) {
            as_json = 1;
        } else if (cli_flag(argv, &i, "print-json")) {
            print_json = 1;
        } else if (cli_flag(argv, &i, "help")) {
            fputs("Usage: evitrack import [--db FILE] [--qualification ID_OR_CODE] [--dry-run] [--json] FILE...\n"
                  "       evitrack import --print-json FILE...\n"
                  "Imports qualification specifications: canonical JSON or awarding-body revision pages\n"
                  "(see docs/spec-format.md). Each file is imported in its own transaction; a file with a\n"
                  "problem imports nothing and is reported as FILE:LINE: reason.\n"
                  "  --qualification ID_OR_CODE  where a document that names no qualification belongs\n"
                  "  --dry-run                   report what would change, save nothing\n"
                  "  --json                      print the import summaries as JSON\n"
                  "  --print-json                convert to canonical JSON on stdout; no database\n",
                  stdout);
            rc = 0;
            goto out;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_usage_error("import: unknown option %s (usage: import [--db FILE] [--qualification ID_OR_CODE] "
                                 "[--dry-run] [--json] [--print-json] FILE...)", argv[i]);
            goto out;
        } else {
            files[nfiles++] = argv[i++];
        }
    }
    if (!nfiles) {
        rc = cli_usage_error("import: name at least one spec file (usage: import [--db FILE] FILE...)");
        goto out;
    }
    if (print_json) {
        /* Conversion only: the canonical JSON of each document, no database. */
        rc = 0;
        for (int i = 0; i < nfiles; i++) {
            specimport_error_t err;
            json_t *parsed = specimport_parse_file(files[i], &err);
            if (!parsed) {
                fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.reason);
                rc = 1;
                continue;
            }
            json_t *spec = json_object_get(parsed, "spec");
            if (!json_object_get(spec, "source"))
                json_object_set_new(spec, "source", json_pack("{s:s, s:s}", "file", err.file, "format",
                                                              jstr(parsed, "format")));
            json_t *ordered = specimport_ordered(spec);
            char *text = json_dumps(ordered, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("%s\n", text);
            free(text);
            json_decref(ordered);
            json_decref(parsed);
        }
        goto out;
    }
    db = cli_open_db(path);
    if (!db) {
        rc = 1;
        goto out;
    }
    for (int i = 0; i < nfiles; i++) {
        json_t *s = qualifications_import_file(db, files[i], &o);
        if (!json_is_true(json_object_get(s, "ok")))
            failed++;
        if (!as_json) {
            buf_t b = {0};
            qualifications_summary_text(s, &b);
            fputs(b.data ? b.data : "", json_is_true(json_object_get(s, "ok")) ? stdout : stderr);
            buf_free(&b);
        }
        json_array_append_new(all, s);
    }
    if (as_json) {
        json_t *doc = json_pack("{s:O, s:i}", "files", all, "failed", failed);
        char *text = json_dumps(doc, JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(doc);
    }
    rc = failed ? 1 : 0;
out:
    json_decref(all);
    db_close(db);
    free(files);
    return rc;
}

int qualifications_demo_seed(db_t *db)
{
    qualifications_import_opts_t o = {0, NULL, 0};
    int rc = EV_OK;
    for (const embedded_file_t *f = embedded_demo_specs; f->name; f++) {
        json_t *s = qualifications_import_buffer(db, f->name, f->data, f->size, &o);
        if (!json_is_true(json_object_get(s, "ok"))) {
            buf_t b = {0};
            qualifications_summary_text(s, &b);
            ev_log("demo: %s", b.data ? b.data : f->name);
            buf_free(&b);
            rc = EV_ERR;
        }
        json_decref(s);
    }
    if (rc == EV_OK)
        printf("Demo qualifications: %lld, with %lld units and %lld assessment criteria.\n",
               (long long)db_int(db, "SELECT count(*) FROM qualifications", 0, ""),
               (long long)db_int(db, "SELECT count(*) FROM units WHERE retired = 0", 0, ""),
               (long long)db_int(db, "SELECT count(*) FROM criteria WHERE retired = 0", 0, ""));
    return rc;
}

/* ==== API and pages ==== */

/* Splits text into paragraphs at blank lines: a new array of strings. */
static json_t *paragraphs(const char *text)
{
    json_t *a = json_array();
    const char *p = text ? text : "";
    while (*p) {
        const char *e = strstr(p, "\n\n");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
        while (*p == '\n')
            p++;
    }
    return a;
}

/* Hangs outcomes (each with its criteria) under their units: units_by_id maps
 * "unit id" -> unit object; both lists come ordered for display. */
static void build_tree(json_t *units_by_id, json_t *outcomes, json_t *criteria)
{
    json_t *by_outcome = json_object();
    size_t i;
    json_t *o, *c;
    char key[32];
    json_array_foreach(outcomes, i, o) {
        snprintf(key, sizeof key, "%lld", (long long)jint(o, "unit_id"));
        json_t *u = json_object_get(units_by_id, key);
        if (!u)
            continue;
        json_object_set_new(o, "criteria", json_array());
        json_array_append(json_object_get(u, "outcomes"), o);
        snprintf(key, sizeof key, "%lld", (long long)jint(o, "id"));
        json_object_set(by_outcome, key, o);
    }
    json_array_foreach(criteria, i, c) {
        snprintf(key, sizeof key, "%lld", (long long)jint(c, "outcome_id"));
        json_t *o2 = json_object_get(by_outcome, key);
        snprintf(key, sizeof key, "%lld", (long long)jint(c, "unit_id"));
        json_t *u = json_object_get(units_by_id, key);
        if (!u)
            continue;
        json_object_set_new(u, "criteria_count", json_integer(jint(u, "criteria_count") + 1));
        json_object_set_new(c, "text_parts", specimport_text_items(jstr(c, "text")));
        if (o2)
            json_array_append(json_object_get(o2, "criteria"), c);
    }
    const char *k;
    json_t *u;
    json_object_foreach(units_by_id, k, u)
        json_object_set_new(u, "outcome_count", json_integer((json_int_t)json_array_size(json_object_get(u, "outcomes"))));
    json_decref(by_outcome);
}

/* GET /api/v1/qualifications, /qualifications: every qualification with its
 * unit and criteria counts, by title. */
static int qualifications_list(req_t *r)
{
    int64_t limit, offset;
    http_page(r, 25, &limit, &offset);
    int64_t total = db_int(r->db, "SELECT count(*) FROM qualifications", 0, "");
    json_t *rows = db_all(r->db,
                          "SELECT q.id, q.code, q.title, q.awarding_body, q.level, q.framework, q.subject, "
                          "(SELECT count(*) FROM units u WHERE u.qualification_id = q.id AND u.retired = 0) AS unit_count, "
                          "(SELECT count(*) FROM criteria c JOIN units u ON u.id = c.unit_id "
                          " WHERE u.qualification_id = q.id AND u.retired = 0 AND c.retired = 0) AS criteria_count "
                          "FROM qualifications q ORDER BY lower(q.title), q.id LIMIT ? OFFSET ?",
                          "ii", limit, offset);
    if (!rows)
        return http_fail(r, 500, "database_error", "The qualifications could not be read.");
    json_t *out = json_pack("{s:o, s:b}", "qualifications", rows, "can_import", r->user.role == ROLE_ADMIN);
    http_paginate(r, out, total);
    http_set_out(r, out);
    return 200;
}

/* GET /api/v1/qualifications/{id}, /qualifications/{id}: the qualification
 * with units[] -> outcomes[] -> criteria[] (current ones, in order). */
static int qualification_show(req_t *r)
{
    int64_t qid = r->params[0];
    json_t *q = db_one(r->db,
                       "SELECT id, code, title, qan, awarding_body, level, framework, subject, glh, tqt, credit_value, "
                       "description, kind, version, typical_duration_months, min_otj_hours, created_at, updated_at "
                       "FROM qualifications WHERE id = ?",
                       "i", qid);
    if (!q)
        return http_fail(r, 404, "not_found", "There is no qualification %lld.", (long long)qid);
    json_t *units = db_all(r->db, "SELECT id, ref, number, urn, title, level, credit_value, glh, tqt, synopsis, position, kind "
                                  "FROM units WHERE qualification_id = ? AND retired = 0 ORDER BY position, id", "i", qid);
    json_t *outcomes = db_all(r->db,
                              "SELECT o.id, o.unit_id, o.number, o.text FROM outcomes o JOIN units u ON u.id = o.unit_id "
                              "WHERE u.qualification_id = ? AND u.retired = 0 AND o.retired = 0 ORDER BY o.unit_id, o.number",
                              "i", qid);
    json_t *criteria = db_all(r->db,
                              "SELECT c.id, c.unit_id, c.outcome_id, c.ref, c.text FROM criteria c "
                              "JOIN units u ON u.id = c.unit_id WHERE u.qualification_id = ? AND u.retired = 0 "
                              "AND c.retired = 0 ORDER BY c.unit_id, c.position, c.id",
                              "i", qid);
    if (!units || !outcomes || !criteria) {
        json_decref(q);
        json_decref(units);
        json_decref(outcomes);
        json_decref(criteria);
        return http_fail(r, 500, "database_error", "The qualification could not be read.");
    }
    json_t *by_id = json_object();
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)jint(u, "id"));
        json_object_set_new(u, "outcomes", json_array());
        json_object_set_new(u, "criteria_count", json_integer(0));
        json_object_set_new(u, "synopsis_paragraphs", paragraphs(jstr(u, "synopsis")));
        json_object_set(by_id, key, u);
    }
    build_tree(by_id, outcomes, criteria);
    json_object_set_new(q, "units", units);
    json_object_set_new(q, "unit_count", json_integer((json_int_t)json_array_size(units)));
    json_object_set_new(q, "criteria_count", json_integer((json_int_t)json_array_size(criteria)));
    json_object_set_new(q, "description_paragraphs", paragraphs(jstr(q, "description")));
    json_object_set_new(q, "can_import", json_boolean(r->user.role == ROLE_ADMIN));
    json_object_set_new(q, "can_export", json_boolean(r->user.role != ROLE_LEARNER));
    json_object_set_new(q, "structure", combination_structure(r->db, qid));
    if (!strcmp(jstr(q, "kind"), "standard")) {
        /* An apprenticeship standard: its duties, each with the KSB codes it covers. */
        json_object_set_new(q, "is_standard", json_true());
        json_t *duties = db_all(r->db, "SELECT ref, text, ksbs FROM standard_duties WHERE qualification_id = ?"
                                       " ORDER BY position", "i", qid);
        json_t *d;
        json_array_foreach(duties, i, d) {
            json_t *codes = json_array();
            char *copy = xstrdup(jstr(d, "ksbs")), *save = NULL;
            for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
                json_array_append_new(codes, json_string(t));
            free(copy);
            json_object_set_new(d, "ksbs", codes);
        }
        json_object_set_new(q, "duties", duties ? duties : json_array());
    }
    json_decref(by_id);
    json_decref(outcomes);
    json_decref(criteria);
    http_set_out(r, q);
    return 200;
}

/* The loaded qualification as a canonical spec (current units, outcomes,
 * criteria with their outcome and ref, guidance), keys in documented order.
 * Importing it again changes nothing. NULL when there is no such qualification. */
static json_t *export_spec(db_t *db, int64_t qid);

/* A standard as its canonical document ({"evitrack_spec", "standard": {...}}). */
static json_t *export_standard(db_t *db, int64_t qid)
{
    json_t *q = db_one(db, "SELECT code, title, level, version, subject, description, typical_duration_months,"
                           " min_otj_hours FROM qualifications WHERE id = ?", "i", qid);
    if (!q)
        return NULL;
    json_t *st = json_pack("{s:s, s:s}", "reference", jstr(q, "code"), "title", jstr(q, "title"));
    static const char *const copy[][2] = {{"level", "level"}, {"version", "version"}, {"subject", "route"},
                                          {"description", "description"}};
    for (size_t k = 0; k < 4; k++)
        if (*jstr(q, copy[k][0]))
            json_object_set_new(st, copy[k][1], json_string(jstr(q, copy[k][0])));
    if (jint(q, "typical_duration_months") > 0)
        json_object_set(st, "typical_duration_months", json_object_get(q, "typical_duration_months"));
    if (jint(q, "min_otj_hours") > 0)
        json_object_set(st, "min_off_the_job_hours", json_object_get(q, "min_otj_hours"));
    json_t *duties = json_array();
    json_t *rows = db_all(db, "SELECT ref, text, ksbs FROM standard_duties WHERE qualification_id = ? ORDER BY position",
                          "i", qid);
    size_t i;
    json_t *d;
    json_array_foreach(rows, i, d) {
        json_t *codes = json_array();
        char *c = xstrdup(jstr(d, "ksbs")), *save = NULL;
        for (char *t = strtok_r(c, " ", &save); t; t = strtok_r(NULL, " ", &save))
            json_array_append_new(codes, json_string(t));
        free(c);
        json_array_append_new(duties, json_pack("{s:s, s:s, s:o}", "ref", jstr(d, "ref"), "text", jstr(d, "text"),
                                                "ksbs", codes));
    }
    json_decref(rows);
    json_object_set_new(st, "duties", duties);
    static const char *const kinds[] = {"knowledge", "skills", "behaviours"};
    for (size_t k = 0; k < 3; k++) {
        json_t *list = db_all(db, "SELECT c.ref AS code, c.text FROM criteria c JOIN units u ON u.id = c.unit_id"
                                  " WHERE u.qualification_id = ? AND u.kind = ? AND u.retired = 0 AND c.retired = 0"
                                  " ORDER BY c.position, c.id", "it", qid, kinds[k]);
        json_object_set_new(st, kinds[k], list ? list : json_array());
    }
    json_decref(q);
    json_t *spec = json_pack("{s:i, s:o}", "evitrack_spec", SPECIMPORT_VERSION, "standard", st);
    json_t *ordered = specimport_ordered(spec);
    json_decref(spec);
    return ordered;
}

static json_t *export_spec(db_t *db, int64_t qid)
{
    if (db_int(db, "SELECT count(*) FROM qualifications WHERE id = ? AND kind = 'standard'", 0, "i", qid))
        return export_standard(db, qid);
    json_t *q = db_one(db, "SELECT code, title, awarding_body, level, framework, subject, description "
                           "FROM qualifications WHERE id = ?", "i", qid);
    if (!q)
        return NULL;
    json_t *units = db_all(db, "SELECT id, ref, title, synopsis FROM units WHERE qualification_id = ? AND retired = 0 "
                               "ORDER BY position, id", "i", qid);
    combination_export_qualification(db, qid, q);
    json_t *spec = json_pack("{s:i, s:o, s:[]}", "evitrack_spec", SPECIMPORT_VERSION, "qualification", q, "units");
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u) {
        int64_t uid = jint(u, "id");
        json_t *out = json_pack("{s:s, s:s, s:s}", "ref", jstr(u, "ref"), "title", jstr(u, "title"), "synopsis",
                                jstr(u, "synopsis"));
        json_t *outs = db_all(db, "SELECT number, text FROM outcomes WHERE unit_id = ? AND retired = 0 ORDER BY number",
                              "i", uid);
        json_t *crit = db_all(db, "SELECT c.ref, o.number AS outcome, c.text FROM criteria c JOIN outcomes o "
                                  "ON o.id = c.outcome_id WHERE c.unit_id = ? AND c.retired = 0 ORDER BY c.position, c.id",
                              "i", uid);
        json_t *g = json_object();
        for (size_t k = 0; specimport_guidance_kinds[k]; k++) {
            json_t *rows = db_all(db, "SELECT text FROM unit_guidance WHERE unit_id = ? AND kind = ? ORDER BY position",
                                  "it", uid, specimport_guidance_kinds[k]);
            json_t *items = json_array();
            size_t j;
            json_t *row;
            json_array_foreach(rows, j, row) json_array_append_new(items, json_string(jstr(row, "text")));
            json_decref(rows);
            if (json_array_size(items))
                json_object_set_new(g, specimport_guidance_kinds[k], items);
            else
                json_decref(items);
        }
        json_object_set_new(out, "outcomes", outs ? outs : json_array());
        json_object_set_new(out, "criteria", crit ? crit : json_array());
        json_object_set_new(out, "guidance", g);
        combination_export_unit(db, uid, out);
        json_array_append_new(json_object_get(spec, "units"), out);
    }
    json_decref(units);
    json_t *ordered = specimport_ordered(spec);
    json_decref(spec);
    return ordered;
}

/* GET /api/v1/qualifications/{id}/spec: the qualification as it is loaded, as a
 * canonical JSON spec file to download, edit and import again. */
static int qualification_spec(req_t *r)
{
    json_t *spec = export_spec(r->db, r->params[0]);
    if (!spec)
        return http_fail(r, 404, "not_found", "There is no qualification %lld.", (long long)r->params[0]);
    char *text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_t *named = json_object_get(spec, "standard") ? json_object_get(spec, "standard") : json_object_get(spec, "qualification");
    char *name = fmtalloc("%s.json", jstr(named, json_object_get(spec, "standard") ? "reference" : "code"));
    for (char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            *p = '_';
    json_decref(spec);
    if (!text) {
        free(name);
        return http_fail(r, 500, "export_failed", "The specification could not be written.");
    }
    size_t len = strlen(text);
    http_send_buffer(r, text, len, "application/json", name);
    free(name);
    return 200;
}

static const struct guidance_heading {
    const char *kind, *heading, *hint;
} guidance_headings[] = {
    {"key_concepts", "Key concepts", "The core ideas you need to understand for this unit."},
    {"assessment_guidance", "Assessment guidance", "How to show your assessor that you meet the criteria."},
    {"common_mistakes", "Common mistakes", "Errors to avoid in your evidence."},
    {"key_terms", "Key terms", "Terms to know and use in your evidence."},
    {"prior_knowledge", "Before you start", "Knowledge and skills that will help with this unit."},
    {NULL, NULL, NULL},
};

/* GET /api/v1/units/{id}, /units/{id}: one unit as a learner reads it before
 * collecting evidence: synopsis, outcomes with their criteria, guidance lists. */
static int unit_show(req_t *r)
{
    int64_t uid = r->params[0];
    json_t *u = db_one(r->db, "SELECT id, qualification_id, ref, number, urn, title, level, credit_value, glh, tqt, synopsis, "
                              "position, retired FROM units WHERE id = ?", "i", uid);
    if (!u)
        return http_fail(r, 404, "not_found", "There is no unit %lld.", (long long)uid);
    json_t *q = db_one(r->db, "SELECT id, code, title, awarding_body, level, framework FROM qualifications WHERE id = ?",
                       "i", jint(u, "qualification_id"));
    json_t *outcomes = db_all(r->db, "SELECT id, unit_id, number, text FROM outcomes WHERE unit_id = ? AND retired = 0 "
                                     "ORDER BY number", "i", uid);
    json_t *criteria = db_all(r->db, "SELECT id, unit_id, outcome_id, ref, text FROM criteria WHERE unit_id = ? "
                                     "AND retired = 0 ORDER BY position, id", "i", uid);
    json_t *guidance = db_all(r->db, "SELECT kind, text FROM unit_guidance WHERE unit_id = ? ORDER BY kind, position",
                              "i", uid);
    json_t *siblings = db_all(r->db, "SELECT id, ref, title FROM units WHERE qualification_id = ? AND retired = 0 "
                                     "ORDER BY position, id", "i", jint(u, "qualification_id"));
    int status = 200;
    if (!q || !outcomes || !criteria || !guidance || !siblings) {
        status = http_fail(r, 500, "database_error", "The unit could not be read.");
        json_decref(u);
        goto out;
    }
    json_object_set_new(u, "outcomes", json_array());
    json_object_set_new(u, "criteria_count", json_integer(0));
    json_object_set_new(u, "synopsis_paragraphs", paragraphs(jstr(u, "synopsis")));
    json_t *by_id = json_object();
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)uid);
    json_object_set(by_id, key, u);
    build_tree(by_id, outcomes, criteria);
    json_decref(by_id);
    json_object_set(u, "qualification", q);
    json_t *g = json_object(), *sections = json_array();
    for (size_t k = 0; guidance_headings[k].kind; k++) {
        json_t *items = json_array();
        size_t i;
        json_t *row;
        json_array_foreach(guidance, i, row) if (!strcmp(jstr(row, "kind"), guidance_headings[k].kind))
            json_array_append_new(items, json_string(jstr(row, "text")));
        json_object_set(g, guidance_headings[k].kind, items);
        if (json_array_size(items))
            json_array_append_new(sections, json_pack("{s:s, s:s, s:s, s:o}", "kind", guidance_headings[k].kind,
                                                      "heading", guidance_headings[k].heading, "hint",
                                                      guidance_headings[k].hint, "items", items));
        else
            json_decref(items);
    }
    json_object_set_new(u, "guidance", g);
    json_object_set_new(u, "guidance_sections", sections);
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s) json_object_set_new(s, "current", json_boolean(jint(s, "id") == uid));
    json_object_set(u, "units", siblings);
    json_object_set_new(u, "is_learner", json_boolean(r->user.role == ROLE_LEARNER));
    if (r->user.role == ROLE_LEARNER) {
        /* The learner's own status of each criterion, where they are enrolled. */
        json_t *st = db_all(r->db, "SELECT criterion_id, status FROM criterion_status WHERE learner_id = ? AND unit_id = ?",
                            "ii", r->user.id, uid);
        json_t *by = json_object();
        json_array_foreach(st, i, s) {
            char ck[32];
            snprintf(ck, sizeof ck, "%lld", (long long)jint(s, "criterion_id"));
            json_object_set(by, ck, json_object_get(s, "status"));
        }
        json_t *o;
        json_array_foreach(json_object_get(u, "outcomes"), i, o) {
            size_t k;
            json_t *c;
            json_array_foreach(json_object_get(o, "criteria"), k, c) {
                char ck[32];
                snprintf(ck, sizeof ck, "%lld", (long long)jint(c, "id"));
                const char *v = json_string_value(json_object_get(by, ck));
                if (v) {
                    json_object_set_new(c, "my_status", json_string(v));
                    json_object_set_new(c, "my_status_label", json_string(progress_status_label(v)));
                }
            }
        }
        json_object_set_new(u, "show_status", json_boolean(json_array_size(st) > 0));
        json_decref(by);
        json_decref(st);
    }
    http_set_out(r, u);
out:
    json_decref(q);
    json_decref(outcomes);
    json_decref(criteria);
    json_decref(guidance);
    json_decref(siblings);
    return status;
}

/* What the upload form needs: the qualifications to choose from and the
 * latest imports from the audit trail. */
static void upload_form_data(req_t *r, const char *selected)
{
    json_t *out = http_out(r);
    json_t *qs = db_all(r->db, "SELECT id, code, title FROM qualifications ORDER BY lower(title), id", "");
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)jint(q, "id"));
        json_object_set_new(q, "selected", json_boolean(selected && (!strcmp(selected, id) ||
                                                                     !strcasecmp(selected, jstr(q, "code")))));
    }
    json_object_set_new(out, "qualification_options", qs ? qs : json_array());
    json_t *recent = db_all(r->db,
                            "SELECT a.id, a.at, a.entity_id AS qualification_id, a.after AS after_json, "
                            "coalesce(u.name, 'system or command line') AS actor FROM audit_events a LEFT JOIN users u "
                            "ON u.id = a.actor_id WHERE a.action = 'spec.import' ORDER BY a.id DESC LIMIT 10",
                            "");
    json_object_set_new(out, "recent", recent ? recent : json_array());
}

/* GET /admin/specs: the form to import a spec file. */
static int spec_upload_form(req_t *r)
{
    upload_form_data(r, NULL);
    return 200;
}

/* Marks up a file summary for the page: status words and flags templates test. */
static void decorate_summary(json_t *s)
{
    json_t *e = json_object_get(s, "error");
    if (e) {
        char *msg = jint(e, "line") ? fmtalloc("%s, line %lld: %s", jstr(e, "file"), (long long)jint(e, "line"),
                                               jstr(e, "reason"))
                                    : fmtalloc("%s: %s", jstr(e, "file"), jstr(e, "reason"));
        json_object_set_new(e, "message", json_string(msg));
        free(msg);
        return;
    }
    json_object_set_new(s, "unchanged", json_boolean(jint(s, "changes") == 0));
    const char *fmt = jstr(s, "format");
    json_object_set_new(s, "format_name",
                        json_string(format_name(fmt)));
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(s, "units"), i, u) {
        json_t *gl = json_array();
        for (size_t k = 0; guidance_headings[k].kind; k++)
            json_array_append_new(gl, json_pack("{s:s, s:I}", "heading", guidance_headings[k].heading, "count",
                                                (json_int_t)jint(json_object_get(u, "guidance"), guidance_headings[k].kind)));
        json_object_set_new(u, "guidance_list", gl);
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(u, "assignment"), k, a) {
            const char *by = jstr(a, "by");
            json_object_set_new(a, "by_content", json_boolean(!strcmp(by, "content")));
            json_object_set_new(a, "by_order", json_boolean(!strcmp(by, "order")));
        }
    }
}

/* POST /api/v1/specs, /admin/specs: imports one or more spec files (multipart
 * "file" parts, or JSON {"name", "content"}), each in its own transaction,
 * and answers with each file's summary. Options: qualification (ID_OR_CODE
 * for documents that name none), dry_run. 400 when any file was refused. */
static int spec_import(req_t *r)
{
    qualifications_import_opts_t o = {r->user.id, NULL, in_bool(r, "dry_run")};
    const char *qopt = in_str(r, "qualification");
    if (qopt && *qopt)
        o.qualification = qopt;
    json_t *files = json_array();
    int failed = 0, nfiles = 0;
    int64_t changes = 0;
    json_t *first_err = NULL;
    json_t *sent_files = json_array(); /* uploaded files' text, for the preview's confirm form */
    size_t i;
    json_t *up;
    json_array_foreach(r->uploads, i, up) {
        const char *name = jstr(up, "name"), *tmp = jstr(up, "tmp_path");
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        const char *bs = strrchr(base, '\\');
        base = bs ? bs + 1 : base;
        json_t *s;
        nfiles++;
        if (jint(up, "size") > SPECIMPORT_MAX_BYTES) {
            specimport_error_t err = {{0}, 0, {0}};
            snprintf(err.file, sizeof err.file, "%s", base);
            snprintf(err.reason, sizeof err.reason, "larger than %d MB", SPECIMPORT_MAX_BYTES / (1024 * 1024));
            s = error_summary(&err);
        } else {
            size_t len = 0;
            char *data = util_read_file(tmp, &len);
            if (!data) {
                json_decref(files);
                json_decref(sent_files);
                return http_fail(r, 500, "storage_failed", "The uploaded file could not be read.");
            }
            s = qualifications_import_buffer(r->db, base, data, len, &o);
            if (o.dry_run && !r->is_api)
                json_array_append_new(sent_files, json_pack("{s:s, s:s%}", "name", base, "content", data, len));
            free(data);
        }
        json_array_append_new(files, s);
    }
    /* Documents sent as text: JSON {"name", "content"}, or the preview's confirm form
     * (one hidden name and content per file, in order). */
    json_t *contents = in_array(r, "content"), *names = in_array(r, "name");
    json_t *sent = json_array(); /* {name, content} of each file, for the confirm form */
    json_t *cv;
    json_array_foreach(contents, i, cv) {
        const char *content = json_string_value(cv);
        const char *name = json_string_value(json_array_get(names, i));
        if (!content)
            continue;
        nfiles++;
        json_array_append_new(files, qualifications_import_buffer(r->db, name && *name ? name : "upload", content,
                                                                  strlen(content), &o));
        json_array_append_new(sent, json_pack("{s:s, s:s}", "name", name && *name ? name : "upload", "content", content));
    }
    json_decref(contents);
    json_decref(names);
    json_array_extend(sent_files, sent);
    json_decref(sent);
    if (!nfiles) {
        json_decref(sent_files);
        json_decref(files);
        upload_form_data(r, qopt);
        http_field_error(r, "file", "Choose a specification file to import");
        return http_fail(r, 400, "no_file", "Choose a specification file to import.");
    }
    json_array_foreach(files, i, up) {
        decorate_summary(up);
        if (!json_is_true(json_object_get(up, "ok"))) {
            failed++;
            if (!first_err)
                first_err = json_object_get(up, "error");
        } else {
            changes += jint(up, "changes");
        }
    }
    json_t *out = http_out(r);
    json_object_set_new(out, "files", files);
    json_object_set_new(out, "changes", json_integer(changes));
    json_object_set_new(out, "dry_run", json_boolean(o.dry_run));
    json_object_set_new(out, "failed", json_integer(failed));
    /* A preview that found no problem: the page offers to import exactly these files. */
    if (o.dry_run && !failed && !r->is_api && json_array_size(sent_files))
        json_object_set_new(out, "confirm_files", json_incref(sent_files));
    json_decref(sent_files);
    upload_form_data(r, qopt);
    if (failed) {
        http_field_error(r, "file", jstr(first_err, "message"));
        int st = http_fail(r, 400, "invalid_spec", "%s", jstr(first_err, "message"));
        /* The API answers only "error": it carries where and why, and every file's summary. */
        json_t *e = json_object_get(r->out, "error");
        json_object_set(e, "file", json_object_get(first_err, "file"));
        json_object_set(e, "line", json_object_get(first_err, "line"));
        json_object_set(e, "reason", json_object_get(first_err, "reason"));
        json_object_set(e, "files", files);
        return st;
    }
    return 200;
}

const route_t qualifications_routes[] = {
    {"GET", "/api/v1/qualifications", qualifications_list, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/qualifications", qualifications_list, ROLE_SIGNED_IN, "qualifications_list", 0},
    {"GET", "/api/v1/qualifications/{id}", qualification_show, ROLE_SIGNED_IN, NULL, 0},
    {"GET", "/qualifications/{id}", qualification_show, ROLE_SIGNED_IN, "qualification_show", 0},
    {"GET", "/api/v1/qualifications/{id}/spec", qualification_spec, ROLE_STAFF, NULL, 0},
    {"GET", "/api/v1/units/{id}", unit_show, ROLE_ANY, NULL, 0},
    {"GET", "/units/{id}", unit_show, ROLE_ANY, "unit_show", 0},
    {"POST", "/api/v1/specs", spec_import, ROLE_ADMIN, NULL, ROUTE_UPLOAD},
    {"GET", "/admin/specs", spec_upload_form, ROLE_ADMIN, "spec_upload", 0},
    {"POST", "/admin/specs", spec_import, ROLE_ADMIN, "spec_upload", ROUTE_UPLOAD},
    {0},
};
