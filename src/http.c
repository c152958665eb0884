/* http.c: libmicrohttpd glue: per-request state, body decoding, checks, responses, static files */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "housekeeping.h"
#include "jsonout.h"
#include "mailer.h"
#include "notify.h"
#include "audit.h"
#include "fields.h"
#include "pages.h"
#include "policy.h"
#include "router.h"
#include "session.h"
#include "storage.h"
#include "stream.h"
#include "tmpl.h"
#include "users.h"

#define MAX_JSON_BODY (1024 * 1024)       /* JSON and urlencoded bodies */
#define POST_BUFFER_SIZE (64 * 1024)

static const char SECURITY_CSP[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/* The page that records audio (records.c) plays its recording back from a blob: URL. */
static const char RECORDER_CSP[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
static const char PREVIEW_CSP[] =
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; sandbox";

enum body_kind { BODY_NONE, BODY_JSON, BODY_FORM };

/* Everything one request owns; freed in request_completed(). */
typedef struct req_state {
    req_t r;
    int seen;                 /* the first call for this request is done */
    int is_static;
    enum body_kind body_kind;
    buf_t body;               /* JSON body */
    struct MHD_PostProcessor *pp;
    char *field_key;          /* form field being received (values come in pieces) */
    buf_t field_val;
    int field_active;
    blob_writer_t *writer;    /* file part being received */
    json_t *writer_meta;      /* {field, name} of that part */
    uint64_t body_bytes;
    int err_status;           /* a deferred error, answered at the end */
    char err_code[40];
    char err_msg[520];
    uint64_t started_us;
    int status;
    uint64_t resp_bytes;
    int inited;               /* access_handler's first call set r up */
    int uri_error;            /* 414 found by uri_seen(): answered at once */
    int form_parts;           /* parts the post processor delivered */
} req_state_t;

static atomic_int requests_in_flight;

/* ---- the request log ----
 * One line per request, appended to a per-thread buffer and written to stderr
 * in batches (when 16 KiB fill up, and every 100 ms by a flusher thread), so a
 * request costs no write(2) of its own. Lines reach the log within 100 ms. */
typedef struct log_buffer {
    pthread_mutex_t lock;
    buf_t text;
    struct log_buffer *next;
} log_buffer_t;

static pthread_mutex_t log_list_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t log_write_lock = PTHREAD_MUTEX_INITIALIZER;
static log_buffer_t *log_buffers;
static _Thread_local log_buffer_t *thread_log;
static atomic_int log_flusher_running;

static void log_write_out(log_buffer_t *lb) /* holds lb->lock */
{
    if (!lb->text.len)
        return;
    pthread_mutex_lock(&log_write_lock);
    const char *p = lb->text.data;
    size_t left = lb->text.len;
    while (left) {
        ssize_t n = write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    pthread_mutex_unlock(&log_write_lock);
    lb->text.len = 0;
    lb->text.data[0] = '\0';
}

static void log_request_line(const char *line, size_t n)
{
    if (!thread_log) {
        thread_log = xcalloc(1, sizeof *thread_log);
        pthread_mutex_init(&thread_log->lock, NULL);
        pthread_mutex_lock(&log_list_lock);
        thread_log->next = log_buffers;
        log_buffers = thread_log;
        pthread_mutex_unlock(&log_list_lock);
    }
    pthread_mutex_lock(&thread_log->lock);
    buf_append(&thread_log->text, line, n);
    if (thread_log->text.len >= 16384 || !atomic_load(&log_flusher_running))
        log_write_out(thread_log);
    pthread_mutex_unlock(&thread_log->lock);
}

static void log_flush_all(void)
{
    pthread_mutex_lock(&log_list_lock);
    for (log_buffer_t *lb = log_buffers; lb; lb = lb->next) {
        pthread_mutex_lock(&lb->lock);
        log_write_out(lb);
        pthread_mutex_unlock(&lb->lock);
    }
    pthread_mutex_unlock(&log_list_lock);
}

static void *log_flusher(void *arg)
{
    (void)arg;
    while (atomic_load(&log_flusher_running)) {
        usleep(100000);
        log_flush_all();
    }
    return NULL;
}

/* After the workers stopped: last flush, then free every buffer. */
static void log_close_all(void)
{
    log_flush_all();
    pthread_mutex_lock(&log_list_lock);
    while (log_buffers) {
        log_buffer_t *lb = log_buffers;
        log_buffers = lb->next;
        pthread_mutex_destroy(&lb->lock);
        buf_free(&lb->text);
        free(lb);
    }
    pthread_mutex_unlock(&log_list_lock);
}
static volatile sig_atomic_t stopping;

/* ---- the request-head deadline ----
 * libmicrohttpd's connection timeout is an idle timeout: a client that trickles
 * one header line every few seconds keeps a connection (and its slot) forever.
 * Every connection is tracked from its start (MHD_OPTION_NOTIFY_CONNECTION);
 * while it waits for a request head (before the first call of access_handler,
 * and again from the end of one response until the next head arrives) it has
 * app->header_timeout_s seconds in all. A reaper thread shuts down the socket
 * of any connection past its deadline; libmicrohttpd then sees the end of the
 * stream and closes it itself. shutdown(2) rather than close(2): the
 * descriptor stays libmicrohttpd's, so it cannot be reused under it, and the
 * CLOSED notification takes head_lock, so the reaper never touches a
 * connection that has gone. (nginx's client_header_timeout is the same rule.) */
typedef struct conn_track {
    int fd;
    int waiting;              /* waiting for a request head */
    uint64_t deadline_us;
    struct conn_track *prev, *next;
} conn_track_t;

static pthread_mutex_t head_lock = PTHREAD_MUTEX_INITIALIZER;
static conn_track_t *head_list;
static uint64_t head_timeout_us = 10000000;
static atomic_int head_reaper_running;
static atomic_long head_reaped;

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_track_t *t = xcalloc(1, sizeof *t);
        t->fd = ci ? ci->connect_fd : -1;
        t->waiting = 1;
        t->deadline_us = util_now_us() + head_timeout_us;
        pthread_mutex_lock(&head_lock);
        t->next = head_list;
        if (head_list)
            head_list->prev = t;
        head_list = t;
        pthread_mutex_unlock(&head_lock);
        *socket_context = t;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_track_t *t = *socket_context;
        if (!t)
            return;
        pthread_mutex_lock(&head_lock);
        if (t->prev)
            t->prev->next = t->next;
        else
            head_list = t->next;
        if (t->next)
            t->next->prev = t->prev;
        pthread_mutex_unlock(&head_lock);
        free(t);
        *socket_context = NULL;
    }
}

/* waiting 1: the connection now waits for a head (deadline from now); 0: a head arrived. */
static void head_wait(struct MHD_Connection *conn, int waiting)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_track_t *t = ci ? ci->socket_context : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&head_lock);
    t->waiting = waiting;
    t->deadline_us = util_now_us() + head_timeout_us;
    pthread_mutex_unlock(&head_lock);
}

static void *head_reaper(void *arg)
{
    (void)arg;
    while (atomic_load(&head_reaper_running)) {
        usleep(250000);
        uint64_t now = util_now_us();
        pthread_mutex_lock(&head_lock);
        for (conn_track_t *t = head_list; t; t = t->next) {
            int unread = 0;
            /* Bytes the kernel holds that libmicrohttpd has not read yet mean the
             * server is behind (its workers busy), not the client: not the
             * client's fault, so no deadline until they are read. */
            if (t->waiting && t->fd >= 0 && now > t->deadline_us && ioctl(t->fd, FIONREAD, &unread) == 0 &&
                unread == 0) {
                shutdown(t->fd, SHUT_RDWR);
                t->waiting = 0; /* once */
                atomic_fetch_add(&head_reaped, 1);
            }
        }
        pthread_mutex_unlock(&head_lock);
    }
    return NULL;
}

/* ---- small helpers ---- */

unsigned role_from_name(const char *name)
{
    if (!name)
        return 0;
    if (!strcmp(name, "learner"))
        return ROLE_LEARNER;
    if (!strcmp(name, "assessor"))
        return ROLE_ASSESSOR;
    if (!strcmp(name, "iqa"))
        return ROLE_IQA;
    if (!strcmp(name, "admin"))
        return ROLE_ADMIN;
    if (!strcmp(name, "eqa"))
        return ROLE_EQA;
    if (!strcmp(name, "employer"))
        return ROLE_EMPLOYER;
    return 0;
}

const char *role_name(unsigned role)
{
    switch (role) {
    case ROLE_LEARNER: return "learner";
    case ROLE_ASSESSOR: return "assessor";
    case ROLE_IQA: return "iqa";
    case ROLE_ADMIN: return "admin";
    case ROLE_EQA: return "eqa";
    case ROLE_EMPLOYER: return "employer";
    default: return "";
    }
}

