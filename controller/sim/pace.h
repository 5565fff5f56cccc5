/*
 * pace.h — wall-clock pacing of a real-time run: absolute deadlines on
 * CLOCK_MONOTONIC (so error never accumulates), lateness measured at every
 * tick into a bounded histogram for percentiles.
 */
#ifndef TWIN_PACE_H
#define TWIN_PACE_H

#include <stdint.h>
#include <time.h>

typedef struct pace {
    struct timespec start;   /* deadline of tick 0 */
    double period;           /* wall seconds per tick (dt / speed) */
    uint64_t count;          /* ticks measured */
    uint64_t late;           /* ticks whose deadline had passed already */
    uint64_t missed;         /* ticks started a whole period or more late */
    double max;              /* worst lateness, s */
    uint32_t *hist;          /* see pace.c for the bins */
    const volatile int *stop; /* optional, a sig_atomic_t (an int): when
                               * a signal set it, the wait ends early */
} pace;

/* Start the clock now: tick 0's deadline is the present. */
int pace__init(pace *p, double period);

/* Sleep until the deadline of tick k and return the lateness in seconds
 * (wake-up time − deadline, ≥ 0); or, when a signal interrupts the sleep
 * and p->stop is set, return at once (0, nothing measured): the caller
 * is to stop.  *late is set when the deadline had
 * passed before waiting (the previous tick overran).  Tick 0 starts the
 * run: it is neither waited for nor measured. */
double pace__wait(pace *p, uint64_t k, int *late);

/* The q-quantile (0..1) of the measured lateness, seconds. */
double pace__quantile(const pace *p, double q);

void pace__free(pace *p);

#endif
