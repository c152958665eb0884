/* progress_demo.c: the living demo's activity: evidence with files, mappings,
 * submissions, decisions both ways, feedback, countersigns and IQA samples */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "iqa.h"
#include "progress.h"
#include "rules.h"
#include "status.h"
#include "storage.h"

/* A day `ago` days before today at hh:00 UTC, as ISO 8601. */
static void stamp(int64_t today, int ago, int hh, char out[21])
{
    char d[11];
    progress_day_iso(today - ago, d);
    snprintf(out, 21, "%.10sT%02d:00:00Z", d, hh % 24);
}

typedef struct demo {
    db_t *db;
    const app_t *app;
    int64_t today;
    int failed;
} demo_t;

static int64_t user_id(demo_t *d, const char *email)
{
    return db_int(d->db, "SELECT id FROM users WHERE lower(email) = lower(?)", 0, "t", email);
}

/* Runs one statement; the first column of its first row (an INSERT's
 * RETURNING id), else 0. A failure marks the whole demo failed. */
static int64_t run(demo_t *d, const char *sql, const char *fmt, ...)
{
    int64_t first = 0;
    if (d->failed)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(d->db, sql, fmt, ap);
    va_end(ap);
    int rc = st ? db_next(st) : -1;
    if (rc == 1) {
        first = db_col_int(st, 0);
        while ((rc = db_next(st)) == 1)
            ;
    }
    if (rc != 0) {
        ev_log("demo: %s: %s", sql, db_errmsg(d->db));
        d->failed = 1;
    }
    db_stmt_done(st);
    return first;
}

static void audit(demo_t *d, int64_t actor, const char *action, const char *entity, int64_t id,
                  int64_t learner, json_t *after)
{
    if (!d->failed && audit_record(d->db, actor, action, entity, id, learner, NULL, after) != EV_OK)
        d->failed = 1;
    json_decref(after);
}

/* One piece of evidence with a text file, mapped to criteria[first .. first+n). */
static int64_t evidence(demo_t *d, int64_t learner, const json_t *crit, size_t first, size_t n,
                        const char *title, const char *kind, const char *text, int ago, const char *status)
{
    char occurred[11], created[21], submitted[21];
    progress_day_iso(d->today - ago - 1, occurred);
    stamp(d->today, ago, 10, created);
    stamp(d->today, ago, 16, submitted);
    int sub = strcmp(status, "draft") != 0;
    int64_t ev = run(d, "INSERT INTO evidence (learner_id, title, kind, description, occurred_on, status, submitted_at,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", "ittttttt" "t",
        learner, title, kind, "Gathered at work during the week; see the attached account.", occurred,
        status, sub ? submitted : NULL, created, created);
    audit(d, learner, "evidence.create", "evidence", ev, learner, json_pack("{s:s, s:s}", "title", title, "kind", kind));

    char hex[65];
    if (!d->failed && storage_put(d->app->store, text, strlen(text), hex) == EV_OK) {
        run(d, "INSERT INTO blobs (sha256, size) VALUES (?, ?) ON CONFLICT DO NOTHING", "ti", hex, (int64_t)strlen(text));
        char *name = fmtalloc("%s.txt", title);
        for (char *p = name; *p; p++)
            if (*p == ' ' || *p == '/')
                *p = '-';
        run(d, "INSERT INTO evidence_files (evidence_id, name, size, sha256, mime, created_at) VALUES (?, ?, ?, ?, 'text/plain', ?)",
            "ititt", ev, name, (int64_t)strlen(text), hex, created);
        free(name);
    } else {
        d->failed = 1;
    }
    json_t *ids = json_array();
    for (size_t i = first; i < first + n && i < json_array_size(crit); i++) {
        int64_t cid = json_integer_value(json_object_get(json_array_get(crit, i), "id"));
        run(d, "INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note) VALUES (?, ?, ?, ?)",
            "iiit", ev, cid, learner, "This piece shows the criterion in practice; see the second paragraph.");
        json_array_append_new(ids, json_integer(cid));
    }
    audit(d, learner, "evidence.map", "evidence", ev, learner, json_pack("{s:o}", "criteria", ids));
    if (sub)
        audit(d, learner, "evidence.submit", "evidence", ev, learner, NULL);
    return ev;
}

