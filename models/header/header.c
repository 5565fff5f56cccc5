/*
 * header — a junction of up to eight inlets discharging through one
 * outlet orifice, without storage (continuous, no states: outputs only).
 *
 *   Q = q1 + … + q8                  (an inlet nothing drives counts 0)
 *   Q = cv_out·opening·sign(h − h_out)·sqrt(|h − h_out|)
 *   ⇒ h = h_out + Q·|Q| / (cv_out·opening)²,   q_out = Q
 *
 * A junction that holds no liquid has no head of its own: its head is
 * the one at which its outlet passes what flows in.  So the header owns
 * its outlet orifice (the valve's law, in heads as the valve: m of
 * liquid, cv_out in m^2.5/s) and computes its head from its inflows and
 * the head behind the outlet, h_out (a tank's level when it discharges
 * into the bottom of a tank).  Both outputs follow the inflows at once
 * (feedthrough): valves feeding the header and fed by its head make an
 * algebraic loop, which the host solves (docs/models.md "flow network").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "twin_model.h"

#define N_INLETS 8

enum { P_CV_OUT };
enum { U_Q1, U_H_OUT = U_Q1 + N_INLETS, U_OPENING };
enum { Y_H, Y_Q_OUT };

/* Positions in variables[], for the dependencies. */
enum { V_CV_OUT, V_Q1, V_H_OUT = V_Q1 + N_INLETS, V_OPENING, V_H, V_Q_OUT };

#define INLET(k)                                                         \
    [V_Q1 + (k) - 1] = {"q" #k, "m3/s", TWIN_VAR_INPUT, 0, NAN,         \
                        -INFINITY, INFINITY,                            \
                        "Inflow at inlet " #k "; optional, 0 when "     \
                        "nothing drives it."}

static const twin_variable variables[] = {
    [V_CV_OUT] = {"cv_out", "m2.5/s", TWIN_VAR_PARAMETER, 0, 0.04, 0.0,
                  INFINITY,
                  "Flow coefficient of the open outlet: q_out = cv_out * "
                  "opening * sqrt(h - h_out)."},
    INLET(1), INLET(2), INLET(3), INLET(4),
    INLET(5), INLET(6), INLET(7), INLET(8),
    [V_H_OUT] = {"h_out", "m", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY,
                 "Head behind the outlet (a tank's level when the outlet "
                 "enters at its bottom)."},
    [V_OPENING] = {"opening", "1", TWIN_VAR_INPUT, 0, 1.0, 0.0, 1.0,
                   "Outlet opening, 0 shut to 1 open; shut only while "
                   "nothing flows in."},
    [V_H] = {"h", "m", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0,
             -INFINITY, INFINITY,
             "Head in the header, at which the outlet passes the inflow."},
    [V_Q_OUT] = {"q_out", "m3/s", TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH, 0.0,
                 -INFINITY, INFINITY,
                 "Outflow, the sum of the inflows (no storage)."},
};

/* h on every inlet, h_out and the opening; q_out on every inlet. */
#define ON_INLET(k) {V_H, V_Q1 + (k)}, {V_Q_OUT, V_Q1 + (k)}
static const twin_dependency dependencies[] = {
    ON_INLET(0), ON_INLET(1), ON_INLET(2), ON_INLET(3),
    ON_INLET(4), ON_INLET(5), ON_INLET(6), ON_INLET(7),
    {V_H, V_H_OUT}, {V_H, V_OPENING}};

struct twin_instance {
    const twin_host *host;
    double cv_out;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "header: out of memory");
        return TWIN_ERROR;
    }
    m->host = host;
    m->cv_out = p[P_CV_OUT];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    return TWIN_OK; /* no states */
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    double q = 0.0;
    for (int k = 0; k < N_INLETS; k++)
        if (!isnan(u[U_Q1 + k]))
            q += u[U_Q1 + k];
    double b = m->cv_out * u[U_OPENING];
    y[Y_Q_OUT] = q;
    if (q == 0.0) {
        y[Y_H] = u[U_H_OUT]; /* no flow, no loss across the outlet */
        return TWIN_OK;
    }
    if (!(b > 0.0)) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "header: %.6g m3/s flows in but the outlet is shut "
                 "(cv_out * opening = 0), and a header holds no liquid; "
                 "open the outlet or shut the inlets", q);
        twin_log(m->host, TWIN_LOG_ERROR, msg);
        return TWIN_ERROR;
    }
    y[Y_H] = u[U_H_OUT] + q * fabs(q) / (b * b);
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "header",
    .version = "1.0.0",
    .description = "Junction of up to eight inlets (q1..q8) discharging "
                   "through an outlet orifice, without storage: q_out is "
                   "the sum of the inflows, and the head h is the one at "
                   "which the outlet passes it, h = h_out + q_out * "
                   "|q_out| / (cv_out * opening)^2.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
    .outputs = outputs,
    .dependencies = dependencies,
    .n_dependencies = sizeof dependencies / sizeof dependencies[0],
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