json_t *http_out(req_t *r)
{
    if (!r->out || !json_is_object(r->out)) {
        json_decref(r->out);
        r->out = json_object();
    }
    return r->out;
}

void http_set_out(req_t *r, json_t *out)
{
    json_decref(r->out);
    r->out = out;
}

int http_fail(req_t *r, int status, const char *code, const char *fmt, ...)
{
    buf_t msg = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    json_object_set_new(http_out(r), "error",
                        json_pack("{s:s, s:s}", "code", code, "message", msg.data ? msg.data : ""));
    buf_free(&msg);
    return status;
}

void http_field_error(req_t *r, const char *field, const char *message)
{
    json_t *out = http_out(r);
    json_t *errors = json_object_get(out, "errors");
    if (!json_is_array(errors)) {
        errors = json_array();
        json_object_set_new(out, "errors", errors);
    }
    json_array_append_new(errors, json_pack("{s:s, s:s, s:s+}", "field", field, "message", message,
                                            "href", "#", field));
    /* Pages show each field's own message beside it: errors_by_field.title */
    json_t *by = json_object_get(out, "field_errors");
    if (!json_is_object(by)) {
        by = json_object();
        json_object_set_new(out, "field_errors", by);
    }
    if (!json_object_get(by, field))
        json_object_set_new(by, field, json_string(message));
}

size_t http_field_error_count(const req_t *r)
{
    return r->out ? json_array_size(json_object_get(r->out, "errors")) : 0;
}

void http_redirect(req_t *r, const char *fmt, ...)
{
    buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(r->redirect);
    r->redirect = buf_take(&b);
}