/* Decisions on criteria[first .. first+n) on evidence ev; returns the last decision id. */
static int64_t decide(demo_t *d, int64_t learner, int64_t assessor, const json_t *crit, size_t first, size_t n,
                      int64_t ev, const char *outcome, const char *feedback, int ago, int countersign)
{
    char when[21], signed_at[21];
    stamp(d->today, ago, 11, when);
    stamp(d->today, ago > 0 ? ago - 1 : 0, 18, signed_at);
    int64_t last = 0;
    for (size_t i = first; i < first + n && i < json_array_size(crit); i++) {
        int64_t cid = json_integer_value(json_object_get(json_array_get(crit, i), "id"));
        int64_t prev = db_int(d->db, "SELECT max(id) FROM decisions WHERE learner_id = ? AND criterion_id = ?", 0,
                              "ii", learner, cid);
        last = run(d, "INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, vacsr, declaration,"
                      " supersedes_id, created_at, criterion_ref, criterion_text) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?,"
                      " (SELECT ref FROM criteria WHERE id = ?), (SELECT text FROM criteria WHERE id = ?)) RETURNING id",
                      "iiittt" "ztii",
            learner, cid, assessor, outcome, feedback,
            strcmp(outcome, "met") == 0
                ? "{\"valid\":true,\"authentic\":true,\"current\":true,\"sufficient\":true,\"reliable\":true}"
                : "{\"valid\":true,\"authentic\":true,\"current\":true,\"sufficient\":false,\"reliable\":true}",
            prev, when, cid, cid);
        run(d, "INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (?, ?)", "ii", last, ev);
        json_t *cited = json_pack("[I]", (json_int_t)ev);
        if (!d->failed && (rules_freeze_basis(d->db, last, learner, cid, cited) != EV_OK ||
                           iqa_coverage_decision_added(d->db, last) != EV_OK))
            d->failed = 1;
        json_decref(cited);
        audit(d, assessor, "decision.create", "decision", last, learner,
              json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)last, "criterion_id", (json_int_t)cid, "outcome",
                        outcome, "feedback", feedback));
        if (countersign) {
            run(d, "INSERT INTO countersigns (decision_id, learner_id, comment, signed_at) VALUES (?, ?, ?, ?)",
                "iitt", last, learner, "I agree with this decision.", signed_at);
            audit(d, learner, "decision.countersign", "decision", last, learner, NULL);
        }
    }
    run(d, "UPDATE evidence SET status = ?, updated_at = ? WHERE id = ?", "tti",
        strcmp(outcome, "met") == 0 ? "assessed" : "returned", when, ev);
    audit(d, assessor, strcmp(outcome, "met") == 0 ? "evidence.assess" : "evidence.return", "evidence", ev, learner, NULL);
    return last;
}

static void sample(demo_t *d, int64_t iqa, int64_t assessor, int64_t learner, int64_t decision,
                   const char *outcome, const char *feedback, const char *response, int ago)
{
    char when[21], resp_at[21];
    stamp(d->today, ago, 14, when);
    stamp(d->today, ago > 0 ? ago - 1 : 0, 9, resp_at);
    int64_t id = run(d, "INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at, response, responded_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id", "iittttt", decision, iqa, outcome, feedback, when, response,
        response ? resp_at : NULL);
    if (!d->failed && iqa_coverage_sample_added(d->db, decision) != EV_OK)
        d->failed = 1;
    audit(d, iqa, "iqa.sample", "iqa_sample", id, learner,
          json_pack("{s:I, s:s, s:s}", "decision_id", (json_int_t)decision, "outcome", outcome, "feedback", feedback));
    if (response)
        audit(d, assessor, "iqa.response", "iqa_sample", id, learner, NULL);
}

