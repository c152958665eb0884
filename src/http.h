/* http.h: the request a handler sees, what it may answer, and the server's settings */
#ifndef EVITRACK_HTTP_H
#define EVITRACK_HTTP_H

#include <jansson.h>
#include <stdint.h>
#include <stddef.h>

#include "db.h"
#include "util.h"

struct MHD_Connection;
struct tmpl_set;
struct route;
struct storage;

/* Roles, as bits so a route can name the set it admits. */
enum {
    ROLE_LEARNER = 1u << 0,
    ROLE_ASSESSOR = 1u << 1,
    ROLE_IQA = 1u << 2,
    ROLE_ADMIN = 1u << 3,
    ROLE_EQA = 1u << 4,
    ROLE_EMPLOYER = 1u << 5, /* an employer's contact: their own apprentices only (apprenticeships.c) */
};
#define ROLE_ANY (ROLE_LEARNER | ROLE_ASSESSOR | ROLE_IQA | ROLE_ADMIN | ROLE_EQA)
#define ROLE_STAFF (ROLE_ASSESSOR | ROLE_IQA | ROLE_ADMIN | ROLE_EQA)
/* Every signed-in account, employer contacts included (ROLE_ANY predates them and keeps
 * them out of portfolio routes: evidence, decisions, the timeline). */
#define ROLE_SIGNED_IN (ROLE_ANY | ROLE_EMPLOYER)

/* "learner" -> ROLE_LEARNER; 0 for an unknown name. */
unsigned role_from_name(const char *name);
const char *role_name(unsigned role);

/* Server-wide settings, fixed once serve starts (read-only while serving). */
typedef struct app {
    const char *db_path;
    const char *data_dir;       /* local: the upload spool (tmp/) and, by default, the store */
    struct storage *store;      /* where evidence files live (--store; owned by main) */
    const char *templates_dir;
    const char *static_dir;
    const char *listen_addr;
    int port;
    int threads;
    int dev;              /* reload templates when their files change */
    int secure_cookies;   /* Secure on cookies (TLS here or at a proxy) */
    int tls;              /* serving HTTPS directly */
    int64_t max_upload_bytes;  /* largest single file accepted */
    int64_t max_request_bytes; /* largest whole upload request */
    struct tmpl_set *templates;
    int quiet;            /* no per-request log lines */
    char *tls_cert_pem;   /* with tls_key_pem: serve HTTPS (owned by main) */
    char *tls_key_pem;
    int connection_limit; /* simultaneous connections (default 1024) */
    int timeout_s;        /* idle connection timeout (default 60) */
    int connection_memory_kb; /* libmicrohttpd per-connection pool (default 64) */
    int per_ip_limit;     /* simultaneous connections from one address (default 64) */
    int header_timeout_s; /* whole request head deadline, and keep-alive idle (default 10) */
    int max_exports;      /* exports streamed at once, all users (default 2) */
    int gc_interval_s;    /* collect unreferenced stored files this often (default 6 h; 0: never) */
    const struct mailer_config *mailer; /* the email sender's settings; NULL: messages wait in the outbox */
    int base_url_given;   /* --base-url was given (else links use the address served) */
} app_t;

/* The signed-in user of a request (id 0 when nobody is). */
typedef struct user {
    int64_t id;
    unsigned role;
    char email[256];
    char name[256];
    char csrf_token[65];
    char session_hash[65]; /* hex SHA-256 of the session token */
    int is_apprentice;     /* a learner on an apprenticeship (read with the session: the menu's hours link) */
} user_t;

/* One request, as the router hands it to a handler. Owned by http.c; a
 * handler reads `in`, `params`, `user`, `db` and sets the response fields. */
typedef struct req {
    struct MHD_Connection *conn;
    const app_t *app;
    const struct route *route;
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* decoded path, no query string */
    int is_api;          /* path under /api/v1/ */
    int64_t params[4];   /* {id} parts of the pattern, in order */
    int nparams;
    json_t *in;          /* query + body fields as one object (owned by http.c) */
    json_t *uploads;     /* multipart file parts: [{field, name, size, sha256, tmp_path}], or NULL */
    db_t *db;            /* this worker thread's connection */
    user_t user;
    int by_cookie;       /* authenticated by session cookie (so CSRF applies) */
    int64_t eqa_learner; /* an EQA's request: the learner its object belongs to (policy_eqa_check) */

    /* The response: a handler returns the HTTP status and sets out. */
    json_t *out;         /* owned by http.c once set; an object */
    const char *tmpl;    /* template for a page (defaults to the route's) */
    char *redirect;      /* pages: 303 here after a successful POST (owned) */
    char *set_cookie;    /* a Set-Cookie header value (owned) */
    char *extra_header_name, *extra_header_value; /* e.g. Retry-After (owned) */
    /* Raw body instead of JSON/HTML (downloads): either a file or a buffer. */
    char *file_path;     /* serve this file's bytes (owned) */
    char blob_sha[65];   /* or this blob's from the store ("" when none) */
    uint64_t blob_size;  /* its size (from storage_stat) */
    char *raw_body;      /* or these bytes (owned, malloc'd) */
    size_t raw_len;
    struct http_stream *stream; /* or a body made while it is sent (owned; stream.h) */
    char *content_type;  /* of the raw body or file (owned) */
    char *download_name; /* Content-Disposition filename (owned); NULL: none */
    int inline_disposition; /* 1: inline (previews), 0: attachment */
    int allow_microphone; /* this page records audio: Permissions-Policy microphone=(self) */
    char etag[40];        /* the response's validator (http_not_modified); "" when none */
    int64_t unread;       /* the header badge's count, once read (unread_known) */
    int unread_known;
    char *kept_gz;        /* http_not_modified found this answer kept, gzip'd (owned) */
    size_t kept_gz_len;
} req_t;

