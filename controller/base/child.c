/*
 * child.c — starting a child process under limits, keeping its
 * deadline, collecting it and saying how it ended (child.h).
 *
 * The process group and the collection of a group's members are proc.c's;
 * this file adds what every supervisor used to do in its own way: the
 * fork, the signals and resource limits of the child, the deadline with
 * its notice and SIGKILL, and the classification of the end.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

#define WAIT_SLICE 0.25          /* s between two looks in child__wait */
#define WAIT_SLICE_NO_PIDFD 0.05 /* the same without a pidfd */

int child__start(child *c, double seconds, child_main main, void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        proc__own_group(0);
        main(arg);
        _exit(70);
    }
    proc__own_group(pid);
    *c = (child){.pid = pid,
                 .deadline = seconds > 0 ? util__now() + seconds : INFINITY};
    return 0;
}

/* ---- in the child -------------------------------------------------------- */

void child__enter(void)
{
    static const int defaults[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGSEGV,
                                   SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGXCPU};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        signal(defaults[i], SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
}

void child__unblock(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* setrlimit, never raising the hard limit this process has. */
static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit had, rl = {.rlim_cur = soft, .rlim_max = hard};
    if (getrlimit(resource, &had) == 0 && had.rlim_max != RLIM_INFINITY &&
        had.rlim_max < rl.rlim_max) {
        rl.rlim_max = had.rlim_max;
        if (rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
    }
    return setrlimit(resource, &rl);
}

size_t child__vm_bytes(const char *key)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, key);
    return p ? (size_t)strtoull(p + strlen(key), NULL, 10) << 10 : 0;
}

int child__set_limits(const child_limits *lim, const char *what, char *why,
                      size_t why_len)
{
    if (lim->no_core && set_limit(RLIMIT_CORE, 0, 0) != 0) {
        snprintf(why, why_len, "cannot turn off the %s's core files: %s",
                 what, strerror(errno));
        return -1;
    }
    if (lim->cpu_seconds > 0) {
        /* SIGXCPU at the soft limit; the hard one (SIGKILL) only if the
         * process did not end at the soft one. */
        rlim_t soft = (rlim_t)ceil(lim->cpu_seconds);
        if (set_limit(RLIMIT_CPU, soft, soft + lim->cpu_grace) != 0) {
            snprintf(why, why_len, "cannot set the %s's CPU-time limit "
                     "(limits.cpu_seconds = %g): %s", what, lim->cpu_seconds,
                     strerror(errno));
            return -1;
        }
    }
    if (lim->memory_bytes > 0) {
        size_t now = child__vm_bytes("VmSize:");
        if (now >= lim->memory_bytes) {
            snprintf(why, why_len, "the %s process starts with %zu bytes "
                     "of address space, copied from the daemon, more than "
                     "its limit of %zu bytes (limits.memory_bytes); raise "
                     "the limit", what, now, lim->memory_bytes);
            return -1;
        }
        rlim_t bytes = (rlim_t)lim->memory_bytes;
        if (set_limit(RLIMIT_AS, bytes, bytes) != 0) {
            snprintf(why, why_len, "cannot set the %s's address-space "
                     "limit (limits.memory_bytes = %zu): %s", what,
                     lim->memory_bytes, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- in the supervisor --------------------------------------------------- */

double child__tick(child *c, double now)
{
    if (c->pid <= 0 || c->reaped)
        return INFINITY;
    if (!c->timed_out && !c->cancelled && now >= c->deadline) {
        c->timed_out = 1;
        if (c->notice != 0 && c->kill_at == 0) {
            kill(c->pid, c->notice);
            c->kill_at = now + c->grace;
        } else if (c->kill_at == 0) {
            proc__signal_group(c->pid, SIGKILL);
        }
    } else if (c->kill_at > 0 && now >= c->kill_at) {
        c->kill_at = 0;
        proc__signal_group(c->pid, SIGKILL);
    }
    return child__due(c);
}

double child__due(const child *c)
{
    if (c->pid <= 0 || c->reaped)
        return INFINITY;
    double due = c->timed_out || c->cancelled ? INFINITY : c->deadline;
    return c->kill_at > 0 && c->kill_at < due ? c->kill_at : due;
}

void child__signal(const child *c, int sig)
{
    if (c->pid > 0 && !c->reaped)
        kill(c->pid, sig);
}

void child__kill(const child *c)
{
    if (c->pid > 0 && !c->reaped)
        proc__signal_group(c->pid, SIGKILL);
}

void child__cancel(child *c, int sig, double grace, double now)
{
    if (c->pid <= 0 || c->kill_at > 0)
        return;
    if (!c->timed_out)
        c->cancelled = 1; /* even when collected: it ends as cancelled */
    if (c->reaped)
        return;
    kill(c->pid, sig);
    c->kill_at = now + grace;
}

int child__reaped(child *c, pid_t pid, int status)
{
    if (c->pid <= 0 || c->pid != pid || c->reaped)
        return 0;
    c->reaped = 1;
    c->status = status;
    c->kill_at = 0;
    return 1;
}

int child__ended(const child *c)
{
    return c->reaped || proc__ended(c->pid);
}

int child__end(child *c)
{
    if (c->pid <= 0 || c->reaped)
        return 0;
    int left = proc__end(c->pid, &c->status);
    c->reaped = 1;
    c->kill_at = 0;
    return left;
}

child_how child__how(const child *c)
{
    if (!c->reaped)
        return CHILD_RUNNING;
    if (WIFEXITED(c->status))
        return CHILD_EXITED;
    if (c->timed_out)
        return CHILD_TIMED_OUT;
    if (c->cancelled)
        return CHILD_CANCELLED;
    return CHILD_SIGNALLED;
}

child_how child__wait(child *c, int fd, int (*step)(void *arg), void *arg)
{
    /* The child's end wakes poll through a pidfd; without one, poll
     * looks again more often. */
    int pidfd = (int)pidfd_open(c->pid, 0);
    double slice = pidfd >= 0 ? WAIT_SLICE : WAIT_SLICE_NO_PIDFD;
    int eof = fd < 0;
    for (;;) {
        if (!eof)
            eof = step(arg);
        if (child__ended(c)) {
            if (!eof) /* its writes are all in the pipe by now */
                step(arg);
            break;
        }
        double now = util__now();
        double wait = fmin(child__tick(c, now) - now, slice);
        struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN},
                              {.fd = eof ? -1 : fd, .events = POLLIN}};
        poll(p, 2, wait <= 0 ? 0 : (int)ceil(wait * 1e3));
    }
    if (pidfd >= 0)
        close(pidfd);
    child__end(c); /* and what it forked */
    return child__how(c);
}
