/* pages.c: what people read on pages: local times, relative ages, plurals, confirmation banners */
#include "pages.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "progress.h"
#include "reviews.h"
#include "specimport.h"
#include "util.h"

static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The zone's name as given (kept for pages_timezone); set once at start. */
static char zone_name[64] = "Europe/London";

/* 1 when zone is a plausible tz database name: letters, digits, '/', '_',
 * '-', '+', no leading '/', no "..", at most 63 bytes. */
static int zone_name_ok(const char *zone)
{
    size_t n = zone ? strlen(zone) : 0;
    if (n == 0 || n >= sizeof zone_name || zone[0] == '/' || strstr(zone, ".."))
        return 0;
    for (const char *p = zone; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
              *p == '_' || *p == '-' || *p == '+'))
            return 0;
    return 1;
}

int pages_set_timezone(const char *zone)
{
    if (!zone_name_ok(zone))
        return EV_ERR;
    const char *dir = getenv("TZDIR");
    char *path = fmtalloc("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
    int found = access(path, R_OK) == 0;
    free(path);
    const char *tz = zone;
    if (!found) {
        if (strcmp(zone, "Europe/London") == 0)
            tz = "GMT0BST,M3.5.0/1,M10.5.0";
        else if (strcmp(zone, "UTC") == 0)
            tz = "UTC0";
        else
            return EV_ERR;
    }
    if (setenv("TZ", tz, 1) != 0)
        return EV_ERR;
    tzset();
    snprintf(zone_name, sizeof zone_name, "%s", zone);
    return EV_OK;
}

const char *pages_timezone(void)
{
    return zone_name;
}

int pages_parse_iso(const char *iso, int64_t *out)
{
    int y, mo, d, h, mi, s = 0, used = 0;
    if (!iso || strlen(iso) < 16 || iso[4] != '-' || iso[7] != '-' || iso[10] != 'T' || iso[13] != ':')
        return EV_ERR;
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &used) != 5)
        return EV_ERR;
    if (iso[used] == ':' && sscanf(iso + used, ":%2d", &s) != 1)
        return EV_ERR;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1900 || y > 9999)
        return EV_ERR;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *out = (int64_t)timegm(&tm);
    return EV_OK;
}

void pages_local_time(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm)) {
        snprintf(out, outlen, "%s", "");
        return;
    }
    snprintf(out, outlen, "%d %s %d, %02d:%02d", tm.tm_mday, MONTHS[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min);
}

void pages_local_time_iso(const char *iso, char *out, size_t outlen)
{
    int64_t t;
    if (pages_parse_iso(iso, &t) == EV_OK)
        pages_local_time(t, out, outlen);
    else
        snprintf(out, outlen, "%s", "");
}

void pages_date_text(const char *date, char *out, size_t outlen)
{
    if (!util_valid_date(date)) {
        snprintf(out, outlen, "%s", "");
        return;
    }
    /* "%d %s %.4s" (day without a leading zero, month name, year), put together by hand:
     * pages show a few dozen dates each and this ran through printf for every one */
    char tmp[40];
    size_t n = 0;
    if (date[8] != '0')
        tmp[n++] = date[8];
    tmp[n++] = date[9];
    tmp[n++] = ' ';
    const char *m = MONTHS[(date[5] - '0') * 10 + (date[6] - '0') - 1];
    size_t ml = strlen(m);
    memcpy(tmp + n, m, ml);
    n += ml;
    tmp[n++] = ' ';
    memcpy(tmp + n, date, 4);
    n += 4;
    if (outlen) {
        size_t c = n < outlen - 1 ? n : outlen - 1;
        memcpy(out, tmp, c);
        out[c] = '\0';
    }
}

void pages_count(int64_t n, const char *one, const char *many, char *out, size_t outlen)
{
    snprintf(out, outlen, "%lld %s", (long long)n, n == 1 ? one : many);
}

void pages_ago(int64_t then, int64_t now, char *out, size_t outlen)
{
    int64_t secs = now - then;
    if (secs < 60) {
        snprintf(out, outlen, "just now");
        return;
    }
    int64_t n;
    const char *unit;
    if (secs >= 86400) {
        n = secs / 86400;
        unit = "day";
    } else if (secs >= 3600) {
        n = secs / 3600;
        unit = "hour";
    } else {
        n = secs / 60;
        unit = "minute";
    }
    snprintf(out, outlen, "%lld %s%s ago", (long long)n, unit, n == 1 ? "" : "s");
}

