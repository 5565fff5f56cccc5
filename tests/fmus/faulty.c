/*
 * faulty — an FMU that fails, test FMU (as tests/plugins/failing.c):
 * x' = −x until t_fail, then by mode: 0 an error status (with a message),
 * 2 a NaN derivative and output, 4 a segmentation fault, 6 an endless
 * loop.
 */
#include <math.h>
#include <signal.h>

#include "tm.h"

enum { X, DER_X, Y, MODE, T_FAIL, NV };

static const double start[NV] = {[X] = 1, [MODE] = 0, [T_FAIL] = 5};
static const unsigned x[] = {X}, dx[] = {DER_X};

static int compute(tm_inst *m)
{
    m->v[DER_X] = -m->v[X];
    m->v[Y] = m->v[X];
    if (m->t < m->v[T_FAIL])
        return TM_OK;
    switch ((int)m->v[MODE]) {
    case 0:
        tm__logf(m, TM_ERROR, "faulty fails on purpose at t = %g", m->t);
        return TM_ERROR;
    case 2:
        m->v[DER_X] = NAN;
        m->v[Y] = NAN;
        return TM_OK;
    case 4:
        raise(SIGSEGV);
        return TM_FATAL;
    default:
        for (volatile int forever = 1; forever;)
            ;
        return TM_FATAL;
    }
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .nx = 1, .x = x, .dx = dx, .compute = compute,
};
