/*
 * jacobian.c — the structure of a group's Jacobian and the linear solver
 * its integrator uses.
 *
 * The structure comes from the connections inside the group and from each
 * model's declared dependencies (model ABI 1.2; a model without them is
 * one dense block: each derivative and output on each of its states, each
 * derivative and feedthrough output on each of its inputs).  A signal's
 * dependency set is the set of group states it moves with: a state is
 * itself, an input is its source's set (a held source: none), an output
 * the union over what it depends on.  Sets are found by iterating to a
 * fixed point in the group's order, which also carries them around the
 * cycles of algebraic loops.  Row i of the Jacobian is the set of state
 * i's derivative; the diagonal is always in the pattern.
 *
 * From the pattern: its bandwidths (for the band solver and CVODE's band
 * difference quotients), and a colouring of its columns (columns that
 * share no row get one colour) for the sparse solver, whose Jacobian is
 * filled here by coloured difference quotients: one right-hand-side
 * evaluation per colour, not per state.
 *
 * The choice, per group, is the scenario's "linear_solver" when it names
 * one, else the cheapest by an estimate of the factorisation's work:
 * dense for small groups, band for narrow bands, KLU for large sparse
 * groups (docs/simulation.md, "Linear solvers").
 */
#include "jacobian.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sunlinsol/sunlinsol_band.h>
#include <sunlinsol/sunlinsol_klu.h>
#include <sunmatrix/sunmatrix_band.h>
#include <sunmatrix/sunmatrix_sparse.h>

#include "sim_internal.h"

/* Groups up to this many states are dense whatever their structure. */
#define JAC_DENSE_MAX 8

const char *jacobian__name(jac_kind k)
{
    switch (k) {
    case JAC_DENSE: return "dense";
    case JAC_BAND: return "band";
    case JAC_KLU: return "klu";
    }
    return "?";
}

/* ---- index sets ---------------------------------------------------------- */

/* A sorted set of state indices. */
typedef struct iset {
    size_t n, cap;
    size_t *v;
} iset;

static int iset_add(iset *s, size_t x, int *grew)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->v[lo] == x)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        size_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof *s->v);
    s->v[lo] = x;
    s->n++;
    *grew = 1;
    return 0;
}

static int iset_union(iset *s, const iset *t, int *grew)
{
    for (size_t i = 0; i < t->n; i++)
        if (iset_add(s, t->v[i], grew) != 0)
            return -1;
    return 0;
}

/* ---- what a model declares ----------------------------------------------- */

/* The dependencies of one variable of a node (its derivative for a
 * state): the states and inputs it depends on, by index of their kind. */
typedef struct deps {
    int dense;             /* no declaration: all states, inputs if any */
    size_t *states, n_states;
    size_t *inputs, n_inputs;
} deps;

/* Per node: dependency sets of its inputs and outputs. */
typedef struct node_sets {
    iset *u, *y;
    deps *dy, *dx;        /* declared, per output and per state */
    size_t *kind_index;   /* variable index -> index within its kind */
} node_sets;

static int push(size_t **arr, size_t *n, size_t x)
{
    size_t *grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    grown[*n] = x;
    *arr = grown;
    (*n)++;
    return 0;
}

