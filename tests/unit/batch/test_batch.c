/*
 * test_batch.c — batch documents (batch_doc.c) and Monte Carlo draws
 * (batch_draw.c), against the real model library.
 *
 * Expansion: a grid's size, values and order, a list, the product of the
 * parts, each case's scenario.  Monte Carlo: the same seed gives the same
 * bits, another seed other ones, a case's values do not depend on the
 * order they are asked for or on what the batch holds after them; the
 * generator and the stream seeds against published reference values.
 * Distributions: the sample mean and variance of a large draw against the
 * closed forms, within five standard errors.  Document errors: the cases
 * of tests/cases/batch/ (batch.json, expected.json with the exact list of
 * codes and paths, as tests/cases/compose/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>

#include "batch_doc.h"
#include "support.h"
#include "util.h"

static batch_env env_of(size_t max_cases)
{
    return (batch_env){.models = support__models(),
                       .instances = support__instances(),
                       .scenario_dir = support__scenario_dir(),
                       .max_cases = max_cases};
}

/* Load a batch from text, or fail the test with its problems. */
static batch *load_text(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (doc == NULL)
        fail_msg("bad test JSON, line %d: %s", jerr.line, jerr.text);
    twin_errors errs = {0};
    batch_env env = env_of(0);
    batch *b = batch__load(doc, &env, &errs);
    if (b == NULL) {
        errors__print(&errs, "  ", stderr);
        fail_msg("the batch was refused");
    }
    errors__clear(&errs);
    json_decref(doc);
    return b;
}

#define BASE                                                              \
    "\"scenario\": {\"time\": {\"stop\": 10, \"dt\": 1},"                 \
    " \"instances\": {\"tank0\": {\"model\": \"tank\"},"                  \
    "                 \"pi0\": {\"model\": \"pi\"}},"                      \
    " \"inputs\": {\"tank0.valve\": {\"steps\": [[0, 0.5], [4, 0.8]]}}}"

/* A 3 × 3 grid: 9 cases, the last factor turning fastest, the range's
 * ends exact, and each case's scenario holding its values. */
static void test_batch__grid(void **state)
{
    (void)state;
    batch *b = load_text(
        "{\"contract\": \"twin.batch/1\", \"name\": \"g\", " BASE ","
        " \"variations\": {\"grid\": ["
        "   {\"param\": \"tank0.area\", \"values\": [1, 2.5, 4]},"
        "   {\"start\": \"tank0.h\", \"range\": {\"from\": 0.1, \"to\": 0.3,"
        "                                        \"steps\": 2}}]}}");
    assert_int_equal(b->n_cases, 9);
    assert_int_equal(b->n_f, 2);
    assert_string_equal(b->f[0].name, "tank0.area");
    assert_string_equal(b->f[1].name, "tank0.h.start");
    const double area[] = {1, 2.5, 4}, h[] = {0.1, 0.2, 0.3};
    char ids[9][40];
    for (size_t i = 0; i < 9; i++) {
        double v[BATCH_MAX_FACTORS];
        batch__case_values(b, i, v);
        assert_true(v[0] == area[i / 3]);
        /* from + (to − from)·k/steps, and exactly "to" at the end */
        assert_float_equal(v[1], h[i % 3], 1e-15);
        if (i % 3 == 2)
            assert_true(v[1] == 0.3);
        batch__case_id(b, i, v, ids[i], sizeof ids[i]);
        char prefix[8];
        snprintf(prefix, sizeof prefix, "%04zu-", i);
        assert_int_equal(strncmp(ids[i], prefix, 5), 0);
        assert_int_equal(strlen(ids[i]), 13);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);

        json_t *sc = batch__case_scenario(b, v, ids[i]);
        json_t *inst = json_object_get(sc, "instances");
        assert_true(json_number_value(json_object_get(json_object_get(
            json_object_get(inst, "tank0"), "params"), "area")) == v[0]);
        assert_true(json_number_value(json_object_get(json_object_get(
            json_object_get(inst, "tank0"), "start"), "h")) == v[1]);
        char name[64];
        snprintf(name, sizeof name, "g/%s", ids[i]);
        assert_string_equal(json_string_value(json_object_get(sc, "name")),
                            name);
        json_decref(sc);
    }
    batch__free(&b);
    assert_null(b);
}

