/*
 * procfuncs.c — process-engineering helpers as a twinctl function plugin.
 *
 * Plain C functions: no twinctl header, no wrapper.  procfuncs.json, the
 * manifest beside the library, tells the controller each function's
 * signature, units and documentation; the controller checks a call's
 * arguments against it and calls through libffi (docs/functions.md).
 * Units are SI unless a name says otherwise.
 */
#include <math.h>
#include <stddef.h>

/* Log-mean temperature difference of two end differences [K]. */
double lmtd(double dt_a, double dt_b)
{
    if (dt_a == 0.0 || dt_b == 0.0)
        return 0.0;                 /* the limit as one end closes */
    double r = dt_a / dt_b - 1.0;
    if (r == 0.0)
        return dt_a;
    /* (a - b) / ln(a / b), in a form that stays exact as a → b */
    return dt_b * r / log1p(r);
}

/* The same for a counter-current exchanger from its four temperatures;
 * NaN when the temperatures cross (no counter-current exchanger does
 * that). */
double lmtd_counterflow(double t_hot_in, double t_hot_out, double t_cold_in,
                        double t_cold_out)
{
    double dt_a = t_hot_in - t_cold_out, dt_b = t_hot_out - t_cold_in;
    if (dt_a < 0.0 || dt_b < 0.0)
        return NAN;
    return lmtd(dt_a, dt_b);
}

/* Liquid flow through a valve, ISA-75.01 / IEC 60534 (turbulent, not
 * choked): Q = Kv·sqrt(Δp / (1 bar) / SG) m³/h with Kv = Cv·0.8650. */
#define GPM_IN_M3H 0.22712470704    /* 1 US gal/min in m³/h */
#define PSI_IN_BAR 0.0689475729317  /* 1 psi in bar */

static double kv_per_cv(void)
{
    return GPM_IN_M3H / sqrt(PSI_IN_BAR);
}

double valve_flow(double cv, double dp, double sg)
{
    return cv * kv_per_cv() * sqrt(dp / 1e5 / sg) / 3600.0;
}

double valve_cv(double q, double dp, double sg)
{
    return q * 3600.0 / (kv_per_cv() * sqrt(dp / 1e5 / sg));
}

/* Unit conversions. */
double c_to_k(double t) { return t + 273.15; }
double k_to_c(double t) { return t - 273.15; }
double f_to_k(double t) { return (t - 32.0) * 5.0 / 9.0 + 273.15; }
double bar_to_pa(double p) { return p * 1e5; }
double pa_to_bar(double p) { return p / 1e5; }
double m3h_to_m3s(double q) { return q / 3600.0; }
double m3s_to_m3h(double q) { return q * 3600.0; }

/* Temperature of n streams mixed adiabatically (equal heat capacity per
 * volume): the flow-weighted mean.  NaN when no flow. */
double mix_temperature(const double *t, const double *q, int n)
{
    double qt = 0.0, qsum = 0.0;
    for (int i = 0; i < n; i++) {
        qt += q[i] * t[i];
        qsum += q[i];
    }
    return qsum > 0.0 ? qt / qsum : NAN;
}

/* Element by element, into an output array the controller provides. */
void c_to_k_array(const double *t_c, size_t n, double *t_k)
{
    for (size_t i = 0; i < n; i++)
        t_k[i] = c_to_k(t_c[i]);
}
