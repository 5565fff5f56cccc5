/*
 * test_funclib.c — function plugins: the manifest check (each mistake
 * its own problem, with its code and JSON Pointer), the argument check
 * against a signature (each wrong count, type and length its own
 * rejection), and calls through libffi into the test plugin
 * (tests/functions/fntest.so) — in this process and in a child process —
 * compared with the same formulas computed here.  Also what a call in a
 * child process costs, printed.
 */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "funcall.h"
#include "funclib.h"
#include "util.h"

static char path_buf[4096];

static const char *fn_path(const char *file)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s",
             getenv("TWIN_TEST_FUNCTION_DIR"), file);
    return path_buf;
}

static void *fntest_handle(void)
{
    static void *h;
    if (h == NULL)
        h = dlopen(fn_path("fntest.so"), RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        fail_msg("cannot load fntest.so: %s", dlerror());
    return h;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (j == NULL)
        fail_msg("test JSON does not parse: %s: %s", e.text, text);
    return j;
}

static int has(const twin_errors *errs, twin_err_code code, const char *path,
               const char *words)
{
    for (size_t i = 0; i < errs->count; i++)
        if (errs->items[i].code == code &&
            strcmp(errs->items[i].path, path) == 0 &&
            (words == NULL || strstr(errs->items[i].message, words)))
            return 1;
    return 0;
}

static void print_errors(const twin_errors *errs)
{
    errors__print(errs, "    got: ", stdout);
}

/* ---- the manifest -------------------------------------------------------- */

/* A manifest of one function f(double x) with a member replaced. */
#define ONE_FN(fn) \
    "{\"contract\": \"twin.functions/1\", \"library\": \"fntest.so\", " \
    "\"functions\": [" fn "]}"
#define NAN_FN(args) \
    "{\"name\": \"f\", \"symbol\": \"fn_nan\", \"doc\": \"d\", " \
    "\"returns\": {\"type\": \"double\"}, \"args\": [" args "]}"
#define X_ARG "{\"name\": \"x\", \"type\": \"double\", \"doc\": \"x\"}"

static void test_funclib__manifest_problems(void **state)
{
    static const struct {
        const char *manifest;
        twin_err_code code;
        const char *path;
        const char *words;   /* in the message */
    } cases[] = {
        {"[]", TWIN_E_WRONG_TYPE, "", "a JSON object"},
        {"{\"library\": \"fntest.so\", \"functions\": [" NAN_FN(X_ARG) "]}",
         TWIN_E_MISSING_FIELD, "/contract", "needs \"contract\""},
        {"{\"contract\": \"twin.functions/2\", \"library\": \"fntest.so\", "
         "\"functions\": [" NAN_FN(X_ARG) "]}",
         TWIN_E_BAD_CONTRACT, "/contract", "twin.functions/2"},
        {"{\"contract\": \"twin.functions/1\", \"library\": \"../x.so\", "
         "\"functions\": [" NAN_FN(X_ARG) "]}",
         TWIN_E_OUT_OF_RANGE, "/library", "not a path"},
        {"{\"contract\": \"twin.functions/1\", \"library\": \"fntest.so\"}",
         TWIN_E_MISSING_FIELD, "/functions", "needs \"functions\""},
        {ONE_FN(""), TWIN_E_WRONG_TYPE, "/functions", "at least one"},
        {"{\"contract\": \"twin.functions/1\", \"library\": \"fntest.so\", "
         "\"colour\": 1, \"functions\": [" NAN_FN(X_ARG) "]}",
         TWIN_E_OUT_OF_RANGE, "/colour", "no member \"colour\""},
        {ONE_FN("7"), TWIN_E_WRONG_TYPE, "/functions/0", "an object"},
        {ONE_FN("{\"symbol\": \"fn_nan\", \"doc\": \"d\", \"returns\": "
                "{\"type\": \"double\"}, \"args\": [" X_ARG "]}"),
         TWIN_E_MISSING_FIELD, "/functions/0/name", "needs \"name\""},
        {ONE_FN("{\"name\": \"2x\", \"symbol\": \"fn_nan\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double\"}, \"args\": [" X_ARG
                "]}"),
         TWIN_E_OUT_OF_RANGE, "/functions/0/name", "is not a name"},
        {ONE_FN(NAN_FN(X_ARG) ", " NAN_FN(X_ARG)),
         TWIN_E_OUT_OF_RANGE, "/functions/1/name", "two functions are named "
         "'f' (0 and 1)"},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn_nan\", \"returns\": "
                "{\"type\": \"double\"}, \"args\": [" X_ARG "]}"),
         TWIN_E_MISSING_FIELD, "/functions/0/doc", "needs \"doc\""},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn_nan\", \"doc\": \"d\", "
                "\"args\": [" X_ARG "]}"),
         TWIN_E_MISSING_FIELD, "/functions/0/returns", "needs \"returns\""},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn_nan\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double[]\"}, \"args\": [" X_ARG
                "]}"),
         TWIN_E_OUT_OF_RANGE, "/functions/0/returns/type", "\"out\" arg"},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn_nan\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double\", \"units\": \"K\"}, "
                "\"args\": [" X_ARG "]}"),
         TWIN_E_OUT_OF_RANGE, "/functions/0/returns/units",
         "no member \"units\""},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"float\", \"doc\": "
                       "\"x\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0/type",
         "unknown type \"float\""},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"void\", \"doc\": "
                       "\"x\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0/type",
         "unknown type \"void\""},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"doc\": \"x\"}")),
         TWIN_E_MISSING_FIELD, "/functions/0/args/0/type", "needs \"type\""},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\"}")),
         TWIN_E_MISSING_FIELD, "/functions/0/args/0/doc", "needs \"doc\""},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"unit\": 5}")),
         TWIN_E_WRONG_TYPE, "/functions/0/args/0/unit", "must be a string"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double[]\", \"doc\": "
                       "\"x\"}, {\"name\": \"n\", \"type\": \"int\", "
                       "\"doc\": \"n\"}")),
         TWIN_E_MISSING_FIELD, "/functions/0/args/0/length",
         "needs \"length\""},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double[]\", \"doc\": "
                       "\"x\", \"length\": \"m\"}, {\"name\": \"n\", "
                       "\"type\": \"int\", \"doc\": \"n\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0/length",
         "no argument of that name"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double[]\", \"doc\": "
                       "\"x\", \"length\": \"n\"}, {\"name\": \"n\", "
                       "\"type\": \"double\", \"doc\": \"n\"}")),
         TWIN_E_WRONG_TYPE, "/functions/0/args/0/length",
         "a length is an int, long or size_t"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double[]\", \"doc\": "
                       "\"x\", \"length\": \"x\"}")),
         TWIN_E_WRONG_TYPE, "/functions/0/args/0/length", "a double[]"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"length\": \"x\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0/length",
         "only an array has"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"int[]\", \"doc\": "
                       "\"x\", \"length\": \"n\", \"out\": true}, "
                       "{\"name\": \"n\", \"type\": \"int\", \"doc\": "
                       "\"n\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0/out",
         "only a double[] can be an output"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"out\": \"yes\"}")),
         TWIN_E_WRONG_TYPE, "/functions/0/args/0/out", "true or false"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"min\": 2, \"max\": 1}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0", "min 2 above max 1"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"min\": \"0\"}")),
         TWIN_E_WRONG_TYPE, "/functions/0/args/0/min", "must be a number"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"min_length\": 2}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0",
         "only arrays have min_length"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double[]\", \"doc\": "
                       "\"x\", \"length\": \"n\", \"min_length\": 3, "
                       "\"max_length\": 2}, {\"name\": \"n\", \"type\": "
                       "\"int\", \"doc\": \"n\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0",
         "min_length 3 above max_length 2"},
        {ONE_FN(NAN_FN(X_ARG ", " X_ARG)),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/1/name",
         "two arguments named 'x'"},
        {ONE_FN(NAN_FN("{\"name\": \"x\", \"type\": \"double\", \"doc\": "
                       "\"x\", \"unti\": \"K\"}")),
         TWIN_E_OUT_OF_RANGE, "/functions/0/args/0/unti",
         "no member \"unti\""},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn_ghost\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double\"}}"),
         TWIN_E_UNKNOWN_FUNCTION, "/functions/0/symbol",
         "exports no symbol 'fn_ghost'"},
        {ONE_FN("{\"name\": \"ghost\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double\"}}"),
         TWIN_E_UNKNOWN_FUNCTION, "/functions/0/name",
         "exports no symbol 'ghost'"},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn-nan\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double\"}}"),
         TWIN_E_OUT_OF_RANGE, "/functions/0/symbol", "not a C identifier"},
        {ONE_FN("{\"name\": \"f\", \"symbol\": \"fn_nan\", \"doc\": \"d\", "
                "\"returns\": {\"type\": \"double\"}, \"args\": {}}"),
         TWIN_E_WRONG_TYPE, "/functions/0/args", "an array of arguments"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        twin_errors errs = {0};
        json_t *doc = parse(cases[i].manifest);
        fl_plugin *p = funclib__parse(doc, fntest_handle(), &errs);
        if (p != NULL || !has(&errs, cases[i].code, cases[i].path,
                              cases[i].words)) {
            print_errors(&errs);
            fail_msg("case %zu: want %s at \"%s\" saying \"%s\"%s", i,
                     errors__code_name(cases[i].code), cases[i].path,
                     cases[i].words, p ? ", but it was accepted" : "");
        }
        /* This one mistake, and nothing else. */
        if (errs.count != 1) {
            print_errors(&errs);
            fail_msg("case %zu: %zu problems, want 1", i, errs.count);
        }
        errors__clear(&errs);
        json_decref(doc);
    }
}

