/*
 * handlers.h — one handler per request type, each in its own file
 * handle_<type>.c, called by intake.c once the envelope is checked (req
 * is the parsed request; answers go to `to`).  Below them: the state
 * (daemon.h), responses (respond.h), runs (runs.h), admission
 * (admission.h), jobs (job.h), the status (status.h).
 *
 * Two handlers keep work in progress that the loop (serve.c) drives:
 * plugin calls in their processes (handle_call.c) and replays
 * (handle_replay.c).
 */
#ifndef TWIN_HANDLERS_H
#define TWIN_HANDLERS_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "daemon.h"

void handle_describe(serve *sv, const reply_to *to, const json_t *req);
void handle_run(serve *sv, const reply_to *to, const json_t *req);
void handle_set(serve *sv, const reply_to *to, const json_t *req);
void handle_cancel(serve *sv, const reply_to *to, const json_t *req);
void handle_status(serve *sv, const reply_to *to, const json_t *req);
void handle_replay(serve *sv, const reply_to *to, const json_t *req);
void handle_call(serve *sv, const reply_to *to, const json_t *req);
void handle_steady(serve *sv, const reply_to *to, const json_t *req);

/* ---- calls in their processes (handle_call.c) ---------------------------- */

/* For the loop: add their pipes to the poll set from index n (returns
 * the new count; the set needs room for n_calls more), read the ready
 * ones, take a reaped process (1 when pid was a call's), answer the
 * ended ones and kill those past their time (tick), the earliest time
 * limit before due, and on stopping end them all (answered `failed`,
 * code cancelled, when answer is set). */
size_t handle_call__watch(serve *sv, struct pollfd *pfd, size_t n);
void handle_call__ready(serve *sv, const struct pollfd *pfd);
int handle_call__reaped(serve *sv, pid_t pid, int status);
void handle_call__tick(serve *sv, double now);
double handle_call__next_due(const serve *sv, double due);
void handle_call__stop_all(serve *sv, int answer);

/* ---- replays in progress (handle_replay.c) ------------------------------- */

/* Advance every replay in progress by a bounded step, while the sender
 * has room; a replay that reached its end is answered.  While stopping,
 * every replay in progress ends and is answered `busy`.  Returns 1 when a
 * replay could go on at once (the loop should not sleep). */
int handle_replay__step(serve *sv);

/* A retry (same request id) of a replay in progress: the replay is not
 * started again; its answer goes to `to` too when it ends, unless that is
 * where it goes already.  Returns 1 when to->id is such a replay. */
int handle_replay__retry(serve *sv, const reply_to *to);

void handle_replay__free_all(serve *sv);

#endif
