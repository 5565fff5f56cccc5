/*
 * dtoa.h — the text of a double: the shortest string that reads back
 * (strtod) to the same double, for every number the project writes as
 * text (CSV cells, result rows, JSON answers and events).
 *
 * The digits are the shortest that identify the double (Debian's
 * libdouble-conversion finds them: Grisu3, with its bignum fallback for
 * the few doubles Grisu3 cannot decide); where the decimal point goes is
 * decided here: the decimal form ("273.15", "86400", "0.001") unless the
 * exponent form of the same digits is shorter ("1e-05", "1e+15",
 * "2.5e-308"), the exponent written as C's %e writes it (a sign, at least
 * two digits).  Negative zero is "-0"; NaN and the infinities are "nan",
 * "inf", "-inf", as C's printf writes them (a JSON writer puts something
 * else in their place).  Every string is a valid JSON number otherwise.
 */
#ifndef TWIN_DTOA_H
#define TWIN_DTOA_H

#include <stddef.h>

/* The longest text: a sign, 17 digits, the point and "e-308" (24), and
 * the terminating NUL. */
#define DTOA_SIZE 25

/* Write v's shortest text and a NUL to buf (DTOA_SIZE bytes at least);
 * returns its length (at most DTOA_SIZE − 1). */
size_t dtoa__shortest(double v, char *buf);

/* The shortest digits alone (the C++ side, dtoa_digits.cc): v finite and
 * not negative; digits gets 1 to 17 digits and a NUL, the value is
 * 0.<digits> × 10^point.  Returns how many digits. */
int dtoa__digits(double v, char digits[18], int *point);

#endif
