/*
 * analytics.c — the built-in functions on GSL.  See analytics.h.
 *
 * The table below names every built-in with its parameters and
 * documentation; parsing, describe and call all read it.  The numbers come
 * from GSL: gsl_stats_* for the sample statistics, gsl_sort and
 * gsl_stats_quantile_from_sorted_data for percentiles, gsl_interp
 * (linear, or Steffen's monotone cubic) with gsl_interp_eval_integ for
 * time-weighted quantities, and Brent's method (gsl_root) on that
 * interpolant for crossing and settling times.  This file owns no state.
 */
#include "analytics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>
#include <gsl/gsl_roots.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

/* ---- the table --------------------------------------------------------- */

typedef enum an_param_id {
    P_INTERP,
    P_P,
    P_WINDOW,
    P_THEN,
    P_THRESHOLD,
    P_DIRECTION,
    P_TARGET,
    P_BAND,
    P_BAND_FRACTION,
    P__COUNT
} an_param_id;

typedef struct an_param {
    const char *name;
    const char *type;             /* "double" or "string" */
    const char *unit;             /* NULL: none */
    const char *doc;
    const char *const *values;    /* string: the allowed ones, default first */
} an_param;

static const char *const interp_values[] = {"linear", "steffen", NULL};
static const char *const then_values[] = {"max", "min", "final", NULL};
static const char *const direction_values[] = {"any", "up", "down", NULL};

static const an_param params[P__COUNT] = {
    [P_INTERP] = {"interp", "string", NULL,
        "How the series goes between samples: \"linear\" (default) or "
        "\"steffen\" (GSL's monotone cubic: smooth, never beyond the "
        "neighbouring samples; needs 3 samples).", interp_values},
    [P_P] = {"p", "double", "%",
        "The percentile, from 0 to 100 (50 is the median).", NULL},
    [P_WINDOW] = {"window", "double", "s",
        "Length of the trailing time window, more than 0 and at most the "
        "series' span.", NULL},
    [P_THEN] = {"then", "string", NULL,
        "How the averaged series becomes one number: \"max\" (default), "
        "\"min\", or \"final\" (the average over the last window).",
        then_values},
    [P_THRESHOLD] = {"threshold", "double", "[y]", "The level to cross.",
        NULL},
    [P_DIRECTION] = {"direction", "string", NULL,
        "\"up\" (reaching the level from below), \"down\" (from above) or "
        "\"any\" (default).", direction_values},
    [P_TARGET] = {"target", "double", "[y]",
        "Centre of the band; without it, the final value.", NULL},
    [P_BAND] = {"band", "double", "[y]",
        "Half-width of the band, more than 0: inside is |y − target| ≤ "
        "band. Give band or band_fraction.", NULL},
    [P_BAND_FRACTION] = {"band_fraction", "double", NULL,
        "Half-width of the band as a fraction of |target|, more than 0 "
        "(0.02 is a 2 % band). Give band or band_fraction.", NULL},
};

typedef struct an_builtin {
    const char *name;
    const char *unit;             /* of the result: "[y]", "[y]·s", "s" */
    int needs_time;
    const char *doc;
    an_param_id use[4];
    unsigned required;            /* bit per entry of use */
    size_t n_use;
} an_builtin;

