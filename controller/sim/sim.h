/*
 * sim.h — the fixed-time mixed discrete-continuous loop on CVODE.
 *
 * A sim is built from a composed scenario: model instances created, the
 * evaluation order fixed, continuous models grouped into independent
 * integration groups (models joined by connections share one CVODE
 * integrator; groups that share no connection get their own), then run
 * tick by tick as DESIGN.md describes.  Rows, events and the end of the
 * run reach the caller through callbacks; the loop never prints.
 */
#ifndef TWIN_SIM_H
#define TWIN_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "errors.h"
#include "scenario.h"

typedef struct sim sim;

typedef enum sim_event_kind {
    SIM_EVENT_STATE,      /* a state event located by root finding */
    SIM_EVENT_LATE,       /* real-time: a tick started after its deadline */
    SIM_EVENT_NONFINITE,  /* a value in a row was not finite */
    SIM_EVENT_LOG,        /* a model logged a message */
    SIM_EVENT_TIME,       /* a model's time event (ABI 1.1 next_event_time) */
    SIM_EVENT_ALARM,      /* a limit alarm raised or cleared (alarms.h) */
    SIM_EVENT_SYNC        /* the run's synchronisation with the plant
                           * changed (measured.h); alarm holds the new
                           * state's name */
} sim_event_kind;

typedef struct sim_event {
    sim_event_kind kind;
    double t;             /* simulated time */
    const char *instance; /* NULL when not about one instance */
    int indicator;        /* STATE: which event indicator */
    int direction;        /* STATE: +1 rising, −1 falling */
    double lateness;      /* LATE: seconds after the deadline */
    int level;            /* LOG: twin_log_level */
    const char *message;  /* a sentence */
    const char *column;   /* NONFINITE: the column's name; ALARM: the
                           * variable's */
    const char *alarm;    /* ALARM: "hihi", "hi", "lo" or "lolo" */
    int raised;           /* ALARM: 1 raised, 0 cleared */
    double value;         /* ALARM: the variable's value at t */
    double limit;         /* ALARM: the limit */
} sim_event;

typedef struct sim_callbacks {
    void *ctx;
    /* Once, before the first row: the column names, "t" first. */
    int (*columns)(void *ctx, size_t n, const char *const *names);
    /* Each emitted tick: values[0] is t.  Return non-zero to stop the run
     * (it ends as cancelled). */
    int (*row)(void *ctx, const double *values, size_t n);
    /* Optional. */
    void (*event)(void *ctx, const sim_event *ev);
    /* Optional, real-time live inputs: called at the start of each tick
     * (step 1 of the loop) to apply pending sim__set_input() calls.
     * Return non-zero to stop the run (cancelled). */
    int (*poll)(void *ctx, sim *s, double t);
    /* Optional: at every tick, after the models are evaluated at t (so
     * the values a row at t would hold), whether or not "every" emits a
     * row there; sim__signal reads any signal. */
    void (*tick)(void *ctx, const sim *s, double t);
    /* Optional: a flag a signal handler sets to stop the run.  A
     * real-time run's wait for its next tick ends as soon as it is set
     * (poll then stops the run), not at the tick's deadline. */
    const volatile int *stop;  /* a sig_atomic_t (an int) */
} sim_callbacks;

typedef struct sim_options {
    int realtime;          /* -1: as the scenario says, 0 batch, 1 paced */
    double speed;          /* > 0 overrides the scenario's factor */
    long max_steps;        /* CVODE steps per tick before failing; 0: 5000 */
    int separate;          /* never stack groups, whatever the scenario
                            * says (steady states solve each alone) */
} sim_options;

typedef struct sim_stats {
    uint64_t ticks;        /* ticks taken */
    uint64_t rows;         /* rows emitted */
    uint64_t steps;        /* CVODE internal steps, over all groups */
    uint64_t rhs_evals;    /* group right-hand-side evaluations */
    uint64_t jac_evals;
    uint64_t lin_setups;
    uint64_t nonlin_iters;
    uint64_t nonlin_fails;
    uint64_t err_test_fails;
    uint64_t root_evals;
    uint64_t restarts;     /* integrator restarts (input jumps, events) */
    uint64_t events;       /* state events located */
    uint64_t time_events;  /* time events handled (one per instance) */
    uint64_t step_events;  /* step events a model asked for */
    uint64_t loops;        /* algebraic loops solved at ticks */
    uint64_t loop_solves;  /* solves of a loop, at ticks and in RHS */
    uint64_t loop_iters;   /* KINSOL's Newton iterations over them */
    uint64_t late_ticks;   /* real-time: ticks started after deadline */
    uint64_t missed_ticks; /* real-time: ticks started a whole dt late */
    double lateness_p50;   /* real-time, seconds */
    double lateness_p99;
    double lateness_max;
    size_t n_groups;       /* integration groups */
    size_t n_states;       /* continuous states over all groups */
    size_t linear_solvers[3]; /* integrators by linear solver: dense,
                               * band, KLU (jacobian.h's jac_kind) */
    int stacked;           /* the groups with states share one integrator */
    double wall_seconds;
    /* A model asked to end the run (twin_host.request_end): the run
     * ended normally after that tick's row.  The first request counts. */
    uint64_t alarms_raised;  /* limit alarms raised, over the run */
    uint64_t alarms_cleared;
    size_t alarms_active;  /* ... still raised at the last tick */
    size_t n_alarms;       /* variables the scenario watches */
    size_t n_measured;     /* variables the plant measures (measured.h) */
    size_t residual_alarms_active; /* ... whose residual alarm is raised
                            * at the last tick */
    uint64_t corrections;  /* measured states moved (nudged or reset) */
    char sync[16];         /* the synchronisation state at the last tick:
                            * "synchronised", "stale", "desynchronised" */
    int ended_by_model;
    double end_t;          /* the t of the model call that asked */
    char end_instance[128];
    char end_reason[256];
} sim_stats;

