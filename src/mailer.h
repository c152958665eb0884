/* mailer.h: the sender thread: claims outbox rows, builds MIME messages, delivers them over SMTP with libcurl */
#ifndef EVITRACK_MAILER_H
#define EVITRACK_MAILER_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "util.h"

/* How the sender delivers (serve's --smtp-* options). Strings are borrowed
 * and must outlive the sender. */
typedef struct mailer_config {
    const char *url;        /* smtp://host:port (STARTTLS: required when credentials are set, else
                               used when offered) or smtps://host:port (TLS from the start) */
    const char *from;       /* "evitrack <noreply@centre.example>" or a bare address */
    const char *user;       /* AUTH credentials, or NULL (never from the command line) */
    const char *password;
    const char *ca_file;    /* extra CA bundle to trust (a private mail relay), or NULL */
    int retry_base_s;       /* first retry after this many seconds, doubling each time (default 30) */
    int max_attempts;       /* give up (status failed, shown to admins) after this many (default 8) */
    int digest_interval_s;  /* a digest goes out once its oldest item is this old (default 86400) */
    int lease_s;            /* a claimed row not finished after this long is claimed again (default 120) */
    int poll_ms;            /* idle wait between looks at the outbox (default 1000) */
} mailer_config_t;

/* Starts the sender thread with its own database connection (db_thread()).
 * cfg is copied (its strings are borrowed). EV_OK or EV_ERR. */
int mailer_start(const mailer_config_t *cfg);
/* Asks the sender to stop, waits for the message in flight, joins it and
 * closes its connection. Does nothing when it was never started. */
void mailer_stop(void);

/* One pass over the outbox with db: makes the digests that are due, then
 * claims and sends up to `max` due messages. Returns the number of messages
 * tried (sent or failed), or -1 when the database failed. For the thread and
 * for tests. */
int mailer_run_once(db_t *db, const mailer_config_t *cfg, const char *instance, int max);

/* Builds the whole RFC 5322 message for an outbox row (an object with id, kind,
 * to_addr, to_name, subject, body, link, created_at) into out: headers (Date,
 * From, To, Subject as RFC 2047 words when not ASCII, Message-ID stable per row,
 * List-Unsubscribe on digests), then multipart/alternative of text/plain and
 * text/html, each base64 in UTF-8. now: unix seconds for the Date header. */
void mailer_compose(json_t *row, const char *from, int64_t now, buf_t *out);

/* The bare address of "Name <addr>" or "addr" into out; EV_ERR if none. */
int mailer_bare_address(const char *from, char *out, size_t outlen);

/* Reads SMTP credentials: from file (first line the user name, second the
 * password) when file is non-NULL, else from EVITRACK_SMTP_USER and
 * EVITRACK_SMTP_PASSWORD. *user and *password are new strings or NULL (none
 * given); EV_ERR with a message in err when the file cannot be read. */
int mailer_read_credentials(const char *file, char **user, char **password, char *err, size_t errlen);

#endif