static void test_funclib__every_problem_at_once(void **state)
{
    twin_errors errs = {0};
    json_t *doc = parse(
        "{\"contract\": \"twin.functions/9\", \"library\": \"a/b.so\", "
        "\"functions\": [{\"name\": \"f\", \"symbol\": \"fn_ghost\", "
        "\"doc\": \"d\", \"returns\": {\"type\": \"float\"}, \"args\": ["
        "{\"name\": \"x\", \"type\": \"double[]\", \"doc\": \"x\"}]}]}");
    assert_null(funclib__parse(doc, fntest_handle(), &errs));
    assert_int_equal(errs.count, 5);
    assert_true(has(&errs, TWIN_E_BAD_CONTRACT, "/contract", NULL));
    assert_true(has(&errs, TWIN_E_OUT_OF_RANGE, "/library", NULL));
    assert_true(has(&errs, TWIN_E_OUT_OF_RANGE, "/functions/0/returns/type",
                    NULL));
    assert_true(has(&errs, TWIN_E_MISSING_FIELD,
                    "/functions/0/args/0/length", NULL));
    assert_true(has(&errs, TWIN_E_UNKNOWN_FUNCTION, "/functions/0/symbol",
                    NULL));
    errors__clear(&errs);
    json_decref(doc);
}

