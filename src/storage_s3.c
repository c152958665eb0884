/* storage_s3.c: the S3 backend of the evidence store (Ceph RADOS Gateway, AWS S3, ...) over libcurl */
#define _GNU_SOURCE /* strptime, timegm */
#include "storage.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/*
 * Requests are signed with libcurl's own AWS Signature Version 4 (CURLOPT_AWS_SIGV4),
 * a well-kept implementation rather than an SDK or a signer of our own. Two quirks of
 * libcurl 7.88 are handled here: it does not add x-amz-content-sha256 itself (we send
 * the payload's SHA-256 there, which it then signs; the gateway recomputes it and
 * refuses a mismatch, so a corrupted upload is never stored), and it mis-signs a bare
 * "?uploads" (we send "?uploads=", the same canonical query).
 *
 * Objects are addressed path-style (ENDPOINT/BUCKET/KEY) and the key is the blob's
 * hex SHA-256. Every operation makes its own easy handle, so a storage_t is shared
 * freely between server threads.
 */

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DEFAULT_PART_MB 64
#define MIN_PART_MB 5 /* S3's smallest part (all but the last) */
#define PARTS_IN_FLIGHT 3 /* parts of one multipart upload sent at once */
#define RESP_CAP (4 * 1024 * 1024) /* a list page of 1000 keys is about 400 KB */
#define READ_BUF (1024 * 1024) /* per download: flat, and few hand-offs between the two sides */

typedef struct s3 {
    char *endpoint; /* scheme://host[:port], no trailing slash */
    char *bucket;
    char *region;
    char *userpwd;  /* access key:secret */
    char *sigv4;    /* "aws:amz:REGION:s3" */
    uint64_t part_size; /* multipart above this size, in parts of this size */
    long timeout_s;     /* a transfer stalled this long fails (store slow => 503) */
} s3_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- settings ---- */

/* Percent-decodes s (from the store URL) into a new string. */
static char *url_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            *o++ = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* Percent-encodes everything but RFC 3986's unreserved characters (SigV4's rule). */
static void url_encode(buf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-_.~", *p))
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' || b[i] == '.'))
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* Reads the key pair from a file of KEY=VALUE lines (AWS_ACCESS_KEY_ID=...) or an
 * AWS credentials file (aws_access_key_id = ...); '#' and '[' lines are skipped. */
static int read_creds(const char *path, char **key, char **secret, char *err, size_t errlen)
{
    char *text = util_read_file(path, NULL);
    if (!text) {
        snprintf(err, errlen, "cannot read the store credentials file %s", path);
        return EV_ERR;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        char *l = trim(line);
        if (!eq || *l == '#' || *l == '[')
            continue;
        *eq = '\0';
        char *name = trim(line), *val = trim(eq + 1);
        if (strncmp(name, "export ", 7) == 0)
            name = trim(name + 7);
        if (!strcasecmp(name, "AWS_ACCESS_KEY_ID")) {
            free(*key);
            *key = xstrdup(val);
        } else if (!strcasecmp(name, "AWS_SECRET_ACCESS_KEY")) {
            free(*secret);
            *secret = xstrdup(val);
        }
    }
    free(text);
    return EV_OK;
}

int storage_s3_init(storage_t *s, const char *spec, const char *creds_file, char *err, size_t errlen)
{
    s3_t *b = xcalloc(1, sizeof *b);
    char *key = NULL, *secret = NULL;
    int rc = EV_ERR;
    int64_t part_mb = DEFAULT_PART_MB, timeout = 30;
    const char *p = spec + 5, *q = strchr(p, '?');
    s->backend = b;
    pthread_once(&curl_once, curl_init_once);
    b->bucket = xstrndup(p, q ? (size_t)(q - p) : strlen(p));
    if (b->bucket[0] && b->bucket[strlen(b->bucket) - 1] == '/')
        b->bucket[strlen(b->bucket) - 1] = '\0';
    if (!valid_bucket(b->bucket)) {
        snprintf(err, errlen, "--store: '%s' is not a bucket name (3-63 of a-z 0-9 . -)", b->bucket);
        goto out;
    }
    while (q && *q) {
        const char *kv = q + 1, *amp = strchr(kv, '&'), *eq;
        size_t n = amp ? (size_t)(amp - kv) : strlen(kv);
        q = amp;
        eq = memchr(kv, '=', n);
        if (!eq)
            continue;
        char *name = xstrndup(kv, (size_t)(eq - kv));
        char *val = url_decode(eq + 1, n - (size_t)(eq + 1 - kv));
        if (!strcmp(name, "endpoint")) {
            free(b->endpoint);
            b->endpoint = val;
            val = NULL;
        } else if (!strcmp(name, "region")) {
            free(b->region);
            b->region = val;
            val = NULL;
        } else if (!strcmp(name, "part_mb")) {
            if (util_parse_i64(val, &part_mb) != EV_OK || part_mb < MIN_PART_MB || part_mb > 5120) {
                snprintf(err, errlen, "--store: part_mb takes a number of megabytes from %d to 5120", MIN_PART_MB);
                free(name);
                free(val);
                goto out;
            }
        } else if (!strcmp(name, "timeout")) {
            if (util_parse_i64(val, &timeout) != EV_OK || timeout < 1 || timeout > 3600) {
                snprintf(err, errlen, "--store: timeout takes a number of seconds from 1 to 3600");
                free(name);
                free(val);
                goto out;
            }
        } else {
            snprintf(err, errlen, "--store: unknown setting '%s' (endpoint, region, part_mb, timeout)", name);
            free(name);
            free(val);
            goto out;
        }
        free(name);
        free(val);
    }
    if (!b->region)
        b->region = xstrdup("us-east-1");
    for (const char *c = b->region; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '-')) {
            snprintf(err, errlen, "--store: '%s' is not a region name", b->region);
            goto out;
        }
    if (!b->endpoint)
        b->endpoint = fmtalloc("https://s3.%s.amazonaws.com", b->region);
    if (strncmp(b->endpoint, "http://", 7) != 0 && strncmp(b->endpoint, "https://", 8) != 0) {
        snprintf(err, errlen, "--store: the endpoint must be an http:// or https:// URL");
        goto out;
    }
    while (strlen(b->endpoint) > 8 && b->endpoint[strlen(b->endpoint) - 1] == '/')
        b->endpoint[strlen(b->endpoint) - 1] = '\0';
    if (creds_file) {
        if (read_creds(creds_file, &key, &secret, err, errlen) != EV_OK)
            goto out;
    } else {
        const char *k = getenv("AWS_ACCESS_KEY_ID"), *sc = getenv("AWS_SECRET_ACCESS_KEY");
        key = k ? xstrdup(k) : NULL;
        secret = sc ? xstrdup(sc) : NULL;
    }
    if (!key || !*key || !secret || !*secret || strchr(key, ':')) {
        snprintf(err, errlen, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a file "
                              "with --store-credentials");
        goto out;
    }
    b->userpwd = fmtalloc("%s:%s", key, secret);
    b->sigv4 = fmtalloc("aws:amz:%s:s3", b->region);
    b->part_size = (uint64_t)part_mb * 1024 * 1024;
    b->timeout_s = (long)timeout;
    s->desc = fmtalloc("s3://%s at %s", b->bucket, b->endpoint);
    rc = EV_OK;
out:
    if (secret)
        sodium_memzero(secret, strlen(secret));
    free(key);
    free(secret);
    return rc;
}

