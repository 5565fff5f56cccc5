/*
 * test_measured.c — a live twin's measurements (controller/sim/
 * measured.c) on real CVODE with the test plugin decay (dx/dt = −x, so
 * x = exp(−t)) following a "plant" whose value is exp(−t/2), fed at
 * every tick as the plant's signal would be (sim__measure), against
 * closed forms:
 *   - the columns d.x:measured and d.x:residual (plant − model) at every
 *     tick; the residual alarm raised at the first tick from which
 *     |residual| > tolerance has held for "for" seconds and cleared at
 *     the first tick at or under tolerance − deadband, both from the
 *     closed form; the synchronisation events (synchronised,
 *     desynchronised, synchronised, stale when the plant goes quiet);
 *   - nudging (x += gain × residual after each row): the residual at
 *     every tick against the recurrence x(k+1) = e^−dt ((1 − g) x(k) +
 *     g m(k)) computed here;
 *   - a reset (x = plant after each row): residual m(k+1) − m(k) e^−dt;
 *   - every refusal of a bad "measured" member.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static model_lib lib;

static int setup(void **state)
{
    (void)state;
    return modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"), NULL,
                            NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    modlib__free(&lib);
    return 0;
}

#define DT 0.5
#define STOP 12.0
#define QUIET 9.0  /* the plant's signal is stale from here on */

static double plant(double t)
{
    return exp(-0.5 * t);
}

static int feed(sim *s, double t, void *arg)
{
    (void)arg;
    assert_int_equal(sim__measure(s, "d.x", plant(t), t < QUIET), 0);
    assert_int_equal(sim__measure(s, "d.nope", 1.0, 1), -1);
    return 0;
}

static scenario *compose(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": %g, \"dt\": %g},"
             " \"solver\": {\"rtol\": 1e-11, \"atol\": 1e-13},"
             " \"instances\": {\"d\": {\"model\": \"decay\"}},"
             " \"measured\": {\"d.x\": {\"signal\": {\"topic\": \"plant/x\"},"
             "                         \"tolerance\": 0.2%s}},"
             " \"outputs\": [\"d.x\"]}", STOP, DT, extra);
    return support__compose_in_ok(&lib, text);
}

static const sim_event *nth(const collected *c, sim_event_kind kind,
                            size_t n)
{
    for (size_t i = 0; i < c->n_events; i++)
        if (c->events[i].kind == kind && n-- == 0)
            return &c->events[i];
    return NULL;
}

static void test_measured__residual(void **state)
{
    (void)state;
    scenario *sc = compose(", \"for\": 1");
    collected c = {0};
    support__run_fed(sc, &c, feed, NULL);
    assert_int_equal(c.result, 0);
    size_t cm = support__col(&c, "d.x:measured");
    size_t cr = support__col(&c, "d.x:residual");
    /* the rule on the closed form r(t) = exp(−t/2) − exp(−t): raised
     * after 1 s above 0.2, cleared at or under 0.18 */
    double raise = NAN, clear = NAN, since = NAN;
    for (size_t k = 0; k < c.n_rows; k++) {
        double t = support__at(&c, k, 0);
        double r = plant(t) - exp(-t);
        if (t >= QUIET) {
            assert_true(isnan(support__at(&c, k, cr)));
            assert_true(support__at(&c, k, cm) == plant(QUIET - DT));
            continue;
        }
        support__close("plant value", support__at(&c, k, cm), plant(t), 0);
        support__close("residual", support__at(&c, k, cr), r, 1e-9);
        if (isnan(raise)) {
            since = r > 0.2 ? (isnan(since) ? t : since) : NAN;
            if (!isnan(since) && t - since >= 1 - 1e-9)
                raise = t;
        } else if (isnan(clear) && r <= 0.18) {
            clear = t;
        }
    }
    assert_false(isnan(raise));
    assert_false(isnan(clear));
    const sim_event *up = nth(&c, SIM_EVENT_ALARM, 0);
    const sim_event *down = nth(&c, SIM_EVENT_ALARM, 1);
    assert_non_null(up);
    assert_non_null(down);
    assert_null(nth(&c, SIM_EVENT_ALARM, 2));
    assert_string_equal(up->alarm, "residual");
    assert_true(up->raised && !down->raised);
    support__close("raised at", up->t, raise, 1e-12);
    support__close("cleared at", down->t, clear, 1e-12);
    support__close("its |residual|", up->value,
                   plant(raise) - exp(-raise), 1e-9);
    /* synchronised at 0, desynchronised, synchronised, stale */
    const char *want[] = {"synchronised", "desynchronised", "synchronised",
                          "stale"};
    double at[] = {0, raise, clear, QUIET};
    for (size_t i = 0; i < 4; i++) {
        const sim_event *e = nth(&c, SIM_EVENT_SYNC, i);
        assert_non_null(e);
        assert_string_equal(e->alarm, want[i]);
        support__close("sync at", e->t, at[i], 1e-12);
    }
    assert_null(nth(&c, SIM_EVENT_SYNC, 4));
    assert_string_equal(c.stats.sync, "stale");
    assert_int_equal(c.stats.corrections, 0);
    assert_int_equal(c.stats.alarms_raised, 1);
    support__free(&c);
    scenario__free(&sc);
}

