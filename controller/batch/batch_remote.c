/*
 * batch_remote.c — a batch's cases on controllers over MQTT (see
 * batch_remote.h and docs/batch.md, "Across machines").
 *
 * Owns sending a distributed batch's cases: the window of cases in
 * flight (from the controllers of the group: what their retained statuses
 * say, which batch_remote_answers.c reads), each case's request (where it
 * goes, its subscriptions, made before it is published), the timeouts,
 * the connection and the loop.  A case's state and what happens to it
 * (ended, lost, renewed) are batch_remote_cases.c's, the answers
 * batch_remote_answers.c's; the directory, the tally and the summary are
 * batch_run.c's; talking to the broker is mqtt.c's.
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

#include "batch_remote_answers.h"
#include "batch_remote_cases.h"
#include "util.h"

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
    if (c->full_until > util__now())
        return 0;
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
    char *out = m->t->workers;
    size_t w = 0, len = sizeof m->t->workers;
    out[0] = '\0';
    for (size_t i = 0; i < m->n_ctls && w + 80 < len; i++) {
        const ctl *c = m->ctls[i];
        unsigned running = holding(m, c);
        if (!(c->online && c->in_group) && running == 0 && c->done == 0)
            continue;
        w += (size_t)snprintf(out + w, len - w,
                              "%s%s%s %u running, %zu done", w ? "; " : "",
                              c->id, !c->online ? " offline,"
                                     : c->suspect ? " not answering," : "",
                              running, c->done);
    }
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
    batch_remote_cases__note(m,
                             "group %s under %s: %s; %zu case%s in flight "
                             "at most%s",
                             m->group, m->prefix, list, window(m),
                             window(m) == 1 ? "" : "s",
                             m->o->jobs ? " (-j)" : "");
}

/* ---- a case's request and subscriptions --------------------------------- */

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
    rc->sent = util__now();
    rc->sends++;
}

/* ---- the cases in flight ------------------------------------------------ */

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
    if (m->thin > 0) {
        /* Without --rows nobody reads the rows: the first and the last of
         * t alone.  The functions see every tick all the same. */
        json_object_set_new(sc, "outputs", json_array());
        json_object_set_new(sc, "every", json_integer(m->thin));
    }
    rcase *rc = calloc(1, sizeof *rc);
    if (rc == NULL || (rc->req = json_pack("{s:s, s:s, s:s, s:o, s:s}",
                                           "contract", "twin.request/1",
                                           "id", "", "type", "run",
                                           "scenario", sc, "encoding",
                                           m->encoding))
                          == NULL) {
        free(rc);
        return -1;
    }
    rc->m = m;
    rc->index = index;
    rc->last_seq = -1;
    rc->state = R_QUEUED;
    if (batch_remote_cases__set_id(m, rc) != 0) {
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
            batch_remote_cases__stall(m,
                                      "cannot subscribe to the answers of "
                                      "case %s",
                                      batch__case_name(m->r, rc->index));
            return;
        }
        rc->subscribed = 1;
        rc->state = R_SUBSCRIBING; /* published at its SUBACK */
        rc->sent = t;
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

static int by_index(const void *a, const void *b)
{
    const rcase *x = *(rcase *const *)a, *y = *(rcase *const *)b;
    return (x->index > y->index) - (x->index < y->index);
}

/* The queued cases that are due go, in case order: a lost case before
 * the later ones. */
static void send_due(remote *m, double t)
{
    rcase **due = malloc(m->n_live * sizeof *due + 1);
    size_t n = 0;
    if (due == NULL || !m->connected) {
        free(due);
        return;
    }
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i]->state == R_QUEUED && t >= m->live[i]->not_before)
            due[n++] = m->live[i];
    qsort(due, n, sizeof *due, by_index);
    for (size_t i = 0; i < n && !m->t->stalled; i++)
        send_queued(m, due[i], t);
    free(due);
}

/* Timeouts, and what is due. */
static void step_cases(remote *m, double t)
{
    char why[300];
    for (size_t i = m->n_live; i-- > 0 && !m->t->stalled;) {
        rcase *rc = m->live[i];
        switch (rc->state) {
        case R_QUEUED:
            break;
        case R_SUBSCRIBING:
            if (t - rc->sent > m->t1 && m->connected) {
                batch_remote_cases__drop_topics(
                    m, rc); /* no SUBACK: subscribe again */
                rc->state = R_QUEUED;
            }
            break;
        case R_SENT:
            if (rc->unsent && m->connected) {
                publish(m, rc, rc->target, R_SENT);
            } else if (t - rc->sent > m->t1 && m->connected) {
                if (rc->target)
                    rc->target->suspect = 1;
                snprintf(why, sizeof why, "no answer from %s within %g s",
                         rc->target ? rc->target->id : "the pool", m->t1);
                batch_remote_cases__lose(m, rc, why);
            }
            break;
        case R_RUNNING:
            if (m->o->rows && rc->final != NULL)
                batch_remote_answers__rows_step(m, rc, t);
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
                batch_remote_cases__lose(m, rc, why);
            }
            break;
        }
    }
    send_due(m, t);
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
            batch_remote_cases__stall(m, "out of memory");
    }
}

/* ---- the connection ----------------------------------------------------- */

