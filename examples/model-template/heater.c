/*
 * heater — a first-order thermal mass with an electric heater (continuous).
 *
 *   dT/dt = (P − k·(T − T_amb))/C,   q_loss = k·(T − T_amb)
 *
 * This is the template for a model plugin built out of tree: copy this
 * folder, rename the model, change the variable table and the maths.
 * docs/plugin-guide.md walks through it line by line.
 */
#include <math.h>   /* INFINITY */
#include <stdlib.h> /* calloc, free */

#include "twin_model.h"

/* Indices into the four arrays the host passes.  Each kind is numbered in
 * the order its variables appear in the table below. */
enum { P_C, P_K, P_T_AMB };  /* params */
enum { X_T };                /* x: states */
enum { U_P };                /* u: inputs */
enum { Y_Q_LOSS };           /* y: outputs */

/* name, unit, kind, flags, default/start, min, max, description */
static const twin_variable variables[] = {
    {"C", "J/K", TWIN_VAR_PARAMETER, 0, 4.0e5, 1e-9, INFINITY,
     "Heat capacity of the mass."},
    {"k", "W/K", TWIN_VAR_PARAMETER, 0, 50.0, 0.0, INFINITY,
     "Loss coefficient to the surroundings."},
    {"T_amb", "K", TWIN_VAR_PARAMETER, 0, 293.15, 0.0, INFINITY,
     "Ambient temperature."},
    {"T", "K", TWIN_VAR_STATE, 0, 293.15, 0.0, INFINITY,
     "Temperature of the mass."},
    {"P", "W", TWIN_VAR_INPUT, 0, 0.0, 0.0, 5000.0,
     "Heater power."},
    /* q_loss depends on the state only, not directly on P: no
     * TWIN_VAR_FEEDTHROUGH flag. */
    {"q_loss", "W", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "Heat lost to the surroundings."},
};

/* One instance: here just the parameters, copied at create. */
struct twin_instance {
    double C, k, T_amb;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "heater: out of memory");
        return TWIN_ERROR;
    }
    m->C = p[P_C];
    m->k = p[P_K];
    m->T_amb = p[P_T_AMB];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[X_T] = (u[U_P] - m->k * (x[X_T] - m->T_amb)) / m->C;
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[Y_Q_LOSS] = m->k * (x[X_T] - m->T_amb);
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR, /* the header you built against */
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "heater", /* the name scenarios use: {"model": "heater"} */
    .version = "1.0.0",
    .description = "Lumped thermal mass heated electrically and losing heat "
                   "to the surroundings in proportion to its excess "
                   "temperature.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .outputs = outputs,
    /* init, event_indicators, event and tick are not needed: NULL. */
};

/* The one exported symbol (everything else is hidden by
 * -fvisibility=hidden). */
TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