static const an_builtin builtins[AN__COUNT] = {
    [AN_MEAN] = {"mean", "[y]", 0,
        "Arithmetic mean of the samples (gsl_stats_mean): every sample "
        "weighs the same. Over a run's ticks, which are evenly spaced, it "
        "differs from time_mean only by the half weight time_mean gives the "
        "first and last sample.", {0}, 0, 0},
    [AN_TIME_MEAN] = {"time_mean", "[y]", 1,
        "Time-weighted mean: the integral of the interpolant over [t0, tn] "
        "divided by tn − t0.", {P_INTERP}, 0, 1},
    [AN_STDDEV] = {"stddev", "[y]", 0,
        "Sample standard deviation, with n − 1 in the denominator "
        "(gsl_stats_sd); needs 2 samples.", {0}, 0, 0},
    [AN_MIN] = {"min", "[y]", 0, "The smallest sample (gsl_stats_min).",
        {0}, 0, 0},
    [AN_MAX] = {"max", "[y]", 0, "The largest sample (gsl_stats_max).",
        {0}, 0, 0},
    [AN_PERCENTILE] = {"percentile", "[y]", 0,
        "Percentile p of the samples, interpolating linearly between the "
        "sorted samples (gsl_stats_quantile_from_sorted_data): the value at "
        "rank (n − 1)·p/100, counting from 0, so p = 0 is the smallest, "
        "p = 100 the largest and p = 50 the median.", {P_P}, 1u << 0, 1},
    [AN_INTEGRAL] = {"integral", "[y]·s", 1,
        "Time integral of the interpolant from t0 to tn "
        "(gsl_interp_eval_integ); with linear interpolation, the trapezoid "
        "rule over the samples.", {P_INTERP}, 0, 1},
    [AN_MOVING_AVERAGE] = {"moving_average", "[y]", 1,
        "Trailing moving average: at each sample time t with t − window ≥ "
        "t0, the mean of the interpolant over [t − window, t] (its integral "
        "divided by window); the series of these is reduced to one number "
        "by then: its max (default), min, or final value.",
        {P_WINDOW, P_THEN, P_INTERP}, 1u << 0, 3},
    [AN_CROSSING_TIME] = {"crossing_time", "s", 1,
        "The first time the interpolant reaches threshold in direction: up "
        "from a sample below it, down from a sample above it, or either. "
        "Starting on the threshold is no crossing. No result when it never "
        "crosses.", {P_THRESHOLD, P_DIRECTION, P_INTERP}, 1u << 0, 3},
    [AN_SETTLING_TIME] = {"settling_time", "s", 1,
        "The first time after which the interpolant stays inside the band "
        "[target − h, target + h] to the end (h = band, or band_fraction·"
        "|target|); t0 when it never leaves. No result when the last sample "
        "is outside the band.",
        {P_TARGET, P_BAND, P_BAND_FRACTION, P_INTERP}, 0, 4},
    [AN_FINAL] = {"final", "[y]", 0,
        "The last sample: in a run, the value at the stop time.", {0}, 0, 0},
};

int analytics__find(const char *name, analytics_fn *fn)
{
    for (int i = 0; i < AN__COUNT; i++)
        if (strcmp(builtins[i].name, name) == 0) {
            *fn = (analytics_fn)i;
            return 0;
        }
    return -1;
}

const char *analytics__name(analytics_fn fn)
{
    return (unsigned)fn < AN__COUNT ? builtins[fn].name : "?";
}

const char *analytics__unit(analytics_fn fn, const char *y_unit, char *buf,
                            size_t len)
{
    const char *u = (unsigned)fn < AN__COUNT ? builtins[fn].unit : "";
    int plain = y_unit == NULL || y_unit[0] == '\0' ||
                strcmp(y_unit, "1") == 0;
    size_t n = plain ? 0 : strlen(y_unit);
    if (strcmp(u, "s") == 0)
        snprintf(buf, len, "s");
    else if (strcmp(u, "[y]·s") == 0 && n > 2 &&
             strcmp(y_unit + n - 2, "/s") == 0) /* a rate: m3/s → m3 */
        snprintf(buf, len, "%.*s", (int)(n - 2),
                 strcmp(y_unit, "1/s") == 0 ? "" : y_unit);
    else if (strcmp(u, "[y]·s") == 0)
        snprintf(buf, len, "%s%s", plain ? "" : y_unit, plain ? "s" : "·s");
    else
        snprintf(buf, len, "%s", plain ? "" : y_unit);
    return buf;
}

int analytics__needs_time(analytics_fn fn)
{
    return (unsigned)fn < AN__COUNT && builtins[fn].needs_time;
}

size_t analytics__min_samples(const analytics_spec *spec)
{
    if (builtins[spec->fn].needs_time)
        return spec->interp == AN_INTERP_STEFFEN ? 3 : 2;
    return spec->fn == AN_STDDEV ? 2 : 1;
}

