/*
 * test_analytics.c — the built-in functions against values worked out
 * here without them.
 *
 * Each built-in is run on series whose answer has a closed form: moments
 * of 0, 1, …, n−1 and of i², the order statistics of a known permutation,
 * the trapezoid rule on a parabola (whose error is exactly Σh³/6), the
 * trailing mean of a ramp and of sin t, the crossings of a ramp and of
 * cos t, the settling of 1 − e^(−t/τ) at τ·ln(1/band).  Where the
 * interpolant is not exact, the tolerance is the interpolation error
 * bound, stated at the test.  Then the argument checks of analytics_call
 * (code and JSON Pointer of each problem, table-driven) and the shape of
 * analytics_describe.  Each test prints the largest error it saw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "analytics.h"
#include "support.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct series {
    double *t, *y;
    size_t n;
} series;

/* n samples of f on an even grid from a to b (both included). */
static series grid(double a, double b, size_t n, double (*f)(double))
{
    series s = {malloc(n * sizeof(double)), malloc(n * sizeof(double)), n};
    assert_non_null(s.t);
    assert_non_null(s.y);
    for (size_t i = 0; i < n; i++) {
        s.t[i] = a + (b - a) * (double)i / (double)(n - 1);
        s.y[i] = f(s.t[i]);
    }
    return s;
}

static void series_free(series *s)
{
    free(s->t);
    free(s->y);
}

static analytics_spec spec_of(analytics_fn fn)
{
    analytics_spec sp = {.fn = fn, .band = NAN, .band_fraction = NAN};
    return sp;
}

/* Evaluate and fail unless it is AN_OK. */
static double eval_ok(const analytics_spec *sp, const series *s)
{
    double v = NAN;
    char why[1024] = "";
    int rc = analytics__eval(sp, s->t, s->y, s->n, "y", &v, why, sizeof why);
    if (rc != AN_OK)
        fail_msg("%s: rc %d: %s", analytics__name(sp->fn), rc, why);
    return v;
}

static void report(const char *test)
{
    printf("%s: max |error| %.3g\n", test, support__max_error());
}

static double square(double t) { return t * t; }
static double ramp(double t) { return 2.0 + 3.0 * t; }
static double rise(double t) { return 1.0 - exp(-t / 10.0); }

/* ---- sample statistics ------------------------------------------------- */

static void test_analytics__mean_stddev(void **state)
{
    (void)state;
    /* y_i = i², i = 0 … n−1: mean (n−1)(2n−1)/6.  y_i = i: sample
     * variance n(n+1)/12. */
    for (size_t n = 1; n <= 1001; n += 250) {
        series s = {NULL, malloc(n * sizeof(double)), n};
        for (size_t i = 0; i < n; i++)
            s.y[i] = (double)(i * i);
        analytics_spec sp = spec_of(AN_MEAN);
        double want = (double)(n - 1) * (double)(2 * n - 1) / 6.0;
        support__close("mean of i²", eval_ok(&sp, &s), want, 1e-12 * want);
        for (size_t i = 0; i < n; i++)
            s.y[i] = (double)i;
        if (n >= 2) {
            sp = spec_of(AN_STDDEV);
            want = sqrt((double)n * (double)(n + 1) / 12.0);
            support__close("stddev of i", eval_ok(&sp, &s), want, 1e-12 * want);
        }
        free(s.y);
    }
    /* One sample has no sample standard deviation. */
    double one = 3.0, v;
    char why[256];
    analytics_spec sp = spec_of(AN_STDDEV);
    assert_int_equal(analytics__eval(&sp, NULL, &one, 1, "y", &v, why,
                                     sizeof why), AN_UNDEFINED);
    report("mean_stddev");
}

/* y = permutation of 1 … 101 (i·37 mod 101 + 1): min 1, max 101, and the
 * percentile p is at rank (n − 1)·p/100 = p of the sorted values, so it is
 * 1 + p exactly, between ranks too. */
