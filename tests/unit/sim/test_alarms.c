/*
 * test_alarms.c — limit alarms (controller/sim/alarms.c) against closed
 * forms:
 *   - one limit's state machine on v = sin(w t) sampled at ticks: each
 *     excursion above hi (or below lo) raised at the first tick inside
 *     the arc where sin exceeds the limit (later by the on-delay "for"),
 *     cleared at the first tick after it where sin is back by the
 *     deadband — every tick computed from asin, not from the machine;
 *   - a run with the test plugins on real CVODE: decay's x = exp(−t)
 *     crossing lo and lolo (each raised once, at the first tick past
 *     ln(1/limit), never cleared), tiny's input u driven by a triangle
 *     table crossing hi and hihi on the way up and back by the deadband
 *     on the way down (raised and cleared exactly once each), the
 *     events' values, limits, times and the run's counts;
 *   - an envelope (a band over time, linear between its points) on the
 *     table-driven u: envelope_hi raised where u crosses the rising edge
 *     and cleared where it comes back under it, each at the tick the
 *     closed form of both lines gives, with the edge's value as the limit;
 *   - every refusal of a bad "alarms" or "envelopes" member, with its
 *     JSON Pointer.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alarms.h"
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

/* ---- the state machine on a sine ---------------------------------------- */

#define W 0.7     /* rad/s */
#define DT 0.05   /* s between ticks */
#define TICKS 2000

/* The first tick at or after t. */
static double tick_at_or_after(double t)
{
    return ceil(t / DT - 1e-9) * DT;
}

/* Above hi, sin(W t) > hi on (a + 2πn, π − a + 2πn)/W with a = asin(hi):
 * the expected raise and clear ticks of excursion n, for a high limit
 * with deadband db and on-delay delay.  Returns 0 when the raise falls
 * after the arc (the excursion is too short for the delay). */
static int expected_high(int n, double hi, double db, double delay,
                         double *raise, double *clear)
{
    double a = asin(hi), base = 2 * M_PI * n;
    double enter = (a + base) / W, leave = (M_PI - a + base) / W;
    double first = tick_at_or_after(enter);
    if (first == enter) /* exactly at the limit: not beyond it */
        first += DT;
    *raise = tick_at_or_after(first + delay);
    if (*raise >= leave)
        return 0;
    /* back at or below hi − db: from (π − asin(hi − db) + 2πn)/W */
    *clear = tick_at_or_after((M_PI - asin(hi - db) + base) / W);
    return 1;
}

static void sine_case(double hi, double db, double delay)
{
    alarm_state st = {0, NAN};
    int n = 0, raised = 0, transitions = 0;
    double want_raise = 0, want_clear = 0;
    int have = expected_high(n, hi, db, delay, &want_raise, &want_clear);
    for (int k = 0; k <= TICKS; k++) {
        double t = k * DT, v = sin(W * t);
        int change = alarms__step(&st, 1, hi, db, delay, v, t);
        if (change == 0)
            continue;
        transitions++;
        assert_true(have);
        if (change > 0) {
            assert_false(raised);
            assert_true(fabs(t - want_raise) < 1e-9);
            raised = 1;
        } else {
            assert_true(raised);
            assert_true(fabs(t - want_clear) < 1e-9);
            raised = 0;
            n++;
            have = expected_high(n, hi, db, delay, &want_raise, &want_clear);
        }
    }
    /* every whole period of the horizon had its excursion */
    int periods = (int)floor(TICKS * DT * W / (2 * M_PI));
    assert_true(transitions >= 2 * (periods - 1));
}

static void test_alarms__sine(void **state)
{
    (void)state;
    sine_case(0.5, 0.1, 0.0);
    sine_case(0.5, 0.0, 0.0);
    sine_case(0.8, 0.3, 0.4);
    sine_case(0.9, 0.05, 0.25);
}