/* ---- parameters -------------------------------------------------------- */

static int uses(const an_builtin *b, an_param_id id, int *required)
{
    for (size_t i = 0; i < b->n_use; i++)
        if (b->use[i] == id) {
            if (required)
                *required = (b->required >> i) & 1u;
            return 1;
        }
    return 0;
}

static int is_own(const char *key, const char *const *own)
{
    for (size_t i = 0; own && own[i]; i++)
        if (strcmp(own[i], key) == 0)
            return 1;
    return 0;
}

/* "p" or "window, then and interp". */
static void list_params(const an_builtin *b, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < b->n_use && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 i == 0 ? "" : i + 1 == b->n_use ? " and "
                                                                 : ", ",
                                 params[b->use[i]].name);
}

/* Read one parameter's value into spec.  Returns 0 or -1 (reported). */
static int read_param(const an_builtin *b, an_param_id id, const json_t *v,
                      const char *base, analytics_spec *spec,
                      twin_errors *errs)
{
    const an_param *pd = &params[id];
    if (pd->values != NULL) {
        int k = -1;
        if (!json_is_string(v)) {
            errors__add_at(errs, TWIN_E_WRONG_TYPE, base, pd->name,
                           "'%s' of %s must be a string, not %s", pd->name,
                           b->name, errors__json_kind(v));
            return -1;
        }
        for (int i = 0; pd->values[i]; i++)
            if (strcmp(pd->values[i], json_string_value(v)) == 0)
                k = i;
        if (k < 0) {
            char opts[128] = "";
            size_t used = 0;
            for (int i = 0; pd->values[i]; i++)
                used += (size_t)snprintf(opts + used, sizeof opts - used,
                                         "%s\"%s\"", i == 0 ? ""
                                         : pd->values[i + 1] ? ", " : " or ",
                                         pd->values[i]);
            errors__add_at(errs, TWIN_E_OUT_OF_RANGE, base, pd->name,
                           "'%s' of %s is \"%s\"; write %s", pd->name,
                           b->name, json_string_value(v), opts);
            return -1;
        }
        if (id == P_INTERP)
            spec->interp = (an_interp)k;
        else if (id == P_THEN)
            spec->then = (an_then)k;
        else
            spec->direction = (an_direction)k;
        return 0;
    }
    if (!json_is_number(v)) {
        errors__add_at(errs, TWIN_E_WRONG_TYPE, base, pd->name,
                       "'%s' of %s must be a number, not %s", pd->name,
                       b->name, errors__json_kind(v));
        return -1;
    }
    double x = json_number_value(v);
    const char *bad = NULL;
    if (!isfinite(x))
        bad = "must be finite";
    else if (id == P_P && !(x >= 0.0 && x <= 100.0))
        bad = "must be from 0 to 100";
    else if ((id == P_WINDOW || id == P_BAND || id == P_BAND_FRACTION) &&
             !(x > 0.0))
        bad = id == P_WINDOW ? "must be more than 0 seconds"
                             : "must be more than 0: the band would be empty";
    if (bad != NULL) {
        errors__add_at(errs, TWIN_E_OUT_OF_RANGE, base, pd->name,
                       "'%s' of %s is %g; it %s", pd->name, b->name, x,
                       bad);
        return -1;
    }
    switch (id) {
    case P_P: spec->p = x; break;
    case P_WINDOW: spec->window = x; break;
    case P_THRESHOLD: spec->threshold = x; break;
    case P_TARGET: spec->target = x; spec->has_target = 1; break;
    case P_BAND: spec->band = x; break;
    case P_BAND_FRACTION: spec->band_fraction = x; break;
    default: break;
    }
    return 0;
}

