/*
 * loopy.h — a model with one feedthrough output, for algebraic loops
 * (docs/simulation.md "Algebraic loops"); each test plugin including it
 * chooses its kind:
 *   LOOPY_STATE      continuous with a state x:  dx/dt = −k·x + g·u
 *   LOOPY_DISCRETE   discrete, x counts its ticks (tick: x += 1)
 *   (neither)        continuous without states: outputs only
 * and in every case
 *   y = a·u + b + w + c·tanh(u) + q·u² + s·x      (x = 0 without state)
 * with u the input a loop drives and w one a profile drives
 * so two of them wired output to input make a loop whose solution the
 * tests know (closed form, or GSL's root finder).
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

enum { P_A, P_B, P_C, P_Q, P_S, P_K, P_G, N_P };

static const twin_variable variables[] = {
    {"a", "1", TWIN_VAR_PARAMETER, 0, 0.0, -INFINITY, INFINITY,
     "Linear gain of u."},
    {"b", "1", TWIN_VAR_PARAMETER, 0, 0.0, -INFINITY, INFINITY, "Offset."},
    {"c", "1", TWIN_VAR_PARAMETER, 0, 0.0, -INFINITY, INFINITY,
     "Gain of tanh(u)."},
    {"q", "1", TWIN_VAR_PARAMETER, 0, 0.0, -INFINITY, INFINITY,
     "Gain of u squared."},
    {"s", "1", TWIN_VAR_PARAMETER, 0, 0.0, -INFINITY, INFINITY,
     "Gain of the state."},
    {"k", "1/s", TWIN_VAR_PARAMETER, 0, 1.0, -INFINITY, INFINITY,
     "Decay rate of the state."},
    {"g", "1/s", TWIN_VAR_PARAMETER, 0, 1.0, -INFINITY, INFINITY,
     "Gain of u into the state."},
#if defined(LOOPY_STATE) || defined(LOOPY_DISCRETE)
    {"x", "1", TWIN_VAR_STATE, 0, 0.0, -INFINITY, INFINITY, "The state."},
#endif
    {"u", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY, "The input."},
    {"w", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY,
     "An input added to y."},
    {"y", "1", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0, -INFINITY,
     INFINITY, "The output, at once from u."},
};

struct twin_instance {
    double p[N_P];
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = malloc(sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    for (int i = 0; i < N_P; i++)
        m->p[i] = p[i];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static double output(const twin_instance *m, double x, const double *u)
{
    const double *p = m->p;
    return p[P_A] * u[0] + p[P_B] + u[1] + p[P_C] * tanh(u[0]) +
           p[P_Q] * u[0] * u[0] + p[P_S] * x;
}

#if defined(LOOPY_STATE) || defined(LOOPY_DISCRETE)
#define STATE(x) ((x)[0])
#else
#define STATE(x) 0.0
#endif

#ifdef LOOPY_DISCRETE
static twin_status tick(twin_instance *m, double t, double dt, double *x,
                        const double *u, double *y)
{
    x[0] += 1;
    y[0] = output(m, x[0], u);
    return TWIN_OK;
}
#else
static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
#ifdef LOOPY_STATE
    dx[0] = -m->p[P_K] * x[0] + m->p[P_G] * u[0];
#endif
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[0] = output(m, STATE(x), u);
    return TWIN_OK;
}
#endif

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "A feedthrough output for algebraic loops (tests).",
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
#ifdef LOOPY_DISCRETE
    .kind = TWIN_MODEL_DISCRETE,
    .tick = tick,
#else
    .kind = TWIN_MODEL_CONTINUOUS,
    .derivatives = derivatives,
    .outputs = outputs,
#endif
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
