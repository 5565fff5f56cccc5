/*
 * test_loops.c — algebraic loops solved with KINSOL (controller/sim/
 * loops.c), with the loopy test plugins of tests/plugins/ (real shared
 * objects, real CVODE and KINSOL), each against an answer computed here
 * independently: a linear pair and a loop of three with two tear
 * variables in closed form and a nonlinear pair with GSL's root finder,
 * at every tick, to 1e-10; a loop inside an integration group against the
 * reduced ODE integrated with GSL's odeiv2 (the loop solved by GSL's root
 * finder in its right-hand side), to 1e-6, and its steady state; a loop
 * with a discrete member that must tick once per tick; a loop without a
 * solution that fails the run and says so; "reject" and its refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "steady.h"
#include "support.h"

static model_lib lib;

static int setup(void **state)
{
    return modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"), NULL,
                            NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    modlib__free(&lib);
    return 0;
}

/* Compose against the test plugins; NULL with the problems in errs. */
static scenario *compose(const char *text, twin_errors *errs)
{
    scenario *sc = support__compose_in(&lib, text, errs);
    if (sc == NULL && errs->count == 0)
        fail_msg("did not compose and said nothing: %s", text);
    return sc;
}

static void run_ok(const char *text, collected *out)
{
    twin_errors errs = {0};
    scenario *sc = compose(text, &errs);
    if (sc == NULL) {
        errors__print(&errs, "compose: ", stderr);
        fail_msg("did not compose: %s", text);
    }
    support__run(sc, out);
    if (out->result != 0) {
        errors__print(&out->errs, "run: ", stderr);
        fail_msg("the run failed");
    }
    scenario__free(&sc);
}

/* The w profile of the tests: a step every second, so the loop's answer
 * changes from tick to tick. */
#define W_STEPS "{\"steps\": [[0, 0.25], [1, -0.5], [2, 1.0], [3, 0.1]," \
                " [4, 0.75], [5, -1.0], [6, 0.4], [7, 0.0], [8, 0.9]]}"

static double w_at(double t)
{
    static const double v[] = {0.25, -0.5, 1.0, 0.1, 0.75, -1.0, 0.4, 0.0,
                                0.9};
    size_t k = (size_t)floor(t + 1e-9);
    return v[k < 8 ? k : 8];
}

/* A: yA = 0.6·uA + 0.3 + wA,  B: yB = −1.5·uB + 0.2, uB = yA, uA = yB:
 * yA = (0.6·0.2 + 0.3 + wA) / (1 + 0.9). */
static void test_loops__linear_pair(void **state)
{
    collected c = {0};
    run_ok("{\"time\": {\"stop\": 10, \"dt\": 0.5},"
           " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
           " \"instances\": {"
           "  \"A\": {\"model\": \"loopy\", \"params\": {\"a\": 0.6, \"b\": 0.3}},"
           "  \"B\": {\"model\": \"loopy\", \"params\": {\"a\": -1.5, \"b\": 0.2}}},"
           " \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},"
           "                   {\"from\": \"B.y\", \"to\": \"A.u\"}],"
           " \"inputs\": {\"A.w\": " W_STEPS "},"
           " \"outputs\": [\"A.y\", \"B.y\", \"A.u\", \"B.u\"]}", &c);
    assert_int_equal(c.n_rows, 21);
    /* One loop, solved at each tick (twice at the first: before and after
     * the models' init), each in a Newton iteration or two. */
    assert_int_equal(c.stats.loops, 1);
    assert_int_equal(c.stats.loop_solves, 22);
    assert_true(c.stats.loop_iters >= 1 && c.stats.loop_iters <= 3 * 22);
    size_t ya = support__col(&c, "A.y"), yb = support__col(&c, "B.y");
    size_t ua = support__col(&c, "A.u"), ub = support__col(&c, "B.u");
    for (size_t r = 0; r < c.n_rows; r++) {
        double t = support__at(&c, r, 0);
        double want_a = (0.6 * 0.2 + 0.3 + w_at(t)) / 1.9;
        double want_b = -1.5 * want_a + 0.2;
        support__close("A.y", support__at(&c, r, ya), want_a, 1e-10);
        support__close("B.y", support__at(&c, r, yb), want_b, 1e-10);
        /* The loop is closed: each input is what its source says. */
        support__close("A.u", support__at(&c, r, ua), want_b, 1e-10);
        support__close("B.u", support__at(&c, r, ub), want_a, 1e-10);
    }
    support__free(&c);
}

