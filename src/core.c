/* core.c: the routes every deployment has: health check and the API description */
#include <string.h>

#include "embed.h"
#include "router.h"

const embedded_file_t *embed_find(const embedded_file_t *table, const char *name)
{
    for (const embedded_file_t *f = table; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

/* GET /healthz: 200 {"status":"ok"} when the database answers, else 503. */
static int healthz(req_t *r)
{
    if (db_int(r->db, "SELECT 1", 0, "") != 1)
        return http_fail(r, 503, "database_unavailable", "The database is not answering.");
    http_set_out(r, json_pack("{s:s}", "status", "ok"));
    return 200;
}

/* GET /api/v1/openapi.json: the OpenAPI 3 description of this API. */
static int openapi(req_t *r)
{
    const embedded_file_t *f = embed_find(embedded_docs, "openapi.json");
    if (!f)
        return http_fail(r, 404, "not_found", "No API description is built in.");
    http_send_buffer(r, xstrndup(f->data, f->size), f->size, "application/json", NULL);
    return 200;
}

const route_t core_routes[] = {
    {"GET", "/healthz", healthz, 0, NULL, ROUTE_JSON},
    {"GET", "/api/v1/openapi.json", openapi, 0, NULL, 0},
    {0},
};
