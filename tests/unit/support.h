/*
 * support.h — what the tests share: the real model library of the build
 * tree, composing a scenario from a JSON string, and running it with the
 * rows and events collected in memory.
 */
#ifndef TWIN_TEST_SUPPORT_H
#define TWIN_TEST_SUPPORT_H

#include <stddef.h>

#include "instance_lib.h"
#include "model_lib.h"
#include "scenario.h"
#include "sim.h"
#include "steady.h"

/* The reference models from <builddir>/models and the instance library of
 * the source tree (paths come from meson through the environment:
 * TWIN_TEST_MODEL_DIR, TWIN_TEST_INSTANCE_DIR, TWIN_TEST_SCENARIO_DIR). */
const model_lib *support__models(void);
const instance_lib *support__instances(void);
const char *support__scenario_dir(void);

typedef struct collected {
    size_t n_cols;
    char **names;          /* column names, "t" first */
    double *rows;          /* n_rows × n_cols, row-major */
    size_t n_rows, cap;
    sim_event *events;     /* messages and instance names not kept */
    size_t n_events;
    sim_stats stats;
    int result;            /* sim__run's return */
    twin_errors errs;
    /* The scenario's functions (functions.h), when it has some and the
     * run finished: {name: value}, {name: error}; paths from "". */
    json_t *functions, *function_errors;
    struct fn_recorder *recorder;
    /* support__run_fed: called at the start of each tick */
    int (*feed)(sim *s, double t, void *arg);
    void *feed_arg;
} collected;

/* Compose text (a scenario document) or fail the test, printing every
 * problem. */
scenario *support__compose(const char *json_text);

/* Compose text against lib (test plugins; no instance library): NULL,
 * with the problems in errs, when it does not compose.  Bad JSON fails
 * the test. */
scenario *support__compose_in(const model_lib *lib, const char *json_text,
                              twin_errors *errs);

/* The same, failing the test with every problem when it does not
 * compose. */
scenario *support__compose_in_ok(const model_lib *lib,
                                 const char *json_text);

/* Compose a scenario file from the scenario directory by name. */
scenario *support__compose_named(const char *name);

/* The same with the top-level member set to the string value first
 * ("integrators": "separate"). */
scenario *support__compose_named_set(const char *name, const char *member,
                                     const char *value);

/* A scenario of one instance, bad0, of the test plugin "failing"
 * (tests/plugins/failing.c, loaded from TWIN_TEST_PLUGIN_DIR into a
 * library of its own): its parameters mode and t_fail, time 0 to stop by
 * 1 s.  Fails the test when it does not compose. */
scenario *support__compose_failing(int mode, double t_fail, double stop);

/* Run in batch mode, collecting everything, the functions' values too. */
void support__run(const scenario *sc, collected *out);

/* The same with feed(s, t, arg) called at the start of every tick (the
 * sim's poll: live inputs, measurements; non-zero cancels the run). */
void support__run_fed(const scenario *sc, collected *out,
                      int (*feed)(sim *s, double t, void *arg), void *arg);

/* Column index by name, or fail the test. */
size_t support__col(const collected *c, const char *name);
static inline double support__at(const collected *c, size_t row, size_t col)
{
    return c->rows[row * c->n_cols + col];
}

void support__free(collected *c);

/* The value in a steady answer r of sc of the state, or of the output,
 * inst.name; fails the test when there is none. */
double support__steady_state(const scenario *sc, const steady_result *r,
                             const char *inst, const char *name);
double support__steady_output(const scenario *sc, const steady_result *r,
                              const char *inst, const char *name);

/* Fail the test unless errs holds exactly the problems of want (an array
 * of {"code", "path"}, in order), each with a sentence in valid UTF-8;
 * name is the case's, for the messages. */
void support__expect_errors(const char *name, const twin_errors *errs,
                            const json_t *want);

/* Fail with both values unless |got − want| ≤ tol; with TWIN_TEST_PRINT
 * set, print every comparison.  The largest error seen is kept until
 * support__max_error() returns it and starts again. */
void support__close(const char *what, double got, double want, double tol);
double support__max_error(void);

/* The root of f in [lo, hi] (f(lo) and f(hi) of opposite signs, or the
 * test fails) by GSL's Brent solver, to 1e-15 in x: an answer computed
 * independently of the controller. */
double support__root(double (*f)(double, void *), void *params, double lo,
                     double hi);

#endif
