/*
 * rows_out.c — one writer of a run's rows whatever the format (see
 * rows_out.h): the format chosen by name or extension, the CSV and
 * "none" writers, and the MAT and HDF5 writers (rows_mat.c, rows_h5.c)
 * behind the same calls.  The first problem is kept and stops the writer;
 * close still finishes the file with what it took.
 */
#include "rows_out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "rows_h5.h"
#include "rows_mat.h"

struct rows_out {
    rows_format format;
    char *path;            /* NULL for a borrowed stream */
    FILE *csv;
    csv_line line;         /* the CSV row being composed */
    rows_mat *mat;
    rows_h5 *h5;
    size_t n;              /* columns, from the header */
    int have_header;
    int failed;
    unsigned long long rows;
    char why[1024];
};

static const struct {
    const char *name, *ext;
    rows_format format;
} formats[] = {
    {"csv", ".csv", ROWS_CSV},
    {"mat", ".mat", ROWS_MAT},
    {"hdf5", ".h5", ROWS_HDF5},
    {"h5", ".hdf5", ROWS_HDF5},
    {"none", "", ROWS_NONE},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

int rows_out__format_named(const char *name, rows_format *format)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (strcmp(name, formats[i].name) == 0) {
            *format = formats[i].format;
            return 0;
        }
    return -1;
}

rows_format rows_out__format_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL || strchr(dot, '/') != NULL)
        return ROWS_CSV;
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].ext[0] && strcasecmp(dot, formats[i].ext) == 0)
            return formats[i].format;
    return ROWS_CSV;
}

const char *rows_out__extension(rows_format format)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].format == format)
            return formats[i].ext;
    return "";
}

const char *rows_out__format_name(rows_format format)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].format == format)
            return formats[i].name;
    return "?";
}

void rows_out__say(char *why, size_t len, const char *fmt, ...)
{
    if (why == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

rows_out *rows_out__open(const char *path, rows_format format,
                         const rows_options *options, char *why,
                         size_t why_len)
{
    rows_out *o = calloc(1, sizeof *o);
    if (o == NULL || (o->path = strdup(path)) == NULL) {
        free(o);
        rows_out__say(why, why_len, "out of memory opening %s", path);
        return NULL;
    }
    o->format = format;
    switch (format) {
    case ROWS_CSV:
        if ((o->csv = fopen(path, "w")) == NULL)
            rows_out__say(why, why_len, "cannot write %s: %s", path, strerror(errno));
        break;
    case ROWS_MAT:
        o->mat = rows_mat__open(path, why, why_len);
        break;
    case ROWS_HDF5:
        o->h5 = rows_h5__open(path, options ? options->compress : 0, why,
                              why_len);
        break;
    case ROWS_NONE:
        return o;
    }
    if (o->csv == NULL && o->mat == NULL && o->h5 == NULL) {
        free(o->path);
        free(o);
        return NULL;
    }
    return o;
}

rows_out *rows_out__stream(FILE *f)
{
    rows_out *o = calloc(1, sizeof *o);
    if (o != NULL) {
        o->format = ROWS_CSV;
        o->csv = f;
    }
    return o;
}

/* Keep the first problem; the writer takes nothing more. */
static int failed(rows_out *o)
{
    o->failed = 1;
    return -1;
}

static int csv_failed(rows_out *o)
{
    rows_out__say(o->why, sizeof o->why, "writing %s failed: %s",
        o->path ? o->path : "the rows", strerror(errno ? errno : EIO));
    return failed(o);
}

int rows_out__header(rows_out *o, const rows_header *h)
{
    if (o->failed)
        return -1;
    if (o->have_header)
        return 0;
    o->have_header = 1;
    o->n = h->n;
    switch (o->format) {
    case ROWS_CSV:
        if (csv__line_init(&o->line, h->n) != 0) {
            rows_out__say(o->why, sizeof o->why, "out of memory writing %s",
                          o->path ? o->path : "the rows");
            return failed(o);
        }
        errno = 0;
        return csv__header(o->csv, h->n, h->names) == 0 ? 0 : csv_failed(o);
    case ROWS_MAT:
        return rows_mat__header(o->mat, h, o->why, sizeof o->why) == 0
                   ? 0 : failed(o);
    case ROWS_HDF5:
        return rows_h5__header(o->h5, h, o->why, sizeof o->why) == 0
                   ? 0 : failed(o);
    case ROWS_NONE:
        break;
    }
    return 0;
}

int rows_out__row(rows_out *o, const double *values, size_t n)
{
    if (o->failed)
        return -1;
    if (!o->have_header || n != o->n) {
        rows_out__say(o->why, sizeof o->why, "a row of %zu values for %s, whose "
            "header has %zu columns", n, o->path ? o->path : "the rows",
            o->n);
        return failed(o);
    }
    int rc = 0;
    switch (o->format) {
    case ROWS_CSV:
        errno = 0;
        rc = csv__row(o->csv, &o->line, values) == 0 ? 0 : csv_failed(o);
        break;
    case ROWS_MAT:
        rc = rows_mat__row(o->mat, values, o->why, sizeof o->why);
        break;
    case ROWS_HDF5:
        rc = rows_h5__row(o->h5, values, o->why, sizeof o->why);
        break;
    case ROWS_NONE:
        break;
    }
    if (rc != 0)
        return failed(o);
    o->rows++;
    return 0;
}

unsigned long long rows_out__rows(const rows_out *o)
{
    return o->rows;
}

const char *rows_out__why(const rows_out *o)
{
    return o->why;
}

int rows_out__close(rows_out **op, char *why, size_t why_len)
{
    rows_out *o = *op;
    if (o == NULL)
        return 0;
    char mine[1024] = "";
    int rc = 0;
    if (o->csv != NULL) {
        errno = 0;
        int bad = fflush(o->csv) != 0 || ferror(o->csv);
        if (o->path != NULL && fclose(o->csv) != 0)
            bad = 1;
        if (bad)
            rows_out__say(mine, sizeof mine, "writing %s failed: %s",
                o->path ? o->path : "the rows",
                strerror(errno ? errno : EIO));
        rc = bad ? -1 : 0;
    } else if (o->mat != NULL) {
        rc = rows_mat__close(&o->mat, mine, sizeof mine);
    } else if (o->h5 != NULL) {
        rc = rows_h5__close(&o->h5, mine, sizeof mine);
    }
    if (o->failed)
        rows_out__say(why, why_len, "%s", o->why);
    else if (rc != 0)
        rows_out__say(why, why_len, "%s", mine);
    rc = o->failed ? -1 : rc;
    csv__line_free(&o->line);
    free(o->path);
    free(o);
    *op = NULL;
    return rc;
}