int analytics__parse(analytics_fn fn, const json_t *obj, const char *base,
                     const char *const *own, analytics_spec *spec,
                     twin_errors *errs)
{
    const an_builtin *b = &builtins[fn];
    size_t before = errs->count;
    memset(spec, 0, sizeof *spec);
    spec->fn = fn;
    spec->band = NAN;
    spec->band_fraction = NAN;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (is_own(k, own))
            continue;
        for (int id = 0; id < P__COUNT; id++)
            if (strcmp(params[id].name, k) == 0 &&
                uses(b, (an_param_id)id, NULL)) {
                read_param(b, (an_param_id)id, v, base, spec, errs);
                goto next;
            }
        char names[128];
        list_params(b, names, sizeof names);
        errors__add_at(errs, TWIN_E_OUT_OF_RANGE, base, k,
                       "%s takes no parameter '%s'; %s%s", b->name, k,
                       b->n_use ? "its parameters are " : "it takes none",
                       names);
    next:;
    }
    for (size_t i = 0; i < b->n_use; i++)
        if (((b->required >> i) & 1u) &&
            json_object_get(obj, params[b->use[i]].name) == NULL)
            errors__add_at(errs, TWIN_E_MISSING_FIELD, base,
                           params[b->use[i]].name, "%s needs '%s': %s",
                           b->name, params[b->use[i]].name,
                           params[b->use[i]].doc);
    if (fn == AN_SETTLING_TIME) {
        int has_band = json_object_get(obj, "band") != NULL;
        int has_fraction = json_object_get(obj, "band_fraction") != NULL;
        if (has_band && has_fraction)
            errors__add_at(errs, TWIN_E_OUT_OF_RANGE, base, "band_fraction",
                   "settling_time takes band (a half-width) or "
                   "band_fraction (of |target|), not both");
        else if (!has_band && !has_fraction)
            errors__add_at(errs, TWIN_E_MISSING_FIELD, base, "band",
                   "settling_time needs 'band', the half-width of the band "
                   "around target (or 'band_fraction', a fraction of "
                   "|target|)");
        else if (has_fraction && spec->has_target && spec->target == 0.0)
            errors__add_at(errs, TWIN_E_OUT_OF_RANGE, base, "band_fraction",
                   "a band_fraction of a target of 0 is an empty band; give "
                   "'band', a half-width, instead");
    }
    return errs->count == before ? 0 : -1;
}

/* ---- evaluation -------------------------------------------------------- */

/* The interpolant through the samples. */
typedef struct curve {
    gsl_interp *gi;
    gsl_interp_accel *acc;
    const double *t, *y;
    size_t n;
} curve;

static int curve_init(curve *c, const analytics_spec *spec, const double *t,
                      const double *y, size_t n)
{
    const gsl_interp_type *type = spec->interp == AN_INTERP_STEFFEN
                                      ? gsl_interp_steffen
                                      : gsl_interp_linear;
    c->t = t;
    c->y = y;
    c->n = n;
    c->gi = gsl_interp_alloc(type, n);
    c->acc = gsl_interp_accel_alloc();
    if (c->gi == NULL || c->acc == NULL)
        return -1;
    return gsl_interp_init(c->gi, t, y, n) == GSL_SUCCESS ? 0 : -1;
}

static void curve_free(curve *c)
{
    if (c->gi)
        gsl_interp_free(c->gi);
    if (c->acc)
        gsl_interp_accel_free(c->acc);
}

static int curve_integ(curve *c, double a, double b, double *out)
{
    return gsl_interp_eval_integ_e(c->gi, c->t, c->y, a, b, c->acc, out);
}

typedef struct level_fn {
    curve *c;
    double level;
} level_fn;

static double minus_level(double x, void *arg)
{
    level_fn *lf = arg;
    return gsl_interp_eval(lf->c->gi, lf->c->t, lf->c->y, x, lf->c->acc) -
           lf->level;
}

/* The time in [t[i], t[i+1]] where the interpolant equals level, which
 * the two samples bracket (Brent's method). */