static int declared(const twin_model *m, node_sets *ns)
{
    const twin_model_descriptor *d = m->d;
    ns->dx = calloc(m->n_state + 1, sizeof *ns->dx);
    ns->dy = calloc(m->n_output + 1, sizeof *ns->dy);
    ns->kind_index = calloc(d->n_variables + 1, sizeof *ns->kind_index);
    if (!ns->dx || !ns->dy || !ns->kind_index)
        return -1;
    size_t count[4] = {0};
    for (size_t i = 0; i < d->n_variables; i++)
        ns->kind_index[i] = count[d->variables[i].kind]++;
    int dense = m->dependencies == NULL;
    for (size_t k = 0; k < m->n_state; k++)
        ns->dx[k].dense = dense;
    for (size_t j = 0; j < m->n_output; j++)
        ns->dy[j].dense = dense;
    for (size_t i = 0; i < m->n_dependencies; i++) {
        const twin_dependency *dep = &m->dependencies[i];
        const twin_variable *of = &d->variables[dep->of];
        const twin_variable *on = &d->variables[dep->on];
        deps *e = of->kind == TWIN_VAR_STATE ? &ns->dx[ns->kind_index[dep->of]]
                                              : &ns->dy[ns->kind_index[dep->of]];
        int rc = on->kind == TWIN_VAR_STATE
                     ? push(&e->states, &e->n_states, ns->kind_index[dep->on])
                     : push(&e->inputs, &e->n_inputs, ns->kind_index[dep->on]);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void deps_free(deps *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++) {
        free(d[i].states);
        free(d[i].inputs);
    }
    free(d);
}

/* Into set: what variable e of node n (at states x_off) depends on. */
static int gather(iset *set, const deps *e, const node *n, const node_sets *ns,
                  int inputs_too, int *grew)
{
    const twin_model *m = n->si->model;
    if (e->dense) {
        for (size_t k = 0; k < m->n_state; k++)
            if (iset_add(set, n->x_off + k, grew) != 0)
                return -1;
        for (size_t i = 0; inputs_too && i < m->n_input; i++)
            if (iset_union(set, &ns->u[i], grew) != 0)
                return -1;
        return 0;
    }
    for (size_t k = 0; k < e->n_states; k++)
        if (iset_add(set, n->x_off + e->states[k], grew) != 0)
            return -1;
    for (size_t i = 0; i < e->n_inputs; i++)
        if (iset_union(set, &ns->u[e->inputs[i]], grew) != 0)
            return -1;
    return 0;
}

/* ---- the pattern --------------------------------------------------------- */

static int propagate(const sim *s, const group *g, node_sets *sets)
{
    /* Sets only grow and are bounded: at most one pass per node, plus
     * one to see nothing moved. */
    for (size_t pass = 0; pass <= g->n_nodes + 1; pass++) {
        int grew = 0;
        for (size_t i = 0; i < g->n_nodes; i++) {
            const node *n = g->nodes[i];
            node_sets *ns = &sets[n - s->nodes];
            const twin_model *m = n->si->model;
            for (size_t l = 0; l < n->n_intra; l++) {
                const link *k = &n->intra[l];
                iset *u = &ns->u[k->dst];
                int rc = k->from_state
                             ? iset_add(u, k->src->x_off + k->src_index, &grew)
                             : iset_union(u, &sets[k->src - s->nodes].y
                                                  [k->src_index], &grew);
                if (rc != 0)
                    return -1;
            }
            for (size_t j = 0; j < m->n_output; j++) {
                int ft = (m->output[j]->flags & TWIN_VAR_FEEDTHROUGH) != 0;
                if (gather(&ns->y[j], &ns->dy[j], n, ns, ft, &grew) != 0)
                    return -1;
            }
        }
        if (!grew)
            return 0;
    }
    return 0;
}

/* Fill p (CSC, the diagonal included) from the rows' sets. */
static int to_csc(const iset *rows, size_t n, jac_pattern *p)
{
    p->n = n;
    p->colptr = calloc(n + 1, sizeof *p->colptr);
    if (p->colptr == NULL)
        return -1;
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < rows[i].n; k++) {
            p->colptr[rows[i].v[k] + 1]++;
            nnz++;
        }
    for (size_t j = 0; j < n; j++)
        p->colptr[j + 1] += p->colptr[j];
    p->nnz = nnz;
    p->rowval = malloc((nnz + 1) * sizeof *p->rowval);
    size_t *fill = malloc((n + 1) * sizeof *fill);
    if (p->rowval == NULL || fill == NULL) {
        free(fill);
        return -1;
    }
    for (size_t j = 0; j < n; j++)
        fill[j] = (size_t)p->colptr[j];
    p->mu = p->ml = 0;
    for (size_t i = 0; i < n; i++) /* rows in order: sorted columns */
        for (size_t k = 0; k < rows[i].n; k++) {
            size_t j = rows[i].v[k];
            p->rowval[fill[j]++] = (sunindextype)i;
            if (j > i && (long)(j - i) > p->mu)
                p->mu = (long)(j - i);
            if (i > j && (long)(i - j) > p->ml)
                p->ml = (long)(i - j);
        }
    free(fill);
    return 0;
}

int jacobian__pattern(const sim *s, const group *g, jac_pattern *p)
{
    memset(p, 0, sizeof *p);
    int rc = -1;
    node_sets *sets = calloc(s->n_nodes + 1, sizeof *sets);
    iset *rows = calloc(g->n_x + 1, sizeof *rows);
    if (sets == NULL || rows == NULL)
        goto done;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const node *n = g->nodes[i];
        const twin_model *m = n->si->model;
        node_sets *ns = &sets[n - s->nodes];
        ns->u = calloc(m->n_input + 1, sizeof *ns->u);
        ns->y = calloc(m->n_output + 1, sizeof *ns->y);
        if (!ns->u || !ns->y || declared(m, ns) != 0)
            goto done;
    }
    if (propagate(s, g, sets) != 0)
        goto done;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const node *n = g->nodes[i];
        const node_sets *ns = &sets[n - s->nodes];
        for (size_t k = 0; k < n->si->model->n_state; k++) {
            int grew = 0;
            iset *row = &rows[n->x_off + k];
            if (iset_add(row, n->x_off + k, &grew) != 0 ||
                gather(row, &ns->dx[k], n, ns, 1, &grew) != 0)
                goto done;
        }
    }
    rc = to_csc(rows, g->n_x, p);
