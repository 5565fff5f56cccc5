/*
 * batch_remote.c — a batch's cases on controllers over MQTT (see
 * batch_remote.h and docs/batch.md, "Across machines").
 *
 * Owns the orchestrator's side of a distributed batch: the controllers of
 * the group as their retained statuses describe them, the window of cases
 * in flight, each case's request (its id, where it went, its
 * subscriptions, made before it is published), the timeouts and sending a
 * case again, and turning a final answer into the result record that
 * batch_run.c writes — the directory, the tally and the summary are
 * batch_run.c's, talking to the broker is mqtt.c's, a case's rows are
 * collect.c's and repair.c's.
 *
 * A case in flight goes QUEUED → SUBSCRIBING → SENT → RUNNING (accepted)
 * → ended, and back to QUEUED when it is lost: its controller went
 * offline, a request got no answer within the answer timeout (T1), or the
 * controller did not answer when asked again (PROBING, the same request
 * once more: a controller answers an id it knows from its memory) after
 * the case ran the check interval (T2) without news.  One thread: poll()
 * on the client's event fd and a signalfd.
 */
#include "batch_remote.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "repair.h"

#define DISCOVERY 0.3      /* s after connecting for the retained statuses */
#define STOP_WAIT 2.0      /* s for the cancel requests to go out */
#define ID_MAX 96
#define TAG_OTHER ((uint64_t)1 << 40) /* repair and cancel publishes */

typedef struct ctl {
    char *id;
    int online;            /* its status says online */
    int in_group;          /* its status names our group */
    long capacity, load;
    double heard;          /* when it last said something */
    int suspect;           /* left a request unanswered for T1 */
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
    FILE *rows;
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
    const batch_remote_opts *ro;
    batch_tally *t;
    const batch_observer *obs;
    char *why;
    size_t why_len;
    const char *prefix, *group;
    char tag[24];          /* "b<hash>-": our request ids start so */
    double t1, t2_horizon, slowest;
    unsigned max_lost;
    mqtt_client *mq;
    int connected, ever_connected;
    double connected_at, reconnect_at, none_since, gone_since;
    ctl **ctls;
    size_t n_ctls;
    rcase **live;          /* in flight */
    size_t n_live, cap_live;
    size_t next;           /* the next case index to look at */
    char workers[1024];
    int said_waiting, said_group;
    size_t busy, resent, late;
} remote;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void note(remote *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(remote *m, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    if (m->obs == NULL || m->obs->note == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    m->obs->note(m->obs->ctx, m->t, text);
}

static void stall(remote *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void stall(remote *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->why, m->why_len, fmt, ap);
    va_end(ap);
    m->t->stalled = 1;
}

/* ---- controllers ---------------------------------------------------------- */

static ctl *find_ctl(remote *m, const char *id, size_t len, int make)
{
    for (size_t i = 0; i < m->n_ctls; i++)
        if (strlen(m->ctls[i]->id) == len &&
            strncmp(m->ctls[i]->id, id, len) == 0)
            return m->ctls[i];
    if (!make)
        return NULL;
    ctl **more = realloc(m->ctls, (m->n_ctls + 1) * sizeof *more);
    ctl *c = calloc(1, sizeof *c);
    if (more != NULL)
        m->ctls = more;
    if (more == NULL || c == NULL || (c->id = strndup(id, len)) == NULL) {
        free(c);
        return NULL;
    }
    c->heard = -INFINITY;
    m->ctls[m->n_ctls++] = c;
    return c;
}

/* Our cases it holds: accepted, or sent to it and not yet answered. */
static unsigned holding(const remote *m, const ctl *c)
{
    unsigned n = 0;
    for (size_t i = 0; i < m->n_live; i++) {
        const rcase *rc = m->live[i];
        n += rc->bound == c ||
             (rc->bound == NULL && rc->target == c &&
              (rc->state == R_SENT || rc->state == R_SUBSCRIBING));
    }
    return n;
}

static int usable(const remote *m, const ctl *c)
{
    (void)m;
    return c->online && c->in_group && !c->suspect;
}

/* Runs it may take now, as far as we know. */
static long room(const remote *m, const ctl *c)
{
    long mine = (long)holding(m, c);
    return c->capacity - (c->load > mine ? c->load : mine);
}

/* Cases in flight at most: -j, or the capacity of the group online. */
static size_t window(const remote *m)
{
    if (m->o->jobs)
        return m->o->jobs;
    size_t w = 0;
    for (size_t i = 0; i < m->n_ctls; i++)
        if (m->ctls[i]->online && m->ctls[i]->in_group &&
            m->ctls[i]->capacity > 0)
            w += (size_t)m->ctls[i]->capacity;
    return w;
}

/* The controller to send a case to directly: usable, with room, heard
 * from since `since` if any is, the most room.  NULL: none now. */
static ctl *choose(const remote *m, double since)
{
    ctl *best = NULL;
    long best_room = 0;
    int best_heard = 0;
    for (size_t i = 0; i < m->n_ctls; i++) {
        ctl *c = m->ctls[i];
        long free_runs = room(m, c);
        int heard = c->heard >= since;
        if (!usable(m, c) || free_runs <= 0)
            continue;
        if (best == NULL || heard > best_heard ||
            (heard == best_heard && free_runs > best_room)) {
            best = c;
            best_room = free_runs;
            best_heard = heard;
        }
    }
    return best;
}

static int any_suspect(const remote *m)
{
    for (size_t i = 0; i < m->n_ctls; i++)
        if (m->ctls[i]->online && m->ctls[i]->in_group &&
            m->ctls[i]->suspect)
            return 1;
    return 0;
}

/* "ctl-1 2 running, 41 done; ctl-2 offline, 12 done" */
static void describe_workers(remote *m)
{
    size_t w = 0;
    m->workers[0] = '\0';
    for (size_t i = 0; i < m->n_ctls && w + 80 < sizeof m->workers; i++) {
        const ctl *c = m->ctls[i];
        unsigned running = holding(m, c);
        if (!(c->online && c->in_group) && running == 0 && c->done == 0)
            continue;
        w += (size_t)snprintf(m->workers + w, sizeof m->workers - w,
                              "%s%s%s %u running, %zu done", w ? "; " : "",
                              c->id, !c->online ? " offline,"
                                     : c->suspect ? " not answering," : "",
                              running, c->done);
    }
    m->t->workers = m->workers[0] ? m->workers : NULL;
}

/* Once, when the cases start: who runs them. */
static void say_group(remote *m)
{
    char list[800];
    size_t w = 0;
    if (m->said_group)
        return;
    m->said_group = 1;
    list[0] = '\0';
    for (size_t i = 0; i < m->n_ctls && w + 80 < sizeof list; i++)
        if (m->ctls[i]->online && m->ctls[i]->in_group)
            w += (size_t)snprintf(list + w, sizeof list - w, "%s%s "
                                  "(capacity %ld)", w ? ", " : "",
                                  m->ctls[i]->id, m->ctls[i]->capacity);
    note(m, "group %s under %s: %s; %zu case%s in flight at most%s", m->group,
         m->prefix, list, window(m), window(m) == 1 ? "" : "s",
         m->o->jobs ? " (-j)" : "");
}

/* ---- a case's request and subscriptions ----------------------------------- */

static rcase *find_case(const remote *m, size_t index)
{
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i]->index == index)
            return m->live[i];
    return NULL;
}