/* A list and a grid with input factors: the product, list inside grid,
 * an input held constant and a step's time and value. */
static void test_batch__list_and_inputs(void **state)
{
    (void)state;
    batch *b = load_text(
        "{\"contract\": \"twin.batch/1\", " BASE ","
        " \"variations\": {"
        "   \"grid\": [{\"input\": \"tank0.q_in\", \"values\": [0, 0.01]}],"
        "   \"list\": {\"factors\": [{\"input\": \"tank0.valve\", \"step\": 1,"
        "                            \"part\": \"time\", \"name\": \"t1\"},"
        "                           {\"input\": \"tank0.valve\", \"step\": 1}],"
        "              \"values\": [[2, 0.1], [6, 0.9], [9, 0.3]]}}}");
    assert_int_equal(b->n_cases, 6);
    assert_string_equal(b->f[1].name, "t1");
    assert_string_equal(b->f[2].name, "tank0.valve.steps.1.value");
    const double rows[3][2] = {{2, 0.1}, {6, 0.9}, {9, 0.3}};
    for (size_t i = 0; i < 6; i++) {
        double v[BATCH_MAX_FACTORS];
        batch__case_values(b, i, v);
        assert_true(v[0] == (i < 3 ? 0 : 0.01));
        assert_true(v[1] == rows[i % 3][0] && v[2] == rows[i % 3][1]);
        json_t *sc = batch__case_scenario(b, v, "x");
        json_t *in = json_object_get(sc, "inputs");
        assert_true(json_number_value(json_object_get(json_object_get(
            in, "tank0.q_in"), "value")) == v[0]);
        json_t *pt = json_array_get(json_object_get(json_object_get(
            in, "tank0.valve"), "steps"), 1);
        assert_true(json_number_value(json_array_get(pt, 0)) == v[1]);
        assert_true(json_number_value(json_array_get(pt, 1)) == v[2]);
        /* the first point is the base's */
        pt = json_array_get(json_object_get(json_object_get(
            in, "tank0.valve"), "steps"), 0);
        assert_true(json_number_value(json_array_get(pt, 1)) == 0.5);
        json_decref(sc);
    }
    batch__free(&b);
}

static char *mc_doc(long seed, long count, int two_factors)
{
    char *text = malloc(2048);
    snprintf(text, 2048,
             "{\"contract\": \"twin.batch/1\", " BASE ","
             " \"variations\": {\"grid\": [{\"param\": \"pi0.sp\","
             "                              \"values\": [1, 2]}],"
             "   \"monte_carlo\": {\"count\": %ld, \"seed\": %ld,"
             "   \"factors\": [{\"param\": \"tank0.area\", \"dist\": \"normal\","
             "                  \"mean\": 2, \"sd\": 0.2, \"min\": 1}%s]}}}",
             count, seed, two_factors ?
             ", {\"param\": \"tank0.cv\", \"dist\": \"uniform\", \"min\": "
             "0.01, \"max\": 0.05}" : "");
    return text;
}

/* The same seed, the same bits; another seed, other draws; a case's
 * values the same in any order, and whatever comes after them. */
