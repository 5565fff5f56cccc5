/*
 * scenario.h — composing a runnable scenario from its JSON document.
 *
 * scenario__compose() reads a DESIGN.md scenario document, resolves its
 * instances against the instance library and the model library, applies
 * parameter overrides and start values, resolves connections, input
 * profiles and output selection, and checks the whole for every problem at
 * once (each with code, JSON Pointer and sentence).  The result is a plain
 * description; the simulation itself (sim.h) builds its solver state from it.
 */
#ifndef TWIN_SCENARIO_H
#define TWIN_SCENARIO_H

#include <stddef.h>

#include <jansson.h>

#include "analytics.h"
#include "errors.h"
#include "funclib.h"
#include "instance_lib.h"
#include "model_lib.h"
#include "signals.h"

/* A reference to one signal of one instance of the scenario. */
typedef struct sc_ref {
    size_t inst;              /* index into scenario.inst */
    twin_var_kind kind;       /* STATE, INPUT or OUTPUT */
    size_t index;             /* index within that kind */
} sc_ref;

typedef enum sc_profile_kind {
    SC_PROFILE_VALUE,         /* constant */
    SC_PROFILE_STEPS,         /* piecewise constant: [t, v] in force from t */
    SC_PROFILE_TABLE,         /* interpolated (linear or cubic), sampled at
                               * each tick and held over it */
    SC_PROFILE_LIVE,          /* set while running (set requests, input
                               * topic); holds its last value */
    SC_PROFILE_SIGNAL         /* a plant signal (signals.h); set while
                               * running like LIVE, from its messages */
} sc_profile_kind;

typedef struct sc_profile {
    sc_profile_kind kind;
    double value;             /* VALUE, and the first value of LIVE and
                               * SIGNAL (a stale SIGNAL's default) */
    size_t n;                 /* STEPS, TABLE: points */
    double *t, *v;
    int cubic;                /* TABLE: 0 linear, 1 cubic spline */
    void *interp;             /* gsl_interp *, TABLE only */
    void *accel;              /* gsl_interp_accel * */
    sc_signal *signal;        /* SIGNAL: its spec */
} sc_profile;

typedef struct sc_input {
    sc_ref to;                /* an INPUT */
    char *name;               /* "tank0.valve" */
    sc_profile profile;
} sc_input;

typedef struct sc_connection {
    sc_ref from;              /* a STATE or OUTPUT */
    sc_ref to;                /* an INPUT */
} sc_connection;

typedef struct sc_instance {
    char *name;               /* key in "instances" */
    char *library_id;         /* the instance-library id, or NULL */
    const twin_model *model;
    double *params;           /* model->n_param */
    double *start;            /* model->n_state: start values */
    double *input_start;      /* model->n_input: held before anything drives */
    char **strings;           /* model->n_param: the text given to a string
                               * parameter (TWIN_VAR_STRING), or NULL when
                               * none was (its params slot holds NaN) */
    size_t period_ticks;      /* a discrete model ticks every period_ticks
                               * ticks (its sample period; 1: every tick) */
    double *abs_tol;          /* model->n_state: each state's absolute
                               * tolerance, resolved (tolerances.h); NULL
                               * means the scenario's atol for all */
} sc_instance;

/* One entry of the scenario's "functions" list: a built-in applied to one
 * signal (any state, input or output, listed in outputs or not), sampled
 * at every tick whatever "every" says; its value goes into the finished
 * response under name (functions.h evaluates it). */
typedef struct sc_function {
    char *name;
    sc_ref of;
    char *of_name;            /* "tank0.h" */
    analytics_spec spec;      /* a built-in */
    const fl_function *lib;   /* or a library function (fn_library.h):
                               * its arguments besides t and y */
    json_t *params;
} sc_function;

/* A limit alarm on a variable (alarms.h). */
typedef struct sc_alarm sc_alarm;

/* A variable the plant measures (measured.h). */
typedef struct sc_measured sc_measured;

/* Two kinds of column that are no model variable: a measured variable's
 * plant value and its residual (measured.h), index the measurement's,
 * inst the variable's instance. */
