/*
 * test_steady.c — steady states against the equations of
 * reference-models.md solved by hand: a tank with fixed inflow and valve
 * (h = (q_in/(cv·u))², from below, above and an empty tank), a pump
 * (w = cmd), a pump feeding a tank, the tank-farm-3 chains under the PI
 * outputs of their first tick; no steady state (a shut tank filling, a
 * level whose root lies below its minimum) reported with the residual and
 * the worst state; the overflow mode brought to the steady level; holding
 * inputs and the options, with every problem at its path; model failures
 * (ERROR, DISCARD, NaN) through the test plugin tests/plugins/failing.c;
 * the four GSL methods agreeing; the answer as JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "steady.h"
#include "support.h"

#define RTOL 1e-9

static void close_to(double got, double want, double rtol, const char *what)
{
    if (!(fabs(got - want) <= rtol * fabs(want)))
        fail_msg("%s = %.17g, expected %.17g (relative tolerance %g)", what,
                 got, want, rtol);
}

static scenario *tank(double q_in, double valve, double h0, double area,
                      double cv)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": 10, \"dt\": 1},"
             " \"instances\": {\"tank0\": {\"model\": \"tank\","
             "   \"params\": {\"area\": %.17g, \"cv\": %.17g, \"height\": 4},"
             "   \"start\": {\"h\": %.17g}}},"
             " \"inputs\": {\"tank0.q_in\": {\"value\": %.17g},"
             "              \"tank0.valve\": {\"value\": %.17g}}}",
             area, cv, h0, q_in, valve);
    return support__compose(text);
}

static void test_steady__tank_exact(void **state)
{
    static const struct {
        double q_in, valve, h0, area, cv;
    } cases[] = {
        {0.0075, 0.4, 1.0, 2.0, 0.03},   /* from above: h = 0.390625 */
        {0.02, 0.5, 1.0, 2.0, 0.03},     /* from below: h = 1.777... */
        {0.01, 1.0, 0.0, 5.0, 0.05},     /* from an empty tank: 0.04 */
        {0.013, 0.05, 3.5, 2.0, 0.03},   /* far above the wall: 75.1 */
        {1e-4, 0.9, 2.0, 0.5, 0.02},     /* nearly empty: 3.1e-5 */
        {0.0075, 0.4, 5.0, 2.0, 0.03},   /* from above the wall, so
                                          * overflow falls back to 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scenario *sc = tank(cases[i].q_in, cases[i].valve, cases[i].h0,
                            cases[i].area, cases[i].cv);
        steady_result r;
        int rc = steady__solve(sc, NULL, &r);
        if (rc != 0)
            fail_msg("case %zu: %s", i, r.message);
        double h = pow(cases[i].q_in / (cases[i].cv * cases[i].valve), 2);
        close_to(support__steady_state(sc, &r, "tank0", "h"),
                 h, RTOL, "tank0.h");
        close_to(support__steady_output(sc, &r, "tank0", "q_out"),
                 cases[i].q_in, RTOL, "tank0.q_out");
        /* The overflow mode agrees with the level found (wall at 4 m),
         * wherever the start was. */
        assert_true(support__steady_output(sc, &r, "tank0", "overflow")
                    == (h > 4.0));
        assert_true(r.residual_norm <= STEADY_RESIDUAL_TOL);
        assert_true(r.iterations > 0 && r.evaluations > r.iterations);
        steady__result_free(&r);
        scenario__free(&sc);
    }
}

