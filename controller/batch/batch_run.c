/*
 * batch_run.c — a batch's cases in forked processes, their results on
 * disk, resuming, and the summary (see batch_run.h).
 *
 * The parent composes each case's scenario (a case that does not compose
 * is "rejected" without a process), forks, and waits in sigtimedwait()
 * with SIGCHLD and the stopping signals blocked, so that a case's end is
 * seen at once and nothing runs in a signal handler.  The child runs the
 * loop, writes its rows and then its result, each to a temporary name,
 * synced and renamed; it dies with its parent (PR_SET_PDEATHSIG).  The
 * parent writes the result of a child that could not: crashed (with the
 * model that was running, which the child's fatal-signal handler sends
 * through a pipe) or past its time.  A child that a stopping signal ended
 * has no result, so it runs again when the batch is resumed.  Each case
 * is child.h's: it leads its own process group, ended as a whole when the
 * case ends, and --timeout is both its deadline of wall-clock time and,
 * a second more, its limit of CPU time (RLIMIT_CPU: a case whose threads
 * use more CPU than wall-clock time).
 *
 * The KPIs of a case come from the scenario's functions (functions.h);
 * the section "KPIs" below is the one place that knows.
 */
#include "batch_run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "csv.h"
#include "functions.h"
#include "proc.h"
#include "rows_meta.h"
#include "scenario.h"
#include "sim.h"
#include "util.h"

#define ID_LEN 32

enum case_state { CASE_TODO, CASE_FINISHED, CASE_UNFINISHED };

typedef struct slot {
    child proc;            /* proc.pid 0: free */
    size_t index;
    int crash_fd;          /* read end of the child's crash pipe */
} slot;

typedef struct batch_runner {
    const batch *b;
    const batch_run_opts *o;
    const batch_observer *obs;
    batch_tally *t;
    char *ids;             /* n_cases × ID_LEN */
    unsigned char *state;  /* enum case_state per case */
    slot *slots;
    unsigned jobs;
    double t0, last_tick;
    char *why;
    size_t why_len;
    int write_failed;
} runner;

unsigned batch__cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static const char *id_of(const runner *r, size_t index)
{
    return r->ids + index * ID_LEN;
}

/* ---- files -------------------------------------------------------------- */

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* dir/name holds text, whole or not at all: written to dir/name.tmp,
 * synced, renamed, and the rename synced. */
static int write_durable(const char *dir, const char *name, const char *text,
                         size_t len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    int ok = off == len && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return sync_dir(dir);
}

/* A FILE written to a temporary name, made durable and renamed to path. */
static int commit_file(FILE *f, const char *tmp, const char *path,
                       const char *dir)
{
    int ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return sync_dir(dir);
}

static int write_json(const char *dir, const char *name, const json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return -1;
    size_t len = strlen(text);
    text[len] = '\n'; /* over the NUL: the length says where it ends */
    int rc = write_durable(dir, name, text, len + 1);
    free(text);
    return rc;
}

/* What a stopped or killed run left half-written in results/ and
 * cases/: ID.*.tmp, and a MAT file's rows on their way as versions before
 * the MAT file was streamed in place left them (ID.mat.tmp.spill). */
static void remove_tmp(const char *dir)
{
    static const char *const subs[] = {"results", "cases"};
    static const char *const ends[] = {".tmp", ".spill"};
    for (size_t k = 0; k < 4; k++) {
        char sub[4200], **names = NULL;
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[k / 2]);
        long n = util__list_dir(sub, ends[k % 2], &names);
        for (long i = 0; i < n; i++) {
            char path[8400];
            snprintf(path, sizeof path, "%s/%s", sub, names[i]);
            unlink(path);
        }
        if (n > 0)
            util__free_names(names, n);
    }
}

/* ---- KPIs ------------------------------------------------------------- */

typedef struct child_ctx {
    rows_out *rows;
    rows_meta meta;        /* the columns' units and descriptions */
    uint64_t n_rows;
    fn_recorder *kpi;
} child_ctx;

