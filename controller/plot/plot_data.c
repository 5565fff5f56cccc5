/*
 * plot_data.c — reading a run's rows (CSV here; MAT and HDF5 through
 * rows_in.h) and a batch's summary for `twinctl plot` (see plot_data.h).
 * Only reading: which columns to draw and what they mean is cmd_plot.c's.
 */
#include "plot_data.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rows_in.h"

static void say(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static void cannot_open(const char *path, char *why, size_t len)
{
    if (errno == ENOENT)
        say(why, len, "%s: no such file", path);
    else
        say(why, len, "cannot read %s: %s", path, strerror(errno));
}

static void chomp(char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
}

/* Split line at its commas, in place, into *fields (grown as needed).
 * Returns the number of fields, or 0 for want of memory. */
static size_t split(char *line, char ***fields, size_t *cap)
{
    size_t n = 0;
    for (char *p = line;; p++) {
        if (n == *cap) {
            size_t c = *cap ? 2 * *cap : 16;
            char **f = realloc(*fields, c * sizeof *f);
            if (f == NULL)
                return 0;
            *fields = f;
            *cap = c;
        }
        (*fields)[n++] = p;
        p = strchr(p, ',');
        if (p == NULL)
            return n;
        *p = '\0';
    }
}

void plotdata__free_run(plot_run *run)
{
    for (size_t i = 0; i < run->n_names; i++)
        free(run->names[i]);
    free(run->names);
    free(run->col);
    free(run->t);
    free(run->v);
    *run = (plot_run){0};
}

/* "a, b, c" (at most 30 names, then "and N more"). */
static void list_names(char *const *names, size_t n, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && w < len; i++) {
        if (i == 30) {
            snprintf(buf + w, len - w, " and %zu more", n - i);
            return;
        }
        w += (size_t)snprintf(buf + w, len - w, "%s%s", i ? ", " : "",
                              names[i]);
    }
}

/* Pick the header's columns the patterns match.  Returns 0, -1 with
 * why. */
static int pick_columns(plot_run *run, const char *path,
                        const char *const *channels, size_t n_channels,
                        char *why, size_t why_len)
{
    run->col = malloc((run->n_names ? run->n_names : 1) * sizeof *run->col);
    if (run->col == NULL) {
        say(why, why_len, "out of memory reading %s", path);
        return -1;
    }
    for (size_t p = 0; p < n_channels; p++) {
        size_t found = 0;
        for (size_t i = 1; i < run->n_names; i++) {
            if (fnmatch(channels[p], run->names[i], 0) != 0)
                continue;
            found++;
            size_t k = 0;
            while (k < run->n_col && run->col[k] != i)
                k++;
            if (k == run->n_col)
                run->col[run->n_col++] = i;
        }
        if (found == 0) {
            char names[2048];
            list_names(run->names + 1, run->n_names - 1, names,
                       sizeof names);
            say(why, why_len, "%s has no column %s'%s'; its columns are "
                "%s", path, strpbrk(channels[p], "*?[") ? "matching " : "",
                channels[p], names);
            return -1;
        }
    }
    return 0;
}

/* Parse one data row into t and v (slot_of maps a column to its place in
 * v, or -1). */
static int parse_row(plot_run *run, char **fields, size_t n,
                     const long *slot_of, double *t, double *v,
                     const char *path, size_t line, char *why,
                     size_t why_len)
{
    if (n != run->n_names) {
        say(why, why_len, "%s:%zu: %zu value%s for %zu columns", path, line,
            n, n == 1 ? "" : "s", run->n_names);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && slot_of[i] < 0)
            continue;
        double x = NAN;
        if (fields[i][0] != '\0') {
            char *end;
            x = strtod(fields[i], &end);
            if (end == fields[i] || *end != '\0') {
                say(why, why_len, "%s:%zu: the value of %s is not a number: "
                    "'%.40s'", path, line, run->names[i], fields[i]);
                return -1;
            }
        }
        if (i == 0)
            *t = x;
        else
            v[slot_of[i]] = x;
    }
    return 0;
}

static void add_index(size_t *slice, size_t *n, size_t i)
{
    size_t k = *n;
    while (k > 0 && slice[k - 1] > i)
        k--;
    if (k > 0 && slice[k - 1] == i)
        return;
    memmove(slice + k + 1, slice + k, (*n - k) * sizeof *slice);
    slice[k] = i;
    (*n)++;
}