static void s3_close(storage_t *s)
{
    s3_t *b = s->backend;
    if (!b)
        return;
    free(b->endpoint);
    free(b->bucket);
    free(b->region);
    if (b->userpwd)
        sodium_memzero(b->userpwd, strlen(b->userpwd));
    free(b->userpwd);
    free(b->sigv4);
    free(b);
    s->backend = NULL;
}

/* ---- one request ---- */

/* What came back: status, a few headers, the body (capped) unless streamed. */
typedef struct s3_resp {
    long status;
    buf_t body;
    char etag[130];
    int64_t mtime;
    uint64_t length;
} s3_resp_t;

/* An upload body read from a file range. */
typedef struct s3_body {
    int fd;
    uint64_t off, len, pos;
    const char *mem; /* or from memory */
} s3_body_t;

static size_t body_read(char *dst, size_t size, size_t n, void *ud)
{
    s3_body_t *bd = ud;
    size_t want = size * n;
    if (want > bd->len - bd->pos)
        want = (size_t)(bd->len - bd->pos);
    if (!want)
        return 0;
    if (bd->mem) {
        memcpy(dst, bd->mem + bd->pos, want);
        bd->pos += want;
        return want;
    }
    ssize_t got;
    do
        got = pread(bd->fd, dst, want, (off_t)(bd->off + bd->pos));
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        return CURL_READFUNC_ABORT;
    bd->pos += (uint64_t)got;
    return (size_t)got;
}

static int body_seek(void *ud, curl_off_t offset, int origin)
{
    s3_body_t *bd = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > bd->len)
        return CURL_SEEKFUNC_CANTSEEK;
    bd->pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t resp_write(char *data, size_t size, size_t n, void *ud)
{
    s3_resp_t *r = ud;
    size_t len = size * n;
    if (r->body.len < RESP_CAP)
        buf_append(&r->body, data, len < RESP_CAP - r->body.len ? len : RESP_CAP - r->body.len);
    return len;
}

