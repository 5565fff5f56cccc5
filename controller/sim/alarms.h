/*
 * alarms.h — limit alarms on a scenario's variables (docs/live-twin.md,
 * Alarms): a scenario's "alarms" member names variables and their hi,
 * hihi, lo and lolo limits with a deadband and an on-delay, in the style
 * of ISA-18.2.  At every tick each limit of each variable is raised when
 * the value has been beyond it for the delay, and cleared when it is back
 * by the deadband; each change is an event of kind "alarm" with the
 * value, the limit and the time, and the run's stats count them.
 *
 * Its "envelopes" member gives a variable a reference band over time —
 * the golden batch: [t, lo, hi] points from the run's start, linear in
 * between (twinctl plot --save-envelope writes one from a batch's
 * cases) — and leaving the band raises an alarm (envelope_hi above it,
 * envelope_lo below it) with the same deadband and on-delay rules.
 */
#ifndef TWIN_ALARMS_H
#define TWIN_ALARMS_H

#include <jansson.h>

#include "errors.h"
#include "scenario.h"
#include "sim.h"

typedef enum alarm_level {
    ALARM_HIHI, ALARM_HI, ALARM_LO, ALARM_LOLO,
    ALARM_ENV_HI, ALARM_ENV_LO,   /* above, below the envelope */
    ALARM_RESIDUAL,               /* |measured − model| above the tolerance
                                   * (measured.h) */
    ALARM_LEVELS
} alarm_level;

/* The name of a level as the scenario and the events write it. */
const char *alarms__level_name(alarm_level level);

struct sc_alarm {
    sc_ref of;
    char *name;                   /* "tank0.h" */
    double limit[ALARM_LEVELS];   /* NaN: no such limit (the envelope's
                                   * two are NaN: they move) */
    double deadband;              /* >= 0, in the variable's unit */
    double delay;                 /* s the value stays beyond a limit
                                   * before the alarm is raised */
    size_t n_band;                /* an envelope: its points, or 0 */
    double *band;                 /* n_band × (t from the start, lo, hi) */
};

/* Read doc's "alarms" and "envelopes" into sc (sc->alarms, one entry
 * each), each problem into errs at its path; an envelope of more than
 * max_points points (0: no limit) is too_large.  Instances are sc's; an
 * instance that doc declares but that failed to compose is not reported
 * again.  Returns -1 when out of memory, else 0. */
int alarms__compose(scenario *sc, const json_t *doc, size_t max_points,
                    twin_errors *errs);

void alarms__free_spec(scenario *sc);

/* One limit's state over the run. */
typedef struct alarm_state {
    int active;                   /* raised, not yet cleared */
    double since;                 /* beyond the limit since (NaN: not) */
} alarm_state;

/* One tick's value v at t for one limit: +1 when the alarm is raised
 * now, -1 when it is cleared now, 0 otherwise.  high: a hi or hihi
 * limit (beyond is above), else lo or lolo (beyond is below).  Raised
 * when v has been beyond limit at every tick since a tick at least delay
 * seconds ago (to a billionth of t, so that a delay of whole ticks is
 * not missed by a rounding of t); cleared when v is back by deadband (at or below limit −
 * deadband for a high limit).  A NaN value changes nothing. */
int alarms__step(alarm_state *st, int high, double limit, double deadband,
                 double delay, double v, double t);

/* The run's watch over every alarm of the scenario: NULL when it has
 * none, or out of memory. */
typedef struct alarm_watch alarm_watch;
alarm_watch *alarms__new(const scenario *sc);

/* At each tick, after the models are evaluated at t: each change an
 * event through the sim's event callback, counted in its stats. */
void alarms__check(alarm_watch *w, sim *s, double t);

void alarms__free(alarm_watch **w);

/* "inst.var" of doc's scenario sc into *r: 0; 1 when the instance was
 * declared but failed to compose (reported already); -1 reported at
 * path. */
int alarms__resolve(const scenario *sc, const json_t *doc, const char *text,
                    const char *path, sc_ref *r, twin_errors *errs);

/* A finite number at member key of spec into *out (absent: *out kept);
 * -1 reported at path/key. */
int alarms__number(const json_t *spec, const char *key, const char *path,
                   double *out, twin_errors *errs);

/* Every member of spec one of members (NULL-terminated), else each other
 * one reported at path/member as out_of_range: "<what> has no member 'x':
 * it takes <takes>".  1 when one was reported. */
int alarms__only(const json_t *spec, const char *path,
                 const char *const *members, const char *what,
                 const char *takes, twin_errors *errs);

/* Count a change of a's level l (limit its limit at t, v the value
 * checked) in s's stats and send it as an alarm event. */
void alarms__report(sim *s, const sc_alarm *a, alarm_level l, double limit,
                    int change, double v, double t);

#endif