static void on_mqtt(remote *m, const mqtt_event *ev)
{
    double t = util__now();
    switch (ev->kind) {
    case MQTT_EV_CONNECTED:
        if (m->ever_connected)
            batch_remote_cases__note(m, "connected to %s again",
                                     m->ro->broker);
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
        batch_remote_cases__note(m, "lost the broker (%s); reconnecting",
                                 ev->text ? ev->text : "?");
        for (size_t i = 0; i < m->n_live; i++)
            if (m->live[i]->rep)
                repair__lost(m->live[i]->rep, t);
        break;
    case MQTT_EV_CONNECT_FAILED:
        if (!m->ever_connected) {
            batch_remote_cases__stall(m, "%s%s",
                                      ev->text ? ev->text : "cannot connect",
                                      ev->refused ? "" : "; check --broker");
            break;
        }
        m->reconnect_at = t + 1.0;
        break;
    case MQTT_EV_SUBACK: {
        rcase *rc = NULL;
        if (ev->tag)
            rc = batch_remote_cases__find(m, (size_t)(ev->tag - 1));
        if (ev->refused) {
            batch_remote_cases__stall(
                m,
                "%s: check the broker's ACL (the batch reads "
                "%s/+/response/#, %s/+/result/# and %s/+/status)",
                ev->text ? ev->text : "a subscription was refused", m->prefix,
                m->prefix, m->prefix);
        } else if (rc != NULL && rc->state == R_SUBSCRIBING) {
            publish(m, rc, rc->target, R_SENT);
        }
        break;
    }
    case MQTT_EV_PUBACK:
        if (ev->refused && ev->tag < TAG_OTHER)
            batch_remote_cases__stall(
                m,
                "%s: a request was not delivered; check the broker's "
                "ACL for %s/pool/request and %s/+/request",
                ev->text ? ev->text : "refused", m->prefix, m->prefix);
        break;
    case MQTT_EV_PUBFAIL: {
        rcase *rc = ev->tag && ev->tag < TAG_OTHER
                        ? batch_remote_cases__find(m, (size_t)(ev->tag - 1))
                        : NULL;
        if (rc != NULL && (rc->state == R_SENT || rc->state == R_PROBING))
            rc->unsent = 1;
        break;
    }
    case MQTT_EV_MESSAGE: batch_remote_answers__on_message(m, ev); break;
    }
}

/* Stop: the controllers are asked to cancel the cases they run (their
 * ids are then spent there: a resumed batch sends them under new ones),
 * and the cancels are given a moment to go out. */
static void cancel_all(remote *m, int sfd)
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
    /* until they are acknowledged, the time is up, or a second signal */
    double until = util__now() + STOP_WAIT;
    struct pollfd pfd = {.fd = sfd, .events = POLLIN};
    while (m->connected && mqtt__in_flight(m->mq) > 0 &&
           util__now() < until && poll(&pfd, 1, 10) == 0)
        ;
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
        batch_remote_cases__stall(m, "%s", why);
        return -1;
    }
    return 0;
}

/* The check interval before the first case finished: 10 s and 1 ms per
 * tick of the base scenario's horizon. */
static double horizon_ticks(const batch *b)
{
    const json_t *time = json_object_get(b->base, "time");
    double start = json_number_value(json_object_get(time, "start"));
    double stop = json_number_value(json_object_get(time, "stop"));
    double dt = json_number_value(json_object_get(time, "dt"));
    return dt > 0 && stop > start ? round((stop - start) / dt) : 0;
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
                 .encoding = ro->encoding ? ro->encoding : "cbor",
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

    double ticks = horizon_ticks(b);
    m->t2_horizon = 10.0 + 1e-3 * ticks;
    json_int_t every = json_integer_value(json_object_get(b->base, "every"));
    m->every = every > 0 ? every : 1;
    m->thin = o->rows ? 0 : ticks >= 1 ? (json_int_t)ticks : 1;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_set, &old);
    sfd = signalfd(-1, &stop_set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || setup(m, client_id, sizeof client_id) != 0) {
        if (sfd < 0)
            batch_remote_cases__stall(m, "cannot make a signalfd: %s",
                                      strerror(errno));
        goto exit;
    }
    m->none_since = m->gone_since = util__now();
    for (;;) {
        double tn = util__now();
        if (m->connected && tn >= m->connected_at + DISCOVERY &&
            !t->stopping) {
            if (window(m) == 0 || m->ctls == NULL) {
                if (!m->said_waiting)
                    batch_remote_cases__note(
                        m,
                        "no controller of group %s is online under "
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
                batch_remote_cases__stall(
                    m,
                    "could not reach the broker at %s within %g s; "
                    "check --broker",
                    ro->broker, wait);
            else if (!m->connected)
                batch_remote_cases__stall(m,
                                          "lost the broker at %s for more "
                                          "than %g s",
                                          ro->broker, wait);
            else
                batch_remote_cases__stall(
                    m,
                    "no controller of group %s online under %s for "
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
        if (m->reconnect_at > 0 &&
            util__now() >= m->reconnect_at) {
            m->reconnect_at = 0;
            mqtt__reconnect(m->mq);
        }
    }
    if (t->stopping)
        cancel_all(m, sfd);
    describe_workers(m);
    batch__progress(r, 1);
    if (m->busy || m->resent || m->late)
        batch_remote_cases__note(
            m,
            "%zu case%s sent again after a controller was lost, %zu "
            "after a busy answer; %zu late answer%s ignored",
            m->resent, m->resent == 1 ? "" : "s", m->busy, m->late,
            m->late == 1 ? "" : "s");
exit:
    while (m->n_live > 0)
        batch_remote_cases__take(m, m->live[m->n_live - 1]);
    mqtt__stop(&m->mq, 1000);
    free(m->live);
    for (size_t i = 0; i < m->n_ctls; i++) {
        free(m->ctls[i]->id);
        free(m->ctls[i]);
    }
    free(m->ctls);
    if (sfd >= 0) {
        /* A second signal while the cancels went out is taken here, not
         * left pending to end the process before the summary is
         * written. */
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
            ;
        close(sfd);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}