/* The case an id of ours names ("b<hash>-<case id>[.n]"), if it is in
 * flight; *current: the id is its request id now. */
static rcase *case_of(const remote *m, const char *id, size_t len,
                      int *current)
{
    size_t tl = strlen(m->tag);
    if (len <= tl || strncmp(id, m->tag, tl) != 0)
        return NULL;
    char *end;
    unsigned long long index = strtoull(id + tl, &end, 10);
    if (end == id + tl || index >= m->b->n_cases)
        return NULL;
    rcase *rc = find_case(m, (size_t)index);
    if (rc == NULL)
        return NULL;
    const char *name = batch__case_name(m->r, rc->index);
    size_t nl = strlen(name);
    if (len < tl + nl || strncmp(id + tl, name, nl) != 0 ||
        (len > tl + nl && id[tl + nl] != '.'))
        return NULL;
    *current = strlen(rc->id) == len && strncmp(rc->id, id, len) == 0;
    return rc;
}

static void drop_topics(remote *m, rcase *rc)
{
    if (rc->n_topics > 0)
        mqtt__unsubscribe(m->mq, (const char *const *)rc->topics,
                          rc->n_topics);
    for (size_t i = 0; i < rc->n_topics; i++)
        free(rc->topics[i]);
    rc->n_topics = 0;
    rc->subscribed = 0;
}

/* The request id from the case's id and its suffix, into req and text. */
static int set_id(remote *m, rcase *rc)
{
    const char *name = batch__case_name(m->r, rc->index);
    if (rc->fresh)
        snprintf(rc->id, sizeof rc->id, "%s%s.%u", m->tag, name, rc->fresh);
    else
        snprintf(rc->id, sizeof rc->id, "%s%s", m->tag, name);
    free(rc->text);
    rc->text = NULL;
    if (json_object_set_new(rc->req, "id", json_string(rc->id)) != 0)
        return -1;
    rc->text = json_dumps(rc->req, JSON_COMPACT);
    return rc->text ? 0 : -1;
}

/* Answers to this id, its results with --rows, and repair's answers. */
static int subscribe(remote *m, rcase *rc)
{
    const char *p = m->prefix;
    int n = 0;
    n += asprintf(&rc->topics[0], "%s/+/response/%s", p, rc->id) < 0;
    rc->n_topics = 1;
    if (m->o->rows) {
        n += asprintf(&rc->topics[1], "%s/+/result/%s", p, rc->id) < 0;
        n += asprintf(&rc->topics[2], "%s/+/response/%s/repair", p,
                      rc->id) < 0;
        rc->n_topics = 3;
    }
    if (n > 0)
        return -1;
    return mqtt__subscribe_tagged(m->mq, (const char *const *)rc->topics,
                                  rc->n_topics, rc->index + 1) < 0 ? -1 : 0;
}

/* Publish the request to to (NULL: the pool). */
static void publish(remote *m, rcase *rc, ctl *to, enum rstate state)
{
    char topic[512];
    if (to)
        snprintf(topic, sizeof topic, "%s/%s/request", m->prefix, to->id);
    else
        snprintf(topic, sizeof topic, "%s/pool/request", m->prefix);
    mqtt_publish pub = {.topic = topic, .payload = rc->text,
                        .len = strlen(rc->text), .qos = 1,
                        .tag = rc->index + 1};
    rc->unsent = mqtt__publish(m->mq, &pub) != 0;
    rc->target = to;
    rc->state = state;
    rc->sent = now();
    rc->sends++;
}

