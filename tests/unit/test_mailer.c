/* test_mailer.c: the MIME message an outbox row becomes, addresses, credentials, and the
 * outbox written with (and only with) the transaction that queued it */
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include "accounts.h"
#include "db.h"
#include "mailer.h"
#include "notify.h"
#include "test.h"

/* The decoded body of the MIME part whose Content-Type starts with type (caller frees). */
static char *part(const char *msg, const char *type)
{
    char *hdr = fmtalloc("Content-Type: %s", type);
    const char *p = strstr(msg, hdr);
    free(hdr);
    if (!p || !(p = strstr(p, "\r\n\r\n")))
        return NULL;
    p += 4;
    const char *end = strstr(p, "\r\n--");
    if (!end)
        return NULL;
    buf_t b64 = {0};
    for (const char *q = p; q < end; q++)
        if (*q != '\r' && *q != '\n')
            buf_putc(&b64, *q);
    size_t cap = b64.len + 1, n = 0;
    char *out = xmalloc(cap);
    if (sodium_base642bin((unsigned char *)out, cap, b64.data, b64.len, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        n = 0;
    out[n] = '\0';
    buf_free(&b64);
    return out;
}

static void test_compose(void)
{
    notify_configure("https://evitrack.example.ac.uk/", NULL);
    CHECK_STR(notify_base_url(), "https://evitrack.example.ac.uk");
    json_t *row = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", 42, "kind", "evidence_submitted",
                            "to_addr", "tom@centre.test", "to_name", "Tom \"TJ\" O'Kafor", "subject",
                            "Zoë submitted evidence: <Café> report", "body",
                            "Hello Tom,\n\nZoë submitted <Café> report.\n\nhttps://evitrack.example.ac.uk/review/7\n",
                            "link", "/review/7", "created_at", "2026-11-29T17:49:00Z");
    buf_t a = {0}, b = {0};
    mailer_compose(row, "evitrack <noreply@centre.test>", 1796000000, &a);
    mailer_compose(row, "evitrack <noreply@centre.test>", 1796000000, &b);
    CHECK(strstr(a.data, "From: evitrack <noreply@centre.test>\r\n") != NULL);
    CHECK(strstr(a.data, "To: \"Tom \\\"TJ\\\" O'Kafor\" <tom@centre.test>\r\n") != NULL);
    CHECK(strstr(a.data, "Subject: =?UTF-8?B?") != NULL); /* not ASCII: RFC 2047 */
    CHECK(strstr(a.data, "Message-ID: <outbox-42-20261129174900@centre.test>\r\n") != NULL);
    CHECK(strstr(b.data, "Message-ID: <outbox-42-20261129174900@centre.test>\r\n") != NULL); /* stable */
    CHECK(strstr(a.data, "Date: ") == a.data);
    CHECK(strstr(a.data, "MIME-Version: 1.0\r\n") != NULL);
    CHECK(strstr(a.data, "Content-Type: multipart/alternative; boundary=\"=_evitrack_") != NULL);
    CHECK(strstr(a.data, "List-Unsubscribe") == NULL);
    CHECK(strstr(a.data, "\r\n\r\n") != NULL);
    /* no bare LF anywhere (SMTP wants CRLF), no line over 998 octets */
    int bare = 0;
    size_t line = 0, longest = 0;
    for (size_t i = 0; i < a.len; i++) {
        if (a.data[i] == '\n' && (i == 0 || a.data[i - 1] != '\r'))
            bare = 1;
        line = a.data[i] == '\n' ? 0 : line + 1;
        if (line > longest)
            longest = line;
    }
    CHECK_INT(bare, 0);
    CHECK(longest <= 998);
    char *text = part(a.data, "text/plain"), *html = part(a.data, "text/html");
    CHECK(text && strstr(text, "Zoë submitted <Café> report.") != NULL);
    CHECK(html && strstr(html, "Zoë submitted &lt;Café&gt; report.") != NULL); /* escaped */
    CHECK(html && strstr(html, "<a href=\"https://evitrack.example.ac.uk/review/7\"") != NULL);
    CHECK(html && strstr(html, "<Café>") == NULL);
    free(text);
    free(html);
    buf_free(&a);
    buf_free(&b);

    /* a digest carries List-Unsubscribe; a header value cannot be split by CR/LF */
    json_object_set_new(row, "kind", json_string("digest"));
    json_object_set_new(row, "subject", json_string("Plain\r\nBcc: evil@x.test"));
    buf_t c = {0};
    mailer_compose(row, "noreply@centre.test", 1796000000, &c);
    CHECK(strstr(c.data, "List-Unsubscribe: <https://evitrack.example.ac.uk/account/notifications>\r\n") != NULL);
    CHECK(strstr(c.data, "\r\nBcc:") == NULL);
    buf_free(&c);
    json_decref(row);
}

static void test_addresses(void)
{
    char out[320];
    CHECK_INT(mailer_bare_address("evitrack <noreply@centre.test>", out, sizeof out), EV_OK);
    CHECK_STR(out, "noreply@centre.test");
    CHECK_INT(mailer_bare_address("  a@b.test ", out, sizeof out), EV_OK);
    CHECK_STR(out, "a@b.test");
    CHECK_INT(mailer_bare_address("no address", out, sizeof out), EV_ERR);
    CHECK_INT(mailer_bare_address("<>", out, sizeof out), EV_ERR);
    CHECK_INT(mailer_bare_address("a@b\r\nRCPT TO:<x@y>", out, sizeof out), EV_ERR);
}

static void test_credentials(void)
{
    char path[] = "/tmp/evitrack-creds-XXXXXX", err[200] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "mailer@centre.test\npass:with spaces\n", 36) == 36);
    close(fd);
    char *u = NULL, *p = NULL;
    CHECK_INT(mailer_read_credentials(path, &u, &p, err, sizeof err), EV_OK);
    CHECK_STR(u, "mailer@centre.test");
    CHECK_STR(p, "pass:with spaces");
    free(u);
    free(p);
    unlink(path);
    CHECK_INT(mailer_read_credentials(path, &u, &p, err, sizeof err), EV_ERR);
    CHECK(strstr(err, "cannot read") != NULL);
    setenv("EVITRACK_SMTP_USER", "envuser", 1);
    setenv("EVITRACK_SMTP_PASSWORD", "envpass", 1);
    CHECK_INT(mailer_read_credentials(NULL, &u, &p, err, sizeof err), EV_OK);
    CHECK_STR(u, "envuser");
    CHECK_STR(p, "envpass");
    free(u);
    free(p);
}

