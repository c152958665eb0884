/* storage_fs.c: the directory backend of the evidence store: DIR/blobs/<2 hex>/<sha256> */
#define _GNU_SOURCE /* O_DIRECTORY, AT_FDCWD */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int fs_mkdir(const char *path)
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

/* The path of blob sha (caller frees). */
static char *blob_path(storage_t *s, const char *sha)
{
    return fmtalloc("%s/blobs/%.2s/%s", s->root, sha, sha);
}

int storage_fs_init(storage_t *s, const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "the store %s is not a directory", dir);
        return EV_ERR;
    }
    s->root = xstrdup(dir);
    s->desc = xstrdup(dir);
    return EV_OK;
}

/* Copies src into a new file dest (for a spool on another file system), fsynced. */
static int copy_into(const char *src, const char *dest)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = EV_ERR;
    char *tmp = fmtalloc("%s.part-%d", dest, (int)getpid());
    char *chunk = xmalloc(1 << 16);
    ssize_t n;
    if (in < 0)
        goto out;
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (out < 0)
        goto out;
    while ((n = read(in, chunk, 1 << 16)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, chunk + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                goto out;
            done += w;
        }
    }
    if (n < 0 || fsync(out) != 0)
        goto out;
    /* link, not rename: never replaces a blob that appeared meanwhile */
    if (link(tmp, dest) != 0 && errno != EEXIST)
        goto out;
    rc = EV_OK;
out:
    if (rc != EV_OK)
        ev_log("storage: cannot copy %s to %s: %s", src, dest, strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    unlink(tmp);
    free(tmp);
    free(chunk);
    return rc;
}

static int fs_put(storage_t *s, const char *tmp_path, const char *sha, uint64_t size, int *created)
{
    int rc = EV_ERR;
    char *blobs = fmtalloc("%s/blobs", s->root);
    char *dir = fmtalloc("%s/blobs/%.2s", s->root, sha);
    char *dest = blob_path(s, sha);
    struct stat sb;
    (void)size;
    *created = 0;
    if (fs_mkdir(s->root) != EV_OK || fs_mkdir(blobs) != EV_OK || fs_mkdir(dir) != EV_OK)
        goto out;
    if (stat(dest, &sb) == 0) { /* identical content is stored once */
        rc = EV_OK;
        goto out;
    }
    /* A hard link adds the blob without ever replacing one (the spool is on the
     * same file system in the default layout); the caller removes the spool file. */
    if (link(tmp_path, dest) != 0) {
        if (errno == EEXIST) {
            rc = EV_OK;
            goto out;
        }
        if (errno != EXDEV || copy_into(tmp_path, dest) != EV_OK) {
            ev_log("storage: cannot move %s into the store: %s", tmp_path, strerror(errno));
            goto out;
        }
    }
    if (fsync_dir(dir) != EV_OK)
        goto out;
    *created = 1;
    rc = EV_OK;
out:
    free(blobs);
    free(dir);
    free(dest);
    return rc;
}

typedef struct fs_reader {
    int fd;
} fs_reader_t;

static int fs_open_read(storage_t *s, const char *sha, uint64_t off, uint64_t len, void **out)
{
    (void)len;
    char *path = blob_path(s, sha);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = EV_OK;
    if (fd < 0) {
        rc = errno == ENOENT ? STORAGE_NOT_FOUND : EV_ERR;
        goto out;
    }
    if (lseek(fd, (off_t)off, SEEK_SET) < 0) {
        close(fd);
        rc = EV_ERR;
        goto out;
    }
    /* Reads go front to back (downloads, exports, hash checks): a doubled
     * read-ahead window keeps the disk busy while the bytes are sent. */
    (void)posix_fadvise(fd, (off_t)off, 0, POSIX_FADV_SEQUENTIAL);
    fs_reader_t *r = xmalloc(sizeof *r);
    r->fd = fd;
    *out = r;
out:
    free(path);
    return rc;
}

