/* records.c: evidence the assessor writes (observations, professional discussions, Q&A, group observations) and the learner's acknowledgement */
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "evidence.h"
#include "policy.h"
#include "rules.h"
#include "util.h"

/*
 * In UK practice most evidence for a competence unit is written by the assessor at a
 * workplace visit. The rules here (awarding-body practice for assessor-led methods):
 *   - only the assessor of an active enrolment of the learner writes a record for them,
 *     and only on criteria of a qualification they assess (policy_can_assess_criterion);
 *   - a record shows its author everywhere (evidence.author_role / author_id), is ready
 *     for assessment when written up (no learner submit), and the learner cannot change
 *     it (evidence.c refuses the learner's edits of an item someone else wrote);
 *   - a record may first be planned (status draft: the visit is booked, the record not
 *     yet written): it waits in its author's queue and cannot be cited until written up;
 *   - the learner confirms they have read it (acknowledge, audited, once);
 *   - decisions cite it like any evidence (rules.c: the learner's, submitted, mapped).
 */

#define TITLE_MAX 200
#define TEXT_MAX 20000
#define SHORT_MAX 500
#define QUESTIONS_MAX 50
#define QUESTION_MAX 2000
#define FORM_QUESTIONS 5  /* blank question rows on the page form */
#define GROUP_MAX 30      /* learners in one group observation */

static const struct {
    const char *key;
    const char *label;
    const char *body_label; /* what the main text is called on this kind's form */
} KINDS[] = {
    {"observation", "Observation record", "What the learner did"},
    {"professional_discussion", "Professional discussion", "Summary of the discussion"},
    {"question_and_answer", "Question and answer record", "Notes (optional)"},
    {NULL, NULL, NULL},
};

static int kind_index(const char *kind)
{
    for (int i = 0; kind && KINDS[i].key; i++)
        if (strcmp(KINDS[i].key, kind) == 0)
            return i;
    return -1;
}

int records_kind_ok(const char *kind)
{
    return kind_index(kind) >= 0;
}

