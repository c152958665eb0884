/* db_pg.c: the PostgreSQL engine beneath db.c (libpq): '?' -> $n, per-connection prepared statements, typed results, migrations, pg_dump */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_engine.h"
#include "db_pg_ddl.h"

/* PostgreSQL type oids (pg_type.h is server-side; these are fixed). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26,
       OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700 };


typedef struct pg_conn {
    PGconn *c;
    int changes;        /* rows changed by the last command */
    unsigned next_name; /* prepared statements are named s1, s2, ... per connection */
    char sqlstate[6];   /* of the last error ("" when the last command succeeded) */
} pg_conn_t;

typedef struct pg_stmt {
    pg_conn_t *pc;
    char name[16];
    char *sql; /* the translated text, for messages */
    int nparams;
    char **vals; /* bound values as text; NULL binds NULL */
    PGresult *res;
    int ran, row, nrows;
} pg_stmt_t;

static int pg_alive(void *conn)
{
    return PQstatus(((pg_conn_t *)conn)->c) == CONNECTION_OK;
}

static const char *pg_errmsg(void *conn);

static void *pg_open(const char *target, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(target);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
        PQfinish(c);
        return NULL;
    }
    /* Quiet NOTICEs (CREATE ... IF NOT EXISTS); UTC; no statement runs away. */
    PGresult *r = PQexec(c, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    PQclear(r);
    pg_conn_t *pc = xcalloc(1, sizeof *pc);
    pc->c = c;
    return pc;
}

static void pg_close(void *conn)
{
    pg_conn_t *pc = conn;
    if (!pc)
        return;
    PQfinish(pc->c);
    free(pc);
}

/* Keeps the SQLSTATE of a failed result (serialization failures are retried by callers). */
static void note_state(pg_conn_t *pc, const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(pc->sqlstate, sizeof pc->sqlstate, "%s", s ? s : "");
}

/* '?' -> $1, $2, ... outside string literals, quoted identifiers and comments.
 * Returns a new string (caller frees); *n gets the number of parameters and
 * untyped[k] is set for a parameter written "? IS [NOT] NULL" (nothing else in
 * the statement gives PostgreSQL its type, so it is declared text). */
static char *translate(const char *sql, int *n, unsigned char *untyped, int maxp)
{
    size_t len = strlen(sql);
    char *out = xmalloc(len * 4 + 1);
    size_t o = 0;
    int k = 0, seq = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            out[o++] = *p++;
            while (*p && !(*p == q && p[1] != q)) {
                if (*p == q) /* doubled quote */
                    out[o++] = *p++;
                out[o++] = *p++;
            }
            if (!*p)
                break;
            out[o++] = *p;
        } else if (*p == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                out[o++] = *p++;
            if (!*p)
                break;
            out[o++] = *p;
        } else if (*p == '?') {
            int num;
            if (p[1] >= '0' && p[1] <= '9') { /* ?NNN: SQLite's numbered parameter */
                num = (int)strtol(p + 1, (char **)&p, 10);
                p--;
            } else {
                num = ++seq;
            }
            if (num > k)
                k = num;
            o += (size_t)sprintf(out + o, "$%d", num);
            const char *s = p + 1;
            while (*s == ' ')
                s++;
            if (num >= 1 && num <= maxp && strncmp(s, "IS ", 3) == 0 &&
                (strncmp(s + 3, "NULL", 4) == 0 || strncmp(s + 3, "NOT NULL", 8) == 0))
                untyped[num - 1] = 1;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    *n = k;
    return out;
}

/* PQprepare, inside a savepoint when a transaction is open (a failed prepare
 * would otherwise abort the caller's transaction). */
static PGresult *prepare_safely(pg_conn_t *pc, const char *name, const char *sql, int n, const Oid *types)
{
    int in_tx = PQtransactionStatus(pc->c) == PQTRANS_INTRANS;
    if (in_tx)
        PQclear(PQexec(pc->c, "SAVEPOINT evitrack_prepare"));
    PGresult *r = PQprepare(pc->c, name, sql, n, types);
    if (in_tx) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            PQclear(PQexec(pc->c, "ROLLBACK TO SAVEPOINT evitrack_prepare"));
        PQclear(PQexec(pc->c, "RELEASE SAVEPOINT evitrack_prepare"));
    }
    return r;
}

