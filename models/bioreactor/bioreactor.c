/*
 * bioreactor — fed-batch Monod fermenter (continuous).
 *
 *   mu = mu_max·s/(ks + s)
 *   dx/dt = mu·x − (F/v)·x
 *   ds/dt = −mu·x/yxs + (F/v)·(s_feed − s)
 *   dp/dt = ypx·mu·x − (F/v)·p
 *   dv/dt = F
 */
#include <math.h>
#include <stdlib.h>

#include "twin_model.h"

enum { P_MU_MAX, P_KS, P_YXS, P_YPX, P_S_FEED };
enum { X_X, X_S, X_P, X_V };
enum { U_FEED };
enum { Y_MU };

static const twin_variable variables[] = {
    {"mu_max", "1/s", TWIN_VAR_PARAMETER, 0, 0.4 / 3600.0, 0.0, INFINITY,
     "Maximum specific growth rate."},
    {"ks", "g/L", TWIN_VAR_PARAMETER, 0, 0.1, 1e-12, INFINITY,
     "Monod half-saturation constant."},
    {"yxs", "1", TWIN_VAR_PARAMETER, 0, 0.5, 1e-12, INFINITY,
     "Biomass yield on substrate."},
    {"ypx", "1", TWIN_VAR_PARAMETER, 0, 0.2, 0.0, INFINITY,
     "Product yield on biomass."},
    {"s_feed", "g/L", TWIN_VAR_PARAMETER, 0, 200.0, 0.0, INFINITY,
     "Substrate concentration in the feed."},
    {"x", "g/L", TWIN_VAR_STATE, 0, 0.5, 0.0, INFINITY, "Biomass."},
    {"s", "g/L", TWIN_VAR_STATE, 0, 10.0, 0.0, INFINITY, "Substrate."},
    {"p", "g/L", TWIN_VAR_STATE, 0, 0.0, 0.0, INFINITY, "Product."},
    {"v", "L", TWIN_VAR_STATE, 0, 2.0, 1e-12, INFINITY, "Broth volume."},
    {"feed", "L/s", TWIN_VAR_INPUT, 0, 0.0, 0.0, INFINITY, "Feed rate F."},
    {"mu", "1/s", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "Specific growth rate."},
};

struct twin_instance {
    double mu_max, ks, yxs, ypx, s_feed;
};

/* Monod.  A trial step of the solver can take s a hair below zero near
 * depletion; growth stops there (s is clamped at 0) instead of turning
 * negative or dividing by ks + s ≈ 0.  For s ≥ 0 this is the equation. */
static double growth(const twin_instance *m, const double *x)
{
    double s = fmax(x[X_S], 0.0);
    return m->mu_max * s / (m->ks + s);
}

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = calloc(1, sizeof *m);
    if (m == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "bioreactor: out of memory");
        return TWIN_ERROR;
    }
    m->mu_max = p[P_MU_MAX];
    m->ks = p[P_KS];
    m->yxs = p[P_YXS];
    m->ypx = p[P_YPX];
    m->s_feed = p[P_S_FEED];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    if (!(x[X_V] > 0.0))
        return TWIN_DISCARD; /* a trial step emptied the vessel: retry */
    double mu = growth(m, x);
    double d = u[U_FEED] / x[X_V];
    dx[X_X] = mu * x[X_X] - d * x[X_X];
    dx[X_S] = -mu * x[X_X] / m->yxs + d * (m->s_feed - x[X_S]);
    dx[X_P] = m->ypx * mu * x[X_X] - d * x[X_P];
    dx[X_V] = u[U_FEED];
    return TWIN_OK;
}

static twin_status outputs(twin_instance *m, double t, const double *x,
                           const double *u, double *y)
{
    y[Y_MU] = growth(m, x);
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "bioreactor",
    .version = "1.0.0",
    .description = "Fed-batch fermenter with Monod growth kinetics, "
                   "growth-associated product and volume growing with feed.",
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
