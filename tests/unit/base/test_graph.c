/*
 * test_graph.c — evaluation order, cycle breaking, algebraic loops and
 * integration groups, on small graphs given as tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"

#define MAXN 8

/* Position of node i in order (n entries). */
static size_t pos_of(const size_t *order, size_t n, size_t node)
{
    for (size_t k = 0; k < n; k++)
        if (order[k] == node)
            return k;
    fail_msg("node %zu missing from the order", node);
    return 0;
}

static void test_graph__orders(void **state)
{
    static const struct {
        const char *name;
        size_t n;
        graph_edge e[MAXN];
        size_t n_e;
        unsigned char prefer[MAXN];
        unsigned char want_pre[MAXN];
    } cases[] = {
        /* A chain in reverse index order must be reordered. */
        {"chain", 3, {{2, 1, 1}, {1, 0, 1}}, 2, {0}, {0}},
        /* tank(0) → pi(1) → pump(2) → tank(0): the loop of tank-farm.
         * Only pi.out is feedthrough; continuous 0 and 2 preferred. */
        {"tank-farm chain", 3, {{0, 1, 0}, {1, 2, 1}, {2, 0, 0}}, 3,
         {1, 0, 1}, {0, 0, 1}},
        /* Two independent pairs. */
        {"two pairs", 4, {{1, 0, 1}, {3, 2, 0}}, 2, {0}, {0}},
        /* Self-loop through a state. */
        {"self", 1, {{0, 0, 0}}, 1, {0}, {1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char include[MAXN], pre[MAXN];
        size_t order[MAXN], n_order = 0, cycle[MAXN], n_cycle = 0;
        memset(include, 1, sizeof include);
        int rc = graph__order(cases[c].n, include, cases[c].prefer,
                              cases[c].e, cases[c].n_e, order, &n_order, pre,
                              cycle, &n_cycle);
        if (rc != GRAPH_OK)
            fail_msg("%s: rc %d", cases[c].name, rc);
        assert_int_equal(n_order, cases[c].n);
        /* Every feedthrough edge is respected, and every edge whose
         * source is not pre-evaluated. */
        for (size_t k = 0; k < cases[c].n_e; k++) {
            const graph_edge *e = &cases[c].e[k];
            if (e->from == e->to)
                continue;
            if ((e->feedthrough || !pre[e->from]) &&
                pos_of(order, n_order, e->from) >
                    pos_of(order, n_order, e->to))
                fail_msg("%s: edge %zu→%zu out of order", cases[c].name,
                         e->from, e->to);
        }
        for (size_t i = 0; i < cases[c].n; i++)
            if (pre[i] != cases[c].want_pre[i])
                fail_msg("%s: pre[%zu] is %d", cases[c].name, i, pre[i]);
    }
}

static void test_graph__algebraic_loop(void **state)
{
    /* 0 → 1 → 2 → 0 all feedthrough, plus a tail 3 → 0. */
    graph_edge e[] = {{3, 0, 1}, {0, 1, 1}, {1, 2, 1}, {2, 0, 1}};
    unsigned char include[4] = {1, 1, 1, 1}, pre[4];
    size_t order[4], n_order = 0, cycle[4], n_cycle = 0;
    assert_int_equal(graph__order(4, include, NULL, e, 4, order, &n_order,
                                  pre, cycle, &n_cycle),
                     GRAPH_LOOP);
    assert_int_equal(n_cycle, 3);
    /* The cycle's edges follow each other. */
    for (size_t k = 0; k < n_cycle; k++) {
        assert_true(cycle[k] >= 1);
        assert_int_equal(e[cycle[k]].to, e[cycle[(k + 1) % n_cycle]].from);
    }
    /* Excluding node 2 removes the loop. */
    include[2] = 0;
    assert_int_equal(graph__order(4, include, NULL, e, 4, order, &n_order,
                                  pre, cycle, &n_cycle),
                     GRAPH_OK);
    assert_int_equal(n_order, 3);
}

static void test_graph__components(void **state)
{
    /* 0-1 joined, 2 alone, 3-4 joined through 5 (excluded). */
    graph_edge e[] = {{1, 0, 0}, {3, 5, 0}, {5, 4, 0}, {4, 3, 1}};
    unsigned char include[6] = {1, 1, 1, 1, 1, 0};
    size_t comp[6];
    assert_int_equal(graph__components(6, include, e, 4, comp), 3);
    assert_int_equal(comp[0], 0);
    assert_int_equal(comp[1], 0);
    assert_int_equal(comp[2], 1);
    assert_int_equal(comp[3], 2);
    assert_int_equal(comp[4], 2);
    assert_int_equal(comp[5], (size_t)-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph__orders),
        cmocka_unit_test(test_graph__algebraic_loop),
        cmocka_unit_test(test_graph__components),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