static void test_analytics__percentile_min_max_final(void **state)
{
    (void)state;
    enum { N = 101 };
    double y[N];
    for (int i = 0; i < N; i++)
        y[i] = (double)((i * 37) % N + 1);
    series s = {NULL, y, N};
    analytics_spec sp = spec_of(AN_MIN);
    support__close("min", eval_ok(&sp, &s), 1.0, 0);
    sp = spec_of(AN_MAX);
    support__close("max", eval_ok(&sp, &s), 101.0, 0);
    sp = spec_of(AN_FINAL);
    support__close("final", eval_ok(&sp, &s), (double)((100 * 37) % N + 1), 0);
    static const double ps[] = {0, 12.5, 50, 95, 99.9, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        sp = spec_of(AN_PERCENTILE);
        sp.p = ps[i];
        support__close("percentile", eval_ok(&sp, &s), 1.0 + ps[i], 1e-12);
    }
    /* Four values out of order: the median halfway between 20 and 30, the
     * 90th percentile at rank 2.7: 30 + 0.7·10. */
    double four[] = {40, 10, 30, 20};
    series f = {NULL, four, 4};
    sp.p = 50;
    support__close("median of 4", eval_ok(&sp, &f), 25.0, 1e-12);
    sp.p = 90;
    support__close("p90 of 4", eval_ok(&sp, &f), 37.0, 1e-12);
    /* The input is not reordered. */
    assert_true(four[0] == 40 && four[1] == 10);
    report("percentile_min_max_final");
}

/* ---- time-weighted ----------------------------------------------------- */

/* The trapezoid rule on t² over [a, b] errs by exactly (b − a)³/6 per
 * interval, so on any grid the linear integral is
 * (t_n³ − t_0³)/3 + Σ h_i³/6. */
static void test_analytics__integral_time_mean(void **state)
{
    (void)state;
    series s = grid(0.0, 2.0, 201, square);
    analytics_spec sp = spec_of(AN_INTEGRAL);
    double h = 0.01, want = 8.0 / 3.0 + 200 * h * h * h / 6.0;
    support__close("integral of t² (even grid)", eval_ok(&sp, &s), want,
                   1e-13);
    sp = spec_of(AN_TIME_MEAN);
    support__close("time_mean of t²", eval_ok(&sp, &s), want / 2.0, 1e-13);
    series_free(&s);

    /* An uneven grid: t_i = (i/50)^1.5·3. */
    enum { N = 51 };
    double t[N], y[N], extra = 0;
    for (int i = 0; i < N; i++) {
        t[i] = 3.0 * pow(i / 50.0, 1.5);
        y[i] = t[i] * t[i];
        if (i > 0)
            extra += pow(t[i] - t[i - 1], 3) / 6.0;
    }
    series u = {t, y, N};
    sp = spec_of(AN_INTEGRAL);
    support__close("integral of t² (uneven grid)", eval_ok(&sp, &u),
                   9.0 + extra, 1e-12);

    /* sin on [0, π], h = π/100.  The trapezoid rule, by Euler–Maclaurin:
     * 2 + h²/12·(cos π − cos 0) − h⁴/720·(−cos π + cos 0) + O(h⁶)
     * = 2 − h²/6 − h⁴/360, the rest below 1e-13. */
    s = grid(0.0, M_PI, 101, sin);
    sp = spec_of(AN_INTEGRAL);
    double hh = M_PI / 100;
    support__close("integral of sin, linear", eval_ok(&sp, &s),
                   2.0 - hh * hh / 6.0 - pow(hh, 4) / 360.0, 1e-12);
    /* Steffen's cubic follows a smooth curve to O(h³) between samples:
     * within h³ = 3e-5 of 2, and (its errors on the symmetric arch
     * cancelling) closer: 1e-7 is asked. */
    sp.interp = AN_INTERP_STEFFEN;
    support__close("integral of sin, Steffen", eval_ok(&sp, &s), 2.0, 1e-7);
    series_free(&s);
    report("integral_time_mean");
}