static int curve_root(curve *c, size_t i, double level, double *out)
{
    double lo = c->t[i], hi = c->t[i + 1];
    if (c->y[i] == level) {
        *out = lo;
        return 0;
    }
    if (c->y[i + 1] == level) {
        *out = hi;
        return 0;
    }
    level_fn lf = {c, level};
    gsl_function f = {minus_level, &lf};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (s == NULL || gsl_root_fsolver_set(s, &f, lo, hi) != GSL_SUCCESS) {
        if (s)
            gsl_root_fsolver_free(s);
        return -1;
    }
    int status = GSL_CONTINUE;
    double tol = 1e-13 * (hi - lo);
    for (int iter = 0; iter < 200 && status == GSL_CONTINUE; iter++) {
        if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS)
            break;
        status = gsl_root_test_interval(gsl_root_fsolver_x_lower(s),
                                        gsl_root_fsolver_x_upper(s), tol,
                                        4 * GSL_DBL_EPSILON);
    }
    *out = gsl_root_fsolver_root(s);
    gsl_root_fsolver_free(s);
    return status == GSL_SUCCESS ? 0 : -1;
}

static int eval_moving_average(const analytics_spec *spec, curve *c,
                               double *value, char *why, size_t why_len)
{
    const double *t = c->t;
    size_t n = c->n;
    double w = spec->window, slack = 1e-9 * (t[n - 1] - t[0]);
    /* cum[i] = ∫ from t0 to t[i]; a window's integral is a difference of
     * two, each piece from GSL, so the cost is linear in n. */
    double *cum = malloc(n * sizeof *cum);
    if (cum == NULL) {
        snprintf(why, why_len, "out of memory for a moving average of %zu "
                 "samples", n);
        return AN_FAILED;
    }
    int rc = AN_FAILED;
    cum[0] = 0.0;
    for (size_t i = 1; i < n; i++) {
        double piece;
        if (curve_integ(c, t[i - 1], t[i], &piece) != GSL_SUCCESS)
            goto gsl_failed;
        cum[i] = cum[i - 1] + piece;
    }
    size_t j = 0, count = 0;
    double best = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = t[i] - w;
        if (a < t[0] - slack)
            continue;
        if (a < t[0])
            a = t[0];
        while (j + 1 < n && t[j + 1] <= a)
            j++;
        double head = 0.0;
        if (a > t[j] && curve_integ(c, t[j], a, &head) != GSL_SUCCESS)
            goto gsl_failed;
        double m = (cum[i] - (cum[j] + head)) / w;
        if (count == 0 || spec->then == AN_THEN_FINAL ||
            (spec->then == AN_THEN_MAX && m > best) ||
            (spec->then == AN_THEN_MIN && m < best))
            best = m;
        count++;
    }
    if (count == 0) {
        snprintf(why, why_len, "the window of %g s is longer than the "
                 "series' %g s", w, t[n - 1] - t[0]);
        rc = AN_UNDEFINED;
    } else {
        *value = best;
        rc = AN_OK;
    }
    free(cum);
    return rc;
gsl_failed:
    snprintf(why, why_len, "GSL could not integrate the interpolant");
    free(cum);
    return AN_FAILED;
}

static int eval_crossing(const analytics_spec *spec, curve *c,
                         const char *label, double *value, char *why,
                         size_t why_len)
{
    const double *y = c->y;
    double thr = spec->threshold;
    for (size_t i = 0; i + 1 < c->n; i++) {
        int up = y[i] < thr && y[i + 1] >= thr;
        int down = y[i] > thr && y[i + 1] <= thr;
        if ((up && spec->direction != AN_DIR_DOWN) ||
            (down && spec->direction != AN_DIR_UP)) {
            if (curve_root(c, i, thr, value) != 0) {
                snprintf(why, why_len, "GSL's root finder did not converge "
                         "on the crossing between t = %.17g and %.17g",
                         c->t[i], c->t[i + 1]);
                return AN_FAILED;
            }
            return AN_OK;
        }
    }
    double lo = gsl_stats_min(y, 1, c->n), hi = gsl_stats_max(y, 1, c->n);
    static const char *const dirs[] = {"", " upward", " downward"};
    snprintf(why, why_len, "%s never crosses %g%s between t = %.17g and "
             "%.17g (it stays within [%g, %g])", label, thr,
             dirs[spec->direction], c->t[0], c->t[c->n - 1], lo, hi);
    return AN_UNDEFINED;
}

