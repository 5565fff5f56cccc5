/*
 * alarms.c — limit alarms (alarms.h): the scenario's "alarms" member read
 * and checked, each limit's state machine, and the run's watch that
 * steps them at every tick and reports each change as an event.
 *
 *     "alarms": {"tank0.h": {"hi": 3.5, "hihi": 3.9, "lo": 0.5,
 *                            "lolo": 0.2, "deadband": 0.05, "for": 10}}
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms.h"
#include "sim_internal.h"

static const char *const level_names[ALARM_LEVELS] = {"hihi", "hi", "lo",
                                                      "lolo"};

const char *alarms__level_name(alarm_level level)
{
    return (unsigned)level < ALARM_LEVELS ? level_names[level] : "?";
}

static int is_high(alarm_level level)
{
    return level == ALARM_HIHI || level == ALARM_HI;
}

/* ---- the scenario's "alarms" ------------------------------------------- */

/* "inst.var" into *r: 0, 1 when the instance was declared but failed to
 * compose (reported already), -1 reported. */
static int resolve(const scenario *sc, const json_t *doc, const char *text,
                   const char *path, sc_ref *r, twin_errors *errs)
{
    const char *dot = strchr(text, '.');
    if (dot == NULL || dot == text || dot[1] == '\0') {
        errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, path, "'%s' does not name "
                    "a variable: write instance.variable, e.g. \"tank0.h\"",
                    text);
        return -1;
    }
    size_t len = (size_t)(dot - text);
    long i = scenario__find_instance(sc, text, len);
    if (i < 0) {
        const json_t *insts = json_object_get(doc, "instances");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)insts, k, v)
            if (strlen(k) == len && strncmp(k, text, len) == 0)
                return 1;
        errors__add(errs, TWIN_E_UNKNOWN_INSTANCE, path, "there is no "
                    "instance '%.*s' in this scenario", (int)len, text);
        return -1;
    }
    const twin_model *m = sc->inst[i].model;
    if (modlib__find_signal(m, dot + 1, &r->kind, &r->index) != 0) {
        errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, path, "model '%s' "
                    "(instance '%.*s') has no state, input or output '%s'",
                    m->d->name, (int)len, text, dot + 1);
        return -1;
    }
    r->inst = (size_t)i;
    return 0;
}

/* A finite number at member key of spec into *out (absent: leaves it);
 * -1 reported. */
static int number(const json_t *spec, const char *key, const char *path,
                  double *out, twin_errors *errs)
{
    const json_t *v = json_object_get(spec, key);
    if (v == NULL)
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        char *p = errors__path(path, key);
        errors__add(errs, TWIN_E_WRONG_TYPE, p ? p : path, "\"%s\" must be a "
                    "finite number, not %s", key, errors__json_kind(v));
        free(p);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

/* One entry: its members checked, the limits in order. */
static int read_entry(const json_t *spec, const char *path, sc_alarm *a,
                      twin_errors *errs)
{
    static const char *const members[] = {"hihi", "hi", "lo", "lolo",
                                          "deadband", "for"};
    int bad = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)spec, k, v) {
        size_t m = 0;
        while (m < sizeof members / sizeof *members &&
               strcmp(k, members[m]) != 0)
            m++;
        if (m == sizeof members / sizeof *members) {
            char *p = errors__path(path, k);
            errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path, "an alarm "
                        "has no member '%s': it takes hihi, hi, lo, lolo, "
                        "deadband and for", k);
            free(p);
            bad = 1;
        }
    }
    size_t given = 0;
    for (int l = 0; l < ALARM_LEVELS; l++) {
        a->limit[l] = NAN;
        bad |= number(spec, level_names[l], path, &a->limit[l], errs) != 0;
        given += !isnan(a->limit[l]);
    }
    bad |= number(spec, "deadband", path, &a->deadband, errs) != 0;
    bad |= number(spec, "for", path, &a->delay, errs) != 0;
    if (given == 0 && !bad) {
        errors__add(errs, TWIN_E_MISSING_FIELD, path, "an alarm needs at "
                    "least one limit: hihi, hi, lo or lolo");
        bad = 1;
    }
    const double *const at_least_0[] = {&a->deadband, &a->delay};
    for (int i = 0; i < 2; i++)
        if (*at_least_0[i] < 0) {
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "\"%s\" must be at "
                        "least 0, not %g", i == 0 ? "deadband" : "for",
                        *at_least_0[i]);
            bad = 1;
        }
    /* hihi >= hi > lo >= lolo, where given: the first pair out of order */
    for (int i = 0; i < ALARM_LEVELS; i++)
        for (int j = i + 1; j < ALARM_LEVELS; j++) {
            double hi = a->limit[i], lo = a->limit[j];
            int strict = is_high((alarm_level)i) && !is_high((alarm_level)j);
            if (isnan(hi) || isnan(lo) || (strict ? hi > lo : hi >= lo))
                continue;
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "the limits must "
                        "keep hihi >= hi > lo >= lolo: %s %g is not %s %s %g",
                        level_names[j], lo, strict ? "below" : "at most",
                        level_names[i], hi);
            return -1;
        }
    return bad ? -1 : 0;
}