/* A low limit is the mirror image: the same machine on −v. */
static void test_alarms__low_mirrors_high(void **state)
{
    (void)state;
    alarm_state hi = {0, NAN}, lo = {0, NAN};
    for (int k = 0; k <= TICKS; k++) {
        double t = k * DT, v = sin(W * t) + 0.3 * sin(3.1 * W * t);
        assert_int_equal(alarms__step(&lo, 0, -0.4, 0.15, 0.2, -v, t),
                         alarms__step(&hi, 1, 0.4, 0.15, 0.2, v, t));
    }
}

static void test_alarms__nan_changes_nothing(void **state)
{
    (void)state;
    alarm_state st = {0, NAN};
    assert_int_equal(alarms__step(&st, 1, 1.0, 0.1, 0.5, 2.0, 0.0), 0);
    assert_int_equal(alarms__step(&st, 1, 1.0, 0.1, 0.5, NAN, 0.3), 0);
    assert_int_equal(alarms__step(&st, 1, 1.0, 0.1, 0.5, 2.0, 0.5), 1);
    assert_int_equal(alarms__step(&st, 1, 1.0, 0.1, 0.5, NAN, 0.6), 0);
    assert_int_equal(alarms__step(&st, 1, 1.0, 0.1, 0.5, 0.95, 0.7), 0);
    assert_int_equal(alarms__step(&st, 1, 1.0, 0.1, 0.5, 0.9, 0.8), -1);
}

/* ---- a run --------------------------------------------------------------- */

static const sim_event *nth_alarm(const collected *c, const char *column,
                                  const char *level, size_t nth)
{
    for (size_t i = 0; i < c->n_events; i++) {
        const sim_event *e = &c->events[i];
        if (e->kind == SIM_EVENT_ALARM && strcmp(e->column, column) == 0 &&
            strcmp(e->alarm, level) == 0 && nth-- == 0)
            return e;
    }
    return NULL;
}

static void expect(const collected *c, const char *column, const char *level,
                   size_t nth, int raised, double t, double value,
                   double limit)
{
    const sim_event *e = nth_alarm(c, column, level, nth);
    if (e == NULL)
        fail_msg("no alarm %zu of %s %s", nth, column, level);
    assert_int_equal(e->raised, raised);
    support__close("alarm t", e->t, t, 1e-12);
    support__close("alarm value", e->value, value, 1e-7);
    support__close("alarm limit", e->limit, limit, 1e-12);
}

static void test_alarms__run(void **state)
{
    (void)state;
    /* tiny's u: 0 at t = 0, 1 at t = 10, 0 at t = 20 (linear) */
    scenario *sc = support__compose_in_ok(&lib,
        "{\"time\": {\"stop\": 30, \"dt\": 0.5},"
        " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
        " \"instances\": {\"d\": {\"model\": \"decay\"},"
        "                 \"m\": {\"model\": \"tiny\"}},"
        " \"inputs\": {\"m.u\": {\"table\": [[0, 0], [10, 1], [20, 0],"
        "                                    [30, 0]]}},"
        " \"alarms\": {\"d.x\": {\"lo\": 0.5, \"lolo\": 0.1,"
        "                        \"deadband\": 0.01},"
        "              \"m.u\": {\"hi\": 0.62, \"hihi\": 0.86,"
        "                        \"deadband\": 0.1, \"for\": 1}},"
        " \"outputs\": [\"d.x\", \"m.u\"]}");
    collected c = {0};
    support__run(sc, &c);
    assert_int_equal(c.result, 0);

    /* exp(−t) < limit from ln(1/limit): the first tick after it */
    double ticks[2] = {ceil(log(1 / 0.5) / 0.5) * 0.5,
                       ceil(log(1 / 0.1) / 0.5) * 0.5};
    expect(&c, "d.x", "lo", 0, 1, ticks[0], exp(-ticks[0]), 0.5);
    expect(&c, "d.x", "lolo", 0, 1, ticks[1], exp(-ticks[1]), 0.1);
    assert_null(nth_alarm(&c, "d.x", "lo", 1));
    assert_null(nth_alarm(&c, "d.x", "lolo", 1));

    /* u = t/10 up, (20 − t)/10 down.  hi 0.62 for 1 s: beyond from the
     * first tick past t = 6.2 (6.5), raised 1 s later (7.5); back at or
     * below 0.52 from t = 14.8 (the tick 15).  hihi 0.86: beyond from the
     * first tick past 8.6 (9), raised at 10; back at or below 0.76 from
     * 12.4 (the tick 12.5). */
    expect(&c, "m.u", "hi", 0, 1, 7.5, 0.75, 0.62);
    expect(&c, "m.u", "hi", 1, 0, 15.0, 0.5, 0.62);
    expect(&c, "m.u", "hihi", 0, 1, 10.0, 1.0, 0.86);
    expect(&c, "m.u", "hihi", 1, 0, 12.5, 0.75, 0.86);
    assert_null(nth_alarm(&c, "m.u", "hi", 2));
    assert_null(nth_alarm(&c, "m.u", "hihi", 2));

    assert_int_equal(c.stats.n_alarms, 2);
    assert_int_equal(c.stats.alarms_raised, 4);
    assert_int_equal(c.stats.alarms_cleared, 2);
    assert_int_equal(c.stats.alarms_active, 2); /* d.x's, to the end */
    support__free(&c);
    scenario__free(&sc);
}