static int eval_settling(const analytics_spec *spec, curve *c,
                         const char *label, double *value, char *why,
                         size_t why_len)
{
    const double *t = c->t, *y = c->y;
    size_t n = c->n;
    double target = spec->has_target ? spec->target : y[n - 1];
    double h = isnan(spec->band) ? spec->band_fraction * fabs(target)
                                 : spec->band;
    if (!(h > 0.0)) {
        snprintf(why, why_len, "a band_fraction of %g around a target of %g "
                 "(%s) is empty", spec->band_fraction, target,
                 spec->has_target ? "given" : "the final value");
        return AN_UNDEFINED;
    }
    size_t last_out = n; /* n: never outside */
    for (size_t i = n; i-- > 0;)
        if (fabs(y[i] - target) > h) {
            last_out = i;
            break;
        }
    if (last_out == n) {
        *value = t[0];
        return AN_OK;
    }
    if (last_out == n - 1) {
        snprintf(why, why_len, "%s never settles inside [%g, %g]: at the "
                 "end (t = %.17g) it is %g", label, target - h, target + h,
                 t[n - 1], y[n - 1]);
        return AN_UNDEFINED;
    }
    double edge = y[last_out] > target ? target + h : target - h;
    if (curve_root(c, last_out, edge, value) != 0) {
        snprintf(why, why_len, "GSL's root finder did not converge on the "
                 "band's edge between t = %.17g and %.17g", t[last_out],
                 t[last_out + 1]);
        return AN_FAILED;
    }
    return AN_OK;
}

static int eval_on_curve(const analytics_spec *spec, const double *t,
                         const double *y, size_t n, const char *label,
                         double *value, char *why, size_t why_len)
{
    curve c = {0};
    int rc = AN_FAILED;
    if (curve_init(&c, spec, t, y, n) != 0) {
        snprintf(why, why_len, "GSL could not set up the %s interpolant of "
                 "%zu samples", spec->interp == AN_INTERP_STEFFEN ? "Steffen"
                                                                  : "linear",
                 n);
        goto exit;
    }
    switch (spec->fn) {
    case AN_INTEGRAL:
    case AN_TIME_MEAN:
        if (curve_integ(&c, t[0], t[n - 1], value) != GSL_SUCCESS) {
            snprintf(why, why_len, "GSL could not integrate the "
                     "interpolant");
            goto exit;
        }
        if (spec->fn == AN_TIME_MEAN)
            *value /= t[n - 1] - t[0];
        rc = AN_OK;
        break;
    case AN_MOVING_AVERAGE:
        rc = eval_moving_average(spec, &c, value, why, why_len);
        break;
    case AN_CROSSING_TIME:
        rc = eval_crossing(spec, &c, label, value, why, why_len);
        break;
    case AN_SETTLING_TIME:
        rc = eval_settling(spec, &c, label, value, why, why_len);
        break;
    default:
        snprintf(why, why_len, "%s is not a time-weighted function",
                 analytics__name(spec->fn));
        break;
    }
exit:
    curve_free(&c);
    return rc;
}

