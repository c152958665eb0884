/* db.c: SQLite connections, pragmas, migrations, the statement cache and query helpers */
#include "db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SIZE 256 /* open-addressed by the SQL text's address */

struct db {
    sqlite3 *h;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE_SIZE];
};

db_t *db_open(const char *path)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ev_log("db: cannot open %s: %s", path, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 5000);
    db_t *db = xcalloc(1, sizeof *db);
    db->h = h;
    if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY; "
                    "PRAGMA cache_size=-16384; PRAGMA mmap_size=268435456;") != EV_OK) {
        db_close(db);
        return NULL;
    }
    return db;
}

void db_close(db_t *db)
{
    if (!db)
        return;
    for (int i = 0; i < STMT_CACHE_SIZE; i++)
        sqlite3_finalize(db->cache[i].stmt);
    sqlite3_close(db->h);
    free(db);
}

sqlite3 *db_handle(db_t *db)
{
    return db->h;
}

int db_exec(db_t *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ev_log("db: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return EV_ERR;
    }
    return EV_OK;
}

/* ---- migrations ---- */

/* A migration's version is the number its file name starts with (001_core.sql
 * is 1), so versions stay stable whatever order files are added in. */
static int migration_number(const db_migration_t *m)
{
    return atoi(m->name);
}

int db_latest_version(void)
{
    int latest = 0;
    for (const db_migration_t *m = db_migrations; m->name; m++)
        if (migration_number(m) > latest)
            latest = migration_number(m);
    return latest;
}

int db_version(db_t *db)
{
    return (int)db_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", 0, "");
}

int db_migrate(db_t *db, char *err, size_t errlen)
{
    if (db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)") != EV_OK) {
        snprintf(err, errlen, "cannot create the schema_version table");
        return EV_ERR;
    }
    int current = db_version(db);
    int latest = db_latest_version();
    if (current > latest) {
        snprintf(err, errlen, "the database is at schema version %d but this evitrack knows only %d: "
                 "use a newer evitrack", current, latest);
        return EV_ERR;
    }
    /* db_migrations is in file-name order (CMake sorts it), so numbers ascend. */
    for (const db_migration_t *m = db_migrations; m->name; m++) {
        int v = migration_number(m);
        if (v <= current)
            continue;
        char now[21];
        util_now_iso(now);
        if (db_exec(db, "BEGIN IMMEDIATE") != EV_OK)
            goto fail;
        if (db_exec(db, m->sql) != EV_OK ||
            db_run(db, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                   "Itt", v, m->name, now) != EV_OK) {
            db_exec(db, "ROLLBACK");
            goto fail;
        }
        if (db_exec(db, "COMMIT") != EV_OK)
            goto fail;
        continue;
fail:
        snprintf(err, errlen, "migration %s failed: %s", m->name, sqlite3_errmsg(db->h));
        return EV_ERR;
    }
    return EV_OK;
}

/* ---- per-thread connections ---- */

static const char *thread_db_path;
static _Thread_local db_t *thread_db;
/* Every connection db_thread() opened, so the server can close them once its
 * worker threads have stopped (they end without a hook of ours). */
static pthread_mutex_t thread_dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static db_t *thread_dbs[256];
static size_t thread_dbs_count;

void db_set_thread_path(const char *path)
{
    thread_db_path = path;
}

db_t *db_thread(void)
{
    if (!thread_db && thread_db_path) {
        thread_db = db_open(thread_db_path);
        if (thread_db) {
            pthread_mutex_lock(&thread_dbs_lock);
            if (thread_dbs_count < sizeof thread_dbs / sizeof thread_dbs[0])
                thread_dbs[thread_dbs_count++] = thread_db;
            pthread_mutex_unlock(&thread_dbs_lock);
        }
    }
    return thread_db;
}

void db_thread_close(void)
{
    pthread_mutex_lock(&thread_dbs_lock);
    for (size_t i = 0; i < thread_dbs_count; i++) {
        if (thread_dbs[i] == thread_db) {
            thread_dbs[i] = thread_dbs[--thread_dbs_count];
            break;
        }
    }
    pthread_mutex_unlock(&thread_dbs_lock);
    db_close(thread_db);
    thread_db = NULL;
}

void db_close_all_threads(void)
{
    pthread_mutex_lock(&thread_dbs_lock);
    for (size_t i = 0; i < thread_dbs_count; i++)
        db_close(thread_dbs[i]);
    thread_dbs_count = 0;
    pthread_mutex_unlock(&thread_dbs_lock);
}

/* ---- statements ---- */

sqlite3_stmt *db_prep(db_t *db, const char *sql)
{
    size_t slot = ((uintptr_t)sql >> 3) % STMT_CACHE_SIZE;
    for (size_t probe = 0; probe < STMT_CACHE_SIZE; probe++) {
        size_t i = (slot + probe) % STMT_CACHE_SIZE;
        if (db->cache[i].sql == sql) {
            sqlite3_reset(db->cache[i].stmt);
            sqlite3_clear_bindings(db->cache[i].stmt);
            return db->cache[i].stmt;
        }
        if (!db->cache[i].sql) {
            sqlite3_stmt *stmt = NULL;
            if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
                ev_log("db: cannot prepare [%s]: %s", sql, sqlite3_errmsg(db->h));
                return NULL;
            }
            db->cache[i].sql = sql;
            db->cache[i].stmt = stmt;
            return stmt;
        }
    }
    /* Cache full: should not happen with a fixed set of literals; fail loudly. */
    ev_log("db: statement cache full");
    return NULL;
}