static void test_alarms__envelope(void **state)
{
    (void)state;
    /* u = t/10 up to t = 10, (20 − t)/10 down; the band's top 0.5 + 0.03 t
     * from 0 to 20 s, its bottom −1.  Above from t > 0.5/0.07 = 7.14 (the
     * tick 7.5, top 0.725); back at or below from t >= 1.5/0.13 = 11.54
     * (the tick 12, u 0.8, top 0.86); nothing checked after 20 s. */
    scenario *sc = support__compose_in_ok(&lib,
        "{\"time\": {\"stop\": 30, \"dt\": 0.5},"
        " \"instances\": {\"m\": {\"model\": \"tiny\"}},"
        " \"inputs\": {\"m.u\": {\"table\": [[0, 0], [10, 1], [20, 0],"
        "                                    [30, 2]]}},"
        " \"envelopes\": {\"m.u\": {\"band\": [[0, -1, 0.5], [5, -1, 0.65],"
        "                                      [20, -1, 1.1]]}},"
        " \"outputs\": [\"m.u\"]}");
    collected c = {0};
    support__run(sc, &c);
    assert_int_equal(c.result, 0);
    expect(&c, "m.u", "envelope_hi", 0, 1, 7.5, 0.75, 0.5 + 0.03 * 7.5);
    const sim_event *e = nth_alarm(&c, "m.u", "envelope_hi", 1);
    assert_non_null(e);
    assert_int_equal(e->raised, 0);
    support__close("cleared at", e->t, 12.0, 1e-12);
    support__close("its limit", e->limit, 0.5 + 0.03 * 12.0, 1e-12);
    assert_null(nth_alarm(&c, "m.u", "envelope_hi", 2)); /* not after 20 s */
    assert_null(nth_alarm(&c, "m.u", "envelope_lo", 0));
    assert_int_equal(c.stats.alarms_raised, 1);
    assert_int_equal(c.stats.alarms_cleared, 1);
    support__free(&c);
    scenario__free(&sc);
}

/* ---- refusals ------------------------------------------------------------- */

static void refused_as(const char *member, const char *alarms,
                       const char *want)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": 1, \"dt\": 0.5},"
             " \"instances\": {\"d\": {\"model\": \"decay\"}},"
             " \"%s\": %s, \"outputs\": [\"d.x\"]}", member, alarms);
    twin_errors errs = {0};
    scenario *sc = support__compose_in(&lib, text, &errs);
    assert_null(sc);
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    support__expect_errors(alarms, &errs, w);
    json_decref(w);
    errors__clear(&errs);
}

static void refused(const char *alarms, const char *want)
{
    refused_as("alarms", alarms, want);
}

