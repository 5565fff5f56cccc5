/*
 * test_functions.c — a scenario's functions over real runs (sim.c on
 * CVODE, the reference model plugins), against the models' analytic
 * solutions and against the same quantities recomputed here from the
 * rows with plain loops.
 *
 * - tank-overflow: h(t) = 3.5 + 0.0065·t exactly (reference-models.md;
 *   the valve is shut, the inflow constant), so every function of h has a
 *   closed form; the overflow flag, sampled at ticks, crosses 0.5 halfway
 *   between the ticks around the located event;
 * - a draining tank (valve open, no inflow): √h = √h0 − cv·t/(2A), a
 *   parabola, whose trapezoid integral on the tick grid and whose chord
 *   crossings are exact formulas;
 * - the functions sample every tick: "every" changes no value.
 * Tolerances follow from the solver's (rtol·|h|, over |dh/dt| for
 * times); the recomputations from the rows hold to rounding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "functions.h"
#include "support.h"


/* Compose name (a stored scenario) with "functions" set to fns and the
 * members of over (a JSON object) put over the document's. */
static scenario *compose_with(const char *name, const char *fns,
                              const char *over)
{
    char why[1024];
    json_t *doc = scenario__load(name, support__scenario_dir(), why,
                                 sizeof why);
    if (doc == NULL)
        fail_msg("%s", why);
    json_t *f = json_loads(fns, 0, NULL);
    assert_non_null(f);
    json_object_set_new(doc, "functions", f);
    if (over != NULL) {
        json_t *o = json_loads(over, 0, NULL);
        assert_non_null(o);
        json_object_update(doc, o);
        json_decref(o);
    }
    twin_errors errs = {0};
    scenario *sc = scenario__compose(doc, support__models(),
                                     support__instances(), NULL, &errs);
    if (sc == NULL) {
        errors__print(&errs, "  ", stderr);
        fail_msg("%s did not compose", name);
    }
    json_decref(doc);
    return sc;
}

static double value(const collected *c, const char *name)
{
    const json_t *v = json_object_get(c->functions, name);
    if (!json_is_number(v)) {
        const json_t *e = json_object_get(c->function_errors, name);
        fail_msg("function %s has no value: %s", name,
                 json_string_value(json_object_get(e, "message")));
    }
    return json_number_value(v);
}

/* ---- tank-overflow: a straight line ------------------------------------ */

static const char overflow_fns[] =
    "[{\"name\": \"mean\", \"function\": \"mean\", \"of\": \"tank0.h\"},"
    " {\"name\": \"time_mean\", \"function\": \"time_mean\","
    "  \"of\": \"tank0.h\"},"
    " {\"name\": \"volume_s\", \"function\": \"integral\","
    "  \"of\": \"tank0.h\"},"
    " {\"name\": \"sd\", \"function\": \"stddev\", \"of\": \"tank0.h\"},"
    " {\"name\": \"lo\", \"function\": \"min\", \"of\": \"tank0.h\"},"
    " {\"name\": \"hi\", \"function\": \"max\", \"of\": \"tank0.h\"},"
    " {\"name\": \"end\", \"function\": \"final\", \"of\": \"tank0.h\"},"
    " {\"name\": \"p95\", \"function\": \"percentile\", \"of\": \"tank0.h\","
    "  \"p\": 95},"
    " {\"name\": \"p33\", \"function\": \"percentile\", \"of\": \"tank0.h\","
    "  \"p\": 33.3},"
    " {\"name\": \"ma\", \"function\": \"moving_average\", \"of\": \"tank0.h\","
    "  \"window\": 10},"
    " {\"name\": \"t_wall\", \"function\": \"crossing_time\","
    "  \"of\": \"tank0.h\", \"threshold\": 4, \"direction\": \"up\"},"
    " {\"name\": \"t_flag\", \"function\": \"crossing_time\","
    "  \"of\": \"tank0.overflow\", \"threshold\": 0.5},"
    " {\"name\": \"settle\", \"function\": \"settling_time\","
    "  \"of\": \"tank0.h\", \"target\": 4.28, \"band\": 0.01},"
    " {\"name\": \"never\", \"function\": \"crossing_time\","
    "  \"of\": \"tank0.h\", \"threshold\": 3, \"direction\": \"down\"},"
    " {\"name\": \"inflow\", \"function\": \"mean\", \"of\": \"tank0.q_in\"}]";

static double line_h(double t) { return 3.5 + 0.0065 * t; }

