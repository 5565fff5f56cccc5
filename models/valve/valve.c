/*
 * valve — a static valve: the flow through an orifice of variable opening
 * between two heads (continuous, no states: outputs only).
 *
 *   q = cv·opening·sign(Δh)·sqrt(|Δh|),   Δh = h_up − h_down
 *
 * Heads are pressures written as the height of a column of the liquid,
 * p/(ρ·g) in m, the unit the tank's level has, so a tank's level is the
 * head at its bottom without a conversion; cv is then in m^2.5/s, as the
 * tank's outlet coefficient.  The flow reverses when h_down exceeds h_up.
 * q depends at once on all three inputs (feedthrough): two valves and a
 * header wired into each other make an algebraic loop, which the host
 * solves (docs/simulation.md "Algebraic loops").
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

enum { P_CV };
enum { U_H_UP, U_H_DOWN, U_OPENING };
enum { Y_Q };

/* Positions in variables[], for the dependencies. */
enum { V_CV, V_H_UP, V_H_DOWN, V_OPENING, V_Q };

static const twin_variable variables[] = {
    [V_CV] = {"cv", "m2.5/s", TWIN_VAR_PARAMETER, 0, 0.01, 0.0, INFINITY,
              "Flow coefficient of the open valve: q = cv * opening * "
              "sqrt(h_up - h_down)."},
    [V_H_UP] = {"h_up", "m", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY,
                "Head upstream (pressure as a height of liquid)."},
    [V_H_DOWN] = {"h_down", "m", TWIN_VAR_INPUT, 0, 0.0, -INFINITY,
                  INFINITY, "Head downstream."},
    [V_OPENING] = {"opening", "1", TWIN_VAR_INPUT, 0, 1.0, 0.0, 1.0,
                   "Valve opening, 0 shut to 1 open."},
    [V_Q] = {"q", "m3/s", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0,
             -INFINITY, INFINITY,
             "Flow from upstream to downstream (negative when reversed)."},
};

static const twin_dependency dependencies[] = {
    {V_Q, V_H_UP}, {V_Q, V_H_DOWN}, {V_Q, V_OPENING}};

struct twin_instance {
    double cv;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "valve: out of memory");
        return TWIN_ERROR;
    }
    m->cv = p[P_CV];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    return TWIN_OK; /* no states */
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    double dh = u[U_H_UP] - u[U_H_DOWN];
    y[Y_Q] = copysign(m->cv * u[U_OPENING] * sqrt(fabs(dh)), dh);
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "valve",
    .version = "1.0.0",
    .description = "Static valve between two heads: q = cv * opening * "
                   "sign(dh) * sqrt(|dh|), dh = h_up - h_down; no states, "
                   "the flow follows the heads at once.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .outputs = outputs,
    .dependencies = dependencies,
    .n_dependencies = sizeof dependencies / sizeof dependencies[0],
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
