/* intake.c: onboarding an intake: a CSV of learners and enrolments, checked row by row, imported all or nothing */
#include "intake.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "audit.h"
#include "cli.h"
#include "notify.h"
#include "users.h"

#define INTAKE_MAX_ROWS 5000
#define INTAKE_MAX_BYTES (2 * 1024 * 1024)

/* The columns, by their canonical names; a header may also use the aliases. */
static const struct column {
    const char *name;
    const char *label;
    int required;
    const char *aliases[4];
} COLUMNS[] = {
    {"name", "Name", 1, {"full_name", "learner_name", NULL}},
    {"email", "Email", 1, {"email_address", "learner_email", NULL}},
    {"uln", "ULN", 0, {"unique_learner_number", NULL}},
    {"qualification", "Qualification code", 1, {"qualification_code", "qualification_id", NULL}},
    {"assessor_email", "Assessor email", 1, {"assessor", NULL}},
    {"iqa_email", "IQA email", 0, {"iqa", NULL}},
    {"start_date", "Start date", 1, {"start", NULL}},
    {"planned_end_date", "Planned end date", 1, {"end_date", "planned_end", "end", NULL}},
    {"employer", "Employer", 0, {"employer_name", NULL}},
    {NULL, NULL, 0, {NULL}},
};

/* ------------------------------------------------------------------ */
/* CSV (RFC 4180)                                                       */
/* ------------------------------------------------------------------ */

/* Parses csv into an array of records (arrays of strings): quoted fields with
 * "" for a quote, commas and line breaks inside quotes, CRLF or LF line ends, a
 * leading UTF-8 BOM ignored, blank lines skipped. Each record carries its first
 * line number as its last element (an integer). NULL with a message in err on
 * an unterminated quote or invalid UTF-8. */
static json_t *csv_parse(const char *s, size_t len, char *err, size_t errlen)
{
    json_t *records = json_array(), *rec = json_array();
    buf_t field = {0};
    size_t i = 0;
    int line = 1, rec_line = 1, quoted = 0, any = 0;
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        i = 3;
    for (;; i++) {
        int end = i >= len;
        char c = end ? '\n' : s[i];
        if (quoted && !end) {
            if (c == '"' && i + 1 < len && s[i + 1] == '"') {
                buf_putc(&field, '"');
                i++;
            } else if (c == '"') {
                quoted = 0;
            } else {
                if (c == '\n')
                    line++;
                buf_putc(&field, c);
            }
            continue;
        }
        if (quoted && end) {
            snprintf(err, errlen, "line %d: a quoted field is not closed", rec_line);
            goto fail;
        }
        if (c == '"' && field.len == 0) {
            quoted = 1;
            any = 1;
        } else if (c == ',' || c == '\n' || (c == '\r' && i + 1 < len && s[i + 1] == '\n') || (c == '\r' && end)) {
            json_t *v = json_stringn(field.data ? field.data : "", field.len);
            if (!v) {
                snprintf(err, errlen, "line %d: the text is not UTF-8 (save the file as CSV UTF-8)", rec_line);
                goto fail;
            }
            json_array_append_new(rec, v);
            field.len = 0;
            if (field.data)
                field.data[0] = '\0';
            if (c == '\r')
                i++;
            if (c != ',') {
                int blank = !any && json_array_size(rec) == 1;
                if (!blank) {
                    json_array_append_new(rec, json_integer(rec_line));
                    json_array_append_new(records, rec);
                    rec = json_array();
                } else {
                    json_array_clear(rec);
                }
                any = 0;
                line++;
                rec_line = line;
                if (end)
                    break;
            } else {
                any = 1;
            }
        } else {
            buf_putc(&field, c);
            any = 1;
        }
        if (json_array_size(records) > INTAKE_MAX_ROWS + 1) {
            snprintf(err, errlen, "more than %d rows: split the intake into several files", INTAKE_MAX_ROWS);
            goto fail;
        }
    }
    buf_free(&field);
    json_decref(rec);
    return records;
fail:
    buf_free(&field);
    json_decref(rec);
    json_decref(records);
    return NULL;
}