static void test_steady__pump_and_chain(void **state)
{
    /* A pump alone (a step profile is taken at the start time), then
     * feeding a tank that starts empty. */
    const double tau = 4.0, q_max = 0.05, p_rated = 7500, cmd = 0.3;
    const double cv = 0.03, valve = 0.6;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"start\": 100, \"stop\": 110, \"dt\": 1},"
             " \"instances\": {\"pump0\": {\"model\": \"pump\", \"params\":"
             "   {\"tau\": %g, \"q_max\": %g, \"p_rated\": %g}}},"
             " \"inputs\": {\"pump0.cmd\": {\"steps\": [[0, 1], [100, %g],"
             "   [105, 1]]}}}", tau, q_max, p_rated, cmd);
    scenario *sc = support__compose(text);
    steady_result r;
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    close_to(support__steady_state(sc, &r, "pump0", "w"),
             cmd, RTOL, "pump0.w");
    close_to(support__steady_output(sc, &r, "pump0", "q"),
             q_max * cmd, RTOL, "pump0.q");
    close_to(support__steady_output(sc, &r, "pump0", "power"),
             p_rated * pow(cmd, 3), RTOL, "pump0.power");
    assert_true(r.t == 100);
    steady__result_free(&r);
    scenario__free(&sc);

    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": 10, \"dt\": 1},"
             " \"instances\": {\"pump0\": {\"model\": \"pump\"},"
             "   \"tank0\": {\"model\": \"tank\", \"params\": {\"cv\": %g},"
             "               \"start\": {\"h\": 0}}},"
             " \"connections\": [{\"from\": \"pump0.q\", \"to\": "
             "   \"tank0.q_in\"}],"
             " \"inputs\": {\"pump0.cmd\": {\"value\": %g},"
             "              \"tank0.valve\": {\"value\": %g}}}",
             cv, cmd, valve);
    sc = support__compose(text);
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    close_to(support__steady_state(sc, &r, "pump0", "w"),
             cmd, RTOL, "chain pump0.w");
    close_to(support__steady_state(sc, &r, "tank0", "h"),
             pow(q_max * cmd / (cv * valve), 2), RTOL, "chain tank0.h");
    steady__result_free(&r);
    scenario__free(&sc);
}

static void test_steady__discrete_held(void **state)
{
    /* tank-farm-3: each PI ticks once at t = 0 from h = 1, integral 0:
     * e = sp − 1, out = kp·e + ki·e·dt (inside [0, 1]); then w = out and
     * h = (q_max·w/(cv·valve))². */
    scenario *sc = support__compose_named("tank-farm-3");
    steady_result r;
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    for (int i = 0; i < 3; i++) {
        char pump[16], tank_[16], pi[16];
        snprintf(pump, sizeof pump, "pump%d", i);
        snprintf(tank_, sizeof tank_, "tank%d", i);
        snprintf(pi, sizeof pi, "pi%d", i);
        double e = 2.0 + 0.01 * i - 1.0, out = 0.8 * e + 0.02 * e * 1.0;
        close_to(support__steady_output(sc, &r, pi, "out"),
                 out, 1e-12, "pi out");
        close_to(support__steady_state(sc, &r, pump, "w"),
                 out, RTOL, "pump w");
        close_to(support__steady_state(sc, &r, tank_, "h"),
                 pow(0.05 * out / (0.03 * 0.5), 2), RTOL, "tank h");
    }
    steady__result_free(&r);
    scenario__free(&sc);
}

static void test_steady__no_steady_state(void **state)
{
    /* A shut tank filling: dh/dt = q_in/A at every level. */
    scenario *sc = tank(0.013, 0.0, 3.5, 2.0, 0.03);
    steady_result r;
    assert_int_equal(steady__solve(sc, NULL, &r), TWIN_E_SOLVER_FAILURE);
    assert_false(r.converged);
    close_to(r.residual_norm, 0.013 / 2.0, 1e-12, "residual_norm");
    close_to(r.residual[0], 0.013 / 2.0, 1e-12, "residual");
    assert_non_null(strstr(r.message, "d(tank0.h)/dt = 0.0065 m/s"));
    steady__result_free(&r);
    scenario__free(&sc);

    /* Draining with negative inflow: the root of the reflected residual
     * is at h = −(q/(cv·u))², below the level's minimum 0. */
    sc = tank(-0.01, 0.5, 1.0, 2.0, 0.03);
    assert_int_equal(steady__solve(sc, NULL, &r), TWIN_E_SOLVER_FAILURE);
    assert_non_null(strstr(r.message, "outside the range of tank0.h"));
    assert_non_null(strstr(r.message, "-0.44444444444444"));
    assert_true(r.x[0] == 0.0);
    close_to(r.residual_norm, 0.01 / 2.0, 1e-12, "residual at the bound");
    steady__result_free(&r);
    scenario__free(&sc);

    /* Too few iterations to get there. */
    sc = tank(0.02, 0.5, 1000.0, 2.0, 0.03);
    steady_options o;
    steady__defaults(&o);
    o.max_iterations = 2;
    assert_int_equal(steady__solve(sc, &o, &r), TWIN_E_SOLVER_FAILURE);
    assert_int_equal(r.iterations, 2);
    assert_non_null(strstr(r.message, "did not converge in 2 iterations"));
    steady__result_free(&r);
    scenario__free(&sc);
}

