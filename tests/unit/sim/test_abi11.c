/*
 * test_abi11.c — the host honours the model ABI 1.1 with the test
 * plugins of tests/plugins/ (real shared objects, real CVODE): time events
 * exactly at k * 0.3 s inside the ticks, with the state against its
 * analytic solution; a discrete model's own sample period; a model that
 * asks to end the run, from a tick and from inside an integration
 * interval; integer, boolean and string parameters and inputs, and the
 * refusals of values that are not whole, not 0/1 or out of range; step
 * events; the descriptor checks (an ABI 1.0 plugin unchanged, each 1.1
 * rule broken once, the duplicate-name check on 60000 variables).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "support.h"

static model_lib lib;

static int setup(void **state)
{
    if (modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"), NULL,
                         NULL) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    modlib__free(&lib);
    return 0;
}

/* Compose against the test plugins: NULL, with the problems in errs, when
 * it does not compose. */
static scenario *compose(const char *text, twin_errors *errs)
{
    return support__compose_in(&lib, text, errs);
}

static scenario *compose_ok(const char *text)
{
    twin_errors errs = {0};
    scenario *sc = compose(text, &errs);
    if (sc == NULL) {
        errors__print(&errs, "compose: ", stderr);
        fail_msg("did not compose: %s", text);
    }
    errors__clear(&errs);
    return sc;
}

/* Compose must fail with exactly one problem of code at path whose
 * message holds says. */
static void refused(const char *text, twin_err_code code, const char *path,
                    const char *says)
{
    twin_errors errs = {0};
    scenario *sc = compose(text, &errs);
    if (sc != NULL)
        fail_msg("composed: %s", text);
    if (errs.count != 1 || errs.items[0].code != code ||
        strcmp(errs.items[0].path, path) != 0 ||
        strstr(errs.items[0].message, says) == NULL) {
        errors__print(&errs, "got: ", stderr);
        fail_msg("wanted one %s at %s saying '%s'", errors__code_name(code),
                 path, says);
    }
    errors__clear(&errs);
}

/* ---- time events -------------------------------------------------------- */

static void test_abi11__time_events_exact(void **state)
{
    /* dt 0.25: 0.3 k falls inside the ticks, and at 1.5 exactly on one. */
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 3, \"dt\": 0.25},"
        " \"solver\": {\"rtol\": 1e-11, \"atol\": 1e-13},"
        " \"instances\": {\"c\": {\"model\": \"timer\"}},"
        " \"outputs\": [\"c.*\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    size_t cx = support__col(&c, "c.x"), cn = support__col(&c, "c.events");
    size_t ct = support__col(&c, "c.t_event");
    /* The events: once each, at k * 0.3 bit for bit, in order. */
    size_t k = 0;
    for (size_t i = 0; i < c.n_events; i++) {
        if (c.events[i].kind != SIM_EVENT_TIME)
            continue;
        k++;
        if (c.events[i].t != (double)k * 0.3)
            fail_msg("time event %zu at %.17g, not %.17g", k,
                     c.events[i].t, (double)k * 0.3);
    }
    size_t want = 0;
    while ((double)(want + 1) * 0.3 < 3.0)
        want++;
    assert_int_equal(k, want);
    assert_int_equal(c.stats.time_events, want);
    for (size_t r = 0; r < c.n_rows; r++) {
        double t = support__at(&c, r, 0);
        double n = support__at(&c, r, cn);
        /* Events strictly before the row's t have happened; one at t
         * waits for the next interval. */
        size_t before = 0;
        while ((double)(before + 1) * 0.3 < t)
            before++;
        if (n != (double)before)
            fail_msg("t = %.17g: %g events, not %zu", t, n, before);
        if (n > 0 && support__at(&c, r, ct) != n * 0.3)
            fail_msg("t = %.17g: the last event was called at %.17g, not "
                     "%.17g", t, support__at(&c, r, ct), n * 0.3);
        support__close("x", support__at(&c, r, cx), exp(-(t - n * 0.3)),
                       1e-9);
    }
    support__free(&c);
    scenario__free(&sc);
}

