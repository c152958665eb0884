/* auditlog.c: the audit log and learner timeline pages, and `evitrack audit verify` */
#include "auditlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "decisions.h"
#include "policy.h"

const char *auditlog_action_label(const char *action)
{
    static const struct {
        const char *action, *label;
    } labels[] = {
        {"session.login", "Signed in"},
        {"session.logout", "Signed out"},
        {"session.login_failed", "Sign-in failed"},
        {"user.create", "Account created"},
        {"user.update", "Account changed"},
        {"user.disable", "Account disabled"},
        {"user.password", "Password changed"},
        {"enrolment.create", "Enrolled"},
        {"enrolment.update", "Enrolment changed"},
        {"spec.import", "Specification imported"},
        {"qualification.import", "Qualification imported"},
        {"evidence.create", "Evidence uploaded"},
        {"evidence.update", "Evidence edited"},
        {"evidence.delete", "Evidence deleted"},
        {"evidence.file_add", "File added to evidence"},
        {"evidence.map", "Evidence mapped to criteria"},
        {"evidence.criteria", "Evidence mapped to criteria"},
        {"evidence.submit", "Evidence submitted for assessment"},
        {"evidence.return", "Evidence returned to the learner"},
        {"evidence.assess", "Evidence assessed"},
        {"decision.create", "Assessment decision recorded"},
        {"decision.countersign", "Decision countersigned by the learner"},
        {"unit.signoff", "Unit signed off by the assessor"},
        {"unit.countersign", "Unit sign-off countersigned by the learner"},
        {"iqa.sample", "Decision sampled by the IQA"},
        {"iqa.response", "Assessor answered an IQA action"},
    };
    if (!action)
        return "";
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(labels[i].action, action) == 0)
            return labels[i].label;
    return action;
}

/* A new JSON string from a malloc'd C string (freed), "" for NULL. */
static json_t *json_string_nocheck_or_empty(char *s)
{
    json_t *j = json_string(s ? s : "");
    free(s);
    return j ? j : json_string("");
}

/* A one-line summary of what changed, from the event's after (or before) object. */
static void event_summary(json_t *e)
{
    /* db_all turns before_json/after_json into before/after only when not NULL. */
    if (json_object_get(e, "before_json")) {
        json_object_del(e, "before_json");
        json_object_set_new(e, "before", json_null());
    }
    if (json_object_get(e, "after_json")) {
        json_object_del(e, "after_json");
        json_object_set_new(e, "after", json_null());
    }
    json_t *after = json_object_get(e, "after");
    json_t *before = json_object_get(e, "before");
    char text[512] = "";
    const char *action = json_string_value(json_object_get(e, "action"));
    json_t *src = json_is_object(after) ? after : before;
    if (json_is_object(src)) {
        const char *outcome = json_string_value(json_object_get(src, "outcome"));
        const char *status = json_string_value(json_object_get(src, "status"));
        const char *title = json_string_value(json_object_get(src, "title"));
        const char *feedback = json_string_value(json_object_get(src, "feedback"));
        const char *comment = json_string_value(json_object_get(src, "comment"));
        const char *response = json_string_value(json_object_get(src, "response"));
        size_t len = 0;
#define ADD(...)                                                                                                       \
    do {                                                                                                               \
        if (len < sizeof text)                                                                                         \
            len += (size_t)snprintf(text + len, sizeof text - len, __VA_ARGS__);                                      \
    } while (0)
        if (title)
            ADD("%s", title);
        if (outcome)
            ADD("%s%s", len ? "; " : "",
                !strcmp(outcome, "met")       ? "met"
                : !strcmp(outcome, "not_met") ? "not yet met"
                : !strcmp(outcome, "agree")   ? "agreed"
                                              : "action required");
        if (status && action && strcmp(action, "evidence.return") && strcmp(action, "evidence.assess"))
            ADD("%sstatus %s", len ? "; " : "", status);
        else if (status && json_is_object(before) && json_is_string(json_object_get(before, "status")))
            ADD("%s%s -> %s", len ? "; " : "", json_string_value(json_object_get(before, "status")), status);
        if (feedback && *feedback)
            ADD("%s\"%.120s\"", len ? ": " : "", feedback);
        if (comment && *comment)
            ADD("%s\"%.120s\"", len ? ": " : "", comment);
        if (response && *response)
            ADD("%s\"%.120s\"", len ? ": " : "", response);
#undef ADD
    }
    json_object_set_new(e, "summary", json_string(text));
    json_object_set_new(e, "action_label", json_string(auditlog_action_label(action)));
    if (!json_is_string(json_object_get(e, "actor_name")))
        json_object_set_new(e, "actor_name", json_string("System"));
    /* Compact JSON of before/after for the detail view. */
    char *bj = json_is_null(before) || !before ? NULL : json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS);
    char *aj = json_is_null(after) || !after ? NULL : json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_set_new(e, "before_text", bj ? json_string(bj) : json_null());
    json_object_set_new(e, "after_text", aj ? json_string(aj) : json_null());
    free(bj);
    free(aj);
}

