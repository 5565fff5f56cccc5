/*
 * batch_remote_cases.h — what the two halves of `twinctl batch --broker`
 * share: the controllers, the cases in flight and the state of the
 * whole, and what happens to a case (batch_remote_cases.c).  Above it,
 * batch_remote_answers.c takes what comes back (statuses, answers,
 * results) and makes the cases' results; above both, batch_remote.c
 * sends the cases (the window, the requests, the timeouts, the
 * connection, the loop).  Internal to them; batch_remote.h is the
 * interface.
 */
#ifndef TWIN_BATCH_REMOTE_CASES_H
#define TWIN_BATCH_REMOTE_CASES_H

#include <stdio.h>

#include <jansson.h>

#include "batch_run.h"
#include "collect.h"
#include "mqtt.h"
#include "repair.h"

#define DISCOVERY 0.3      /* s after connecting for the retained statuses */
#define STOP_WAIT 2.0      /* s for the cancel requests to go out */
#define FULL_WAIT_BUSY 1.0 /* s a controller that said busy counts as full */
#define FULL_WAIT_SPOOL 5.0 /* s one whose spool is full does */
#define ID_MAX 96
#define TAG_OTHER ((uint64_t)1 << 40) /* repair and cancel publishes */

typedef struct ctl {
    char *id;
    int online;            /* its status says online */
    int in_group;          /* its status names our group */
    long capacity, load;
    double heard;          /* when it last said something */
    int suspect;           /* left a request unanswered for T1 */
    double full_until;     /* said busy (or its spool is full): no room
                            * until then, or its next status */
    size_t done;           /* cases whose answer came from it */
} ctl;

enum rstate { R_QUEUED, R_SUBSCRIBING, R_SENT, R_RUNNING, R_PROBING };

struct remote;

typedef struct rcase {
    struct remote *m;
    size_t index;
    enum rstate state;
    char id[ID_MAX];       /* the request id (and run id) now */
    unsigned fresh;        /* its suffix ".n"; 0: none */
    unsigned lost;         /* times the case was lost */
    unsigned busy;         /* busy answers in a row */
    unsigned sends;        /* requests published */
    json_t *req;
    char *text;            /* req as sent */
    char *topics[3];       /* subscribed for this id */
    size_t n_topics;
    int subscribed, unsent;
    ctl *target;           /* sent to it directly; NULL: to the pool */
    ctl *bound;            /* it accepted the case */
    double sent, heard, not_before;
    /* --rows */
    rows_out *rows;
    char *tmp;
    collect *col;
    repair *rep;
    json_t *final;
    long long last_seq;
} rcase;

typedef struct remote {
    batch_runner *r;
    const batch *b;
    const batch_run_opts *o;
    const struct batch_remote_opts *ro; /* batch_remote.h */
    batch_tally *t;
    const batch_observer *obs;
    char *why;
    size_t why_len;
    const char *prefix, *group;
    const char *encoding;  /* of the cases' results: "cbor" or "json" */
    char tag[24];          /* "b<hash>-": our request ids start so */
    double t1, t2_horizon, slowest;
    json_int_t every;      /* the base scenario's */
    json_int_t thin;       /* without --rows: "every" of the requests */
    unsigned max_lost;
    mqtt_client *mq;
    int connected, ever_connected;
    double connected_at, reconnect_at, none_since, gone_since;
    ctl **ctls;
    size_t n_ctls;
    rcase **live;          /* in flight */
    size_t n_live, cap_live;
    size_t next;           /* the next case index to look at */
    int said_waiting, said_group;
    size_t busy, resent, late;
} remote;

/* A sentence for the operator (the observer's note). */
void batch_remote_cases__note(remote *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Stop the batch for want of a controller, the broker or a resource; the
 * sentence goes to why. */
void batch_remote_cases__stall(remote *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The controller with this id (len bytes), made when make and unknown;
 * NULL when unknown, or out of memory. */
ctl *batch_remote_cases__find_ctl(remote *m, const char *id, size_t len,
                                  int make);
/* The case in flight of this index, or the one an id of ours names
 * (*current: the id is its request id now); NULL: none. */
rcase *batch_remote_cases__find(const remote *m, size_t index);
rcase *batch_remote_cases__of_id(const remote *m, const char *id,
                                 size_t len, int *current);
/* Its subscriptions undone. */
void batch_remote_cases__drop_topics(remote *m, rcase *rc);
/* The request id from the case's id and its suffix, into req and text.
 * Returns 0, -1 for want of memory. */
int batch_remote_cases__set_id(remote *m, rcase *rc);
/* With --rows: forget the rows collected so far. */
void batch_remote_cases__drop_rows(rcase *rc);
/* The case is no longer in flight: its subscriptions, rows and request
 * go, and rc is freed. */
void batch_remote_cases__take(remote *m, rcase *rc);
/* The case ended with rec (stolen), answered by c (or NULL): written by
 * batch_run.c, and no longer in flight (rc is freed). */
void batch_remote_cases__end(remote *m, rcase *rc, ctl *c, json_t *rec);
/* Send the case again under a new id: its id is spent where it went
 * (busy: why NULL), or it was lost because of why (it may then have
 * ended, failed, when that was once too many: rc is then freed). */
void batch_remote_cases__renew(remote *m, rcase *rc, const char *why);
/* Lost because of why: sent again, the same request, to a controller
 * that answers (or ended, failed, when that was once too many). */
void batch_remote_cases__lose(remote *m, rcase *rc, const char *why);
/* Controller c went offline. */
void batch_remote_cases__controller_gone(remote *m, ctl *c);

#endif
