/*
 * twin_model.h — the model plugin ABI of twinctl (ABI 1.2).
 *
 * A model plugin is a shared object that exports exactly one symbol,
 * twin_model_entry(), returning a constant descriptor.  The descriptor
 * carries the ABI version, the model's name and documentation, its
 * variables, and the functions the host calls.  The host (twinctl) owns the
 * simulation: it checks the ABI version before anything else, validates the
 * descriptor, enforces the call order below and checks every status.  A
 * model is only its maths.
 *
 * Build a plugin out of tree with nothing but this header:
 *
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags twin-model) \
 *        -o mymodel.so mymodel.c -lm
 *
 * Versioning: a host accepts a plugin whose abi_major equals its own and
 * whose abi_minor is not newer than its own, and never reads a descriptor
 * past descriptor->struct_size.  New fields only ever go at the end, with a
 * minor bump; anything else is a new major.
 *
 * Call order, per instance:
 *     create → init → { outputs | derivatives | event_indicators | event
 *                      | tick }* → destroy
 * destroy is called exactly once for every instance that create returned
 * with TWIN_OK or TWIN_WARNING, also when a later call failed.  A create
 * that failed returned no instance and gets no destroy.
 *
 * Arrays.  Every variable is a double.  Variables are listed in one array;
 * the host passes four arrays, each holding one kind in the order that kind
 * appears in the variable list:
 *     params  (TWIN_VAR_PARAMETER)  read-only, fixed for the instance's life
 *     x       (TWIN_VAR_STATE)      continuous states, or discrete states of
 *                                   a discrete model
 *     u       (TWIN_VAR_INPUT)      inputs, held by the host
 *     y       (TWIN_VAR_OUTPUT)     outputs the model writes
 * Every state is also readable as an output under its own name (a
 * connection may start at a state), so do not declare an output that only
 * copies a state.  An input whose start value is NaN is optional: when
 * nothing drives it the model sees NaN and should fall back to a default.
 *
 * Pointers passed to a model function are valid only during that call.
 */
#ifndef TWIN_MODEL_H
#define TWIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TWIN_MODEL_ABI_MAJOR 1
#define TWIN_MODEL_ABI_MINOR 2

/* The one symbol a plugin exports. */
#define TWIN_MODEL_ENTRY_SYMBOL "twin_model_entry"

#if defined(__GNUC__)
#define TWIN_EXPORT __attribute__((visibility("default")))
#else
#define TWIN_EXPORT
#endif

/*
 * Status codes, ordered by severity: the worst of several results is their
 * maximum.
 *   TWIN_OK       all is well.
 *   TWIN_WARNING  the result is usable; the model logged why it worries.
 *   TWIN_DISCARD  the inputs were not acceptable (for example a state out of
 *                 its domain during a trial step): the solver retries with a
 *                 smaller step.  Meaningful from derivatives and outputs
 *                 while the solver integrates; from any other call (init,
 *                 tick, event, event_indicators, or outputs at a tick) there
 *                 is nothing to retry and the host treats it as TWIN_ERROR.
 *   TWIN_ERROR    this call failed; the run ends with solver_failure.
 *   TWIN_FATAL    the instance is unusable; the run ends.
 */
typedef enum twin_status {
    TWIN_OK = 0,
    TWIN_WARNING = 1,
    TWIN_DISCARD = 2,
    TWIN_ERROR = 3,
    TWIN_FATAL = 4
} twin_status;

typedef enum twin_var_kind {
    TWIN_VAR_PARAMETER = 0,
    TWIN_VAR_STATE = 1,
    TWIN_VAR_INPUT = 2,
    TWIN_VAR_OUTPUT = 3
} twin_var_kind;

typedef enum twin_model_kind {
    /* Has states integrated by the host's ODE solver: derivatives required. */
    TWIN_MODEL_CONTINUOUS = 0,
    /* Updated once per tick by tick(); outputs held between ticks. */
    TWIN_MODEL_DISCRETE = 1
} twin_model_kind;

/* Variable flags. */
/* An output whose value depends directly on the model's inputs at the same
 * instant (not only through states).  The host uses it to order models and
 * to find algebraic loops.  For a discrete model, an output computed by
 * tick() from the inputs of that tick is feedthrough. */
