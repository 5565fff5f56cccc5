/*
 * batch_draw.c — Monte Carlo draws for a batch (see batch_draw.h): the
 * distributions are GSL's (gsl_ran_*), on GSL's MT19937; only the
 * triangular distribution, which GSL lacks, is drawn here, by inverting
 * its distribution function on one uniform variate.
 */
#include "batch_draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Draws a bounded distribution may reject in a row before the bounds are
 * judged to keep too little of it. */
#define DRAW_MAX_TRIES 10000

static const struct {
    const char *name;
    draw_kind kind;
    const char *param[3];   /* required parameters */
    const char *what;       /* for sentences */
} kinds[] = {
    {"uniform", DRAW_UNIFORM, {"min", "max", NULL}, "a uniform distribution"},
    {"normal", DRAW_NORMAL, {"mean", "sd", NULL}, "a normal distribution"},
    {"lognormal", DRAW_LOGNORMAL, {"mu", "sigma", NULL},
     "a lognormal distribution (mu and sigma of log x)"},
    {"triangular", DRAW_TRIANGULAR, {"min", "mode", "max"},
     "a triangular distribution"},
    {"choice", DRAW_CHOICE, {NULL, NULL, NULL}, "a choice"},
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

int draw__number(const json_t *obj, const char *key, const char *path,
                 const char *needed_by, double *out, twin_errors *errs)
{
    const json_t *v = json_object_get(obj, key);
    char *p = errors__path(path, key);
    int status = 0;
    if (v == NULL) {
        if (needed_by != NULL)
            errors__add(errs, TWIN_E_MISSING_FIELD, p ? p : path,
                        "%s needs \"%s\"", needed_by, key);
        status = needed_by ? -1 : 0;
    } else if (!json_is_number(v)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, p ? p : path,
                    "\"%s\" must be a number, not %s", key, errors__json_kind(v));
        status = -1;
    } else if (!isfinite(json_number_value(v))) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path,
                    "\"%s\" must be finite", key);
        status = -1;
    } else {
        *out = json_number_value(v);
        status = 1;
    }
    free(p);
    return status;
}

static int parse_choice(const json_t *def, const char *path, batch_dist *d,
                        twin_errors *errs)
{
    const json_t *vals = json_object_get(def, "values");
    char *p = errors__path(path, "values");
    const char *where = p ? p : path;
    int status = -1;
    if (vals == NULL) {
        errors__add(errs, TWIN_E_MISSING_FIELD, where, "a choice needs "
                    "\"values\": the numbers to choose among");
    } else if (!json_is_array(vals) || json_array_size(vals) == 0) {
        errors__add(errs, TWIN_E_WRONG_TYPE, where, "\"values\" must be a "
                    "non-empty array of numbers");
    } else if ((d->values = calloc(json_array_size(vals),
                                   sizeof(double))) != NULL) {
        status = 0;
        size_t i;
        const json_t *v;
        json_array_foreach(vals, i, v) {
            if (json_is_number(v) && isfinite(json_number_value(v))) {
                d->values[d->n_values++] = json_number_value(v);
                continue;
            }
            char *vp = errors__pathi(where, i);
            errors__add(errs, TWIN_E_WRONG_TYPE, vp ? vp : where,
                        "each of \"values\" must be a finite number, not %s",
                        errors__json_kind(v));
            free(vp);
            status = -1;
        }
    } else {
        errors__add(errs, TWIN_E_INTERNAL, where, "out of memory");
    }
    if (json_object_get(def, "min") || json_object_get(def, "max")) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "a choice draws "
                    "among its \"values\": leave out \"min\" and \"max\"");
        status = -1;
    }
    free(p);
    return status;
}

/* The parameters' own constraints, each reported at its member. */
static int check_params(const batch_dist *d, const char *path,
                        twin_errors *errs)
{
    char *p = NULL;
    int status = 0;
#define BAD(member, ...)                                                  \
    do {                                                                  \
        free(p);                                                          \
        p = errors__path(path, member);                                   \
        errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path, __VA_ARGS__); \
        status = -1;                                                      \
    } while (0)
    switch (d->kind) {
    case DRAW_UNIFORM:
        if (!(d->p[0] < d->p[1]))
            BAD("max", "a uniform distribution needs min < max, not "
                "[%g, %g]", d->p[0], d->p[1]);
        break;
    case DRAW_NORMAL:
        if (!(d->p[1] > 0))
            BAD("sd", "the standard deviation must be positive, not %g",
                d->p[1]);
        break;
    case DRAW_LOGNORMAL:
        if (!(d->p[1] > 0))
            BAD("sigma", "sigma (the standard deviation of log x) must be "
                "positive, not %g", d->p[1]);
        break;
    case DRAW_TRIANGULAR:
        if (!(d->p[0] < d->p[2]))
            BAD("max", "a triangular distribution needs min < max, not "
                "[%g, %g]", d->p[0], d->p[2]);
        else if (d->p[1] < d->p[0] || d->p[1] > d->p[2])
            BAD("mode", "the mode %g must lie in [min, max] = [%g, %g]",
                d->p[1], d->p[0], d->p[2]);
        break;
    case DRAW_CHOICE:
        break;
    }
    if (status == 0 && !(d->lo < d->hi))
        BAD("max", "the draws are bounded to [min, max] = [%g, %g]: min "
            "must be below max", d->lo, d->hi);
