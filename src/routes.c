/* routes.c: the list of every module's route table, in the order they are matched */
#include "qualifications.h"
#include "router.h"
#include "users.h"

const route_t *const router_tables[] = {
    core_routes,
    qualifications_routes,
    users_routes,
    NULL,
};
