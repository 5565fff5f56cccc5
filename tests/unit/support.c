/*
 * support.c — shared test helpers (see support.h).  Uses the real model
 * plugins of the build tree: no fakes.
 */
#include "support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>

#include "functions.h"

static model_lib models;
static instance_lib instances;
static int loaded;

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "%s is not set: run the tests with meson test\n",
                name);
        abort();
    }
    return v;
}

static void log_fail(void *ctx, const char *message)
{
    fprintf(stderr, "model library: %s\n", message);
}

static void load(void)
{
    if (loaded)
        return;
    loaded = 1;
    if (modlib__load_dir(&models, env_or_fail("TWIN_TEST_MODEL_DIR"),
                         log_fail, NULL) < 4) {
        fprintf(stderr, "the reference models did not load\n");
        abort();
    }
    twin_errors errs = {0};
    instlib__load_dir(&instances, env_or_fail("TWIN_TEST_INSTANCE_DIR"),
                      &errs);
    if (errs.count) {
        errors__print(&errs, "instance library: ", stderr);
        abort();
    }
}

const model_lib *support__models(void)
{
    load();
    return &models;
}

const instance_lib *support__instances(void)
{
    load();
    return &instances;
}

const char *support__scenario_dir(void)
{
    return env_or_fail("TWIN_TEST_SCENARIO_DIR");
}

static scenario *compose_doc(json_t *doc, const char *what)
{
    twin_errors errs = {0};
    scenario *sc = scenario__compose(doc, support__models(),
                                     support__instances(), NULL, &errs);
    if (sc == NULL) {
        fprintf(stderr, "%s rejected:\n", what);
        errors__print(&errs, "  ", stderr);
    }
    errors__clear(&errs);
    json_decref(doc);
    assert_non_null(sc);
    return sc;
}

scenario *support__compose(const char *json_text)
{
    json_error_t jerr;
    json_t *doc = json_loads(json_text, 0, &jerr);
    if (doc == NULL)
        fprintf(stderr, "bad test JSON, line %d: %s\n", jerr.line, jerr.text);
    assert_non_null(doc);
    return compose_doc(doc, "test scenario");
}

scenario *support__compose_in(const model_lib *lib, const char *json_text,
                              twin_errors *errs)
{
    json_error_t jerr;
    json_t *doc = json_loads(json_text, 0, &jerr);
    if (doc == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, json_text);
    scenario *sc = scenario__compose(doc, lib, NULL, NULL, errs);
    json_decref(doc);
    return sc;
}

scenario *support__compose_in_ok(const model_lib *lib,
                                 const char *json_text)
{
    twin_errors errs = {0};
    scenario *sc = support__compose_in(lib, json_text, &errs);
    if (sc == NULL) {
        errors__print(&errs, "compose: ", stderr);
        fail_msg("did not compose: %s", json_text);
    }
    errors__clear(&errs);
    return sc;
}

scenario *support__compose_named(const char *name)
{
    char why[512];
    json_t *doc = scenario__load(name, support__scenario_dir(), why,
                                 sizeof why);
    if (doc == NULL)
        fprintf(stderr, "%s\n", why);
    assert_non_null(doc);
    return compose_doc(doc, name);
}

scenario *support__compose_named_set(const char *name, const char *member,
                                     const char *value)
{
    char why[512];
    json_t *doc = scenario__load(name, support__scenario_dir(), why,
                                 sizeof why);
    if (doc == NULL)
        fprintf(stderr, "%s\n", why);
    assert_non_null(doc);
    assert_int_equal(json_object_set_new(doc, member, json_string(value)), 0);
    return compose_doc(doc, name);
}

scenario *support__compose_failing(int mode, double t_fail, double stop)
{
    static model_lib lib;
    char text[512], why[1024];
    if (lib.count == 0) {
        snprintf(text, sizeof text, "%s/failing.so",
                 env_or_fail("TWIN_TEST_PLUGIN_DIR"));
        twin_model *m = modlib__open(text, why, sizeof why);
        if (m == NULL)
            fprintf(stderr, "%s\n", why);
        assert_non_null(m);
        assert_int_equal(modlib__add(&lib, m), 0);
    }
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": %.17g, \"dt\": 1},"
             " \"instances\": {\"bad0\": {\"model\": \"failing\","
             "   \"params\": {\"mode\": %d, \"t_fail\": %.17g}}}}", stop,
             mode, t_fail);
    json_t *doc = json_loads(text, 0, NULL);
    twin_errors errs = {0};
    scenario *sc = scenario__compose(doc, &lib, NULL, NULL, &errs);
    errors__print(&errs, "failing plugin scenario: ", stderr);
    errors__clear(&errs);
    json_decref(doc);
    assert_non_null(sc);
    return sc;
}

static int on_columns(void *ctx, size_t n, const char *const *names)
{
    collected *c = ctx;
    c->n_cols = n;
    c->names = calloc(n, sizeof *c->names);
    for (size_t i = 0; i < n; i++)
        c->names[i] = strdup(names[i]);
    return 0;
}

static int on_row(void *ctx, const double *values, size_t n)
{
    collected *c = ctx;
    if (c->n_rows == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->rows = realloc(c->rows, c->cap * n * sizeof *c->rows);
        if (c->rows == NULL)
            return -1;
    }
    memcpy(c->rows + c->n_rows * n, values, n * sizeof *values);
    c->n_rows++;
    return 0;
}

