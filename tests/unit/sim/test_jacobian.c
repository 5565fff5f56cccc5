/*
 * test_jacobian.c — the structure of a group's Jacobian, the linear
 * solvers (dense, band, KLU with coloured difference quotients) and the
 * stacking of groups (controller/sim/jacobian.c, sim.c), with real
 * plugins and real CVODE:
 *   - a chain of first-order lags (the reference pump, w → next cmd)
 *     under each solver, forced and chosen, against the closed form (the
 *     k-th lag of a unit step is the Erlang distribution's CDF), 1e-7;
 *   - the pattern of two ABI 1.2 `sparse` instances against the one
 *     written out here from their declarations, and of the undeclared
 *     `sparse_dense` (each block dense);
 *   - stacked and separate groups against the closed form, and what is
 *     reported; the flat right-hand side, root function and
 *     inputs-only pass (rhs.c) against the general evaluation, bit for
 *     bit; the check for non-finite derivatives; the scenario members'
 *     refusals.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_internal.h"
#include "support.h"

static model_lib plugins;

static int setup(void **state)
{
    return modlib__load_dir(&plugins, getenv("TWIN_TEST_PLUGIN_DIR"), NULL,
                            NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    modlib__free(&plugins);
    return 0;
}

/* P(k+1, s): the k-th of a chain of unit lags after a unit step at 0
 * from rest, s = t/tau. */
static double erlang_cdf(size_t k, double s)
{
    double term = 1.0, sum = 1.0;
    for (size_t j = 1; j <= k; j++) {
        term *= s / (double)j;
        sum += term;
    }
    return 1.0 - exp(-s) * sum;
}

/* A scenario of `chains` chains of n pumps each (tau of chain c:
 * 1 + c), pump c_i.w → c_{i+1}.cmd, the first cmd 1; extra: more
 * top-level members ("" for none). */
static char *lag_chains(size_t chains, size_t n, const char *extra)
{
    size_t cap = 256 + chains * n * 256 + strlen(extra);
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "{\"time\": {\"stop\": 8, \"dt\": 0.5}, %s"
                 " \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},"
                 " \"instances\": {", extra);
    for (size_t c = 0; c < chains; c++)
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s\"c%zu_%zu\": {\"model\": \"pump\", "
                         "\"params\": {\"tau\": %zu}}",
                         c || i ? ", " : "", c, i, 1 + c);
    p += sprintf(p, "}, \"connections\": [");
    for (size_t c = 0; c < chains; c++)
        for (size_t i = 0; i + 1 < n; i++)
            p += sprintf(p, "%s{\"from\": \"c%zu_%zu.w\", \"to\": "
                         "\"c%zu_%zu.cmd\"}", c || i ? ", " : "", c, i, c,
                         i + 1);
    p += sprintf(p, "], \"inputs\": {");
    for (size_t c = 0; c < chains; c++)
        p += sprintf(p, "%s\"c%zu_0.cmd\": {\"value\": 1}", c ? ", " : "",
                     c);
    p += sprintf(p, "}, \"outputs\": [");
    for (size_t c = 0; c < chains; c++)
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s\"c%zu_%zu.w\"", c || i ? ", " : "", c, i);
    sprintf(p, "]}");
    return s;
}

static void check_chains(const collected *c, size_t chains, size_t n)
{
    char name[64];
    for (size_t k = 0; k < chains; k++)
        for (size_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "c%zu_%zu.w", k, i);
            size_t col = support__col(c, name);
            for (size_t r = 0; r < c->n_rows; r++) {
                double t = support__at(c, r, 0);
                support__close(name, support__at(c, r, col),
                               erlang_cdf(i, t / (double)(1 + k)), 1e-7);
            }
        }
}

static void run_chains(size_t chains, size_t n, const char *extra,
                       collected *out)
{
    char *text = lag_chains(chains, n, extra);
    scenario *sc = support__compose(text);
    support__run(sc, out);
    if (out->result != 0) {
        errors__print(&out->errs, "run: ", stderr);
        fail_msg("the run failed: %s", extra);
    }
    scenario__free(&sc);
    free(text);
}