/* ---- rows ----------------------------------------------------------------- */

static void drop_rows(rcase *rc)
{
    if (rc->rows) {
        fclose(rc->rows);
        unlink(rc->tmp);
        rc->rows = NULL;
    }
    free(rc->tmp);
    rc->tmp = NULL;
    repair__free(&rc->rep);
    collect__free(&rc->col);
    json_decref(rc->final);
    rc->final = NULL;
}

/* repair.c's requests: to the case's controller, answered under its
 * topics on P/C/response/<id>/repair. */
static int send_repair(void *ctx, const char *payload)
{
    rcase *rc = ctx;
    remote *m = rc->m;
    if (rc->bound == NULL || !m->connected)
        return -1;
    char to[512], reply[512];
    snprintf(to, sizeof to, "%s/%s/request", m->prefix, rc->bound->id);
    snprintf(reply, sizeof reply, "%s/%s/response/%s/repair", m->prefix,
             rc->bound->id, rc->id);
    mqtt_publish pub = {.topic = to, .payload = payload,
                        .len = strlen(payload), .qos = 1,
                        .response_topic = reply, .tag = TAG_OTHER};
    return mqtt__publish(m->mq, &pub);
}

static void repair_note(void *ctx, const char *sentence)
{
    rcase *rc = ctx;
    note(rc->m, "case %s: %s", batch__case_name(rc->m->r, rc->index),
         sentence);
}

/* The case's rows from now on come from its controller. */
static int start_rows(remote *m, rcase *rc, const json_t *columns)
{
    char why[512];
    const char *name = batch__case_name(m->r, rc->index);
    drop_rows(rc);
    if (asprintf(&rc->tmp, "%s/cases/%s.csv.tmp", m->o->dir, name) < 0) {
        rc->tmp = NULL;
        return -1;
    }
    rc->rows = fopen(rc->tmp, "w");
    rc->col = rc->rows ? collect__new(rc->rows) : NULL;
    repair_io io = {send_repair, repair_note, rc};
    rc->rep = rc->col ? repair__new(rc->id, rc->col, &io) : NULL;
    if (rc->rep == NULL ||
        (columns && collect__columns(rc->col, columns) != 0) ||
        collect__source(rc->col, rc->bound->id, why, sizeof why) != 0)
        return -1;
    if (m->connected)
        repair__connected(rc->rep, now());
    return 0;
}

/* ---- a case's end --------------------------------------------------------- */

/* A path into the run request, as a path into the case's scenario. */
static const char *unroot(const char *path)
{
    if (path && strncmp(path, "/scenario", 9) == 0 &&
        (path[9] == '/' || path[9] == '\0'))
        return path + 9;
    return path ? path : "";
}

static twin_err_code code_of(const char *name)
{
    for (int c = 0; name && c < TWIN_E__COUNT; c++)
        if (strcmp(errors__code_name((twin_err_code)c), name) == 0)
            return (twin_err_code)c;
    return TWIN_E_INTERNAL;
}

static void take_case(remote *m, rcase *rc)
{
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i] == rc) {
            m->live[i] = m->live[--m->n_live];
            break;
        }
    drop_topics(m, rc);
    drop_rows(rc);
    json_decref(rc->req);
    free(rc->text);
    free(rc);
}

/* The case ended with rec (stolen), answered by c (or NULL). */
static void end_case(remote *m, rcase *rc, ctl *c, json_t *rec)
{
    if (rec != NULL) {
        if (c != NULL)
            json_object_set_new(rec, "controller", json_string(c->id));
        json_object_set_new(rec, "request", json_string(rc->id));
        json_object_set_new(rec, "sent", json_integer(rc->sends));
    }
    if (c != NULL)
        c->done++;
    size_t index = rc->index;
    take_case(m, rc);
    batch__case_end(m->r, index, rec);
}

/* A rejection or failure's errors in a case's words. */
static void problems(const json_t *errors, char *buf, size_t len)
{
    twin_errors errs = {0};
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
        errors__add(&errs, code_of(json_string_value(json_object_get(e,
                                                                     "code"))),
                    unroot(json_string_value(json_object_get(e, "path"))),
                    "%s", json_string_value(json_object_get(e, "message"))
                              ? json_string_value(json_object_get(e,
                                                                  "message"))
                              : "no reason given");
    if (errs.count == 0)
        errors__add(&errs, TWIN_E_INTERNAL, "", "no reason given");
    batch__problems(&errs, buf, len);
    errors__clear(&errs);
}