/* Moves an enrolment's dates so the demo shows each pace. */
static void set_dates(demo_t *d, int64_t learner, int64_t qid, int started_ago, int ends_in)
{
    char s[11], e[11];
    progress_day_iso(d->today - started_ago, s);
    progress_day_iso(d->today + ends_in, e);
    int64_t eid = db_int(d->db, "SELECT id FROM enrolments WHERE learner_id = ? AND qualification_id = ?", 0, "ii",
                         learner, qid);
    run(d, "UPDATE enrolments SET start_date = ?, planned_end_date = ? WHERE id = ?", "tti", s, e, eid);
    audit(d, 0, "enrolment.update", "enrolment", eid, learner,
          json_pack("{s:s, s:s}", "start_date", s, "planned_end_date", e));
}

static const char *const ACCOUNT[] = {
    "Reflective account\n\nOn Tuesday a customer came to the counter upset that their order had not arrived. "
    "I listened without interrupting, repeated back what they had told me and apologised for the delay.\n\n"
    "I checked the order system, found the parcel had been sent to the wrong branch, and arranged for it to "
    "be couriered the same day. I explained each step and gave them my name and the reference number.\n\n"
    "Afterwards I recorded the complaint in the log and told my supervisor so the branch address could be fixed.\n",
    "Witness testimony\n\nI have supervised the learner for six months. I have seen them greet customers "
    "promptly, check what each customer needs and follow the organisation's service standards, including "
    "data protection when taking details over the phone.\n\nSigned: shift supervisor.\n",
    "Observation record\n\nThe assessor observed the learner handling three customer enquiries in the shop. "
    "The learner used open questions, kept to the service standards and recorded each enquiry accurately.\n",
    "Professional discussion notes\n\nWe discussed how the learner's organisation measures customer "
    "satisfaction, what the service offer is, and how legislation limits what staff may promise.\n",
};

