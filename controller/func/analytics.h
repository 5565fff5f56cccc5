/*
 * analytics.h — the built-in functions of the function library.
 *
 * Each built-in reduces one sampled series (times t[], values y[], n
 * samples) to one number, with GSL doing the work: statistics of the
 * samples (gsl_stats_*), percentiles from sorted data (gsl_sort,
 * gsl_stats_quantile_from_sorted_data), time-weighted quantities on an
 * interpolant through the samples (gsl_interp, gsl_interp_eval_integ) and
 * crossing and settling times as roots of that interpolant (gsl_root,
 * Brent).  What each one means on sampled data is written in
 * docs/functions.md; the table in analytics.c is the one place that names
 * the built-ins, their parameters and their documentation.
 *
 * Three users: scenario.c reads a scenario's "functions" list with
 * analytics__find and analytics__parse; functions.c evaluates them over
 * a run with analytics__eval; the `call` request and `describe` use
 * analytics_call and analytics_describe (names agreed with the plugin
 * side of the function library).  Nothing here knows about MQTT.
 */
#ifndef TWIN_ANALYTICS_H
#define TWIN_ANALYTICS_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"

typedef enum analytics_fn {
    AN_MEAN,              /* sample mean */
    AN_TIME_MEAN,         /* time-weighted mean on the interpolant */
    AN_STDDEV,            /* sample standard deviation (n − 1) */
    AN_MIN,
    AN_MAX,
    AN_PERCENTILE,        /* of the samples, p in [0, 100] */
    AN_INTEGRAL,          /* ∫ y dt on the interpolant over [t0, tn] */
    AN_MOVING_AVERAGE,    /* trailing time-window mean, reduced by `then` */
    AN_CROSSING_TIME,     /* first time the interpolant reaches a level */
    AN_SETTLING_TIME,     /* from when on it stays inside a band */
    AN_FINAL,             /* the last sample */
    AN__COUNT
} analytics_fn;

typedef enum an_interp { AN_INTERP_LINEAR, AN_INTERP_STEFFEN } an_interp;
typedef enum an_direction { AN_DIR_ANY, AN_DIR_UP, AN_DIR_DOWN } an_direction;
typedef enum an_then { AN_THEN_MAX, AN_THEN_MIN, AN_THEN_FINAL } an_then;

/* A built-in with its parameters, as read by analytics__parse.  Members a
 * function does not take keep their defaults. */
typedef struct analytics_spec {
    analytics_fn fn;
    an_interp interp;         /* time-weighted ones; linear by default */
    double p;                 /* percentile, in [0, 100] */
    double window;            /* moving_average, seconds, > 0 */
    an_then then;             /* moving_average: how the series becomes
                               * one number; max by default */
    double threshold;         /* crossing_time */
    an_direction direction;   /* crossing_time; any by default */
    int has_target;           /* settling_time: else the final value */
    double target;
    double band;              /* settling_time: half-width, or NaN */
    double band_fraction;     /* ... or a fraction of |target|, or NaN */
} analytics_spec;

/* The built-in called name.  Returns 0 and sets *fn, or -1. */
int analytics__find(const char *name, analytics_fn *fn);

const char *analytics__name(analytics_fn fn);

/* The unit of fn's result given the unit of the series ("" when the
 * series has none): "m" for a mean of metres, "m·s" for an integral, "s"
 * for a time.  Writes into buf, returns buf. */
const char *analytics__unit(analytics_fn fn, const char *y_unit, char *buf,
                            size_t len);

/* Whether fn works on the times (an interpolant) and not only on the
 * values. */
int analytics__needs_time(analytics_fn fn);

/* The fewest samples spec can be computed on (1, 2, or 3 for a Steffen
 * interpolant). */
size_t analytics__min_samples(const analytics_spec *spec);

/* Read fn's parameters from the members of obj into spec (defaults first).
 * Members named in own (a NULL-terminated list; may be NULL) belong to the
 * caller and are skipped; any other member fn does not take is reported.
 * Each problem goes to errs at base + "/" + member (missing_field,
 * wrong_type, out_of_range).  Returns 0, or -1 when something was
 * reported. */
int analytics__parse(analytics_fn fn, const json_t *obj, const char *base,
                     const char *const *own, analytics_spec *spec,
                     twin_errors *errs);

/* Outcome of evaluating a built-in. */
enum {
    AN_OK = 0,            /* *value is the result (finite) */
    AN_UNDEFINED = 1,     /* no result on this data (never crossed, never
                           * settled, a value not finite, ...): why says
                           * so, naming the series as label */
    AN_FAILED = -1        /* want of memory or a GSL failure: why says so */
};

/* Evaluate spec on n samples: t strictly increasing (read only by the
 * time-weighted built-ins; may be NULL for the others), y the values.
 * label names the series in sentences ("tank0.h").  n below
 * analytics__min_samples or a moving-average window longer than
 * t[n−1] − t[0] is AN_UNDEFINED (callers check both before, to point at
 * the cause). */
int analytics__eval(const analytics_spec *spec, const double *t,
                    const double *y, size_t n, const char *label,
                    double *value, char *why, size_t why_len);

/* ---- the call request and describe ------------------------------------ */

typedef enum analytics_status {
    ANALYTICS_OK = 0,         /* *value: a new JSON number */
    ANALYTICS_UNDEFINED,      /* *value: JSON null; errs holds one
                               * out_of_range problem at "/y" saying why
                               * (e.g. the level never crossed) */
    ANALYTICS_FAILED,         /* *value: NULL; errs lists every problem of
                               * args, each with a JSON Pointer relative to
                               * args ("/p", "/y/3", "" for args itself) and
                               * code missing_field, wrong_type or
                               * out_of_range (internal for want of memory) */
    ANALYTICS_NOT_BUILTIN     /* name is no built-in; *value NULL, nothing
                               * added to errs (a plugin function may have
                               * that name) */
} analytics_status;

/* Call the built-in name on args, a JSON object {"y": [...], "t": [...],
 * and its parameters, e.g. "p": 95}.  "y" (at least one number) is always
 * needed; "t" (as many numbers as "y", strictly increasing) only by the
 * time-weighted built-ins, and is checked whenever given.  Members other
 * than t, y and the built-in's parameters are problems.  The caller owns
 * *value. */
analytics_status analytics_call(const char *name, const json_t *args,
                                json_t **value, twin_errors *errs);

/* Every built-in, a new JSON array, one entry each:
 *   {"name", "kind": "builtin", "doc",
 *    "params": [{"name", "type" ("double", "double[]" or "string"),
 *                "unit" (null when none; "[y]" stands for the unit of y),
 *                "doc", "required" (bool), "default" (when optional and
 *                it has one), "values" (strings: the allowed ones)}],
 *    "returns": {"type": "double", "unit"}}
 * params lists "t" and "y" first, as a call passes them. */
json_t *analytics_describe(void);

#endif