static int64_t parse_http_date(const char *v)
{
    struct tm tm = {0};
    if (!strptime(v, "%a, %d %b %Y %H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static int64_t parse_iso_date(const char *v)
{
    struct tm tm = {0};
    if (!strptime(v, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static size_t resp_header(char *data, size_t size, size_t n, void *ud)
{
    s3_resp_t *r = ud;
    size_t len = size * n;
    char line[512];
    if (len >= sizeof line)
        return len;
    memcpy(line, data, len);
    line[len] = '\0';
    char *colon = strchr(line, ':');
    if (!colon)
        return len;
    *colon = '\0';
    char *val = trim(colon + 1);
    if (!strcasecmp(line, "ETag"))
        snprintf(r->etag, sizeof r->etag, "%s", val);
    else if (!strcasecmp(line, "Last-Modified"))
        r->mtime = parse_http_date(val);
    else if (!strcasecmp(line, "Content-Length"))
        r->length = strtoull(val, NULL, 10);
    return len;
}

/* A new easy handle for METHOD ENDPOINT/BUCKET[/key][?query], signed, with the
 * payload hash header added to *hdrs (which the caller frees after the transfer). */
static CURL *s3_easy(s3_t *b, const char *method, const char *key, const char *query, const char *payload_sha,
                     struct curl_slist **hdrs)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    buf_t url = {0};
    buf_printf(&url, "%s/%s", b->endpoint, b->bucket);
    if (key) {
        buf_putc(&url, '/');
        url_encode(&url, key);
    }
    if (query)
        buf_printf(&url, "?%s", query);
    char h[120];
    snprintf(h, sizeof h, "x-amz-content-sha256: %s", payload_sha ? payload_sha : EMPTY_SHA256);
    *hdrs = curl_slist_append(*hdrs, h);
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    buf_free(&url);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, b->sigv4);
    curl_easy_setopt(e, CURLOPT_USERPWD, b->userpwd);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, b->timeout_s);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    return e;
}

/* Runs a request to its end. EV_OK when the store answered (any status: see
 * r->status), STORAGE_UNAVAILABLE when it could not be reached or stalled. */
static int s3_run(s3_t *b, CURL *e, s3_resp_t *r, const char *what)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, resp_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, resp_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode c = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    if (c != CURLE_OK) {
        ev_log("storage: s3 %s at %s/%s: %s", what, b->endpoint, b->bucket, errbuf[0] ? errbuf : curl_easy_strerror(c));
        return STORAGE_UNAVAILABLE;
    }
    return EV_OK;
}

/* Maps an answered status to a return code, logging what the store said. */
static int s3_status(s3_t *b, s3_resp_t *r, const char *what)
{
    if (r->status >= 200 && r->status < 300)
        return EV_OK;
    if (r->status == 404)
        return STORAGE_NOT_FOUND;
    ev_log("storage: s3 %s at %s/%s answered %ld: %.300s", what, b->endpoint, b->bucket, r->status,
           r->body.data ? r->body.data : "");
    return r->status >= 500 || r->status == 429 ? STORAGE_UNAVAILABLE : EV_ERR;
}

/* Text of the first <tag>...</tag> at or after p into out; a pointer past it, or NULL. */
static const char *xml_get(const char *p, const char *tag, char *out, size_t outlen)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = p ? strstr(p, open) : NULL;
    if (!a)
        return NULL;
    a += strlen(open);
    const char *z = strstr(a, close);
    if (!z)
        return NULL;
    size_t n = (size_t)(z - a);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, a, n);
    out[n] = '\0';
    return z + strlen(close);
}

/* ---- operations ---- */

static int s3_stat(storage_t *s, const char *sha, storage_stat_t *st)
{
    s3_t *b = s->backend;
    struct curl_slist *h = NULL;
    s3_resp_t r = {0};
    CURL *e = s3_easy(b, "HEAD", sha, NULL, NULL, &h);
    int rc = e ? s3_run(b, e, &r, "HEAD") : EV_ERR;
    if (rc == EV_OK)
        rc = s3_status(b, &r, "HEAD");
    if (rc == EV_OK) {
        st->size = r.length;
        st->mtime = r.mtime;
    }
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    buf_free(&r.body);
    return rc;
}

/* PUT of a body (a file range or memory) with its signed hash and extra headers. */
static int s3_put_body(s3_t *b, const char *key, const char *query, s3_body_t *bd, const char *sha,
                       const char *const *extra, s3_resp_t *r, const char *what)
{
    struct curl_slist *h = NULL;
    for (; extra && *extra; extra++)
        h = curl_slist_append(h, *extra);
    CURL *e = s3_easy(b, "PUT", key, query, sha, &h);
    int rc = EV_ERR;
    if (!e)
        goto out;
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, body_read);
    curl_easy_setopt(e, CURLOPT_READDATA, bd);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, body_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, bd);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)bd->len);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024); /* fewer, larger writes */
    rc = s3_run(b, e, r, what);
