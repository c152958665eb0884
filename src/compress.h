/* compress.h: gzip for text responses (libdeflate) and the precompressed static files */
#ifndef EVITRACK_COMPRESS_H
#define EVITRACK_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Responses shorter than this go out as they are: the gzip header and the
 * round trip's fixed costs eat the saving (about one TCP segment). */
#define COMPRESS_MIN_BYTES 1024
/* libdeflate's level for responses made per request: 1 costs about half the CPU
 * of 6 for output a few per cent larger (tests/bench/export.sh measures it);
 * static files, compressed once, get 12. */
#define COMPRESS_LEVEL 1

/* 1 when an Accept-Encoding header value (NULL: none) admits gzip: a "gzip"
 * or "*" coding whose q is not 0 (RFC 9110 12.5.3). */
int compress_accepts_gzip(const char *accept_encoding);

/* 1 for content types worth compressing: text/..., JSON, SVG, JavaScript. */
int compress_type_ok(const char *content_type);

/* gzip (RFC 1952) of data at libdeflate's level (1..12; COMPRESS_LEVEL for responses).
 * Returns a malloc'd buffer the caller frees, its length in *out_len; NULL when
 * the result would not be smaller or compression failed (send it plain).
 * Thread-safe: one compressor per thread, freed when the thread ends. */
char *compress_gzip(const void *data, size_t len, int level, size_t *out_len);

/* Compresses every compressible file of at least COMPRESS_MIN_BYTES below
 * static_dir once (level 12), keeping the results in memory for
 * compress_static_find(). Returns the number of files cached. Call before
 * serving; compress_static_free() after. */
int compress_static_init(const char *static_dir);

/* The gzip copy of static file rel (relative to static_dir) when it was cached
 * from a file of this size and mtime (so an edited file is never answered with
 * a stale copy); NULL otherwise. The buffer stays owned by the cache. */
const char *compress_static_find(const char *rel, uint64_t size, time_t mtime, size_t *len);

void compress_static_free(void);

#endif
