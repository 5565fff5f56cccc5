/*
 * sim.c — the fixed-time mixed discrete-continuous loop on CVODE.
 *
 * Owns model instances for one run, the evaluation order, the integration
 * groups and their CVODE integrators, and the tick loop of DESIGN.md:
 *   1. apply inputs at t_k (profiles, live values);
 *   2–3. evaluate every model in dependency order: continuous models
 *      compute outputs, discrete models tick; signals propagate along
 *      connections as each model is reached;
 *   4. emit the row for t_k;
 *   5. integrate each group from t_k to t_{k+1}, stopping exactly there,
 *      restarting only where an input of the group jumped or an event
 *      happened, locating state events with CVODE's root finder;
 *   6. in real-time mode, wait for the absolute deadline of the next tick.
 *
 * Continuous models joined by connections form one group integrated over
 * their concatenated states, their couplings evaluated inside the
 * right-hand side in dependency order; groups that share no connection
 * each get their own small integrator, so cost grows linearly with the
 * number of independent chains.  Discrete outputs are held over the tick.
 * Composition and its checks are scenario.c's; this file trusts them.
 * The structures are in sim_internal.h, shared with sim_steady.c, which
 * lends the same evaluation to steady.c.
 */
#include "sim.h"

#include <math.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sundials/sundials_config.h>

#include "alarms.h"
#include "measured.h"
#include "graph.h"
#include "loops.h"
#include "pace.h"
#include "sim_internal.h"
#include "util.h"

const char *volatile sim__model_in_use;
const char *volatile sim__instance_in_use;
volatile double sim__t_in_use;

/* ---- failures ---------------------------------------------------------- */

void sim__fail(sim *s, twin_err_code code, const char *fmt, ...)
{
    if (s->fail[0] != '\0')
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail, sizeof s->fail, fmt, ap);
    va_end(ap);
    s->fail_code = code;
}

static const char *status_name(twin_status st)
{
    switch (st) {
    case TWIN_OK: return "OK";
    case TWIN_WARNING: return "WARNING";
    case TWIN_DISCARD: return "DISCARD";
    case TWIN_ERROR: return "ERROR";
    case TWIN_FATAL: return "FATAL";
    }
    return "an unknown status";
}

/* Map a model status to CVODE's convention: 0 fine, > 0 recoverable (the
 * solver retries with a smaller step), < 0 fatal.  DISCARD is recoverable
 * only where the solver can retry (recoverable != 0). */
int sim__model_status(node *n, twin_status st, const char *fn, double t,
                      int recoverable)
{
    if (st == TWIN_OK || st == TWIN_WARNING)
        return 0;
    if (st == TWIN_DISCARD && recoverable) {
        n->owner->discarded = n;
        return 1;
    }
    sim__fail(n->owner, TWIN_E_SOLVER_FAILURE,
              "model '%s' (instance '%s') returned %s from %s at t = %.17g%s%s",
              n->d->name, n->si->name, status_name(st), fn, t,
              n->last_error[0] ? ": " : "", n->last_error);
    return -1;
}

static void host_log(void *context, twin_log_level level, const char *message)
{
    node *n = context;
    sim *s = n->owner;
    if (message == NULL)
        return;
    if (level >= TWIN_LOG_ERROR)
        snprintf(n->last_error, sizeof n->last_error, "%s", message);
    if (s->cb.event == NULL)
        return;
    sim_event ev = {.kind = SIM_EVENT_LOG, .instance = n->si->name,
                    .level = (int)level, .message = message, .t = NAN};
    s->cb.event(s->cb.ctx, &ev);
}

/* ABI 1.1: the text of string parameter index, kept by the scenario for
 * the run's life. */
static const char *host_param_string(void *context, size_t index)
{
    const node *n = context;
    if (index >= n->si->model->n_param || n->si->strings == NULL)
        return NULL;
    return n->si->strings[index];
}

/* ABI 1.1: end the run after this tick's row; the first request counts. */
static void host_request_end(void *context, const char *reason)
{
    node *n = context;
    sim_stats *st = &n->owner->st;
    if (st->ended_by_model)
        return;
    st->ended_by_model = 1;
    st->end_t = sim__t_in_use;
    snprintf(st->end_instance, sizeof st->end_instance, "%s", n->si->name);
    snprintf(st->end_reason, sizeof st->end_reason, "%s",
             reason ? reason : "");
}

static void solver_error(int code, const char *module, const char *function,
                         char *msg, void *data)
{
    group *g = data;
    if (code >= 0)
        return; /* a warning (e.g. a root exactly at a restart): harmless */
    snprintf(g->owner->solver_msg, sizeof g->owner->solver_msg, "%s: %s",
             function, msg);
}

/* ---- evaluation -------------------------------------------------------- */

/* Copy held sources; a jump in a continuous model's input restarts its
 * group's integrator. */