static long fs_read(void *rd, void *buf, size_t cap)
{
    fs_reader_t *r = rd;
    for (;;) {
        ssize_t n = read(r->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? EV_ERR : (long)n;
    }
}

static void fs_close_read(void *rd)
{
    fs_reader_t *r = rd;
    close(r->fd);
    free(r);
}

static int fs_stat(storage_t *s, const char *sha, storage_stat_t *st)
{
    char *path = blob_path(s, sha);
    struct stat sb;
    int rc = EV_OK;
    if (stat(path, &sb) != 0)
        rc = errno == ENOENT ? STORAGE_NOT_FOUND : EV_ERR;
    else if (!S_ISREG(sb.st_mode))
        rc = STORAGE_NOT_FOUND;
    else {
        st->size = (uint64_t)sb.st_size;
        st->mtime = (int64_t)sb.st_mtime;
    }
    free(path);
    return rc;
}

static int fs_touch(storage_t *s, const char *sha)
{
    char *path = blob_path(s, sha);
    int rc = utimensat(AT_FDCWD, path, NULL, 0) == 0 ? EV_OK : errno == ENOENT ? STORAGE_NOT_FOUND : EV_ERR;
    free(path);
    return rc;
}

static int is_hex2(const char *s)
{
    return strlen(s) == 2 && strchr("0123456789abcdef", s[0]) && strchr("0123456789abcdef", s[1]);
}

/* Walks blobs/<2 hex>/: each regular file is reported with key "<2 hex>/<name>". */
static int fs_list(storage_t *s, storage_list_fn fn, void *ctx)
{
    char *blobs = fmtalloc("%s/blobs", s->root);
    DIR *top = opendir(blobs);
    struct dirent *d1, *d2;
    int rc = EV_OK;
    while (rc == EV_OK && top && (d1 = readdir(top)) != NULL) {
        if (!is_hex2(d1->d_name))
            continue;
        char *sub = fmtalloc("%s/%s", blobs, d1->d_name);
        DIR *dir = opendir(sub);
        while (rc == EV_OK && dir && (d2 = readdir(dir)) != NULL) {
            if (d2->d_name[0] == '.')
                continue;
            char *path = fmtalloc("%s/%s", sub, d2->d_name);
            char *key = fmtalloc("%s/%s", d1->d_name, d2->d_name);
            struct stat sb;
            if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                int valid = storage_valid_hash(d2->d_name) && strncmp(d2->d_name, d1->d_name, 2) == 0;
                storage_stat_t st = {(uint64_t)sb.st_size, (int64_t)sb.st_mtime};
                rc = fn(ctx, key, valid ? d2->d_name : NULL, &st);
            }
            free(key);
            free(path);
        }
        if (dir)
            closedir(dir);
        free(sub);
    }
    if (top)
        closedir(top);
    free(blobs);
    return rc;
}

/* key: "<2 hex>/<name>" as fs_list gives it; nothing else is removed. */
static int fs_remove(storage_t *s, const char *key)
{
    char named[70];
    if (storage_valid_hash(key)) { /* a blob's name, as the bucket's keys are: "XX/SHA" here */
        snprintf(named, sizeof named, "%.2s/%s", key, key);
        key = named;
    }
    const char *slash = strchr(key, '/');
    if (!slash || slash - key != 2 || slash[1] == '.' || slash[1] == '\0' || strchr(slash + 1, '/'))
        return EV_ERR;
    char hex[3] = {key[0], key[1], '\0'};
    if (!is_hex2(hex))
        return EV_ERR;
    char *path = fmtalloc("%s/blobs/%s", s->root, key);
    int rc = unlink(path) == 0 ? EV_OK : errno == ENOENT ? STORAGE_NOT_FOUND : EV_ERR;
    if (rc == EV_ERR)
        ev_log("gc: unlink %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

static void fs_close(storage_t *s)
{
    (void)s;
}

const storage_ops_t storage_fs_ops = {
    .name = "fs",
    .local = 1,
    .put = fs_put,
    .open_read = fs_open_read,
    .read = fs_read,
    .close_read = fs_close_read,
    .stat = fs_stat,
    .touch = fs_touch,
    .list = fs_list,
    .remove = fs_remove,
    .close = fs_close,
};