/* notify_queue writes nothing that outlives a rollback, and honours preferences. */
static void test_queue(void)
{
    const char *path = "test_mailer.db";
    unlink(path);
    unlink("test_mailer.db-wal");
    unlink("test_mailer.db-shm");
    db_t *db = db_open(path);
    char err[300] = "";
    CHECK(db && db_migrate(db, err, sizeof err) == EV_OK);
    if (!db)
        return;
    db_run(db, "INSERT INTO users (email, name, role, password_hash) VALUES ('l@x.test', 'Lee', 'learner', '!')", "");
    int64_t uid = db_int(db, "SELECT id FROM users WHERE email = 'l@x.test'", 0, "");
    CHECK_INT(db_begin(db), EV_OK);
    CHECK_INT(notify_queue(db, uid, "enrolment", "/portfolio",
                           json_pack("{s:s, s:s, s:s, s:s, s:s}", "qualification_code", "Q1", "qualification_title",
                                     "Care", "start_date", "2026-01-01", "planned_end_date", "2027-01-01",
                                     "assessor_name", "Tom")),
              EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM outbox", 0, ""), 1);
    CHECK_INT(db_rollback(db), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM outbox", 0, ""), 0);
    CHECK_INT(db_int(db, "SELECT count(*) FROM notifications", 0, ""), 0);

    CHECK_INT(db_begin(db), EV_OK);
    CHECK_INT(notify_queue(db, uid, "enrolment", "/portfolio", NULL), EV_OK);
    CHECK_INT(db_commit(db), EV_OK);
    json_t *o = db_one(db, "SELECT subject, body, status FROM outbox", "");
    CHECK_STR(json_string_value(json_object_get(o, "status")), "pending");
    CHECK(strstr(json_string_value(json_object_get(o, "body")), "https://evitrack.example.ac.uk/portfolio") != NULL);
    json_decref(o);
    CHECK_INT(notify_unread_count(db, uid), 1);

    db_run(db, "INSERT INTO notification_prefs (user_id, kind, delivery) VALUES (?, 'enrolment', 'off')", "i", uid);
    CHECK_INT(notify_queue(db, uid, "enrolment", "/portfolio", NULL), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM outbox", 0, ""), 1); /* off: no email */
    CHECK_INT(notify_unread_count(db, uid), 2);                      /* but in-app */
    db_run(db, "UPDATE notification_prefs SET delivery = 'digest'", "");
    CHECK_INT(notify_queue(db, uid, "enrolment", "/portfolio", NULL), EV_OK);
    CHECK_INT(db_int(db, "SELECT count(*) FROM outbox WHERE status = 'digest'", 0, ""), 1);
    CHECK_INT(notify_queue(db, uid, "no_such_kind", "/", NULL), EV_ERR);
    CHECK_INT(notify_queue(db, 0, "enrolment", "/", NULL), EV_OK); /* nobody: nothing */
    /* the secret kind never shows in-app */
    CHECK_INT(notify_queue_secret(db, uid, "password_reset", "/reset/abc", NULL), EV_OK);
    CHECK_INT(db_int(db, "SELECT secret FROM outbox WHERE kind = 'password_reset'", 0, ""), 1);
    CHECK_INT(notify_unread_count(db, uid), 3);
    db_close(db);
    unlink(path);
    unlink("test_mailer.db-wal");
    unlink("test_mailer.db-shm");
}

/* UK local time for people: GMT in winter, BST from 01:00 UTC on the last Sunday of
 * March to 01:00 UTC on the last Sunday of October. */
static void test_uk_time(void)
{
    char out[64];
    accounts_uk_time_iso("2026-11-29T17:49:00Z", out, sizeof out);
    CHECK_STR(out, "29 November 2026 at 17:49 GMT");
    accounts_uk_time_iso("2026-07-01T12:00:00Z", out, sizeof out);
    CHECK_STR(out, "1 July 2026 at 13:00 BST");
    accounts_uk_time_iso("2026-03-29T00:59:59Z", out, sizeof out);
    CHECK_STR(out, "29 March 2026 at 00:59 GMT");
    accounts_uk_time_iso("2026-03-29T01:00:00Z", out, sizeof out);
    CHECK_STR(out, "29 March 2026 at 02:00 BST");
    accounts_uk_time_iso("2026-10-25T00:59:00Z", out, sizeof out);
    CHECK_STR(out, "25 October 2026 at 01:59 BST");
    accounts_uk_time_iso("2026-10-25T01:00:00Z", out, sizeof out);
    CHECK_STR(out, "25 October 2026 at 01:00 GMT");
    accounts_uk_time_iso("2025-12-31T23:30:00Z", out, sizeof out);
    CHECK_STR(out, "31 December 2025 at 23:30 GMT");
    accounts_uk_time_iso("not a time", out, sizeof out);
    CHECK_STR(out, "not a time");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_compose();
    test_addresses();
    test_credentials();
    test_queue();
    test_uk_time();
    TEST_DONE();
}