static void test_functions__overflow_line(void **state)
{
    (void)state;
    scenario *sc = compose_with("tank-overflow", overflow_fns, NULL);
    collected c;
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    /* rtol 1e-8 on h ≤ 4.28: 5e-8 in h, over 0.0065 m/s: 7e-6 s. */
    const double th = 5e-8, tt = 7e-6;
    support__close("mean", value(&c, "mean"), line_h(60), th);
    support__close("time_mean", value(&c, "time_mean"), line_h(60), th);
    support__close("integral", value(&c, "volume_s"),
                   3.5 * 120 + 0.0065 * 120 * 120 / 2, 120 * th);
    /* The samples are 3.5 + 0.0065·k, k = 0 … 120: a sample variance of
     * 0.0065²·121·122/12. */
    support__close("stddev", value(&c, "sd"), 0.0065 * sqrt(121.0 * 122 / 12),
                   th);
    support__close("min", value(&c, "lo"), 3.5, th);
    support__close("max", value(&c, "hi"), line_h(120), th);
    support__close("final", value(&c, "end"), line_h(120), th);
    /* Rank 120·p/100 between the sorted samples, which are h(k). */
    support__close("p95", value(&c, "p95"), line_h(114), th);
    support__close("p33.3", value(&c, "p33"), line_h(120 * 0.333), th);
    /* The trailing 10 s mean of a line peaks at the end: h(115). */
    support__close("moving_average", value(&c, "ma"), line_h(115), th);
    support__close("crossing of the wall", value(&c, "t_wall"), 1000.0 / 13,
                   tt);
    /* The flag is 0 in the row at 76 and 1 at 77: its interpolant
     * crosses 0.5 at 76.5, not at the located event. */
    support__close("crossing of the flag", value(&c, "t_flag"), 76.5, 1e-12);
    support__close("settling to 4.28 ± 0.01", value(&c, "settle"),
                   (4.27 - 3.5) / 0.0065, tt);
    support__close("mean inflow", value(&c, "inflow"), 0.013, 1e-15);
    /* A level never crossed: null, why, and where, not a failed run. */
    assert_true(json_is_null(json_object_get(c.functions, "never")));
    json_t *e = json_object_get(c.function_errors, "never");
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "out_of_range");
    assert_string_equal(json_string_value(json_object_get(e, "path")),
                        "/functions/13");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
                           "never crosses 3 downward"));
    assert_int_equal(json_object_size(c.function_errors), 1);
    assert_int_equal(json_object_size(c.functions), sc->n_fn);

    /* The same from the rows (every tick is a row here), by plain loops:
     * identical doubles in, so equal to rounding. */
    size_t ch = support__col(&c, "tank0.h");
    double sum = 0, trap = 0, hi = -INFINITY;
    for (size_t k = 0; k < c.n_rows; k++) {
        double h = support__at(&c, k, ch);
        sum += h;
        hi = fmax(hi, h);
        if (k > 0)
            trap += (support__at(&c, k, 0) - support__at(&c, k - 1, 0)) *
                    (h + support__at(&c, k - 1, ch)) / 2;
    }
    support__close("mean from the rows", value(&c, "mean"), sum / c.n_rows,
                   1e-14);
    support__close("integral from the rows", value(&c, "volume_s"), trap,
                   1e-12);
    support__close("max from the rows", value(&c, "hi"), hi, 0);
    support__free(&c);
    scenario__free(&sc);
    printf("overflow_line: max |error| %.3g\n", support__max_error());
}

/* ---- a draining tank: a parabola --------------------------------------- */

/* area 2, cv 0.03, valve open, no inflow, from h = 4: √h = 2 − k·t with
 * k = cv/(2·area); empty at 2/k = 266.7 s, so 200 s stay above 0. */
static const double k_drain = 0.03 / 4.0;

static double drain_h(double t)
{
    return (2.0 - k_drain * t) * (2.0 - k_drain * t);
}

/* Where the chord between the analytic samples at dt first meets level
 * going down: the crossing the linear interpolant of exact samples has. */
static double chord_crossing(double level, double dt)
{
    for (double t = 0;; t += dt) {
        double a = drain_h(t), b = drain_h(t + dt);
        if (a > level && b <= level)
            return t + dt * (a - level) / (a - b);
    }
}

static const char drain_fns[] =
    "[{\"name\": \"integral\", \"function\": \"integral\","
    "  \"of\": \"tank0.h\"},"
    " {\"name\": \"time_mean\", \"function\": \"time_mean\","
    "  \"of\": \"tank0.h\"},"
    " {\"name\": \"t1\", \"function\": \"crossing_time\", \"of\": \"tank0.h\","
    "  \"threshold\": 1},"
    " {\"name\": \"settle\", \"function\": \"settling_time\","
    "  \"of\": \"tank0.h\", \"band\": 0.05},"
    " {\"name\": \"ma\", \"function\": \"moving_average\", \"of\": \"tank0.h\","
    "  \"window\": 20, \"then\": \"min\"},"
    " {\"name\": \"q_mean\", \"function\": \"time_mean\","
    "  \"of\": \"tank0.q_out\"}]";

static const char drain_scenario[] =
    "{\"name\": \"drain\","
    " \"time\": {\"start\": 0, \"stop\": 200, \"dt\": 0.5},"
    " \"solver\": {\"method\": \"bdf\", \"rtol\": 1e-10, \"atol\": 1e-12},"
    " \"instances\": {\"tank0\": {\"model\": \"tank\", \"params\":"
    "   {\"area\": 2.0, \"cv\": 0.03, \"height\": 4.0},"
    "   \"start\": {\"h\": 4.0}}},"
    " \"inputs\": {\"tank0.valve\": {\"value\": 1.0},"
    "              \"tank0.q_in\": {\"value\": 0.0}},"
    " \"outputs\": [\"tank0.h\"], \"every\": %d, \"functions\": %s}";

