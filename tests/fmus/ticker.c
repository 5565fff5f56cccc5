/*
 * ticker — time events, test FMU: x' = −k·x, and at every multiple of
 * period (a time event, t_n = n·period) x jumps by 1, count goes up and
 * t_event records the time the importer called the event at.  With
 * limit > 0 the FMU asks to terminate the simulation at its limit-th
 * event.
 */
#include <math.h>

#include "tm.h"

enum { X, DER_X, K, PERIOD, LIMIT, COUNT, T_EVENT, NV };

static const double start[NV] = {
    [X] = 1, [K] = 1, [PERIOD] = 0.3, [LIMIT] = 0, [COUNT] = 0,
    [T_EVENT] = 0,
};
static const unsigned x[] = {X}, dx[] = {DER_X};

static int compute(tm_inst *m)
{
    m->v[DER_X] = -m->v[K] * m->v[X];
    return TM_OK;
}

static int init(tm_inst *m)
{
    if (!(m->v[PERIOD] > 0)) {
        tm__logf(m, TM_ERROR, "period must be > 0, not %g", m->v[PERIOD]);
        return TM_ERROR;
    }
    m->next_event = m->v[PERIOD];
    return TM_OK;
}

static int event(tm_inst *m)
{
    if (m->t < m->next_event)
        return TM_OK;
    m->v[COUNT] += 1;
    m->v[T_EVENT] = m->t;
    m->v[X] += 1;
    m->states_changed = 1;
    m->next_event = (m->v[COUNT] + 1) * m->v[PERIOD];
    if (m->v[LIMIT] > 0 && m->v[COUNT] >= m->v[LIMIT]) {
        m->terminate = 1;
        tm__logf(m, TM_OK, "limit of %g events reached", m->v[LIMIT]);
    }
    return TM_OK;
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .nx = 1, .x = x, .dx = dx,
    .init = init, .compute = compute, .event = event,
};
