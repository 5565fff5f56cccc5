/*
 * proc.c — child processes that run a model's or a plugin's code: their
 * own process group, ended as a whole, and their stdout and stderr
 * labelled and bounded in the supervisor's log (proc.h).
 *
 * Ending a group: a child that ended is seen with waitid(WNOWAIT) first,
 * so that its zombie still holds its pid (and so its group's id) while
 * SIGKILL goes to the group; then it is collected, and so are the members
 * of its group that came to this process (a child subreaper) when their
 * parent died; kill(-pgid, 0) tells when none is left.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GROUP_WAIT_MS 50   /* for the members of an ended child's group */

int proc__become_reaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) == 0 ? 0 : -1;
}

void proc__own_group(pid_t pid)
{
    /* EACCES (the child has exec'd) and ESRCH (it has ended already)
     * leave nothing to do. */
    setpgid(pid, pid == 0 ? 0 : pid);
}

void proc__signal_group(pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    if (kill(-pid, sig) != 0)
        kill(pid, sig);
}

/* The members of group pgid, its leader collected: collect those that
 * are children of this process until none is left or GROUP_WAIT_MS have
 * passed.  Returns how many are left (1 standing for "some"). */
static int sweep_group(pid_t pgid)
{
    for (int ms = 0;; ms++) {
        while (waitpid(-pgid, NULL, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) != 0 && errno == ESRCH)
            return 0;
        if (ms >= GROUP_WAIT_MS)
            return 1;
        kill(-pgid, SIGKILL); /* one that was forked meanwhile */
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
}

pid_t proc__reap(int *status, int *left)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == EINTR ? 0 : -1;
    pid_t pid = si.si_pid;
    if (pid == 0)
        return 0;
    /* Its zombie holds the id: the group is still its own. */
    kill(-pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (status != NULL)
        *status = st;
    int n = sweep_group(pid);
    if (left != NULL)
        *left = n;
    return pid;
}

int proc__ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == pid;
}

int proc__end(pid_t pid, int *status)
{
    int st = 0;
    if (pid <= 0)
        return 0;
    proc__signal_group(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (status != NULL)
        *status = st;
    return sweep_group(pid);
}

/* ---- output ------------------------------------------------------------- */

int proc__output_open(proc_output *out, int *child_fd, FILE *log,
                      const char *label)
{
    int p[2];
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    out->fd = p[0];
    out->log = log;
    strncpy(out->label, label, sizeof out->label - 1);
    *child_fd = p[1];
    return 0;
}

void proc__redirect(int fd)
{
    if (fd < 0)
        return;
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
}

/* The line read so far into the log, if the budget allows. */
static void end_line(proc_output *out)
{
    size_t cost = out->len + strlen(out->label) + 3;
    if (out->used + cost > PROC_OUTPUT_BUDGET) {
        out->dropped += out->len + out->cut + 1;
    } else {
        out->used += cost;
        if (out->cut > 0)
            fprintf(out->log, "%s: %.*s [%llu more "
                    "characters cut]\n", out->label, (int)out->len,
                    out->line, out->cut);
        else
            fprintf(out->log, "%s: %.*s\n", out->label,
                    (int)out->len, out->line);
    }
    out->len = 0;
    out->cut = 0;
}

static void take(proc_output *out, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        size_t room = sizeof out->line - out->len;
        size_t fit = k < room ? k : room;
        memcpy(out->line + out->len, p, fit);
        out->len += fit;
        out->cut += k - fit;
        if (nl == NULL)
            return;
        end_line(out);
        p += k + 1;
        n -= k + 1;
    }
}

/* 1 at end of file, 0 when nothing more is there now, 2 after 1 MiB. */
static int drain(proc_output *out)
{
    char buf[65536];
    int rc = 2;
    for (size_t total = 0; total < (1u << 20);) {
        ssize_t k = read(out->fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k == 0 ? 1 : 0;
            out->eof |= k == 0;
            break;
        }
        take(out, buf, (size_t)k);
        total += (size_t)k;
    }
    fflush(out->log);
    return rc;
}

int proc__output_read(proc_output *out)
{
    return out->fd < 0 || drain(out) == 1;
}

void proc__output_close(proc_output *out)
{
    if (out->fd < 0)
        return;
    /* What is there now: a writer that escaped the group kill may still
     * hold the pipe open, so never wait for the end. */
    while (drain(out) == 2)
        ;
    if (out->len > 0 || out->cut > 0)
        end_line(out);
    if (out->dropped > 0)
        fprintf(out->log, "%s: %llu more bytes of its "
                "output (stdout and stderr) were dropped: at most %u "
                "bytes of a process's output are logged\n", out->label,
                out->dropped, PROC_OUTPUT_BUDGET);
    fflush(out->log);
    close(out->fd);
    out->fd = -1;
}