/* The trailing mean of a ramp a + b·t over [t − w, t] is a + b·(t − w/2);
 * the first sample with a whole window behind it is the first t ≥ t0 + w. */
static void test_analytics__moving_average(void **state)
{
    (void)state;
    series s = grid(0.0, 100.0, 201, ramp); /* dt = 0.5 */
    analytics_spec sp = spec_of(AN_MOVING_AVERAGE);
    sp.window = 7.25; /* not a whole number of samples */
    sp.then = AN_THEN_MAX;
    support__close("max", eval_ok(&sp, &s), ramp(100.0 - 7.25 / 2), 1e-11);
    sp.then = AN_THEN_MIN;
    support__close("min", eval_ok(&sp, &s), ramp(7.5 - 7.25 / 2), 1e-11);
    sp.then = AN_THEN_FINAL;
    support__close("final", eval_ok(&sp, &s), ramp(100.0 - 7.25 / 2), 1e-11);
    sp.window = 100.0; /* the whole series: one average */
    support__close("whole span", eval_ok(&sp, &s), ramp(50.0), 1e-11);
    series_free(&s);

    /* sin t over [8, 10]: (cos 8 − cos 10)/2; over its extremes the
     * trapezoid rule errs by less than (b − a)·h²/12·max|sin| = 2e-7/12. */
    s = grid(0.0, 10.0, 10001, sin);
    sp.window = 2.0;
    sp.then = AN_THEN_FINAL;
    support__close("sin, final", eval_ok(&sp, &s), (cos(8.0) - cos(10.0)) / 2,
                   2e-7);
    /* Its max over t: the window centred on π/2, ending at t = π/2 + 1,
     * where the mean is (cos(π/2 − 1) − cos(π/2 + 1))/2 = sin 1; the
     * samples miss that t by at most 5e-4, a loss of at most
     * (5e-4)²/2·|d²/dt² of the mean| ≤ 1.25e-7, and the trapezoid's
     * 1.7e-8 on top. */
    sp.then = AN_THEN_MAX;
    support__close("sin, max", eval_ok(&sp, &s), sin(1.0), 1.5e-7);
    series_free(&s);
    report("moving_average");
}

static void test_analytics__crossing_time(void **state)
{
    (void)state;
    double v, why_v;
    char why[512];
    /* A ramp −1 + 0.3·t on whole seconds: 0.4 is reached at 14/3 s, which
     * the linear interpolant finds exactly. */
    double t[11], y[11];
    for (int i = 0; i <= 10; i++) {
        t[i] = i;
        y[i] = -1.0 + 0.3 * i;
    }
    series r = {t, y, 11};
    analytics_spec sp = spec_of(AN_CROSSING_TIME);
    sp.threshold = 0.4;
    sp.direction = AN_DIR_UP;
    support__close("ramp up", eval_ok(&sp, &r), 14.0 / 3.0, 1e-12);
    sp.direction = AN_DIR_DOWN;
    assert_int_equal(analytics__eval(&sp, t, y, 11, "ramp", &v, why,
                                     sizeof why), AN_UNDEFINED);
    assert_non_null(strstr(why, "ramp never crosses 0.4 downward"));

    /* cos t: down through 0.5 at π/3, up through 0 at 3π/2, and through 0
     * either way first at π/2.  The chord misses the curve by at most
     * h²/8·max|cos| = 1.25e-7 in y, where |y'| ≥ sin(π/3): < 2e-7 in t. */
    series c = grid(0.0, 2 * M_PI, 6284, cos);
    sp.threshold = 0.5;
    sp.direction = AN_DIR_ANY;
    support__close("cos any 0.5", eval_ok(&sp, &c), M_PI / 3, 2e-7);
    sp.threshold = 0.0;
    sp.direction = AN_DIR_UP;
    support__close("cos up 0", eval_ok(&sp, &c), 1.5 * M_PI, 2e-7);
    sp.direction = AN_DIR_DOWN;
    support__close("cos down 0", eval_ok(&sp, &c), 0.5 * M_PI, 2e-7);
    sp.interp = AN_INTERP_STEFFEN; /* smooth: closer than the chord */
    support__close("cos down 0, Steffen", eval_ok(&sp, &c), 0.5 * M_PI, 1e-9);
    series_free(&c);

    /* Starting on the threshold is no crossing; landing on it is. */
    double t4[] = {0, 1, 2, 3}, y4[] = {0.5, 1, 0.5, 0};
    series s4 = {t4, y4, 4};
    sp = spec_of(AN_CROSSING_TIME);
    sp.threshold = 0.5;
    sp.direction = AN_DIR_UP;
    assert_int_equal(analytics__eval(&sp, t4, y4, 4, "y", &why_v, why,
                                     sizeof why), AN_UNDEFINED);
    sp.direction = AN_DIR_DOWN;
    support__close("landing on it", eval_ok(&sp, &s4), 2.0, 0);
    report("crossing_time");
}

