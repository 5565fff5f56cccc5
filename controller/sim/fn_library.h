/*
 * fn_library.h — a scenario's function computed by a function of the
 * library (funclib.h): a C plugin function or a Python function, where a
 * built-in does not fit.  The function takes the series as its arguments
 * `y` (the signal's values at every tick) and, when it has one, `t` (the
 * tick times), both arrays of numbers, and the entry's other members as
 * its further arguments; it returns a number.  Composition checks the
 * entry against the function's signature (fn_library__check); after the
 * run, fn_library__eval calls it in a process of its own, as a `call`
 * does (funcall.h), so that a crash or a loop costs only that value.
 * docs/functions.md, "A scenario's functions".
 */
#ifndef TWIN_FN_LIBRARY_H
#define TWIN_FN_LIBRARY_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"
#include "funclib.h"

/* Seconds a function may take on a run's series. */
#define FN_LIBRARY_SECONDS 60.0

/* Check entry (a scenario's functions entry, at path) against f: `y` an
 * input array of numbers, `t` one if present, no output arrays, a number
 * returned, and the entry's other members (besides name, function and
 * of) as its other arguments.  Returns the arguments to pass besides t
 * and y (new), or NULL with every problem in errs, at path/<member>. */
json_t *fn_library__check(const fl_function *f, const json_t *entry,
                          const char *path, twin_errors *errs);

/* Call f on the series (t, y: n samples) with params.  Returns 0 with
 * *v, 1 when it returned no finite number, -1 when the call failed; why
 * says what happened in both cases. */
int fn_library__eval(const fl_function *f, const json_t *params,
                     const double *t, const double *y, size_t n,
                     const char *of_name, double *v, char *why,
                     size_t why_len);

#endif
