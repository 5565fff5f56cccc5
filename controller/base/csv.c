/*
 * csv.c — result rows as CSV (see csv.h).
 */
#include "csv.h"

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

int csv__row(FILE *f, const double *values, size_t n)
{
    char buf[40];
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && fputc(',', f) == EOF)
            return -1;
        int len = csv__number(buf, sizeof buf, values[i]);
        if (fwrite(buf, 1, (size_t)len, f) != (size_t)len)
            return -1;
    }
    return fputc('\n', f) == EOF ? -1 : 0;
}