#define EVENT_SELECT                                                                                                   \
    "SELECT a.id, a.at, a.actor_id, u.name AS actor_name, u.role AS actor_role, a.action, a.entity, a.entity_id,"     \
    " a.learner_id, lu.name AS learner_name, a.before AS before_json, a.after AS after_json, a.hash"                  \
    " FROM audit_events a LEFT JOIN users u ON u.id = a.actor_id LEFT JOIN users lu ON lu.id = a.learner_id"

/* The filters. action is a range [lo, hi): an exact action ("decision.create")
 * or every action of an entity ("decision" -> "decision." .. "decision/"), so
 * the audit_action index can serve it. */
#define EVENT_FILTERS                                                                                                  \
    " (? = 0 OR a.actor_id = ?) AND (? = 0 OR a.learner_id = ?)"                                                     \
    " AND (? IS NULL OR (a.action >= ? AND a.action < ?)) AND (? IS NULL OR a.entity = ?)"                           \
    " AND (? IS NULL OR substr(a.at, 1, 10) >= ?) AND (? IS NULL OR substr(a.at, 1, 10) <= ?)"
#define EVENT_FMT_TAIL "iiiittttttttt"
#define EVENT_FMT "ii" EVENT_FMT_TAIL
/* The first condition picks the index: the learner's events (audit_learner),
 * the actor's (audit_actor), or the whole table newest first. */
#define EVENT_BY_LEARNER " WHERE a.learner_id = ? AND ? >= 0 AND"
#define EVENT_BY_ACTOR " WHERE a.actor_id = ? AND ? >= 0 AND"
#define EVENT_BY_NONE " WHERE ? = 0 AND ? = 0 AND"
#define EVENT_BY_ACTION " WHERE a.action >= ? AND a.action < ? AND"

static const char *opt_str(req_t *r, const char *key)
{
    const char *s = in_str(r, key);
    return s && *s ? s : NULL;
}