/* Counts that pages print with their noun: KEY_text = "1 file" / "2 files". */
static const struct {
    const char *key, *one, *many;
} COUNTS[] = {
    {"file_count", "file", "files"},
    {"unit_count", "unit", "units"},
    {"criteria_count", "criterion", "criteria"},
    {"distinct_learners", "learner", "learners"},
    {"enrolments", "enrolment", "enrolments"},
    {"oldest_days", "day", "days"},
    {"days_left", "day", "days"},
    {"changes", "change", "changes"},
    {"awaiting", "item", "items"},
    {NULL, NULL, NULL},
};

/* 1 when key ends with suffix (and has something before it). */
static int ends_with(const char *key, size_t n, const char *suffix)
{
    size_t s = strlen(suffix);
    return n > s && strcmp(key + n - s, suffix) == 0;
}

void pages_humanize(json_t *v, int64_t now)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) pages_humanize(e, now);
        return;
    }
    if (!json_is_object(v))
        return;
    json_t *add = NULL; /* new keys, added after the walk (never while iterating) */
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        if (json_is_object(e) || json_is_array(e)) {
            pages_humanize(e, now);
            json_t *total = strcmp(k, "pagination") == 0 ? json_object_get(e, "total") : NULL;
            if (json_is_integer(total) && !json_object_get(e, "total_text")) {
                char text[64];
                pages_count(json_integer_value(total), "item", "items", text, sizeof text);
                json_object_set_new(e, "total_text", json_string(text));
            }
            continue;
        }
        if (json_is_integer(e)) {
            for (size_t i = 0; COUNTS[i].key; i++)
                if (COUNTS[i].key[0] == k[0] && strcmp(k, COUNTS[i].key) == 0) {
                    char key[88], text[64];
                    snprintf(key, sizeof key, "%s_text", k);
                    pages_count(json_integer_value(e), COUNTS[i].one, COUNTS[i].many, text, sizeof text);
                    if (!add)
                        add = json_object();
                    if (!json_object_get(v, key))
                        json_object_set_new(add, key, json_string(text));
                }
            continue;
        }
        if (!json_is_string(e))
            continue;
        size_t n = strlen(k);
        if (n + 6 > 80 || n == 0)
            continue;
        char last = k[n - 1]; /* every key below ends in t (at, text), n (_on), e (_date) or y (today) */
        if (last != 't' && last != 'n' && last != 'e' && last != 'y')
            continue;
        const char *s = json_string_value(e);
        if ((strcmp(k, "text") == 0 || strcmp(k, "criterion_text") == 0) && strchr(s, '\n')) {
            /* a criterion's sub-items ("a) ...", "• ...") on lines of their own: a list on pages */
            char key[88];
            snprintf(key, sizeof key, "%s_parts", k);
            if (!add)
                add = json_object();
            if (!json_object_get(v, key))
                json_object_set_new(add, key, specimport_text_items(s));
            continue;
        }
        char key[88], text[48];
        int64_t t;
        if ((strcmp(k, "at") == 0 || ends_with(k, n, "_at")) && pages_parse_iso(s, &t) == EV_OK) {
            if (!add)
                add = json_object();
            snprintf(key, sizeof key, "%s_text", k);
            pages_local_time(t, text, sizeof text);
            if (!json_object_get(v, key))
                json_object_set_new(add, key, json_string(text));
            snprintf(key, sizeof key, "%s_ago", k);
            pages_ago(t, now, text, sizeof text);
            if (!json_object_get(v, key))
                json_object_set_new(add, key, json_string(text));
        } else if ((ends_with(k, n, "_on") || ends_with(k, n, "_date") || strcmp(k, "today") == 0) &&
                   util_valid_date(s)) {
            if (!add)
                add = json_object();
            memcpy(key, k, n); /* KEY_text (n + 6 <= 80 < sizeof key) */
            memcpy(key + n, "_text", 6);
            pages_date_text(s, text, sizeof text);
            if (!json_object_get(v, key))
                json_object_set_new(add, key, json_string(text));
        }
    }
    if (add) {
        json_object_update(v, add);
        json_decref(add);
    }
}

