/* router.h: the route table and matching a method + path to a route */
#ifndef EVITRACK_ROUTER_H
#define EVITRACK_ROUTER_H

#include "http.h"

/* Each resource module exports its table, ended by an all-zero entry. */
extern const route_t core_routes[];

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/* Finds the route for method + path among the given tables (NULL-terminated),
 * filling params (up to 4 integers) and *nparams. On ROUTER_BAD_METHOD,
 * allow (if non-NULL) receives the methods the path does accept, comma-joined. */
enum router_result router_match(const route_t *const *tables, const char *method,
                                 const char *path, const route_t **found,
                                 int64_t params[4], int *nparams, char *allow, size_t allowlen);

/* Matches one pattern against a path: 1 and params filled, or 0. */
int router_pattern_match(const char *pattern, const char *path, int64_t params[4], int *nparams);

/* The tables of every module, as served (routes.c). */
extern const route_t *const router_tables[];

#endif
