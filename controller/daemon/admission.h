/*
 * admission.h — whether this controller takes a request's work: the
 * scenario and the deployment's rules, the spool's room for a run, and
 * room right now (admission.c).
 */
#ifndef TWIN_ADMISSION_H
#define TWIN_ADMISSION_H

#include <stddef.h>

#include <jansson.h>

#include "daemon.h"
#include "errors.h"

/* The scenario a request carries in its "scenario" member (an object, or
 * a stored scenario's name), composed and checked against the libraries
 * and what this deployment allows, every problem under /scenario in errs
 * (needs: what it is needed for, "a run"; realtime: whether the
 * deployment's ban on real-time runs applies).  Returns the scenario
 * (with *doc its document, a new reference) when it composed, even if a
 * deployment check then failed: the caller looks at errs. */
scenario *admission__scenario(serve *sv, const json_t *req,
                              const char *needs, int realtime, json_t **doc,
                              twin_errors *errs);

/* The spool's room for runs: its limit, what is on disk, what running
 * runs have reserved and not written yet, what is kept for the daemon's
 * answers, and what is left for a new run. */
typedef struct spool_room {
    size_t limit, used, reserved, headroom, free;
    size_t disk;             /* free on its filesystem (SIZE_MAX: unknown) */
    int disk_bound;          /* free is what the filesystem leaves */
} spool_room;
void admission__spool_room(serve *sv, spool_room *room);

/* Is there too little room left for even the smallest run, or can the
 * spool not be written (runs paused)? */
int admission__spool_full(serve *sv);

/* The spool cannot be written: 1 with a sentence in why (what, the
 * system's reason, what happens meanwhile), else 0. */
int admission__spool_error(serve *sv, char *why, size_t len);

/* What the run's journal may take at most: its results and events
 * (sender__run_bound) and its two responses.  sc NULL: no functions. */
size_t admission__reservation(serve *sv, const reply_to *to,
                              const sender_run_spec *spec,
                              const scenario *sc);

/* Room for a run that may write need bytes to the spool, right now:
 * below max_runs, a spool that can be written and has room for need,
 * file descriptors, and a sender not full.  Called with no problem in
 * errs; the first one found goes there. */
void admission__run(serve *sv, size_t need, const scenario *sc,
                    twin_errors *errs);

/* Room for a steady-state solve right now: fewer jobs than max_runs and
 * file descriptors for its child (nothing is checked when errs holds a
 * problem already). */
void admission__steady(serve *sv, twin_errors *errs);

#endif
