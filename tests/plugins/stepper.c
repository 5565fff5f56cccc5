/*
 * Test plugin stepper (ABI 1.1): step events.  x decays, dx/dt = -x;
 * step_completed counts the integrator's steps (output steps) and asks
 * for an event as soon as x is below floor; the event sets x back to 1
 * and counts (output resets).
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"floor", "1", TWIN_VAR_PARAMETER, 0, 0.5, 0.0, 1.0,
     "Below this, a step asks for a reset."},
    {"x", "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY, "Decays."},
    {"steps", "1", TWIN_VAR_OUTPUT, TWIN_VAR_INTEGER, 0.0, 0.0, INFINITY,
     "Completed integrator steps."},
    {"resets", "1", TWIN_VAR_OUTPUT, TWIN_VAR_INTEGER, 0.0, 0.0, INFINITY,
     "Step events so far."},
    {"low", "1", TWIN_VAR_OUTPUT, 0, 1.0, -INFINITY, INFINITY,
     "The lowest x a step saw."},
};

struct twin_instance {
    double floor, steps, resets, low;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->floor = p[0];
    m->low = 1.0;
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[0] = -x[0];
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[0] = m->steps;
    y[1] = m->resets;
    y[2] = m->low;
    return TWIN_OK;
}

static twin_status step_completed(twin_instance *m, double t,
                                  const double *x, const double *u,
                                  int *event_needed)
{
    m->steps += 1;
    if (x[0] < m->low)
        m->low = x[0];
    *event_needed = x[0] < m->floor;
    return TWIN_OK;
}

static twin_status event(twin_instance *m, double t, double *x,
                         const double *u, const int *crossed)
{
    if (crossed != NULL)
        return TWIN_ERROR;
    if (x[0] < m->floor) {
        x[0] = 1.0;
        m->resets += 1;
    }
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "stepper",
    .version = "1.0.0",
    .description = "A decay reset by a step event.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .outputs = outputs,
    .event = event,
    .step_completed = step_completed,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
