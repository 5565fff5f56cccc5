/*
 * runner.c — forking a run and the run process's side of the pipes.
 *
 * In the child: signals back to their defaults (SIGTERM asks the loop to
 * stop at the next tick, so the rows so far and a "cancelled" end still
 * reach the daemon), every descriptor but the two pipes closed, the loop
 * run with callbacks that write frames.  Rows are buffered and written
 * when the buffer fills or 5 ms have passed; the first row, every event
 * and, in real time, every row are written at once.  So that the rows
 * made before a crash still reach the daemon, a fatal signal (a model's
 * segmentation fault, abort) and SIGUSR1 (the daemon's last word before
 * it kills a run past its time limit) write out what is buffered —
 * unless the signal came in the middle of writing a frame — before the
 * process dies.
 *
 * The child is child.h's, the leader of its own process group: whatever
 * a model forks is ended with the run.  SIGUSR1 is the daemon's notice that
 * the run's wall-clock time is over: the child writes out what it holds
 * and then only waits for the SIGKILL that follows, so a model whose
 * sleep the signal cut short cannot finish the run after its time.  Its
 * stdout and stderr go where the spec says: a pipe the daemon labels and
 * bounds, or (twinctl run) stderr, so that a model's prints never mix
 * with the CSV on stdout.
 *
 * Resource limits from the configuration are set in the child before the
 * loop starts: RLIMIT_CPU and RLIMIT_AS.  At the CPU limit the kernel
 * sends SIGXCPU; the child writes out its rows and an end frame prepared
 * beforehand ("failed", `timeout`, naming the limit and the scenario's
 * instances) and exits, so the run ends like one past its wall-clock
 * limit.  A run that fails while an address-space limit is set and that
 * failed for want of memory says so, with the limit, in its end frame;
 * one whose end frame cannot be built for want of memory sends one
 * prepared before the limit was set.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "crash.h"
#include "frame.h"
#include "functions.h"
#include "proc.h"
#include "rt.h"
#include "util.h"

typedef struct child_ctx {
    frame_writer w;
    frame_reader in;
    int in_fd;
    int realtime;
    fn_recorder *fns;      /* the scenario's functions, or NULL */
    uint64_t rows;
    double last_flush;
    /* real-time factor */
    double wall0, t0, win_wall, win_t;
    double last_read;      /* when the pipe from the daemon was last read */
} child_ctx;

/* A batch-paced run reads the values the daemon sends it at most this
 * often (wall-clock seconds) instead of at every tick: a read is a system
 * call, about 1 µs here, as much as a tick of a small scenario. */
#define BATCH_READ_INTERVAL 1e-3

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t in_frame;  /* the buffer is being changed */
static volatile sig_atomic_t cpu_pending; /* SIGXCPU came inside a frame */
static volatile sig_atomic_t ending;    /* the run's own end is written */
static frame_writer *crash_writer;      /* what to write out when dying */

/* End frames made before the limits were set (length, type and JSON),
 * written by a signal handler or when memory is gone. */
typedef struct prebuilt {
    char *bytes;
    size_t len;
} prebuilt;

static prebuilt cpu_end;                /* at the CPU-time limit */
static prebuilt oom_end;                /* for want of memory */

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Write out the buffered rows, unless the buffer is being changed. */
static void flush_buffered(void)
{
    if (!in_frame && crash_writer != NULL && crash_writer->len > 0) {
        crash__write(crash_writer->fd, crash_writer->buf, crash_writer->len);
        crash_writer->len = 0;
    }
}

/* Which model was running, at what t, as a FRAME_WHERE
 * (async-signal-safe). */
static void say_where(void)
{
    const char *m = sim__model_in_use, *i = sim__instance_in_use;
    double t = sim__t_in_use;
    static char frame[5 + 256 + 1 + 256 + 1 + sizeof(double)];
    if (m == NULL || i == NULL || crash_writer == NULL || in_frame)
        return;
    size_t ml = strnlen(m, 255), il = strnlen(i, 255);
    uint32_t n = (uint32_t)(1 + ml + 1 + il + 1 + sizeof t);
    memcpy(frame, &n, 4);
    frame[4] = FRAME_WHERE;
    memcpy(frame + 5, m, ml);
    frame[5 + ml] = '\0';
    memcpy(frame + 6 + ml, i, il);
    frame[6 + ml + il] = '\0';
    memcpy(frame + 7 + ml + il, &t, sizeof t);
    crash__write(crash_writer->fd, frame, 4 + n);
}

