/*
 * test_csv.c — the CSV line (csv.h): rows composed with the per-column
 * memory of the last value against each cell formatted on its own
 * (dtoa__shortest, no memory) and read back with strtod, on rows where
 * columns repeat, alternate and change; values that compare equal but
 * differ in their bits (0 and -0) must not share a text.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"
#include "dtoa.h"

/* The line as a line without memory writes it: each value's own text,
 * commas between, a newline. */
static size_t expected_line(const double *v, size_t n, char *out)
{
    char *w = out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        w += dtoa__shortest(v[i], w);
    }
    *w++ = '\n';
    *w = '\0';
    return (size_t)(w - out);
}

/* line's text of v equals the expected one, and every cell reads back
 * to v's bits (NaN: a NaN). */
static void check_row(csv_line *line, const double *v, size_t n)
{
    char want[64 * DTOA_SIZE + 2];
    size_t len = csv__line_format(line, v);
    size_t wlen = expected_line(v, n, want);
    assert_int_equal(len, wlen);
    assert_memory_equal(line->buf, want, len);
    const char *p = line->buf;
    for (size_t i = 0; i < n; i++) {
        char *end;
        double got = strtod(p, &end);
        assert_true(*end == (i + 1 < n ? ',' : '\n'));
        if (isnan(v[i])) {
            assert_true(isnan(got));
        } else {
            uint64_t a, b;
            memcpy(&a, &got, sizeof a);
            memcpy(&b, &v[i], sizeof b);
            assert_true(a == b);
        }
        p = end + 1;
    }
}

/* Hand-made rows: a column that stays, one that goes 0, -0, 0, one that
 * goes A, B, A, NaNs of two payloads, infinities, zero bits first. */
static void test_csv__line_cases(void **state)
{
    (void)state;
    double nan2;
    uint64_t bits = 0x7ff8000000000123u;
    memcpy(&nan2, &bits, sizeof nan2);
    static double rows[][6] = {
        {0, 0.0, 1.5, 273.15, 0, 1e-300},
        {1, -0.0, 2.5, 273.15, 0, 1e-300},
        {2, 0.0, 1.5, 273.15, -0.0, 1e300},
        {3, -0.0, 1.5, 273.15, 0, 1e-300},
        {4, INFINITY, 1.5, 273.14999999999998, 0, -INFINITY},
        {5, INFINITY, 1.5, 0.1, 0, -INFINITY},
    };
    rows[3][2] = NAN;
    rows[4][2] = nan2;
    csv_line line;
    assert_int_equal(csv__line_init(&line, 6), 0);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        check_row(&line, rows[r], 6);
    /* -0 after 0 in the same column is "-0": the text goes by the bits. */
    const double z[6] = {6, -0.0, 0, 0, 0, 0};
    csv__line_format(&line, z);
    assert_memory_equal(line.buf, "6,-0,0,0,0,0\n", 13);
    csv__line_free(&line);
}

/* Random rows of 1 to 64 columns: each cell kept from the row before, or
 * from a small pool (values come back), or any bit pattern. */
static void test_csv__line_random(void **state)
{
    (void)state;
    srand(12);
    double pool[8];
    for (size_t k = 0; k < 8; k++)
        pool[k] = (rand() - RAND_MAX / 2) / 1e3;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + (size_t)rand() % 64;
        double v[64] = {0};
        csv_line line;
        assert_int_equal(csv__line_init(&line, n), 0);
        for (int r = 0; r < 200; r++) {
            for (size_t i = 0; i < n; i++) {
                int what = rand() % 10;
                if (what < 6)
                    continue; /* as before */
                if (what < 9) {
                    v[i] = pool[rand() % 8];
                } else {
                    uint64_t b = ((uint64_t)rand() << 42) ^
                                 ((uint64_t)rand() << 21) ^ (uint64_t)rand();
                    memcpy(&v[i], &b, sizeof b);
                }
            }
            check_row(&line, v, n);
        }
        csv__line_free(&line);
    }
}

/* csv__row writes the line, and a row of no column is an empty line. */
static void test_csv__row_writes(void **state)
{
    (void)state;
    char out[256];
    FILE *f = fmemopen(out, sizeof out, "w");
    assert_non_null(f);
    csv_line line, none;
    assert_int_equal(csv__line_init(&line, 3), 0);
    assert_int_equal(csv__line_init(&none, 0), 0);
    const double a[3] = {0, 0.1, 2}, b[3] = {1, 0.1, 2.5};
    assert_int_equal(csv__row(f, &line, a), 0);
    assert_int_equal(csv__row(f, &line, b), 0);
    assert_int_equal(csv__row(f, &none, a), 0);
    fclose(f);
    assert_string_equal(out, "0,0.1,2\n1,0.1,2.5\n\n");
    csv__line_free(&line);
    csv__line_free(&none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv__line_cases),
        cmocka_unit_test(test_csv__line_random),
        cmocka_unit_test(test_csv__row_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
