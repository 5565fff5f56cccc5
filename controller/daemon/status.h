/*
 * status.h — the controller's retained status message (status.c).
 */
#ifndef TWIN_STATUS_H
#define TWIN_STATUS_H

#include <jansson.h>

#include "daemon.h"

/* The status message, state "online" or "offline" (a new reference). */
json_t *status__json(serve *sv, const char *state);

/* Publish it, retained, and note what it said of the spool. */
void status__publish(serve *sv);

#endif
