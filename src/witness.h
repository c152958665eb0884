/* witness.h: remote witness testimony: nominating a witness, the one-time link, the witness's page */
#ifndef EVITRACK_WITNESS_H
#define EVITRACK_WITNESS_H

#include "http.h"

/* The route table (API and pages), listed in routes.c. */
extern const route_t witness_routes[];

/* How long a witness link works: 14 days (centre practice: long enough for a busy
 * manager, short enough that a forgotten link dies). */
#define WITNESS_TTL_S (14 * 86400)

#endif