const char *http_header(req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

void http_client_addr(req_t *r, char *out, size_t outlen)
{
    snprintf(out, outlen, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

const char *in_str(req_t *r, const char *key)
{
    json_t *v = json_object_get(r->in, key);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int in_int(req_t *r, const char *key, int64_t *out)
{
    json_t *v = json_object_get(r->in, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return EV_OK;
    }
    if (json_is_string(v))
        return util_parse_i64(json_string_value(v), out);
    return EV_ERR;
}

int in_bool(req_t *r, const char *key)
{
    json_t *v = json_object_get(r->in, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return !strcmp(s, "1") || !strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true");
    }
    return 0;
}

json_t *in_array(req_t *r, const char *key)
{
    json_t *v = json_object_get(r->in, key);
    if (json_is_array(v))
        return json_incref(v);
    json_t *a = json_array();
    if (v && !json_is_null(v))
        json_array_append(a, v);
    return a;
}

void http_send_file(req_t *r, const char *path, const char *content_type,
                    const char *download_name, int inline_disposition)
{
    free(r->file_path);
    free(r->content_type);
    free(r->download_name);
    r->file_path = xstrdup(path);
    r->content_type = xstrdup(content_type ? content_type : "application/octet-stream");
    r->download_name = download_name ? xstrdup(download_name) : NULL;
    r->inline_disposition = inline_disposition;
}

void http_send_blob(req_t *r, const char *sha256_hex, uint64_t size, const char *content_type,
                    const char *download_name, int inline_disposition)
{
    free(r->content_type);
    free(r->download_name);
    snprintf(r->blob_sha, sizeof r->blob_sha, "%s", sha256_hex);
    r->blob_size = size;
    r->content_type = xstrdup(content_type ? content_type : "application/octet-stream");
    r->download_name = download_name ? xstrdup(download_name) : NULL;
    r->inline_disposition = inline_disposition;
}

void http_send_buffer(req_t *r, char *data, size_t len, const char *content_type,
                      const char *download_name)
{
    free(r->raw_body);
    free(r->content_type);
    free(r->download_name);
    r->raw_body = data;
    r->raw_len = len;
    r->content_type = xstrdup(content_type ? content_type : "application/octet-stream");
    r->download_name = download_name ? xstrdup(download_name) : NULL;
}

void http_send_stream(req_t *r, struct http_stream *stream, const char *content_type,
                      const char *download_name)
{
    stream_free(r->stream);
    free(r->content_type);
    free(r->download_name);
    r->stream = stream;
    r->content_type = xstrdup(content_type ? content_type : "application/octet-stream");
    r->download_name = download_name ? xstrdup(download_name) : NULL;
}

void http_page(req_t *r, int64_t dflt, int64_t *limit, int64_t *offset)
{
    int64_t page = 1, per = dflt;
    if (in_int(r, "page", &page) != EV_OK || page < 1)
        page = 1;
    if (in_int(r, "per_page", &per) != EV_OK || per < 1)
        per = dflt;
    if (per > 200)
        per = 200;
    if (page > 1000000)
        page = 1000000;
    *limit = per;
    *offset = (page - 1) * per;
}

/* Builds the URL of another page of the current list, keeping other query args. */
static char *page_url(req_t *r, int64_t page, int64_t per)
{
    buf_t b = {0};
    buf_puts(&b, r->path);
    buf_printf(&b, "?page=%lld&per_page=%lld", (long long)page, (long long)per);
    const char *key;
    json_t *v;
    json_object_foreach(r->in, key, v) {
        if (!strcmp(key, "page") || !strcmp(key, "per_page") || !strcmp(key, "csrf_token") || !json_is_string(v))
            continue;
        buf_printf(&b, "&%s=", key);
        for (const unsigned char *s = (const unsigned char *)json_string_value(v); *s; s++) {
            if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                strchr("-_.~", *s))
                buf_putc(&b, (char)*s);
            else
                buf_printf(&b, "%%%02X", *s);
        }
    }
    return buf_take(&b);
}

void http_paginate(req_t *r, json_t *obj, int64_t total)
{
    int64_t limit, offset;
    http_page(r, 25, &limit, &offset);
    int64_t per = limit, page = offset / per + 1;
    int64_t pages = total > 0 ? (total + per - 1) / per : 1;
    json_t *p = json_pack("{s:I, s:I, s:I, s:I}", "page", (json_int_t)page, "per_page", (json_int_t)per,
                          "total", (json_int_t)total, "pages", (json_int_t)pages);
    char *prev = page > 1 ? page_url(r, page - 1, per) : NULL;
    char *next = page < pages ? page_url(r, page + 1, per) : NULL;
    json_object_set_new(p, "prev", prev ? json_string(prev) : json_null());
    json_object_set_new(p, "next", next ? json_string(next) : json_null());
    free(prev);
    free(next);
    json_object_set_new(obj, "pagination", p);
}

/* ---- input decoding ---- */

/* Adds key=value to obj; a repeated key becomes an array of its values. */
static void add_field(json_t *obj, const char *key, const char *val, size_t len)
{
    json_t *v = json_stringn(val, len);
    if (!v) /* not valid UTF-8: keep the field, as an empty value that fails validation */
        v = json_string("");
    json_t *old = json_object_get(obj, key);
    if (!old) {
        json_object_set_new(obj, key, v);
    } else if (json_is_array(old)) {
        json_array_append_new(old, v);
    } else {
        json_t *a = json_array();
        json_array_append(a, old);
        json_array_append_new(a, v);
        json_object_set_new(obj, key, a);
    }
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    json_t *args = cls;
    if (key && *key)
        add_field(args, key, value ? value : "", value ? strlen(value) : 0);
    return MHD_YES;
}

static void set_error(req_state_t *st, int status, const char *code, const char *msg)
{
    if (st->err_status)
        return; /* keep the first */
    st->err_status = status;
    snprintf(st->err_code, sizeof st->err_code, "%s", code);
    snprintf(st->err_msg, sizeof st->err_msg, "%s", msg);
}

static void flush_field(req_state_t *st)
{
    if (!st->field_active)
        return;
    add_field(st->r.in, st->field_key, st->field_val.data ? st->field_val.data : "", st->field_val.len);
    free(st->field_key);
    st->field_key = NULL;
    buf_free(&st->field_val);
    st->field_active = 0;
}

/* Finishes the file part being received: fsync + hash, recorded in r->uploads. */
static void finish_writer(req_state_t *st)
{
    if (!st->writer)
        return;
    char *tmp = NULL;
    char sha[65];
    uint64_t size = 0;
    uint32_t crc = 0;
    blob_writer_t *w = st->writer;
    st->writer = NULL;
    if (storage_finish(w, &tmp, sha, &size, &crc) != EV_OK) {
        set_error(st, 500, "storage_failed", "The file could not be stored. Please try again.");
        json_decref(st->writer_meta);
        st->writer_meta = NULL;
        return;
    }
    json_object_set_new(st->writer_meta, "size", json_integer((json_int_t)size));
    json_object_set_new(st->writer_meta, "sha256", json_string(sha));
    json_object_set_new(st->writer_meta, "crc32", json_integer((json_int_t)crc));
    json_object_set_new(st->writer_meta, "tmp_path", json_string(tmp));
    if (!st->r.uploads)
        st->r.uploads = json_array();
    json_array_append_new(st->r.uploads, st->writer_meta);
    st->writer_meta = NULL;
    free(tmp);
}

static enum MHD_Result post_iterator(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data,
                                     uint64_t off, size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    req_state_t *st = cls;
    st->form_parts++;
    if (!key)
        return MHD_YES;
    if (filename) {
        if (!*filename)
            return MHD_YES; /* an empty file input */
        if (!(st->r.route && (st->r.route->flags & ROUTE_UPLOAD))) {
            set_error(st, 400, "files_not_accepted", "This form does not take files.");
            return MHD_YES;
        }
        if (st->err_status)
            return MHD_YES; /* discard the rest */
        if (off == 0) {
            finish_writer(st);
            flush_field(st);
            st->writer = storage_begin_spool(st->r.app->store);
            if (!st->writer) {
                set_error(st, 500, "storage_failed", "The file could not be stored. Please try again.");
                return MHD_YES;
            }
            st->writer_meta = json_pack("{s:s, s:s}", "field", key, "name", filename);
            if (!st->writer_meta) /* a name that is not UTF-8 */
                st->writer_meta = json_pack("{s:s, s:s}", "field", key, "name", "upload");
        }
        if (!st->writer)
            return MHD_YES;
        if (storage_written(st->writer) + size > (uint64_t)st->r.app->max_upload_bytes) {
            storage_abort(st->writer);
            st->writer = NULL;
            json_decref(st->writer_meta);
            st->writer_meta = NULL;
            char msg[512];
            snprintf(msg, sizeof msg, "%.300s is larger than the %lld MB limit for one file: make it smaller "
                     "(a shorter video, a lower resolution, or a PDF of fewer pages) or split it into parts.",
                     filename, (long long)(st->r.app->max_upload_bytes / (1024 * 1024)));
            set_error(st, 413, "file_too_large", msg);
            return MHD_YES;
        }
        if (size && storage_write(st->writer, data, size) != EV_OK)
            set_error(st, 500, "storage_failed", "The file could not be stored. Please try again.");
        return MHD_YES;
    }
    /* an ordinary field; its value may arrive in several pieces */
    if (off == 0 || !st->field_active || strcmp(st->field_key, key) != 0) {
        flush_field(st);
        st->field_key = xstrdup(key);
        st->field_active = 1;
    }
    if (st->field_val.len + size > MAX_JSON_BODY) {
        set_error(st, 413, "field_too_large", "A form field is too long.");
        return MHD_YES;
    }
    buf_append(&st->field_val, data, size);
    return MHD_YES;
}

/* ---- responses ---- */

/* The security headers every response carries; the two that only mean
 * something for a document (opener and permissions policies) go on HTML only. */
static void add_common_headers(struct MHD_Response *resp, int preview, int html, int microphone)
{
    MHD_add_response_header(resp, "Content-Security-Policy", preview      ? PREVIEW_CSP
                                                             : microphone ? RECORDER_CSP
                                                                          : SECURITY_CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", preview ? "SAMEORIGIN" : "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    if (html) {
        MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
        MHD_add_response_header(resp, "Permissions-Policy", microphone ? "geolocation=(), camera=(), microphone=(self)"
                                                                      : "geolocation=(), camera=(), microphone=()");
    }
}

static enum MHD_Result queue(req_state_t *st, int status, struct MHD_Response *resp, size_t bytes)
{
    st->status = status;
    st->resp_bytes = bytes;
    /* Tell clients how long an idle kept-alive connection lives (the head
     * deadline), so they close it before the server does rather than race it
     * with a new request (RFC 9112 9.3; undici and others honour it). */
    char ka[32];
    snprintf(ka, sizeof ka, "timeout=%d", st->r.app->header_timeout_s);
    MHD_add_response_header(resp, "Keep-Alive", ka);
    enum MHD_Result ret = MHD_queue_response(st->r.conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* 1 when this request's client takes gzip (Accept-Encoding). */
static int client_takes_gzip(req_state_t *st)
{
    return compress_accepts_gzip(MHD_lookup_connection_value(st->r.conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

/* The signed-in user's unread notifications (the pages' header badge), read once
 * per request: the ETag and the page both use it. */
static int64_t page_unread(req_t *r)
{
    if (!r->unread_known) {
        r->unread = notify_unread_count(r->db, r->user.id);
        r->unread_known = 1;
    }
    return r->unread;
}

/* This server run's part of every ETag (http_not_modified): random at start. */
static char etag_run[17];

/* The gzip'd bodies of the last tagged answers, by ETag: a repeat request that
 * does not send If-None-Match (another tab, a client without a cache) is answered
 * without building or compressing anything. Compressing the 57 KB matrix page
 * costs about as much as building it. Bounded: KEPT_SLOTS bodies of at most
 * KEPT_MAX_BYTES each, the least recently used replaced. */
#define KEPT_SLOTS 256
#define KEPT_MAX_BYTES (256 * 1024)
static struct kept {
    char etag[40];
    char *data;
    size_t len;
    uint64_t used;
} kept[KEPT_SLOTS];
static uint64_t kept_clock;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

/* A malloc'd copy of the body kept under etag (its length in *len), or NULL. */
static char *kept_get(const char *etag, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&kept_lock);
    for (int i = 0; i < KEPT_SLOTS; i++)
        if (kept[i].data && strcmp(kept[i].etag, etag) == 0) {
            copy = xmalloc(kept[i].len ? kept[i].len : 1);
            memcpy(copy, kept[i].data, kept[i].len);
            *len = kept[i].len;
            kept[i].used = ++kept_clock;
            break;
        }
    pthread_mutex_unlock(&kept_lock);
    return copy;
}

/* Keeps a copy of the gzip'd body sent under etag, in the least recently used slot. */
static void kept_put(const char *etag, const char *data, size_t len)
{
    if (len > KEPT_MAX_BYTES)
        return;
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, data, len);
    pthread_mutex_lock(&kept_lock);
    int slot = 0;
    for (int i = 0; i < KEPT_SLOTS; i++) {
        if (kept[i].data && strcmp(kept[i].etag, etag) == 0) {
            slot = i;
            break;
        }
        if (kept[i].used < kept[slot].used)
            slot = i;
    }
    char *old = kept[slot].data;
    snprintf(kept[slot].etag, sizeof kept[slot].etag, "%s", etag);
    kept[slot].data = copy;
    kept[slot].len = len;
    kept[slot].used = ++kept_clock;
    pthread_mutex_unlock(&kept_lock);
    free(old);
}

static void kept_free(void)
{
    pthread_mutex_lock(&kept_lock);
    for (int i = 0; i < KEPT_SLOTS; i++) {
        free(kept[i].data);
        kept[i].data = NULL;
        kept[i].used = 0;
    }
    pthread_mutex_unlock(&kept_lock);
}

int http_not_modified(req_t *r, const char *version)
{
    r->etag[0] = '\0';
    if (!r->app || r->app->dev || !etag_run[0] || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0))
        return 0;
    int gz = compress_accepts_gzip(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                               MHD_HTTP_HEADER_ACCEPT_ENCODING));
    char *args = json_dumps(r->in, JSON_COMPACT | JSON_SORT_KEYS);
    int64_t unread = !r->is_api && r->user.id && r->db ? page_unread(r) : 0;
    buf_t b = {0};
    buf_printf(&b, "%s\n%s\n%s\n%d\n%s\n%lld\n%u\n%s\n%s\n%s\n%lld\n%s", etag_run, EVITRACK_VERSION,
               version ? version : "", r->is_api, r->path, (long long)r->user.id, (unsigned)r->user.role,
               r->user.name, r->user.email, r->user.csrf_token, (long long)unread, args ? args : "");
    free(args);
    unsigned char h[12];
    char hex[25];
    crypto_generichash(h, sizeof h, (const unsigned char *)b.data, b.len, NULL, 0);
    buf_free(&b);
    util_hex(h, sizeof h, hex);
    /* weak: the same data makes the same page, not necessarily the same bytes */
    snprintf(r->etag, sizeof r->etag, "W/\"%s%s\"", hex, gz ? "-gz" : "");
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    /* a list of tags compared weakly (RFC 9110 8.8.3.2): W/ on either side is ignored */
    const char *want = r->etag + 2; /* "\"hex\"" */
    size_t wl = strlen(want);
    for (const char *p = inm; p && (p = strstr(p, want)) != NULL; p += wl) {
        char after = p[wl];
        if (after == '\0' || after == ',' || after == ' ' || after == '\t')
            return 304;
    }
    if (gz) {
        free(r->kept_gz);
        r->kept_gz = kept_get(r->etag, &r->kept_gz_len);
        if (r->kept_gz)
            return 200;
    }
    return 0;
}

static enum MHD_Result send_bytes(req_state_t *st, int status, const char *type, char *data, size_t len,
                                  const char *cache)
{
    if (st->r.etag[0] && (status == 200 || status == 304))
        cache = "private, no-cache"; /* kept, but asked again each time (If-None-Match) */
    /* Text over about 1 KB goes gzip'd to a client that takes it: a 56 KB
     * matrix page becomes a few KB on a phone's mobile data. */
    int compressible = compress_type_ok(type);
    int gzipped = 0;
    if (compressible && len >= COMPRESS_MIN_BYTES && status != 204 && status != 304 && client_takes_gzip(st)) {
        size_t gzlen = 0;
        char *gz = compress_gzip(data, len, COMPRESS_LEVEL, &gzlen);
        if (gz) {
            free(data);
            data = gz;
            len = gzlen;
            gzipped = 1;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    if (gzipped)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    if (st->r.etag[0] && (status == 200 || status == 304))
        MHD_add_response_header(resp, "ETag", st->r.etag);
    if (st->r.etag[0] && status == 200 && gzipped && !st->r.kept_gz)
        kept_put(st->r.etag, data, len);
    if (compressible || status == 304)
        MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", cache);
    add_common_headers(resp, 0, strncmp(type, "text/html", 9) == 0, st->r.allow_microphone);
    if (st->r.set_cookie)
        MHD_add_response_header(resp, "Set-Cookie", st->r.set_cookie);
    if (st->r.extra_header_name && st->r.extra_header_value)
        MHD_add_response_header(resp, st->r.extra_header_name, st->r.extra_header_value);
    if (st->r.redirect && status >= 300 && status < 400)
        MHD_add_response_header(resp, "Location", st->r.redirect);
    if (status == 405 && st->r.extra_header_value)
        MHD_add_response_header(resp, "Allow", st->r.extra_header_value);
    return queue(st, status, resp, len);
}

/* The gzip'd body http_not_modified found kept under this request's tag, sent as
 * send_bytes sent it the first time (taking r->kept_gz). */
static enum MHD_Result send_kept(req_state_t *st)
{
    req_t *r = &st->r;
    const char *type = r->is_api ? "application/json" : "text/html; charset=utf-8";
    char *data = r->kept_gz;
    size_t len = r->kept_gz_len;
    r->kept_gz = NULL;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "ETag", r->etag);
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "private, no-cache");
    add_common_headers(resp, 0, !r->is_api, r->allow_microphone);
    if (r->set_cookie)
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    return queue(st, 200, resp, len);
}

static enum MHD_Result send_json(req_state_t *st, int status, json_t *body)
{
    char *text = jsonout_dumps(body); /* json_dumps' bytes, at a tenth of its cost */
    size_t len = text ? strlen(text) : 0;
    if (!text)
        text = xstrdup("{}");
    return send_bytes(st, status, "application/json", text, len, "no-store");
}

/* RFC 6266 / 5987: an ASCII fallback name plus filename*=UTF-8''percent-encoded. */
static char *content_disposition(const char *name, int inline_disposition)
{
    buf_t b = {0};
    buf_puts(&b, inline_disposition ? "inline" : "attachment");
    buf_puts(&b, "; filename=\"");
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        buf_putc(&b, (*s < 0x20 || *s >= 0x7f || *s == '"' || *s == '\\' || *s == '/' || *s == ';') ? '_' : (char)*s);
    buf_puts(&b, "\"; filename*=UTF-8''");
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            strchr("!#$&+-.^_`|~", *s))
            buf_putc(&b, (char)*s);
        else
            buf_printf(&b, "%%%02X", *s);
    }
    return buf_take(&b);
}

/* One byte range of a file of `size` bytes from a Range header ("bytes=A-B",
 * "bytes=A-", "bytes=-N"), so media previews can seek and play files whose index
 * is at the end. RFC 9110 14.1.2 and 14.2: a header that is not a valid single
 * byte range (bad syntax, last < first, several ranges) is ignored: 0, send the
 * whole file. A valid range that starts at or past the end, or a suffix of
 * zero bytes, is unsatisfiable: -1 (416). 1 with [*start, *end] filled; the
 * outputs are written only then. */
static int parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6, *dash = strchr(p, '-');
    if (!dash)
        return 0;
    size_t la = (size_t)(dash - p), lb = strlen(dash + 1);
    if (la > 18 || lb > 18 || (la == 0 && lb == 0))
        return 0;
    for (const char *q = p; q < dash; q++)
        if (*q < '0' || *q > '9')
            return 0;
    for (const char *q = dash + 1; *q; q++)
        if (*q < '0' || *q > '9')
            return 0;
    uint64_t a = la ? strtoull(p, NULL, 10) : 0, b = lb ? strtoull(dash + 1, NULL, 10) : 0;
    if (la == 0) { /* the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 1;
    }
    if (lb && b < a)
        return 0; /* invalid: ignored */
    if (a >= size)
        return -1;
    *start = a;
    *end = (lb && b < size) ? b : size - 1;
    return 1;
}

/* libmicrohttpd pulls a blob's bytes through this as the client reads them. A
 * store error (or a hash mismatch at the end of a whole-file read) ends the
 * response early, so the client never sees a bad file arrive complete. */
static ssize_t blob_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = storage_read(cls, buf, max);
    if (n > 0)
        return (ssize_t)n;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    ev_log("http: a stored file could not be sent: %s", storage_strerror((int)n));
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void blob_reader_free(void *cls)
{
    storage_close_read(cls);
}

/* A JSON error answer from send_raw (before any byte of the file went out). */
static enum MHD_Result raw_error(req_state_t *st, int status, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    enum MHD_Result ret = send_json(st, status, e);
    json_decref(e);
    return ret;
}

static enum MHD_Result send_raw(req_state_t *st, int status)
{
    req_t *r = &st->r;
    struct MHD_Response *resp = NULL;
    size_t bytes = 0;
    char content_range[80] = "";
    if (r->blob_sha[0]) {
        uint64_t size = r->blob_size, start = 0, end = size ? size - 1 : 0;
        int ranged = status == 200 ? parse_range(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                                             MHD_HTTP_HEADER_RANGE),
                                                 size, &start, &end)
                                   : 0;
        if (ranged < 0) {
            resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!resp)
                return MHD_NO;
            snprintf(content_range, sizeof content_range, "bytes */%llu", (unsigned long long)size);
            MHD_add_response_header(resp, "Content-Range", content_range);
            add_common_headers(resp, 0, 0, 0);
            return queue(st, 416, resp, 0);
        }
        if (ranged > 0) {
            status = 206;
            snprintf(content_range, sizeof content_range, "bytes %llu-%llu/%llu", (unsigned long long)start,
                     (unsigned long long)end, (unsigned long long)size);
        }
        bytes = (size_t)(size ? end - start + 1 : 0);
        storage_reader_t *rd = NULL;
        int rc = storage_open_read(r->app->store, r->blob_sha, start, bytes, size, &rd);
        if (rc == STORAGE_NOT_FOUND)
            return raw_error(st, 500, "blob_missing", "The file's contents are missing from the store.");
        if (rc != EV_OK)
            return raw_error(st, 503, "store_unavailable",
                             "The evidence store is not answering. Please try again in a few minutes.");
        resp = MHD_create_response_from_callback((uint64_t)bytes, 512 * 1024, blob_reader, rd, blob_reader_free);
        if (!resp) {
            storage_close_read(rd);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
        if (content_range[0])
            MHD_add_response_header(resp, "Content-Range", content_range);
    } else if (r->file_path) {
        int fd = open(r->file_path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            if (fd >= 0)
                close(fd);
            json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", "not_found", "message",
                                  "The file is missing from the store.");
            enum MHD_Result ret = send_json(st, 404, e);
            json_decref(e);
            return ret;
        }
        uint64_t size = (uint64_t)sb.st_size, start = 0, end = size ? size - 1 : 0;
        int ranged = status == 200 ? parse_range(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                                             MHD_HTTP_HEADER_RANGE),
                                                 size, &start, &end)
                                   : 0;
        if (ranged < 0) {
            close(fd);
            resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!resp)
                return MHD_NO;
            snprintf(content_range, sizeof content_range, "bytes */%llu", (unsigned long long)size);
            MHD_add_response_header(resp, "Content-Range", content_range);
            add_common_headers(resp, 0, 0, 0);
            return queue(st, 416, resp, 0);
        }
        if (ranged > 0) {
            status = 206;
            snprintf(content_range, sizeof content_range, "bytes %llu-%llu/%llu", (unsigned long long)start,
                     (unsigned long long)end, (unsigned long long)size);
        }
        bytes = (size_t)(size ? end - start + 1 : 0);
        resp = MHD_create_response_from_fd_at_offset64((uint64_t)bytes, fd, start);
        if (!resp) {
            close(fd);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
        if (content_range[0])
            MHD_add_response_header(resp, "Content-Range", content_range);
    } else if (r->stream) {
        resp = stream_response(r->stream, r->conn);
        r->stream = NULL; /* the response owns it */
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: pass it on as it comes */
    } else {
        bytes = r->raw_len;
        resp = MHD_create_response_from_buffer(r->raw_len, r->raw_body, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            return MHD_NO;
        r->raw_body = NULL; /* MHD frees it */
    }
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/octet-stream");
    MHD_add_response_header(resp, "Cache-Control", "private, no-store");
    if (r->download_name) {
        char *cd = content_disposition(r->download_name, r->inline_disposition);
        MHD_add_response_header(resp, "Content-Disposition", cd);
        free(cd);
    }
    add_common_headers(resp, r->inline_disposition, 0, 0);
    if (r->set_cookie)
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    return queue(st, status, resp, bytes);
}

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "There is a problem with the request";
    case 401: return "You need to sign in";
    case 403: return "You do not have access to this page";
    case 404: return "Page not found";
    case 405: return "That action is not possible here";
    case 409: return "This can no longer be changed";
    case 413: return "The upload is too large";
    case 429: return "Too many attempts";
    case 503: return "Sorry, the service is unavailable";
    default: return status >= 500 ? "Sorry, there is a problem with the service" : "There is a problem";
    }
}

