/*
 * steady.c — the steady state of a scenario's continuous models, found
 * with GSL's multidimensional root finder on the composed right-hand side
 * (steady.h says what is solved and how bounds are kept).
 *
 * This file owns the options, holding inputs at requested values, the
 * iteration and its convergence test, and the answer as JSON.  The models
 * are evaluated through a sim (sim_steady.c), exactly as the loop
 * evaluates them; nothing here calls a model directly.
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

static const char *const method_names[STEADY__COUNT] = {
    [STEADY_HYBRIDS] = "hybrids", [STEADY_HYBRID] = "hybrid",
    [STEADY_DNEWTON] = "dnewton", [STEADY_BROYDEN] = "broyden",
};

void steady__defaults(steady_options *o)
{
    o->method = STEADY_HYBRIDS;
    o->residual_tol = STEADY_RESIDUAL_TOL;
    o->step_tol = STEADY_STEP_TOL;
    o->max_iterations = STEADY_MAX_ITERATIONS;
}

const char *steady__method_name(steady_method m)
{
    return (unsigned)m < STEADY__COUNT ? method_names[m] : "?";
}

static const gsl_multiroot_fsolver_type *solver_type(steady_method m)
{
    switch (m) {
    case STEADY_HYBRID: return gsl_multiroot_fsolver_hybrid;
    case STEADY_DNEWTON: return gsl_multiroot_fsolver_dnewton;
    case STEADY_BROYDEN: return gsl_multiroot_fsolver_broyden;
    default: return gsl_multiroot_fsolver_hybrids;
    }
}

/* ---- options ----------------------------------------------------------- */

/* A finite number ≥ low (> low when strict) under obj[key], if there. */
static void read_tol(const json_t *obj, const char *key, const char *base,
                     double low, int strict, double *out, twin_errors *errs)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return;
    char *p = errors__path(base, key);
    double d = json_number_value(v);
    if (!json_is_number(v))
        errors__add(errs, TWIN_E_WRONG_TYPE, p ? p : base,
                    "\"%s\" must be a number", key);
    else if (!isfinite(d) || d < low || (strict && d == low) || d >= 1)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : base,
                    "\"%s\" is %g; it must be %s %g and below 1", key, d,
                    strict ? "above" : "at least", low);
    else
        *out = d;
    free(p);
}

int steady__read_options(const json_t *obj, const char *path,
                         steady_options *o, twin_errors *errs)
{
    size_t before = errs->count;
    if (obj == NULL)
        return 0;
    if (!json_is_object(obj)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, path, "the steady options are "
                    "an object: {\"method\", \"residual_tol\", \"step_tol\", "
                    "\"max_iterations\"}");
        return -1;
    }
    const json_t *m = json_object_get(obj, "method");
    if (m != NULL) {
        char *p = errors__path(path, "method");
        int found = -1;
        for (int i = 0; json_is_string(m) && i < STEADY__COUNT; i++)
            if (strcmp(json_string_value(m), method_names[i]) == 0)
                found = i;
        if (found >= 0)
            o->method = (steady_method)found;
        else
            errors__add(errs, json_is_string(m) ? TWIN_E_OUT_OF_RANGE
                                                : TWIN_E_WRONG_TYPE,
                        p ? p : path, "\"method\" is one of hybrids, "
                        "hybrid, dnewton or broyden (GSL's derivative-free "
                        "root finders)");
        free(p);
    }
    read_tol(obj, "residual_tol", path, 0, 1, &o->residual_tol, errs);
    read_tol(obj, "step_tol", path, 0, 0, &o->step_tol, errs);
    const json_t *it = json_object_get(obj, "max_iterations");
    if (it != NULL) {
        char *p = errors__path(path, "max_iterations");
        if (!json_is_integer(it))
            errors__add(errs, TWIN_E_WRONG_TYPE, p ? p : path,
                        "\"max_iterations\" must be an integer");
        else if (json_integer_value(it) < 1 ||
                 json_integer_value(it) > 1000000)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path,
                        "\"max_iterations\" is %lld; it must be 1 to "
                        "1000000", (long long)json_integer_value(it));
        else
            o->max_iterations = (size_t)json_integer_value(it);
        free(p);
    }
    return errs->count == before ? 0 : -1;
}

/* ---- held inputs ------------------------------------------------------- */

