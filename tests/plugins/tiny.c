/*
 * Test plugin tiny (model ABI 1.2): two independent decays, a state of
 * tiny magnitude and one of ordinary size,
 *     da/dt = -ka a,  a(0) = 1e-9,      db/dt = -kb b + u,  b(0) = 1,
 * (u an optional input, 0 when nothing drives it) with a declared
 * absolute tolerance of 1e-18 on a (0 on b: the scenario's) and each
 * derivative declared to depend on what it does.  With the scenario's default atol of 1e-8 on a, CVODE would take
 * a as noise; with its own tolerance a follows a(0) exp(-ka t) closely
 * (tests/unit/sim/test_tolerances.c).
 */
#include <stdlib.h>

#include <math.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"ka", "1/s", TWIN_VAR_PARAMETER, 0, 1.0, 0.0, INFINITY, "Rate of a."},
    {"kb", "1/s", TWIN_VAR_PARAMETER, 0, 0.01, 0.0, INFINITY, "Rate of b."},
    {"a", "mol", TWIN_VAR_STATE, 0, 1e-9, -INFINITY, INFINITY,
     "A tiny amount."},
    {"b", "mol", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY,
     "An ordinary amount."},
    {"u", "mol/s", TWIN_VAR_INPUT, 0, NAN, -INFINITY, INFINITY,
     "Feed of b (optional)."},
};

/* da/dt on a, db/dt on b and u (variables[2], [3] and [4]). */
static const twin_dependency dependencies[] = {{2, 2}, {3, 3}, {3, 4}};

static const double abs_tol[] = {1e-18, 0};

struct twin_instance {
    double ka, kb;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = malloc(sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->ka = p[0];
    m->kb = p[1];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[0] = -m->ka * x[0];
    dx[1] = -m->kb * x[1] + (isnan(u[0]) ? 0 : u[0]);
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "tiny",
    .version = "1.0.0",
    .description = "Two decays, one of a tiny amount with its own absolute "
                   "tolerance.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .dependencies = dependencies,
    .n_dependencies = sizeof dependencies / sizeof dependencies[0],
    .state_abs_tol = abs_tol,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