/* Adds what every page may show: the user, the CSRF token, the path. */
static void add_page_context(req_t *r, json_t *ctx, int status)
{
    if (r->user.id) {
        json_t *me = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)r->user.id, "name", r->user.name,
                               "email", r->user.email, "role", role_name(r->user.role));
        if (me) {
            char key[32];
            snprintf(key, sizeof key, "is_%s", role_name(r->user.role));
            json_object_set_new(me, key, json_true());
            json_object_set_new(me, "is_staff", json_boolean(r->user.role != ROLE_LEARNER));
            if (r->db) /* the header's badge: unread notifications */
                json_object_set_new(me, "unread", json_integer(page_unread(r)));
            if (r->user.is_apprentice) /* an apprentice's menu leads to their hours (session.c reads it) */
                json_object_set_new(me, "is_apprentice", json_true());
            json_object_set_new(ctx, "me", me);
        }
        json_object_set_new(ctx, "csrf_token", json_string(r->user.csrf_token));
    }
    json_object_set_new(ctx, "path", json_string(r->path));
    json_object_set_new(ctx, "status", json_integer(status));
    /* Times in the zone of --timezone, dates and ages in words (pages.c). */
    pages_humanize(ctx, util_now_s());
    /* The confirmation of the action that led here (a form's 303 ?done=CODE):
     * only sentences from pages.c's table, never text from the URL. */
    const char *done_text = status < 400 ? pages_done_text(in_str(r, "done")) : NULL;
    if (done_text && !json_object_get(ctx, "notice"))
        json_object_set_new(ctx, "banner", json_string(done_text));
    /* The role's home page leads with what to do next (pages.c). */
    if (r->user.id && status == 200 && !strcmp(r->method, "GET") &&
        !strcmp(r->path, users_role_home(r->user.role)) && r->db)
        json_object_set_new(ctx, "next_steps", json_pack("{s:o}", "items",
                                                          pages_next_steps(r->db, r->user.id, r->user.role, ctx)));
    /* A one-time token for forms that create something (pages.c). */
    if (r->user.id) {
        char token[33];
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        util_hex(raw, sizeof raw, token);
        json_object_set_new(ctx, "form_token", json_string(token));
    }
    if (status >= 400)
        json_object_set_new(ctx, "status_title", json_string(status_title(status)));
}