sqlite3_stmt *db_vbind(db_t *db, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *stmt = db_prep(db, sql);
    if (!stmt)
        return NULL;
    int idx = 1, rc = SQLITE_OK;
    for (const char *f = fmt; *f && rc == SQLITE_OK; f++, idx++) {
        switch (*f) {
        case 'i':
            rc = sqlite3_bind_int64(stmt, idx, va_arg(ap, int64_t));
            break;
        case 'z': { /* int64_t, where 0 means NULL (optional ids) */
            int64_t v = va_arg(ap, int64_t);
            rc = v ? sqlite3_bind_int64(stmt, idx, v) : sqlite3_bind_null(stmt, idx);
            break;
        }
        case 'I':
            rc = sqlite3_bind_int(stmt, idx, va_arg(ap, int));
            break;
        case 'd':
            rc = sqlite3_bind_double(stmt, idx, va_arg(ap, double));
            break;
        case 't': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, idx);
            break;
        }
        case 'n':
            rc = sqlite3_bind_null(stmt, idx);
            break;
        case 'j': {
            json_t *j = va_arg(ap, json_t *);
            if (!j) {
                rc = sqlite3_bind_null(stmt, idx);
                break;
            }
            char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = sqlite3_bind_text(stmt, idx, s ? s : "null", -1, SQLITE_TRANSIENT);
            free(s);
            break;
        }
        default:
            ev_log("db: bad bind format '%c' for [%s]", *f, sql);
            return NULL;
        }
    }
    if (rc != SQLITE_OK) {
        ev_log("db: bind failed for [%s]: %s", sql, sqlite3_errmsg(db->h));
        return NULL;
    }
    return stmt;
}

sqlite3_stmt *db_bind(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = db_vbind(db, sql, fmt, ap);
    va_end(ap);
    return stmt;
}

int db_run(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = db_vbind(db, sql, fmt, ap);
    va_end(ap);
    if (!stmt)
        return EV_ERR;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        ;
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        ev_log("db: [%s]: %s", sql, sqlite3_errmsg(db->h));
        return EV_ERR;
    }
    return EV_OK;
}

json_t *db_row_json(sqlite3_stmt *stmt)
{
    json_t *row = json_object();
    int n = sqlite3_column_count(stmt);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(stmt, i);
        size_t nl = strlen(name);
        json_t *v = NULL;
        switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
            v = json_integer(sqlite3_column_int64(stmt, i));
            break;
        case SQLITE_FLOAT:
            v = json_real(sqlite3_column_double(stmt, i));
            break;
        case SQLITE_TEXT: {
            const char *t = (const char *)sqlite3_column_text(stmt, i);
            size_t tl = (size_t)sqlite3_column_bytes(stmt, i);
            if (nl > 5 && strcmp(name + nl - 5, "_json") == 0) {
                v = json_loadb(t, tl, JSON_DECODE_ANY, NULL);
                char key[128];
                snprintf(key, sizeof key, "%.*s", (int)(nl - 5), name);
                json_object_set_new(row, key, v ? v : json_null());
                continue;
            }
            v = json_stringn_nocheck(t, tl);
            break;
        }
        case SQLITE_NULL:
            v = json_null();
            break;
        default: /* blobs are never exposed */
            continue;
        }
        json_object_set_new(row, name, v);
    }
    return row;
}

json_t *db_all(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = db_vbind(db, sql, fmt, ap);
    va_end(ap);
    if (!stmt)
        return NULL;
    json_t *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        json_array_append_new(rows, db_row_json(stmt));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        ev_log("db: [%s]: %s", sql, sqlite3_errmsg(db->h));
        json_decref(rows);
        return NULL;
    }
    return rows;
}

json_t *db_one(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = db_vbind(db, sql, fmt, ap);
    va_end(ap);
    if (!stmt)
        return NULL;
    json_t *row = NULL;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        row = db_row_json(stmt);
    else if (rc != SQLITE_DONE)
        ev_log("db: [%s]: %s", sql, sqlite3_errmsg(db->h));
    sqlite3_reset(stmt);
    return row;
}

int64_t db_int(db_t *db, const char *sql, int64_t dflt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = db_vbind(db, sql, fmt, ap);
    va_end(ap);
    if (!stmt)
        return dflt;
    int64_t v = dflt;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(stmt, 0);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ev_log("db: [%s]: %s", sql, sqlite3_errmsg(db->h));
    sqlite3_reset(stmt);
    return v;
}

char *db_text(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *stmt = db_vbind(db, sql, fmt, ap);
    va_end(ap);
    if (!stmt)
        return NULL;
    char *v = NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        v = xstrdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_reset(stmt);
    return v;
}

int64_t db_last_id(db_t *db)
{
    return sqlite3_last_insert_rowid(db->h);
}

int db_changes(db_t *db)
{
    return sqlite3_changes(db->h);
}

int db_begin(db_t *db)
{
    return db_exec(db, "BEGIN IMMEDIATE");
}

int db_commit(db_t *db)
{
    if (db_exec(db, "COMMIT") != EV_OK) {
        db_exec(db, "ROLLBACK");
        return EV_ERR;
    }
    return EV_OK;
}

int db_rollback(db_t *db)
{
    if (sqlite3_get_autocommit(db->h))
        return EV_OK; /* nothing open */
    return db_exec(db, "ROLLBACK");
}

int db_backup(db_t *db, const char *out, char *err, size_t errlen)
{
    sqlite3 *dest = NULL;
    int result = EV_ERR;
    if (sqlite3_open(out, &dest) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", out, sqlite3_errmsg(dest));
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(dest, "main", db->h, "main");
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
