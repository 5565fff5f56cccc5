/*
 * Test plugin sparse (ABI 1.2): two independent first-order lags in one
 * model, with their structure declared.  a' = (u − a)/tau,
 * b' = (v − b)/tau; output s = a (not feedthrough).  The declaration says
 * a' depends on a and u, b' on b and v, s on a: the Jacobian's pattern
 * (controller/sim/jacobian.c) has no a–b entries.  The same source
 * built with -DSPARSE_UNDECLARED is the model `sparse_dense`, which
 * declares nothing: its block is dense.
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"tau", "s", TWIN_VAR_PARAMETER, 0, 1.0, 1e-6, INFINITY,
     "Time constant of both lags."},
    {"a", "1", TWIN_VAR_STATE, 0, 0.0, -INFINITY, INFINITY, "First lag."},
    {"b", "1", TWIN_VAR_STATE, 0, 0.0, -INFINITY, INFINITY, "Second lag."},
    {"u", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY, "Into a."},
    {"v", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY, "Into b."},
    {"s", "1", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY, "Equals a."},
};

#ifndef SPARSE_UNDECLARED
/* Indices into variables: a 1, b 2, u 3, v 4, s 5. */
static const twin_dependency dependencies[] = {
    {1, 1}, {1, 3}, {2, 2}, {2, 4}, {5, 1},
};
#endif

struct twin_instance {
    double tau;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->tau = p[0];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[0] = (u[0] - x[0]) / m->tau;
    dx[1] = (u[1] - x[1]) / m->tau;
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[0] = x[0];
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
#ifdef SPARSE_UNDECLARED
    .name = "sparse_dense",
    .description = "Two lags, structure not declared.",
#else
    .name = "sparse",
    .description = "Two lags with their structure declared.",
    .dependencies = dependencies,
    .n_dependencies = sizeof dependencies / sizeof dependencies[0],
#endif
    .version = "1.0.0",
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