static void *pg_prepare(void *conn, const char *sql)
{
    pg_conn_t *pc = conn;
    enum { MAXP = 256 };
    unsigned char untyped[MAXP] = {0};
    int n = 0;
    char *text = translate(sql, &n, untyped, MAXP);
    Oid *types = xcalloc((size_t)(n ? n : 1), sizeof *types);
    for (int i = 0; i < n && i < MAXP; i++)
        types[i] = untyped[i] ? OID_TEXT : 0;
    pg_stmt_t *st = xcalloc(1, sizeof *st);
    st->pc = pc;
    snprintf(st->name, sizeof st->name, "s%u", ++pc->next_name);
    PGresult *r = prepare_safely(pc, st->name, text, n, types);
    /* A parameter PostgreSQL cannot type from its context: declare it text and retry. */
    for (int tries = 0; tries < n && PQresultStatus(r) != PGRES_COMMAND_OK; tries++) {
        const char *msg = PQresultErrorMessage(r);
        const char *at = strstr(msg, "could not determine data type of parameter $");
        if (!at)
            break;
        int which = atoi(at + strlen("could not determine data type of parameter $"));
        if (which < 1 || which > n || types[which - 1] == OID_TEXT)
            break;
        types[which - 1] = OID_TEXT;
        PQclear(r);
        r = prepare_safely(pc, st->name, text, n, types);
    }
    free(types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        note_state(pc, r);
        ev_log("db: cannot prepare [%s]: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        free(text);
        free(st);
        return NULL;
    }
    PQclear(r);
    st->sql = text;
    st->nparams = n;
    st->vals = xcalloc((size_t)(n ? n : 1), sizeof *st->vals);
    return st;
}

static void pg_reset(void *stmt)
{
    pg_stmt_t *st = stmt;
    PQclear(st->res);
    st->res = NULL;
    st->ran = 0;
    st->row = -1;
    st->nrows = 0;
    for (int i = 0; i < st->nparams; i++) {
        free(st->vals[i]);
        st->vals[i] = NULL;
    }
}

static void pg_finalize(void *stmt)
{
    pg_stmt_t *st = stmt;
    if (!st)
        return;
    pg_reset(st);
    if (PQstatus(st->pc->c) == CONNECTION_OK && PQtransactionStatus(st->pc->c) == PQTRANS_IDLE) {
        char sql[32];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
        PQclear(PQexec(st->pc->c, sql));
    }
    free(st->vals);
    free(st->sql);
    free(st);
}

static int set_val(pg_stmt_t *st, int idx, char *v)
{
    if (idx < 1 || idx > st->nparams) {
        free(v);
        ev_log("db: parameter %d out of range for [%s]", idx, st->sql);
        return EV_ERR;
    }
    free(st->vals[idx - 1]);
    st->vals[idx - 1] = v;
    return EV_OK;
}

static int pg_bind_int(void *stmt, int idx, int64_t v)
{
    return set_val(stmt, idx, fmtalloc("%lld", (long long)v));
}

static int pg_bind_double(void *stmt, int idx, double v)
{
    return set_val(stmt, idx, fmtalloc("%.17g", v));
}

static int pg_bind_text(void *stmt, int idx, const char *s)
{
    return set_val(stmt, idx, xstrdup(s));
}

static int pg_bind_null(void *stmt, int idx)
{
    return set_val(stmt, idx, NULL);
}

static int pg_step(void *stmt)
{
    pg_stmt_t *st = stmt;
    if (!st->ran) {
        st->ran = 1;
        st->res = PQexecPrepared(st->pc->c, st->name, st->nparams, (const char *const *)st->vals, NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(st->res);
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
            note_state(st->pc, st->res);
            ev_log("db: [%s]: %s", st->sql, PQresultErrorMessage(st->res));
            return -1;
        }
        st->pc->sqlstate[0] = '\0';
        st->pc->changes = atoi(PQcmdTuples(st->res));
        st->nrows = s == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
        st->row = -1;
    }
    if (!st->res)
        return -1;
    if (st->row + 1 < st->nrows) {
        st->row++;
        return 1;
    }
    st->row = st->nrows;
    return 0;
}

static int pg_col_count(void *stmt)
{
    pg_stmt_t *st = stmt;
    return st->res ? PQnfields(st->res) : 0;
}

static const char *pg_col_name(void *stmt, int i)
{
    pg_stmt_t *st = stmt;
    const char *n = st->res ? PQfname(st->res, i) : NULL;
    return n ? n : "";
}

static int valid_row(const pg_stmt_t *st, int i)
{
    return st->res && st->row >= 0 && st->row < st->nrows && i >= 0 && i < PQnfields(st->res);
}

static int pg_col_type(void *stmt, int i)
{
    pg_stmt_t *st = stmt;
    if (!valid_row(st, i) || PQgetisnull(st->res, st->row, i))
        return DB_T_NULL;
    switch (PQftype(st->res, i)) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: case OID_BOOL:
        return DB_T_INT;
    case OID_FLOAT4: case OID_FLOAT8:
        return DB_T_REAL;
    case OID_NUMERIC: /* sum() of integers is numeric: whole values read as integers */
        return strpbrk(PQgetvalue(st->res, st->row, i), ".eEN") ? DB_T_REAL : DB_T_INT;
    default:
        return DB_T_TEXT;
    }
}

