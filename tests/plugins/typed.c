/*
 * Test plugin typed (ABI 1.1): integer, boolean and string variables, a
 * local, and names with the characters FMI names have.  A discrete model:
 * each tick
 *     scaled    = gain * count          (integers)
 *     negated   = 1 - enable            (booleans)
 *     flag      = the boolean parameter "on"
 *     label.len = the length of the string parameter "label" (a local),
 *                 or -1 when none was given
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"gain", "1", TWIN_VAR_PARAMETER, TWIN_VAR_INTEGER, 3.0, -10.0, 10.0,
     "Integer gain."},
    {"on", "1", TWIN_VAR_PARAMETER, TWIN_VAR_BOOLEAN, 0.0, 0.0, 1.0,
     "A boolean parameter."},
    {"label", "", TWIN_VAR_PARAMETER, TWIN_VAR_STRING, NAN, -INFINITY,
     INFINITY, "A string parameter."},
    {"count", "1", TWIN_VAR_INPUT, TWIN_VAR_INTEGER, 0.0, -100.0, 100.0,
     "An integer input."},
    {"enable", "1", TWIN_VAR_INPUT, TWIN_VAR_BOOLEAN, 0.0, 0.0, 1.0,
     "A boolean input."},
    {"scaled", "1", TWIN_VAR_OUTPUT, TWIN_VAR_INTEGER | TWIN_VAR_FEEDTHROUGH,
     0.0, -INFINITY, INFINITY, "gain * count."},
    {"negated", "1", TWIN_VAR_OUTPUT, TWIN_VAR_BOOLEAN | TWIN_VAR_FEEDTHROUGH,
     1.0, 0.0, 1.0, "not enable."},
    {"flag", "1", TWIN_VAR_OUTPUT, TWIN_VAR_BOOLEAN, 0.0, 0.0, 1.0,
     "The parameter on."},
    {"label.len", "1", TWIN_VAR_OUTPUT, TWIN_VAR_LOCAL | TWIN_VAR_INTEGER,
     0.0, -1.0, INFINITY, "Length of label, -1 when none was given."},
};

struct twin_instance {
    double gain, on, len;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    if (!isnan(p[2]) || host->model == NULL ||
        strcmp(host->model->name, "typed") != 0)
        return TWIN_ERROR; /* a string parameter's slot holds NaN */
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    const char *label = host->param_string(host->context, 2);
    m->gain = p[0];
    m->on = p[1];
    m->len = label ? (double)strlen(label) : -1.0;
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status tick(twin_instance *m, double t, double dt, double *x,
                        const double *u, double *y)
{
    y[0] = m->gain * u[0];
    y[1] = 1.0 - u[1];
    y[2] = m->on;
    y[3] = m->len;
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "typed",
    .version = "1.0.0",
    .description = "Integer, boolean and string variables.",
    .kind = TWIN_MODEL_DISCRETE,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .tick = tick,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
