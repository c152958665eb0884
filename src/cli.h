/* cli.h: command-line parsing shared by the subcommands */
#ifndef EVITRACK_CLI_H
#define EVITRACK_CLI_H

#include "db.h"

/* If argv[*i] is --name VALUE or --name=VALUE, sets *value, advances *i past
 * it and returns 1. Returns -1 (after printing a one-line message) when the
 * value is missing, 0 when argv[*i] is another argument. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* 1 (and advances *i) if argv[*i] is the flag --name. */
int cli_flag(char **argv, int *i, const char *name);
/* Opens and migrates the database for a command; prints a one-line message
 * and returns NULL on failure. The caller closes it. */
db_t *cli_open_db(const char *path);
/* As cli_open_db, but a SQLite file that does not exist is refused (a message on
 * stderr, NULL) instead of created: for commands that act on a centre's existing
 * data (gc, export), where a new empty database would read as "nothing is used". */
db_t *cli_open_existing_db(const char *path);
struct storage;
/* Opens the evidence store for a command: spec is --store (NULL: the default,
 * data_dir itself), creds_file --store-credentials (NULL: the environment).
 * Prints a one-line message and returns NULL on failure; storage_close frees. */
struct storage *cli_open_store(const char *spec, const char *creds_file, const char *data_dir);
/* Both of the above for a command acting on a centre's existing data and files (gc,
 * export, store verify): EV_OK with *db and *store set (the caller closes both), or
 * EV_ERR with both NULL after a one-line message. */
int cli_open_centre(const char *db_path, const char *store_spec, const char *creds_file, const char *data_dir,
                    db_t **db, struct storage **store);
/* Prints "evitrack: message" to stderr and returns 2 (bad usage). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
