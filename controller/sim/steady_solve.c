/*
 * steady_solve.c — solving for the steady state (steady.h): the function
 * handed to GSL's root finder, with declared state ranges kept by
 * reflecting the residual across a bound; the iteration and its
 * convergence test; and the result, or why there is none.
 *
 * The continuous states fall into independent blocks, the integration
 * groups: a group's right-hand side depends on its own states only
 * (continuous models joined by a connection share a group; what crosses
 * groups comes from discrete models, held).  Each block is solved alone,
 * so the dense linear algebra of the root finder stays the size of a
 * group and tank-farm-1000 costs a thousand small solves, not one of
 * 2 000 unknowns.  The models are called through the sim (sim_steady.c)
 * only.
 */
#include "steady.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multiroots.h>
#include <gsl/gsl_vector.h>

#include "sim.h"

enum { ARRAYS = 8 };       /* lo, hi, at, mirror, f_at, f_mirror,
                            * last_good, raw: each n_all doubles */

typedef struct solve_ctx {
    sim *s;
    double t;
    size_t n_all;
    double *buf;
    /* The block being solved: its states' slices of the arrays. */
    size_t block, off, n;
    const double *lo, *hi;   /* the states' declared ranges */
    double *at, *mirror;     /* points the models are evaluated at */
    double *f_at, *f_mirror;
    double *last_good;       /* the last residual the models gave */
    double *raw;             /* the solver's last point (may lie outside
                              * the ranges) */
    double retry_floor;      /* added to a refused point's residual */
    int failed;              /* a model failed: the sim is done */
    size_t discards;
    size_t evaluations;      /* of a group's right-hand side */
} solve_ctx;

static const gsl_multiroot_fsolver_type *solver_type(steady_method m)
{
    switch (m) {
    case STEADY_HYBRID: return gsl_multiroot_fsolver_hybrid;
    case STEADY_DNEWTON: return gsl_multiroot_fsolver_dnewton;
    case STEADY_BROYDEN: return gsl_multiroot_fsolver_broyden;
    default: return gsl_multiroot_fsolver_hybrids;
    }
}

/* Point the slices at block b (b = (size_t)-1: every state). */
static void focus(solve_ctx *c, size_t b)
{
    size_t all = c->n_all;
    if (b == (size_t)-1) {
        c->off = 0;
        c->n = all;
    } else {
        sim__block(c->s, b, &c->off, &c->n);
    }
    c->block = b;
    double *p = c->buf + c->off;
    c->lo = p;
    c->hi = p + all;
    c->at = p + 2 * all;
    c->mirror = p + 3 * all;
    c->f_at = p + 4 * all;
    c->f_mirror = p + 5 * all;
    c->last_good = p + 6 * all;
    c->raw = p + 7 * all;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- the function solved ----------------------------------------------- */

/* A point the models refused (DISCARD) or that is not finite: a residual
 * larger than the last one, so the solver takes it for a bad step and
 * shortens its trust region, as CVODE shortens its step. */
static void refuse(solve_ctx *c, gsl_vector *fv)
{
    for (size_t i = 0; i < c->n; i++)
        gsl_vector_set(fv, i, 2.0 * fabs(c->last_good[i]) + c->retry_floor);
}

/* The right-hand side of the focused block (or of all) at x. */
static int evaluate(solve_ctx *c, const double *x, double *f)
{
    c->evaluations += c->block == (size_t)-1 ? sim__n_blocks(c->s) : 1;
    int rc = c->block == (size_t)-1
                 ? sim__rhs(c->s, c->t, x, f)
                 : sim__rhs_block(c->s, c->block, c->t, x, f);
    if (rc < 0)
        c->failed = 1;
    else if (rc > 0)
        c->discards++;
    return rc;
}

static int residual(const gsl_vector *xv, void *params, gsl_vector *fv)
{
    solve_ctx *c = params;
    int outside = 0, finite = 1;
    for (size_t i = 0; i < c->n; i++) {
        double xi = gsl_vector_get(xv, i);
        finite &= isfinite(xi);
        c->at[i] = clamp(xi, c->lo[i], c->hi[i]);
        c->mirror[i] = clamp(2.0 * c->at[i] - xi, c->lo[i], c->hi[i]);
        outside |= c->at[i] != xi;
    }
    if (c->failed || !finite) {
        refuse(c, fv);
        return c->failed ? GSL_EBADFUNC : GSL_SUCCESS;
    }
    int rc = evaluate(c, c->at, c->f_at);
    if (rc == 0 && outside)
        rc = evaluate(c, c->mirror, c->f_mirror);
    if (rc != 0) {
        refuse(c, fv);
        return rc < 0 ? GSL_EBADFUNC : GSL_SUCCESS;
    }
    for (size_t i = 0; i < c->n; i++) {
        double f = outside ? 2.0 * c->f_at[i] - c->f_mirror[i] : c->f_at[i];
        gsl_vector_set(fv, i, f);
        c->last_good[i] = f;
    }
    return GSL_SUCCESS;
}

/* ---- messages ---------------------------------------------------------- */

static void set_message(steady_result *res, twin_err_code code,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_message(steady_result *res, twin_err_code code,
                        const char *fmt, ...)
{
    if (res->message != NULL)
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&res->message, fmt, ap) < 0)
        res->message = NULL;
    va_end(ap);
    res->code = code;
}

