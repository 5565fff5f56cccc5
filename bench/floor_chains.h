/*
 * floor_chains.h — the tank-farm-N reference scenario written straight
 * against CVODE, with no twinctl code: the "floor" that the controller's
 * speed is measured against (bench/floor_tankfarm.c in batch,
 * bench/floor_rt.c paced).
 *
 * This owns the equations of pump → tank → pi per chain, the two ways of
 * integrating them (one CVODE per chain, or one over all chains with a
 * band solver), their restart rules and the solver counters.  It does
 * the same work per tick as the controller's loop (inputs, PI tick, row,
 * integrate to the next tick) and nothing more; the programs own timing,
 * pacing and printing of the summary.
 */
#ifndef FLOOR_CHAINS_H
#define FLOOR_CHAINS_H

#include <stdint.h>

typedef struct floor_farm floor_farm;

typedef struct floor_stats {
    uint64_t steps;      /* CVodeGetNumSteps, summed over restarts */
    uint64_t rhs_evals;  /* CVodeGetNumRhsEvals (not the DQ-Jacobian ones) */
    uint64_t restarts;   /* CVodeReInit calls (input jumps and roots) */
    uint64_t roots;      /* CV_ROOT_RETURNs (tank overflow crossings) */
    uint64_t warnings;   /* CVODE warnings (only the first is printed) */
} floor_stats;

/* Build n_chains chains at t = 0 (h = 1, w = 0, integral = 0), each with
 * its own CVODE instance already CVodeInit'ed.  Returns NULL after printing
 * what failed to stderr. */
floor_farm *floor__new(int n_chains);

/* The same chains in ONE CVODE over all 2N states with the band linear
 * solver, restarted when any chain's input jumped or at a root
 * (floor_chains.c, "Stacked").  NULL after printing what failed. */
floor_farm *floor__new_stacked(int n_chains);

/* Tick k of n at t_k = k·dt: set the valves, tick the PIs, build the row
 * and add it into the checksum, and, if k < n, integrate every chain to
 * t_{k+1}.  Returns 0, or -1 after printing the failing CVODE call and its
 * flag name to stderr. */
int floor__tick(floor_farm *f, long k, long n, double dt);

/* Solver counters so far (including what the live integrators hold).
 * Returns 0 or -1 (printed). */
int floor__stats(floor_farm *f, floor_stats *out);

/* Sum of every value of every row emitted so far, t included, in row
 * order. */
double floor__checksum(const floor_farm *f);

/* Tank level of chain i now. */
double floor__level(const floor_farm *f, int i);

void floor__free(floor_farm **f);

#endif
