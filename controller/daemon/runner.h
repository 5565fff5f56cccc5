/*
 * runner.h — one run in its own process.
 *
 * The daemon composes and checks a scenario, then forks: the child runs
 * the simulation loop and streams frames (frame.h) back through a pipe —
 * columns, rows, events, and an end frame with the outcome and solver
 * statistics — and reads live input values from a second pipe.  A model
 * that crashes, hangs or exits takes only its own process with it.  The
 * child never touches the daemon's MQTT client (it inherits its memory,
 * not its threads) and closes every descriptor but its two pipes.
 */
#ifndef TWIN_RUNNER_H
#define TWIN_RUNNER_H

#include <jansson.h>
#include <sys/types.h>

#include "child.h"
#include "frame.h"
#include "scenario.h"
#include "sim.h"

/* The SIGKILL after the SIGUSR1 at a run's deadline, in seconds. */
#define RUNNER_KILL_GRACE 0.2

typedef struct run_child {
    child proc;       /* its process (child.h) */
    int from_child;   /* frames from the run (non-blocking) */
    int to_child;     /* live inputs to the run (non-blocking) */
} run_child;

/* How to start a run's process. */
typedef struct runner_spec {
    const child_limits *lim;  /* NULL: no limits.  Past cpu_seconds of CPU
                               * time the run ends `failed` with `timeout`;
                               * a run that starts above memory_bytes or
                               * fails for want of memory ends `failed`
                               * with a message naming it */
    double seconds;           /* wall-clock deadline (0: none): SIGUSR1,
                               * then RUNNER_KILL_GRACE s to its SIGKILL */
    sim_options opt;          /* {.realtime = -1}: as the scenario says */
    int output_fd;            /* the child's stdout and stderr (proc.h's
                               * pipe; runner__start closes it in the
                               * parent, started or not), or -1 */
    int stdout_to_stderr;     /* with output_fd -1: stdout onto stderr */
    int fifo, mlock;          /* rt__setup in the child (twinctl run) */
    const char *fn_root;      /* JSON Pointer of the scenario in the
                               * functions' error paths; NULL: "/scenario" */
} runner_spec;

/* Fork the run as spec says (child.h: its own process group, its
 * limits, its deadline).  Returns 0, or -1 with a sentence in why. */
int runner__start(const scenario *sc, const runner_spec *spec,
                  run_child *out, char *why, size_t why_len);

/* In a child process: on a fatal signal or SIGUSR1, write out what w
 * holds and a FRAME_WHERE naming the model being called (sim.h's
 * sim__model_in_use), then die of the signal (SIGUSR1: wait for the
 * supervisor's SIGKILL, doing nothing more). */
void runner__watch_crashes(frame_writer *w);

/* Send live input values ({"name": value, ...}).  Returns 0 or -1. */
int runner__set(const run_child *rc, const json_t *values);

/* JSON for solver statistics, as in finished responses. */
json_t *runner__stats_json(const sim_stats *st, int realtime);

#endif
