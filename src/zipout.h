/* zipout.h: a streaming zip writer for exports: stored entries fed piece by piece, small ones deflated */
#ifndef EVITRACK_ZIPOUT_H
#define EVITRACK_ZIPOUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Writes a zip (PKWARE APPNOTE.TXT 6.3.10) front to back through a callback, never
 * seeking, so it can be sent while it is made: each entry is a local header, its
 * bytes and (for an entry fed piece by piece) a data descriptor; the central
 * directory and the end records follow at zip_finish. ZIP64 records are written for
 * an entry of 4 GiB or more and once offsets or the entry count outgrow the 32-bit
 * and 16-bit fields (APPNOTE 4.3.9, 4.4.1.4, 4.5.3), so a portfolio of any size opens.
 *
 * Why not libarchive's zip writer (which the project used first): it computes every
 * entry's CRC-32 with zlib's crc32(), and in an export every byte was also hashed with
 * SHA-256, read and sent, so that CRC was a fifth of the export's CPU (perf, a 1 GB
 * portfolio). libdeflate_crc32 (PCLMULQDQ/VPCLMULQDQ) does it 4-5 times as fast, and
 * libarchive has no way to take a CRC from outside. Bytes handed to zip_data reach
 * the callback as the same pointer (no copy), which the download ring relies on
 * (stream_reserve). Reading zips stays with libarchive.
 */
typedef struct zipout zipout_t;

/* Receives the next len bytes of the zip. EV_OK, or EV_ERR to stop (the writer then
 * fails every later call). */
typedef int (*zipout_fn)(void *ctx, const void *data, size_t len);

/* A new zip written through fn(ctx, ...); every entry is dated mtime (UTC seconds;
 * written as local DOS time and as an extended-timestamp field). Never NULL. */
zipout_t *zipout_new(zipout_fn fn, void *ctx, time_t mtime);

/* Adds a whole entry: name (a relative path with '/' separators), len bytes at data,
 * deflated (libdeflate) when deflate is 1 and that makes it smaller, stored otherwise.
 * EV_OK or EV_ERR (the callback refused, or an entry is still open). */
int zipout_add(zipout_t *z, const char *name, const void *data, size_t len, int deflate);

/* Starts a stored entry of exactly size bytes, to be fed with zipout_data and closed
 * with zipout_end. EV_OK or EV_ERR. */
int zipout_begin(zipout_t *z, const char *name, uint64_t size);
/* The entry's next bytes (CRC-32 taken, then handed to the callback unchanged).
 * EV_OK, or EV_ERR beyond the size given to zipout_begin or when the callback refuses. */
int zipout_data(zipout_t *z, const void *data, size_t len);
/* Says what the open entry's CRC-32 must come to (an export: the CRC recorded when the
 * file was uploaded, blobs.crc32). The piece that completes the entry is then checked
 * before it is handed to the callback; on a mismatch zipout_data refuses it (EV_ERR,
 * nothing of it written), zipout_crc_mismatch says so and the zip is failed, so a damaged
 * file never reaches the reader whole. For the open entry only; zipout_begin clears it. */
void zipout_expect_crc(zipout_t *z, uint32_t crc);
/* 1 when the last entry with an expected CRC-32 did not come to it. */
int zipout_crc_mismatch(const zipout_t *z);
/* The CRC-32 of the open entry so far, or of the last one ended. */
uint32_t zipout_crc(const zipout_t *z);
/* Ends the open entry with its data descriptor. EV_ERR when fewer bytes came than
 * zipout_begin announced (the zip is then unusable: stop). */
int zipout_end(zipout_t *z);

/* Writes the central directory and the end records. EV_OK or EV_ERR. */
int zipout_finish(zipout_t *z);
/* Bytes written so far. */
uint64_t zipout_offset(const zipout_t *z);
/* Frees z (finished or not). Accepts NULL. */
void zipout_free(zipout_t *z);

#endif
