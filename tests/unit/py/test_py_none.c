/*
 * test_py_none.c — a twinctl built without Python (meson -Dpython=disabled
 * or no python3-dev: controller/py/py_none.c): a Python model file is
 * refused when the library loads it, saying how to get Python support,
 * and a descriptor made from a declaration (as a daemon holds one) cannot
 * make an instance: create refuses with TWIN_ERROR and logs the same
 * sentence, which the run's failure carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "py_model.h"

#define HOW "built without Python support (Debian: apt install python3-dev, " \
            "then build again)"

static char logged[512];
static int log_level = -1;

static void on_log(void *context, twin_log_level level, const char *message)
{
    (void)context;
    log_level = (int)level;
    snprintf(logged, sizeof logged, "%s", message);
}

static void test_py_none__declare(void **state)
{
    (void)state;
    char why[512] = "";
    assert_int_equal(pymodel__available(), 0);
    assert_null(pymodel__declare("models/tank_py.py", why, sizeof why));
    assert_non_null(strstr(why, "Python model models/tank_py.py: refused"));
    assert_non_null(strstr(why, HOW));
}

static void test_py_none__create(void **state)
{
    (void)state;
    static const char *decl =
        "[{\"class\":\"Decay\",\"name\":\"decay_py\",\"kind\":\"continuous\","
        "\"variables\":[{\"name\":\"x\",\"kind\":\"state\",\"start\":1}],"
        "\"methods\":[\"derivatives\"]}]";
    char why[512] = "";
    const twin_model_descriptor *d =
        pymodel__open("decay.py", decl, 0, why, sizeof why);
    assert_non_null(d);
    twin_host host = {.struct_size = sizeof host, .model = d,
                      .log = on_log};
    twin_instance *in = NULL;
    assert_int_equal(d->create(&host, NULL, &in), TWIN_ERROR);
    assert_null(in);
    assert_int_equal(log_level, TWIN_LOG_ERROR);
    assert_non_null(strstr(logged, HOW));
    pymodel *pm = pymodel__of(d);
    pymodel__close(&pm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_py_none__declare),
        cmocka_unit_test(test_py_none__create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
