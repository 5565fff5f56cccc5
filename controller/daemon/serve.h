/*
 * serve.h — the daemon's state, shared by the main loop (serve.c), the
 * envelope check (intake.c) and the request handlers (handle_*.c).
 *
 * One thread runs everything: it waits in poll() on the MQTT event fd,
 * the runs' pipes and a signalfd, and on the sender's next batch deadline.
 */
#ifndef TWIN_SERVE_H
#define TWIN_SERVE_H

#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "frame.h"
#include "funclib.h"
#include "instance_lib.h"
#include "model_lib.h"
#include "mqtt.h"
#include "request.h"
#include "proc.h"
#include "runner.h"
#include "scenario.h"
#include "sender.h"
#include "spool.h"
#include "waiters.h"

typedef enum run_state {
    RUN_RUNNING,
    RUN_FINISHED,
    RUN_FAILED,
    RUN_CANCELLED
} run_state;

typedef struct run_rec {
    struct run_rec *next;
    char *id;
    reply_to reply;          /* where this run's responses go */
    json_t *doc;             /* the scenario document */
    scenario *sc;
    int realtime;
    run_child child;
    proc_output *output;     /* its stdout and stderr, or NULL */
    frame_reader rd;
    json_t *columns;
    sender_run *out;
    spool_stream *st;        /* its journal in the spool, or NULL */
    run_state state;
    double started, deadline;  /* monotonic s */
    double kill_at;          /* after a cancel: SIGKILL if still there */
    int end_reason;          /* TWIN_E_TIMEOUT / CANCELLED when we ended it */
    json_t *end;             /* the child's end frame, when it came */
    char *where;             /* "model 'm' (instance 'i')" the process was
                              * in when it died or was stopped, or NULL */
    int reaped;              /* waitpid collected the child */
    int wait_status;
    uint64_t rows;           /* final counts, once ended */
    int64_t last_seq;
    waiters retries;         /* retries that want the final response
                              * elsewhere (another response topic) */
} run_rec;

/* Answers already given, by request id (retries are answered again).
 * Bounded by limits.remembered (count) and limits.remembered_bytes; the
 * oldest answer goes first. */
typedef struct memo {
    char *id;
    reply_to reply;
    char *response;          /* the last response sent */
    size_t bytes;            /* counted against remembered_bytes */
    struct memo *next_in_bucket;
    struct memo *newer, *older; /* by when the answer was last given */
} memo;

/* A replay in progress (handle_replay.c). */
typedef struct replay_job replay_job;

typedef struct serve {
    twin_config cfg;
    mqtt_client *mq;
    sender *out;
    spool *sp;
    model_lib models;
    instance_lib instances;
    func_lib functions;      /* function plugins */
    run_rec *runs;           /* running and recently ended */
    struct call_rec *calls;  /* plugin calls in their processes */
    size_t n_calls;
    struct job *jobs;        /* requests answered by a child (job.h) */
    size_t active;
    memo **buckets;
    size_t n_buckets, n_memo;
    size_t memo_bytes;
    memo *oldest, *newest;
    replay_job *replays;     /* in progress, oldest first */
    size_t n_replays;
    char *t_request, *t_pool, *t_input, *t_status, *t_response_base;
    int sigfd;
    int stopping;
    int spool_full_said;     /* spool_full in the last status published */
    int spool_error_said;    /* spool_error in it */
    int reload_pending;
    double started;
    uint64_t requests, rejected;
} serve;

/* Run the daemon until SIGTERM/SIGINT.  Returns the exit status. */
int serve__main(twin_config *cfg);

/* ---- for the handlers ---------------------------------------------------- */

/* Send a response (adds contract, id, type, controller) and remember it
 * for retries.  Takes the reference. */
void serve__respond(serve *sv, const reply_to *to, req_type type,
                    json_t *resp);

/* The same for a response about a run, written to the run's journal. */
void serve__respond_run(serve *sv, const reply_to *to, run_rec *r,
                        json_t *resp);

/* A line in the daemon's log that `quiet` does not silence (something
 * was lost or refused). */
void serve__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Remember the answer to to->id for retries (serve__respond does). */
void serve__remember(serve *sv, const reply_to *to, const char *response);

/* After a restart (recover.c): a journal left by an earlier start, as
 * spool__recover hands it over. */
void recover__journal(void *ctx, const char *run, const spool_found *found);

/* Reject with every problem in errs. */
void serve__reject(serve *sv, const reply_to *to, int type,
                   const twin_errors *errs);

