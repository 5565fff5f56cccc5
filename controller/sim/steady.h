/*
 * steady.h — the steady state of a scenario's continuous models.
 *
 * The unknowns are the continuous states of every instance; the function
 * solved for zero is the composed right-hand side, evaluated as the loop
 * evaluates it (sim_steady.c): at the scenario's start time, with every
 * input as the first tick holds it (a value, a step or a table at the
 * start time, a live input at its start value) unless the request holds
 * it at another value.  Discrete models are not solved for: they tick
 * once at the start time, from the start values, and their outputs are
 * held there, as over a tick — a steady state is one of the continuous
 * models under what the discrete ones then command.  To ask for another
 * command, hold the input it drives instead (steady__hold_inputs).
 *
 * GSL's multidimensional root finder does the work (hybrids by default,
 * derivative-free with a finite-difference Jacobian), on each integration
 * group alone: a group's right-hand side depends on its own states only,
 * so the groups are independent blocks of the problem.  A state declared
 * with a min or max is kept inside it: where the solver steps outside,
 * the models are evaluated at the bound and at the point mirrored into
 * the range, and the residual is the point reflection of the residual
 * across the bound, 2·f(bound) − f(mirror), so models never see a state
 * outside its range and the function stays continuous with the slope it
 * has at the bound.  A root found outside the range is no steady state
 * and is reported as such.
 */
#ifndef TWIN_STEADY_H
#define TWIN_STEADY_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"
#include "scenario.h"

typedef enum steady_method {
    STEADY_HYBRIDS,       /* Powell's hybrid method, scaled (default) */
    STEADY_HYBRID,        /* the same, unscaled */
    STEADY_DNEWTON,       /* Newton with a finite-difference Jacobian */
    STEADY_BROYDEN,       /* Broyden's method */
    STEADY__COUNT
} steady_method;

typedef struct steady_options {
    steady_method method;
    double residual_tol;      /* converged when every |dx/dt| ≤ this ... */
    double step_tol;          /* ... and the last step moved each state by
                               * at most step_tol·(1 + |x|) */
    size_t max_iterations;
} steady_options;

#define STEADY_RESIDUAL_TOL 1e-10
#define STEADY_STEP_TOL 1e-10
#define STEADY_MAX_ITERATIONS 1000
#define STEADY_MAX_LOG 20     /* model log lines kept in a result */

void steady__defaults(steady_options *o);
const char *steady__method_name(steady_method m);

/* Read {"method", "residual_tol", "step_tol", "max_iterations"} (every
 * member optional; obj NULL: nothing to read) into o, each problem to
 * errs under path ("/options/method").  Returns 0 when there was none. */
int steady__read_options(const json_t *obj, const char *path,
                         steady_options *o, twin_errors *errs);

/* Hold inputs at values, {"tank0.valve": 0.8, ...}: an input with a
 * profile in the scenario takes the value instead of the profile, one
 * without has it as its held value.  An input driven by a connection is
 * refused (bad_connection), as are unknown names, signals that are not
 * inputs, values that are not finite numbers or outside the input's
 * range; each problem under path ("/inputs/tank0.valve").  values NULL:
 * nothing to hold.  Returns 0 when there was no problem. */
int steady__hold_inputs(scenario *sc, const json_t *values, const char *path,
                        twin_errors *errs);

typedef struct steady_log {
    char *instance;
    int level;                /* twin_log_level */
    char *message;
} steady_log;

typedef struct steady_result {
    int converged;
    twin_err_code code;       /* not converged: solver_failure (the solver
                               * or a model failed), or internal */
    char *message;            /* not converged: why, a sentence */
    double t;                 /* where it was evaluated: the start time */
    size_t n;                 /* continuous states */
    sc_ref *state;            /* which state each is */
    double *x;                /* the steady state, or the last iterate */
    double *residual;         /* dx/dt at x, or NULL when a model failed
                               * there */
    double residual_norm;     /* max |residual|, NAN when unknown */
    size_t iterations;        /* summed over the groups */
    size_t evaluations;       /* of a group's right-hand side, summed */
    double **u, **y;          /* per instance: inputs and outputs at x, or
                               * NULL when they could not be evaluated */
    steady_log log[STEADY_MAX_LOG];
    size_t n_log, lost_log;
} steady_result;

/* Solve (steady_solve.c).  Fills res (free with steady__result_free) and
 * returns 0 when every group converged, else res->code with the reason in
 * res->message: the first group without a steady state is named, and
 * the others are solved all the same. */
int steady__solve(const scenario *sc, const steady_options *opt,
                  steady_result *res);

void steady__result_free(steady_result *res);

/* The answer as the response members (a new reference):
 *   converged: {"status": "ok", "t", "method", "iterations",
 *               "evaluations", "residual_norm", "states", "residuals",
 *               "inputs", "outputs", "log"}
 *   else:      {"status": "failed", "errors": [{code, path "", message}],
 *               the same members as far as known, and "largest": the
 *               states with the largest |residual|, largest first}
 * Signals are keyed "instance.variable"; values that are not finite are
 * null. */
json_t *steady__result_json(const scenario *sc, const steady_options *opt,
                            const steady_result *res);

#endif