static enum MHD_Result send_page(req_state_t *st, int status)
{
    req_t *r = &st->r;
    const app_t *app = r->app;
    const char *name = r->tmpl ? r->tmpl : (r->route ? r->route->tmpl : NULL);
    if (status >= 500 || !name || !app->templates || !tmpl_set_has(app->templates, name))
        name = "error";
    if (status >= 400 && !r->tmpl && r->route && r->route->tmpl && strcmp(r->method, "GET") != 0 &&
        status != 400 && status != 409 && status != 413 && status != 429)
        name = "error"; /* a form re-renders itself only for input problems */
    if (!r->tmpl && strcmp(r->method, "GET") == 0 && (status == 401 || status == 403 || status == 404))
        name = "error"; /* a page that is not there (or not yours) is the error page, not the route's empty page */
    json_t *ctx = json_is_object(r->out) ? json_incref(r->out) : json_object();
    if (status >= 400 && !json_object_get(ctx, "error"))
        json_object_set_new(ctx, "error", json_pack("{s:s, s:s}", "code", "error", "message", status_title(status)));
    if (status >= 400 && strcmp(r->method, "GET") != 0) /* show what was typed back in the form */
        json_object_set(ctx, "values", r->in);
    add_page_context(r, ctx, status);
    /* Room for this thread's last page at once, rather than doubling up to it
     * from 256 bytes with a copy at each step (the matrix page is about 56 KB).
     * A little over it, not a doubling: glibc consolidates its free lists on every
     * free of 64 KB or more, which cost 3 % of the matrix page's time. */
    static _Thread_local size_t last_page;
    buf_t html = {0};
    buf_reserve(&html, last_page > 4096 ? last_page + 2048 : 4096);
    char err[256] = "";
    int rc = app->templates ? tmpl_set_render(app->templates, name, ctx, &html, err, sizeof err) : EV_ERR;
    json_decref(ctx);
    if (rc != EV_OK) {
        ev_log("template %s: %s", name, err);
        buf_free(&html);
        char *msg = fmtalloc("<!doctype html><html lang=\"en\"><title>Error</title><h1>%s</h1></html>",
                             status_title(500));
        return send_bytes(st, 500, "text/html; charset=utf-8", msg, strlen(msg), "no-store");
    }
    size_t len = html.len;
    last_page = len < (size_t)1 << 20 ? len : 0;
    return send_bytes(st, status, "text/html; charset=utf-8", buf_take(&html), len, "no-store");
}

/* Removes the temporary files of uploads the handler did not promote into the
 * store, before the response goes out: once a client hears "413" or "400", the
 * refused upload has already left nothing behind. (request_completed() unlinks
 * them again, harmlessly; promoted ones were renamed away.) */
static void drop_temp_uploads(req_state_t *st)
{
    size_t i;
    json_t *u;
    json_array_foreach(st->r.uploads, i, u) {
        const char *tmp = json_string_value(json_object_get(u, "tmp_path"));
        if (tmp)
            unlink(tmp);
    }
}

/* Sends the handler's result (or an error) in the representation the path asks for. */
static enum MHD_Result respond(req_state_t *st, int status)
{
    req_t *r = &st->r;
    drop_temp_uploads(st);
    if (status < 400 && (r->file_path || r->raw_body || r->stream || r->blob_sha[0]))
        return send_raw(st, status);
    if (status == 304) /* http_not_modified: the client's copy is current */
        return send_bytes(st, 304, r->is_api ? "application/json" : "text/html; charset=utf-8", xstrdup(""), 0,
                          "no-store");
    if (status == 200 && r->kept_gz) /* http_not_modified: the body sent under this tag, kept */
        return send_kept(st);
    if (r->is_api) {
        json_t *body;
        if (status >= 400) {
            json_t *e = r->out ? json_object_get(r->out, "error") : NULL;
            body = json_object();
            if (e)
                json_object_set(body, "error", e);
            else
                json_object_set_new(body, "error", json_pack("{s:s, s:s}", "code", "error", "message",
                                                             status_title(status)));
            json_t *errs = r->out ? json_object_get(r->out, "errors") : NULL;
            if (errs)
                json_object_set(body, "errors", errs);
        } else {
            body = r->out ? json_incref(r->out) : json_object();
        }
        enum MHD_Result ret = send_json(st, status, body);
        json_decref(body);
        return ret;
    }
    if (status == 401) {
        http_redirect(r, "/login");
        return send_bytes(st, 303, "text/plain", xstrdup(""), 0, "no-store");
    }
    if (r->redirect && status < 400) {
        char *msg = xstrdup("");
        return send_bytes(st, 303, "text/plain", msg, 0, "no-store");
    }
    return send_page(st, status);
}

/* The one 404 message an EQA gets for anything outside its open visits, whether the
 * object does not exist, lies outside the sample or the route is closed to the role (and
 * an employer contact for a route about an object their role may not use). */
