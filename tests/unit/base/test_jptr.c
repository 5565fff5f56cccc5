/*
 * test_jptr.c — RFC 6901 JSON Pointers (jptr.c) on the RFC's own example
 * document (section 5) and on what a strict reader must refuse: bad
 * escapes, leading zeros, "-", indices past the end, paths through a
 * scalar, members that are not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jptr.h"

static const char *const rfc_doc =
    "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, "
    "\"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, "
    "\"m~n\": 8, \"~1\": 9, \"deep\": {\"x\": [[10, {\"y\": 11}]]}}";

static void test_jptr__rfc_6901_examples(void **state)
{
    /* The pointer and the JSON text of what it names (RFC 6901, 5). */
    static const struct {
        const char *ptr, *want;
    } cases[] = {
        {"/foo", "[\"bar\", \"baz\"]"},
        {"/foo/0", "\"bar\""},
        {"/foo/1", "\"baz\""},
        {"/", "0"},
        {"/a~1b", "1"},
        {"/c%d", "2"},
        {"/e^f", "3"},
        {"/g|h", "4"},
        {"/i\\j", "5"},
        {"/k\"l", "6"},
        {"/ ", "7"},
        {"/m~0n", "8"},
        {"/~01", "9"},        /* "~01" is "~1", not "/" */
        {"/deep/x/0/0", "10"},
        {"/deep/x/0/1/y", "11"},
    };
    (void)state;
    json_t *doc = json_loads(rfc_doc, 0, NULL);
    assert_non_null(doc);
    char why[256];
    const json_t *whole = jptr__get(doc, "", why, sizeof why);
    assert_ptr_equal(whole, doc);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *want = json_loads(cases[i].want, JSON_DECODE_ANY, NULL);
        const json_t *got = jptr__get(doc, cases[i].ptr, why, sizeof why);
        if (got == NULL)
            fail_msg("%s: %s", cases[i].ptr, why);
        if (!json_equal((json_t *)got, want))
            fail_msg("%s: not %s", cases[i].ptr, cases[i].want);
        assert_true(jptr__valid(cases[i].ptr));
        json_decref(want);
    }
    json_decref(doc);
}

static void test_jptr__refusals(void **state)
{
    /* The pointer and a word its sentence must hold. */
    static const struct {
        const char *ptr, *says;
        int valid;            /* jptr__valid: the syntax alone is right */
    } cases[] = {
        {"foo", "starts with '/'", 0},
        {"/m~2n", "'~0' or '~1'", 0},
        {"/m~", "'~0' or '~1'", 0},
        {"/foo/01", "not an array index", 1},
        {"/foo/-", "not an array index", 1},
        {"/foo/-1", "not an array index", 1},
        {"/foo/1e0", "not an array index", 1},
        {"/foo/", "not an array index", 1},
        {"/foo/2", "past the end of an array of 2", 1},
        {"/foo/99999999999999999999999", "past the end", 1},
        {"/foo/0/x", "not an object or an array", 1},
        {"/nope", "no member \"nope\" at the top level", 1},
        {"/deep/z", "no member \"z\" at /deep", 1},
        {"/deep/x/0/1/y/0", "not an object or an array", 1},
        {"/a/b", "no member \"a\"", 1}, /* "/" separates: not "a/b" */
    };
    (void)state;
    json_t *doc = json_loads(rfc_doc, 0, NULL);
    assert_non_null(doc);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[256] = "";
        const json_t *got = jptr__get(doc, cases[i].ptr, why, sizeof why);
        if (got != NULL)
            fail_msg("%s: resolved, should not", cases[i].ptr);
        if (strstr(why, cases[i].says) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].ptr, why,
                     cases[i].says);
        assert_int_equal(jptr__valid(cases[i].ptr), cases[i].valid);
    }
    json_decref(doc);
}

static void test_jptr__scalars_and_empty_keys(void **state)
{
    (void)state;
    char why[256];
    json_t *n = json_real(2.5);
    assert_ptr_equal(jptr__get(n, "", why, sizeof why), n);
    assert_null(jptr__get(n, "/x", why, sizeof why));
    json_decref(n);
    /* An empty key twice over: "//" is the member "" of the member "". */
    json_t *doc = json_loads("{\"\": {\"\": 3}}", 0, NULL);
    const json_t *v = jptr__get(doc, "//", why, sizeof why);
    assert_non_null(v);
    assert_int_equal(json_integer_value(v), 3);
    json_decref(doc);
    /* A token longer than the resolver takes is refused, not cut. */
    char ptr[1100] = "/";
    memset(ptr + 1, 'k', 1050);
    ptr[1051] = '\0';
    doc = json_loads("{\"k\": 1}", 0, NULL);
    assert_null(jptr__get(doc, ptr, why, sizeof why));
    assert_non_null(strstr(why, "longer than"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jptr__rfc_6901_examples),
        cmocka_unit_test(test_jptr__refusals),
        cmocka_unit_test(test_jptr__scalars_and_empty_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
