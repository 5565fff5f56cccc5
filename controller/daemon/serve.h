/*
 * serve.h — `twinctl serve`, the daemon (serve.c); what its parts share
 * is daemon.h.
 */
#ifndef TWIN_SERVE_H
#define TWIN_SERVE_H

#include "config.h"

/* Run the daemon until SIGTERM/SIGINT.  Returns the exit status. */
int serve__main(twin_config *cfg);

#endif