static void test_steady__hold_inputs(void **state)
{
    static const struct {
        const char *values, *path;
        twin_err_code code;
    } bad[] = {
        {"{\"tank0.valve\": 1.5}", "/inputs/tank0.valve",
         TWIN_E_OUT_OF_RANGE},
        {"{\"tank0.valve\": \"0.5\"}", "/inputs/tank0.valve",
         TWIN_E_WRONG_TYPE},
        {"{\"tank0.q_in\": 0.1}", "/inputs/tank0.q_in", TWIN_E_BAD_CONNECTION},
        {"{\"tank0.h\": 1}", "/inputs/tank0.h", TWIN_E_BAD_CONNECTION},
        {"{\"pump0.q\": 1}", "/inputs/pump0.q", TWIN_E_BAD_CONNECTION},
        {"{\"tank0.nope\": 1}", "/inputs/tank0.nope", TWIN_E_UNKNOWN_VARIABLE},
        {"{\"valve\": 1}", "/inputs/valve", TWIN_E_UNKNOWN_VARIABLE},
        {"{\"tank7.valve\": 1}", "/inputs/tank7.valve",
         TWIN_E_UNKNOWN_INSTANCE},
        {"[1]", "/inputs", TWIN_E_WRONG_TYPE},
    };
    const char *chain =
        "{\"time\": {\"stop\": 10, \"dt\": 1},"
        " \"instances\": {\"pump0\": {\"model\": \"pump\"},"
        "   \"tank0\": {\"model\": \"tank\"}},"
        " \"connections\": [{\"from\": \"pump0.q\", \"to\": \"tank0.q_in\"}],"
        " \"inputs\": {\"pump0.cmd\": {\"table\": [[0, 0.1], [10, 0.9]]}}}";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scenario *sc = support__compose(chain);
        json_t *v = json_loads(bad[i].values, JSON_DECODE_ANY, NULL);
        twin_errors errs = {0};
        assert_int_equal(steady__hold_inputs(sc, v, "/inputs", &errs), -1);
        if (errs.count != 1 || strcmp(errs.items[0].path, bad[i].path) != 0 ||
            errs.items[0].code != bad[i].code)
            fail_msg("%s: %zu problems, the first at '%s' (%s)",
                     bad[i].values, errs.count,
                     errs.count ? errs.items[0].path : "",
                     errs.count ? errors__code_name(errs.items[0].code) : "");
        errors__clear(&errs);
        json_decref(v);
        scenario__free(&sc);
    }
    /* Held: the table of pump0.cmd, and the valve that has no profile. */
    scenario *sc = support__compose(chain);
    json_t *v = json_pack("{s:f, s:f}", "pump0.cmd", 0.5, "tank0.valve", 0.25);
    twin_errors errs = {0};
    assert_int_equal(steady__hold_inputs(sc, v, "/inputs", &errs), 0);
    steady_result r;
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    close_to(support__steady_state(sc, &r, "pump0", "w"),
             0.5, RTOL, "held pump0.w");
    close_to(support__steady_state(sc, &r, "tank0", "h"),
             pow(0.05 * 0.5 / (0.03 * 0.25), 2), RTOL, "held tank0.h");
    steady__result_free(&r);
    json_decref(v);
    scenario__free(&sc);
}

