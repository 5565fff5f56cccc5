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

#include "frame.h"

typedef struct child_ctx {
    frame_writer w;
    frame_reader in;
    int in_fd;
    int realtime;
    uint64_t rows;
    double last_flush;
    /* real-time factor */
    double wall0, t0, win_wall, win_t;
} child_ctx;

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t in_frame;  /* the buffer is being changed */
static frame_writer *crash_writer;      /* what to write out when dying */

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Async-signal-safe: write() only. */
static void flush_on_signal(int sig)
{
    if (!in_frame && crash_writer != NULL && crash_writer->len > 0) {
        const char *p = crash_writer->buf;
        size_t n = crash_writer->len;
        while (n > 0) {
            ssize_t k = write(crash_writer->fd, p, n);
            if (k <= 0)
                break;
            p += k;
            n -= (size_t)k;
        }
        crash_writer->len = 0;
    }
    if (sig == SIGUSR1)
        return; /* the daemon kills us next */
    signal(sig, SIG_DFL);
    raise(sig);
}

static int guarded_put(frame_writer *w, int type, const void *p, size_t n)
{
    in_frame = 1;
    int rc = frame__put(w, type, p, n);
    in_frame = 0;
    return rc;
}

static int guarded_flush(frame_writer *w)
{
    in_frame = 1;
    int rc = frame__flush(w);
    in_frame = 0;
    return rc;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
    double now = mono();
    if (c->rows == 1 || c->realtime || now - c->last_flush > 0.005) {
        c->last_flush = now;
        return guarded_flush(&c->w);
    }
    return 0;
}

static const char *const kinds[] = {"state", "late", "nonfinite", "log"};
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
    }
    put_json(c, FRAME_EVENT, o, 1);
}

/* Apply the live values the daemon sent; emit the real-time factor. */
static int on_poll(void *ctx, sim *s, double t)
{
    child_ctx *c = ctx;
    if (stop_requested)
        return 1;
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
        json_object_foreach(values, k, v)
            sim__set_input(s, k, json_number_value(v));
        json_decref(values);
    }
    if (c->realtime) {
        double now = mono();
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

static void __attribute__((noreturn))
child_main(const scenario *sc, int out_fd, int in_fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    sa.sa_handler = flush_on_signal;
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                                SIGUSR1};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* Keep the two pipes as 3 and 4, close everything else. */
    if (dup2(out_fd, 3) < 0 || dup2(in_fd, 4) < 0)
        _exit(70);
    close_range(5, ~0U, 0);
    fcntl(3, F_SETFL, fcntl(3, F_GETFL) & ~O_NONBLOCK);
    fcntl(4, F_SETFL, fcntl(4, F_GETFL) | O_NONBLOCK);

    child_ctx c = {.in_fd = 4, .realtime = sc->realtime};
    if (frame__writer_init(&c.w, 3, 256u << 10) != 0)
        _exit(71);
    crash_writer = &c.w;
    c.last_flush = mono();
    sim_callbacks cb = {.ctx = &c, .columns = on_columns, .row = on_row,
                        .event = on_event, .poll = on_poll};
    sim_options opt = {.realtime = -1};
    sim_stats st = {0};
    twin_errors errs = {0};
    int rc = sim__run_scenario(sc, &opt, &cb, &st, &errs);

    const char *status = rc == 0 ? "finished"
                         : rc == TWIN_E_CANCELLED ? "cancelled"
                                                  : "failed";
    json_t *end = json_pack("{s:s, s:o, s:o}", "status", status, "errors",
                            errors__to_json(&errs), "stats",
                            runner__stats_json(&st, sc->realtime));
    put_json(&c, FRAME_END, end, 1);
    guarded_flush(&c.w);
    _exit(0);
}

int runner__start(const scenario *sc, run_child *out, char *why,
                  size_t why_len)
{
    int up[2] = {-1, -1}, down[2] = {-1, -1};
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot make pipes for the run: %s",
                 strerror(errno));
        goto fail;
    }
    fcntl(up[0], F_SETPIPE_SZ, 1 << 20); /* room for bursts of rows */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "cannot start the run process: %s",
                 strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        child_main(sc, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    fcntl(up[0], F_SETFL, fcntl(up[0], F_GETFL) | O_NONBLOCK);
    fcntl(down[1], F_SETFL, fcntl(down[1], F_GETFL) | O_NONBLOCK);
    out->pid = pid;
    out->from_child = up[0];
    out->to_child = down[1];
    return 0;
fail:
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
