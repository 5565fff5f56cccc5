/*
 * Test plugin sampler (ABI 1.1): a discrete model with its own sample
 * period of 0.5 s.  Each tick() counts (state n), and writes the t and
 * dt it was called with, and a sample of its input; the host holds them
 * between samples.  After end_at ticks (0: never) it asks the host to
 * end the run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"end_at", "1", TWIN_VAR_PARAMETER, TWIN_VAR_INTEGER, 0.0, 0.0,
     INFINITY, "Ticks after which the run ends (0: never)."},
    {"n", "1", TWIN_VAR_STATE, TWIN_VAR_INTEGER, 0.0, 0.0, INFINITY,
     "Ticks so far."},
    {"u", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY,
     "What is sampled."},
    {"t_tick", "s", TWIN_VAR_OUTPUT, 0, -1.0, -INFINITY, INFINITY,
     "The t of the last tick."},
    {"dt_tick", "s", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "The dt of the last tick."},
    {"held", "1", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0, -INFINITY,
     INFINITY, "u at the last tick."},
};

struct twin_instance {
    const twin_host *host;
    double end_at;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->host = host;
    m->end_at = p[0];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status tick(twin_instance *m, double t, double dt, double *x,
                        const double *u, double *y)
{
    x[0] += 1;
    y[0] = t;
    y[1] = dt;
    y[2] = u[0];
    if (m->end_at > 0 && x[0] == m->end_at) {
        char why[64];
        snprintf(why, sizeof why, "count %g reached", x[0]);
        m->host->request_end(m->host->context, why);
    }
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "sampler",
    .version = "1.0.0",
    .description = "Counts its ticks, every 0.5 s.",
    .kind = TWIN_MODEL_DISCRETE,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .tick = tick,
    .sample_period = 0.5,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
