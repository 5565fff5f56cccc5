/*
 * test_flow_network.c — the reference flow network (the valve and header
 * models of models/, scenarios/flow-network.json; docs/models.md "The
 * flow network"), run with the real plugins, CVODE and KINSOL, against
 * answers computed here independently of the controller:
 *
 *   - at every row, the header's head and each branch's flow for the
 *     row's tank level: in closed form where every branch has the same
 *     supply head, else the root of the flow balance found with GSL's
 *     Brent solver, to 1e-9 (heads) and 1e-11 (flows);
 *   - the tank's level over time: the reduced ODE (one state, the level;
 *     the network solved in its right-hand side) integrated with GSL's
 *     odeiv2, restarted where a valve steps, to 1e-6;
 *   - the steady state, before and after the step: in closed form, and
 *     for unequal supplies with GSL's gsl_multiroot on the unknowns
 *     (header head, level), to 1e-9;
 *   - a header whose outlet is shut fails the run, naming it.
 *
 * The network: K valves from supply heads H_i into one header;
 *   q_i = cv_i·u_i·sign(H_i − p)·sqrt(|H_i − p|)
 *   Σ q_i = b·sign(p − h)·sqrt(|p − h|),  b = cv_out·opening_out
 *   dh/dt = (Σ q_i − c·sqrt(h))/A,         c = tank cv·tank valve.
 * With one supply head H for all, a = Σ cv_i·u_i and H ≥ p ≥ h:
 *   p = (a²H + b²h)/(a² + b²),  and at steady state
 *   h = a²b²H / (a²b² + c²(a² + b²)).
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
#include <gsl/gsl_multiroots.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_vector.h>

#include "steady.h"
#include "support.h"

#define MAX_K 8

typedef struct network {
    size_t k;
    double supply[MAX_K], cv[MAX_K], opening[MAX_K];
    double step_t, step_opening; /* valve0's opening from step_t on */
    double cv_out, out_opening;
    double area, cv_tank, tank_valve, h0;
    double stop, dt, rtol, atol;
} network;

/* scenarios/flow-network.json (examples/gen_flow_network.py 3). */
static const network shipped = {
    .k = 3, .supply = {5.0, 5.0, 5.0}, .cv = {0.01, 0.0125, 0.015},
    .opening = {1.0, 0.8, 0.6}, .step_t = 900, .step_opening = 0.25,
    .cv_out = 0.04, .out_opening = 1.0, .area = 2.0, .cv_tank = 0.03,
    .tank_valve = 0.8, .h0 = 1.0, .stop = 1800, .dt = 1, .rtol = 1e-9,
    .atol = 1e-11};

/* Eight branches from six supply heads; branch 4's supply lies below the
 * header, so the header drains back into it (a negative flow). */
static const network eight = {
    .k = 8, .supply = {5.0, 4.5, 6.0, 5.5, 1.0, 4.8, 5.2, 7.0},
    .cv = {0.004, 0.003, 0.005, 0.0035, 0.006, 0.0045, 0.004, 0.002},
    .opening = {1.0, 0.9, 0.7, 1.0, 0.5, 0.8, 0.6, 1.0}, .step_t = 300,
    .step_opening = 0.1, .cv_out = 0.03, .out_opening = 0.9, .area = 1.5,
    .cv_tank = 0.03, .tank_valve = 0.7, .h0 = 1.5, .stop = 600, .dt = 2,
    .rtol = 1e-9, .atol = 1e-11};

/* ---- the independent answer ------------------------------------------ */

static double opening_at(const network *n, size_t i, double t)
{
    return i == 0 && t >= n->step_t ? n->step_opening : n->opening[i];
}

static double orifice(double cv, double dh)
{
    return copysign(cv * sqrt(fabs(dh)), dh);
}

static double branch_flow(const network *n, const double *u, size_t i,
                          double p)
{
    return orifice(n->cv[i] * u[i], n->supply[i] - p);
}

typedef struct balance {
    const network *n;
    const double *u; /* the valves' openings */
    double h;        /* the tank's level */
} balance;

