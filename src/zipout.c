/* zipout.c: a streaming zip writer for exports: stored entries fed piece by piece, small ones deflated */
#include "zipout.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_DESCRIPTOR 0x08074b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define SIG_END 0x06054b50u
#define FLAG_DESCRIPTOR 0x0008u /* crc and sizes follow the data (APPNOTE 4.4.4 bit 3) */
#define FLAG_UTF8 0x0800u       /* the name is UTF-8 (bit 11) */
#define METHOD_STORE 0
#define METHOD_DEFLATE 8
#define MADE_BY_UNIX (3u << 8)
#define MAX32 0xffffffffu
#define MAX16 0xffffu
#define UNIX_FILE_0644 (0100644u << 16) /* external attributes: a regular file, rw-r--r-- */
#define DEFLATE_LEVEL 6

struct zipout {
    zipout_fn fn;
    void *ctx;
    int failed;
    uint16_t dos_time, dos_date;
    uint32_t mtime;
    uint64_t offset;  /* bytes written so far */
    buf_t central;    /* the central directory, one record per finished entry */
    uint64_t entries;
    struct libdeflate_compressor *deflater; /* made on first use */
    /* the entry being fed (zipout_begin .. zipout_end) */
    char *name;
    uint64_t size, got, local_offset;
    uint32_t crc;
    int expect_set;    /* zipout_expect_crc: the entry must come to this CRC-32 */
    uint32_t expect;
    int crc_mismatch;  /* it did not: its last piece was refused */
};

/* ---- little-endian fields ---- */

typedef struct rec {
    unsigned char b[128];
    size_t n;
} rec_t;

static void put16(rec_t *r, unsigned v)
{
    r->b[r->n++] = (unsigned char)(v & 0xff);
    r->b[r->n++] = (unsigned char)((v >> 8) & 0xff);
}

static void put32(rec_t *r, uint32_t v)
{
    put16(r, v & 0xffff);
    put16(r, (v >> 16) & 0xffff);
}

static void put64(rec_t *r, uint64_t v)
{
    put32(r, (uint32_t)(v & MAX32));
    put32(r, (uint32_t)(v >> 32));
}

/* Hands bytes to the callback; after one refusal every write fails. */
static int emit(zipout_t *z, const void *data, size_t len)
{
    if (z->failed)
        return EV_ERR;
    if (len && z->fn(z->ctx, data, len) != EV_OK) {
        z->failed = 1;
        return EV_ERR;
    }
    z->offset += len;
    return EV_OK;
}

zipout_t *zipout_new(zipout_fn fn, void *ctx, time_t mtime)
{
    zipout_t *z = xcalloc(1, sizeof *z);
    struct tm tm;
    z->fn = fn;
    z->ctx = ctx;
    z->mtime = (uint32_t)mtime;
    /* DOS times are local time (as Info-ZIP and libarchive write them); the
     * extended-timestamp field carries the UTC seconds. */
    if (!localtime_r(&mtime, &tm) || tm.tm_year < 80) {
        memset(&tm, 0, sizeof tm);
        tm.tm_year = 80;
        tm.tm_mday = 1;
    }
    z->dos_time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
    z->dos_date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
    return z;
}

static unsigned name_flags(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p >= 0x80)
            return FLAG_UTF8;
    return 0;
}

/* The extended-timestamp field (0x5455, modification time only), in both headers. */
static void put_ut(rec_t *r, uint32_t mtime)
{
    put16(r, 0x5455);
    put16(r, 5);
    r->b[r->n++] = 1;
    put32(r, mtime);
}

/* A local file header and the name. zip64: the sizes go in a ZIP64 field (both, as
 * APPNOTE 4.5.3 requires in a local header), the 32-bit ones set to 0xffffffff. */
