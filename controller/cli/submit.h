/*
 * submit.h — the state of one `twinctl submit` exchange, and the helpers
 * every part of it uses (submit.c).  Above it: submit_run.c follows a run
 * (responses, results, events, --set requests, missing results asked for
 * again, the verdict), submit_exchange.c makes the request, connects and
 * runs the loop, cmd_submit.c is the command's options.  Internal to
 * submit.
 */
#ifndef TWIN_SUBMIT_H
#define TWIN_SUBMIT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_opts.h"
#include "collect.h"
#include "mqtt.h"
#include "repair.h"

#define ROWS_GRACE 5.0 /* s to wait for the answers to --set requests */
#define TAG_REPAIR ((uint64_t)1 << 32) /* publish tag of repair requests */

/* One --set NAME=VALUE@T. */
typedef struct set_req {
    const char *name;      /* instance.input, in argv */
    double value;
    double at;             /* simulated time; -INFINITY: at once */
    char *id;              /* this set request's id */
    char *filter;          /* P/+/response/<id> */
    int sent, answered, ok;
} set_req;

typedef struct submit {
    /* what was asked */
    const char *broker, *prefix, *controller, *output;
    mqtt_options sec;      /* TLS files and login (the flags below) */
    double timeout;
    int quiet;
    set_req *sets;
    size_t n_sets;
    const char *encoding;  /* of a run's results: "cbor" or "json";
                            * NULL: the document's, else "cbor" */

    /* the request */
    json_t *req;
    const char *id, *run;  /* borrowed from req */
    int is_run;
    char *payload;
    char *t_request;
    char *f_response, *f_result, *f_event;
    char *f_repair;        /* P/+/response/<id>/repair: repair's answers */
    int published, acked;

    /* the exchange */
    mqtt_client *mq;
    double started, deadline;
    double last_message;   /* when the last message of this run came */
    int connected_once, lost_connection;
    double reconnect_at;   /* a failed reconnect is tried again then */
    char *cid;             /* the controller that accepted */
    long long rows_expected;
    json_t *final;         /* finished, failed or cancelled */
    int final_from_status; /* final is a status answer: the response was
                              lost */
    long long last_seq;
    int answered_before;   /* the final response came without accepted */
    repair *rep;           /* missing results asked for again */
    int done, status;

    /* the results */
    cli_file file;         /* --format, --compress */
    rows_out *out;         /* the rows' file (-o), or NULL */
    char *scenario;        /* the run's scenario as JSON text, for the
                              file, or NULL */
    collect *col;
    int bad_results;       /* besides collect's: the rows could not be
                              written, no columns */

    /* progress on a terminal */
    int progress;
    double next_draw;
    int drawn;
} submit;

/* "twinctl submit: " and the sentence on stderr, the progress line
 * cleared first. */
void submit__say(submit *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void submit__unprogress(submit *s);    /* clear the progress line */
/* A new string, or NULL when out of memory. */
char *submit__printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The controller level of a topic: a pointer into it, and its length. */
const char *submit__topic_controller(const submit *s, const char *topic,
                                     size_t *len);
/* Is topic from the controller that took the run (or none known yet)? */
int submit__from_cid(const submit *s, const char *topic);
/* Free what s holds (the connection is stopped and the output closed by
 * then: submit_exchange__run). */
void submit__free(submit *s);

#endif