/* Every confirmation a form handler may ask for with ?done=CODE. */
static const struct {
    const char *code;
    const char *text;
} DONE[] = {
    {"evidence_added", "Your evidence has been added. Now choose the criteria it covers."},
    {"record_saved", "The record has been saved. It is ready for assessment and the learner can read it."},
    {"record_planned", "The record has been planned. Write it up after the visit: it waits in your queue."},
    {"witness_revoked", "The witness link has been cancelled: it no longer works."},
    {"group_saved", "The group observation has been saved: each learner has their own record, ready for assessment."},
    {"acknowledged", "Thank you: you have confirmed that you have read this record."},
    {"evidence_saved", "Your changes to the evidence have been saved."},
    {"evidence_deleted", "The evidence has been deleted."},
    {"file_removed", "The file has been removed from this evidence."},
    {"mapped", "The criteria this evidence covers have been saved."},
    {"submitted", "Your evidence has been sent to your assessor."},
    {"withdrawn", "Your evidence has been withdrawn. You can change it and send it again."},
    {"decisions", "Your decisions have been recorded and the learner can now read your feedback."},
    {"decision", "The decision has been recorded."},
    {"countersigned", "You have countersigned the decision."},
    {"signed_off", "The unit has been signed off. The learner is asked to countersign it."},
    {"signoff_countersigned", "You have countersigned the unit sign-off."},
    {"sampled", "The sample has been recorded and the assessor can read it."},
    {"responded", "Your response has been sent to the IQA."},
    {"imported", "The qualification specification has been imported."},
    {"risk_saved", "The assessor's risk rating has been saved and the plan worked out again."},
    {"group_sampled", "The sample has been recorded, one per decision it covered, with the files you looked at."},
    {"visit_created", "The visit has been set up. The external quality assurer can see its sample during its dates."},
    {"visit_ended", "The visit has ended. The external quality assurer can no longer see its sample."},
    {"finding_added", "Your finding has been added to the visit report. The centre will answer it."},
    {"finding_answered", "The centre's response has been saved."},
    {"otj_recorded", "The off-the-job training has been recorded. It waits for the employer or assessor to verify it."},
    {"otj_verified", "The off-the-job training entry has been verified."},
    {"otj_queried", "The off-the-job training entry has been queried. The apprentice can see your note."},
    {"break_started", "The break in learning has been recorded. The expected pace is paused until it ends."},
    {"break_ended", "The break in learning has ended. The planned end date has moved out by its length."},
    {"employer_created", "The employer has been added. Now add the people who will be its contacts."},
    {"employer_saved", "The employer's name has been saved."},
    {"contact_added", "The contact has been added. A new account is sent an email to choose its password."},
    {"apprenticeship_created", "The apprentice has been enrolled on the apprenticeship."},
    {"apprenticeship_saved", "The apprenticeship's plan has been saved."},
    {"already_sent", "This form had already been sent, so it was not sent again."},
    {"review_saved", "The progress review has been saved."},
    {"review_signed", "Your signature has been recorded."},
    {"review_declined", "You have declined to sign; the assessor can correct the review."},
    {"review_complete", "Everyone has signed: the review is complete and locked."},
    {NULL, NULL},
};

const char *pages_done_text(const char *done)
{
    if (!done)
        return NULL;
    for (size_t i = 0; DONE[i].code; i++)
        if (strcmp(done, DONE[i].code) == 0)
            return DONE[i].text;
    return NULL;
}

/* The stored key: the form's token joined with the path it posts to, so two
 * forms of one page (which share the page's token) never collide. NULL when
 * the token is not 32 hex digits. Caller frees. */
static char *form_key(const char *token, const char *path)
{
    if (!token || strlen(token) != 32 || strspn(token, "0123456789abcdef") != 32 || !path)
        return NULL;
    return fmtalloc("%s|%.400s", token, path);
}

