/*
 * pace.c — absolute-deadline pacing and lateness statistics.
 *
 * Lateness goes into a histogram of 1 µs bins up to 10 ms, then 100 µs
 * bins up to 1 s, then one overflow bin: bounded memory however long a
 * live twin runs, with percentiles exact to a bin.
 */
#include "pace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define FINE_BINS 10000      /* 0..10 ms by 1 µs */
#define COARSE_BINS 9900     /* 10 ms..1 s by 100 µs */
#define N_BINS (FINE_BINS + COARSE_BINS + 1)

static double ts_seconds(const struct timespec *t)
{
    return (double)t->tv_sec + 1e-9 * (double)t->tv_nsec;
}

static struct timespec deadline_of(const pace *p, uint64_t k)
{
    double off = p->period * (double)k;
    double whole = floor(off);
    struct timespec d = p->start;
    d.tv_sec += (time_t)whole;
    d.tv_nsec += (long)((off - whole) * 1e9);
    while (d.tv_nsec >= 1000000000L) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000L;
    }
    return d;
}

static size_t bin_of(double lateness)
{
    double us = lateness * 1e6;
    if (us < FINE_BINS)
        return (size_t)us;
    double coarse = (us - FINE_BINS) / 100.0;
    if (coarse < COARSE_BINS)
        return FINE_BINS + (size_t)coarse;
    return N_BINS - 1;
}

static double bin_upper(size_t b)
{
    if (b < FINE_BINS)
        return (double)(b + 1) * 1e-6;
    if (b < FINE_BINS + COARSE_BINS)
        return (FINE_BINS + (double)(b - FINE_BINS + 1) * 100.0) * 1e-6;
    return INFINITY;
}

int pace__init(pace *p, double period)
{
    p->period = period;
    p->stop = NULL;
    p->count = p->late = p->missed = 0;
    p->max = 0.0;
    p->hist = calloc(N_BINS, sizeof *p->hist);
    if (p->hist == NULL)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    return 0;
}

double pace__wait(pace *p, uint64_t k, int *late)
{
    *late = 0;
    if (k == 0)
        return 0.0; /* tick 0's deadline is the start: nothing to wait for */
    struct timespec d = deadline_of(p, k), now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    *late = ts_seconds(&now) > ts_seconds(&d);
    if (!*late) {
        /* A stop asked for before the sleep, or during it, ends it. */
        if (p->stop != NULL && *p->stop)
            return 0.0;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) ==
               EINTR)
            if (p->stop != NULL && *p->stop)
                return 0.0;
        clock_gettime(CLOCK_MONOTONIC, &now);
    }
    double lateness = fmax(0.0, ts_seconds(&now) - ts_seconds(&d));
    p->count++;
    p->late += *late;
    p->missed += lateness >= p->period;
    if (lateness > p->max)
        p->max = lateness;
    p->hist[bin_of(lateness)]++;
    return lateness;
}

double pace__quantile(const pace *p, double q)
{
    if (p->count == 0)
        return 0.0;
    uint64_t want = (uint64_t)ceil(q * (double)p->count), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t b = 0; b < N_BINS; b++) {
        seen += p->hist[b];
        if (seen >= want)
            return fmin(bin_upper(b), p->max);
    }
    return p->max;
}

void pace__free(pace *p)
{
    free(p->hist);
    p->hist = NULL;
}
