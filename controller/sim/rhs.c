/*
 * rhs.c — a group's right-hand side, flattened.
 *
 * The general evaluation (sim.c, sim__group_eval and sim__group_derivs)
 * walks the group's nodes twice per call, each time through the node
 * structures and their links.  For a group of many small models (stacked
 * chains, a long cascade) those walks cost more than the models: the
 * nodes are large and scattered, and each coupling is found through two
 * pointers.  This file packs what one evaluation needs into arrays built
 * once: per kind of pass (inputs only, derivatives, event indicators)
 * the list of its calls, each with its function, instance, arrays,
 * offsets and the couplings to copy before it, and per coupling the
 * input to fill and where its value is (an output's slot, or a state's
 * index in the group's vector).  A pass is then one loop over its calls,
 * the same for every kind: each node's couplings copied, its outputs
 * computed where another node reads them, then its derivatives — or, for
 * CVODE's root function, its event indicators (rhs__roots).
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

typedef twin_status (*rhs_fn)(twin_instance *, double, const double *,
                              const double *, double *);

enum { OP_OUTPUTS, OP_DERIVATIVES, OP_INDICATORS };

/* One call: fn(inst, t, x + x_off, u, out or base + out_off), after the
 * couplings [first, first + n_links) are copied; fn NULL: only those. */
struct rhs_op {
    rhs_fn fn;
    twin_instance *inst;
    double *u;
    double *out;              /* y; NULL: the pass's dx or gout */
    size_t x_off, out_off;
    size_t first, n_links;    /* into the plan's links */
    const char *model, *instance;
    node *n;                  /* for messages */
    int what;                 /* OP_* */
};

struct rhs_link {
    double *dst;
    const double *y;          /* an output's slot; NULL: a state */
    size_t x;                 /* the state's index in the group's vector */
};

/* The three passes' calls, in the nodes' order: inputs only (outputs
 * where read), the derivatives, the event indicators. */
enum { PASS_EVAL, PASS_DERIVS, PASS_ROOTS, N_PASSES };

struct rhs_plan {
    struct rhs_op *ops[N_PASSES];
    size_t n_ops[N_PASSES];
    struct rhs_link *links;
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

/* Append to p's pass `which` node n's calls: its outputs where another
 * node reads them, then its derivatives or indicators as the pass asks;
 * its couplings (starting at links) before the first. */
static void add_ops(struct rhs_plan *p, int which, node *n, size_t links)
{
    rhs_fn fns[3] = {n->rhs_outputs ? n->d->outputs : NULL,
                     which == PASS_DERIVS ? n->d->derivatives : NULL,
                     which == PASS_ROOTS && n->n_g > 0
                         ? n->d->event_indicators : NULL};
    double *outs[3] = {n->y, NULL, NULL};
    size_t offs[3] = {0, n->x_off, n->g_off};
    size_t before = p->n_ops[which];
    for (int k = 0; k < 3; k++) {
        int first = p->n_ops[which] == before;
        if (fns[k] == NULL && !(k == 2 && first && n->n_intra > 0))
            continue; /* (a node without calls still gets its inputs) */
        struct rhs_op *op = &p->ops[which][p->n_ops[which]++];
        *op = (struct rhs_op){
            .fn = fns[k], .inst = n->inst, .u = n->u, .out = outs[k],
            .x_off = n->x_off, .out_off = offs[k],
            .first = links, .n_links = first ? n->n_intra : 0,
            .model = n->d->name, .instance = n->si->name, .n = n,
            .what = k};
    }
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
    p->links = calloc(n_links + 1, sizeof *p->links);
    for (int w = 0; w < N_PASSES; w++)
        p->ops[w] = calloc(3 * g->n_nodes + 1, sizeof *p->ops[w]);
    if (!p->links || !p->ops[0] || !p->ops[1] || !p->ops[2]) {
        rhs__free(&p);
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        node *n = g->nodes[i];
        for (int w = 0; w < N_PASSES; w++)
            add_ops(p, w, n, at);
        for (size_t l = 0; l < n->n_intra; l++, at++) {
            const link *k = &n->intra[l];
            p->links[at].dst = &n->u[k->dst];
            if (k->from_state)
                p->links[at].x = k->src->x_off + k->src_index;
            else
                p->links[at].y = &k->src->y[k->src_index];
        }
    }
    g->plan = p;
    return 0;
}

void rhs__free(struct rhs_plan **pp)
{
    struct rhs_plan *p = *pp;
    if (p == NULL)
        return;
    for (int w = 0; w < N_PASSES; w++)
        free(p->ops[w]);
    free(p->links);
    free(p);
    *pp = NULL;
}

/* One pass at (t, x) through the calls of `which` (out: dx or gout, or
 * NULL for PASS_EVAL).  0, 1 retry, -1 failed (recorded). */
static int pass(const struct rhs_plan *p, int which, double t,
                const double *x, double *out)
{
    static const char *const names[] = {"outputs", "derivatives",
                                        "event_indicators"};
    const struct rhs_op *ops = p->ops[which];
    const size_t n = p->n_ops[which];
    int rc = 0;
    sim__t_in_use = t;
    for (size_t i = 0; i < n; i++) {
        const struct rhs_op *op = &ops[i];
        const struct rhs_link *l = p->links + op->first;
        for (size_t k = 0; k < op->n_links; k++)
            *l[k].dst = l[k].y ? *l[k].y : x[l[k].x];
        if (op->fn == NULL)
            continue;
        sim__model_in_use = op->model;
        sim__instance_in_use = op->instance;
        twin_status st = op->fn(op->inst, t, x + op->x_off, op->u,
                                op->out ? op->out : out + op->out_off);
        if (st > TWIN_WARNING) {
            /* DISCARD is a retry but from the indicators (as in
             * sim__group_roots). */
            rc = sim__model_status(op->n, st, names[op->what], t,
                                   op->what != OP_INDICATORS);
            break;
        }
    }
    OUT_OF_MODEL();
    return rc;
}

int rhs__eval(group *g, double t, double *x, double *dx)
{
    if (dx == NULL) {
        bind(g, x); /* the caller reads the nodes' x after */
        return pass(g->plan, PASS_EVAL, t, x, NULL);
    }
    int rc = pass(g->plan, PASS_DERIVS, t, x, dx);
    return rc == 0 ? sim__check_finite(g, dx, t) : rc;
}

int rhs__roots(group *g, double t, const double *x, double *gout)
{
    int rc = pass(g->plan, PASS_ROOTS, t, x, gout);
    return rc < 0 ? -1 : rc;
}