#define TWIN_VAR_FEEDTHROUGH 0x1u
/* ABI 1.1.  The value is a whole number (an FMI Integer or Enumeration):
 * still carried as a double, in rows as a number; the host refuses a
 * value set from outside that is not whole or not within min..max. */
#define TWIN_VAR_INTEGER 0x2u
/* ABI 1.1.  The value is 0 or 1 (false/true); min 0, max 1. */
#define TWIN_VAR_BOOLEAN 0x4u
/* ABI 1.1.  A parameter whose value is a string (an FMI String
 * parameter).  Its slot in params holds NaN; the model asks the host for
 * the text with twin_host.param_string.  Only on parameters. */
#define TWIN_VAR_STRING 0x8u
/* ABI 1.1.  An output that is the model's internal variable (an FMI
 * local): recorded and readable like any output, listed as "local". */
#define TWIN_VAR_LOCAL 0x10u

typedef struct twin_variable {
    const char *name;        /* [A-Za-z_][A-Za-z0-9_]* (ABI 1.1 also allows
                              * . [ ] , ( ) after the first character, as
                              * FMI names have them); unique among the
                              * parameters, and unique among the states,
                              * inputs and outputs (the signals), so a
                              * parameter and an input may share a name */
    const char *unit;        /* SI, "" or "1" for dimensionless */
    twin_var_kind kind;
    uint32_t flags;          /* TWIN_VAR_* */
    double start;            /* default value (params), start (states),
                              * held value before anything drives (inputs);
                              * NaN on an input marks it optional */
    double min;              /* -INFINITY when unbounded */
    double max;              /* +INFINITY when unbounded */
    const char *description; /* one sentence for a person */
} twin_variable;

/* ABI 1.2.  One structural dependency: the variable variables[of] (a
 * state, meaning its derivative, or an output) depends on variables[on]
 * (a state or an input).  See twin_model_descriptor.dependencies. */
typedef struct twin_dependency {
    uint32_t of;
    uint32_t on;
} twin_dependency;

typedef enum twin_log_level {
    TWIN_LOG_DEBUG = 0,
    TWIN_LOG_INFO = 1,
    TWIN_LOG_WARNING = 2,
    TWIN_LOG_ERROR = 3
} twin_log_level;

/*
 * Services the host lends an instance for its whole life.  The pointer
 * passed to create() stays valid until destroy() returns.  Check
 * struct_size before using a field added after ABI 1.0.
 */
typedef struct twin_host {
    uint32_t struct_size;
    void *context;           /* pass back unchanged */
    /* Log an already formatted message (no printf in a plugin). */
    void (*log)(void *context, twin_log_level level, const char *message);

    /* ABI 1.1 (check struct_size).  The descriptor this instance is made
     * from: lets one set of functions serve several descriptors (the FMU
     * importer does). */
    const struct twin_model_descriptor *model;
    /* ABI 1.1.  The text given to the string parameter params[index]
     * (a variable with TWIN_VAR_STRING), or NULL when none was given and
     * the model's own default applies.  Valid until destroy(). */
    const char *(*param_string)(void *context, size_t index);
    /* ABI 1.1.  Ask the host to end the run: it ends normally after the
     * current tick's row (or at the current event), and the run's final
     * response names the instance, the time and the reason. */
    void (*request_end)(void *context, const char *reason);
} twin_host;

/* Opaque: each plugin defines struct twin_instance as it likes. */
typedef struct twin_instance twin_instance;

