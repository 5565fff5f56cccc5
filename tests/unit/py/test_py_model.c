/*
 * test_py_model.c — a Python model's declaration (the JSON its vetting
 * child reports, docs/python.md) as a descriptor, with no Python run:
 * the variables with their kinds, flags, bounds and non-finite numbers,
 * the functions present only where the class has the method, the
 * structure, each class of a file by its index; and each malformed
 * declaration refused with its sentence.  The calls into Python are
 * tested through twinctl with the real interpreter
 * (tests/test_python_models.py).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "py_model.h"

static const char *two_classes =
    "[{\"class\":\"Tank\",\"name\":\"tank_py\",\"version\":\"1.0\","
    "\"description\":\"A tank.\",\"kind\":\"continuous\","
    "\"n_event_indicators\":1,\"sample_period\":0,"
    "\"variables\":["
    "{\"name\":\"area\",\"kind\":\"parameter\",\"unit\":\"m2\","
    "\"start\":2,\"min\":1e-9,\"max\":\"inf\",\"description\":\"\","
    "\"feedthrough\":false,\"integer\":false,\"boolean\":false},"
    "{\"name\":\"h\",\"kind\":\"state\",\"unit\":\"m\",\"start\":1,"
    "\"min\":0,\"max\":\"inf\"},"
    "{\"name\":\"sp\",\"kind\":\"input\",\"start\":\"nan\","
    "\"min\":\"-inf\",\"max\":\"inf\"},"
    "{\"name\":\"q\",\"kind\":\"output\",\"feedthrough\":true},"
    "{\"name\":\"n\",\"kind\":\"output\",\"integer\":true,"
    "\"boolean\":true}],"
    "\"dependencies\":[[1,1],[3,2]],"
    "\"methods\":[\"derivatives\",\"outputs\",\"event_indicators\","
    "\"event\"]},"
    "{\"class\":\"PI\",\"name\":\"pi_py\",\"kind\":\"discrete\","
    "\"sample_period\":2.5,\"n_event_indicators\":0,"
    "\"variables\":[{\"name\":\"out\",\"kind\":\"output\"}],"
    "\"methods\":[\"tick\",\"init\"]}]";

static void test_py_model__descriptor(void **state)
{
    char why[512] = "";
    const twin_model_descriptor *d =
        pymodel__open("tank.py", two_classes, 0, why, sizeof why);
    assert_non_null(d);
    assert_string_equal(d->name, "tank_py");
    assert_string_equal(d->version, "1.0");
    assert_int_equal(d->abi_major, TWIN_MODEL_ABI_MAJOR);
    assert_int_equal(d->struct_size, sizeof *d);
    assert_int_equal(d->kind, TWIN_MODEL_CONTINUOUS);
    assert_int_equal(d->n_variables, 5);
    assert_int_equal(d->n_event_indicators, 1);
    const twin_variable *v = d->variables;
    assert_int_equal(v[0].kind, TWIN_VAR_PARAMETER);
    assert_true(v[0].start == 2.0 && v[0].min == 1e-9 &&
                isinf(v[0].max) && v[0].max > 0);
    assert_int_equal(v[1].kind, TWIN_VAR_STATE);
    assert_true(isnan(v[2].start) && isinf(v[2].min) && v[2].min < 0);
    assert_int_equal(v[3].flags, TWIN_VAR_FEEDTHROUGH);
    assert_int_equal(v[4].flags, TWIN_VAR_INTEGER | TWIN_VAR_BOOLEAN);
    assert_string_equal(v[4].unit, "");
    /* Functions only where the class has the method. */
    assert_non_null(d->create);
    assert_non_null(d->destroy);
    assert_non_null(d->derivatives);
    assert_non_null(d->outputs);
    assert_non_null(d->event_indicators);
    assert_non_null(d->event);
    assert_null(d->init);
    assert_null(d->tick);
    assert_null(d->next_event_time);
    assert_null(d->step_completed);
    assert_int_equal(d->n_dependencies, 2);
    assert_int_equal(d->dependencies[1].of, 3);
    assert_int_equal(d->dependencies[1].on, 2);

    pymodel *pm = pymodel__of(d);
    assert_non_null(pm);
    assert_int_equal(pymodel__count(pm), 2);
    assert_string_equal(pymodel__json(pm), two_classes);

    const twin_model_descriptor *e =
        pymodel__open("tank.py", two_classes, 1, why, sizeof why);
    assert_non_null(e);
    assert_string_equal(e->name, "pi_py");
    assert_int_equal(e->kind, TWIN_MODEL_DISCRETE);
    assert_true(e->sample_period == 2.5);
    assert_non_null(e->tick);
    assert_non_null(e->init);
    assert_null(e->derivatives);
    assert_null(e->dependencies);
    pymodel *pe = pymodel__of(e);
    pymodel__close(&pm);
    pymodel__close(&pe);
    assert_null(pm);
}

static void test_py_model__not_ours(void **state)
{
    static const twin_model_descriptor other = {.name = "c"};
    assert_null(pymodel__of(&other));
    assert_null(pymodel__of(NULL));
    assert_true(pymodel__is_py("models/tank.py"));
    assert_false(pymodel__is_py("models/tank.so"));
    assert_false(pymodel__is_py(".py"));
}

/* Each malformed declaration and the words its refusal must have. */
static const struct {
    const char *json;
    size_t index;
    const char *words;
} bad[] = {
    {"not json", 0, "not readable JSON"},
    {"[]", 0, "no model class 0"},
    {"[{\"name\":\"a\",\"variables\":[]}]", 1, "no model class 1"},
    {"[{\"name\":\"a\"}]", 0, "no model class 0"},
    {"[{\"class\":\"A\",\"name\":\"a\",\"variables\":[{\"name\":\"x\","
     "\"kind\":\"stat\"}]}]", 0, "variable 0 of class A"},
    {"[{\"class\":\"A\",\"name\":\"a\",\"variables\":[{\"name\":\"x\","
     "\"kind\":\"state\",\"start\":\"one\"}]}]", 0, "variable 0 of class A"},
    {"[{\"class\":\"A\",\"name\":\"a\",\"kind\":\"hybrid\","
     "\"variables\":[]}]", 0, "kind must be"},
    {"[{\"class\":\"A\",\"name\":\"a\",\"n_event_indicators\":-1,"
     "\"variables\":[]}]", 0, "event_indicators a count"},
};

static void test_py_model__refused(void **state)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[512] = "";
        const twin_model_descriptor *d =
            pymodel__open("m.py", bad[i].json, bad[i].index, why, sizeof why);
        if (d != NULL || strstr(why, bad[i].words) == NULL ||
            strstr(why, "m.py") == NULL)
            fail_msg("case %zu: %s: want a refusal naming m.py with '%s', "
                     "got '%s'", i, bad[i].json, bad[i].words, why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_py_model__descriptor),
        cmocka_unit_test(test_py_model__not_ours),
        cmocka_unit_test(test_py_model__refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