/* 40 lags in one group under each solver; auto takes band (the chain is
 * lower bidiagonal: 79 nonzeros, bandwidths 0 and 1). */
static void test_jacobian__chain_each_solver(void **state)
{
    static const struct {
        const char *member;
        jac_kind want;
    } cases[] = {
        {"", JAC_BAND},
        {"\"linear_solver\": \"auto\",", JAC_BAND},
        {"\"linear_solver\": \"dense\",", JAC_DENSE},
        {"\"linear_solver\": \"band\",", JAC_BAND},
        {"\"linear_solver\": \"klu\",", JAC_KLU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        collected c = {0};
        run_chains(1, 40, cases[i].member, &c);
        assert_int_equal(c.n_rows, 17);
        assert_int_equal(c.stats.n_groups, 1);
        assert_int_equal(c.stats.n_states, 40);
        for (int k = 0; k < 3; k++)
            assert_int_equal(c.stats.linear_solvers[k],
                             k == (int)cases[i].want);
        assert_false(c.stats.stacked);
        check_chains(&c, 1, 40);
        support__free(&c);
    }
}

/* The state of group g at index i as "instance.state". */
static void state_name(const group *g, size_t i, char *buf, size_t len)
{
    for (size_t k = 0; k < g->n_nodes; k++) {
        const node *n = g->nodes[k];
        if (i >= n->x_off && i < n->x_off + n->si->model->n_state) {
            snprintf(buf, len, "%s.%s", n->si->name,
                     n->si->model->state[i - n->x_off]->name);
            return;
        }
    }
    fail_msg("no state %zu in the group", i);
}

/* Whether the pattern has the entry d(row)/d(col), by names. */
static int has(const group *g, const char *row, const char *col)
{
    char r[64], c[64];
    const jac_pattern *p = &g->pattern;
    for (size_t j = 0; j < p->n; j++) {
        state_name(g, j, c, sizeof c);
        if (strcmp(c, col) != 0)
            continue;
        for (sunindextype k = p->colptr[j]; k < p->colptr[j + 1]; k++) {
            state_name(g, (size_t)p->rowval[k], r, sizeof r);
            if (strcmp(r, row) == 0)
                return 1;
        }
    }
    return 0;
}

/* P.a → Q.u (a state), Q.s → P.v (an output declared on Q.a only).
 * Declared: a' on a, u; b' on b, v; s on a.  So:
 *   P.a' on P.a;  P.b' on P.b, Q.a (through Q.s);
 *   Q.a' on Q.a, P.a;  Q.b' on Q.b.
 * Undeclared: each derivative on both states and both inputs' sources:
 *   P.a', P.b' on P.a, P.b, Q.a, Q.b (Q.s on Q.a and Q.b);
 *   Q.a', Q.b' on Q.a, Q.b, P.a. */
static void test_jacobian__declared_pattern(void **state)
{
    static const char *const names[] = {"P.a", "P.b", "Q.a", "Q.b"};
    static const int declared[4][4] = {
        {1, 0, 0, 0}, {0, 1, 1, 0}, {1, 0, 1, 0}, {0, 0, 0, 1}};
    static const int dense[4][4] = {
        {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 0, 1, 1}, {1, 0, 1, 1}};
    for (int undeclared = 0; undeclared < 2; undeclared++) {
        char text[1024];
        const char *model = undeclared ? "sparse_dense" : "sparse";
        snprintf(text, sizeof text,
                 "{\"time\": {\"stop\": 1, \"dt\": 0.5},"
                 " \"instances\": {\"P\": {\"model\": \"%s\"},"
                 "                 \"Q\": {\"model\": \"%s\"}},"
                 " \"connections\": [{\"from\": \"P.a\", \"to\": \"Q.u\"},"
                 "                   {\"from\": \"Q.s\", \"to\": \"P.v\"}],"
                 " \"outputs\": [\"P.a\"]}", model, model);
        twin_errors errs = {0};
        scenario *sc = support__compose_in(&plugins, text, &errs);
        assert_non_null(sc);
        sim_callbacks cb = {0};
        sim *s = sim__new(sc, NULL, &cb, &errs);
        assert_non_null(s);
        assert_int_equal(s->n_groups, 1);
        const group *g = &s->groups[0];
        const int (*want)[4] = undeclared ? dense : declared;
        size_t nnz = 0;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) {
                nnz += (size_t)want[r][c];
                if (has(g, names[r], names[c]) != want[r][c])
                    fail_msg("%s: d%s'/d%s is%s in the pattern", model,
                             names[r], names[c],
                             want[r][c] ? " not" : "");
            }
        assert_int_equal(g->pattern.nnz, nnz);
        sim__free(&s);
        scenario__free(&sc);
        errors__clear(&errs);
    }
}

