/*
 * runs.h — the runs this daemon supervises (runs.c): their records in
 * serve.runs, what the handlers ask of them, and what the loop (serve.c)
 * does with them each time it wakes.
 */
#ifndef TWIN_RUNS_H
#define TWIN_RUNS_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "daemon.h"
#include "errors.h"

#define RUNS_CANCEL_GRACE 2.0 /* s a cancelled run gets to stop by itself */
/* s a started run's acceptance waits for its first row, to share its
 * sync (docs/spool.md, What is synced). */
#define RUNS_FIRST_ROW_WAIT 0.001

run_rec *runs__find(serve *sv, const char *id);

/* The run a request names in its "run" member: missing, not a string,
 * not a topic level (request__run_id) and unknown are each reported
 * (needs: what the request needs it for, e.g. "cancel needs the \"run\"
 * to stop").  NULL when it was reported. */
run_rec *runs__arg(serve *sv, const json_t *req, const char *needs,
                   twin_errors *errs);

/* Check live values for a run: {"name": number, ...} under path. */
int runs__check_values(const run_rec *r, const json_t *values,
                       const char *path, twin_errors *errs);

/* Ask a running run to stop (SIGTERM; SIGKILL after a grace period); it
 * then ends as cancelled with the rows it made so far. */
void runs__cancel(serve *sv, run_rec *r);
void runs__cancel_all(serve *sv);

/* For the loop.  runs__watch puts the pipes of the running runs in the
 * poll set from index n (none while the sender is full, unless
 * stopping), then from *outputs_from their outputs, each with its run in
 * polled; at most up to cap; returns the new count.  runs__ready reads
 * what came on them.  runs__reaped takes a collected child's status;
 * runs__end_reaped drains and ends the runs whose process is gone, then
 * forgets the oldest ended runs beyond the 256 kept.  runs__tick
 * enforces the time limits and the end of a cancel's grace;
 * runs__next_due is the earliest of those before due. */
size_t runs__watch(serve *sv, struct pollfd *pfd, run_rec **polled,
                   size_t n, size_t cap, size_t *outputs_from);
void runs__ready(serve *sv, const struct pollfd *pfd, run_rec *const *polled,
                 size_t from, size_t outputs_from, size_t to, double now);
void runs__reaped(serve *sv, pid_t pid, int status);
void runs__end_reaped(serve *sv, double now);
void runs__tick(serve *sv, double now);
double runs__next_due(const serve *sv, double due);

/* At exit: end every run still running and free every record. */
void runs__free_all(serve *sv);

#endif