int analytics__eval(const analytics_spec *spec, const double *t,
                    const double *y, size_t n, const char *label,
                    double *value, char *why, size_t why_len)
{
    gsl_set_error_handler_off();
    const char *name = analytics__name(spec->fn);
    size_t need = analytics__min_samples(spec);
    if (n < need) {
        snprintf(why, why_len, "%s needs at least %zu samples of %s, not "
                 "%zu", name, need, label, n);
        return AN_UNDEFINED;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i])) {
            if (t != NULL)
                snprintf(why, why_len, "%s is %g at t = %.17g (sample %zu); "
                         "%s is only defined on finite values", label, y[i],
                         t[i], i, name);
            else
                snprintf(why, why_len, "%s is %g at sample %zu; %s is only "
                         "defined on finite values", label, y[i], i, name);
            return AN_UNDEFINED;
        }
    int rc = AN_OK;
    switch (spec->fn) {
    case AN_MEAN:
        *value = gsl_stats_mean(y, 1, n);
        break;
    case AN_STDDEV:
        *value = gsl_stats_sd(y, 1, n);
        break;
    case AN_MIN:
        *value = gsl_stats_min(y, 1, n);
        break;
    case AN_MAX:
        *value = gsl_stats_max(y, 1, n);
        break;
    case AN_FINAL:
        *value = y[n - 1];
        break;
    case AN_PERCENTILE: {
        double *sorted = malloc(n * sizeof *sorted);
        if (sorted == NULL) {
            snprintf(why, why_len, "out of memory sorting %zu samples", n);
            return AN_FAILED;
        }
        memcpy(sorted, y, n * sizeof *sorted);
        gsl_sort(sorted, 1, n);
        *value = gsl_stats_quantile_from_sorted_data(sorted, 1, n,
                                                     spec->p / 100.0);
        free(sorted);
        break;
    }
    default:
        if (t == NULL) {
            snprintf(why, why_len, "%s needs the sample times", name);
            return AN_FAILED;
        }
        if (spec->fn == AN_MOVING_AVERAGE &&
            spec->window > (t[n - 1] - t[0]) * (1 + 1e-9)) {
            snprintf(why, why_len, "the moving average's window of %g s is "
                     "longer than the %g s %s spans", spec->window,
                     t[n - 1] - t[0], label);
            return AN_UNDEFINED;
        }
        rc = eval_on_curve(spec, t, y, n, label, value, why, why_len);
        break;
    }
    if (rc == AN_OK && !isfinite(*value)) {
        snprintf(why, why_len, "%s of %s is %g, which no JSON number holds",
                 name, label, *value);
        return AN_UNDEFINED;
    }
    return rc;
}

/* ---- call -------------------------------------------------------------- */

/* Read args' member key as an array of numbers into a new array.
 * Returns the count, 0 when absent, or (size_t)-1 when reported. */
static size_t read_numbers(const json_t *args, const char *key, double **out,
                           twin_errors *errs)
{
    const json_t *arr = json_object_get(args, key);
    *out = NULL;
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        errors__add_at(errs, json_is_array(arr) ? TWIN_E_OUT_OF_RANGE
                                        : TWIN_E_WRONG_TYPE, "", key,
               "'%s' must be a non-empty array of numbers, not %s", key,
               json_is_array(arr) ? "an empty one" : errors__json_kind(arr));
        return (size_t)-1;
    }
    size_t n = json_array_size(arr), before = errs->count;
    double *v = malloc(n * sizeof *v);
    if (v == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory reading %zu "
                    "values of '%s'", n, key);
        return (size_t)-1;
    }
    char base[16];
    snprintf(base, sizeof base, "/%s", key);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        char *p = errors__pathi(base, i);
        if (!json_is_number(x))
            errors__add(errs, TWIN_E_WRONG_TYPE, p ? p : base, "%s[%zu] must "
                        "be a number, not %s", key, i, errors__json_kind(x));
        else if (!isfinite(v[i] = json_number_value(x)))
            errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : base, "%s[%zu] "
                        "must be finite", key, i);
        else if (strcmp(key, "t") == 0 && i > 0 && !(v[i] > v[i - 1]) &&
                 errs->count == before)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : base, "times must "
                        "increase: t[%zu] = %g follows t[%zu] = %g", i, v[i],
                        i - 1, v[i - 1]);
        free(p);
    }
    if (errs->count > before) {
        free(v);
        return (size_t)-1;
    }
    *out = v;
    return n;
}