/* Characters (not bytes) of UTF-8 text. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Today (UTC) as YYYY-MM-DD, allowing a day ahead for time zones. */
static void latest_date(char out[11], int days_ahead)
{
    time_t t = time(NULL) + 86400 * (time_t)days_ahead;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* A copy of s without surrounding white space (caller frees), or NULL. */
static char *trimdup(const char *s)
{
    if (!s)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return xstrndup(s, n);
}

/* ------------------------------------------------------------------ */
/* Reading and checking a record's fields                              */
/* ------------------------------------------------------------------ */

typedef struct rec_in {
    char *title;            /* trimmed (owned) */
    const char *kind;
    const char *occurred_on;
    const char *place, *activity, *description, *body;
    json_t *questions;      /* [{question, answer}] trimmed, blank rows dropped (owned) */
    evidence_map_item_t *items; /* criteria (owned; notes borrowed from r->in) */
    size_t nitems;
    int plan;               /* only planned: written up later */
} rec_in_t;

static void rec_free(rec_in_t *in)
{
    free(in->title);
    json_decref(in->questions);
    free(in->items);
    memset(in, 0, sizeof *in);
}

/* A field that must be text when present. */
static int text_or_absent(req_t *r, const char *key)
{
    json_t *v = json_object_get(r->in, key);
    return !v || json_is_string(v) || json_is_null(v);
}

/* Reads the questions: JSON "questions": [{question, answer}] or the form's
 * question_N / answer_N rows. Field errors on r; returns the list (new ref). */
static json_t *read_questions(req_t *r)
{
    json_t *out = json_array();
    json_t *arr = json_object_get(r->in, "questions");
    if (arr && !json_is_array(arr)) {
        http_field_error(r, "questions", "questions must be a list of {question, answer}");
        return out;
    }
    size_t n = arr ? json_array_size(arr) : QUESTIONS_MAX;
    for (size_t i = 0; i < n; i++) {
        const char *q = NULL, *a = NULL;
        if (arr) {
            json_t *it = json_array_get(arr, i);
            json_t *qv = json_object_get(it, "question"), *av = json_object_get(it, "answer");
            if (!json_is_object(it) || (qv && !json_is_string(qv)) || (av && !json_is_string(av) && !json_is_null(av))) {
                http_field_error(r, "questions", "Each question is {question, answer} as text");
                return out;
            }
            q = json_string_value(qv);
            a = json_string_value(av);
        } else {
            char kq[32], ka[32];
            snprintf(kq, sizeof kq, "question_%zu", i + 1);
            snprintf(ka, sizeof ka, "answer_%zu", i + 1);
            q = in_str(r, kq);
            a = in_str(r, ka);
        }
        char *tq = trimdup(q), *ta = trimdup(a);
        if ((tq && *tq) || (ta && *ta)) {
            if (!tq || !*tq) {
                char field[32];
                snprintf(field, sizeof field, "question_%zu", i + 1);
                http_field_error(r, field, "Enter the question this answer is to");
            } else if (chars(tq) > QUESTION_MAX || (ta && chars(ta) > QUESTION_MAX)) {
                char field[32];
                snprintf(field, sizeof field, "question_%zu", i + 1);
                http_field_error(r, field, "A question or answer must be 2,000 characters or fewer");
            } else {
                json_array_append_new(out, json_pack("{s:s, s:s}", "question", tq, "answer", ta ? ta : ""));
            }
        }
        free(tq);
        free(ta);
    }
    if (json_array_size(out) > QUESTIONS_MAX)
        http_field_error(r, "questions", "Record at most 50 questions in one record");
    return out;
}

/* Reads and checks the record's fields; field errors on r. for_kind: the kind when
 * it is fixed (a write-up keeps its planned kind), else NULL. */
static void rec_read(req_t *r, rec_in_t *in, const char *for_kind)
{
    static const char *const text_fields[] = {"title", "kind", "occurred_on", "place", "activity", "description",
                                              "body", NULL};
    memset(in, 0, sizeof *in);
    for (int i = 0; text_fields[i]; i++)
        if (!text_or_absent(r, text_fields[i]))
            http_field_error(r, text_fields[i], "Send this field as text");
    in->plan = in_bool(r, "plan");
    in->title = trimdup(in_str(r, "title"));
    in->kind = for_kind ? for_kind : in_str(r, "kind");
    in->occurred_on = in_str(r, "occurred_on");
    in->place = in_str(r, "place");
    in->activity = in_str(r, "activity");
    in->description = in_str(r, "description");
    in->body = in_str(r, "body");
    int k = kind_index(in->kind);
    if (k < 0)
        http_field_error(r, "kind", "Choose an observation, a professional discussion or a question and answer record");
    if (!in->title || !*in->title)
        http_field_error(r, "title", "Enter a title");
    else if (chars(in->title) > TITLE_MAX)
        http_field_error(r, "title", "Title must be 200 characters or fewer");
    char latest[11];
    latest_date(latest, in->plan ? 366 : 1);
    if (!in->occurred_on || !*in->occurred_on)
        http_field_error(r, "occurred_on", in->plan ? "Enter the date of the planned visit" : "Enter the date of the visit");
    else if (!util_valid_date(in->occurred_on) || strcmp(in->occurred_on, "1950-01-01") < 0)
        http_field_error(r, "occurred_on", "Enter a real date as YYYY-MM-DD");
    else if (strcmp(in->occurred_on, latest) > 0)
        http_field_error(r, "occurred_on", in->plan ? "Plan the visit within the next year"
                                                    : "The date of the visit must be today or in the past");
    if ((in->place && chars(in->place) > SHORT_MAX) || (in->activity && chars(in->activity) > SHORT_MAX * 4))
        http_field_error(r, in->place && chars(in->place) > SHORT_MAX ? "place" : "activity",
                         "Keep the place to 500 and the activity to 2,000 characters");
    if ((in->description && chars(in->description) > TEXT_MAX) || (in->body && chars(in->body) > TEXT_MAX))
        http_field_error(r, "body", "Keep each text to 20,000 characters or fewer");
    in->questions = read_questions(r);
    if (json_object_get(r->in, "criteria") || json_object_get(r->in, "criterion") || in_str(r, "mapping")) {
        if (evidence_mapping_read(r, &in->items, &in->nitems) != 0) {
            json_t *err = json_object_get(http_out(r), "error");
            http_field_error(r, "criteria", json_string_value(json_object_get(err, "message")));
            json_object_del(http_out(r), "error");
        }
    }
    if (in->plan || k < 0)
        return;
    /* A written-up record: what each kind needs. */
    if (!strcmp(in->kind, "observation") && (!in->activity || !*in->activity))
        http_field_error(r, "activity", "Enter the activity you observed");
    if (strcmp(in->kind, "question_and_answer") != 0 && (!in->body || !*in->body))
        http_field_error(r, "body", !strcmp(in->kind, "observation") ? "Enter what the learner did"
                                                                      : "Enter a summary of the discussion");
    if (!strcmp(in->kind, "question_and_answer")) {
        size_t i;
        json_t *q;
        int answered = 0;
        json_array_foreach(in->questions, i, q) answered += *json_string_value(json_object_get(q, "answer")) != 0;
        if (!answered || (size_t)answered != json_array_size(in->questions))
            http_field_error(r, "question_1", "Enter each question with the learner's answer");
    }
    if (!in->nitems)
        http_field_error(r, "criteria", "Choose the criteria this record covers");
    for (size_t i = 0; i < in->nitems; i++)
        if (!strcmp(in->kind, "observation") && (!in->items[i].note || !*in->items[i].note)) {
            http_field_error(r, "criteria", "Write a note for each criterion: what you saw that meets it");
            break;
        }
}

/* Each criterion must be one the signed-in assessor assesses for the learner. */
static void rec_check_criteria(req_t *r, int64_t learner_id, const rec_in_t *in)
{
    for (size_t i = 0; i < in->nitems; i++)
        if (!policy_can_assess_criterion(r->db, &r->user, learner_id, in->items[i].criterion_id)) {
            http_field_error(r, "criteria", "Choose criteria of a qualification you assess for this learner");
            return;
        }
}

/* ------------------------------------------------------------------ */
/* The form                                                             */
/* ------------------------------------------------------------------ */

/* The criteria the assessor may record for learner_id, by unit, with what the
 * request ticked and noted (prefix "": criterion / note_ID; for a group
 * observation "c<learner>_" names). New ref: [{unit_ref, unit_title,
 * qualification_title, criteria: [{id, ref, text, checked, note, field, note_field}]}]. */
static json_t *criteria_choices(req_t *r, int64_t learner_id, const char *field, const char *note_prefix,
                                const evidence_map_item_t *sel, size_t nsel)
{
    json_t *rows = db_all(r->db,
                          "SELECT c.id, c.ref, c.text, u.id AS unit_id, u.ref AS unit_ref, u.title AS unit_title,"
                          " q.title AS qualification_title FROM enrolments e"
                          " JOIN qualifications q ON q.id = e.qualification_id JOIN units u ON u.qualification_id = q.id"
                          " JOIN criteria c ON c.unit_id = u.id"
                          " WHERE e.learner_id = ? AND e.assessor_id = ? AND e.status = 'active'"
                          " AND c.retired = 0 AND u.retired = 0 ORDER BY q.id, u.position, u.id, c.position, c.id",
                          "ii", learner_id, r->user.id);
    json_t *units = json_array(), *cur = NULL, *row;
    int64_t cur_unit = 0;
    size_t i;
    json_array_foreach(rows, i, row) {
        int64_t uid = json_integer_value(json_object_get(row, "unit_id"));
        int64_t cid = json_integer_value(json_object_get(row, "id"));
        if (!cur || uid != cur_unit) {
            cur = json_pack("{s:O, s:O, s:O, s:[]}", "unit_ref", json_object_get(row, "unit_ref"), "unit_title",
                            json_object_get(row, "unit_title"), "qualification_title",
                            json_object_get(row, "qualification_title"), "criteria");
            json_array_append_new(units, cur);
            cur_unit = uid;
        }
        const char *note = "";
        int checked = 0;
        for (size_t k = 0; k < nsel; k++)
            if (sel[k].criterion_id == cid) {
                checked = 1;
                note = sel[k].note ? sel[k].note : "";
            }
        char nfield[64], box[64];
        snprintf(nfield, sizeof nfield, "%s%lld", note_prefix, (long long)cid);
        snprintf(box, sizeof box, "%s_%lld", field, (long long)cid);
        json_array_append_new(json_object_get(cur, "criteria"),
                              json_pack("{s:I, s:O, s:O, s:b, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)cid, "ref",
                                        json_object_get(row, "ref"), "text", json_object_get(row, "text"),
                                        "checked", checked, "note", note, "field", field, "note_field", nfield,
                                        "dom_id", nfield, "box_id", box));
    }
    json_decref(rows);
    return units;
}

/* The form's context: kinds (one selected), typed values, question rows, criteria. */
static void form_context(req_t *r, int64_t learner_id, const rec_in_t *in, const char *kind)
{
    json_t *out = http_out(r);
    json_t *kinds = json_array();
    int k = kind_index(kind);
    for (int i = 0; KINDS[i].key; i++)
        json_array_append_new(kinds, json_pack("{s:s, s:s, s:b}", "value", KINDS[i].key, "label", KINDS[i].label,
                                               "selected", i == (k < 0 ? 0 : k)));
    json_object_set_new(out, "kinds", kinds);
    json_object_set_new(out, "kind", json_string(KINDS[k < 0 ? 0 : k].key));
    json_object_set_new(out, "kind_label", json_string(KINDS[k < 0 ? 0 : k].label));
    json_object_set_new(out, "body_label", json_string(KINDS[k < 0 ? 0 : k].body_label));
    char key[40];
    snprintf(key, sizeof key, "is_%s", KINDS[k < 0 ? 0 : k].key);
    json_object_set_new(out, key, json_true());
    json_object_set_new(out, "form", json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "title",
                                               in && in->title ? in->title : "", "occurred_on",
                                               in && in->occurred_on ? in->occurred_on : "", "place",
                                               in && in->place ? in->place : "", "activity",
                                               in && in->activity ? in->activity : "", "description",
                                               in && in->description ? in->description : "", "body",
                                               in && in->body ? in->body : "", "plan", in && in->plan));
    json_t *rows = json_array();
    size_t nq = in && in->questions ? json_array_size(in->questions) : 0;
    for (size_t i = 0; i < nq + FORM_QUESTIONS && i < QUESTIONS_MAX; i++) {
        json_t *q = i < nq ? json_array_get(in->questions, i) : NULL;
        json_array_append_new(rows, json_pack("{s:I, s:s, s:s}", "n", (json_int_t)(i + 1), "question",
                                              q ? json_string_value(json_object_get(q, "question")) : "", "answer",
                                              q ? json_string_value(json_object_get(q, "answer")) : ""));
    }
    json_object_set_new(out, "question_rows", rows);
    json_object_set_new(out, "units", criteria_choices(r, learner_id, "criterion", "note_", in ? in->items : NULL,
                                                         in ? in->nitems : 0));
    json_object_set_new(out, "learner", db_one(r->db, "SELECT id, name FROM users WHERE id = ?", "i", learner_id));
    json_object_set_new(out, "max_upload_mb", json_integer((json_int_t)(r->app->max_upload_bytes / (1024 * 1024))));
    json_object_set_new(out, "max_upload_bytes", json_integer((json_int_t)r->app->max_upload_bytes));
    /* field_errors ({field: first message}) is kept by http_field_error */
    /* the one page that records audio (static/recorder.js) may use the microphone */
    r->allow_microphone = !r->is_api && k >= 0 && !strcmp(KINDS[k].key, "professional_discussion");
}

