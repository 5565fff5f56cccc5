/*
 * csv.c — result rows as CSV (see csv.h).
 */
#include "csv.h"

#include <math.h>
#include <stdlib.h>

int csv__number(char *buf, size_t len, double v)
{
    if (isnan(v))
        return snprintf(buf, len, "nan");
    if (isinf(v))
        return snprintf(buf, len, v > 0 ? "inf" : "-inf");
    int n = snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v)
        n = snprintf(buf, len, "%.17g", v);
    return n;
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
