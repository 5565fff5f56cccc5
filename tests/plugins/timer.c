/*
 * Test plugin timer (ABI 1.1): time events.  x decays, dx/dt = -rate x,
 * and is reset to 1 by a time event every period seconds (at k * period,
 * k = 1, 2, ...), so between events x(t) = exp(-rate (t - k period)).
 * events counts them (an integer output), t_event is the t the last one
 * was called at; after end_after events (0: never) it asks the host to
 * end the run.  An event() at any other t changes nothing.
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"period", "s", TWIN_VAR_PARAMETER, 0, 0.3, 1e-6, INFINITY,
     "Time between two resets."},
    {"rate", "1/s", TWIN_VAR_PARAMETER, 0, 1.0, 0.0, INFINITY,
     "Decay rate."},
    {"end_after", "1", TWIN_VAR_PARAMETER, TWIN_VAR_INTEGER, 0.0, 0.0,
     INFINITY, "Events after which the run ends (0: never)."},
    {"x", "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY,
     "Decays, reset to 1 at each event."},
    {"events", "1", TWIN_VAR_OUTPUT, TWIN_VAR_INTEGER, 0.0, 0.0, INFINITY,
     "Time events so far."},
    {"t_event", "s", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "The t of the last time event."},
};

struct twin_instance {
    const twin_host *host;
    double period, rate, end_after;
    double k; /* events so far */
    double t_event;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->host = host;
    m->period = p[0];
    m->rate = p[1];
    m->end_after = p[2];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[0] = -m->rate * x[0];
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[0] = m->k;
    y[1] = m->t_event;
    return TWIN_OK;
}

static twin_status event(twin_instance *m, double t, double *x,
                         const double *u, const int *crossed)
{
    if (crossed != NULL || t != (m->k + 1) * m->period)
        return TWIN_OK; /* not its time event */
    m->k += 1;
    m->t_event = t;
    x[0] = 1.0;
    if (m->end_after > 0 && m->k == m->end_after)
        m->host->request_end(m->host->context, "timer: enough events");
    return TWIN_OK;
}

static twin_status next_event_time(twin_instance *m, double t,
                                   double *t_next)
{
    *t_next = (m->k + 1) * m->period;
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "timer",
    .version = "1.0.0",
    .description = "A decay reset by a time event every period seconds.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .outputs = outputs,
    .event = event,
    .next_event_time = next_event_time,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