#undef BAD
    free(p);
    return status;
}

int draw__parse(const json_t *def, const char *path, batch_dist *d,
                twin_errors *errs)
{
    memset(d, 0, sizeof *d);
    d->lo = -INFINITY;
    d->hi = INFINITY;
    const json_t *name = json_object_get(def, "dist");
    char *p = errors__path(path, "dist");
    const char *where = p ? p : path;
    size_t k = N_KINDS;
    if (name == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, where, "a Monte Carlo factor "
                    "needs \"dist\": uniform, normal, lognormal, triangular "
                    "or choice");
    else if (!json_is_string(name))
        errors__add(errs, TWIN_E_WRONG_TYPE, where, "\"dist\" must be a "
                    "distribution's name, not %s", errors__json_kind(name));
    else
        for (k = 0; k < N_KINDS; k++)
            if (strcmp(kinds[k].name, json_string_value(name)) == 0)
                break;
    if (name != NULL && json_is_string(name) && k == N_KINDS)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, where, "there is no "
                    "distribution '%s': use uniform, normal, lognormal, "
                    "triangular or choice", json_string_value(name));
    free(p);
    if (k == N_KINDS)
        return -1;
    d->kind = kinds[k].kind;
    if (d->kind == DRAW_CHOICE)
        return parse_choice(def, path, d, errs);

    int ok = 1;
    for (size_t i = 0; i < 3 && kinds[k].param[i] != NULL; i++)
        if (draw__number(def, kinds[k].param[i], path, kinds[k].what,
                         &d->p[i], errs) != 1)
            ok = 0;
    if (d->kind == DRAW_UNIFORM) {
        d->lo = d->p[0];
        d->hi = d->p[1];
    } else if (d->kind == DRAW_TRIANGULAR) {
        d->lo = d->p[0];
        d->hi = d->p[2];
    } else {
        if (draw__number(def, "min", path, NULL, &d->lo, errs) < 0)
            ok = 0;
        if (draw__number(def, "max", path, NULL, &d->hi, errs) < 0)
            ok = 0;
    }
    if (!ok)
        return -1;
    return check_params(d, path, errs);
}

unsigned long draw__stream_seed(uint64_t seed, size_t k)
{
    /* SplitMix64 (Steele, Lea, Flood 2014): the (k+1)-th output of the
     * generator started at seed. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (unsigned long)(z & 0xffffffffULL);
}

/* One variate of the unbounded distribution. */
static double variate(const batch_dist *d, gsl_rng *r)
{
    switch (d->kind) {
    case DRAW_UNIFORM:
        return gsl_ran_flat(r, d->p[0], d->p[1]);
    case DRAW_NORMAL:
        return d->p[0] + gsl_ran_gaussian(r, d->p[1]);
    case DRAW_LOGNORMAL:
        return gsl_ran_lognormal(r, d->p[0], d->p[1]);
    case DRAW_TRIANGULAR: {
        /* F(x) = (x−a)²/((b−a)(c−a)) on [a, c], 1 − (b−x)²/((b−a)(b−c))
         * on [c, b]: inverted at a uniform u. */
        double a = d->p[0], c = d->p[1], b = d->p[2];
        double u = gsl_rng_uniform(r), fc = (c - a) / (b - a);
        return u < fc ? a + sqrt(u * (b - a) * (c - a))
                      : b - sqrt((1 - u) * (b - a) * (b - c));
    }
    case DRAW_CHOICE:
        return d->values[gsl_rng_uniform_int(r, d->n_values)];
    }
    return NAN;
}

int draw__stream(const batch_dist *d, uint64_t seed, size_t k, size_t count,
                 double *out, size_t stride, char *why, size_t why_len)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r == NULL) {
        snprintf(why, why_len, "out of memory for a random number "
                 "generator");
        return -1;
    }
    gsl_rng_set(r, draw__stream_seed(seed, k));
    int status = 0;
    for (size_t j = 0; j < count && status == 0; j++) {
        double x = variate(d, r);
        int tries = 1;
        while (!(x >= d->lo && x <= d->hi) && tries < DRAW_MAX_TRIES) {
            x = variate(d, r);
            tries++;
        }
        if (!(x >= d->lo && x <= d->hi)) {
            snprintf(why, why_len, "the bounds [%g, %g] keep too little of "
                     "the distribution: %d draws in a row fell outside "
                     "them", d->lo, d->hi, DRAW_MAX_TRIES);
            status = -1;
        }
        out[j * stride] = x;
    }
    gsl_rng_free(r);
    return status;
}

void draw__free(batch_dist *d)
{
    free(d->values);
    d->values = NULL;
    d->n_values = 0;
}
