/*
 * plot_stats.c — the envelope of a batch's cases on GSL (see
 * plot_stats.h).
 */
#include "plot_stats.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

void plotstats__free(plot_envelope *env)
{
    free(env->min);
    free(env->max);
    free(env->median);
    free(env->lo);
    free(env->hi);
    free(env->count);
    *env = (plot_envelope){0};
}

int plotstats__envelope(const double *y, size_t n_cases, size_t n_points,
                        double p_lo, double p_hi, plot_envelope *env)
{
    *env = (plot_envelope){.n = n_points};
    size_t np = n_points ? n_points : 1; /* malloc(0) may be NULL */
    double *sample = malloc((n_cases ? n_cases : 1) * sizeof *sample);
    env->min = malloc(np * sizeof *env->min);
    env->max = malloc(np * sizeof *env->max);
    env->median = malloc(np * sizeof *env->median);
    env->lo = malloc(np * sizeof *env->lo);
    env->hi = malloc(np * sizeof *env->hi);
    env->count = malloc(np * sizeof *env->count);
    if (sample == NULL || env->min == NULL || env->max == NULL ||
        env->median == NULL || env->lo == NULL || env->hi == NULL ||
        env->count == NULL) {
        free(sample);
        plotstats__free(env);
        return -1;
    }
    for (size_t j = 0; j < n_points; j++) {
        size_t m = 0;
        for (size_t c = 0; c < n_cases; c++) {
            double v = y[c * n_points + j];
            if (isfinite(v))
                sample[m++] = v;
        }
        env->count[j] = m;
        if (m == 0) {
            env->min[j] = env->max[j] = env->median[j] = NAN;
            env->lo[j] = env->hi[j] = NAN;
            continue;
        }
        gsl_sort(sample, 1, m);
        env->min[j] = sample[0];
        env->max[j] = sample[m - 1];
        env->median[j] = gsl_stats_median_from_sorted_data(sample, 1, m);
        env->lo[j] = gsl_stats_quantile_from_sorted_data(sample, 1, m,
                                                         p_lo / 100.0);
        env->hi[j] = gsl_stats_quantile_from_sorted_data(sample, 1, m,
                                                         p_hi / 100.0);
    }
    free(sample);
    return 0;
}