#define SC_REF_MEASURED ((twin_var_kind)0x100)
#define SC_REF_RESIDUAL ((twin_var_kind)0x101)

typedef enum sc_method { SC_BDF, SC_ADAMS } sc_method;

/* "linear_solver" and "integrators" (docs/simulation.md): in the order of
 * their names in scenario.c. */
typedef enum sc_linear_solver {
    SC_LS_AUTO, SC_LS_DENSE, SC_LS_BAND, SC_LS_KLU
} sc_linear_solver;
typedef enum sc_integrators {
    SC_INTEGRATORS_AUTO, SC_INTEGRATORS_SEPARATE, SC_INTEGRATORS_STACKED
} sc_integrators;

typedef struct scenario_limits {
    size_t max_instances;     /* 0: no limit */
    size_t max_connections;
    double max_rows;          /* ticks / every, 0: no limit */
    size_t max_table_points;
    double max_function_samples; /* values functions hold: (ticks + 1) ×
                               * (signals + 1), 0: no limit */
    const func_lib *functions; /* the function library a "functions"
                               * entry may name besides the built-ins
                               * (fn_library.h); NULL: built-ins only */
} scenario_limits;

typedef struct scenario {
    char *name;
    double start, stop, dt;
    size_t n_ticks;           /* (stop − start)/dt; rows at k = 0..n_ticks */
    int realtime;             /* 0: batch */
    double speed;             /* real-time factor, 1 = wall clock */
    sc_method method;
    double rtol, atol;
    int reject_loops;         /* "algebraic_loops": "reject" (refused at
                               * composition) rather than "solve" */
    sc_linear_solver linear_solver;
    sc_integrators integrators;
    size_t every;             /* emit every n-th tick */

    sc_instance *inst;
    size_t n_inst;
    sc_connection *conn;
    size_t n_conn;
    sc_input *inputs;
    size_t n_inputs;
    sc_ref *out;              /* selected columns after t */
    char **out_name;          /* "tank0.h" */
    size_t n_out;
    sc_function *fn;          /* the "functions" list */
    size_t n_fn;
    sc_alarm *alarms;         /* the "alarms" (alarms.h) */
    size_t n_alarms;
    sc_measured *measured;    /* the "measured" (measured.h) */
    size_t n_measured;
} scenario;

/* Compose.  Returns NULL and fills errs with every problem when the
 * document cannot run; errs may also hold problems when it returns NULL
 * only for want of memory (code internal).  limits may be NULL. */
scenario *scenario__compose(const json_t *doc, const model_lib *models,
                            const instance_lib *instances,
                            const scenario_limits *limits, twin_errors *errs);

void scenario__free(scenario **sc);

/* The value of a profile at time t (a step at t is in force at t). */
double scenario__profile_at(const sc_profile *p, double t);
/* A profile of steps: the index of the step in force at t (the last at
 * or before t; before the first, the first). */
size_t scenario__step_index(const sc_profile *p, double t);

/* "tank0.h" for a reference (points into the scenario's own strings where
 * it can; writes into buf otherwise). */
const char *scenario__ref_name(const scenario *sc, sc_ref r, char *buf,
                               size_t len);

/* The variable a reference names (its unit, its description). */
const twin_variable *scenario__ref_var(const scenario *sc, sc_ref r);

/* The index of the instance whose name is the len bytes at name, or -1. */
long scenario__find_instance(const scenario *sc, const char *name,
                             size_t len);

/* A value given in JSON for variable v (a parameter, start value or
 * input): a number, or true/false for a boolean variable, finite, within
 * v's range, whole for an integer and 0 or 1 for a boolean.  Returns 0
 * with the number in *out, or the error code with a sentence naming what
 * (e.g. "input 'valve'") in why. */
twin_err_code scenario__value(const twin_variable *v, const json_t *j,
                              const char *what, double *out, char *why,
                              size_t why_len);

/* Read a scenario given as a file path or a name in dir (NAME.json).
 * Returns a new reference or NULL with a sentence in why. */
json_t *scenario__load(const char *arg, const char *dir, char *why,
                       size_t why_len);

#endif
