/*
 * fmutank — the reference tank (reference-models.md) as an FMU, for the
 * benchmark against the native plugin: dh/dt = (q_in − q_out)/area,
 * q_out = cv·valve·sqrt(max(h, 0)), overflow a state event at h = height.
 */
#include <math.h>

#include "tm.h"

enum { H, DER_H, AREA, CV, HEIGHT, Q_IN, VALVE, Q_OUT, OVERFLOW, Z, NV };

static const double start[NV] = {
    [H] = 1, [AREA] = 2, [CV] = 0.03, [HEIGHT] = 4, [VALVE] = 0.5,
};
static const unsigned x[] = {H}, dx[] = {DER_H};

static int compute(tm_inst *m)
{
    double *v = m->v;
    v[Q_OUT] = v[CV] * v[VALVE] * sqrt(fmax(v[H], 0));
    v[DER_H] = (v[Q_IN] - v[Q_OUT]) / v[AREA];
    v[Z] = v[H] - v[HEIGHT];
    return TM_OK;
}

static void indicators(tm_inst *m, double *z) { z[0] = m->v[Z]; }

static int init(tm_inst *m)
{
    m->v[OVERFLOW] = m->v[H] > m->v[HEIGHT];
    return TM_OK;
}

static int event(tm_inst *m)
{
    m->v[OVERFLOW] = m->v[H] >= m->v[HEIGHT];
    return TM_OK;
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .nx = 1, .x = x, .dx = dx, .nz = 1,
    .init = init, .compute = compute, .indicators = indicators,
    .event = event,
};