static void test_steady__options(void **state)
{
    static const struct {
        const char *json, *path;  /* path NULL: valid */
    } cases[] = {
        {"{}", NULL},
        {"{\"method\": \"broyden\", \"residual_tol\": 1e-12, "
         "\"step_tol\": 0, \"max_iterations\": 7, \"future\": 1}", NULL},
        {"{\"method\": \"newton\"}", "/options/method"},
        {"{\"method\": 1}", "/options/method"},
        {"{\"residual_tol\": 0}", "/options/residual_tol"},
        {"{\"residual_tol\": 2}", "/options/residual_tol"},
        {"{\"step_tol\": -1}", "/options/step_tol"},
        {"{\"step_tol\": \"1e-9\"}", "/options/step_tol"},
        {"{\"max_iterations\": 0}", "/options/max_iterations"},
        {"{\"max_iterations\": 2.5}", "/options/max_iterations"},
        {"[]", "/options"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        steady_options opt;
        twin_errors errs = {0};
        steady__defaults(&opt);
        int rc = steady__read_options(o, "/options", &opt, &errs);
        if (cases[i].path == NULL ? rc != 0 || errs.count != 0
                                  : rc == 0 || errs.count != 1 ||
                                        strcmp(errs.items[0].path,
                                               cases[i].path) != 0)
            fail_msg("%s: rc %d, %zu problems, first at '%s'", cases[i].json,
                     rc, errs.count, errs.count ? errs.items[0].path : "");
        if (i == 1)
            assert_true(opt.method == STEADY_BROYDEN &&
                        opt.residual_tol == 1e-12 && opt.step_tol == 0 &&
                        opt.max_iterations == 7);
        errors__clear(&errs);
        json_decref(o);
    }
}

static void test_steady__methods_agree(void **state)
{
    const double cmd = 0.7, cv = 0.04, valve = 0.8;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": 10, \"dt\": 1},"
             " \"instances\": {\"pump0\": {\"model\": \"pump\"},"
             "   \"tank0\": {\"model\": \"tank\", \"params\": {\"cv\": %g},"
             "               \"start\": {\"h\": 1.0}}},"
             " \"connections\": [{\"from\": \"pump0.q\", \"to\": "
             "   \"tank0.q_in\"}],"
             " \"inputs\": {\"pump0.cmd\": {\"value\": %g},"
             "              \"tank0.valve\": {\"value\": %g}}}",
             cv, cmd, valve);
    scenario *sc = support__compose(text);
    for (int m = 0; m < STEADY__COUNT; m++) {
        steady_options o;
        steady__defaults(&o);
        o.method = (steady_method)m;
        steady_result r;
        if (steady__solve(sc, &o, &r) != 0)
            fail_msg("%s: %s", steady__method_name(o.method), r.message);
        close_to(support__steady_state(sc, &r, "tank0", "h"),
                 pow(0.05 * cmd / (cv * valve), 2), RTOL,
                 steady__method_name(o.method));
        steady__result_free(&r);
    }
    scenario__free(&sc);
}

static scenario *failing(int mode, double t_fail)
{
    return support__compose_failing(mode, t_fail, 20);
}

static void test_steady__model_failures(void **state)
{
    static const struct {
        int mode;
        const char *says;
    } cases[] = {
        {0, "model 'failing' (instance 'bad0') returned ERROR from "
            "derivatives at t = 0"},
        {1, "model 'failing' (instance 'bad0') answered DISCARD at the start "
            "values"},
        {2, "returned a non-finite derivative (nan) for state 'x'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scenario *sc = failing(cases[i].mode, 0);
        steady_result r;
        assert_int_equal(steady__solve(sc, NULL, &r), TWIN_E_SOLVER_FAILURE);
        if (r.message == NULL || strstr(r.message, cases[i].says) == NULL)
            fail_msg("mode %d: '%s' does not say '%s'", cases[i].mode,
                     r.message, cases[i].says);
        json_t *j = steady__result_json(sc, NULL, &r);
        assert_string_equal(json_string_value(json_object_get(j, "status")),
                            "failed");
        steady__result_free(&r);
        json_decref(j);
        scenario__free(&sc);
    }
    /* Before t_fail the plugin is dx/dt = −x: the steady state is 0, and
     * a linear problem takes the solver one step. */
    scenario *sc = failing(0, 100);
    steady_result r;
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    assert_true(fabs(r.x[0]) <= 1e-12);
    steady__result_free(&r);
    scenario__free(&sc);
}

static void test_steady__json(void **state)
{
    /* Two tanks: one shut and filling (no steady state), one open; the
     * shut one's residual is the largest. */
    scenario *sc = support__compose(
        "{\"time\": {\"stop\": 10, \"dt\": 1},"
        " \"instances\": {\"a\": {\"model\": \"tank\"},"
        "                 \"b\": {\"model\": \"tank\"}},"
        " \"inputs\": {\"a.q_in\": {\"value\": 0.01},"
        "              \"a.valve\": {\"value\": 0.5},"
        "              \"b.q_in\": {\"value\": 0.03},"
        "              \"b.valve\": {\"value\": 0}}}");
    steady_options o;
    steady__defaults(&o);
    o.max_iterations = 40;
    steady_result r;
    assert_int_equal(steady__solve(sc, &o, &r), TWIN_E_SOLVER_FAILURE);
    json_t *j = steady__result_json(sc, &o, &r);
    const json_t *largest = json_object_get(j, "largest");
    assert_int_equal(json_array_size(largest), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(largest, 0), "state")), "b.h");
    close_to(json_number_value(json_object_get(json_array_get(largest, 0),
                                               "residual")),
             0.03 / 2.0, 1e-12, "b's residual");
    const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "solver_failure");
    assert_string_equal(json_string_value(json_object_get(e, "path")), "");
    assert_non_null(json_object_get(json_object_get(j, "outputs"),
                                    "a.q_out"));
    assert_string_equal(json_string_value(json_object_get(j, "method")),
                        "hybrids");
    json_decref(j);
    steady__result_free(&r);
    scenario__free(&sc);

    /* An optional input that nothing drives is NaN, written null. */
    sc = support__compose_named("tank-farm-3");
    json_t *hold = json_pack("{s:f}", "tank0.valve", 0.5);
    twin_errors errs = {0};
    steady__hold_inputs(sc, hold, "/inputs", &errs);
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    j = steady__result_json(sc, NULL, &r);
    assert_true(json_is_null(json_object_get(json_object_get(j, "inputs"),
                                             "pi0.sp")));
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "ok");
    assert_null(json_object_get(j, "errors"));
    json_decref(j);
    json_decref(hold);
    steady__result_free(&r);
    scenario__free(&sc);

    /* At rest from the start (h = 1 exactly): no iteration. */
    sc = tank(0.015, 0.5, 1.0, 2.0, 0.03);
    assert_int_equal(steady__solve(sc, NULL, &r), 0);
    assert_int_equal(r.iterations, 0);
    assert_true(r.x[0] == 1.0 && r.residual_norm == 0);
    steady__result_free(&r);
    scenario__free(&sc);
}

