/* test_zipout.c: the export's zip writer: entries deflated, stored and fed piece by piece
 * read back by Info-ZIP's unzip (CRCs checked), sizes enforced, a refusing callback, and the
 * ZIP64 records of an entry over 4 GiB, an offset past 4 GiB and over 65,535 entries. */
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util.h"
#include "zipout.h"

/* Writes to a file; runs of zeros of a whole piece are skipped with lseek, so a
 * 4 GiB entry of zeros takes no disk space (the file is sparse). */
typedef struct out {
    int fd;
    int refuse_after; /* calls before refusing; < 0 never */
    uint64_t bytes;
} out_t;

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int to_file(void *ctx, const void *data, size_t len)
{
    out_t *o = ctx;
    if (o->refuse_after == 0)
        return EV_ERR;
    if (o->refuse_after > 0)
        o->refuse_after--;
    if (len >= 4096 && all_zero(data, len)) {
        if (lseek(o->fd, (off_t)len, SEEK_CUR) < 0)
            return EV_ERR;
    } else if (write(o->fd, data, len) != (ssize_t)len) {
        return EV_ERR;
    }
    o->bytes += len;
    return EV_OK;
}

/* Runs a shell command; its exit status. */
static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *read_all(const char *cmd, size_t *len)
{
    buf_t b = {0};
    FILE *p = popen(cmd, "r");
    char chunk[4096];
    size_t n;
    while (p && (n = fread(chunk, 1, sizeof chunk, p)) > 0)
        buf_append(&b, chunk, n);
    if (p)
        pclose(p);
    *len = b.len;
    return b.data ? b.data : xstrdup("");
}

static void test_entries(const char *dir)
{
    char *path = fmtalloc("%s/a.zip", dir);
    out_t o = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), .refuse_after = -1};
    zipout_t *z = zipout_new(to_file, &o, 1764460800); /* 2025-11-30 */
    buf_t text = {0};
    for (int i = 0; i < 500; i++)
        buf_printf(&text, "line %d of a text that compresses well\n", i);
    CHECK_INT(zipout_add(z, "index.html", text.data, text.len, 1), EV_OK);
    CHECK_INT(zipout_add(z, "empty.txt", "", 0, 1), EV_OK);
    CHECK_INT(zipout_add(z, "tiny.txt", "x", 1, 1), EV_OK); /* deflate would be bigger: stored */
    unsigned char *blob = xmalloc(300000);
    for (size_t i = 0; i < 300000; i++)
        blob[i] = (unsigned char)(i * 2654435761u >> 13);
    CHECK_INT(zipout_begin(z, "evidence/1/video.mp4", 300000), EV_OK);
    CHECK_INT(zipout_add(z, "other.txt", "no", 2, 0), EV_ERR); /* an entry is open */
    CHECK_INT(zipout_data(z, blob, 100000), EV_OK);
    CHECK_INT(zipout_data(z, blob + 100000, 200000), EV_OK);
    CHECK_INT(zipout_data(z, blob, 1), EV_ERR); /* beyond the size announced */
    CHECK_INT(zipout_end(z), EV_OK);
    CHECK_INT(zipout_begin(z, "evidence/2/empty.bin", 0), EV_OK);
    CHECK_INT(zipout_end(z), EV_OK);
    CHECK_INT(zipout_finish(z), EV_OK);
    CHECK_INT(zipout_offset(z), o.bytes);
    zipout_free(z);
    close(o.fd);

    char *cmd = fmtalloc("unzip -tq '%s' >/dev/null", path);
    CHECK_INT(sh(cmd), 0);
    free(cmd);
    size_t n = 0;
    cmd = fmtalloc("unzip -p '%s' index.html", path);
    char *got = read_all(cmd, &n);
    CHECK(n == text.len && memcmp(got, text.data, n) == 0);
    free(got);
    free(cmd);
    cmd = fmtalloc("unzip -p '%s' evidence/1/video.mp4", path);
    got = read_all(cmd, &n);
    CHECK(n == 300000 && memcmp(got, blob, n) == 0);
    free(got);
    free(cmd);
    cmd = fmtalloc("unzip -Z1 '%s'", path);
    got = read_all(cmd, &n);
    CHECK_STR(got, "index.html\nempty.txt\ntiny.txt\nevidence/1/video.mp4\nevidence/2/empty.bin\n");
    free(got);
    free(cmd);
    /* index.html deflated, the evidence stored */
    cmd = fmtalloc("unzip -Zv '%s' | grep -c 'compression method:.*deflated'", path);
    got = read_all(cmd, &n);
    CHECK_STR(got, "1\n");
    free(got);
    free(cmd);
    free(blob);
    buf_free(&text);
    unlink(path);
    free(path);
}