void sim__gather_held(node *n)
{
    for (size_t i = 0; i < n->n_held; i++) {
        double v = link_value(&n->held[i]);
        double *u = &n->u[n->held[i].dst];
        if (!same(*u, v)) {
            *u = v;
            if (n->grp)
                n->grp->restart = 1;
        }
    }
}

/* Bind the group to x and bring every input read inside the RHS up to
 * date at (t, x). */
int sim__group_eval(group *g, double t, double *x)
{
    if (g->plan != NULL && x != NULL)
        return rhs__eval(g, t, x, NULL);
    if (x != NULL)
        bind(g, x); /* NULL: a group without states keeps its own */
    for (size_t i = 0; i < g->n_pre; i++) {
        int rc = call_outputs(g->pre[i], t, 1);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        if (n->rhs_loop != NULL) {
            int rc = loops__at(n->rhs_loop, n, t, LOOP_RHS);
            if (rc)
                return rc;
            continue;
        }
        gather_intra(n);
        if (n->rhs_outputs) {
            int rc = call_outputs(n, t, 1);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int sim__group_derivs(group *g, double t, double *x, double *dx)
{
    if (g->plan != NULL)
        return rhs__eval(g, t, x, dx);
    int rc = sim__group_eval(g, t, x);
    for (size_t i = 0; rc == 0 && i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        twin_status st = IN_MODEL(n, t, n->d->derivatives(n->inst, t, n->x, n->u,
                                                       dx + n->x_off));
        OUT_OF_MODEL();
        if (st > TWIN_WARNING)
            rc = sim__model_status(n, st, "derivatives", t, 1);
    }
    return rc == 0 ? sim__check_finite(g, dx, t) : rc;
}

int sim__check_finite(group *g, const double *dx, double t)
{
    if (!any_nonfinite(dx, g->n_x)) /* one pass tells whether to look */
        return 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const node *n = g->nodes[i];
        for (size_t k = 0; k < n->si->model->n_state; k++)
            if (!isfinite(dx[n->x_off + k])) {
                sim__fail(n->owner, TWIN_E_SOLVER_FAILURE,
                          "model '%s' (instance '%s') returned a non-finite "
                          "derivative (%g) for state '%s' at t = %.17g",
                          n->d->name, n->si->name, dx[n->x_off + k],
                          n->si->model->state[k]->name, t);
                return -1;
            }
    }
    return 0;
}

static int group_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *data)
{
    return sim__group_derivs(data, t, N_VGetArrayPointer(y),
                             N_VGetArrayPointer(ydot));
}

int sim__group_roots(sunrealtype t, N_Vector y, sunrealtype *gout,
                     void *data)
{
    group *g = data;
    if (g->plan != NULL)
        return rhs__roots(g, t, N_VGetArrayPointer(y), gout);
    int rc = sim__group_eval(g, t, N_VGetArrayPointer(y));
    for (size_t i = 0; rc == 0 && i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        if (n->n_g == 0)
            continue;
        /* Indicators are functions of t, x and u (plugin-guide.md,
         * section 7): the inputs are current (sim__group_eval above);
         * the node's own outputs are not asked for. */
        twin_status st = IN_MODEL(n, t, n->d->event_indicators(
                                         n->inst, t, n->x, n->u,
                                         gout + n->g_off));
        OUT_OF_MODEL();
        rc = sim__model_status(n, st, "event_indicators", t, 0);
    }
    return rc < 0 ? -1 : rc;
}

/* ---- building ---------------------------------------------------------- */

static int add_link(link **arr, size_t *n, link l)
{
    link *grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    grown[*n] = l;
    *arr = grown;
    (*n)++;
    return 0;
}

static int is_feedthrough(const scenario *sc, sc_ref from)
{
    const twin_model *m = sc->inst[from.inst].model;
    return from.kind == TWIN_VAR_OUTPUT &&
           (m->output[from.index]->flags & TWIN_VAR_FEEDTHROUGH);
}

static int build_nodes(sim *s, twin_errors *errs)
{
    const scenario *sc = s->sc;
    s->n_nodes = sc->n_inst;
    s->nodes = calloc(s->n_nodes, sizeof *s->nodes);
    if (s->nodes == NULL)
        return -1;
    for (size_t i = 0; i < sc->n_inst; i++) {
        node *n = &s->nodes[i];
        const twin_model *m = sc->inst[i].model;
        n->owner = s;
        n->si = &sc->inst[i];
        n->d = m->d;
        n->continuous = m->d->kind == TWIN_MODEL_CONTINUOUS;
        n->u = calloc(m->n_input + 1, sizeof(double));
        n->y = calloc(m->n_output + 1, sizeof(double));
        n->x_own = calloc(m->n_state + 1, sizeof(double));
        n->n_g = m->d->n_event_indicators;
        n->crossed = calloc(n->n_g + 1, sizeof(int));
        if (!n->u || !n->y || !n->x_own || !n->crossed)
            return -1;
        memcpy(n->u, sc->inst[i].input_start, m->n_input * sizeof(double));
        memcpy(n->x_own, sc->inst[i].start, m->n_state * sizeof(double));
        for (size_t k = 0; k < m->n_output; k++)
            n->y[k] = m->output[k]->start;
        n->x = n->x_own;
        n->host.struct_size = sizeof n->host;
        n->host.context = n;
        n->host.log = host_log;
        n->host.model = m->d;
        n->host.param_string = host_param_string;
        n->host.request_end = host_request_end;
        n->period_ticks = sc->inst[i].period_ticks ? sc->inst[i].period_ticks
                                                   : 1;
        n->tick_dt = m->sample_period > 0 ? m->sample_period : sc->dt;
        n->timed = m->next_event_time != NULL;
        n->t_next = INFINITY;
        twin_status st = IN_MODEL(n, sc->start, m->d->create(
                                         &n->host, sc->inst[i].params,
                                         &n->inst));
        OUT_OF_MODEL();
        if (st > TWIN_WARNING || n->inst == NULL) {
            errors__add(errs, TWIN_E_SOLVER_FAILURE, "",
                        "model '%s' refused to create instance '%s' (%s)%s%s",
                        m->d->name, sc->inst[i].name, status_name(st),
                        n->last_error[0] ? ": " : "; see its log lines",
                        n->last_error);
            n->inst = NULL;
            return -2;
        }
    }
    return 0;
}

/* "integrators": "stacked": the components with states or time events
 * become one group, integrated by one CVODE over all their states (a
 * block-diagonal Jacobian, jacobian.c); components of outputs only stay
 * apart, evaluated at ticks.  "auto" stacks many small groups: at least
 * two with states, none above SIM_STACK_MAX states (docs/simulation.md).
 * comp is renumbered (orig keeps it as it was) and s->stacked set; the
 * new count is returned ((size_t)-1: out of memory). */
static size_t stack_components(sim *s, const unsigned char *cont,
                               size_t *comp, size_t *orig, size_t n_comp)
{
    memcpy(orig, comp, s->n_nodes * sizeof *orig);
    size_t *states = calloc(n_comp + 1, sizeof *states);
    unsigned char *dyn = calloc(n_comp + 1, 1);
    size_t *map = malloc((n_comp + 1) * sizeof *map);
    size_t n_dyn = 0, next = 1, largest = 0;
    if (states == NULL || dyn == NULL || map == NULL) {
        n_comp = (size_t)-1;
        goto done;
    }
    for (size_t i = 0; i < s->n_nodes; i++) {
        if (!cont[i])
            continue;
        states[comp[i]] += s->nodes[i].si->model->n_state;
        if (s->nodes[i].si->model->n_state > 0 || s->nodes[i].timed)
            dyn[comp[i]] = 1;
    }
    for (size_t c = 0; c < n_comp; c++) {
        n_dyn += dyn[c];
        if (dyn[c] && states[c] > largest)
            largest = states[c];
    }
    s->stacked = n_dyn >= 2 && !s->opt.separate &&
                 (s->sc->integrators == SC_INTEGRATORS_STACKED ||
                  (s->sc->integrators == SC_INTEGRATORS_AUTO &&
                   largest <= SIM_STACK_MAX));
    if (s->stacked) {
        for (size_t c = 0; c < n_comp; c++)
            map[c] = dyn[c] ? 0 : next++;
        for (size_t i = 0; i < s->n_nodes; i++)
            if (cont[i])
                comp[i] = map[comp[i]];
        n_comp = next;
    }
done:
    free(states);
    free(dyn);
    free(map);
    return n_comp;
}

/* A stacked group's nodes, each component's together in the order they
 * had (a stable sort by the component before stacking): the states of
 * one chain stay next to each other, so the Jacobian is block diagonal
 * with narrow blocks.  Within a component dependencies keep their order;
 * across components there are none. */
static int by_component(const sim *s, group *g, const size_t *orig)
{
    size_t nn = s->n_nodes;
    size_t *start = calloc(nn + 1, sizeof *start);
    node **sorted = malloc((g->n_nodes + 1) * sizeof *sorted);
    if (start == NULL || sorted == NULL) {
        free(start);
        free(sorted);
        return -1;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        start[orig[g->nodes[i] - s->nodes] + 1]++;
    for (size_t c = 0; c < nn; c++)
        start[c + 1] += start[c];
    for (size_t i = 0; i < g->n_nodes; i++)
        sorted[start[orig[g->nodes[i] - s->nodes]]++] = g->nodes[i];
    memcpy(g->nodes, sorted, g->n_nodes * sizeof *sorted);
    free(start);
    free(sorted);
    return 0;
}

/* Order all nodes for ticks, and split the continuous ones into groups;
 * algebraic loops (at ticks, and inside each group) are torn and get
 * their solvers (loops.c). */
static int build_order(sim *s, twin_errors *errs)
{
    const scenario *sc = s->sc;
    size_t nn = s->n_nodes, ne = sc->n_conn;
    int rc = -1;
    graph_plan plan = {0};
    graph_edge *edges = calloc(ne + 1, sizeof *edges);
    unsigned char *all = malloc(nn + 1), *cont = malloc(nn + 1);
    unsigned char *member = malloc(nn + 1);
    size_t *comp = malloc((nn + 1) * sizeof *comp);
    size_t *pos = malloc((nn + 1) * sizeof *pos);
    size_t *orig = malloc((nn + 1) * sizeof *orig);
    if (!edges || !all || !cont || !member || !comp || !pos || !orig)
        goto oom;
    for (size_t e = 0; e < ne; e++) {
        edges[e].from = sc->conn[e].from.inst;
        edges[e].to = sc->conn[e].to.inst;
        edges[e].feedthrough = is_feedthrough(sc, sc->conn[e].from);
    }
    for (size_t i = 0; i < nn; i++) {
        all[i] = 1;
        cont[i] = (unsigned char)s->nodes[i].continuous;
    }

    /* Global order: prefer breaking cycles at continuous models, whose
     * non-feedthrough outputs are right before their inputs are. */
    if (graph__plan(nn, all, cont, edges, ne, &plan) != GRAPH_OK)
        goto oom;
    s->order = malloc(nn * sizeof *s->order);
    s->pre = malloc(nn * sizeof *s->pre);
    if (!s->order || !s->pre)
        goto oom;
    if (loops__adopt(s, &plan, 0, s->order, &s->n_order, errs) != 0)
        goto exit;
    for (size_t k = 0; k < s->n_order; k++)
        pos[plan.order[k]] = k;
    for (size_t i = 0; i < nn; i++)
        if (plan.pre[i] && s->nodes[i].continuous)
            s->pre[s->n_pre++] = &s->nodes[i];
    graph__plan_free(&plan);

    /* Groups: continuous nodes joined by connections. */
    s->n_groups = graph__components(nn, cont, edges, ne, comp);
    if (s->n_groups != (size_t)-1)
        s->n_groups = stack_components(s, cont, comp, orig, s->n_groups);
    if (s->n_groups == (size_t)-1)
        goto oom;
    s->groups = calloc(s->n_groups + 1, sizeof *s->groups);
    if (s->groups == NULL)
        goto oom;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        g->owner = s;
        g->t_next = INFINITY;
        for (size_t i = 0; i < nn; i++)
            member[i] = cont[i] && comp[i] == gi;
        g->nodes = malloc(nn * sizeof *g->nodes);
        g->pre = malloc(nn * sizeof *g->pre);
        if (!g->nodes || !g->pre ||
            graph__plan(nn, member, NULL, edges, ne, &plan) != GRAPH_OK)
            goto oom;
        /* A group without states or time events is only evaluated at
         * ticks, where the tick loops serve: no right-hand-side loops. */
        int evaluated = 0;
        for (size_t k = 0; k < plan.n_order; k++) {
            const node *n = &s->nodes[plan.order[k]];
            evaluated |= n->si->model->n_state > 0 || n->timed;
        }
        if (!evaluated)
            plan.n_loops = 0;
        if (loops__adopt(s, &plan, 1, g->nodes, &g->n_nodes, errs) != 0)
            goto exit;
        if (s->stacked && by_component(s, g, orig) != 0)
            goto oom;
        for (size_t k = 0; k < g->n_nodes; k++) {
            node *n = g->nodes[k];
            n->grp = g;
            n->x_off = g->n_x;
            n->g_off = g->n_g;
            n->rhs_outputs |= n->rhs_loop != NULL;
            g->n_x += n->si->model->n_state;
            g->n_g += n->n_g;
            g->timed |= n->timed;
            g->stepped |= n->si->model->step_completed != NULL;
        }
        for (size_t i = 0; i < nn; i++)
            if (member[i] && plan.pre[i])
                g->pre[g->n_pre++] = &s->nodes[i];
        graph__plan_free(&plan);
    }

    /* Links: within a group they are read in the RHS; everything else is
     * held over the tick. */
    for (size_t e = 0; e < ne; e++) {
        const sc_connection *c = &sc->conn[e];
        node *src = &s->nodes[c->from.inst], *dst = &s->nodes[c->to.inst];
        link l = {c->to.index, src, c->from.kind == TWIN_VAR_STATE,
                  c->from.index};
        int intra = src->grp != NULL && src->grp == dst->grp;
        if (intra && !l.from_state)
            src->rhs_outputs = 1;
        if (add_link(intra ? &dst->intra : &dst->held,
                     intra ? &dst->n_intra : &dst->n_held, l) != 0)
            goto oom;
        if (!intra && pos[c->from.inst] > pos[c->to.inst])
            dst->regather = 1;
    }
    for (size_t gi = 0; gi < s->n_groups; gi++)
        for (size_t i = 0; i < s->groups[gi].n_pre; i++)
            s->groups[gi].pre[i]->rhs_outputs = 1;
    rc = 0;
    goto exit;
oom:
    errors__add(errs, TWIN_E_INTERNAL, "", "out of memory building the "
                "simulation");
exit:
    graph__plan_free(&plan);
    free(edges);
    free(all);
    free(cont);
    free(member);
    free(comp);
    free(pos);
    free(orig);
    return rc;
}

/* CVODE's name of a return flag ("CV_TOO_MUCH_WORK") in buf.  SUNDIALS 6
 * hands the name back malloc'd and the caller frees it; 7 returns a
 * constant string. */
const char *sim__flag_name(int flag, char *buf, size_t len)
{
#if SUNDIALS_VERSION_MAJOR < 7
    char *name = CVodeGetReturnFlagName(flag);
    snprintf(buf, len, "%s", name ? name : "an unknown flag");
    free(name);
#else
    snprintf(buf, len, "%s", CVodeGetReturnFlagName(flag));
#endif
    return buf;
}

#define CHECK_CV(call)                                                     \
    do {                                                                   \
        int flag_ = (call);                                                \
        if (flag_ < 0) {                                                   \
            char name_[64];                                                \
            errors__add(errs, TWIN_E_INTERNAL, "", "%s failed: %s", #call, \
                        sim__flag_name(flag_, name_, sizeof name_));       \
            return -1;                                                     \
        }                                                                  \
    } while (0)

static int build_solvers(sim *s, twin_errors *errs)
{
    const scenario *sc = s->sc;
    long max_steps = s->opt.max_steps > 0 ? s->opt.max_steps : 5000;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        g->restart = 1;
        if (g->n_x == 0)
            continue; /* outputs only: nothing to integrate */
        g->y = N_VNew_Serial((sunindextype)g->n_x, s->ctx);
        g->roots = calloc(g->n_g + 1, sizeof *g->roots);
        if (g->y == NULL || g->roots == NULL) {
            errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
            return -1;
        }
        double *y = N_VGetArrayPointer(g->y);
        for (size_t i = 0; i < g->n_nodes; i++) {
            node *n = g->nodes[i];
            memcpy(y + n->x_off, n->si->start,
                   n->si->model->n_state * sizeof(double));
        }
        bind(g, y);
        g->cvode = CVodeCreate(sc->method == SC_ADAMS ? CV_ADAMS : CV_BDF,
                               s->ctx);
        if (g->cvode == NULL) {
            errors__add(errs, TWIN_E_INTERNAL, "", "CVodeCreate failed");
            return -1;
        }
        CHECK_CV(CVodeSetErrHandlerFn(g->cvode, solver_error, g));
        CHECK_CV(CVodeInit(g->cvode, group_rhs, sc->start, g->y));
        CHECK_CV(tolerances__apply(s, g));
        CHECK_CV(CVodeSetUserData(g->cvode, g));
        CHECK_CV(CVodeSetMaxNumSteps(g->cvode, max_steps));
        if (jacobian__choose(s, g, errs) != 0 ||
            jacobian__attach(s, g, errs) != 0)
            return -1;
        if (rhs__build(g) != 0) {
            errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
            return -1;
        }
        s->st.linear_solvers[g->jac]++;
        if (g->n_g > 0)
            CHECK_CV(CVodeRootInit(g->cvode, (int)g->n_g, sim__group_roots));
    }
    return 0;
}