/* Runs the filtered, paginated event list into r->out. */
static int list_events(req_t *r, int64_t actor, int64_t learner, const char *action, const char *entity,
                       const char *from, const char *to)
{
    int64_t limit, offset, total;
    char lo[160] = "", hi[160] = "";
    const char *alo = NULL, *ahi = NULL;
    if (action) {
        if (strchr(action, '.')) {
            snprintf(lo, sizeof lo, "%s", action);
            snprintf(hi, sizeof hi, "%s\x01", action);
        } else {
            snprintf(lo, sizeof lo, "%s.", action);
            snprintf(hi, sizeof hi, "%s/", action);
        }
        alo = lo;
        ahi = hi;
    }
    http_page(r, 25, &limit, &offset);
    int64_t k1 = learner ? learner : actor ? actor : 0, k2 = 0;
#define EVENT_ARGS actor, actor, learner, learner, alo, alo, ahi, entity, entity, from, from, to, to
    if (!actor && !learner && !action && !entity && !from && !to) /* append-only: ids have no gaps */
        total = db_int(r->db, "SELECT COALESCE(MAX(id), 0) FROM audit_events", 0, "");
    else if (learner)
        total = db_int(r->db, "SELECT COUNT(*) FROM audit_events a" EVENT_BY_LEARNER EVENT_FILTERS, 0, EVENT_FMT, k1,
                       k2, EVENT_ARGS);
    else if (actor)
        total = db_int(r->db, "SELECT COUNT(*) FROM audit_events a" EVENT_BY_ACTOR EVENT_FILTERS, 0, EVENT_FMT, k1, k2,
                       EVENT_ARGS);
    else if (action) /* counted over the audit_action index range */
        total = db_int(r->db, "SELECT COUNT(*) FROM audit_events a" EVENT_BY_ACTION EVENT_FILTERS, 0, "tt" EVENT_FMT_TAIL,
                       alo, ahi, EVENT_ARGS);
    else
        total = db_int(r->db, "SELECT COUNT(*) FROM audit_events a" EVENT_BY_NONE EVENT_FILTERS, 0, EVENT_FMT, k1, k2,
                       EVENT_ARGS);
    json_t *items =
        learner  ? db_all(r->db, EVENT_SELECT EVENT_BY_LEARNER EVENT_FILTERS " ORDER BY a.id DESC LIMIT ? OFFSET ?",
                          EVENT_FMT "ii", k1, k2, EVENT_ARGS, limit, offset)
        : actor  ? db_all(r->db, EVENT_SELECT EVENT_BY_ACTOR EVENT_FILTERS " ORDER BY a.id DESC LIMIT ? OFFSET ?",
                          EVENT_FMT "ii", k1, k2, EVENT_ARGS, limit, offset)
        /* only an action: pick the page from the audit_action index alone (an exact
         * action walks it in id order; a prefix sorts the matching entries) */
        : action && strchr(action, '.') && !entity && !from && !to
            ? db_all(r->db, EVENT_SELECT " WHERE a.id IN (SELECT id FROM audit_events WHERE action = ?"
                                         " ORDER BY id DESC LIMIT ? OFFSET ?) ORDER BY a.id DESC",
                     "tii", action, limit, offset)
        : action && !entity && !from && !to
            ? db_all(r->db, EVENT_SELECT " WHERE a.id IN (SELECT id FROM audit_events WHERE action >= ? AND action < ?"
                                         " ORDER BY id DESC LIMIT ? OFFSET ?) ORDER BY a.id DESC",
                     "ttii", alo, ahi, limit, offset)
                 : db_all(r->db, EVENT_SELECT EVENT_BY_NONE EVENT_FILTERS " ORDER BY a.id DESC LIMIT ? OFFSET ?",
                          EVENT_FMT "ii", k1, k2, EVENT_ARGS, limit, offset);
#undef EVENT_ARGS
    if (!items)
        return http_fail(r, 500, "db_error", "Could not read the audit trail.");
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e) event_summary(e);
    json_t *out = http_out(r);
    json_object_set_new(out, "items", items);
    http_paginate(r, out, total);
    return decisions_page_ok(r);
}

/* GET /audit, /api/v1/audit?actor_id=&learner_id=&action=&entity=&from=&to= (admin, EQA) */
static int auditlog_index(req_t *r)
{
    int64_t actor = 0, learner = 0;
    in_int(r, "actor_id", &actor);
    in_int(r, "learner_id", &learner);
    const char *action = opt_str(r, "action"), *entity = opt_str(r, "entity");
    const char *from = opt_str(r, "from"), *to = opt_str(r, "to");
    json_t *out = http_out(r);
    json_object_set_new(out, "filter",
                        json_pack("{s:s, s:s, s:s, s:s}", "action", action ? action : "", "entity",
                                  entity ? entity : "", "from", from ? from : "", "to", to ? to : ""));
    /* Who: the staff (learners act only on their own portfolio: filter by learner). */
    json_t *people = db_all(r->db, "SELECT id, name, role FROM users WHERE role <> 'learner' ORDER BY name LIMIT 500", "");
    json_t *actors = json_array(), *p;
    size_t i;
    json_array_foreach(people, i, p)
    {
        int64_t id = json_integer_value(json_object_get(p, "id"));
        json_array_append_new(actors, json_pack("{s:I, s:O, s:O, s:b}", "value", (json_int_t)id, "label",
                                                json_object_get(p, "name"), "role", json_object_get(p, "role"),
                                                "selected", id == actor));
    }
    json_decref(people);
    json_object_set_new(out, "learner_filter", learner ? json_integer(learner) : json_string(""));
    if (learner)
        json_object_set_new(out, "learner_filter_name",
                            json_string_nocheck_or_empty(db_text(r->db, "SELECT name FROM users WHERE id = ?", "i", learner)));
    json_object_set_new(out, "actor_options", actors);
    if ((from && !util_valid_date(from)) || (to && !util_valid_date(to))) {
        http_field_error(r, from && !util_valid_date(from) ? "from" : "to", "Enter the date as YYYY-MM-DD");
        return http_fail(r, 400, "invalid_filter", "Check the dates.");
    }
    return list_events(r, actor, learner, action, entity, from, to);
}