/* [{"code", "path": "", "message"}]: one problem as an errors member. */
json_t *serve__error_list(twin_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

run_rec *serve__find_run(serve *sv, const char *id);

/* Ask a running run to stop (SIGTERM; SIGKILL after a grace period); it
 * then ends as cancelled with the rows it made so far. */
void serve__cancel_run(serve *sv, run_rec *r);

/* The spool's room for runs (handle_run.c): its limit, what is on disk,
 * what running runs have reserved and not written yet, what is kept for
 * the daemon's answers, and what is left for a new run. */
typedef struct spool_room {
    size_t limit, used, reserved, headroom, free;
    size_t disk;             /* free on its filesystem (SIZE_MAX: unknown) */
    int disk_bound;          /* free is what the filesystem leaves */
} spool_room;
void serve__spool_room(serve *sv, spool_room *room);

/* Is there too little room left for even the smallest run, or can the
 * spool not be written (runs paused)? */
int serve__spool_full(serve *sv);

/* The spool cannot be written: 1 with a sentence in why (what, the
 * system's reason, what happens meanwhile), else 0. */
int serve__spool_error(serve *sv, char *why, size_t len);

/* The retained status message. */
json_t *serve__status_json(serve *sv, const char *state);
void serve__publish_status(serve *sv);

double serve__now(void);

/* The MQTT v5 Maximum Packet Size announced at CONNECT: twice
 * limits.request_bytes plus 64 KiB (0: none, for a limit of 1 GiB or
 * more), so that requests far over the limit never reach this process
 * and those just over it are still answered too_large. */
uint32_t serve__max_packet(const twin_config *cfg);

/* Request handlers: req is the parsed request. */
void handle_describe(serve *sv, const reply_to *to, const json_t *req);
void handle_run(serve *sv, const reply_to *to, const json_t *req);
void handle_set(serve *sv, const reply_to *to, const json_t *req);
void handle_cancel(serve *sv, const reply_to *to, const json_t *req);
void handle_status(serve *sv, const reply_to *to, const json_t *req);
void handle_replay(serve *sv, const reply_to *to, const json_t *req);
void handle_call(serve *sv, const reply_to *to, const json_t *req);
void handle_steady(serve *sv, const reply_to *to, const json_t *req);

/* Calls in their processes (handle_call.c), for the loop: add their pipes
 * to the poll set from index n (returns the new count; the set needs room
 * for n_calls more), read the ready ones, take a reaped process (1 when
 * pid was a call's), answer the ended ones and kill those past their time
 * (tick), the earliest time limit before due, and on stopping end them
 * all (answered `failed`, code cancelled, when answer is set). */
size_t calls__watch(serve *sv, struct pollfd *pfd, size_t n);
void calls__ready(serve *sv, const struct pollfd *pfd);
int calls__reaped(serve *sv, pid_t pid, int status);
void calls__tick(serve *sv, double now);
double calls__next_due(const serve *sv, double due);
void calls__stop_all(serve *sv, int answer);

/* The scenario a request carries in its "scenario" member (an object, or
 * a stored scenario's name), composed and checked against the libraries
 * and what this deployment allows, every problem under /scenario in errs
 * (needs: what it is needed for, "a run"; realtime: whether the
 * deployment's ban on real-time runs applies).  Returns the scenario
 * (with *doc its document, a new reference) when it composed, even if a
 * deployment check then failed: the caller looks at errs. */
scenario *serve__scenario_arg(serve *sv, const json_t *req, const char *needs,
                              int realtime, json_t **doc, twin_errors *errs);

/* ---- replays in progress (handle_replay.c) -------------------------------- */

/* Advance every replay in progress by a bounded step, while the sender
 * has room; a replay that reached its end is answered.  While stopping,
 * every replay in progress ends and is answered `busy`.  Returns 1 when a
 * replay could go on at once (the loop should not sleep). */
int replay__step(serve *sv);

/* A retry (same request id) of a replay in progress: the replay is not
 * started again; its answer goes to `to` too when it ends, unless that is
 * where it goes already.  Returns 1 when to->id is such a replay. */
int replay__retry(serve *sv, const reply_to *to);

void replay__free_all(serve *sv);

/* The run a request names in its "run" member: missing, not a string,
 * not a topic level (request__run_id) and unknown are each reported
 * (needs: what the request needs it for, e.g. "cancel needs the \"run\"
 * to stop").  NULL when it was reported. */
run_rec *serve__run_arg(serve *sv, const json_t *req, const char *needs,
                        twin_errors *errs);

/* Check live values for a run: {"name": number, ...} under path. */
int serve__check_values(serve *sv, run_rec *r, const json_t *values,
                        const char *path, twin_errors *errs);

#endif