static int build_io(sim *s)
{
    const scenario *sc = s->sc;
    s->inputs = calloc(sc->n_inputs + 1, sizeof *s->inputs);
    s->row = calloc(sc->n_out + 1, sizeof *s->row);
    s->columns = calloc(sc->n_out + 1, sizeof *s->columns);
    s->nonfinite_seen = calloc(sc->n_out + 1, 1);
    if (!s->inputs || !s->row || !s->columns || !s->nonfinite_seen)
        return -1;
    for (size_t i = 0; i < sc->n_inputs; i++) {
        s->inputs[i].in = &sc->inputs[i];
        s->inputs[i].n = &s->nodes[sc->inputs[i].to.inst];
        s->inputs[i].index = sc->inputs[i].to.index;
        s->inputs[i].live = sc->inputs[i].profile.value;
        s->inputs[i].u = &s->inputs[i].n->u[s->inputs[i].index];
        s->inputs[i].from = INFINITY; /* not known yet */
        s->inputs[i].until = -INFINITY;
    }
    s->columns[0] = "t";
    for (size_t i = 0; i < sc->n_out; i++)
        s->columns[i + 1] = sc->out_name[i];
    return 0;
}

sim *sim__new(const scenario *sc, const sim_options *opt,
              const sim_callbacks *cb, twin_errors *errs)
{
    sim *s = calloc(1, sizeof *s);
    if (s == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        return NULL;
    }
    s->sc = sc;
    s->opt.realtime = -1;
    if (opt)
        s->opt = *opt;
    s->cb = *cb;
    s->st.n_alarms = sc->n_alarms;
    s->st.n_measured = sc->n_measured;
    if ((sc->n_alarms > 0 && (s->alarms = alarms__new(sc)) == NULL) ||
        (sc->n_measured > 0 && (s->measured = measured__new(sc)) == NULL)) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory for the "
                    "scenario's alarms and measurements");
        goto fail;
    }
    if (SUNContext_Create(NULL, &s->ctx) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "SUNContext_Create failed");
        goto fail;
    }
    int rc = build_nodes(s, errs);
    if (rc == -2)
        goto fail;
    if (rc != 0 || build_io(s) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory building the "
                    "simulation");
        goto fail;
    }
    if (build_order(s, errs) != 0)
        goto fail;
    if (build_solvers(s, errs) != 0)
        goto fail;
    if (tick__build(s) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        goto fail;
    }
    for (size_t gi = 0; gi < s->n_groups; gi++)
        s->st.n_states += s->groups[gi].n_x;
    s->st.n_groups = s->n_groups;
    s->st.stacked = s->stacked;
    for (size_t i = 0; i < s->n_loops; i++)
        s->st.loops += !s->loops[i]->rhs;
    return s;
