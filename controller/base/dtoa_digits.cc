/*
 * dtoa_digits.cc — the C++ side of dtoa.c: libdouble-conversion's
 * shortest digits of a double behind a C function (see dtoa.h).
 */
#include <double-conversion/double-to-string.h>

extern "C" int dtoa__digits(double v, char digits[18], int *point);

int dtoa__digits(double v, char digits[18], int *point)
{
    bool negative = false;
    int length = 0;
    double_conversion::DoubleToStringConverter::DoubleToAscii(
        v, double_conversion::DoubleToStringConverter::SHORTEST, 0, digits,
        18, &negative, &length, point);
    return length;
}