/* "Qualification code" -> "qualification_code". */
static void header_key(const char *h, char *out, size_t outlen)
{
    size_t o = 0;
    int sep = 0;
    for (; *h && o + 1 < outlen; h++) {
        unsigned char c = (unsigned char)*h;
        if (isalnum(c)) {
            if (sep && o)
                out[o++] = '_';
            sep = 0;
            if (o + 1 < outlen)
                out[o++] = (char)tolower(c);
        } else {
            sep = 1;
        }
    }
    out[o] = '\0';
}

static const struct column *column_for(const char *key)
{
    for (const struct column *c = COLUMNS; c->name; c++) {
        if (!strcmp(c->name, key))
            return c;
        for (int a = 0; c->aliases[a]; a++)
            if (!strcmp(c->aliases[a], key))
                return c;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Checking rows                                                        */
/* ------------------------------------------------------------------ */

int intake_uln_valid(const char *uln)
{
    /* 10 digits, the first not zero; the digits times 10, 9, ..., 1 sum to
     * 10 modulo 11 (the Learning Records Service's check digit, as HESA and
     * the ILR specify it). */
    if (!uln || strlen(uln) != 10 || strspn(uln, "0123456789") != 10 || uln[0] == '0')
        return 0;
    int sum = 0;
    for (int i = 0; i < 10; i++)
        sum += (uln[i] - '0') * (10 - i);
    return sum % 11 == 10;
}

/* A date as YYYY-MM-DD, or DD/MM/YYYY (how UK spreadsheets write it), into
 * out[11]; 0 when it is neither or not a calendar date. */
static int read_date(const char *s, char out[11])
{
    int d, m, y, n = 0;
    if (util_valid_date(s)) {
        memcpy(out, s, 11);
        return 1;
    }
    if (sscanf(s, "%2d/%2d/%4d%n", &d, &m, &y, &n) == 3 && !s[n] && y >= 1900 && y <= 9999 && m >= 1 && m <= 12 &&
        d >= 1 && d <= 31) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
        memcpy(out, tmp, 11);
        out[10] = '\0';
        return util_valid_date(out);
    }
    return 0;
}

static int valid_email(const char *e)
{
    const char *at = strchr(e, '@');
    return at && at != e && at[1] && strchr(at + 1, '.') && !strchr(at + 1, '@') && !strpbrk(e, " ,;<>\"\r\n\t") &&
           strlen(e) <= 254;
}

static void trim_lower(char *s, int lower)
{
    size_t n = strlen(s), a = 0;
    while (a < n && isspace((unsigned char)s[a]))
        a++;
    while (n > a && isspace((unsigned char)s[n - 1]))
        n--;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
    if (lower)
        for (char *p = s; *p; p++)
            *p = (char)tolower((unsigned char)*p);
}

static void problem(json_t *row, const char *field, const char *msg)
{
    json_array_append_new(json_object_get(row, "problems"), json_pack("{s:s, s:s}", "field", field, "message", msg));
}

/* Checks one row (an object of canonical column -> value) against the
 * database and the rows before it (seen: "email|qualification" keys), filling
 * its "problems" and the ids an import needs. */
static void check_row(db_t *db, json_t *row, json_t *seen)
{
    char name[256], email[256], uln[64], qual[128], assessor[256], iqa[256], start_in[64], end_in[64], employer[256];
#define GET(var, key, lower)                                                                                    \
    do {                                                                                                        \
        snprintf(var, sizeof var, "%s", json_string_value(json_object_get(row, key)) ? json_string_value(json_object_get(row, key)) : ""); \
        trim_lower(var, lower);                                                                                 \
        json_object_set_new(row, key, json_string(var));                                                        \
    } while (0)
    GET(name, "name", 0);
    GET(email, "email", 1);
    GET(uln, "uln", 0);
    GET(qual, "qualification", 0);
    GET(assessor, "assessor_email", 1);
    GET(iqa, "iqa_email", 1);
    GET(start_in, "start_date", 0);
    GET(end_in, "planned_end_date", 0);
    GET(employer, "employer", 0);
#undef GET
    json_object_set_new(row, "problems", json_array());
    if (!*name)
        problem(row, "name", "Enter the learner's name");
    else if (strlen(name) > 200)
        problem(row, "name", "The name must be 200 characters or fewer");
    int64_t learner = 0, qid = 0;
    if (!*email) {
        problem(row, "email", "Enter the learner's email address");
    } else if (!valid_email(email)) {
        problem(row, "email", "Enter the email address in the correct format, like name@example.com");
    } else {
        json_t *u = db_one(db, "SELECT id, role, disabled FROM users WHERE lower(email) = lower(?)", "t", email);
        if (u && strcmp(json_string_value(json_object_get(u, "role")), "learner") != 0)
            problem(row, "email", "This email address belongs to a staff account, not a learner");
        else if (u && json_integer_value(json_object_get(u, "disabled")))
            problem(row, "email", "This learner's account is disabled");
        else if (u)
            learner = json_integer_value(json_object_get(u, "id"));
        json_decref(u);
    }
    json_object_set_new(row, "existing_learner", json_boolean(learner != 0));
    if (*uln && !intake_uln_valid(uln))
        problem(row, "uln", "The ULN must be 10 digits with a valid check digit (or leave it blank)");
    if (*uln && learner) {
        char *had = db_text(db, "SELECT uln FROM users WHERE id = ?", "i", learner);
        if (had && *had && strcmp(had, uln) != 0)
            problem(row, "uln", "This learner already has a different ULN");
        free(had);
    }
    if (*uln && !learner && db_int(db, "SELECT 1 FROM users WHERE uln = ?", 0, "t", uln) == 1)
        problem(row, "uln", "Another account already has this ULN");
    if (!*qual) {
        problem(row, "qualification", "Enter the qualification code");
    } else {
        json_t *q = db_one(db, "SELECT id, title FROM qualifications WHERE lower(code) = lower(?)", "t", qual);
        if (!q) {
            problem(row, "qualification", "There is no qualification with this code: import its specification first");
        } else {
            qid = json_integer_value(json_object_get(q, "id"));
            json_object_set(row, "qualification_title", json_object_get(q, "title"));
        }
        json_decref(q);
    }
    if (learner && qid &&
        db_int(db, "SELECT 1 FROM enrolments WHERE learner_id = ? AND qualification_id = ?", 0, "ii", learner, qid) == 1)
        problem(row, "qualification", "This learner is already enrolled on this qualification");
    if (*email && *qual) {
        char *key = fmtalloc("%s|%s", email, qual);
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_t *first = json_object_get(seen, key);
        if (first) {
            char msg[96];
            snprintf(msg, sizeof msg, "The same learner and qualification are on line %lld too",
                     (long long)json_integer_value(first));
            problem(row, "email", msg);
        } else {
            json_object_set(seen, key, json_object_get(row, "line"));
        }
        free(key);
    }
    if (*uln && *email) {
        char *key = fmtalloc("uln|%s", uln);
        json_t *first = json_object_get(seen, key);
        if (first && strcmp(json_string_value(json_object_get(first, "email")), email) != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "Line %lld has the same ULN for another email address",
                     (long long)json_integer_value(json_object_get(first, "line")));
            problem(row, "uln", msg);
        } else if (!first) {
            json_object_set_new(seen, key, json_pack("{s:O, s:s}", "line", json_object_get(row, "line"), "email", email));
        }
        free(key);
    }
    int64_t aid = 0, iid = 0;
    if (!*assessor)
        problem(row, "assessor_email", "Enter the assessor's email address");
    else if (!(aid = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?) AND role = 'assessor'"
                                " AND disabled = 0", 0, "t", assessor)))
        problem(row, "assessor_email", "There is no assessor account with this email address");
    if (*iqa && !(iid = db_int(db, "SELECT id FROM users WHERE lower(email) = lower(?) AND role = 'iqa'"
                                   " AND disabled = 0", 0, "t", iqa)))
        problem(row, "iqa_email", "There is no IQA account with this email address (or leave it blank)");
    char start[11] = "", end[11] = "";
    if (!*start_in)
        problem(row, "start_date", "Enter the start date");
    else if (!read_date(start_in, start))
        problem(row, "start_date", "The start date must be a real date, like 2026-09-01 or 01/09/2026");
    if (!*end_in)
        problem(row, "planned_end_date", "Enter the planned end date");
    else if (!read_date(end_in, end))
        problem(row, "planned_end_date", "The planned end date must be a real date, like 2027-08-31 or 31/08/2027");
    else if (*start && strcmp(end, start) <= 0)
        problem(row, "planned_end_date", "The planned end date must be after the start date");
    if (strlen(employer) > 200)
        problem(row, "employer", "The employer's name must be 200 characters or fewer");
    json_object_set_new(row, "start", json_string(start));
    json_object_set_new(row, "end", json_string(end));
    json_object_set_new(row, "learner_id", json_integer(learner));
    json_object_set_new(row, "qualification_id", json_integer(qid));
    json_object_set_new(row, "assessor_id", json_integer(aid));
    json_object_set_new(row, "iqa_id", json_integer(iid));
    json_object_set_new(row, "ok", json_boolean(json_array_size(json_object_get(row, "problems")) == 0));
}

