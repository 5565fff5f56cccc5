/*
 * plot_data.h — reading what `twinctl plot` draws.
 *
 * Two kinds of file: a run's rows, as `twinctl run -o`, `twinctl submit
 * -o` and a batch's cases/<id>.csv write them — a CSV (a header
 * "t,name,..." and one row of numbers per emitted tick; "nan" for a value
 * that was not finite), or by its extension a MAT (.mat) or HDF5 (.h5,
 * .hdf5) result file (rows_in.h) — and a table with a header row (a batch's summary.csv, its text
 * fields quoted as RFC 4180 says); and which rows of a long run to draw.
 * Each reader puts what is wrong with a file into why as one sentence
 * that names the file (and the line), and what to do when there is
 * something to do.
 */
#ifndef TWIN_PLOT_DATA_H
#define TWIN_PLOT_DATA_H

#include <stddef.h>

typedef struct plot_run {
    char **names;      /* the header; names[0] is "t" */
    size_t n_names;
    size_t *col;       /* the columns asked for, indices into names */
    size_t n_col;
    double *t;         /* the times of the rows kept */
    double *v;         /* n_rows × n_col values, row by row */
    size_t n_rows;     /* rows kept */
    size_t n_lines;    /* rows in the file */
} plot_run;

/* Read the run's rows at path (CSV, MAT or HDF5 by its extension) and
 * keep the columns that match channels
 * (fnmatch(3) patterns: "tank0.h", "tank?.h"), in the order of the
 * patterns and, for one pattern, of the header, each column once; every
 * row.  Returns 0, or -1 with why: no such file, an empty file, a header
 * that does not start with "t", a pattern no column matches (listing the
 * columns there are), a row with too few or too many values or with a
 * value that is not a number, no rows.  An empty value reads as NaN. */
int plotdata__read_run(const char *path, const char *const *channels,
                       size_t n_channels, plot_run *run, char *why,
                       size_t why_len);

void plotdata__free_run(plot_run *run);

/* Rows to draw of n rows of m series (series k of row i is
 * v[i * ld + k]), at most max_points of them when max_points ≥ 2·m + 2,
 * chosen so that the lines look as they would with every row: the rows
 * are cut into (max_points − 2) / (2·m) equal slices (at least one), each
 * slice keeps the rows where each series has its least and its greatest
 * value (values that are not finite left out), and the first and the last
 * row are kept.  max_points 0, or n ≤ max_points, keeps every row (so
 * does want of memory).  Writes the indices kept, increasing, into keep (room for n) and
 * returns how many. */
size_t plotdata__thin(const double *v, size_t n, size_t ld, size_t m,
                      size_t max_points, size_t *keep);

/* Keep only the rows of run at times from ≤ t ≤ to; returns how many. */
size_t plotdata__window(plot_run *run, double from, double to);

/* Keep only the rows of run listed in keep (increasing, n of them). */
void plotdata__keep_rows(plot_run *run, const size_t *keep, size_t n);

/* Thin run with plotdata__thin over its columns.  Returns 0, -1 for want
 * of memory (run unchanged). */
int plotdata__thin_run(plot_run *run, size_t max_points);

typedef struct plot_table {
    char **head;       /* the header's names */
    size_t n_cols;
    char **cell;       /* n_rows × n_cols strings, row by row */
    size_t n_rows;
} plot_table;

/* Read a table: a header row, then rows of as many fields.  Returns 0, or
 * -1 with why. */
int plotdata__read_table(const char *path, plot_table *t, char *why,
                         size_t why_len);

/* The index of the column called name, or -1. */
long plotdata__column(const plot_table *t, const char *name);

void plotdata__free_table(plot_table *t);

#endif
