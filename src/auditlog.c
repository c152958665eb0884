/* auditlog.c: the audit log and learner timeline pages, and `evitrack audit verify` */
#include "auditlog.h"

#include <archive.h>
#include <archive_entry.h>
#include <nettle/sha2.h>
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
        /* quality assurance (issue 18: src/iqaplan.c, src/eqa.c, src/policy.c) */
        {"iqa.risk", "Assessor's risk rating set by the IQA"},
        {"iqa.sample_group", "Unit or whole portfolio sampled by the IQA"},
        {"eqa.visit_create", "EQA visit set up"},
        {"eqa.visit_end", "EQA visit ended early"},
        {"eqa.view", "Viewed by the EQA"},
        {"eqa.download", "Downloaded by the EQA"},
        {"eqa.finding", "EQA finding written"},
        {"eqa.finding_response", "Centre answered an EQA finding"},
        /* the rest of the trail */
        {"session.login_throttled", "Sign-in paused after repeated failures"},
        {"user.enable", "Account enabled again"},
        {"user.password_change", "Password changed"},
        {"user.password_reset", "Password reset by an admin"},
        {"user.password_reset_link", "Password set through an emailed link"},
        {"user.password_reset_request", "Password reset asked for"},
        {"user.invitation_accept", "Invitation accepted"},
        {"enrolment.end", "Enrolment ended"},
        {"enrolment.units", "Optional units chosen"},
        {"evidence.acknowledge", "Evidence written by someone else acknowledged by the learner"},
        {"evidence.file_remove", "File removed from evidence"},
        {"evidence.withdraw", "Evidence withdrawn from assessment"},
        {"evidence.write_up", "Observation written up by the assessor"},
        {"unit.signoff_reopen", "Unit sign-off reopened"},
        {"export.portfolio", "Portfolio downloaded"},
        {"export.cohort", "Cohort downloaded"},
        {"group_observation.create", "Group observation recorded"},
        {"intake.import", "Learners imported"},
        {"apprenticeship.create", "Apprenticeship set up"},
        {"apprenticeship.update", "Apprenticeship plan changed"},
        {"employer.create", "Employer added"},
        {"employer.contact", "Employer contact added"},
        {"employer.update", "Employer renamed"},
        {"otj.record", "Off-the-job hours recorded"},
        {"otj.verify", "Off-the-job hours verified"},
        {"otj.query", "Off-the-job hours queried"},
        {"break.start", "Break in learning started"},
        {"break.end", "Break in learning ended"},
        {"review.create", "Progress review started"},
        {"review.update", "Progress review changed"},
        {"review.sign", "Progress review signed"},
        {"review.decline", "Declined to sign a progress review"},
        {"review.complete", "Progress review completed"},
        {"review.revise", "Progress review revised"},
        {"review.reminder", "Progress review reminder sent"},
        {"witness.request", "Witness asked for a testimony"},
        {"witness.revoke", "Witness request withdrawn"},
        {"witness.testimony", "Witness testimony given"},
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

/* Removes the client addresses an event recorded (sign-ins, failed sign-ins, throttling)
 * from its before and after objects, and the hash that would prove them. */
static void strip_addresses(json_t *e)
{
    static const char *const keys[] = {"addr", "ip", "address", "client_addr", "user_agent"};
    int stripped = 0;
    for (int side = 0; side < 2; side++) {
        json_t *o = json_object_get(e, side ? "after" : "before");
        for (size_t k = 0; json_is_object(o) && k < sizeof keys / sizeof keys[0]; k++)
            stripped |= json_object_del(o, keys[k]) == 0;
    }
    if (stripped)
        json_object_set_new(e, "addresses_removed", json_true());
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
    if (learner) { /* an EQA: not the events about qualifications outside its visit */
        qscope_t qs;
        if (policy_qscope(r->db, &r->user, learner, &qs) != EV_OK) {
            json_decref(items);
            return http_fail(r, 503, "busy", "The database is busy; try again.");
        }
        qscope_filter_events(r->db, &qs, items);
        qscope_free(&qs);
    }
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e)
    {
        if (r->user.role == ROLE_EQA) /* an EQA never sees where staff signed in from (issue 18) */
            strip_addresses(e);
        event_summary(e);
    }
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
        return http_fail(r, 404, "not_found", "No such learner."); /* as if it did not exist */
    json_t *l = db_one(r->db, "SELECT id, name, email FROM users WHERE id = ? AND role = 'learner'", "i", learner);
    if (!l)
        return http_fail(r, 404, "not_found", "No such learner.");
    json_object_set_new(http_out(r), "learner", l);
    return list_events(r, 0, learner, opt_str(r, "action"), NULL, NULL, NULL);
}

