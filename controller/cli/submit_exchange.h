/*
 * submit_exchange.h — one `twinctl submit` exchange (submit_exchange.c):
 * the request made, sent and followed to its end.
 */
#ifndef TWIN_SUBMIT_EXCHANGE_H
#define TWIN_SUBMIT_EXCHANGE_H

#include "submit.h"

/* Make the request of file ('-': stdin; NULL: a run of the stored
 * scenario name) with id (NULL: the document's, else a new UUID), send it
 * over the connection s describes and follow it to its end: the exit
 * status, with every problem said.  The connection is stopped and the
 * output closed on return; submit__free() frees the rest. */
int submit_exchange__run(submit *s, const char *file, const char *name,
                         const char *id);

#endif