/* A case's KPIs are the values of its scenario's functions (the base
 * scenario's own, then the batch's kpis): recorded at every tick and
 * evaluated at the end by functions.h, as `twinctl run` and a `run`
 * request do. */
static void kpi_tick(void *ctx, const sim *s, double t)
{
    child_ctx *c = ctx;
    functions__record(c->kpi, s, t);
}

/* ---- the case's process ------------------------------------------------- */

static int crash_fd = -1;

/* A fatal signal: say which model was running, then die of it. */
static void on_fatal(int sig)
{
    const char *m = sim__model_in_use, *i = sim__instance_in_use;
    if (m != NULL && i != NULL && crash_fd >= 0) {
        ssize_t rc = write(crash_fd, m, strnlen(m, 200) + 1);
        rc = write(crash_fd, i, strnlen(i, 200) + 1);
        (void)rc;
    }
    raise(sig); /* SA_RESETHAND: the default action now */
}

static int child_columns(void *ctx, size_t n, const char *const *names)
{
    child_ctx *c = ctx;
    rows_header h = {.n = n, .names = names};
    rows_meta__apply(&c->meta, &h);
    return c->rows ? rows_out__header(c->rows, &h) : 0;
}

static int child_row(void *ctx, const double *values, size_t n)
{
    child_ctx *c = ctx;
    c->n_rows++;
    return c->rows ? rows_out__row(c->rows, values, n) : 0;
}

static json_t *values_object(const batch *b, size_t index)
{
    double v[BATCH_MAX_FACTORS];
    batch__case_values(b, index, v);
    json_t *o = json_object();
    for (size_t k = 0; o != NULL && k < b->n_f; k++)
        json_object_set_new(o, b->f[k].name, json_real(v[k]));
    return o;
}

/* A result record without KPIs. */
static json_t *record_new(const runner *r, size_t index, const char *status,
                          const char *code, const char *message)
{
    json_t *rec = json_pack("{s:s, s:I, s:s, s:o}", "id", id_of(r, index),
                            "index", (json_int_t)index, "status", status,
                            "values", values_object(r->b, index));
    if (rec != NULL && code != NULL)
        json_object_set_new(rec, "code", json_string(code));
    if (rec != NULL && message != NULL)
        json_object_set_new(rec, "message", json_string(message));
    return rec;
}

static int record_write(const runner *r, const char *id, json_t *rec)
{
    char dir[4096], name[ID_LEN + 8];
    snprintf(dir, sizeof dir, "%s/results", r->o->dir);
    snprintf(name, sizeof name, "%s.json", id);
    int rc = rec ? write_json(dir, name, rec) : -1;
    json_decref(rec);
    return rc;
}

/* In the child: run, write rows and result, exit 0 finished, 1 failed,
 * 3 when the result could not be written. */
/* What a case's process is given. */
typedef struct case_args {
    const runner *r;
    size_t index;
    const scenario *sc;
    int fd;                /* the crash pipe */
    const sigset_t *mask;  /* the signal mask the batch started with */
    pid_t parent;
} case_args;

