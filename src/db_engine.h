/* db_engine.h: the operations table each database engine implements beneath db.c (internal to db*.c) */
#ifndef EVITRACK_DB_ENGINE_H
#define EVITRACK_DB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Column types the engines report (an engine maps its own types onto these). */
enum { DB_T_NULL = 0, DB_T_INT, DB_T_REAL, DB_T_TEXT, DB_T_OTHER };

/* One engine. conn and stmt are the engine's own handles, opaque to db.c.
 * Every function that returns int returns EV_OK/EV_ERR unless said otherwise;
 * errors are logged by the engine with the SQL that failed. */
typedef struct db_ops {
    const char *name;       /* "sqlite" or "postgresql", shown to users */
    const char *begin_sql;  /* the statement that opens a write transaction */
    /* Opens target (a path or a URL). NULL with a message in err on failure. */
    void *(*open)(const char *target, char *err, size_t errlen);
    void (*close)(void *conn);
    /* Compiles sql ('?' placeholders). NULL (logged) when it does not compile. */
    void *(*prepare)(void *conn, const char *sql);
    void (*finalize)(void *stmt);
    /* Ends any running execution and clears the bindings. */
    void (*reset)(void *stmt);
    int (*bind_int)(void *stmt, int idx, int64_t v);   /* idx is 1-based */
    int (*bind_double)(void *stmt, int idx, double v);
    int (*bind_text)(void *stmt, int idx, const char *s); /* copied */
    int (*bind_null)(void *stmt, int idx);
    /* Runs or advances: 1 a row is ready, 0 done, -1 error (logged). */
    int (*step)(void *stmt);
    int (*col_count)(void *stmt);
    const char *(*col_name)(void *stmt, int i);
    int (*col_type)(void *stmt, int i); /* DB_T_* */
    int64_t (*col_int)(void *stmt, int i);
    double (*col_double)(void *stmt, int i);
    /* Text of the column (NULL for SQL NULL), valid until the next step/reset;
     * *len gets its length in bytes when len is not NULL. */
    const char *(*col_text)(void *stmt, int i, size_t *len);
    int (*exec)(void *conn, const char *script);
    int (*changes)(void *conn);       /* rows changed by the last statement */
    int (*in_transaction)(void *conn); /* 1 inside BEGIN ... COMMIT */
    int (*alive)(void *conn);          /* 0 once the connection is lost (the server restarted, failed over) */
    const char *(*errmsg)(void *conn);
    /* The SQLSTATE of the last failure ("" after a success; SQLite maps busy to 40001). */
    const char *(*sqlstate)(void *conn);
    /* The SQL that migration m runs on this engine (caller frees), NULL when
     * there is none (logged). */
    char *(*migration_sql)(const db_migration_t *m);
    /* A consistent copy of the database to out. */
    int (*backup)(void *conn, const char *target, const char *out, char *err, size_t errlen);
} db_ops_t;

/* schema/pg/NNN_*.sql, embedded like db_migrations (ends with {0, 0}). */
extern const db_migration_t db_pg_migrations[];

extern const db_ops_t db_sqlite_ops;
extern const db_ops_t db_pg_ops;

#endif
