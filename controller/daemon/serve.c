/*
 * serve.c — `twinctl serve`: the daemon's start, its loop and its stop.
 *
 * One thread does everything.  It sleeps in poll() on the MQTT event fd,
 * a signalfd and the pipes of running runs, calls and jobs, and wakes
 * for the sender's next batch deadline and the time limits.  What comes
 * from the broker goes to intake.c (the envelope), and from there to one
 * handler per request type (handle_<type>.c); the runs' records are
 * runs.c's, the answers respond.c's, the status status.c's, publishing
 * the sender's.  This file owns the order of things: the configuration
 * turned into a client, the checks at start, what one pass of the loop
 * does, and the stop (cancel, drain, say offline, free).
 */
#include "serve.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "admission.h"
#include "crash.h"
#include "daemon.h"
#include "handlers.h"
#include "intake.h"
#include "job.h"
#include "mqtt_security.h"
#include "paths.h"
#include "signal_subs.h"
#include "recover.h"
#include "runs.h"
#include "status.h"
#include "util.h"

#define DRAIN_SECONDS 2.0  /* s more to deliver what is queued when
                            * stopping; what is not stays in the spool */
#define OFFLINE_SECONDS 1.0 /* s to deliver the offline status at last */

/* ---- libraries ----------------------------------------------------------- */

static int load_libraries(serve *sv)
{
    model_lib models = {0};
    instance_lib instances = {0};
    func_lib functions = {0};
    /* The vetting children and the runs inherit it (docs/python.md). */
    if (sv->cfg.python_venv != NULL)
        setenv("TWIN_PYTHON_VENV", sv->cfg.python_venv, 1);
    if (paths__load(&sv->cfg.paths, &models, &instances, sv->cfg.quiet) != 0)
        return -1;
    paths__load_functions(&sv->cfg.paths, &functions, sv->cfg.quiet);
    instlib__free(&sv->instances);
    modlib__free(&sv->models);
    funclib__free(&sv->functions);
    sv->models = models;
    sv->instances = instances;
    sv->functions = functions;
    daemon__say(sv, "libraries: %zu models, %zu instances, %zu plugin "
                "functions", sv->models.count, sv->instances.count,
                funclib__count(&sv->functions));
    return 0;
}

/* ---- start -------------------------------------------------------------- */

static int setup(serve *sv)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    sv->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sv->sigfd < 0)
        return -1;
    const char *p = sv->cfg.prefix, *id = sv->cfg.id;
    if (asprintf(&sv->t_request, "%s/%s/request", p, id) < 0 ||
        asprintf(&sv->t_pool, "$share/%s/%s/pool/request", sv->cfg.group,
                 p) < 0 ||
        asprintf(&sv->t_input, "%s/%s/input/+", p, id) < 0 ||
        asprintf(&sv->t_status, "%s/%s/status", p, id) < 0 ||
        asprintf(&sv->t_response_base, "%s/%s/response", p, id) < 0)
        return -1;
    return answers__init(&sv->memo, 4096);
}

/* The MQTT client's options from the configuration: identity, the last
 * will (status offline), the subscriptions, the limits on what reaches
 * this process, TLS and the login.  *will and *password are the caller's
 * to free, also on failure.  Returns 0, or -1 when it was said why. */
static int broker_options(serve *sv, mqtt_options *mo, const char **subs,
                          char **will, char **password)
{
    char why[1024];
    json_t *offline = json_pack("{s:s, s:s, s:s}", "contract",
                                "twin.status/1", "controller", sv->cfg.id,
                                "state", "offline");
    *will = json_dumps(offline, JSON_COMPACT);
    json_decref(offline);
    subs[0] = sv->t_request;
    subs[1] = sv->t_pool;
    subs[2] = sv->t_input;
    *mo = (mqtt_options){.url = sv->cfg.broker, .client_id = sv->cfg.id,
                         .will_topic = sv->t_status, .will_payload = *will,
                         .will_retained = 1, .subscriptions = subs,
                         .n_subscriptions = 3,
                         /* Requests far over the limit never reach this
                          * process's memory; those just over it are
                          * still answered too_large. */
                         .max_packet = config__max_packet(&sv->cfg),
                         .max_queued = sv->cfg.limits.queued_requests};
    int failed = 0;
    if (mqtt_security__options(mo, &sv->cfg.security, why, sizeof why) !=
            0 ||
        (*password = mqtt__read_password(mo, &failed, why, sizeof why),
         failed)) {
        fprintf(stderr, "twinctl serve: %s\n", why);
        return -1;
    }
    /* Out of the environment before a plugin is loaded or a run forked:
     * they would inherit it. */
    mqtt__scrub_password_env();
    mo->password = *password;
    if (mo->username && strcmp(mo->username, sv->cfg.id) != 0)
        daemon__say(sv, "logging in as '%s', not as this controller's id "
                    "'%s': with examples/mosquitto-secure.conf "
                    "(use_username_as_clientid) and examples/acl a "
                    "controller's username is its id (docs/serve.md, "
                    "Security)", mo->username, sv->cfg.id);
    return 0;
}