size_t plotdata__thin(const double *v, size_t n, size_t ld, size_t m,
                      size_t max_points, size_t *keep)
{
    size_t *in = NULL;
    if (max_points == 0 || n <= max_points || m == 0 ||
        (in = malloc(2 * m * sizeof *in)) == NULL) {
        for (size_t i = 0; i < n; i++)
            keep[i] = i;
        return n;
    }
    size_t slices = max_points > 2 ? (max_points - 2) / (2 * m) : 0;
    if (slices == 0)
        slices = 1;
    size_t w = 0;
    keep[w++] = 0;
    for (size_t s = 0; s < slices; s++) {
        size_t lo = s * n / slices, hi = (s + 1) * n / slices, n_in = 0;
        for (size_t k = 0; k < m; k++) {
            size_t at_min = n, at_max = n;
            for (size_t i = lo; i < hi; i++) {
                double x = v[i * ld + k];
                if (!isfinite(x))
                    continue;
                if (at_min == n || x < v[at_min * ld + k])
                    at_min = i;
                if (at_max == n || x > v[at_max * ld + k])
                    at_max = i;
            }
            if (at_min < n)
                add_index(in, &n_in, at_min);
            if (at_max < n)
                add_index(in, &n_in, at_max);
        }
        for (size_t j = 0; j < n_in; j++)
            if (in[j] > keep[w - 1])
                keep[w++] = in[j];
    }
    if (keep[w - 1] != n - 1)
        keep[w++] = n - 1;
    free(in);
    return w;
}

/* Row i of run to row w (w ≤ i). */
static void move_row(plot_run *run, size_t w, size_t i)
{
    run->t[w] = run->t[i];
    memmove(run->v + w * run->n_col, run->v + i * run->n_col,
            run->n_col * sizeof *run->v);
}

void plotdata__keep_rows(plot_run *run, const size_t *keep, size_t n)
{
    for (size_t w = 0; w < n; w++)
        move_row(run, w, keep[w]);
    run->n_rows = n;
}

size_t plotdata__window(plot_run *run, double from, double to)
{
    size_t n = 0;
    for (size_t i = 0; i < run->n_rows; i++)
        if (run->t[i] >= from && run->t[i] <= to)
            move_row(run, n++, i);
    run->n_rows = n;
    return n;
}

int plotdata__thin_run(plot_run *run, size_t max_points)
{
    size_t *keep = malloc((run->n_rows + 1) * sizeof *keep);
    if (keep == NULL)
        return -1;
    size_t n = plotdata__thin(run->v, run->n_rows, run->n_col, run->n_col,
                              max_points, keep);
    plotdata__keep_rows(run, keep, n);
    free(keep);
    return 0;
}

/* Room for one more row in run (rows_cap grown).  Returns 0, or -1 for
 * want of memory. */
static int room_for_row(plot_run *run, size_t *rows_cap)
{
    if (run->n_rows < *rows_cap)
        return 0;
    size_t c = *rows_cap ? 2 * *rows_cap : 1024;
    double *t = realloc(run->t, c * sizeof *t);
    if (t != NULL)
        run->t = t;
    double *v = realloc(run->v, c * run->n_col * sizeof *v + 1);
    if (t == NULL || v == NULL)
        return -1;
    run->v = v;
    *rows_cap = c;
    return 0;
}

/* The rows are all read: none is an error ("PATH <what>"). */
static int rows_read(plot_run *run, const char *path, const char *what,
                     char *why, size_t why_len)
{
    if (run->n_rows == 0) {
        say(why, why_len, "%s %s", path, what);
        return -1;
    }
    run->n_lines = run->n_rows;
    return 0;
}