/* The result record of a final response, as a local case's. */
static json_t *record_of(remote *m, rcase *rc, const json_t *resp)
{
    const char *st = json_string_value(json_object_get(resp, "status"));
    const json_t *stats = json_object_get(resp, "stats");
    json_t *rec;
    if (st && strcmp(st, "finished") == 0) {
        rec = batch__record_new(m->r, rc->index, "finished", NULL, NULL);
        const json_t *fns = json_object_get(resp, "functions");
        json_object_set_new(rec, "kpis", json_is_object(fns)
                                             ? json_deep_copy(fns)
                                             : json_object());
        json_t *errs = json_deep_copy(json_object_get(resp,
                                                      "function_errors"));
        const char *k;
        json_t *e;
        json_object_foreach(errs, k, e) {
            const char *p = json_string_value(json_object_get(e, "path"));
            if (p)
                json_object_set_new(e, "path", json_string(unroot(p)));
        }
        if (json_object_size(errs))
            json_object_set(rec, "kpi_errors", errs);
        json_decref(errs);
    } else {
        const json_t *e0 = json_array_get(json_object_get(resp, "errors"), 0);
        const char *code = json_string_value(json_object_get(e0, "code"));
        const char *path = unroot(json_string_value(json_object_get(e0,
                                                                    "path")));
        const char *text = json_string_value(json_object_get(e0, "message"));
        char msg[2048];
        snprintf(msg, sizeof msg, "%s%s%s", path, path[0] ? ": " : "",
                 text ? text : "no reason given");
        const char *status = code && strcmp(code, "model_crashed") == 0
                                 ? "crashed"
                             : code && strcmp(code, "timeout") == 0
                                 ? "timeout"
                                 : "failed";
        rec = batch__record_new(m->r, rc->index, status,
                                code ? code : "internal", msg);
    }
    json_object_set_new(rec, "rows", json_integer(json_integer_value(
                                         json_object_get(resp, "rows"))));
    json_object_set_new(rec, "steps", json_integer(json_integer_value(
                                          json_object_get(stats, "steps"))));
    double wall = json_number_value(json_object_get(stats, "wall_seconds"));
    json_object_set_new(rec, "wall_s", json_real(wall));
    if (wall > m->slowest)
        m->slowest = wall;
    return rec;
}

/* ---- losing a case, and sending it again ---------------------------------- */

/* Send it again under a new id (the old one is spent on its controller:
 * busy, cancelled, or its rows are lost). */
static void renew(remote *m, rcase *rc)
{
    drop_topics(m, rc);
    drop_rows(rc);
    rc->fresh++;
    if (set_id(m, rc) != 0)
        stall(m, "out of memory");
    rc->bound = NULL;
    rc->target = NULL;
    rc->state = R_QUEUED;
    rc->not_before = now();
}

/* Lost: sent again, the same request, to a controller that answers. */
static void lose(remote *m, rcase *rc, const char *why)
{
    const char *name = batch__case_name(m->r, rc->index);
    rc->lost++;
    rc->bound = NULL;
    rc->target = NULL;
    if (m->o->rows)
        drop_rows(rc);
    if (rc->lost > m->max_lost) {
        char msg[1024];
        snprintf(msg, sizeof msg, "lost %u times, the last time because %s; "
                 "not sent again (run the batch again with --retry-failed)",
                 rc->lost, why);
        end_case(m, rc, NULL, batch__record_new(m->r, rc->index, "failed",
                                                "internal", msg));
        return;
    }
    m->resent++;
    note(m, "case %s: %s; sending it again", name, why);
    rc->state = R_QUEUED;
    rc->not_before = now();
}

/* A controller went offline: the cases it held are lost, and those sent
 * to the pool and not yet answered may have gone to it. */
static void controller_gone(remote *m, ctl *c)
{
    char why[300];
    snprintf(why, sizeof why, "%s went offline", c->id);
    note(m, "%s went offline (its last will)", c->id);
    for (size_t i = m->n_live; i-- > 0;) {
        rcase *rc = m->live[i];
        if (rc->bound == c || (rc->bound == NULL && rc->target == c &&
                               rc->state != R_QUEUED))
            lose(m, rc, why);
        else if (rc->bound == NULL && rc->target == NULL &&
                 rc->state == R_SENT) {
            /* It may have gone to c: the same request to one that
             * answers (which, if it had it, answers from memory). */
            rc->state = R_QUEUED;
            rc->not_before = now();
        }
    }
}

/* ---- answers ---------------------------------------------------------------- */

static void heard_from(ctl *c, double t)
{
    c->heard = t;
    if (c->suspect)
        c->suspect = 0;
}

static int retry_rejection(const json_t *resp)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(resp, "errors"), i, e) {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *path = json_string_value(json_object_get(e, "path"));
        if ((code && strcmp(code, "busy") == 0) ||
            (path && (strcmp(path, "/id") == 0 || strcmp(path, "/run") == 0)))
            return 1;
    }
    return 0;
}

static void on_final(remote *m, rcase *rc, ctl *c, json_t *resp)
{
    if (!m->o->rows) {
        end_case(m, rc, c, record_of(m, rc, resp));
        return;
    }
    /* With rows the answer of the controller whose rows we collect
     * counts: it may be an answer from memory (the rows went out when
     * the request first came), which repair then asks for. */
    if (rc->bound == NULL) {
        rc->bound = c;
        rc->state = R_RUNNING;
        if (start_rows(m, rc, NULL) != 0) {
            stall(m, "cannot write %s: %s", rc->tmp ? rc->tmp : "rows",
                  strerror(errno));
            return;
        }
    }
    if (rc->bound != c || rc->final != NULL) {
        m->late++;
        return;
    }
    rc->final = json_incref(resp);
    rc->last_seq = (long long)json_integer_value(json_object_get(resp,
                                                                 "last_seq"));
    repair__final(rc->rep, rc->last_seq, now());
}