int pages_form_claim(db_t *db, int64_t user_id, const char *token, const char *path, char **location)
{
    char now[21], old[21];
    int rc = 0;
    *location = NULL;
    char *key = form_key(token, path);
    if (!key)
        goto out;
    util_now_iso(now);
    util_iso_time(time(NULL) - 86400, old);
    db_run(db, "DELETE FROM form_tokens WHERE created_at < ?", "t", old);
    if (db_int(db, "INSERT INTO form_tokens (token, user_id, created_at) VALUES (?, ?, ?)"
                   " ON CONFLICT (token) DO NOTHING RETURNING id", 0, "tit", key, user_id, now) > 0) {
        rc = 1;
        goto out;
    }
    if (db_int(db, "SELECT count(*) FROM form_tokens WHERE token = ? AND user_id = ?", 0, "ti", key, user_id) == 0)
        goto out; /* someone else's token, or the insert failed: treat as no token */
    rc = -1;
    /* The first request may still be running (a double click): wait for it. */
    for (int i = 0; i < 30 && !*location; i++) {
        *location = db_text(db, "SELECT location FROM form_tokens WHERE token = ? AND user_id = ?"
                                " AND location IS NOT NULL", "ti", key, user_id);
        if (!*location)
            usleep(100 * 1000);
    }
out:
    free(key);
    return rc;
}

void pages_form_finish(db_t *db, int64_t user_id, const char *token, const char *path, int ok,
                       const char *location)
{
    char *key = form_key(token, path);
    if (!key)
        return;
    if (ok)
        db_run(db, "UPDATE form_tokens SET location = ? WHERE token = ? AND user_id = ?", "tti",
               location ? location : path, key, user_id);
    else
        db_run(db, "DELETE FROM form_tokens WHERE token = ? AND user_id = ?", "ti", key, user_id);
    free(key);
}

/* Adds {text, href} to steps when n > 0: text is "N one"/"N many" + rest. */
static void step(json_t *steps, int64_t n, const char *one, const char *many, const char *rest, const char *href)
{
    char count[96];
    if (n <= 0)
        return;
    pages_count(n, one, many, count, sizeof count);
    char *text = fmtalloc("%s%s", count, rest);
    json_array_append_new(steps, json_pack("{s:s, s:s}", "text", text, "href", href));
    free(text);
}

/* Open reviews (not superseded) that user_id should sign as role ("learner", "assessor" or
 * "employer") and has not yet: the learner's own and the employer contact's apprentices' once
 * signing has begun, the assessor's caseload's drafts too. 0 before the reviews migration. */
static int64_t reviews_waiting_signature(db_t *db, const char *role, int64_t user_id)
{
    if (!db_table_exists(db, "progress_review_signatures"))
        return 0;
    if (!strcmp(role, "learner"))
        return db_int(db, "SELECT COUNT(*) FROM progress_reviews r WHERE r.learner_id = ? AND r.superseded = 0"
                          " AND r.status = 'signing' AND NOT EXISTS (SELECT 1 FROM progress_review_signatures s"
                          " WHERE s.review_id = r.id AND s.role = 'learner')", 0, "i", user_id);
    if (!strcmp(role, "assessor"))
        return db_int(db, "SELECT COUNT(*) FROM progress_reviews r JOIN enrolments e ON e.id = r.enrolment_id"
                          " WHERE e.assessor_id = ? AND r.superseded = 0 AND r.status IN ('draft', 'signing') AND NOT EXISTS"
                          " (SELECT 1 FROM progress_review_signatures s WHERE s.review_id = r.id"
                          " AND s.role = 'assessor')", 0, "i", user_id);
    return db_int(db, "SELECT COUNT(*) FROM progress_reviews r JOIN employer_contacts c ON c.employer_id = r.employer_id"
                      " WHERE c.user_id = ? AND r.superseded = 0 AND r.status = 'signing'"
                      " AND r.signers LIKE '%employer%' AND NOT EXISTS (SELECT 1 FROM progress_review_signatures s"
                      " WHERE s.review_id = r.id AND s.role = 'employer')", 0, "i", user_id);
}

/* The admin's two centre-wide counts read every learner and every enrolment (about 100 ms
 * at 100,000 learners: docs/architecture.md), so they are kept per process until the audit
 * trail grows (every change writes its event in the same transaction: a new newest id) or
 * ADMIN_COUNTS_MAX_AGE_S passes (on PostgreSQL an event with a lower id can commit after a
 * higher one, which the id alone would miss). */
#define ADMIN_COUNTS_MAX_AGE_S 30
static pthread_mutex_t admin_counts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int valid;
    int64_t newest_event, unenrolled, no_iqa;
    time_t at;
} admin_counts_cache;