static void run_case(void *arg)
{
    const case_args *a = arg;
    const runner *r = a->r;
    size_t index = a->index;
    const scenario *sc = a->sc;
    const char *id = id_of(r, index);
    char dir[4096], tmp[4300], path[4200];
    child_ctx c = {0};
    twin_errors errs = {0};
    sim_stats st = {0};

    crash_fd = a->fd;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != a->parent)
        _exit(3);
    struct sigaction sa = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &sa, NULL);
    sigprocmask(SIG_SETMASK, a->mask, NULL);
    char why[1024];
    /* A second past --timeout: the wall-clock deadline ends a case of one
     * thread first; this one a case whose threads use more than that. */
    child_limits lim = {.cpu_seconds = r->o->timeout > 0 ? r->o->timeout + 1
                                                         : 0,
                        .cpu_grace = 2};
    if (child__set_limits(&lim, "case", why, sizeof why) != 0) {
        errors__add(&errs, TWIN_E_INTERNAL, "", "%s", why);
        goto end;
    }

    snprintf(dir, sizeof dir, "%s/cases", r->o->dir);
    batch__rows_path(r, index, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (r->o->rows &&
        ((c.rows = rows_out__open(tmp, r->o->rows_format,
                                  &r->o->rows_options, why, sizeof why)) ==
             NULL ||
         rows_meta__of_scenario(&c.meta, sc, NULL) != 0)) {
        errors__add(&errs, TWIN_E_INTERNAL, "", "%s",
                    c.rows ? "out of memory" : why);
        goto end;
    }
    c.kpi = functions__new(sc);
    sim_options opt = {.realtime = 0, .max_steps = r->o->max_steps};
    sim_callbacks cb = {.ctx = &c, .columns = child_columns,
                        .row = child_row,
                        .tick = sc->n_fn ? kpi_tick : NULL};
    /* The rows of a failed case too, up to where it failed. */
    if (sim__run_scenario(sc, &opt, &cb, &st, &errs) == 0 && c.rows &&
        batch__commit_rows(&c.rows, tmp, path, dir, why, sizeof why) != 0)
        errors__add(&errs, TWIN_E_INTERNAL, "", "%s", why);
    else if (c.rows && errs.count)
        batch__commit_rows(&c.rows, tmp, path, dir, why, sizeof why);
end:;
    rows_out__close(&c.rows, NULL, 0); /* not made: tmp is removed at the
                                        * next start */
    rows_meta__free(&c.meta);
    json_t *rec;
    if (errs.count == 0) {
        json_t *values, *kerrs;
        functions__evaluate(sc, c.kpi, "", &values, &kerrs);
        functions__free(&c.kpi);
        rec = record_new(r, index, "finished", NULL, NULL);
        json_object_set_new(rec, "kpis", values);
        if (json_object_size(kerrs))
            json_object_set(rec, "kpi_errors", kerrs);
        json_decref(kerrs);
    } else {
        const twin_error *e = &errs.items[0];
        char msg[2048];
        snprintf(msg, sizeof msg, "%s%s%s", e->path, e->path[0] ? ": " : "",
                 e->message);
        rec = record_new(r, index, "failed", errors__code_name(e->code), msg);
    }
    json_object_set_new(rec, "rows", json_integer((json_int_t)c.n_rows));
    json_object_set_new(rec, "steps", json_integer((json_int_t)st.steps));
    json_object_set_new(rec, "wall_s", json_real(st.wall_seconds));
    int failed = errs.count > 0;
    if (record_write(r, id, rec) != 0)
        _exit(3);
    _exit(failed ? 1 : 0);
}

/* ---- the parent --------------------------------------------------------- */

static void tick(runner *r, int force)
{
    double t = util__now();
    r->t->elapsed = t - r->t0;
    double every = r->obs && r->obs->refresh > 0 ? r->obs->refresh : 0.25;
    if (r->obs && r->obs->tick && (force || t - r->last_tick >= every)) {
        r->last_tick = t;
        r->obs->tick(r->obs->ctx, r->t);
    }
}

static void ended(runner *r, size_t index, int finished, const char *status,
                  const char *message)
{
    r->state[index] = finished ? CASE_FINISHED : CASE_UNFINISHED;
    r->t->done++;
    r->t->failed += !finished;
    r->t->elapsed = util__now() - r->t0;
    if (r->obs && r->obs->ended)
        r->obs->ended(r->obs->ctx, r->t, id_of(r, index), status, message);
}

/* Write the result of case index (rec, stolen) and count its end. */
static void case_end(runner *r, size_t index, json_t *rec, const char *status,
                     const char *message)
{
    if (record_write(r, id_of(r, index), rec) != 0 && !r->write_failed) {
        r->write_failed = 1;
        snprintf(r->why, r->why_len, "cannot write the result of case %s "
                 "in %s/results: %s", id_of(r, index), r->o->dir,
                 strerror(errno));
    }
    ended(r, index, strcmp(status, "finished") == 0, status, message);
}

