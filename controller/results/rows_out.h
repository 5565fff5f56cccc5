/*
 * rows_out.h — a run's rows written to a file as they come, in one of
 * the result formats: CSV (the default; csv.h's shortest text), MAT (the
 * Modelica tools' result layout, through libmatio: rows_mat.c) or HDF5
 * (one chunked dataset, through libhdf5: rows_h5.c); and "none", which
 * takes the rows and writes nothing (a run for its summary, a benchmark's
 * sink).  `twinctl run -o`, `twinctl submit -o` (collect.h) and a batch's
 * cases (--rows) write through it; docs/results.md says what each file
 * holds and how to open it.
 *
 * Memory stays bounded whatever the length of the run: CSV goes through
 * stdio a line at a time (csv.h's csv_line), HDF5 one chunk of rows at a
 * time, MAT a buffer of rows at a time after the variables libmatio
 * wrote, data_2's size kept current (rows_mat.c).  Close always
 * finalizes: a run that failed or was stopped leaves a valid file with
 * the rows up to then.  Nothing here prints; a problem is one sentence that names the
 * file (rows_out__why).
 */
#ifndef TWIN_ROWS_OUT_H
#define TWIN_ROWS_OUT_H

#include <stddef.h>
#include <stdio.h>

typedef enum rows_format {
    ROWS_CSV,
    ROWS_MAT,
    ROWS_HDF5,
    ROWS_NONE
} rows_format;

typedef struct rows_out rows_out;

/* What the writer may know besides the rows (each optional). */
typedef struct rows_options {
    int compress;          /* HDF5: deflate level 1-9 (with the shuffle
                            * filter), 0 none (the default) */
} rows_options;

/* The columns, once, before the first row: names[0] is "t".  units and
 * descriptions (each NULL, or n strings, NULL or "" where not known) and
 * scenario (the scenario's JSON text, or NULL) go where the format has
 * room for them (CSV keeps the names only). */
typedef struct rows_header {
    size_t n;
    const char *const *names;
    const char *const *units;
    const char *const *descriptions;
    const char *scenario;
} rows_header;

/* The format a name stands for: "csv", "mat", "hdf5" (or "h5"), "none".
 * Returns 0, or -1 when the name is none of them. */
int rows_out__format_named(const char *name, rows_format *format);

/* The format a path's extension says: .mat, .h5 or .hdf5, else CSV. */
rows_format rows_out__format_of_path(const char *path);

/* The usual extension of a format, with its dot (".csv", ".mat", ".h5";
 * "" for none). */
const char *rows_out__extension(rows_format format);

/* The name of a format, as rows_out__format_named takes it. */
const char *rows_out__format_name(rows_format format);

/* Create path (replacing a file there) for rows in format; options may be
 * NULL.  Returns the writer, or NULL with why (the file cannot be
 * created, out of memory). */
rows_out *rows_out__open(const char *path, rows_format format,
                         const rows_options *options, char *why,
                         size_t why_len);

/* CSV to an open stream (stdout), borrowed: close flushes it and leaves
 * it open. */
rows_out *rows_out__stream(FILE *f);

/* Returns 0, or -1 (rows_out__why says; the writer takes nothing more).
 * The header comes once, before the rows; a second is ignored. */
int rows_out__header(rows_out *o, const rows_header *h);
/* One row of n values (n must be the header's n). */
int rows_out__row(rows_out *o, const double *values, size_t n);

/* Rows written so far. */
unsigned long long rows_out__rows(const rows_out *o);

/* The first problem, or "" when there was none. */
const char *rows_out__why(const rows_out *o);

/* Finish the file (a valid file with every row taken, also after a
 * failed run), free the writer and clear *o.  Returns 0, or -1 with why
 * (the first problem, of this call or before). */
int rows_out__close(rows_out **o, char *why, size_t why_len);

/* For the writers of each format (rows_mat.c, rows_h5.c): the sentence
 * into why (len bytes), when why is not NULL. */
void rows_out__say(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