static void on_answer(remote *m, rcase *rc, ctl *c, int current,
                      json_t *resp)
{
    const char *st = json_string_value(json_object_get(resp, "status"));
    double t = now();
    if (st == NULL)
        return;
    if (strcmp(st, "finished") == 0 || strcmp(st, "failed") == 0) {
        on_final(m, rc, c, resp);
        return;
    }
    if (!current || (rc->bound != NULL && rc->bound != c)) {
        m->late++;         /* an earlier id's, or another copy's */
        return;
    }
    if (strcmp(st, "accepted") == 0) {
        if (rc->bound == NULL) {
            rc->bound = c;
            if (m->o->rows &&
                start_rows(m, rc, json_object_get(resp, "columns")) != 0)
                stall(m, "cannot write %s: %s", rc->tmp ? rc->tmp : "rows",
                      strerror(errno));
        }
        rc->state = R_RUNNING;
        rc->heard = t;
    } else if (strcmp(st, "rejected") == 0 && retry_rejection(resp)) {
        m->busy++;
        renew(m, rc);
    } else if (strcmp(st, "rejected") == 0) {
        char msg[2048];
        problems(json_object_get(resp, "errors"), msg, sizeof msg);
        const json_t *e0 = json_array_get(json_object_get(resp, "errors"), 0);
        const char *code = json_string_value(json_object_get(e0, "code"));
        end_case(m, rc, c, batch__record_new(m->r, rc->index, "rejected",
                                             code ? code : "internal", msg));
    } else if (strcmp(st, "cancelled") == 0) {
        /* Not by us in this run: someone cancelled it, or an interrupted
         * run of this batch did.  Its id is spent there. */
        note(m, "case %s was cancelled on %s; sending it again",
             batch__case_name(m->r, rc->index), c->id);
        rc->lost++;
        renew(m, rc);
    }
}

/* The topic's levels after the prefix: controller, kind, id, rest. */
typedef struct topic_parts {
    const char *cid, *kind, *id, *rest;
    size_t cid_len, kind_len, id_len;
} topic_parts;

static int split_topic(const remote *m, const char *topic, topic_parts *p)
{
    size_t pl = strlen(m->prefix);
    memset(p, 0, sizeof *p);
    if (strncmp(topic, m->prefix, pl) != 0 || topic[pl] != '/')
        return -1;
    const char **level[3] = {&p->cid, &p->kind, &p->id};
    size_t *len[3] = {&p->cid_len, &p->kind_len, &p->id_len};
    const char *s = topic + pl + 1;
    for (int i = 0; i < 3 && s != NULL; i++) {
        const char *slash = strchr(s, '/');
        *level[i] = s;
        *len[i] = slash ? (size_t)(slash - s) : strlen(s);
        s = slash ? slash + 1 : NULL;
    }
    p->rest = s;
    return 0;
}

static int is(const char *s, size_t len, const char *word)
{
    return s != NULL && strlen(word) == len && strncmp(s, word, len) == 0;
}

static void on_status(remote *m, const mqtt_event *ev, const topic_parts *p)
{
    ctl *c = find_ctl(m, p->cid, p->cid_len, 1);
    if (c == NULL)
        return;
    json_t *st = ev->len ? json_loadb(ev->payload, ev->len, 0, NULL) : NULL;
    const char *state = json_string_value(json_object_get(st, "state"));
    const char *group = json_string_value(json_object_get(st, "group"));
    int was = c->online && c->in_group;
    c->online = state != NULL && strcmp(state, "online") == 0;
    if (group != NULL)
        c->in_group = strcmp(group, m->group) == 0;
    if (was && !(c->online && c->in_group))
        controller_gone(m, c);
    if (c->online) {
        c->capacity = (long)json_integer_value(json_object_get(st,
                                                               "capacity"));
        c->load = (long)json_integer_value(json_object_get(st, "load"));
        if (!ev->retained)
            heard_from(c, now());
        if (!was && c->in_group && m->ever_connected &&
            now() > m->connected_at + DISCOVERY)
            note(m, "%s is online, capacity %ld", c->id, c->capacity);
    }
    json_decref(st);
}

static void on_message(remote *m, const mqtt_event *ev)
{
    topic_parts p;
    int current = 0;
    if (split_topic(m, ev->topic, &p) != 0)
        return;
    if (is(p.kind, p.kind_len, "status") && p.id == NULL) {
        on_status(m, ev, &p);
        return;
    }
    rcase *rc = p.id ? case_of(m, p.id, p.id_len, &current) : NULL;
    ctl *c = find_ctl(m, p.cid, p.cid_len, 1);
    if (c == NULL)
        return;
    heard_from(c, now());
    if (rc == NULL) {
        m->late += is(p.kind, p.kind_len, "response") && p.rest == NULL;
        return;
    }
    if (is(p.kind, p.kind_len, "result")) {
        if (rc->col == NULL || rc->bound != c || !current)
            return;
        char why[512];
        json_t *msg = json_loadb(ev->payload, ev->len,
                                 JSON_DECODE_INT_AS_REAL, NULL);
        rc->heard = now();
        repair__heard(rc->rep, rc->heard);
        if (collect__take(rc->col, msg, c->id, why, sizeof why) < 0)
            note(m, "case %s: %s", batch__case_name(m->r, rc->index), why);
        return;
    }
    if (!is(p.kind, p.kind_len, "response"))
        return;
    json_t *resp = json_loadb(ev->payload, ev->len, 0, NULL);
    if (p.rest != NULL) {            /* P/C/response/<id>/repair */
        if (rc->rep && resp && current)
            repair__answer(rc->rep, resp, now());
    } else if (resp != NULL) {
        on_answer(m, rc, c, current, resp);
    }
    json_decref(resp);
}

