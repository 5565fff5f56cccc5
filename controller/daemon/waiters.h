/*
 * waiters.h — the other places an answer still to come must go: retries
 * (the same request id) of a request in progress that asked for their
 * answers on another response topic or with other correlation data.  A
 * running run and a replay in progress each keep a few; when the
 * request's answer is sent and remembered, each waiter gets it too, as a
 * retry of an answered request would (docs/contract.md, "A request id
 * seen again"; respond__waiters sends it).
 */
#ifndef TWIN_WAITERS_H
#define TWIN_WAITERS_H

#include <stddef.h>

#include "request.h"

#define WAITERS_MAX 8   /* retries answered elsewhere, per request */

typedef struct waiters {
    reply_to to[WAITERS_MAX];
    size_t n;
} waiters;

/* Add `to` unless the answer goes there already (where `first`, the
 * request's own reply, goes, or an earlier waiter), or WAITERS_MAX wait
 * already.  Returns 1 when it was added. */
int waiters__add(waiters *w, const reply_to *first, const reply_to *to);

void waiters__free(waiters *w);

#endif