/* The same lag chain, KLU with coloured difference quotients: a lower
 * bidiagonal pattern needs two colours whatever its length, so the
 * Jacobian costs two right-hand sides, not 40. */
static void test_jacobian__colours(void **state)
{
    char *text = lag_chains(1, 40, "\"linear_solver\": \"klu\",");
    scenario *sc = support__compose(text);
    twin_errors errs = {0};
    sim_callbacks cb = {0};
    sim *s = sim__new(sc, NULL, &cb, &errs);
    assert_non_null(s);
    const jac_pattern *p = &s->groups[0].pattern;
    assert_int_equal(p->nnz, 79);
    assert_int_equal(p->ml, 1);
    assert_int_equal(p->mu, 0);
    assert_int_equal(p->n_colours, 2);
    /* No two columns of one colour share a row. */
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = i + 1; j < p->n; j++) {
            if (p->colour[i] != p->colour[j])
                continue;
            for (sunindextype a = p->colptr[i]; a < p->colptr[i + 1]; a++)
                for (sunindextype b = p->colptr[j]; b < p->colptr[j + 1];
                     b++)
                    assert_true(p->rowval[a] != p->rowval[b]);
        }
    sim__free(&s);
    scenario__free(&sc);
    free(text);
}

/* Three chains of 5 lags with different time constants: stacked (auto:
 * three groups of 5 states) into one banded integrator, or separate. */
static void test_jacobian__stacked(void **state)
{
    collected c = {0};
    run_chains(3, 5, "", &c);
    assert_true(c.stats.stacked);
    assert_int_equal(c.stats.n_groups, 1);
    assert_int_equal(c.stats.linear_solvers[JAC_BAND], 1);
    check_chains(&c, 3, 5);
    support__free(&c);

    collected d = {0};
    run_chains(3, 5, "\"integrators\": \"separate\",", &d);
    assert_false(d.stats.stacked);
    assert_int_equal(d.stats.n_groups, 3);
    assert_int_equal(d.stats.linear_solvers[JAC_DENSE], 3);
    check_chains(&d, 3, 5);
    support__free(&d);

    /* Forced stacked with KLU: one integrator, block diagonal. */
    collected e = {0};
    run_chains(3, 5, "\"integrators\": \"stacked\", \"linear_solver\": "
               "\"klu\",", &e);
    assert_true(e.stats.stacked);
    assert_int_equal(e.stats.linear_solvers[JAC_KLU], 1);
    check_chains(&e, 3, 5);
    support__free(&e);

    /* One group: nothing to stack, whatever the scenario says. */
    collected f = {0};
    run_chains(1, 5, "\"integrators\": \"stacked\",", &f);
    assert_false(f.stats.stacked);
    support__free(&f);
}

/* Groups above 32 states stay separate unless told. */
static void test_jacobian__large_groups_separate(void **state)
{
    collected c = {0};
    run_chains(2, 33, "", &c);
    assert_false(c.stats.stacked);
    assert_int_equal(c.stats.n_groups, 2);
    check_chains(&c, 2, 33);
    support__free(&c);
}

/* The flat right-hand side (rhs.c) gives what the general evaluation
 * gives, bit for bit: tank-farm-3 stacked (pumps feeding tanks through
 * outputs, states read across), at a few state vectors, derivatives and
 * every input and output; and it is not taken for a group with an
 * algebraic loop inside. */
