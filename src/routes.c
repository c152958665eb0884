/* routes.c: the list of every module's route table, in the order they are matched */
#include "router.h"

#include "centre.h"
#include "export.h"
#include "progress.h"

const route_t *const router_tables[] = {
    core_routes,
    progress_routes,
    centre_routes,
    export_routes,
    NULL,
};