/* Runs every check on the trail: the chain, the head log (head_log may be NULL: none), and
 * current state against the events. Fills out {ok, chain_ok, count, bad_id, reason, head,
 * head_log: {path, ok, last, reason}, state_ok, state_reason}. Returns 1 when all hold. */
static int verify_all(db_t *db, const char *head_log, json_t *out)
{
    int64_t count = 0, bad = 0;
    char reason[320] = "", hreason[320] = "", sreason[320] = "";
    int chain_ok = audit_verify(db, &count, &bad, reason, sizeof reason) == EV_OK;
    audit_head_write(db, 0); /* PostgreSQL: the head the wait just linked, when it is due */
    json_t *last = NULL;
    int hrc = head_log ? audit_head_check(db, head_log, &last, hreason, sizeof hreason) : 1;
    int state_ok = audit_verify_state(db, sreason, sizeof sreason) == EV_OK;
    int ok = chain_ok && hrc != EV_ERR && state_ok;
    json_object_set_new(out, "ok", json_boolean(ok));
    json_object_set_new(out, "chain_ok", json_boolean(chain_ok));
    json_object_set_new(out, "count", json_integer(count));
    /* PostgreSQL: the newest events may still wait for the chainer (within the grace period) */
    json_object_set_new(out, "unlinked", json_integer(audit_unlinked(db)));
    json_object_set_new(out, "bad_id", chain_ok ? json_null() : json_integer(bad));
    json_object_set_new(out, "reason", json_string(!chain_ok ? reason : hrc == EV_ERR ? hreason : !state_ok ? sreason : ""));
    json_object_set_new(out, "head", audit_head(db));
    json_object_set_new(out, "head_log",
                        json_pack("{s:s?, s:b, s:b, s:o, s:s}", "path", head_log, "present", hrc != 1, "ok",
                                  hrc != EV_ERR, "last", last ? last : json_null(), "reason", hreason));
    json_object_set_new(out, "state_ok", json_boolean(state_ok));
    json_object_set_new(out, "state_reason", json_string(sreason));
    return ok;
}

/* GET /audit/verify, /api/v1/audit/verify: checks the whole trail now and gives its head
 * (seq, hash, time) so it can be recorded elsewhere. */
static int auditlog_verify_page(req_t *r)
{
    uint64_t t0 = util_now_us();
    json_t *out = json_object();
    verify_all(r->db, audit_head_path(), out);
    json_object_set_new(out, "elapsed_ms", json_integer((json_int_t)((util_now_us() - t0) / 1000)));
    http_set_out(r, out);
    return decisions_page_ok(r);
}

/* ---- evitrack audit verify --export FILE.zip: an export checked offline ---- */

/* Reads every entry of a zip: its SHA-256 into hashes[path], and *.json entries parsed into
 * docs[path]. EV_OK or EV_ERR (message in err). */
static int read_zip(const char *path, json_t *hashes, json_t *docs, char *err, size_t errlen)
{
    struct archive *a = archive_read_new();
    struct archive_entry *ent;
    int rc = EV_OK;
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return EV_ERR;
    }
    while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        size_t n = strlen(name);
        int keep = n > 5 && strcmp(name + n - 5, ".json") == 0;
        struct sha256_ctx ctx;
        unsigned char digest[SHA256_DIGEST_SIZE], chunk[65536];
        char hex[65];
        buf_t b = {0};
        la_ssize_t got;
        sha256_init(&ctx);
        while ((got = archive_read_data(a, chunk, sizeof chunk)) > 0) {
            sha256_update(&ctx, (size_t)got, chunk);
            if (keep)
                buf_append(&b, (const char *)chunk, (size_t)got);
        }
        if (got < 0) {
            snprintf(err, errlen, "cannot read %s in %s: %s", name, path, archive_error_string(a));
            buf_free(&b);
            rc = EV_ERR;
            break;
        }
        sha256_digest(&ctx, sizeof digest, digest);
        util_hex(digest, sizeof digest, hex);
        json_object_set_new(hashes, name, json_string(hex));
        if (keep) {
            json_t *doc = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, NULL);
            if (doc)
                json_object_set_new(docs, name, doc);
        }
        buf_free(&b);
    }
    archive_read_free(a);
    return rc;
}

/* One learner's audit (prefix "" or "learners/ID-NAME/"): each event hashes to its hash; the
 * chain skeleton links from the genesis to the head; every event of the learner is in it. */