/* Two cycles through H, which reads L on u and R on w: yH = 0.7·uH + wH,
 * yL = −0.5·uL + 0.4 + wL, yR = 0.3·uR − 0.1; so
 * yH = (0.7·(0.4 + wL) − 0.1) / (1 + 0.35 − 0.3).  Tearing takes two
 * variables (one into L, then one into R or H): a 2×2 Newton system. */
static void test_loops__two_tears(void **state)
{
    collected c = {0};
    run_ok("{\"time\": {\"stop\": 10, \"dt\": 1},"
           " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
           " \"instances\": {"
           "  \"H\": {\"model\": \"loopy\", \"params\": {\"a\": 0.7}},"
           "  \"L\": {\"model\": \"loopy\", \"params\": {\"a\": -0.5, \"b\": 0.4}},"
           "  \"R\": {\"model\": \"loopy\", \"params\": {\"a\": 0.3, \"b\": -0.1}}},"
           " \"connections\": [{\"from\": \"H.y\", \"to\": \"L.u\"},"
           "                   {\"from\": \"L.y\", \"to\": \"H.u\"},"
           "                   {\"from\": \"H.y\", \"to\": \"R.u\"},"
           "                   {\"from\": \"R.y\", \"to\": \"H.w\"}],"
           " \"inputs\": {\"L.w\": " W_STEPS "},"
           " \"outputs\": [\"H.y\", \"L.y\", \"R.y\"]}", &c);
    size_t yh = support__col(&c, "H.y"), yl = support__col(&c, "L.y");
    size_t yr = support__col(&c, "R.y");
    for (size_t r = 0; r < c.n_rows; r++) {
        double w = w_at(support__at(&c, r, 0));
        double h = (0.7 * (0.4 + w) - 0.1) / (1 + 0.35 - 0.3);
        support__close("H.y", support__at(&c, r, yh), h, 1e-10);
        support__close("L.y", support__at(&c, r, yl), -0.5 * h + 0.4 + w,
                       1e-10);
        support__close("R.y", support__at(&c, r, yr), 0.3 * h - 0.1, 1e-10);
    }
    support__free(&c);
}

/* One instance fed by itself: yA = 0.5·uA + b + wA with uA = yA, so
 * yA = 2·(b + wA).  With b = 100 the answer lies far from the torn
 * input's start value 0: Newton must be allowed a long first step (once
 * it was allowed a scaled step of 1 and gave up after five). */
static void test_loops__self(void **state)
{
    static const double offsets[] = {1.0, 100.0};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"time\": {\"stop\": 8, \"dt\": 1},"
                 " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
                 " \"instances\": {\"A\": {\"model\": \"loopy\","
                 "   \"params\": {\"a\": 0.5, \"b\": %.17g}}},"
                 " \"connections\": [{\"from\": \"A.y\", \"to\": \"A.u\"}],"
                 " \"inputs\": {\"A.w\": " W_STEPS "},"
                 " \"outputs\": [\"A.y\", \"A.u\"]}", offsets[k]);
        collected c = {0};
        run_ok(text, &c);
        assert_int_equal(c.stats.loops, 1);
        size_t y = support__col(&c, "A.y"), u = support__col(&c, "A.u");
        for (size_t r = 0; r < c.n_rows; r++) {
            double want = 2.0 * (offsets[k] + w_at(support__at(&c, r, 0)));
            support__close("A.y", support__at(&c, r, y), want, 1e-10);
            support__close("A.u", support__at(&c, r, u), want, 1e-10);
        }
        support__free(&c);
    }
}

/* A: yA = 0.8·tanh(uA) + 0.3 + wA,  B: yB = 0.5·uB + 0.1·uB² + 0.1;
 * uA = yB, uB = yA.  z = uA solves z = g(yA(z)): found here with GSL's
 * Brent solver, bracketed (the map is a contraction, one root). */
static double yA_of(double z, double w)
{
    return 0.8 * tanh(z) + 0.3 + w;
}

static double pair_residual(double z, void *params)
{
    double y = yA_of(z, *(const double *)params);
    return 0.5 * y + 0.1 * y * y + 0.1 - z;
}