/* 404 unless the signed-in assessor assesses learner_id (an active enrolment). */
static int require_learner(req_t *r, int64_t learner_id)
{
    if (!db_int(r->db, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND role = 'learner')", 0, "i", learner_id) ||
        !policy_can_read_learner(r->db, &r->user, learner_id))
        return http_fail(r, 404, "not_found", "There is no learner %lld in your caseload.", (long long)learner_id);
    if (!policy_can_assess_learner(r->db, &r->user, learner_id))
        return http_fail(r, 403, "forbidden",
                         "Only the learner's assessor, on an active enrolment, writes records for them.");
    return 0;
}

/* GET /learners/{id}/records/new?kind=observation */
static int h_new_form(req_t *r)
{
    int st = require_learner(r, r->params[0]);
    if (st)
        return st;
    const char *kind = in_str(r, "kind");
    rec_in_t in = {0};
    in.plan = in_bool(r, "plan");
    form_context(r, r->params[0], &in, kind_index(kind) >= 0 ? kind : "observation");
    return 200;
}

/* A 400 with the form again (pages) or the field errors (API). */
static int invalid(req_t *r, int64_t learner_id, const rec_in_t *in, int status)
{
    if (!r->is_api)
        form_context(r, learner_id, in, in->kind);
    if (!json_object_get(http_out(r), "error"))
        http_fail(r, 400, "invalid", "Check the record: %zu problem%s.", http_field_error_count(r),
                  http_field_error_count(r) == 1 ? "" : "s");
    return status ? (!r->is_api && status == 415 ? 400 : status) : 400;
}

/* Writes a new record inside an open transaction: the item, its mapping, and
 * (unless only planned) ready for assessment. */
static int rec_save(req_t *r, int64_t learner_id, const rec_in_t *in, const evidence_uploads_t *up,
                    int64_t *id_out, rules_err_t *re)
{
    int64_t id = 0;
    snprintf(re->code, sizeof re->code, "internal_error");
    re->status = 500;
    snprintf(re->message, sizeof re->message, "Could not save the record.");
    evidence_authored_t a = {.learner_id = learner_id, .actor_id = r->user.id, .author_role = "assessor",
                             .author_id = r->user.id, .title = in->title, .kind = in->kind,
                             .description = in->description, .body = in->body, .occurred_on = in->occurred_on,
                             .place = in->place, .activity = in->activity};
    if (evidence_insert_authored(r->db, &a, up, in->questions, &id) != EV_OK)
        return EV_ERR;
    if (in->nitems && evidence_mapping_apply(r->db, id, r->user.id, in->items, in->nitems, re) != EV_OK)
        return EV_ERR;
    if (!in->plan && evidence_mark_ready(r->db, id, r->user.id, 0, re) != EV_OK)
        return EV_ERR;
    *id_out = id;
    return EV_OK;
}

