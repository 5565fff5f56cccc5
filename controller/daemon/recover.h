/*
 * recover.h — after a restart, the journals an earlier start left in the
 * spool (recover.c).
 */
#ifndef TWIN_RECOVER_H
#define TWIN_RECOVER_H

#include "daemon.h"

/* A journal left by an earlier start, as spool__recover hands it over
 * (ctx: the daemon's serve). */
void recover__journal(void *ctx, const char *run, const spool_found *found);

#endif
