/* demo.h: `serve --demo`: a living demo centre on an empty database */
#ifndef EVITRACK_DEMO_H
#define EVITRACK_DEMO_H

#include "http.h"

/* The password of every demo account (printed at start). */
#define DEMO_PASSWORD "evitrack-demo"

/* Seeds qualifications, accounts, enrolments and activity into an empty
 * database, printing the logins to stdout. EV_OK or EV_ERR. */
int demo_seed(db_t *db, const app_t *app);

#endif
