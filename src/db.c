/* db.c: the engine-neutral data layer: engine choice, the statement cache, binding, the row cursor, helpers, migrations */
#include "db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_engine.h"

#define STMT_CACHE_SIZE 512 /* open-addressed by the SQL text's address */

struct db_stmt {
    db_t *db;
    void *impl;      /* the engine's statement */
    const char *sql; /* the cache key */
};

struct db {
    const db_ops_t *ops;
    void *conn;
    char *target;
    int conflict;     /* a serialization failure or deadlock since db_retry_clear */
    uint64_t commits; /* successful COMMITs */
    struct {
        const char *sql;
        db_stmt_t *st;
    } cache[STMT_CACHE_SIZE];
};

int db_target_is_pg(const char *target)
{
    return target && (strncmp(target, "postgres://", 11) == 0 || strncmp(target, "postgresql://", 13) == 0);
}

db_t *db_open(const char *target)
{
    const db_ops_t *ops = db_target_is_pg(target) ? &db_pg_ops : &db_sqlite_ops;
    char err[512] = "";
    void *conn = ops->open(target, err, sizeof err);
    if (!conn) {
        ev_log("db: cannot open %s database: %s", ops->name, err);
        return NULL;
    }
    db_t *db = xcalloc(1, sizeof *db);
    db->ops = ops;
    db->conn = conn;
    db->target = xstrdup(target);
    return db;
}

void db_close(db_t *db)
{
    if (!db)
        return;
    for (int i = 0; i < STMT_CACHE_SIZE; i++) {
        if (db->cache[i].st) {
            db->ops->finalize(db->cache[i].st->impl);
            free(db->cache[i].st);
        }
    }
    db->ops->close(db->conn);
    free(db->target);
    free(db);
}

const char *db_engine(db_t *db)
{
    return db->ops->name;
}

int db_is_pg(db_t *db)
{
    return db->ops == &db_pg_ops;
}

const char *db_errmsg(db_t *db)
{
    return db->ops->errmsg(db->conn);
}

/* After a failed statement: remembers a serialization failure or deadlock. */
static void note_failure(db_t *db)
{
    const char *s = db->ops->sqlstate(db->conn);
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
        db->conflict = 1;
}

int db_retryable(db_t *db)
{
    return db->conflict;
}

void db_retry_clear(db_t *db)
{
    db->conflict = 0;
}

uint64_t db_commit_count(db_t *db)
{
    return db->commits;
}

int db_exec(db_t *db, const char *sql)
{
    int rc = db->ops->exec(db->conn, sql);
    if (rc != EV_OK)
        note_failure(db);
    return rc;
}

/* ---- statements and the row cursor ---- */

/* The cached statement for sql, reset; NULL (logged) when it does not compile. */
static db_stmt_t *prep(db_t *db, const char *sql)
{
    size_t slot = ((uintptr_t)sql >> 3) % STMT_CACHE_SIZE;
    for (size_t probe = 0; probe < STMT_CACHE_SIZE; probe++) {
        size_t i = (slot + probe) % STMT_CACHE_SIZE;
        if (db->cache[i].sql == sql) {
            db->ops->reset(db->cache[i].st->impl);
            return db->cache[i].st;
        }
        if (!db->cache[i].sql) {
            void *impl = db->ops->prepare(db->conn, sql);
            if (!impl)
                return NULL;
            db_stmt_t *st = xcalloc(1, sizeof *st);
            st->db = db;
            st->impl = impl;
            st->sql = sql;
            db->cache[i].sql = sql;
            db->cache[i].st = st;
            return st;
        }
    }
    /* Cache full: should not happen with a fixed set of literals; fail loudly. */
    ev_log("db: statement cache full");
    return NULL;
}