/* 1 − e^(−t/τ) is within band of 1 from τ·ln(1/band) on.  The chord
 * near there is off the curve by at most h²/(8τ²)·e^(−t/τ) in y, over a
 * slope of e^(−t/τ)/τ: h²/(8τ) in t, 1.25e-6 s here. */
static void test_analytics__settling_time(void **state)
{
    (void)state;
    double v;
    char why[512];
    series s = grid(0.0, 100.0, 10001, rise); /* τ = 10, h = 0.01 */
    analytics_spec sp = spec_of(AN_SETTLING_TIME);
    sp.has_target = 1;
    sp.target = 1.0;
    sp.band = 0.02;
    support__close("band 0.02", eval_ok(&sp, &s), 10.0 * log(50.0), 2e-6);
    sp.band = NAN;
    sp.band_fraction = 0.05;
    support__close("band_fraction 0.05", eval_ok(&sp, &s), 10.0 * log(20.0),
                   2e-6);
    /* Around the final value 1 − e^(−10): e^(−t/τ) − e^(−10) = 0.02. */
    sp.has_target = 0;
    sp.band = 0.02;
    sp.band_fraction = NAN;
    support__close("around the final value", eval_ok(&sp, &s),
                   -10.0 * log(0.02 + exp(-10.0)), 2e-6);
    /* Inside from the start: t0.  Never inside at the end: no value. */
    sp.band = 2.0;
    support__close("always inside", eval_ok(&sp, &s), 0.0, 0);
    sp.has_target = 1;
    sp.target = 2.0;
    sp.band = 0.5;
    assert_int_equal(analytics__eval(&sp, s.t, s.y, s.n, "x", &v, why,
                                     sizeof why), AN_UNDEFINED);
    assert_non_null(strstr(why, "x never settles inside [1.5, 2.5]"));
    series_free(&s);
    report("settling_time");
}

/* Data that are not finite give no value, named with the sample. */
static void test_analytics__not_finite(void **state)
{
    (void)state;
    double t[] = {0, 1, 2}, y[] = {1, NAN, 3}, v;
    char why[512];
    for (int f = 0; f < AN__COUNT; f++) {
        analytics_spec sp = spec_of((analytics_fn)f);
        sp.window = 1;
        sp.band = 1;
        assert_int_equal(analytics__eval(&sp, t, y, 3, "tank0.h", &v, why,
                                         sizeof why), AN_UNDEFINED);
        assert_non_null(strstr(why, "tank0.h is nan at t = 1 (sample 1)"));
    }
}