/* Add text before (front != 0) or after the message. */
static void amend_message(steady_result *res, int front, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));

static void amend_message(steady_result *res, int front, const char *fmt,
                          ...)
{
    char *more = NULL, *both = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&more, fmt, ap) < 0)
        more = NULL;
    va_end(ap);
    if (more && res->message &&
        asprintf(&both, "%s%s", front ? more : res->message,
                 front ? res->message : more) >= 0) {
        free(res->message);
        res->message = both;
    }
    free(more);
}

static const twin_variable *state_var(const scenario *sc, sc_ref r)
{
    return sc->inst[r.inst].model->state[r.index];
}

static int dimensionless(const char *unit)
{
    return unit[0] == '\0' || strcmp(unit, "1") == 0;
}

/* "d(tank0.h)/dt = 0.0075 m/s at tank0.h = 12.5 m" for state i. */
static void describe_state(const scenario *sc, const steady_result *res,
                           size_t i, char *buf, size_t len)
{
    const twin_variable *v = state_var(sc, res->state[i]);
    const char *inst = sc->inst[res->state[i].inst].name;
    int plain = dimensionless(v->unit);
    snprintf(buf, len, "d(%s.%s)/dt = %.6g %s/s at %s.%s = %.17g%s%s", inst,
             v->name, res->residual ? res->residual[i] : NAN,
             plain ? "1" : v->unit, inst, v->name, res->x[i],
             plain ? "" : " ", plain ? "" : v->unit);
}

/* "instances 'pump7', 'tank7'": the instances of states off .. off+n−1
 * (a model's states lie side by side). */
static void describe_block(const scenario *sc, const steady_result *res,
                           size_t off, size_t n, char *buf, size_t len)
{
    size_t count = 0, k = 0;
    for (size_t i = off; i < off + n; i++)
        count += i == off || res->state[i].inst != res->state[i - 1].inst;
    size_t used = (size_t)snprintf(buf, len, "instance%s",
                                   count > 1 ? "s" : "");
    for (size_t i = off; i < off + n && used < len; i++)
        if (i == off || res->state[i].inst != res->state[i - 1].inst)
            used += (size_t)snprintf(buf + used, len - used, "%s '%s'",
                                     k++ ? "," : "",
                                     sc->inst[res->state[i].inst].name);
}

static size_t largest_residual(const steady_result *res)
{
    size_t worst = 0;
    for (size_t i = 1; res->residual && i < res->n; i++)
        if (fabs(res->residual[i]) > fabs(res->residual[worst]))
            worst = i;
    return worst;
}

static void model_failed(const sim *s, steady_result *res, const char *when)
{
    twin_err_code code = TWIN_E_SOLVER_FAILURE;
    const char *why = sim__failure(s, &code);
    set_message(res, code, "%s%s", why ? why : "a model failed", when);
}

static void discarded(const solve_ctx *c, steady_result *res,
                      const char *where)
{
    char who[512];
    set_message(res, TWIN_E_SOLVER_FAILURE, "%s answered DISCARD at %s",
                sim__discarded(c->s, who, sizeof who), where);
}

/* ---- solving one block ------------------------------------------------- */

/* The iteration proper.  Returns 1 converged, 0 not (res->message says
 * why), -1 a model failed. */