json_t *intake_check(db_t *db, const char *csv, size_t len)
{
    char err[200] = "";
    json_t *out = json_object(), *rows = json_array(), *file_problems = json_array();
    json_object_set_new(out, "rows", rows);
    json_object_set_new(out, "file_problems", file_problems);
    size_t blank = 0;
    while (blank < len && isspace((unsigned char)csv[blank]))
        blank++;
    json_t *records = len > INTAKE_MAX_BYTES || blank == len ? NULL : csv_parse(csv, len, err, sizeof err);
    if (blank == len)
        snprintf(err, sizeof err, "The file is empty");
    if (len > INTAKE_MAX_BYTES)
        snprintf(err, sizeof err, "the file is larger than %d MB", INTAKE_MAX_BYTES / (1024 * 1024));
    if (!records || json_array_size(records) == 0) {
        json_array_append_new(file_problems, json_string(records ? "The file is empty" : err));
        goto done;
    }
    /* the header row names the columns */
    json_t *header = json_array_get(records, 0);
    size_t ncols = json_array_size(header) - 1;
    const struct column **map = xcalloc(ncols ? ncols : 1, sizeof *map);
    for (size_t c = 0; c < ncols; c++) {
        char key[64];
        header_key(json_string_value(json_array_get(header, c)), key, sizeof key);
        map[c] = column_for(key);
        for (size_t e = 0; map[c] && e < c; e++)
            if (map[e] == map[c]) {
                char *m = fmtalloc("The column \"%s\" appears twice", map[c]->label);
                json_array_append_new(file_problems, json_string(m));
                free(m);
            }
        if (!map[c] && *key) {
            char *m = fmtalloc("Unknown column \"%.60s\" (the columns are name, email, uln, qualification, "
                               "assessor_email, iqa_email, start_date, planned_end_date, employer)",
                               json_string_value(json_array_get(header, c)));
            json_array_append_new(file_problems, json_string(m));
            free(m);
        }
    }
    for (const struct column *col = COLUMNS; col->name; col++) {
        int found = 0;
        for (size_t c = 0; c < ncols; c++)
            found |= map[c] == col;
        if (col->required && !found) {
            char *m = fmtalloc("The header row has no \"%s\" column", col->name);
            json_array_append_new(file_problems, json_string(m));
            free(m);
        }
    }
    if (json_array_size(records) == 1)
        json_array_append_new(file_problems, json_string("The file has a header row but no learners"));
    if (json_array_size(file_problems) == 0) {
        json_t *seen = json_object();
        for (size_t i = 1; i < json_array_size(records); i++) {
            json_t *rec = json_array_get(records, i);
            size_t n = json_array_size(rec) - 1;
            json_t *row = json_pack("{s:I}", "line", (json_int_t)json_integer_value(json_array_get(rec, n)));
            for (size_t c = 0; c < ncols && c < n; c++)
                if (map[c])
                    json_object_set(row, map[c]->name, json_array_get(rec, c));
            check_row(db, row, seen);
            if (n > ncols)
                problem(row, "line", "This line has more values than the header has columns");
            json_object_set_new(row, "ok", json_boolean(json_array_size(json_object_get(row, "problems")) == 0));
            json_array_append_new(rows, row);
        }
        json_decref(seen);
    }
    free(map);
done:
    json_decref(records);
    size_t bad = 0, i;
    json_t *row;
    json_array_foreach(rows, i, row) bad += !json_is_true(json_object_get(row, "ok"));
    json_object_set_new(out, "total", json_integer((json_int_t)json_array_size(rows)));
    json_object_set_new(out, "with_problems", json_integer((json_int_t)bad));
    json_object_set_new(out, "ready", json_boolean(bad == 0 && json_array_size(file_problems) == 0 &&
                                                   json_array_size(rows) > 0));
    return out;
}

