/*
 * fuzz_support.h — what the libFuzzer harnesses share: the real model
 * library of the build tree and the instance library of the source tree,
 * loaded once (their directories are fixed at build time), the limits the
 * daemon composes with, and the checks every rejection must pass.
 */
#ifndef TWIN_FUZZ_SUPPORT_H
#define TWIN_FUZZ_SUPPORT_H

#include <stddef.h>

#include "errors.h"
#include "instance_lib.h"
#include "model_lib.h"
#include "scenario.h"

const model_lib *fuzz__models(void);
const instance_lib *fuzz__instances(void);

/* The limits handle_run passes: config__defaults' max_instances,
 * max_connections and max_rows. */
extern const scenario_limits fuzz__limits;

/* A rejection must reach the wire whole: every problem becomes one
 * element of the response's "errors" (a message cut inside a UTF-8
 * sequence would be dropped by jansson), and each path is "" or a JSON
 * Pointer.  Aborts (a crash to libFuzzer) when one does not. */
void fuzz__check_errors(const twin_errors *errs, const char *what);

/* A composed scenario must be usable: its column names are valid UTF-8
 * and distinct (they become the response's "columns" and the CSV
 * header).  Aborts when they are not. */
void fuzz__check_scenario(const scenario *sc);

#endif
