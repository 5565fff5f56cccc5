/*
 * test_tick.c — the flattened tick (controller/sim/tick.c) with the
 * reference plugins and real CVODE:
 *   - a run through the flat tick gives the rows of the general
 *     evaluation bit for bit (tank-farm-3 with inputs of steps between
 *     and on ticks, a table, a constant; pumps evaluated ahead of their
 *     turn and, once their command settles, not again in it; states and
 *     inputs among the columns), stacked and separate;
 *   - the inputs looked up only when a step or constant profile's span is
 *     left carry, at every tick, the value written out here from the
 *     steps' definition.
 */
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

typedef struct rows {
    double *v;
    size_t n, cols, cap;
} rows;

static int keep_row(void *ctx, const double *values, size_t n)
{
    rows *r = ctx;
    if (r->n * n + n > r->cap) {
        r->cap = 2 * (r->n * n + n);
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    memcpy(r->v + r->n * n, values, n * sizeof *values);
    r->cols = n;
    r->n++;
    return 0;
}

/* Run sc; flat: through the flat tick, else with it taken away. */
static void run(const scenario *sc, int flat, rows *out)
{
    twin_errors errs = {0};
    sim_callbacks cb = {.ctx = out, .row = keep_row};
    sim *s = sim__new(sc, NULL, &cb, &errs);
    assert_non_null(s);
    assert_non_null(s->tick_plan);
    if (!flat)
        tick__free(&s->tick_plan);
    assert_int_equal(sim__run(s, NULL, &errs), 0);
    sim__free(&s);
}

#define FARM \
    "{\"time\": {\"start\": 0, \"stop\": 40, \"dt\": 1}," \
    " \"solver\": {\"method\": \"bdf\", \"rtol\": 1e-08, \"atol\": 1e-10}," \
    " %s" \
    " \"instances\": {" \
    "  \"pump0\": {\"model\": \"pump\"}, \"tank0\": {\"model\": \"tank\"}," \
    "  \"pi0\": {\"model\": \"pi\", \"params\": {\"sp\": 2.0}}," \
    "  \"pump1\": {\"model\": \"pump\"}, \"tank1\": {\"model\": \"tank\"}," \
    "  \"pi1\": {\"model\": \"pi\", \"params\": {\"sp\": 1.5}}," \
    "  \"pump2\": {\"model\": \"pump\"}, \"tank2\": {\"model\": \"tank\"}," \
    "  \"pi2\": {\"model\": \"pi\", \"params\": {\"sp\": 1.2}}}," \
    " \"connections\": [" \
    "  {\"from\": \"pump0.q\", \"to\": \"tank0.q_in\"}," \
    "  {\"from\": \"tank0.h\", \"to\": \"pi0.pv\"}," \
    "  {\"from\": \"pi0.out\", \"to\": \"pump0.cmd\"}," \
    "  {\"from\": \"pump1.q\", \"to\": \"tank1.q_in\"}," \
    "  {\"from\": \"tank1.h\", \"to\": \"pi1.pv\"}," \
    "  {\"from\": \"pi1.out\", \"to\": \"pump1.cmd\"}," \
    "  {\"from\": \"pump2.q\", \"to\": \"tank2.q_in\"}," \
    "  {\"from\": \"tank2.h\", \"to\": \"pi2.pv\"}," \
    "  {\"from\": \"pi2.out\", \"to\": \"pump2.cmd\"}]," \
    " \"inputs\": {" \
    "  \"tank0.valve\": {\"steps\": [[2, 0.6], [5, 0.7], [5.5, 0.9]," \
    "                               [9, 0.4], [30, 1]]}," \
    "  \"tank1.valve\": {\"table\": [[0, 0.2], [20, 0.9], [40, 0.5]]}," \
    "  \"tank2.valve\": {\"value\": 0.3}}," \
    " \"outputs\": [\"tank0.h\", \"tank0.q_out\", \"tank0.valve\"," \
    "  \"pump0.w\", \"pump0.power\", \"pump0.cmd\", \"pi0.out\"," \
    "  \"tank1.h\", \"tank1.valve\", \"pump1.power\", \"pi1.out\"," \
    "  \"tank2.h\", \"tank2.valve\", \"pump2.w\", \"pi2.out\"]}"

/* The steps of tank0.valve above, by their definition: each value from
 * its time on, the first one before. */
static double valve0(double t)
{
    static const double at[] = {2, 5, 5.5, 9, 30};
    static const double v[] = {0.6, 0.7, 0.9, 0.4, 1};
    double value = v[0];
    for (size_t i = 0; i < 5; i++)
        if (t >= at[i])
            value = v[i];
    return value;
}

static void test_tick__flat_as_general(void **state)
{
    static const char *integrators[] = {"\"integrators\": \"stacked\",",
                                        "\"integrators\": \"separate\","};
    for (size_t k = 0; k < 2; k++) {
        char text[4096];
        snprintf(text, sizeof text, FARM, integrators[k]);
        scenario *sc = support__compose(text);
        rows flat = {0}, general = {0};
        run(sc, 1, &flat);
        run(sc, 0, &general);
        assert_int_equal(flat.n, 41);
        assert_int_equal(general.n, flat.n);
        assert_int_equal(flat.cols, 16);
        assert_memory_equal(flat.v, general.v,
                            flat.n * flat.cols * sizeof *flat.v);
        for (size_t r = 0; r < flat.n; r++) {
            const double *row = flat.v + r * flat.cols;
            assert_true(row[3] == valve0(row[0]));   /* tank0.valve */
            assert_true(row[13] == 0.3);             /* tank2.valve */
        }
        free(flat.v);
        free(general.v);
        scenario__free(&sc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tick__flat_as_general),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