/* POST /learners/{id}/records, POST /api/v1/learners/{id}/records: a new record
 * (multipart or JSON): kind, title, occurred_on, place, activity, description,
 * body, questions, criteria, file..., plan. 201 with the evidence item. */
static int h_create(req_t *r)
{
    int64_t learner_id = r->params[0], id = 0;
    rec_in_t in;
    evidence_uploads_t *up = NULL;
    rules_err_t re = {0};
    int status = require_learner(r, learner_id);
    if (status)
        return status;
    rec_read(r, &in, NULL);
    rec_check_criteria(r, learner_id, &in);
    int ust = evidence_uploads_take(r, &up);
    if (ust && ust != 400 && ust != 415) {
        status = ust;
        goto out;
    }
    if (http_field_error_count(r) > 0 || ust) {
        status = invalid(r, learner_id, &in, ust);
        goto out;
    }
    if ((status = evidence_uploads_store(r, up)) != 0)
        goto out;
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    if (rules_check_enrolment_open(r->db, learner_id, 0, &re) != EV_OK ||
        rec_save(r, learner_id, &in, up, &id, &re) != EV_OK || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (re.status == 400 || re.status == 422) {
            http_field_error(r, "criteria", re.message);
            status = invalid(r, learner_id, &in, 400);
        } else {
            status = http_fail(r, re.status ? re.status : 500, re.code[0] ? re.code : "internal_error", "%s",
                               re.message[0] ? re.message : "Could not save the record.");
        }
        goto out;
    }
    json_object_set_new(http_out(r), "id", json_integer((json_int_t)id));
    json_object_set_new(http_out(r), "status", json_string(in.plan ? "draft" : "submitted"));
    json_object_set_new(http_out(r), "url", json_sprintf("/evidence/%lld", (long long)id));
    http_redirect(r, "/evidence/%lld?done=%s", (long long)id, in.plan ? "record_planned" : "record_saved");
    status = 201;
out:
    rec_free(&in);
    evidence_uploads_free(up);
    return status;
}

/* The planned record id (a draft the signed-in assessor wrote for a learner they
 * still assess). 0, or an error status set on r. */
static int find_planned(req_t *r, int64_t id, int64_t *learner_id, char **kind)
{
    json_t *ev = db_one(r->db, "SELECT learner_id, kind, status, author_role, author_id FROM evidence WHERE id = ?",
                        "i", id);
    int st = 0;
    *learner_id = ev ? json_integer_value(json_object_get(ev, "learner_id")) : 0;
    *kind = NULL;
    if (!ev || !policy_can_read_learner(r->db, &r->user, *learner_id))
        st = http_fail(r, 404, "not_found", "There is no evidence %lld.", (long long)id);
    else if (strcmp(json_string_value(json_object_get(ev, "author_role")), "assessor") != 0 ||
             json_integer_value(json_object_get(ev, "author_id")) != r->user.id ||
             !policy_can_assess_learner(r->db, &r->user, *learner_id))
        st = http_fail(r, 403, "forbidden", "Only the assessor who planned this record writes it up.");
    else if (strcmp(json_string_value(json_object_get(ev, "status")), "draft") != 0)
        st = http_fail(r, 409, "already_written", "This record has been written up already.");
    else
        *kind = xstrdup(json_string_value(json_object_get(ev, "kind")));
    json_decref(ev);
    return st;
}

/* GET /evidence/{id}/record: the write-up form of a planned record. */
static int h_writeup_form(req_t *r)
{
    int64_t learner_id;
    char *kind = NULL;
    int st = find_planned(r, r->params[0], &learner_id, &kind);
    if (st == 403 || st == 409) {
        /* readable, but nothing for this assessor to write up: the item itself */
        json_object_del(http_out(r), "error");
        http_redirect(r, "/evidence/%lld", (long long)r->params[0]);
        return 303;
    }
    if (st)
        return st;
    json_t *ev = db_one(r->db, "SELECT title, occurred_on, place, activity, description, body FROM evidence WHERE id = ?",
                        "i", r->params[0]);
    json_t *map = db_all(r->db, "SELECT criterion_id, note FROM evidence_criteria WHERE evidence_id = ?", "i",
                         r->params[0]);
    rec_in_t in = {0};
    in.title = xstrdup(json_string_value(json_object_get(ev, "title")));
    in.occurred_on = json_string_value(json_object_get(ev, "occurred_on"));
    in.place = json_string_value(json_object_get(ev, "place"));
    in.activity = json_string_value(json_object_get(ev, "activity"));
    in.description = json_string_value(json_object_get(ev, "description"));
    in.body = json_string_value(json_object_get(ev, "body"));
    in.nitems = json_array_size(map);
    in.items = xcalloc(in.nitems + 1, sizeof *in.items);
    for (size_t i = 0; i < in.nitems; i++) {
        in.items[i].criterion_id = json_integer_value(json_object_get(json_array_get(map, i), "criterion_id"));
        in.items[i].note = json_string_value(json_object_get(json_array_get(map, i), "note"));
    }
    form_context(r, learner_id, &in, kind);
    json_object_set_new(http_out(r), "writeup_id", json_integer((json_int_t)r->params[0]));
    rec_free(&in);
    json_decref(ev);
    json_decref(map);
    free(kind);
    return 200;
}

/* POST /evidence/{id}/record, POST /api/v1/evidence/{id}/record: writes up a
 * planned record (the same fields as a new one; kind stays), adding any files;
 * with plan=1 it only saves the changes and stays planned. */
