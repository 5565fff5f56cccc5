/*
 * daemon.h — the state of `twinctl serve` that its parts share: the
 * configuration and libraries, the MQTT client, sender and spool, the
 * runs (running and recently ended), the calls, jobs and replays in
 * progress, the memory of answers, and the counters of the status.  The
 * loop (serve.c), the intake (intake.c), the handlers (handle_*.c) and
 * the pieces below them (respond.c, runs.c, status.c, admission.c,
 * job.c, recover.c) all work on this one struct; none of them includes
 * another's header to get at it.  Also the daemon's log lines (its clock
 * is util__now, util.h).
 *
 * One thread runs everything: it waits in poll() on the MQTT event fd,
 * the runs' pipes and a signalfd, and on the sender's next batch deadline.
 */
#ifndef TWIN_DAEMON_H
#define TWIN_DAEMON_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "answers.h"
#include "config.h"
#include "frame.h"
#include "funclib.h"
#include "instance_lib.h"
#include "model_lib.h"
#include "mqtt.h"
#include "proc.h"
#include "request.h"
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
    run_child child;         /* its process, deadline and end (child.h) */
    proc_output *output;     /* its stdout and stderr, or NULL */
    frame_reader rd;
    json_t *columns;
    sender_run *out;
    spool_stream *st;        /* its journal in the spool, or NULL */
    run_state state;
    double started;          /* monotonic s */
    json_t *end;             /* the child's end frame, when it came */
    char *where;             /* "model 'm' (instance 'i')" the process was
                              * in when it died or was stopped, or NULL */
    uint64_t rows;           /* final counts, once ended */
    int64_t last_seq;
    waiters retries;         /* retries that want the final response
                              * elsewhere (another response topic) */
    char sync[16];           /* a live twin's synchronisation with its
                              * plant (its last sync event), or "" */
} run_rec;

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
    run_rec *runs;           /* running and recently ended (runs.h) */
    struct call_rec *calls;  /* plugin calls in their processes */
    size_t n_calls;
    struct job *jobs;        /* requests answered by a child (job.h) */
    size_t active;
    answers memo;            /* answers given, for retries */
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

/* A line in the daemon's log, "twinctl serve: " first; silenced by
 * `quiet`. */
void daemon__say(const serve *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A line in the daemon's log that `quiet` does not silence (something
 * was lost or refused). */
void daemon__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