/* ------------------------------------------------------------------ */
/* Importing                                                            */
/* ------------------------------------------------------------------ */

int intake_import(db_t *db, int64_t actor_id, const char *actor_name, const char *csv, size_t len, json_t **report)
{
    int rc = EV_ERR;
    int64_t accounts = 0, enrolments = 0;
    *report = NULL;
    if (db_begin(db) != EV_OK)
        return EV_ERR;
    /* Checked again inside the transaction: what the preview showed may have
     * changed since (another admin, another server). */
    json_t *chk = intake_check(db, csv, len);
    *report = chk;
    if (!json_is_true(json_object_get(chk, "ready"))) {
        db_rollback(db);
        return EV_ERR;
    }
    json_t *created = json_object(); /* email -> new learner id (one account, several enrolments) */
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(chk, "rows"), i, row) {
        const char *email = json_string_value(json_object_get(row, "email"));
        const char *uln = json_string_value(json_object_get(row, "uln"));
        const char *employer = json_string_value(json_object_get(row, "employer"));
        int64_t learner = json_integer_value(json_object_get(row, "learner_id"));
        const char *field = NULL;
        char err[200] = "";
        if (!learner && json_object_get(created, email))
            learner = json_integer_value(json_object_get(created, email));
        if (!learner) {
            if (users_create_invited(db, actor_id, email, json_string_value(json_object_get(row, "name")), "learner",
                                     &learner, &field, err, sizeof err) != 0 ||
                accounts_invite(db, learner, actor_name, "Learner") != EV_OK) {
                problem(row, field ? field : "email", *err ? err : "Could not create the account");
                goto fail;
            }
            json_object_set_new(created, email, json_integer(learner));
            accounts++;
        }
        if (*uln && db_run(db, "UPDATE users SET uln = ? WHERE id = ?", "ti", uln, learner) != EV_OK)
            goto fail;
        int64_t eid = 0;
        if (users_enrol(db, actor_id, learner, json_integer_value(json_object_get(row, "qualification_id")),
                        json_integer_value(json_object_get(row, "assessor_id")),
                        json_integer_value(json_object_get(row, "iqa_id")),
                        json_string_value(json_object_get(row, "start")), json_string_value(json_object_get(row, "end")),
                        &eid, &field, err, sizeof err) != 0) {
            problem(row, field ? field : "qualification", *err ? err : "Could not enrol the learner");
            goto fail;
        }
        if (*employer && db_run(db, "UPDATE enrolments SET employer_name = ? WHERE id = ?", "ti", employer, eid) != EV_OK)
            goto fail;
        enrolments++;
    }
    json_t *after = json_pack("{s:I, s:I}", "accounts", (json_int_t)accounts, "enrolments", (json_int_t)enrolments);
    int arc = audit_record(db, actor_id, "intake.import", "intake", 0, 0, NULL, after);
    json_decref(after);
    if (arc != EV_OK || db_commit(db) != EV_OK)
        goto fail;
    json_object_set_new(chk, "accounts_created", json_integer(accounts));
    json_object_set_new(chk, "enrolments_created", json_integer(enrolments));
    json_object_set_new(chk, "invitations_queued", json_integer(accounts));
    rc = EV_OK;
    goto out;
