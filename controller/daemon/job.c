/*
 * job.c — requests answered by a forked child (job.h): forking under
 * the configured limits, reading the answer from the pipe, and saying
 * how a child that gave none ended.  The child is child.h's (its own
 * process group, its limits, its deadline with SIGUSR1 before the
 * SIGKILL) and its stdout and stderr come to the daemon's log labelled
 * and bounded (proc.h), as a run's do.
 */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "frame.h"
#include "proc.h"
#include "respond.h"
#include "runner.h"

#define KILL_GRACE 0.2   /* s between SIGUSR1 (say where) and SIGKILL */

struct job {
    struct job *next;
    req_type type;
    char *what;
    reply_to reply;
    child proc;            /* its process */
    int fd;                /* the answer, or -1 once at end of file */
    frame_reader rd;
    proc_output output;    /* its stdout and stderr */
    json_t *answer;        /* the child's FRAME_END */
    char *where;           /* "model 'm' (instance 'i')" it died in */
};

/* What a child with nothing to say for want of memory says. */
static const char oom_answer[] =
    "{\"status\":\"failed\",\"errors\":[{\"code\":\"internal\",\"path\":\"\","
    "\"message\":\"out of memory building the answer\"}]}";

/* What the child of a job is given. */
typedef struct job_child {
    int fd, output_fd;
    child_limits lim;
    const char *what;
    job_work work;
    void *arg;
} job_child;

static void job_main(void *arg)
{
    const job_child *a = arg;
    int fd = a->fd;
    proc__redirect(a->output_fd);
    /* The daemon blocks its signals for its signalfd; the child wants
     * them, but not the terminal's. */
    child__enter();
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    child__unblock();
    if (dup2(fd, 3) < 0)
        _exit(70);
    close_range(4, ~0U, 0);
    frame_writer w;
    if (frame__writer_init(&w, 3, 64u << 10) != 0)
        _exit(71);
    runner__watch_crashes(&w);
    char why[1024];
    json_t *answer = NULL;
    if (child__set_limits(&a->lim, a->what, why, sizeof why) != 0)
        answer = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "status", "failed",
                           "errors", "code", "internal", "path", "",
                           "message", why);
    else
        answer = a->work(a->arg);
    char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    if (text != NULL)
        frame__put(&w, FRAME_END, text, strlen(text));
    else
        frame__put(&w, FRAME_END, oom_answer, sizeof oom_answer - 1);
    frame__flush(&w);
    _exit(0);
}

int job__start(serve *sv, const reply_to *to, req_type type,
               const char *what, job_work work, void *arg, char *why,
               size_t why_len)
{
    int p[2] = {-1, -1}, output_fd = -1;
    struct job *j = calloc(1, sizeof *j);
    if (j != NULL)
        j->output.fd = -1;
    if (j == NULL || (j->what = strdup(what)) == NULL ||
        request__reply_copy(&j->reply, to) != 0) {
        snprintf(why, why_len, "out of memory starting the %s", what);
        goto fail;
    }
    char label[256];
    snprintf(label, sizeof label, "twinctl serve: %s for request %s", what,
             to->id ? to->id : "?");
    if (pipe2(p, O_CLOEXEC) != 0 ||
        proc__output_open(&j->output, &output_fd, stderr, label) != 0) {
        snprintf(why, why_len, "cannot make a pipe for the %s: %s", what,
                 strerror(errno));
        goto fail;
    }
    job_child a = {.fd = p[1], .output_fd = output_fd,
                   .lim = {.cpu_seconds = sv->cfg.limits.cpu_seconds,
                           .cpu_grace = 2,
                           .memory_bytes = sv->cfg.limits.memory_bytes},
                   .what = what, .work = work, .arg = arg};
    if (child__start(&j->proc, sv->cfg.limits.run_seconds, job_main,
                     &a) != 0) {
        snprintf(why, why_len, "cannot start the %s's process: %s", what,
                 strerror(errno));
        goto fail;
    }
    /* SIGUSR1 at the deadline: say where you are; then you are killed. */
    j->proc.notice = SIGUSR1;
    j->proc.grace = KILL_GRACE;
    close(p[1]);
    close(output_fd);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    j->type = type;
    j->fd = p[0];
    j->next = sv->jobs;
    sv->jobs = j;
    return 0;
fail:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    if (output_fd >= 0)
        close(output_fd);
    if (j) {
        if (j->output.fd >= 0)
            close(j->output.fd);
        free(j->what);
        request__reply_free(&j->reply);
    }
    free(j);
    return -1;
}

size_t job__count(const serve *sv)
{
    size_t n = 0;
    for (const struct job *j = sv->jobs; j; j = j->next)
        n++;
    return n;
}

int job__running(const serve *sv, const char *id)
{
    for (const struct job *j = sv->jobs; id && j; j = j->next)
        if (j->reply.id && strcmp(j->reply.id, id) == 0)
            return 1;
    return 0;
}

