/* fields.h: the fields each state-changing route accepts, and refusing the rest */
#ifndef EVITRACK_FIELDS_H
#define EVITRACK_FIELDS_H

#include <jansson.h>
#include <stddef.h>

#include "http.h"

/* One route's accepted fields: method + pattern as in the route table, and a
 * space-separated list of field names; a name ending in '*' accepts any field
 * starting with what precedes it (form fields per criterion: "outcome_*"). */
typedef struct fields_decl {
    const char *method;
    const char *pattern;
    const char *fields;
} fields_decl_t;

/* Every module's declarations (fields.c), ended by an all-zero entry. */
extern const fields_decl_t fields_table[];

/* The declaration of route, or NULL when it has none. */
const fields_decl_t *fields_find(const route_t *route);

/* Checks the body fields of a request (body: the decoded JSON object or form
 * fields, before query arguments are merged; uploads: multipart file parts
 * [{field, ...}] or NULL) against route's declaration. Always accepted:
 * csrf_token and form_token (the page forms' CSRF and one-time fields). GET/HEAD and undeclared routes pass.
 * Returns 1 when every field is declared, else 0 with the first unknown
 * field's name in bad (bad gets at most badlen bytes). */
int fields_check(const route_t *route, const json_t *body, const json_t *uploads, char *bad, size_t badlen);

/* 1 when name is in the space-separated list (with '*' prefixes). */
int fields_listed(const char *list, const char *name);

#endif