static void test_funclib__open(void **state)
{
    twin_errors errs = {0};
    fl_plugin *p = funclib__open(fn_path("fntest.json"), &errs);
    if (p == NULL)
        print_errors(&errs);
    assert_non_null(p);
    assert_int_equal(p->n_fns, 17);
    assert_string_equal(p->library, "fntest.so");
    assert_string_equal(p->fns[0].name, "affine");
    assert_string_equal(p->fns[0].signature,
                        "double fn_affine(double a, double b, double x)");
    assert_string_equal(p->fns[4].signature, "int fn_answer(void)");
    assert_string_equal(p->fns[8].signature,
                        "void fn_scale(const double *x, int n, double "
                        "factor, double *y)");
    assert_string_equal(p->fns[7].signature,
                        "long fn_isum(const int *k, long n)");
    funclib__close(&p);
    assert_null(p);
    /* A file that is no manifest, and one that does not exist. */
    p = funclib__open(fn_path("fntest.so"), &errs);
    assert_null(p);
    assert_true(has(&errs, TWIN_E_BAD_JSON, "", "not a JSON manifest"));
    errors__clear(&errs);
    p = funclib__open(fn_path("nothing.json"), &errs);
    assert_null(p);
    assert_true(has(&errs, TWIN_E_BAD_JSON, "", NULL));
    errors__clear(&errs);
}