static void run_drain(int every, collected *c)
{
    char text[4096];
    snprintf(text, sizeof text, drain_scenario, every, drain_fns);
    scenario *sc = support__compose(text);
    support__run(sc, c);
    assert_int_equal(c->result, 0);
    scenario__free(&sc);
}

static void test_functions__draining_tank(void **state)
{
    (void)state;
    collected c;
    run_drain(1, &c);
    const double dt = 0.5, T = 200;
    /* Each function is a weighted sum or an interpolation of samples, so
     * it is off by at most the samples' own error eh (an integral by
     * T·eh), a time by eh over |dh/dt| ≥ 2k·√0.25 = 0.0075 m/s.  eh is
     * measured on the rows against the analytic h. */
    size_t ch = support__col(&c, "tank0.h");
    double eh = 0;
    for (size_t k = 0; k < c.n_rows; k++)
        eh = fmax(eh, fabs(support__at(&c, k, ch) -
                           drain_h(support__at(&c, k, 0))));
    printf("draining_tank: samples off the analytic h by %.3g m\n", eh);
    assert_true(eh < 1e-8);
    const double th = eh + 1e-14, tt = th / 0.0075 + 1e-12;
    /* ∫ (2 − kt)² dt from 0 to T = (8 − (2 − kT)³)/(3k); the trapezoid
     * rule on a parabola adds exactly T·dt²/12·h'' with h'' = 2k². */
    double exact = (8.0 - pow(2.0 - k_drain * T, 3)) / (3.0 * k_drain);
    double trap = exact + T * dt * dt / 12.0 * 2.0 * k_drain * k_drain;
    support__close("integral", value(&c, "integral"), trap, T * th);
    support__close("time_mean", value(&c, "time_mean"), trap / T, th);
    /* h = 1 at 1/k = 133.33 s.  The chord through the ticks lies above
     * the parabola by at most dt²/8·h'' = dt²·k²/4, so it meets a level
     * later by at most that over |h'| = 2k·√level. */
#define CHORD_LAG(level) (dt * dt * k_drain / (8.0 * sqrt(level)))
    double t1 = chord_crossing(1.0, dt);
    support__close("crossing, chord", value(&c, "t1"), t1, tt);
    support__close("crossing, analytic", value(&c, "t1"), 1.0 / k_drain,
                   CHORD_LAG(1.0) + tt);
    /* Around the final value h(200) = 0.25, ±0.05: inside from h = 0.3,
     * (2 − √0.3)/k. */
    double ts = chord_crossing(0.3, dt);
    support__close("settling, chord", value(&c, "settle"), ts, tt);
    support__close("settling, analytic", value(&c, "settle"),
                   (2.0 - sqrt(0.3)) / k_drain, CHORD_LAG(0.3) + tt);
    /* The smallest trailing 20 s mean is the last one: the trapezoid on
     * [180, 200] of the parabola, exact part (u³ at both ends)/(3k·20). */
    double ma = (pow(2.0 - k_drain * 180, 3) - pow(2.0 - k_drain * 200, 3)) /
                (3.0 * k_drain * 20) +
                dt * dt / 12.0 * 2.0 * k_drain * k_drain;
    support__close("moving average, min", value(&c, "ma"), ma, th);
    /* q_out = cv·√h = cv·(2 − kt): linear, so its trapezoid is exact:
     * cv·(2 − kT/2); off by cv·eh/(2√h) ≤ cv·eh where h ≥ 0.25. */
    support__close("mean outflow", value(&c, "q_mean"),
                   0.03 * (2.0 - k_drain * T / 2), 0.03 * th);

    /* Every tick is sampled whatever "every" says: the same doubles. */
    collected thin;
    run_drain(20, &thin);
    assert_int_equal(thin.n_rows, 21);
    assert_true(json_equal(c.functions, thin.functions));
    support__free(&thin);
    support__free(&c);
    printf("draining_tank: max |error| %.3g\n", support__max_error());
}

/* Without its samples (no recorder: memory ran out) every function says
 * so, as internal; the summary prints each. */
static void test_functions__without_samples(void **state)
{
    (void)state;
    scenario *sc = compose_with("tank-overflow", overflow_fns, NULL);
    json_t *values, *errors;
    functions__evaluate(sc, NULL, "/scenario", &values, &errors);
    assert_int_equal(json_object_size(values), sc->n_fn);
    assert_int_equal(json_object_size(errors), sc->n_fn);
    json_t *e = json_object_get(errors, "mean");
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "internal");
    assert_string_equal(json_string_value(json_object_get(e, "path")),
                        "/scenario/functions/0");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    functions__print(sc, values, errors, f);
    fclose(f);
    assert_non_null(strstr(text, "  mean = null: out of memory"));
    free(text);
    json_decref(values);
    json_decref(errors);
    scenario__free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_functions__overflow_line),
        cmocka_unit_test(test_functions__draining_tank),
        cmocka_unit_test(test_functions__without_samples),
    };
    return cmocka_run_group_tests_name("functions", tests, NULL, NULL);
}
