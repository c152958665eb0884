/* storage.c: the evidence store seam: opening a store, the upload spool, verified reads, copying */
#define _GNU_SOURCE /* sync_file_range */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define HEAD_BYTES 8192
#define WRITEBACK_STEP (8u << 20)
#define READ_CHUNK (1u << 18) /* storage_get hands on pieces up to 256 KiB */
#define MAX_RESUMES 2
#define SHA256_BYTES 32

/* SHA-256 of blobs is OpenSSL's (libcrypto): its SHA-NI code hashes about 1.3x as
 * fast as nettle's on this project's servers (1.65-1.8 GB/s vs 1.2-1.5 GB/s on an
 * EPYC with sha_ni), and every byte downloaded or exported is hashed once. A new
 * context, ready for updates; aborts when libcrypto cannot give one (out of memory). */
static EVP_MD_CTX *sha256_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
        abort();
    return c;
}

/* The digest of everything fed to c, as 64 lower-case hex digits; c can not be fed again. */
static void sha256_final_hex(EVP_MD_CTX *c, char hex[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(c, digest, &n) != 1 || n != SHA256_BYTES)
        abort();
    util_hex(digest, SHA256_BYTES, hex);
}

int storage_sha256_range(int fd, uint64_t off, uint64_t len, char hex[65])
{
    EVP_MD_CTX *c = sha256_new();
    unsigned char *chunk = xmalloc(READ_CHUNK);
    int rc = EV_OK;
    while (len) {
        size_t want = len < READ_CHUNK ? (size_t)len : READ_CHUNK;
        ssize_t n = pread(fd, chunk, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || EVP_DigestUpdate(c, chunk, (size_t)n) != 1) {
            rc = EV_ERR;
            break;
        }
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    free(chunk);
    sha256_final_hex(c, hex);
    EVP_MD_CTX_free(c);
    return rc;
}

void storage_sha256_hex(const void *data, size_t len, char hex[65])
{
    EVP_MD_CTX *c = sha256_new();
    if (EVP_DigestUpdate(c, data, len) != 1)
        abort();
    sha256_final_hex(c, hex);
    EVP_MD_CTX_free(c);
}

struct blob_writer {
    int fd;
    char *tmp_path;
    EVP_MD_CTX *sha;       /* owned; uses the CPU's SHA extensions where present */
    uint32_t crc;          /* CRC-32 of the bytes so far (recorded with the blob: the export's check) */
    uint64_t written;
    uint64_t flushed; /* bytes whose write-back has been started (sync_file_range) */
    int durable;      /* fsync on finish: the spool file becomes the stored blob (fs) */
    unsigned char head[HEAD_BYTES];
    size_t head_len;
};

/* mkdir -p for one or two levels below data_dir; EV_OK when the directory exists. */
static int ensure_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return EV_OK;
    ev_log("storage: cannot create %s: %s", path, strerror(errno));
    return EV_ERR;
}

