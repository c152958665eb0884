/* util.h: growing buffers, checked allocation, time and small string helpers */
#ifndef EVITRACK_UTIL_H
#define EVITRACK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#define EV_OK 0
#define EV_ERR (-1)

#define EV_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* A growing byte buffer. Zero-initialise it ({0}); buf_free() releases data.
 * data is always NUL-terminated once anything was appended. */
typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) EV_PRINTF(2, 3);
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
void buf_reserve(buf_t *b, size_t extra);

/* Appends n bytes of s. Inline: pages are built from thousands of small pieces
 * (the 120-criterion matrix appends about 5,000), so the common case is a copy. */
static inline void buf_append(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap)
        buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *buf_take(buf_t *b);
void buf_free(buf_t *b);

/* Allocation that aborts on out-of-memory: the server cannot do anything useful
 * without memory, and this keeps every caller free of NULL checks. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd formatted string; the caller frees it. */
char *fmtalloc(const char *fmt, ...) EV_PRINTF(1, 2);

/* Current UTC time as ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
/* t (seconds since the epoch) as ISO 8601 UTC, "2026-11-30T06:40:00Z". */
void util_iso_time(time_t t, char out[21]);
void util_now_iso(char out[21]);
/* The decimal text of v into out (NUL-terminated, at most 20 digits and a sign);
 * returns its length. For pages and JSON that write hundreds of numbers: no printf. */
int util_int_text(char out[24], int64_t v);
/* Microseconds from a monotonic clock. */
uint64_t util_now_us(void);
/* Seconds since the epoch (wall clock). */
int64_t util_now_s(void);

/* Parses a whole decimal integer (optional sign); EV_OK or EV_ERR. */
int util_parse_i64(const char *s, int64_t *out);
/* 1 if s is a valid calendar date YYYY-MM-DD. */
int util_valid_date(const char *s);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Reads a whole file into a new NUL-terminated buffer (caller frees);
 * NULL when it cannot be read. *len (if non-NULL) gets its size. */
char *util_read_file(const char *path, size_t *len);

/* Log a line to stderr with a timestamp. */
void ev_log(const char *fmt, ...) EV_PRINTF(1, 2);

#endif