/* The parent writes the result of a case that has no process or whose
 * process could not. */
static void record_end(runner *r, size_t index, const char *status,
                       const char *code, const char *message)
{
    case_end(r, index, record_new(r, index, status, code, message), status,
             message);
}

/* The problems of a case's scenario in one message. */
static void rejection(const twin_errors *errs, char *buf, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < errs->count && i < 3 && w < len; i++) {
        const twin_error *e = &errs->items[i];
        w += (size_t)snprintf(buf + w, len - w, "%s%s: %s [%s]",
                              i ? "; " : "", e->path, e->message,
                              errors__code_name(e->code));
    }
    if (errs->count > 3 && w < len)
        snprintf(buf + w, len - w, "; and %zu more", errs->count - 3);
}

/* Case index's scenario document, composed into *sc (or only checked,
 * sc NULL); NULL when it does not compose: the case has then ended as
 * rejected. */
static json_t *case_scenario(runner *r, size_t index, scenario **sc)
{
    double v[BATCH_MAX_FACTORS];
    twin_errors errs = {0};
    char msg[2048];
    scenario *composed = NULL;
    batch__case_values(r->b, index, v);
    json_t *doc = batch__case_scenario(r->b, v, id_of(r, index));
    scenario_limits lim = {.functions = r->o->functions};
    if (doc != NULL)
        composed = scenario__compose(doc, r->o->models, r->o->instances,
                                     &lim, &errs);
    if (composed == NULL) {
        json_decref(doc);
        if (errs.count == 0)
            errors__add(&errs, TWIN_E_INTERNAL, "", "out of memory");
        rejection(&errs, msg, sizeof msg);
        record_end(r, index, "rejected", errors__code_name(errs.items[0].code),
                   msg);
        errors__clear(&errs);
        return NULL;
    }
    if (sc != NULL)
        *sc = composed;
    else
        scenario__free(&composed);
    return doc;
}

/* Start case index in a free slot, or end it at once as rejected. */
static void start_case(runner *r, size_t index, const sigset_t *mask)
{
    char msg[2048];
    scenario *sc = NULL;
    json_t *doc = case_scenario(r, index, &sc);
    if (doc == NULL)
        return;
    json_decref(doc);
    slot *s = NULL;
    for (unsigned i = 0; s == NULL && i < r->jobs; i++)
        if (r->slots[i].proc.pid == 0)
            s = &r->slots[i];
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        record_end(r, index, "crashed", "internal", "cannot make a pipe");
        scenario__free(&sc);
        return;
    }
    case_args a = {.r = r, .index = index, .sc = sc, .fd = p[1],
                   .mask = mask, .parent = getpid()};
    int started = child__start(&s->proc, r->o->timeout, run_case, &a);
    int err = errno;
    close(p[1]);
    scenario__free(&sc);
    if (started != 0) {
        close(p[0]);
        snprintf(msg, sizeof msg, "cannot start a process: %s",
                 strerror(err));
        record_end(r, index, "crashed", "internal", msg);
        return;
    }
    s->index = index;
    s->crash_fd = p[0];
    r->t->running++;
}

/* "killed by SIGSEGV in model 'tank' (instance 'tank0')" */
static void crash_message(int fd, int sig, char *buf, size_t len)
{
    char where[420] = "";
    ssize_t n = read(fd, where, sizeof where - 1);
    const char *inst = n > 0 ? where + strnlen(where, (size_t)n) + 1 : "";
    const char *name = sigabbrev_np(sig);
    char signame[32];
    if (name != NULL)
        snprintf(signame, sizeof signame, "SIG%s", name);
    else
        snprintf(signame, sizeof signame, "signal %d", sig);
    if (n > 0 && inst < where + n)
        snprintf(buf, len, "killed by %s in model '%s' (instance '%s')",
                 signame, where, inst);
    else
        snprintf(buf, len, "killed by %s", signame);
}

