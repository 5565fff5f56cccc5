/*
 * tick.c — the steps of a tick that are not integration, flattened:
 * the inputs from their profiles, every model reached in the global
 * order, the held signals regathered, the row.
 *
 * The general evaluation (sim.c, sim__evaluate) walks the nodes in order
 * and for each looks at its loop, its held and its internal links, and
 * whether it is continuous or due to tick, all through the node
 * structure; then it walks every node again for those to regather.  For
 * many small models (tank-farm: three per chain, a few doubles each)
 * that bookkeeping costs more than the models.  This file packs what a
 * tick needs into arrays built once, as rhs.c does for the right-hand
 * side: per node in order its call, instance, arrays and links; per link
 * where its value is and, for a held one, which group a jump restarts;
 * the nodes to regather; per column of the row where its value is.  An
 * input whose profile is a constant or steps is looked up again only
 * when t leaves the span over which its last value holds.
 *
 * The plan is taken where it gives what the general evaluation does: no
 * algebraic loop at ticks.  The models evaluated ahead of their turn
 * where a cycle was broken (s->pre) are called first (tick__pre, from
 * sim__evaluate), then at the first tick the signals' propagation and
 * init go the general way; such a model is not called again in its turn
 * when none of its inputs moved in between (its outputs are a function
 * of t, x and u), but at the first tick.  The row is the general one
 * where a column is not a model's variable (a measurement).  Numbers
 * are the same to the bit: the same calls with the same arguments (less
 * the repeated ones), the same comparisons deciding restarts.  The crash
 * context is set before each call and cleared after the pass, t once
 * per pass, as in rhs.c.
 */
#include <stdlib.h>

#include "sim_internal.h"

/* A signal: *src, or (*xp)[i] for a state (a node's x is rebound). */
struct tick_link {
    double *dst;
    const double *src;
    double *const *xp;
    size_t i;
    int *restart;             /* held: the group a jump restarts, or NULL */
};

struct tick_step {
    node *n;                  /* for messages */
    const char *model, *instance;
    twin_instance *inst;
    twin_status (*outputs)(twin_instance *, double, const double *,
                           const double *, double *); /* continuous */
    twin_status (*tick)(twin_instance *, double, double, double *,
                        const double *, double *);    /* discrete */
    double *const *xp;
    double *u, *y;
    double dt;
    size_t period;
    int pre;                  /* in s->pre: its outputs were just computed */
    size_t held, n_held, intra, n_intra; /* into the plan's links */
};

struct tick_plan {
    struct tick_step *steps;
    size_t n_steps;
    struct tick_link *links;
    size_t *regather;         /* steps whose held links are read again */
    size_t n_regather;
    size_t *pre;              /* steps of s->pre, in its order */
    size_t n_pre;
    struct tick_link *columns; /* the row's values, t excluded */
};

static inline double value(const struct tick_link *l)
{
    return l->src ? *l->src : (*l->xp)[l->i];
}

static void set_link(struct tick_link *to, double *dst, const node *src,
                     int from_state, size_t index)
{
    to->dst = dst;
    if (from_state) {
        to->xp = &src->x;
        to->i = index;
    } else {
        to->src = &src->y[index];
    }
}

/* Copy held links; a jump restarts the group (sim__gather_held).
 * Whether an input changed. */
static inline int held(const struct tick_plan *p, const struct tick_step *st)
{
    const struct tick_link *l = p->links + st->held;
    int changed = 0;
    for (size_t k = 0; k < st->n_held; k++) {
        double v = value(&l[k]);
        if (!same(*l[k].dst, v)) {
            *l[k].dst = v;
            changed = 1;
            if (l[k].restart)
                *l[k].restart = 1;
        }
    }
    return changed;
}

/* Copy internal links (gather_intra); whether an input's bits changed. */
static inline int intra(const struct tick_plan *p, const struct tick_step *st)
{
    const struct tick_link *l = p->links + st->intra;
    int changed = 0;
    for (size_t i = 0; i < st->n_intra; i++) {
        double v = value(&l[i]);
        changed |= memcmp(l[i].dst, &v, sizeof v) != 0;
        *l[i].dst = v;
    }
    return changed;
}

/* Where each column's value is; p->columns stays NULL (the row the
 * general way) where a column is not a model's variable (a measurement,
 * measured.c).  0, or -1 out of memory. */