/* A MAT or HDF5 file's rows (rows_in.h), the columns asked for. */
static int read_binary(const char *path, rows_format format,
                       const char *const *channels, size_t n_channels,
                       plot_run *run, char *why, size_t why_len)
{
    size_t rows_cap = 0;
    double *row = NULL;
    int rc = -1, got;
    rows_in *in = rows_in__open(path, format, why, why_len);
    if (in == NULL)
        return -1;
    size_t n = rows_in__columns(in);
    run->names = calloc(n, sizeof *run->names);
    row = malloc(n * sizeof *row);
    if (run->names == NULL || row == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if ((run->names[run->n_names++] = strdup(rows_in__name(in, i))) ==
            NULL)
            goto oom;
    if (pick_columns(run, path, channels, n_channels, why, why_len) != 0)
        goto exit;
    while ((got = rows_in__next(in, row, why, why_len)) > 0) {
        if (room_for_row(run, &rows_cap) != 0)
            goto oom;
        run->t[run->n_rows] = row[0];
        for (size_t k = 0; k < run->n_col; k++)
            run->v[run->n_rows * run->n_col + k] = row[run->col[k]];
        run->n_rows++;
    }
    if (got >= 0)
        rc = rows_read(run, path, "has columns but no rows", why, why_len);
    goto exit;
oom:
    say(why, why_len, "out of memory reading %s", path);
exit:
    if (rc != 0)
        plotdata__free_run(run);
    free(row);
    rows_in__close(&in);
    return rc;
}

int plotdata__read_run(const char *path, const char *const *channels,
                       size_t n_channels, plot_run *run, char *why,
                       size_t why_len)
{
    char *line = NULL, **fields = NULL;
    size_t line_cap = 0, fields_cap = 0, rows_cap = 0, lineno = 1;
    long *slot_of = NULL;
    int rc = -1;
    *run = (plot_run){0};
    rows_format format = rows_out__format_of_path(path);
    if (format != ROWS_CSV)
        return read_binary(path, format, channels, n_channels, run, why,
                           why_len);

    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cannot_open(path, why, why_len);
        return -1;
    }
    if (getline(&line, &line_cap, f) < 0) {
        say(why, why_len, "%s is empty: a run's CSV starts with a header "
            "line 't,NAME,...'", path);
        goto exit;
    }
    chomp(line);
    size_t n = split(line, &fields, &fields_cap);
    run->names = calloc(n ? n : 1, sizeof *run->names);
    if (n == 0 || run->names == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if ((run->names[run->n_names++] = strdup(fields[i])) == NULL)
            goto oom;
    if (strcmp(run->names[0], "t") != 0) {
        say(why, why_len, "%s is not a run's CSV: its first column is "
            "'%.40s', not 't' (twinctl run -o, twinctl submit -o and a "
            "batch's cases/ID.csv are)", path, run->names[0]);
        goto exit;
    }
    if (pick_columns(run, path, channels, n_channels, why, why_len) != 0)
        goto exit;
    slot_of = malloc(n * sizeof *slot_of);
    if (slot_of == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++)
        slot_of[i] = -1;
    for (size_t k = 0; k < run->n_col; k++)
        slot_of[run->col[k]] = (long)k;

    while (getline(&line, &line_cap, f) >= 0) {
        lineno++;
        chomp(line);
        if (line[0] == '\0')
            continue;
        if (room_for_row(run, &rows_cap) != 0)
            goto oom;
        size_t nf = split(line, &fields, &fields_cap);
        if (nf == 0)
            goto oom;
        if (parse_row(run, fields, nf, slot_of, &run->t[run->n_rows],
                      run->v + run->n_rows * run->n_col, path, lineno, why,
                      why_len) != 0)
            goto exit;
        run->n_rows++;
    }
    if (ferror(f)) {
        say(why, why_len, "cannot read %s: %s", path, strerror(errno));
        goto exit;
    }
    rc = rows_read(run, path, "has a header but no rows", why, why_len);
    goto exit;
oom:
    say(why, why_len, "out of memory reading %s", path);
exit:
    if (rc != 0)
        plotdata__free_run(run);
    free(slot_of);
    free(fields);
    free(line);
    fclose(f);
    return rc;
}

/* ---- tables ------------------------------------------------------------- */

void plotdata__free_table(plot_table *t)
{
    for (size_t i = 0; i < t->n_cols; i++)
        free(t->head[i]);
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cell[i]);
    free(t->head);
    free(t->cell);
    *t = (plot_table){0};
}

long plotdata__column(const plot_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->head[i], name) == 0)
            return (long)i;
    return -1;
}

typedef struct strlist {
    char **s;
    size_t n, cap;
} strlist;