static void test_batch__monte_carlo(void **state)
{
    (void)state;
    char *t1 = mc_doc(42, 50, 1), *t2 = mc_doc(42, 50, 1);
    char *t3 = mc_doc(43, 50, 1), *t4 = mc_doc(42, 80, 0);
    batch *a = load_text(t1), *b = load_text(t2), *c = load_text(t3);
    batch *d = load_text(t4);
    assert_int_equal(a->n_cases, 100);
    assert_int_equal(memcmp(a->mc_values, b->mc_values,
                            100 * sizeof(double)), 0);
    assert_string_equal(a->hash, b->hash);
    assert_string_not_equal(a->hash, c->hash);
    size_t same = 0;
    for (size_t j = 0; j < 100; j++)
        same += a->mc_values[j] == c->mc_values[j];
    assert_int_equal(same, 0);

    /* Case i asked for last to first: the values of the forward pass. */
    double fwd[100][BATCH_MAX_FACTORS], v[BATCH_MAX_FACTORS];
    for (size_t i = 0; i < 100; i++)
        batch__case_values(a, i, fwd[i]);
    for (size_t i = 100; i-- > 0;) {
        batch__case_values(b, i, v);
        assert_int_equal(memcmp(v, fwd[i], 3 * sizeof(double)), 0);
        /* draw i % 50 for both grid points: the same numbers for each */
        assert_true(v[1] == a->mc_values[(i % 50) * 2]);
        assert_true(v[2] == a->mc_values[(i % 50) * 2 + 1]);
        assert_true(v[1] >= 1.0);
    }
    /* Without the second factor and with more draws, the first factor's
     * first 50 draws are the same: each factor has its own stream. */
    for (size_t j = 0; j < 50; j++)
        assert_true(d->mc_values[j] == a->mc_values[j * 2]);
    batch__free(&a);
    batch__free(&b);
    batch__free(&c);
    batch__free(&d);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
}

/* The pieces against published reference values: SplitMix64 started at 0
 * gives 0xe220a8397b1dcdaf first (Vigna's splitmix64.c), so factor 0 of
 * seed 0 has the stream seed 0x7b1dcdaf; GSL's MT19937 seeded with 5489
 * gives 3499211612 first (Matsumoto and Nishimura's mt19937ar.c). */
static void test_batch__reference_values(void **state)
{
    (void)state;
    assert_int_equal(draw__stream_seed(0, 0), 0x7b1dcdafUL);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5489);
    assert_int_equal(gsl_rng_get(r), 3499211612UL);
    /* A uniform stream is u·(max − min) + min on that generator: */
    batch_dist d = {.kind = DRAW_UNIFORM, .p = {0, 1}, .lo = 0, .hi = 1};
    double x[3];
    char why[256];
    assert_int_equal(draw__stream(&d, 0, 0, 3, x, 1, why, sizeof why), 0);
    gsl_rng_set(r, 0x7b1dcdafUL);
    for (int i = 0; i < 3; i++)
        assert_true(x[i] == gsl_rng_get(r) / 4294967296.0);
    gsl_rng_free(r);
}

typedef struct dist_case {
    const char *json;        /* the factor's distribution members */
    double mean, var;        /* closed forms */
    double lo, hi;           /* every draw inside */
} dist_case;

static double phi(double x) { return gsl_ran_ugaussian_pdf(x); }

/* Sample moments of 200 000 draws against the closed forms: the mean
 * within 5 standard errors √(σ²/n), the variance within 5 standard errors
 * √((μ₄ − σ⁴)/n), μ₄ from the sample. */