/* The residual at every fresh tick of a corrected run against the
 * recurrence: after the row at t(k), x ← x + g (m − x) (g = 1: a reset),
 * then x decays over dt. */
static void corrected(const char *extra, double g)
{
    scenario *sc = compose(extra);
    collected c = {0};
    support__run_fed(sc, &c, feed, NULL);
    assert_int_equal(c.result, 0);
    size_t cx = support__col(&c, "d.x"), cr = support__col(&c, "d.x:residual");
    double x = 1.0; /* the model's x at t(k), before the correction */
    size_t moved = 0;
    for (size_t k = 0; k < c.n_rows; k++) {
        double t = support__at(&c, k, 0), m = plant(t);
        support__close("x", support__at(&c, k, cx), x, 1e-9);
        if (t < QUIET) {
            support__close("residual", support__at(&c, k, cr), m - x, 1e-9);
            moved += m != x;
            x += g * (m - x);
        }
        x *= exp(-DT);
    }
    /* every fresh tick where plant and model differ moved the state */
    assert_int_equal(c.stats.corrections, moved);
    support__free(&c);
    scenario__free(&sc);
}

static void test_measured__nudging(void **state)
{
    (void)state;
    corrected(", \"correct\": {\"gain\": 0.3}", 0.3);
}

static void test_measured__reset(void **state)
{
    (void)state;
    corrected(", \"reset\": true", 1.0);
}

static void refused(const char *measured, const char *want)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": 1, \"dt\": 0.5},"
             " \"instances\": {\"d\": {\"model\": \"decay\"},"
             "                 \"m\": {\"model\": \"tiny\"}},"
             " \"measured\": %s, \"outputs\": [\"d.x\"]}", measured);
    twin_errors errs = {0};
    scenario *sc = support__compose_in(&lib, text, &errs);
    assert_null(sc);
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    support__expect_errors(measured, &errs, w);
    json_decref(w);
    errors__clear(&errs);
}

static void test_measured__refused(void **state)
{
    (void)state;
    refused("3", "[{\"code\": \"wrong_type\", \"path\": \"/measured\"}]");
    refused("{\"d.x\": {}}",
            "[{\"code\": \"missing_field\", \"path\": \"/measured/d.x\"}]");
    refused("{\"d.x\": {\"tolerance\": 0, \"signal\": 1, \"gain\": 1}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/measured/d.x/gain\"},"
            " {\"code\": \"wrong_type\", \"path\": \"/measured/d.x/signal\"},"
            " {\"code\": \"out_of_range\", \"path\": \"/measured/d.x\"}]");
    refused("{\"d.x\": {\"tolerance\": 0.1, \"deadband\": 0.1}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/measured/d.x\"}]");
    refused("{\"d.x\": {\"tolerance\": 0.1, \"correct\": {\"gain\": 2}}}",
            "[{\"code\": \"out_of_range\","
            "  \"path\": \"/measured/d.x/correct/gain\"}]");
    refused("{\"d.x\": {\"tolerance\": 0.1, \"correct\": 0.5}}",
            "[{\"code\": \"wrong_type\", \"path\": \"/measured/d.x/correct\"}]");
    refused("{\"d.x\": {\"tolerance\": 0.1, \"reset\": true,"
            " \"correct\": {\"gain\": 0.5}}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/measured/d.x\"}]");
    refused("{\"m.u\": {\"tolerance\": 0.1, \"reset\": true}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/measured/m.u\"}]");
    refused("{\"q.x\": {\"tolerance\": 0.1}, \"d.y\": {\"tolerance\": 1}}",
            "[{\"code\": \"unknown_instance\", \"path\": \"/measured/q.x\"},"
            " {\"code\": \"unknown_variable\", \"path\": \"/measured/d.y\"}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measured__residual),
        cmocka_unit_test(test_measured__nudging),
        cmocka_unit_test(test_measured__reset),
        cmocka_unit_test(test_measured__refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
