/*
 * batch_remote_answers.c — what comes back to `twinctl batch --broker`
 * (batch_remote_answers.h): the controllers' retained statuses, the answers
 * to the cases' requests and, with --rows, their result messages (put in
 * order by collect.c, gaps asked for again by repair.c), turned into the
 * result record a local run writes: the KPIs from `finished`'s
 * functions, a failure's or rejection's reason in a local case's words
 * (paths into the case's scenario, not into the request).  Which answer
 * counts: the first final one (with --rows, the one of the controller
 * whose rows are collected); a busy or spent id is sent again under a new
 * one.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_remote_answers.h"
#include "util.h"

/* The topic's levels after the prefix: controller, kind, id, rest. */
typedef struct topic_parts {
    const char *cid, *kind, *id, *rest;
    size_t cid_len, kind_len, id_len;
} topic_parts;

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
    batch_remote_cases__note(rc->m, "case %s: %s",
                             batch__case_name(rc->m->r, rc->index), sentence);
}

/* The case's rows from now on come from its controller. */
static int start_rows(remote *m, rcase *rc, const json_t *columns)
{
    char why[512], path[4200];
    batch_remote_cases__drop_rows(rc);
    batch__rows_path(m->r, rc->index, path, sizeof path);
    if (asprintf(&rc->tmp, "%s.tmp", path) < 0) {
        rc->tmp = NULL;
        return -1;
    }
    rc->rows = rows_out__open(rc->tmp, m->o->rows_format,
                              &m->o->rows_options, why, sizeof why);
    rc->col = rc->rows ? collect__new(rc->rows, NULL) : NULL;
    repair_io io = {send_repair, repair_note, rc, m->encoding};
    rc->rep = rc->col ? repair__new(rc->id, rc->col, &io) : NULL;
    if (rc->rep == NULL ||
        (columns && collect__columns(rc->col, columns) != 0) ||
        collect__source(rc->col, rc->bound->id, why, sizeof why) != 0)
        return -1;
    if (m->connected)
        repair__connected(rc->rep, util__now());
    return 0;
}

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

/* A rejection or failure's errors in a case's words. */
static void problems(const json_t *errors, char *buf, size_t len)
{
    twin_errors errs = {0};
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e) {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *text = json_string_value(json_object_get(e, "message"));
        errors__add(&errs, code_of(code), unroot(path), "%s",
                    text ? text : "no reason given");
    }
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
    /* The rows the case made, as a local run counts them: sent, or
     * thinned to two (batch_remote.c), one every `every` ticks run. */
    json_int_t rows = json_integer_value(json_object_get(resp, "rows"));
    if (m->thin > 0)
        rows = json_integer_value(json_object_get(stats, "ticks")) /
                   m->every + 1;
    json_object_set_new(rec, "rows", json_integer(rows));
    json_object_set_new(rec, "steps", json_integer(json_integer_value(
                                          json_object_get(stats, "steps"))));
    double wall = json_number_value(json_object_get(stats, "wall_seconds"));
    json_object_set_new(rec, "wall_s", json_real(wall));
    if (wall > m->slowest)
        m->slowest = wall;
    return rec;
}

static void heard_from(ctl *c, double t)
{
    c->heard = t;
    c->suspect = 0;
}

/* A rejection that is not the case's: 1 busy, 2 its id is spent on that
 * controller ("run id already in use": it forgot the answer but still
 * holds the run's results); 0 the case's own. */
static int retry_rejection(const json_t *resp)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(resp, "errors"), i, e) {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *path = json_string_value(json_object_get(e, "path"));
        if (code && strcmp(code, "busy") == 0)
            return 1;
        if (path && (strcmp(path, "/id") == 0 || strcmp(path, "/run") == 0))
            return 2;
    }
    return 0;
}