/* Inflow minus outflow of the header at head p: falls with p. */
static double imbalance(double p, void *params)
{
    const balance *b = params;
    double q = 0.0;
    for (size_t i = 0; i < b->n->k; i++)
        q += branch_flow(b->n, b->u, i, p);
    return q - orifice(b->n->cv_out * b->n->out_opening, p - b->h);
}

/* The header's head by Brent's method, bracketed by the lowest and the
 * highest head around it. */
static double header_head(const network *n, const double *u, double h)
{
    balance b = {n, u, h};
    double lo = h, hi = h;
    for (size_t i = 0; i < n->k; i++) {
        lo = fmin(lo, n->supply[i]);
        hi = fmax(hi, n->supply[i]);
    }
    return support__root(imbalance, &b, lo, hi);
}

/* One supply head for all: the closed forms.  a = Σ cv_i·u_i. */
static double capacity(const network *n, const double *u)
{
    double a = 0.0;
    for (size_t i = 0; i < n->k; i++)
        a += n->cv[i] * u[i];
    return a;
}

static double header_head_closed(const network *n, const double *u, double h)
{
    double a2 = pow(capacity(n, u), 2), b2 = pow(n->cv_out * n->out_opening,
                                                  2);
    return (a2 * n->supply[0] + b2 * h) / (a2 + b2);
}

static double level_closed(const network *n, const double *u)
{
    double a2 = pow(capacity(n, u), 2);
    double b2 = pow(n->cv_out * n->out_opening, 2);
    double c2 = pow(n->cv_tank * n->tank_valve, 2);
    return a2 * b2 * n->supply[0] / (a2 * b2 + c2 * (a2 + b2));
}

static int same_supply(const network *n)
{
    for (size_t i = 1; i < n->k; i++)
        if (n->supply[i] != n->supply[0])
            return 0;
    return 1;
}

static double head_for(const network *n, const double *u, double h)
{
    return same_supply(n) ? header_head_closed(n, u, h)
                          : header_head(n, u, h);
}

static void openings_at(const network *n, double t, double *u)
{
    for (size_t i = 0; i < n->k; i++)
        u[i] = opening_at(n, i, t);
}

/* The reduced ODE: dh/dt with the network solved at h; params holds the
 * network and the openings of the interval. */
typedef struct reduced {
    const network *n;
    double u[MAX_K];
} reduced;

static int reduced_rhs(double t, const double *x, double *dx, void *params)
{
    const reduced *r = params;
    double p = head_for(r->n, r->u, x[0]);
    double q = 0.0;
    for (size_t i = 0; i < r->n->k; i++)
        q += branch_flow(r->n, r->u, i, p);
    dx[0] = (q - r->n->cv_tank * r->n->tank_valve * sqrt(fmax(x[0], 0.0))) /
            r->n->area;
    return GSL_SUCCESS;
}

/* ---- the network as a scenario ---------------------------------------- */

#define APPEND(...)                                                      \
    do {                                                                 \
        int w_ = snprintf(buf + len, size - len, __VA_ARGS__);           \
        assert_true(w_ >= 0 && (size_t)w_ < size - len);                 \
        len += (size_t)w_;                                               \
    } while (0)

/* The scenario document of n (the layout of examples/gen_flow_network.py,
 * with n's numbers). */
