/*
 * dtoa.c — where the point goes in a double's shortest digits (see
 * dtoa.h); the digits come from dtoa_digits.cc.
 */
#include "dtoa.h"

#include <math.h>
#include <string.h>

/* Characters of the exponent part: 'e', its sign, at least two digits. */
static int exponent_width(int e)
{
    int a = e < 0 ? -e : e;
    return a >= 100 ? 5 : 4;
}

size_t dtoa__shortest(double v, char *buf)
{
    char *w = buf;
    if (isnan(v)) {
        memcpy(buf, "nan", 4);
        return 3;
    }
    if (signbit(v)) {
        *w++ = '-';
        v = -v;
    }
    if (isinf(v)) {
        memcpy(w, "inf", 4);
        return (size_t)(w - buf) + 3;
    }
    char d[18] = "0";
    int point = 1, n = 1; /* zero's digits */
    if (v != 0)
        n = dtoa__digits(v, d, &point);
    /* The value is 0.d × 10^point: in the exponent form, d[0].d[1..] ×
     * 10^(point − 1). */
    int e = point - 1;
    int dec = point <= 0 ? 2 - point + n : point < n ? n + 1 : point;
    int sci = n + (n > 1) + exponent_width(e);
    if (dec <= sci) {
        if (point <= 0) {
            *w++ = '0';
            *w++ = '.';
            memset(w, '0', (size_t)-point);
            w += -point;
            memcpy(w, d, (size_t)n);
            w += n;
        } else if (point < n) {
            memcpy(w, d, (size_t)point);
            w += point;
            *w++ = '.';
            memcpy(w, d + point, (size_t)(n - point));
            w += n - point;
        } else {
            memcpy(w, d, (size_t)n);
            w += n;
            memset(w, '0', (size_t)(point - n));
            w += point - n;
        }
    } else {
        *w++ = d[0];
        if (n > 1) {
            *w++ = '.';
            memcpy(w, d + 1, (size_t)(n - 1));
            w += n - 1;
        }
        *w++ = 'e';
        *w++ = e < 0 ? '-' : '+';
        int a = e < 0 ? -e : e;
        if (a >= 100)
            *w++ = (char)('0' + a / 100);
        *w++ = (char)('0' + a / 10 % 10);
        *w++ = (char)('0' + a % 10);
    }
    *w = '\0';
    return (size_t)(w - buf);
}