out:
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return rc;
}

/* A GET, POST or DELETE with a small in-memory body or none (listings, multipart
 * create/complete/abort, removal). */
static int s3_small(s3_t *b, const char *method, const char *key, const char *query, const char *body,
                    s3_resp_t *r, const char *what)
{
    struct curl_slist *h = NULL;
    char hex[65] = EMPTY_SHA256;
    size_t len = body ? strlen(body) : 0;
    if (len) {
        storage_sha256_hex(body, len, hex);
        h = curl_slist_append(h, "Content-Type: application/xml");
    }
    CURL *e = s3_easy(b, method, key, query, hex, &h);
    int rc = EV_ERR;
    if (!e)
        goto out;
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    rc = s3_run(b, e, r, what);
out:
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return rc;
}

/* Uploads fd (size bytes) in parts of b->part_size, each signed with its own
 * SHA-256 (the gateway checks every part), then completes the upload; aborts it
 * on any failure so no parts are left behind. */
/* One part of a multipart upload on its way: a slot in the sender's table. */
typedef struct part_xfer {
    CURL *e; /* NULL when the slot is free */
    struct curl_slist *h;
    s3_body_t bd;
    s3_resp_t r;
    uint64_t number; /* 1-based, as S3 counts parts */
    char errbuf[CURL_ERROR_SIZE];
} part_xfer_t;

/* Hashes part NUMBER ([off, off+len) of fd) and adds its signed PUT to m in slot x. */
static int part_start(s3_t *b, CURLM *m, part_xfer_t *x, int fd, const char *sha, const char *enc_id,
                      uint64_t number, uint64_t off, uint64_t len)
{
    char part_sha[65];
    buf_t q = {0};
    int rc = EV_ERR;
    memset(x, 0, sizeof *x);
    if (storage_sha256_range(fd, off, len, part_sha) != EV_OK)
        goto out;
    buf_printf(&q, "partNumber=%llu&uploadId=%s", (unsigned long long)number, enc_id);
    x->e = s3_easy(b, "PUT", sha, q.data, part_sha, &x->h);
    if (!x->e)
        goto out;
    x->bd = (s3_body_t){.fd = fd, .off = off, .len = len};
    x->number = number;
    curl_easy_setopt(x->e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(x->e, CURLOPT_READFUNCTION, body_read);
    curl_easy_setopt(x->e, CURLOPT_READDATA, &x->bd);
    curl_easy_setopt(x->e, CURLOPT_SEEKFUNCTION, body_seek);
    curl_easy_setopt(x->e, CURLOPT_SEEKDATA, &x->bd);
    curl_easy_setopt(x->e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(x->e, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, resp_write);
    curl_easy_setopt(x->e, CURLOPT_WRITEDATA, &x->r);
    curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, resp_header);
    curl_easy_setopt(x->e, CURLOPT_HEADERDATA, &x->r);
    curl_easy_setopt(x->e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(m, x->e) == CURLM_OK)
        rc = EV_OK;
out:
    buf_free(&q);
    return rc;
}

/* Frees slot x's transfer (removing it from m) and marks the slot free. */
static void part_end(CURLM *m, part_xfer_t *x)
{
    if (!x->e)
        return;
    curl_multi_remove_handle(m, x->e);
    curl_easy_cleanup(x->e);
    curl_slist_free_all(x->h);
    buf_free(&x->r.body);
    x->e = NULL;
    x->h = NULL;
}

/* Result of a finished part: EV_OK with its ETag kept in etags[number-1], else the
 * error (STORAGE_UNAVAILABLE when the store could not be reached or stalled). */
static int part_finish(s3_t *b, part_xfer_t *x, CURLcode c, char (*etags)[130])
{
    if (c != CURLE_OK) {
        ev_log("storage: s3 multipart part %llu at %s/%s: %s", (unsigned long long)x->number, b->endpoint, b->bucket,
               x->errbuf[0] ? x->errbuf : curl_easy_strerror(c));
        return STORAGE_UNAVAILABLE;
    }
    curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &x->r.status);
    int rc = s3_status(b, &x->r, "multipart part");
    if (rc == EV_OK && !x->r.etag[0])
        rc = EV_ERR;
    if (rc == EV_OK)
        snprintf(etags[x->number - 1], sizeof etags[0], "%s", x->r.etag);
    return rc;
}