static void test_alarms__refused(void **state)
{
    (void)state;
    refused("[1]", "[{\"code\": \"wrong_type\", \"path\": \"/alarms\"}]");
    refused("{\"d.x\": 3}",
            "[{\"code\": \"wrong_type\", \"path\": \"/alarms/d.x\"}]");
    refused("{\"e.x\": {\"hi\": 1}, \"d.y\": {\"hi\": 1}, \"dx\": {}}",
            "[{\"code\": \"unknown_instance\", \"path\": \"/alarms/e.x\"},"
            " {\"code\": \"unknown_variable\", \"path\": \"/alarms/d.y\"},"
            " {\"code\": \"unknown_variable\", \"path\": \"/alarms/dx\"}]");
    refused("{\"d.x\": {}}",
            "[{\"code\": \"missing_field\", \"path\": \"/alarms/d.x\"}]");
    refused("{\"d.x\": {\"hi\": \"1\", \"lo\": 0, \"hhi\": 2}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/alarms/d.x/hhi\"},"
            " {\"code\": \"wrong_type\", \"path\": \"/alarms/d.x/hi\"}]");
    refused("{\"d.x\": {\"hi\": 1, \"deadband\": -0.1, \"for\": -1}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/alarms/d.x\"},"
            " {\"code\": \"out_of_range\", \"path\": \"/alarms/d.x\"}]");
    refused("{\"d.x\": {\"hi\": 1, \"lo\": 1}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/alarms/d.x\"}]");
    refused("{\"d.x\": {\"hihi\": 1, \"hi\": 2}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/alarms/d.x\"}]");
    refused("{\"d.x\": {\"lo\": 1, \"lolo\": 1.5}}",
            "[{\"code\": \"out_of_range\", \"path\": \"/alarms/d.x\"}]");
    const char *E = "envelopes";
    refused_as(E, "{\"d.x\": {\"for\": 1}}",
               "[{\"code\": \"missing_field\","
               "  \"path\": \"/envelopes/d.x/band\"}]");
    refused_as(E, "{\"d.x\": {\"band\": [[0, 1, 2]], \"hi\": 1}}",
               "[{\"code\": \"out_of_range\","
               "  \"path\": \"/envelopes/d.x/hi\"},"
               " {\"code\": \"out_of_range\","
               "  \"path\": \"/envelopes/d.x/band\"}]");
    refused_as(E, "{\"d.x\": {\"band\": 3}, \"e.x\": {\"band\": []}}",
               "[{\"code\": \"wrong_type\", \"path\": \"/envelopes/d.x/band\"},"
               " {\"code\": \"unknown_instance\", \"path\": \"/envelopes/e.x\"}]");
    refused_as(E, "{\"d.x\": {\"band\": [[0, 1, 2], [1, 2]]}}",
               "[{\"code\": \"wrong_type\", \"path\": \"/envelopes/d.x/band\"}]");
    refused_as(E, "{\"d.x\": {\"band\": [[0, 1, 2], [1, 3, 2]]}}",
               "[{\"code\": \"out_of_range\", \"path\": \"/envelopes/d.x/band\"}]");
    refused_as(E, "{\"d.x\": {\"band\": [[0, 1, 2], [0, 1, 2]]}}",
               "[{\"code\": \"out_of_range\", \"path\": \"/envelopes/d.x/band\"}]");
    refused_as(E, "{\"d.x\": {\"band\": [[-1, 1, 2], [1, 1, 2]],"
               " \"deadband\": -1}}",
               "[{\"code\": \"out_of_range\", \"path\": \"/envelopes/d.x\"},"
               " {\"code\": \"out_of_range\", \"path\": \"/envelopes/d.x/band\"}]");
    refused_as(E, "[]", "[{\"code\": \"wrong_type\", \"path\": \"/envelopes\"}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alarms__sine),
        cmocka_unit_test(test_alarms__low_mirrors_high),
        cmocka_unit_test(test_alarms__nan_changes_nothing),
        cmocka_unit_test(test_alarms__run),
        cmocka_unit_test(test_alarms__envelope),
        cmocka_unit_test(test_alarms__refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
