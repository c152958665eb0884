/* dbcopy.c: `evitrack copy`: every row of every table from one database into an empty PostgreSQL one, then row counts and the audit chain checked on the target */
#include "dbcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "db.h"

/* Copies one table's rows (every column, by name) from src into dst inside
 * dst's open transaction. *copied gets the row count. EV_OK or EV_ERR (err). */
static int copy_table(db_t *src, db_t *dst, const char *table, int64_t *copied, char *err, size_t errlen)
{
    int result = EV_ERR;
    char *sel = fmtalloc("SELECT * FROM %s", table);
    char *ins = NULL;
    db_stmt_t *in = NULL, *out = db_prepare_dynamic(src, sel);
    *copied = 0;
    if (!out) {
        snprintf(err, errlen, "cannot read %s from the source: %s", table, db_errmsg(src));
        goto out;
    }
    int rc;
    while ((rc = db_next(out)) == 1) {
        int n = db_col_count(out);
        if (!in) { /* the INSERT, from the first row's column names */
            buf_t b = {0};
            buf_printf(&b, "INSERT INTO %s (", table);
            for (int i = 0; i < n; i++)
                buf_printf(&b, "%s%s", i ? ", " : "", db_col_name(out, i));
            buf_puts(&b, ") VALUES (");
            for (int i = 0; i < n; i++)
                buf_puts(&b, i ? ", ?" : "?");
            buf_puts(&b, ")");
            ins = buf_take(&b);
            in = db_prepare_dynamic(dst, ins);
            if (!in) {
                snprintf(err, errlen, "the target's %s does not take the source's columns: %s", table,
                         db_errmsg(dst));
                goto out;
            }
        }
        int bad = 0;
        for (int i = 0; i < n && !bad; i++) {
            switch (db_col_type(out, i)) {
            case 1: bad = db_bind_int(in, i + 1, db_col_int(out, i)) != EV_OK; break;
            case 2: bad = db_bind_double(in, i + 1, db_col_double(out, i)) != EV_OK; break;
            case 3: bad = db_bind_text(in, i + 1, db_col_text(out, i)) != EV_OK; break;
            default: bad = db_bind_null(in, i + 1) != EV_OK; break;
            }
        }
        if (bad || db_next(in) != 0) {
            snprintf(err, errlen, "cannot write a row of %s: %s", table, db_errmsg(dst));
            goto out;
        }
        db_stmt_done(in);
        (*copied)++;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s from the source: %s", table, db_errmsg(src));
        goto out;
    }
    result = EV_OK;
out:
    db_stmt_free(in);
    db_stmt_free(out);
    free(ins);
    free(sel);
    return result;
}

/* Rows in table (a name from db_tables), or -1. */
static int64_t count_rows(db_t *db, const char *table)
{
    char *sql = fmtalloc("SELECT count(*) FROM %s", table);
    db_stmt_t *st = db_prepare_dynamic(db, sql);
    int64_t n = st && db_next(st) == 1 ? db_col_int(st, 0) : -1;
    db_stmt_free(st);
    free(sql);
    return n;
}

/* The tables both databases hold as tables, in the source's creation order (a
 * table the target derives otherwise, e.g. as a view, is not copied). */
static json_t *common_tables(db_t *src, db_t *dst, int say)
{
    json_t *a = db_tables(src), *b = db_tables(dst), *out = NULL;
    if (a && b) {
        out = json_array();
        size_t i, j;
        json_t *t, *u;
        json_array_foreach(a, i, t) {
            int found = 0;
            json_array_foreach(b, j, u) found |= json_equal(t, u);
            if (found)
                json_array_append(out, t);
            else if (say)
                printf("  %-28s not a table on the target (derived there): not copied\n", json_string_value(t));
        }
    }
    json_decref(a);
    json_decref(b);
    return out;
}