/* Sends the parts of fd (size bytes, in b->part_size pieces) for upload enc_id, up to
 * PARTS_IN_FLIGHT at once: the next part is hashed while earlier ones are on the wire,
 * and a store spreads concurrent parts over its disks. Fills etags[0..parts-1].
 * Returns EV_OK when every part was stored; on the first failure it stops the others. */
static int s3_send_parts(s3_t *b, int fd, const char *sha, const char *enc_id, uint64_t size, uint64_t parts,
                         char (*etags)[130])
{
    part_xfer_t slots[PARTS_IN_FLIGHT] = {0};
    CURLM *m = curl_multi_init();
    uint64_t next = 0;
    int running = 0, rc = m ? EV_OK : EV_ERR;
    while (rc == EV_OK && (next < parts || running > 0)) {
        for (int i = 0; i < PARTS_IN_FLIGHT && next < parts && rc == EV_OK; i++) {
            if (slots[i].e)
                continue;
            uint64_t off = next * b->part_size, len = size - off < b->part_size ? size - off : b->part_size;
            rc = part_start(b, m, &slots[i], fd, sha, enc_id, next + 1, off, len);
            if (rc != EV_OK)
                part_end(m, &slots[i]);
            next++;
        }
        if (rc != EV_OK)
            break;
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = EV_ERR;
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            part_xfer_t *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            int prc = part_finish(b, x, msg->data.result, etags);
            part_end(m, x);
            if (prc != EV_OK && rc == EV_OK)
                rc = prc;
        }
        if (rc == EV_OK && running > 0 && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
            rc = EV_ERR;
    }
    for (int i = 0; i < PARTS_IN_FLIGHT; i++)
        part_end(m, &slots[i]);
    if (m)
        curl_multi_cleanup(m);
    return rc;
}

static int s3_put_multipart(s3_t *b, int fd, const char *sha, uint64_t size)
{
    s3_resp_t r = {0};
    buf_t q = {0}, done = {0}, enc = {0};
    char upload_id[512];
    uint64_t parts = (size + b->part_size - 1) / b->part_size;
    char (*etags)[130] = xcalloc(parts, sizeof *etags);
    int rc = s3_small(b, "POST", sha, "uploads=", NULL, &r, "multipart create");
    if (rc == EV_OK)
        rc = s3_status(b, &r, "multipart create");
    if (rc != EV_OK)
        goto out;
    if (!xml_get(r.body.data, "UploadId", upload_id, sizeof upload_id) || !*upload_id) {
        ev_log("storage: s3 multipart create gave no UploadId");
        rc = EV_ERR;
        goto out;
    }
    url_encode(&enc, upload_id);
    rc = s3_send_parts(b, fd, sha, enc.data, size, parts, etags);
    buf_puts(&done, "<CompleteMultipartUpload>");
    for (uint64_t i = 0; i < parts; i++)
        buf_printf(&done, "<Part><PartNumber>%llu</PartNumber><ETag>%s</ETag></Part>", (unsigned long long)(i + 1),
                   etags[i]);
    buf_puts(&done, "</CompleteMultipartUpload>");
    buf_printf(&q, "uploadId=%s", enc.data);
    if (rc == EV_OK) {
        buf_free(&r.body);
        memset(&r, 0, sizeof r);
        rc = s3_small(b, "POST", sha, q.data, done.data, &r, "multipart complete");
        if (rc == EV_OK)
            rc = s3_status(b, &r, "multipart complete");
        /* S3 may answer 200 and then report an error in the body */
        if (rc == EV_OK && r.body.data && strstr(r.body.data, "<Error>")) {
            ev_log("storage: s3 multipart complete failed: %.300s", r.body.data);
            rc = EV_ERR;
        }
    }
    if (rc != EV_OK) {
        s3_resp_t ar = {0};
        if (s3_small(b, "DELETE", sha, q.data, NULL, &ar, "multipart abort") != EV_OK)
            ev_log("storage: could not abort multipart upload %s (the store's lifecycle rules clear it)", upload_id);
        buf_free(&ar.body);
    }
out:
    free(etags);
    buf_free(&enc);
    buf_free(&r.body);
    buf_free(&q);
    buf_free(&done);
    return rc;
}