static const char *eqa_not_found_message(const req_t *r)
{
    return r->is_api ? "Not found."
                     : "If you typed the web address, check it is correct. If you pasted it, check you copied the whole address.";
}

static enum MHD_Result respond_error(req_state_t *st, int status, const char *code, const char *msg)
{
    http_fail(&st->r, status, code, "%s", msg);
    return respond(st, status);
}

/* ---- static files ---- */

static const char *mime_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "application/octet-stream";
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".css", "text/css; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},              {".png", "image/png"},
        {".jpg", "image/jpeg"},                 {".jpeg", "image/jpeg"},
        {".ico", "image/x-icon"},               {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},  {".json", "application/json"},
        {".webp", "image/webp"},                {".map", "application/json"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* 1 when rel (below /static/) is a plain relative path: segments of
 * [A-Za-z0-9._-], none empty, none starting with '.', so no "..", no
 * hidden files, no encoded tricks (MHD has decoded %xx; %00 stays literal). */
int http_static_path_ok(const char *rel)
{
    if (!*rel || strlen(rel) > 200)
        return 0;
    const char *seg = rel;
    for (const char *p = rel;; p++) {
        if (*p == '/' || *p == '\0') {
            if (p == seg || *seg == '.')
                return 0;
            if (!*p)
                break;
            seg = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static enum MHD_Result serve_static(req_state_t *st)
{
    const char *rel = st->r.path + strlen("/static/");
    char *full = NULL, *real = NULL, *root = NULL;
    int fd = -1;
    enum MHD_Result ret;
    if (!http_static_path_ok(rel)) {
        ret = respond_error(st, 404, "not_found", "No such file.");
        goto out;
    }
    full = fmtalloc("%s/%s", st->r.app->static_dir, rel);
    real = realpath(full, NULL);
    root = realpath(st->r.app->static_dir, NULL);
    size_t rootlen = root ? strlen(root) : 0;
    /* Symlinks that lead out of static/ are refused: the resolved path must stay inside. */
    if (!real || !root || strncmp(real, root, rootlen) != 0 || real[rootlen] != '/') {
        ret = respond_error(st, 404, "not_found", "No such file.");
        goto out;
    }
    struct stat sb;
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ret = respond_error(st, 404, "not_found", "No such file.");
        goto out;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtime);
    const char *inm = MHD_lookup_connection_value(st->r.conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *resp;
    int status;
    size_t bytes = 0;
    size_t gzlen = 0;
    const char *gz = client_takes_gzip(st) ? compress_static_find(rel, (uint64_t)sb.st_size, sb.st_mtime, &gzlen)
                                           : NULL;
    if (gz) /* the gzip copy is another representation: its own validator (RFC 9110 8.8.3) */
        snprintf(etag + strlen(etag) - 1, sizeof etag - strlen(etag) + 1, "-gz\"");
    if (inm && strstr(inm, etag)) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else if (gz) {
        resp = MHD_create_response_from_buffer(gzlen, (void *)gz, MHD_RESPMEM_PERSISTENT);
        status = 200;
        bytes = gzlen;
        MHD_add_response_header(resp, "Content-Type", mime_for(real));
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    } else {
        resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
        fd = -1; /* MHD owns it now */
        status = 200;
        bytes = (size_t)sb.st_size;
        MHD_add_response_header(resp, "Content-Type", mime_for(real));
    }
    MHD_add_response_header(resp, "ETag", etag);
    if (compress_type_ok(mime_for(real)))
        MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=3600");
    add_common_headers(resp, 0, 0, 0);
    ret = queue(st, status, resp, bytes);
out:
    if (fd >= 0)
        close(fd);
    free(full);
    free(real);
    free(root);
    return ret;
}

/* ---- the request cycle ---- */

static int content_type_is(const char *ct, const char *want)
{
    return ct && strncasecmp(ct, want, strlen(want)) == 0;
}

/* First call: route, authenticate, check role, and set up body decoding. */
static void begin_request(req_state_t *st, const char *url)
{
    req_t *r = &st->r;
    r->is_api = strncmp(url, "/api/v1/", 8) == 0 || strcmp(url, "/api/v1") == 0 || strcmp(url, "/healthz") == 0;
    if ((!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) && !strncmp(url, "/static/", 8)) {
        st->is_static = 1;
        return;
    }
    char allow[64];
    const route_t *route = NULL;
    switch (router_match(router_tables, r->method, url, &route, r->params, &r->nparams, allow, sizeof allow)) {
    case ROUTER_NOT_FOUND:
        set_error(st, 404, "not_found", r->is_api ? "No such API endpoint."
                  : "If you typed the web address, check it is correct. If you pasted it, check you copied the whole address.");
        return;
    case ROUTER_BAD_METHOD:
        r->extra_header_value = xstrdup(allow);
        set_error(st, 405, "method_not_allowed", "That method is not allowed here.");
        return;
    case ROUTER_FOUND:
        break;
    }
    r->route = route;
    if (route->flags & ROUTE_JSON)
        r->is_api = 1;
    r->db = db_thread();
    if (!r->db) {
        set_error(st, 503, "database_unavailable", "The database cannot be opened.");
        return;
    }
    if (route->roles || (route->flags & ROUTE_OPTIONAL_AUTH)) {
        if (session_load(r) != EV_OK) {
            set_error(st, 503, "database_unavailable", "The database is not answering.");
            return;
        }
        if (route->roles && !r->user.id) {
            set_error(st, 401, "unauthenticated", "Sign in to continue.");
            return;
        }
        if (route->roles && !(policy_route_roles(route) & r->user.role)) {
            /* An EQA is told nothing about what lies outside its visits: a route closed to
             * it answers exactly as an object that does not exist (issue 18). An employer
             * contact is outside the centre: a route about a particular object (a path with
             * an id) that their role may not use answers the same way, whoever it belongs
             * to (issue 16), so the answer tells them nothing about other employers'
             * apprentices. */
            if (r->user.role == ROLE_EQA || (r->user.role == ROLE_EMPLOYER && strchr(route->pattern, '{'))) {
                r->tmpl = "error";
                set_error(st, 404, "not_found", eqa_not_found_message(r));
                return;
            }
            set_error(st, 403, "forbidden", "Your role cannot do this.");
            return;
        }
    }
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t length = 0;
    if (cl && util_parse_i64(cl, &length) == EV_OK) {
        int64_t cap = (route->flags & ROUTE_UPLOAD) ? r->app->max_request_bytes : MAX_JSON_BODY;
        if (length > cap) {
            set_error(st, 413, "request_too_large",
                      (route->flags & ROUTE_UPLOAD) ? "The upload is larger than the limit for one request."
                                                    : "The request body is too large.");
            return;
        }
    }
    if (content_type_is(ct, "application/json")) {
        st->body_kind = BODY_JSON;
    } else if (content_type_is(ct, MHD_HTTP_POST_ENCODING_FORM_URLENCODED) ||
               content_type_is(ct, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA)) {
        st->body_kind = BODY_FORM;
        st->pp = MHD_create_post_processor(r->conn, POST_BUFFER_SIZE, post_iterator, st);
        if (!st->pp)
            set_error(st, 400, "bad_form", "The form data could not be read (bad Content-Type).");
    }
}

/* Body bytes as they arrive. */
static void take_body(req_state_t *st, const char *data, size_t size)
{
    st->body_bytes += size;
    if (st->err_status && st->err_status != 413)
        return;
    if (st->r.route && (st->r.route->flags & ROUTE_UPLOAD) &&
        st->body_bytes > (uint64_t)st->r.app->max_request_bytes) {
        set_error(st, 413, "request_too_large", "The upload is larger than the limit for one request.");
        return;
    }
    if (st->err_status)
        return;
    switch (st->body_kind) {
    case BODY_JSON:
        if (st->body.len + size > MAX_JSON_BODY) {
            set_error(st, 413, "request_too_large", "The request body is too large.");
            return;
        }
        buf_append(&st->body, data, size);
        break;
    case BODY_FORM:
        if (!(st->r.route && (st->r.route->flags & ROUTE_UPLOAD)) && st->body_bytes > MAX_JSON_BODY) {
            set_error(st, 413, "request_too_large", "The request body is too large.");
            return;
        }
        if (MHD_post_process(st->pp, data, size) != MHD_YES)
            set_error(st, 400, "bad_form", "The form data is malformed.");
        break;
    case BODY_NONE:
        if (size)
            set_error(st, 415, "unsupported_media_type",
                      "Send JSON (application/json) or a form (urlencoded or multipart).");
        break;
    }
}

/* Everything a handler may have set for the response, dropped before it runs again. */
static void reset_response(req_t *r)
{
    json_decref(r->out);
    r->out = NULL;
    r->tmpl = NULL;
    free(r->redirect);
    free(r->set_cookie);
    free(r->extra_header_name);
    free(r->extra_header_value);
    free(r->file_path);
    free(r->raw_body);
    stream_free(r->stream);
    free(r->content_type);
    free(r->download_name);
    r->redirect = r->set_cookie = r->extra_header_name = r->extra_header_value = NULL;
    r->file_path = r->raw_body = r->content_type = r->download_name = NULL;
    r->stream = NULL;
    r->raw_len = 0;
    r->blob_sha[0] = '\0';
    r->blob_size = 0;
    r->inline_disposition = 0;
    r->etag[0] = '\0';
    free(r->kept_gz);
    r->kept_gz = NULL;
}

#define HANDLER_RETRIES 3 /* further attempts after a serialization failure or deadlock */

/* Runs the route's handler. A handler that failed (5xx) changes nothing: its open
 * transaction is rolled back. When it failed because its transaction met a
 * serialization failure or deadlock (PostgreSQL with writers on several servers,
 * SQLite busy), nothing it did was committed and the request carries no uploaded
 * files (the first attempt handed them to the store), the whole handler runs again,
 * up to HANDLER_RETRIES times, after a jittered, growing pause (5-10 ms, 10-20, 20-40:
 * the colliding transactions finish meanwhile and do not meet again in step). Still
 * conflicting after that: 503 with Retry-After. */
static int run_handler(req_t *r)
{
    int status = 500;
    for (int attempt = 0;; attempt++) {
        uint64_t commits = r->db ? db_commit_count(r->db) : 0;
        if (r->db)
            db_retry_clear(r->db);
        status = r->route->handler(r);
        if (status < 500 || !r->db)
            break;
        int conflict = db_retryable(r->db);
        db_rollback(r->db); /* a handler that failed mid-transaction changes nothing */
        if (!conflict || db_commit_count(r->db) != commits || json_array_size(r->uploads) > 0)
            break;
        if (attempt == HANDLER_RETRIES) {
            ev_log("%s %s: still meeting concurrent changes after %d attempts", r->method, r->path, attempt + 1);
            reset_response(r);
            r->extra_header_name = xstrdup("Retry-After");
            r->extra_header_value = xstrdup("1");
            status = http_fail(r, 503, "busy", "Other changes were being saved at the same moment, so this one "
                                               "was not saved. Please try again.");
            break;
        }
        unsigned base_us = 5000u << attempt;
        usleep(base_us + randombytes_uniform(base_us));
        reset_response(r);
    }
    return status;
}

/* Last call: finish decoding, check CSRF, run the handler, respond. */
static enum MHD_Result finish_request(req_state_t *st)
{
    req_t *r = &st->r;
    if (st->pp) {
        if (!st->err_status) {
            flush_field(st);
            finish_writer(st);
        }
        if (MHD_destroy_post_processor(st->pp) != MHD_YES)
            set_error(st, 400, "incomplete_body", "The form data ended early or is malformed.");
        st->pp = NULL;
        /* A non-empty multipart body in which the parser found no part at all
         * (a wrong boundary, no CRLFs, not multipart) is unreadable, not empty. */
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!st->form_parts && st->body_bytes > 0 && content_type_is(ct, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA))
            set_error(st, 400, "bad_form", "The form data could not be read (no parts matched its boundary).");
    }
    if (st->err_status)
        return respond_error(st, st->err_status, st->err_code, st->err_msg);
    if (st->body_kind == BODY_JSON && st->body.len) {
        json_error_t jerr;
        json_t *body = json_loadb(st->body.data, st->body.len, 0, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            char msg[200];
            snprintf(msg, sizeof msg, "The JSON body is not a valid object (line %d, column %d).", jerr.line,
                     jerr.column);
            return respond_error(st, 400, "bad_json", msg);
        }
        json_object_update(r->in, body);
        json_decref(body);
    }
    /* Every field of the body must be one the route declares (fields.c); checked
     * before query arguments join in, answered after the CSRF check. */
    char unknown[64];
    int is_read = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int fields_ok = is_read || fields_check(r->route, r->in, r->uploads, unknown, sizeof unknown);
    /* Query arguments fill in what the body did not give, except the CSRF
     * token: it is taken only from the X-CSRF-Token header or a body field, as
     * URLs end up in histories, logs and Referer headers. */
    json_t *args = json_object();
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, args);
    json_object_del(args, "csrf_token");
    json_object_update_missing(r->in, args);
    json_decref(args);

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 && r->by_cookie &&
        !(r->route->flags & ROUTE_NO_CSRF) && !session_csrf_ok(r))
        return respond_error(st, 403, "csrf_failed",
                             "This form has expired or was not sent from evitrack. Go back, reload the page and try again.");
    if (!fields_ok) {
        char msg[200];
        snprintf(msg, sizeof msg, "Unknown field \"%.60s\": this request does not accept it (see docs/api.md).",
                 unknown);
        return respond_error(st, 400, "unknown_field", msg);
    }
    /* An EQA reaches only the learners of an open visit of theirs: one check for every
     * route, answering an object outside it exactly as one that does not exist. */
    if (r->user.role == ROLE_EQA) {
        int refused = policy_eqa_check(r);
        if (refused == 404) {
            r->tmpl = "error"; /* the same page whatever the route */
            return respond_error(st, 404, "not_found", eqa_not_found_message(r));
        }
        if (refused)
            return respond_error(st, refused, refused == 503 ? "busy" : "forbidden",
                                 refused == 503 ? "The database is busy; try again." : "Your role cannot do this.");
    }
    /* A page form posted twice (pages.c one-time tokens) runs its handler once;
     * the repeat goes where the first went. */
    const char *form_token = !r->is_api && !strcmp(r->method, "POST") && r->user.id ? in_str(r, "form_token") : NULL;
    char *form_token_copy = NULL;
    if (form_token) {
        char *seen_at = NULL;
        int claim = pages_form_claim(r->db, r->user.id, form_token, r->path, &seen_at);
        if (claim < 0) {
            if (seen_at)
                http_redirect(r, "%s", seen_at);
            else
                http_fail(r, 409, "already_sent", "This form has already been sent and is still being saved. "
                                                  "Wait a moment, then open the page again.");
            int seen_status = seen_at ? 303 : 409;
            free(seen_at);
            return respond(st, seen_status);
        }
        if (claim > 0)
            form_token_copy = xstrdup(form_token);
    }
    int status = run_handler(r);
    if (form_token_copy) {
        pages_form_finish(r->db, r->user.id, form_token_copy, r->path, status < 400, r->redirect);
        free(form_token_copy);
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        session_cache_invalidate(); /* it may have ended a session or changed a user */
        if (r->db)
            audit_head_write(r->db, 0); /* every N events: the chain head to the head log */
    }
    return respond(st, status);
}

/* Limits on the request head, answered at once rather than by a timeout
 * (RFC 9110 15.5.15 414 URI Too Long; RFC 6585 5 431 Request Header Fields Too Large). */
#define MAX_URI_BYTES 8192
#define MAX_QUERY_ARGS 200
#define MAX_HEADERS 100
#define MAX_HEAD_BYTES (32 * 1024)

/* MHD_OPTION_URI_LOG_CALLBACK: called with the raw request target before
 * libmicrohttpd splits its query into arguments; what it returns becomes the
 * request's *con_cls. An over-long target or one with too many arguments is
 * marked for a 414 and its query emptied in place, so that libmicrohttpd does
 * not spend its connection memory on arguments (with a few hundred it stalled
 * until the idle timeout). */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    req_state_t *st = xcalloc(1, sizeof *st);
    st->started_us = util_now_us();
    char *q = strchr(uri, '?');
    size_t args = 0;
    if (q)
        for (const char *p = q; *p; p++)
            args += *p == '&' || *p == ';' || p == q;
    if (strlen(uri) > MAX_URI_BYTES || args > MAX_QUERY_ARGS) {
        st->uri_error = 1;
        if (q)
            q[1] = '\0'; /* the buffer is libmicrohttpd's read buffer, writable */
    }
    return st;
}

