/*
 * sim_steady.c — a sim as a function of its continuous states, for
 * steady.c: the first tick without a row, the composed right-hand side at
 * any states, and every signal at the point found.
 *
 * It evaluates exactly what the loop integrates (sim.c's group
 * evaluation), so a steady state is one of the scenario the run would
 * have: the same couplings in the same order, discrete outputs held as
 * over a tick.  Continuous models always share their group with whatever
 * continuous model they are connected to, so the right-hand side of all
 * states is the groups' right-hand sides side by side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

static size_t total_indicators(const sim *s)
{
    size_t n = 0;
    for (size_t gi = 0; gi < s->n_groups; gi++)
        if (s->groups[gi].y != NULL)
            n += s->groups[gi].n_g;
    return n;
}

int sim__begin(sim *s, double t)
{
    if (sim__evaluate(s, t, 1) != 0)
        return -1;
    free(s->g_begin);
    free(s->blocks);
    s->g_begin = calloc(total_indicators(s) + 1, sizeof *s->g_begin);
    s->blocks = calloc(s->n_groups + 1, sizeof *s->blocks);
    s->n_blocks = 0;
    if (s->g_begin == NULL || s->blocks == NULL) {
        sim__fail(s, TWIN_E_INTERNAL, "out of memory");
        return -1;
    }
    size_t off = 0;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        if (g->y != NULL)
            s->blocks[s->n_blocks++] = g;
        if (g->y == NULL || g->n_g == 0)
            continue;
        if (sim__group_roots(t, g->y, s->g_begin + off, g) != 0) {
            sim__fail(s, TWIN_E_SOLVER_FAILURE, "a model's event indicators "
                      "could not be evaluated at t = %.17g", t);
            return -1;
        }
        off += g->n_g;
    }
    return 0;
}

size_t sim__n_states(const sim *s)
{
    size_t n = 0;
    for (size_t gi = 0; gi < s->n_groups; gi++)
        if (s->groups[gi].y != NULL)
            n += s->groups[gi].n_x;
    return n;
}

sc_ref sim__state_ref(const sim *s, size_t i)
{
    sc_ref r = {0, TWIN_VAR_STATE, 0};
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const group *g = &s->groups[gi];
        if (g->y == NULL)
            continue;
        if (i >= g->n_x) {
            i -= g->n_x;
            continue;
        }
        for (size_t k = 0; k < g->n_nodes; k++) {
            const node *n = g->nodes[k];
            size_t ns = n->si->model->n_state;
            if (i >= n->x_off && i < n->x_off + ns) {
                r.inst = (size_t)(n - s->nodes);
                r.index = i - n->x_off;
                return r;
            }
        }
    }
    return r;
}

void sim__get_states(const sim *s, double *x)
{
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const group *g = &s->groups[gi];
        if (g->y == NULL)
            continue;
        memcpy(x, N_VGetArrayPointer(g->y), g->n_x * sizeof *x);
        x += g->n_x;
    }
}

size_t sim__n_blocks(const sim *s)
{
    return s->n_blocks;
}

void sim__block(const sim *s, size_t b, size_t *first, size_t *count)
{
    size_t off = 0;
    for (size_t k = 0; k < b; k++)
        off += s->blocks[k]->n_x;
    *first = off;
    *count = s->blocks[b]->n_x;
}

int sim__rhs_block(sim *s, size_t b, double t, const double *x, double *dx)
{
    if (s->fail[0] != '\0')
        return -1;
    group *g = s->blocks[b];
    double *y = N_VGetArrayPointer(g->y);
    memcpy(y, x, g->n_x * sizeof *x);
    int rc = sim__group_derivs(g, t, y, dx);
    return rc < 0 ? -1 : rc > 0 ? 1 : 0;
}

/* Copy x into the groups' own vectors and bind the models to them. */
static void put_states(sim *s, const double *x)
{
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        if (g->y == NULL)
            continue;
        double *y = N_VGetArrayPointer(g->y);
        memcpy(y, x, g->n_x * sizeof *x);
        bind(g, y);
        x += g->n_x;
    }
}

int sim__rhs(sim *s, double t, const double *x, double *dx)
{
    if (s->fail[0] != '\0')
        return -1;
    put_states(s, x);
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        if (g->y == NULL)
            continue;
        int rc = sim__group_derivs(g, t, N_VGetArrayPointer(g->y), dx);
        if (rc != 0)
            return rc < 0 ? -1 : 1;
        dx += g->n_x;
    }
    return 0;
}

/* Hand each model the indicators that changed sign since sim__begin. */
static int settle_events(sim *s, double t)
{
    size_t n_ind = total_indicators(s);
    double *now = calloc(n_ind + 1, sizeof *now);
    if (now == NULL) {
        sim__fail(s, TWIN_E_INTERNAL, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t off = 0;
    for (size_t gi = 0; rc == 0 && gi < s->n_groups; gi++) {
        group *g = &s->groups[gi];
        if (g->y == NULL || g->n_g == 0)
            continue;
        if (sim__group_roots(t, g->y, now + off, g) != 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < g->n_nodes; i++) {
            node *n = g->nodes[i];
            int any = 0;
            for (size_t k = 0; k < n->n_g; k++) {
                double was = s->g_begin[off + n->g_off + k];
                double is = now[off + n->g_off + k];
                n->crossed[k] = was < 0 && is > 0 ? 1 : was > 0 && is < 0
                                                            ? -1
                                                            : 0;
                any |= n->crossed[k] != 0;
            }
            if (any)
                rc = call_event(n, t, n->crossed);
        }
        off += g->n_g;
    }
    free(now);
    return rc;
}

int sim__settle(sim *s, double t, const double *x)
{
    if (s->fail[0] != '\0')
        return -1;
    put_states(s, x);
    if (settle_events(s, t) != 0)
        return -1;
    for (size_t i = 0; i < s->n_pre; i++)
        if (call_outputs(s->pre[i], t, 0) != 0)
            return -1;
    if (sim__propagate(s, t) != 0)
        return -1;
    for (size_t k = 0; k < s->n_order; k++)
        if (s->order[k]->regather)
            sim__gather_held(s->order[k]);
    return 0;
}

const char *sim__failure(const sim *s, twin_err_code *code)
{
    if (s->fail[0] == '\0')
        return NULL;
    if (code)
        *code = s->fail_code;
    return s->fail;
}

const char *sim__discarded(const sim *s, char *buf, size_t len)
{
    if (s->discarded == NULL)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "model '%s' (instance '%s')", s->discarded->d->name,
                 s->discarded->si->name);
    return buf;
}