fail:
    sim__free(&s);
    return NULL;
}

void sim__free(sim **sp)
{
    sim *s = *sp;
    if (s == NULL)
        return;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        if (g->cvode)
            CVodeFree(&g->cvode);
        if (g->LS)
            SUNLinSolFree(g->LS);
        if (g->A)
            SUNMatDestroy(g->A);
        if (g->y)
            N_VDestroy(g->y);
        jacobian__pattern_free(&g->pattern);
        rhs__free(&g->plan);
        free(g->roots);
        free(g->nodes);
        free(g->pre);
    }
    for (size_t i = 0; s->nodes && i < s->n_nodes; i++) {
        node *n = &s->nodes[i];
        if (n->inst)
            n->d->destroy(n->inst);
        free(n->u);
        free(n->y);
        free(n->x_own);
        free(n->crossed);
        free(n->intra);
        free(n->held);
    }
    for (size_t i = 0; i < s->n_loops; i++)
        loops__free(&s->loops[i]);
    free(s->loops);
    free(s->nodes);
    free(s->groups);
    free(s->order);
    free(s->pre);
    free(s->inputs);
    free(s->row);
    free(s->columns);
    free(s->nonfinite_seen);
    free(s->g_begin);
    free(s->blocks);
    tick__free(&s->tick_plan);
    alarms__free(&s->alarms);
    measured__free(&s->measured);
    if (s->ctx)
        SUNContext_Free(&s->ctx);
    free(s);
    *sp = NULL;
}