/* The copy itself: both databases open and migrated. */
static int copy_all(db_t *src, db_t *dst, char *err, size_t errlen)
{
    int result = EV_ERR;
    json_t *tables = common_tables(src, dst, 1);
    if (!tables) {
        snprintf(err, errlen, "cannot list the tables");
        return EV_ERR;
    }
    size_t i;
    json_t *t;
    if (count_rows(dst, "users") != 0 || count_rows(dst, "audit_events") != 0) {
        snprintf(err, errlen, "the target already has accounts or an audit trail: copy only into a new database");
        goto out;
    }
    if (db_begin(dst) != EV_OK) {
        snprintf(err, errlen, "cannot start a transaction on the target");
        goto out;
    }
    /* Rows go in exactly as they are: the target's triggers (derived tables,
     * append-only rules) and foreign-key checks wait until the copy is whole
     * (replica mode is for the session and this transaction only). */
    if (db_exec(dst, "SET LOCAL session_replication_role = replica") != EV_OK) {
        snprintf(err, errlen, "the target refused replica mode (connect as the database owner or a superuser)");
        goto fail;
    }
    json_array_foreach(tables, i, t) {
        int64_t n = 0;
        /* rows the migrations seeded (counters, versions) give way to the source's */
        char *clear = fmtalloc("DELETE FROM %s", json_string_value(t));
        int cleared = db_exec(dst, clear);
        free(clear);
        if (cleared != EV_OK) {
            snprintf(err, errlen, "cannot prepare the target's %s: %s", json_string_value(t), db_errmsg(dst));
            goto fail;
        }
        if (copy_table(src, dst, json_string_value(t), &n, err, errlen) != EV_OK)
            goto fail;
        printf("  %-28s %lld rows\n", json_string_value(t), (long long)n);
    }
    /* identities continue after the copied ids (schema/pg/001_core.sql) */
    if (db_int(dst, "SELECT evitrack_sync_identities()", -1, "") < 0) {
        snprintf(err, errlen, "cannot move the target's id sequences past the copied rows");
        goto fail;
    }
    if (db_commit(dst) != EV_OK) {
        snprintf(err, errlen, "the target refused the commit: %s", db_errmsg(dst));
        goto out;
    }
    result = EV_OK;
    goto out;
fail:
    db_rollback(dst);
out:
    json_decref(tables);
    return result;
}

/* Row counts equal table by table, and the audit chain intact on the target. */
static int verify(db_t *src, db_t *dst, char *err, size_t errlen)
{
    json_t *tables = common_tables(src, dst, 0);
    int result = tables ? EV_OK : EV_ERR;
    size_t i;
    json_t *t;
    int64_t total = 0;
    json_array_foreach(tables, i, t) {
        int64_t a = count_rows(src, json_string_value(t)), b = count_rows(dst, json_string_value(t));
        if (a != b || a < 0) {
            snprintf(err, errlen, "%s has %lld rows in the source but %lld in the target", json_string_value(t),
                     (long long)a, (long long)b);
            result = EV_ERR;
            break;
        }
        total += a;
    }
    json_decref(tables);
    if (result != EV_OK)
        return result;
    int64_t events = 0, bad = 0;
    char reason[256] = "";
    if (audit_verify(dst, &events, &bad, reason, sizeof reason) != EV_OK) {
        snprintf(err, errlen, "the audit trail on the target does not verify: %s", reason);
        return EV_ERR;
    }
    printf("verified: %lld rows in every table match; audit trail intact: %lld events\n", (long long)total,
           (long long)events);
    return EV_OK;
}

int dbcopy_cli(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    for (int i = 0; i < argc;) {
        int got = cli_opt(argc, argv, &i, "from", &from);
        if (!got)
            got = cli_opt(argc, argv, &i, "to", &to);
        if (got < 0)
            return 2;
        if (!got)
            return cli_usage_error("copy: unknown argument %s (usage: copy --from DB --to postgres://...)", argv[i]);
    }
    if (!from || !to)
        return cli_usage_error("copy: name both databases (usage: copy --from DB --to postgres://...)");
    if (!db_target_is_pg(to))
        return cli_usage_error("copy: --to must be a PostgreSQL URL (postgres://...); to copy an SQLite "
                               "database use `evitrack backup`, and PostgreSQL to PostgreSQL pg_dump");
    db_t *src = cli_open_db(from), *dst = src ? cli_open_db(to) : NULL;
    int rc = 1;
    char err[512] = "";
    if (!src || !dst)
        goto out;
    printf("copying %s (%s) to %s\n", from, db_engine(src), to);
    if (copy_all(src, dst, err, sizeof err) != EV_OK || verify(src, dst, err, sizeof err) != EV_OK) {
        fprintf(stderr, "evitrack: copy: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    db_close(dst);
    db_close(src);
    return rc;
}