int progress_demo_seed(db_t *db, const app_t *app)
{
    demo_t d = {db, app, progress_today(), 0};
    int64_t amy = user_id(&d, "learner@demo.test"), ben = user_id(&d, "learner2@demo.test"),
            chloe = user_id(&d, "learner3@demo.test"), tom = user_id(&d, "assessor@demo.test"),
            hannah = user_id(&d, "assessor2@demo.test"), iqa = user_id(&d, "iqa@demo.test");
    if (!amy || !ben || !chloe || !tom || !hannah || !iqa)
        return EV_OK; /* not the demo accounts: nothing to add */
    if (db_int(db, "SELECT count(*) FROM evidence", 0, "") > 0)
        return EV_OK; /* already has activity */
    int64_t q1 = db_int(db, "SELECT qualification_id FROM enrolments WHERE learner_id = ? ORDER BY id LIMIT 1", 0, "i", amy);
    if (!q1)
        return EV_OK;
    int own = !db_in_transaction(db);
    if (own && db_begin(db) != EV_OK)
        return EV_ERR;
    json_t *crit = db_all(db,
        "SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id"
        " WHERE u.qualification_id = ? AND u.retired = 0 AND c.retired = 0"
        " ORDER BY u.position, u.id, c.position, c.id", "i", q1);
    size_t n = json_array_size(crit);
    if (n < 6) {
        json_decref(crit);
        if (own)
            db_rollback(db);
        return EV_OK;
    }

    /* The other helpers' tests start from learner@demo.test with nothing recorded
     * and assessor@demo.test with nothing sampled, so Amy keeps a fresh start and
     * the IQA samples fall on Hannah's decisions. */

    /* Ben: well along his first qualification, on track, with one criterion not yet
     * met and resubmitted, countersigns, and a submission awaiting assessment */
    set_dates(&d, ben, q1, 240, 125);
    size_t done = n * 3 / 4 - 1, k = 0;
    int ago = 200, piece = 0;
    int64_t ev;
    static const char *const kinds[] = {"reflective_account", "witness_testimony", "professional_discussion", "product"};
    while (k < done) {
        size_t span = done - k < 3 ? done - k : 3;
        char title[64];
        snprintf(title, sizeof title, "%s %d", piece % 2 ? "Customer feedback log" : "Handling a complaint", piece + 1);
        ev = evidence(&d, ben, crit, k, span, title, kinds[piece % 4], ACCOUNT[piece % 4], ago, "submitted");
        decide(&d, ben, tom, crit, k, span, ev, "met", "Clear, specific account that meets each criterion. Well done.",
               ago - 3, piece % 3 != 2);
        k += span;
        ago -= 40;
        piece++;
    }
    ev = evidence(&d, ben, crit, k, 1, "Service standards summary", "product", ACCOUNT[3], 20, "submitted");
    decide(&d, ben, tom, crit, k, 1, ev, "not_met",
           "Say which standards apply in your workplace and how you check you meet them.", 15, 1);
    evidence(&d, ben, crit, k, 1, "Service standards summary (revised)", "product", ACCOUNT[3], 4, "submitted");
    evidence(&d, ben, crit, k + 1, 2, "Notes for my next discussion", "reflective_account", ACCOUNT[0], 1, "draft");

    /* Chloe: behind on the same qualification with her own assessor, both kinds of
     * IQA sample; her second qualification has run almost its whole planned time
     * with nothing met (at risk) */
    int64_t qc = db_int(db, "SELECT qualification_id FROM enrolments WHERE learner_id = ? ORDER BY id LIMIT 1", 0, "i", chloe);
    if (qc == q1) {
        set_dates(&d, chloe, q1, 150, 215);
        ev = evidence(&d, chloe, crit, 0, 2, "My first weeks", "reflective_account", ACCOUNT[2], 100, "submitted");
        int64_t c1 = decide(&d, chloe, hannah, crit, 0, 1, ev, "met", "A good start: specific and honest.", 95, 1);
        int64_t c2 = decide(&d, chloe, hannah, crit, 1, 1, ev, "met", "Good detail on what you did.", 95, 1);
        ev = evidence(&d, chloe, crit, 2, 2, "Telephone enquiries", "reflective_account", ACCOUNT[0], 60, "submitted");
        decide(&d, chloe, hannah, crit, 2, 1, ev, "not_met", "Describe what you did, not what should happen in general.", 55, 0);
        evidence(&d, chloe, crit, 4, 2, "Witness statement from my manager", "witness_testimony", ACCOUNT[1], 9, "submitted");
        evidence(&d, chloe, crit, 6, 1, "Photo of the service charter", "product", ACCOUNT[3], 1, "draft");
        sample(&d, iqa, hannah, chloe, c1, "agree", "Decision well supported by the observation; feedback is developmental.",
               NULL, 60);
        sample(&d, iqa, hannah, chloe, c2, "action_required",
               "Please record which parts of the account you relied on.",
               "Added a note to the decision record naming paragraphs 1 and 2.", 8);
    }
    int64_t q2c = db_int(db, "SELECT qualification_id FROM enrolments WHERE learner_id = ? AND qualification_id <> ?"
                             " ORDER BY id LIMIT 1", 0, "ii", chloe, q1);
    if (q2c)
        set_dates(&d, chloe, q2c, 300, 30);
    json_decref(crit);
    if (!d.failed && (status_refresh_learner(db, ben) != EV_OK ||
                      status_refresh_learner(db, chloe) != EV_OK))
        d.failed = 1;
    if (own) {
        if (d.failed) {
            db_rollback(db);
            return EV_ERR;
        }
        if (db_commit(db) != EV_OK)
            return EV_ERR;
    }
    if (!d.failed)
        printf("Demo activity: evidence, decisions, countersigns and IQA samples for learner2 and learner3.\n");
    return d.failed ? EV_ERR : EV_OK;
}
