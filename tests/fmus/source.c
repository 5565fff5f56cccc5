/*
 * source — a flow that grows linearly in time, test FMU: q = q0 + a·t,
 * to feed the reference tank (whose level then has a closed form).
 */
#include "tm.h"

enum { Q, Q0, A, NV };

static const double start[NV] = {[Q0] = 0.01, [A] = 1e-5};

static int compute(tm_inst *m)
{
    m->v[Q] = m->v[Q0] + m->v[A] * m->t;
    return TM_OK;
}

const tm_model tm_model_def = {.nv = NV, .start = start, .compute = compute};