static int h_writeup(req_t *r)
{
    int64_t id = r->params[0], learner_id = 0;
    char *kind = NULL;
    rec_in_t in = {0};
    evidence_uploads_t *up = NULL;
    rules_err_t re = {0};
    int status = find_planned(r, id, &learner_id, &kind);
    if (status) {
        free(kind);
        return status;
    }
    rec_read(r, &in, kind);
    rec_check_criteria(r, learner_id, &in);
    int ust = evidence_uploads_take(r, &up);
    if (ust && ust != 400 && ust != 415) {
        status = ust;
        goto out;
    }
    if (http_field_error_count(r) > 0 || ust) {
        status = invalid(r, learner_id, &in, ust);
        json_object_set_new(http_out(r), "writeup_id", json_integer((json_int_t)id));
        goto out;
    }
    if ((status = evidence_uploads_store(r, up)) != 0)
        goto out;
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    json_t *before = db_one(r->db, "SELECT title, description, body, occurred_on, place, activity, status FROM evidence"
                                   " WHERE id = ? AND status = 'draft'", "i", id);
    int ok = before != NULL &&
             db_run(r->db, "UPDATE evidence SET title = ?, description = ?, body = ?, occurred_on = ?, place = ?,"
                           " activity = ?, updated_at = ? WHERE id = ? AND status = 'draft'", "ttttttti", in.title,
                    in.description ? in.description : "", in.body ? in.body : "", in.occurred_on,
                    in.place ? in.place : "", in.activity ? in.activity : "", now, id) == EV_OK &&
             db_run(r->db, "DELETE FROM evidence_questions WHERE evidence_id = ?", "i", id) == EV_OK;
    size_t i;
    json_t *q;
    json_array_foreach(in.questions, i, q) {
        ok = ok && db_run(r->db, "INSERT INTO evidence_questions (evidence_id, position, question, answer)"
                                 " VALUES (?, ?, ?, ?)", "iItt", id, (int)i + 1,
                          json_string_value(json_object_get(q, "question")),
                          json_string_value(json_object_get(q, "answer"))) == EV_OK;
    }
    ok = ok && evidence_uploads_record(r->db, id, up) == EV_OK;
    json_t *after = ok ? db_one(r->db, "SELECT title, description, body, occurred_on, place, activity FROM evidence"
                                       " WHERE id = ?", "i", id) : NULL;
    if (after)
        json_object_set_new(after, "questions", json_deep_copy(in.questions));
    ok = ok && after && audit_record(r->db, r->user.id, "evidence.write_up", "evidence", id, learner_id, before,
                                     after) == EV_OK;
    json_decref(before);
    json_decref(after);
    re.status = 500;
    snprintf(re.code, sizeof re.code, "internal_error");
    snprintf(re.message, sizeof re.message, "Could not save the record.");
    if (!ok || (in.nitems && evidence_mapping_apply(r->db, id, r->user.id, in.items, in.nitems, &re) != EV_OK) ||
        (!in.plan && evidence_mark_ready(r->db, id, r->user.id, 0, &re) != EV_OK) || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        if (re.status == 400 || re.status == 422) {
            http_field_error(r, "criteria", re.message);
            status = invalid(r, learner_id, &in, 400);
        } else {
            status = http_fail(r, re.status, re.code, "%s", re.message);
        }
        goto out;
    }
    json_object_set_new(http_out(r), "id", json_integer((json_int_t)id));
    json_object_set_new(http_out(r), "status", json_string(in.plan ? "draft" : "submitted"));
    http_redirect(r, "/evidence/%lld?done=%s", (long long)id, in.plan ? "record_planned" : "record_saved");
    status = 200;
out:
    free(kind);
    rec_free(&in);
    evidence_uploads_free(up);
    return status;
}

/* ------------------------------------------------------------------ */
/* Acknowledgement                                                      */
/* ------------------------------------------------------------------ */

/* POST /evidence/{id}/acknowledge, POST /api/v1/evidence/{id}/acknowledge: the
 * learner confirms they have read a record their assessor or a witness wrote.
 * Once; audited. */
