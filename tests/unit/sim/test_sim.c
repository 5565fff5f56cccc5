/*
 * test_sim.c — how runs end: a model or solver failure ends the run with
 * solver_failure and a sentence naming the instance and the time, promptly
 * (no retrying without end); a receiver can stop a run; "every" thins the
 * rows.  Uses the test plugin tests/plugins/failing.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static scenario *compose(int mode)
{
    return support__compose_failing(mode, 5.5, 20);
}

static void test_sim__failures_end_the_run(void **state)
{
    static const struct {
        int mode;
        const char *says;
    } cases[] = {
        {0, "returned ERROR from derivatives"},
        {1, "the solver failed between t = 5 and 6"},
        {2, "returned a non-finite derivative (nan) for state 'x'"},
        {3, "the solver failed between t = 5 and 6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scenario *sc = compose(cases[i].mode);
        collected c;
        support__run(sc, &c);
        assert_int_equal(c.result, TWIN_E_SOLVER_FAILURE);
        assert_int_equal(c.errs.count, 1);
        const char *msg = c.errs.items[0].message;
        if (strstr(msg, cases[i].says) == NULL || strstr(msg, "bad0") == NULL)
            fail_msg("mode %d: '%s' does not say '%s' and name bad0",
                     cases[i].mode, msg, cases[i].says);
        /* Rows up to the failing tick were delivered, none after. */
        assert_int_equal(c.n_rows, 6);
        assert_float_equal(support__at(&c, 5, 0), 5.0, 0);
        support__free(&c);
        scenario__free(&sc);
    }
}

static int stop_after(void *ctx, const double *values, size_t n)
{
    int *left = ctx;
    return --*left <= 0;
}

static void test_sim__receiver_stops_run(void **state)
{
    scenario *sc = support__compose_named("tank-farm-3");
    int left = 100;
    sim_callbacks cb = {.ctx = &left, .row = stop_after};
    sim_options opt = {.realtime = 0};
    sim_stats st;
    twin_errors errs = {0};
    int rc = sim__run_scenario(sc, &opt, &cb, &st, &errs);
    assert_int_equal(rc, TWIN_E_CANCELLED);
    assert_int_equal(st.rows, 100);
    errors__clear(&errs);
    scenario__free(&sc);
}

static void test_sim__every(void **state)
{
    scenario *sc = support__compose(
        "{\"time\": {\"start\": 10, \"stop\": 130, \"dt\": 2}, \"every\": 15,"
        " \"instances\": {\"pump0\": {\"model\": \"pump\"}},"
        " \"inputs\": {\"pump0.cmd\": {\"value\": 1}},"
        " \"outputs\": [\"pump0.w\"]}");
    collected c;
    support__run(sc, &c);
    /* 60 ticks of 2 s from t = 10; every 15th: t = 10, 40, 70, 100, 130. */
    assert_int_equal(c.result, 0);
    assert_int_equal(c.n_rows, 5);
    for (size_t r = 0; r < c.n_rows; r++)
        assert_float_equal(support__at(&c, r, 0), 10.0 + 30.0 * (double)r, 0);
    assert_int_equal(c.stats.ticks, 60);
    support__free(&c);
    scenario__free(&sc);
}

typedef struct live_ctx {
    collected rows;
    int set_at;  /* tick time at which poll sets the valve */
} live_ctx;

static int live_poll(void *ctx, sim *s, double t)
{
    live_ctx *lc = ctx;
    if (t == lc->set_at) {
        assert_int_equal(sim__set_input(s, "tank0.valve", 0.75), 0);
        assert_int_equal(sim__set_input(s, "tank0.nothing", 1.0), -1);
    }
    return 0;
}

static int live_row(void *ctx, const double *values, size_t n)
{
    live_ctx *lc = ctx;
    collected *c = &lc->rows;
    c->rows = realloc(c->rows, (c->n_rows + 1) * n * sizeof *c->rows);
    memcpy(c->rows + c->n_rows * n, values, n * sizeof *values);
    c->n_cols = n;
    c->n_rows++;
    return 0;
}

static void test_sim__live_input(void **state)
{
    /* A value set during tick 2's poll is in force at t = 2 (step 1 of the
     * loop), and the level responds to it from then on. */
    scenario *sc = support__compose(
        "{\"time\": {\"stop\": 4, \"dt\": 1},"
        " \"instances\": {\"tank0\": {\"model\": \"tank\"}},"
        " \"inputs\": {\"tank0.valve\": {\"live\": true, \"value\": 0.25}},"
        " \"outputs\": [\"tank0.valve\", \"tank0.q_out\", \"tank0.h\"]}");
    live_ctx lc = {.set_at = 2};
    twin_errors errs = {0};
    sim_callbacks cb = {.ctx = &lc, .row = live_row, .poll = live_poll};
    sim_options opt = {.realtime = 0};
    assert_int_equal(sim__run_scenario(sc, &opt, &cb, NULL, &errs), 0);
    assert_int_equal(lc.rows.n_rows, 5);
    for (size_t r = 0; r < 5; r++) {
        double valve = support__at(&lc.rows, r, 1);
        double h = support__at(&lc.rows, r, 3);
        assert_float_equal(valve, r < 2 ? 0.25 : 0.75, 0);
        /* q_out = cv·valve·sqrt(h) with the default cv 0.03. */
        assert_float_equal(support__at(&lc.rows, r, 2),
                           0.03 * valve * sqrt(h), 1e-15);
    }
    free(lc.rows.rows);
    errors__clear(&errs);
    scenario__free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim__failures_end_the_run),
        cmocka_unit_test(test_sim__receiver_stops_run),
        cmocka_unit_test(test_sim__every),
        cmocka_unit_test(test_sim__live_input),
    };
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