static int iterate(solve_ctx *c, const steady_options *opt,
                   gsl_multiroot_fsolver *solver, size_t *iters,
                   steady_result *res)
{
    const char *name = steady__method_name(opt->method);
    for (;;) {
        if (c->failed)
            return -1;
        double worst = 0;
        for (size_t i = 0; i < c->n; i++)
            worst = fmax(worst, fabs(gsl_vector_get(solver->f, i)));
        int small = worst <= opt->residual_tol;
        int still = *iters == 0
                        ? worst == 0
                        : opt->step_tol == 0 ||
                              gsl_multiroot_test_delta(solver->dx, solver->x,
                                                       opt->step_tol,
                                                       opt->step_tol) ==
                                  GSL_SUCCESS;
        if (small && still)
            return 1;
        if (*iters >= opt->max_iterations) {
            set_message(res, TWIN_E_SOLVER_FAILURE, "the steady-state solver "
                        "(%s) did not converge in %zu iterations", name,
                        *iters);
            return 0;
        }
        int st = gsl_multiroot_fsolver_iterate(solver);
        ++*iters;
        if (c->failed)
            return -1;
        if (st == GSL_ENOPROG || st == GSL_ENOPROGJ) {
            worst = 0;
            for (size_t i = 0; i < c->n; i++)
                worst = fmax(worst, fabs(gsl_vector_get(solver->f, i)));
            if (worst <= opt->residual_tol)
                return 1; /* as close as the models' rounding allows */
            set_message(res, TWIN_E_SOLVER_FAILURE, "the steady-state solver "
                        "(%s) stopped making progress after %zu iterations",
                        name, *iters);
            return 0;
        }
        if (st != GSL_SUCCESS) {
            set_message(res, TWIN_E_SOLVER_FAILURE, "the steady-state solver "
                        "(%s) stopped after %zu iterations: %s", name, *iters,
                        gsl_strerror(st));
            return 0;
        }
    }
}

/* The solver refused the start values (GSL_ESING: a singular
 * finite-difference Jacobian there).  Returns 0: not converged. */
static int cannot_start(const steady_options *opt, int st,
                        steady_result *res)
{
    set_message(res, TWIN_E_SOLVER_FAILURE, "the steady-state solver (%s) "
                "could not start from the start values: %s%s",
                steady__method_name(opt->method), gsl_strerror(st),
                st == GSL_ESING ? " (the derivatives do not change with the "
                                  "states there, so no step leads towards "
                                  "a steady state)"
                                : "");
    return 0;
}

/* A root the solver found outside a state's range is none.  Returns 1
 * when the block's point lies within every range, else 0 (said). */
static int within_ranges(const solve_ctx *c, const scenario *sc,
                         steady_result *res)
{
    size_t out = c->n;
    double beyond = 0;
    for (size_t i = 0; i < c->n; i++) {
        double d = fabs(c->raw[i] - clamp(c->raw[i], c->lo[i], c->hi[i]));
        if (d > beyond) {
            beyond = d;
            out = i;
        }
    }
    if (out == c->n)
        return 1;
    const twin_variable *v = state_var(sc, res->state[c->off + out]);
    int below = c->raw[out] < c->lo[out];
    set_message(res, TWIN_E_SOLVER_FAILURE, "the solver's root lies outside "
                "the range of %s.%s (%.17g, beyond its %s %g): within the "
                "range the derivatives do not vanish",
                sc->inst[res->state[c->off + out].inst].name, v->name,
                c->raw[out], below ? "minimum" : "maximum",
                below ? c->lo[out] : c->hi[out]);
    return 0;
}

/* From the start values in res->x to the block's last point in c->raw.
 * Returns 1 converged, 0 not (res->message says why), -1 a model failed,
 * -2 out of memory. */
static int solve_block(solve_ctx *c, const scenario *sc,
                       const steady_options *opt, steady_result *res)
{
    const double *x = res->x + c->off;
    int rc = evaluate(c, x, c->last_good);
    memcpy(c->raw, x, c->n * sizeof *c->raw);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        discarded(c, res, "the start values, where the solver must start");
        return 0;
    }
    int at_rest = 1;
    for (size_t i = 0; i < c->n; i++)
        at_rest &= c->last_good[i] == 0;
    if (at_rest)
        return 1; /* the start values are a steady state */
    gsl_multiroot_fsolver *solver =
        gsl_multiroot_fsolver_alloc(solver_type(opt->method), c->n);
    gsl_vector *x0 = gsl_vector_alloc(c->n);
    size_t iters = 0;
    int got = -2;
    if (solver == NULL || x0 == NULL)
        goto exit;
    for (size_t i = 0; i < c->n; i++)
        gsl_vector_set(x0, i, x[i]);
    gsl_multiroot_function fn = {.f = residual, .n = c->n, .params = c};
    int st = gsl_multiroot_fsolver_set(solver, &fn, x0);
    if (c->failed)
        got = -1;
    else if (st != GSL_SUCCESS)
        got = cannot_start(opt, st, res);
    else
        got = iterate(c, opt, solver, &iters, res);
    for (size_t i = 0; st == GSL_SUCCESS && i < c->n; i++)
        c->raw[i] = gsl_vector_get(solver->x, i);
    if (got == 1)
        got = within_ranges(c, sc, res);
