/*
 * model_vet.c — vetting model plugins in a child process (model_vet.h).
 *
 * The child reports each plugin's verdict on the pipe in a line,
 * "V i kind sentence", and which plugin and phase it is in on a shared
 * page (a store, no system call: the parent is not woken up for it).  The
 * parent reads the verdicts under each plugin's time limit, which starts
 * again at each verdict.  When the child dies, or is killed at a time
 * limit, the shared page says which plugin and phase it was in: that
 * plugin's verdict says so, and a new child vets the files after it.
 * The child is child.h's: its own process group (killed as a whole),
 * RLIMIT_CPU, RLIMIT_AS at 1 GiB above the host's current address space,
 * no core file; its stdin, stdout and stderr are /dev/null, so a plugin's
 * chatter does not reach the host's output.
 *
 * A Python model (*.py) is imported in the child, which starts the
 * interpreter there (py/py_embed.c), and vetted like a plugin; a fit one
 * also sends its declaration, "D i json" before its verdict, so that the
 * host builds its descriptor without running Python (py_model.c).  The
 * declaration is kept with the verdict.
 */
#include "model_vet.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "crash.h"
#include "model_lib.h"
#include "plugin_open.h"
#include "py_model.h"
#include "util.h"

#define CACHE_SIZE 256
#define MEMORY_HEADROOM ((size_t)1 << 30)

typedef enum phase {
    PH_LOAD, PH_ENTRY, PH_DESCRIPTOR, PH_CREATE, PH_INIT, PH_OUTPUTS,
    PH_DERIVATIVES, PH_TICK, PH_INDICATORS, PH_EVENT, PH_NEXT_EVENT,
    PH_STEP, PH_DESTROY, PH_COUNT
} phase;

/* "<subject> died of SIGSEGV (segmentation fault)<where>" */
static const struct {
    const char *subject, *where;
} phases[PH_COUNT] = {
    [PH_LOAD] = {"it", " while being loaded (dlopen, its constructors)"},
    [PH_ENTRY] = {"its entry point", ""},
    [PH_DESCRIPTOR] = {"it", " reading its descriptor (a count or a pointer "
                             "in it is wrong)"},
    [PH_CREATE] = {"create", " at the default parameters"},
    [PH_INIT] = {"init", " at the start values"},
    [PH_OUTPUTS] = {"outputs", " at the start values"},
    [PH_DERIVATIVES] = {"derivatives", " at the start values"},
    [PH_TICK] = {"tick", " at the start values"},
    [PH_INDICATORS] = {"event_indicators", " at the start values"},
    [PH_EVENT] = {"event", " at the start values"},
    [PH_NEXT_EVENT] = {"next_event_time", " at the start values"},
    [PH_STEP] = {"step_completed", " at the start values"},
    [PH_DESTROY] = {"destroy", ""},
};

typedef struct verdict {
    char *path;
    struct stat st;
    modvet_kind kind;
    char why[1024];
    char *decl;     /* a Python model's declaration */
} verdict;

/* Where the child is, on a page it shares with the parent. */
typedef struct progress {
    volatile size_t current;
    volatile int phase;
} progress;

static progress *at;          /* in the child */

static void enter(size_t i, phase ph)
{
    at->current = i;
    at->phase = (int)ph;
}

static verdict cache[CACHE_SIZE];
static size_t cache_next;
static unsigned long children;

