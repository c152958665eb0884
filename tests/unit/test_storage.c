/* test_storage.c: the store seam: the spool, put (never overwriting), ranged and verified
 * reads, stat, list, remove, touch and copying between stores. Runs on the directory
 * backend, and on the S3 backend too when EVITRACK_TEST_S3_STORE names a bucket
 * (tests/run-all.sh sets it with a local Ceph RADOS Gateway). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"
#include "test.h"
#include "util.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* Collects what storage_get hands over. */
static int collect(void *ctx, const void *data, size_t len)
{
    buf_append(ctx, data, len);
    return EV_OK;
}

typedef struct seen {
    int count;
    int found_abc;
} seen_t;

static int count_blob(void *ctx, const char *key, const char *sha, const storage_stat_t *st)
{
    seen_t *s = ctx;
    (void)key;
    if (sha) {
        s->count++;
        if (!strcmp(sha, ABC_SHA) && st->size == 3)
            s->found_abc = 1;
    }
    return EV_OK;
}

static int find_key(void *ctx, const char *key, const char *sha, const storage_stat_t *st)
{
    char **out = ctx;
    (void)st;
    if (sha && !strcmp(sha, ABC_SHA))
        *out = xstrdup(key);
    return EV_OK;
}

/* The operations every backend must get right. */
static void exercise(storage_t *s, const char *data_dir)
{
    char sha[65];
    storage_stat_t st;
    buf_t got = {0};
    printf("# backend %s (%s)\n", storage_kind(s), s->desc);

    /* SHA-256("abc"), stored whole, read whole and in ranges */
    CHECK_INT(storage_put(s, "abc", 3, sha), EV_OK);
    CHECK_STR(sha, ABC_SHA);
    CHECK_INT(storage_stat(s, sha, &st), EV_OK);
    CHECK_INT(st.size, 3);
    CHECK(st.mtime > 0);
    CHECK_INT(storage_get(s, sha, 0, UINT64_MAX, collect, &got), EV_OK);
    CHECK(got.len == 3 && memcmp(got.data, "abc", 3) == 0);
    got.len = 0;
    CHECK_INT(storage_get(s, sha, 1, 1, collect, &got), EV_OK);
    CHECK(got.len == 1 && got.data[0] == 'b');
    got.len = 0;
    CHECK_INT(storage_get(s, sha, 1, UINT64_MAX, collect, &got), EV_OK);
    CHECK(got.len == 2 && memcmp(got.data, "bc", 2) == 0);

    /* the pull reader, in small pieces */
    storage_reader_t *rd = NULL;
    char piece[2];
    CHECK_INT(storage_open_read(s, sha, 0, 3, 3, &rd), EV_OK);
    CHECK_INT(storage_read(rd, piece, 2), 2);
    CHECK_INT(storage_read(rd, piece, 2), 1);
    CHECK_INT(storage_read(rd, piece, 2), 0);
    storage_close_read(rd);

    /* a second put of the same bytes: not created again, the spool file is removed */
    blob_writer_t *w = storage_begin(data_dir);
    CHECK(w != NULL);
    CHECK_INT(storage_write(w, "a", 1), EV_OK);
    CHECK_INT(storage_write(w, "bc", 2), EV_OK);
    CHECK_INT(storage_written(w), 3);
    size_t hl = 0;
    CHECK(memcmp(storage_head(w, &hl), "abc", 3) == 0 && hl == 3);
    char *tmp = NULL, sha2[65];
    uint64_t size = 0;
    uint32_t crc = 0;
    CHECK_INT(storage_finish(w, &tmp, sha2, &size, &crc), EV_OK);
    CHECK_STR(sha2, sha);
    CHECK_INT(crc, 0x352441c2u); /* CRC-32 of "abc" (zip's, ISO-HDLC), taken beside the hash */
    CHECK_INT(storage_crc32(storage_crc32(0, "a", 1), "bc", 2), 0x352441c2u);
    int created = -1;
    CHECK_INT(storage_put_file(s, tmp, sha2, size, &created), EV_OK);
    CHECK_INT(created, 0);
    CHECK(access(tmp, F_OK) != 0);
    free(tmp);

    /* a bigger blob in pieces: read back whole (verified) and from the middle */
    size_t big_len = 3 * 1024 * 1024 + 17;
    char *big = xmalloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + (i >> 12));
    char big_sha[65];
    CHECK_INT(storage_put(s, big, big_len, big_sha), EV_OK);
    got.len = 0;
    CHECK_INT(storage_get(s, big_sha, 0, UINT64_MAX, collect, &got), EV_OK);
    CHECK(got.len == big_len && memcmp(got.data, big, big_len) == 0);
    got.len = 0;
    CHECK_INT(storage_get(s, big_sha, 1000000, 5, collect, &got), EV_OK);
    CHECK(got.len == 5 && memcmp(got.data, big + 1000000, 5) == 0);
    free(big);

    /* missing blobs and bad names */
    const char *nothing = "0000000000000000000000000000000000000000000000000000000000000000";
    CHECK_INT(storage_stat(s, nothing, &st), STORAGE_NOT_FOUND);
    CHECK_INT(storage_get(s, nothing, 0, UINT64_MAX, collect, &got), STORAGE_NOT_FOUND);
    CHECK_INT(storage_stat(s, "../../etc/passwd", &st), STORAGE_NOT_FOUND);
    CHECK(!storage_valid_hash("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));

    /* touch keeps it; list sees both blobs */
    CHECK_INT(storage_touch(s, sha), EV_OK);
    CHECK_INT(storage_touch(s, nothing), STORAGE_NOT_FOUND);
    seen_t seen = {0};
    CHECK_INT(storage_list(s, count_blob, &seen), EV_OK);
    CHECK_INT(seen.count, 2);
    CHECK(seen.found_abc);

    /* remove by the key list gives */
    char *key = NULL;
    CHECK_INT(storage_list(s, find_key, &key), EV_OK);
    CHECK(key != NULL);
    if (key)
        CHECK_INT(storage_remove(s, key), EV_OK);
    free(key);
    CHECK_INT(storage_stat(s, sha, &st), STORAGE_NOT_FOUND);
    buf_free(&got);
}

/* A blob larger than three parts stored by multipart upload, read back whole (its
 * hash checked) and across a part boundary, stored again (found, not created), removed. */
static void multipart_round_trip(storage_t *s)
{
    size_t len = 17 * 1024 * 1024 + 5;
    char *big = xmalloc(len), sha[65];
    buf_t got = {0};
    storage_stat_t st;
    for (size_t i = 0; i < len; i++)
        big[i] = (char)(i * 7 + (i >> 16) + (i >> 20));
    CHECK_INT(storage_put(s, big, len, sha), EV_OK);
    CHECK_INT(storage_stat(s, sha, &st), EV_OK);
    CHECK_INT(st.size, len);
    CHECK_INT(storage_get(s, sha, 0, UINT64_MAX, collect, &got), EV_OK);
    CHECK(got.len == len && memcmp(got.data, big, len) == 0);
    got.len = 0;
    uint64_t edge = 5 * 1024 * 1024 - 3; /* the end of part 1 and the start of part 2 */
    CHECK_INT(storage_get(s, sha, edge, 6, collect, &got), EV_OK);
    CHECK(got.len == 6 && memcmp(got.data, big + edge, 6) == 0);
    char again[65];
    CHECK_INT(storage_put(s, big, len, again), EV_OK);
    CHECK_STR(again, sha);
    CHECK_INT(storage_remove(s, sha), EV_OK);
    CHECK_INT(storage_stat(s, sha, &st), STORAGE_NOT_FOUND);
    buf_free(&got);
    free(big);
}

int main(void)
{
    char dir[] = "/tmp/evitrack-storage-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[300] = "";
    char *data = fmtalloc("%s/data", dir);

    /* the default: the directory store in --data */
    storage_t *fs = storage_open(NULL, NULL, data, err, sizeof err);
    CHECK(fs != NULL);
    CHECK_STR(storage_kind(fs), "fs");
    exercise(fs, data);

    /* an aborted upload leaves nothing in tmp/ */
    blob_writer_t *w = storage_begin(data);
    storage_write(w, "xyz", 3);
    storage_abort(w);
    char *cmd = fmtalloc("test -z \"$(ls -A %s/tmp)\"", data);
    CHECK_INT(system(cmd), 0);
    free(cmd);

    /* a corrupted file is refused on a whole read, but ranges still work */
    char sha[65];
    CHECK_INT(storage_put(fs, "hello world", 11, sha), EV_OK);
    char *path = fmtalloc("%s/blobs/%.2s/%s", data, sha, sha);
    FILE *f = fopen(path, "r+");
    CHECK(f != NULL);
    if (f) {
        fputs("jello", f);
        fclose(f);
    }
    buf_t got = {0};
    CHECK_INT(storage_get(fs, sha, 0, UINT64_MAX, collect, &got), STORAGE_CORRUPT);
    CHECK(got.len < 11); /* the last piece is held back */
    got.len = 0;
    CHECK_INT(storage_get(fs, sha, 6, 5, collect, &got), EV_OK);
    CHECK(got.len == 5 && memcmp(got.data, "world", 5) == 0);
    buf_free(&got);
    /* read unhashed (the caller checks a CRC instead), the whole file comes as it is */
    storage_reader_t *rd = NULL;
    CHECK_INT(storage_open_read_unhashed(fs, sha, 11, &rd), EV_OK);
    char all[16];
    CHECK_INT(storage_read(rd, all, sizeof all), 11);
    CHECK(memcmp(all, "jello world", 11) == 0);
    CHECK_INT(storage_read(rd, all, sizeof all), 0);
    storage_close_read(rd);
    unlink(path);
    free(path);

    /* --store DIR elsewhere; copying between two directory stores */
    char *other = fmtalloc("%s/other", dir);
    storage_t *fs2 = storage_open(other, NULL, data, err, sizeof err);
    CHECK(fs2 != NULL);
    CHECK_INT(storage_put(fs, "one", 3, sha), EV_OK);
    CHECK_INT(storage_put(fs, "two", 3, sha), EV_OK);
    int64_t copied = 0, present = 0, failed = 0;
    /* (the 3 MB blob from exercise() is there too) */
    CHECK_INT(storage_copy_all(fs, fs2, 0, &copied, &present, &failed), EV_OK);
    CHECK_INT(copied, 3);
    CHECK_INT(storage_copy_all(fs, fs2, 0, &copied, &present, &failed), EV_OK);
    CHECK_INT(copied, 0);
    CHECK_INT(present, 3);
    storage_stat_t st;
    CHECK_INT(storage_stat(fs2, sha, &st), EV_OK);

    /* bad S3 settings are refused with a reason */
    CHECK(storage_open("s3://Bad_Bucket?endpoint=http://127.0.0.1:1", NULL, data, err, sizeof err) == NULL);
    CHECK(strstr(err, "bucket") != NULL);
    CHECK(storage_open("s3://good-bucket?endpoint=ftp://x", NULL, data, err, sizeof err) == NULL);
    CHECK(storage_open("s3://good-bucket?colour=red", NULL, data, err, sizeof err) == NULL);
    CHECK(strstr(err, "colour") != NULL);
    char *creds = fmtalloc("%s/creds", dir);
    f = fopen(creds, "w");
    if (f) {
        fputs("# test keys\nAWS_ACCESS_KEY_ID=AKTEST\nAWS_SECRET_ACCESS_KEY = \"s3cret\"\n", f);
        fclose(f);
    }
    storage_t *s3 = storage_open("s3://good-bucket?endpoint=http://127.0.0.1:1&region=eu-west-2", creds, data, err,
                                 sizeof err);
    CHECK(s3 != NULL);
    /* nothing listens there: the store is unavailable, not "missing" */
    if (s3)
        CHECK_INT(storage_stat(s3, ABC_SHA, &st), STORAGE_UNAVAILABLE);
    storage_close(s3);
    free(creds);

    /* the S3 backend against a real gateway, when there is one */
    const char *spec = getenv("EVITRACK_TEST_S3_STORE");
    if (spec && *spec) {
        s3 = storage_open(spec, NULL, data, err, sizeof err);
        if (!s3)
            printf("# %s\n", err);
        CHECK(s3 != NULL);
        if (s3) {
            exercise(s3, data);
            /* a directory store copied into the bucket, every hash checked */
            CHECK_INT(storage_copy_all(fs2, s3, 0, &copied, &present, &failed), EV_OK);
            CHECK_INT(copied, 2); /* "one" and "two" */
            CHECK_INT(present, 1); /* the 3 MB blob exercise() left */
            CHECK_INT(failed, 0);
            storage_close(s3);
        }
        /* multipart: 5 MB parts, so 17 MB goes up as 4 parts, 3 of them at once */
        char *mp_spec = fmtalloc("%s&part_mb=5", spec);
        s3 = storage_open(mp_spec, NULL, data, err, sizeof err);
        CHECK(s3 != NULL);
        if (s3)
            multipart_round_trip(s3);
        storage_close(s3);
        free(mp_spec);
    } else {
        printf("# EVITRACK_TEST_S3_STORE unset: S3 backend checks skipped\n");
    }

    storage_close(fs);
    storage_close(fs2);
    free(other);
    free(data);
    cmd = fmtalloc("rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    TEST_DONE();
}