static void flush_on_signal(int sig)
{
    flush_buffered();
    say_where();
    if (sig == SIGUSR1) {
        /* The time is over: nothing more from this process (a model's
         * sleep the signal cut short must not go on to end the run as
         * finished); the supervisor's SIGKILL comes next. */
        for (;;)
            pause();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void runner__watch_crashes(frame_writer *w)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = flush_on_signal;
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                                SIGUSR1};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &sa, NULL);
    crash_writer = w;
}

/* The rows so far, then a prepared end frame; the process ends. */
static void __attribute__((noreturn)) end_with(const prebuilt *end)
{
    flush_buffered();
    if (crash_writer != NULL && end->bytes != NULL)
        crash__write(crash_writer->fd, end->bytes, end->len);
    _exit(0);
}

/* SIGXCPU: the run used its CPU time.  Inside a frame, the frame is
 * finished first (guarded_put and guarded_flush look at cpu_pending). */
static void on_cpu_limit(int sig)
{
    (void)sig;
    if (ending)
        return; /* the run's own end is on its way */
    if (in_frame) {
        cpu_pending = 1;
        return;
    }
    end_with(&cpu_end);
}

static int guarded_put(frame_writer *w, int type, const void *p, size_t n)
{
    in_frame = 1;
    int rc = frame__put(w, type, p, n);
    in_frame = 0;
    if (cpu_pending && !ending)
        end_with(&cpu_end);
    return rc;
}

static int guarded_flush(frame_writer *w)
{
    in_frame = 1;
    int rc = frame__flush(w);
    in_frame = 0;
    if (cpu_pending && !ending)
        end_with(&cpu_end);
    return rc;
}

static int put_json(child_ctx *c, int type, json_t *obj, int flush)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        return -1;
    int rc = guarded_put(&c->w, type, text, strlen(text));
    free(text);
    if (rc == 0 && flush)
        rc = guarded_flush(&c->w);
    return rc;
}

static int on_columns(void *ctx, size_t n, const char *const *names)
{
    child_ctx *c = ctx;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(names[i]));
    return put_json(c, FRAME_COLUMNS, arr, 1);
}

static int on_row(void *ctx, const double *values, size_t n)
{
    child_ctx *c = ctx;
    if (guarded_put(&c->w, FRAME_ROW, values, n * sizeof *values) != 0)
        return -1;
    c->rows++;
    double now = util__now();
    if (c->rows == 1 || c->realtime || now - c->last_flush > 0.005) {
        c->last_flush = now;
        return guarded_flush(&c->w);
    }
    return 0;
}

static void on_tick(void *ctx, const sim *s, double t)
{
    child_ctx *c = ctx;
    functions__record(c->fns, s, t);
}

static const char *const kinds[] = {"state", "late", "nonfinite", "log",
                                    "time", "alarm", "sync"};
static const char *const levels[] = {"debug", "info", "warning", "error"};