unsigned long modvet__children(void)
{
    return children;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static verdict *cached(const char *path, const struct stat *st)
{
    for (size_t i = 0; i < CACHE_SIZE; i++)
        if (cache[i].path && strcmp(cache[i].path, path) == 0 &&
            same_file(&cache[i].st, st))
            return &cache[i];
    return NULL;
}

static void remember(const modvet_file *f, const struct stat *st)
{
    verdict *v = NULL;
    for (size_t i = 0; i < CACHE_SIZE && v == NULL; i++)
        if (cache[i].path && strcmp(cache[i].path, f->path) == 0)
            v = &cache[i]; /* an older version of the file: replace it */
    if (v == NULL) {
        v = &cache[cache_next];
        cache_next = (cache_next + 1) % CACHE_SIZE;
    }
    char *path = strdup(f->path);
    if (path == NULL)
        return;
    free(v->path);
    free(v->decl);
    v->path = path;
    v->st = *st;
    v->kind = f->kind;
    v->decl = f->decl ? strdup(f->decl) : NULL;
    snprintf(v->why, sizeof v->why, "%s", f->why);
}

/* ---- in the child -------------------------------------------------------- */

static int pending(const modvet_file *f)
{
    return f->kind == MODVET_DIED && f->why[0] == '\0';
}

static void say(int out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(int out, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[n++] = '\n';
    if (crash__write(out, line, (size_t)n) != 0)
        _exit(1);
}

static void quiet_log(void *ctx, twin_log_level level, const char *message)
{
}

/* Each event indicator crossing up, then down, as check-model does. */
static void events(size_t i, const twin_model *m, twin_instance *inst,
                   double *x, const double *u)
{
    size_t ng = m->d->n_event_indicators;
    int *crossed = calloc(ng, sizeof *crossed);
    if (crossed == NULL)
        return;
    enter(i, PH_EVENT);
    for (size_t k = 0; k < ng; k++)
        for (int dir = 1; dir >= -1; dir -= 2) {
            memset(crossed, 0, ng * sizeof *crossed);
            crossed[k] = dir;
            m->d->event(inst, 0.0, x, u, crossed);
        }
    free(crossed);
}

/* The ABI 1.1 functions: the next time event, a completed step, and the
 * event() either of them leads to (crossed NULL). */
static void time_and_step(size_t i, const twin_model *m, twin_instance *inst,
                          double *x, const double *u)
{
    int needed = 0;
    double t_next = INFINITY;
    if (m->next_event_time) {
        enter(i, PH_NEXT_EVENT);
        m->next_event_time(inst, 0.0, &t_next);
    }
    if (m->step_completed) {
        enter(i, PH_STEP);
        m->step_completed(inst, 0.0, x, u, &needed);
    }
    if (m->next_event_time || m->step_completed) {
        enter(i, PH_EVENT);
        m->d->event(inst, 0.0, x, u, NULL);
    }
}

/* One call at the start values.  The statuses do not matter here (a run
 * reports them); that the calls return does. */
static void exercise(size_t i, const twin_model *m)
{
    const twin_model_descriptor *d = m->d;
    twin_host host;
    twin_instance *inst = NULL;
    modlib_scratch s = {0};
    modlib__plain_host(&host, d, quiet_log, NULL);
    if (modlib__scratch_new(m, &s) != 0)
        return; /* the child's memory: not the plugin's fault */
    enter(i, PH_CREATE);
    if (d->create(&host, s.p, &inst) > TWIN_WARNING || inst == NULL)
        return;
    if (d->init) {
        enter(i, PH_INIT);
        d->init(inst, 0.0, s.x, s.u);
    }
    if (d->kind == TWIN_MODEL_DISCRETE) {
        enter(i, PH_TICK);
        d->tick(inst, 0.0, 1.0, s.x, s.u, s.y);
    } else {
        if (d->outputs) {
            enter(i, PH_OUTPUTS);
            d->outputs(inst, 0.0, s.x, s.u, s.y);
        }
        enter(i, PH_DERIVATIVES);
        d->derivatives(inst, 0.0, s.x, s.u, s.dx);
        if (d->n_event_indicators > 0) {
            enter(i, PH_INDICATORS);
            d->event_indicators(inst, 0.0, s.x, s.u, s.g);
            events(i, m, inst, s.x, s.u);
        }
        time_and_step(i, m, inst, s.x, s.u);
    }
    enter(i, PH_DESTROY);
    d->destroy(inst);
}

/* A Python model's declaration, "D i json\n" (json has no newline). */
static void declare(int out, size_t i, const twin_model_descriptor *d)
{
    const char *json = pymodel__json(pymodel__of(d));
    char head[32];
    int n = snprintf(head, sizeof head, "D %zu ", i);
    size_t len = strlen(json);
    if (len > MODVET_MAX_DECL)
        return; /* the host then says it reported none */
    if (crash__write(out, head, (size_t)n) != 0 ||
        crash__write(out, json, len) != 0 || crash__write(out, "\n", 1) != 0)
        _exit(1);
}

/* A Python file's classes after the first (d), each checked and
 * exercised as the first was; 0, or -1 when one was refused (said). */
static int further_classes(int out, size_t i, const modvet_file *f,
                           const twin_model_descriptor *d)
{
    char why[1024];
    const pymodel *first = pymodel__of(d);
    for (size_t k = 1; k < pymodel__count(first); k++) {
        enter(i, PH_DESCRIPTOR);
        const twin_model_descriptor *dk =
            pymodel__open(f->path, pymodel__json(first), k, why, sizeof why);
        twin_model *m = dk ? modlib__wrap(dk, why, sizeof why) : NULL;
        if (m == NULL) {
            say(out, "V %zu %d %s: refused: class %zu: %s", i,
                MODVET_REFUSED, f->path, k, why);
            return -1;
        }
        exercise(i, m);
    }
    return 0;
}

static void vet_one(int out, size_t i, const modvet_file *f)
{
    char why[1024];
    twin_model_entry_fn entry;
    const twin_model_descriptor *d;
    enter(i, PH_LOAD);
    if (modlib__is_fmu(f->path) || pymodel__is_py(f->path)) {
        /* An FMU: unpacked, described and bound here, in the child; a
         * Python model: imported here. */
        void *fmu = NULL;
        d = modlib__load_descriptor(f->path, f->fd, &fmu, why, sizeof why);
        if (d == NULL) {
            say(out, "V %zu %d %s", i, MODVET_REFUSED, why);
            return;
        }
        goto check;
    }
    void *handle = plugin_open__fd(f->fd, f->path, why, sizeof why);
    if (handle == NULL) {
        say(out, "V %zu %d %s", i, MODVET_REFUSED, why);
        return;
    }
    enter(i, PH_ENTRY);
    *(void **)&entry = dlsym(handle, TWIN_MODEL_ENTRY_SYMBOL);
    if (entry == NULL) {
        say(out, "V %zu %d %s is not a twinctl model: it exports no %s()",
            i, MODVET_REFUSED, f->path, TWIN_MODEL_ENTRY_SYMBOL);
        return;
    }
    d = entry();
    if (d == NULL) {
        say(out, "V %zu %d %s: %s() returned NULL", i, MODVET_REFUSED,
            f->path, TWIN_MODEL_ENTRY_SYMBOL);
        return;
    }
check:
    enter(i, PH_DESCRIPTOR);
    twin_model *m = modlib__wrap(d, why, sizeof why);
    if (m == NULL) {
        say(out, "V %zu %d %s: refused: %s", i, MODVET_REFUSED, f->path, why);
        return;
    }
    exercise(i, m);
    if (pymodel__of(d) != NULL) {
        if (further_classes(out, i, f, d) != 0)
            return;
        declare(out, i, d);
    }
    say(out, "V %zu %d", i, MODVET_FIT);
}

static int by_number(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* What the vetting child is given. */
typedef struct vet_child {
    int out;
    progress *shared;
    modvet_file *files;
    size_t n, from;
    double seconds;
    size_t memory;
} vet_child;

static void vet_main(void *arg)
{
    const vet_child *a = arg;
    int out = a->out;
    modvet_file *files = a->files;
    size_t n = a->n, from = a->from;
    at = a->shared;
    child__enter();
    child__unblock();
    /* 0, 1 and 2 become /dev/null below: nothing of ours may be there. */
    if (out <= 2)
        out = fcntl(out, F_DUPFD, 3);
    for (size_t i = from; i < n; i++)
        if (pending(&files[i]) && files[i].fd <= 2)
            files[i].fd = fcntl(files[i].fd, F_DUPFD, 3);
    if (out < 0)
        _exit(70);
    /* Open: the pipe, the files being vetted, and the descriptors the
     * names of loaded plugins stand for (plugin_open.h); nothing else,
     * the host's sockets and files are none of a plugin's business. */
    size_t n_keep = plugin_open__fds(NULL, 0) + (n - from) + 1;
    int *keep = calloc(n_keep, sizeof *keep);
    if (keep == NULL)
        _exit(70);
    size_t k = plugin_open__fds(keep, n_keep);
    keep[k++] = out;
    for (size_t i = from; i < n; i++)
        if (pending(&files[i]))
            keep[k++] = files[i].fd;
    qsort(keep, k, sizeof *keep, by_number);
    unsigned lo = 3;
    for (size_t i = 0; i < k; i++) {
        if ((unsigned)keep[i] > lo)
            close_range(lo, (unsigned)keep[i] - 1, 0);
        if ((unsigned)keep[i] + 1 > lo)
            lo = (unsigned)keep[i] + 1;
    }
    close_range(lo, ~0U, 0);
    free(keep);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2)
            close(null);
    }
    /* CPU time for all the plugins, and a second; SIGKILL at it. */
    char why[512];
    child_limits lim = {.cpu_seconds = ceil(a->seconds * (double)(n - from))
                                       + 1,
                        .memory_bytes = a->memory, .no_core = 1};
    child__set_limits(&lim, "vetting", why, sizeof why);
    for (size_t i = from; i < n; i++)
        if (pending(&files[i]))
            vet_one(out, i, &files[i]);
    _exit(0);
}

/* ---- in the parent ------------------------------------------------------- */

static void signal_name(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    const char *what = strsignal(sig);
    char lower[64];
    snprintf(lower, sizeof lower, "%s", what ? what : "unknown signal");
    lower[0] = (char)tolower((unsigned char)lower[0]);
    if (abbrev)
        snprintf(buf, len, "SIG%s (%s)", abbrev, lower);
    else
        snprintf(buf, len, "signal %d (%s)", sig, lower);
}

/* The verdict on the file the child was in when it ended or was killed. */
static void died(modvet_file *f, phase ph, int wstatus, int timed_out,
                 double seconds)
{
    const char *subject = phases[ph].subject, *where = phases[ph].where;
    char how[128];
    if (timed_out)
        snprintf(how, sizeof how, "did not return within %g s", seconds);
    else if (WIFSIGNALED(wstatus)) {
        char sig[96];
        signal_name(WTERMSIG(wstatus), sig, sizeof sig);
        snprintf(how, sizeof how, "died of %s", sig);
    } else
        snprintf(how, sizeof how, "ended the process (exit status %d)",
                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
    f->kind = MODVET_DIED;
    f->transient = timed_out;
    snprintf(f->why, sizeof f->why, "%s %s%s while being vetted in a child "
             "process", subject, how, where);
}

/* A verdict line from the child.  The next plugin's time starts. */
static void take_line(char *line, modvet_file *files, size_t n,
                      double *deadline, double seconds)
{
    size_t i;
    int a, used = 0;
    if (sscanf(line, "D %zu %n", &i, &used) == 1 && used > 0 && i < n &&
        pending(&files[i])) {
        free(files[i].decl);
        files[i].decl = strdup(line + used);
        return;
    }
    if (sscanf(line, "V %zu %d%n", &i, &a, &used) == 2 && i < n &&
        pending(&files[i])) {
        *deadline = util__now() + seconds;
        const char *why = line + used + (line[used] == ' ');
        files[i].kind = a == MODVET_FIT ? MODVET_FIT : MODVET_REFUSED;
        snprintf(files[i].why, sizeof files[i].why, "%s",
                 files[i].kind == MODVET_FIT ? "" : why);
        if (files[i].kind != MODVET_FIT && files[i].why[0] == '\0')
            snprintf(files[i].why, sizeof files[i].why, "%s: refused",
                     files[i].path);
    }
}

/* The verdicts coming from one child. */
typedef struct verdicts {
    int fd;
    child *proc;           /* its deadline moves at each verdict */
    modvet_file *files;
    size_t n;
    double seconds;
    char *buf;             /* VERDICT_BUF bytes */
    size_t have;
} verdicts;

/* A verdict line, or a Python model's declaration. */
#define VERDICT_BUF (MODVET_MAX_DECL + 8192)

/* child__wait's step: read the verdicts there are; 1 at the pipe's end
 * (a process the plugin started may hold it open: child__wait also
 * watches the child's own end). */
static int read_verdicts(void *arg)
{
    verdicts *v = arg;
    for (;;) {
        ssize_t k = read(v->fd, v->buf + v->have,
                         VERDICT_BUF - 1 - v->have);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return 0; /* all there is for now */
        if (k == 0)
            return 1;
        v->have += (size_t)k;
        v->buf[v->have] = '\0';
        char *start = v->buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            take_line(start, v->files, v->n, &v->proc->deadline, v->seconds);
            start = nl + 1;
        }
        v->have -= (size_t)(start - v->buf);
        memmove(v->buf, start, v->have);
        if (v->have == VERDICT_BUF - 1)
            v->have = 0; /* a line longer than any the child writes */
    }
}

/* One child over the pending files from `from`, each under its time
 * limit (which starts again at each verdict); returns when it ended. */
static void run_child(modvet_file *files, size_t n, size_t from,
                      double seconds)
{
    int fds[2];
    progress *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        goto cannot;
    shared->current = from;
    shared->phase = PH_LOAD;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        munmap(shared, sizeof *shared);
        goto cannot;
    }
    size_t vm = child__vm_bytes("VmSize:");
    vet_child a = {.out = fds[1], .shared = shared, .files = files, .n = n,
                   .from = from, .seconds = seconds,
                   .memory = vm ? vm + MEMORY_HEADROOM : 0};
    verdicts v = {.fd = fds[0], .files = files, .n = n, .seconds = seconds,
                  .buf = malloc(VERDICT_BUF)};
    child proc;
    if (v.buf == NULL || child__start(&proc, seconds, vet_main, &a) != 0) {
        free(v.buf);
        close(fds[0]);
        close(fds[1]);
        munmap(shared, sizeof *shared);
        goto cannot;
    }
    children++;
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    v.proc = &proc;
    child__wait(&proc, fds[0], read_verdicts, &v);
    free(v.buf);
    close(fds[0]);
    size_t current = shared->current;
    int ph = shared->phase;
    munmap(shared, sizeof *shared);
    if (current < n && pending(&files[current]))
        died(&files[current], ph >= 0 && ph < PH_COUNT ? (phase)ph : PH_LOAD,
             proc.status, proc.timed_out, seconds);
    else if (pending(&files[from]))
        died(&files[from], PH_LOAD, proc.status, proc.timed_out, seconds);
    return;
cannot:
    for (size_t i = from; i < n; i++)
        if (pending(&files[i])) {
            files[i].transient = 1;
            snprintf(files[i].why, sizeof files[i].why, "%s could not be "
                     "vetted (cannot start a process: %s); not loaded",
                     files[i].path, strerror(errno));
        }
}