static void test_loops__nonlinear_pair(void **state)
{
    collected c = {0};
    run_ok("{\"time\": {\"stop\": 10, \"dt\": 0.5},"
           " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
           " \"instances\": {"
           "  \"A\": {\"model\": \"loopy\", \"params\": {\"c\": 0.8, \"b\": 0.3}},"
           "  \"B\": {\"model\": \"loopy\","
           "         \"params\": {\"a\": 0.5, \"q\": 0.1, \"b\": 0.1}}},"
           " \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},"
           "                   {\"from\": \"B.y\", \"to\": \"A.u\"}],"
           " \"inputs\": {\"A.w\": " W_STEPS "},"
           " \"outputs\": [\"A.y\", \"B.y\"]}", &c);
    size_t ya = support__col(&c, "A.y"), yb = support__col(&c, "B.y");
    double moved = 0.0;
    for (size_t r = 0; r < c.n_rows; r++) {
        double t = support__at(&c, r, 0), w = w_at(t);
        double z = support__root(pair_residual, &w, -10.0, 10.0);
        support__close("B.y", support__at(&c, r, yb), z, 1e-10);
        support__close("A.y", support__at(&c, r, ya), yA_of(z, w), 1e-10);
        if (r > 0)
            moved = fmax(moved, fabs(support__at(&c, r, yb) -
                                     support__at(&c, r - 1, yb)));
    }
    assert_true(moved > 0.1); /* the answer really changed from tick to tick */
    support__free(&c);
}

/* In one integration group: P (loopy_state) x' = −x + uP, yP = x + 0.5·uP;
 * S (loopy) yS = 0.6·tanh(uS) + 0.2 + wS; uS = yP, uP = yS.  Reduced:
 * v = uP solves v = 0.6·tanh(x + 0.5·v) + 0.2 + w, then x' = −x + v. */
static double ode_residual(double v, void *params)
{
    const double *xw = params;
    return 0.6 * tanh(xw[0] + 0.5 * v) + 0.2 + xw[1] - v;
}

static double ode_v(double x, double w)
{
    double xw[2] = {x, w};
    return support__root(ode_residual, xw, -20.0, 20.0);
}

static int reduced_rhs(double t, const double *x, double *dx, void *params)
{
    dx[0] = -x[0] + ode_v(x[0], *(const double *)params);
    return GSL_SUCCESS;
}

static void test_loops__in_group(void **state)
{
    collected c = {0};
    run_ok("{\"time\": {\"stop\": 10, \"dt\": 0.25},"
           " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
           " \"instances\": {"
           "  \"P\": {\"model\": \"loopy_state\", \"start\": {\"x\": 2},"
           "         \"params\": {\"s\": 1, \"a\": 0.5, \"k\": 1, \"g\": 1}},"
           "  \"S\": {\"model\": \"loopy\", \"params\": {\"c\": 0.6, \"b\": 0.2}}},"
           " \"connections\": [{\"from\": \"P.y\", \"to\": \"S.u\"},"
           "                   {\"from\": \"S.y\", \"to\": \"P.u\"}],"
           " \"inputs\": {\"S.w\": " W_STEPS "},"
           " \"outputs\": [\"P.x\", \"P.u\"]}", &c);
    assert_int_equal(c.stats.n_groups, 1);
    size_t xc = support__col(&c, "P.x"), uc = support__col(&c, "P.u");
    /* GSL's integration of the reduced ODE, restarted at each step of w,
     * row by row. */
    double x = 2.0, t = 0.0, w = w_at(0.0);
    gsl_odeiv2_system sys = {reduced_rhs, NULL, 1, &w};
    gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_y_new(
        &sys, gsl_odeiv2_step_rk8pd, 1e-6, 1e-13, 1e-13);
    assert_non_null(d);
    for (size_t r = 0; r < c.n_rows; r++) {
        double tr = support__at(&c, r, 0);
        if (tr > t) {
            w = w_at(t);
            gsl_odeiv2_driver_reset(d);
            assert_int_equal(gsl_odeiv2_driver_apply(d, &t, tr, &x),
                             GSL_SUCCESS);
        }
        support__close("P.x", support__at(&c, r, xc), x, 1e-6);
        support__close("P.u", support__at(&c, r, uc), ode_v(x, w_at(tr)),
                       1e-6);
    }
    gsl_odeiv2_driver_free(d);
    assert_true(support__max_error() < 1e-6);
    support__free(&c);
}

/* The steady state of the same group: x = v with v = 0.6·tanh(1.5·v)
 * + 0.2 (w = 0), the loop solved inside the right-hand side the steady
 * solver zeroes; against GSL's root finder. */
static double steady_residual(double v, void *params)
{
    return 0.6 * tanh(1.5 * v) + 0.2 - v;
}