fail:
    db_rollback(db);
    json_object_set_new(chk, "ready", json_false());
out:
    json_decref(created);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Pages and API                                                        */
/* ------------------------------------------------------------------ */

/* The CSV of a request: an uploaded "file" part, or a "csv" field (the
 * preview's confirm form and the JSON API). New string; NULL (and a 400 set)
 * when there is none or it cannot be read. */
static char *request_csv(req_t *r, size_t *len)
{
    size_t i;
    json_t *up;
    json_array_foreach(r->uploads, i, up) {
        const char *tmp = json_string_value(json_object_get(up, "tmp_path"));
        if (json_integer_value(json_object_get(up, "size")) > INTAKE_MAX_BYTES) {
            http_field_error(r, "file", "The file must be smaller than 2 MB");
            http_fail(r, 400, "too_large", "The file is larger than 2 MB.");
            return NULL;
        }
        char *data = tmp ? util_read_file(tmp, len) : NULL;
        if (data)
            return data;
    }
    const char *csv = in_str(r, "csv");
    if (csv && *csv) {
        *len = strlen(csv);
        return xstrdup(csv);
    }
    http_field_error(r, "file", "Choose a CSV file of learners");
    http_fail(r, 400, "invalid_input", "Choose a CSV file of learners.");
    return NULL;
}