static int write_local(zipout_t *z, const char *name, unsigned method, unsigned flags, uint32_t crc,
                       uint64_t csize, uint64_t usize, int zip64)
{
    rec_t r = {.n = 0};
    size_t name_len = strlen(name);
    put32(&r, SIG_LOCAL);
    put16(&r, zip64 ? 45 : method == METHOD_DEFLATE ? 20 : 10);
    put16(&r, flags);
    put16(&r, method);
    put16(&r, z->dos_time);
    put16(&r, z->dos_date);
    put32(&r, crc);
    put32(&r, zip64 ? MAX32 : (uint32_t)csize);
    put32(&r, zip64 ? MAX32 : (uint32_t)usize);
    put16(&r, (unsigned)name_len);
    put16(&r, 9 + (zip64 ? 20 : 0));
    size_t fixed = r.n;
    put_ut(&r, z->mtime);
    if (zip64) {
        put16(&r, 0x0001);
        put16(&r, 16);
        put64(&r, usize);
        put64(&r, csize);
    }
    /* header, name, then the extra fields (built after the fixed part above) */
    if (emit(z, r.b, fixed) != EV_OK || emit(z, name, name_len) != EV_OK || emit(z, r.b + fixed, r.n - fixed) != EV_OK)
        return EV_ERR;
    return EV_OK;
}

/* Adds the entry's central directory record (kept until zipout_finish). */
static void add_central(zipout_t *z, const char *name, unsigned method, unsigned flags, uint32_t crc, uint64_t csize,
                        uint64_t usize, uint64_t offset)
{
    rec_t r = {.n = 0}, x = {.n = 0};
    int big_u = usize >= MAX32, big_c = csize >= MAX32, big_o = offset >= MAX32;
    size_t name_len = strlen(name);
    if (big_u || big_c || big_o) {
        put16(&x, 0x0001);
        put16(&x, (unsigned)(8 * (big_u + big_c + big_o)));
        if (big_u)
            put64(&x, usize);
        if (big_c)
            put64(&x, csize);
        if (big_o)
            put64(&x, offset);
    }
    put_ut(&x, z->mtime);
    unsigned needed = (big_u || big_c || big_o) ? 45 : method == METHOD_DEFLATE ? 20 : 10;
    put32(&r, SIG_CENTRAL);
    put16(&r, MADE_BY_UNIX | 45);
    put16(&r, needed);
    put16(&r, flags);
    put16(&r, method);
    put16(&r, z->dos_time);
    put16(&r, z->dos_date);
    put32(&r, crc);
    put32(&r, big_c ? MAX32 : (uint32_t)csize);
    put32(&r, big_u ? MAX32 : (uint32_t)usize);
    put16(&r, (unsigned)name_len);
    put16(&r, (unsigned)x.n);
    put16(&r, 0); /* comment */
    put16(&r, 0); /* disk */
    put16(&r, 0); /* internal attributes */
    put32(&r, UNIX_FILE_0644);
    put32(&r, big_o ? MAX32 : (uint32_t)offset);
    buf_append(&z->central, (const char *)r.b, r.n);
    buf_append(&z->central, name, name_len);
    buf_append(&z->central, (const char *)x.b, x.n);
    z->entries++;
}

int zipout_add(zipout_t *z, const char *name, const void *data, size_t len, int deflate)
{
    int rc = EV_ERR;
    void *packed = NULL;
    const void *body = data;
    size_t body_len = len;
    unsigned method = METHOD_STORE;
    if (z->failed || z->name)
        goto out;
    uint32_t crc = len ? libdeflate_crc32(0, data, len) : 0;
    if (deflate && len > 0) {
        if (!z->deflater)
            z->deflater = libdeflate_alloc_compressor(DEFLATE_LEVEL);
        if (!z->deflater)
            abort(); /* out of memory, as xmalloc */
        size_t bound = libdeflate_deflate_compress_bound(z->deflater, len);
        packed = xmalloc(bound);
        size_t n = libdeflate_deflate_compress(z->deflater, data, len, packed, bound);
        if (n > 0 && n < len) {
            body = packed;
            body_len = n;
            method = METHOD_DEFLATE;
        }
    }
    uint64_t offset = z->offset;
    unsigned flags = name_flags(name);
    int zip64 = len >= MAX32 || body_len >= MAX32;
    if (write_local(z, name, method, flags, crc, body_len, len, zip64) != EV_OK || emit(z, body, body_len) != EV_OK)
        goto out;
    add_central(z, name, method, flags, crc, body_len, len, offset);
    rc = EV_OK;
out:
    free(packed);
    return rc;
}

