/* db_sqlite.c: the SQLite engine beneath db.c (the embedded default): connections, pragmas, statements, backup */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_engine.h"

static void *sq_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    if (sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                        "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY; "
                        "PRAGMA cache_size=-16384; PRAGMA mmap_size=268435456;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : "cannot set pragmas");
        sqlite3_free(msg);
        sqlite3_close(h);
        return NULL;
    }
    return h;
}

static void sq_close(void *conn)
{
    sqlite3_close(conn);
}

static void *sq_prepare(void *conn, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
        ev_log("db: cannot prepare [%s]: %s", sql, sqlite3_errmsg(conn));
        return NULL;
    }
    return stmt;
}

static void sq_finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

static void sq_reset(void *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static int ok(int rc)
{
    return rc == SQLITE_OK ? EV_OK : EV_ERR;
}

static int sq_bind_int(void *stmt, int idx, int64_t v)
{
    return ok(sqlite3_bind_int64(stmt, idx, v));
}

static int sq_bind_double(void *stmt, int idx, double v)
{
    return ok(sqlite3_bind_double(stmt, idx, v));
}

static int sq_bind_text(void *stmt, int idx, const char *s)
{
    return ok(sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT));
}

static int sq_bind_null(void *stmt, int idx)
{
    return ok(sqlite3_bind_null(stmt, idx));
}

static int sq_step(void *stmt)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    sqlite3 *h = sqlite3_db_handle(stmt);
    ev_log("db: [%s]: %s", sqlite3_sql(stmt), sqlite3_errmsg(h));
    return -1;
}

static int sq_col_count(void *stmt)
{
    return sqlite3_column_count(stmt);
}

static const char *sq_col_name(void *stmt, int i)
{
    return sqlite3_column_name(stmt, i);
}

static int sq_col_type(void *stmt, int i)
{
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: return DB_T_INT;
    case SQLITE_FLOAT: return DB_T_REAL;
    case SQLITE_TEXT: return DB_T_TEXT;
    case SQLITE_NULL: return DB_T_NULL;
    default: return DB_T_OTHER;
    }
}

static int64_t sq_col_int(void *stmt, int i)
{
    return sqlite3_column_int64(stmt, i);
}

static double sq_col_double(void *stmt, int i)
{
    return sqlite3_column_double(stmt, i);
}

static const char *sq_col_text(void *stmt, int i, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(stmt, i);
    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(stmt, i) : 0;
    return t;
}

static int sq_exec(void *conn, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(conn, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ev_log("db: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return EV_ERR;
    }
    return EV_OK;
}

static int sq_changes(void *conn)
{
    return sqlite3_changes(conn);
}

static int sq_in_transaction(void *conn)
{
    return !sqlite3_get_autocommit(conn);
}

static int sq_alive(void *conn)
{
    (void)conn;
    return 1; /* a file does not go away under an open handle */
}

static const char *sq_errmsg(void *conn)
{
    return sqlite3_errmsg(conn);
}

static const char *sq_sqlstate(void *conn)
{
    int e = sqlite3_errcode(conn);
    return e == SQLITE_BUSY || e == SQLITE_LOCKED ? "40001" : e == SQLITE_OK || e == SQLITE_ROW || e == SQLITE_DONE ? "" : "HY000";
}

static char *sq_migration_sql(const db_migration_t *m)
{
    return xstrdup(m->sql);
}

static int sq_backup(void *conn, const char *target, const char *out, char *err, size_t errlen)
{
    sqlite3 *dest = NULL;
    int result = EV_ERR;
    if (sqlite3_open(out, &dest) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", out, sqlite3_errmsg(dest));
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(dest, "main", conn, "main");
    if (!b) {
        snprintf(err, errlen, "cannot back up: %s", sqlite3_errmsg(dest));
        goto out;
    }
    int rc;
    do {
        rc = sqlite3_backup_step(b, 256);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "backup failed: %s", sqlite3_errstr(rc));
        goto out;
    }
    result = EV_OK;
out:
    sqlite3_close(dest);
    return result;
}

const db_ops_t db_sqlite_ops = {
    .name = "sqlite",
    .begin_sql = "BEGIN IMMEDIATE",
    .open = sq_open,
    .close = sq_close,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .reset = sq_reset,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_count = sq_col_count,
    .col_name = sq_col_name,
    .col_type = sq_col_type,
    .col_int = sq_col_int,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .exec = sq_exec,
    .changes = sq_changes,
    .in_transaction = sq_in_transaction,
    .alive = sq_alive,
    .errmsg = sq_errmsg,
    .sqlstate = sq_sqlstate,
    .migration_sql = sq_migration_sql,
    .backup = sq_backup,
};