/* Adds what the preview page shows to the report: every problem as an error
 * summary entry linking to its row, and the CSV to post again on confirming. */
static void page_data(json_t *rep, const char *csv)
{
    json_t *errors = json_array();
    size_t i, j;
    json_t *row, *p, *fp;
    json_array_foreach(json_object_get(rep, "file_problems"), i, fp)
        json_array_append_new(errors, json_pack("{s:s, s:O}", "href", "#file", "message", fp));
    json_array_foreach(json_object_get(rep, "rows"), i, row) {
        json_array_foreach(json_object_get(row, "problems"), j, p) {
            char *href = fmtalloc("#line-%lld", (long long)json_integer_value(json_object_get(row, "line")));
            char *msg = fmtalloc("Line %lld: %s", (long long)json_integer_value(json_object_get(row, "line")),
                                 json_string_value(json_object_get(p, "message")));
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "href", href, "message", msg, "field",
                                                    json_string_value(json_object_get(p, "field"))));
            free(href);
            free(msg);
        }
    }
    json_object_set_new(rep, "errors", errors);
    json_object_set_new(rep, "csv", json_string(csv));
}

/* GET /admin/intake */
static int intake_page_h(req_t *r)
{
    json_t *out = http_out(r);
    int64_t n;
    if (in_int(r, "done", &n) == EV_OK && n >= 0) {
        char *msg = fmtalloc("%lld learner%s imported. Each new account has been emailed an invitation to set a "
                             "password.", (long long)n, n == 1 ? "" : "s");
        json_object_set_new(out, "notice", json_string(msg));
        free(msg);
    }
    return 200;
}

/* POST /admin/intake, POST /api/v1/intake: a CSV (multipart "file" or field
 * "csv"); without confirm, the preview (200, every row with its problems);
 * with confirm, the import: all rows or none (201; 400 with the preview when
 * any row has a problem). */
static int intake_h(req_t *r)
{
    size_t len = 0;
    char *csv = request_csv(r, &len);
    if (!csv)
        return 400;
    int confirm = in_bool(r, "confirm");
    json_t *rep = NULL;
    int status;
    uint64_t t0 = util_now_us();
    if (!confirm) {
        rep = intake_check(r->db, csv, len);
        status = 200;
    } else if (intake_import(r->db, r->user.id, r->user.name, csv, len, &rep) == EV_OK) {
        status = 201;
        http_redirect(r, "/admin/intake?done=%lld",
                      (long long)json_integer_value(json_object_get(rep, "enrolments_created")));
    } else {
        status = rep ? 400 : 503;
    }
    if (!rep)
        rep = json_object();
    json_object_set_new(rep, "elapsed_ms", json_real((double)(util_now_us() - t0) / 1000.0));
    json_object_set_new(rep, "imported", json_boolean(status == 201));
    page_data(rep, csv);
    free(csv);
    /* the error list stays under "errors" (http_fail keeps r->out's fields) */
    if (status == 200 && !r->is_api && !json_is_true(json_object_get(rep, "ready")))
        json_object_set_new(rep, "error", json_pack("{s:s, s:s}", "code", "intake_problems", "message",
                                                    "Fix the problems below in the file, then upload it again."));
    http_set_out(r, rep);
    if (status == 400)
        return http_fail(r, 400, "intake_problems", "Nothing was imported: fix the problems in the file and upload it again.");
    if (status == 503)
        return http_fail(r, 503, "busy", "The database is busy; try again.");
    return status;
}

