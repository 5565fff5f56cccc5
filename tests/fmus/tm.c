/*
 * tm.c — what the test FMUs' glue shares between FMI 2.0 and 3.0: an
 * instance's values, the discrete update, and the Co-Simulation stepper.
 * The stepper takes RK4 substeps of at most TM_SUBSTEP (one step for a
 * model with neither states nor event indicators), ends a substep
 * exactly at the next time event, and locates a sign change of an event
 * indicator by bisection on the substep's length (exact for the ball,
 * whose motion is a parabola that RK4 reproduces).
 */
#include "tm.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TM_SUBSTEP 1e-2
#define TM_MAX_X 16
#define TM_MAX_Z 16

tm_inst *tm__new(const char *resources)
{
    const tm_model *d = &tm_model_def;
    tm_inst *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->v = calloc(d->nv + 1, sizeof *m->v);
    m->resources = strdup(resources != NULL ? resources : "");
    if (m->v == NULL || m->resources == NULL) {
        tm__free(m);
        return NULL;
    }
    memcpy(m->v, d->start, d->nv * sizeof *m->v);
    m->next_event = INFINITY;
    m->stale = 1;
    return m;
}

void tm__free(tm_inst *m)
{
    if (m == NULL)
        return;
    free(m->v);
    free(m->resources);
    free(m);
}

void tm__logf(tm_inst *m, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m->log != NULL)
        m->log(m, status, msg);
}

int tm__compute(tm_inst *m)
{
    int st = tm_model_def.compute(m);
    m->stale = st != TM_OK; /* a failing compute is tried again */
    return st;
}

int tm__fresh(tm_inst *m)
{
    return m->stale ? tm__compute(m) : TM_OK;
}

int tm__event(tm_inst *m)
{
    const tm_model *d = &tm_model_def;
    m->states_changed = 0;
    int st = d->event != NULL ? d->event(m) : TM_OK;
    if (st >= TM_ERROR)
        return st;
    int s = tm__compute(m);
    return s > st ? s : st;
}

/* x(t0 + tau) by one RK4 step from x0 (states set, compute called). */
static int rk4(tm_inst *m, double t0, const double *x0, double tau)
{
    const tm_model *d = &tm_model_def;
    double k[4][TM_MAX_X];
    static const double at[4] = {0, 0.5, 0.5, 1};
    for (int s = 0; s < 4; s++) {
        m->t = t0 + at[s] * tau;
        for (size_t i = 0; i < d->nx; i++)
            m->v[d->x[i]] = x0[i] + (s ? at[s] * tau * k[s - 1][i] : 0);
        int st = tm__compute(m);
        if (st >= TM_ERROR)
            return st;
        for (size_t i = 0; i < d->nx; i++)
            k[s][i] = m->v[d->dx[i]];
    }
    m->t = t0 + tau;
    for (size_t i = 0; i < d->nx; i++)
        m->v[d->x[i]] = x0[i] + tau / 6 *
                                    (k[0][i] + 2 * k[1][i] + 2 * k[2][i] +
                                     k[3][i]);
    return tm__compute(m);
}

static int crossed(const double *z0, const double *z1, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((z0[i] > 0 && z1[i] <= 0) || (z0[i] < 0 && z1[i] >= 0))
            return 1;
    return 0;
}

int tm__step(tm_inst *m, double h, int *terminated)
{
    const tm_model *d = &tm_model_def;
    double x0[TM_MAX_X], z0[TM_MAX_Z], z1[TM_MAX_Z];
    double t_end = m->t + h;
    int st = TM_OK;
    *terminated = 0;
    if (d->nx > TM_MAX_X || d->nz > TM_MAX_Z)
        return TM_ERROR;
    while (m->t < t_end) {
        double t0 = m->t;
        /* Nothing continuous: straight to the next event or the end. */
        double sub = d->nx == 0 && d->nz == 0 ? h : TM_SUBSTEP;
        double target = fmin(t_end, t0 + sub);
        int timed = m->next_event <= target;
        if (timed)
            target = m->next_event;
        for (size_t i = 0; i < d->nx; i++)
            x0[i] = m->v[d->x[i]];
        if (d->nz > 0)
            d->indicators(m, z0);
        if ((st = rk4(m, t0, x0, target - t0)) >= TM_ERROR)
            return st;
        m->t = target; /* exactly: t0 + (target − t0) may round */
        if (d->nz > 0) {
            d->indicators(m, z1);
            if (crossed(z0, z1, d->nz)) {
                double lo = 0, hi = target - t0;
                for (int it = 0; it < 200 && hi - lo > 1e-15 * (1 + fabs(t0));
                     it++) {
                    double mid = 0.5 * (lo + hi);
                    if ((st = rk4(m, t0, x0, mid)) >= TM_ERROR)
                        return st;
                    d->indicators(m, z1);
                    if (crossed(z0, z1, d->nz))
                        hi = mid;
                    else
                        lo = mid;
                }
                if ((st = rk4(m, t0, x0, hi)) >= TM_ERROR)
                    return st;
                timed = 1; /* an event at the located time */
            }
        }
        if (timed && (st = tm__event(m)) >= TM_ERROR)
            return st;
        if (m->terminate) {
            *terminated = 1;
            return st;
        }
    }
    return st;
}