static void test_short_entry_and_refusal(const char *dir)
{
    char *path = fmtalloc("%s/b.zip", dir);
    out_t o = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), .refuse_after = -1};
    zipout_t *z = zipout_new(to_file, &o, 1764460800);
    CHECK_INT(zipout_begin(z, "f.bin", 10), EV_OK);
    CHECK_INT(zipout_data(z, "12345", 5), EV_OK);
    CHECK_INT(zipout_end(z), EV_ERR); /* 5 of 10 bytes */
    CHECK_INT(zipout_add(z, "g.txt", "g", 1, 0), EV_ERR); /* the zip is unusable now */
    CHECK_INT(zipout_finish(z), EV_ERR);
    zipout_free(z);
    close(o.fd);

    /* the callback refuses its fifth write: that call and every later one fail */
    o = (out_t){.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), .refuse_after = 4};
    z = zipout_new(to_file, &o, 1764460800);
    CHECK_INT(zipout_add(z, "a.txt", "a", 1, 0), EV_OK); /* header, name and extra, body: 4 calls */
    CHECK_INT(zipout_finish(z), EV_ERR);
    CHECK_INT(zipout_add(z, "b.txt", "b", 1, 0), EV_ERR);
    zipout_free(z);
    close(o.fd);
    unlink(path);
    free(path);
}

/* An entry with an expected CRC-32 (an export's file, checked against the CRC recorded at
 * upload): the right bytes go through whole; wrong bytes of the same length are sent up to,
 * but never including, the piece that completes the entry, and the zip is then unusable. */
static void test_expected_crc(const char *dir)
{
    char *path = fmtalloc("%s/c.zip", dir);
    const char *good = "the assessor's observation record, page 1";
    size_t len = strlen(good);
    uint32_t crc = libdeflate_crc32(0, good, len);
    out_t o = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), .refuse_after = -1};
    zipout_t *z = zipout_new(to_file, &o, 1764460800);
    CHECK_INT(zipout_begin(z, "good.txt", len), EV_OK);
    zipout_expect_crc(z, crc);
    CHECK_INT(zipout_data(z, good, 10), EV_OK);
    CHECK_INT(zipout_data(z, good + 10, len - 10), EV_OK);
    CHECK_INT(zipout_crc_mismatch(z), 0);
    CHECK_INT(zipout_end(z), EV_OK);
    CHECK_INT(zipout_crc(z), crc);
    /* the same length, one byte changed */
    char bad[128];
    memcpy(bad, good, len);
    bad[len - 1] ^= 0x01;
    CHECK_INT(zipout_begin(z, "bad.txt", len), EV_OK);
    zipout_expect_crc(z, crc);
    CHECK_INT(zipout_data(z, bad, 10), EV_OK); /* not the last piece: it goes on */
    uint64_t before = o.bytes;
    CHECK_INT(zipout_data(z, bad + 10, len - 10), EV_ERR);
    CHECK_INT(o.bytes, before); /* nothing of the completing piece was written */
    CHECK_INT(zipout_crc_mismatch(z), 1);
    CHECK_INT(zipout_end(z), EV_ERR);
    CHECK_INT(zipout_finish(z), EV_ERR);
    zipout_free(z);
    close(o.fd);
    /* an expectation is for one entry only: the next begin clears it */
    o = (out_t){.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), .refuse_after = -1};
    z = zipout_new(to_file, &o, 1764460800);
    CHECK_INT(zipout_begin(z, "a.bin", 3), EV_OK);
    zipout_expect_crc(z, libdeflate_crc32(0, "abc", 3));
    CHECK_INT(zipout_data(z, "abc", 3), EV_OK);
    CHECK_INT(zipout_end(z), EV_OK);
    CHECK_INT(zipout_begin(z, "b.bin", 3), EV_OK);
    CHECK_INT(zipout_data(z, "xyz", 3), EV_OK);
    CHECK_INT(zipout_end(z), EV_OK);
    CHECK_INT(zipout_crc_mismatch(z), 0);
    CHECK_INT(zipout_finish(z), EV_OK);
    zipout_free(z);
    close(o.fd);
    unlink(path);
    free(path);
}

