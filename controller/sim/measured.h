/*
 * measured.h — a live twin's measurements (docs/live-twin.md): a
 * scenario's "measured" member names model variables whose plant value
 * arrives while the run goes (sim__measure, fed by the plant's signals).
 * At every tick the residual, plant minus model, is a result column
 * beside the plant value; |residual| above the tolerance for "for"
 * seconds raises a residual alarm, cleared with hysteresis (back under
 * tolerance − deadband); the run's synchronisation state (synchronised,
 * desynchronised, stale) is an event at each change.  Optionally the
 * plant pulls a measured state back after the row: nudging (x += gain ×
 * residual) or a reset to the plant value, the integrator restarted.
 *
 *     "measured": {"tank0.h": {"signal": {"topic": "plant/TK-101/level"},
 *                              "tolerance": 0.05, "for": 30,
 *                              "correct": {"gain": 0.2}}}
 */
#ifndef TWIN_MEASURED_H
#define TWIN_MEASURED_H

#include <jansson.h>

#include "alarms.h"
#include "errors.h"
#include "scenario.h"
#include "sim.h"

struct sc_measured {
    sc_ref of;                /* the model variable */
    char *name;               /* "tank0.h" */
    json_t *signal;           /* where the plant value comes from (the
                               * signal layer's to read), or NULL */
    double tolerance;         /* > 0 */
    double deadband;          /* >= 0; default tolerance / 10 */
    double delay;             /* "for", s */
    int reset;                /* "reset": true */
    double gain;              /* "correct": {"gain"}; 0: no nudging */
};

/* Read doc's "measured" into sc->measured, each problem into errs at its
 * path.  -1 when out of memory, else 0. */
int measured__compose(scenario *sc, const json_t *doc, twin_errors *errs);

void measured__free_spec(scenario *sc);

/* The run's side. */
typedef struct measure_watch measure_watch;

/* NULL when the scenario measures nothing, or out of memory. */
measure_watch *measured__new(const scenario *sc);

/* The plant's latest value of measurement i, in force from the next
 * tick; fresh 0 marks the one held as stale (too old) instead. */
void measured__set(measure_watch *w, size_t i, double value, int fresh);

/* Index of the measurement of variable name, or -1. */
long measured__find(const scenario *sc, const char *name);

/* A column of kind SC_REF_MEASURED or SC_REF_RESIDUAL at the last check
 * (NaN before a plant value arrives or while it is stale). */
double measured__column(const measure_watch *w, sc_ref r);

/* At each tick after the models are evaluated at t: the residuals, their
 * alarms and the synchronisation state (events through s). */
void measured__check(measure_watch *w, sim *s, double t);

/* After the tick's row: the corrections, each a change of a state that
 * restarts its integrator. */
void measured__correct(measure_watch *w, sim *s, double t);

void measured__free(measure_watch **w);

#endif