void modvet__vet(modvet_file *files, size_t n, double seconds)
{
    struct stat *st = calloc(n + 1, sizeof *st);
    for (size_t i = 0; i < n; i++) {
        const verdict *v = NULL;
        files[i].why[0] = '\0';
        files[i].transient = 0;
        files[i].decl = NULL;
        files[i].kind = MODVET_DIED; /* pending: no verdict yet */
        if (st == NULL || fstat(files[i].fd, &st[i]) != 0) {
            snprintf(files[i].why, sizeof files[i].why, "cannot load %s: %s",
                     files[i].path, strerror(st ? errno : ENOMEM));
            files[i].kind = MODVET_REFUSED;
        } else if ((v = cached(files[i].path, &st[i])) != NULL) {
            files[i].kind = v->kind;
            snprintf(files[i].why, sizeof files[i].why, "%s", v->why);
            files[i].decl = v->decl ? strdup(v->decl) : NULL;
        }
    }
    for (size_t from = 0; from < n; from++)
        if (pending(&files[from]))
            run_child(files, n, from, seconds);
    for (size_t i = 0; st && i < n; i++)
        if ((st[i].st_ino != 0 || st[i].st_dev != 0) && !files[i].transient)
            remember(&files[i], &st[i]);
    free(st);
}

void modvet__forget(modvet_file *f)
{
    free(f->decl);
    f->decl = NULL;
}
