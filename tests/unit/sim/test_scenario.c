/*
 * test_scenario.c — scenario composition: the contract cases as data.
 *
 * Each folder under tests/cases/compose/ holds scenario.json (the input)
 * and expected.json: {"errors": [{"code": ..., "path": ...}, ...]} — the
 * exact list of problems, in order — or {"errors": [], "columns": [...]}
 * for a scenario that composes.  A member "limits-for-test" in the input
 * sets scenario_limits for that case.  Every problem must also carry a
 * sentence in valid UTF-8.  With TWIN_TEST_PRINT=1 the actual results are printed, for
 * writing a new case (then checked by hand, never pasted blindly).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "errors.h"
#include "support.h"
#include "util.h"

static const char *cases_dir(void)
{
    const char *d = getenv("TWIN_TEST_CASES_DIR");
    assert_non_null(d);
    return d;
}

static scenario_limits limits_of(const json_t *doc)
{
    scenario_limits lim = {0};
    const json_t *l = json_object_get(doc, "limits-for-test");
    if (l != NULL) {
        lim.max_instances = (size_t)json_integer_value(
            json_object_get(l, "max_instances"));
        lim.max_connections = (size_t)json_integer_value(
            json_object_get(l, "max_connections"));
        lim.max_rows = json_number_value(json_object_get(l, "max_rows"));
        lim.max_function_samples = json_number_value(
            json_object_get(l, "max_function_samples"));
    }
    return lim;
}

/* Compose one case; fill errs and, when it composes, the column list. */
static json_t *run_case(const char *dir, twin_errors *errs)
{
    char path[4096], why[1024];
    snprintf(path, sizeof path, "%s/scenario.json", dir);
    json_t *columns = json_array();
    json_t *doc = scenario__load(path, NULL, why, sizeof why);
    if (doc == NULL) {
        errors__add(errs, TWIN_E_BAD_JSON, "", "%s", why);
        return columns;
    }
    scenario_limits lim = limits_of(doc);
    scenario *sc = scenario__compose(doc, support__models(),
                                     support__instances(), &lim, errs);
    for (size_t i = 0; sc != NULL && i < sc->n_out; i++)
        json_array_append_new(columns, json_string(sc->out_name[i]));
    scenario__free(&sc);
    json_decref(doc);
    return columns;
}

static void check_case(const char *name)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/compose/%s", cases_dir(), name);
    twin_errors errs = {0};
    json_t *columns = run_case(dir, &errs);

    if (getenv("TWIN_TEST_PRINT")) {
        printf("== %s\n", name);
        errors__print(&errs, "   ", stdout);
        char *cols = json_dumps(columns, JSON_COMPACT);
        printf("   columns %s\n", cols);
        free(cols);
        json_decref(columns);
        errors__clear(&errs);
        return;
    }
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_error_t jerr;
    json_t *expected = json_load_file(path, 0, &jerr);
    if (expected == NULL)
        fail_msg("%s: %s", path, jerr.text);
    support__expect_errors(name, &errs, json_object_get(expected,
                                                        "errors"));
    json_t *want_cols = json_object_get(expected, "columns");
    if (want_cols != NULL && !json_equal(want_cols, columns)) {
        char *got = json_dumps(columns, JSON_COMPACT);
        fail_msg("case %s: columns %s", name, got);
    }
    json_decref(expected);
    json_decref(columns);
    errors__clear(&errs);
}

/* Walk every case folder; also check that together they trigger every
 * error code that composition can produce. */
static void test_scenario__cases(void **state)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/compose", cases_dir());
    char **names = NULL;
    long n = util__list_dir(dir, "", &names);
    assert_true(n > 0);
    for (long i = 0; i < n; i++)
        if (names[i][0] != '.')
            check_case(names[i]);
    util__free_names(names, n);
}

static void test_scenario__every_code_covered(void **state)
{
    static const twin_err_code must[] = {
        TWIN_E_BAD_JSON, TWIN_E_WRONG_TYPE, TWIN_E_MISSING_FIELD,
        TWIN_E_OUT_OF_RANGE, TWIN_E_UNKNOWN_MODEL, TWIN_E_UNKNOWN_INSTANCE,
        TWIN_E_UNKNOWN_VARIABLE, TWIN_E_BAD_CONNECTION,
        TWIN_E_ALGEBRAIC_LOOP, TWIN_E_TOO_LARGE, TWIN_E_UNKNOWN_FUNCTION,
    };
    int seen[TWIN_E__COUNT] = {0};
    char dir[4096], sub[4200];
    snprintf(dir, sizeof dir, "%s/compose", cases_dir());
    char **names = NULL;
    long n = util__list_dir(dir, "", &names);
    for (long i = 0; i < n; i++) {
        if (names[i][0] == '.')
            continue;
        twin_errors errs = {0};
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        json_decref(run_case(sub, &errs));
        for (size_t k = 0; k < errs.count; k++)
            seen[errs.items[k].code] = 1;
        errors__clear(&errs);
    }
    util__free_names(names, n);
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!seen[must[i]])
            fail_msg("no case triggers %s", errors__code_name(must[i]));
}

/* Profiles: steps in force at their time, tables through GSL. */
static void test_scenario__profiles(void **state)
{
    scenario *sc = support__compose(
        "{\"time\": {\"stop\": 10, \"dt\": 1},"
        " \"instances\": {\"tank0\": {\"model\": \"tank\"},"
        "                 \"pump0\": {\"model\": \"pump\"}},"
        " \"inputs\": {\"tank0.valve\": {\"steps\": [[2, 0.25], [5, 0.75]]},"
        "   \"tank0.q_in\": {\"table\": [[0, 0], [4, 0.4]]},"
        "   \"pump0.cmd\": {\"table\": [[0, 0], [1, 1], [2, 0], [3, 1]],"
        "                   \"interp\": \"cubic\"}}}");
    const sc_profile *steps = &sc->inputs[0].profile;
    const sc_profile *lin = &sc->inputs[1].profile;
    const sc_profile *cub = &sc->inputs[2].profile;
    assert_int_equal(steps->kind, SC_PROFILE_STEPS);
    /* Before the first step the first value holds; a step at t is in
     * force at t. */
    assert_float_equal(scenario__profile_at(steps, 0.0), 0.25, 0);
    assert_float_equal(scenario__profile_at(steps, 4.999), 0.25, 0);
    assert_float_equal(scenario__profile_at(steps, 5.0), 0.75, 0);
    assert_float_equal(scenario__profile_at(steps, 100.0), 0.75, 0);
    assert_float_equal(scenario__profile_at(lin, 1.0), 0.1, 1e-15);
    assert_float_equal(scenario__profile_at(lin, 9.0), 0.4, 0);
    /* Natural cubic spline through (0,0) (1,1) (2,0) (3,1), by hand: the
     * second derivatives M1, M2 solve 4·M1 + M2 = −12, M1 + 4·M2 = 12, so
     * M1 = −4, M2 = 4, and on [0, 1] S(x) = −4x³/6 + (1 + 4/6)·x, which is
     * 0.75 at x = 0.5 (the linear interpolant would give 0.5). */
    assert_float_equal(scenario__profile_at(cub, 2.0), 0.0, 1e-15);
    assert_float_equal(scenario__profile_at(cub, 1.0), 1.0, 1e-15);
    assert_float_equal(scenario__profile_at(cub, 0.5), 0.75, 1e-12);
    scenario__free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario__cases),
        cmocka_unit_test(test_scenario__every_code_covered),
        cmocka_unit_test(test_scenario__profiles),
    };
    return cmocka_run_group_tests_name("scenario", tests, NULL, NULL);
}
