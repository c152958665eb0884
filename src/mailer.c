/* mailer.c: the sender thread: claims outbox rows, builds MIME messages, delivers them over SMTP with libcurl */
#include "mailer.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* ------------------------------------------------------------------ */
/* Composing a message                                                  */
/* ------------------------------------------------------------------ */

static int is_plain_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Appends s as RFC 2047 encoded words (UTF-8, base64), each at most 75
 * characters, split only between whole UTF-8 characters, folded onto new lines. */
static void encoded_words(buf_t *out, const char *s)
{
    size_t len = strlen(s), pos = 0;
    int first = 1;
    while (pos < len) {
        size_t n = len - pos > 45 ? 45 : len - pos;
        while (pos + n < len && n > 0 && ((unsigned char)s[pos + n] & 0xC0) == 0x80)
            n--; /* do not cut a character in two */
        if (n == 0)
            n = len - pos < 45 ? len - pos : 45;
        char b64[128];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + pos, n, sodium_base64_VARIANT_ORIGINAL);
        buf_printf(out, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        first = 0;
        pos += n;
    }
}

/* A header value that is text (Subject): as is when plain ASCII, else encoded. */
static void header_text(buf_t *out, const char *name, const char *value)
{
    buf_printf(out, "%s: ", name);
    if (is_plain_ascii(value))
        buf_puts(out, value);
    else
        encoded_words(out, value);
    buf_puts(out, "\r\n");
}

/* "Name" <addr> for To:, the name quoted or encoded; the address checked by the caller. */
static void header_address(buf_t *out, const char *name, const char *addr)
{
    buf_puts(out, "To: ");
    if (name && *name) {
        if (is_plain_ascii(name)) {
            buf_putc(out, '"');
            for (const char *p = name; *p; p++) {
                if (*p == '"' || *p == '\\')
                    buf_putc(out, '\\');
                buf_putc(out, *p);
            }
            buf_putc(out, '"');
        } else {
            encoded_words(out, name);
        }
        buf_putc(out, ' ');
    }
    buf_printf(out, "<%s>\r\n", addr);
}

/* Appends data as base64 in lines of 76 characters (RFC 2045). */
static void base64_lines(buf_t *out, const char *data, size_t len)
{
    for (size_t pos = 0; pos < len; pos += 57) {
        size_t n = len - pos > 57 ? 57 : len - pos;
        char line[80];
        sodium_bin2base64(line, sizeof line, (const unsigned char *)data + pos, n, sodium_base64_VARIANT_ORIGINAL);
        buf_printf(out, "%s\r\n", line);
    }
}

int mailer_bare_address(const char *from, char *out, size_t outlen)
{
    if (strpbrk(from, "\r\n"))
        return EV_ERR;
    const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    const char *a = lt && gt ? lt + 1 : from;
    size_t n = lt && gt ? (size_t)(gt - a) : strlen(from);
    while (n && *a == ' ')
        a++, n--;
    while (n && a[n - 1] == ' ')
        n--;
    if (n == 0 || n >= outlen || !memchr(a, '@', n) || memchr(a, '\r', n) || memchr(a, '\n', n) ||
        memchr(a, ' ', n) || memchr(a, '<', n))
        return EV_ERR;
    memcpy(out, a, n);
    out[n] = '\0';
    return EV_OK;
}

/* The domain for Message-IDs: the From address's, or "evitrack.invalid". */
static void id_domain(const char *from, char *out, size_t outlen)
{
    char addr[320];
    const char *at = mailer_bare_address(from, addr, sizeof addr) == EV_OK ? strrchr(addr, '@') : NULL;
    snprintf(out, outlen, "%s", at && at[1] ? at + 1 : "evitrack.invalid");
}