static int check_learner_audit(json_t *docs, const char *prefix, char *why, size_t whylen, int64_t *events)
{
    char k[640];
    snprintf(k, sizeof k, "%.500saudit.json", prefix);
    json_t *audit = json_object_get(docs, k);
    snprintf(k, sizeof k, "%.500saudit-chain.json", prefix);
    json_t *chain = json_object_get(docs, k);
    snprintf(k, sizeof k, "%.500saudit-head.json", prefix);
    json_t *head = json_object_get(docs, k);
    size_t i;
    json_t *e;
    if (!json_is_array(audit) || !json_is_array(chain) || !json_is_object(head)) {
        snprintf(why, whylen, "%s: the audit events, chain or head is missing", prefix[0] ? prefix : "the export");
        return EV_ERR;
    }
    const char *prev = "0000000000000000000000000000000000000000000000000000000000000000";
    json_t *index = json_object();
    json_array_foreach(chain, i, e)
    {
        const char *p = json_string_value(json_array_get(e, 1)), *h = json_string_value(json_array_get(e, 2));
        if (!p || !h || strcmp(p, prev) != 0) {
            snprintf(why, whylen, "the chain breaks at event %lld", (long long)json_integer_value(json_array_get(e, 0)));
            json_decref(index);
            return EV_ERR;
        }
        snprintf(k, sizeof k, "%lld", (long long)json_integer_value(json_array_get(e, 0)));
        json_object_set(index, k, e);
        prev = h;
    }
    const char *head_hash = json_string_value(json_object_get(head, "hash"));
    if (json_array_size(chain) && (!head_hash || strcmp(prev, head_hash) != 0 ||
                                   json_integer_value(json_array_get(json_array_get(chain, json_array_size(chain) - 1), 0)) !=
                                       json_integer_value(json_object_get(head, "seq")))) {
        snprintf(why, whylen, "the chain does not end at the head the export recorded");
        json_decref(index);
        return EV_ERR;
    }
    json_array_foreach(audit, i, e)
    {
        long long id = (long long)json_integer_value(json_object_get(e, "id"));
        snprintf(k, sizeof k, "%lld", id);
        json_t *link = json_object_get(index, k);
        if (!audit_event_hash_ok(e) || !link ||
            strcmp(json_string_value(json_array_get(link, 2)), json_string_value(json_object_get(e, "hash")) ? json_string_value(json_object_get(e, "hash")) : "") != 0) {
            snprintf(why, whylen, "audit event %lld was altered or is not part of the chain", id);
            json_decref(index);
            return EV_ERR;
        }
        (*events)++;
    }
    json_decref(index);
    return EV_OK;
}

/* EV_OK when the export at path is intact: every file matches the manifest, and each
 * learner's audit events verify against the chain and head it carries. */
static int verify_export(const char *path)
{
    json_t *hashes = json_object(), *docs = json_object();
    char why[600] = "";
    int rc = read_zip(path, hashes, docs, why, sizeof why);
    int64_t files = 0, events = 0, learners = 0;
    json_t *manifest = json_object_get(docs, "manifest.json");
    size_t i;
    json_t *f;
    const char *key;
    if (rc == EV_OK && !json_is_object(manifest)) {
        snprintf(why, sizeof why, "no manifest.json: not an evitrack export");
        rc = EV_ERR;
    }
    if (rc == EV_OK)
        json_array_foreach(json_object_get(manifest, "files"), i, f)
        {
            const char *p = json_string_value(json_object_get(f, "path"));
            const char *want = json_string_value(json_object_get(f, "sha256"));
            const char *got = p ? json_string_value(json_object_get(hashes, p)) : NULL;
            if (!got || !want || strcmp(got, want) != 0) {
                snprintf(why, sizeof why, "%s %s", p ? p : "(unnamed)",
                         got ? "does not match its SHA-256 in the manifest" : "is listed in the manifest but missing");
                rc = EV_ERR;
                break;
            }
            files++;
        }
    if (rc == EV_OK)
        json_object_foreach(docs, key, f)
        {
            size_t n = strlen(key);
            if (n < 10 || strcmp(key + n - 10, "audit.json") != 0 || (n > 10 && key[n - 11] != '/'))
                continue;
            char prefix[512];
            if (n - 10 >= sizeof prefix)
                continue;
            snprintf(prefix, sizeof prefix, "%.*s", (int)(n - 10), key);
            if (check_learner_audit(docs, prefix, why, sizeof why, &events) != EV_OK) {
                rc = EV_ERR;
                break;
            }
            learners++;
        }
    if (rc == EV_OK && learners == 0) {
        snprintf(why, sizeof why, "the export carries no audit events");
        rc = EV_ERR;
    }
    /* Files missing from the store, or found damaged there, when the export was made
     * have a note in their place; the notes match the manifest, but the export is not the
     * whole portfolio. */
    json_t *missing = json_object_get(manifest, "missing"), *damaged = json_object_get(manifest, "damaged");
    size_t n_missing = rc == EV_OK ? json_array_size(missing) : 0, n_damaged = rc == EV_OK ? json_array_size(damaged) : 0;
    if (rc == EV_OK && !n_missing && !n_damaged)
        printf("export intact: %lld files match the manifest; %lld audit events of %lld learner%s verify against "
               "the chain and its head\n",
               (long long)files, (long long)events, (long long)learners, learners == 1 ? "" : "s");
    else if (rc == EV_OK) {
        size_t n = n_missing + n_damaged;
        printf("export INCOMPLETE: %zu evidence file%s could not go in, and a note stands in %s place:\n", n,
               n == 1 ? "" : "s", n == 1 ? "its" : "their");
        json_t *m;
        json_array_foreach(missing, i, m) printf("  %s: missing from the store when the export was made\n",
                                                 json_string_value(m) ? json_string_value(m) : "?");
        json_array_foreach(damaged, i, m) printf("  %s: found damaged in the store\n",
                                                 json_string_value(m) ? json_string_value(m) : "?");
        printf("(the other %lld files match the manifest; %lld audit events of %lld learner%s verify)\n",
               (long long)(files - (int64_t)n), (long long)events, (long long)learners, learners == 1 ? "" : "s");
        rc = EV_ERR;
    } else
        printf("export BROKEN: %s\n", why);
    json_decref(hashes);
    json_decref(docs);
    return rc;
}

