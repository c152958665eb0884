/* dbcopy.h: `evitrack copy`: moves a whole centre from one database to another (SQLite to PostgreSQL) and verifies it */
#ifndef EVITRACK_DBCOPY_H
#define EVITRACK_DBCOPY_H

/* evitrack copy --from SOURCE --to TARGET: argv after the command word.
 * Exit status: 0 copied and verified, 1 failed, 2 bad usage. */
int dbcopy_cli(int argc, char **argv);

#endif