void mailer_compose(json_t *row, const char *from, int64_t now, buf_t *out)
{
#define FIELD(k) (json_string_value(json_object_get(row, k)) ? json_string_value(json_object_get(row, k)) : "")
    int64_t id = json_integer_value(json_object_get(row, "id"));
    const char *kind = FIELD("kind"), *subject = FIELD("subject"), *body = FIELD("body");
    const char *link = FIELD("link"), *created = FIELD("created_at");
    int digest = !strcmp(kind, "digest");
    char *abs_link = fmtalloc("%s%s", notify_base_url(), link);
    char *unsubscribe = digest ? fmtalloc("%s/account/notifications", notify_base_url()) : NULL;
    char *html = notify_render_html(subject, body, *link ? abs_link : NULL, unsubscribe);

    char date[64], domain[256], stamp[32] = "";
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    id_domain(from, domain, sizeof domain);
    size_t si = 0;
    for (const char *p = created; *p && si < sizeof stamp - 1; p++)
        if (*p >= '0' && *p <= '9')
            stamp[si++] = *p;
    unsigned char rnd[9];
    char rhex[19];
    randombytes_buf(rnd, sizeof rnd);
    util_hex(rnd, sizeof rnd, rhex);

    buf_printf(out, "Date: %s\r\n", date);
    buf_printf(out, "From: %s\r\n", from);
    header_address(out, FIELD("to_name"), FIELD("to_addr"));
    header_text(out, "Subject", subject);
    /* Stable per outbox row (id and creation time), so a resend after a crash
     * carries the same Message-ID and receivers can tell it is a duplicate. */
    buf_printf(out, "Message-ID: <outbox-%lld-%s@%s>\r\n", (long long)id, stamp, domain);
    buf_puts(out, "MIME-Version: 1.0\r\n");
    buf_puts(out, "Auto-Submitted: auto-generated\r\n");
    if (digest) {
        /* RFC 2369: where to stop these (the preferences page). */
        buf_printf(out, "List-Unsubscribe: <%s>\r\n", unsubscribe);
    }
    buf_printf(out, "Content-Type: multipart/alternative; boundary=\"=_evitrack_%s\"\r\n\r\n", rhex);
    buf_printf(out, "--=_evitrack_%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n", rhex);
    base64_lines(out, body, strlen(body));
    buf_printf(out, "--=_evitrack_%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n", rhex);
    base64_lines(out, html, strlen(html));
    buf_printf(out, "--=_evitrack_%s--\r\n", rhex);
#undef FIELD
    free(abs_link);
    free(unsubscribe);
    free(html);
}

/* ------------------------------------------------------------------ */
/* Credentials                                                          */
/* ------------------------------------------------------------------ */

static char *chomp_dup(const char *s, size_t n)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return xstrndup(s, n);
}

int mailer_read_credentials(const char *file, char **user, char **password, char *err, size_t errlen)
{
    *user = *password = NULL;
    if (!file) {
        const char *u = getenv("EVITRACK_SMTP_USER"), *p = getenv("EVITRACK_SMTP_PASSWORD");
        if (u && *u)
            *user = xstrdup(u);
        if (p && *p)
            *password = xstrdup(p);
        return EV_OK;
    }
    size_t len = 0;
    char *text = util_read_file(file, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read the SMTP credentials file %s", file);
        return EV_ERR;
    }
    struct stat st;
    if (stat(file, &st) == 0 && (st.st_mode & 077))
        ev_log("mailer: %s can be read by other users; chmod 600 it", file);
    char *nl = strchr(text, '\n');
    if (!nl || nl == text) {
        sodium_memzero(text, len);
        free(text);
        snprintf(err, errlen, "%s: the first line is the user name, the second the password", file);
        return EV_ERR;
    }
    *user = chomp_dup(text, (size_t)(nl - text));
    *password = chomp_dup(nl + 1, strcspn(nl + 1, "\n"));
    sodium_memzero(text, len);
    free(text);
    return EV_OK;
}

/* ------------------------------------------------------------------ */
/* Sending                                                              */
/* ------------------------------------------------------------------ */

typedef struct reader {
    const char *data;
    size_t len, pos;
} reader_t;

static size_t read_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
    reader_t *r = userp;
    size_t room = size * nmemb, left = r->len - r->pos;
    size_t n = left < room ? left : room;
    memcpy(ptr, r->data + r->pos, n);
    r->pos += n;
    return n;
}

/* Sends one composed message to rcpt over curl handle c (reused between
 * messages, so libcurl keeps the SMTP connection). EV_OK, or EV_ERR with a
 * reason in err. */