/* A child ended: its result is on disk, or the parent writes one. */
static void reap(runner *r, pid_t pid, int wstatus)
{
    slot *s = NULL;
    for (unsigned i = 0; s == NULL && i < r->jobs; i++)
        if (child__reaped(&r->slots[i].proc, pid, wstatus))
            s = &r->slots[i];
    if (s == NULL)
        return;
    char msg[600];
    size_t index = s->index;
    r->t->running--;
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) <= 1) {
        /* The child wrote its result; read its message back for the
         * observer. */
        char path[4200];
        snprintf(path, sizeof path, "%s/results/%s.json", r->o->dir,
                 id_of(r, index));
        json_t *rec = json_load_file(path, 0, NULL);
        int fin = WEXITSTATUS(wstatus) == 0;
        ended(r, index, fin, fin ? "finished" : "failed",
              json_string_value(json_object_get(rec, "message")));
        json_decref(rec);
    } else if (WIFSIGNALED(wstatus) && s->proc.timed_out) {
        snprintf(msg, sizeof msg, "ran past the time limit of %g s per "
                 "case (--timeout)", r->o->timeout);
        record_end(r, index, "timeout", "timeout", msg);
    } else if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGXCPU &&
               r->o->timeout > 0) {
        snprintf(msg, sizeof msg, "used more CPU time than its time limit "
                 "of %g s per case (--timeout)", r->o->timeout);
        record_end(r, index, "timeout", "timeout", msg);
    } else if (WIFSIGNALED(wstatus) &&
               (WTERMSIG(wstatus) == SIGINT || WTERMSIG(wstatus) == SIGTERM ||
                WTERMSIG(wstatus) == SIGHUP ||
                (r->t->stopping && WTERMSIG(wstatus) == SIGKILL))) {
        /* Stopped from outside: no result, it runs again on resume. */
        if (!r->t->stopping)
            r->t->stopping = WTERMSIG(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        crash_message(s->crash_fd, WTERMSIG(wstatus), msg, sizeof msg);
        record_end(r, index, "crashed", "model_crashed", msg);
    } else {
        snprintf(msg, sizeof msg, "its process ended with status %d before "
                 "writing a result", WEXITSTATUS(wstatus));
        record_end(r, index, "crashed", "internal", msg);
    }
    close(s->crash_fd);
    *s = (slot){0};
}

static void signal_all(runner *r, int sig)
{
    for (unsigned i = 0; i < r->jobs; i++)
        if (sig == SIGKILL)
            child__kill(&r->slots[i].proc);
        else
            child__signal(&r->slots[i].proc, sig); /* it ends itself */
}

static void on_sigchld(int sig)
{
    (void)sig; /* only so that SIGCHLD is never discarded */
}

/* Run every case in state TODO; returns when all ended or a signal
 * stopped the batch and its running cases. */