static void test_batch__distributions(void **state)
{
    (void)state;
    /* A normal N(2, 0.5²) truncated to [1.5, 3]: α = −1, β = 2. */
    double al = -1, be = 2, Z = gsl_cdf_ugaussian_P(be) -
                                gsl_cdf_ugaussian_P(al);
    double tm = 2 + 0.5 * (phi(al) - phi(be)) / Z;
    double tv = 0.25 * (1 + (al * phi(al) - be * phi(be)) / Z -
                        pow((phi(al) - phi(be)) / Z, 2));
    double a = 1, c = 1.5, b = 4;
    const dist_case cases[] = {
        {"\"dist\": \"uniform\", \"min\": -1, \"max\": 3", 1, 16.0 / 12,
         -1, 3},
        {"\"dist\": \"normal\", \"mean\": 5, \"sd\": 0.3", 5, 0.09,
         -INFINITY, INFINITY},
        {"\"dist\": \"lognormal\", \"mu\": 0.2, \"sigma\": 0.4",
         exp(0.2 + 0.08), (exp(0.16) - 1) * exp(0.4 + 0.16), 0, INFINITY},
        {"\"dist\": \"triangular\", \"min\": 1, \"mode\": 1.5, \"max\": 4",
         (a + b + c) / 3, (a * a + b * b + c * c - a * b - a * c - b * c) / 18,
         1, 4},
        {"\"dist\": \"choice\", \"values\": [1, 2, 10]", 13.0 / 3,
         (1 + 4 + 100) / 3.0 - 169.0 / 9, 1, 10},
        {"\"dist\": \"normal\", \"mean\": 2, \"sd\": 0.5, \"min\": 1.5, "
         "\"max\": 3", tm, tv, 1.5, 3},
    };
    enum { N = 200000 };
    double *x = malloc(N * sizeof *x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], why[256];
        snprintf(text, sizeof text, "{%s}", cases[i].json);
        json_t *def = json_loads(text, 0, NULL);
        batch_dist d;
        twin_errors errs = {0};
        assert_int_equal(draw__parse(def, "/f", &d, &errs), 0);
        assert_int_equal(draw__stream(&d, 12345, i, N, x, 1, why,
                                      sizeof why), 0);
        double m = gsl_stats_mean(x, 1, N);
        double s2 = gsl_stats_variance_m(x, 1, N, m);
        double m4 = 0;
        for (size_t j = 0; j < N; j++) {
            assert_true(x[j] >= cases[i].lo && x[j] <= cases[i].hi);
            m4 += pow(x[j] - m, 4) / N;
        }
        double se_m = sqrt(cases[i].var / N);
        double se_v = sqrt((m4 - s2 * s2) / N);
        if (fabs(m - cases[i].mean) > 5 * se_m ||
            fabs(s2 - cases[i].var) > 5 * se_v)
            fail_msg("%s: mean %.6g (expected %.6g ± %.2g), variance %.6g "
                     "(expected %.6g ± %.2g)", cases[i].json, m,
                     cases[i].mean, 5 * se_m, s2, cases[i].var, 5 * se_v);
        draw__free(&d);
        json_decref(def);
    }
    free(x);
}

/* ---- document errors as data ------------------------------------------- */

static const char *cases_dir(void)
{
    const char *d = getenv("TWIN_TEST_CASES_DIR");
    assert_non_null(d);
    return d;
}

static void check_case(const char *name)
{
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/batch/%s/batch.json", cases_dir(), name);
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        fail_msg("%s: %s", path, jerr.text);
    twin_errors errs = {0};
    json_t *lim = json_object_get(doc, "max-cases-for-test");
    batch_env env = env_of((size_t)json_integer_value(lim));
    batch *b = batch__load(doc, &env, &errs);
    if (getenv("TWIN_TEST_PRINT")) {
        printf("== %s: %s (%zu cases)\n", name, b ? "loads" : "refused",
               b ? b->n_cases : 0);
        errors__print(&errs, "   ", stdout);
        batch__free(&b);
        errors__clear(&errs);
        json_decref(doc);
        return;
    }
    snprintf(path, sizeof path, "%s/batch/%s/expected.json", cases_dir(),
             name);
    json_t *expected = json_load_file(path, 0, &jerr);
    if (expected == NULL)
        fail_msg("%s: %s", path, jerr.text);
    support__expect_errors(name, &errs, json_object_get(expected,
                                                        "errors"));
    assert_true((b == NULL) == (errs.count > 0));
    json_t *n = json_object_get(expected, "cases");
    if (n != NULL)
        assert_int_equal(b->n_cases, json_integer_value(n));
    batch__free(&b);
    errors__clear(&errs);
    json_decref(expected);
    json_decref(doc);
}

static void test_batch__cases(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/batch", cases_dir());
    char **names = NULL;
    long n = util__list_dir(dir, "", &names);
    assert_true(n > 0);
    for (long i = 0; i < n; i++)
        if (names[i][0] != '.')
            check_case(names[i]);
    util__free_names(names, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch__grid),
        cmocka_unit_test(test_batch__list_and_inputs),
        cmocka_unit_test(test_batch__monte_carlo),
        cmocka_unit_test(test_batch__reference_values),
        cmocka_unit_test(test_batch__distributions),
        cmocka_unit_test(test_batch__cases),
    };
    return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