/* ---- the cases in flight -------------------------------------------------- */

/* A new case in flight, or none when it does not compose (it has then
 * ended, rejected). */
static int add_case(remote *m, size_t index)
{
    json_t *sc = batch__case_checked(m->r, index);
    if (sc == NULL)
        return 0;
    /* A batch runs as fast as it can: paced in real time or not, as a
     * local run of the batch does. */
    json_object_set_new(sc, "pace", json_string("batch"));
    rcase *rc = calloc(1, sizeof *rc);
    if (rc == NULL || (rc->req = json_pack("{s:s, s:s, s:s, s:o}",
                                           "contract", "twin.request/1",
                                           "id", "", "type", "run",
                                           "scenario", sc)) == NULL) {
        free(rc);
        return -1;
    }
    rc->m = m;
    rc->index = index;
    rc->last_seq = -1;
    rc->state = R_QUEUED;
    if (set_id(m, rc) != 0) {
        json_decref(rc->req);
        free(rc);
        return -1;
    }
    if (m->n_live == m->cap_live) {
        size_t cap = m->cap_live ? 2 * m->cap_live : 16;
        rcase **more = realloc(m->live, cap * sizeof *more);
        if (more == NULL) {
            json_decref(rc->req);
            free(rc->text);
            free(rc);
            return -1;
        }
        m->live = more;
        m->cap_live = cap;
    }
    m->live[m->n_live++] = rc;
    return 0;
}

/* A queued case goes: to the pool the first time while every controller
 * answers, else to the controller with the most room. */
static void send_queued(remote *m, rcase *rc, double t)
{
    ctl *to = NULL;
    if (rc->sends > 0 || any_suspect(m)) {
        to = choose(m, rc->sent);
        if (to == NULL)
            return;        /* no room: looked at again at the next news */
    }
    rc->target = to;
    if (!rc->subscribed) {
        if (subscribe(m, rc) != 0) {
            stall(m, "cannot subscribe to the answers of case %s",
                  batch__case_name(m->r, rc->index));
            return;
        }
        rc->subscribed = 1;
        rc->state = R_SUBSCRIBING; /* published at its SUBACK */
        return;
    }
    publish(m, rc, to, R_SENT);
}

static double check_after(const remote *m)
{
    if (m->ro->check_after > 0)
        return m->ro->check_after;
    return m->slowest > 0 ? fmax(5.0, 4.0 * m->slowest) : m->t2_horizon;
}

/* With --rows, a case with its final answer ends once its rows are all
 * there (repair asking for what is missing), or is sent again when they
 * cannot be had. */
static void rows_step(remote *m, rcase *rc, double t)
{
    if (rc->final == NULL)
        return;
    repair__step(rc->rep, t);
    if (repair__gave_up(rc->rep) || collect__bad(rc->col) > 0) {
        note(m, "case %s: its rows from %s are incomplete (%s); running it "
             "again", batch__case_name(m->r, rc->index), rc->bound->id,
             repair__gave_up(rc->rep) ? repair__why(rc->rep)
                                      : "unusable result messages");
        rc->lost++;
        renew(m, rc);
        return;
    }
    if (!collect__complete(rc->col, rc->last_seq))
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/cases/%s.csv", m->o->dir,
             batch__case_name(m->r, rc->index));
    char dir[4100];
    snprintf(dir, sizeof dir, "%s/cases", m->o->dir);
    FILE *f = rc->rows;
    rc->rows = NULL;
    if (batch__commit_file(f, rc->tmp, path, dir) != 0) {
        stall(m, "cannot write %s: %s", path, strerror(errno));
        return;
    }
    json_t *final = json_incref(rc->final);
    end_case(m, rc, rc->bound, record_of(m, rc, final));
    json_decref(final);
}

/* Timeouts, and what is due. */
static void step_cases(remote *m, double t)
{
    char why[300];
    for (size_t i = m->n_live; i-- > 0 && !m->t->stalled;) {
        rcase *rc = m->live[i];
        switch (rc->state) {
        case R_QUEUED:
            if (m->connected && t >= rc->not_before)
                send_queued(m, rc, t);
            break;
        case R_SUBSCRIBING:
            break;
        case R_SENT:
            if (rc->unsent && m->connected) {
                publish(m, rc, rc->target, R_SENT);
            } else if (t - rc->sent > m->t1 && m->connected) {
                if (rc->target)
                    rc->target->suspect = 1;
                snprintf(why, sizeof why, "no answer from %s within %g s",
                         rc->target ? rc->target->id : "the pool", m->t1);
                lose(m, rc, why);
            }
            break;
        case R_RUNNING:
            if (m->o->rows && rc->final != NULL)
                rows_step(m, rc, t);
            else if (t - rc->heard > check_after(m) && m->connected)
                publish(m, rc, rc->bound, R_PROBING); /* still there? */
            break;
        case R_PROBING:
            if (rc->unsent && m->connected) {
                publish(m, rc, rc->bound, R_PROBING);
            } else if (t - rc->sent > m->t1 && m->connected) {
                rc->bound->suspect = 1;
                snprintf(why, sizeof why, "%s did not answer within %g s "
                         "when asked about it after %g s", rc->bound->id,
                         m->t1, check_after(m));
                lose(m, rc, why);
            }
            break;
        }
    }
}

