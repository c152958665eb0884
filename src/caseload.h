/* caseload.h: the assessor's caseload, the assessment queue and the review page */
#ifndef EVITRACK_CASELOAD_H
#define EVITRACK_CASELOAD_H

#include "http.h"

extern const route_t caseload_routes[];

#endif
