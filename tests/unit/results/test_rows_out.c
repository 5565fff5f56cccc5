/*
 * test_rows_out.c — the row writer: formats by name and by extension,
 * the CSV writer's text read back with strtod, a row of the wrong width
 * refused with a sentence, paths that cannot be written, a MAT or HDF5
 * file closed without a row, and a MAT file read by libmatio while it is
 * being written and after (the independent readers' checks of full
 * files are in tests/integration/test_results_files.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <matio.h>

#include "rows_out.h"

static void test_rows_out__format_named(void **state)
{
    static const struct {
        const char *name;
        int ok;
        rows_format want;
    } cases[] = {
        {"csv", 1, ROWS_CSV}, {"mat", 1, ROWS_MAT}, {"hdf5", 1, ROWS_HDF5},
        {"h5", 1, ROWS_HDF5}, {"none", 1, ROWS_NONE}, {"xls", 0, ROWS_CSV},
        {"", 0, ROWS_CSV}, {"CSV", 0, ROWS_CSV},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rows_format f = ROWS_CSV;
        int rc = rows_out__format_named(cases[i].name, &f);
        assert_int_equal(rc, cases[i].ok ? 0 : -1);
        if (cases[i].ok)
            assert_int_equal(f, cases[i].want);
    }
}

static void test_rows_out__format_of_path(void **state)
{
    static const struct {
        const char *path;
        rows_format want;
    } cases[] = {
        {"x.csv", ROWS_CSV}, {"x.mat", ROWS_MAT}, {"x.MAT", ROWS_MAT},
        {"x.h5", ROWS_HDF5}, {"dir/x.hdf5", ROWS_HDF5}, {"x", ROWS_CSV},
        {"x.txt", ROWS_CSV}, {"d.mat/x", ROWS_CSV}, {"-", ROWS_CSV},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rows_out__format_of_path(cases[i].path),
                         cases[i].want);
    assert_string_equal(rows_out__extension(ROWS_HDF5), ".h5");
    assert_string_equal(rows_out__extension(ROWS_MAT), ".mat");
}

static const char *const names[] = {"t", "a.x", "b.y"};

static char *tmp_path(const char *ext)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/test_rows_out.%d%s", (int)getpid(),
             ext);
    return path;
}

/* A writer of format at path, its header the three names. */
static rows_out *open_with_names(const char *path, rows_format format)
{
    char why[512] = "";
    rows_out *o = rows_out__open(path, format, NULL, why, sizeof why);
    assert_non_null(o);
    rows_header h = {.n = 3, .names = names};
    assert_int_equal(rows_out__header(o, &h), 0);
    return o;
}