int auditlog_cli(int argc, char **argv)
{
    const char *path = "evitrack.db", *data = "data", *head_log = NULL, *export_zip = NULL;
    int i = 0;
    if (argc < 1 || strcmp(argv[0], "verify") != 0)
        return cli_usage_error("usage: evitrack audit verify [--db FILE] [--data DIR] [--audit-head-log FILE] | "
                               "--export FILE.zip");
    for (i = 1; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &path)) || (got = cli_opt(argc, argv, &i, "data", &data)) ||
            (got = cli_opt(argc, argv, &i, "audit-head-log", &head_log)) ||
            (got = cli_opt(argc, argv, &i, "export", &export_zip))) {
            if (got < 0)
                return 2;
            continue;
        }
        return cli_usage_error("audit verify: unknown argument %s (usage: audit verify [--db FILE] [--data DIR]"
                               " [--audit-head-log FILE] | --export FILE.zip)",
                               argv[i]);
    }
    if (export_zip) {
        if (access(export_zip, R_OK) != 0) {
            fprintf(stderr, "evitrack: audit verify: no export at %s\n", export_zip);
            return 2;
        }
        return verify_export(export_zip) == EV_OK ? 0 : 1;
    }
    if (!db_target_is_pg(path) && access(path, R_OK) != 0) {
        fprintf(stderr, "evitrack: audit verify: no database at %s\n", path);
        return 2;
    }
    if (head_log && access(head_log, R_OK) != 0) {
        fprintf(stderr, "evitrack: audit verify: no head log at %s\n", head_log);
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
    char *dflt = fmtalloc("%s/audit-head.log", data);
    json_t *out = json_object();
    int ok = verify_all(db, head_log ? head_log : dflt, out);
    int64_t count = json_integer_value(json_object_get(out, "count"));
    json_t *head = json_object_get(out, "head"), *hl = json_object_get(out, "head_log");
    int rc;
    if (ok) {
        printf("audit chain intact: %lld events verified, head %lld %s\n", (long long)count,
               (long long)json_integer_value(json_object_get(head, "seq")),
               json_string_value(json_object_get(head, "hash")));
        int64_t unlinked = json_integer_value(json_object_get(out, "unlinked"));
        if (unlinked > 0)
            printf("  %lld newer events not yet in the chain (written within the grace period; they are linked "
                   "once the transactions before them end)\n", (long long)unlinked);
        if (json_is_true(json_object_get(hl, "present")))
            printf("  head log %s: every recorded head is in the trail\n", json_string_value(json_object_get(hl, "path")));
        else
            printf("  no head log at %s: removed tail events cannot be detected\n", head_log ? head_log : dflt);
        printf("  decisions, sign-offs, countersigns and IQA samples match their audit events\n");
        rc = 0;
    } else if (!json_is_true(json_object_get(out, "chain_ok"))) {
        int64_t bad = json_integer_value(json_object_get(out, "bad_id"));
        json_t *e = bad ? db_one(db, "SELECT at, action, entity, entity_id, actor_id FROM audit_events WHERE id = ?",
                                 "i", bad)
                        : NULL;
        printf("audit chain BROKEN at event %lld: %s\n", (long long)bad,
               json_string_value(json_object_get(out, "reason")));
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
    } else {
        printf("audit trail BROKEN: %s\n", json_string_value(json_object_get(out, "reason")));
        fprintf(stderr, "evitrack: audit trail broken: %s\n", json_string_value(json_object_get(out, "reason")));
        rc = 1;
    }
    json_decref(out);
    free(dflt);
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
