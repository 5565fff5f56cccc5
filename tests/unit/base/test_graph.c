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

static void test_graph__scc(void **state)
{
    /* 0 → 1 → 2 → 0 feedthrough, 2 → 3 feedthrough, 3 → 4 → 3 with a
     * non-feedthrough edge (not a component), 5 → 5 a self loop, 6
     * excluded. */
    graph_edge e[] = {{0, 1, 1}, {1, 2, 1}, {2, 0, 1}, {2, 3, 1},
                      {3, 4, 1}, {4, 3, 0}, {5, 5, 1}, {6, 0, 1}};
    unsigned char include[7] = {1, 1, 1, 1, 1, 1, 0};
    size_t comp[7];
    size_t count = graph__scc(7, include, e, 8, comp);
    assert_int_equal(count, 4); /* {0,1,2}, {3}, {4}, {5} */
    assert_int_equal(comp[0], comp[1]);
    assert_int_equal(comp[1], comp[2]);
    assert_true(comp[3] != comp[4]);
    assert_true(comp[5] != comp[0]);
    assert_int_equal(comp[6], GRAPH_NONE);
    /* Feedthrough edges between components go from lower to higher. */
    for (size_t k = 0; k < 8; k++)
        if (e[k].feedthrough && include[e[k].from] && include[e[k].to] &&
            comp[e[k].from] != comp[e[k].to])
            assert_true(comp[e[k].from] < comp[e[k].to]);
}

/* Whether the untorn feedthrough edges among nodes with comp == c have a
 * cycle (by graph__scc itself on a copy without the torn edges). */
static int still_cyclic(size_t n, const size_t *comp, size_t c,
                        const graph_edge *e, size_t n_e,
                        const unsigned char *torn)
{
    graph_edge left[2 * MAXN];
    unsigned char member[MAXN];
    size_t sub[MAXN];
    for (size_t i = 0; i < n; i++)
        member[i] = comp[i] == c;
    for (size_t k = 0; k < n_e; k++) {
        left[k] = e[k];
        left[k].feedthrough = e[k].feedthrough && !torn[k];
        if (left[k].feedthrough && left[k].from == left[k].to &&
            member[left[k].from])
            return 1;
    }
    size_t members = 0;
    for (size_t i = 0; i < n; i++)
        members += member[i];
    return graph__scc(n, member, left, n_e, sub) != members;
}

static void test_graph__tear(void **state)
{
    static const struct {
        const char *name;
        size_t n;
        graph_edge e[2 * MAXN];
        size_t n_e;
        size_t want_torn;
    } cases[] = {
        {"pair", 2, {{0, 1, 1}, {1, 0, 1}}, 2, 1},
        {"self", 1, {{0, 0, 1}}, 1, 1},
        /* Two cycles through node 0 (0→1→0, 0→2→0): tearing into 0 would
         * take two edges, into 1 or 2 leaves the other cycle; the
         * heuristic takes one of 1, 2 first, then the other: 2 tears. */
        {"two through one", 3, {{0, 1, 1}, {1, 0, 1}, {0, 2, 1}, {2, 0, 1}},
         4, 2},
        /* A ring of five with a chord: one tear at the node the chord
         * does not enter breaks... both cycles only when it is on both;
         * 1 has one in-edge and two out-edges, and lies on both. */
        {"ring with chord", 5,
         {{0, 1, 1}, {1, 2, 1}, {2, 3, 1}, {3, 4, 1}, {4, 0, 1}, {1, 3, 1}},
         6, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char include[MAXN], torn[2 * MAXN] = {0};
        size_t comp[MAXN];
        memset(include, 1, sizeof include);
        size_t count = graph__scc(cases[c].n, include, cases[c].e,
                                  cases[c].n_e, comp);
        if (count != 1)
            fail_msg("%s: %zu components", cases[c].name, count);
        assert_true(still_cyclic(cases[c].n, comp, 0, cases[c].e,
                                 cases[c].n_e, torn));
        size_t n_torn = graph__tear(cases[c].n, comp, 0, cases[c].e,
                                    cases[c].n_e, torn);
        if (n_torn != cases[c].want_torn)
            fail_msg("%s: %zu torn, want %zu", cases[c].name, n_torn,
                     cases[c].want_torn);
        if (still_cyclic(cases[c].n, comp, 0, cases[c].e, cases[c].n_e,
                         torn))
            fail_msg("%s: a cycle is left after tearing", cases[c].name);
        size_t counted = 0;
        for (size_t k = 0; k < cases[c].n_e; k++)
            counted += torn[k];
        assert_int_equal(counted, n_torn);
    }
}

static void test_graph__plan(void **state)
{
    /* 4 → {0 ⇄ 1} → 2 → 3, with 3 → 4 not feedthrough (tank-farm like),
     * and 5 alone.  The loop comes whole, after 4, before 2. */
    graph_edge e[] = {{0, 1, 1}, {1, 0, 1}, {1, 2, 1}, {2, 3, 1},
                      {3, 4, 0}, {4, 0, 1}};
    unsigned char include[6] = {1, 1, 1, 1, 1, 1};
    unsigned char prefer[6] = {0, 0, 0, 0, 1, 0};
    graph_plan p;
    assert_int_equal(graph__plan(6, include, prefer, e, 6, &p), GRAPH_OK);
    assert_int_equal(p.n_order, 6);
    assert_int_equal(p.n_loops, 1);
    assert_int_equal(p.n_torn, 1);
    assert_int_equal(p.loop[0], 0);
    assert_int_equal(p.loop[1], 0);
    for (size_t i = 2; i < 6; i++)
        assert_int_equal(p.loop[i], GRAPH_NONE);
    size_t p0 = pos_of(p.order, 6, 0), p1 = pos_of(p.order, 6, 1);
    assert_int_equal(p0 > p1 ? p0 - p1 : p1 - p0, 1); /* contiguous */
    /* Every untorn feedthrough edge is respected. */
    for (size_t k = 0; k < 6; k++)
        if (e[k].feedthrough && !p.torn[k] &&
            pos_of(p.order, 6, e[k].from) > pos_of(p.order, 6, e[k].to))
            fail_msg("edge %zu→%zu out of order", e[k].from, e[k].to);
    /* The torn edge is one of the loop's, and the cycle 3 → 4 was broken
     * at the non-feedthrough edge with 3 evaluated first. */
    assert_true(p.torn[0] || p.torn[1]);
    assert_int_equal(p.torn[0] + p.torn[1] + p.torn[2] + p.torn[3] +
                         p.torn[4] + p.torn[5], 1);
    assert_int_equal(p.pre[3], 1);
    graph__plan_free(&p);

    /* Without loops the plan is graph__order's order. */
    graph_edge chain[] = {{2, 1, 1}, {1, 0, 1}};
    assert_int_equal(graph__plan(3, include, NULL, chain, 2, &p), GRAPH_OK);
    assert_int_equal(p.n_loops, 0);
    assert_int_equal(p.order[0], 2);
    assert_int_equal(p.order[1], 1);
    assert_int_equal(p.order[2], 0);
    graph__plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph__orders),
        cmocka_unit_test(test_graph__algebraic_loop),
        cmocka_unit_test(test_graph__components),
        cmocka_unit_test(test_graph__scc),
        cmocka_unit_test(test_graph__tear),
        cmocka_unit_test(test_graph__plan),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