static int smtp_send(CURL *c, const mailer_config_t *cfg, const char *rcpt, const buf_t *msg, char *err,
                     size_t errlen)
{
    char from[320], to[330];
    if (mailer_bare_address(cfg->from, from, sizeof from) != EV_OK) {
        snprintf(err, errlen, "--smtp-from has no address");
        return EV_ERR;
    }
    snprintf(to, sizeof to, "<%s>", rcpt);
    char mail_from[330];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    struct curl_slist *rcpts = curl_slist_append(NULL, to);
    reader_t rd = {msg->data, msg->len, 0};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, cfg->url);
    if (!strncmp(cfg->url, "smtp://", 7))
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(cfg->user ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (cfg->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
    }
    if (cfg->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(rcpts);
    if (rc != CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        snprintf(err, errlen, "%s%s%s (SMTP %ld)", curl_easy_strerror(rc), *cerr ? ": " : "", cerr, code);
        return EV_ERR;
    }
    return EV_OK;
}

/* Turns every user's waiting digest items whose oldest is older than the
 * interval into one digest message, each user in its own transaction. The
 * items are moved with conditional UPDATEs, so two servers cannot both
 * include an item: the second finds it gone and rolls back. */
static int make_digests(db_t *db, const mailer_config_t *cfg)
{
    char cutoff[21], now[21];
    int64_t t = util_now_s();
    util_iso_time((time_t)t - cfg->digest_interval_s, cutoff);
    util_iso_time((time_t)t, now);
    json_t *users = db_all(db, "SELECT user_id, to_addr, to_name FROM outbox WHERE status = 'digest'"
                               " GROUP BY user_id, to_addr, to_name HAVING min(created_at) <= ?", "t", cutoff);
    if (!users)
        return EV_ERR;
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        int64_t uid = json_integer_value(json_object_get(u, "user_id"));
        const char *addr = json_string_value(json_object_get(u, "to_addr"));
        const char *name = json_string_value(json_object_get(u, "to_name"));
        if (db_begin(db) != EV_OK)
            break;
        json_t *items = db_all(db, "SELECT id, kind, subject, link, created_at FROM outbox WHERE status = 'digest'"
                                   " AND user_id = ? AND to_addr = ? ORDER BY id", "it", uid, addr);
        size_t j;
        json_t *it;
        json_array_foreach(items, j, it) {
            char *url = fmtalloc("%s%s", notify_base_url(), json_string_value(json_object_get(it, "link")));
            json_object_set_new(it, "url", json_string(url));
            free(url);
        }
        char *subject = NULL, *body = NULL;
        json_t *ctx = json_pack("{s:O, s:I, s:b, s:s, s:s}", "items", items ? items : json_null(), "count",
                                (json_int_t)json_array_size(items), "one", json_array_size(items) == 1, "name",
                                name ? name : "", "base_url", notify_base_url());
        int ok = items && json_array_size(items) > 0 && notify_render("digest", ctx, &subject, &body) == EV_OK;
        int64_t did = ok ? db_int(db, "INSERT INTO outbox (user_id, kind, to_addr, to_name, subject, body, link,"
                                      " status, next_attempt_at, created_at) VALUES (?, 'digest', ?, ?, ?, ?,"
                                      " '/notifications', 'pending', ?, ?) RETURNING id", 0, "ittttt" "t",
                                  uid, addr, name ? name : "", subject, body, now, now)
                         : 0;
        ok = did > 0;
        json_array_foreach(items, j, it) {
            if (ok && db_int(db, "UPDATE outbox SET status = 'digested', digest_id = ? WHERE id = ?"
                                 " AND status = 'digest' RETURNING id", 0, "ii", did,
                             (int64_t)json_integer_value(json_object_get(it, "id"))) <= 0)
                ok = 0;
        }
        if (ok)
            ok = db_commit(db) == EV_OK;
        else
            db_rollback(db);
        json_decref(ctx);
        json_decref(items);
        free(subject);
        free(body);
    }
    json_decref(users);
    return EV_OK;
}

/* Claims due rows for instance with one conditional UPDATE each: a row is
 * taken only if it is still pending and due (or its claim has lapsed), so two
 * servers never both send it. Returns the claimed ids (new array). */
static json_t *claim(db_t *db, const mailer_config_t *cfg, const char *instance, int max)
{
    char now[21], lapsed[21];
    int64_t t = util_now_s();
    util_iso_time((time_t)t, now);
    util_iso_time((time_t)t - cfg->lease_s, lapsed);
    json_t *ids = json_array();
    json_t *due = db_all(db, "SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= ?)"
                             " OR (status = 'sending' AND claimed_at <= ?) ORDER BY id LIMIT ?", "tti",
                         now, lapsed, (int64_t)max);
    size_t i;
    json_t *row;
    /* one transaction for the batch: one commit (fsync) instead of one per row */
    int tx = json_array_size(due) > 1 && db_begin(db) == EV_OK;
    json_array_foreach(due, i, row) {
        int64_t id = json_integer_value(json_object_get(row, "id"));
        int64_t got = db_int(db, "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ?"
                                 " WHERE id = ? AND ((status = 'pending' AND next_attempt_at <= ?)"
                                 " OR (status = 'sending' AND claimed_at <= ?)) RETURNING id",
                             0, "ttitt", instance, now, id, now, lapsed);
        if (got > 0)
            json_array_append_new(ids, json_integer(got));
    }
    if (tx && db_commit(db) != EV_OK)
        json_array_clear(ids); /* nothing was claimed */
    json_decref(due);
    return ids;
}

