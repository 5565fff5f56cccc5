/*
 * fmupump — the reference pump (reference-models.md) as an FMU, for the
 * benchmark: dw/dt = (cmd − w)/tau, q = q_max·w, power = p_rated·w³.
 */
#include "tm.h"

enum { W, DER_W, TAU, Q_MAX, P_RATED, CMD, Q, POWER, NV };

static const double start[NV] = {
    [W] = 0, [TAU] = 5, [Q_MAX] = 0.05, [P_RATED] = 7500,
};
static const unsigned x[] = {W}, dx[] = {DER_W};

static int compute(tm_inst *m)
{
    double *v = m->v;
    v[DER_W] = (v[CMD] - v[W]) / v[TAU];
    v[Q] = v[Q_MAX] * v[W];
    v[POWER] = v[P_RATED] * v[W] * v[W] * v[W];
    return TM_OK;
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .nx = 1, .x = x, .dx = dx, .compute = compute,
};