/* A manifest whose library does not load (missing, or not a shared
 * object) is refused whole: its functions would have no code to call. */
static void test_funclib__library_that_does_not_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/twin-funclib-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char manifest[4096], lib_path[4096];
    snprintf(manifest, sizeof manifest, "%s/m.json", dir);
    snprintf(lib_path, sizeof lib_path, "%s/notso.so", dir);
    FILE *f = fopen(manifest, "w");
    assert_non_null(f);
    fputs(ONE_FN(NAN_FN(X_ARG)), f);
    fclose(f);
    /* Missing; then a file that is text, not a shared object. */
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            f = fopen(lib_path, "w");
            assert_non_null(f);
            fputs("not an ELF file\n", f);
            fclose(f);
            f = fopen(manifest, "w");
            assert_non_null(f);
            fputs("{\"contract\": \"twin.functions/1\", \"library\": "
                  "\"notso.so\", \"functions\": [" NAN_FN(X_ARG) "]}", f);
            fclose(f);
        }
        twin_errors errs = {0};
        fl_plugin *p = funclib__open(manifest, &errs);
        if (p != NULL || errs.count != 1)
            print_errors(&errs);
        assert_null(p);
        assert_int_equal(errs.count, 1);
        assert_true(has(&errs, TWIN_E_OUT_OF_RANGE, "/library",
                        "cannot load the library"));
        errors__clear(&errs);
        /* The directory's loader refuses it too, and loads nothing. */
        func_lib none = {0};
        assert_int_equal(funclib__load_dir(&none, dir, NULL, NULL), 0);
        assert_int_equal(none.n_plugins, 0);
        funclib__free(&none);
    }
    unlink(lib_path);
    unlink(manifest);
    rmdir(dir);
}

/* ---- arguments ----------------------------------------------------------- */

static func_lib lib;

static const fl_function *fn(const char *name)
{
    if (lib.n_plugins == 0 &&
        funclib__load_dir(&lib, getenv("TWIN_TEST_FUNCTION_DIR"), NULL,
                          NULL) <= 0)
        fail_msg("no function loaded from %s",
                 getenv("TWIN_TEST_FUNCTION_DIR"));
    const fl_function *f = funclib__find(&lib, name);
    if (f == NULL)
        fail_msg("no function '%s' in fntest.json", name);
    return f;
}