static void on_event(void *ctx, const sim_event *ev)
{
    child_ctx *c = ctx;
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(kinds[ev->kind]));
    json_object_set_new(o, "t", isfinite(ev->t) ? json_real(ev->t)
                                                : json_null());
    json_object_set_new(o, "message", json_string(ev->message ? ev->message
                                                              : ""));
    if (ev->instance)
        json_object_set_new(o, "instance", json_string(ev->instance));
    switch (ev->kind) {
    case SIM_EVENT_STATE:
        json_object_set_new(o, "indicator", json_integer(ev->indicator));
        json_object_set_new(o, "direction", json_integer(ev->direction));
        break;
    case SIM_EVENT_LATE:
        json_object_set_new(o, "lateness", json_real(ev->lateness));
        break;
    case SIM_EVENT_NONFINITE:
        json_object_set_new(o, "column", json_string(ev->column ? ev->column
                                                                : ""));
        break;
    case SIM_EVENT_LOG:
        json_object_set_new(o, "level", json_string(
            (unsigned)ev->level < 4 ? levels[ev->level] : "info"));
        break;
    case SIM_EVENT_TIME:
        break;
    case SIM_EVENT_ALARM:
        json_object_set_new(o, "variable", json_string(ev->column));
        json_object_set_new(o, "alarm", json_string(ev->alarm));
        json_object_set_new(o, "state", json_string(ev->raised ? "raised"
                                                              : "cleared"));
        json_object_set_new(o, "value", json_real(ev->value));
        json_object_set_new(o, "limit", json_real(ev->limit));
        break;
    case SIM_EVENT_SYNC:
        json_object_set_new(o, "sync", json_string(ev->alarm));
        break;
    }
    put_json(c, FRAME_EVENT, o, 1);
}

/* Apply the live values the daemon sent; emit the real-time factor. */
static int on_poll(void *ctx, sim *s, double t)
{
    child_ctx *c = ctx;
    if (stop_requested)
        return 1;
    if (!c->realtime) {
        double now = util__now();
        if (now - c->last_read < BATCH_READ_INTERVAL)
            return 0;
        c->last_read = now;
    }
    long got;
    while ((got = frame__fill(&c->in, c->in_fd)) > 0)
        ;
    const char *payload;
    size_t len;
    int type;
    while ((type = frame__next(&c->in, &payload, &len)) > 0) {
        if (type != FRAME_SET)
            continue;
        json_t *values = json_loadb(payload, len, 0, NULL);
        const char *k;
        json_t *v;
        json_object_foreach(values, k, v) {
            double x = json_is_boolean(v) ? (double)json_is_true(v)
                                          : json_number_value(v);
            /* an input, else a measured variable's plant value */
            if (sim__set_input(s, k, x) != 0)
                sim__measure(s, k, x, 1);
        }
        json_decref(values);
    }
    if (c->realtime) {
        double now = util__now();
        if (c->wall0 == 0) {
            c->wall0 = c->win_wall = now;
            c->t0 = c->win_t = t;
        } else if (now - c->win_wall >= 1.0) {
            json_t *o = json_object();
            json_object_set_new(o, "kind", json_string("rtf"));
            json_object_set_new(o, "t", json_real(t));
            json_object_set_new(o, "rtf_window",
                                json_real((t - c->win_t) /
                                          (now - c->win_wall)));
            json_object_set_new(o, "rtf_total",
                                json_real((t - c->t0) / (now - c->wall0)));
            json_object_set_new(o, "window_seconds",
                                json_real(now - c->win_wall));
            json_object_set_new(o, "message",
                                json_string("real-time factor"));
            put_json(c, FRAME_EVENT, o, 1);
            c->win_wall = now;
            c->win_t = t;
        }
    }
    return 0;
}