static void test_loops__steady(void **state)
{
    twin_errors errs = {0};
    scenario *sc = compose(
        "{\"time\": {\"stop\": 1, \"dt\": 1},"
        " \"instances\": {"
        "  \"P\": {\"model\": \"loopy_state\", \"start\": {\"x\": 2},"
        "         \"params\": {\"s\": 1, \"a\": 0.5, \"k\": 1, \"g\": 1}},"
        "  \"S\": {\"model\": \"loopy\", \"params\": {\"c\": 0.6, \"b\": 0.2}}},"
        " \"connections\": [{\"from\": \"P.y\", \"to\": \"S.u\"},"
        "                   {\"from\": \"S.y\", \"to\": \"P.u\"}]}", &errs);
    assert_non_null(sc);
    steady_options opt;
    steady__defaults(&opt);
    steady_result res = {0};
    if (steady__solve(sc, &opt, &res) != 0)
        fail_msg("no steady state: %s", res.message);
    assert_int_equal(res.n, 1);
    double v = support__root(steady_residual, NULL, -5.0, 5.0);
    support__close("P.x", res.x[0], v, 1e-9);
    support__close("P.u", res.u[0][0], v, 1e-9);
    steady__result_free(&res);
    scenario__free(&sc);
}

/* A discrete member: D (loopy_tick) counts its ticks in x and yD = 0.5·uD
 * + 0.25·x; A (loopy, continuous, no state) yA = −0.8·uA + wA.  Each tick
 * must count once, however many trial evaluations KINSOL makes, from its
 * start value: yD = (0.5·wA + 0.25·n) / (1 + 0.4) with n = 10 + k + 1
 * at tick k. */
static void test_loops__discrete_member(void **state)
{
    collected c = {0};
    run_ok("{\"time\": {\"stop\": 8, \"dt\": 1},"
           " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
           " \"instances\": {"
           "  \"D\": {\"model\": \"loopy_tick\", \"start\": {\"x\": 10},"
           "         \"params\": {\"a\": 0.5, \"s\": 0.25}},"
           "  \"A\": {\"model\": \"loopy\", \"params\": {\"a\": -0.8}}},"
           " \"connections\": [{\"from\": \"A.y\", \"to\": \"D.u\"},"
           "                   {\"from\": \"D.y\", \"to\": \"A.u\"}],"
           " \"inputs\": {\"A.w\": " W_STEPS "},"
           " \"outputs\": [\"D.x\", \"D.y\"]}", &c);
    size_t xc = support__col(&c, "D.x"), yc = support__col(&c, "D.y");
    for (size_t r = 0; r < c.n_rows; r++) {
        double t = support__at(&c, r, 0), n = 10.0 + (double)r + 1.0;
        support__close("D.x", support__at(&c, r, xc), n, 0.0);
        support__close("D.y", support__at(&c, r, yc),
                       (0.5 * w_at(t) + 0.25 * n) / 1.4, 1e-10);
    }
    support__free(&c);
}

/* A discrete member driving a group with a state through the torn
 * connection: P (loopy_state) x' = −x + uP, yP = x + 0.5·uP; D
 * (loopy_tick) yD = 0.4·uD + 0.1·n (n its tick count); uP = yD, uD = yP.
 * At tick k, v = uP = (0.4·x + 0.1·n) / 0.8 with n = k + 1, held over the
 * tick, so x_{k+1} = v + (x_k − v)·e^(−dt).  v jumps at every tick: P's
 * group must restart at each (the torn input is held over the tick, like
 * any input from a discrete model). */
static void test_loops__discrete_into_group(void **state)
{
    collected c = {0};
    run_ok("{\"time\": {\"stop\": 6, \"dt\": 0.5},"
           " \"solver\": {\"rtol\": 1e-11, \"atol\": 1e-13},"
           " \"instances\": {"
           "  \"P\": {\"model\": \"loopy_state\", \"start\": {\"x\": 1},"
           "         \"params\": {\"s\": 1, \"a\": 0.5, \"k\": 1, \"g\": 1}},"
           "  \"D\": {\"model\": \"loopy_tick\","
           "         \"params\": {\"a\": 0.4, \"s\": 0.1}}},"
           " \"connections\": [{\"from\": \"P.y\", \"to\": \"D.u\"},"
           "                   {\"from\": \"D.y\", \"to\": \"P.u\"}],"
           " \"outputs\": [\"P.x\", \"P.u\"]}", &c);
    size_t xc = support__col(&c, "P.x"), uc = support__col(&c, "P.u");
    double x = 1.0;
    for (size_t r = 0; r < c.n_rows; r++) {
        double v = (0.4 * x + 0.1 * ((double)r + 1.0)) / 0.8;
        support__close("P.x", support__at(&c, r, xc), x, 1e-8);
        support__close("P.u", support__at(&c, r, uc), v, 1e-8);
        x = v + (x - v) * exp(-0.5);
    }
    /* Restarts after every tick but the first interval's (not counted). */
    assert_int_equal(c.stats.restarts, c.n_rows - 2);
    support__free(&c);
}

