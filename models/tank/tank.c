/*
 * tank — gravity-drained cylindrical tank (continuous).
 *
 *   dh/dt = (q_in − q_out)/A,   q_out = cv·u·sqrt(max(h, 0))
 *
 * overflow is a state event: it switches to 1 when h rises through the
 * height H and back to 0 when h falls below it.  The host locates the
 * crossing with its root finder and calls event(); this file only says
 * where the crossing is (g = h − H) and what it means.
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

enum { P_AREA, P_CV, P_HEIGHT };
enum { X_H };
enum { U_Q_IN, U_VALVE };
enum { Y_Q_OUT, Y_OVERFLOW };

static const twin_variable variables[] = {
    {"area", "m2", TWIN_VAR_PARAMETER, 0, 2.0, 1e-9, INFINITY,
     "Cross-section of the tank."},
    {"cv", "m2.5/s", TWIN_VAR_PARAMETER, 0, 0.03, 0.0, INFINITY,
     "Outlet coefficient: q_out = cv * valve * sqrt(h)."},
    {"height", "m", TWIN_VAR_PARAMETER, 0, 4.0, 0.0, INFINITY,
     "Height of the tank wall; above it the tank overflows."},
    {"h", "m", TWIN_VAR_STATE, 0, 1.0, 0.0, INFINITY, "Liquid level."},
    {"q_in", "m3/s", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY,
     "Inflow."},
    {"valve", "1", TWIN_VAR_INPUT, 0, 0.5, 0.0, 1.0,
     "Outlet valve opening, 0 shut to 1 open."},
    {"q_out", "m3/s", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0, -INFINITY,
     INFINITY, "Outflow through the valve."},
    {"overflow", "1", TWIN_VAR_OUTPUT, 0, 0.0, 0.0, 1.0,
     "1 while the level is above the tank height, else 0."},
};

/* ABI 1.2, the structure (indices into variables: h 3, q_in 4, valve 5,
 * q_out 6): dh/dt depends on h, q_in and valve; q_out on h and valve
 * only, not on q_in, so tanks in series make a bidiagonal Jacobian, not a
 * full lower triangle; overflow moves only at events. */
static const twin_dependency dependencies[] = {
    {3, 3}, {3, 4}, {3, 5}, {6, 3}, {6, 5},
};

struct twin_instance {
    double area, cv, height;
    int overflow;
};

static double q_out(const twin_instance *m, const double *x, const double *u)
{
    return m->cv * u[U_VALVE] * sqrt(fmax(x[X_H], 0.0));
}

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "tank: out of memory");
        return TWIN_ERROR;
    }
    m->area = p[P_AREA];
    m->cv = p[P_CV];
    m->height = p[P_HEIGHT];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status init(twin_instance *m, double t, double *x, const double *u)
{
    m->overflow = x[X_H] > m->height;
    return TWIN_OK;
}

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[X_H] = (u[U_Q_IN] - q_out(m, x, u)) / m->area;
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[Y_Q_OUT] = q_out(m, x, u);
    y[Y_OVERFLOW] = m->overflow;
    return TWIN_OK;
}

static twin_status event_indicators(twin_instance *m, double t,
                                    const double *x, const double *u,
                                    double *g)
{
    g[0] = x[X_H] - m->height;
    return TWIN_OK;
}

static twin_status event(twin_instance *m, double t, double *x,
                         const double *u, const int *crossed)
{
    if (crossed[0] != 0)
        m->overflow = crossed[0] > 0;
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "tank",
    .version = "1.0.0",
    .description = "Gravity-drained cylindrical tank with an outlet valve; "
                   "overflow is located as a state event at h = height.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .n_event_indicators = 1,
    .create = create,
    .destroy = destroy,
    .init = init,
    .derivatives = derivatives,
    .outputs = outputs,
    .event_indicators = event_indicators,
    .event = event,
    .dependencies = dependencies,
    .n_dependencies = sizeof dependencies / sizeof dependencies[0],
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