static int h_acknowledge(req_t *r)
{
    int64_t id = r->params[0];
    json_t *ev = db_one(r->db, "SELECT learner_id, author_role, status, acknowledged_at FROM evidence WHERE id = ?",
                        "i", id);
    int status;
    if (!ev || json_integer_value(json_object_get(ev, "learner_id")) != r->user.id) {
        status = http_fail(r, 404, "not_found", "There is no evidence %lld.", (long long)id);
        goto out;
    }
    if (!strcmp(json_string_value(json_object_get(ev, "author_role")), "learner") ||
        !strcmp(json_string_value(json_object_get(ev, "status")), "draft")) {
        status = http_fail(r, 409, "nothing_to_acknowledge",
                           "Only a record your assessor or a witness has written needs your acknowledgement.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    /* Conditional update: two clicks (or two servers) record it once. */
    int64_t done = db_int(r->db, "UPDATE evidence SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL"
                                 " RETURNING id", 0, "ti", now, id);
    json_t *after = json_pack("{s:s}", "acknowledged_at", now);
    int ok = done == id && audit_record(r->db, r->user.id, "evidence.acknowledge", "evidence", id, r->user.id, NULL,
                                        after) == EV_OK;
    json_decref(after);
    if (done == 0) {
        db_rollback(r->db);
        status = http_fail(r, 409, "already_acknowledged", "You have already confirmed you read this record.");
        goto out;
    }
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        status = http_fail(r, 500, "internal_error", "Could not record your confirmation.");
        goto out;
    }
    http_set_out(r, json_pack("{s:I, s:s}", "id", (json_int_t)id, "acknowledged_at", now));
    http_redirect(r, "/evidence/%lld?done=acknowledged", (long long)id);
    status = 200;
out:
    json_decref(ev);
    return status;
}

/* ------------------------------------------------------------------ */
/* The queue: records still to write up                                 */
/* ------------------------------------------------------------------ */

json_t *records_to_write_up(db_t *db, int64_t assessor_id)
{
    json_t *rows = db_all(db,
                          "SELECT e.id, e.title, e.kind, e.occurred_on, e.learner_id, u.name AS learner_name"
                          " FROM evidence e JOIN users u ON u.id = e.learner_id WHERE e.author_id = ?"
                          " AND e.author_role = 'assessor' AND e.status = 'draft' ORDER BY e.occurred_on, e.id LIMIT 200",
                          "i", assessor_id);
    size_t i;
    json_t *it;
    if (!rows)
        return json_array();
    json_array_foreach(rows, i, it) {
        int k = kind_index(json_string_value(json_object_get(it, "kind")));
        json_object_set_new(it, "kind_label", json_string(k >= 0 ? KINDS[k].label : "Record"));
        json_object_set_new(it, "url", json_sprintf("/evidence/%lld/record",
                                                    (long long)json_integer_value(json_object_get(it, "id"))));
    }
    return rows;
}

/* ------------------------------------------------------------------ */
/* Group observations                                                   */
/* ------------------------------------------------------------------ */

/* One learner's part of a group observation. */
typedef struct grp_part {
    int64_t learner_id;
    const char *body;           /* what this learner did (borrowed; may be NULL) */
    evidence_map_item_t *items; /* owned; notes borrowed */
    size_t nitems;
} grp_part_t;

static void parts_free(grp_part_t *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        free(p[i].items);
    free(p);
}

/* Positive integer from a JSON integer or a form string. */
static int to_id(json_t *v, int64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return *out = json_integer_value(v), EV_OK;
    if (json_is_string(v) && util_parse_i64(json_string_value(v), out) == EV_OK && *out > 0)
        return EV_OK;
    return EV_ERR;
}

/* Reads the learners' parts: JSON "learners": [{learner_id, body, criteria:
 * [{criterion_id, note}]}] or the form's `learner` ticks with lb_<id> (what they
 * did), lc_<id> (criteria) and ln_<id>_<criterion> (notes). Field errors on r. */
static grp_part_t *read_parts(req_t *r, size_t *n_out)
{
    json_t *arr = json_object_get(r->in, "learners");
    json_t *ticks = arr ? NULL : in_array(r, "learner");
    size_t n = arr ? json_array_size(arr) : json_array_size(ticks), i, j;
    grp_part_t *parts = xcalloc(n + 1, sizeof *parts);
    *n_out = 0;
    if (arr && !json_is_array(arr)) {
        http_field_error(r, "learners", "learners must be a list of {learner_id, body, criteria}");
        goto out;
    }
    for (i = 0; i < n; i++) {
        grp_part_t *p = &parts[*n_out];
        json_t *crit = NULL, *c;
        char key[64];
        if (arr) {
            json_t *it = json_array_get(arr, i);
            json_t *b = json_object_get(it, "body");
            if (!json_is_object(it) || to_id(json_object_get(it, "learner_id"), &p->learner_id) != EV_OK ||
                (b && !json_is_string(b))) {
                http_field_error(r, "learners", "Each learner is {learner_id, body, criteria}");
                goto out;
            }
            p->body = json_string_value(b);
            crit = json_incref(json_object_get(it, "criteria"));
        } else {
            if (to_id(json_array_get(ticks, i), &p->learner_id) != EV_OK) {
                http_field_error(r, "learners", "Unknown learner in the form");
                goto out;
            }
            snprintf(key, sizeof key, "lb_%lld", (long long)p->learner_id);
            p->body = in_str(r, key);
            snprintf(key, sizeof key, "lc_%lld", (long long)p->learner_id);
            crit = json_object_get(r->in, key) ? in_array(r, key) : json_array();
        }
        for (j = 0; j < *n_out; j++)
            if (parts[j].learner_id == p->learner_id) {
                http_field_error(r, "learners", "Each learner appears once");
                json_decref(crit);
                goto out;
            }
        if (crit && !json_is_array(crit)) {
            http_field_error(r, "learners", "Each learner's criteria is a list of {criterion_id, note}");
            json_decref(crit);
            goto out;
        }
        p->items = xcalloc(json_array_size(crit) + 1, sizeof *p->items);
        json_array_foreach(crit, j, c) {
            int64_t cid;
            const char *note;
            if (arr) {
                json_t *nv = json_object_get(c, "note");
                if (to_id(json_object_get(c, "criterion_id"), &cid) != EV_OK || (nv && !json_is_string(nv))) {
                    http_field_error(r, "learners", "Each criterion is {criterion_id, note}");
                    break;
                }
                note = json_string_value(nv);
            } else {
                if (to_id(c, &cid) != EV_OK) {
                    http_field_error(r, "learners", "Unknown criterion in the form");
                    break;
                }
                snprintf(key, sizeof key, "ln_%lld_%lld", (long long)p->learner_id, (long long)cid);
                note = in_str(r, key);
            }
            int dup = 0;
            for (size_t k = 0; k < p->nitems; k++)
                dup |= p->items[k].criterion_id == cid;
            if (dup)
                continue;
            p->items[p->nitems].criterion_id = cid;
            p->items[p->nitems].note = note;
            p->nitems++;
        }
        json_decref(crit);
        (*n_out)++;
    }
out:
    json_decref(ticks);
    return parts;
}

/* Checks the parts: 2..GROUP_MAX learners the assessor assesses, each with
 * criteria they assess and a note for each. */
static void check_parts(req_t *r, const grp_part_t *parts, size_t n)
{
    if (http_field_error_count(r))
        return;
    if (n < 2) {
        http_field_error(r, "learners", "Choose at least two learners: a group observation is shared");
        return;
    }
    if (n > GROUP_MAX) {
        http_field_error(r, "learners", "Choose at most 30 learners for one group observation");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char field[40];
        snprintf(field, sizeof field, "lc_%lld", (long long)parts[i].learner_id);
        if (!policy_can_assess_learner(r->db, &r->user, parts[i].learner_id)) {
            http_field_error(r, "learners", "Choose learners you assess, on an active enrolment");
            return;
        }
        if (!parts[i].nitems)
            http_field_error(r, field, "Choose the criteria each learner showed");
        for (size_t k = 0; k < parts[i].nitems; k++) {
            if (!policy_can_assess_criterion(r->db, &r->user, parts[i].learner_id, parts[i].items[k].criterion_id)) {
                http_field_error(r, field, "Choose criteria of a qualification you assess for that learner");
                break;
            }
            if (!parts[i].items[k].note || !*parts[i].items[k].note) {
                http_field_error(r, field, "Write a note for each criterion: what you saw this learner do");
                break;
            }
        }
        if (parts[i].body && chars(parts[i].body) > TEXT_MAX)
            http_field_error(r, field, "Keep each text to 20,000 characters or fewer");
    }
}

/* The group form's context: the assessor's learners (ticked), and for each ticked
 * one their criteria; the shared fields typed so far. */
static void group_context(req_t *r, const grp_part_t *parts, size_t n)
{
    json_t *out = http_out(r);
    json_t *all = db_all(r->db, "SELECT DISTINCT u.id, u.name FROM enrolments e JOIN users u ON u.id = e.learner_id"
                                " WHERE e.assessor_id = ? AND e.status = 'active' ORDER BY u.name, u.id LIMIT 500",
                         "i", r->user.id);
    json_t *ticked = parts ? NULL : in_array(r, "learner");
    size_t i, k;
    json_t *l;
    json_t *chosen = json_array();
    json_array_foreach(all, i, l) {
        int64_t id = json_integer_value(json_object_get(l, "id"));
        const grp_part_t *p = NULL;
        int on = 0;
        for (k = 0; parts && k < n; k++)
            if (parts[k].learner_id == id)
                p = &parts[k], on = 1;
        json_t *t;
        size_t m;
        json_array_foreach(ticked, m, t) {
            int64_t v;
            if (to_id(t, &v) == EV_OK && v == id)
                on = 1;
        }
        json_object_set_new(l, "checked", json_boolean(on));
        if (!on)
            continue;
        char field[40], note_prefix[48], body_field[40];
        snprintf(field, sizeof field, "lc_%lld", (long long)id);
        snprintf(note_prefix, sizeof note_prefix, "ln_%lld_", (long long)id);
        snprintf(body_field, sizeof body_field, "lb_%lld", (long long)id);
        json_t *errs = json_object_get(out, "errors"), *e;
        const char *err = NULL;
        json_array_foreach(errs, m, e) if (!err && !strcmp(json_string_value(json_object_get(e, "field")), field))
            err = json_string_value(json_object_get(e, "message"));
        json_array_append_new(chosen, json_pack("{s:I, s:O, s:s, s:s, s:s, s:s?, s:o}", "id", (json_int_t)id, "name",
                                                json_object_get(l, "name"), "field", field, "body_field", body_field,
                                                "body", p && p->body ? p->body : "", "error", err, "units",
                                                criteria_choices(r, id, field, note_prefix, p ? p->items : NULL,
                                                                 p ? p->nitems : 0)));
    }
    json_decref(ticked);
    json_object_set_new(out, "learners", all ? all : json_array());
    json_object_set_new(out, "chosen", chosen);
    json_object_set_new(out, "has_chosen", json_boolean(json_array_size(chosen) > 0));
    static const char *const keys[] = {"title", "occurred_on", "place", "activity", "description", NULL};
    json_t *form = json_object();
    for (int j = 0; keys[j]; j++)
        json_object_set_new(form, keys[j], json_string(in_str(r, keys[j]) ? in_str(r, keys[j]) : ""));
    json_object_set_new(out, "form", form);
    json_object_set_new(out, "max_upload_mb", json_integer((json_int_t)(r->app->max_upload_bytes / (1024 * 1024))));
    /* field_errors ({field: first message}) is kept by http_field_error */
}

/* GET /group-observations/new[?learner=ID...]: choose the learners, then the form. */
static int h_group_form(req_t *r)
{
    group_context(r, NULL, 0);
    return 200;
}

/* POST /group-observations, POST /api/v1/group-observations: one observation for
 * several learners of this assessor: shared title, date, place, activity,
 * description and files; per learner what they did, criteria and notes. Each
 * learner's portfolio gets its own item (linked by group_id; the files' blobs are
 * stored once), ready for assessment. 201 {id, items: [{learner_id, evidence_id}]}. */
static int h_group_create(req_t *r)
{
    size_t n = 0;
    grp_part_t *parts = NULL;
    evidence_uploads_t *up = NULL;
    rules_err_t re = {0};
    char *title = trimdup(in_str(r, "title"));
    const char *occ = in_str(r, "occurred_on"), *place = in_str(r, "place"), *activity = in_str(r, "activity"),
               *desc = in_str(r, "description");
    int status;
    static const char *const text_fields[] = {"title", "occurred_on", "place", "activity", "description", NULL};
    for (int i = 0; text_fields[i]; i++)
        if (!text_or_absent(r, text_fields[i]))
            http_field_error(r, text_fields[i], "Send this field as text");
    char latest[11];
    latest_date(latest, 1);
    if (!title || !*title)
        http_field_error(r, "title", "Enter a title");
    else if (chars(title) > TITLE_MAX)
        http_field_error(r, "title", "Title must be 200 characters or fewer");
    if (!occ || !util_valid_date(occ) || strcmp(occ, "1950-01-01") < 0)
        http_field_error(r, "occurred_on", "Enter the date of the observation as YYYY-MM-DD");
    else if (strcmp(occ, latest) > 0)
        http_field_error(r, "occurred_on", "The date of the observation must be today or in the past");
    if (!activity || !*activity)
        http_field_error(r, "activity", "Enter the activity you observed");
    if (!desc || !*desc)
        http_field_error(r, "description", "Describe what happened: this part is shared by every learner");
    if ((place && chars(place) > SHORT_MAX) || (activity && chars(activity) > SHORT_MAX * 4) ||
        (desc && chars(desc) > TEXT_MAX))
        http_field_error(r, "description", "Keep the place to 500, the activity to 2,000 and the description to "
                                           "20,000 characters");
    parts = read_parts(r, &n);
    check_parts(r, parts, n);
    int ust = evidence_uploads_take(r, &up);
    if (ust && ust != 400 && ust != 415) {
        status = ust;
        goto out;
    }
    if (http_field_error_count(r) || ust) {
        if (!r->is_api)
            group_context(r, parts, n);
        if (!json_object_get(http_out(r), "error"))
            http_fail(r, 400, "invalid", "Check the group observation: %zu problem%s.", http_field_error_count(r),
                      http_field_error_count(r) == 1 ? "" : "s");
        status = ust && ust != 400 ? (r->is_api ? ust : 400) : 400;
        goto out;
    }
    if ((status = evidence_uploads_store(r, up)) != 0)
        goto out;
    if (db_begin(r->db) != EV_OK) {
        status = http_fail(r, 503, "busy", "The server is busy; try again.");
        goto out;
    }
    char now[21];
    util_now_iso(now);
    int64_t gid = db_int(r->db, "INSERT INTO group_observations (assessor_id, title, occurred_on, place, activity,"
                                " description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id", 0, "ittttt" "t",
                         r->user.id, title, occ, place ? place : "", activity, desc, now);
    json_t *items = json_array();
    int ok = gid > 0;
    for (size_t i = 0; ok && i < n; i++) {
        int64_t eid = 0;
        evidence_authored_t a = {.learner_id = parts[i].learner_id, .actor_id = r->user.id, .author_role = "assessor",
                                 .author_id = r->user.id, .group_id = gid, .title = title, .kind = "observation",
                                 .description = desc, .body = parts[i].body, .occurred_on = occ, .place = place,
                                 .activity = activity};
        ok = rules_check_enrolment_open(r->db, parts[i].learner_id, 0, &re) == EV_OK &&
             evidence_insert_authored(r->db, &a, up, NULL, &eid) == EV_OK &&
             evidence_mapping_apply(r->db, eid, r->user.id, parts[i].items, parts[i].nitems, &re) == EV_OK &&
             evidence_mark_ready(r->db, eid, r->user.id, 0, &re) == EV_OK;
        if (ok)
            json_array_append_new(items, json_pack("{s:I, s:I}", "learner_id", (json_int_t)parts[i].learner_id,
                                                   "evidence_id", (json_int_t)eid));
    }
    json_t *after = json_pack("{s:s, s:s, s:s, s:O}", "title", title, "occurred_on", occ, "activity", activity,
                              "items", items);
    ok = ok && audit_record(r->db, r->user.id, "group_observation.create", "group_observation", gid, 0, NULL, after) ==
                   EV_OK;
    json_decref(after);
    if (!ok || db_commit(r->db) != EV_OK) {
        db_rollback(r->db);
        json_decref(items);
        status = http_fail(r, re.status ? re.status : 500, re.code[0] ? re.code : "internal_error", "%s",
                           re.message[0] ? re.message : "Could not save the group observation.");
        goto out;
    }
    json_object_set_new(http_out(r), "id", json_integer((json_int_t)gid));
    json_object_set_new(http_out(r), "items", items);
    http_redirect(r, "/group-observations/%lld?done=group_saved", (long long)gid);
    status = 201;
out:
    free(title);
    parts_free(parts, n);
    evidence_uploads_free(up);
    return status;
}

/* GET /group-observations/{id}, GET /api/v1/group-observations/{id}: the shared
 * record and each learner's item, for the assessor who wrote it, an admin, or an
 * EQA whose visit samples a learner of the group (only those learners' items).
 * Learners see only their own item, on their evidence page. */
static int h_group_show(req_t *r)
{
    json_t *g = db_one(r->db, "SELECT g.id, g.assessor_id, a.name AS assessor_name, g.title, g.occurred_on, g.place,"
                              " g.activity, g.description, g.created_at FROM group_observations g"
                              " JOIN users a ON a.id = g.assessor_id WHERE g.id = ?", "i", r->params[0]);
    if (!g || (r->user.role == ROLE_ASSESSOR && json_integer_value(json_object_get(g, "assessor_id")) != r->user.id)) {
        json_decref(g);
        return http_fail(r, 404, "not_found", "There is no group observation %lld.", (long long)r->params[0]);
    }
    json_t *items = db_all(r->db, "SELECT e.id AS evidence_id, e.learner_id, u.name AS learner_name, e.body, e.status,"
                                  " e.acknowledged_at, (SELECT count(*) FROM evidence_criteria ec"
                                  "  WHERE ec.evidence_id = e.id) AS criteria_count"
                                  " FROM evidence e JOIN users u ON u.id = e.learner_id WHERE e.group_id = ?"
                                  " ORDER BY u.name, e.id", "i", r->params[0]);
    json_t *files = db_all(r->db, "SELECT f.name, f.size, f.sha256, f.mime FROM evidence_files f WHERE f.evidence_id ="
                                  " (SELECT min(id) FROM evidence WHERE group_id = ?) ORDER BY f.id", "i", r->params[0]);
    if (items && r->user.role == ROLE_EQA) { /* an EQA: only the items of their visit's learners and
                                               * qualifications (issue 18) */
        for (size_t i = json_array_size(items); i-- > 0;) {
            json_t *it = json_array_get(items, i);
            int64_t learner = json_integer_value(json_object_get(it, "learner_id"));
            qscope_t qs;
            int keep = policy_can_read_learner(r->db, &r->user, learner) &&
                       policy_qscope(r->db, &r->user, learner, &qs) == EV_OK &&
                       qscope_evidence(r->db, &qs, json_integer_value(json_object_get(it, "evidence_id")));
            qscope_free(&qs);
            if (!keep)
                json_array_remove(items, i);
        }
    }
    json_object_set_new(g, "items", items ? items : json_array());
    json_object_set_new(g, "files", files ? files : json_array());
    http_set_out(r, g);
    return 200;
}

/* ------------------------------------------------------------------ */
/* Routes                                                               */
/* ------------------------------------------------------------------ */

const route_t records_routes[] = {
    {"POST", "/api/v1/learners/{id}/records", h_create, ROLE_ASSESSOR, NULL, ROUTE_UPLOAD},
    {"POST", "/api/v1/evidence/{id}/record", h_writeup, ROLE_ASSESSOR, NULL, ROUTE_UPLOAD},
    {"POST", "/api/v1/evidence/{id}/acknowledge", h_acknowledge, ROLE_LEARNER, NULL, 0},
    {"GET", "/learners/{id}/records/new", h_new_form, ROLE_ASSESSOR, "record_new", 0},
    {"POST", "/learners/{id}/records", h_create, ROLE_ASSESSOR, "record_new", ROUTE_UPLOAD},
    {"GET", "/evidence/{id}/record", h_writeup_form, ROLE_ASSESSOR, "record_new", 0},
    {"POST", "/evidence/{id}/record", h_writeup, ROLE_ASSESSOR, "record_new", ROUTE_UPLOAD},
    {"POST", "/evidence/{id}/acknowledge", h_acknowledge, ROLE_LEARNER, "evidence_show", 0},
    {"POST", "/api/v1/group-observations", h_group_create, ROLE_ASSESSOR, NULL, ROUTE_UPLOAD},
    {"GET", "/api/v1/group-observations/{id}", h_group_show, ROLE_ASSESSOR | ROLE_ADMIN | ROLE_EQA, NULL, 0},
    {"GET", "/group-observations/new", h_group_form, ROLE_ASSESSOR, "group_new", 0},
    {"POST", "/group-observations", h_group_create, ROLE_ASSESSOR, "group_new", ROUTE_UPLOAD},
    {"GET", "/group-observations/{id}", h_group_show, ROLE_ASSESSOR | ROLE_ADMIN | ROLE_EQA, "group_show", 0},
    {0},
};
