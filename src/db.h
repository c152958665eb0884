/* db.h: the data layer: connections (SQLite or PostgreSQL), migrations, the statement cache, the row cursor and query helpers */
#ifndef EVITRACK_DB_H
#define EVITRACK_DB_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One embedded migration: schema/NNN_name.sql, compiled in by CMake. */
typedef struct db_migration {
    const char *name;
    const char *sql;
} db_migration_t;
extern const db_migration_t db_migrations[]; /* ends with {0, 0} */

/* A connection with its prepared-statement cache. One per thread: never share. */
typedef struct db db_t;
/* A cached prepared statement with its current row (the row cursor). */
typedef struct db_stmt db_stmt_t;

/* Opens target and sets it up; the engine is chosen by the string:
 *   postgres://... or postgresql://...  PostgreSQL through libpq (the URL is libpq's);
 *   anything else                       an SQLite file (created if needed) with WAL,
 *                                       foreign keys, busy timeout and synchronous=FULL.
 * Returns NULL and logs on failure. The caller closes it with db_close(). */
db_t *db_open(const char *target);
void db_close(db_t *db); /* accepts NULL */
/* 1 when target names a PostgreSQL database (a postgres:// or postgresql:// URL). */
int db_target_is_pg(const char *target);
/* The engine's name for messages: "sqlite" or "postgresql". */
const char *db_engine(db_t *db);
int db_is_pg(db_t *db);
/* The engine's last error message (valid until the next call on db). */
const char *db_errmsg(db_t *db);
/* 1 when a statement on db failed with a serialization failure or deadlock
 * (SQLSTATE 40001/40P01; SQLite busy or locked) since the last db_retry_clear():
 * the transaction it was part of may be retried whole. */
int db_retryable(db_t *db);
/* Forgets such failures (before an attempt that may be retried). */
void db_retry_clear(db_t *db);
/* How many COMMITs have succeeded on db since it was opened: a retry is safe only
 * when none did during the attempt (nothing of it is kept). */
uint64_t db_commit_count(db_t *db);

/* Applies every embedded migration whose version is not yet recorded in
 * schema_version (so files landed out of number order still apply), each in
 * its own transaction, in number order. Refuses (EV_ERR, message in err) a
 * database whose version is newer than the program knows. err is a
 * caller-owned buffer. */
int db_migrate(db_t *db, char *err, size_t errlen);
/* The schema version the database is at (0 when empty). */
int db_version(db_t *db);
/* The newest version this program knows. */
int db_latest_version(void);

/* The connection of the calling worker thread, opened and migrated on first use
 * with the target given to db_set_thread_path(), and opened again when it was lost
 * (db_alive). Closed by db_thread_close(). */
void db_set_thread_path(const char *target);
db_t *db_thread(void);
void db_thread_close(void);
/* Closes every connection db_thread() opened in any thread; only once those
 * threads have stopped (the server calls it after libmicrohttpd stops). */
void db_close_all_threads(void);

/* Arguments are bound by a format string, one letter per '?':
 *   i int64_t, z int64_t binding NULL when 0 (optional ids), I int, d double, t const char * (NULL binds NULL),
 *   n NULL (no argument), j json_t * bound as its compact JSON text.
 * SQL must be portable between SQLite and PostgreSQL (see docs/architecture.md). */

/* Row cursor: the cached statement for sql (keyed by the sql pointer, so pass
 * string literals) with the arguments bound, ready for db_next(). NULL (logged)
 * when the SQL does not compile or a binding fails. Finish with db_stmt_done()
 * before the same SQL runs again; the statement stays owned by db. */
db_stmt_t *db_query(db_t *db, const char *sql, const char *fmt, ...);
db_stmt_t *db_vquery(db_t *db, const char *sql, const char *fmt, va_list ap);
/* Advances to the next row: 1 a row is ready, 0 no more rows, -1 error (logged). */
int db_next(db_stmt_t *st);
/* Columns of the current row (i from 0). NULL reads as 0 / 0.0 / NULL text.
 * Text stays valid until the next db_next/db_stmt_done. */
int db_col_count(db_stmt_t *st);
const char *db_col_name(db_stmt_t *st, int i);
int db_col_is_null(db_stmt_t *st, int i);
int64_t db_col_int(db_stmt_t *st, int i);
double db_col_double(db_stmt_t *st, int i);
const char *db_col_text(db_stmt_t *st, int i);
/* Ends the statement's run so it can be used again (accepts NULL). */
void db_stmt_done(db_stmt_t *st);
/* Converts the current row into a new JSON object keyed by column name
 * (integers, reals, text, null; columns named "x_json" parsed and stored as "x"). */
json_t *db_row_json(db_stmt_t *st);

