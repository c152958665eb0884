/* db.h: SQLite connections, pragmas, migrations, the statement cache and query helpers */
#ifndef EVITRACK_DB_H
#define EVITRACK_DB_H

#include <jansson.h>
#include <sqlite3.h>
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

/* Opens (creating if needed) the database at path with WAL, foreign keys,
 * busy timeout and synchronous=FULL. Returns NULL and logs on failure.
 * The caller closes it with db_close(). */
db_t *db_open(const char *path);
void db_close(db_t *db); /* accepts NULL */
sqlite3 *db_handle(db_t *db);

/* Applies every embedded migration newer than the database's version, each in
 * its own transaction. Refuses (EV_ERR, message in err) a database whose
 * version is newer than the program knows. err is a caller-owned buffer. */
int db_migrate(db_t *db, char *err, size_t errlen);
/* The schema version the database is at (0 when empty). */
int db_version(db_t *db);
/* The newest version this program knows. */
int db_latest_version(void);

/* The connection of the calling worker thread, opened and migrated on first use
 * with the path given to db_set_thread_path(). Closed by db_thread_close(). */
void db_set_thread_path(const char *path);
db_t *db_thread(void);
void db_thread_close(void);
/* Closes every connection db_thread() opened in any thread; only once those
 * threads have stopped (the server calls it after libmicrohttpd stops). */
void db_close_all_threads(void);

/* Cached prepared statement for sql (keyed by the sql pointer, so pass string
 * literals). Returned reset with bindings cleared; do not finalize it.
 * NULL (logged) when the SQL does not compile. */
sqlite3_stmt *db_prep(db_t *db, const char *sql);

/* Binds arguments by a format string, one letter per '?':
 *   i int64_t, z int64_t binding NULL when 0 (optional ids), I int, d double, t const char * (NULL binds NULL),
 *   n NULL (no argument), j json_t * bound as its compact JSON text.
 * Returns the cached statement ready to step, or NULL on error. */
sqlite3_stmt *db_bind(db_t *db, const char *sql, const char *fmt, ...);
sqlite3_stmt *db_vbind(db_t *db, const char *sql, const char *fmt, va_list ap);

/* Runs a statement to completion. EV_OK, or EV_ERR (logged). */
int db_run(db_t *db, const char *sql, const char *fmt, ...);
/* All rows as a new JSON array of objects keyed by column name (caller owns).
 * Columns named "x_json" are parsed and stored as "x". NULL on error. */
json_t *db_all(db_t *db, const char *sql, const char *fmt, ...);
/* The first row as a new object, or NULL when there is none (or on error). */
json_t *db_one(db_t *db, const char *sql, const char *fmt, ...);
/* The first column of the first row as an integer; dflt when there is no row. */
int64_t db_int(db_t *db, const char *sql, int64_t dflt, const char *fmt, ...);
/* The first column of the first row as a new string (caller frees), or NULL. */
char *db_text(db_t *db, const char *sql, const char *fmt, ...);
/* Converts the current row of stmt into a new JSON object. */
json_t *db_row_json(sqlite3_stmt *stmt);

int64_t db_last_id(db_t *db);
int db_changes(db_t *db);

/* Write transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. EV_OK or EV_ERR. */
int db_begin(db_t *db);
int db_commit(db_t *db);
int db_rollback(db_t *db);
/* Runs a script of statements (migrations, tests). */
int db_exec(db_t *db, const char *sql);

/* Consistent online copy of the database to out (sqlite3 backup API). */
int db_backup(db_t *db, const char *out, char *err, size_t errlen);

#endif