static int s3_put(storage_t *s, const char *tmp_path, const char *sha, uint64_t size, int *created)
{
    s3_t *b = s->backend;
    s3_resp_t r = {0};
    int rc = EV_ERR;
    int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
    *created = 0;
    if (fd < 0) {
        ev_log("storage: cannot open %s: %s", tmp_path, strerror(errno));
        return EV_ERR;
    }
    if (size > b->part_size) {
        /* A multipart upload cannot carry If-None-Match on every store, so look first:
         * the key is the content's hash, so a racing writer stores the same bytes. */
        storage_stat_t st;
        rc = s3_stat(s, sha, &st);
        if (rc == EV_OK)
            goto out;
        if (rc != STORAGE_NOT_FOUND)
            goto out;
        uint64_t t0 = util_now_us();
        rc = s3_put_multipart(b, fd, sha, size);
        if (rc == EV_OK) {
            *created = 1;
            /* One line per large upload: what the store's leg of it took (operators watch
             * this to see the store's throughput; tests/bench/s3.sh reads it). */
            double secs = (double)(util_now_us() - t0) / 1e6;
            ev_log("storage: s3 stored %s (%llu bytes, multipart) in %.3f s, %.0f MB/s", sha, (unsigned long long)size, secs,
                   secs > 0 ? (double)size / 1048576.0 / secs : 0.0);
        }
        goto out;
    }
    /* If-None-Match: * makes the store refuse (412) to replace an object: a stored
     * file is never overwritten, and 412 means it is already there. */
    static const char *const extra[] = {"If-None-Match: *", NULL};
    s3_body_t bd = {.fd = fd, .off = 0, .len = size};
    rc = s3_put_body(b, sha, NULL, &bd, sha, extra, &r, "PUT");
    if (rc != EV_OK)
        goto out;
    if (r.status == 412) {
        rc = EV_OK;
        goto out;
    }
    rc = s3_status(b, &r, "PUT");
    if (rc == EV_OK)
        *created = 1;
out:
    close(fd);
    buf_free(&r.body);
    return rc;
}

/* Copying an object onto itself with new metadata gives it a new Last-Modified,
 * which is what gc's grace period reads. */
static int s3_touch(storage_t *s, const char *sha)
{
    s3_t *b = s->backend;
    s3_resp_t r = {0};
    char src[200], stamp[80];
    int64_t now = util_now_s();
    snprintf(src, sizeof src, "x-amz-copy-source: /%s/%s", b->bucket, sha);
    snprintf(stamp, sizeof stamp, "x-amz-meta-touched: %lld", (long long)now);
    const char *const extra[] = {src, "x-amz-metadata-directive: REPLACE", stamp, NULL};
    s3_body_t bd = {.fd = -1, .mem = "", .len = 0};
    int rc = s3_put_body(b, sha, NULL, &bd, NULL, extra, &r, "copy (touch)");
    if (rc == EV_OK)
        rc = s3_status(b, &r, "copy (touch)");
    if (rc == EV_OK && r.body.data && strstr(r.body.data, "<Error>"))
        rc = EV_ERR;
    buf_free(&r.body);
    return rc;
}

static int s3_remove(storage_t *s, const char *key)
{
    s3_t *b = s->backend;
    s3_resp_t r = {0};
    int rc = s3_small(b, "DELETE", key, NULL, NULL, &r, "DELETE");
    if (rc == EV_OK)
        rc = s3_status(b, &r, "DELETE");
    buf_free(&r.body);
    return rc;
}

/* ListObjects (version 1, marker-paged: keys are hashes, so the marker needs no
 * care); only keys that are blob names are reported. */
static int s3_list(storage_t *s, storage_list_fn fn, void *ctx)
{
    s3_t *b = s->backend;
    char marker[1100] = "";
    int rc = EV_OK, more = 1;
    while (rc == EV_OK && more) {
        buf_t q = {0};
        if (marker[0]) {
            buf_puts(&q, "marker=");
            url_encode(&q, marker);
            buf_puts(&q, "&");
        }
        buf_puts(&q, "max-keys=1000");
        s3_resp_t r = {0};
        rc = s3_small(b, "GET", NULL, q.data, NULL, &r, "list");
        if (rc == EV_OK)
            rc = s3_status(b, &r, "list");
        buf_free(&q);
        if (rc == EV_OK && r.body.len >= RESP_CAP) {
            ev_log("storage: s3 list answer too large");
            rc = EV_ERR;
        }
        const char *p = r.body.data;
        char trunc[16] = "false";
        if (rc == EV_OK)
            xml_get(p, "IsTruncated", trunc, sizeof trunc);
        more = !strcmp(trunc, "true");
        int n = 0;
        while (rc == EV_OK && p && (p = strstr(p, "<Contents>")) != NULL) {
            char item[4096], key[1100] = "", size[32] = "0", when[64] = "";
            const char *end = xml_get(p, "Contents", item, sizeof item);
            if (!end)
                break;
            xml_get(item, "Key", key, sizeof key);
            xml_get(item, "Size", size, sizeof size);
            xml_get(item, "LastModified", when, sizeof when);
            snprintf(marker, sizeof marker, "%s", key);
            n++;
            if (storage_valid_hash(key)) {
                storage_stat_t st = {strtoull(size, NULL, 10), parse_iso_date(when)};
                rc = fn(ctx, key, key, &st);
            }
            p = end;
        }
        if (n == 0)
            more = 0;
        buf_free(&r.body);
    }
    return rc;
}