size_t job__poll_fds(const serve *sv, struct pollfd *pfd, size_t cap)
{
    size_t n = 0;
    for (const struct job *j = sv->jobs; j && n < cap; j = j->next) {
        if (j->fd >= 0)
            pfd[n++] = (struct pollfd){.fd = j->fd, .events = POLLIN};
        if (j->output.fd >= 0 && !j->output.eof && n < cap)
            pfd[n++] = (struct pollfd){.fd = j->output.fd, .events = POLLIN};
    }
    return n;
}

/* Read what is there: the answer, or where the child was when it died. */
static void job_read(struct job *j)
{
    long got;
    while (j->fd >= 0 && (got = frame__fill(&j->rd, j->fd)) != 0) {
        if (got < 0) {
            if (errno != EAGAIN && errno != EINTR)
                break;
            return; /* nothing more now */
        }
        const char *p;
        size_t len;
        int type;
        while ((type = frame__next(&j->rd, &p, &len)) > 0) {
            if (type == FRAME_END) {
                json_decref(j->answer);
                j->answer = json_loadb(p, len, 0, NULL);
            } else if (type == FRAME_WHERE) {
                free(j->where);
                j->where = frame__where_text(p, len);
            }
        }
        if (type < 0)
            break; /* garbled: what came so far is all there is */
    }
    close(j->fd);
    j->fd = -1;
}

static json_t *failed(json_t *errors)
{
    return json_pack("{s:s, s:o}", "status", "failed", "errors", errors);
}

/* The child is gone and its pipe read to the end: answer. */
static void job_end(serve *sv, struct job *j)
{
    json_t *resp;
    int st = j->proc.status;
    const char *in = j->where ? " while in " : "";
    const char *where = j->where ? j->where : "";
    if (j->answer != NULL && json_is_object(j->answer))
        resp = json_incref(j->answer);
    else if (j->proc.timed_out)
        resp = failed(respond__errors(
            TWIN_E_TIMEOUT, "the %s passed this controller's limit of %g s "
            "of wall-clock time (limits.run_seconds) and was stopped%s%s",
            j->what, sv->cfg.limits.run_seconds, in, where));
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
        resp = failed(respond__errors(
            TWIN_E_TIMEOUT, "the %s used its CPU-time limit of %g s "
            "(limits.cpu_seconds) and was stopped%s%s", j->what,
            sv->cfg.limits.cpu_seconds, in, where));
    else if (WIFSIGNALED(st))
        resp = failed(respond__errors(
            TWIN_E_MODEL_CRASHED, "the %s's process died of signal %d (%s) "
            "%s%s", j->what, WTERMSIG(st), strsignal(WTERMSIG(st)),
            j->where ? "in " : "in a model or the solver", where));
    else
        resp = failed(respond__errors(
            TWIN_E_MODEL_CRASHED, "the %s's process exited with status %d "
            "before it answered (a model called exit?)", j->what,
            WEXITSTATUS(st)));
    respond__computed(sv, &j->reply, j->type, resp);
}

static void job_free(struct job *j)
{
    child__end(&j->proc);
    if (j->fd >= 0)
        close(j->fd);
    proc__output_close(&j->output);
    frame__reader_free(&j->rd);
    json_decref(j->answer);
    request__reply_free(&j->reply);
    free(j->where);
    free(j->what);
    free(j);
}

void job__service(serve *sv, double now)
{
    for (struct job **link = &sv->jobs; *link;) {
        struct job *j = *link;
        if (j->fd >= 0)
            job_read(j);
        proc__output_read(&j->output);
        child__tick(&j->proc, now);
        if (j->proc.reaped && j->fd < 0) {
            job_end(sv, j);
            *link = j->next;
            job_free(j);
        } else {
            link = &j->next;
        }
    }
}

int job__reaped(serve *sv, pid_t pid, int status)
{
    for (struct job *j = sv->jobs; j; j = j->next)
        if (child__reaped(&j->proc, pid, status))
            return 1;
    return 0;
}

double job__next_deadline(const serve *sv)
{
    double due = INFINITY;
    for (const struct job *j = sv->jobs; j; j = j->next)
        due = fmin(due, child__due(&j->proc));
    return due;
}

void job__stop_all(serve *sv)
{
    while (sv->jobs) {
        struct job *j = sv->jobs;
        sv->jobs = j->next;
        respond__send(sv, &j->reply, j->type, failed(respond__errors(
            TWIN_E_CANCELLED, "this controller is stopping; the %s was "
            "ended before it answered: send the request again, to another "
            "controller", j->what)));
        job_free(j);
    }
}

void job__free_all(serve *sv)
{
    while (sv->jobs) {
        struct job *j = sv->jobs;
        sv->jobs = j->next;
        job_free(j);
    }
}
