/*
 * Test plugin "failing": dx/dt = −x until t_fail, then, by its parameter
 * mode, derivatives return 0 ERROR, 1 DISCARD (every time), 2 NaN, or
 * 3 a derivative so stiff and wild that the solver runs out of steps —
 * the host must end the run with solver_failure, never retry without end —
 * or take the run's process down: 4 a segmentation fault, 5 abort(),
 * 6 loop forever (the daemon's time limit must end it).
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"mode", "1", TWIN_VAR_PARAMETER, 0, 0.0, 0.0, 6.0, "How to fail."},
    {"t_fail", "s", TWIN_VAR_PARAMETER, 0, 5.0, 0.0, INFINITY,
     "When to start failing."},
    {"x", "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY, "Amount."},
};

struct twin_instance {
    int mode;
    double t_fail;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = malloc(sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->mode = (int)p[0];
    m->t_fail = p[1];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[0] = -x[0];
    if (t < m->t_fail)
        return TWIN_OK;
    switch (m->mode) {
    case 0:
        return TWIN_ERROR;
    case 1:
        return TWIN_DISCARD;
    case 2:
        dx[0] = NAN;
        return TWIN_OK;
    case 4:
        raise(SIGSEGV);
        return TWIN_FATAL;
    case 5:
        abort();
    case 6:
        for (volatile int spin = 1; spin;)
            ;
        return TWIN_FATAL;
    default:
        dx[0] = 1e6 * sin(1e9 * t) * (1.0 + fabs(x[0]));
        return TWIN_OK;
    }
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "failing",
    .version = "0.0.1",
    .description = "A model that fails on purpose.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
