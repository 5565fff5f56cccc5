/*
 * csv.h — writing result rows as CSV: a header of column names, then one
 * line per row, each number the shortest text that reads back to the
 * same double (dtoa.h), so a CSV round-trips exactly.
 */
#ifndef TWIN_CSV_H
#define TWIN_CSV_H

#include <stddef.h>
#include <stdio.h>

int csv__header(FILE *f, size_t n, const char *const *names);
int csv__row(FILE *f, const double *values, size_t n);
/* Format one number exactly as csv__row does, cut to len − 1 characters
 * as snprintf would (DTOA_SIZE is always enough); returns its length. */
int csv__number(char *buf, size_t len, double v);

#endif
