/*
 * test_collect.c — one run's results put back in order: arrival orders
 * with duplicates, gaps and another controller's messages, given as
 * tables; numbers written as they were sent; the same CSV from CBOR as
 * from JSON; malformed messages refused.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect.h"
#include "csv.h"

/* A result message of seq with two rows, t = 2 seq and 2 seq + 1, and
 * x = 10 t. */
static json_t *message(long long seq)
{
    char text[256];
    snprintf(text, sizeof text,
             "{\"contract\":\"twin.result/1\",\"run\":\"r\",\"seq\":%lld,"
             "\"columns\":[\"t\",\"x\"],\"rows\":[[%lld,%lld],[%lld,%lld]]}",
             seq, 2 * seq, 20 * seq, 2 * seq + 1, 20 * seq + 10);
    json_t *m = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(m);
    return m;
}

static json_t *columns(void)
{
    return json_pack("[s, s]", "t", "x");
}

static void test_collect__orders(void **state)
{
    static const struct {
        const char *name;
        int seqs[8];          /* arrival order, -1 ends */
        const char *from[8];  /* the sender of each, NULL: "ctl" */
        int source_last;      /* the source is learned after them */
        long long last_seq;
        long long want_next;
        unsigned long long want_dups;
        const char *want_missing;
    } cases[] = {
        {"in order", {0, 1, 2, -1}, {0}, 0, 2, 3, 0, ""},
        {"reversed with duplicates", {2, 1, 1, 0, 2, -1}, {0}, 0, 2, 3, 2,
         ""},
        {"before the source is known", {1, 0, -1}, {0}, 1, 1, 2, 0, ""},
        {"another controller's first", {0, 0, 1, -1}, {"other"}, 1, 1, 2, 0,
         ""},
        {"two controllers, then the source", {0, 0, 0, 1, 1, -1},
         {"other", NULL, "other", NULL, "other"}, 1, 1, 2, 1, ""},
        {"another controller's later", {0, 1, -1}, {NULL, "other"}, 0, 1, 1,
         0, "1"},
        {"gaps", {0, 2, 5, -1}, {0}, 0, 6, 1, 0, "1, 3-4, 6"},
        {"nothing came", {-1}, {0}, 0, 1, 0, 0, "0-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL, why[256], missing[128];
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        rows_out *ro = rows_out__stream(out);
        collect *c = collect__new(ro, NULL);
        json_t *cols = columns();
        assert_non_null(c);
        assert_int_equal(collect__columns(c, cols), 0);
        if (!cases[i].source_last)
            assert_int_equal(collect__source(c, "ctl", why, sizeof why), 0);
        for (int k = 0; cases[i].seqs[k] >= 0; k++) {
            const char *from = cases[i].from[k] ? cases[i].from[k] : "ctl";
            assert_true(collect__take(c, message(cases[i].seqs[k]), from,
                                      why, sizeof why) >= 0);
        }
        if (cases[i].source_last)
            assert_int_equal(collect__source(c, "ctl", why, sizeof why), 0);
        rows_out__close(&ro, NULL, 0);
        fclose(out);
        if (collect__next_seq(c) != cases[i].want_next ||
            collect__duplicates(c) != cases[i].want_dups)
            fail_msg("%s: next seq %lld, %llu duplicates", cases[i].name,
                     collect__next_seq(c), collect__duplicates(c));
        collect__missing(c, cases[i].last_seq, missing, sizeof missing);
        if (strcmp(missing, cases[i].want_missing) != 0)
            fail_msg("%s: missing \"%s\", expected \"%s\"", cases[i].name,
                     missing, cases[i].want_missing);
        assert_int_equal(collect__complete(c, cases[i].last_seq),
                         cases[i].want_missing[0] == '\0');
        /* The CSV: the header, then rows 0 .. 2 next - 1 in order. */
        char want[1024] = "t,x\n";
        for (long long t = 0; t < 2 * cases[i].want_next; t++)
            snprintf(want + strlen(want), sizeof want - strlen(want),
                     "%lld,%lld\n", t, 10 * t);
        if (strcmp(text, want) != 0)
            fail_msg("%s: CSV\n%s\nexpected\n%s", cases[i].name, text,
                     want);
        assert_int_equal(collect__rows(c), 2 * cases[i].want_next);
        collect__free(&c);
        assert_null(c);
        json_decref(cols);
        free(text);
    }
}

/* What the sender writes (csv__number) comes out of the CSV unchanged. */
static void test_collect__numbers(void **state)
{
    static const double values[] = {
        0.0, -0.0, 0.1, 1.0 / 3.0, 100, 1e21, 5e-324, 1.7976931348623157e308,
        -2.2250738585072014e-308, 123456789012345680.0, 9007199254740993.0,
        0.82000000000000006,
    };
    size_t n = sizeof values / sizeof values[0];
    char text[4096] = "{\"seq\":0,\"columns\":[\"t\",\"x\"],\"rows\":[";
    char want[4096] = "t,x\n";
    for (size_t i = 0; i < n; i++) {
        char num[40];
        csv__number(num, sizeof num, values[i]);
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "%s[%zu,%s]", i ? "," : "", i, num);
        snprintf(want + strlen(want), sizeof want - strlen(want),
                 "%zu,%s\n", i, num);
    }
    strcat(text, ",[99,null]]}");
    strcat(want, "99,nan\n");

    char *csv = NULL, why[256];
    size_t len = 0;
    FILE *out = open_memstream(&csv, &len);
    rows_out *ro = rows_out__stream(out);
    collect *c = collect__new(ro, NULL);
    json_t *cols = columns();
    collect__columns(c, cols);
    collect__source(c, "ctl", why, sizeof why);
    json_t *m = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(m);
    assert_int_equal(collect__take(c, m, "ctl", why, sizeof why), 0);
    rows_out__close(&ro, NULL, 0);
    fclose(out);
    assert_string_equal(csv, want);
    assert_true(collect__t(c) == 99);
    collect__free(&c);
    json_decref(cols);
    free(csv);
}