static void test_steady__blocks(void **state)
{
    /* Three independent groups: two shut tanks filling and a pump feeding
     * a tank.  Each group is solved alone: the third finds its steady
     * state although the first two find none, and the message names the
     * first group without one and counts them. */
    scenario *sc = support__compose(
        "{\"time\": {\"stop\": 10, \"dt\": 1},"
        " \"instances\": {\"a\": {\"model\": \"tank\"},"
        "   \"b\": {\"model\": \"tank\"}, \"p\": {\"model\": \"pump\"},"
        "   \"c\": {\"model\": \"tank\"}},"
        " \"connections\": [{\"from\": \"p.q\", \"to\": \"c.q_in\"}],"
        " \"inputs\": {\"a.q_in\": {\"value\": 0.01},"
        "   \"a.valve\": {\"value\": 0}, \"b.q_in\": {\"value\": 0.03},"
        "   \"b.valve\": {\"value\": 0}, \"p.cmd\": {\"value\": 0.5},"
        "   \"c.valve\": {\"value\": 0.5}}}");
    steady_result r;
    assert_int_equal(steady__solve(sc, NULL, &r), TWIN_E_SOLVER_FAILURE);
    close_to(support__steady_state(sc, &r, "p", "w"), 0.5, RTOL, "p.w");
    close_to(support__steady_state(sc, &r, "c", "h"),
             pow(0.05 * 0.5 / (0.03 * 0.5), 2),
             RTOL, "c.h");
    assert_true(strncmp(r.message, "for instance 'a': ", 18) == 0);
    assert_non_null(strstr(r.message, "no steady state was found for 2 of "
                                      "the 3 independent groups"));
    assert_non_null(strstr(r.message, "the largest residual is d(b.h)/dt"));
    steady__result_free(&r);
    scenario__free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady__tank_exact),
        cmocka_unit_test(test_steady__pump_and_chain),
        cmocka_unit_test(test_steady__discrete_held),
        cmocka_unit_test(test_steady__no_steady_state),
        cmocka_unit_test(test_steady__hold_inputs),
        cmocka_unit_test(test_steady__options),
        cmocka_unit_test(test_steady__methods_agree),
        cmocka_unit_test(test_steady__model_failures),
        cmocka_unit_test(test_steady__json),
        cmocka_unit_test(test_steady__blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