json_t *runner__stats_json(const sim_stats *st, int realtime)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
        "ticks", (json_int_t)st->ticks, "steps", (json_int_t)st->steps,
        "rhs_evals", (json_int_t)st->rhs_evals,
        "jac_evals", (json_int_t)st->jac_evals,
        "restarts", (json_int_t)st->restarts, "events",
        (json_int_t)st->events, "groups", (json_int_t)st->n_groups,
        "states", (json_int_t)st->n_states, "wall_seconds",
        st->wall_seconds);
    /* How the groups were integrated (issue 14): the integrators by
     * linear solver, and whether the groups were stacked into one. */
    json_t *ls = json_object();
    static const char *const solver[3] = {"dense", "band", "klu"};
    for (int i = 0; ls && i < 3; i++)
        if (st->linear_solvers[i])
            json_object_set_new(ls, solver[i], json_integer(
                                    (json_int_t)st->linear_solvers[i]));
    if (o && ls && json_object_size(ls) > 0)
        json_object_set_new(o, "linear_solvers", ls);
    else
        json_decref(ls);
    if (o && st->stacked)
        json_object_set_new(o, "stacked", json_true());
    /* Measurements (docs/live-twin.md), where the scenario has any: the
     * synchronisation at the end, the residual alarms still raised, the
     * corrections made. */
    if (o && st->n_measured)
        json_object_set_new(o, "measured", json_pack(
            "{s:s, s:I, s:I}", "sync", st->sync, "residual_alarms_active",
            (json_int_t)st->residual_alarms_active, "corrections",
            (json_int_t)st->corrections));
    /* Limit alarms (docs/live-twin.md), where the scenario has any. */
    if (o && (st->n_alarms || st->n_measured))
        json_object_set_new(o, "alarms", json_pack(
            "{s:I, s:I, s:I}", "raised", (json_int_t)st->alarms_raised,
            "cleared", (json_int_t)st->alarms_cleared, "active",
            (json_int_t)st->alarms_active));
    /* Model ABI 1.1's events, only where there were any (contract v1
     * members that older controllers never sent). */
    if (o && st->time_events)
        json_object_set_new(o, "time_events", json_integer(
                                   (json_int_t)st->time_events));
    if (o && st->step_events)
        json_object_set_new(o, "step_events", json_integer(
                                   (json_int_t)st->step_events));
    /* Algebraic loops, only where there were any (likewise). */
    if (o && st->loops) {
        json_object_set_new(o, "loops", json_integer((json_int_t)st->loops));
        json_object_set_new(o, "loop_solves", json_integer(
                                   (json_int_t)st->loop_solves));
        json_object_set_new(o, "loop_iterations", json_integer(
                                   (json_int_t)st->loop_iters));
    }
    if (o && realtime) {
        json_object_set_new(o, "late_ticks", json_integer(
                                   (json_int_t)st->late_ticks));
        json_object_set_new(o, "missed_ticks", json_integer(
                                   (json_int_t)st->missed_ticks));
        json_object_set_new(o, "lateness_p50", json_real(st->lateness_p50));
        json_object_set_new(o, "lateness_p99", json_real(st->lateness_p99));
        json_object_set_new(o, "lateness_max", json_real(st->lateness_max));
    }
    return o;
}

/* ---- limits ---------------------------------------------------------------- */

/* A "failed" end frame with one error, as bytes ready to write. */
static int prebuild(prebuilt *out, const char *code, const char *message)
{
    json_t *end = json_pack("{s:s, s:[{s:s, s:s, s:s}], s:{}}", "status",
                            "failed", "errors", "code", code, "path", "",
                            "message", message, "stats");
    char *text = end ? json_dumps(end, JSON_COMPACT) : NULL;
    json_decref(end);
    if (text == NULL)
        return -1;
    size_t n = strlen(text);
    uint32_t frame_len = (uint32_t)(n + 1);
    out->bytes = malloc(n + 5);
    if (out->bytes != NULL) {
        memcpy(out->bytes, &frame_len, 4);
        out->bytes[4] = FRAME_END;
        memcpy(out->bytes + 5, text, n);
        out->len = n + 5;
    }
    free(text);
    return out->bytes ? 0 : -1;
}

/* "instance 'bad0' (model 'failing')", or the first few of several. */
static void name_instances(const scenario *sc, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "%s ",
                                   sc->n_inst == 1 ? "instance"
                                                   : "its instances");
    size_t i;
    for (i = 0; i < sc->n_inst && i < 4 && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s'%s' (model "
                                 "'%s')", i ? ", " : "", sc->inst[i].name,
                                 sc->inst[i].model->d->name);
    if (i < sc->n_inst && used < len)
        snprintf(buf + used, len - used, " and %zu more", sc->n_inst - i);
}

/* Prepare the end frames and set the limits.  Returns 0, or -1 with a
 * sentence in why (the run then ends before it starts). */