/* ---- call: values, and every argument problem -------------------------- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    return j;
}

static void test_analytics__call_values(void **state)
{
    (void)state;
    twin_errors errs = {0};
    json_t *value = NULL;
    json_t *args = parse("{\"y\": [4, 1, 3, 2], \"p\": 50}");
    assert_int_equal(analytics_call("percentile", args, &value, &errs),
                     ANALYTICS_OK);
    support__close("call percentile", json_number_value(value), 2.5, 1e-15);
    json_decref(value);
    json_decref(args);
    /* t where it is not needed: checked, then unused. */
    args = parse("{\"t\": [0, 1, 5, 6], \"y\": [4, 1, 3, 2]}");
    assert_int_equal(analytics_call("mean", args, &value, &errs),
                     ANALYTICS_OK);
    support__close("call mean", json_number_value(value), 2.5, 1e-15);
    json_decref(value);
    /* The same arguments, time-weighted: trapezoids 2.5 + 8 + 2.5 over
     * 6 s. */
    assert_int_equal(analytics_call("time_mean", args, &value, &errs),
                     ANALYTICS_OK);
    support__close("call time_mean", json_number_value(value),
                   (2.5 * 1 + 2.0 * 4 + 2.5 * 1) / 6.0, 1e-15);
    json_decref(value);
    json_decref(args);
    /* No value on these data: null, and why at /y. */
    args = parse("{\"t\": [0, 1], \"y\": [0, 1], \"threshold\": 5}");
    assert_int_equal(analytics_call("crossing_time", args, &value, &errs),
                     ANALYTICS_UNDEFINED);
    assert_true(json_is_null(value));
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.items[0].code, TWIN_E_OUT_OF_RANGE);
    assert_string_equal(errs.items[0].path, "/y");
    json_decref(value);
    json_decref(args);
    errors__clear(&errs);
    /* Not a built-in: said apart from argument problems, nothing added. */
    assert_int_equal(analytics_call("my_plugin_fn", NULL, &value, &errs),
                     ANALYTICS_NOT_BUILTIN);
    assert_null(value);
    assert_int_equal(errs.count, 0);
    report("call_values");
}

typedef struct bad_case {
    const char *function;
    const char *args;
    struct { twin_err_code code; const char *path; } want[3];
} bad_case;