/* The same rows as CBOR (as a controller writes them) and as JSON, taken
 * as payloads by their content types: the same CSV, byte for byte; a
 * damaged CBOR payload is refused with a sentence. */
static void test_collect__cbor(void **state)
{
    static const double rows[][2] = {
        {0, 1}, {0.1, 1.0 / 3.0}, {1e21, -0.0}, {5e-324, NAN},
    };
    json_t *cols = columns();
    char *csv[2] = {NULL, NULL}, why[256];
    size_t csv_len[2];
    for (int cbor = 0; cbor <= 1; cbor++) {
        result_enc e;
        assert_int_equal(result_enc__init(&e, cbor, "r", cols), 0);
        char buf[4 * 64];
        size_t used = 0, len;
        for (size_t i = 0; i < 4; i++)
            used += result_enc__row(&e, buf + used, i == 0, rows[i]);
        char *msg = result_enc__message(&e, 0, buf, used, &len);
        result_enc__free(&e);
        FILE *out = open_memstream(&csv[cbor], &csv_len[cbor]);
        rows_out *ro = rows_out__stream(out);
        collect *c = collect__new(ro, NULL);
        collect__columns(c, cols);
        collect__source(c, "ctl", why, sizeof why);
        assert_int_equal(collect__take_payload(c, msg, len, cbor
                                               ? RESULT_CONTENT_CBOR
                                               : RESULT_CONTENT_JSON,
                                               "ctl", why, sizeof why), 0);
        if (cbor) {
            /* Cut short: refused, said, counted. */
            assert_int_equal(collect__take_payload(c, msg, len - 3,
                                                   RESULT_CONTENT_CBOR,
                                                   "ctl", why, sizeof why),
                             -1);
            assert_non_null(strstr(why, "ends early"));
            assert_int_equal(collect__bad(c), 1);
        }
        assert_int_equal(collect__rows(c), 4);
        rows_out__close(&ro, NULL, 0);
        fclose(out);
        collect__free(&c);
        free(msg);
    }
    assert_string_equal(csv[0], csv[1]);
    free(csv[0]);
    free(csv[1]);
    json_decref(cols);
}

static void test_collect__refused(void **state)
{
    static const struct {
        const char *name;
        const char *msg;
        const char *why;
    } cases[] = {
        {"no seq", "{\"rows\":[[0,1]]}", "with a seq"},
        {"negative seq", "{\"seq\":-1,\"rows\":[[0,1]]}", "with a seq"},
        {"short row", "{\"seq\":0,\"columns\":[\"t\",\"x\"],"
                      "\"rows\":[[0]]}", "has 1 values for 2 columns"},
        {"a string", "{\"seq\":0,\"columns\":[\"t\",\"x\"],"
                     "\"rows\":[[0,\"a\"]]}", "neither a number nor null"},
        {"other columns", "{\"seq\":0,\"columns\":[\"t\",\"y\"],"
                          "\"rows\":[[0,1]]}", "other columns"},
        {"no rows", "{\"seq\":0,\"columns\":[\"t\",\"x\"]}", "no \"rows\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[256];
        collect *c = collect__new(NULL, NULL);
        json_t *cols = columns();
        collect__columns(c, cols);
        collect__source(c, "ctl", why, sizeof why);
        json_t *m = json_loads(cases[i].msg, JSON_DECODE_INT_AS_REAL, NULL);
        assert_non_null(m);
        if (collect__take(c, m, "ctl", why, sizeof why) != -1 ||
            strstr(why, cases[i].why) == NULL)
            fail_msg("%s: \"%s\"", cases[i].name, why);
        assert_int_equal(collect__bad(c), 1);
        collect__free(&c);
        json_decref(cols);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collect__orders),
        cmocka_unit_test(test_collect__numbers),
        cmocka_unit_test(test_collect__refused),
        cmocka_unit_test(test_collect__cbor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