static void test_abi11__request_end_inside_interval(void **state)
{
    /* The second event is at 0.6, inside the tick from 0.5 to 0.75: the
     * run ends after the row at 0.75. */
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 3, \"dt\": 0.25},"
        " \"instances\": {\"c\": {\"model\": \"timer\","
        "   \"params\": {\"end_after\": 2}}},"
        " \"outputs\": [\"c.events\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    assert_int_equal(c.n_rows, 4);
    assert_true(support__at(&c, 3, 0) == 0.75);
    assert_true(support__at(&c, 3, 1) == 2);
    assert_true(c.stats.ended_by_model);
    assert_true(c.stats.end_t == 0.6);
    assert_string_equal(c.stats.end_instance, "c");
    assert_string_equal(c.stats.end_reason, "timer: enough events");
    support__free(&c);
    scenario__free(&sc);
}

/* ---- sample periods and request_end from a tick ------------------------ */

static void test_abi11__sample_period(void **state)
{
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 2, \"dt\": 0.1},"
        " \"instances\": {\"s\": {\"model\": \"sampler\"}},"
        " \"inputs\": {\"s.u\": {\"table\": [[0, 0], [2, 2]]}},"
        " \"outputs\": [\"s.*\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    assert_int_equal(c.n_rows, 21);
    size_t cn = support__col(&c, "s.n"), ct = support__col(&c, "s.t_tick");
    size_t cd = support__col(&c, "s.dt_tick");
    size_t ch = support__col(&c, "s.held");
    for (size_t r = 0; r < c.n_rows; r++) {
        size_t k = r / 5 * 5; /* the last multiple of 0.5 s */
        double tk = (double)k * 0.1;
        assert_true(support__at(&c, r, cn) == (double)(r / 5 + 1));
        assert_true(support__at(&c, r, ct) == tk);
        assert_true(support__at(&c, r, cd) == 0.5);
        support__close("held", support__at(&c, r, ch), tk, 1e-12);
    }
    support__free(&c);
    scenario__free(&sc);
    refused("{\"time\": {\"stop\": 3, \"dt\": 0.3},"
            " \"instances\": {\"s\": {\"model\": \"sampler\"}}}",
            TWIN_E_OUT_OF_RANGE, "/instances/s",
            "instance 's' (model 'sampler') has a sample period of 0.5 s, "
            "which is not a whole number of the run's ticks of 0.3 s");
}

static void test_abi11__request_end_from_tick(void **state)
{
    /* Ticks at 0, 0.5, 1.0: the third asks; rows stop at t = 1.0. */
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 5, \"dt\": 0.1},"
        " \"instances\": {\"s\": {\"model\": \"sampler\","
        "   \"params\": {\"end_at\": 3}}},"
        " \"outputs\": [\"s.n\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    assert_int_equal(c.n_rows, 11);
    assert_true(support__at(&c, 10, 1) == 3);
    assert_true(c.stats.ended_by_model);
    assert_string_equal(c.stats.end_reason, "count 3 reached");
    assert_true(c.stats.end_t == 10 * 0.1);
    support__free(&c);
    scenario__free(&sc);
}

/* ---- integer, boolean, string ------------------------------------------ */

static void test_abi11__typed_values(void **state)
{
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 3, \"dt\": 1},"
        " \"instances\": {\"y\": {\"model\": \"typed\", \"params\":"
        "   {\"gain\": -4, \"on\": true, \"label\": \"pump \\u00e9 7\"}}},"
        " \"inputs\": {\"y.count\": {\"steps\": [[0, 5], [2, -7]]},"
        "   \"y.enable\": {\"steps\": [[0, false], [1, true]]}},"
        " \"outputs\": [\"y.*\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    size_t cs = support__col(&c, "y.scaled");
    size_t cg = support__col(&c, "y.negated");
    size_t cf = support__col(&c, "y.flag");
    size_t cl = support__col(&c, "y.label.len");
    static const double scaled[] = {-20, -20, 28, 28}, neg[] = {1, 0, 0, 0};
    for (size_t r = 0; r < 4; r++) {
        assert_true(support__at(&c, r, cs) == scaled[r]);
        assert_true(support__at(&c, r, cg) == neg[r]);
        assert_true(support__at(&c, r, cf) == 1);
        assert_true(support__at(&c, r, cl) == 9); /* bytes of the UTF-8 */
    }
    support__free(&c);
    scenario__free(&sc);
    /* No label given: the model sees NULL. */
    sc = compose_ok("{\"time\": {\"stop\": 1, \"dt\": 1},"
                    " \"instances\": {\"y\": {\"model\": \"typed\"}},"
                    " \"outputs\": [\"y.label.len\"]}");
    support__run(sc, &c);
    assert_true(support__at(&c, 0, 1) == -1);
    support__free(&c);
    scenario__free(&sc);
}