done:
    for (size_t i = 0; sets && i < g->n_nodes; i++) {
        const node *n = g->nodes[i];
        const twin_model *m = n->si->model;
        node_sets *ns = &sets[n - s->nodes];
        for (size_t k = 0; ns->u && k < m->n_input; k++)
            free(ns->u[k].v);
        for (size_t k = 0; ns->y && k < m->n_output; k++)
            free(ns->y[k].v);
        free(ns->u);
        free(ns->y);
        deps_free(ns->dx, m->n_state);
        deps_free(ns->dy, m->n_output);
        free(ns->kind_index);
    }
    for (size_t i = 0; rows && i < g->n_x; i++)
        free(rows[i].v);
    free(sets);
    free(rows);
    if (rc != 0)
        jacobian__pattern_free(p);
    return rc;
}

void jacobian__pattern_free(jac_pattern *p)
{
    free(p->colptr);
    free(p->rowval);
    free(p->colour);
    memset(p, 0, sizeof *p);
}

/* Greedy colouring of the columns: a column takes the smallest colour no
 * column sharing a row with it has yet. */
static int colour(jac_pattern *p)
{
    size_t n = p->n;
    int rc = -1;
    /* Rows' columns (the transpose). */
    size_t *rptr = calloc(n + 1, sizeof *rptr);
    size_t *rcol = malloc((p->nnz + 1) * sizeof *rcol);
    size_t *seen = malloc((n + 1) * sizeof *seen);
    p->colour = malloc((n + 1) * sizeof *p->colour);
    if (!rptr || !rcol || !seen || !p->colour)
        goto done;
    for (size_t k = 0; k < p->nnz; k++)
        rptr[p->rowval[k] + 1]++;
    for (size_t i = 0; i < n; i++)
        rptr[i + 1] += rptr[i];
    for (size_t j = 0; j < n; j++)
        for (sunindextype k = p->colptr[j]; k < p->colptr[j + 1]; k++)
            rcol[rptr[p->rowval[k]]++] = j;
    for (size_t i = n; i > 0; i--)
        rptr[i] = rptr[i - 1];
    rptr[0] = 0;
    for (size_t c = 0; c <= n; c++)
        seen[c] = (size_t)-1;
    p->n_colours = 0;
    for (size_t j = 0; j < n; j++) {
        for (sunindextype k = p->colptr[j]; k < p->colptr[j + 1]; k++) {
            size_t i = (size_t)p->rowval[k];
            for (size_t q = rptr[i]; q < rptr[i + 1]; q++)
                if (rcol[q] < j)
                    seen[p->colour[rcol[q]]] = j;
        }
        size_t c = 0;
        while (seen[c] == j)
            c++;
        p->colour[j] = c;
        if (c + 1 > p->n_colours)
            p->n_colours = c + 1;
    }
    rc = 0;
done:
    free(rptr);
    free(rcol);
    free(seen);
    return rc;
}

/* ---- the sparse Jacobian by coloured difference quotients ---------------- */

static int jac_klu(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix J,
                   void *data, N_Vector tmp1, N_Vector tmp2, N_Vector tmp3)
{
    group *g = data;
    const jac_pattern *p = &g->pattern;
    size_t n = p->n;
    double *yv = N_VGetArrayPointer(y), *fv = N_VGetArrayPointer(fy);
    double *yp = N_VGetArrayPointer(tmp1), *fp = N_VGetArrayPointer(tmp2);
    double *inc = N_VGetArrayPointer(tmp3);
    sunindextype *cp = SUNSparseMatrix_IndexPointers(J);
    sunindextype *rv = SUNSparseMatrix_IndexValues(J);
    double *jv = SUNSparseMatrix_Data(J);
    /* The structure: CVODE zeroes the matrix before asking for it. */
    memcpy(cp, p->colptr, (n + 1) * sizeof *cp);
    memcpy(rv, p->rowval, p->nnz * sizeof *rv);
    /* Increments as CVODE's own difference quotients take them: the
     * square root of the unit roundoff, scaled by |y_j| or by the
     * tolerance's weight when y_j is small. */
    if (CVodeGetErrWeights(g->cvode, tmp3) != CV_SUCCESS)
        return -1;
    double srur = sqrt(SUN_UNIT_ROUNDOFF);
    for (size_t j = 0; j < n; j++) {
        double w = inc[j];
        inc[j] = srur * fmax(fabs(yv[j]), w > 0 ? 1.0 / w : 1.0);
        if (yv[j] < 0)
            inc[j] = -inc[j];
    }
    for (size_t c = 0; c < p->n_colours; c++) {
        memcpy(yp, yv, n * sizeof *yp);
        for (size_t j = 0; j < n; j++)
            if (p->colour[j] == c)
                yp[j] += inc[j];
        int rc = sim__group_derivs(g, t, yp, fp);
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < n; j++) {
            if (p->colour[j] != c)
                continue;
            double h = yp[j] - yv[j]; /* the increment actually taken */
            for (sunindextype k = p->colptr[j]; k < p->colptr[j + 1]; k++)
                jv[k] = (fp[p->rowval[k]] - fv[p->rowval[k]]) / h;
        }
    }
    g->owner->st.rhs_evals += p->n_colours;
    return 0;
}

