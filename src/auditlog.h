/* auditlog.h: the audit log and learner timeline pages, and `evitrack audit verify` */
#ifndef EVITRACK_AUDITLOG_H
#define EVITRACK_AUDITLOG_H

#include "http.h"

extern const route_t auditlog_routes[];

/* The `evitrack audit` command: argv after "audit" ("verify [--db FILE]").
 * Prints a summary and returns 0 when the chain is intact; prints the first
 * bad event and returns 1 when it is not; 2 on bad arguments or no database. */
int auditlog_cli(int argc, char **argv);

/* A short human description of an audit action ("decision.create" ->
 * "Decision recorded"); the action itself when unknown. */
const char *auditlog_action_label(const char *action);

#endif