db_stmt_t *db_vquery(db_t *db, const char *sql, const char *fmt, va_list ap)
{
    db_stmt_t *st = prep(db, sql);
    if (!st)
        return NULL;
    const db_ops_t *o = db->ops;
    void *s = st->impl;
    int idx = 1, rc = EV_OK;
    for (const char *f = fmt; *f && rc == EV_OK; f++, idx++) {
        switch (*f) {
        case 'i':
            rc = o->bind_int(s, idx, va_arg(ap, int64_t));
            break;
        case 'z': { /* int64_t, where 0 means NULL (optional ids) */
            int64_t v = va_arg(ap, int64_t);
            rc = v ? o->bind_int(s, idx, v) : o->bind_null(s, idx);
            break;
        }
        case 'I':
            rc = o->bind_int(s, idx, va_arg(ap, int));
            break;
        case 'd':
            rc = o->bind_double(s, idx, va_arg(ap, double));
            break;
        case 't': {
            const char *t = va_arg(ap, const char *);
            rc = t ? o->bind_text(s, idx, t) : o->bind_null(s, idx);
            break;
        }
        case 'n':
            rc = o->bind_null(s, idx);
            break;
        case 'j': {
            json_t *j = va_arg(ap, json_t *);
            if (!j) {
                rc = o->bind_null(s, idx);
                break;
            }
            char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = o->bind_text(s, idx, t ? t : "null");
            free(t);
            break;
        }
        default:
            ev_log("db: bad bind format '%c' for [%s]", *f, sql);
            return NULL;
        }
    }
    if (rc != EV_OK) {
        ev_log("db: bind failed for [%s]: %s", sql, db_errmsg(db));
        o->reset(s);
        return NULL;
    }
    return st;
}

db_stmt_t *db_query(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    return st;
}

int db_next(db_stmt_t *st)
{
    if (!st)
        return -1;
    int rc = st->db->ops->step(st->impl);
    if (rc < 0)
        note_failure(st->db);
    return rc;
}

int db_col_count(db_stmt_t *st)
{
    return st->db->ops->col_count(st->impl);
}

const char *db_col_name(db_stmt_t *st, int i)
{
    return st->db->ops->col_name(st->impl, i);
}

int db_col_is_null(db_stmt_t *st, int i)
{
    return st->db->ops->col_type(st->impl, i) == DB_T_NULL;
}

int64_t db_col_int(db_stmt_t *st, int i)
{
    return st->db->ops->col_int(st->impl, i);
}

double db_col_double(db_stmt_t *st, int i)
{
    return st->db->ops->col_double(st->impl, i);
}

const char *db_col_text(db_stmt_t *st, int i)
{
    return st->db->ops->col_text(st->impl, i, NULL);
}

void db_stmt_done(db_stmt_t *st)
{
    if (st)
        st->db->ops->reset(st->impl);
}

