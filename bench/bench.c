/*
 * bench.c — the floor programs' clock, number reading and CVODE clean-up
 * (bench.h).
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include <cvode/cvode.h>

double bench__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bench__number(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && isfinite(*out) ? 0 : -1;
}

void bench__cvode_free(void **cvode, SUNLinearSolver *ls, SUNMatrix *jac,
                       N_Vector *y)
{
    CVodeFree(cvode);
    if (*ls != NULL)
        SUNLinSolFree(*ls);
    if (*jac != NULL)
        SUNMatDestroy(*jac);
    if (*y != NULL)
        N_VDestroy(*y);
    *ls = NULL;
    *jac = NULL;
    *y = NULL;
}