typedef struct twin_model_descriptor {
    /* Fixed header: never moves. */
    uint16_t abi_major;      /* TWIN_MODEL_ABI_MAJOR */
    uint16_t abi_minor;      /* TWIN_MODEL_ABI_MINOR */
    uint32_t struct_size;    /* sizeof(twin_model_descriptor) */

    const char *name;        /* model name used in scenarios, e.g. "tank" */
    const char *version;     /* the model's own version, e.g. "1.0.0" */
    const char *description; /* a paragraph for a person */
    twin_model_kind kind;

    const twin_variable *variables;
    size_t n_variables;
    size_t n_event_indicators; /* continuous models only; 0 for none */

    /* Make an instance from the parameter values.  On success store it in
     * *out and return TWIN_OK or TWIN_WARNING; on failure log why and return
     * TWIN_ERROR with *out untouched.  Required. */
    twin_status (*create)(const twin_host *host, const double *params,
                          twin_instance **out);

    /* Free an instance.  Required. */
    void (*destroy)(twin_instance *inst);

    /* Once, after states hold their start values and inputs their first
     * values, before the first row.  May adjust x (e.g. clamp) and set the
     * instance's discrete mode.  Optional (NULL). */
    twin_status (*init)(twin_instance *inst, double t, double *x,
                        const double *u);

    /* dx = f(t, x, u).  Required for continuous models. */
    twin_status (*derivatives)(twin_instance *inst, double t, const double *x,
                               const double *u, double *dx);

    /* y = g(t, x, u) for every TWIN_VAR_OUTPUT.  Continuous models; may be
     * NULL when the model has no outputs of its own. */
    twin_status (*outputs)(twin_instance *inst, double t, const double *x,
                           const double *u, double *y);

    /* g[i] for i < n_event_indicators: a state event is a sign change of
     * g[i] (located by the host's root finder).  Required when
     * n_event_indicators > 0. */
    twin_status (*event_indicators)(twin_instance *inst, double t,
                                    const double *x, const double *u,
                                    double *g);

    /* Called at the located time of a state event.  crossed[i] is +1 where
     * g[i] rose through zero, -1 where it fell, 0 where it did not cross.
     * ABI 1.1: crossed is NULL for a time event or a step event.
     * May change x (the host restarts the integrator).  Required when
     * n_event_indicators > 0 or next_event_time or step_completed is set. */
    twin_status (*event)(twin_instance *inst, double t, double *x,
                         const double *u, const int *crossed);

    /* Discrete models: called once per tick at t with the tick length dt.
     * Updates the discrete states x and writes every output y, which the
     * host holds until the next tick.  Required for discrete models. */
    twin_status (*tick)(twin_instance *inst, double t, double dt, double *x,
                        const double *u, double *y);

    /* ---- ABI 1.1: read only when struct_size covers them ---- */

    /* Discrete models: tick() is called every sample_period seconds from
     * the run's start, with dt = sample_period; 0 means every tick.  A
     * period that is not a whole number of the run's ticks is refused
     * when the run is built. */
    double sample_period;

    /* Time events.  After init and after every event or tick the host
     * asks when the instance's next time event is (*t_next = +INFINITY
     * for none, the default when this is NULL).  The integration interval
     * then ends exactly at t_next, also inside a tick, and the host calls
     * event() there with crossed == NULL.  Continuous models only. */
    twin_status (*next_event_time)(twin_instance *inst, double t,
                                   double *t_next);

    /* Step events.  Called after every completed integrator step with the
     * states of that step; setting *event_needed = 1 makes the host call
     * event() at t with crossed == NULL and restart the integrator.
     * Optional (NULL: no call, and the solver takes the steps it likes). */
    twin_status (*step_completed)(twin_instance *inst, double t,
                                  const double *x, const double *u,
                                  int *event_needed);

    /* ---- ABI 1.2: read only when struct_size covers them ---- */

    /* Structure, for the host's Jacobian.  NULL: every derivative and
     * every output depends on every state, and every derivative and every
     * feedthrough output on every input (a dense block).  Otherwise each
     * derivative and each output depends on exactly the pairs listed
     * here, and on nothing else; an output listed as depending on an
     * input must carry TWIN_VAR_FEEDTHROUGH.  The host builds the sparsity
     * pattern of a group's Jacobian from these and the connections, and a
     * declaration that leaves out a real dependency makes the solver's
     * Jacobian wrong (slower convergence, or failure), never the result
     * silently wrong beyond the tolerances. */
    const twin_dependency *dependencies;
    size_t n_dependencies;

    /* Per-state absolute tolerances: NULL, or one entry per state in the
     * order the states appear in variables.  An entry > 0 is that state's
     * absolute tolerance in the integrator; 0 takes the scenario's atol.
     * A scenario may override either (docs/simulation.md). */
    const double *state_abs_tol;
} twin_model_descriptor;

/* The entry point every plugin defines and exports:
 *
 *     TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
 *     { return &my_descriptor; }
 */
typedef const twin_model_descriptor *(*twin_model_entry_fn)(void);

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void);

/* Log through the host's callback when it has one. */
static inline void twin_log(const twin_host *host, twin_log_level level,
                            const char *message)
{
    if (host != NULL && host->log != NULL)
        host->log(host->context, level, message);
}

#ifdef __cplusplus
}
#endif

#endif /* TWIN_MODEL_H */
