/*
 * tolerances.h — each continuous state's absolute tolerance, from the
 * scenario's override, the model's declaration or the scenario's atol
 * (tolerances.c; docs/simulation.md "Tolerances").  The integrator's
 * side, tolerances__apply, is declared in sim_internal.h.
 */
#ifndef TWIN_TOLERANCES_H
#define TWIN_TOLERANCES_H

#include <jansson.h>

#include "errors.h"
#include "scenario.h"

/* Fill si->abs_tol (model->n_state entries) with each state's absolute
 * tolerance, the first of: the instance's "abs_tol" member (over, or
 * NULL when the instance has none; path is where it is), the model's
 * state_abs_tol entry when > 0 (model ABI 1.2), atol times an FMU
 * state's nominal, atol.  Every problem with over is added to errs with
 * its JSON Pointer.  Returns 0, or -1 when out of memory. */
int tolerances__compose(sc_instance *si, const json_t *over, double atol,
                        const char *path, twin_errors *errs);

#endif