/* Signals, topics, the broker's options and login, the libraries, the
 * client, the sender and the spool, and what an earlier start left in
 * it.  Returns 0, or -1 when it was said why. */
static int start(serve *sv)
{
    char why[1024];
    mqtt_options mo;
    const char *subs[3];
    char *will = NULL, *password = NULL;
    int rc = -1;

    if (setup(sv) != 0) {
        fprintf(stderr, "twinctl serve: cannot set up: %s\n",
                strerror(errno));
        return -1;
    }
    if (broker_options(sv, &mo, subs, &will, &password) != 0 ||
        load_libraries(sv) != 0)
        goto exit;
    sv->mq = mqtt__start(&mo, why, sizeof why);
    if (sv->mq == NULL) {
        fprintf(stderr, "twinctl serve: %s\n", why);
        goto exit;
    }
    sender_limits sl = {.batch_rows = sv->cfg.limits.batch_rows,
                        .batch_delay = sv->cfg.limits.batch_delay,
                        .buffer_bytes = sv->cfg.limits.buffer_bytes};
    sv->out = sender__new(sv->mq, &sl);
    if (sv->out == NULL)
        goto exit;
    sv->sp = spool__open(sv->cfg.spool_dir, why, sizeof why);
    if (sv->sp == NULL) {
        fprintf(stderr, "twinctl serve: %s\n", why);
        goto exit;
    }
    sender__use_spool(sv->out, sv->sp);
    spool__recover(sv->sp, recover__journal, sv);
    rc = 0;
exit:
    free(will);
    mqtt__free_password(&password);
    return rc;
}

/* ---- the loop ------------------------------------------------------------ */

static void on_mqtt(serve *sv, mqtt_event *ev, double *reconnect_at)
{
    switch (ev->kind) {
    case MQTT_EV_CONNECTED:
        daemon__say(sv, "connected to %s as '%s', listening on %s and %s",
                    sv->cfg.broker, sv->cfg.id, sv->t_request, sv->t_pool);
        sender__on_mqtt(sv->out, ev);
        status__publish(sv);
        break;
    case MQTT_EV_LOST:
        daemon__say(sv, "lost the broker (%s); reconnecting, keeping %zu "
                    "unacknowledged messages", ev->text ? ev->text : "?",
                    sender__queued(sv->out));
        sender__on_mqtt(sv->out, ev);
        break;
    case MQTT_EV_CONNECT_FAILED: {
        /* Said even with -q, but once per distinct reason, not every
         * second. */
        static char last[1024];
        const char *text = ev->text ? ev->text : "cannot connect";
        if (strcmp(last, text) != 0) {
            fprintf(stderr, "twinctl serve: %s; trying again every second\n",
                    text);
            snprintf(last, sizeof last, "%s", text);
        }
        *reconnect_at = util__now() + 1.0;
        break;
    }
    case MQTT_EV_MESSAGE:
        intake__message(sv, ev);
        break;
    case MQTT_EV_PUBACK:
    case MQTT_EV_PUBFAIL:
        if (ev->refused) /* an ACL or quota: sending it again cannot help */
            fprintf(stderr, "twinctl serve: %s; check the broker's ACL for "
                    "this controller's topics (%s/%s/#)\n",
                    ev->text ? ev->text : "the broker refused a message",
                    sv->cfg.prefix, sv->cfg.id);
        sender__on_mqtt(sv->out, ev);
        break;
    case MQTT_EV_SUBACK: /* the daemon makes no tagged subscriptions */
        break;
    }
}

/* Collect the children that ended, each with the rest of its process
 * group (proc.h): nothing a run, a job or a call forked outlives it. */
static void reap(serve *sv)
{
    int status, left;
    pid_t pid;
    while ((pid = proc__reap(&status, &left)) > 0) {
        if (left)
            daemon__say(sv, "the process group of child %d still has "
                        "members 50 ms after SIGKILL", (int)pid);
        if (handle_call__reaped(sv, pid, status) ||
            job__reaped(sv, pid, status))
            continue;
        runs__reaped(sv, pid, status);
    }
}

