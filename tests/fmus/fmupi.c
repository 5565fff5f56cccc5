/*
 * fmupi — the reference PI level controller (reference-models.md) as a
 * Co-Simulation FMU, for the benchmark: every period (a time event) the
 * integral takes ki·e·period when the output would stay within its
 * limits; out = clamp(kp·e + integral).  Stepped from tick to tick, it
 * integrates with the pv it held over the step, one tick behind the
 * native plugin, which the benchmark does not compare.
 */
#include <math.h>

#include "tm.h"

enum { KP, KI, SP, OUT_MIN, OUT_MAX, PERIOD, PV, OUT, INTEGRAL, NV };

static const double start[NV] = {
    [KP] = 0.8, [KI] = 0.02, [SP] = 2.0, [OUT_MIN] = 0, [OUT_MAX] = 1,
    [PERIOD] = 1,
};

static int compute(tm_inst *m)
{
    double *v = m->v;
    double out = v[KP] * (v[SP] - v[PV]) + v[INTEGRAL];
    v[OUT] = fmin(fmax(out, v[OUT_MIN]), v[OUT_MAX]);
    return TM_OK;
}

static int init(tm_inst *m)
{
    m->next_event = m->t + m->v[PERIOD];
    return TM_OK;
}

static int event(tm_inst *m)
{
    double *v = m->v;
    if (m->t < m->next_event)
        return TM_OK;
    double e = v[SP] - v[PV];
    double candidate = v[KP] * e + v[INTEGRAL] + v[KI] * e * v[PERIOD];
    if (candidate >= v[OUT_MIN] && candidate <= v[OUT_MAX])
        v[INTEGRAL] += v[KI] * e * v[PERIOD];
    m->next_event += v[PERIOD];
    return TM_OK;
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .init = init, .compute = compute,
    .event = event,
};