/* A 4 GiB + 1 MiB entry of zeros (sizes in ZIP64 fields), a small entry after it (its
 * offset past 4 GiB), then enough empty entries to pass 65,535 (ZIP64 end records). */
static void test_zip64(const char *dir)
{
    char *path = fmtalloc("%s/c.zip", dir);
    out_t o = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), .refuse_after = -1};
    zipout_t *z = zipout_new(to_file, &o, 1764460800);
    const size_t piece = 1 << 20;
    const uint64_t big = (4ULL << 30) + piece;
    unsigned char *zeros = calloc(1, piece);
    CHECK_INT(zipout_begin(z, "big.bin", big), EV_OK);
    int ok = 1;
    for (uint64_t done = 0; done < big && ok; done += piece)
        ok = zipout_data(z, zeros, piece) == EV_OK;
    CHECK(ok);
    CHECK_INT(zipout_end(z), EV_OK);
    CHECK_INT(zipout_add(z, "after.txt", "after the big one\n", 18, 1), EV_OK);
    for (int i = 0; i < 65540 && ok; i++) {
        char name[32];
        snprintf(name, sizeof name, "e/%d", i);
        ok = zipout_add(z, name, "", 0, 0) == EV_OK;
    }
    CHECK(ok);
    CHECK_INT(zipout_finish(z), EV_OK);
    zipout_free(z);
    /* the file ends where the writer says (the lseeks left a hole, not a short file) */
    CHECK_INT(ftruncate(o.fd, (off_t)o.bytes), 0);
    close(o.fd);
    free(zeros);

    size_t n = 0;
    char *cmd = fmtalloc("unzip -p '%s' after.txt", path);
    char *got = read_all(cmd, &n);
    CHECK_STR(got, "after the big one\n");
    free(got);
    free(cmd);
    cmd = fmtalloc("unzip -Z1 '%s' | wc -l", path);
    got = read_all(cmd, &n);
    CHECK_INT(atoi(got), 65542);
    free(got);
    free(cmd);
    /* the big entry's sizes as a reader finds them (its 4 GiB are not read back: it
     * would take a minute on a busy machine), and the entries after it tested */
    cmd = fmtalloc("unzip -Zv '%s' big.bin | grep -E '(un)?compressed size:' | tr -s ' '", path);
    got = read_all(cmd, &n);
    CHECK_STR(got, " compressed size: 4296015872 bytes\n uncompressed size: 4296015872 bytes\n");
    free(got);
    free(cmd);
    cmd = fmtalloc("unzip -tq '%s' after.txt 'e/*' >/dev/null", path);
    CHECK_INT(sh(cmd), 0);
    free(cmd);
    unlink(path);
    free(path);
}

int main(void)
{
    char tmpl[] = "/tmp/evitrack-zipout-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir || sh("command -v unzip >/dev/null") != 0) {
        fprintf(stderr, "test_zipout: needs a temporary directory and unzip\n");
        return 1;
    }
    test_entries(dir);
    test_short_entry_and_refusal(dir);
    test_expected_crc(dir);
    test_zip64(dir);
    rmdir(dir);
    TEST_DONE();
}
