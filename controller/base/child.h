/*
 * child.h — the one supervisor of the child processes that run a
 * model's or a plugin's code: a run, a steady-state solve and a function
 * call in the daemon, a call of `twinctl functions call`, a case of a
 * local batch, `twinctl run`'s simulation, the vetting of model plugins.
 *
 * child__start forks a function into a child that leads its own process
 * group (proc.h), so that whatever it forks ends with it.  In the child,
 * child__enter gives the signals their defaults and child__set_limits
 * sets its resource limits (child_limits: CPU time, address space, core
 * files), never raising a hard limit the supervisor has.  In the parent,
 * one deadline of wall-clock time covers the child from its fork to its
 * end, whatever it is doing: at the deadline the child is sent its
 * notice signal, if it has one (SIGUSR1 asks a run to write out what it
 * holds), and SIGKILL goes to its whole group `grace` seconds later, or
 * at once.  When the child has ended, the rest of its group is killed
 * and collected (proc__reap, proc__end) and child__how says how it ended.
 *
 * Two ways to wait:
 *  - in the caller's own time (a call, a plugin's vetting, `twinctl
 *    run`): child__wait reads one pipe through a callback and watches the
 *    child's end (a pidfd) and its deadline until it has ended;
 *  - in an event loop (the daemon's, a batch's): the loop calls
 *    child__tick at every wake-up (the deadline, the SIGKILL after a
 *    notice; it returns when it wants the next), collects every ended
 *    child with proc__reap and hands each to child__reaped; child__end
 *    kills and collects a child that is still there.
 *
 * What the child reads and writes (its pipes) and what its end means to
 * its user (a response, a result record, a line on stderr) stay with the
 * user: this module only starts, limits, times, kills and classifies.
 */
#ifndef TWIN_CHILD_H
#define TWIN_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* Resource limits, set in the child by child__set_limits.  0 means none. */
typedef struct child_limits {
    double cpu_seconds;   /* RLIMIT_CPU soft limit (SIGXCPU), rounded up
                           * to whole seconds */
    unsigned cpu_grace;   /* whole seconds from the soft limit to the hard
                           * one (SIGKILL) */
    size_t memory_bytes;  /* RLIMIT_AS; a process that already has more
                           * address space is refused */
    int no_core;          /* RLIMIT_CORE 0: a crash leaves no core file */
} child_limits;

/* How a child ended. */
typedef enum child_how {
    CHILD_RUNNING = 0,    /* not collected yet */
    CHILD_EXITED,         /* by itself: WEXITSTATUS(status) */
    CHILD_SIGNALLED,      /* died of a signal this module did not send: a
                           * crash, SIGXCPU at its CPU-time limit, a kill
                           * from outside; WTERMSIG(status) */
    CHILD_TIMED_OUT,      /* killed at its deadline */
    CHILD_CANCELLED,      /* killed after child__cancel */
} child_how;

typedef struct child {
    pid_t pid;            /* 0: none started */
    double deadline;      /* util__now() seconds; INFINITY: none */
    int notice;           /* sent to the child at the deadline, SIGKILL to
                           * its group grace s later; 0: SIGKILL at once */
    double grace;
    double kill_at;       /* a SIGKILL due then (0: none) */
    int timed_out;        /* the deadline passed */
    int cancelled;        /* child__cancel was called before it */
    int reaped;           /* collected: status holds its wait status */
    int status;
} child;

/* The child's side: main(arg) never returns (it _exits). */
typedef void (*child_main)(void *arg);

/* Flush stdio and fork: the child leads its own process group and runs
 * main(arg) (exit status 70 if main returns); seconds > 0 is its
 * deadline from now.  notice and grace are 0: set them after.  Returns
 * 0, or -1 with errno (nothing started). */
int child__start(child *c, double seconds, child_main main, void *arg);

/* ---- in the child -------------------------------------------------------- */

/* Right after the fork: the default action for the signals that end a
 * process (SIGTERM, SIGINT, SIGHUP, the fatal ones, SIGXCPU) and for
 * SIGCHLD, SIGPIPE ignored.  The mask stays as the supervisor's (the
 * daemon blocks the signals its signalfd reads) until child__unblock,
 * so that the child's own handlers are in place before a signal comes. */
void child__enter(void);
void child__unblock(void);

/* Set lim in this process; what names the process in a failure ("run",
 * "steady-state solve").  Returns 0, or -1 with a sentence in why (which
 * names limits.cpu_seconds and limits.memory_bytes, the configuration's
 * names of these limits). */
int child__set_limits(const child_limits *lim, const char *what, char *why,
                      size_t why_len);

/* A "Vm…:" figure of /proc/self/status ("VmSize:", "VmPeak:") in bytes,
 * 0 if unknown.  No stdio: it may be read when memory is short. */
size_t child__vm_bytes(const char *key);

/* ---- in the supervisor --------------------------------------------------- */

/* Enforce c's deadline (notice, then SIGKILL to its group) and a SIGKILL
 * that is due.  Returns when it next wants to be called (INFINITY: only
 * when something else happens). */
double child__tick(child *c, double now);

/* When child__tick next wants to be called, without calling it. */
double child__due(const child *c);

/* Send sig to the child alone, to end itself (SIGTERM: stop at the next
 * tick). */
void child__signal(const child *c, int sig);

/* SIGKILL to the child's whole group now; it is collected later
 * (child__reaped, child__end). */
void child__kill(const child *c);

/* Ask the child to stop: sig to it now, SIGKILL to its group grace s
 * later.  Nothing when a SIGKILL is already due; a child past its
 * deadline stays timed out; one collected but not yet answered for is
 * only marked cancelled. */
void child__cancel(child *c, int sig, double grace, double now);

/* The loop collected pid (proc__reap): if it is c's, record its status
 * and return 1, else 0. */
int child__reaped(child *c, pid_t pid, int status);

/* Has the child ended (collected, or a zombie)? */
int child__ended(const child *c);

/* Kill and collect the child and its group if it was not collected (its
 * status then in c->status).  Returns how many members of its group were
 * left (proc__end). */
int child__end(child *c);

/* How it ended: CHILD_RUNNING until collected. */
child_how child__how(const child *c);

/* Wait for the child in this process: step(arg) is called at every
 * wake-up (when fd has something, the child ended, or at most every
 * 250 ms) until it returns 1 (fd's end; fd -1: never called), and once
 * more after the child ended when it had not; the deadline is enforced
 * meanwhile (step may move c->deadline).  Then the child and its group
 * are collected.  Returns child__how. */
child_how child__wait(child *c, int fd, int (*step)(void *arg), void *arg);

#endif
