/*
 * csv.h — writing result rows as CSV: a header of column names, then one
 * line per row, each number in the shortest of %.15g / %.17g that reads
 * back to the same double, so a CSV round-trips exactly.
 */
#ifndef TWIN_CSV_H
#define TWIN_CSV_H

#include <stddef.h>
#include <stdio.h>

int csv__header(FILE *f, size_t n, const char *const *names);
int csv__row(FILE *f, const double *values, size_t n);
/* Format one number exactly as csv__row does; returns its length. */
int csv__number(char *buf, size_t len, double v);

#endif