static void test_rows_out__csv_reads_back(void **state)
{
    (void)state;
    char why[512] = "";
    const char *path = tmp_path(".csv");
    rows_out *o = open_with_names(path, ROWS_CSV);
    const double rows[2][3] = {{0, 0.1, -1e-300}, {1, 273.15, 5e-324}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(rows_out__row(o, rows[i], 3), 0);
    assert_int_equal(rows_out__rows(o), 2);
    assert_int_equal(rows_out__close(&o, why, sizeof why), 0);
    assert_null(o);
    FILE *f = fopen(path, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "t,a.x,b.y\n");
    for (int i = 0; i < 2; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *p = line;
        for (int k = 0; k < 3; k++) {
            double v = strtod(p, &p);
            assert_memory_equal(&v, &rows[i][k], sizeof v);
            p++;
        }
    }
    fclose(f);
    unlink(path);
}

static void test_rows_out__wrong_width(void **state)
{
    (void)state;
    char why[512] = "";
    rows_out *o = rows_out__open("-", ROWS_NONE, NULL, why, sizeof why);
    assert_non_null(o);
    rows_header h = {.n = 3, .names = names};
    assert_int_equal(rows_out__header(o, &h), 0);
    const double v[2] = {0, 1};
    assert_int_equal(rows_out__row(o, v, 2), -1);
    assert_non_null(strstr(rows_out__why(o), "a row of 2 values"));
    assert_int_equal(rows_out__close(&o, why, sizeof why), -1);
    assert_non_null(strstr(why, "whose header has 3 columns"));
}

static void test_rows_out__cannot_write(void **state)
{
    (void)state;
    static const rows_format formats[] = {ROWS_CSV, ROWS_MAT, ROWS_HDF5};
    for (size_t i = 0; i < 3; i++) {
        char why[512] = "";
        rows_out *o = rows_out__open("/nonexistent-dir/x", formats[i], NULL,
                                     why, sizeof why);
        assert_null(o);
        assert_string_equal(why, "cannot write /nonexistent-dir/x: No such "
                                 "file or directory");
    }
}

/* A MAT and an HDF5 file closed with no row are still files (their
 * readers' side is the integration test's). */
static void test_rows_out__no_rows(void **state)
{
    (void)state;
    static const rows_format formats[] = {ROWS_MAT, ROWS_HDF5};
    static const char *const ext[] = {".mat", ".h5"};
    for (size_t i = 0; i < 2; i++) {
        char why[512] = "";
        const char *path = tmp_path(ext[i]);
        rows_out *o = rows_out__open(path, formats[i], NULL, why,
                                     sizeof why);
        assert_non_null(o);
        rows_header h = {.n = 3, .names = names};
        assert_int_equal(rows_out__header(o, &h), 0);
        assert_int_equal(rows_out__close(&o, why, sizeof why), 0);
        assert_int_equal(access(path, R_OK), 0);
        char spill[300];
        snprintf(spill, sizeof spill, "%s.spill", path);
        assert_int_equal(access(spill, F_OK), -1);
        unlink(path);
    }
}

/* Row r of the MAT test: t = r, and two values. */
static void mat_row(size_t r, double v[3])
{
    v[0] = (double)r;
    v[1] = (double)r * 0.5 + 1.0 / 3.0;
    v[2] = -(double)r * 1e-7;
}

/* path's data_2 (3 × k, one column per row) and data_1 as libmatio
 * reads them, against the rows mat_row makes: k rows, least <= k <= most;
 * returns k. */
static size_t check_mat(const char *path, size_t least, size_t most)
{
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    assert_non_null(mat);
    matvar_t *d2 = Mat_VarRead(mat, "data_2");
    matvar_t *d1 = Mat_VarRead(mat, "data_1");
    assert_non_null(d2);
    assert_non_null(d1);
    assert_int_equal(d2->dims[0], 3);
    size_t rows = d2->dims[1];
    assert_true(rows >= least && rows <= most);
    const double *got = d2->data, *t = d1->data;
    for (size_t r = 0; r < rows; r++) {
        double want[3];
        mat_row(r, want);
        assert_memory_equal(got + 3 * r, want, sizeof want);
    }
    assert_true(t[0] == 0 && t[1] == (double)(rows ? rows - 1 : 0));
    Mat_VarFree(d1);
    Mat_VarFree(d2);
    Mat_Close(mat);
    return rows;
}

/* A MAT file is streamed in place: while rows are still coming it reads
 * with the rows of its last write (a buffer of 1 MiB, 43 690 rows of
 * three doubles, or what came in a second on a slow machine), and after
 * close with all of them. */
static void test_rows_out__mat_streamed(void **state)
{
    (void)state;
    enum { ROWS = 100000, FIRST_WRITE = (1 << 20) / 24 };
    char why[512] = "";
    const char *path = tmp_path(".mat");
    rows_out *o = open_with_names(path, ROWS_MAT);
    check_mat(path, 0, 0);
    for (size_t r = 0; r < ROWS; r++) {
        double v[3];
        mat_row(r, v);
        assert_int_equal(rows_out__row(o, v, 3), 0);
        if (r == FIRST_WRITE)
            check_mat(path, 1, FIRST_WRITE);
    }
    assert_int_equal(rows_out__close(&o, why, sizeof why), 0);
    check_mat(path, ROWS, ROWS);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_out__format_named),
        cmocka_unit_test(test_rows_out__format_of_path),
        cmocka_unit_test(test_rows_out__csv_reads_back),
        cmocka_unit_test(test_rows_out__wrong_width),
        cmocka_unit_test(test_rows_out__cannot_write),
        cmocka_unit_test(test_rows_out__no_rows),
        cmocka_unit_test(test_rows_out__mat_streamed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
