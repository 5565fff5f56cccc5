/*
 * plot_stats.h — the envelope of a batch's cases, per time step, for
 * `twinctl plot --envelope`.
 *
 * The cases of a batch share one time grid, so at each point in time the
 * cases' values of a channel are a sample: its smallest and largest value
 * bound the min–max band, its median is the line, and two percentiles
 * bound the inner band.  Percentiles are GSL's
 * (gsl_stats_quantile_from_sorted_data on gsl_sort'ed values), the same
 * definition as the function library's `percentile` (functions.md).
 * Values that are not finite are left out of their point's sample; a
 * point with none has NaN everywhere.
 */
#ifndef TWIN_PLOT_STATS_H
#define TWIN_PLOT_STATS_H

#include <stddef.h>

typedef struct plot_envelope {
    size_t n;          /* points in time */
    double *min, *max; /* each n values */
    double *median;
    double *lo, *hi;   /* the percentiles p_lo and p_hi */
    size_t *count;     /* finite values at each point */
} plot_envelope;

/* The envelope of n_cases series of n_points values each: the value of
 * case c at point j is y[c * n_points + j].  p_lo ≤ p_hi, both in
 * [0, 100].  Returns 0, or -1 for want of memory (env is then empty). */
int plotstats__envelope(const double *y, size_t n_cases, size_t n_points,
                        double p_lo, double p_hi, plot_envelope *env);

void plotstats__free(plot_envelope *env);

#endif
