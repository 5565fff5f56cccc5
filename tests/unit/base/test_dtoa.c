/*
 * test_dtoa.c — the shortest text of a double (dtoa.c), checked against
 * glibc's strtod and printf, not against itself: every string reads back
 * to the same double bit for bit, none has more significant digits than
 * the fewest that do (both decimals of one digit fewer around the value
 * are tried: neither may read back), it is a JSON number, and its form is
 * the shorter of decimal and exponent.
 *
 * The sweep covers all bit patterns at random, subnormals, the extremes,
 * integers, values near powers of ten and of two, and short decimals such
 * as measurements are: TWIN_DTOA_COUNT doubles (default 10 000 000; the
 * sanitizer run takes fewer), from a fixed seed (TWIN_DTOA_SEED).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtoa.h"

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double of_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* splitmix64: a reproducible stream of 64-bit numbers. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* The significant digits of a decimal string, leading and trailing zeros
 * of the mantissa aside (trailing zeros before the point count as
 * placeholders, not digits). */
static int significant_digits(const char *s)
{
    char m[64];
    size_t k = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            m[k++] = *s;
    m[k] = '\0';
    size_t a = 0;
    while (a < k && m[a] == '0')
        a++;
    while (k > a && m[k - 1] == '0')
        k--;
    return (int)(k - a);
}

/* Both decimals of `digits` significant digits around |v| (v finite,
 * nonzero): printf's correctly rounded one and its neighbour on v's other
 * side.  Returns how many were written (1 or 2). */
static int neighbours(double v, int digits, char out[2][48])
{
    double a = fabs(v);
    snprintf(out[0], 48, "%.*e", digits - 1, a);
    double r = strtod(out[0], NULL);
    if (r == a)
        return 1; /* reads back: the caller's check fails on it */
    /* The mantissa as an integer of `digits` digits, and its exponent. */
    char *e = strchr(out[0], 'e');
    int exp10 = atoi(e + 1);
    uint64_t m = 0;
    for (const char *p = out[0]; p < e; p++)
        if (*p >= '0' && *p <= '9')
            m = m * 10 + (uint64_t)(*p - '0');
    m = r < a ? m + 1 : m - 1;
    snprintf(out[1], 48, "%" PRIu64 "e%d", m, exp10 - (digits - 1));
    return 2;
}

/* The power of ten of a number's first significant digit, read off its
 * text (1 for "12.5", -3 for "0.0012", 15 for "1e+15"). */
static int leading_exponent(const char *text)
{
    const char *e = strchr(text, 'e');
    if (e != NULL)
        return atoi(e + 1);
    if (*text == '-')
        text++;
    const char *dot = strchr(text, '.');
    size_t whole = dot ? (size_t)(dot - text) : strlen(text);
    if (!(whole == 1 && text[0] == '0'))
        return (int)whole - 1;
    int zeros = 0;
    for (const char *p = dot + 1; *p == '0'; p++)
        zeros++;
    return -(zeros + 1);
}

/* Everything asked of one double's text; the failure names the value. */
static void check_one(double v)
{
    char text[DTOA_SIZE + 8];
    memset(text, 'x', sizeof text);
    size_t n = dtoa__shortest(v, text);
    if (n != strlen(text) || n >= DTOA_SIZE)
        fail_msg("%a: length %zu for '%s'", v, n, text);
    if (isnan(v)) {
        assert_string_equal(text, "nan");
        return;
    }
    if (isinf(v)) {
        assert_string_equal(text, v > 0 ? "inf" : "-inf");
        return;
    }
    if (!is_json_number(text))
        fail_msg("%a: '%s' is not a JSON number", v, text);
    char *end = NULL;
    double back = strtod(text, &end);
    if (*end != '\0' || bits_of(back) != bits_of(v))
        fail_msg("%a (%.17g): '%s' reads back as %a", v, v, text, back);
    if (v == 0)
        return;
    int digits = significant_digits(text);
    if (digits < 1 || digits > 17)
        fail_msg("%a: '%s' has %d digits", v, text, digits);
    if (digits > 1) {
        char fewer[2][48];
        int k = neighbours(v, digits - 1, fewer);
        for (int i = 0; i < k; i++)
            if (strtod(fewer[i], NULL) == fabs(v))
                fail_msg("%a: '%s' has %d digits, but '%s' reads back too",
                         v, text, digits, fewer[i]);
    }
    /* The form: decimal unless the exponent form is shorter. */
    int e10 = leading_exponent(text);
    size_t sci = (size_t)digits + (digits > 1) + (abs(e10) >= 100 ? 5 : 4);
    int point = e10 + 1;
    size_t dec = point <= 0 ? (size_t)(2 - point + digits)
                 : point < digits ? (size_t)digits + 1
                                  : (size_t)point;
    size_t unsigned_n = n - (signbit(v) ? 1 : 0);
    if (strchr(text, 'e') != NULL) {
        if (unsigned_n != sci || dec <= sci)
            fail_msg("%a: '%s' should be decimal (%zu characters, not %zu)",
                     v, text, dec, sci);
    } else if (unsigned_n != dec || dec > sci) {
        fail_msg("%a: '%s' should be in the exponent form (%zu characters, "
                 "not %zu)", v, text, sci, dec);
    }
}