static int build_columns(sim *s, struct tick_plan *p)
{
    const scenario *sc = s->sc;
    for (size_t i = 0; i < sc->n_out; i++)
        if (sc->out[i].kind != TWIN_VAR_STATE &&
            sc->out[i].kind != TWIN_VAR_INPUT &&
            sc->out[i].kind != TWIN_VAR_OUTPUT)
            return 0;
    p->columns = calloc(sc->n_out + 1, sizeof *p->columns);
    if (p->columns == NULL)
        return -1;
    for (size_t i = 0; i < sc->n_out; i++) {
        const sc_ref *r = &sc->out[i];
        node *n = &s->nodes[r->inst];
        if (r->kind == TWIN_VAR_STATE)
            set_link(&p->columns[i], NULL, n, 1, r->index);
        else
            p->columns[i].src = r->kind == TWIN_VAR_INPUT ? &n->u[r->index]
                                                          : &n->y[r->index];
    }
    return 0;
}

/* The steps of s->pre, in its order (which may not be the global one),
 * marked; then the plan is s's.  0, or -1 out of memory (p freed). */
static int pre_steps(sim *s, struct tick_plan *p)
{
    size_t *at = malloc((s->n_nodes + 1) * sizeof *at);
    if (at == NULL) {
        tick__free(&p);
        return -1;
    }
    for (size_t i = 0; i < s->n_nodes; i++)
        at[i] = (size_t)-1;
    for (size_t k = 0; k < s->n_order; k++)
        at[s->order[k] - s->nodes] = k;
    for (size_t i = 0; i < s->n_pre; i++) {
        size_t k = at[s->pre[i] - s->nodes];
        if (k == (size_t)-1) { /* not in the order: the general way */
            free(at);
            tick__free(&p);
            return 0;
        }
        p->steps[k].pre = 1;
        p->pre[p->n_pre++] = k;
    }
    free(at);
    s->tick_plan = p;
    return 0;
}

int tick__build(sim *s)
{
    size_t n_links = 0;
    for (size_t k = 0; k < s->n_order; k++) {
        if (s->order[k]->tick_loop != NULL)
            return 0;
        n_links += s->order[k]->n_held + s->order[k]->n_intra;
    }
    struct tick_plan *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    p->steps = calloc(s->n_order + 1, sizeof *p->steps);
    p->links = calloc(n_links + 1, sizeof *p->links);
    p->regather = calloc(s->n_order + 1, sizeof *p->regather);
    p->pre = calloc(s->n_pre + 1, sizeof *p->pre);
    if (!p->steps || !p->links || !p->regather || !p->pre ||
        build_columns(s, p)) {
        tick__free(&p);
        return -1;
    }
    size_t at = 0;
    for (size_t k = 0; k < s->n_order; k++) {
        node *n = s->order[k];
        struct tick_step *st = &p->steps[k];
        st->n = n;
        st->model = n->d->name;
        st->instance = n->si->name;
        st->inst = n->inst;
        if (n->continuous)
            st->outputs = n->d->outputs;
        else
            st->tick = n->d->tick;
        st->xp = &n->x;
        st->u = n->u;
        st->y = n->y;
        st->dt = n->tick_dt;
        st->period = n->period_ticks;
        st->held = at;
        st->n_held = n->n_held;
        for (size_t l = 0; l < n->n_held; l++, at++) {
            const link *h = &n->held[l];
            set_link(&p->links[at], &n->u[h->dst], h->src, h->from_state,
                     h->src_index);
            p->links[at].restart = n->grp ? &n->grp->restart : NULL;
        }
        st->intra = at;
        st->n_intra = n->n_intra;
        for (size_t l = 0; l < n->n_intra; l++, at++) {
            const link *h = &n->intra[l];
            set_link(&p->links[at], &n->u[h->dst], h->src, h->from_state,
                     h->src_index);
        }
        if (n->regather)
            p->regather[p->n_regather++] = k;
    }
    p->n_steps = s->n_order;
    return pre_steps(s, p);
}

void tick__free(struct tick_plan **pp)
{
    struct tick_plan *p = *pp;
    if (p == NULL)
        return;
    free(p->steps);
    free(p->links);
    free(p->regather);
    free(p->pre);
    free(p->columns);
    free(p);
    *pp = NULL;
}

