/*
 * test_plot.c — the parts of `twinctl plot` that compute or read,
 * against answers worked out here without them.
 *
 * The envelope per time step (plot_stats.c, on GSL) against closed forms
 * — cases that hold a permutation of 0..n−1 at every point, whose
 * percentile p is exactly (n−1)·p/100 — and against a sort and GSL's
 * interpolation rule written out here, on pseudo-random data with values
 * that are not finite among them.  Thinning (plot_data.c) by what it
 * promises: at most max_points rows, increasing, the first and the last,
 * and in every slice the rows of each series' least and greatest value,
 * so that the drawn line reaches every peak.  Reading a run's CSV and a
 * summary table: the columns and values read, and each malformed file's
 * sentence (table-driven).  The gnuplot side: string literals escaped,
 * the output format by extension, a script with its data inline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>

#include <cmocka.h>

#include "plot_data.h"
#include "plot_gp.h"
#include "plot_stats.h"

/* ---- the envelope ------------------------------------------------------ */

static void check_close(double got, double want, double tol, const char *what,
                        size_t j)
{
    if (isnan(want) && isnan(got))
        return;
    if (!(fabs(got - want) <= tol)) {
        print_error("%s at point %zu: %.17g, expected %.17g\n", what, j, got,
                    want);
        fail();
    }
}

/* Seven cases holding a permutation of 0..6 (+ 10·j) at point j: min 10j,
 * max 10j + 6, median 10j + 3, percentile p 10j + 6p/100. */
static void test_plot__envelope_permutations(void **state)
{
    (void)state;
    enum { C = 7, N = 5 };
    double y[C * N];
    for (size_t c = 0; c < C; c++)
        for (size_t j = 0; j < N; j++)
            y[c * N + j] = (double)((c * 3 + j) % C) + 10.0 * (double)j;
    plot_envelope e;
    assert_int_equal(plotstats__envelope(y, C, N, 10, 90, &e), 0);
    assert_int_equal(e.n, N);
    for (size_t j = 0; j < N; j++) {
        double base = 10.0 * (double)j;
        check_close(e.min[j], base, 0, "min", j);
        check_close(e.max[j], base + 6, 0, "max", j);
        check_close(e.median[j], base + 3, 0, "median", j);
        check_close(e.lo[j], base + 0.6, 1e-12, "p10", j);
        check_close(e.hi[j], base + 5.4, 1e-12, "p90", j);
        assert_int_equal(e.count[j], C);
    }
    plotstats__free(&e);
}

/* An even count: the median is the mean of the middle two; percentiles
 * interpolate between ranks.  {1, 2, 4, 8}: median 3, p25 at rank 0.75
 * is 1.75, p75 at rank 2.25 is 5. */
