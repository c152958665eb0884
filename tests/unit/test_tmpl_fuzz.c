/* test_tmpl_fuzz.c: a short libFuzzer run of the template engine (tests/fuzz/run.sh, clang-14,
 * ASan+UBSan) as part of ctest; passes as skipped when clang-14 is not installed.
 * EVITRACK_FUZZ_SECONDS sets the length (default 20). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

int main(void)
{
    const char *src = getenv("EVITRACK_SOURCE_DIR");
    const char *secs = getenv("EVITRACK_FUZZ_SECONDS");
    char cwd[2048], cmd[8192];
    if (!src || !*src)
        src = EVITRACK_SOURCE_DIR;
    if (!secs || !*secs)
        secs = "20";
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/tmp");
    snprintf(cmd, sizeof cmd, "sh '%s/tests/fuzz/run.sh' '%s' '%s/fuzz-short' > '%s/fuzz-short.log' 2>&1",
             src, secs, cwd, cwd);
    int rc = system(cmd);
    int code = rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    if (code == 77) {
        printf("skipped: clang-14 is not installed\n");
        CHECK(1);
    } else {
        if (code != 0) {
            fprintf(stderr, "fuzz run failed (exit %d); see %s/fuzz-short.log:\n", code, cwd);
            snprintf(cmd, sizeof cmd, "tail -40 '%s/fuzz-short.log' >&2", cwd);
            if (system(cmd) != 0)
                fprintf(stderr, "(no log)\n");
        } else {
            snprintf(cmd, sizeof cmd, "grep -E '^(Done|stat::number_of_executed_units)' '%s/fuzz-short.log'", cwd);
            if (system(cmd) != 0)
                fprintf(stderr, "(no summary in the log)\n");
        }
        CHECK_INT(code, 0);
    }
    TEST_DONE();
}
