/*
 * rows_in.h — a MAT or HDF5 result file read back, row by row: the
 * column names ("t" first) and the rows, as rows_out.h writes them (the
 * MAT reader takes any result file in the Modelica tools' layout, as
 * Dymola and OpenModelica write it).  CSV is read by its users' own
 * parsers (`twinctl plot`'s plot_data.c).  A problem is one sentence that
 * names the file: not a file of that format, not a result file, damaged.
 */
#ifndef TWIN_ROWS_IN_H
#define TWIN_ROWS_IN_H

#include <stddef.h>

#include "rows_out.h"

typedef struct rows_in rows_in;

/* Open path as format (ROWS_MAT or ROWS_HDF5).  Returns NULL with why. */
rows_in *rows_in__open(const char *path, rows_format format, char *why,
                       size_t why_len);

/* The columns, and the name of column k ("t" for the first). */
size_t rows_in__columns(const rows_in *in);
const char *rows_in__name(const rows_in *in, size_t k);

/* The next row into row (rows_in__columns values): 1, 0 at the end, or
 * -1 with why. */
int rows_in__next(rows_in *in, double *row, char *why, size_t why_len);

void rows_in__close(rows_in **in);

#endif