/* ---- the choice ---------------------------------------------------------- */

/* Work of one factorisation, roughly, in the same unit for each. */
static jac_kind cheapest(const jac_pattern *p)
{
    double n = (double)p->n;
    if (p->n <= JAC_DENSE_MAX)
        return JAC_DENSE;
    double dense = n * n * n / 3.0 + n * n;
    double band = n * (double)(p->ml + 1) * (double)(p->mu + p->ml + 1) +
                  n * (double)(p->mu + p->ml + 1);
    /* KLU's symbolic and numeric work over a sparse pattern, with the
     * bookkeeping that makes it lose to band on narrow bands. */
    double klu = 20.0 * (double)p->nnz + 4.0 * n;
    if (dense <= band && dense <= klu)
        return JAC_DENSE;
    return band <= klu ? JAC_BAND : JAC_KLU;
}

int jacobian__choose(const sim *s, group *g, twin_errors *errs)
{
    if (jacobian__pattern(s, g, &g->pattern) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory finding the "
                    "structure of a group's Jacobian");
        return -1;
    }
    switch (s->sc->linear_solver) {
    case SC_LS_DENSE: g->jac = JAC_DENSE; break;
    case SC_LS_BAND: g->jac = JAC_BAND; break;
    case SC_LS_KLU: g->jac = JAC_KLU; break;
    default: g->jac = cheapest(&g->pattern); break;
    }
    if (g->jac == JAC_KLU && colour(&g->pattern) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory colouring a "
                    "group's Jacobian");
        return -1;
    }
    return 0;
}

int jacobian__attach(sim *s, group *g, twin_errors *errs)
{
    sunindextype n = (sunindextype)g->n_x;
    switch (g->jac) {
    case JAC_DENSE:
        g->A = SUNDenseMatrix(n, n, s->ctx);
        g->LS = g->A ? SUNLinSol_Dense(g->y, g->A, s->ctx) : NULL;
        break;
    case JAC_BAND:
        g->A = SUNBandMatrix(n, (sunindextype)g->pattern.mu,
                             (sunindextype)g->pattern.ml, s->ctx);
        g->LS = g->A ? SUNLinSol_Band(g->y, g->A, s->ctx) : NULL;
        break;
    case JAC_KLU:
        g->A = SUNSparseMatrix(n, n, (sunindextype)g->pattern.nnz, CSC_MAT,
                               s->ctx);
        g->LS = g->A ? SUNLinSol_KLU(g->y, g->A, s->ctx) : NULL;
        break;
    }
    if (g->LS == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory making the "
                    "%s linear solver of a group of %zu states",
                    jacobian__name(g->jac), g->n_x);
        return -1;
    }
    int flag = CVodeSetLinearSolver(g->cvode, g->LS, g->A);
    if (flag == CVLS_SUCCESS && g->jac == JAC_KLU)
        flag = CVodeSetJacFn(g->cvode, jac_klu);
    if (flag != CVLS_SUCCESS) {
        errors__add(errs, TWIN_E_INTERNAL, "", "attaching the %s linear "
                    "solver failed (flag %d)", jacobian__name(g->jac), flag);
        return -1;
    }
    return 0;
}

void jacobian__explain(const group *g, char *buf, size_t len)
{
    const jac_pattern *p = &g->pattern;
    int n = snprintf(buf, len, "%s linear solver%s (%zu nonzeros of %zu, "
                     "bandwidths %ld upper %ld lower", jacobian__name(g->jac),
                     g->owner->sc->linear_solver == SC_LS_AUTO ? ""
                                                               : ", forced",
                     p->nnz, p->n * p->n, p->mu, p->ml);
    if (n >= 0 && (size_t)n < len && g->jac == JAC_KLU)
        n += snprintf(buf + n, len - (size_t)n, ", %zu colours",
                      p->n_colours);
    if (n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ")");
}