static void network_text(const network *n, char *buf, size_t size)
{
    size_t len = 0;
    APPEND("{\"time\": {\"stop\": %.17g, \"dt\": %.17g},"
           " \"solver\": {\"rtol\": %.17g, \"atol\": %.17g},"
           " \"instances\": {", n->stop, n->dt, n->rtol, n->atol);
    for (size_t i = 0; i < n->k; i++)
        APPEND("\"valve%zu\": {\"model\": \"valve\","
               " \"params\": {\"cv\": %.17g}}, ", i, n->cv[i]);
    APPEND("\"header0\": {\"model\": \"header\","
           " \"params\": {\"cv_out\": %.17g}},"
           " \"tank0\": {\"model\": \"tank\", \"params\": {\"area\": %.17g,"
           " \"cv\": %.17g}, \"start\": {\"h\": %.17g}}},"
           " \"connections\": [", n->cv_out, n->area, n->cv_tank, n->h0);
    for (size_t i = 0; i < n->k; i++)
        APPEND("{\"from\": \"valve%zu.q\", \"to\": \"header0.q%zu\"},"
               " {\"from\": \"header0.h\", \"to\": \"valve%zu.h_down\"}, ",
               i, i + 1, i);
    APPEND("{\"from\": \"header0.q_out\", \"to\": \"tank0.q_in\"},"
           " {\"from\": \"tank0.h\", \"to\": \"header0.h_out\"}],"
           " \"inputs\": {\"valve0.opening\": {\"steps\": [[0, %.17g],"
           " [%.17g, %.17g]]}, ", n->opening[0], n->step_t,
           n->step_opening);
    for (size_t i = 0; i < n->k; i++) {
        APPEND("\"valve%zu.h_up\": {\"value\": %.17g}, ", i, n->supply[i]);
        if (i > 0)
            APPEND("\"valve%zu.opening\": {\"value\": %.17g}, ", i,
                   n->opening[i]);
    }
    APPEND("\"header0.opening\": {\"value\": %.17g},"
           " \"tank0.valve\": {\"value\": %.17g}},"
           " \"outputs\": [\"valve*.q\", \"header0.*\", \"tank0.h\","
           " \"tank0.q_out\"]}", n->out_opening, n->tank_valve);
}

static scenario *compose(const network *n)
{
    char text[8192];
    network_text(n, text, sizeof text);
    return support__compose(text);
}

/* ---- the checks -------------------------------------------------------- */

static void run_ok(const scenario *sc, collected *c)
{
    support__run(sc, c);
    if (c->result != 0)
        fail_msg("the flow network's run failed");
}

/* Every row of a run of n: the loop's answer for the row's level, and
 * the level against the reduced ODE. */
static void check_rows(const network *n, const collected *c)
{
    size_t hc = support__col(c, "tank0.h"), pc = support__col(c, "header0.h");
    size_t qc = support__col(c, "header0.q_out");
    size_t oc = support__col(c, "tank0.q_out");
    size_t vc[MAX_K];
    char name[32];
    for (size_t i = 0; i < n->k; i++) {
        snprintf(name, sizeof name, "valve%zu.q", i);
        vc[i] = support__col(c, name);
    }
    assert_int_equal(c->n_rows, (size_t)lround(n->stop / n->dt) + 1);

    reduced r = {.n = n};
    gsl_odeiv2_system sys = {reduced_rhs, NULL, 1, &r};
    gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_y_new(
        &sys, gsl_odeiv2_step_rk8pd, 1e-3, 1e-13, 1e-13);
    assert_non_null(d);
    double t = 0.0, x = n->h0;
    for (size_t row = 0; row < c->n_rows; row++) {
        double tr = support__at(c, row, 0);
        if (tr > t) { /* the openings of [t, tr): held over the tick */
            openings_at(n, t, r.u);
            gsl_odeiv2_driver_reset(d);
            assert_int_equal(gsl_odeiv2_driver_apply(d, &t, tr, &x),
                             GSL_SUCCESS);
        }
        support__close("tank0.h", support__at(c, row, hc), x, 1e-6);

        /* The loop at the row's own level and openings. */
        double h = support__at(c, row, hc), u[MAX_K], total = 0.0;
        openings_at(n, tr, u);
        double p = head_for(n, u, h);
        support__close("header0.h", support__at(c, row, pc), p, 1e-9);
        for (size_t i = 0; i < n->k; i++) {
            double q = branch_flow(n, u, i, p);
            support__close("valve.q", support__at(c, row, vc[i]), q, 1e-11);
            total += q;
        }
        support__close("header0.q_out", support__at(c, row, qc), total,
                       1e-11);
        support__close("tank0.q_out", support__at(c, row, oc),
                       n->cv_tank * n->tank_valve * sqrt(h), 1e-12);
    }
    gsl_odeiv2_driver_free(d);
}