exit:
    res->iterations += iters;
    if (solver)
        gsl_multiroot_fsolver_free(solver);
    if (x0)
        gsl_vector_free(x0);
    return got;
}

/* ---- the whole ---------------------------------------------------------- */

/* Solve every block; the first that finds no steady state is named in
 * the message.  Returns 1 all converged, 0 not, -1, -2 as solve_block. */
static int solve_blocks(solve_ctx *c, const scenario *sc,
                        const steady_options *opt, steady_result *res)
{
    size_t blocks = sim__n_blocks(c->s), unsolved = 0;
    for (size_t b = 0; b < blocks; b++) {
        focus(c, b);
        int had = res->message != NULL;
        int got = solve_block(c, sc, opt, res);
        if (got < 0)
            return got;
        if (got == 0 && unsolved++ == 0 && !had && blocks > 1) {
            char who[1024];
            describe_block(sc, res, c->off, c->n, who, sizeof who);
            amend_message(res, 1, "for %s: ", who);
        }
    }
    if (unsolved > 1)
        amend_message(res, 0, "; no steady state was found for %zu of "
                      "the %zu independent groups of states", unsolved,
                      blocks);
    return unsolved == 0;
}

/* The residual at res->x: res->raw (the solvers' points) brought into
 * the ranges.  Returns 0, or -1 when a model failed. */
static int finish(solve_ctx *c, steady_result *res)
{
    focus(c, (size_t)-1);
    for (size_t i = 0; i < c->n; i++)
        res->x[i] = clamp(c->raw[i], c->lo[i], c->hi[i]);
    int rc = evaluate(c, res->x, res->residual);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        discarded(c, res, "the point the solver found, so it is no steady "
                  "state");
        res->converged = 0;
        for (size_t i = 0; i < c->n; i++)
            res->residual[i] = NAN;
        return 0;
    }
    res->residual_norm = 0;
    for (size_t i = 0; i < c->n; i++)
        res->residual_norm = fmax(res->residual_norm, fabs(res->residual[i]));
    return 0;
}

/* Say more about a point that is no steady state: the refusals the
 * solver met on the way, and the state whose derivative is largest. */
static void explain(const solve_ctx *c, const scenario *sc,
                    steady_result *res)
{
    char who[512], worst[1024];
    if (res->message == NULL)
        set_message(res, TWIN_E_SOLVER_FAILURE, "no steady state");
    if (c->discards > 0 && strstr(res->message, "DISCARD") == NULL)
        amend_message(res, 0, "; %s answered DISCARD %zu times (the solver "
                      "took those points for bad steps)",
                      sim__discarded(c->s, who, sizeof who), c->discards);
    if (res->n == 0 || !isfinite(res->residual_norm))
        return;
    describe_state(sc, res, largest_residual(res), worst, sizeof worst);
    amend_message(res, 0, ": the largest residual is %s; these inputs may "
                  "give the states no steady state", worst);
}

/* ---- the result -------------------------------------------------------- */

static void on_event(void *ctx, const sim_event *ev)
{
    steady_result *res = ctx;
    if (ev->kind != SIM_EVENT_LOG)
        return;
    if (res->n_log == STEADY_MAX_LOG) {
        res->lost_log++;
        return;
    }
    steady_log *l = &res->log[res->n_log];
    l->instance = strdup(ev->instance ? ev->instance : "");
    l->message = strdup(ev->message ? ev->message : "");
    l->level = ev->level;
    if (l->instance && l->message) {
        res->n_log++;
    } else {
        free(l->instance);
        free(l->message);
        res->lost_log++;
    }
}

