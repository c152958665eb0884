/* db_pg.c: the PostgreSQL engine beneath db.c (libpq) */
#include <stdio.h>

#include "db_engine.h"

static void *pg_open(const char *target, char *err, size_t errlen)
{
    snprintf(err, errlen, "this evitrack was built without PostgreSQL support");
    return NULL;
}

const db_ops_t db_pg_ops = {
    .name = "postgresql",
    .begin_sql = "BEGIN",
    .open = pg_open,
};