static void test_plot__envelope_even(void **state)
{
    (void)state;
    double y[4] = {8, 1, 4, 2}; /* four cases, one point */
    plot_envelope e;
    assert_int_equal(plotstats__envelope(y, 4, 1, 25, 75, &e), 0);
    check_close(e.median[0], 3, 0, "median", 0);
    check_close(e.lo[0], 1.75, 1e-15, "p25", 0);
    check_close(e.hi[0], 5, 1e-15, "p75", 0);
    check_close(e.min[0], 1, 0, "min", 0);
    check_close(e.max[0], 8, 0, "max", 0);
    plotstats__free(&e);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The quantile of sorted s[0..m) at fraction f, as GSL defines it (the
 * value at rank (m−1)·f, linear between neighbours), written out. */
static double quantile(const double *s, size_t m, double f)
{
    double r = (double)(m - 1) * f;
    size_t i = (size_t)floor(r);
    double d = r - (double)i;
    return i + 1 < m ? s[i] + d * (s[i + 1] - s[i]) : s[i];
}

/* Pseudo-random values, some not finite, some points with none. */
static void test_plot__envelope_random(void **state)
{
    (void)state;
    enum { C = 23, N = 40 };
    double *y = malloc(C * N * sizeof *y), s[C];
    assert_non_null(y);
    unsigned long long x = 88172645463325252ULL;
    for (size_t k = 0; k < C * N; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        y[k] = (double)(x % 100000) / 997.0 - 40.0;
        if (x % 11 == 0)
            y[k] = NAN;
        else if (x % 13 == 0)
            y[k] = x % 2 ? INFINITY : -INFINITY;
    }
    for (size_t c = 0; c < C; c++) /* point 7: nothing finite */
        y[c * N + 7] = NAN;
    plot_envelope e;
    assert_int_equal(plotstats__envelope(y, C, N, 5, 95, &e), 0);
    for (size_t j = 0; j < N; j++) {
        size_t m = 0;
        for (size_t c = 0; c < C; c++)
            if (isfinite(y[c * N + j]))
                s[m++] = y[c * N + j];
        assert_int_equal(e.count[j], m);
        if (m == 0) {
            assert_true(isnan(e.min[j]) && isnan(e.max[j]) &&
                        isnan(e.median[j]) && isnan(e.lo[j]) &&
                        isnan(e.hi[j]));
            continue;
        }
        qsort(s, m, sizeof *s, cmp_double);
        check_close(e.min[j], s[0], 0, "min", j);
        check_close(e.max[j], s[m - 1], 0, "max", j);
        check_close(e.median[j], m % 2 ? s[m / 2]
                                       : (s[m / 2 - 1] + s[m / 2]) / 2,
                    1e-12, "median", j);
        check_close(e.lo[j], quantile(s, m, 0.05), 1e-12, "p5", j);
        check_close(e.hi[j], quantile(s, m, 0.95), 1e-12, "p95", j);
    }
    plotstats__free(&e);
    free(y);
}

/* ---- thinning ---------------------------------------------------------- */

/* What thinning promises, checked on its answer. */
static void check_thin(const double *v, size_t n, size_t ld, size_t m,
                       size_t max_points)
{
    size_t *keep = malloc(n * sizeof *keep);
    assert_non_null(keep);
    size_t k = plotdata__thin(v, n, ld, m, max_points, keep);
    if (max_points == 0 || n <= max_points) {
        assert_int_equal(k, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(keep[i], i);
        free(keep);
        return;
    }
    assert_true(k <= max_points);
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[k - 1], n - 1);
    for (size_t i = 1; i < k; i++)
        assert_true(keep[i] > keep[i - 1]);
    /* In every slice, each series' extremes are among the rows kept. */
    size_t slices = (max_points - 2) / (2 * m);
    for (size_t s = 0; s < slices; s++) {
        size_t lo = s * n / slices, hi = (s + 1) * n / slices;
        for (size_t c = 0; c < m; c++) {
            double all_min = INFINITY, all_max = -INFINITY;
            double kept_min = INFINITY, kept_max = -INFINITY;
            for (size_t i = lo; i < hi; i++) {
                double x = v[i * ld + c];
                if (!isfinite(x))
                    continue;
                all_min = fmin(all_min, x);
                all_max = fmax(all_max, x);
            }
            for (size_t i = 0; i < k; i++) {
                double x = v[keep[i] * ld + c];
                if (keep[i] < lo || keep[i] >= hi || !isfinite(x))
                    continue;
                kept_min = fmin(kept_min, x);
                kept_max = fmax(kept_max, x);
            }
            assert_true(kept_min == all_min);
            assert_true(kept_max == all_max);
        }
    }
    free(keep);
}

static void test_plot__thin(void **state)
{
    (void)state;
    enum { N = 10000 };
    double *v = malloc(3 * N * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        double t = (double)i;
        v[3 * i] = sin(t / 700.0);
        v[3 * i + 1] = cos(t / 37.0) * exp(-t / 3000.0);
        v[3 * i + 2] = i % 17 == 0 ? NAN : t; /* not a series here */
    }
    v[3 * 4321] = 100;   /* a spike of one row */
    v[3 * 777] = -100;   /* and a dip */
    v[3 * 5000 + 1] = NAN;
    size_t *keep = malloc(N * sizeof *keep);
    assert_non_null(keep);
    size_t k = plotdata__thin(v, N, 3, 1, 200, keep);
    int spike = 0, dip = 0;
    for (size_t i = 0; i < k; i++) {
        spike |= keep[i] == 4321;
        dip |= keep[i] == 777;
    }
    assert_true(spike && dip);
    free(keep);
    check_thin(v, N, 3, 1, 200);
    check_thin(v, N, 3, 2, 200);
    check_thin(v, N, 3, 3, 1000);  /* a series with NaNs */
    check_thin(v, N, 3, 2, 6);     /* one slice */
    check_thin(v, N, 3, 2, 0);     /* every row */
    check_thin(v, 150, 3, 2, 200); /* fewer rows than points */
    free(v);
}

/* ---- reading a run's CSV ------------------------------------------------ */

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_plot__read_run(void **state)
{
    (void)state;
    const char *path = write_file("run.csv", "t,a.x,a.y,b.x\n"
                                             "0,1,2,3\n"
                                             "1,4,nan,6\r\n"
                                             "2,,8,9\n");
    const char *chan[] = {"b.x", "a.*", "b.x"};
    plot_run r;
    char why[512];
    assert_int_equal(plotdata__read_run(path, chan, 3, &r, why, sizeof why),
                     0);
    assert_int_equal(r.n_names, 4);
    assert_int_equal(r.n_col, 3);
    assert_string_equal(r.names[r.col[0]], "b.x");
    assert_string_equal(r.names[r.col[1]], "a.x");
    assert_string_equal(r.names[r.col[2]], "a.y");
    assert_int_equal(r.n_rows, 3);
    assert_int_equal(r.n_lines, 3);
    double want_t[] = {0, 1, 2};
    double want_v[] = {3, 1, 2, 6, 4, NAN, 9, NAN, 8};
    for (size_t i = 0; i < 3; i++)
        check_close(r.t[i], want_t[i], 0, "t", i);
    for (size_t i = 0; i < 9; i++)
        check_close(r.v[i], want_v[i], 0, "value", i);
    assert_int_equal(plotdata__window(&r, 0.5, 2), 2);
    check_close(r.t[0], 1, 0, "t after --from", 0);
    check_close(r.v[0], 6, 0, "b.x after --from", 0);
    check_close(r.v[3], 9, 0, "b.x after --from", 1);
    plotdata__free_run(&r);
}

/* Each malformed file and what it must say. */
static void test_plot__read_run_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;     /* NULL: no file */
        const char *channel;
        const char *says;
    } cases[] = {
        {NULL, "a", "bad.csv: no such file"},
        {"", "a", "bad.csv is empty: a run's CSV starts with a header"},
        {"x,a\n0,1\n", "a", "bad.csv is not a run's CSV: its first column "
                            "is 'x', not 't'"},
        {"t,a\n", "a", "bad.csv has a header but no rows"},
        {"t,a\n0,1\n1,zz\n", "a", "bad.csv:3: the value of a is not a "
                                  "number: 'zz'"},
        {"t,a\n0,1,2\n", "a", "bad.csv:2: 3 values for 2 columns"},
        {"t,a,b\n0,1,2\n", "c", "bad.csv has no column 'c'; its columns "
                                "are a, b"},
        {"t,a,b\n0,1,2\n", "q*", "bad.csv has no column matching 'q*'; "
                                 "its columns are a, b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128], why[512];
        snprintf(path, sizeof path, "%s/bad.csv", dir);
        unlink(path);
        if (cases[i].text)
            write_file("bad.csv", cases[i].text);
        plot_run r;
        const char *ch[] = {cases[i].channel};
        assert_int_equal(plotdata__read_run(path, ch, 1, &r, why,
                                            sizeof why), -1);
        if (strstr(why, cases[i].says) == NULL) {
            print_error("case %zu: '%s' does not say '%s'\n", i, why,
                        cases[i].says);
            fail();
        }
        assert_null(r.names);
    }
}