static void run_all(runner *r)
{
    sigset_t wait_set, old;
    sigemptyset(&wait_set);
    sigaddset(&wait_set, SIGCHLD);
    sigaddset(&wait_set, SIGINT);
    sigaddset(&wait_set, SIGTERM);
    sigaddset(&wait_set, SIGHUP);
    struct sigaction sa = {.sa_handler = on_sigchld}, old_chld;
    sigaction(SIGCHLD, &sa, &old_chld);
    sigprocmask(SIG_BLOCK, &wait_set, &old);
    proc__become_reaper(); /* what a case forks is collected here */

    size_t next = 0, n = r->b->n_cases;
    int killed = 0;
    for (;;) {
        while (!r->t->stopping && r->t->running < r->jobs && next < n) {
            if (r->state[next] == CASE_TODO)
                start_case(r, next, &old);
            next++;
        }
        tick(r, 0);
        if (r->t->running == 0 && (r->t->stopping || next >= n))
            break;
        double wait = r->obs && r->obs->refresh > 0 ? r->obs->refresh : 0.25;
        double t = util__now();
        for (unsigned i = 0; i < r->jobs; i++) /* past --timeout: killed */
            wait = fmin(wait, child__tick(&r->slots[i].proc, t) - t);
        struct timespec ts = {.tv_sec = (time_t)wait,
                              .tv_nsec = (long)((wait - floor(wait)) * 1e9)};
        siginfo_t info;
        int sig = sigtimedwait(&wait_set, &info, &ts);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            if (r->t->stopping && !killed) {
                signal_all(r, SIGKILL); /* asked twice */
                killed = 1;
            } else if (!r->t->stopping) {
                r->t->stopping = sig;
                signal_all(r, SIGTERM);
            }
        }
        int wstatus;
        pid_t pid;
        while ((pid = proc__reap(&wstatus, NULL)) > 0)
            reap(r, pid, wstatus);
        if (r->t->stopping && !killed)
            signal_all(r, SIGTERM); /* a stop a child's end revealed */
    }
    tick(r, 1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
}

/* ---- the directory ------------------------------------------------------ */

/* Make the directory, lock it, check or write batch.json.  Returns the
 * lock's descriptor, or -1 with why. */