/* Aborts the bucket's multipart uploads begun before cutoff (seconds since the epoch):
 * an upload cut off by a crash or a store outage leaves its parts behind, which the
 * store keeps (and a provider bills) until they are aborted. Counts them in *count;
 * dry_run only counts. EV_OK, or the first error (the walk stops). */
static int s3_sweep_uploads(storage_t *s, int64_t cutoff, int dry_run, int64_t *count)
{
    s3_t *b = s->backend;
    char key_marker[1100] = "", id_marker[512] = "";
    int rc = EV_OK, more = 1;
    while (rc == EV_OK && more) {
        buf_t q = {0};
        /* the query's names in sorted order, as SigV4's canonical request has them */
        if (key_marker[0]) {
            buf_puts(&q, "key-marker=");
            url_encode(&q, key_marker);
            buf_puts(&q, "&upload-id-marker=");
            url_encode(&q, id_marker);
            buf_puts(&q, "&");
        }
        buf_puts(&q, "uploads=");
        s3_resp_t r = {0};
        rc = s3_small(b, "GET", NULL, q.data, NULL, &r, "list multipart uploads");
        if (rc == EV_OK)
            rc = s3_status(b, &r, "list multipart uploads");
        buf_free(&q);
        const char *p = r.body.data;
        char trunc[16] = "false";
        if (rc == EV_OK) {
            xml_get(p, "IsTruncated", trunc, sizeof trunc);
            xml_get(p, "NextKeyMarker", key_marker, sizeof key_marker);
            xml_get(p, "NextUploadIdMarker", id_marker, sizeof id_marker);
        }
        more = !strcmp(trunc, "true") && key_marker[0];
        while (rc == EV_OK && p && (p = strstr(p, "<Upload>")) != NULL) {
            char item[4096], key[1100] = "", upload_id[512] = "", when[64] = "";
            const char *end = xml_get(p, "Upload", item, sizeof item);
            if (!end)
                break;
            p = end;
            xml_get(item, "Key", key, sizeof key);
            xml_get(item, "UploadId", upload_id, sizeof upload_id);
            xml_get(item, "Initiated", when, sizeof when);
            int64_t t = parse_iso_date(when);
            if (!key[0] || !upload_id[0] || !t || t > cutoff)
                continue;
            if (!dry_run) {
                buf_t aq = {0};
                buf_puts(&aq, "uploadId=");
                url_encode(&aq, upload_id);
                s3_resp_t ar = {0};
                rc = s3_small(b, "DELETE", key, aq.data, NULL, &ar, "multipart abort");
                if (rc == EV_OK && ar.status != 404)
                    rc = s3_status(b, &ar, "multipart abort");
                buf_free(&ar.body);
                buf_free(&aq);
            }
            if (rc == EV_OK)
                (*count)++;
        }
        buf_free(&r.body);
    }
    return rc;
}

/* ---- streaming reads ---- */

/* A GET driven with the multi interface, so each storage_read pulls just the next
 * bytes: the write callback fills a bounded buffer and pauses the transfer when it
 * is full (memory stays flat whatever the object's size). */
typedef struct s3_reader {
    s3_t *b;
    CURLM *m;
    CURL *e;
    struct curl_slist *h;
    unsigned char *buf;
    size_t len, pos;
    int paused, done;
    CURLcode result;
    long status;
    buf_t err; /* the body of an error answer */
    char errbuf[CURL_ERROR_SIZE];
} s3_reader_t;

static size_t reader_write(char *data, size_t size, size_t n, void *ud)
{
    s3_reader_t *r = ud;
    size_t len = size * n;
    if (!r->status)
        curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status < 200 || r->status >= 300) {
        if (r->err.len < 4096)
            buf_append(&r->err, data, len);
        return len;
    }
    if (r->pos == r->len)
        r->pos = r->len = 0;
    if (READ_BUF - r->len < len && r->pos) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (READ_BUF - r->len < len) {
        r->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return len;
}

/* Moves the transfer on until `want` bytes (or the buffer's worth) are waiting, or
 * it has ended: handing on large pieces keeps the copies and wake-ups few. */
static void reader_pump(s3_reader_t *r, size_t want)
{
    if (want > READ_BUF / 2)
        want = READ_BUF / 2;
    while (!r->done && r->len - r->pos < want) {
        int running = 0;
        if (r->paused) {
            r->paused = 0;
            curl_easy_pause(r->e, CURLPAUSE_CONT);
            if (r->paused || r->len - r->pos >= want)
                break;
        }
        curl_multi_perform(r->m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(r->m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) {
                r->done = 1;
                r->result = msg->data.result;
            }
        if (!running)
            r->done = 1;
        if (r->len - r->pos >= want || r->done || r->paused)
            break;
        curl_multi_poll(r->m, NULL, 0, 1000, NULL);
    }
    if (!r->status)
        curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &r->status);
}

