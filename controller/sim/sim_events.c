/*
 * sim_events.c — step 5 of the tick loop for one integration group: the
 * integration from t_k to t_{k+1} with CVODE, and the events on the way.
 *
 * Owns the handling of the three kinds of event a continuous model can
 * have: state events (a sign change of an event indicator, located by
 * CVODE's root finder), time events (ABI 1.1: next_event_time says when;
 * the integration stops exactly there with CVodeSetStopTime) and step
 * events (ABI 1.1: step_completed after each internal step, which makes
 * the group integrate in CV_ONE_STEP mode).  After each event the models
 * that had it get event() (crossed NULL for time and step events) and the
 * integrator restarts.  A group without time or step events integrates
 * as before: one CVode call to t_{k+1}, no other work.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "sim_internal.h"

/* a and b are the same time but for rounding: CVODE cannot integrate
 * between them (it would refuse a tout "too close" to its t).  Never for
 * an infinite time ("no event"): the bound would be infinite too. */
static int near(double a, double b)
{
    return isfinite(a) && isfinite(b) &&
           fabs(b - a) <= 16 * DBL_EPSILON * fmax(fabs(a), fabs(b));
}

static void describe_group(const group *g, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < g->n_nodes && used + 1 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s (model %s)",
                                 i ? ", " : "", g->nodes[i]->si->name,
                                 g->nodes[i]->d->name);
}

static void emit(sim *s, sim_event_kind kind, double t, const node *n,
                 int indicator, int direction, const char *message)
{
    if (s->cb.event == NULL)
        return;
    sim_event ev = {.kind = kind, .t = t, .instance = n->si->name,
                    .indicator = indicator, .direction = direction,
                    .message = message};
    s->cb.event(s->cb.ctx, &ev);
}

/* A state event at t: let each model whose indicator crossed handle it. */
static int state_events(sim *s, group *g, double t)
{
    if (CVodeGetRootInfo(g->cvode, g->roots) < 0)
        return -1;
    double *y = N_VGetArrayPointer(g->y);
    if (sim__group_eval(g, t, y) != 0)
        return -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        int any = 0;
        for (size_t k = 0; k < n->n_g; k++) {
            n->crossed[k] = g->roots[n->g_off + k];
            any |= n->crossed[k] != 0;
        }
        if (!any)
            continue;
        if (call_event(n, t, n->crossed) != 0)
            return -1;
        for (size_t k = 0; k < n->n_g; k++) {
            if (n->crossed[k] == 0)
                continue;
            s->st.events++;
            emit(s, SIM_EVENT_STATE, t, n, (int)k, n->crossed[k],
                 "state event");
        }
    }
    return 0;
}

/* Ask each timed node of g for its next time event at t.  A node whose
 * event was just handled at t (n->handled) must name a later one; any
 * other one not an earlier one. */
static int ask_times(sim *s, group *g, double t)
{
    g->t_next = INFINITY;
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        if (!n->timed)
            continue;
        double tn = INFINITY;
        twin_status st = IN_MODEL(n, t, n->si->model->next_event_time(
                                         n->inst, t, &tn));
        OUT_OF_MODEL();
        if (sim__model_status(n, st, "next_event_time", t, 0) != 0)
            return -1;
        int was = n->handled;
        double t_was = n->t_next;
        n->handled = 0;
        if (isnan(tn) || (tn < t && !near(t, tn)) ||
            (was && tn <= t_was)) {
            sim__fail(s, TWIN_E_SOLVER_FAILURE,
                      "model '%s' (instance '%s') named its next time event "
                      "at t = %.17g at t = %.17g: it must be %s", n->d->name,
                      n->si->name, tn, t,
                      was ? "after the event it just had" : "not in the past");
            return -1;
        }
        n->t_next = tn;
        if (tn < g->t_next)
            g->t_next = tn;
    }
    return 0;
}

/* The time events due at t (the integrator's time): every node whose next
 * one is at t, or but for rounding, has its event() once, at its own
 * t_next; then the group restarts and asks again. */
static int time_events(sim *s, group *g, double t)
{
    if (sim__group_eval(g, t, g->cvode ? N_VGetArrayPointer(g->y)
                                       : NULL) != 0)
        return -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        n->handled = n->timed && (n->t_next <= t || near(t, n->t_next));
        if (!n->handled)
            continue;
        if (call_event(n, n->t_next, NULL) != 0)
            return -1;
        s->st.time_events++;
        emit(s, SIM_EVENT_TIME, n->t_next, n, 0, 0, "time event");
    }
    if (g->cvode && sim__restart(s, g, t) != 0)
        return -1;
    return ask_times(s, g, t);
}

/* After an internal step to t: each node's step_completed, and event()
 * where one asked for it (then the group restarts). */
static int step_events(sim *s, group *g, double t)
{
    int any = 0;
    if (sim__group_eval(g, t, N_VGetArrayPointer(g->y)) != 0)
        return -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        if (n->si->model->step_completed == NULL)
            continue;
        int needed = 0;
        twin_status st = IN_MODEL(n, t, n->si->model->step_completed(
                                         n->inst, t, n->x, n->u, &needed));
        OUT_OF_MODEL();
        if (sim__model_status(n, st, "step_completed", t, 0) != 0)
            return -1;
        if (!needed)
            continue;
        if (call_event(n, t, NULL) != 0)
            return -1;
        s->st.step_events++;
        any = 1;
    }
    if (!any)
        return 0;
    if (sim__restart(s, g, t) != 0)
        return -1;
    return g->timed ? ask_times(s, g, t) : 0;
}

static int solver_failed(sim *s, group *g, int flag, double t, double t1)
{
    char who[512], name[64];
    describe_group(g, who, sizeof who);
    if (s->fail[0] == '\0')
        sim__fail(s, TWIN_E_SOLVER_FAILURE,
                  "the solver failed between t = %.17g and %.17g (%s) "
                  "for instances %s%s%s", t, t1,
                  sim__flag_name(flag, name, sizeof name), who,
                  s->solver_msg[0] ? ": " : "", s->solver_msg);
    return -1;
}

int sim__advance(sim *s, group *g, double t, double t1)
{
    double now = t;
    if (g->cvode && g->restart) {
        if (sim__restart(s, g, t) != 0)
            return -1;
        g->restart = 0;
    }
    /* After the tick at t: inputs may have moved the next time events. */
    if (g->timed && ask_times(s, g, t) != 0)
        return -1;
    for (;;) {
        if (now >= t1 || near(now, t1))
            break; /* an event at t1 waits for the next tick's interval */
        if (g->timed && (g->t_next <= now || near(now, g->t_next))) {
            if (time_events(s, g, now) != 0)
                return -1;
            continue;
        }
        double stop = g->t_next < t1 ? g->t_next : t1;
        if (g->cvode == NULL) {
            now = stop; /* no states: only the time events to take */
            continue;
        }
        double tret = now;
        int flag = CVodeSetStopTime(g->cvode, stop);
        if (flag >= 0)
            flag = CVode(g->cvode, stop, g->y, &tret,
                         g->stepped ? CV_ONE_STEP : CV_NORMAL);
        if (flag < 0)
            return solver_failed(s, g, flag, now, t1);
        now = tret;
        if (flag == CV_ROOT_RETURN) {
            if (state_events(s, g, tret) != 0 ||
                sim__restart(s, g, tret) != 0)
                return -1;
            if (g->timed && ask_times(s, g, tret) != 0)
                return -1;
        } else if (g->stepped && step_events(s, g, tret) != 0) {
            return -1;
        }
    }
    if (g->cvode)
        bind(g, N_VGetArrayPointer(g->y));
    return 0;
}