static int open_dir(runner *r, const json_t *doc)
{
    const char *dir = r->o->dir;
    char path[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(r->why, r->why_len, "cannot make the output directory %s: "
                 "%s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(r->why, r->why_len, fd < 0 ? "cannot use %s: %s"
                 : "another twinctl batch is running in %s", dir,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    snprintf(path, sizeof path, "%s/batch.json", dir);
    json_error_t jerr;
    json_t *have = json_load_file(path, 0, &jerr);
    if (have != NULL) {
        const char *h = json_string_value(json_object_get(have, "hash"));
        int same = h != NULL && strcmp(h, r->b->hash) == 0;
        if (!same)
            snprintf(r->why, r->why_len, "%s holds another batch (%s, hash "
                     "%s; this one is %s): give another -o DIR, or remove "
                     "%s to start this batch there", dir,
                     json_string_value(json_object_get(have, "document"))
                         ? json_string_value(json_object_get(have,
                                                             "document"))
                         : "?",
                     h ? h : "none", r->b->hash, dir);
        json_decref(have);
        if (!same) {
            close(fd);
            return -1;
        }
    } else if (access(path, F_OK) == 0) {
        snprintf(r->why, r->why_len, "%s: %s; remove %s to start the batch "
                 "again", path, jerr.text, dir);
        close(fd);
        return -1;
    } else {
        json_t *resolved = json_deep_copy(doc);
        json_object_set(resolved, "scenario", r->b->base);
        json_t *head = json_pack("{s:s, s:s, s:I, s:s, s:o}", "hash",
                                 r->b->hash, "name", r->b->name, "cases",
                                 (json_int_t)r->b->n_cases, "document",
                                 r->o->document ? r->o->document : "",
                                 "batch", resolved);
        if (head == NULL || write_json(dir, "batch.json", head) != 0) {
            snprintf(r->why, r->why_len, "cannot write %s: %s", path,
                     strerror(errno));
            json_decref(head);
            close(fd);
            return -1;
        }
        json_decref(head);
    }
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/results", dir);
    int ok = mkdir(sub, 0777) == 0 || errno == EEXIST;
    snprintf(sub, sizeof sub, "%s/cases", dir);
    if (ok && r->o->rows)
        ok = mkdir(sub, 0777) == 0 || errno == EEXIST;
    remove_tmp(dir);
    if (!ok) {
        snprintf(r->why, r->why_len, "cannot make %s: %s", sub,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Which cases are done already. */
static void scan_done(runner *r)
{
    for (size_t i = 0; i < r->b->n_cases; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/results/%s.json", r->o->dir,
                 id_of(r, i));
        json_t *rec = json_load_file(path, 0, NULL);
        const char *st = json_string_value(json_object_get(rec, "status"));
        int fin = st != NULL && strcmp(st, "finished") == 0;
        r->state[i] = st == NULL ? CASE_TODO
                      : fin ? CASE_FINISHED : CASE_UNFINISHED;
        json_decref(rec);
        if (fin && r->o->rows) {
            batch__rows_path(r, i, path, sizeof path);
            if (access(path, F_OK) != 0)
                r->state[i] = CASE_TODO;
        }
        if (r->state[i] == CASE_UNFINISHED && r->o->retry_failed)
            r->state[i] = CASE_TODO;
        if (r->state[i] == CASE_TODO) {
            r->t->to_run++;
        } else {
            r->t->skipped++;
            r->t->failed_before += r->state[i] == CASE_UNFINISHED;
        }
    }
}

/* ---- the summary -------------------------------------------------------- */

/* A CSV field, quoted when it needs to be (RFC 4180). */
static void csv_text(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, const json_t *v)
{
    char buf[40];
    if (json_is_number(v) && csv__number(buf, sizeof buf,
                                         json_number_value(v)) > 0)
        fputs(buf, f);
}

/* The message of a record: its own, or why KPIs have no value. */
static void record_message(const json_t *rec, char *buf, size_t len)
{
    const char *m = json_string_value(json_object_get(rec, "message"));
    const char *code = json_string_value(json_object_get(rec, "code"));
    buf[0] = '\0';
    if (m != NULL) {
        snprintf(buf, len, "%s%s%s%s", m, code ? " [" : "", code ? code : "",
                 code ? "]" : "");
        return;
    }
    size_t w = 0;
    const char *k;
    const json_t *e;
    json_object_foreach((json_t *)json_object_get(rec, "kpi_errors"), k, e) {
        if (w >= len)
            break;
        w += (size_t)snprintf(buf + w, len - w, "%s%s: %s [%s]",
                              w ? "; " : "", k,
                              json_string_value(json_object_get(e,
                                                                "message")),
                              json_string_value(json_object_get(e, "code")));
    }
}

static int write_summary(runner *r)
{
    const batch *b = r->b;
    char path[4096], tmp[4200], msg[4096];
    snprintf(path, sizeof path, "%s/summary.csv", r->o->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fputs("id", f);
    for (size_t k = 0; k < b->n_f; k++)
        fputc(',', f), csv_text(f, b->f[k].name);
    for (size_t k = 0; k < b->n_kpi; k++)
        fputc(',', f), csv_text(f, b->kpi[k]);
    fputs(",status,message\n", f);
    double v[BATCH_MAX_FACTORS];
    for (size_t i = 0; i < b->n_cases; i++) {
        /* What is on disk: a case stopped just after writing its result
         * has one too. */
        snprintf(msg, sizeof msg, "%s/results/%s.json", r->o->dir,
                 id_of(r, i));
        json_t *rec = json_load_file(msg, 0, NULL);
        r->t->recorded += json_object_get(rec, "status") != NULL;
        batch__case_values(b, i, v);
        fputs(id_of(r, i), f);
        for (size_t k = 0; k < b->n_f; k++) {
            fputc(',', f);
            char buf[40];
            if (csv__number(buf, sizeof buf, v[k]) > 0)
                fputs(buf, f);
        }
        const json_t *kpis = json_object_get(rec, "kpis");
        for (size_t k = 0; k < b->n_kpi; k++) {
            fputc(',', f);
            csv_num(f, json_object_get(kpis, b->kpi[k]));
        }
        const char *st = json_string_value(json_object_get(rec, "status"));
        fputc(',', f);
        fputs(st ? st : "pending", f);
        fputc(',', f);
        record_message(rec, msg, sizeof msg);
        csv_text(f, msg);
        fputc('\n', f);
        json_decref(rec);
    }
    return commit_file(f, tmp, path, r->o->dir);
}

/* ---- the whole ---------------------------------------------------------- */

batch_outcome batch__run(const batch *b, const json_t *doc,
                         const batch_run_opts *opts,
                         const batch_observer *obs, batch_tally *tally,
                         char *why, size_t why_len)
{
    runner r = {.b = b, .o = opts, .obs = obs, .t = tally, .why = why,
                .why_len = why_len};
    batch_outcome outcome = BATCH_REFUSED;
    int lock = -1;
    memset(tally, 0, sizeof *tally);
    tally->cases = b->n_cases;
    why[0] = '\0';
    r.jobs = opts->jobs ? opts->jobs : batch__cpus();
    r.ids = malloc(b->n_cases * ID_LEN);
    r.state = calloc(b->n_cases, 1);
    r.slots = calloc(r.jobs, sizeof *r.slots);
    if (r.ids == NULL || r.state == NULL || r.slots == NULL) {
        snprintf(why, why_len, "out of memory for %zu cases", b->n_cases);
        goto exit;
    }
    for (size_t i = 0; i < b->n_cases; i++) {
        double v[BATCH_MAX_FACTORS];
        batch__case_values(b, i, v);
        batch__case_id(b, i, v, r.ids + i * ID_LEN, ID_LEN);
    }
    if ((lock = open_dir(&r, doc)) < 0)
        goto exit;
    scan_done(&r);
    r.t0 = util__now();
    if (opts->elsewhere)
        opts->elsewhere(&r, b, opts, tally, obs, why, why_len);
    else
        run_all(&r);
    if (tally->stopping)
        remove_tmp(opts->dir);
    if (write_summary(&r) != 0 && !r.write_failed) {
        r.write_failed = 1;
        snprintf(why, why_len, "cannot write %s/summary.csv: %s", opts->dir,
                 strerror(errno));
    }
    if (tally->stopping)
        outcome = BATCH_INTERRUPTED;
    else if (tally->stalled)
        outcome = BATCH_STALLED;
    else if (r.write_failed || tally->failed || tally->failed_before)
        outcome = BATCH_SOME_FAILED;
    else
        outcome = BATCH_ALL_FINISHED;
exit:
    if (lock >= 0)
        close(lock);
    free(r.ids);
    free(r.state);
    free(r.slots);
    return outcome;
}

/* ---- for batch_remote.c -------------------------------------------------- */

const char *batch__case_name(const batch_runner *r, size_t index)
{
    return id_of(r, index);
}

int batch__case_todo(const batch_runner *r, size_t index)
{
    return r->state[index] == CASE_TODO;
}

json_t *batch__case_checked(batch_runner *r, size_t index)
{
    return case_scenario(r, index, NULL);
}

json_t *batch__record_new(const batch_runner *r, size_t index,
                          const char *status, const char *code,
                          const char *message)
{
    return record_new(r, index, status, code, message);
}

void batch__case_end(batch_runner *r, size_t index, json_t *rec)
{
    char status[32], message[2048];
    const char *st = json_string_value(json_object_get(rec, "status"));
    const char *m = json_string_value(json_object_get(rec, "message"));
    snprintf(status, sizeof status, "%s", st ? st : "failed");
    snprintf(message, sizeof message, "%s", m ? m : "");
    case_end(r, index, rec, status, m ? message : NULL);
}

void batch__progress(batch_runner *r, int force)
{
    tick(r, force);
}

int batch__commit_rows(rows_out **rows, const char *tmp, const char *path,
                       const char *dir, char *why, size_t why_len)
{
    if (rows_out__close(rows, why, why_len) != 0) {
        unlink(tmp);
        return -1;
    }
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    int ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0 || sync_dir(dir) != 0) {
        snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void batch__rows_path(const batch_runner *r, size_t index, char *buf,
                      size_t len)
{
    snprintf(buf, len, "%s/cases/%s%s", r->o->dir, id_of(r, index),
             rows_out__extension(r->o->rows_format));
}

void batch__problems(const twin_errors *errs, char *buf, size_t len)
{
    rejection(errs, buf, len);
}
