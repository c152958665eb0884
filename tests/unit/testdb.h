/* testdb.h: opens a unit test's database on the engine under test: an SQLite file at
 * path (the default), or, with EVITRACK_TEST_ENGINE=postgresql, a fresh database
 * created on the server $EVITRACK_TEST_DB names (tests/run-all.sh starts one). */
#ifndef EVITRACK_TESTDB_H
#define EVITRACK_TESTDB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

static int test_on_pg(void)
{
    const char *e = getenv("EVITRACK_TEST_ENGINE");
    return e && strcmp(e, "postgresql") == 0;
}

/* The target the last test_db_open opened (a file path or a PostgreSQL URL), so a
 * test can open a second connection to it. */
static char test_db_target[1100];

/* An empty database for path (its old file removed, or a new PostgreSQL database);
 * NULL when it cannot be opened. The caller closes it. */
static db_t *test_db_open(const char *path)
{
    if (!test_on_pg()) {
        char side[1100];
        unlink(path);
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
        snprintf(test_db_target, sizeof test_db_target, "%s", path);
        return db_open(path);
    }
    static int serial;
    const char *url = getenv("EVITRACK_TEST_DB");
    if (!url || !db_target_is_pg(url)) {
        fprintf(stderr, "EVITRACK_TEST_ENGINE=postgresql needs EVITRACK_TEST_DB=postgres://...\n");
        exit(1);
    }
    char name[64], sql[160], target[1100];
    snprintf(name, sizeof name, "u_%ld_%d", (long)getpid(), ++serial);
    db_t *admin = db_open(url);
    if (!admin)
        return NULL;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    db_exec(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    int rc = db_exec(admin, sql);
    db_close(admin);
    if (rc != EV_OK)
        return NULL;
    const char *slash = strrchr(url + strlen("postgres://"), '/');
    const char *query = slash ? strchr(slash, '?') : NULL;
    int base = slash ? (int)(slash - url) : (int)strlen(url);
    snprintf(target, sizeof target, "%.*s/%s%s", base, url, name, query ? query : "");
    snprintf(test_db_target, sizeof test_db_target, "%s", target);
    return db_open(target);
}

#endif
