/*
 * test_model_lib.c — loading plugins: the reference library, and the test
 * plugins of tests/plugins/ that each bend the ABI in one way and must be
 * refused with a message naming the file and the reason.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_lib.h"
#include "support.h"

static const char *plugin(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s.so", getenv("TWIN_TEST_PLUGIN_DIR"),
             name);
    return path;
}

static void test_model_lib__reference_models(void **state)
{
    static const struct {
        const char *name;
        twin_model_kind kind;
        size_t n_param, n_state, n_input, n_output, n_event;
    } want[] = {
        {"tank", TWIN_MODEL_CONTINUOUS, 3, 1, 2, 2, 1},
        {"pump", TWIN_MODEL_CONTINUOUS, 3, 1, 1, 2, 0},
        {"pi", TWIN_MODEL_DISCRETE, 5, 1, 2, 1, 0},
        {"bioreactor", TWIN_MODEL_CONTINUOUS, 5, 4, 1, 1, 0},
    };
    const model_lib *lib = support__models();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const twin_model *m = modlib__find(lib, want[i].name);
        assert_non_null(m);
        assert_int_equal(m->d->kind, want[i].kind);
        assert_int_equal(m->n_param, want[i].n_param);
        assert_int_equal(m->n_state, want[i].n_state);
        assert_int_equal(m->n_input, want[i].n_input);
        assert_int_equal(m->n_output, want[i].n_output);
        assert_int_equal(m->d->n_event_indicators, want[i].n_event);
    }
    /* pi has a parameter and an input both called sp: separate spaces. */
    const twin_model *pi = modlib__find(lib, "pi");
    twin_var_kind kind;
    size_t idx;
    assert_int_equal(modlib__find_param(pi, "sp", &idx), 0);
    assert_int_equal(idx, 2);
    assert_int_equal(modlib__find_signal(pi, "sp", &kind, &idx), 0);
    assert_int_equal(kind, TWIN_VAR_INPUT);
    assert_int_equal(idx, 1);
    assert_int_equal(modlib__find_signal(pi, "kp", &kind, &idx), -1);
}

static void test_model_lib__refusals(void **state)
{
    static const struct {
        const char *plugin;
        const char *says; /* must appear in the reason */
    } cases[] = {
        {"abi_major2", "built for model ABI 2.0, but this host speaks 1.0"},
        {"abi_minor_newer", "built for model ABI 1.1, but this host speaks "
                            "1.0"},
        {"bad_descriptor", "above max 1 (or NaN) (and more; run twinctl "
                           "check-model)"},
        {"no_entry", "exports no twin_model_entry()"},
        {"does_not_exist", "cannot load"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[2048] = "";
        twin_model *m = modlib__open(plugin(cases[i].plugin), why, sizeof why);
        if (m != NULL)
            fail_msg("%s loaded", cases[i].plugin);
        if (strstr(why, cases[i].says) == NULL ||
            strstr(why, cases[i].plugin) == NULL)
            fail_msg("%s: reason '%s' does not say '%s' and name the file",
                     cases[i].plugin, why, cases[i].says);
    }
}

static void test_model_lib__all_descriptor_problems(void **state)
{
    void *handle = NULL;
    char why[1024];
    const twin_model_descriptor *d =
        modlib__load_descriptor(plugin("bad_descriptor"), &handle, why,
                                sizeof why);
    assert_non_null(d);
    twin_errors errs = {0};
    size_t n = modlib__check_descriptor(d, &errs);
    /* min > max (and so start outside), the clash, no derivatives. */
    int clash = 0, range = 0, deriv = 0;
    for (size_t i = 0; i < errs.count; i++) {
        clash |= strstr(errs.items[i].message, "used twice") != NULL;
        range |= strstr(errs.items[i].message, "above max") != NULL;
        deriv |= strcmp(errs.items[i].path, "/derivatives") == 0;
    }
    assert_true(n >= 3);
    assert_true(clash && range && deriv);
    errors__clear(&errs);
    dlclose(handle);
}

static int logged;
static void count_log(void *ctx, const char *message) { logged++; }

static void test_model_lib__load_dir_skips_bad(void **state)
{
    model_lib lib = {0};
    logged = 0;
    int n = modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"), count_log,
                             NULL);
    assert_int_equal(n, 2); /* decay and failing */
    assert_non_null(modlib__find(&lib, "decay"));
    assert_non_null(modlib__find(&lib, "failing"));
    assert_int_equal(logged, 4);
    /* The same directory again: every name is a duplicate. */
    logged = 0;
    assert_int_equal(modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"),
                                      count_log, NULL), 0);
    assert_int_equal(logged, 6);
    assert_int_equal(modlib__load_dir(&lib, "/nonexistent", count_log, NULL),
                     -1);
    modlib__free(&lib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_lib__reference_models),
        cmocka_unit_test(test_model_lib__refusals),
        cmocka_unit_test(test_model_lib__all_descriptor_problems),
        cmocka_unit_test(test_model_lib__load_dir_skips_bad),
    };
    return cmocka_run_group_tests_name("model_lib", tests, NULL, NULL);
}