static void test_funclib__wrong_arguments(void **state)
{
    static const struct {
        const char *fn, *args;
        twin_err_code code;
        const char *path;
    } cases[] = {
        /* count */
        {"affine", "{\"a\": 1, \"b\": 2}", TWIN_E_MISSING_FIELD, "/args/x"},
        {"affine", "{\"a\": 1, \"b\": 2, \"x\": 3, \"c\": 4}",
         TWIN_E_OUT_OF_RANGE, "/args/c"},
        {"answer", "{\"x\": 1}", TWIN_E_OUT_OF_RANGE, "/args/x"},
        {"scale", "{\"x\": [1], \"factor\": 2, \"y\": [1]}",
         TWIN_E_OUT_OF_RANGE, "/args/y"},
        {"squares", "{}", TWIN_E_MISSING_FIELD, "/args/n"},
        {"norm", "{}", TWIN_E_MISSING_FIELD, "/args/x"},
        /* type */
        {"affine", "{\"a\": 1, \"b\": \"2\", \"x\": 3}", TWIN_E_WRONG_TYPE,
         "/args/b"},
        {"affine", "{\"a\": null, \"b\": 2, \"x\": 3}", TWIN_E_WRONG_TYPE,
         "/args/a"},
        {"gcd", "{\"a\": 1.5, \"b\": 2}", TWIN_E_WRONG_TYPE, "/args/a"},
        {"gcd", "{\"a\": 2.0, \"b\": 2}", TWIN_E_WRONG_TYPE, "/args/a"},
        {"lmul", "{\"a\": true, \"b\": 2}", TWIN_E_WRONG_TYPE, "/args/a"},
        {"norm", "{\"x\": 3}", TWIN_E_WRONG_TYPE, "/args/x"},
        {"norm", "{\"x\": [1, [2]]}", TWIN_E_WRONG_TYPE, "/args/x/1"},
        {"isum", "{\"k\": [1, 2.5]}", TWIN_E_WRONG_TYPE, "/args/k/1"},
        {"norm", "{\"x\": [1], \"n\": 1.0}", TWIN_E_WRONG_TYPE, "/args/n"},
        /* range */
        {"affine", "{\"a\": 1, \"b\": 2, \"x\": -100.5}",
         TWIN_E_OUT_OF_RANGE, "/args/x"},
        {"gcd", "{\"a\": 2147483648, \"b\": 2}", TWIN_E_OUT_OF_RANGE,
         "/args/a"},
        {"gcd", "{\"a\": -2147483649, \"b\": 2}", TWIN_E_OUT_OF_RANGE,
         "/args/a"},
        {"zsq", "{\"n\": -1}", TWIN_E_OUT_OF_RANGE, "/args/n"},
        {"zsq", "{\"n\": 3000000001}", TWIN_E_OUT_OF_RANGE, "/args/n"},
        {"isum", "{\"k\": [1, -1001]}", TWIN_E_OUT_OF_RANGE, "/args/k/1"},
        {"isum", "{\"k\": [2147483648]}", TWIN_E_OUT_OF_RANGE, "/args/k/0"},
        {"squares", "{\"n\": -1}", TWIN_E_OUT_OF_RANGE, "/args/n"},
        {"squares", "{\"n\": 1001}", TWIN_E_OUT_OF_RANGE, "/args/n"},
        /* array length */
        {"norm", "{\"x\": []}", TWIN_E_OUT_OF_RANGE, "/args/x"},
        {"norm", "{\"x\": [1, 2, 3, 4, 5, 6, 7, 8, 9]}", TWIN_E_OUT_OF_RANGE,
         "/args/x"},
        {"norm", "{\"x\": [1, 2], \"n\": 3}", TWIN_E_OUT_OF_RANGE,
         "/args/n"},
        {"dot", "{\"x\": [1, 2, 3], \"y\": [1, 2]}", TWIN_E_OUT_OF_RANGE,
         "/args/y"},
        {"mixed", "{\"a\": 1, \"k\": 1, \"v\": [1], \"m\": 1, \"z\": 1, "
                  "\"w\": [1], \"nw\": 2, \"b\": 1}",
         TWIN_E_OUT_OF_RANGE, "/args/nw"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        twin_errors errs = {0};
        json_t *args = parse(cases[i].args);
        fl_call *c = funcall__prepare(fn(cases[i].fn), args, &errs);
        if (c != NULL || errs.count != 1 ||
            !has(&errs, cases[i].code, cases[i].path, NULL)) {
            print_errors(&errs);
            fail_msg("case %zu: %s(%s): want only %s at %s", i, cases[i].fn,
                     cases[i].args, errors__code_name(cases[i].code),
                     cases[i].path);
        }
        errors__clear(&errs);
        json_decref(args);
    }
    /* args that are no object */
    twin_errors errs = {0};
    json_t *arr = parse("[1, 2, 3]");
    assert_null(funcall__prepare(fn("affine"), arr, &errs));
    assert_true(has(&errs, TWIN_E_WRONG_TYPE, "/args", NULL));
    errors__clear(&errs);
    json_decref(arr);
}

/* ---- calls --------------------------------------------------------------- */

static json_t *call_in(const char *name, const char *args, int isolated)
{
    twin_errors errs = {0};
    json_t *a = parse(args);
    fl_call *c = funcall__prepare(fn(name), a, &errs);
    json_decref(a);
    if (c == NULL) {
        print_errors(&errs);
        fail_msg("%s(%s) refused", name, args);
    }
    fl_limits lim = {.seconds = 10};
    if (isolated) {
        if (funcall__run(c, &lim, &errs) != 0) {
            print_errors(&errs);
            fail_msg("%s(%s) failed in its process", name, args);
        }
    } else {
        funcall__invoke(c);
    }
    json_t *ans = funcall__answer(c);
    funcall__free(&c);
    errors__clear(&errs);
    return ans;
}

static double value_of(const json_t *ans)
{
    const json_t *v = json_object_get(ans, "value");
    if (!json_is_number(v))
        fail_msg("no number in the answer");
    return json_number_value(v);
}

static void check_every_kind(int isolated)
{
    json_t *a;
    a = call_in("affine", "{\"a\": 1.5, \"b\": -2.25, \"x\": 3.5}", isolated);
    assert_true(value_of(a) == 1.5 * 3.5 - 2.25);
    json_decref(a);
    a = call_in("gcd", "{\"a\": -1071, \"b\": 462}", isolated);
    assert_true(json_is_integer(json_object_get(a, "value")));
    assert_true(value_of(a) == 21);
    json_decref(a);
    a = call_in("gcd", "{\"a\": 2147483647, \"b\": 0}", isolated);
    assert_true(value_of(a) == INT_MAX);
    json_decref(a);
    a = call_in("lmul", "{\"a\": 3000000007, \"b\": -3}", isolated);
    assert_int_equal(json_integer_value(json_object_get(a, "value")),
                     -9000000021LL);
    json_decref(a);
    a = call_in("zsq", "{\"n\": 3000000000}", isolated);
    assert_int_equal(json_integer_value(json_object_get(a, "value")),
                     9000000000000000000LL);
    json_decref(a);
    a = call_in("answer", "{}", isolated);
    assert_int_equal(json_integer_value(json_object_get(a, "value")), 42);
    json_decref(a);
    a = call_in("norm", "{\"x\": [3, -4, 12]}", isolated);
    assert_true(value_of(a) == sqrt(9.0 + 16.0 + 144.0));
    json_decref(a);
    a = call_in("dot", "{\"x\": [3, -4, 12], \"y\": [0.5, 0.25, -2], "
                "\"n\": 3}", isolated);
    assert_true(value_of(a) == 3 * 0.5 - 4 * 0.25 - 12 * 2.0);
    json_decref(a);
    a = call_in("isum", "{\"k\": [1000, -7, 250, -1000, 3]}", isolated);
    assert_int_equal(json_integer_value(json_object_get(a, "value")), 246);
    json_decref(a);
    a = call_in("scale", "{\"x\": [1, -2.5, 4], \"factor\": -0.5}", isolated);
    assert_true(json_is_null(json_object_get(a, "value")));
    const json_t *y = json_object_get(json_object_get(a, "outputs"), "y");
    assert_int_equal(json_array_size(y), 3);
    assert_true(json_real_value(json_array_get(y, 0)) == -0.5);
    assert_true(json_real_value(json_array_get(y, 1)) == 1.25);
    assert_true(json_real_value(json_array_get(y, 2)) == -2.0);
    json_decref(a);
    a = call_in("squares", "{\"n\": 7}", isolated);
    y = json_object_get(json_object_get(a, "outputs"), "y");
    assert_int_equal(json_array_size(y), 7);
    for (size_t i = 0; i < 7; i++)
        assert_true(json_real_value(json_array_get(y, i)) == (double)(i * i));
    json_decref(a);
    a = call_in("mixed", "{\"a\": 1.25, \"k\": -3, \"v\": [0.125, 2.5], "
                "\"m\": 1000000000000, \"z\": 17, \"w\": [7, -1, 4], "
                "\"b\": 0.0625}", isolated);
    assert_true(value_of(a) ==
                1.25 * -3 + 1e12 + 17 + 0.0625 + 0.125 + 2.5 + 1000.0 * 10);
    json_decref(a);
    a = call_in("nan", "{\"x\": -1}", isolated);
    assert_true(json_is_null(json_object_get(a, "value")));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(a, "nonfinite"), 0)),
                        "value");
    json_decref(a);
}

