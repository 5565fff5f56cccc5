/*
 * ball — a bouncing ball, test FMU: h'' = −g from h = 1 at rest; a state
 * event where h reaches 0 falling, which resets v to −e·v (and h to 0);
 * when the speed after a bounce is below v_min the ball stays on the
 * floor.  bounces counts the bounces and t_bounce is the time of the last
 * one, so a test reads every bounce time from the rows.
 */
#include <math.h>

#include "tm.h"

enum { H, DER_H, V, DER_V, G, E, V_MIN, BOUNCES, T_BOUNCE, Z, NV };

static const double start[NV] = {
    [H] = 1, [V] = 0, [G] = 9.81, [E] = 0.7, [V_MIN] = 0.5, [T_BOUNCE] = 0,
};
static const unsigned x[] = {H, V}, dx[] = {DER_H, DER_V};

/* On the floor for good: neither moves nor falls. */
static int resting(const tm_inst *m)
{
    return m->v[BOUNCES] > 0 && m->v[V] == 0 && m->v[H] == 0;
}

static int compute(tm_inst *m)
{
    m->v[DER_H] = m->v[V];
    m->v[DER_V] = resting(m) ? 0 : -m->v[G];
    m->v[Z] = resting(m) ? 1 : m->v[H];
    return TM_OK;
}

static void indicators(tm_inst *m, double *z) { z[0] = m->v[Z]; }

static int event(tm_inst *m)
{
    if (m->v[H] <= 0 && m->v[V] < 0) {
        m->v[H] = 0;
        m->v[V] = -m->v[E] * m->v[V];
        if (m->v[V] < m->v[V_MIN])
            m->v[V] = 0;
        m->v[BOUNCES] += 1;
        m->v[T_BOUNCE] = m->t;
        m->states_changed = 1;
    }
    return TM_OK;
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .nx = 2, .x = x, .dx = dx, .nz = 1,
    .compute = compute, .indicators = indicators, .event = event,
};