/* z = z² + 1 has no real root: A yA = uA² + 1, B yB = uB.  The run fails
 * with solver_failure, naming the loop, the time, the residual and the
 * iterations. */
static void test_loops__no_solution_fails(void **state)
{
    twin_errors errs = {0};
    scenario *sc = compose(
        "{\"time\": {\"stop\": 2, \"dt\": 1},"
        " \"instances\": {"
        "  \"A\": {\"model\": \"loopy\", \"params\": {\"q\": 1, \"b\": 1}},"
        "  \"B\": {\"model\": \"loopy\", \"params\": {\"a\": 1}}},"
        " \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},"
        "                   {\"from\": \"B.y\", \"to\": \"A.u\"}]}", &errs);
    assert_non_null(sc);
    collected c = {0};
    support__run(sc, &c);
    assert_int_equal(c.result, TWIN_E_SOLVER_FAILURE);
    assert_int_equal(c.errs.count, 1);
    const char *msg = c.errs.items[0].message;
    static const char *const says[] = {
        "algebraic loop of ", "A (loopy)", "B (loopy)", "did not converge",
        "at t = 0", "residual norm ", "largest at the tear variable ",
        " iterations", "KINSOL: KIN_"};
    for (size_t i = 0; i < sizeof says / sizeof says[0]; i++)
        if (strstr(msg, says[i]) == NULL)
            fail_msg("the message lacks '%s': %s", says[i], msg);
    /* The residual it names is the real one, not a zero. */
    const char *norm = strstr(msg, "residual norm ") + strlen("residual norm ");
    assert_true(strtod(norm, NULL) > 0.5); /* z² + 1 − z ≥ 3/4 */
    assert_int_equal(c.n_rows, 0);
    support__free(&c);
    scenario__free(&sc);
}

/* "reject" refuses as before loops were solved, with the same message;
 * anything but "solve" or "reject" is refused. */
static void test_loops__reject(void **state)
{
    static const char *const doc =
        "{\"algebraic_loops\": \"%s\", \"time\": {\"stop\": 2, \"dt\": 1},"
        " \"instances\": {\"A\": {\"model\": \"loopy\"},"
        "                 \"B\": {\"model\": \"loopy\"}},"
        " \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},"
        "                   {\"from\": \"B.y\", \"to\": \"A.u\"}]}";
    char text[1024];
    twin_errors errs = {0};
    snprintf(text, sizeof text, doc, "reject");
    assert_null(compose(text, &errs));
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.items[0].code, TWIN_E_ALGEBRAIC_LOOP);
    assert_string_equal(errs.items[0].path, "/connections/0");
    assert_string_equal(errs.items[0].message,
                        "algebraic loop: A.y → B.u, B.y → A.u; each output "
                        "here depends on its own input at the same instant. "
                        "Break it with a model that has a state or a "
                        "discrete (tick) model");
    errors__clear(&errs);

    snprintf(text, sizeof text, doc, "solve");
    scenario *sc = compose(text, &errs);
    assert_non_null(sc);
    scenario__free(&sc);

    snprintf(text, sizeof text, doc, "Reject");
    assert_null(compose(text, &errs));
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.items[0].code, TWIN_E_OUT_OF_RANGE);
    assert_string_equal(errs.items[0].path, "/algebraic_loops");
    errors__clear(&errs);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loops__linear_pair),
        cmocka_unit_test(test_loops__two_tears),
        cmocka_unit_test(test_loops__self),
        cmocka_unit_test(test_loops__nonlinear_pair),
        cmocka_unit_test(test_loops__in_group),
        cmocka_unit_test(test_loops__steady),
        cmocka_unit_test(test_loops__discrete_member),
        cmocka_unit_test(test_loops__discrete_into_group),
        cmocka_unit_test(test_loops__no_solution_fails),
        cmocka_unit_test(test_loops__reject),
    };
    return cmocka_run_group_tests_name("loops", tests, setup, teardown);
}
