/*
 * test_result_msg.c — result messages written and read back: a batch of
 * rows (non-finite values and extremes among them) in JSON and in CBOR
 * reads back to the same doubles, bit for bit (JSON: non-finite as NaN);
 * the CBOR bytes are the ones RFC 8949 and RFC 8746 give (checked
 * against a message written by hand); the other encoding of a message
 * reads back to the same values.  Hostile CBOR — every prefix of a good
 * message, every byte flipped, deep nesting, huge declared lengths,
 * indefinite lengths, the wrong tag, rows that are not whole — is a
 * sentence, never a crash or a message.
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

#include "result_msg.h"

#define N_COLS 3

static const double rows[][N_COLS] = {
    {0, 1, 0.015},
    {0.1, -0.0, 5e-324},
    {1e300, 2.2250738585072014e-308, 0.30000000000000004},
    {86400, NAN, INFINITY},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static json_t *columns(void)
{
    return json_pack("[s, s, s]", "t", "tank0.h", "tank0.q_out");
}

/* The message of seq 7 with every row, in one encoding. */
static char *message(int cbor, size_t *len)
{
    result_enc e;
    json_t *cols = columns();
    assert_int_equal(result_enc__init(&e, cbor, "run-1", cols), 0);
    char *buf = malloc(N_ROWS * result_enc__row_max(&e));
    size_t used = 0;
    for (size_t i = 0; i < N_ROWS; i++)
        used += result_enc__row(&e, buf + used, i == 0, rows[i]);
    char *msg = result_enc__message(&e, 7, buf, used, len);
    assert_non_null(msg);
    free(buf);
    result_enc__free(&e);
    json_decref(cols);
    return msg;
}

static void same_bits(double a, double b, int nonfinite_as_nan)
{
    if (!isfinite(a) && nonfinite_as_nan) {
        assert_true(isnan(b));
        return;
    }
    assert_memory_equal(&a, &b, sizeof a);
}

static void check_values(const result_msg *m, int nonfinite_as_nan)
{
    assert_int_equal(m->seq, 7);
    assert_string_equal(m->run, "run-1");
    assert_int_equal(m->n_cols, N_COLS);
    assert_int_equal(m->n_rows, N_ROWS);
    json_t *cols = columns();
    assert_true(json_equal(m->columns, cols));
    json_decref(cols);
    for (size_t i = 0; i < N_ROWS; i++)
        for (size_t k = 0; k < N_COLS; k++)
            same_bits(rows[i][k], m->values[i * N_COLS + k],
                      nonfinite_as_nan);
}

static void test_result_msg__round_trip(void **state)
{
    (void)state;
    for (int cbor = 0; cbor <= 1; cbor++) {
        size_t len;
        char *msg = message(cbor, &len);
        result_msg m;
        char why[256];
        assert_int_equal(result_msg__decode(msg, len, cbor, &m, why,
                                            sizeof why), 0);
        check_values(&m, !cbor);
        /* The other encoding reads back to the same values. */
        size_t len2;
        char *other = result_msg__encode(&m, !cbor, &len2);
        result_msg m2;
        assert_int_equal(result_msg__decode(other, len2, !cbor, &m2, why,
                                            sizeof why), 0);
        check_values(&m2, 1);
        result_msg__clear(&m);
        result_msg__clear(&m2);
        free(other);
        free(msg);
    }
}

static void test_result_msg__cbor_bytes(void **state)
{
    (void)state;
    size_t len;
    char *msg = message(1, &len);
    /* map(5), "contract" "twin.result/1", "run" "run-1", "seq" 7,
     * "columns" [3 names], "rows" 86(bytes(96)). */
    static const unsigned char head[] = {
        0xa5, 0x68, 'c', 'o', 'n', 't', 'r', 'a', 'c', 't', 0x6d, 't', 'w',
        'i', 'n', '.', 'r', 'e', 's', 'u', 'l', 't', '/', '1', 0x63, 'r',
        'u', 'n', 0x65, 'r', 'u', 'n', '-', '1', 0x63, 's', 'e', 'q', 0x07,
        0x67, 'c', 'o', 'l', 'u', 'm', 'n', 's', 0x83, 0x61, 't', 0x67, 't',
        'a', 'n', 'k', '0', '.', 'h', 0x6b, 't', 'a', 'n', 'k', '0', '.',
        'q', '_', 'o', 'u', 't', 0x64, 'r', 'o', 'w', 's', 0xd8, 0x56, 0x58,
        N_ROWS * N_COLS * 8};
    assert_int_equal(len, sizeof head + N_ROWS * N_COLS * 8);
    assert_memory_equal(msg, head, sizeof head);
    /* 1.0, little-endian: 00 .. 00 f0 3f. */
    static const unsigned char one[] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_memory_equal(msg + sizeof head + 8, one, 8);
    free(msg);
}