/* Opens a new spool file in tmpdir (made, with its parent, when missing). */
static blob_writer_t *storage_begin_dir(const char *tmpdir)
{
    blob_writer_t *w = NULL;
    char *parent = xstrdup(tmpdir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    if ((slash && ensure_dir(parent) != EV_OK) || ensure_dir(tmpdir) != EV_OK)
        goto out;
    unsigned char rnd[16];
    char hex[33];
    randombytes_buf(rnd, sizeof rnd);
    util_hex(rnd, sizeof rnd, hex);
    w = xcalloc(1, sizeof *w);
    w->tmp_path = fmtalloc("%s/upload-%s", tmpdir, hex);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (w->fd < 0) {
        ev_log("storage: cannot create %s: %s", w->tmp_path, strerror(errno));
        free(w->tmp_path);
        free(w);
        w = NULL;
        goto out;
    }
    w->sha = sha256_new();
    w->durable = 1;
out:
    free(parent);
    return w;
}

blob_writer_t *storage_begin(const char *data_dir)
{
    char *tmpdir = fmtalloc("%s/tmp", data_dir);
    blob_writer_t *w = storage_begin_dir(tmpdir);
    free(tmpdir);
    return w;
}

blob_writer_t *storage_begin_spool(storage_t *s)
{
    blob_writer_t *w = storage_begin_dir(s->spool_dir);
    /* A remote store keeps the durable copy (it answers only once it has): the spool
     * is a scratch file, so it is not forced to disk, which would cost a whole extra
     * disk write on the upload's way. The directory store links the spool file in. */
    if (w)
        w->durable = s->ops->local;
    return w;
}

int storage_write(blob_writer_t *w, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (w->head_len < HEAD_BYTES) {
        size_t n = len < HEAD_BYTES - w->head_len ? len : HEAD_BYTES - w->head_len;
        memcpy(w->head + w->head_len, p, n);
        w->head_len += n;
    }
    if (EVP_DigestUpdate(w->sha, p, len) != 1)
        return EV_ERR;
    w->crc = libdeflate_crc32(w->crc, p, len);
    while (len) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ev_log("storage: write failed: %s", strerror(errno));
            return EV_ERR;
        }
        p += n;
        len -= (size_t)n;
        w->written += (uint64_t)n;
    }
    /* Start the disk write-back of every full 8 MB as the upload goes, so the disk
     * works while the network delivers and the final fsync has little left to do
     * (without this the whole file waits in the page cache for the fsync). */
    if (w->durable && w->written - w->flushed >= WRITEBACK_STEP) {
        uint64_t upto = w->written - w->written % WRITEBACK_STEP;
        if (sync_file_range(w->fd, (off_t)w->flushed, (off_t)(upto - w->flushed), SYNC_FILE_RANGE_WRITE) == 0)
            w->flushed = upto;
    }
    return EV_OK;
}

uint64_t storage_written(const blob_writer_t *w)
{
    return w->written;
}

const unsigned char *storage_head(const blob_writer_t *w, size_t *len)
{
    *len = w->head_len;
    return w->head;
}

int storage_finish(blob_writer_t *w, char **tmp_path, char sha256_hex[65], uint64_t *size, uint32_t *crc32)
{
    int result = EV_ERR;
    sha256_final_hex(w->sha, sha256_hex);
    if (crc32)
        *crc32 = w->crc;
    if (w->durable && fsync(w->fd) != 0) {
        ev_log("storage: fsync failed: %s", strerror(errno));
        goto out;
    }
    if (close(w->fd) != 0) {
        w->fd = -1;
        goto out;
    }
    w->fd = -1;
    *tmp_path = w->tmp_path;
    w->tmp_path = NULL;
    *size = w->written;
    result = EV_OK;
out:
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path) {
        unlink(w->tmp_path);
        free(w->tmp_path);
    }
    EVP_MD_CTX_free(w->sha);
    free(w);
    return result;
}

void storage_abort(blob_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp_path);
    free(w->tmp_path);
    EVP_MD_CTX_free(w->sha);
    free(w);
}

int storage_valid_hash(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

const char *storage_strerror(int code)
{
    switch (code) {
    case EV_OK: return "ok";
    case STORAGE_NOT_FOUND: return "not in the store";
    case STORAGE_UNAVAILABLE: return "the store is not answering";
    case STORAGE_CORRUPT: return "the stored copy is damaged: its bytes do not match the hash recorded for them";
    default: return "store error";
    }
}

/* ---- opening ---- */

storage_t *storage_open(const char *spec, const char *creds_file, const char *data_dir, char *err, size_t errlen)
{
    storage_t *s = xcalloc(1, sizeof *s);
    int rc;
    s->spool_dir = fmtalloc("%s/tmp", data_dir);
    if (spec && strncmp(spec, "s3://", 5) == 0) {
        s->ops = &storage_s3_ops;
        rc = storage_s3_init(s, spec, creds_file, err, errlen);
    } else {
        s->ops = &storage_fs_ops;
        rc = storage_fs_init(s, spec && *spec ? spec : data_dir, err, errlen);
    }
    if (rc != EV_OK) {
        storage_close(s);
        return NULL;
    }
    return s;
}

void storage_close(storage_t *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->close)
        s->ops->close(s);
    free(s->spool_dir);
    free(s->root);
    free(s->desc);
    free(s);
}