static double next_deadline(serve *sv)
{
    double due = fmin(sender__next_due(sv->out), job__next_deadline(sv));
    due = runs__next_due(sv, due);
    return handle_call__next_due(sv, due);
}

/* What one pass of the loop watches and when it wakes. */
typedef struct loop_state {
    struct pollfd *pfd;      /* 0: the MQTT events, 1: the signals, then
                              * the runs' pipes, their outputs (from
                              * outputs_from), the calls', the jobs' */
    run_rec **polled;        /* the run of each of the runs' entries */
    size_t n, outputs_from, calls_from;
    double reconnect_at;     /* try the broker again then (0: not) */
    double stop_deadline;    /* stop then, whatever is left */
    double next_tidy;
    int replaying;           /* a replay could go on at once: no sleep */
} loop_state;

/* The poll set for this pass.  Returns 0, or -1 out of memory. */
static int watch(serve *sv, loop_state *ls)
{
    size_t n = 2,
           cap = 2 + 2 * sv->active + 2 * sv->n_calls + 2 * job__count(sv);
    free(ls->pfd);
    free(ls->polled);
    ls->pfd = calloc(cap, sizeof *ls->pfd);
    ls->polled = calloc(cap, sizeof *ls->polled);
    if (ls->pfd == NULL || ls->polled == NULL)
        return -1;
    ls->pfd[0] = (struct pollfd){.fd = mqtt__wake_fd(sv->mq),
                                 .events = POLLIN};
    ls->pfd[1] = (struct pollfd){.fd = sv->sigfd, .events = POLLIN};
    n = runs__watch(sv, ls->pfd, ls->polled, n, cap, &ls->outputs_from);
    ls->calls_from = n;
    n = handle_call__watch(sv, ls->pfd, n);
    n += job__poll_fds(sv, ls->pfd + n, cap - n);
    ls->n = n;
    return 0;
}

/* SIGCHLD reaps, SIGHUP asks for a reload (done once nothing runs), the
 * first SIGTERM or SIGINT starts the stop, a second one ends it now. */
static void on_signals(serve *sv, loop_state *ls, double now)
{
    struct signalfd_siginfo si;
    while (read(sv->sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            reap(sv);
        } else if (si.ssi_signo == SIGHUP) {
            sv->reload_pending = 1;
        } else if (!sv->stopping) {
            daemon__say(sv, "stopping: cancelling %zu run%s, then "
                        "delivering what is queued", sv->active,
                        sv->active == 1 ? "" : "s");
            sv->stopping = 1;
            ls->stop_deadline = now + RUNS_CANCEL_GRACE + DRAIN_SECONDS;
            runs__cancel_all(sv);
            handle_call__stop_all(sv, 1);
            job__stop_all(sv);
        } else if (ls->stop_deadline > now) {
            daemon__say(sv, "second signal: stopping now; what is not "
                        "delivered stays in the spool for the next start");
            ls->stop_deadline = now;
        }
    }
}

/* Once a second: the spool's expired journals, a spool that could not
 * be written tried again, and the status when the spool's room or
 * error changed. */
static void tidy(serve *sv, loop_state *ls, double now)
{
    spool__tidy(sv->sp);
    ls->next_tidy = now + 1.0;
    /* A disk that could not be written: try again. */
    if (sender__spool_error(sv->out))
        sender__retry(sv->out);
    if (admission__spool_full(sv) != sv->spool_full_said ||
        (sender__spool_error(sv->out) != 0) != sv->spool_error_said)
        status__publish(sv); /* room freed, or taken */
}

/* Stopping ends when every run and job has ended and everything is
 * delivered (or cannot be: no broker), or at the deadline whatever the
 * state; what is not delivered is in the spool, for the next start. */
static int stopped(const serve *sv, const loop_state *ls, double now)
{
    return sv->stopping && ((sv->active == 0 && sv->jobs == NULL &&
                             (sender__queued(sv->out) == 0 ||
                              !mqtt__is_connected(sv->mq))) ||
                            now > ls->stop_deadline);
}

/* Serve until stopped.  Returns 0, or -1 when the loop itself failed
 * (out of memory, poll). */
