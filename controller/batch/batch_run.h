/*
 * batch_run.h — running a batch's cases on this machine, and its output
 * directory.
 *
 * Each case runs in a process of its own, forked from the caller (so it
 * shares the loaded model library), with the in-process loop of sim.h in
 * batch mode; up to `jobs` at a time.  A case that fails, is refused,
 * crashes or runs past its time ends with that status and a message, and
 * the others go on.
 *
 * The output directory (docs/batch.md):
 *   LOCK               flock()ed while a batch runs in the directory
 *   batch.json         the batch: its hash, its case count, the document
 *                      with its base scenario inlined — a directory holds
 *                      one batch, and a different one is refused
 *   results/<id>.json  one per case that ended: its status, message and
 *                      KPIs; written to a temporary name, synced, renamed,
 *                      so that it is there whole or not at all
 *   cases/<id>.csv     its rows (with rows asked for), in place before the
 *                      result is
 *   summary.csv        one row per case, rebuilt from results/ whenever a
 *                      run of the batch ends
 * A case with a result is done: running the batch again in the same
 * directory runs only the cases without one (and, with rows asked for, a
 * finished case whose rows are missing; with retry_failed, the cases that
 * did not finish).
 *
 * With opts->elsewhere the cases run on controllers over MQTT instead
 * (batch_remote.h); the directory, the results and the summary are the
 * same, and so is this interface.
 */
#ifndef TWIN_BATCH_RUN_H
#define TWIN_BATCH_RUN_H

#include <stddef.h>

#include "batch_doc.h"
#include "errors.h"
#include "rows_out.h"

typedef struct batch_tally {
    size_t cases;       /* in the batch */
    size_t skipped;     /* done before this run started */
    size_t to_run;      /* to run now */
    size_t done;        /* of those, ended, whatever the status */
    size_t failed;      /* of those, ended but not finished */
    size_t failed_before; /* of the skipped, not finished */
    size_t running;
    double elapsed;     /* seconds since this run started */
    int stopping;       /* the signal that asked to stop, or 0 */
    size_t recorded;    /* cases with a result when the run ended */
    int stalled;        /* remote: stopped for want of controllers (or of
                         * the broker); why says */
    char workers[1024]; /* remote: who works on what, one line
                         * ("ctl-1 2 running, 41 done; ..."), or "" */
} batch_tally;

typedef struct batch_observer {
    void *ctx;
    /* Now and then (every refresh seconds and when a case ends). */
    void (*tick)(void *ctx, const batch_tally *t);
    /* A case ended: status "finished", "failed", "rejected", "crashed"
     * or "timeout"; message NULL when it finished cleanly. */
    void (*ended)(void *ctx, const batch_tally *t, const char *id,
                  const char *status, const char *message);
    /* remote: something an operator wants to know (a controller went
     * offline, a case is sent again), as a sentence; may be NULL. */
    void (*note)(void *ctx, const batch_tally *t, const char *sentence);
    double refresh;     /* seconds; 0: 0.25 */
} batch_observer;

struct batch_remote_opts;
struct batch_run_opts;
typedef struct batch_runner batch_runner;

/* Another way of running the cases than here (batch_remote__run_all,
 * batch_remote.h): given the runner (the interface below), it runs the
 * cases of r that have to run, and returns when every one ended, a
 * stopping signal came (t->stopping) or it stalled (t->stalled, why
 * says). */
typedef void batch_executor(batch_runner *r, const batch *b,
                            const struct batch_run_opts *o, batch_tally *t,
                            const batch_observer *obs, char *why,
                            size_t why_len);

typedef struct batch_run_opts {
    const char *dir;
    unsigned jobs;         /* processes at a time; 0: every CPU we may use */
    int rows;              /* write cases/<id>.csv (.mat, .h5) */
    rows_format rows_format; /* of those files: csv, mat or hdf5 */
    rows_options rows_options;
    int retry_failed;      /* run again the cases that did not finish */
    double timeout;        /* seconds per case; 0: none */
    long max_steps;        /* CVODE steps per tick; 0: the loop's default */
    const model_lib *models;
    const instance_lib *instances;
    const func_lib *functions; /* for kpis of the library; may be NULL */
    const char *document;  /* the batch file, for batch.json */
    /* Run the cases on controllers over MQTT: elsewhere is then
     * batch_remote__run_all and remote its options (batch_remote.h); jobs
     * is the cases in flight (0: the controllers' capacity), timeout and
     * max_steps are the controllers' business.  NULL: here. */
    batch_executor *elsewhere;
    const struct batch_remote_opts *remote;
} batch_run_opts;

/* What a run of the batch came to. */
typedef enum batch_outcome {
    BATCH_ALL_FINISHED = 0,   /* every case of the batch finished */
    BATCH_SOME_FAILED = 1,    /* every case ended, not all finished; or
                               * an output could not be written */
    BATCH_REFUSED = 2,        /* the directory belongs to another batch,
                               * or is in use, or cannot be made */
    BATCH_STALLED = 3,        /* remote: no controller (or no broker) to
                               * run the rest; run it again to resume */
    BATCH_INTERRUPTED = 130   /* a signal stopped it; run it again */
} batch_outcome;

/* The number of CPUs this process may run on (sched_getaffinity). */
unsigned batch__cpus(void);

/* Run the batch's missing cases into opts->dir and write the summary.
 * why gets a sentence for BATCH_REFUSED, BATCH_STALLED and a failed
 * write. */
batch_outcome batch__run(const batch *b, const json_t *doc,
                         const batch_run_opts *opts,
                         const batch_observer *obs, batch_tally *tally,
                         char *why, size_t why_len);

/* ---- for another way of running the cases (batch_remote.c) --------------
 * batch__run() keeps the directory, the tally and the summary, and hands
 * the cases to be run, with this runner, to opts->elsewhere. */

/* The case's id, and whether it still has to run. */
const char *batch__case_name(const batch_runner *r, size_t index);
int batch__case_todo(const batch_runner *r, size_t index);
/* The case's scenario document, composed here to check it (a new
 * reference); NULL when it does not compose: the case has then ended,
 * "rejected", as in a local run. */
json_t *batch__case_checked(batch_runner *r, size_t index);
/* A result record of the case (id, index, status, values; code and
 * message when given), to complete and hand to batch__case_end. */
json_t *batch__record_new(const batch_runner *r, size_t index,
                          const char *status, const char *code,
                          const char *message);
/* The case ended with rec (stolen): written to results/, counted, told
 * to the observer. */
void batch__case_end(batch_runner *r, size_t index, json_t *rec);
/* The observer's tick, when due (or now, with force). */
void batch__progress(batch_runner *r, int force);
/* The rows written to tmp finished (rows_out__close, *rows cleared),
 * made durable and renamed to path in dir (what cases/<id>.csv gets).
 * Returns 0, or -1 with why (tmp removed). */
int batch__commit_rows(rows_out **rows, const char *tmp, const char *path,
                       const char *dir, char *why, size_t why_len);
/* cases/<id> and its extension for the rows' format, in buf. */
void batch__rows_path(const batch_runner *r, size_t index, char *buf,
                      size_t len);
/* A scenario's problems in one message, as a rejected case's. */
void batch__problems(const twin_errors *errs, char *buf, size_t len);

#endif