/* The value of a profile of steps or a constant at t, and the span
 * [*from, *until) over which it holds (the last step at or before t as
 * scenario__profile_at finds it, until the next); a table's is t's own,
 * an empty span. */
static double profile_span(const sc_profile *p, double t, double *from,
                           double *until)
{
    *from = -INFINITY;
    *until = INFINITY;
    if (p->kind == SC_PROFILE_VALUE)
        return p->value;
    if (p->kind != SC_PROFILE_STEPS) {
        *from = INFINITY;
        *until = -INFINITY;
        return scenario__profile_at(p, t);
    }
    size_t at = scenario__step_index(p, t); /* times strictly increase */
    if (at > 0)
        *from = p->t[at];
    if (at + 1 < p->n)
        *until = p->t[at + 1];
    return p->v[at];
}

void tick__inputs(sim *s, double t)
{
    for (size_t i = 0; i < s->sc->n_inputs; i++) {
        input_slot *in = &s->inputs[i];
        double v;
        if (!in->overridden && t >= in->from && t < in->until)
            v = in->value; /* a step or constant profile between changes */
        else if (in->overridden || in->in->profile.kind == SC_PROFILE_LIVE)
            v = in->live; /* (a live profile's span is never known) */
        else
            v = in->value = profile_span(&in->in->profile, t, &in->from,
                                         &in->until);
        double *u = in->u;
        if (!same(*u, v)) {
            *u = v;
            if (in->n->grp)
                in->n->grp->restart = 1;
        }
    }
}

/* A continuous model's outputs at t (the crash context left set). */
static inline int outputs(const struct tick_step *st, double t)
{
    sim__model_in_use = st->model;
    sim__instance_in_use = st->instance;
    twin_status status = st->outputs(st->inst, t, *st->xp, st->u, st->y);
    return status > TWIN_WARNING
               ? sim__model_status(st->n, status, "outputs", t, 0)
               : 0;
}

int tick__pre(sim *s, double t)
{
    const struct tick_plan *p = s->tick_plan;
    int rc = 0;
    sim__t_in_use = t;
    for (size_t k = 0; k < p->n_pre && rc == 0; k++)
        if (p->steps[p->pre[k]].outputs != NULL)
            rc = outputs(&p->steps[p->pre[k]], t);
    OUT_OF_MODEL();
    return rc != 0 ? -1 : 0;
}

int tick__evaluate(sim *s, double t, int first)
{
    const struct tick_plan *p = s->tick_plan;
    int rc = 0;
    sim__t_in_use = t;
    for (size_t k = 0; k < p->n_steps && rc == 0; k++) {
        const struct tick_step *st = &p->steps[k];
        int changed = held(p, st);
        changed |= intra(p, st);
        twin_status status;
        if (st->tick == NULL) {
            /* A model evaluated ahead of its turn (s->pre) whose inputs
             * have not moved since: its outputs depend only on t, x and
             * u (plugin-guide.md, section 5), which are what they were,
             * so they are what it just wrote.  Not at the first tick,
             * where the signals were propagated and init() may have
             * changed x in between. */
            if (st->outputs == NULL || (st->pre && !changed && !first))
                continue;
            rc = outputs(st, t);
        } else {
            if (st->period > 1 && s->k % st->period != 0)
                continue; /* between its samples: outputs held */
            sim__model_in_use = st->model;
            sim__instance_in_use = st->instance;
            status = st->tick(st->inst, t, st->dt, *st->xp, st->u, st->y);
            if (status > TWIN_WARNING)
                rc = sim__model_status(st->n, status, "tick", t, 0);
        }
    }
    OUT_OF_MODEL();
    if (rc != 0)
        return -1;
    for (size_t k = 0; k < p->n_regather; k++)
        held(p, &p->steps[p->regather[k]]);
    return 0;
}

int tick__row(sim *s, double t)
{
    const struct tick_plan *p = s->tick_plan;
    if (p->columns == NULL)
        return 1;
    const size_t n = s->sc->n_out;
    double *row = s->row;
    row[0] = t;
    /* One pass to fill, a second only where a value is not finite (the
     * first time for its column is reported): the fill has no branch. */
    uint64_t any = 0;
    for (size_t i = 0; i < n; i++) {
        double v = value(&p->columns[i]);
        any |= nonfinite_bit(v);
        row[i + 1] = v;
    }
    if (any >> 63)
        sim__nonfinite_columns(s, t);
    return 0;
}