int zipout_begin(zipout_t *z, const char *name, uint64_t size)
{
    if (z->failed || z->name)
        return EV_ERR;
    z->name = xstrdup(name);
    z->size = size;
    z->got = 0;
    z->crc = 0;
    z->expect_set = 0;
    z->crc_mismatch = 0;
    z->local_offset = z->offset;
    return write_local(z, name, METHOD_STORE, FLAG_DESCRIPTOR | name_flags(name), 0, 0, 0, size >= MAX32);
}

void zipout_expect_crc(zipout_t *z, uint32_t crc)
{
    z->expect_set = 1;
    z->expect = crc;
}

int zipout_data(zipout_t *z, const void *data, size_t len)
{
    if (z->failed || !z->name || len > z->size - z->got)
        return EV_ERR;
    z->crc = libdeflate_crc32(z->crc, data, len);
    z->got += len;
    /* The piece that completes an entry with an expected CRC goes out only when the
     * whole entry comes to it: a damaged file is never sent whole. */
    if (z->expect_set && z->got == z->size && z->crc != z->expect) {
        z->crc_mismatch = 1;
        z->failed = 1;
        return EV_ERR;
    }
    return emit(z, data, len);
}

int zipout_crc_mismatch(const zipout_t *z)
{
    return z->crc_mismatch;
}

uint32_t zipout_crc(const zipout_t *z)
{
    return z->crc;
}

int zipout_end(zipout_t *z)
{
    int rc = EV_ERR;
    rec_t r = {.n = 0};
    if (!z->name)
        return EV_ERR;
    if (z->failed || z->got != z->size) {
        z->failed = 1;
        goto out;
    }
    /* The descriptor's sizes are 8 bytes when the local header had a ZIP64 field
     * (APPNOTE 4.3.9.2), as it has for an entry of 4 GiB or more. */
    put32(&r, SIG_DESCRIPTOR);
    put32(&r, z->crc);
    if (z->size >= MAX32) {
        put64(&r, z->size);
        put64(&r, z->size);
    } else {
        put32(&r, (uint32_t)z->size);
        put32(&r, (uint32_t)z->size);
    }
    if (emit(z, r.b, r.n) != EV_OK)
        goto out;
    add_central(z, z->name, METHOD_STORE, FLAG_DESCRIPTOR | name_flags(z->name), z->crc, z->size, z->size,
                z->local_offset);
    rc = EV_OK;
out:
    free(z->name);
    z->name = NULL;
    return rc;
}

int zipout_finish(zipout_t *z)
{
    rec_t r = {.n = 0};
    if (z->failed || z->name)
        return EV_ERR;
    uint64_t cd_offset = z->offset, cd_size = z->central.len;
    if (emit(z, z->central.data, z->central.len) != EV_OK)
        return EV_ERR;
    int zip64 = z->entries >= MAX16 || cd_offset >= MAX32 || cd_size >= MAX32;
    if (zip64) {
        uint64_t end64 = z->offset;
        put32(&r, SIG_END64);
        put64(&r, 44); /* the record's size after this field */
        put16(&r, MADE_BY_UNIX | 45);
        put16(&r, 45);
        put32(&r, 0); /* this disk */
        put32(&r, 0); /* the disk with the central directory */
        put64(&r, z->entries);
        put64(&r, z->entries);
        put64(&r, cd_size);
        put64(&r, cd_offset);
        put32(&r, SIG_LOCATOR64);
        put32(&r, 0);
        put64(&r, end64);
        put32(&r, 1); /* disks in all */
    }
    put32(&r, SIG_END);
    put16(&r, 0);
    put16(&r, 0);
    /* a field too small holds all ones, and the ZIP64 record the value (4.4.1.4) */
    put16(&r, z->entries >= MAX16 ? MAX16 : (unsigned)z->entries);
    put16(&r, z->entries >= MAX16 ? MAX16 : (unsigned)z->entries);
    put32(&r, cd_size >= MAX32 ? MAX32 : (uint32_t)cd_size);
    put32(&r, cd_offset >= MAX32 ? MAX32 : (uint32_t)cd_offset);
    put16(&r, 0); /* comment */
    return emit(z, r.b, r.n);
}

uint64_t zipout_offset(const zipout_t *z)
{
    return z->offset;
}

void zipout_free(zipout_t *z)
{
    if (!z)
        return;
    buf_free(&z->central);
    free(z->name);
    if (z->deflater)
        libdeflate_free_compressor(z->deflater);
    free(z);
}