static enum MHD_Result count_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)key;
    (void)value;
    (*(size_t *)cls)++;
    return MHD_YES;
}

/* Problems of the request head itself, answered before routing: 0 or a status. */
static int head_problem(req_state_t *st, struct MHD_Connection *conn)
{
    size_t headers = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_value, &headers);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const union MHD_ConnectionInfo *hs = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (st->uri_error)
        set_error(st, 414, "uri_too_long", "The web address is too long, or has too many parts after the ?.");
    else if (headers > MAX_HEADERS || (hs && hs->header_size > MAX_HEAD_BYTES))
        set_error(st, 431, "too_many_headers", "The request has too many header fields.");
    else if (te)
        /* A chunked body's chunk lines (and their extensions) are parsed by
         * libmicrohttpd in its connection memory and an over-long one ends in
         * its own 500; bodies must say their length (RFC 9110 15.5.12). */
        set_error(st, 411, "length_required", "Send the request body with a Content-Length header.");
    return st->err_status;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    (void)version;
    req_state_t *st = *con_cls;
    if (!st || !st->inited) {
        if (!st)
            st = xcalloc(1, sizeof *st);
        if (!st->started_us)
            st->started_us = util_now_us();
        st->inited = 1;
        st->r.conn = conn;
        st->r.app = cls;
        st->r.method = method;
        st->r.path = url;
        st->r.in = json_object();
        *con_cls = st;
        atomic_fetch_add(&requests_in_flight, 1);
        head_wait(conn, 0);
        if (head_problem(st, conn)) {
            st->r.is_api = strncmp(url, "/api/v1/", 8) == 0 || strcmp(url, "/healthz") == 0;
            return respond_error(st, st->err_status, st->err_code, st->err_msg);
        }
        begin_request(st, url);
        /* An error known before the body arrives is answered at once, so a
         * refused upload is not read; otherwise wait for the next call (the
         * keep-alive trap of 0.9.75, STYLE.md). */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (st->err_status && cl && strcmp(cl, "0") != 0)
            return respond_error(st, st->err_status, st->err_code, st->err_msg);
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->status)
        return MHD_YES; /* already answered */
    if (st->is_static)
        return serve_static(st);
    return finish_request(st);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    const app_t *app = cls;
    req_state_t *st = *con_cls;
    head_wait(conn, 1); /* a kept-alive connection now waits for its next head */
    if (!st)
        return;
    if (!st->inited) { /* libmicrohttpd answered the head itself */
        free(st);
        *con_cls = NULL;
        return;
    }
    if (!app->quiet) {
        char line[600];
        int n = snprintf(line, sizeof line, "%s %.400s %d %lluB %lluus%s\n", st->r.method, st->r.path,
                         st->status, (unsigned long long)st->resp_bytes,
                         (unsigned long long)(util_now_us() - st->started_us),
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
        if (n > 0)
            log_request_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    if (st->pp)
        MHD_destroy_post_processor(st->pp);
    storage_abort(st->writer);
    json_decref(st->writer_meta);
    /* Temporary files a handler did not promote into the store are removed. */
    size_t i;
    json_t *u;
    json_array_foreach(st->r.uploads, i, u) {
        const char *tmp = json_string_value(json_object_get(u, "tmp_path"));
        if (tmp)
            unlink(tmp);
    }
    if (st->r.db)
        db_rollback(st->r.db);
    json_decref(st->r.in);
    json_decref(st->r.uploads);
    json_decref(st->r.out);
    free(st->r.redirect);
    free(st->r.set_cookie);
    free(st->r.extra_header_name);
    free(st->r.extra_header_value);
    free(st->r.file_path);
    free(st->r.raw_body);
    free(st->r.kept_gz);
    stream_free(st->r.stream);
    free(st->r.content_type);
    free(st->r.download_name);
    free(st->field_key);
    buf_free(&st->field_val);
    buf_free(&st->body);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&requests_in_flight, 1);
}