analytics_status analytics_call(const char *name, const json_t *args,
                                json_t **value, twin_errors *errs)
{
    static const char *const own[] = {"t", "y", NULL};
    analytics_fn fn;
    analytics_spec spec;
    double *t = NULL, *y = NULL;
    analytics_status status = ANALYTICS_FAILED;
    *value = NULL;
    gsl_set_error_handler_off();
    if (name == NULL || analytics__find(name, &fn) != 0)
        return ANALYTICS_NOT_BUILTIN;
    if (!json_is_object(args)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "", "the arguments of %s are "
                    "an object {\"y\": [...]%s, ...}, not %s", name,
                    builtins[fn].needs_time ? ", \"t\": [...]" : "",
                    errors__json_kind(args));
        return ANALYTICS_FAILED;
    }
    size_t before = errs->count;
    size_t ny = read_numbers(args, "y", &y, errs);
    size_t nt = read_numbers(args, "t", &t, errs);
    if (ny == 0)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/y", "%s needs \"y\", the "
                    "values, an array of numbers", name);
    if (nt == 0 && builtins[fn].needs_time)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/t", "%s is time-weighted "
                    "and needs \"t\", the sample times, an array of "
                    "increasing numbers as long as \"y\"", name);
    analytics__parse(fn, args, "", own, &spec, errs);
    if (errs->count > before)
        goto exit;
    if (t != NULL && nt != ny) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/t", "\"t\" has %zu values "
                    "and \"y\" %zu; give one time per value", nt, ny);
        goto exit;
    }
    if (ny < analytics__min_samples(&spec)) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/y", "%s%s needs at least "
                    "%zu values, not %zu", name,
                    spec.interp == AN_INTERP_STEFFEN &&
                            builtins[fn].needs_time
                        ? " with Steffen interpolation" : "",
                    analytics__min_samples(&spec), ny);
        goto exit;
    }
    if (fn == AN_MOVING_AVERAGE &&
        spec.window > (t[ny - 1] - t[0]) * (1 + 1e-9)) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/window", "the window of %g "
                    "s is longer than the %g s from the first to the last "
                    "time", spec.window, t[ny - 1] - t[0]);
        goto exit;
    }
    double x;
    char why[1024];
    int rc = analytics__eval(&spec, t, y, ny, "y", &x, why, sizeof why);
    if (rc == AN_OK) {
        *value = json_real(x);
        status = *value ? ANALYTICS_OK : ANALYTICS_FAILED;
    } else if (rc == AN_UNDEFINED) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/y", "%s", why);
        *value = json_null();
        status = ANALYTICS_UNDEFINED;
    } else {
        errors__add(errs, TWIN_E_INTERNAL, "", "%s", why);
    }
    if (status == ANALYTICS_FAILED && rc == AN_OK)
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
exit:
    free(t);
    free(y);
    return status;
}

/* ---- describe ---------------------------------------------------------- */

static json_t *param_json(const char *name, const char *type,
                          const char *unit, const char *doc, int required)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:b}", "name", name, "type", type,
                     "unit", unit ? json_string(unit) : json_null(), "doc",
                     doc, "required", required);
}

json_t *analytics_describe(void)
{
    json_t *out = json_array();
    for (int f = 0; out != NULL && f < AN__COUNT; f++) {
        const an_builtin *b = &builtins[f];
        json_t *ps = json_array();
        json_array_append_new(ps, param_json(
            "t", "double[]", "s", b->needs_time
                ? "Sample times, strictly increasing, one per value."
                : "Sample times (not used by this function; checked when "
                  "given, so one argument object serves every function).",
            b->needs_time));
        json_array_append_new(ps, param_json("y", "double[]", "[y]",
                                             "Sample values.", 1));
        for (size_t i = 0; i < b->n_use; i++) {
            const an_param *pd = &params[b->use[i]];
            json_t *p = param_json(pd->name, pd->type, pd->unit, pd->doc,
                                   (b->required >> i) & 1u);
            if (pd->values != NULL) {
                json_t *vals = json_array();
                for (int k = 0; pd->values[k]; k++)
                    json_array_append_new(vals, json_string(pd->values[k]));
                json_object_set_new(p, "values", vals);
                json_object_set_new(p, "default",
                                    json_string(pd->values[0]));
            }
            json_array_append_new(ps, p);
        }
        json_array_append_new(out, json_pack(
            "{s:s, s:s, s:s, s:o, s:{s:s, s:s}}", "name", b->name, "kind",
            "builtin", "doc", b->doc, "params", ps, "returns", "type",
            "double", "unit", b->unit));
    }
    return out;
}