/* Learners with no active enrolment and active enrolments with no IQA named. */
static void admin_counts(db_t *db, int64_t *unenrolled, int64_t *no_iqa)
{
    int64_t newest = db_int(db, "SELECT coalesce(max(id), 0) FROM audit_events", -1, "");
    time_t now = time(NULL);
    pthread_mutex_lock(&admin_counts_lock);
    int hit = admin_counts_cache.valid && newest >= 0 && admin_counts_cache.newest_event == newest &&
              now - admin_counts_cache.at < ADMIN_COUNTS_MAX_AGE_S && now >= admin_counts_cache.at;
    *unenrolled = admin_counts_cache.unenrolled;
    *no_iqa = admin_counts_cache.no_iqa;
    pthread_mutex_unlock(&admin_counts_lock);
    if (hit)
        return;
    *unenrolled = db_int(db, "SELECT COUNT(*) FROM users u WHERE u.role = 'learner' AND u.disabled = 0 AND NOT EXISTS"
                             " (SELECT 1 FROM enrolments e WHERE e.learner_id = u.id AND e.status = 'active')", 0, "");
    *no_iqa = db_int(db, "SELECT COUNT(*) FROM enrolments WHERE status = 'active' AND iqa_id IS NULL", 0, "");
    pthread_mutex_lock(&admin_counts_lock);
    admin_counts_cache.valid = newest >= 0;
    admin_counts_cache.newest_event = newest;
    admin_counts_cache.unenrolled = *unenrolled;
    admin_counts_cache.no_iqa = *no_iqa;
    admin_counts_cache.at = now;
    pthread_mutex_unlock(&admin_counts_lock);
}