/* Build.  Returns NULL with problems in errs (model create failures,
 * solver set-up). */
sim *sim__new(const scenario *sc, const sim_options *opt,
              const sim_callbacks *cb, twin_errors *errs);

/* Run the loop to the end.  Returns 0 when the run finished, or the error
 * code it ended with (solver_failure, cancelled, ...) with a problem in
 * errs.  stats are filled either way. */
int sim__run(sim *s, sim_stats *stats, twin_errors *errs);

/* Set a live input (or any input with a profile) by its scenario name
 * ("tank0.valve"): in force from the next tick.  Returns 0, or -1 when
 * there is no such input. */
int sim__set_input(sim *s, const char *name, double value);

/* The plant's value of the measured variable name ("tank0.h"), in force
 * from the next tick; fresh 0 marks the value held as stale instead.
 * Returns -1 when the scenario does not measure name. */
int sim__measure(sim *s, const char *name, double value, int fresh);

/* The value of a signal (state, input or output) now: inside the tick
 * callback, its value at that tick. */
double sim__signal(const sim *s, sc_ref r);

void sim__free(sim **s);

/* Describe a built sim's plan to out, without running it (twinctl run
 * --explain): its integration groups, its algebraic loops (at ticks and
 * inside groups) with their tear variables and order, the tolerance they
 * are solved to, and the evaluation order at ticks. */
void sim__explain(const sim *s, FILE *out);

/* The model being called right now in this process, or NULL between
 * model calls: read by a run process's fatal-signal handler to say which
 * model took it down. */
extern const char *volatile sim__model_in_use;
extern const char *volatile sim__instance_in_use;
/* The t the model was called with (its create: the scenario's start). */
extern volatile double sim__t_in_use;

/* ---- the composed right-hand side, for steady states (sim_steady.c) ----
 *
 * A sim built with sim__new can instead be brought to its first tick and
 * then evaluated as a function of all its continuous states; steady.c
 * solves that function for zero.  Never mix with sim__run. */

/* Steps 1–3 of the first tick at t, without a row: inputs at t, each
 * model's init, discrete models' first tick, signals propagated; the
 * event indicators there are remembered for sim__settle.  Returns 0, or
 * -1 with the reason in sim__failure(). */
int sim__begin(sim *s, double t);

/* The continuous states of every integration group, concatenated: how
 * many, which one the i-th is, and their values now. */
size_t sim__n_states(const sim *s);
sc_ref sim__state_ref(const sim *s, size_t i);
void sim__get_states(const sim *s, double *x);

/* The integration groups with states ("blocks"), in the same order: the
 * right-hand side of one depends on its own states only, so each can be
 * solved alone.  Block b holds states first .. first + count − 1. */
size_t sim__n_blocks(const sim *s);
void sim__block(const sim *s, size_t b, size_t *first, size_t *count);

/* dx = the composed right-hand side at (t, x): each group's outputs in
 * dependency order, then its derivatives; discrete outputs and inputs
 * held as they stand.  Returns 0; 1 when a model answered DISCARD
 * (sim__discarded() says which); -1 when one failed or gave a derivative
 * that is not finite (sim__failure() says why, and the sim is done). */
int sim__rhs(sim *s, double t, const double *x, double *dx);

/* The same for block b alone: x and dx are its count states. */
int sim__rhs_block(sim *s, size_t b, double t, const double *x, double *dx);

/* Put the states at x and evaluate every output at t as a tick does,
 * without ticking discrete models (their outputs stay as sim__begin left
 * them).  First, each event indicator whose sign differs from what it
 * was at sim__begin is handed to its model's event() as crossed, so
 * modes such as a tank's overflow agree with x.  Returns 0 or -1. */
int sim__settle(sim *s, double t, const double *x);

/* The first failure, or NULL; *code (may be NULL) gets its code. */
const char *sim__failure(const sim *s, twin_err_code *code);

/* "model 'm' (instance 'i')" of the last DISCARD, or "" when none. */
const char *sim__discarded(const sim *s, char *buf, size_t len);

/* Compose and run in one call (CLI, tests, benchmarks). */
int sim__run_scenario(const scenario *sc, const sim_options *opt,
                      const sim_callbacks *cb, sim_stats *stats,
                      twin_errors *errs);

#endif