static void expect_refused(const void *p, size_t len)
{
    result_msg m;
    char why[256] = "";
    assert_int_equal(result_msg__decode(p, len, 1, &m, why, sizeof why), -1);
    assert_true(why[0] != '\0');
    assert_null(m.values);
}

static void test_result_msg__hostile_cbor(void **state)
{
    (void)state;
    size_t len;
    char *msg = message(1, &len);
    /* Every prefix. */
    for (size_t n = 0; n < len; n++)
        expect_refused(msg, n);
    /* Every byte flipped: refused, or read as some message (a flipped
     * value byte), never past the buffer. */
    for (size_t i = 0; i < len; i++) {
        char *copy = malloc(len);
        memcpy(copy, msg, len);
        copy[i] ^= 0xff;
        result_msg m;
        char why[256];
        if (result_msg__decode(copy, len, 1, &m, why, sizeof why) == 0)
            result_msg__clear(&m);
        free(copy);
    }
    free(msg);
    static const struct {
        const char *what;
        unsigned char bytes[32];
        size_t len;
    } cases[] = {
        {"not a map", {0x83, 1, 2, 3}, 4},
        {"an indefinite map", {0xbf, 0xff}, 2},
        {"a key that is no text", {0xa1, 0x01, 0x02}, 3},
        {"a map claiming 2^64 pairs", {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff}, 9},
        {"seq negative", {0xa1, 0x63, 's', 'e', 'q', 0x20}, 6},
        {"rows without tag 86", {0xa1, 0x64, 'r', 'o', 'w', 's', 0x40}, 7},
        {"rows with tag 85", {0xa1, 0x64, 'r', 'o', 'w', 's', 0xd8, 0x55,
                              0x40}, 9},
        {"rows an indefinite byte string", {0xa1, 0x64, 'r', 'o', 'w', 's',
                                            0xd8, 0x56, 0x5f, 0x41, 0,
                                            0xff}, 12},
        {"rows claiming 2^32 bytes", {0xa1, 0x64, 'r', 'o', 'w', 's', 0xd8,
                                      0x56, 0x5a, 0xff, 0xff, 0xff, 0xff},
         13},
        {"columns claiming 2^32 names", {0xa1, 0x67, 'c', 'o', 'l', 'u',
                                         'm', 'n', 's', 0x9a, 0xff, 0xff,
                                         0xff, 0xff}, 14},
        {"no seq, rows or columns", {0xa0}, 1},
        {"bytes after the map", {0xa0, 0x00}, 2},
        {"an unknown member nested too deep", {0xa1, 0x61, 'x'}, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i == sizeof cases / sizeof cases[0] - 1) {
            /* {"x": [[[[ … 100 000 deep */
            size_t n = 100000;
            unsigned char *deep = malloc(3 + n);
            memcpy(deep, cases[i].bytes, 3);
            memset(deep + 3, 0x81, n);
            expect_refused(deep, 3 + n);
            memset(deep + 3, 0x9f, n); /* indefinite arrays */
            expect_refused(deep, 3 + n);
            free(deep);
            continue;
        }
        expect_refused(cases[i].bytes, cases[i].len);
    }
}

static void test_result_msg__rows_not_whole(void **state)
{
    (void)state;
    result_msg m = {0};
    m.run = strdup("r");
    m.seq = 1;
    m.columns = columns();
    m.n_cols = N_COLS;
    m.n_rows = 1;
    m.values = calloc(N_COLS, sizeof *m.values);
    size_t len;
    char *msg = result_msg__encode(&m, 1, &len);
    result_msg__clear(&m);
    /* The byte string's head says 24 bytes (one row of three values):
     * make it 16, and cut 8 bytes, so that it holds no whole row. */
    char *p = memchr(msg, 0x58, len);
    assert_non_null(p);
    assert_int_equal((unsigned char)p[1], 24);
    p[1] = 16;
    expect_refused(msg, len - 8);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_msg__round_trip),
        cmocka_unit_test(test_result_msg__cbor_bytes),
        cmocka_unit_test(test_result_msg__hostile_cbor),
        cmocka_unit_test(test_result_msg__rows_not_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