static int apply_limits(const scenario *sc, const child_limits *lim,
                        char *why, size_t why_len)
{
    char who[512], msg[1024];
    name_instances(sc, who, sizeof who);
    if (lim->memory_bytes > 0)
        snprintf(msg, sizeof msg, "the run process ran out of memory under "
                 "its address-space limit of %zu bytes (limits.memory_bytes)"
                 "; %s", lim->memory_bytes, who);
    else
        snprintf(msg, sizeof msg, "the run process ran out of memory; %s",
                 who);
    if (prebuild(&oom_end, "internal", msg) != 0) {
        snprintf(why, why_len, "out of memory preparing the run");
        return -1;
    }
    if (lim->cpu_seconds > 0) {
        snprintf(msg, sizeof msg, "the run used its CPU-time limit of %g s "
                 "(limits.cpu_seconds) and was stopped; %s",
                 lim->cpu_seconds, who);
        if (prebuild(&cpu_end, "timeout", msg) != 0) {
            snprintf(why, why_len, "out of memory preparing the run");
            return -1;
        }
    }
    return child__set_limits(lim, "run", why, why_len);
}

/* A run that failed while an address-space limit was set: if it failed
 * for want of memory, or came within 1 MiB of the limit, say so with the
 * limit in each error's message. */
static void name_memory_limit(json_t *errors, const child_limits *lim)
{
    if (lim->memory_bytes == 0)
        return;
    size_t peak = child__vm_bytes("VmPeak:");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        if (m == NULL)
            continue;
        int short_of_memory = strstr(m, "memory") != NULL ||
                              strstr(m, "MEM_FAIL") != NULL ||
                              peak + (1u << 20) >= lim->memory_bytes;
        if (!short_of_memory)
            continue;
        char *more = NULL;
        if (asprintf(&more, "%s (the run's address space is limited to %zu "
                     "bytes by limits.memory_bytes and reached %zu: an "
                     "allocation past the limit fails)", m,
                     lim->memory_bytes, peak) >= 0) {
            json_object_set_new(e, "message", json_string(more));
            free(more);
        }
    }
}

/* What the run's process is given. */
typedef struct run_args {
    const scenario *sc;
    const runner_spec *spec;
    int out_fd, in_fd;
} run_args;

static void run_main(void *arg)
{
    static const child_limits no_limits = {0};
    const run_args *a = arg;
    const scenario *sc = a->sc;
    const runner_spec *spec = a->spec;
    int out_fd = a->out_fd, in_fd = a->in_fd;
    const child_limits *lim = spec->lim ? spec->lim : &no_limits;
    child__enter();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sa.sa_handler = on_cpu_limit;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGXCPU, &sa, NULL);
    child__unblock();

    /* stdout and stderr where the spec says; keep the two pipes as 3 and
     * 4, close everything else. */
    if (spec->output_fd >= 0)
        proc__redirect(spec->output_fd);
    else if (spec->stdout_to_stderr)
        dup2(STDERR_FILENO, STDOUT_FILENO);
    if (dup2(out_fd, 3) < 0 || dup2(in_fd, 4) < 0)
        _exit(70);
    close_range(5, ~0U, 0);
    fcntl(3, F_SETFL, fcntl(3, F_GETFL) & ~O_NONBLOCK);
    fcntl(4, F_SETFL, fcntl(4, F_GETFL) | O_NONBLOCK);

    int paced = spec->opt.realtime >= 0 ? spec->opt.realtime : sc->realtime;
    child_ctx c = {.in_fd = 4, .realtime = paced};
    if (frame__writer_init(&c.w, 3, 256u << 10) != 0)
        _exit(71);
    runner__watch_crashes(&c.w);
    char why[1024];
    const char *code = NULL;
    if (apply_limits(sc, lim, why, sizeof why) != 0)
        code = "internal";
    else if ((spec->fifo || spec->mlock) &&
             rt__setup(spec->fifo, spec->mlock, why, sizeof why) != 0)
        code = "not_allowed";
    if (code != NULL) { /* the run ends before it starts */
        ending = 1;
        put_json(&c, FRAME_END, json_pack("{s:s, s:[{s:s, s:s, s:s}], s:{}}",
                                          "status", "failed", "errors",
                                          "code", code, "path", "",
                                          "message", why, "stats"), 1);
        _exit(0);
    }
    c.last_flush = util__now();
    c.fns = functions__new(sc);
    sim_callbacks cb = {.ctx = &c, .columns = on_columns, .row = on_row,
                        .event = on_event, .poll = on_poll,
                        .tick = sc->n_fn ? on_tick : NULL,
                        .stop = &stop_requested};
    sim_options opt = spec->opt;
    sim_stats st = {0};
    twin_errors errs = {0};
    int rc = sim__run_scenario(sc, &opt, &cb, &st, &errs);

    ending = 1; /* from here on, a CPU limit changes nothing */
    const char *status = rc == 0 ? "finished"
                         : rc == TWIN_E_CANCELLED ? "cancelled"
                                                  : "failed";
    if (rc != 0 && rc != TWIN_E_CANCELLED && errs.count == 0)
        end_with(&oom_end); /* its reason was lost for want of memory */
    json_t *errors = errors__to_json(&errs);
    if (rc != 0 && rc != TWIN_E_CANCELLED)
        name_memory_limit(errors, lim);
    json_t *end = json_pack("{s:s, s:o, s:o}", "status", status, "errors",
                            errors, "stats",
                            runner__stats_json(&st, paced));
    if (end != NULL && rc == 0 && st.ended_by_model)
        json_object_set_new(end, "ended_by", json_pack(
            "{s:s, s:f, s:s}", "instance", st.end_instance, "t", st.end_t,
            "reason", st.end_reason));
    if (end != NULL && rc == 0 && sc->n_fn > 0) {
        /* Values of the functions, only when the run finished. */
        json_t *values, *fn_errors;
        functions__evaluate(sc, c.fns, spec->fn_root ? spec->fn_root
                                                     : "/scenario",
                            &values, &fn_errors);
        json_object_set_new(end, "functions", values);
        json_object_set_new(end, "function_errors", fn_errors);
    }
    functions__free(&c.fns);
    if (end == NULL || put_json(&c, FRAME_END, end, 1) != 0)
        end_with(&oom_end); /* the rows are out; the end needs memory */
    guarded_flush(&c.w);
    _exit(0);
}