static void test_dtoa__known(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {1.0, "1"},
        {-1.5, "-1.5"},
        {20.0, "20"},
        {86400.0, "86400"},
        {0.7, "0.7"},
        {273.15, "273.15"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {0.001, "0.001"},
        {0.0001, "1e-04"},
        {1e-5, "1e-05"},
        {1.5e-5, "1.5e-05"},
        {123456.0, "123456"},
        {1e15, "1e+15"},
        {1e21, "1e+21"},
        {1.2345e6, "1234500"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {5e-324, "5e-324"},
        {-2.2250738585072009e-308, "-2.225073858507201e-308"},
        {9007199254740993.0, "9007199254740992"},
        {76.92307692307752, "76.92307692307752"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[DTOA_SIZE];
        dtoa__shortest(cases[i].v, text);
        assert_string_equal(text, cases[i].want);
        check_one(cases[i].v);
    }
    char text[DTOA_SIZE];
    dtoa__shortest(NAN, text);
    assert_string_equal(text, "nan");
    dtoa__shortest(-INFINITY, text);
    assert_string_equal(text, "-inf");
}

/* One double of the sweep's kind k. */
static double draw(uint64_t *s, int k)
{
    uint64_t r = next(s);
    int e;
    switch (k) {
    case 0: /* any bit pattern but NaN */
        for (double v = of_bits(r);; v = of_bits(r = next(s)))
            if (!isnan(v))
                return v;
    case 1: /* subnormal */
        return of_bits((r & 0x800FFFFFFFFFFFFFu) | 1u);
    case 2: /* within 1000 ulps of an extreme */
        switch (r % 3) {
        case 0: return of_bits(bits_of(DBL_MAX) - (r >> 2) % 1000);
        case 1: return of_bits(bits_of(DBL_MIN) + (r >> 2) % 1000 - 500);
        default: return of_bits((r >> 2) % 1000 + 1);
        }
    case 3: /* an integer, up to and past 2^53 */
        return (double)(int64_t)(r >> (r % 64));
    case 4: { /* a power of ten, a few ulps off */
        e = (int)(r % 632) - 323;
        uint64_t b = bits_of(pow(10, e)), d = (r >> 20) % 9;
        return of_bits(b + d >= 4 ? b + d - 4 : b + d);
    }
    case 5: { /* a short decimal, as measurements are */
        char text[48];
        snprintf(text, sizeof text, "%" PRIu64 "e%d", (r >> 12) % 100000000,
                 (int)((r >> 4) % 40) - 30);
        return strtod(text, NULL);
    }
    case 6: /* a power of two, a few ulps off (an uneven interval) */
        return of_bits(((r % 2046 + 1) << 52) + (r >> 40) % 5 - 2);
    default: /* uniform in [0, 1) scaled by a random power of ten */
        return (double)(r >> 11) / 9007199254740992.0 *
               pow(10, (int)((r >> 3) % 600) - 300);
    }
}

static void test_dtoa__sweep(void **state)
{
    (void)state;
    const char *env = getenv("TWIN_DTOA_COUNT");
    long count = env ? atol(env) : 10000000L;
    env = getenv("TWIN_DTOA_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 20261207u, first = seed;
    for (long i = 0; i < count; i++) {
        double v = draw(&seed, (int)(i % 8));
        check_one(i & 8 ? -v : v);
    }
    printf("%ld doubles, seed %" PRIu64 ": each reads back, none longer "
           "than the shortest\n", count, first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtoa__known),
        cmocka_unit_test(test_dtoa__sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