static long instance_named(const scenario *sc, const char *name, size_t len)
{
    for (size_t i = 0; i < sc->n_inst; i++)
        if (strlen(sc->inst[i].name) == len &&
            memcmp(sc->inst[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

static int same_ref(sc_ref a, sc_ref b)
{
    return a.inst == b.inst && a.kind == b.kind && a.index == b.index;
}

static int dimensionless(const char *unit)
{
    return unit[0] == '\0' || strcmp(unit, "1") == 0;
}

/* Resolve one "instance.input" and check it may be held at v. */
static int holdable(const scenario *sc, const char *name, const json_t *v,
                    const char *p, sc_ref *r, twin_errors *errs)
{
    const char *dot = strchr(name, '.');
    long inst = dot ? instance_named(sc, name, (size_t)(dot - name)) : -1;
    if (!json_is_number(v)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, p, "the value to hold '%s' at "
                    "must be a number", name);
        return -1;
    }
    if (dot == NULL) {
        errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, p, "'%s' does not name an "
                    "input: write instance.input, e.g. \"tank0.valve\"",
                    name);
        return -1;
    }
    if (inst < 0) {
        errors__add(errs, TWIN_E_UNKNOWN_INSTANCE, p, "there is no instance "
                    "'%.*s' in this scenario", (int)(dot - name), name);
        return -1;
    }
    const twin_model *m = sc->inst[inst].model;
    if (modlib__find_signal(m, dot + 1, &r->kind, &r->index) != 0) {
        errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, p, "model '%s' (instance "
                    "'%s') has no input '%s'", m->d->name,
                    sc->inst[inst].name, dot + 1);
        return -1;
    }
    r->inst = (size_t)inst;
    if (r->kind != TWIN_VAR_INPUT) {
        errors__add(errs, TWIN_E_BAD_CONNECTION, p, "'%s' is %s; only inputs "
                    "can be held", name, r->kind == TWIN_VAR_STATE
                                             ? "a state (the solver finds it)"
                                             : "an output");
        return -1;
    }
    for (size_t c = 0; c < sc->n_conn; c++)
        if (same_ref(sc->conn[c].to, *r)) {
            char from[512];
            errors__add(errs, TWIN_E_BAD_CONNECTION, p, "input '%s' is driven "
                        "by %s; hold an input that no connection drives",
                        name, scenario__ref_name(sc, sc->conn[c].from, from,
                                                 sizeof from));
            return -1;
        }
    const twin_variable *var = m->input[r->index];
    double d = json_number_value(v);
    if (!isfinite(d) || d < var->min || d > var->max) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, p, "input '%s' is %g, outside "
                    "its range [%g, %g]%s%s", name, d, var->min, var->max,
                    dimensionless(var->unit) ? "" : " ",
                    dimensionless(var->unit) ? "" : var->unit);
        return -1;
    }
    return 0;
}

int steady__hold_inputs(scenario *sc, const json_t *values, const char *path,
                        twin_errors *errs)
{
    size_t before = errs->count;
    if (values == NULL)
        return 0;
    if (!json_is_object(values)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, path, "the inputs to hold are "
                    "an object: {\"tank0.valve\": 0.8, ...}");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)values, k, v) {
        char *p = errors__path(path, k);
        sc_ref r;
        if (holdable(sc, k, v, p ? p : path, &r, errs) == 0) {
            double d = json_number_value(v);
            int profiled = 0;
            for (size_t i = 0; i < sc->n_inputs; i++)
                if (same_ref(sc->inputs[i].to, r)) {
                    sc->inputs[i].profile.kind = SC_PROFILE_VALUE;
                    sc->inputs[i].profile.value = d;
                    profiled = 1;
                }
            if (!profiled)
                sc->inst[r.inst].input_start[r.index] = d;
        }
        free(p);
    }
    return errs->count == before ? 0 : -1;
}

/* ---- the function solved ----------------------------------------------- */

typedef struct solve_ctx {
    sim *s;
    double t;
    size_t n;
    const double *lo, *hi;   /* the states' declared ranges */
    double *at, *mirror;     /* points the models are evaluated at */
    double *f_at, *f_mirror;
    double *last_good;       /* the last residual the models gave */
    double *raw;             /* the solver's last point (may lie outside
                              * the ranges) */
    double retry_floor;      /* added to a refused point's residual */
    int failed;              /* a model failed: the sim is done */
    size_t discards;
    size_t evaluations;
} solve_ctx;

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A point the models refused (DISCARD) or that is not finite: a residual
 * larger than the last one, so the solver takes it for a bad step and
 * shortens its trust region, as CVODE shortens its step. */
