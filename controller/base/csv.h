/*
 * csv.h — writing result rows as CSV: a header of column names, then one
 * line per row, each number the shortest text that reads back to the
 * same double (dtoa.h), so a CSV round-trips exactly.
 *
 * A row is composed in a csv_line, which keeps each column's last value
 * and its text: a value whose bits equal the column's last one (a steady
 * level, a set point, a pump that is off) is copied, not formatted again
 * — the same text, since the text is a function of the bits.  The line is
 * written with one fwrite.
 */
#ifndef TWIN_CSV_H
#define TWIN_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct csv_line {
    size_t n;              /* columns */
    uint64_t *last;        /* each column's last value, its bits */
    unsigned char *len;    /* the length of its text; 0: none yet */
    char *text;            /* its text, DTOA_SIZE bytes a column */
    char *buf;             /* the line being composed */
} csv_line;

/* Room for rows of n columns; returns 0, or -1 out of memory. */
int csv__line_init(csv_line *line, size_t n);
void csv__line_free(csv_line *line);
/* Compose the row of line->n values (with its newline) in line->buf and
 * return its length. */
size_t csv__line_format(csv_line *line, const double *values);

int csv__header(FILE *f, size_t n, const char *const *names);
/* One row of line->n values; returns 0, or -1 when the write failed. */
int csv__row(FILE *f, csv_line *line, const double *values);
/* Format one number exactly as csv__row does, cut to len − 1 characters
 * as snprintf would (DTOA_SIZE is always enough); returns its length. */
int csv__number(char *buf, size_t len, double v);

#endif