static void on_final(remote *m, rcase *rc, ctl *c, json_t *resp)
{
    if (!m->o->rows) {
        batch_remote_cases__end(m, rc, c, record_of(m, rc, resp));
        return;
    }
    /* With rows the answer of the controller whose rows we collect
     * counts: it may be an answer from memory (the rows went out when
     * the request first came), which repair then asks for. */
    if (rc->bound == NULL) {
        rc->bound = c;
        rc->state = R_RUNNING;
        if (start_rows(m, rc, NULL) != 0) {
            batch_remote_cases__stall(m, "cannot write %s: %s",
                                      rc->tmp ? rc->tmp : "rows",
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
    repair__final(rc->rep, rc->last_seq, util__now());
}

static void on_answer(remote *m, rcase *rc, ctl *c, int current,
                      json_t *resp)
{
    const char *st = json_string_value(json_object_get(resp, "status"));
    double t = util__now();
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
                batch_remote_cases__stall(m, "cannot write %s: %s",
                                          rc->tmp ? rc->tmp : "rows",
                                          strerror(errno));
        }
        rc->state = R_RUNNING;
        rc->heard = t;
        rc->busy = 0;
    } else if (strcmp(st, "rejected") == 0 && retry_rejection(resp)) {
        /* busy goes again at once; a spent id counts as a loss, so that
         * a controller that keeps saying so cannot keep the case going */
        char why[300];
        snprintf(why, sizeof why, "%s says its id is in use", c->id);
        int busy = retry_rejection(resp) == 1;
        m->busy += busy;
        if (busy) {
            /* Full, whatever its last status said: no room there until
             * its next status, or a moment (the answer may be an old one,
             * from its memory).  A case that keeps meeting full
             * controllers waits a little between tries. */
            c->full_until = t + FULL_WAIT_BUSY;
            rc->busy++;
        }
        batch_remote_cases__renew(m, rc, busy ? NULL : why);
        if (busy && rc->busy > 2)
            rc->not_before = t + 0.5;
    } else if (strcmp(st, "rejected") == 0) {
        char msg[2048];
        problems(json_object_get(resp, "errors"), msg, sizeof msg);
        const json_t *e0 = json_array_get(json_object_get(resp, "errors"), 0);
        const char *code = json_string_value(json_object_get(e0, "code"));
        batch_remote_cases__end(m, rc, c,
                                batch__record_new(m->r, rc->index, "rejected",
                                                  code ? code : "internal",
                                                  msg));
    } else if (strcmp(st, "cancelled") == 0) {
        /* Not by us in this run: someone cancelled it, or an interrupted
         * run of this batch did.  Its id is spent there. */
        char why[300];
        snprintf(why, sizeof why, "it was cancelled on %s", c->id);
        batch_remote_cases__note(m,
                                 "case %s: %s; sending it again under a "
                                 "new id",
                                 batch__case_name(m->r, rc->index), why);
        batch_remote_cases__renew(m, rc, why);
    }
}

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
    ctl *c = batch_remote_cases__find_ctl(m, p->cid, p->cid_len, 1);
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
        batch_remote_cases__controller_gone(m, c);
    if (c->online) {
        c->capacity = (long)json_integer_value(json_object_get(st,
                                                               "capacity"));
        c->load = (long)json_integer_value(json_object_get(st, "load"));
        /* A full spool takes no new run until it drains, which no status
         * announces: look again after a while. */
        c->full_until = json_is_true(json_object_get(st, "spool_full"))
                            ? util__now() + FULL_WAIT_SPOOL : 0;
        if (!ev->retained)
            heard_from(c, util__now());
        if (!was && c->in_group && m->ever_connected &&
            util__now() > m->connected_at + DISCOVERY)
            batch_remote_cases__note(m, "%s is online, capacity %ld", c->id,
                                     c->capacity);
    }
    json_decref(st);
}

void batch_remote_answers__on_message(remote *m, const mqtt_event *ev)
{
    topic_parts p;
    int current = 0;
    if (split_topic(m, ev->topic, &p) != 0)
        return;
    if (is(p.kind, p.kind_len, "status") && p.id == NULL) {
        on_status(m, ev, &p);
        return;
    }
    rcase *rc = p.id ? batch_remote_cases__of_id(m, p.id, p.id_len, &current)
                     : NULL;
    ctl *c = batch_remote_cases__find_ctl(m, p.cid, p.cid_len, 1);
    if (c == NULL)
        return;
    heard_from(c, util__now());
    if (rc == NULL) {
        m->late += is(p.kind, p.kind_len, "response") && p.rest == NULL;
        return;
    }
    if (is(p.kind, p.kind_len, "result")) {
        if (rc->col == NULL || rc->bound != c || !current)
            return;
        char why[512];
        rc->heard = util__now();
        repair__heard(rc->rep, rc->heard);
        if (collect__take_payload(rc->col, ev->payload, ev->len,
                                  ev->content_type, c->id, why,
                                  sizeof why) < 0)
            batch_remote_cases__note(m, "case %s: %s",
                                     batch__case_name(m->r, rc->index), why);
        return;
    }
    if (!is(p.kind, p.kind_len, "response"))
        return;
    json_t *resp = json_loadb(ev->payload, ev->len, 0, NULL);
    if (p.rest != NULL) {            /* P/C/response/<id>/repair */
        if (rc->rep && resp && current)
            repair__answer(rc->rep, resp, util__now());
    } else if (resp != NULL) {
        on_answer(m, rc, c, current, resp);
    }
    json_decref(resp);
}

/* With --rows, a case with its final answer ends once its rows are all
 * there (repair asking for what is missing), or is sent again when they
 * cannot be had. */
void batch_remote_answers__rows_step(remote *m, rcase *rc, double t)
{
    if (rc->final == NULL)
        return;
    repair__step(rc->rep, t);
    if (repair__gave_up(rc->rep) || collect__bad(rc->col) > 0) {
        char why[800];
        snprintf(why, sizeof why, "its rows from %s are incomplete (%s)",
                 rc->bound->id, repair__gave_up(rc->rep)
                                    ? repair__why(rc->rep)
                                    : "unusable result messages");
        batch_remote_cases__note(m,
                                 "case %s: %s; running it again under a "
                                 "new id",
                                 batch__case_name(m->r, rc->index), why);
        batch_remote_cases__renew(m, rc, why);
        return;
    }
    if (!collect__complete(rc->col, rc->last_seq))
        return;
    char path[4200], why[1024];
    batch__rows_path(m->r, rc->index, path, sizeof path);
    char dir[4100];
    snprintf(dir, sizeof dir, "%s/cases", m->o->dir);
    if (batch__commit_rows(&rc->rows, rc->tmp, path, dir, why,
                           sizeof why) != 0) {
        batch_remote_cases__stall(m, "%s", why);
        return;
    }
    json_t *final = json_incref(rc->final);
    batch_remote_cases__end(m, rc, rc->bound, record_of(m, rc, final));
    json_decref(final);
}