static void refuse(solve_ctx *c, gsl_vector *fv)
{
    for (size_t i = 0; i < c->n; i++)
        gsl_vector_set(fv, i, 2.0 * fabs(c->last_good[i]) + c->retry_floor);
}

static int evaluate(solve_ctx *c, const double *x, double *f)
{
    c->evaluations++;
    int rc = sim__rhs(c->s, c->t, x, f);
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

/* ---- the answer -------------------------------------------------------- */

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

static void append_message(steady_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void append_message(steady_result *res, const char *fmt, ...)
{
    char *more = NULL, *both = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&more, fmt, ap) < 0)
        more = NULL;
    va_end(ap);
    if (more && asprintf(&both, "%s%s", res->message, more) >= 0) {
        free(res->message);
        res->message = both;
    }
    free(more);
}

static const twin_variable *state_var(const scenario *sc, sc_ref r)
{
    return sc->inst[r.inst].model->state[r.index];
}

/* "d(tank0.h)/dt = 0.0075 m/s at tank0.h = 12.5 m" for state i. */
static void describe_state(const scenario *sc, const steady_result *res,
                           size_t i, char *buf, size_t len)
{
    const twin_variable *v = state_var(sc, res->state[i]);
    const char *inst = sc->inst[res->state[i].inst].name;
    int plain = dimensionless(v->unit);
    snprintf(buf, len, "d(%s.%s)/dt = %.6g %s%s at %s.%s = %.17g%s%s", inst,
             v->name, res->residual ? res->residual[i] : NAN,
             plain ? "1" : v->unit, "/s", inst, v->name, res->x[i],
             plain ? "" : " ", plain ? "" : v->unit);
}

static size_t largest_residual(const steady_result *res)
{
    size_t worst = 0;
    for (size_t i = 1; res->residual && i < res->n; i++)
        if (fabs(res->residual[i]) > fabs(res->residual[worst]))
            worst = i;
    return worst;
}

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
    if (l->instance && l->message)
        res->n_log++;
    else {
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
        memcpy(res->u[i], sim__values(s, i, TWIN_VAR_INPUT),
               m->n_input * sizeof(double));
        memcpy(res->y[i], sim__values(s, i, TWIN_VAR_OUTPUT),
               m->n_output * sizeof(double));
    }
    return 0;
}

static void model_failed(const sim *s, steady_result *res, const char *when)
{
    twin_err_code code = TWIN_E_SOLVER_FAILURE;
    const char *why = sim__failure(s, &code);
    set_message(res, code, "%s%s", why ? why : "a model failed", when);
}

/* ---- solving ----------------------------------------------------------- */

/* The iteration proper.  Returns 1 converged, 0 not (res->message says
 * why), -1 a model failed. */
static int iterate(solve_ctx *c, const steady_options *opt,
                   gsl_multiroot_fsolver *solver, steady_result *res)
{
    const char *name = steady__method_name(opt->method);
    for (;;) {
        if (c->failed)
            return -1;
        double worst = 0;
        for (size_t i = 0; i < c->n; i++)
            worst = fmax(worst, fabs(gsl_vector_get(solver->f, i)));
        int small = worst <= opt->residual_tol;
        int still = res->iterations == 0
                        ? worst == 0
                        : opt->step_tol == 0 ||
                              gsl_multiroot_test_delta(solver->dx, solver->x,
                                                       opt->step_tol,
                                                       opt->step_tol) ==
                                  GSL_SUCCESS;
        if (small && still)
            return 1;
        if (res->iterations >= opt->max_iterations) {
            set_message(res, TWIN_E_SOLVER_FAILURE, "the steady-state solver "
                        "(%s) did not converge in %zu iterations", name,
                        res->iterations);
            return 0;
        }
        int st = gsl_multiroot_fsolver_iterate(solver);
        res->iterations++;
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
                        name, res->iterations);
            return 0;
        }
        if (st != GSL_SUCCESS) {
            set_message(res, TWIN_E_SOLVER_FAILURE, "the steady-state solver "
                        "(%s) stopped after %zu iterations: %s", name,
                        res->iterations, gsl_strerror(st));
            return 0;
        }
    }
}