/* Statements built at run time (tools such as `evitrack copy` that walk every
 * table): compiled uncached, bound one value at a time (idx from 1), run with
 * db_next, rewound with db_stmt_done, freed with db_stmt_free (accepts NULL). */
db_stmt_t *db_prepare_dynamic(db_t *db, const char *sql);
int db_bind_int(db_stmt_t *st, int idx, int64_t v);
int db_bind_double(db_stmt_t *st, int idx, double v);
int db_bind_text(db_stmt_t *st, int idx, const char *s);
int db_bind_null(db_stmt_t *st, int idx);
void db_stmt_free(db_stmt_t *st);
/* The column's type in the current row: 0 NULL, 1 integer, 2 real, 3 text, 4 other. */
int db_col_type(db_stmt_t *st, int i);
/* Every table of the application's schema, in creation order (a table comes after
 * those it references), as a new JSON array of names; schema_version and engine
 * tables left out. NULL on error. */
json_t *db_tables(db_t *db);

/* Runs a statement to completion. EV_OK, or EV_ERR (logged). */
int db_run(db_t *db, const char *sql, const char *fmt, ...);
/* All rows as a new JSON array of objects keyed by column name (caller owns).
 * Columns named "x_json" are parsed and stored as "x". NULL on error. */
json_t *db_all(db_t *db, const char *sql, const char *fmt, ...);
/* The first row as a new object, or NULL when there is none (or on error). */
json_t *db_one(db_t *db, const char *sql, const char *fmt, ...);
/* The first column of the first row as an integer; dflt when there is no row.
 * A new row's id: db_int(db, "INSERT ... RETURNING id", 0, fmt, ...). */
int64_t db_int(db_t *db, const char *sql, int64_t dflt, const char *fmt, ...);
/* The first column of the first row as a new string (caller frees), or NULL. */
char *db_text(db_t *db, const char *sql, const char *fmt, ...);

/* Rows changed by the last INSERT/UPDATE/DELETE run on db. */
int db_changes(db_t *db);

/* Write transactions: BEGIN IMMEDIATE (SQLite) or BEGIN (PostgreSQL) / COMMIT /
 * ROLLBACK. EV_OK or EV_ERR. */
int db_begin(db_t *db);
int db_commit(db_t *db);
int db_rollback(db_t *db);
/* Serialises the rest of the open transaction with every other transaction that
 * takes the same key, in every process on the database: PostgreSQL's
 * pg_advisory_xact_lock (released at COMMIT/ROLLBACK); nothing on SQLite, whose
 * write transactions are serial already (BEGIN IMMEDIATE). EV_OK or EV_ERR. */
int db_lock_xact(db_t *db, int64_t key);
/* ---- coordination between processes (PostgreSQL; trivial on SQLite, where one
 * write transaction at a time is the rule already) ---- */
/* The other transactions now writing to table: holding (or awaiting) the lock every
 * INSERT/UPDATE/DELETE takes on its target table until the transaction ends (PostgreSQL
 * pg_locks, RowExclusiveLock). A new string (caller frees) naming them by virtual
 * transaction id, comma-separated ("" when none); NULL on error. "" on SQLite. */
char *db_table_writers(db_t *db, const char *table);
/* How many of the transactions named in writers (as db_table_writers gave) are still
 * running; -1 on error. 0 on SQLite. */
int64_t db_xacts_running(db_t *db, const char *writers);
/* The largest id the table's id column has handed out so far, committed or not
 * (PostgreSQL: the identity sequence's last value, 0 before the first; SQLite: the
 * largest id in the table). -1 on error. table: a name of our schema (bound, not spliced). */
int64_t db_id_last_issued(db_t *db, const char *table);
/* A lock held by this connection (not its transaction) until db_unlock_session or
 * the connection ends, so a process that dies releases it (pg_try_advisory_lock).
 * 1 taken, 0 another session holds it, -1 error; always 1 on SQLite. */
int db_try_lock_session(db_t *db, int64_t key);
void db_unlock_session(db_t *db, int64_t key);
/* 0 once db's connection is lost (PostgreSQL restarted or failed over): close it and
 * open a new one. Always 1 on SQLite. */
int db_alive(db_t *db);
/* 1 while a transaction is open on db. */
int db_in_transaction(db_t *db);
/* 1 when a table of that name exists (in the connection's schema), else 0. */
int db_table_exists(db_t *db, const char *table);
/* Runs a script of statements (migrations, tests). */
int db_exec(db_t *db, const char *sql);

/* Consistent online copy of the database to out: the sqlite3 backup API for
 * SQLite; pg_dump (custom format) for PostgreSQL. */
int db_backup(db_t *db, const char *out, char *err, size_t errlen);

#endif