json_t *db_row_json(db_stmt_t *st)
{
    const db_ops_t *o = st->db->ops;
    json_t *row = json_object();
    int n = o->col_count(st->impl);
    for (int i = 0; i < n; i++) {
        const char *name = o->col_name(st->impl, i);
        size_t nl = strlen(name);
        json_t *v = NULL;
        switch (o->col_type(st->impl, i)) {
        case DB_T_INT:
            v = json_integer(o->col_int(st->impl, i));
            break;
        case DB_T_REAL:
            v = json_real(o->col_double(st->impl, i));
            break;
        case DB_T_TEXT: {
            size_t tl = 0;
            const char *t = o->col_text(st->impl, i, &tl);
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
        case DB_T_NULL:
            v = json_null();
            break;
        default: /* blobs are never exposed */
            continue;
        }
        json_object_set_new(row, name, v);
    }
    return row;
}

db_stmt_t *db_prepare_dynamic(db_t *db, const char *sql)
{
    void *impl = db->ops->prepare(db->conn, sql);
    if (!impl)
        return NULL;
    db_stmt_t *st = xcalloc(1, sizeof *st);
    st->db = db;
    st->impl = impl;
    return st;
}

int db_bind_int(db_stmt_t *st, int idx, int64_t v)
{
    return st->db->ops->bind_int(st->impl, idx, v);
}

int db_bind_double(db_stmt_t *st, int idx, double v)
{
    return st->db->ops->bind_double(st->impl, idx, v);
}

int db_bind_text(db_stmt_t *st, int idx, const char *s)
{
    return s ? st->db->ops->bind_text(st->impl, idx, s) : st->db->ops->bind_null(st->impl, idx);
}

int db_bind_null(db_stmt_t *st, int idx)
{
    return st->db->ops->bind_null(st->impl, idx);
}

void db_stmt_free(db_stmt_t *st)
{
    if (!st)
        return;
    st->db->ops->finalize(st->impl);
    free(st);
}

int db_col_type(db_stmt_t *st, int i)
{
    return st->db->ops->col_type(st->impl, i);
}

json_t *db_tables(db_t *db)
{
    json_t *rows = db_is_pg(db)
        ? db_all(db, "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname <> 'schema_version'"
                     " ORDER BY c.oid", "")
        : db_all(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_version'"
                     " AND name NOT LIKE 'sqlite_%' ORDER BY rowid", "");
    if (!rows)
        return NULL;
    json_t *names = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
        json_array_append(names, json_object_get(r, "name"));
    json_decref(rows);
    return names;
}

/* ---- helpers ---- */

int db_run(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return EV_ERR;
    int rc;
    while ((rc = db_next(st)) == 1)
        ;
    db_stmt_done(st);
    return rc == 0 ? EV_OK : EV_ERR;
}

json_t *db_all(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return NULL;
    json_t *rows = json_array();
    int rc;
    while ((rc = db_next(st)) == 1)
        json_array_append_new(rows, db_row_json(st));
    db_stmt_done(st);
    if (rc != 0) {
        json_decref(rows);
        return NULL;
    }
    return rows;
}

json_t *db_one(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return NULL;
    json_t *row = NULL;
    if (db_next(st) == 1)
        row = db_row_json(st);
    db_stmt_done(st);
    return row;
}

int64_t db_int(db_t *db, const char *sql, int64_t dflt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return dflt;
    int64_t v = dflt;
    if (db_next(st) == 1 && !db_col_is_null(st, 0))
        v = db_col_int(st, 0);
    db_stmt_done(st);
    return v;
}

char *db_text(db_t *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    db_stmt_t *st = db_vquery(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return NULL;
    char *v = NULL;
    if (db_next(st) == 1 && !db_col_is_null(st, 0))
        v = xstrdup(db_col_text(st, 0));
    db_stmt_done(st);
    return v;
}

int db_changes(db_t *db)
{
    return db->ops->changes(db->conn);
}

int db_begin(db_t *db)
{
    return db_exec(db, db->ops->begin_sql);
}

int db_commit(db_t *db)
{
    if (db_exec(db, "COMMIT") != EV_OK) {
        if (db_in_transaction(db))
            db_exec(db, "ROLLBACK");
        return EV_ERR;
    }
    db->commits++;
    return EV_OK;
}

int db_rollback(db_t *db)
{
    if (!db_in_transaction(db))
        return EV_OK; /* nothing open */
    return db_exec(db, "ROLLBACK");
}

int db_lock_xact(db_t *db, int64_t key)
{
    if (!db_is_pg(db))
        return EV_OK;
    return db_int(db, "SELECT 1 FROM (SELECT pg_advisory_xact_lock(?)) AS locked", 0, "i", key) == 1 ? EV_OK : EV_ERR;
}

char *db_table_writers(db_t *db, const char *table)
{
    if (!db_is_pg(db))
        return xstrdup("");
    return db_text(db,
                   "SELECT COALESCE(string_agg(virtualtransaction, ','), '') FROM pg_locks WHERE locktype = 'relation'"
                   " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                   " AND relation = CAST(? AS regclass) AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()",
                   "t", table);
}

int64_t db_xacts_running(db_t *db, const char *writers)
{
    if (!db_is_pg(db) || !writers || !*writers)
        return 0;
    /* every transaction holds the lock on its own virtual transaction id until it ends */
    return db_int(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'virtualxid'"
                      " AND virtualxid = ANY(string_to_array(?, ','))", -1, "t", writers);
}

int64_t db_id_last_issued(db_t *db, const char *table)
{
    if (db_is_pg(db))
        /* NULL before the sequence's first nextval (or after setval(..., false)): nothing
         * beyond what the table already held was handed out, which 0 understates safely. */
        return db_int(db,
                      "SELECT COALESCE(pg_sequence_last_value(CAST(pg_get_serial_sequence(?, 'id') AS regclass)), 0)",
                      -1, "t", table);
    for (const char *c = table; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_'))
            return -1; /* a name of our schema only: it is spliced into the SQL */
    char *sql = fmtalloc("SELECT COALESCE(MAX(id), 0) FROM %s", table);
    db_stmt_t *st = db_prepare_dynamic(db, sql);
    int64_t v = st && db_next(st) == 1 ? db_col_int(st, 0) : -1;
    db_stmt_free(st);
    free(sql);
    return v;
}

int db_try_lock_session(db_t *db, int64_t key)
{
    if (!db_is_pg(db))
        return 1;
    return (int)db_int(db, "SELECT CASE WHEN pg_try_advisory_lock(?) THEN 1 ELSE 0 END", -1, "i", key);
}

void db_unlock_session(db_t *db, int64_t key)
{
    if (db_is_pg(db))
        db_int(db, "SELECT CASE WHEN pg_advisory_unlock(?) THEN 1 ELSE 0 END", -1, "i", key);
}

int db_alive(db_t *db)
{
    return db->ops->alive(db->conn);
}

int db_in_transaction(db_t *db)
{
    return db->ops->in_transaction(db->conn);
}

int db_table_exists(db_t *db, const char *table)
{
    if (db_is_pg(db))
        return db_int(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                          " AND table_name = ?", 0, "t", table) > 0;
    return db_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", 0, "t", table) > 0;
}

int db_backup(db_t *db, const char *out, char *err, size_t errlen)
{
    return db->ops->backup(db->conn, db->target, out, err, errlen);
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

/* Applies migration m in its own transaction and records it. */
static int apply_one(db_t *db, const db_migration_t *m, char *err, size_t errlen)
{
    int result = EV_ERR;
    char now[21];
    util_now_iso(now);
    char *sql = db->ops->migration_sql(m);
    if (!sql) {
        snprintf(err, errlen, "migration %s has no %s form", m->name, db->ops->name);
        return EV_ERR;
    }
    if (db_begin(db) != EV_OK)
        goto fail;
    if (db_exec(db, sql) != EV_OK ||
        db_run(db, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)", "Itt",
               migration_number(m), m->name, now) != EV_OK) {
        snprintf(err, errlen, "migration %s failed: %s", m->name, db_errmsg(db));
        db_rollback(db);
        goto out;
    }
    if (db_commit(db) != EV_OK)
        goto fail;
    result = EV_OK;
    goto out;
fail:
    snprintf(err, errlen, "migration %s failed: %s", m->name, db_errmsg(db));
out:
    free(sql);
    return result;
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
    /* db_migrations is in file-name order (CMake sorts it), so numbers ascend;
     * every one not yet recorded applies, even below the newest recorded (files
     * landed out of number order). */
    for (const db_migration_t *m = db_migrations; m->name; m++) {
        if (db_int(db, "SELECT count(*) FROM schema_version WHERE version = ?", 0, "I", migration_number(m)) > 0)
            continue;
        if (apply_one(db, m, err, errlen) != EV_OK)
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

void db_set_thread_path(const char *target)
{
    thread_db_path = target;
}

db_t *db_thread(void)
{
    if (thread_db && !db_alive(thread_db)) {
        /* The server went away (a restart, a failover to the standby): the requests that
         * met it have failed; this one starts on a new connection. */
        ev_log("db: the connection was lost; reconnecting");
        db_thread_close();
    }
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
