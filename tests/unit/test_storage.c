/* test_storage.c: the content-addressed store: hashing, promotion, duplicates */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"
#include "test.h"
#include "util.h"

int main(void)
{
    char dir[] = "/tmp/evitrack-storage-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sha[65];
    /* SHA-256("abc") */
    CHECK_INT(storage_put(dir, "abc", 3, sha), EV_OK);
    CHECK_STR(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char *path = storage_blob_path(dir, sha);
    size_t len = 0;
    char *data = util_read_file(path, &len);
    CHECK_INT(len, 3);
    CHECK(data && memcmp(data, "abc", 3) == 0);
    free(data);

    /* streaming in pieces gives the same hash; a duplicate is stored once */
    blob_writer_t *w = storage_begin(dir);
    CHECK(w != NULL);
    CHECK_INT(storage_write(w, "a", 1), EV_OK);
    CHECK_INT(storage_write(w, "bc", 2), EV_OK);
    CHECK_INT(storage_written(w), 3);
    size_t hl = 0;
    CHECK(memcmp(storage_head(w, &hl), "abc", 3) == 0 && hl == 3);
    char *tmp = NULL;
    uint64_t size = 0;
    char sha2[65];
    CHECK_INT(storage_finish(w, &tmp, sha2, &size), EV_OK);
    CHECK_STR(sha2, sha);
    int created = -1;
    CHECK_INT(storage_promote(dir, tmp, sha2, &created), EV_OK);
    CHECK_INT(created, 0);
    CHECK(access(tmp, F_OK) != 0); /* the temporary file is gone */
    free(tmp);

    /* an aborted upload leaves nothing in tmp/ */
    w = storage_begin(dir);
    storage_write(w, "xyz", 3);
    storage_abort(w);
    char *tmpdir = fmtalloc("%s/tmp", dir);
    char *cmd = fmtalloc("test -z \"$(ls -A %s)\"", tmpdir);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    free(tmpdir);

    CHECK(storage_blob_path(dir, "../../etc/passwd") == NULL);
    CHECK(!storage_valid_hash("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    CHECK(storage_valid_hash(sha));
    free(path);
    cmd = fmtalloc("rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    TEST_DONE();
}
