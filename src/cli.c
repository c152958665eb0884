/* cli.c: command-line parsing shared by the subcommands */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "storage.h"

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
        return 0;
    if (a[2 + n] == '=') {
        *value = a + 3 + n;
        (*i)++;
        return 1;
    }
    if (a[2 + n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "evitrack: --%s needs a value\n", name);
        return -1;
    }
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

int cli_flag(char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) == 0 && strcmp(a + 2, name) == 0) {
        (*i)++;
        return 1;
    }
    return 0;
}

db_t *cli_open_db(const char *path)
{
    db_t *db = db_open(path);
    if (!db) {
        fprintf(stderr, "evitrack: cannot open the database %s\n", path);
        return NULL;
    }
    char err[300];
    if (db_migrate(db, err, sizeof err) != EV_OK) {
        fprintf(stderr, "evitrack: %s\n", err);
        db_close(db);
        return NULL;
    }
    return db;
}

db_t *cli_open_existing_db(const char *path)
{
    struct stat sb;
    if (!db_target_is_pg(path) && stat(path, &sb) != 0) {
        fprintf(stderr, "evitrack: there is no database at %s: give --db the centre's database\n", path);
        return NULL;
    }
    return cli_open_db(path);
}

struct storage *cli_open_store(const char *spec, const char *creds_file, const char *data_dir)
{
    char err[400] = "";
    storage_t *s = storage_open(spec, creds_file, data_dir, err, sizeof err);
    if (!s)
        fprintf(stderr, "evitrack: %s\n", err);
    return s;
}

int cli_open_centre(const char *db_path, const char *store_spec, const char *creds_file, const char *data_dir,
                    db_t **db, struct storage **store)
{
    *db = NULL;
    *store = cli_open_store(store_spec, creds_file, data_dir);
    if (!*store)
        return EV_ERR;
    *db = cli_open_existing_db(db_path);
    if (!*db) {
        storage_close(*store);
        *store = NULL;
        return EV_ERR;
    }
    return EV_OK;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("evitrack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return 2;
}
