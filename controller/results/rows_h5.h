/*
 * rows_h5.h — rows as one chunked HDF5 dataset, through libhdf5
 * (rows_h5.c); rows_out.h is how the rest of the program reaches it.
 */
#ifndef TWIN_ROWS_H5_H
#define TWIN_ROWS_H5_H

#include <stddef.h>

#include "rows_out.h"

typedef struct rows_h5 rows_h5;

/* Create path; compress is a deflate level 1-9, or 0.  Returns NULL with
 * why. */
rows_h5 *rows_h5__open(const char *path, int compress, char *why,
                       size_t why_len);
/* Each returns 0, or -1 with why. */
int rows_h5__header(rows_h5 *h, const rows_header *hd, char *why,
                    size_t why_len);
int rows_h5__row(rows_h5 *h, const double *values, char *why,
                 size_t why_len);
/* Write the rows still held, close the file, free h and clear *h.
 * Returns 0, or -1 with why. */
int rows_h5__close(rows_h5 **h, char *why, size_t why_len);

/* The name of the dataset in the file. */
#define ROWS_H5_DATASET "results"

#endif