static void test_jacobian__flat_rhs(void **state)
{
    scenario *sc = support__compose_named("tank-farm-3");
    twin_errors errs = {0};
    sim_callbacks cb = {0};
    sim *s = sim__new(sc, NULL, &cb, &errs);
    assert_non_null(s);
    assert_int_equal(s->n_groups, 1);
    group *g = &s->groups[0];
    assert_non_null(g->plan);
    size_t n = g->n_x;
    double x[64], flat[64], general[64];
    assert_true(n <= 64);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++)
            x[i] = 0.1 + 0.37 * (double)i + 0.5 * round;
        assert_int_equal(sim__group_derivs(g, 10.0 * round, x, flat), 0);
        double u_flat[64], y_flat[64];
        size_t nu = 0, ny = 0;
        for (size_t k = 0; k < g->n_nodes; k++) {
            const node *nd = g->nodes[k];
            for (size_t j = 0; j < nd->si->model->n_input; j++)
                u_flat[nu++] = nd->u[j];
            for (size_t j = 0; j < nd->si->model->n_output; j++)
                y_flat[ny++] = nd->y[j];
        }
        struct rhs_plan *keep = g->plan;
        g->plan = NULL;
        g->bound = NULL;
        assert_int_equal(sim__group_derivs(g, 10.0 * round, x, general), 0);
        g->plan = keep;
        assert_memory_equal(flat, general, n * sizeof *flat);
        /* The event indicators (CVODE's root function) likewise, the
         * flat pass first: every tank's h - height. */
        N_Vector v = N_VMake_Serial((sunindextype)n, x, s->ctx);
        double g_flat[16], g_general[16];
        assert_true(g->n_g == 3);
        g->plan = keep;
        assert_int_equal(sim__group_roots(0.5 * round, v, g_flat, g), 0);
        g->plan = NULL;
        assert_int_equal(sim__group_roots(0.5 * round, v, g_general, g), 0);
        g->plan = keep;
        N_VDestroy(v);
        assert_memory_equal(g_flat, g_general, g->n_g * sizeof *g_flat);
        for (size_t k = 0, i = 0; k < g->n_nodes; k++)
            if (g->nodes[k]->n_g > 0) /* independently: h - 4 */
                assert_true(g_flat[i++] ==
                            x[g->nodes[k]->x_off] - 4.0);
        nu = ny = 0;
        for (size_t k = 0; k < g->n_nodes; k++) {
            const node *nd = g->nodes[k];
            for (size_t j = 0; j < nd->si->model->n_input; j++)
                assert_true(u_flat[nu++] == nd->u[j]);
            for (size_t j = 0; j < nd->si->model->n_output; j++)
                assert_true(y_flat[ny++] == nd->y[j]);
        }
        /* Inputs only (sim__group_eval, for the event handlers): the
         * same inputs and outputs from inputs spoilt first, and the
         * nodes bound to the vector given (their x read after). */
        double x2[64];
        for (size_t i = 0; i < n; i++)
            x2[i] = 2.0 - 0.11 * (double)i - 0.25 * round;
        double seen[2][128];
        for (int way = 0; way < 2; way++) {
            g->plan = way == 0 ? keep : NULL;
            g->bound = NULL;
            for (size_t k = 0; k < g->n_nodes; k++)
                for (size_t l = 0; l < g->nodes[k]->n_intra; l++)
                    g->nodes[k]->u[g->nodes[k]->intra[l].dst] = NAN;
            assert_int_equal(sim__group_eval(g, 3.0 * round, x2), 0);
            size_t m = 0;
            for (size_t k = 0; k < g->n_nodes; k++) {
                const node *nd = g->nodes[k];
                assert_ptr_equal(nd->x, x2 + nd->x_off);
                for (size_t j = 0; j < nd->si->model->n_input; j++)
                    seen[way][m++] = nd->u[j];
                for (size_t j = 0; j < nd->si->model->n_output; j++)
                    seen[way][m++] = nd->y[j];
            }
            assert_true(m <= 128);
            if (way == 1)
                assert_memory_equal(seen[0], seen[1], m * sizeof(double));
        }
        g->plan = keep;
        g->bound = NULL;
    }
    sim__free(&s);
    scenario__free(&sc);

    /* A loop inside the group: the general evaluation. */
    sc = support__compose_in(&plugins,
        "{\"time\": {\"stop\": 1, \"dt\": 1},"
        " \"instances\": {\"P\": {\"model\": \"loopy_state\"},"
        "                 \"S\": {\"model\": \"loopy\"}},"
        " \"connections\": [{\"from\": \"P.y\", \"to\": \"S.u\"},"
        "                   {\"from\": \"S.y\", \"to\": \"P.u\"}]}", &errs);
    assert_non_null(sc);
    s = sim__new(sc, NULL, &cb, &errs);
    assert_non_null(s);
    assert_int_equal(s->n_groups, 1);
    assert_null(s->groups[0].plan);
    sim__free(&s);
    scenario__free(&sc);
    errors__clear(&errs);
}