static int strlist_push(strlist *l, char *s)
{
    if (s == NULL)
        return -1;
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 64;
        char **p = realloc(l->s, c * sizeof *p);
        if (p == NULL) {
            free(s);
            return -1;
        }
        l->s = p;
        l->cap = c;
    }
    l->s[l->n++] = s;
    return 0;
}

/* The next field of an RFC 4180 text at *pos: a new string, and whether
 * it ended its record (*eol) or the text (*eof).  NULL with why on a
 * malformed field or for want of memory. */
static char *next_field(const char *text, size_t len, size_t *pos,
                        size_t *line, int *eol, const char *path, char *why,
                        size_t why_len)
{
    size_t p = *pos, w = 0;
    char *out = malloc(len - p + 1);
    if (out == NULL) {
        say(why, why_len, "out of memory reading %s", path);
        return NULL;
    }
    if (p < len && text[p] == '"') {
        size_t start = *line;
        for (p++;; p++) {
            if (p >= len) {
                say(why, why_len, "%s:%zu: a quoted field that does not "
                    "end", path, start);
                free(out);
                return NULL;
            }
            if (text[p] == '"' && p + 1 < len && text[p + 1] == '"') {
                out[w++] = '"';
                p++;
            } else if (text[p] == '"') {
                p++;
                break;
            } else {
                *line += text[p] == '\n';
                out[w++] = text[p];
            }
        }
        if (p < len && text[p] != ',' && text[p] != '\n' && text[p] != '\r') {
            say(why, why_len, "%s:%zu: text after a quoted field's closing "
                "quote", path, *line);
            free(out);
            return NULL;
        }
    } else {
        while (p < len && text[p] != ',' && text[p] != '\n' &&
               text[p] != '\r')
            out[w++] = text[p++];
    }
    out[w] = '\0';
    if (p < len && text[p] == '\r')
        p++;
    *eol = p >= len || text[p] == '\n';
    if (p < len)
        p++; /* the comma or the line break */
    *line += *eol;
    *pos = p;
    return out;
}

static char *slurp(const char *path, size_t *len, char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cannot_open(path, why, why_len);
        return NULL;
    }
    char *text = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 65536) {
            char *p = realloc(text, cap + 65536 + 1);
            if (p == NULL) {
                free(text);
                fclose(f);
                say(why, why_len, "out of memory reading %s", path);
                return NULL;
            }
            text = p;
            cap += 65536;
        }
        size_t k = fread(text + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        say(why, why_len, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

int plotdata__read_table(const char *path, plot_table *t, char *why,
                         size_t why_len)
{
    size_t len = 0, pos = 0, line = 1, rec_line = 1;
    strlist head = {0}, cells = {0};
    int rc = -1;
    *t = (plot_table){0};
    char *text = slurp(path, &len, why, why_len);
    if (text == NULL)
        return -1;
    if (len == 0) {
        say(why, why_len, "%s is empty: a table starts with a header line",
            path);
        goto exit;
    }
    strlist *into = &head;
    size_t in_record = 0;
    while (pos < len) {
        int eol = 0;
        char *field = next_field(text, len, &pos, &line, &eol, path, why,
                                 why_len);
        if (field == NULL)
            goto exit;
        if (in_record == 0 && eol && field[0] == '\0') {
            free(field); /* a blank line */
            rec_line = line;
            continue;
        }
        if (strlist_push(into, field) != 0) {
            say(why, why_len, "out of memory reading %s", path);
            goto exit;
        }
        in_record++;
        if (!eol)
            continue;
        if (into == &head) {
            into = &cells;
        } else if (in_record != head.n) {
            say(why, why_len, "%s:%zu: %zu field%s, the header has %zu",
                path, rec_line, in_record, in_record == 1 ? "" : "s",
                head.n);
            goto exit;
        }
        in_record = 0;
        rec_line = line;
    }
    t->head = head.s;
    t->n_cols = head.n;
    t->cell = cells.s;
    t->n_rows = head.n ? cells.n / head.n : 0;
    head = (strlist){0};
    cells = (strlist){0};
    rc = 0;
exit:
    for (size_t i = 0; i < head.n; i++)
        free(head.s[i]);
    for (size_t i = 0; i < cells.n; i++)
        free(cells.s[i]);
    free(head.s);
    free(cells.s);
    free(text);
    return rc;
}
