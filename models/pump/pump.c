/*
 * pump — first-order pump (continuous).
 *
 *   dw/dt = (cmd − w)/tau,   q = q_max·w,   power = p_rated·w³
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

enum { P_TAU, P_Q_MAX, P_P_RATED };
enum { X_W };
enum { U_CMD };
enum { Y_Q, Y_POWER };

static const twin_variable variables[] = {
    {"tau", "s", TWIN_VAR_PARAMETER, 0, 5.0, 1e-9, INFINITY,
     "Time constant of the speed response."},
    {"q_max", "m3/s", TWIN_VAR_PARAMETER, 0, 0.05, 0.0, INFINITY,
     "Flow at full speed."},
    {"p_rated", "W", TWIN_VAR_PARAMETER, 0, 7500.0, 0.0, INFINITY,
     "Shaft power at full speed."},
    {"w", "1", TWIN_VAR_STATE, 0, 0.0, -INFINITY, INFINITY,
     "Normalised speed."},
    {"cmd", "1", TWIN_VAR_INPUT, 0, 0.0, 0.0, 1.0,
     "Speed command, 0 stopped to 1 full speed."},
    {"q", "m3/s", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "Delivered flow."},
    {"power", "W", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "Shaft power."},
};

struct twin_instance {
    double tau, q_max, p_rated;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "pump: out of memory");
        return TWIN_ERROR;
    }
    m->tau = p[P_TAU];
    m->q_max = p[P_Q_MAX];
    m->p_rated = p[P_P_RATED];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[X_W] = (u[U_CMD] - x[X_W]) / m->tau;
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    double w = x[X_W];
    y[Y_Q] = m->q_max * w;
    y[Y_POWER] = m->p_rated * w * w * w;
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "pump",
    .version = "1.0.0",
    .description = "Centrifugal pump whose speed follows its command with a "
                   "first-order lag; flow linear and power cubic in speed.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .outputs = outputs,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
