/*
 * pi — sampled PI level controller (discrete, once per tick).
 *
 * At each tick with e = sp − pv:
 *   candidate = kp·e + integral + ki·e·dt
 *   if out_min ≤ candidate ≤ out_max: integral += ki·e·dt   (anti-windup)
 *   out = clamp(kp·e + integral, out_min, out_max)
 * out is held until the next tick.  The optional input sp overrides the
 * parameter sp when something drives it.
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

enum { P_KP, P_KI, P_SP, P_OUT_MIN, P_OUT_MAX };
enum { X_INTEGRAL };
enum { U_PV, U_SP };
enum { Y_OUT };

static const twin_variable variables[] = {
    {"kp", "1", TWIN_VAR_PARAMETER, 0, 0.8, -INFINITY, INFINITY,
     "Proportional gain."},
    {"ki", "1/s", TWIN_VAR_PARAMETER, 0, 0.02, -INFINITY, INFINITY,
     "Integral gain."},
    {"sp", "1", TWIN_VAR_PARAMETER, 0, 2.0, -INFINITY, INFINITY,
     "Setpoint, used while the input sp is not connected."},
    {"out_min", "1", TWIN_VAR_PARAMETER, 0, 0.0, -INFINITY, INFINITY,
     "Lower output limit."},
    {"out_max", "1", TWIN_VAR_PARAMETER, 0, 1.0, -INFINITY, INFINITY,
     "Upper output limit."},
    {"integral", "1", TWIN_VAR_STATE, 0, 0.0, -INFINITY, INFINITY,
     "Integral term."},
    {"pv", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY,
     "Process value."},
    {"sp", "1", TWIN_VAR_INPUT, 0, NAN, -INFINITY, INFINITY,
     "Setpoint input; optional, overrides the parameter when driven."},
    {"out", "1", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0, -INFINITY,
     INFINITY, "Controller output, held over the tick."},
};

struct twin_instance {
    double kp, ki, sp, out_min, out_max;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    if (!(p[P_OUT_MIN] <= p[P_OUT_MAX])) {
        twin_log(host, TWIN_LOG_ERROR, "pi: out_min must not exceed out_max");
        return TWIN_ERROR;
    }
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "pi: out of memory");
        return TWIN_ERROR;
    }
    m->kp = p[P_KP];
    m->ki = p[P_KI];
    m->sp = p[P_SP];
    m->out_min = p[P_OUT_MIN];
    m->out_max = p[P_OUT_MAX];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status tick(twin_instance *m, double t, double dt, double *x,
                        const double *u, double *y)
{
    double sp = isnan(u[U_SP]) ? m->sp : u[U_SP];
    double e = sp - u[U_PV];
    double step = m->ki * e * dt;
    double candidate = m->kp * e + x[X_INTEGRAL] + step;
    if (m->out_min <= candidate && candidate <= m->out_max)
        x[X_INTEGRAL] += step;
    y[Y_OUT] = fmin(fmax(m->kp * e + x[X_INTEGRAL], m->out_min), m->out_max);
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "pi",
    .version = "1.0.0",
    .description = "Sampled PI controller with output clamping and "
                   "conditional-integration anti-windup.",
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