/* Records the result of one attempt at row id (claimed by instance). */
static void settle(db_t *db, const mailer_config_t *cfg, const char *instance, int64_t id, int64_t attempts,
                   int ok, const char *err)
{
    char now[21], next[21];
    int64_t t = util_now_s();
    util_iso_time((time_t)t, now);
    if (ok) {
        /* A one-time link is not kept once it has gone. */
        db_run(db, "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL,"
                   " body = CASE WHEN secret = 1 THEN '(removed once sent: it held a one-time link)' ELSE body END"
                   " WHERE id = ? AND claimed_by = ?", "tit", now, id, instance);
        return;
    }
    int64_t n = attempts + 1;
    int64_t delay = cfg->retry_base_s;
    for (int64_t k = 1; k < n && delay < 6 * 3600; k++)
        delay *= 2;
    if (delay > 6 * 3600)
        delay = 6 * 3600;
    util_iso_time((time_t)t + delay, next);
    int give_up = n >= cfg->max_attempts;
    db_run(db, "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?"
               " WHERE id = ? AND claimed_by = ?", "titt" "it", give_up ? "failed" : "pending", n, next,
           err, id, instance);
    if (give_up)
        ev_log("mailer: gave up on message %lld after %lld attempts: %s", (long long)id, (long long)n, err);
}

int mailer_run_once(db_t *db, const mailer_config_t *cfg, const char *instance, int max)
{
    if (make_digests(db, cfg) != EV_OK)
        return -1;
    json_t *ids = claim(db, cfg, instance, max);
    int tried = 0;
    size_t reached = 0; /* claimed rows dealt with */
    CURL *c = json_array_size(ids) ? curl_easy_init() : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        int64_t id = json_integer_value(v);
        reached = i + 1;
        json_t *row = db_one(db, "SELECT id, kind, to_addr, to_name, subject, body, link, attempts, created_at"
                                 " FROM outbox WHERE id = ?", "i", id);
        if (!row)
            continue;
        buf_t msg = {0};
        char err[512] = "";
        mailer_compose(row, cfg->from, util_now_s(), &msg);
        int ok = c && smtp_send(c, cfg, json_string_value(json_object_get(row, "to_addr")), &msg, err,
                                sizeof err) == EV_OK;
        if (!c)
            snprintf(err, sizeof err, "libcurl could not start");
        settle(db, cfg, instance, id, json_integer_value(json_object_get(row, "attempts")), ok, err);
        tried++;
        buf_free(&msg);
        json_decref(row);
        if (!ok) {
            /* The server is down or refusing: leave the rest for the next
             * pass (their own retry times are untouched). */
            break;
        }
    }
    if (c)
        curl_easy_cleanup(c);
    /* Claimed rows not reached go back as they were (their retry times untouched). */
    for (i = reached; i < json_array_size(ids); i++)
        db_run(db, "UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE id = ? AND claimed_by = ?"
                   " AND status = 'sending'", "it", (int64_t)json_integer_value(json_array_get(ids, i)), instance);
    json_decref(ids);
    return tried;
}

/* ------------------------------------------------------------------ */
/* The thread                                                           */
/* ------------------------------------------------------------------ */

static struct {
    mailer_config_t cfg;
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char instance[40];
} M = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *sender_main(void *arg)
{
    (void)arg;
    db_t *db = db_thread();
    while (!atomic_load(&M.stop)) {
        int n = db ? mailer_run_once(db, &M.cfg, M.instance, 50) : -1;
        if (n > 0)
            continue; /* more may be due */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += M.cfg.poll_ms / 1000;
        until.tv_nsec += (long)(M.cfg.poll_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&M.lock);
        if (!atomic_load(&M.stop))
            pthread_cond_timedwait(&M.cond, &M.lock, &until);
        pthread_mutex_unlock(&M.lock);
        if (!db)
            db = db_thread();
    }
    db_thread_close();
    return NULL;
}

int mailer_start(const mailer_config_t *cfg)
{
    M.cfg = *cfg;
    if (M.cfg.retry_base_s <= 0)
        M.cfg.retry_base_s = 30;
    if (M.cfg.max_attempts <= 0)
        M.cfg.max_attempts = 8;
    if (M.cfg.digest_interval_s <= 0)
        M.cfg.digest_interval_s = 86400;
    if (M.cfg.lease_s <= 0)
        M.cfg.lease_s = 120;
    if (M.cfg.poll_ms <= 0)
        M.cfg.poll_ms = 1000;
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    char hex[17];
    util_hex(rnd, sizeof rnd, hex);
    snprintf(M.instance, sizeof M.instance, "%ld-%s", (long)getpid(), hex);
    atomic_store(&M.stop, 0);
    if (pthread_create(&M.thread, NULL, sender_main, NULL) != 0) {
        ev_log("mailer: cannot start the sender thread: %s", strerror(errno));
        return EV_ERR;
    }
    M.started = 1;
    notify_set_smtp(1);
    return EV_OK;
}

void mailer_stop(void)
{
    if (!M.started)
        return;
    pthread_mutex_lock(&M.lock);
    atomic_store(&M.stop, 1);
    pthread_cond_broadcast(&M.cond);
    pthread_mutex_unlock(&M.lock);
    pthread_join(M.thread, NULL);
    M.started = 0;
}