/* Decodes %XX in place, except %00, which stays literal so that no path or
 * argument can be cut short by a NUL (and static paths refuse '%'). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '%' && p[1] && p[2] && strchr("0123456789abcdefABCDEF", p[1]) &&
            strchr("0123456789abcdefABCDEF", p[2]) && !(p[1] == '0' && p[2] == '0')) {
            char hex[3] = {p[1], p[2], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    buf_t b = {0};
    buf_vprintf(&b, fmt, ap);
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    ev_log("http: %s", b.data ? b.data : "");
    buf_free(&b);
}

int http_serve(app_t *app)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    /* Block the stop signals in every thread (MHD's inherit this mask) and
     * wait for them here, in the main thread. */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    socklen_t addrlen;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME; /* streamed responses (stream.c) */
    if (strchr(app->listen_addr, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)app->port);
        if (inet_pton(AF_INET6, app->listen_addr, &a6->sin6_addr) != 1) {
            fprintf(stderr, "evitrack: bad --listen address %s\n", app->listen_addr);
            return EV_ERR;
        }
        addrlen = sizeof *a6;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)app->port);
        if (inet_pton(AF_INET, app->listen_addr, &a4->sin_addr) != 1) {
            fprintf(stderr, "evitrack: bad --listen address %s\n", app->listen_addr);
            return EV_ERR;
        }
        addrlen = sizeof *a4;
    }
    (void)addrlen;
    if (app->tls_cert_pem && app->tls_key_pem)
        flags |= MHD_USE_TLS;

    struct MHD_OptionItem opts[20];
    int n = 0;
    /* the logger first, so libmicrohttpd's own start-up messages go through it */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log_mhd, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)app->threads, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)app->timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)app->connection_limit, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)app->per_ip_limit, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_seen, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)app->connection_memory_kb * 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)request_completed, app};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    if (flags & MHD_USE_TLS) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, app->tls_cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, app->tls_key_pem};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    head_timeout_us = (uint64_t)app->header_timeout_s * 1000000u;

    housekeeping_start(app); /* sweeps data/tmp now; collects stored files on a schedule */
    unsigned char run[8];
    randombytes_buf(run, sizeof run);
    util_hex(run, sizeof run, etag_run);
    int gz_files = compress_static_init(app->static_dir);
    ev_log("static: %d file%s precompressed (gzip)", gz_files, gz_files == 1 ? "" : "s");
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)app->port, NULL, NULL, access_handler, app,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "evitrack: cannot listen on %s:%d (in use, or a bad address?)\n", app->listen_addr,
                app->port);
        compress_static_free();
    kept_free();
        housekeeping_stop();
        return EV_ERR;
    }
    pthread_t flusher, reaper;
    atomic_store(&head_reaper_running, 1);
    if (pthread_create(&reaper, NULL, head_reaper, NULL) != 0)
        atomic_store(&head_reaper_running, 0);
    atomic_store(&log_flusher_running, 1);
    if (pthread_create(&flusher, NULL, log_flusher, NULL) != 0)
        atomic_store(&log_flusher_running, 0); /* lines are then written one by one */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : app->port;
    if (!app->base_url_given) { /* links in emails: the address actually bound */
        char *base = fmtalloc("%s://%s%s%s:%d", (flags & MHD_USE_TLS) ? "https" : "http",
                              strchr(app->listen_addr, ':') ? "[" : "", app->listen_addr,
                              strchr(app->listen_addr, ':') ? "]" : "", port);
        notify_configure(base, NULL);
        free(base);
    }
    if (app->mailer && mailer_start(app->mailer) != EV_OK) {
        MHD_stop_daemon(d);
        return EV_ERR;
    }
    if (app->store) { /* the store in use, and whether it answers: said now, not at the first upload */
        char why[300];
        if (storage_check(app->store, why, sizeof why) == EV_OK)
            ev_log("store: %s (%s), answering", app->store->desc, storage_kind(app->store));
        else
            ev_log("store: %s (%s) is NOT usable: %s. Uploads and downloads fail (503) until it is.",
                   app->store->desc, storage_kind(app->store), why);
    }
    printf("evitrack listening on %s://%s%s%s:%d\n", (flags & MHD_USE_TLS) ? "https" : "http",
           strchr(app->listen_addr, ':') ? "[" : "", app->listen_addr, strchr(app->listen_addr, ':') ? "]" : "",
           port);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    stopping = 1;
    ev_log("signal %d: finishing requests in flight, then stopping", sig);
    /* Stop accepting, let requests in flight finish (up to 10 s), then stop. */
    MHD_quiesce_daemon(d);
    for (int waited = 0; atomic_load(&requests_in_flight) > 0 && waited < 1000; waited++)
        usleep(10000);
    /* Downloads still being produced are cut off (their connections resumed:
     * libmicrohttpd must not stop with a suspended one), then given a moment. */
    int left = stream_shutdown(5000);
    if (left)
        ev_log("%d streamed download%s did not stop in time", left, left == 1 ? "" : "s");
    for (int waited = 0; atomic_load(&requests_in_flight) > 0 && waited < 200; waited++)
        usleep(10000);
    if (atomic_exchange(&head_reaper_running, 0))
        pthread_join(reaper, NULL);
    housekeeping_stop();
    MHD_stop_daemon(d);
    mailer_stop(); /* before the connections close: the sender has one */
    if (atomic_exchange(&log_flusher_running, 0))
        pthread_join(flusher, NULL);
    log_close_all();
    compress_static_free();
    kept_free();
    db_close_all_threads();
    ev_log("stopped");
    return EV_OK;
}
