/*
 * batch_remote.h — a batch's cases run on twinctl controllers over MQTT
 * (`twinctl batch FILE -o DIR --broker URL`; docs/batch.md, "Across
 * machines").
 *
 * Each case goes as a `run` request to the pool (P/pool/request, which
 * the controllers of a group share), with a request id made of the
 * batch's hash and the case's id, so that a request sent again to the
 * controller that has it is answered from that controller's memory and
 * never runs twice there.  At most a window of cases is in flight: -j, or
 * the capacity of the controllers online (their retained status).  A case
 * whose controller goes offline (its last will), or that gets no answer
 * within the answer timeout, or whose controller does not answer when
 * asked again after the check interval, is sent again to a controller
 * that answers; the first final answer counts, later ones are ignored.
 * A case's KPIs are the `functions` of its `finished` response; its rows,
 * with --rows, the result messages, gaps filled with status and replay
 * (collect.h, repair.h).  What comes back is written by batch_run.c as a
 * local run's results, so the summary is the same.
 */
#ifndef TWIN_BATCH_REMOTE_H
#define TWIN_BATCH_REMOTE_H

#include "batch_run.h"
#include "mqtt.h"

#define BATCH_ANSWER_TIMEOUT 30.0  /* s for a controller to answer */
#define BATCH_WAIT_CONTROLLERS 60.0 /* s with no controller before
                                     * giving up */
#define BATCH_MAX_ATTEMPTS 5       /* times a case may be lost */

typedef struct batch_remote_opts {
    const char *broker;        /* URL */
    const char *prefix;        /* topic prefix; NULL: "twin" */
    const char *group;         /* the controllers whose status names this
                                * group count; NULL: "twin" */
    mqtt_options sec;          /* TLS files and login (url, client id and
                                * subscriptions are set here) */
    double answer_timeout;     /* s; 0: BATCH_ANSWER_TIMEOUT */
    double check_after;        /* s a case may run without news before its
                                * controller is asked again; 0: derived
                                * from the horizon, then from the cases'
                                * run times (docs/batch.md) */
    double wait_controllers;   /* 0: BATCH_WAIT_CONTROLLERS */
    unsigned max_attempts;     /* 0: BATCH_MAX_ATTEMPTS */
    const char *encoding;      /* of the cases' results: "cbor" or "json";
                                * NULL: "cbor" */
} batch_remote_opts;

/* The batch_executor (batch_run.h) that runs the cases of r that have to
 * run on the controllers, o->remote saying how; returns when every one
 * ended, a stopping signal came (t->stopping) or there is no controller or
 * broker to run them (t->stalled, why says). */
batch_executor batch_remote__run_all;

#endif