static void on_event(void *ctx, const sim_event *ev)
{
    collected *c = ctx;
    c->events = realloc(c->events, (c->n_events + 1) * sizeof *c->events);
    c->events[c->n_events] = *ev;
    c->events[c->n_events].instance = NULL;
    c->events[c->n_events].message = NULL;
    c->n_events++;
}

static void on_tick(void *ctx, const sim *s, double t)
{
    collected *c = ctx;
    functions__record(c->recorder, s, t);
}

static int on_poll(void *ctx, sim *s, double t)
{
    collected *c = ctx;
    return c->feed(s, t, c->feed_arg);
}

void support__run(const scenario *sc, collected *out)
{
    support__run_fed(sc, out, NULL, NULL);
}

void support__run_fed(const scenario *sc, collected *out,
                      int (*feed)(sim *s, double t, void *arg), void *arg)
{
    memset(out, 0, sizeof *out);
    out->feed = feed;
    out->feed_arg = arg;
    out->recorder = functions__new(sc);
    sim_callbacks cb = {.ctx = out, .columns = on_columns, .row = on_row,
                        .event = on_event, .tick = on_tick,
                        .poll = feed ? on_poll : NULL};
    sim_options opt = {.realtime = 0};
    out->result = sim__run_scenario(sc, &opt, &cb, &out->stats, &out->errs);
    if (out->result != 0)
        errors__print(&out->errs, "run failed: ", stderr);
    else if (sc->n_fn > 0)
        functions__evaluate(sc, out->recorder, "", &out->functions,
                            &out->function_errors);
    functions__free(&out->recorder);
}

size_t support__col(const collected *c, const char *name)
{
    for (size_t i = 0; i < c->n_cols; i++)
        if (strcmp(c->names[i], name) == 0)
            return i;
    fprintf(stderr, "no column %s\n", name);
    fail();
    return 0;
}

void support__free(collected *c)
{
    for (size_t i = 0; i < c->n_cols; i++)
        free(c->names[i]);
    free(c->names);
    free(c->rows);
    free(c->events);
    json_decref(c->functions);
    json_decref(c->function_errors);
    errors__clear(&c->errs);
    memset(c, 0, sizeof *c);
}

double support__steady_state(const scenario *sc, const steady_result *r,
                             const char *inst, const char *name)
{
    for (size_t i = 0; i < r->n; i++) {
        const sc_instance *si = &sc->inst[r->state[i].inst];
        if (strcmp(si->name, inst) == 0 &&
            strcmp(si->model->state[r->state[i].index]->name, name) == 0)
            return r->x[i];
    }
    fail_msg("no state %s.%s", inst, name);
    return NAN;
}

double support__steady_output(const scenario *sc, const steady_result *r,
                              const char *inst, const char *name)
{
    for (size_t i = 0; i < sc->n_inst; i++) {
        const twin_model *m = sc->inst[i].model;
        if (strcmp(sc->inst[i].name, inst) != 0)
            continue;
        for (size_t k = 0; k < m->n_output; k++)
            if (strcmp(m->output[k]->name, name) == 0)
                return r->y[i][k];
    }
    fail_msg("no output %s.%s", inst, name);
    return NAN;
}

static double max_error;

void support__close(const char *what, double got, double want, double tol)
{
    double e = fabs(got - want);
    if (!(e <= tol))
        fail_msg("%s: got %.17g, want %.17g (|diff| %.3g > %.3g)", what, got,
                 want, e, tol);
    if (getenv("TWIN_TEST_PRINT"))
        printf("  %s: |error| %.3g (tolerance %.3g)\n", what, e, tol);
    if (e > max_error)
        max_error = e;
}

double support__max_error(void)
{
    double e = max_error;
    max_error = 0;
    return e;
}

void support__expect_errors(const char *name, const twin_errors *errs,
                            const json_t *want)
{
    if (json_array_size(want) != errs->count) {
        errors__print(errs, "   got: ", stderr);
        fail_msg("case %s: expected %zu problems, got %zu", name,
                 json_array_size(want), errs->count);
    }
    for (size_t i = 0; i < errs->count; i++) {
        json_t *w = json_array_get(want, i);
        const char *code = json_string_value(json_object_get(w, "code"));
        const char *ptr = json_string_value(json_object_get(w, "path"));
        const twin_error *e = &errs->items[i];
        if (strcmp(code, errors__code_name(e->code)) != 0 ||
            strcmp(ptr, e->path) != 0)
            fail_msg("case %s, problem %zu: expected %s at '%s', got %s at "
                     "'%s' (%s)", name, i, code, ptr,
                     errors__code_name(e->code), e->path, e->message);
        assert_true(strlen(e->message) > 10); /* a sentence, not a code */
        json_t *text = json_string(e->message); /* the answer can carry it */
        if (text == NULL)
            fail_msg("case %s, problem %zu: the message is not valid UTF-8",
                     name, i);
        json_decref(text);
    }
}

double support__root(double (*f)(double, void *), void *params, double lo,
                     double hi)
{
    gsl_function F = {f, params};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    assert_non_null(s);
    assert_int_equal(gsl_root_fsolver_set(s, &F, lo, hi), GSL_SUCCESS);
    double root = NAN;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(gsl_root_fsolver_iterate(s), GSL_SUCCESS);
        root = gsl_root_fsolver_root(s);
        if (gsl_root_test_interval(gsl_root_fsolver_x_lower(s),
                                   gsl_root_fsolver_x_upper(s), 1e-15,
                                   0.0) == GSL_SUCCESS)
            break;
    }
    gsl_root_fsolver_free(s);
    return root;
}
