/*
 * respond.h — the daemon's answers on the wire: a response with its
 * envelope (contract, id, type, controller), sent on the reply topic and
 * remembered for retries (answers.h); a retry answered again from that
 * memory; the retries a request in progress collected (waiters.h) given
 * the answer once it is sent.
 */
#ifndef TWIN_RESPOND_H
#define TWIN_RESPOND_H

#include <jansson.h>

#include "daemon.h"
#include "errors.h"

/* Send a response (adds contract, id, type, controller) and remember it
 * for retries.  Takes the reference.  It goes from memory, waiting for
 * no disk: for an answer a restart can give again by validating again
 * (a rejection, `describe`, `status`, `set`, `cancel`, `replay`'s, a
 * built-in `call`'s; docs/spool.md, What is synced). */
void respond__send(serve *sv, const reply_to *to, req_type type,
                   json_t *resp);

/* The same for the answer of a computation in a process of its own (a
 * plugin function's `call`, a `steady` solve): journaled in the
 * daemon's journal and synced before it leaves, so that a crash before
 * the broker took it does not make its requester compute it again. */
void respond__computed(serve *sv, const reply_to *to, req_type type,
                       json_t *resp);

/* The same for a response about a run, written to the run's journal and
 * synced before it leaves (its `accepted` and its final response). */
void respond__run(serve *sv, const reply_to *to, run_rec *r, json_t *resp);

/* Reject with every problem in errs. */
void respond__reject(serve *sv, const reply_to *to, int type,
                     const twin_errors *errs);

/* [{"code", "path": "", "message"}]: one problem as an errors member. */
json_t *respond__errors(twin_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remember the answer to to->id for retries (respond__send does). */
void respond__remember(serve *sv, const reply_to *to, const char *response);

/* A retry of a request already answered: send its last answer to `to`
 * (and, for a run still going, its final response too when it comes).
 * Returns 1 when it was one. */
int respond__again(serve *sv, const reply_to *to);

/* Send each waiter the request's remembered answer, then forget them. */
void respond__waiters(serve *sv, waiters *w);

#endif