static void test_abi11__typed_refusals(void **state)
{
#define ONE(params, inputs)                                                 \
    "{\"time\": {\"stop\": 1, \"dt\": 1}, \"instances\": {\"y\": "          \
    "{\"model\": \"typed\", \"params\": {" params "}}}, \"inputs\": {"      \
    inputs "}}"
    refused(ONE("\"gain\": 2.5", ""), TWIN_E_OUT_OF_RANGE,
            "/instances/y/params/gain",
            "parameter 'gain' is an integer: 2.5 is not a whole number");
    refused(ONE("\"gain\": 11", ""), TWIN_E_OUT_OF_RANGE,
            "/instances/y/params/gain",
            "parameter 'gain' is 11, outside its range [-10, 10]");
    refused(ONE("\"on\": 0.5", ""), TWIN_E_OUT_OF_RANGE,
            "/instances/y/params/on",
            "parameter 'on' is boolean: it is 0 or 1 (or false or true), "
            "not 0.5");
    refused(ONE("\"gain\": true", ""), TWIN_E_WRONG_TYPE,
            "/instances/y/params/gain",
            "parameter 'gain' must be a number, not");
    refused(ONE("\"label\": 3", ""), TWIN_E_WRONG_TYPE,
            "/instances/y/params/label",
            "parameter 'label' is a string: give it as a JSON string, not");
    refused(ONE("\"gain\": \"3\"", ""), TWIN_E_WRONG_TYPE,
            "/instances/y/params/gain",
            "parameter 'gain' must be a number, not");
    refused(ONE("", "\"y.count\": {\"value\": 1.5}"), TWIN_E_OUT_OF_RANGE,
            "/inputs/y.count/value",
            "input 'count' is an integer: 1.5 is not a whole number");
    refused(ONE("", "\"y.enable\": {\"steps\": [[0, 2]]}"),
            TWIN_E_OUT_OF_RANGE, "/inputs/y.enable/steps/0",
            "input 'enable' is boolean: it is 0 or 1");
    refused(ONE("", "\"y.count\": {\"table\": [[0, 1], [1, 2]]}"),
            TWIN_E_OUT_OF_RANGE, "/inputs/y.count/table",
            "input 'count' is an integer: a table interpolates between its "
            "points; use \"steps\"");
    refused(ONE("", "\"y.count\": {\"live\": true, \"value\": 101}"),
            TWIN_E_OUT_OF_RANGE, "/inputs/y.count/value",
            "input 'count' is 101, outside its range [-100, 100]");
#undef ONE
    /* The shared check the daemon's set uses. */
    const twin_model *m = modlib__find(&lib, "typed");
    char why[512];
    double x = 0;
    json_t *j = json_real(0.5);
    assert_int_equal(scenario__value(m->input[1], j, "input", &x, why,
                                     sizeof why), TWIN_E_OUT_OF_RANGE);
    json_decref(j);
    j = json_true();
    assert_int_equal(scenario__value(m->input[1], j, "input", &x, why,
                                     sizeof why), 0);
    assert_true(x == 1.0);
    assert_int_equal(scenario__value(m->input[0], j, "input", &x, why,
                                     sizeof why), TWIN_E_WRONG_TYPE);
    json_decref(j);
}

/* ---- step events -------------------------------------------------------- */