/* The code for a reader whose transfer went wrong, or EV_OK. */
static int reader_error(s3_reader_t *r)
{
    if (r->done && r->result != CURLE_OK) {
        ev_log("storage: s3 GET at %s/%s: %s", r->b->endpoint, r->b->bucket,
               r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
        return STORAGE_UNAVAILABLE;
    }
    if (r->status && (r->status < 200 || r->status >= 300)) {
        if (r->status == 404)
            return STORAGE_NOT_FOUND;
        ev_log("storage: s3 GET answered %ld: %.300s", r->status, r->err.data ? r->err.data : "");
        return r->status >= 500 ? STORAGE_UNAVAILABLE : EV_ERR;
    }
    return EV_OK;
}

static void s3_close_read(void *rd)
{
    s3_reader_t *r = rd;
    if (!r)
        return;
    if (r->m && r->e)
        curl_multi_remove_handle(r->m, r->e);
    curl_easy_cleanup(r->e);
    curl_multi_cleanup(r->m);
    curl_slist_free_all(r->h);
    buf_free(&r->err);
    free(r->buf);
    free(r);
}

static int s3_open_read(storage_t *s, const char *sha, uint64_t off, uint64_t len, void **out)
{
    s3_reader_t *r = xcalloc(1, sizeof *r);
    char range[80];
    int rc;
    r->b = s->backend;
    r->buf = xmalloc(READ_BUF);
    snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    r->h = curl_slist_append(r->h, range);
    r->e = s3_easy(r->b, "GET", sha, NULL, NULL, &r->h);
    r->m = curl_multi_init();
    if (!r->e || !r->m) {
        s3_close_read(r);
        return EV_ERR;
    }
    curl_easy_setopt(r->e, CURLOPT_BUFFERSIZE, 256L * 1024); /* larger reads from the socket */
    curl_easy_setopt(r->e, CURLOPT_WRITEFUNCTION, reader_write);
    curl_easy_setopt(r->e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_multi_add_handle(r->m, r->e);
    /* Wait for the answer's start, so a missing object or a store that is down is
     * known before the caller commits to a response. */
    reader_pump(r, 1);
    rc = reader_error(r);
    if (rc != EV_OK) {
        s3_close_read(r);
        return rc;
    }
    *out = r;
    return EV_OK;
}

static long s3_read(void *rd, void *buf, size_t cap)
{
    s3_reader_t *r = rd;
    reader_pump(r, cap);
    if (r->pos < r->len) {
        size_t n = r->len - r->pos < cap ? r->len - r->pos : cap;
        memcpy(buf, r->buf + r->pos, n);
        r->pos += n;
        return (long)n;
    }
    int rc = reader_error(r);
    return rc != EV_OK ? rc : 0;
}

/* HEAD of the bucket: 200 when it exists and the credentials are accepted. */
static int s3_check(storage_t *s, char *why, size_t whylen)
{
    s3_t *b = s->backend;
    struct curl_slist *h = NULL;
    s3_resp_t r = {0};
    CURL *e = s3_easy(b, "HEAD", NULL, NULL, NULL, &h);
    int rc = e ? s3_run(b, e, &r, "HEAD bucket") : EV_ERR;
    if (rc != EV_OK)
        snprintf(why, whylen, "the endpoint %s did not answer", b->endpoint);
    else if (r.status == 404)
        snprintf(why, whylen, "there is no bucket %s at %s", b->bucket, b->endpoint);
    else if (r.status == 403 || r.status == 401)
        snprintf(why, whylen, "%s refused the credentials for bucket %s (HTTP %ld)", b->endpoint, b->bucket, r.status);
    else if (r.status < 200 || r.status >= 300)
        snprintf(why, whylen, "%s answered HTTP %ld for bucket %s", b->endpoint, r.status, b->bucket);
    if (rc == EV_OK && (r.status < 200 || r.status >= 300))
        rc = r.status >= 500 ? STORAGE_UNAVAILABLE : EV_ERR;
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    buf_free(&r.body);
    return rc;
}

const storage_ops_t storage_s3_ops = {
    .name = "s3",
    .local = 0,
    .put = s3_put,
    .open_read = s3_open_read,
    .read = s3_read,
    .close_read = s3_close_read,
    .stat = s3_stat,
    .touch = s3_touch,
    .list = s3_list,
    .remove = s3_remove,
    .check = s3_check,
    .sweep_uploads = s3_sweep_uploads,
    .close = s3_close,
};
