/*
 * rt.c — real-time privileges for a paced run: SCHED_FIFO for the calling
 * thread and locked memory (rt.h).
 *
 * This owns asking the kernel and, when it says no, a sentence saying what
 * was refused and what the operator can do about it.  It is all or
 * nothing: if one of the two is refused, what was already changed is put
 * back, so a run is either fully real-time or untouched.  Pacing itself
 * (deadlines, lateness) lives in pace.c.
 */
#include "rt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* Stack the paced loop may touch, faulted in once after mlockall so the
 * loop takes no page fault on its first deep call. */
#define RT_STACK_PREFAULT (64 * 1024)

static void rt__say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rt__say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why == NULL || why_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static const char *rt__limit_text(int resource, char *buf, size_t len)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0)
        snprintf(buf, len, "unknown");
    else if (rl.rlim_cur == RLIM_INFINITY)
        snprintf(buf, len, "unlimited");
    else
        snprintf(buf, len, "%llu", (unsigned long long)rl.rlim_cur);
    return buf;
}

static void rt__prefault_stack(void)
{
    volatile unsigned char buf[RT_STACK_PREFAULT];
    for (size_t i = 0; i < sizeof buf; i += 4096)
        buf[i] = 0;
}

static int rt__set_fifo(int prio, char *why, size_t why_len)
{
    int lo = sched_get_priority_min(SCHED_FIFO);
    int hi = sched_get_priority_max(SCHED_FIFO);
    if (prio < lo || prio > hi) {
        rt__say(why, why_len, "SCHED_FIFO priority %d is out of range: "
                "this system allows %d to %d", prio, lo, hi);
        return -1;
    }
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = prio;
    int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (err == 0)
        return 0;

    char lim[32];
    rt__limit_text(RLIMIT_RTPRIO, lim, sizeof lim);
    if (err == EPERM && geteuid() == 0)
        rt__say(why, why_len, "SCHED_FIFO at priority %d was refused "
                "(EPERM) although running as root: the process lacks "
                "CAP_SYS_NICE (a container: add it, e.g. --cap-add "
                "SYS_NICE) or its cgroup has no real-time runtime "
                "(cpu.rt_runtime_us is 0); or run without real-time "
                "priority", prio);
    else if (err == EPERM)
        rt__say(why, why_len, "SCHED_FIFO at priority %d was refused "
                "(EPERM; RLIMIT_RTPRIO is %s): run as root, grant the "
                "binary CAP_SYS_NICE (setcap cap_sys_nice+ep), or raise "
                "the limit (ulimit -r %d, or rtprio in "
                "/etc/security/limits.conf); or run without real-time "
                "priority",
                prio, lim, prio);
    else
        rt__say(why, why_len, "SCHED_FIFO at priority %d was refused: %s",
                prio, strerror(err));
    return -1;
}

static int rt__lock(char *why, size_t why_len)
{
    if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
        rt__prefault_stack();
        return 0;
    }
    int err = errno;
    char lim[32];
    rt__limit_text(RLIMIT_MEMLOCK, lim, sizeof lim);
    if (err == ENOMEM || err == EPERM)
        rt__say(why, why_len, "locking memory (mlockall) was refused "
                "(%s; RLIMIT_MEMLOCK is %s bytes): run as root, grant the "
                "binary CAP_IPC_LOCK (setcap cap_ipc_lock+ep), or raise the "
                "limit (ulimit -l unlimited, or memlock in "
                "/etc/security/limits.conf, or LimitMEMLOCK= in a systemd "
                "unit); or run without locking memory",
                err == ENOMEM ? "ENOMEM" : "EPERM", lim);
    else
        rt__say(why, why_len, "locking memory (mlockall) was refused: %s",
                strerror(err));
    return -1;
}

int rt__setup(int fifo_priority, int lock_memory, char *why, size_t why_len)
{
    int rc = -1;
    int locked = 0;

    rt__say(why, why_len, "%s", ""); /* no reason yet */
    /* Lock first: the priority change is the last thing that can fail, so
     * on failure only the lock has to be undone. */
    if (lock_memory) {
        if (rt__lock(why, why_len) != 0)
            goto out;
        locked = 1;
    }
    if (fifo_priority > 0 && rt__set_fifo(fifo_priority, why, why_len) != 0)
        goto out;
    rc = 0;

out:
    if (rc != 0 && locked)
        munlockall();
    return rc;
}
