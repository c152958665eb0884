/* router.c: matching a method + path against the route tables */
#include "router.h"

#include <stdio.h>
#include <string.h>

/* Matches one pattern segment by segment; "{name}" matches a positive
 * integer of up to 18 digits (so it always fits int64_t). */
int router_pattern_match(const char *pattern, const char *path, int64_t params[4], int *nparams)
{
    const char *p = pattern, *s = path;
    int n = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                return 0;
            int64_t v = 0;
            int digits = 0;
            while (*s >= '0' && *s <= '9') {
                if (++digits > 18)
                    return 0;
                v = v * 10 + (*s - '0');
                s++;
            }
            if (digits == 0 || v <= 0 || (*s && *s != '/') || n >= 4)
                return 0;
            params[n++] = v;
            p = close + 1;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p || *s)
        return 0;
    *nparams = n;
    return 1;
}

enum router_result router_match(const route_t *const *tables, const char *method,
                                const char *path, const route_t **found,
                                int64_t params[4], int *nparams, char *allow, size_t allowlen)
{
    int path_known = 0;
    size_t used = 0;
    if (allow && allowlen)
        allow[0] = '\0';
    for (size_t t = 0; tables[t]; t++) {
        for (const route_t *r = tables[t]; r->method; r++) {
            int64_t tmp[4];
            int ntmp = 0;
            if (!router_pattern_match(r->pattern, path, tmp, &ntmp))
                continue;
            if (strcmp(r->method, method) == 0 ||
                (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
                *found = r;
                memcpy(params, tmp, sizeof tmp);
                *nparams = ntmp;
                return ROUTER_FOUND;
            }
            path_known = 1;
            if (allow && allowlen && !strstr(allow, r->method)) {
                int w = snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", r->method);
                if (w > 0 && (size_t)w < allowlen - used)
                    used += (size_t)w;
            }
        }
    }
    return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