/* New cases while the window has room. */
static void fill(remote *m)
{
    size_t w = window(m);
    while (m->n_live < w && m->next < m->b->n_cases && !m->t->stalled) {
        size_t i = m->next++;
        if (!batch__case_todo(m->r, i))
            continue;
        if (add_case(m, i) != 0)
            stall(m, "out of memory");
    }
}

/* ---- the connection ------------------------------------------------------- */

static void on_mqtt(remote *m, const mqtt_event *ev)
{
    double t = now();
    switch (ev->kind) {
    case MQTT_EV_CONNECTED:
        if (m->ever_connected)
            note(m, "connected to %s again", m->ro->broker);
        else
            m->connected_at = t;
        m->connected = m->ever_connected = 1;
        m->gone_since = 0;
        /* Every subscription is made: what waited for it goes, and what
         * was answered meanwhile is asked for again (same ids: answered
         * from memory). */
        for (size_t i = 0; i < m->n_live; i++) {
            rcase *rc = m->live[i];
            if (rc->state == R_SUBSCRIBING || rc->state == R_SENT)
                publish(m, rc, rc->target, R_SENT);
            else if (rc->state == R_RUNNING || rc->state == R_PROBING)
                rc->heard = -INFINITY; /* probed on the next step */
            if (rc->rep)
                repair__connected(rc->rep, t);
        }
        break;
    case MQTT_EV_LOST:
        m->connected = 0;
        m->gone_since = t;
        note(m, "lost the broker (%s); reconnecting",
             ev->text ? ev->text : "?");
        for (size_t i = 0; i < m->n_live; i++)
            if (m->live[i]->rep)
                repair__lost(m->live[i]->rep, t);
        break;
    case MQTT_EV_CONNECT_FAILED:
        if (!m->ever_connected) {
            stall(m, "%s%s", ev->text ? ev->text : "cannot connect",
                  ev->refused ? "" : "; check --broker");
            break;
        }
        m->reconnect_at = t + 1.0;
        break;
    case MQTT_EV_SUBACK: {
        rcase *rc = ev->tag ? find_case(m, (size_t)(ev->tag - 1)) : NULL;
        if (ev->refused) {
            stall(m, "%s: check the broker's ACL (the batch reads "
                  "%s/+/response/#, %s/+/result/# and %s/+/status)",
                  ev->text ? ev->text : "a subscription was refused",
                  m->prefix, m->prefix, m->prefix);
        } else if (rc != NULL && rc->state == R_SUBSCRIBING) {
            publish(m, rc, rc->target, R_SENT);
        }
        break;
    }
    case MQTT_EV_PUBACK:
        if (ev->refused && ev->tag < TAG_OTHER)
            stall(m, "%s: a request was not delivered; check the broker's "
                  "ACL for %s/pool/request and %s/+/request",
                  ev->text ? ev->text : "refused", m->prefix, m->prefix);
        break;
    case MQTT_EV_PUBFAIL: {
        rcase *rc = ev->tag && ev->tag < TAG_OTHER
                        ? find_case(m, (size_t)(ev->tag - 1)) : NULL;
        if (rc != NULL && (rc->state == R_SENT || rc->state == R_PROBING))
            rc->unsent = 1;
        break;
    }
    case MQTT_EV_MESSAGE:
        on_message(m, ev);
        break;
    }
}

/* Stop: the controllers are asked to cancel the cases they run (their
 * ids are then spent there: a resumed batch sends them under new ones),
 * and the cancels are given a moment to go out. */
static void cancel_all(remote *m)
{
    for (size_t i = 0; i < m->n_live && m->connected; i++) {
        rcase *rc = m->live[i];
        if (rc->bound == NULL)
            continue;
        char topic[512], id[ID_MAX + 8];
        snprintf(topic, sizeof topic, "%s/%s/request", m->prefix,
                 rc->bound->id);
        snprintf(id, sizeof id, "%s:cancel", rc->id);
        json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "contract",
                                "twin.request/1", "id", id, "type", "cancel",
                                "run", rc->id);
        char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
        if (text) {
            mqtt_publish pub = {.topic = topic, .payload = text,
                                .len = strlen(text), .qos = 1,
                                .tag = TAG_OTHER};
            mqtt__publish(m->mq, &pub);
        }
        free(text);
        json_decref(req);
    }
    double until = now() + STOP_WAIT;
    while (m->connected && mqtt__in_flight(m->mq) > 0 && now() < until)
        usleep(10000);
}

static int setup(remote *m, char *client_id, size_t len)
{
    char uuid[37], why[1024];
    static char filter[512];
    static const char *subs[1];
    snprintf(m->tag, sizeof m->tag, "b%s-", m->b->hash);
    if (repair__uuid(uuid) != 0)
        snprintf(uuid, sizeof uuid, "%ld", (long)getpid());
    snprintf(client_id, len, "twinctl-batch-%.8s", uuid);
    snprintf(filter, sizeof filter, "%s/+/status", m->prefix);
    subs[0] = filter;
    mqtt_options mo = m->ro->sec;
    mo.url = m->ro->broker;
    mo.client_id = client_id;
    mo.subscriptions = subs;
    mo.n_subscriptions = 1;
    m->mq = mqtt__start(&mo, why, sizeof why);
    if (m->mq == NULL) {
        stall(m, "%s", why);
        return -1;
    }
    return 0;
}

