/*
 * bench.h — what the floor programs share and is not the plant: the wall
 * clock they time themselves on, their reading of numbers from the command
 * line, and the freeing of one CVODE integrator with its linear solver,
 * matrix and vector.  The plants are theirs (floor_chains.c,
 * floor_cascade.c).
 */
#ifndef BENCH_H
#define BENCH_H

#include <nvector/nvector_serial.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>

/* Seconds on CLOCK_MONOTONIC. */
double bench__now(void);

/* s as a finite number (strtod, nothing after it): 0 with it in
 * *out, else -1. */
int bench__number(const char *s, double *out);

/* CVodeFree(cvode) and destroy ls, jac and y, each when not NULL; all four
 * are NULL afterwards. */
void bench__cvode_free(void **cvode, SUNLinearSolver *ls, SUNMatrix *jac,
                       N_Vector *y);

#endif
