/* storage.c: the content-addressed evidence store: data/blobs/<2 hex>/<sha256> */
#define _GNU_SOURCE /* sync_file_range */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define HEAD_BYTES 8192
#define WRITEBACK_STEP (8u << 20)

struct blob_writer {
    int fd;
    char *tmp_path;
    struct sha256_ctx sha; /* nettle: uses the CPU's SHA extensions where present */
    uint64_t written;
    uint64_t flushed; /* bytes whose write-back has been started (sync_file_range) */
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

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return EV_ERR;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? EV_OK : EV_ERR;
}

blob_writer_t *storage_begin(const char *data_dir)
{
    char *tmpdir = fmtalloc("%s/tmp", data_dir);
    blob_writer_t *w = NULL;
    if (ensure_dir(data_dir) != EV_OK || ensure_dir(tmpdir) != EV_OK)
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
    sha256_init(&w->sha);
out:
    free(tmpdir);
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
    sha256_update(&w->sha, len, p);
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
    if (w->written - w->flushed >= WRITEBACK_STEP) {
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

int storage_finish(blob_writer_t *w, char **tmp_path, char sha256_hex[65], uint64_t *size)
{
    int result = EV_ERR;
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_digest(&w->sha, sizeof digest, digest);
    util_hex(digest, sizeof digest, sha256_hex);
    if (fsync(w->fd) != 0) {
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

char *storage_blob_path(const char *data_dir, const char *sha256_hex)
{
    if (!storage_valid_hash(sha256_hex))
        return NULL;
    return fmtalloc("%s/blobs/%.2s/%s", data_dir, sha256_hex, sha256_hex);
}

int storage_promote(const char *data_dir, const char *tmp_path, const char *sha256_hex, int *created)
{
    int result = EV_ERR;
    char *blobs = fmtalloc("%s/blobs", data_dir);
    char *dir = fmtalloc("%s/blobs/%.2s", data_dir, sha256_hex);
    char *dest = storage_blob_path(data_dir, sha256_hex);
    if (created)
        *created = 0;
    if (!dest || ensure_dir(blobs) != EV_OK || ensure_dir(dir) != EV_OK)
        goto out;
    struct stat sb;
    if (stat(dest, &sb) == 0) { /* identical content is stored once */
        unlink(tmp_path);
        result = EV_OK;
        goto out;
    }
    if (rename(tmp_path, dest) != 0) {
        ev_log("storage: cannot move %s into the store: %s", tmp_path, strerror(errno));
        goto out;
    }
    if (fsync_dir(dir) != EV_OK)
        goto out;
    if (created)
        *created = 1;
    result = EV_OK;
out:
    free(blobs);
    free(dir);
    free(dest);
    return result;
}

int storage_put(const char *data_dir, const void *data, size_t len, char sha256_hex[65])
{
    blob_writer_t *w = storage_begin(data_dir);
    char *tmp = NULL;
    uint64_t size;
    if (!w)
        return EV_ERR;
    if (storage_write(w, data, len) != EV_OK) {
        storage_abort(w);
        return EV_ERR;
    }
    if (storage_finish(w, &tmp, sha256_hex, &size) != EV_OK)
        return EV_ERR;
    int rc = storage_promote(data_dir, tmp, sha256_hex, NULL);
    if (rc != EV_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}
