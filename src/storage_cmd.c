/* storage_cmd.c: `evitrack store copy` (moves a centre's evidence files between stores, verifying each) and `store verify` (scrub.c) */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "scrub.h"
#include "storage.h"
#include "util.h"

#define STORE_USAGE                                                                                  \
    "usage: store copy --from DIR|s3://... --to DIR|s3://... [--data DIR] [--store-credentials FILE] " \
    "[--quiet]"

/* store copy: every blob of --from is read (its SHA-256 checked), spooled under
 * --data's tmp/ and stored in --to (which checks it again: S3 by the signed
 * payload hash); blobs already at --to are read back and checked. The source is
 * left as it was. Exit 0 when every blob is in --to and verified. */
static int store_copy(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *data = "data", *creds = NULL;
    int quiet = 0, rc = 1;
    storage_t *src = NULL, *dst = NULL;
    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "from", &from)) || (got = cli_opt(argc, argv, &i, "to", &to)) ||
            (got = cli_opt(argc, argv, &i, "data", &data)) ||
            (got = cli_opt(argc, argv, &i, "store-credentials", &creds))) {
            if (got < 0)
                return 2;
        } else if (cli_flag(argv, &i, "quiet")) {
            quiet = 1;
        } else {
            return cli_usage_error("store copy: unknown argument %s (%s)", argv[i], STORE_USAGE);
        }
    }
    if (!from || !to || !*from || !*to)
        return cli_usage_error("store copy: name both --from and --to (%s)", STORE_USAGE);
    if (!strcmp(from, to))
        return cli_usage_error("store copy: --from and --to are the same store");
    src = cli_open_store(from, creds, data);
    dst = src ? cli_open_store(to, creds, data) : NULL;
    if (!src || !dst)
        goto out;
    int64_t copied = 0, present = 0, failed = 0;
    uint64_t t0 = util_now_us();
    int ok = storage_copy_all(src, dst, !quiet, &copied, &present, &failed) == EV_OK;
    if (ok && copied + present + failed == 0) {
        /* a typo in --from reads as an empty store: say so rather than "verified" */
        fprintf(stderr,
                "evitrack: store copy: %s holds no evidence files, so nothing was copied (a directory store "
                "keeps them under DIR/blobs/: give --from the data directory)\n",
                from);
        goto out;
    }
    printf("store copy: %lld copied, %lld already there, %lld failed; every hash %s (%.1f s)\n",
           (long long)copied, (long long)present, (long long)failed, ok ? "verified" : "NOT verified",
           (double)(util_now_us() - t0) / 1e6);
    if (!ok)
        fprintf(stderr, "evitrack: store copy did not finish cleanly: the lines above name each file. A file that "
                        "fails its check in --to is never replaced: remove it from --to, then run this again (it "
                        "skips what is there and verified)\n");
    rc = ok ? 0 : 1;
out:
    storage_close(src);
    storage_close(dst);
    return rc;
}

int storage_cmd(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "copy"))
        return store_copy(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "verify"))
        return scrub_cmd(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "--help") != 0)
        return cli_usage_error("store: unknown subcommand %s: use `store copy` (%s) or `store verify` (see `store verify "
                               "--help`)",
                               argv[0], STORE_USAGE);
    return cli_usage_error("store: name a subcommand: `store copy` (%s) or `store verify` (see `store verify --help`)",
                           STORE_USAGE);
}
