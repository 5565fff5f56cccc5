/*
 * functions.h — a scenario's "functions" over its run.
 *
 * A recorder holds, for every signal the scenario's functions read, its
 * value at every tick (and the tick times), filled from the simulation's
 * tick callback; when the run has finished it evaluates each function
 * with the built-ins (analytics.h), or a function of the library
 * (fn_library.h), into {name: value or null}, with the
 * reason for each null.  A function that has no value (a level never
 * crossed) is reported, never a failure of the run.  The run's process
 * (runner.c) and `twinctl run` (cmd_run.c) use it; the numbers are
 * analytics.c's, the sampling sim.c's.
 */
#ifndef TWIN_FUNCTIONS_H
#define TWIN_FUNCTIONS_H

#include <stdio.h>

#include <jansson.h>

#include "scenario.h"
#include "sim.h"

typedef struct fn_recorder fn_recorder;

/* A recorder for sc's functions; sc must outlive it.  NULL when sc has
 * none (or for want of memory).  Room for every tick is taken now; when
 * it cannot be had, nothing is recorded and each function says so. */
fn_recorder *functions__new(const scenario *sc);

/* Record the signals at tick t: the body of sim_callbacks.tick (r may
 * be NULL). */
void functions__record(fn_recorder *r, const sim *s, double t);

/* Evaluate every function of sc on what r recorded (r NULL: each says
 * memory ran out).  *values (new): {name:
 * number or null}, in the list's order.  *errors (new): {name: {"code",
 * "path", "message"}} for each null, path root + "/functions/<i>" (root
 * "" in a scenario file, "/scenario" in a run request); code
 * out_of_range when the data have no such value (never crossed, never
 * settled, not finite), internal for want of memory, model_crashed when
 * a library function's call failed (fn_library.h). */
void functions__evaluate(const scenario *sc, const fn_recorder *r,
                         const char *root, json_t **values, json_t **errors);

/* One line per function on f: "  name = value unit (function of signal)"
 * or "  name = null: why [code]". */
void functions__print(const scenario *sc, const json_t *values,
                      const json_t *errors, FILE *f);

/* The unit of the value of sc's function i, from the unit of the signal
 * it reads (analytics__unit: an integral of m3/s is in m3); "" when it
 * has none.  Writes into buf, returns buf. */
const char *functions__unit(const scenario *sc, size_t i, char *buf,
                            size_t len);

void functions__free(fn_recorder **r);

#endif