static void test_funclib__calls_in_process(void **state)
{
    check_every_kind(0);
}

static void test_funclib__calls_in_a_child(void **state)
{
    check_every_kind(1);
}

static void test_funclib__faults_end_the_call(void **state)
{
    static const struct {
        const char *fn, *args;
        double seconds;
        twin_err_code code;
        const char *words;
    } cases[] = {
        {"crash", "{\"x\": 1}", 10, TWIN_E_MODEL_CRASHED,
         "died of signal 11 (Segmentation fault)"},
        {"exits", "{\"x\": 1}", 10, TWIN_E_MODEL_CRASHED, "exit status 3"},
        {"exits", "{\"x\": 0}", 10, TWIN_E_MODEL_CRASHED,
         "before the result was written"},
        {"loop", "{\"x\": 1}", 0.3, TWIN_E_TIMEOUT, "within 0.3 s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        twin_errors errs = {0};
        json_t *a = parse(cases[i].args);
        fl_call *c = funcall__prepare(fn(cases[i].fn), a, &errs);
        assert_non_null(c);
        fl_limits lim = {.seconds = cases[i].seconds};
        assert_int_equal(funcall__run(c, &lim, &errs), -1);
        if (!has(&errs, cases[i].code, "/function", cases[i].words) ||
            !has(&errs, cases[i].code, "/function", cases[i].fn)) {
            print_errors(&errs);
            fail_msg("case %zu: %s: want %s saying \"%s\"", i, cases[i].fn,
                     errors__code_name(cases[i].code), cases[i].words);
        }
        funcall__free(&c);
        errors__clear(&errs);
        json_decref(a);
    }
    /* the CPU-time limit */
    twin_errors errs = {0};
    json_t *a = parse("{\"x\": 1}");
    fl_call *c = funcall__prepare(fn("loop"), a, &errs);
    fl_limits lim = {.seconds = 10, .cpu_seconds = 1};
    assert_int_equal(funcall__run(c, &lim, &errs), -1);
    assert_true(has(&errs, TWIN_E_TIMEOUT, "/function",
                    "CPU-time limit of 1 s"));
    funcall__free(&c);
    errors__clear(&errs);
    json_decref(a);
}

/* What isolation costs: the same call in this process and in a child,
 * with the same results.  The figures are printed (docs/functions.md). */
static void test_funclib__cost_of_a_child(void **state)
{
    enum { N = 300 };
    twin_errors errs = {0};
    json_t *a = parse("{\"x\": [3, -4, 12, 0.5, 7], \"y\": [1, 2, 3, 4, 5]}");
    fl_call *c = funcall__prepare(fn("dot"), a, &errs);
    assert_non_null(c);
    fl_limits lim = {.seconds = 10};
    double t0 = util__now();
    for (int i = 0; i < N; i++)
        funcall__invoke(c);
    double inproc = (util__now() - t0) / N;
    json_t *want = funcall__answer(c);
    funcall__free(&c);
    double t1 = util__now();
    for (int i = 0; i < N; i++) {
        c = funcall__prepare(fn("dot"), a, &errs);
        assert_int_equal(funcall__run(c, &lim, &errs), 0);
        json_t *got = funcall__answer(c);
        assert_true(json_equal(got, want));
        json_decref(got);
        funcall__free(&c);
    }
    double in_child = (util__now() - t1) / N;
    printf("    cost of a call of dot(5): %.2f us in this process, %.0f us "
           "checked and run in a child process\n", 1e6 * inproc,
           1e6 * in_child);
    json_decref(want);
    json_decref(a);
}

static int teardown(void **state)
{
    funclib__free(&lib);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_funclib__manifest_problems),
        cmocka_unit_test(test_funclib__every_problem_at_once),
        cmocka_unit_test(test_funclib__open),
        cmocka_unit_test(test_funclib__library_that_does_not_load),
        cmocka_unit_test(test_funclib__wrong_arguments),
        cmocka_unit_test(test_funclib__calls_in_process),
        cmocka_unit_test(test_funclib__calls_in_a_child),
        cmocka_unit_test(test_funclib__faults_end_the_call),
        cmocka_unit_test(test_funclib__cost_of_a_child),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