/* GET /learners/{id}/timeline, /api/v1/learners/{id}/timeline: one learner's events. */
static int auditlog_timeline(req_t *r)
{
    int64_t learner = r->params[0];
    if (!policy_can_read_learner(r->db, &r->user, learner))
        return http_fail(r, 403, "forbidden", "You may not see this learner's portfolio.");
    json_t *l = db_one(r->db, "SELECT id, name, email FROM users WHERE id = ? AND role = 'learner'", "i", learner);
    if (!l)
        return http_fail(r, 404, "not_found", "No such learner.");
    json_object_set_new(http_out(r), "learner", l);
    return list_events(r, 0, learner, opt_str(r, "action"), NULL, NULL, NULL);
}

/* GET /audit/verify, /api/v1/audit/verify: checks the whole chain now. */
static int auditlog_verify_page(req_t *r)
{
    int64_t count = 0, bad = 0;
    char reason[256] = "";
    uint64_t t0 = util_now_us();
    int ok = audit_verify(r->db, &count, &bad, reason, sizeof reason) == EV_OK;
    uint64_t us = util_now_us() - t0;
    http_set_out(r, json_pack("{s:b, s:I, s:o, s:s, s:I}", "ok", ok, "count", (json_int_t)count, "bad_id",
                              ok ? json_null() : json_integer(bad), "reason", reason, "elapsed_ms",
                              (json_int_t)(us / 1000)));
    return decisions_page_ok(r);
}

int auditlog_cli(int argc, char **argv)
{
    const char *path = "evitrack.db";
    int i = 0;
    if (argc < 1 || strcmp(argv[0], "verify") != 0)
        return cli_usage_error("usage: evitrack audit verify [--db FILE]");
    for (i = 1; i < argc;) {
        int got = cli_opt(argc, argv, &i, "db", &path);
        if (got < 0)
            return 2;
        if (!got)
            return cli_usage_error("audit verify: unknown argument %s (usage: audit verify [--db FILE])", argv[i]);
    }
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "evitrack: audit verify: no database at %s\n", path);
        return 2;
    }
    /* Opened as it is, not migrated: verifying (a backup, say) never changes the file. */
    db_t *db = db_open(path);
    if (!db) {
        fprintf(stderr, "evitrack: audit verify: cannot open %s\n", path);
        return 2;
    }
    if (!db_table_exists(db, "audit_events")) {
        fprintf(stderr, "evitrack: audit verify: %s has no audit trail (not an evitrack database?)\n", path);
        db_close(db);
        return 2;
    }
    int64_t count = 0, bad = 0;
    char reason[256] = "";
    int rc;
    if (audit_verify(db, &count, &bad, reason, sizeof reason) == EV_OK) {
        char *last = db_text(db, "SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1", "");
        printf("audit chain intact: %lld events verified%s%s\n", (long long)count, last ? ", head " : "",
               last ? last : "");
        free(last);
        rc = 0;
    } else {
        json_t *e = bad ? db_one(db, "SELECT at, action, entity, entity_id, actor_id FROM audit_events WHERE id = ?",
                                 "i", bad)
                        : NULL;
        printf("audit chain BROKEN at event %lld: %s\n", (long long)bad, reason[0] ? reason : "hash mismatch");
        if (e)
            printf("  event %lld: at %s, action %s, entity %s %lld, actor %lld\n", (long long)bad,
                   json_string_value(json_object_get(e, "at")), json_string_value(json_object_get(e, "action")),
                   json_string_value(json_object_get(e, "entity")),
                   (long long)json_integer_value(json_object_get(e, "entity_id")),
                   (long long)json_integer_value(json_object_get(e, "actor_id")));
        printf("  %lld events verified before it\n", (long long)count);
        json_decref(e);
        fprintf(stderr, "evitrack: audit chain broken at event %lld\n", (long long)bad);
        rc = 1;
    }
    db_close(db);
    return rc;
}

const route_t auditlog_routes[] = {
    {"GET", "/api/v1/audit", auditlog_index, ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/audit", auditlog_index, ROLE_ADMIN | ROLE_EQA, "audit", 0},
    {"GET", "/api/v1/audit/verify", auditlog_verify_page, ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/audit/verify", auditlog_verify_page, ROLE_ADMIN | ROLE_EQA, "audit_verify", 0},
    {"GET", "/api/v1/learners/{id}/timeline", auditlog_timeline, ROLE_ANY, NULL, 0},
    {"GET", "/learners/{id}/timeline", auditlog_timeline, ROLE_ANY, "timeline", 0},
    {0},
};