static const bad_case bad_cases[] = {
    {"mean", "[1, 2]", {{TWIN_E_WRONG_TYPE, ""}}},
    {"mean", "{}", {{TWIN_E_MISSING_FIELD, "/y"}}},
    {"mean", "{\"y\": []}", {{TWIN_E_OUT_OF_RANGE, "/y"}}},
    {"mean", "{\"y\": [1, \"2\", null]}",
     {{TWIN_E_WRONG_TYPE, "/y/1"}, {TWIN_E_WRONG_TYPE, "/y/2"}}},
    {"mean", "{\"y\": [1], \"p\": 5}", {{TWIN_E_OUT_OF_RANGE, "/p"}}},
    {"stddev", "{\"y\": [1]}", {{TWIN_E_OUT_OF_RANGE, "/y"}}},
    {"percentile", "{\"y\": [1]}", {{TWIN_E_MISSING_FIELD, "/p"}}},
    {"percentile", "{\"y\": [1], \"p\": 120}", {{TWIN_E_OUT_OF_RANGE, "/p"}}},
    {"percentile", "{\"y\": [1], \"p\": -1}", {{TWIN_E_OUT_OF_RANGE, "/p"}}},
    {"percentile", "{\"y\": [1], \"p\": \"95\"}", {{TWIN_E_WRONG_TYPE, "/p"}}},
    {"integral", "{\"y\": [1, 2]}", {{TWIN_E_MISSING_FIELD, "/t"}}},
    {"integral", "{\"t\": [0, 1, 1], \"y\": [1, 2, 3]}",
     {{TWIN_E_OUT_OF_RANGE, "/t/2"}}},
    {"integral", "{\"t\": [0, 1, 2], \"y\": [1, 2]}",
     {{TWIN_E_OUT_OF_RANGE, "/t"}}},
    {"integral", "{\"t\": [0], \"y\": [1]}", {{TWIN_E_OUT_OF_RANGE, "/y"}}},
    {"integral", "{\"t\": [0, 1], \"y\": [1, 2], \"interp\": \"steffen\"}",
     {{TWIN_E_OUT_OF_RANGE, "/y"}}},
    {"integral", "{\"t\": [0, 1], \"y\": [1, 2], \"interp\": \"cubic\"}",
     {{TWIN_E_OUT_OF_RANGE, "/interp"}}},
    {"integral", "{\"t\": [0, 1], \"y\": [1, 2], \"interp\": 1}",
     {{TWIN_E_WRONG_TYPE, "/interp"}}},
    {"moving_average", "{\"t\": [0, 1], \"y\": [1, 2]}",
     {{TWIN_E_MISSING_FIELD, "/window"}}},
    {"moving_average", "{\"t\": [0, 1], \"y\": [1, 2], \"window\": 0}",
     {{TWIN_E_OUT_OF_RANGE, "/window"}}},
    {"moving_average", "{\"t\": [0, 1], \"y\": [1, 2], \"window\": 5}",
     {{TWIN_E_OUT_OF_RANGE, "/window"}}},
    {"moving_average",
     "{\"t\": [0, 1], \"y\": [1, 2], \"window\": 1, \"then\": \"mean\"}",
     {{TWIN_E_OUT_OF_RANGE, "/then"}}},
    {"crossing_time", "{\"t\": [0, 1], \"y\": [1, 2], "
                      "\"direction\": \"upward\"}",
     {{TWIN_E_OUT_OF_RANGE, "/direction"}, {TWIN_E_MISSING_FIELD,
                                             "/threshold"}}},
    {"settling_time", "{\"t\": [0, 1], \"y\": [1, 2], \"target\": 1}",
     {{TWIN_E_MISSING_FIELD, "/band"}}},
    {"settling_time", "{\"t\": [0, 1], \"y\": [1, 2], \"band\": 0}",
     {{TWIN_E_OUT_OF_RANGE, "/band"}}},
    {"settling_time",
     "{\"t\": [0, 1], \"y\": [1, 2], \"band\": 1, \"band_fraction\": 0.1}",
     {{TWIN_E_OUT_OF_RANGE, "/band_fraction"}}},
    {"settling_time",
     "{\"t\": [0, 1], \"y\": [1, 2], \"target\": 0, \"band_fraction\": 0.1}",
     {{TWIN_E_OUT_OF_RANGE, "/band_fraction"}}},
    {"final", "{\"y\": [1], \"t\": \"now\"}", {{TWIN_E_WRONG_TYPE, "/t"}}},
};

static void test_analytics__call_bad_args(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *bc = &bad_cases[i];
        twin_errors errs = {0};
        json_t *value = (json_t *)1, *args = parse(bc->args);
        analytics_status st = analytics_call(bc->function, args, &value,
                                             &errs);
        size_t want = 0;
        while (want < 3 && bc->want[want].path != NULL)
            want++;
        if (st != ANALYTICS_FAILED || value != NULL || errs.count != want) {
            errors__print(&errs, "   got: ", stderr);
            fail_msg("%s %s: status %d, %zu problems, want %zu",
                     bc->function, bc->args, st, errs.count, want);
        }
        for (size_t k = 0; k < want; k++) {
            const twin_error *e = &errs.items[k];
            if (e->code != bc->want[k].code ||
                strcmp(e->path, bc->want[k].path) != 0)
                fail_msg("%s %s, problem %zu: %s at '%s' (%s), want %s at "
                         "'%s'", bc->function, bc->args, k,
                         errors__code_name(e->code), e->path, e->message,
                         errors__code_name(bc->want[k].code),
                         bc->want[k].path);
            assert_true(strlen(e->message) > 15); /* a sentence */
        }
        errors__clear(&errs);
        json_decref(args);
    }
}