static int loop(serve *sv)
{
    loop_state ls = {.stop_deadline = INFINITY};
    mqtt_event *ev;
    int rc = -1;
    for (;;) {
        double now = util__now();
        if (stopped(sv, &ls, now))
            break;
        if (watch(sv, &ls) != 0)
            goto exit;
        double due = next_deadline(sv);
        if (ls.reconnect_at > 0 && ls.reconnect_at < due)
            due = ls.reconnect_at;
        double wait = ls.replaying ? 0 : fmin(due - now, 1.0);
        int timeout = wait <= 0 ? 0 : (int)ceil(wait * 1000.0);
        if (poll(ls.pfd, ls.n, timeout) < 0 && errno != EINTR)
            goto exit;
        now = util__now();

        if (ls.pfd[1].revents & POLLIN)
            on_signals(sv, &ls, now);
        while ((ev = mqtt__next(sv->mq)) != NULL) {
            on_mqtt(sv, ev, &ls.reconnect_at);
            mqtt__event_free(ev);
        }
        if (ls.reconnect_at > 0 && now >= ls.reconnect_at) {
            ls.reconnect_at = 0;
            mqtt__reconnect(sv->mq);
        }
        runs__ready(sv, ls.pfd, ls.polled, 2, ls.outputs_from, ls.calls_from,
                    now);
        handle_call__ready(sv, ls.pfd);
        reap(sv);
        handle_call__tick(sv, now);
        runs__end_reaped(sv, now);
        job__service(sv, now);
        runs__tick(sv, now);
        if (now >= ls.next_tidy)
            tidy(sv, &ls, now);
        ls.replaying = handle_replay__step(sv);
        sender__flush_due(sv->out, now);
        sender__pump(sv->out);
        if (sv->reload_pending && sv->active == 0 && sv->n_calls == 0) {
            sv->reload_pending = 0;
            daemon__say(sv, "SIGHUP: reloading the libraries");
            if (load_libraries(sv) != 0)
                daemon__say(sv, "reload failed; keeping the libraries as "
                            "they were");
            status__publish(sv);
        }
    }
    rc = 0;
exit:
    free(ls.pfd);
    free(ls.polled);
    return rc;
}

/* ---- stop --------------------------------------------------------------- */

/* Stopped cleanly: say so (the will is only for an unclean end), and
 * give the broker a moment to take what is queued. */
static void say_offline(serve *sv)
{
    mqtt_event *ev;
    status__publish(sv);
    sender__pump(sv->out);
    for (double until = util__now() + OFFLINE_SECONDS;
         sender__queued(sv->out) > 0 && mqtt__is_connected(sv->mq) &&
         util__now() < until;) {
        struct pollfd one = {.fd = mqtt__wake_fd(sv->mq), .events = POLLIN};
        poll(&one, 1, 50);
        while ((ev = mqtt__next(sv->mq)) != NULL) {
            if (ev->kind == MQTT_EV_PUBACK || ev->kind == MQTT_EV_PUBFAIL)
                sender__on_mqtt(sv->out, ev);
            mqtt__event_free(ev);
        }
    }
    if (sender__queued(sv->out) > 0)
        daemon__say(sv, "stopping with %zu messages the broker never "
                    "acknowledged; they stay in the spool and are sent at "
                    "the next start", sender__queued(sv->out));
}

/* Free everything start() made, whatever it got to. */
static void teardown(serve *sv)
{
    runs__free_all(sv);
    signal_subs__free_all(sv);
    handle_call__stop_all(sv, 0);
    job__free_all(sv);
    handle_replay__free_all(sv);
    answers__free(&sv->memo);
    sender__free(&sv->out);
    spool__close(&sv->sp);
    mqtt__stop(&sv->mq, 1000);
    instlib__free(&sv->instances);
    modlib__free(&sv->models);
    funclib__free(&sv->functions);
    if (sv->sigfd >= 0)
        close(sv->sigfd);
    free(sv->t_request);
    free(sv->t_pool);
    free(sv->t_input);
    free(sv->t_status);
    free(sv->t_response_base);
}

int serve__main(twin_config *cfg)
{
    serve sv_storage = {.cfg = *cfg, .sigfd = -1};
    serve *sv = &sv_storage;
    int status = 1;

    sv->started = util__now();
    crash__install("twinctl serve");
    if (proc__become_reaper() != 0)
        daemon__say(sv, "cannot become a child subreaper (%s): what a "
                    "run's process forks is still ended with its process "
                    "group", strerror(errno));
    if (!request__topic_safe(sv->cfg.id)) {
        fprintf(stderr, "twinctl serve: controller id '%s' cannot stand in "
                "a topic: use letters, digits, -, _, . and : only\n",
                sv->cfg.id);
        return 2;
    }
    if (start(sv) == 0 && loop(sv) == 0) {
        say_offline(sv);
        status = 0;
        daemon__say(sv, "stopped after %llu requests (%llu rejected)",
                    (unsigned long long)sv->requests,
                    (unsigned long long)sv->rejected);
    }
    teardown(sv);
    *cfg = sv->cfg;
    return status;
}