const char *storage_kind(const storage_t *s)
{
    return s->ops->name;
}

/* ---- writing ---- */

int storage_put_file(storage_t *s, const char *tmp_path, const char *sha, uint64_t size, int *created)
{
    int c = 0, rc;
    if (!storage_valid_hash(sha)) {
        unlink(tmp_path);
        return EV_ERR;
    }
    rc = s->ops->put(s, tmp_path, sha, size, &c);
    if (rc == EV_OK && !c) {
        /* Already stored: refresh its time so a gc running before the database
         * records the new reference cannot take it. */
        int t = s->ops->touch(s, sha);
        if (t != EV_OK) {
            ev_log("storage: refreshing %s: %s", sha, storage_strerror(t));
            rc = t == STORAGE_NOT_FOUND ? EV_ERR : t;
        }
    }
    if (rc != EV_OK)
        ev_log("storage: storing %s in %s failed: %s", sha, s->desc, storage_strerror(rc));
    unlink(tmp_path);
    if (created)
        *created = c;
    return rc;
}

int storage_replace_file(storage_t *s, const char *tmp_path, const char *sha, uint64_t size)
{
    if (!storage_valid_hash(sha)) {
        unlink(tmp_path);
        return EV_ERR;
    }
    /* put never overwrites, so the damaged copy goes first; between the two, a reader
     * finds it missing */
    int rc = s->ops->remove(s, sha);
    if (rc != EV_OK && rc != STORAGE_NOT_FOUND) {
        ev_log("storage: cannot remove the damaged copy of %s from %s: %s", sha, s->desc, storage_strerror(rc));
        unlink(tmp_path);
        return rc;
    }
    ev_log("storage: replacing the damaged copy of %s in %s with uploaded bytes that hash to it", sha, s->desc);
    return storage_put_file(s, tmp_path, sha, size, NULL);
}

int storage_put(storage_t *s, const void *data, size_t len, char sha256_hex[65])
{
    blob_writer_t *w = storage_begin_spool(s);
    char *tmp = NULL;
    uint64_t size;
    if (!w)
        return EV_ERR;
    if (storage_write(w, data, len) != EV_OK) {
        storage_abort(w);
        return EV_ERR;
    }
    if (storage_finish(w, &tmp, sha256_hex, &size, NULL) != EV_OK)
        return EV_ERR;
    int rc = storage_put_file(s, tmp, sha256_hex, size, NULL);
    free(tmp);
    return rc;
}

/* ---- reading ---- */

struct storage_reader {
    storage_t *s;
    void *rd;
    int verify;          /* the whole blob is read: check its hash at the end */
    uint64_t pos;        /* offset of the next byte in the blob */
    uint64_t remaining;  /* bytes still to come */
    int resumes;         /* times the read was reopened after the store dropped it */
    EVP_MD_CTX *sha;     /* owned */
    char expect[65];
};

/* Compares the hash of what was read with the blob's name. */
static int reader_check(storage_reader_t *r)
{
    char hex[65];
    sha256_final_hex(r->sha, hex);
    r->verify = 0;
    if (strcmp(hex, r->expect) != 0) {
        ev_log("storage: blob %s in %s reads back as %s: refusing it", r->expect, r->s->desc, hex);
        return STORAGE_CORRUPT;
    }
    return EV_OK;
}