/* A handler validates r->in, does its work and returns the HTTP status,
 * leaving its result object in r->out. */
typedef int (*handler_fn)(req_t *r);

enum {
    ROUTE_UPLOAD = 1u << 0,  /* multipart file parts are streamed to storage */
    ROUTE_NO_CSRF = 1u << 1, /* a state change allowed without a CSRF token (login) */
    ROUTE_OPTIONAL_AUTH = 1u << 2, /* public, but the user is loaded if signed in */
    ROUTE_JSON = 1u << 3,    /* answered as JSON though not under /api/v1 (/healthz) */
};

/* One route: method + pattern ("/api/v1/evidence/{id}"; {name} parts match
 * positive integers), who may call it (roles bitmask; 0 = anyone), and for
 * pages the template that renders the handler's output. */
typedef struct route {
    const char *method;
    const char *pattern;
    handler_fn handler;
    unsigned roles;
    const char *tmpl;
    unsigned flags;
} route_t;

/* ---- helpers for handlers ---- */

/* Sets r->out's "error" to {code, message} and returns status, so a handler
 * can write `return http_fail(r, 404, "not_found", "No evidence %lld", id);`.
 * Keeps whatever else r->out holds (a page may re-render its form). */
int http_fail(req_t *r, int status, const char *code, const char *fmt, ...) EV_PRINTF(4, 5);
/* Adds {field, message} to r->out's "errors" list (for a form's error summary). */
void http_field_error(req_t *r, const char *field, const char *message);
/* Number of field errors recorded so far. */
size_t http_field_error_count(const req_t *r);
/* Pages: answer 303 See Other to this location (ignored for the API). */
void http_redirect(req_t *r, const char *fmt, ...) EV_PRINTF(2, 3);
/* r->out, created as an empty object when unset. */
json_t *http_out(req_t *r);
/* Sets r->out, taking the reference. */
void http_set_out(req_t *r, json_t *out);
/* Value of a request header, or NULL. */
const char *http_header(req_t *r, const char *name);
/* Value of a cookie, or NULL. */
const char *http_cookie(req_t *r, const char *name);
/* Client address as text into out. */
void http_client_addr(req_t *r, char *out, size_t outlen);

/* Typed reads of r->in (JSON values or form strings alike). */
const char *in_str(req_t *r, const char *key);          /* NULL when absent or not a string */
int in_int(req_t *r, const char *key, int64_t *out);    /* EV_OK when present and an integer */
int in_bool(req_t *r, const char *key);                 /* true/"1"/"on"/"yes"/"true" */
json_t *in_array(req_t *r, const char *key);            /* new ref: array (a lone value is wrapped) */

/* Serve a file (download or preview) instead of JSON/HTML. */
void http_send_file(req_t *r, const char *path, const char *content_type,
                    const char *download_name, int inline_disposition);
/* Serve a blob from the store (streamed, byte ranges honoured, a whole read
 * verified against its SHA-256) instead of JSON/HTML. size from storage_stat. */
void http_send_blob(req_t *r, const char *sha256_hex, uint64_t size, const char *content_type,
                    const char *download_name, int inline_disposition);
/* Serve a malloc'd buffer (taken) instead of JSON/HTML. */
void http_send_buffer(req_t *r, char *data, size_t len, const char *content_type,
                      const char *download_name);

/* Serve a body produced while it is sent (stream.h), taking the stream: the
 * handler returns 200 at once and the producer runs on its own thread. */
void http_send_stream(req_t *r, struct http_stream *stream, const char *content_type,
                      const char *download_name);

/* Conditional GET (RFC 9110 8.8.3 ETag, 13.1.2 If-None-Match, 15.4.5 304). A
 * read handler that can name the version of the data its answer shows calls
 * this before building the answer. version: a string that changes whenever
 * anything the page or JSON shows about its subject changes (e.g. the learner's
 * data version, the spec version and today's date). The ETag is a hash of it
 * with everything else the body depends on: the viewer (id, role, name, email,
 * CSRF token and, for pages, the unread-notifications badge), the path and query
 * arguments, page or JSON, the content coding (gzip or not) and this server
 * run (so new templates or a new build never meet an old tag). It is set on
 * the response (r->etag, sent with Cache-Control: private, no-cache instead
 * of no-store, so browsers keep the page and ask again). Returns 1 when the
 * request's If-None-Match names it: the handler returns 304 at once without
 * building anything. Returns 200 when this server still keeps the gzip'd body
 * it last sent under the same tag to a client that takes gzip (a few hundred
 * answers, least recently used first out): the handler returns 200 at once and
 * that body is sent (the tag guarantees it is what would be built). 0 otherwise:
 * build the answer (also for non-GET/HEAD requests and in --dev, where
 * templates change under a running server: no tag is set). Only for answers
 * that are the same for the same data: not for pages carrying a one-time
 * form_token (pages.c), which a kept copy would hand out twice. */
int http_not_modified(req_t *r, const char *version);

/* Pagination for lists that grow: reads ?page= (1..) and ?per_page= (1..200,
 * default dflt) and gives LIMIT/OFFSET values. */
void http_page(req_t *r, int64_t dflt, int64_t *limit, int64_t *offset);
/* Adds "pagination": {page, per_page, total, pages, prev, next (URLs or null)}
 * to obj for a list of total items. */
void http_paginate(req_t *r, json_t *obj, int64_t total);

/* 1 when rel (the part of a path after /static/) names a plain file below
 * static/: no empty, dot-leading or '..' segments, only [A-Za-z0-9._-/]. */
int http_static_path_ok(const char *rel);

/* Runs the server until SIGINT/SIGTERM. EV_OK on a clean stop. */
int http_serve(app_t *app);

#endif
