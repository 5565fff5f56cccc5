/*
 * test_json_out.c — the text of every message the controller sends
 * (json_out.c): numbers as the results write them (the shortest text
 * that reads back, dtoa.h), a real keeping its ".0", and everything
 * else exactly as jansson's compact dump writes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_out.h"

static void test_json_out__numbers(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.7, "[0.7]"},
        {273.15, "[273.15]"},
        {0.1 + 0.2, "[0.30000000000000004]"},
        {1.0, "[1.0]"},
        {-0.0, "[-0.0]"},
        {20.0, "[20.0]"},
        {1e300, "[1e+300]"},
        {1.0 / 3.0, "[0.3333333333333333]"},
        {76.92307692307752, "[76.92307692307752]"},
        {5e-324, "[5e-324]"},
        {0.69999999999999996, "[0.7]"},
        {273.14999999999998, "[273.15]"},
        {1e-5, "[1e-05]"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *a = json_pack("[f]", cases[i].v);
        char *text = json_out__dumps(a);
        assert_non_null(text);
        assert_string_equal(text, cases[i].want);
        /* It reads back to the same double. */
        json_t *back = json_loads(text, 0, NULL);
        assert_true(json_real_value(json_array_get(back, 0)) == cases[i].v);
        json_decref(back);
        free(text);
        json_decref(a);
    }
}

/* Without reals, the text is jansson's compact dump, byte for byte. */
static void test_json_out__as_jansson(void **state)
{
    static const char *const docs[] = {
        "{}", "[]", "null", "true", "\"\"",
        "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "{\"z\":1,\"a\":2,\"m\":3}",
        "[\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r\"]",
        "[\"\\b\\f\\u0001\\u001f \\u007f\"]",
        "[\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u2028\"]",
        "{\"key\":-9223372036854775807,\"nul\":\"a\\u0000b\"}",
        "[[[[[]]]],{\"\":{}}]",
    };
    (void)state;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t err;
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL,
                               &err);
        assert_non_null(v);
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        char *got = json_out__dumps(v);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
        free(want);
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_out__numbers),
        cmocka_unit_test(test_json_out__as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
