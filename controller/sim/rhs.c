/*
 * rhs.c — a group's right-hand side, flattened.
 *
 * The general evaluation (sim.c, sim__group_eval and sim__group_derivs)
 * walks the group's nodes twice per call, each time through the node
 * structures and their links.  For a group of many small models (stacked
 * chains, a long cascade) those walks cost more than the models: the
 * nodes are large and scattered, and each coupling is found through two
 * pointers.  This file packs what one evaluation needs into two arrays
 * built once: per node its calls, instance, arrays and state offset, and
 * per coupling the input to fill and where its value is (an output's
 * slot, or a state's index in the group's vector).  One pass then copies
 * each node's couplings, computes its outputs where another node reads
 * them, and its derivatives — or, for CVODE's root function, its event
 * indicators (rhs__roots), in the same pass.
 *
 * What the pass leaves out of the general evaluation, each without
 * changing a number: the nodes' x are not rebound to CVODE's vector (the
 * models get x + offset directly; a node's x keeps pointing into the
 * vector the group is bound to, which is what anything reading it after
 * expects, and rebinding 2N scattered pointers at every call cost more
 * than a model call); the crash context (sim__model_in_use and
 * sim__instance_in_use) is set before each call and cleared once after
 * the pass, t once per pass — between two calls only the couplings are
 * copied, nothing that can crash.
 *
 * The flat plan is taken only where it gives what the general one does:
 * no algebraic loop inside the group and no node evaluated ahead of its
 * turn (a broken cycle), so that every coupling's source comes earlier
 * in the order; otherwise the group keeps the general evaluation.
 */
#include <stdlib.h>

#include "sim_internal.h"

struct rhs_node {
    node *n;                  /* for messages */
    const char *model, *instance;
    twin_instance *inst;
    twin_status (*outputs)(twin_instance *, double, const double *,
                           const double *, double *);
    twin_status (*derivatives)(twin_instance *, double, const double *,
                               const double *, double *);
    twin_status (*indicators)(twin_instance *, double, const double *,
                              const double *, double *); /* NULL: none */
    double *u, *y;
    size_t x_off, g_off;
    size_t first, n_links;    /* into the plan's links */
};

struct rhs_link {
    double *dst;
    const double *y;          /* an output's slot; NULL: a state */
    size_t x;                 /* the state's index in the group's vector */
};

struct rhs_plan {
    struct rhs_node *nodes;
    struct rhs_link *links;
    size_t n_nodes;
};

/* Whether every coupling of g's nodes comes from a node earlier in the
 * order (or a state, which is there before any call): 1, 0, or -1 out
 * of memory. */
static int in_order(const group *g)
{
    const sim *s = g->owner;
    size_t *pos = malloc((s->n_nodes + 1) * sizeof *pos);
    if (pos == NULL)
        return -1;
    for (size_t i = 0; i < s->n_nodes; i++)
        pos[i] = (size_t)-1; /* not in the group */
    for (size_t i = 0; i < g->n_nodes; i++)
        pos[g->nodes[i] - s->nodes] = i;
    int ok = 1;
    for (size_t i = 0; i < g->n_nodes && ok; i++) {
        const node *n = g->nodes[i];
        for (size_t l = 0; l < n->n_intra && ok; l++)
            ok = n->intra[l].from_state ||
                 pos[n->intra[l].src - s->nodes] < i;
    }
    free(pos);
    return ok;
}

int rhs__build(group *g)
{
    if (g->n_x == 0 || g->n_pre > 0)
        return 0;
    size_t n_links = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->rhs_loop != NULL)
            return 0;
        n_links += g->nodes[i]->n_intra;
    }
    int ordered = in_order(g);
    if (ordered <= 0)
        return ordered;
    struct rhs_plan *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    p->nodes = calloc(g->n_nodes + 1, sizeof *p->nodes);
    p->links = calloc(n_links + 1, sizeof *p->links);
    if (p->nodes == NULL || p->links == NULL) {
        rhs__free(&p);
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        struct rhs_node *r = &p->nodes[i];
        r->n = n;
        r->model = n->d->name;
        r->instance = n->si->name;
        r->inst = n->inst;
        r->outputs = n->rhs_outputs ? n->d->outputs : NULL;
        r->derivatives = n->d->derivatives;
        r->indicators = n->n_g > 0 ? n->d->event_indicators : NULL;
        r->u = n->u;
        r->y = n->y;
        r->x_off = n->x_off;
        r->g_off = n->g_off;
        r->first = at;
        r->n_links = n->n_intra;
        for (size_t l = 0; l < n->n_intra; l++, at++) {
            const link *k = &n->intra[l];
            p->links[at].dst = &n->u[k->dst];
            if (k->from_state)
                p->links[at].x = k->src->x_off + k->src_index;
            else
                p->links[at].y = &k->src->y[k->src_index];
        }
    }
    p->n_nodes = g->n_nodes;
    g->plan = p;
    return 0;
}

void rhs__free(struct rhs_plan **pp)
{
    struct rhs_plan *p = *pp;
    if (p == NULL)
        return;
    free(p->nodes);
    free(p->links);
    free(p);
    *pp = NULL;
}

/* Who is being called, for a crash report (t is set once per pass). */
static inline void entering(const struct rhs_node *r)
{
    sim__model_in_use = r->model;
    sim__instance_in_use = r->instance;
}

/* One pass over the plan at (t, x): couplings, outputs where read, and
 * the derivatives into dx or the event indicators into gout (either may
 * be NULL).  0, 1 retry, -1 failed (recorded).  Inlined into each caller
 * below, with the NULLs known there, so that each pass has only the
 * branches it takes. */
static inline __attribute__((always_inline)) int
pass(const struct rhs_plan *p, double t, const double *x, double *dx,
     double *gout)
{
    int rc = 0;
    sim__t_in_use = t;
    for (size_t i = 0; i < p->n_nodes && rc == 0; i++) {
        const struct rhs_node *r = &p->nodes[i];
        const struct rhs_link *l = p->links + r->first;
        for (size_t k = 0; k < r->n_links; k++)
            *l[k].dst = l[k].y ? *l[k].y : x[l[k].x];
        const double *xn = x + r->x_off;
        twin_status st;
        if (r->outputs) {
            entering(r);
            st = r->outputs(r->inst, t, xn, r->u, r->y);
            if (st > TWIN_WARNING)
                rc = sim__model_status(r->n, st, "outputs", t, 1);
        }
        if (dx != NULL && rc == 0) {
            entering(r);
            st = r->derivatives(r->inst, t, xn, r->u, dx + r->x_off);
            if (st > TWIN_WARNING)
                rc = sim__model_status(r->n, st, "derivatives", t, 1);
        }
        if (gout != NULL && r->indicators != NULL && rc == 0) {
            /* xn is read-only here as in the general evaluation's call
             * through n->x, which points at the same doubles. */
            entering(r);
            st = r->indicators(r->inst, t, xn, r->u, gout + r->g_off);
            rc = sim__model_status(r->n, st, "event_indicators", t, 0);
        }
    }
    OUT_OF_MODEL();
    return rc;
}

int rhs__eval(group *g, double t, double *x, double *dx)
{
    if (dx == NULL) {
        bind(g, x); /* the caller reads the nodes' x after */
        return pass(g->plan, t, x, NULL, NULL);
    }
    int rc = pass(g->plan, t, x, dx, NULL);
    return rc == 0 ? sim__check_finite(g, dx, t) : rc;
}

int rhs__roots(group *g, double t, const double *x, double *gout)
{
    int rc = pass(g->plan, t, x, NULL, gout);
    return rc < 0 ? -1 : rc;
}