/* storage_open_read, and storage_open_read_unhashed when hash is 0. */
static int open_reader(storage_t *s, const char *sha, uint64_t off, uint64_t len, uint64_t size, int hash,
                       storage_reader_t **out)
{
    *out = NULL;
    if (!storage_valid_hash(sha))
        return STORAGE_NOT_FOUND;
    if (off > size)
        return EV_ERR;
    if (len > size - off)
        len = size - off;
    storage_reader_t *r = xcalloc(1, sizeof *r);
    r->s = s;
    r->pos = off;
    r->remaining = len;
    r->verify = hash && off == 0 && len == size;
    snprintf(r->expect, sizeof r->expect, "%s", sha);
    r->sha = sha256_new();
    int rc = EV_OK;
    if (len > 0)
        rc = s->ops->open_read(s, sha, off, len, &r->rd);
    if (rc != EV_OK) {
        EVP_MD_CTX_free(r->sha);
        free(r);
        return rc;
    }
    *out = r;
    return EV_OK;
}

int storage_open_read(storage_t *s, const char *sha, uint64_t off, uint64_t len, uint64_t size,
                      storage_reader_t **out)
{
    return open_reader(s, sha, off, len, size, 1, out);
}

int storage_open_read_unhashed(storage_t *s, const char *sha, uint64_t size, storage_reader_t **out)
{
    return open_reader(s, sha, 0, size, size, 0, out);
}

uint32_t storage_crc32(uint32_t crc, const void *data, size_t len)
{
    return libdeflate_crc32(crc, data, len);
}

long storage_read(storage_reader_t *r, void *buf, size_t cap)
{
    if (r->remaining == 0)
        return r->verify ? (reader_check(r) == EV_OK ? 0 : STORAGE_CORRUPT) : 0;
    if (cap > r->remaining)
        cap = (size_t)r->remaining;
    long n = r->s->ops->read(r->rd, buf, cap);
    /* A long stream can be dropped by the store (an idle timeout while a slow client
     * held the transfer paused, a restarted gateway): carry on from where it stopped
     * with a new ranged read, a couple of times, before giving up. */
    while (n == STORAGE_UNAVAILABLE && r->resumes < MAX_RESUMES) {
        void *again = NULL;
        r->resumes++;
        if (r->s->ops->open_read(r->s, r->expect, r->pos, r->remaining, &again) != EV_OK)
            break;
        ev_log("storage: resumed reading %s at byte %llu", r->expect, (unsigned long long)r->pos);
        r->s->ops->close_read(r->rd);
        r->rd = again;
        n = r->s->ops->read(r->rd, buf, cap);
    }
    if (n == 0) {
        ev_log("storage: blob %s in %s ended early", r->expect, r->s->desc);
        return EV_ERR;
    }
    if (n < 0)
        return n;
    r->remaining -= (uint64_t)n;
    r->pos += (uint64_t)n;
    if (r->verify) {
        if (EVP_DigestUpdate(r->sha, buf, (size_t)n) != 1)
            return EV_ERR;
        /* The last piece is handed on only once the whole blob has checked out, so a
         * corrupt file never reaches a client complete. */
        if (r->remaining == 0 && reader_check(r) != EV_OK)
            return STORAGE_CORRUPT;
    }
    return n;
}

void storage_close_read(storage_reader_t *r)
{
    if (!r)
        return;
    if (r->rd)
        r->s->ops->close_read(r->rd);
    EVP_MD_CTX_free(r->sha);
    free(r);
}

int storage_get(storage_t *s, const char *sha, uint64_t off, uint64_t len, storage_sink_fn fn, void *ctx)
{
    storage_stat_t st;
    storage_reader_t *r = NULL;
    char *chunk = NULL;
    int rc = storage_stat(s, sha, &st);
    if (rc != EV_OK)
        goto out;
    rc = storage_open_read(s, sha, off, len, st.size, &r);
    if (rc != EV_OK)
        goto out;
    chunk = xmalloc(READ_CHUNK);
    for (;;) {
        long n = storage_read(r, chunk, READ_CHUNK);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        if (fn && fn(ctx, chunk, (size_t)n) != EV_OK) {
            rc = EV_ERR;
            break;
        }
    }
out:
    free(chunk);
    storage_close_read(r);
    return rc;
}

int storage_stat(storage_t *s, const char *sha, storage_stat_t *st)
{
    memset(st, 0, sizeof *st);
    if (!storage_valid_hash(sha))
        return STORAGE_NOT_FOUND;
    return s->ops->stat(s, sha, st);
}

