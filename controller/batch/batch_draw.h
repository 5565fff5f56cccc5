/*
 * batch_draw.h — the distributions of a Monte Carlo batch, on GSL.
 *
 * A Monte Carlo factor names a distribution and its parameters
 * (docs/batch.md): uniform, normal, lognormal, triangular or a choice
 * among listed values, optionally bounded to [min, max] (a truncated
 * distribution, drawn by rejection).  Each factor draws from its own
 * stream: GSL's MT19937 (gsl_rng_mt19937, fixed here so that a seed gives
 * the same numbers on every machine) seeded from the batch's seed and the
 * factor's position, so that draw j of a factor is the same whatever else
 * the batch holds after it, however many draws follow, and in whatever
 * order or on however many workers the cases later run.
 */
#ifndef TWIN_BATCH_DRAW_H
#define TWIN_BATCH_DRAW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "errors.h"

typedef enum draw_kind {
    DRAW_UNIFORM,      /* min, max */
    DRAW_NORMAL,       /* mean, sd */
    DRAW_LOGNORMAL,    /* mu, sigma: of the normal variable log(x) */
    DRAW_TRIANGULAR,   /* min, mode, max */
    DRAW_CHOICE        /* values, each equally likely */
} draw_kind;

typedef struct batch_dist {
    draw_kind kind;
    double p[3];       /* the parameters, in the order above */
    double lo, hi;     /* every draw lies in [lo, hi] (±inf: unbounded) */
    double *values;    /* CHOICE */
    size_t n_values;
} batch_dist;

/* Read a factor's distribution from def (its "dist" member and the
 * parameters next to it); problems go to errs at path + "/member".
 * Returns 0, or -1 when something was reported. */
int draw__parse(const json_t *def, const char *path, batch_dist *d,
                twin_errors *errs);

/* Read the number member key of obj: 1 when there (and finite), 0 when
 * absent and optional (needed_by NULL), -1 when reported at path +
 * "/key": missing ("<needed_by> needs \"key\""), not a number, not
 * finite. */
int draw__number(const json_t *obj, const char *key, const char *path,
                 const char *needed_by, double *out, twin_errors *errs);

/* The stream seed of factor k under the batch's seed (SplitMix64 of
 * both, reduced to the 32 bits MT19937 takes). */
unsigned long draw__stream_seed(uint64_t seed, size_t k);

/* Draws 0 … count−1 of factor k: out[j·stride] = draw j.  Returns 0, or
 * -1 with a sentence in why when the bounds reject nearly every draw. */
int draw__stream(const batch_dist *d, uint64_t seed, size_t k, size_t count,
                 double *out, size_t stride, char *why, size_t why_len);

void draw__free(batch_dist *d);

#endif