/* The shipped scenario: its loop, its step, its rows. */
static void test_flow_network__shipped(void **state)
{
    scenario *sc = support__compose_named("flow-network");
    collected c = {0};
    run_ok(sc, &c);
    assert_int_equal(c.stats.n_groups, 1);
    assert_int_equal(c.stats.loops, 1);
    assert_true(c.stats.loop_solves > c.n_rows); /* in the RHS too */
    check_rows(&shipped, &c);
    /* The step is seen: valve0's flow falls at t = 900 and the level
     * falls from near one steady state towards the other. */
    size_t v0 = support__col(&c, "valve0.q"), hc = support__col(&c, "tank0.h");
    assert_true(support__at(&c, 900, v0) < 0.5 * support__at(&c, 899, v0));
    double u[MAX_K];
    openings_at(&shipped, 0.0, u);
    double before = level_closed(&shipped, u);
    openings_at(&shipped, shipped.step_t, u);
    double after = level_closed(&shipped, u);
    assert_true(before - after > 0.4);
    assert_true(fabs(support__at(&c, 900, hc) - before) < 0.05);
    assert_true(fabs(support__at(&c, c.n_rows - 1, hc) - after) < 0.05);
    support__free(&c);
    scenario__free(&sc);
}

/* The same network written out by network_text gives the same rows as
 * the shipped file: the generated scenarios below are the shipped one's
 * kind. */
static void test_flow_network__text_is_shipped(void **state)
{
    scenario *named = support__compose_named("flow-network");
    scenario *made = compose(&shipped);
    collected a = {0}, b = {0};
    run_ok(named, &a);
    run_ok(made, &b);
    assert_int_equal(a.n_rows, b.n_rows);
    const char *cols[] = {"tank0.h", "header0.h", "valve2.q"};
    for (size_t k = 0; k < 3; k++) {
        size_t ca = support__col(&a, cols[k]), cb = support__col(&b, cols[k]);
        for (size_t r = 0; r < a.n_rows; r += 97)
            assert_true(support__at(&a, r, ca) == support__at(&b, r, cb));
    }
    support__free(&a);
    support__free(&b);
    scenario__free(&named);
    scenario__free(&made);
}

/* Eight branches, unequal supplies, a reversed branch. */
static void test_flow_network__eight_branches(void **state)
{
    scenario *sc = compose(&eight);
    collected c = {0};
    run_ok(sc, &c);
    check_rows(&eight, &c);
    size_t v4 = support__col(&c, "valve4.q");
    for (size_t r = 0; r < c.n_rows; r++)
        assert_true(support__at(&c, r, v4) < -1e-3); /* flows back */
    support__free(&c);
    scenario__free(&sc);
}

/* ---- steady states ----------------------------------------------------- */

/* The whole steady state with gsl_multiroot: unknowns (p, h), equations
 * inflow = outlet flow and inflow = tank outflow. */
static int steady_f(const gsl_vector *v, void *params, gsl_vector *f)
{
    const reduced *r = params;
    double p = gsl_vector_get(v, 0), h = gsl_vector_get(v, 1);
    double q = 0.0;
    for (size_t i = 0; i < r->n->k; i++)
        q += branch_flow(r->n, r->u, i, p);
    gsl_vector_set(f, 0, q - orifice(r->n->cv_out * r->n->out_opening,
                                     p - h));
    gsl_vector_set(f, 1, q - r->n->cv_tank * r->n->tank_valve *
                                 sqrt(fabs(h)));
    return GSL_SUCCESS;
}