/* ---- the loop ---------------------------------------------------------- */

static void collect_stats(sim *s, group *g)
{
    long v = 0;
    sim_stats *st = &s->st;
    if (CVodeGetNumSteps(g->cvode, &v) == CV_SUCCESS)
        st->steps += (uint64_t)v;
    if (CVodeGetNumRhsEvals(g->cvode, &v) == CV_SUCCESS)
        st->rhs_evals += (uint64_t)v;
    if (CVodeGetNumLinRhsEvals(g->cvode, &v) == CV_SUCCESS)
        st->rhs_evals += (uint64_t)v;
    if (CVodeGetNumJacEvals(g->cvode, &v) == CV_SUCCESS)
        st->jac_evals += (uint64_t)v;
    if (CVodeGetNumLinSolvSetups(g->cvode, &v) == CV_SUCCESS)
        st->lin_setups += (uint64_t)v;
    if (CVodeGetNumNonlinSolvIters(g->cvode, &v) == CV_SUCCESS)
        st->nonlin_iters += (uint64_t)v;
    if (CVodeGetNumNonlinSolvConvFails(g->cvode, &v) == CV_SUCCESS)
        st->nonlin_fails += (uint64_t)v;
    if (CVodeGetNumErrTestFails(g->cvode, &v) == CV_SUCCESS)
        st->err_test_fails += (uint64_t)v;
    if (g->n_g > 0 && CVodeGetNumGEvals(g->cvode, &v) == CV_SUCCESS)
        st->root_evals += (uint64_t)v;
}