/* Result units from the series' unit: integrals of a rate drop its /s. */
static void test_analytics__units(void **state)
{
    (void)state;
    static const struct { analytics_fn fn; const char *y, *want; } cases[] = {
        {AN_MEAN, "m", "m"}, {AN_PERCENTILE, "", ""},
        {AN_INTEGRAL, "m", "m·s"}, {AN_INTEGRAL, "m3/s", "m3"},
        {AN_INTEGRAL, "1/s", ""}, {AN_INTEGRAL, "", "s"},
        {AN_INTEGRAL, "1", "s"}, {AN_CROSSING_TIME, "m", "s"},
        {AN_SETTLING_TIME, "", "s"}, {AN_MOVING_AVERAGE, "W", "W"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(analytics__unit(cases[i].fn, cases[i].y, buf,
                                            sizeof buf), cases[i].want);
}

/* ---- describe ------------------------------------------------------------ */

static void test_analytics__describe(void **state)
{
    (void)state;
    json_t *all = analytics_describe();
    assert_int_equal(json_array_size(all), AN__COUNT);
    size_t i;
    json_t *f;
    json_array_foreach(all, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        analytics_fn fn;
        assert_non_null(name);
        assert_int_equal(analytics__find(name, &fn), 0);
        assert_int_equal(fn, (analytics_fn)i);
        assert_string_equal(json_string_value(json_object_get(f, "kind")),
                            "builtin");
        assert_true(json_string_length(json_object_get(f, "doc")) > 20);
        json_t *ret = json_object_get(f, "returns");
        assert_string_equal(json_string_value(json_object_get(ret, "type")),
                            "double");
        assert_true(json_is_string(json_object_get(ret, "unit")));
        json_t *ps = json_object_get(f, "params");
        assert_true(json_array_size(ps) >= 2);
        assert_string_equal(json_string_value(json_object_get(
            json_array_get(ps, 1), "name")), "y");
        /* t is required exactly by the time-weighted ones. */
        assert_int_equal(json_is_true(json_object_get(json_array_get(ps, 0),
                                                      "required")),
                         analytics__needs_time(fn));
        size_t k;
        json_t *p;
        json_array_foreach(ps, k, p) {
            const char *type = json_string_value(json_object_get(p, "type"));
            assert_non_null(type);
            assert_true(strcmp(type, "double") == 0 ||
                        strcmp(type, "double[]") == 0 ||
                        strcmp(type, "string") == 0);
            json_t *unit = json_object_get(p, "unit");
            assert_true(json_is_string(unit) || json_is_null(unit));
            assert_true(json_is_boolean(json_object_get(p, "required")));
            assert_true(json_string_length(json_object_get(p, "doc")) > 5);
            /* Every parameter it lists, a call takes. */
            if (strcmp(type, "string") == 0) {
                json_t *vals = json_object_get(p, "values");
                assert_true(json_array_size(vals) >= 2);
                assert_true(json_equal(json_object_get(p, "default"),
                                       json_array_get(vals, 0)));
            }
        }
    }
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analytics__mean_stddev),
        cmocka_unit_test(test_analytics__percentile_min_max_final),
        cmocka_unit_test(test_analytics__integral_time_mean),
        cmocka_unit_test(test_analytics__moving_average),
        cmocka_unit_test(test_analytics__crossing_time),
        cmocka_unit_test(test_analytics__settling_time),
        cmocka_unit_test(test_analytics__not_finite),
        cmocka_unit_test(test_analytics__call_values),
        cmocka_unit_test(test_analytics__call_bad_args),
        cmocka_unit_test(test_analytics__units),
        cmocka_unit_test(test_analytics__describe),
    };
    return cmocka_run_group_tests_name("analytics", tests, NULL, NULL);
}
