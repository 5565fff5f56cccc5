/*
 * proc.h — what every child process that runs a model's or a plugin's
 * code shares, whoever supervises it (a run, a steady solve or a call in
 * the daemon, a case of a local batch, `twinctl run`'s simulation):
 *
 *  - it is the leader of a process group of its own, so that whatever it
 *    forks is ended with it: a child is ended with SIGKILL to its whole
 *    group, and when it ends by itself the rest of its group is killed
 *    before the child is collected (while its zombie still holds the
 *    group's id, so the id cannot have been reused); the supervisor is a
 *    child subreaper, so that members whose parent died are collected by
 *    it and counted until none is left;
 *  - its stdout and stderr go into a pipe that the supervisor reads and
 *    copies into its own log, each line labelled with who wrote it, cut
 *    at PROC_LINE_MAX characters, and only up to a byte budget per child;
 *    past it, one line says how much was dropped.
 *
 * A process that leaves its group itself (setsid, setpgid) escapes the
 * group kill; only a cgroup would hold it.  See docs/reliability.md.
 */
#ifndef TWIN_PROC_H
#define TWIN_PROC_H

#include <stdio.h>
#include <sys/types.h>

#define PROC_LINE_MAX 512          /* characters of one output line */
#define PROC_OUTPUT_BUDGET (64u << 10) /* bytes of a child's output logged */

/* In the supervisor, once: collect orphaned descendants (see above).
 * Returns 0 or -1 (the kernel does not offer it). */
int proc__become_reaper(void);

/* Right after fork(), in both the child (pid 0) and the parent (the
 * child's pid): make the child the leader of its own group.  Both call
 * it, so the group exists whichever runs first. */
void proc__own_group(pid_t pid);

/* Send sig to pid's whole group (to pid alone if it has no group). */
void proc__signal_group(pid_t pid, int sig);

/* Collect one child that has ended, whatever it is: SIGKILL to the rest
 * of its group first, then the child, then the members of its group that
 * became this process's children, waiting at most 50 ms for them.
 * Returns its pid with its wait status in *status (and in *left how many
 * members of its group were still there, or 0), 0 when no child has
 * ended, -1 when there is no child. */
pid_t proc__reap(int *status, int *left);

/* Has child pid ended (without collecting it)? */
int proc__ended(pid_t pid);

/* End child pid and its group now: SIGKILL, collect it (its status in
 * *status if not NULL) and its group's members as proc__reap does.
 * Returns how many members were left. */
int proc__end(pid_t pid, int *status);

/* A child's output on its way into a log. */
typedef struct proc_output {
    int fd;                  /* read end (non-blocking), -1 when closed */
    char label[256];         /* "twinctl serve: run r1 (instance t0)" */
    FILE *log;               /* where the lines go */
    size_t used;             /* bytes written to the log */
    unsigned long long dropped;  /* bytes past the budget */
    char line[PROC_LINE_MAX];
    size_t len;              /* of the line being read */
    unsigned long long cut;  /* bytes of it past PROC_LINE_MAX */
    int eof;                 /* the read end saw the end of the pipe */
} proc_output;

/* Make the pipe: *child_fd is the write end for the child (close-on-exec
 * off after proc__redirect), out->fd the read end.  Returns 0 or -1 with
 * errno. */
int proc__output_open(proc_output *out, int *child_fd, FILE *log,
                      const char *label);

/* In the child: stdout and stderr into fd (then closes fd). */
void proc__redirect(int fd);

/* Read what is there (at most 1 MiB at a time, so no child starves the
 * others); returns 1 at end of file, else 0. */
int proc__output_read(proc_output *out);

/* Read to the end, write the last partial line and, if any output was
 * dropped, the line that says how much; close the pipe. */
void proc__output_close(proc_output *out);

#endif
