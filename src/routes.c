/* routes.c: the list of every module's route table, in the order they are matched */
#include "router.h"

const route_t *const router_tables[] = {
    core_routes,
    NULL,
};
