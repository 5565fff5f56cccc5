/*
 * serve.c — the daemon: its main loop, the runs' lifecycle, responses and
 * their memory for retries, and the retained status.
 *
 * One thread does everything.  It sleeps in poll() on the MQTT event fd,
 * a signalfd and the pipes of running runs, and wakes for the sender's
 * next batch deadline and the runs' time limits.  Request intake (the
 * envelope) is intake.c; each request type is handle_<type>.c; publishing
 * is the sender's.
 */
#include "serve.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "intake.h"
#include "job.h"
#include "json_out.h"
#include "proc.h"
#include "twin_paths.h"
#include "util.h"

#define KEEP_ENDED_RUNS 256
#define CANCEL_GRACE 2.0   /* s a cancelled run gets to stop by itself */
#define DRAIN_SECONDS 2.0  /* s more to deliver what is queued when
                            * stopping; what is not stays in the spool */
#define OFFLINE_SECONDS 1.0 /* s to deliver the offline status at last */

double serve__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void say(const serve *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say_v(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static void say_v(const char *fmt, va_list ap)
{
    fprintf(stderr, "twinctl serve: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void say(const serve *sv, const char *fmt, ...)
{
    if (sv->cfg.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    say_v(fmt, ap);
    va_end(ap);
}

void serve__warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_v(fmt, ap);
    va_end(ap);
}

/* ---- remembered answers -------------------------------------------------- */

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static memo *memo_find(serve *sv, const char *id)
{
    for (memo *m = sv->buckets[hash(id) % sv->n_buckets]; m;
         m = m->next_in_bucket)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

/* The age list: newest at one end, oldest (evicted first) at the other. */
static void memo_unlink(serve *sv, memo *m)
{
    if (m->older)
        m->older->newer = m->newer;
    else
        sv->oldest = m->newer;
    if (m->newer)
        m->newer->older = m->older;
    else
        sv->newest = m->older;
    m->newer = m->older = NULL;
}

static void memo_link_newest(serve *sv, memo *m)
{
    m->older = sv->newest;
    m->newer = NULL;
    if (sv->newest)
        sv->newest->newer = m;
    else
        sv->oldest = m;
    sv->newest = m;
}

static void memo_evict_oldest(serve *sv)
{
    memo *m = sv->oldest;
    if (m == NULL)
        return;
    memo_unlink(sv, m);
    memo **link = &sv->buckets[hash(m->id) % sv->n_buckets];
    while (*link != m)
        link = &(*link)->next_in_bucket;
    *link = m->next_in_bucket;
    sv->memo_bytes -= m->bytes;
    free(m->id);
    free(m->response);
    request__reply_free(&m->reply);
    free(m);
    sv->n_memo--;
}

/* Remember the answer to to->id (replacing an earlier one: a run's final
 * response replaces its `accepted`), as the newest; then forget the
 * oldest answers while more than limits.remembered are kept or they take
 * more than limits.remembered_bytes — but never the one just given, even
 * if it alone is larger. */
void serve__remember(serve *sv, const reply_to *to, const char *response)
{
    if (to->id == NULL)
        return;
    char *text = strdup(response);
    if (text == NULL)
        return;
    memo *m = memo_find(sv, to->id);
    if (m == NULL) {
        m = calloc(1, sizeof *m);
        if (m == NULL || (m->id = strdup(to->id)) == NULL) {
            free(m);
            free(text);
            return;
        }
        size_t b = hash(to->id) % sv->n_buckets;
        m->next_in_bucket = sv->buckets[b];
        sv->buckets[b] = m;
        sv->n_memo++;
    } else {
        memo_unlink(sv, m);
        sv->memo_bytes -= m->bytes;
        free(m->response);
    }
    m->response = text;
    /* What it holds (malloc's own overhead aside). */
    m->bytes = sizeof *m + strlen(m->id) + 1 + strlen(text) + 1;
    sv->memo_bytes += m->bytes;
    memo_link_newest(sv, m);
    while ((sv->n_memo > sv->cfg.limits.remembered ||
            sv->memo_bytes > sv->cfg.limits.remembered_bytes) &&
           sv->oldest != m)
        memo_evict_oldest(sv);
}

int intake__answer_again(serve *sv, const reply_to *to)
{
    if (to->id == NULL)
        return 0;
    memo *m = memo_find(sv, to->id);
    if (m == NULL || m->response == NULL)
        return replay__retry(sv, to); /* not answered yet: in progress? */
    sender__publish(sv->out, to->topic, m->response, strlen(m->response), 0,
                    to->correlation, to->correlation_len);
    /* A run still going: its final response goes there too. */
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING && r->reply.id &&
            strcmp(r->reply.id, to->id) == 0)
            waiters__add(&r->retries, &r->reply, to);
    return 1;
}

/* ---- responses ----------------------------------------------------------- */

static void respond_on(serve *sv, const reply_to *to, req_type type,
                       json_t *resp, spool_stream *st)
{
    /* The envelope first, for people reading the messages. */
    json_t *msg = json_pack("{s:s, s:o}", "contract", "twin.response/1",
                            "id", to->id ? json_string(to->id) : json_null());
    if ((unsigned)type < REQ__COUNT)
        json_object_set_new(msg, "type",
                            json_string(request__type_name(type)));
    json_object_set_new(msg, "controller", json_string(sv->cfg.id));
    json_object_update(msg, resp);
    json_decref(resp);
    char *text = json_out__dumps(msg);
    json_decref(msg);
    if (text == NULL)
        return;
    sender__publish_on(sv->out, st, to->topic, text, strlen(text),
                       to->correlation, to->correlation_len);
    serve__remember(sv, to, text);
    free(text);
}

void serve__respond(serve *sv, const reply_to *to, req_type type,
                    json_t *resp)
{
    respond_on(sv, to, type, resp, NULL);
}

void serve__respond_run(serve *sv, const reply_to *to, run_rec *r,
                        json_t *resp)
{
    respond_on(sv, to, REQ_RUN, resp, r->st);
}

void serve__reject(serve *sv, const reply_to *to, int type,
                   const twin_errors *errs)
{
    sv->rejected++;
    json_t *resp = json_pack("{s:s, s:o}", "status", "rejected", "errors",
                             errors__to_json(errs));
    serve__respond(sv, to, (req_type)type, resp);
}

/* ---- status -------------------------------------------------------------- */

json_t *serve__status_json(serve *sv, const char *state)
{
    json_t *models = json_array(), *runs = json_array();
    for (size_t i = 0; i < sv->models.count; i++)
        json_array_append_new(models,
                              json_string(sv->models.models[i]->d->name));
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING)
            json_array_append_new(runs, json_string(r->id));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char **names = NULL;
    long n_scen = sv->cfg.paths.scenario_dir
                      ? util__list_dir(sv->cfg.paths.scenario_dir, ".json",
                                       &names)
                      : 0;
    util__free_names(names, n_scen);
    json_t *st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:I, "
                     "s:I, s:f}",
                     "contract", "twin.status/1", "controller", sv->cfg.id,
                     "state", state, "version", TWIN_VERSION, "group",
                     sv->cfg.group, "capacity",
                     (json_int_t)sv->cfg.limits.max_runs, "load",
                     (json_int_t)sv->active, "runs", runs, "models", models,
                     "instances", (json_int_t)sv->instances.count,
                     "scenarios", (json_int_t)(n_scen > 0 ? n_scen : 0),
                     "time",
                     (double)now.tv_sec + 1e-9 * (double)now.tv_nsec);
    /* The spool: what is on disk, and the room left for new runs (a run
     * that would not fit is refused; full: not even the smallest fits). */
    spool_room room;
    serve__spool_room(sv, &room);
    json_object_set_new(st, "spool_bytes", json_integer(
                                               (json_int_t)room.used));
    json_object_set_new(st, "spool_limit",
                        json_integer((json_int_t)room.limit));
    json_object_set_new(st, "spool_reserved",
                        json_integer((json_int_t)room.reserved));
    json_object_set_new(st, "spool_free",
                        json_integer((json_int_t)room.free));
    json_object_set_new(st, "spool_full",
                        json_boolean(serve__spool_full(sv)));
    if (room.disk != SIZE_MAX)
        json_object_set_new(st, "spool_disk_free",
                            json_integer((json_int_t)room.disk));
    char why[512];
    if (serve__spool_error(sv, why, sizeof why))
        json_object_set_new(st, "spool_error", json_string(why));
    return st;
}

void serve__publish_status(serve *sv)
{
    json_t *st = serve__status_json(sv, sv->stopping ? "offline" : "online");
    sv->spool_full_said = json_is_true(json_object_get(st, "spool_full"));
    sv->spool_error_said = json_object_get(st, "spool_error") != NULL;
    sender__publish_json(sv->out, sv->t_status, st, 1, NULL, 0);
    json_decref(st);
}

/* ---- runs ---------------------------------------------------------------- */

run_rec *serve__find_run(serve *sv, const char *id)
{
    for (run_rec *r = sv->runs; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

run_rec *serve__run_arg(serve *sv, const json_t *req, const char *needs,
                        twin_errors *errs)
{
    const json_t *run = json_object_get(req, "run");
    run_rec *r = NULL;
    if (run == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/run", "%s", needs);
    else if (request__run_id(run, errs) != NULL &&
             (r = serve__find_run(sv, json_string_value(run))) == NULL)
        errors__add(errs, TWIN_E_UNKNOWN_RUN, "/run",
                    "this controller has no run '%s' (it remembers the last "
                    "256 that ended)", json_string_value(run));
    return r;
}

static void run_free(run_rec *r)
{
    free(r->id);
    request__reply_free(&r->reply);
    waiters__free(&r->retries);
    scenario__free(&r->sc);
    json_decref(r->doc);
    json_decref(r->columns);
    json_decref(r->end);
    free(r->where);
    frame__reader_free(&r->rd);
    sender__run_free(&r->out);
    if (r->child.from_child >= 0)
        close(r->child.from_child);
    if (r->child.to_child >= 0)
        close(r->child.to_child);
    if (r->output != NULL)
        proc__output_close(r->output);
    free(r->output);
    free(r);
}

/* Forget the oldest ended runs beyond KEEP_ENDED_RUNS. */
static void prune_runs(serve *sv)
{
    size_t ended = 0;
    for (run_rec **link = &sv->runs; *link;) {
        run_rec *r = *link;
        if (r->state != RUN_RUNNING && ++ended > KEEP_ENDED_RUNS) {
            *link = r->next;
            run_free(r);
        } else {
            link = &r->next;
        }
    }
}

static void run_event(serve *sv, run_rec *r, const char *text, size_t len)
{
    json_t *ev = json_loadb(text, len, 0, NULL);
    if (ev != NULL)
        sender__event(r->out, ev);
}

/* Read and dispatch what a run sent.  Returns 1 at end of file. */
static int run_read(serve *sv, run_rec *r, double now)
{
    size_t budget = 4u << 20; /* bytes per wake-up, so no run starves */
    long got = 0;
    /* Past the memory bound the runs wait, except when stopping: a
     * cancelled run has little left to say, and must be heard to end. */
    while (budget > 0 && (sv->stopping || !sender__full(sv->out)) &&
           (got = frame__fill(&r->rd, r->child.from_child)) > 0) {
        budget = (size_t)got >= budget ? 0 : budget - (size_t)got;
        const char *p;
        size_t len;
        int type;
        while ((type = frame__next(&r->rd, &p, &len)) > 0) {
            switch (type) {
            case FRAME_ROW: {
                int rc = sender__row(r->out, (const double *)(const void *)p,
                                     len / sizeof(double), now);
                if (rc == -2) {
                    say(sv, "run %s: more rows than the %lld it announced; "
                        "stopped as garbled", r->id,
                        (long long)(r->sc->n_ticks / r->sc->every + 1));
                    proc__signal_group(r->child.pid, SIGKILL);
                    return 1;
                }
                if (rc != 0)
                    say(sv, "run %s: a row of %zu values does not match "
                        "its %zu columns; dropped as corrupt", r->id,
                        len / sizeof(double), json_array_size(r->columns));
                break;
            }
            case FRAME_EVENT:
                run_event(sv, r, p, len);
                break;
            case FRAME_END:
                json_decref(r->end);
                r->end = json_loadb(p, len, 0, NULL);
                break;
            case FRAME_WHERE:
                free(r->where);
                r->where = frame__where_text(p, len);
                break;
            default: /* columns: known since composition */
                break;
            }
        }
        if (type < 0) {
            say(sv, "run %s: garbled data from the run process", r->id);
            proc__signal_group(r->child.pid, SIGKILL);
            return 1;
        }
    }
    return got == 0;
}

json_t *serve__error_list(twin_err_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("[{s:s, s:s, s:s}]", "code", errors__code_name(code),
                     "path", "", "message", msg);
}

/* The run's process is gone and its pipe drained: say how it ended. */
static void run_end(serve *sv, run_rec *r)
{
    sender__run_close(r->out);
    r->last_seq = sender__run_last_seq(r->out);
    r->rows = sender__run_rows(r->out);
    const char *status = "failed";
    json_t *errors = NULL, *stats = NULL;
    const char *end_status = json_string_value(json_object_get(r->end,
                                                               "status"));
    if (end_status != NULL) {
        status = end_status;
        errors = json_incref(json_object_get(r->end, "errors"));
        stats = json_incref(json_object_get(r->end, "stats"));
    } else if (r->end_reason == TWIN_E_TIMEOUT) {
        errors = serve__error_list(TWIN_E_TIMEOUT, "the run passed this "
                                   "controller's limit of %g s of wall-clock "
                                   "time and was stopped%s%s",
                                   sv->cfg.limits.run_seconds,
                                   r->where ? " while in " : "",
                                   r->where ? r->where : "");
    } else if (r->end_reason == TWIN_E_CANCELLED) {
        status = "cancelled";
        errors = serve__error_list(TWIN_E_CANCELLED, "cancelled; the run "
                                   "did not stop by itself within %g s and "
                                   "was killed", CANCEL_GRACE);
    } else if (WIFSIGNALED(r->wait_status)) {
        errors = serve__error_list(TWIN_E_MODEL_CRASHED, "the run process "
                                   "died of signal %d (%s) %s%s; the %llu "
                                   "rows before it were sent",
                                   WTERMSIG(r->wait_status),
                                   strsignal(WTERMSIG(r->wait_status)),
                                   r->where ? "in "
                                            : "in a model or the solver",
                                   r->where ? r->where : "",
                                   (unsigned long long)r->rows);
    } else {
        errors = serve__error_list(TWIN_E_MODEL_CRASHED, "the run process "
                                   "exited with status %d before it "
                                   "finished (a model called exit?); the "
                                   "%llu rows before it were sent",
                                   WEXITSTATUS(r->wait_status),
                                   (unsigned long long)r->rows);
    }
    r->state = strcmp(status, "finished") == 0    ? RUN_FINISHED
               : strcmp(status, "cancelled") == 0 ? RUN_CANCELLED
                                                  : RUN_FAILED;
    json_t *resp = json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", status,
                             "run", r->id, "last_seq",
                             (json_int_t)r->last_seq, "rows",
                             (json_int_t)r->rows, "messages",
                             (json_int_t)(r->last_seq + 1));
    json_object_set_new(resp, "stats", stats ? stats : json_object());
    if (r->state != RUN_FINISHED)
        json_object_set_new(resp, "errors", errors ? errors : json_array());
    else
        json_decref(errors);
    if (r->state == RUN_FINISHED && r->sc && r->sc->n_fn > 0) {
        /* The scenario's functions, as the run's process computed them. */
        json_t *fv = json_object_get(r->end, "functions");
        json_t *fe = json_object_get(r->end, "function_errors");
        json_object_set(resp, "functions", fv ? fv : json_object());
        json_object_set(resp, "function_errors", fe ? fe : json_object());
    }
    serve__respond_run(sv, &r->reply, r, resp);
    waiters__answer(sv, &r->retries);
    if (r->output != NULL) /* its last lines before the end's */
        proc__output_close(r->output);
    free(r->output);
    r->output = NULL;
    say(sv, "run %s %s: %llu rows in %lld messages, %.3f s; its journal "
        "%zu bytes of the %zu it reserved", r->id, status,
        (unsigned long long)r->rows, (long long)(r->last_seq + 1),
        serve__now() - r->started, r->st ? spool__stream_bytes(r->st) : 0,
        r->st ? spool__stream_reserved(r->st) : 0);
    /* What an ended run keeps is its record for status, cancel and
     * replay: no descriptor (its journal's goes once the broker has it
     * all), no scenario, no buffers. */
    spool__finish(&r->st, sv->cfg.limits.retention);
    close(r->child.from_child);
    close(r->child.to_child);
    r->child.from_child = r->child.to_child = -1;

    frame__reader_free(&r->rd); /* 1 MiB or more, of no use now */
    sender__run_free(&r->out);
    scenario__free(&r->sc);
    json_decref(r->doc);
    json_decref(r->columns);
    json_decref(r->end);
    r->doc = r->columns = r->end = NULL;
    sv->active--;
    serve__publish_status(sv);
}

/* Collect the children that ended, each with the rest of its process
 * group (proc.h): nothing a run, a job or a call forked outlives it. */
static void reap(serve *sv)
{
    int status, left;
    pid_t pid;
    while ((pid = proc__reap(&status, &left)) > 0) {
        if (left)
            say(sv, "the process group of child %d still has members "
                "50 ms after SIGKILL", (int)pid);
        if (calls__reaped(sv, pid, status) || job__reaped(sv, pid, status))
            continue;
        for (run_rec *r = sv->runs; r; r = r->next)
            if (r->state == RUN_RUNNING && r->child.pid == pid) {
                r->reaped = 1;
                r->wait_status = status;
            }
    }
}

static void check_time_limits(serve *sv, double now)
{
    for (run_rec *r = sv->runs; r; r = r->next) {
        if (r->state != RUN_RUNNING || r->reaped)
            continue;
        if (now >= r->deadline && r->end_reason == 0) {
            /* SIGUSR1: write out the rows you hold; then it is killed. */
            r->end_reason = TWIN_E_TIMEOUT;
            kill(r->child.pid, SIGUSR1);
            r->kill_at = now + 0.2;
        } else if (r->kill_at > 0 && now >= r->kill_at) {
            r->kill_at = 0;
            proc__signal_group(r->child.pid, SIGKILL);
        }
    }
}

static double next_deadline(serve *sv)
{
    double due = fmin(sender__next_due(sv->out), job__next_deadline(sv));
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING) {
            if (r->deadline < due)
                due = r->deadline;
            if (r->kill_at > 0 && r->kill_at < due)
                due = r->kill_at;
        }
    return calls__next_due(sv, due);
}

void serve__cancel_run(serve *sv, run_rec *r)
{
    if (r->state != RUN_RUNNING || r->kill_at > 0)
        return;
    r->kill_at = serve__now() + CANCEL_GRACE;
    if (r->end_reason == 0)
        r->end_reason = TWIN_E_CANCELLED;
    kill(r->child.pid, SIGTERM);
}

/* ---- libraries ----------------------------------------------------------- */

static int load_libraries(serve *sv)
{
    model_lib models = {0};
    instance_lib instances = {0};
    func_lib functions = {0};
    if (paths__load(&sv->cfg.paths, &models, &instances, sv->cfg.quiet) != 0)
        return -1;
    paths__load_functions(&sv->cfg.paths, &functions, sv->cfg.quiet);
    instlib__free(&sv->instances);
    modlib__free(&sv->models);
    funclib__free(&sv->functions);
    sv->models = models;
    sv->instances = instances;
    sv->functions = functions;
    say(sv, "libraries: %zu models, %zu instances, %zu plugin functions",
        sv->models.count, sv->instances.count,
        funclib__count(&sv->functions));
    return 0;
}

/* ---- the loop ------------------------------------------------------------ */

static void on_mqtt(serve *sv, mqtt_event *ev, double *reconnect_at)
{
    switch (ev->kind) {
    case MQTT_EV_CONNECTED:
        say(sv, "connected to %s as '%s', listening on %s and %s",
            sv->cfg.broker, sv->cfg.id, sv->t_request, sv->t_pool);
        sender__on_mqtt(sv->out, ev);
        serve__publish_status(sv);
        break;
    case MQTT_EV_LOST:
        say(sv, "lost the broker (%s); reconnecting, keeping %zu "
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
        *reconnect_at = serve__now() + 1.0;
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
    sv->n_buckets = 4096;
    sv->buckets = calloc(sv->n_buckets, sizeof *sv->buckets);
    return sv->buckets ? 0 : -1;
}

uint32_t serve__max_packet(const twin_config *cfg)
{
    size_t req = cfg->limits.request_bytes;
    return req < (1u << 30) ? (uint32_t)(2 * req + 65536) : 0;
}

int serve__main(twin_config *cfg)
{
    serve sv_storage = {.cfg = *cfg, .sigfd = -1};
    serve *sv = &sv_storage;
    int status = 1;
    char why[1024];
    struct pollfd *pfd = NULL;
    run_rec **polled = NULL;
    mqtt_event *ev;

    sv->started = serve__now();
    crash__install("twinctl serve");
    if (proc__become_reaper() != 0)
        say(sv, "cannot become a child subreaper (%s): what a run's "
            "process forks is still ended with its process group",
            strerror(errno));
    if (!request__topic_safe(sv->cfg.id)) {
        fprintf(stderr, "twinctl serve: controller id '%s' cannot stand in "
                "a topic: use letters, digits, -, _, . and : only\n",
                sv->cfg.id);
        return 2;
    }
    if (setup(sv) != 0) {
        fprintf(stderr, "twinctl serve: cannot set up: %s\n",
                strerror(errno));
        goto exit;
    }

    json_t *offline = json_pack("{s:s, s:s, s:s}", "contract",
                                "twin.status/1", "controller", sv->cfg.id,
                                "state", "offline");
    char *will = json_dumps(offline, JSON_COMPACT);
    json_decref(offline);
    const char *subs[] = {sv->t_request, sv->t_pool, sv->t_input};
    mqtt_options mo = {.url = sv->cfg.broker, .client_id = sv->cfg.id,
                       .will_topic = sv->t_status, .will_payload = will,
                       .will_retained = 1, .subscriptions = subs,
                       .n_subscriptions = 3,
                       /* Requests far over the limit never reach this
                        * process's memory; those just over it are still
                        * answered too_large. */
                       .max_packet = serve__max_packet(&sv->cfg),
                       .max_queued = sv->cfg.limits.queued_requests};
    char *password = NULL;
    int failed = 0;
    if (mqtt__security_options(&mo, &sv->cfg.security, why, sizeof why) !=
            0 ||
        (password = mqtt__read_password(&mo, &failed, why, sizeof why),
         failed)) {
        fprintf(stderr, "twinctl serve: %s\n", why);
        free(will);
        goto exit;
    }
    /* Out of the environment before a plugin is loaded or a run forked:
     * they would inherit it. */
    mqtt__scrub_password_env();
    mo.password = password;
    if (mo.username && strcmp(mo.username, sv->cfg.id) != 0)
        say(sv, "logging in as '%s', not as this controller's id '%s': "
            "with examples/mosquitto-secure.conf (use_username_as_clientid) "
            "and examples/acl a controller's username is its id "
            "(docs/serve.md, Security)", mo.username, sv->cfg.id);
    if (load_libraries(sv) != 0) {
        free(will);
        mqtt__free_password(&password);
        goto exit;
    }
    sv->mq = mqtt__start(&mo, why, sizeof why);
    free(will);
    mqtt__free_password(&password);
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
    double next_tidy = 0;

    double reconnect_at = 0, stop_deadline = INFINITY;
    int replaying = 0; /* a replay could go on at once: do not sleep */
    for (;;) {
        double now = serve__now();
        /* Stopping ends when every run and job has ended and everything
         * is delivered (or cannot be: no broker), or at the deadline
         * whatever the state; what is not delivered is in the spool, for
         * the next start. */
        if (sv->stopping && ((sv->active == 0 && sv->jobs == NULL &&
                              (sender__queued(sv->out) == 0 ||
                               !mqtt__is_connected(sv->mq))) ||
                             now > stop_deadline))
            break;
        /* What to watch. */
        size_t n = 2,
               cap = 2 + 2 * sv->active + 2 * sv->n_calls + 2 * job__count(sv);
        free(pfd);
        free(polled);
        pfd = calloc(cap, sizeof *pfd);
        polled = calloc(cap, sizeof *polled);
        if (pfd == NULL || polled == NULL)
            goto exit;
        pfd[0] = (struct pollfd){.fd = mqtt__wake_fd(sv->mq),
                                 .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = sv->sigfd, .events = POLLIN};
        int full = sender__full(sv->out);
        for (run_rec *r = sv->runs; r && n < cap; r = r->next)
            if (r->state == RUN_RUNNING && !r->rd.eof &&
                (!full || sv->stopping)) {
                polled[n] = r;
                pfd[n++] = (struct pollfd){.fd = r->child.from_child,
                                           .events = POLLIN};
            }
        size_t n_runs = n;
        for (run_rec *r = sv->runs; r && n < cap; r = r->next)
            if (r->state == RUN_RUNNING && r->output && !r->output->eof) {
                polled[n] = r;
                pfd[n++] = (struct pollfd){.fd = r->output->fd,
                                           .events = POLLIN};
            }
        size_t n_outputs = n;
        n = calls__watch(sv, pfd, n);
        n += job__poll_fds(sv, pfd + n, cap - n);
        double due = next_deadline(sv);
        if (reconnect_at > 0 && reconnect_at < due)
            due = reconnect_at;
        double wait = replaying ? 0 : fmin(due - now, 1.0);
        int timeout = wait <= 0 ? 0 : (int)ceil(wait * 1000.0);
        if (poll(pfd, n, timeout) < 0 && errno != EINTR)
            goto exit;
        now = serve__now();

        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sv->sigfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    reap(sv);
                } else if (si.ssi_signo == SIGHUP) {
                    sv->reload_pending = 1;
                } else if (!sv->stopping) {
                    say(sv, "stopping: cancelling %zu run%s, then "
                        "delivering what is queued", sv->active,
                        sv->active == 1 ? "" : "s");
                    sv->stopping = 1;
                    stop_deadline = now + CANCEL_GRACE + DRAIN_SECONDS;
                    for (run_rec *r = sv->runs; r; r = r->next)
                        serve__cancel_run(sv, r);
                    calls__stop_all(sv, 1);
                    job__stop_all(sv);
                } else if (stop_deadline > now) {
                    say(sv, "second signal: stopping now; what is not "
                        "delivered stays in the spool for the next start");
                    stop_deadline = now;
                }
            }
        }
        while ((ev = mqtt__next(sv->mq)) != NULL) {
            on_mqtt(sv, ev, &reconnect_at);
            mqtt__event_free(ev);
        }
        if (reconnect_at > 0 && now >= reconnect_at) {
            reconnect_at = 0;
            mqtt__reconnect(sv->mq);
        }
        for (size_t i = 2; i < n_runs; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                run_read(sv, polled[i], now);
        for (size_t i = n_runs; i < n_outputs; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                proc__output_read(polled[i]->output);
        calls__ready(sv, pfd);
        reap(sv);
        calls__tick(sv, now);
        for (run_rec *r = sv->runs; r; r = r->next)
            if (r->state == RUN_RUNNING && r->reaped) {
                /* Drain what is left, then end it. */
                if (!r->rd.eof && (sv->stopping || !sender__full(sv->out)))
                    run_read(sv, r, now);
                if (r->rd.eof || r->child.from_child < 0)
                    run_end(sv, r);
            }
        /* Not inside run_end: it may forget the run just ended (when 256
         * runs that started after it ended before it), and the walk above
         * still stands on it. */
        prune_runs(sv);
        job__service(sv, now);
        check_time_limits(sv, now);
        if (now >= next_tidy) {
            spool__tidy(sv->sp);
            next_tidy = now + 1.0;
            /* A disk that could not be written: try again. */
            if (sender__spool_error(sv->out))
                sender__retry(sv->out);
            if (serve__spool_full(sv) != sv->spool_full_said ||
                (sender__spool_error(sv->out) != 0) != sv->spool_error_said)
                serve__publish_status(sv); /* room freed, or taken */
        }
        replaying = replay__step(sv);
        sender__flush_due(sv->out, now);
        sender__pump(sv->out);
        if (sv->reload_pending && sv->active == 0 && sv->n_calls == 0) {
            sv->reload_pending = 0;
            say(sv, "SIGHUP: reloading the libraries");
            if (load_libraries(sv) != 0)
                say(sv, "reload failed; keeping the libraries as they were");
            serve__publish_status(sv);
        }
    }
    /* Stopped cleanly: say so (the will is only for an unclean end). */
    serve__publish_status(sv);
    sender__pump(sv->out);
    for (double until = serve__now() + OFFLINE_SECONDS;
         sender__queued(sv->out) > 0 && mqtt__is_connected(sv->mq) &&
         serve__now() < until;) {
        struct pollfd one = {.fd = mqtt__wake_fd(sv->mq), .events = POLLIN};
        poll(&one, 1, 50);
        while ((ev = mqtt__next(sv->mq)) != NULL) {
            if (ev->kind == MQTT_EV_PUBACK || ev->kind == MQTT_EV_PUBFAIL)
                sender__on_mqtt(sv->out, ev);
            mqtt__event_free(ev);
        }
    }
    if (sender__queued(sv->out) > 0)
        say(sv, "stopping with %zu messages the broker never acknowledged; "
            "they stay in the spool and are sent at the next start",
            sender__queued(sv->out));
    status = 0;
    say(sv, "stopped after %llu requests (%llu rejected)",
        (unsigned long long)sv->requests, (unsigned long long)sv->rejected);
exit:
    free(pfd);
    free(polled);
    while (sv->runs) {
        run_rec *r = sv->runs;
        sv->runs = r->next;
        if (r->state == RUN_RUNNING && !r->reaped)
            proc__end(r->child.pid, NULL);
        run_free(r);
    }
    calls__stop_all(sv, 0);
    job__free_all(sv);
    replay__free_all(sv);
    while (sv->oldest)
        memo_evict_oldest(sv);
    free(sv->buckets);
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
    *cfg = sv->cfg;
    return status;
}
