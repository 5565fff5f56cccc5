/*
 * rows_mat.h — rows as a MAT file in the Modelica tools' result layout,
 * through libmatio (rows_mat.c); rows_out.h is how the rest of the
 * program reaches it.
 */
#ifndef TWIN_ROWS_MAT_H
#define TWIN_ROWS_MAT_H

#include <stddef.h>

#include "rows_out.h"

typedef struct rows_mat rows_mat;

/* Create path (empty until the header).  Returns NULL with why. */
rows_mat *rows_mat__open(const char *path, char *why, size_t why_len);
/* Each returns 0, or -1 with why. */
int rows_mat__header(rows_mat *m, const rows_header *h, char *why,
                     size_t why_len);
int rows_mat__row(rows_mat *m, const double *values, char *why,
                  size_t why_len);
/* Write the rows still buffered and data_2's final size; frees m and
 * clears *m.  Returns 0, or -1 with why. */
int rows_mat__close(rows_mat **m, char *why, size_t why_len);

#endif