int alarms__compose(scenario *sc, const json_t *doc, twin_errors *errs)
{
    const json_t *all = json_object_get(doc, "alarms");
    if (all == NULL)
        return 0;
    if (!json_is_object(all)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/alarms", "\"alarms\" must be an "
                    "object of variable names, e.g. {\"tank0.h\": {\"hi\": "
                    "3.5}}, not %s", errors__json_kind(all));
        return 0;
    }
    sc->alarms = calloc(json_object_size(all) + 1, sizeof *sc->alarms);
    if (sc->alarms == NULL)
        return -1;
    const char *name;
    const json_t *spec;
    json_object_foreach((json_t *)all, name, spec) {
        char *path = errors__path("/alarms", name);
        const char *p = path ? path : "/alarms";
        sc_alarm *a = &sc->alarms[sc->n_alarms];
        if (!json_is_object(spec)) {
            errors__add(errs, TWIN_E_WRONG_TYPE, p, "an alarm is an object "
                        "of limits, e.g. {\"hi\": 3.5, \"deadband\": 0.05}, "
                        "not %s", errors__json_kind(spec));
        } else if (resolve(sc, doc, name, p, &a->of, errs) == 0 &&
                   read_entry(spec, p, a, errs) == 0) {
            a->name = strdup(name);
            if (a->name == NULL) {
                free(path);
                return -1;
            }
            sc->n_alarms++;
        }
        free(path);
    }
    return 0;
}

void alarms__free_spec(scenario *sc)
{
    for (size_t i = 0; i < sc->n_alarms; i++)
        free(sc->alarms[i].name);
    free(sc->alarms);
    sc->alarms = NULL;
    sc->n_alarms = 0;
}

/* ---- one limit ----------------------------------------------------------- */

int alarms__step(alarm_state *st, int high, double limit, double deadband,
                 double delay, double v, double t)
{
    if (isnan(v))
        return 0;
    if (st->active) {
        int back = high ? v <= limit - deadband : v >= limit + deadband;
        if (!back)
            return 0;
        st->active = 0;
        st->since = NAN;
        return -1;
    }
    int beyond = high ? v > limit : v < limit;
    if (!beyond) {
        st->since = NAN;
        return 0;
    }
    if (isnan(st->since))
        st->since = t;
    /* ticks are k·dt: 1.75 − 1.35 is 0.4 less an ulp, and "for": 0.4
     * means 8 ticks of 0.05 s */
    if (t - st->since < delay - 1e-9 * fmax(fabs(t), 1.0))
        return 0;
    st->active = 1;
    st->since = NAN;
    return 1;
}

/* ---- the run's watch ------------------------------------------------------ */

struct alarm_watch {
    const scenario *sc;
    alarm_state *st;              /* n_alarms × ALARM_LEVELS */
};

alarm_watch *alarms__new(const scenario *sc)
{
    if (sc->n_alarms == 0)
        return NULL;
    alarm_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->sc = sc;
    w->st = calloc(sc->n_alarms * ALARM_LEVELS, sizeof *w->st);
    if (w->st == NULL) {
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < sc->n_alarms * ALARM_LEVELS; i++)
        w->st[i].since = NAN;
    return w;
}

static void report(sim *s, const sc_alarm *a, alarm_level l, int change,
                   double v, double t)
{
    if (change > 0)
        s->st.alarms_raised++;
    else
        s->st.alarms_cleared++;
    if (s->cb.event == NULL)
        return;
    char msg[512];
    int high = is_high(l);
    if (change > 0)
        snprintf(msg, sizeof msg, "%s %s alarm raised: %.9g %s the limit "
                 "%.9g", a->name, level_names[l], v, high ? ">" : "<",
                 a->limit[l]);
    else
        snprintf(msg, sizeof msg, "%s %s alarm cleared: %.9g, back %s the "
                 "limit %.9g (deadband %g)", a->name, level_names[l], v,
                 high ? "below" : "above", a->limit[l], a->deadband);
    sim_event ev = {.kind = SIM_EVENT_ALARM, .t = t,
                    .instance = s->sc->inst[a->of.inst].name,
                    .message = msg, .column = a->name,
                    .alarm = level_names[l], .raised = change > 0,
                    .value = v, .limit = a->limit[l]};
    s->cb.event(s->cb.ctx, &ev);
}

void alarms__check(alarm_watch *w, sim *s, double t)
{
    if (w == NULL)
        return;
    size_t active = 0;
    for (size_t i = 0; i < w->sc->n_alarms; i++) {
        const sc_alarm *a = &w->sc->alarms[i];
        double v = sim__signal(s, a->of);
        for (int l = 0; l < ALARM_LEVELS; l++) {
            if (isnan(a->limit[l]))
                continue;
            alarm_state *st = &w->st[i * ALARM_LEVELS + (size_t)l];
            int change = alarms__step(st, is_high((alarm_level)l),
                                      a->limit[l], a->deadband, a->delay, v,
                                      t);
            if (change != 0)
                report(s, a, (alarm_level)l, change, v, t);
            active += (size_t)st->active;
        }
    }
    s->st.alarms_active = active;
}

void alarms__free(alarm_watch **wp)
{
    alarm_watch *w = *wp;
    if (w == NULL)
        return;
    free(w->st);
    free(w);
    *wp = NULL;
}
