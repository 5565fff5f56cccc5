/*
 * csv.c — result rows as CSV (see csv.h).
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

int csv__number(char *buf, size_t len, double v)
{
    if (len >= DTOA_SIZE)
        return (int)dtoa__shortest(v, buf);
    char text[DTOA_SIZE]; /* cut to len, as snprintf would */
    size_t n = dtoa__shortest(v, text);
    if (len > 0) {
        size_t k = n < len ? n : len - 1;
        memcpy(buf, text, k);
        buf[k] = '\0';
    }
    return (int)n;
}

int csv__header(FILE *f, size_t n, const char *const *names)
{
    for (size_t i = 0; i < n; i++)
        if (fprintf(f, "%s%s", i ? "," : "", names[i]) < 0)
            return -1;
    return fputc('\n', f) == EOF ? -1 : 0;
}

int csv__line_init(csv_line *line, size_t n)
{
    *line = (csv_line){.n = n};
    size_t cols = n ? n : 1;
    line->last = calloc(cols, sizeof *line->last);
    line->len = calloc(cols, sizeof *line->len);
    line->text = calloc(cols, DTOA_SIZE);
    line->buf = malloc(cols * DTOA_SIZE + 1);
    if (line->last == NULL || line->len == NULL || line->text == NULL ||
        line->buf == NULL) {
        csv__line_free(line);
        return -1;
    }
    return 0;
}

void csv__line_free(csv_line *line)
{
    free(line->last);
    free(line->len);
    free(line->text);
    free(line->buf);
    *line = (csv_line){0};
}

size_t csv__line_format(csv_line *line, const double *values)
{
    char *w = line->buf;
    for (size_t i = 0; i < line->n; i++) {
        uint64_t bits;
        char *text = line->text + i * DTOA_SIZE;
        memcpy(&bits, &values[i], sizeof bits);
        if (line->len[i] == 0 || bits != line->last[i]) {
            line->len[i] = (unsigned char)dtoa__shortest(values[i], text);
            line->last[i] = bits;
        }
        /* A whole slot, which the compiler copies in a few moves: the
         * line has room (a cell and its comma take DTOA_SIZE at most). */
        memcpy(w, text, DTOA_SIZE - 1);
        w += line->len[i];
        *w++ = ',';
    }
    if (w == line->buf)
        *w++ = '\n'; /* no columns: an empty line */
    else
        w[-1] = '\n';
    return (size_t)(w - line->buf);
}

int csv__row(FILE *f, csv_line *line, const double *values)
{
    size_t len = csv__line_format(line, values);
    return fwrite(line->buf, 1, len, f) == len ? 0 : -1;
}
