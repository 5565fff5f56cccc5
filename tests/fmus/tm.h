/*
 * tm.h — the test FMUs' own small model interface ("tm": test model).
 * A test FMU is one model file with only its maths (ball.c, ticker.c,
 * through.c, source.c, faulty.c) linked with the glue of one FMI version
 * (tm_fmi2.c or tm_fmi3.c), which is the whole of the standard's calls,
 * and tm.c, which holds what both versions share: the values, the event
 * iteration and the Co-Simulation stepper (RK4 substeps, state events
 * located by bisection, time events hit exactly).
 *
 * Every variable is a double in v[], indexed by its value reference
 * (value references are 0 … nv−1); the glue converts Integer and Boolean
 * values.  The variables themselves are described in the model's
 * <name>.json, from which tests/fmus/make_fmu.py writes
 * modelDescription.xml for each FMI version.
 */
#ifndef TM_H
#define TM_H

#include <stddef.h>

typedef struct tm_inst tm_inst;

/* Statuses as both FMI versions number them. */
enum { TM_OK = 0, TM_WARNING = 1, TM_DISCARD = 2, TM_ERROR = 3,
       TM_FATAL = 4 };

typedef struct tm_model {
    size_t nv;                /* value references 0 … nv−1 */
    const double *start;      /* start value of each */
    size_t nx;                /* continuous states */
    const unsigned *x, *dx;   /* their value references, and of their
                               * derivatives */
    size_t nz;                /* event indicators */
    /* After initialization: values the model calculates, its first time
     * event.  Optional. */
    int (*init)(tm_inst *m);
    /* Derivatives and outputs from time, states, inputs and parameters. */
    int (*compute)(tm_inst *m);
    /* The event indicators (nz of them).  Optional when nz is 0. */
    void (*indicators)(tm_inst *m, double *z);
    /* A discrete update at m->t (a state or time event, or the step after
     * initialization): may reset states (set m->states_changed), set
     * m->next_event, or m->terminate.  Optional. */
    int (*event)(tm_inst *m);
} tm_model;

/* The model of this FMU (each model file defines it). */
extern const tm_model tm_model_def;

struct tm_inst {
    double t;
    double *v;
    double next_event;        /* +INFINITY for none */
    int terminate;
    int states_changed;
    int stale;                /* values set since the last compute */
    char *resources;          /* the resources directory, ending in '/' */
    /* The glue's logger: status and an already formatted message. */
    void (*log)(tm_inst *m, int status, const char *message);
    void *glue;               /* the glue's own data */
};

tm_inst *tm__new(const char *resources);
void tm__free(tm_inst *m);
/* printf-style message to the importer. */
void tm__logf(tm_inst *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Derivatives and outputs at the current values. */
int tm__compute(tm_inst *m);
/* The same, only when a value was set since the last compute (what an
 * exporting tool's FMU does: a get after a get costs nothing). */
int tm__fresh(tm_inst *m);
/* One round of the new-discrete-states iteration; *more is never set:
 * every model settles in one. */
int tm__event(tm_inst *m);
/* Co-Simulation: advance from m->t by h.  *terminated when the model
 * asked to end (m->t is where it stopped). */
int tm__step(tm_inst *m, double h, int *terminated);

#endif