static void steady_multiroot(const network *n, const double *u, double *p,
                             double *h)
{
    reduced r = {.n = n};
    memcpy(r.u, u, n->k * sizeof *u);
    gsl_multiroot_function F = {steady_f, 2, &r};
    gsl_vector *v = gsl_vector_alloc(2);
    gsl_vector_set(v, 0, 3.0);
    gsl_vector_set(v, 1, 2.0);
    gsl_multiroot_fsolver *s =
        gsl_multiroot_fsolver_alloc(gsl_multiroot_fsolver_hybrids, 2);
    assert_non_null(s);
    assert_int_equal(gsl_multiroot_fsolver_set(s, &F, v), GSL_SUCCESS);
    int status = GSL_CONTINUE;
    for (int it = 0; it < 1000 && status == GSL_CONTINUE; it++) {
        if (gsl_multiroot_fsolver_iterate(s) != GSL_SUCCESS)
            break;
        status = gsl_multiroot_test_residual(s->f, 1e-15);
    }
    assert_int_equal(status, GSL_SUCCESS);
    *p = gsl_vector_get(s->x, 0);
    *h = gsl_vector_get(s->x, 1);
    gsl_multiroot_fsolver_free(s);
    gsl_vector_free(v);
}

/* twinctl steady's answer for n with valve0 at opening u0, against the
 * closed form (one supply head) or gsl_multiroot. */
static void check_steady(const network *n, scenario *sc, double u0)
{
    json_t *held = json_pack("{s:f}", "valve0.opening", u0);
    twin_errors errs = {0};
    assert_int_equal(steady__hold_inputs(sc, held, "/inputs", &errs), 0);
    json_decref(held);
    steady_options opt;
    steady__defaults(&opt);
    opt.residual_tol = 1e-14; /* dh/dt; the level to about 1e-12 m */
    steady_result res = {0};
    if (steady__solve(sc, &opt, &res) != 0)
        fail_msg("no steady state: %s", res.message);

    double u[MAX_K], p, h;
    openings_at(n, 0.0, u);
    u[0] = u0;
    if (same_supply(n)) {
        h = level_closed(n, u);
        p = header_head_closed(n, u, h);
    } else {
        steady_multiroot(n, u, &p, &h);
    }
    support__close("steady tank0.h",
                   support__steady_state(sc, &res, "tank0", "h"), h, 1e-9);
    support__close("steady header0.h",
                   support__steady_output(sc, &res, "header0", "h"), p, 1e-9);
    char name[32];
    for (size_t i = 0; i < n->k; i++) {
        snprintf(name, sizeof name, "valve%zu", i);
        support__close("steady valve.q",
                       support__steady_output(sc, &res, name, "q"),
                       branch_flow(n, u, i, p), 1e-11);
    }
    steady__result_free(&res);
}

static void test_flow_network__steady(void **state)
{
    static const struct {
        const network *n;
        double u0;
    } cases[] = {
        {&shipped, 1.0}, {&shipped, 0.25}, {&eight, 1.0}, {&eight, 0.1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scenario *sc = cases[i].n == &shipped
                           ? support__compose_named("flow-network")
                           : compose(cases[i].n);
        check_steady(cases[i].n, sc, cases[i].u0);
        scenario__free(&sc);
    }
}

/* A header whose outlet is shut while liquid flows in has no head: the run
 * fails at its first evaluation, naming the header. */
static void test_flow_network__shut_outlet_fails(void **state)
{
    network n = shipped;
    n.out_opening = 0.0;
    scenario *sc = compose(&n);
    collected c = {0};
    support__run(sc, &c);
    assert_int_equal(c.result, TWIN_E_SOLVER_FAILURE);
    assert_int_equal(c.errs.count, 1);
    assert_non_null(strstr(c.errs.items[0].message, "'header0'"));
    assert_int_equal(c.n_rows, 0);
    support__free(&c);
    scenario__free(&sc);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_network__shipped),
        cmocka_unit_test(test_flow_network__text_is_shipped),
        cmocka_unit_test(test_flow_network__eight_branches),
        cmocka_unit_test(test_flow_network__steady),
        cmocka_unit_test(test_flow_network__shut_outlet_fails),
    };
    return cmocka_run_group_tests_name("flow_network", tests, NULL, NULL);
}