/* sim__check_finite: 0 for any vector of finite doubles (the largest,
 * the smallest subnormal, both zeros), -1 naming the first non-finite
 * entry's state for NaN, +inf and -inf wherever they are. */
static void test_jacobian__check_finite(void **state)
{
    scenario *sc = support__compose_named("tank-farm-3");
    twin_errors errs = {0};
    sim_callbacks cb = {0};
    sim *s = sim__new(sc, NULL, &cb, &errs);
    assert_non_null(s);
    group *g = &s->groups[0];
    assert_int_equal(g->n_x, 6);
    const double finite[] = {DBL_MAX, -DBL_MAX, 4.9e-324, -0.0, 0.0, 1.0};
    assert_int_equal(sim__check_finite(g, finite, 0.0), 0);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 3; b++)
        for (size_t at = 0; at < g->n_x; at++) {
            double dx[6];
            memcpy(dx, finite, sizeof dx);
            dx[at] = bad[b];
            s->fail[0] = '\0';
            assert_int_equal(sim__check_finite(g, dx, 2.0), -1);
            const node *n = NULL;
            for (size_t k = 0; k < g->n_nodes; k++)
                if (g->nodes[k]->x_off == at &&
                    g->nodes[k]->si->model->n_state > 0)
                    n = g->nodes[k];
            assert_non_null(n);
            char want[256];
            snprintf(want, sizeof want, "(instance '%s') returned a "
                     "non-finite derivative", n->si->name);
            if (strstr(s->fail, want) == NULL ||
                strstr(s->fail, n->si->model->state[0]->name) == NULL)
                fail_msg("'%s' does not say '%s'", s->fail, want);
        }
    sim__free(&s);
    scenario__free(&sc);
}

static void test_jacobian__refusals(void **state)
{
    static const struct {
        const char *member, *code, *path, *says;
    } cases[] = {
        {"\"linear_solver\": \"sparse\",", "out_of_range", "/linear_solver",
         "not \"sparse\""},
        {"\"linear_solver\": 2,", "wrong_type", "/linear_solver",
         "\"dense\", \"band\" or \"klu\", not"},
        {"\"integrators\": \"one\",", "out_of_range", "/integrators",
         "\"separate\" (one integrator each) or \"stacked\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = lag_chains(1, 2, cases[i].member);
        twin_errors errs = {0};
        scenario *sc = support__compose_in(support__models(), text, &errs);
        assert_null(sc);
        assert_int_equal(errs.count, 1);
        assert_string_equal(errors__code_name(errs.items[0].code),
                            cases[i].code);
        assert_string_equal(errs.items[0].path, cases[i].path);
        if (strstr(errs.items[0].message, cases[i].says) == NULL)
            fail_msg("'%s' does not say '%s'", errs.items[0].message,
                     cases[i].says);
        errors__clear(&errs);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobian__chain_each_solver),
        cmocka_unit_test(test_jacobian__declared_pattern),
        cmocka_unit_test(test_jacobian__colours),
        cmocka_unit_test(test_jacobian__stacked),
        cmocka_unit_test(test_jacobian__large_groups_separate),
        cmocka_unit_test(test_jacobian__flat_rhs),
        cmocka_unit_test(test_jacobian__check_finite),
        cmocka_unit_test(test_jacobian__refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