/* ---- reading a table ---------------------------------------------------- */

static void test_plot__read_table(void **state)
{
    (void)state;
    const char *path = write_file(
        "summary.csv",
        "id,x,status,message\r\n"
        "0000-a,1.5,finished,\r\n"
        "0001-b,2,failed,\"solver, gave \"\"up\"\"\nthere [x]\"\n"
        "\n"
        "0002-c,3,finished,\n");
    plot_table t;
    char why[512];
    assert_int_equal(plotdata__read_table(path, &t, why, sizeof why), 0);
    assert_int_equal(t.n_cols, 4);
    assert_int_equal(t.n_rows, 3);
    assert_int_equal(plotdata__column(&t, "status"), 2);
    assert_int_equal(plotdata__column(&t, "nope"), -1);
    assert_string_equal(t.cell[1 * 4 + 3], "solver, gave \"up\"\nthere [x]");
    assert_string_equal(t.cell[0 * 4 + 3], "");
    assert_string_equal(t.cell[2 * 4 + 0], "0002-c");
    plotdata__free_table(&t);

    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "t.csv is empty"},
        {"a,b\n1,2\n\"x\ny\",3,4\n", "t.csv:3: 3 fields, the header has 2"},
        {"a,b\n1,\"2\n", "t.csv:2: a quoted field that does not end"},
        {"a,b\n\"1\"x,2\n", "t.csv:2: text after a quoted field's closing "
                            "quote"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = write_file("t.csv", bad[i].text);
        assert_int_equal(plotdata__read_table(path, &t, why, sizeof why), -1);
        if (strstr(why, bad[i].says) == NULL) {
            print_error("case %zu: '%s' does not say '%s'\n", i, why,
                        bad[i].says);
            fail();
        }
    }
}