int sim__restart(sim *s, group *g, double t)
{
    collect_stats(s, g);
    int flag = CVodeReInit(g->cvode, t, g->y);
    if (flag < 0) {
        char name[64];
        sim__fail(s, TWIN_E_SOLVER_FAILURE,
                  "CVodeReInit at t = %.17g failed: %s", t,
                  sim__flag_name(flag, name, sizeof name));
        return -1;
    }
    /* The first one only takes in what init() did to the start values. */
    s->st.restarts += g->started;
    g->started = 1;
    return 0;
}

/* Steps 1–3 of a tick at time t (k: tick number). */
int sim__propagate(sim *s, double t)
{
    for (size_t k = 0; k < s->n_order; k++) {
        node *n = s->order[k];
        if (n->tick_loop != NULL) {
            if (loops__at(n->tick_loop, n, t, LOOP_OUTPUTS) != 0)
                return -1;
            continue;
        }
        sim__gather_held(n);
        gather_intra(n);
        if (sim__reach(n, t, 0, 0) != 0)
            return -1;
    }
    return 0;
}

int sim__reach(node *n, double t, int tick, int recoverable)
{
    if (n->continuous)
        return call_outputs(n, t, recoverable);
    if (!tick || (n->period_ticks > 1 && n->owner->k % n->period_ticks != 0))
        return 0; /* not a tick, or between its samples: outputs held */
    twin_status st = IN_MODEL(n, t, n->d->tick(n->inst, t, n->tick_dt, n->x,
                                            n->u, n->y));
    OUT_OF_MODEL();
    return sim__model_status(n, st, "tick", t, recoverable);
}

