/* routes.c: the list of every module's route table, in the order they are matched */
#include "evidence.h"
#include "qualifications.h"
#include "router.h"
#include "users.h"
#include "auditlog.h"
#include "caseload.h"
#include "decisions.h"
#include "iqa.h"

#include "centre.h"
#include "export.h"
#include "progress.h"
#include "combination.h"
#include "notify.h"
#include "accounts.h"
#include "intake.h"
#include "eqa.h"
#include "iqaplan.h"
#include "reviews.h"
#include "records.h"
#include "witness.h"
#include "apprenticeships.h"

const route_t *const router_tables[] = {
    core_routes,
    evidence_routes,
    qualifications_routes,
    users_routes,
    decisions_routes,
    caseload_routes,
    iqa_routes,
    auditlog_routes,
    progress_routes,
    centre_routes,
    export_routes,
    combination_routes,
    notify_routes,
    accounts_routes,
    intake_routes,
    eqa_routes,
    iqaplan_routes,
    reviews_routes,
    records_routes,
    witness_routes,
    apprenticeships_routes,
    NULL,
};