const route_t intake_routes[] = {
    {"GET", "/admin/intake", intake_page_h, ROLE_ADMIN, "admin_intake", 0},
    {"POST", "/admin/intake", intake_h, ROLE_ADMIN, "admin_intake", ROUTE_UPLOAD},
    {"POST", "/api/v1/intake", intake_h, ROLE_ADMIN, NULL, ROUTE_UPLOAD},
    {0},
};

/* ------------------------------------------------------------------ */
/* evitrack import-learners                                             */
/* ------------------------------------------------------------------ */

static void print_problems(json_t *rep)
{
    size_t i, j;
    json_t *fp, *row, *p;
    json_array_foreach(json_object_get(rep, "file_problems"), i, fp)
        fprintf(stderr, "evitrack: %s\n", json_string_value(fp));
    json_array_foreach(json_object_get(rep, "rows"), i, row) {
        json_array_foreach(json_object_get(row, "problems"), j, p)
            fprintf(stderr, "line %lld: %s: %s\n", (long long)json_integer_value(json_object_get(row, "line")),
                    json_string_value(json_object_get(p, "field")), json_string_value(json_object_get(p, "message")));
    }
}

int intake_cli(int argc, char **argv)
{
    const char *db_path = "evitrack.db", *file = NULL, *base_url = NULL;
    int dry_run = 0, rc = 1;
    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &db_path)) || (got = cli_opt(argc, argv, &i, "base-url", &base_url))) {
            if (got < 0)
                return 2;
        } else if (cli_flag(argv, &i, "dry-run")) {
            dry_run = 1;
        } else if (argv[i][0] == '-' || file) {
            return cli_usage_error("import-learners: unexpected argument %s "
                                   "(usage: import-learners [--db FILE] [--base-url URL] [--dry-run] FILE.csv)", argv[i]);
        } else {
            file = argv[i++];
        }
    }
    if (!file)
        return cli_usage_error("import-learners: name the CSV file (usage: import-learners [--db FILE] FILE.csv)");
    if (base_url && strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return cli_usage_error("--base-url must start with http:// or https://");
    size_t len = 0;
    char *csv = util_read_file(file, &len);
    if (!csv) {
        fprintf(stderr, "evitrack: cannot read %s\n", file);
        return 1;
    }
    if (base_url)
        notify_configure(base_url, NULL);
    db_t *db = cli_open_db(db_path);
    json_t *rep = NULL;
    if (!db)
        goto out;
    uint64_t t0 = util_now_us();
    if (dry_run) {
        rep = intake_check(db, csv, len);
        if (!json_is_true(json_object_get(rep, "ready"))) {
            print_problems(rep);
            fprintf(stderr, "evitrack: %lld of %lld rows have problems\n",
                    (long long)json_integer_value(json_object_get(rep, "with_problems")),
                    (long long)json_integer_value(json_object_get(rep, "total")));
            goto out;
        }
        printf("%lld rows checked: ready to import\n", (long long)json_integer_value(json_object_get(rep, "total")));
        rc = 0;
        goto out;
    }
    if (intake_import(db, 0, "Your centre", csv, len, &rep) != EV_OK) {
        if (rep)
            print_problems(rep);
        fprintf(stderr, "evitrack: nothing was imported%s\n", rep ? ": fix the problems above" : "");
        goto out;
    }
    printf("imported %lld rows: %lld accounts created, %lld enrolments, %lld invitations queued in %.1f ms\n",
           (long long)json_integer_value(json_object_get(rep, "total")),
           (long long)json_integer_value(json_object_get(rep, "accounts_created")),
           (long long)json_integer_value(json_object_get(rep, "enrolments_created")),
           (long long)json_integer_value(json_object_get(rep, "invitations_queued")),
           (double)(util_now_us() - t0) / 1000.0);
    rc = 0;
out:
    json_decref(rep);
    db_close(db);
    free(csv);
    return rc;
}