int sim__evaluate(sim *s, double t, int first)
{
    tick__inputs(s, t);
    if (s->tick_plan != NULL) {
        if (tick__pre(s, t) != 0)
            return -1;
    } else {
        for (size_t i = 0; i < s->n_pre; i++)
            if (call_outputs(s->pre[i], t, 0) != 0)
                return -1;
    }
    if (first) {
        /* Signals at the start values, then each model's init. */
        if (sim__propagate(s, t) != 0)
            return -1;
        for (size_t k = 0; k < s->n_order; k++) {
            node *n = s->order[k];
            if (n->d->init == NULL)
                continue;
            twin_status st = IN_MODEL(n, t, n->d->init(n->inst, t, n->x, n->u));
            OUT_OF_MODEL();
            if (sim__model_status(n, st, "init", t, 0) != 0)
                return -1;
        }
    }
    if (s->tick_plan != NULL)
        return tick__evaluate(s, t, first);
    for (size_t k = 0; k < s->n_order; k++) {
        node *n = s->order[k];
        if (n->tick_loop != NULL) {
            if (loops__at(n->tick_loop, n, t, LOOP_TICK) != 0)
                return -1;
            continue;
        }
        sim__gather_held(n);
        gather_intra(n);
        if (sim__reach(n, t, 1, 0) != 0)
            return -1;
    }
    for (size_t k = 0; k < s->n_order; k++)
        if (s->order[k]->regather)
            sim__gather_held(s->order[k]);
    return 0;
}

static inline double signal_value(const sim *s, sc_ref r)
{
    const node *n = &s->nodes[r.inst];
    return r.kind == TWIN_VAR_STATE    ? n->x[r.index]
           : r.kind == TWIN_VAR_INPUT  ? n->u[r.index]
           : r.kind == TWIN_VAR_OUTPUT ? n->y[r.index]
                                       : measured__column(s->measured, r);
}

double sim__signal(const sim *s, sc_ref r)
{
    return signal_value(s, r);
}

void sim__nonfinite_columns(sim *s, double t)
{
    const scenario *sc = s->sc;
    for (size_t i = 0; i < sc->n_out; i++) {
        double v = s->row[i + 1];
        const sc_ref *r = &sc->out[i];
        if (isfinite(v) || s->nonfinite_seen[i] ||
            r->kind == SC_REF_MEASURED || r->kind == SC_REF_RESIDUAL)
            continue; /* (no plant value yet is NaN, and no news) */
        s->nonfinite_seen[i] = 1;
        if (s->cb.event == NULL)
            continue;
        char msg[512];
        snprintf(msg, sizeof msg, "%s is %g at t = %.17g (first time for "
                 "this column)", sc->out_name[i], v, t);
        sim_event ev = {.kind = SIM_EVENT_NONFINITE, .t = t,
                        .instance = sc->inst[r->inst].name,
                        .message = msg, .column = sc->out_name[i]};
        s->cb.event(s->cb.ctx, &ev);
    }
}

static int emit_row(sim *s, double t)
{
    const scenario *sc = s->sc;
    if (s->tick_plan == NULL || tick__row(s, t) != 0) {
        s->row[0] = t;
        for (size_t i = 0; i < sc->n_out; i++)
            s->row[i + 1] = signal_value(s, sc->out[i]);
        sim__nonfinite_columns(s, t);
    }
    s->st.rows++;
    return s->cb.row(s->cb.ctx, s->row, sc->n_out + 1);
}

