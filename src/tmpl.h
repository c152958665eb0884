/* tmpl.h: Mustache templates over jansson values, compiled once and rendered into buffers */
#ifndef EVITRACK_TMPL_H
#define EVITRACK_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

typedef struct tmpl tmpl_t;

/* Finds a partial or parent template by name; NULL renders as empty. */
typedef const tmpl_t *(*tmpl_lookup_fn)(void *ctx, const char *name);

/* Compiles template source. name is used in error messages. On a syntax error
 * returns NULL and writes "name:line:col: message" into err. Caller frees
 * with tmpl_free. */
tmpl_t *tmpl_compile(const char *name, const char *src, size_t len, char *err, size_t errlen);
void tmpl_free(tmpl_t *t); /* accepts NULL */

/* Renders t against data, appending to out. Partials/parents come from lookup
 * (may be NULL). EV_OK, or EV_ERR with a message in err. */
int tmpl_render(const tmpl_t *t, json_t *data, tmpl_lookup_fn lookup, void *ctx,
                buf_t *out, char *err, size_t errlen);

/* A set of named templates loaded from a directory (every NAME.mustache). */
typedef struct tmpl_set tmpl_set_t;
/* Loads and compiles all templates in dir; NULL with the first error in err.
 * dev: check files' modification times before each render and recompile. */
tmpl_set_t *tmpl_set_load(const char *dir, int dev, char *err, size_t errlen);
void tmpl_set_free(tmpl_set_t *s);
/* Renders template `name` of the set (partials and parents from the set).
 * Thread-safe. EV_OK, or EV_ERR with a message in err. */
int tmpl_set_render(tmpl_set_t *s, const char *name, json_t *data, buf_t *out,
                    char *err, size_t errlen);
int tmpl_set_has(tmpl_set_t *s, const char *name);

/* HTML-escapes & < > " ' (and `=` for attribute safety is not needed). */
void html_escape(buf_t *out, const char *s, size_t len);

/* The `evitrack render` command: argv after "render". Returns the exit code. */
int tmpl_cli_render(int argc, char **argv);

#endif
