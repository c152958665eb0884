/* demo.c: `serve --demo`: seeds a living demo centre into an empty database */
#include "demo.h"

#include <stdio.h>

#include "eqa.h"
#include "apprenticeships.h"
#include "progress.h"
#include "qualifications.h"
#include "users.h"

int demo_seed(db_t *db, const app_t *app)
{
    (void)app;
    /* Each module seeds its part, in dependency order: qualifications, then
     * accounts and enrolments, then activity (evidence, decisions, samples). */
    if (db_int(db, "SELECT count(*) FROM users", 0, "") > 0) {
        printf("The database already has accounts: demo data not added.\n");
        return EV_OK;
    }
    if (qualifications_demo_seed(db) != EV_OK)
        return EV_ERR;
    if (users_demo_seed(db) != EV_OK)
        return EV_ERR;
    if (progress_demo_seed(db, app) != EV_OK)
        return EV_ERR;
    if (eqa_demo_seed(db) != EV_OK)
        return EV_ERR;
    if (apprenticeships_demo_seed(db) != EV_OK)
        return EV_ERR;
    return EV_OK;
}