int storage_check(storage_t *s, char *why, size_t whylen)
{
    if (whylen)
        why[0] = '\0';
    return s->ops->check ? s->ops->check(s, why, whylen) : EV_OK;
}

int storage_sweep_uploads(storage_t *s, int64_t cutoff, int dry_run, int64_t *count)
{
    *count = 0;
    return s->ops->sweep_uploads ? s->ops->sweep_uploads(s, cutoff, dry_run, count) : EV_OK;
}

int storage_touch(storage_t *s, const char *sha)
{
    return storage_valid_hash(sha) ? s->ops->touch(s, sha) : STORAGE_NOT_FOUND;
}

int storage_list(storage_t *s, storage_list_fn fn, void *ctx)
{
    return s->ops->list(s, fn, ctx);
}

int storage_remove(storage_t *s, const char *key)
{
    return s->ops->remove(s, key);
}

/* ---- copying between stores ---- */

typedef struct copy_job {
    storage_t *from, *to;
    int verbose;
    int64_t copied, present, failed;
} copy_job_t;

static int copy_sink(void *ctx, const void *data, size_t len)
{
    return storage_write(ctx, data, len);
}

/* Copies one blob: read from the source (verified) into the spool, check the
 * spool's own hash, then store it (the destination verifies it again). */
static int copy_one(void *ctx, const char *key, const char *sha, const storage_stat_t *st)
{
    copy_job_t *j = ctx;
    storage_stat_t dst;
    int rc;
    (void)st;
    if (!sha) {
        if (j->verbose)
            printf("skipped %s (not a blob name)\n", key);
        return EV_OK;
    }
    rc = storage_stat(j->to, sha, &dst);
    if (rc == EV_OK) {
        /* Already there: read it back whole, which checks its hash. */
        rc = storage_get(j->to, sha, 0, UINT64_MAX, NULL, NULL);
        if (rc == EV_OK) {
            j->present++;
            if (j->verbose)
                printf("present %s (verified)\n", sha);
            return EV_OK;
        }
        if (rc != STORAGE_CORRUPT)
            goto fail;
        /* A corrupt copy at the destination is replaced below only where the
         * backend allows (fs never overwrites): report it. */
        goto fail;
    }
    if (rc != STORAGE_NOT_FOUND)
        goto fail;
    blob_writer_t *w = storage_begin_spool(j->to);
    if (!w) {
        rc = EV_ERR;
        goto fail;
    }
    rc = storage_get(j->from, sha, 0, UINT64_MAX, copy_sink, w);
    if (rc != EV_OK) {
        storage_abort(w);
        goto fail;
    }
    char *tmp = NULL, got[65];
    uint64_t size;
    if (storage_finish(w, &tmp, got, &size, NULL) != EV_OK) {
        rc = EV_ERR;
        goto fail;
    }
    if (strcmp(got, sha) != 0) {
        unlink(tmp);
        free(tmp);
        rc = STORAGE_CORRUPT;
        goto fail;
    }
    rc = storage_put_file(j->to, tmp, sha, size, NULL);
    free(tmp);
    if (rc != EV_OK)
        goto fail;
    j->copied++;
    if (j->verbose)
        printf("copied %s (%llu bytes, verified)\n", sha, (unsigned long long)size);
    return EV_OK;
fail:
    j->failed++;
    fprintf(stderr, "evitrack: store copy: %s: %s\n", sha, storage_strerror(rc));
    /* A store that stopped answering ends the copy; a bad blob does not. */
    return rc == STORAGE_UNAVAILABLE ? EV_ERR : EV_OK;
}

int storage_copy_all(storage_t *from, storage_t *to, int verbose, int64_t *copied, int64_t *present, int64_t *failed)
{
    copy_job_t j = {.from = from, .to = to, .verbose = verbose};
    int rc = storage_list(from, copy_one, &j);
    *copied = j.copied;
    *present = j.present;
    *failed = j.failed;
    return rc == EV_OK && j.failed == 0 ? EV_OK : EV_ERR;
}