json_t *pages_next_steps(db_t *db, int64_t user_id, unsigned role, const json_t *page)
{
    json_t *steps = json_array();
    char href[96];
    if (role == ROLE_LEARNER) {
        snprintf(href, sizeof href, "/learners/%lld/decisions", (long long)user_id);
        step(steps, db_int(db, "SELECT COUNT(*) FROM decisions d WHERE d.learner_id = ? AND NOT EXISTS"
                               " (SELECT 1 FROM countersigns c WHERE c.decision_id = d.id)", 0, "i", user_id),
             "decision", "decisions", " from your assessor to read and countersign", href);
        step(steps, db_int(db, "SELECT COUNT(*) FROM evidence WHERE learner_id = ? AND status = 'returned'", 0, "i",
                           user_id),
             "piece of evidence", "pieces of evidence", " returned for more work: read the feedback, change it and send it again",
             "/evidence?status=returned");
        step(steps, db_int(db, "SELECT COUNT(*) FROM evidence WHERE learner_id = ? AND status = 'draft'", 0, "i",
                           user_id),
             "draft", "drafts", " not yet submitted: map them to criteria and submit them", "/evidence?status=draft");
        int64_t total = db_int(db, "SELECT COALESCE(SUM(total), 0) FROM unit_progress WHERE learner_id = ?", 0, "i",
                               user_id);
        int64_t begun = db_int(db, "SELECT COALESCE(SUM(mapped + submitted + met + not_met), 0) FROM unit_progress"
                                   " WHERE learner_id = ?", 0, "i", user_id);
        step(steps, total - begun, "criterion", "criteria", " with no evidence yet: add evidence for them",
             "/evidence/new");
        snprintf(href, sizeof href, "/learners/%lld/reviews", (long long)user_id);
        step(steps, reviews_waiting_signature(db, "learner", user_id), "progress review", "progress reviews",
             " waiting for your signature", href);
        if (db_table_exists(db, "otj_entries")) {
            snprintf(href, sizeof href, "/learners/%lld/otj", (long long)user_id);
            step(steps, db_int(db, "SELECT COUNT(*) FROM otj_entries WHERE learner_id = ? AND status = 'queried'", 0,
                               "i", user_id),
                 "off-the-job entry", "off-the-job entries", " queried: read the question and correct the entry", href);
        }
    } else if (role == ROLE_ASSESSOR) {
        int64_t queue = db_int(db, "SELECT COUNT(*) FROM evidence ev WHERE ev.status = 'submitted' AND ev.learner_id IN"
                                   " (SELECT en.learner_id FROM enrolments en WHERE en.assessor_id = ?)", 0, "i", user_id);
        char *oldest = db_text(db, "SELECT MIN(ev.submitted_at) FROM evidence ev WHERE ev.status = 'submitted' AND"
                                   " ev.learner_id IN (SELECT en.learner_id FROM enrolments en WHERE en.assessor_id = ?)",
                               "i", user_id);
        int64_t t;
        char ago[48] = "", rest[96];
        if (oldest && pages_parse_iso(oldest, &t) == EV_OK)
            pages_ago(t, util_now_s(), ago, sizeof ago);
        snprintf(rest, sizeof rest, " to assess%s%s", *ago ? ", the oldest sent " : "", ago);
        step(steps, queue, "piece of evidence", "pieces of evidence", rest, "/queue");
        free(oldest);
        step(steps, db_int(db, "SELECT COUNT(*) FROM decisions d JOIN iqa_samples s ON s.decision_id = d.id"
                               " WHERE d.assessor_id = ? AND s.outcome = 'action_required' AND s.responded_at IS NULL",
                           0, "i", user_id),
             "IQA action", "IQA actions", " to answer", "/actions");
        step(steps, reviews_overdue_count(db, user_id, progress_today()), "progress review", "progress reviews",
             " overdue on your caseload", "/caseload");
        step(steps, reviews_waiting_signature(db, "assessor", user_id), "progress review", "progress reviews",
             " to finish and sign", "/caseload");
        if (db_table_exists(db, "progress_reviews"))
            step(steps, db_int(db, "SELECT COUNT(*) FROM progress_reviews r JOIN enrolments e ON e.id = r.enrolment_id"
                                   " WHERE e.assessor_id = ? AND r.superseded = 0 AND r.status = 'declined'", 0, "i",
                               user_id),
                 "progress review", "progress reviews", " declined by a signer: read the reason and correct it",
                 "/caseload");
    } else if (role == ROLE_EMPLOYER && db_table_exists(db, "otj_entries")) {
        /* one apprentice's entries: straight to their hours page; several: the list of apprentices */
        json_t *pending = db_one(db, "SELECT COUNT(*) AS n, min(o.learner_id) AS first_id, max(o.learner_id) AS last_id"
                                     " FROM otj_entries o WHERE o.status = 'pending' AND o.apprenticeship_id IN"
                                     " (SELECT a.id FROM apprenticeships a JOIN employer_contacts c"
                                     " ON c.employer_id = a.employer_id WHERE c.user_id = ?)", "i", user_id);
        int64_t first = json_integer_value(json_object_get(pending, "first_id"));
        if (first && first == json_integer_value(json_object_get(pending, "last_id")))
            snprintf(href, sizeof href, "/learners/%lld/otj", (long long)first);
        else
            snprintf(href, sizeof href, "/employer");
        step(steps, json_integer_value(json_object_get(pending, "n")), "off-the-job entry", "off-the-job entries",
             " of your apprentices to verify", href);
        json_decref(pending);
        step(steps, reviews_waiting_signature(db, "employer", user_id), "progress review", "progress reviews",
             " waiting for your signature", "/employer");
    } else if (role == ROLE_IQA) {
        step(steps, db_int(db, "SELECT COUNT(*) FROM decisions d WHERE d.learner_id IN"
                               " (SELECT en.learner_id FROM enrolments en WHERE en.iqa_id = ?)"
                               " AND NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id)", 0, "i", user_id),
             "decision", "decisions", " of your learners not yet sampled", "/iqa?sampled=no");
        step(steps, db_int(db, "SELECT COUNT(*) FROM iqa_samples s WHERE s.iqa_id = ? AND s.outcome = 'action_required'"
                               " AND s.responded_at IS NULL", 0, "i", user_id),
             "action", "actions", " you raised still waiting for the assessor's answer", "/actions");
    } else if (role == ROLE_ADMIN) {
        const json_t *totals = json_object_get(page, "totals");
        step(steps, json_integer_value(json_object_get(totals, "behind_or_at_risk")), "learner enrolment",
             "learner enrolments", " behind or at risk", "/centre/learners?state=behind_or_at_risk");
        int64_t unenrolled, no_iqa;
        admin_counts(db, &unenrolled, &no_iqa);
        step(steps, unenrolled, "learner", "learners", " with no active enrolment", "/admin/users?role=learner");
        step(steps, no_iqa, "active enrolment", "active enrolments", " with no IQA named",
             "/admin/enrolments?status=active");
        step(steps, db_int(db, "SELECT COUNT(*) FROM eqa_findings WHERE response IS NULL", 0, ""),
             "EQA finding", "EQA findings", " waiting for the centre's response", "/eqa");
    }
    return steps;
}