/* Every instance's inputs and outputs as the sim holds them now. */
static int keep_signals(const scenario *sc, const sim *s, steady_result *res)
{
    res->u = calloc(sc->n_inst + 1, sizeof *res->u);
    res->y = calloc(sc->n_inst + 1, sizeof *res->y);
    if (res->u == NULL || res->y == NULL)
        return -1;
    for (size_t i = 0; i < sc->n_inst; i++) {
        const twin_model *m = sc->inst[i].model;
        res->u[i] = malloc((m->n_input + 1) * sizeof(double));
        res->y[i] = malloc((m->n_output + 1) * sizeof(double));
        if (res->u[i] == NULL || res->y[i] == NULL)
            return -1;
        for (size_t k = 0; k < m->n_input; k++)
            res->u[i][k] = sim__signal(s, (sc_ref){i, TWIN_VAR_INPUT, k});
        for (size_t k = 0; k < m->n_output; k++)
            res->y[i][k] = sim__signal(s, (sc_ref){i, TWIN_VAR_OUTPUT, k});
    }
    return 0;
}

/* The states, their ranges and the work arrays. */
static int prepare(solve_ctx *c, const scenario *sc, steady_result *res)
{
    size_t n = c->n_all = res->n = sim__n_states(c->s);
    c->buf = calloc(ARRAYS * n + 1, sizeof *c->buf);
    res->state = calloc(n + 1, sizeof *res->state);
    res->x = calloc(n + 1, sizeof *res->x);
    res->residual = calloc(n + 1, sizeof *res->residual);
    if (!c->buf || !res->state || !res->x || !res->residual)
        return -1;
    focus(c, (size_t)-1);
    for (size_t i = 0; i < n; i++) {
        res->state[i] = sim__state_ref(c->s, i);
        c->buf[i] = state_var(sc, res->state[i])->min;
        c->buf[n + i] = state_var(sc, res->state[i])->max;
    }
    sim__get_states(c->s, res->x);
    memcpy(c->raw, res->x, n * sizeof *c->raw);
    return 0;
}

int steady__solve(const scenario *sc, const steady_options *opt,
                  steady_result *res)
{
    steady_options defaults;
    twin_errors errs = {0};
    solve_ctx c = {.t = sc->start};
    if (opt == NULL) {
        steady__defaults(&defaults);
        opt = &defaults;
    }
    memset(res, 0, sizeof *res);
    res->t = sc->start;
    res->residual_norm = NAN;
    c.retry_floor = 10 * opt->residual_tol;
    gsl_set_error_handler_off();

    sim_callbacks cb = {.ctx = res, .event = on_event};
    /* Each independent group is solved alone (steady.c): never stacked. */
    sim_options so = {.realtime = 0, .separate = 1};
    c.s = sim__new(sc, &so, &cb, &errs);
    if (c.s == NULL) {
        set_message(res, errs.count ? errs.items[0].code : TWIN_E_INTERNAL,
                    "%s", errs.count ? errs.items[0].message
                                     : "out of memory");
        goto exit;
    }
    if (sim__begin(c.s, sc->start) != 0) {
        model_failed(c.s, res, " (at the first tick, before solving)");
        goto exit;
    }
    if (prepare(&c, sc, res) != 0)
        goto oom;
    int got = solve_blocks(&c, sc, opt, res);
    if (got == -2)
        goto oom;
    if (got == -1) {
        model_failed(c.s, res, " (while solving for the steady state)");
        goto exit;
    }
    res->converged = got == 1;
    if (finish(&c, res) != 0) {
        model_failed(c.s, res, " (at the steady point)");
        free(res->residual);
        res->residual = NULL;
        res->converged = 0;
        goto exit;
    }
    if (!res->converged)
        explain(&c, sc, res);
    if (sim__settle(c.s, sc->start, res->x) != 0) {
        model_failed(c.s, res, " (evaluating the outputs at the steady "
                     "point)");
        res->converged = 0;
        goto exit;
    }
    if (keep_signals(sc, c.s, res) != 0)
        goto oom;
    goto exit;
oom:
    res->converged = 0;
    set_message(res, TWIN_E_INTERNAL, "out of memory solving for the steady "
                "state");
exit:
    res->evaluations = c.evaluations;
    free(c.buf);
    sim__free(&c.s);
    errors__clear(&errs);
    return res->converged ? 0 : (int)res->code;
}

void steady__result_free(steady_result *res)
{
    for (size_t i = 0; res->u && res->u[i]; i++)
        free(res->u[i]);
    for (size_t i = 0; res->y && res->y[i]; i++)
        free(res->y[i]);
    free(res->u);
    free(res->y);
    for (size_t i = 0; i < res->n_log; i++) {
        free(res->log[i].instance);
        free(res->log[i].message);
    }
    free(res->state);
    free(res->x);
    free(res->residual);
    free(res->message);
    memset(res, 0, sizeof *res);
}