static void test_abi11__step_events(void **state)
{
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 5, \"dt\": 0.5},"
        " \"instances\": {\"s\": {\"model\": \"stepper\"}},"
        " \"outputs\": [\"s.*\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    size_t last = c.n_rows - 1;
    double steps = support__at(&c, last, support__col(&c, "s.steps"));
    double resets = support__at(&c, last, support__col(&c, "s.resets"));
    double low = support__at(&c, last, support__col(&c, "s.low"));
    /* The hook ran after every internal step CVODE took... */
    assert_true(steps == (double)c.stats.steps);
    /* ...and each event it asked for reset x: e^-5 is far below the
     * floor of 0.5, but x never got far below it (one step past). */
    assert_true(resets >= 5 && resets == (double)c.stats.step_events);
    assert_true(low > 0.3 && low < 0.5);
    for (size_t r = 0; r < c.n_rows; r++)
        assert_true(support__at(&c, r, support__col(&c, "s.x")) > 0.3);
    support__free(&c);
    scenario__free(&sc);
}

/* ---- descriptors -------------------------------------------------------- */

static void test_abi11__descriptors(void **state)
{
    /* ABI 1.0: loads, and the bait past its struct_size is never read. */
    const twin_model *v10 = modlib__find(&lib, "abi_v10");
    assert_non_null(v10);
    assert_null(v10->next_event_time);
    assert_true(v10->sample_period == 0);
    scenario *sc = compose_ok("{\"time\": {\"stop\": 1, \"dt\": 0.5},"
                              " \"instances\": {\"d\": {\"model\": "
                              "\"abi_v10\"}}, \"outputs\": [\"d.x\"]}");
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    support__close("x(1)", support__at(&c, 2, 1), exp(-1.0), 1e-5);
    support__free(&c);
    scenario__free(&sc);
    assert_null(modlib__find(&lib, "bad_abi11"));
}

static twin_status no_create(const twin_host *h, const double *p,
                             twin_instance **out)
{
    return TWIN_ERROR;
}

static void no_destroy(twin_instance *inst) {}

static twin_status no_tick(twin_instance *inst, double t, double dt,
                           double *x, const double *u, double *y)
{
    return TWIN_OK;
}

static void test_abi11__many_variables(void **state)
{
    /* 60000 outputs, two of them sharing a name: found, and fast (the
     * check used to compare every pair: 1.8e9 comparisons). */
    enum { N = 60000 };
    twin_variable *v = calloc(N, sizeof *v);
    char (*names)[32] = calloc(N, sizeof *names);
    assert_non_null(v);
    assert_non_null(names);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "body.r[%zu]", i == N - 1 ? 7
                                                                      : i);
        v[i] = (twin_variable){names[i], "1", TWIN_VAR_OUTPUT, 0, 0.0,
                               -INFINITY, INFINITY, ""};
    }
    twin_model_descriptor d = {
        .abi_major = TWIN_MODEL_ABI_MAJOR, .abi_minor = TWIN_MODEL_ABI_MINOR,
        .struct_size = sizeof d, .name = "big", .version = "1",
        .description = "", .kind = TWIN_MODEL_DISCRETE, .variables = v,
        .n_variables = N, .create = no_create, .destroy = no_destroy,
        .tick = no_tick};
    twin_errors errs = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t n = modlib__check_descriptor(&d, &errs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    assert_int_equal(n, 1);
    assert_string_equal(errs.items[0].path, "/variables/59999");
    assert_non_null(strstr(errs.items[0].message,
                           "variable name 'body.r[7]' is used twice"));
    if (secs > 0.5)
        fail_msg("checking 60000 variables took %.3f s", secs);
    errors__clear(&errs);
    /* The same names in an ABI 1.0 descriptor are not names. */
    d.abi_minor = 0;
    d.n_variables = 2;
    n = modlib__check_descriptor(&d, &errs);
    assert_int_equal(n, 2);
    assert_non_null(strstr(errs.items[0].message, "has no valid name"));
    errors__clear(&errs);
    free(v);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi11__time_events_exact),
        cmocka_unit_test(test_abi11__request_end_inside_interval),
        cmocka_unit_test(test_abi11__sample_period),
        cmocka_unit_test(test_abi11__request_end_from_tick),
        cmocka_unit_test(test_abi11__typed_values),
        cmocka_unit_test(test_abi11__typed_refusals),
        cmocka_unit_test(test_abi11__step_events),
        cmocka_unit_test(test_abi11__descriptors),
        cmocka_unit_test(test_abi11__many_variables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
