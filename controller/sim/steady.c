/*
 * steady.c — what a steady-state question says and what its answer
 * looks like: the options, inputs held at requested values (each
 * problem at its JSON Pointer), and the answer as the members of a
 * response.  The solving is steady_solve.c's (steady.h says what is
 * solved and how).
 */
#include "steady.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int same_ref(sc_ref a, sc_ref b)
{
    return a.inst == b.inst && a.kind == b.kind && a.index == b.index;
}

/* Resolve one "instance.input" and check it may be held at v (a number
 * in its range; for a boolean input also true or false, for an integer
 * one a whole number): *d gets the value. */
static int holdable(const scenario *sc, const char *name, const json_t *v,
                    const char *p, sc_ref *r, double *d, twin_errors *errs)
{
    const char *dot = strchr(name, '.');
    long inst = dot ? scenario__find_instance(sc, name, (size_t)(dot - name)) : -1;
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
    char why[512];
    twin_err_code code = scenario__value(m->input[r->index], v,
                                         "the held input", d, why,
                                         sizeof why);
    if (code != 0) {
        errors__add(errs, code, p, "%s", why);
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
        double d;
        if (holdable(sc, k, v, p ? p : path, &r, &d, errs) == 0) {
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

/* ---- JSON -------------------------------------------------------------- */

static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void put_signal(json_t *obj, const scenario *sc, sc_ref r,
                       double value)
{
    char name[1024];
    json_object_set_new(obj, scenario__ref_name(sc, r, name, sizeof name),
                        number(value));
}

static json_t *by_state(const scenario *sc, const steady_result *res,
                        const double *values)
{
    json_t *o = json_object();
    for (size_t i = 0; values && i < res->n; i++)
        put_signal(o, sc, res->state[i], values[i]);
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
        char name[1024];
        json_array_append_new(arr, json_pack(
            "{s:s, s:o, s:o}", "state",
            scenario__ref_name(sc, res->state[i], name, sizeof name),
            "residual", number(res->residual[i]), "value",
            number(res->x[i])));
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
                put_signal(in, sc, (sc_ref){i, TWIN_VAR_INPUT, k},
                           res->u[i][k]);
            for (size_t k = 0; k < m->n_output; k++)
                put_signal(out, sc, (sc_ref){i, TWIN_VAR_OUTPUT, k},
                           res->y[i][k]);
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