int runner__start(const scenario *sc, const runner_spec *spec,
                  run_child *out, char *why, size_t why_len)
{
    int up[2] = {-1, -1}, down[2] = {-1, -1};
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot make pipes for the run: %s",
                 strerror(errno));
        goto fail;
    }
    fcntl(up[0], F_SETPIPE_SZ, 1 << 20); /* room for bursts of rows */
    run_args a = {.sc = sc, .spec = spec, .out_fd = up[1], .in_fd = down[0]};
    if (child__start(&out->proc, spec->seconds, run_main, &a) != 0) {
        snprintf(why, why_len, "cannot start the run process: %s",
                 strerror(errno));
        goto fail;
    }
    /* SIGUSR1 at the deadline: write out the rows you hold. */
    out->proc.notice = SIGUSR1;
    out->proc.grace = RUNNER_KILL_GRACE;
    if (spec->output_fd >= 0)
        close(spec->output_fd);
    close(up[1]);
    close(down[0]);
    fcntl(up[0], F_SETFL, fcntl(up[0], F_GETFL) | O_NONBLOCK);
    fcntl(down[1], F_SETFL, fcntl(down[1], F_GETFL) | O_NONBLOCK);
    out->from_child = up[0];
    out->to_child = down[1];
    return 0;
fail:
    if (spec->output_fd >= 0)
        close(spec->output_fd);
    for (int i = 0; i < 2; i++) {
        if (up[i] >= 0)
            close(up[i]);
        if (down[i] >= 0)
            close(down[i]);
    }
    return -1;
}

int runner__set(const run_child *rc, const json_t *values)
{
    char *text = json_dumps(values, JSON_COMPACT);
    if (text == NULL)
        return -1;
    size_t len = strlen(text);
    uint32_t n = (uint32_t)(len + 1);
    char *buf = malloc(len + 5);
    int ok = -1;
    if (buf) {
        memcpy(buf, &n, 4);
        buf[4] = FRAME_SET;
        memcpy(buf + 5, text, len);
        /* A small frame into an empty-ish pipe: one atomic write. */
        ok = write(rc->to_child, buf, len + 5) == (ssize_t)(len + 5) ? 0 : -1;
    }
    free(buf);
    free(text);
    return ok;
}