static int64_t pg_col_int(void *stmt, int i)
{
    pg_stmt_t *st = stmt;
    if (!valid_row(st, i) || PQgetisnull(st->res, st->row, i))
        return 0;
    const char *v = PQgetvalue(st->res, st->row, i);
    if (PQftype(st->res, i) == OID_BOOL)
        return v[0] == 't';
    if (PQftype(st->res, i) == OID_NUMERIC || PQftype(st->res, i) == OID_FLOAT4 || PQftype(st->res, i) == OID_FLOAT8)
        return (int64_t)strtod(v, NULL);
    return strtoll(v, NULL, 10);
}

static double pg_col_double(void *stmt, int i)
{
    pg_stmt_t *st = stmt;
    if (!valid_row(st, i) || PQgetisnull(st->res, st->row, i))
        return 0.0;
    const char *v = PQgetvalue(st->res, st->row, i);
    if (PQftype(st->res, i) == OID_BOOL)
        return v[0] == 't';
    return strtod(v, NULL);
}

static const char *pg_col_text(void *stmt, int i, size_t *len)
{
    pg_stmt_t *st = stmt;
    if (!valid_row(st, i) || PQgetisnull(st->res, st->row, i)) {
        if (len)
            *len = 0;
        return NULL;
    }
    const char *v = PQgetvalue(st->res, st->row, i);
    if (PQftype(st->res, i) == OID_BOOL)
        v = v[0] == 't' ? "1" : "0";
    if (len)
        *len = strlen(v);
    return v;
}

static int pg_exec(void *conn, const char *sql)
{
    pg_conn_t *pc = conn;
    PGresult *r = PQexec(pc->c, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = EV_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        note_state(pc, r);
        ev_log("db: %s", PQresultErrorMessage(r));
        rc = EV_ERR;
    } else {
        pc->sqlstate[0] = '\0';
        pc->changes = atoi(PQcmdTuples(r));
    }
    PQclear(r);
    return rc;
}

static int pg_changes(void *conn)
{
    return ((pg_conn_t *)conn)->changes;
}

static int pg_in_transaction(void *conn)
{
    PGTransactionStatusType t = PQtransactionStatus(((pg_conn_t *)conn)->c);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static const char *pg_errmsg(void *conn)
{
    return PQerrorMessage(((pg_conn_t *)conn)->c);
}

static const char *pg_sqlstate(void *conn)
{
    return ((pg_conn_t *)conn)->sqlstate;
}

/* Versions 1-6 have hand-written PostgreSQL files (schema/pg/, with the
 * triggers as PL/pgSQL); later ones are portable DDL translated here. */
static char *pg_migration_sql(const db_migration_t *m)
{
    int v = atoi(m->name);
    for (const db_migration_t *p = db_pg_migrations; p->name; p++)
        if (atoi(p->name) == v)
            return xstrdup(p->sql);
    char *sql = db_pg_translate_ddl(m->sql);
    if (!sql)
        ev_log("db: %s: its DDL is outside the portable subset", m->name);
    return sql;
}

/* pg_dump in its custom format (restore with pg_restore). */
static int pg_backup(void *conn, const char *target, const char *out, char *err, size_t errlen)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot start pg_dump");
        return EV_ERR;
    }
    if (pid == 0) {
        execlp("pg_dump", "pg_dump", "--format=custom", "--no-owner", "--file", out, "--dbname", target, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return EV_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(err, errlen, "pg_dump is not installed: install postgresql-client-15 and run "
                 "pg_dump --format=custom --file %s '%s'", out, target);
    else
        snprintf(err, errlen, "pg_dump failed (exit %d): run pg_dump --format=custom --file %s '<url>' "
                 "to see why", WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
    return EV_ERR;
}

const db_ops_t db_pg_ops = {
    .name = "postgresql",
    .begin_sql = "BEGIN",
    .open = pg_open,
    .close = pg_close,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .reset = pg_reset,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_count = pg_col_count,
    .col_name = pg_col_name,
    .col_type = pg_col_type,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .exec = pg_exec,
    .changes = pg_changes,
    .in_transaction = pg_in_transaction,
    .alive = pg_alive,
    .errmsg = pg_errmsg,
    .sqlstate = pg_sqlstate,
    .migration_sql = pg_migration_sql,
    .backup = pg_backup,
};