static void discarded(const solve_ctx *c, steady_result *res,
                      const char *where)
{
    char who[512];
    set_message(res, TWIN_E_SOLVER_FAILURE, "%s answered DISCARD at %s",
                sim__discarded(c->s, who, sizeof who), where);
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

/* The true residual at res->x (inside the ranges) and why it is no
 * steady state when the solver's point lay outside them. */
static int finish(solve_ctx *c, const scenario *sc, const double *raw,
                  steady_result *res)
{
    size_t out = c->n;
    double beyond = 0;
    for (size_t i = 0; i < c->n; i++) {
        res->x[i] = clamp(raw[i], c->lo[i], c->hi[i]);
        if (fabs(raw[i] - res->x[i]) > beyond) {
            beyond = fabs(raw[i] - res->x[i]);
            out = i;
        }
    }
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
    if (res->converged && out < c->n) {
        const twin_variable *v = state_var(sc, res->state[out]);
        res->converged = 0;
        set_message(res, TWIN_E_SOLVER_FAILURE, "the solver's root lies "
                    "outside the range of %s.%s (%.17g, beyond its %s %g): "
                    "within the range the derivatives do not vanish",
                    sc->inst[res->state[out].inst].name, v->name, raw[out],
                    raw[out] < c->lo[out] ? "minimum" : "maximum",
                    raw[out] < c->lo[out] ? c->lo[out] : c->hi[out]);
    }
    return 0;
}

/* From the start values in res->x to the solver's last point in c->raw.
 * Returns 1 converged, 0 not (res->message says why), -1 a model failed,
 * -2 out of memory. */
static int run_solver(solve_ctx *c, const steady_options *opt,
                      steady_result *res)
{
    int rc = evaluate(c, res->x, c->last_good);
    memcpy(c->raw, res->x, c->n * sizeof *c->raw);
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
    int got = -2;
    if (solver == NULL || x0 == NULL)
        goto exit;
    for (size_t i = 0; i < c->n; i++)
        gsl_vector_set(x0, i, res->x[i]);
    gsl_multiroot_function fn = {.f = residual, .n = c->n, .params = c};
    int st = gsl_multiroot_fsolver_set(solver, &fn, x0);
    if (c->failed)
        got = -1;
    else if (st != GSL_SUCCESS)
        got = cannot_start(opt, st, res);
    else
        got = iterate(c, opt, solver, res);
    for (size_t i = 0; st == GSL_SUCCESS && i < c->n; i++)
        c->raw[i] = gsl_vector_get(solver->x, i);
exit:
    if (solver)
        gsl_multiroot_fsolver_free(solver);
    if (x0)
        gsl_vector_free(x0);
    return got;
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
        append_message(res, "; %s answered DISCARD %zu times (the solver "
                       "took those points for bad steps)",
                       sim__discarded(c->s, who, sizeof who), c->discards);
    if (c->n == 0 || !isfinite(res->residual_norm))
        return;
    describe_state(sc, res, largest_residual(res), worst, sizeof worst);
    append_message(res, ": the largest residual is %s; these inputs may "
                   "give the states no steady state", worst);
}

static int alloc_result(steady_result *res, size_t n)
{
    res->state = calloc(n + 1, sizeof *res->state);
    res->x = calloc(n + 1, sizeof *res->x);
    res->residual = calloc(n + 1, sizeof *res->residual);
    return res->state && res->x && res->residual ? 0 : -1;
}

int steady__solve(const scenario *sc, const steady_options *opt,
                  steady_result *res)
{
    steady_options defaults;
    twin_errors errs = {0};
    solve_ctx c = {0};
    double *buf = NULL;
    if (opt == NULL) {
        steady__defaults(&defaults);
        opt = &defaults;
    }
    memset(res, 0, sizeof *res);
    res->t = sc->start;
    res->residual_norm = NAN;
    gsl_set_error_handler_off();

    sim_callbacks cb = {.ctx = res, .event = on_event};
    sim_options so = {.realtime = 0};
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
    c.n = res->n = sim__n_states(c.s);
    c.t = sc->start;
    buf = calloc(8 * c.n + 1, sizeof *buf);
    if (alloc_result(res, c.n) != 0 || buf == NULL)
        goto oom;
    double *lo = buf, *hi = buf + c.n;
    c.lo = lo;
    c.hi = hi;
    c.at = buf + 2 * c.n;
    c.mirror = buf + 3 * c.n;
    c.f_at = buf + 4 * c.n;
    c.f_mirror = buf + 5 * c.n;
    c.last_good = buf + 6 * c.n;
    c.raw = buf + 7 * c.n;
    c.retry_floor = 10 * opt->residual_tol;
    for (size_t i = 0; i < c.n; i++) {
        res->state[i] = sim__state_ref(c.s, i);
        lo[i] = state_var(sc, res->state[i])->min;
        hi[i] = state_var(sc, res->state[i])->max;
    }
    sim__get_states(c.s, res->x);

    int got = c.n > 0 ? run_solver(&c, opt, res) : 1;
    if (got == -2)
        goto oom;
    if (got == -1) {
        model_failed(c.s, res, " (while solving for the steady state)");
        goto exit;
    }
    res->converged = got == 1;
    if (finish(&c, sc, c.raw, res) != 0) {
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
    free(buf);
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

/* ---- JSON -------------------------------------------------------------- */

static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void put_signal(json_t *obj, const scenario *sc, size_t inst,
                       const twin_variable *v, double value)
{
    char *key = NULL;
    if (asprintf(&key, "%s.%s", sc->inst[inst].name, v->name) >= 0)
        json_object_set_new(obj, key, number(value));
    free(key);
}

static json_t *by_state(const scenario *sc, const steady_result *res,
                        const double *values)
{
    json_t *o = json_object();
    for (size_t i = 0; values && i < res->n; i++)
        put_signal(o, sc, res->state[i].inst, state_var(sc, res->state[i]),
                   values[i]);
    return o;
}

static int by_size(const void *a, const void *b, void *ctx)
{
    const double *r = ctx;
    double ra = fabs(r[*(const size_t *)a]), rb = fabs(r[*(const size_t *)b]);
    return ra < rb ? 1 : ra > rb ? -1 : 0;
}

/* The states with the largest |residual|, largest first (at most 5). */
static json_t *largest(const scenario *sc, const steady_result *res)
{
    json_t *arr = json_array();
    size_t *order = malloc((res->n + 1) * sizeof *order);
    if (order == NULL || res->residual == NULL) {
        free(order);
        return arr;
    }
    for (size_t i = 0; i < res->n; i++)
        order[i] = i;
    qsort_r(order, res->n, sizeof *order, by_size, res->residual);
    for (size_t k = 0; k < res->n && k < 5; k++) {
        size_t i = order[k];
        char *name = NULL;
        if (asprintf(&name, "%s.%s", sc->inst[res->state[i].inst].name,
                     state_var(sc, res->state[i])->name) < 0)
            break;
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "state", name,
                                             "residual",
                                             number(res->residual[i]),
                                             "value", number(res->x[i])));
        free(name);
    }
    free(order);
    return arr;
}

static const char *const log_levels[] = {"debug", "info", "warning",
                                         "error"};

json_t *steady__result_json(const scenario *sc, const steady_options *opt,
                            const steady_result *res)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(res->converged ? "ok"
                                                                : "failed"));
    if (!res->converged)
        json_object_set_new(o, "errors", json_pack(
            "[{s:s, s:s, s:s}]", "code", errors__code_name(res->code),
            "path", "", "message", res->message ? res->message
                                                : "no steady state"));
    json_object_set_new(o, "t", json_real(res->t));
    json_object_set_new(o, "method", json_string(steady__method_name(
                                         opt ? opt->method
                                             : STEADY_HYBRIDS)));
    json_object_set_new(o, "iterations", json_integer(
                                             (json_int_t)res->iterations));
    json_object_set_new(o, "evaluations", json_integer(
                                              (json_int_t)res->evaluations));
    json_object_set_new(o, "residual_norm", number(res->residual_norm));
    if (res->x != NULL) {
        json_object_set_new(o, "states", by_state(sc, res, res->x));
        json_object_set_new(o, "residuals", by_state(sc, res, res->residual));
    }
    if (!res->converged && res->residual != NULL)
        json_object_set_new(o, "largest", largest(sc, res));
    if (res->u != NULL) {
        json_t *in = json_object(), *out = json_object();
        for (size_t i = 0; i < sc->n_inst; i++) {
            const twin_model *m = sc->inst[i].model;
            for (size_t k = 0; k < m->n_input; k++)
                put_signal(in, sc, i, m->input[k], res->u[i][k]);
            for (size_t k = 0; k < m->n_output; k++)
                put_signal(out, sc, i, m->output[k], res->y[i][k]);
        }
        json_object_set_new(o, "inputs", in);
        json_object_set_new(o, "outputs", out);
    }
    if (res->n_log > 0) {
        json_t *log = json_array();
        for (size_t i = 0; i < res->n_log; i++)
            json_array_append_new(log, json_pack(
                "{s:s, s:s, s:s}", "instance", res->log[i].instance, "level",
                (unsigned)res->log[i].level < 4
                    ? log_levels[res->log[i].level]
                    : "info",
                "message", res->log[i].message));
        json_object_set_new(o, "log", log);
    }
    return o;
}