int sim__run(sim *s, sim_stats *stats, twin_errors *errs)
{
    const scenario *sc = s->sc;
    int realtime = s->opt.realtime >= 0 ? s->opt.realtime : sc->realtime;
    double speed = s->opt.speed > 0 ? s->opt.speed : sc->speed;
    pace pc = {0};
    int rc = 0;
    double wall0 = util__now();

    if (s->cb.columns &&
        s->cb.columns(s->cb.ctx, sc->n_out + 1, s->columns) != 0) {
        sim__fail(s, TWIN_E_CANCELLED, "the receiver refused the columns");
        goto done;
    }
    if (realtime) {
        /* Wake at the deadline, not up to the default 50 µs after it. */
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        if (pace__init(&pc, sc->dt / speed) != 0) {
            sim__fail(s, TWIN_E_INTERNAL, "out of memory");
            goto done;
        }
        pc.stop = s->cb.stop;
    }
    for (size_t k = 0; k <= sc->n_ticks; k++) {
        double t = sc->start + (double)k * sc->dt;
        if (realtime) {
            int late;
            double lateness = pace__wait(&pc, k, &late);
            if (late && s->cb.event) {
                char msg[160];
                snprintf(msg, sizeof msg, "tick %zu started %.3f ms after its "
                         "deadline", k, lateness * 1e3);
                sim_event ev = {.kind = SIM_EVENT_LATE, .t = t,
                                .lateness = lateness, .message = msg};
                s->cb.event(s->cb.ctx, &ev);
            }
        }
        if (s->cb.poll && s->cb.poll(s->cb.ctx, s, t) != 0) {
            sim__fail(s, TWIN_E_CANCELLED, "cancelled at t = %.17g", t);
            break;
        }
        s->k = k;
        if (sim__evaluate(s, t, k == 0) != 0)
            break;
        if (s->cb.tick)
            s->cb.tick(s->cb.ctx, s, t);
        alarms__check(s->alarms, s, t);
        measured__check(s->measured, s, t);
        if (k % sc->every == 0 && emit_row(s, t) != 0) {
            sim__fail(s, TWIN_E_CANCELLED,
                      "cancelled by the receiver at t = %.17g", t);
            break;
        }
        if (k == sc->n_ticks || s->st.ended_by_model)
            break; /* the end, or a model asked for it */
        measured__correct(s->measured, s, t);
        double t1 = sc->start + (double)(k + 1) * sc->dt;
        int failed = 0;
        for (size_t gi = 0; gi < s->n_groups && !failed; gi++)
            if (s->groups[gi].cvode || s->groups[gi].timed)
                failed = sim__advance(s, &s->groups[gi], t, t1) != 0;
        if (failed)
            break;
        s->st.ticks++;
    }
done:
    for (size_t gi = 0; gi < s->n_groups; gi++)
        if (s->groups[gi].cvode)
            collect_stats(s, &s->groups[gi]);
    if (realtime) {
        s->st.late_ticks = pc.late;
        s->st.missed_ticks = pc.missed;
        s->st.lateness_p50 = pace__quantile(&pc, 0.50);
        s->st.lateness_p99 = pace__quantile(&pc, 0.99);
        s->st.lateness_max = pc.max;
        pace__free(&pc);
    }
    s->st.wall_seconds = util__now() - wall0;
    if (s->fail[0] != '\0') {
        errors__add(errs, s->fail_code, "", "%s", s->fail);
        rc = (int)s->fail_code;
        if (rc == 0)
            rc = TWIN_E_INTERNAL; /* code 0 is bad_json; never a run's end */
    }
    if (stats)
        *stats = s->st;
    return rc;
}

void sim__explain(const sim *s, FILE *out)
{
    loops__explain(s, out);
    tolerances__explain(s, out);
}

int sim__set_input(sim *s, const char *name, double value)
{
    for (size_t i = 0; i < s->sc->n_inputs; i++)
        if (strcmp(s->sc->inputs[i].name, name) == 0) {
            s->inputs[i].overridden = 1;
            s->inputs[i].live = value;
            return 0;
        }
    return -1;
}

int sim__measure(sim *s, const char *name, double value, int fresh)
{
    long i = measured__find(s->sc, name);
    if (i < 0)
        return -1;
    measured__set(s->measured, (size_t)i, value, fresh);
    return 0;
}

int sim__run_scenario(const scenario *sc, const sim_options *opt,
                      const sim_callbacks *cb, sim_stats *stats,
                      twin_errors *errs)
{
    sim *s = sim__new(sc, opt, cb, errs);
    if (s == NULL)
        return TWIN_E_INTERNAL;
    int rc = sim__run(s, stats, errs);
    sim__free(&s);
    return rc;
}