/* ---- gnuplot's side ----------------------------------------------------- */

static void test_plot__gp_strings(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    gp__string(f, "a\"b\\c\nd\te'f `g` @x_y");
    fclose(f);
    assert_string_equal(text, "\"a\\\"b\\\\c\\nd e'f `g` @x_y\"");
    free(text);

    gp_format fmt;
    assert_int_equal(gp__format_of("x/out.PNG", &fmt), 0);
    assert_int_equal(fmt, GP_PNG);
    assert_int_equal(gp__format_of("out.svg", &fmt), 0);
    assert_int_equal(fmt, GP_SVG);
    assert_int_equal(gp__format_of("out.pdf", &fmt), -1);
    assert_int_equal(gp__format_of(".png", &fmt), -1);
}

/* A two-panel figure: its data inline, in order, scaled; its strings
 * escaped; a panel per multiplot slot. */
static void test_plot__gp_script(void **state)
{
    (void)state;
    double t[] = {0, 3600, 7200}, y[] = {1, 10, 2, 20, NAN, 30};
    gp_item a = {.style = GP_LINE, .title = "tank\"0", .color = 0x0072b2,
                 .n = 3, .x = t, .y = y, .stride = 2, .x_scale = 3600};
    gp_item b[2] = {{.style = GP_BAND, .color = 0xd55e00, .alpha = 0.2,
                     .n = 3, .x = t, .y = y, .y2 = y + 1, .stride = 2},
                    {.style = GP_THIN, .n = 3, .x = t, .y = y + 1,
                     .stride = 2}};
    gp_panel p[2] = {{.ylabel = "h [m]", .items = &a, .n_items = 1},
                     {.ylabel = "q [m3/s]", .items = b, .n_items = 2}};
    gp_figure fig = {.format = GP_SVG, .width = 800, .height = 600,
                     .title = "a \\ title", .xlabel = "time [h]",
                     .caption = "1 of 3 cases not shown",
                     .output = "o.svg", .x_tight = 1, .panels = p,
                     .n_panels = 2};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(gp__write(f, &fig), 0);
    fclose(f);
    static const char *const want[] = {
        "set terminal svg size 800,600 noenhanced",
        "set output \"o.svg\"\n",
        "$d0_0 << EOD\n 0 1\n 1 2\n 2 NaN\nEOD\n",
        "$d1_0 << EOD\n 0 1 10\n 3600 2 20\n 7200 NaN 30\nEOD\n",
        "$d1_1 << EOD\n 0 10\n 3600 20\n 7200 30\nEOD\n",
        "set multiplot layout 2,1",
        "title \"a \\\\ title\"",
        "set xrange [0:7200]",
        "set ylabel \"h [m]\"",
        "set ylabel \"q [m3/s]\"",
        "set xlabel \"time [h]\"",
        "set label 1 \"1 of 3 cases not shown\"",
        "title \"tank\\\"0\"",
        "with filledcurves fs transparent solid 0.20",
        "unset multiplot",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(text, want[i]) == NULL) {
            print_error("the script has no '%s':\n%s\n", want[i], text);
            fail();
        }
    free(text);

    /* A PNG: pngcairo where gnuplot has it, else libgd's png; the image
     * on stdout when the figure names no output. */
    fig.format = GP_PNG;
    fig.output = NULL;
    f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(gp__write(f, &fig), 0);
    fclose(f);
    assert_non_null(strstr(text, "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") "
                                 "> 0) {\n    set terminal pngcairo size "
                                 "800,600 noenhanced"));
    assert_non_null(strstr(text, "} else {\n    set terminal png size "
                                 "800,600 noenhanced truecolor"));
    assert_null(strstr(text, "set output"));
    free(text);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/twin-plot.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const names[] = {"run.csv", "bad.csv", "summary.csv",
                                        "t.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plot__envelope_permutations),
        cmocka_unit_test(test_plot__envelope_even),
        cmocka_unit_test(test_plot__envelope_random),
        cmocka_unit_test(test_plot__thin),
        cmocka_unit_test(test_plot__read_run),
        cmocka_unit_test(test_plot__read_run_errors),
        cmocka_unit_test(test_plot__read_table),
        cmocka_unit_test(test_plot__gp_strings),
        cmocka_unit_test(test_plot__gp_script),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