/* The check interval before the first case finished: 10 s and 1 ms per
 * tick of the base scenario's horizon. */
static double horizon_check(const batch *b)
{
    const json_t *time = json_object_get(b->base, "time");
    double start = json_number_value(json_object_get(time, "start"));
    double stop = json_number_value(json_object_get(time, "stop"));
    double dt = json_number_value(json_object_get(time, "dt"));
    double ticks = dt > 0 && stop > start ? (stop - start) / dt : 0;
    return 10.0 + 1e-3 * ticks;
}

void batch_remote__run_all(batch_runner *r, const batch *b,
                           const batch_run_opts *o, batch_tally *t,
                           const batch_observer *obs, char *why,
                           size_t why_len)
{
    const batch_remote_opts *ro = o->remote;
    remote mv = {.r = r, .b = b, .o = o, .ro = ro, .t = t, .obs = obs,
                 .why = why, .why_len = why_len,
                 .prefix = ro->prefix ? ro->prefix : "twin",
                 .group = ro->group ? ro->group : "twin",
                 .t1 = ro->answer_timeout > 0 ? ro->answer_timeout
                                              : BATCH_ANSWER_TIMEOUT,
                 .max_lost = ro->max_attempts ? ro->max_attempts
                                              : BATCH_MAX_ATTEMPTS};
    remote *m = &mv;
    double wait = ro->wait_controllers > 0 ? ro->wait_controllers
                                           : BATCH_WAIT_CONTROLLERS;
    char client_id[64];
    sigset_t stop_set, old;
    int sfd = -1;

    m->t2_horizon = horizon_check(b);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_set, &old);
    sfd = signalfd(-1, &stop_set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || setup(m, client_id, sizeof client_id) != 0) {
        if (sfd < 0)
            stall(m, "cannot make a signalfd: %s", strerror(errno));
        goto exit;
    }
    m->none_since = m->gone_since = now();
    for (;;) {
        double tn = now();
        if (m->connected && tn >= m->connected_at + DISCOVERY &&
            !t->stopping) {
            if (window(m) == 0 || m->ctls == NULL) {
                if (!m->said_waiting)
                    note(m, "no controller of group %s is online under "
                         "%s/+/status; waiting up to %g s for one",
                         m->group, m->prefix, wait);
                m->said_waiting = 1;
            } else {
                m->said_waiting = 0;
                say_group(m);
            }
            fill(m);
        }
        step_cases(m, tn);
        describe_workers(m);
        t->running = m->n_live;
        batch__progress(r, 0);
        if (t->stalled || t->stopping ||
            (m->n_live == 0 && m->next >= b->n_cases))
            break;
        /* Nobody to run the rest: give up (they run when resumed). */
        int anyone = 0;
        for (size_t i = 0; i < m->n_ctls; i++)
            anyone |= m->ctls[i]->online && m->ctls[i]->in_group;
        if (anyone && m->connected)
            m->none_since = tn;
        if (tn - m->none_since > wait) {
            if (!m->ever_connected)
                stall(m, "could not reach the broker at %s within %g s; "
                      "check --broker", ro->broker, wait);
            else if (!m->connected)
                stall(m, "lost the broker at %s for more than %g s",
                      ro->broker, wait);
            else
                stall(m, "no controller of group %s online under %s for "
                      "%g s ('twinctl status --prefix %s' lists them)",
                      m->group, m->prefix, wait, m->prefix);
            break;
        }
        struct pollfd pfd[2] = {{.fd = mqtt__wake_fd(m->mq),
                                 .events = POLLIN},
                                {.fd = sfd, .events = POLLIN}};
        double refresh = obs && obs->refresh > 0 ? obs->refresh : 0.25;
        double until = tn + fmin(refresh, 0.1);
        if (m->reconnect_at > 0 && m->reconnect_at < until)
            until = m->reconnect_at;
        poll(pfd, 2, (int)ceil(fmax(0.0, until - tn) * 1000.0));
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
            if (!t->stopping)
                t->stopping = (int)si.ssi_signo;
        mqtt_event *ev;
        while (!t->stalled && (ev = mqtt__next(m->mq)) != NULL) {
            on_mqtt(m, ev);
            mqtt__event_free(ev);
        }
        if (m->reconnect_at > 0 && now() >= m->reconnect_at) {
            m->reconnect_at = 0;
            mqtt__reconnect(m->mq);
        }
    }
    if (t->stopping)
        cancel_all(m);
    describe_workers(m);
    batch__progress(r, 1);
    if (m->busy || m->resent || m->late)
        note(m, "%zu case%s sent again after a controller was lost, %zu "
             "after a busy answer; %zu late answer%s ignored", m->resent,
             m->resent == 1 ? "" : "s", m->busy, m->late,
             m->late == 1 ? "" : "s");
exit:
    mqtt__stop(&m->mq, 1000);
    while (m->n_live > 0)
        take_case(m, m->live[m->n_live - 1]);
    free(m->live);
    for (size_t i = 0; i < m->n_ctls; i++) {
        free(m->ctls[i]->id);
        free(m->ctls[i]);
    }
    free(m->ctls);
    if (sfd >= 0)
        close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
}
