/*
 * alarms.c — limit alarms (alarms.h): the scenario's "alarms" member read
 * and checked, each limit's state machine, and the run's watch that
 * steps them at every tick and reports each change as an event.
 *
 *     "alarms": {"tank0.h": {"hi": 3.5, "hihi": 3.9, "lo": 0.5,
 *                            "lolo": 0.2, "deadband": 0.05, "for": 10}}
 *     "envelopes": {"tank0.h": {"band": [[0, 0.9, 1.1], [60, 1.9, 2.1]],
 *                               "deadband": 0.01, "for": 5}}
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms.h"
#include "sim_internal.h"

static const char *const level_names[ALARM_LEVELS] = {
    "hihi", "hi", "lo", "lolo", "envelope_hi", "envelope_lo", "residual"};

const char *alarms__level_name(alarm_level level)
{
    return (unsigned)level < ALARM_LEVELS ? level_names[level] : "?";
}

static int is_high(alarm_level level)
{
    return level == ALARM_HIHI || level == ALARM_HI || level == ALARM_ENV_HI ||
           level == ALARM_RESIDUAL;
}

/* ---- the scenario's "alarms" ------------------------------------------- */

/* "inst.var" into *r: 0, 1 when the instance was declared but failed to
 * compose (reported already), -1 reported. */
int alarms__resolve(const scenario *sc, const json_t *doc, const char *text,
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
int alarms__number(const json_t *spec, const char *key, const char *path,
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

/* What an alarm and an envelope share: only the members named (what: "an
 * alarm", "an envelope"; takes: their list for the message), every
 * limit NaN, "deadband" and "for" read and at least 0.  1 when something
 * was reported. */
int alarms__only(const json_t *spec, const char *path,
                 const char *const *members, const char *what,
                 const char *takes, twin_errors *errs)
{
    int bad = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)spec, k, v) {
        size_t m = 0;
        while (members[m] != NULL && strcmp(k, members[m]) != 0)
            m++;
        if (members[m] == NULL) {
            char *p = errors__path(path, k);
            errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path, "%s has "
                        "no member '%s': it takes %s", what, k, takes);
            free(p);
            bad = 1;
        }
    }
    return bad;
}

static int common(const json_t *spec, const char *path,
                  const char *const *members, const char *what,
                  const char *takes, sc_alarm *a, twin_errors *errs)
{
    int bad = alarms__only(spec, path, members, what, takes, errs);
    for (int l = 0; l < ALARM_LEVELS; l++)
        a->limit[l] = NAN;
    bad |= alarms__number(spec, "deadband", path, &a->deadband, errs) != 0;
    bad |= alarms__number(spec, "for", path, &a->delay, errs) != 0;
    const double *const at_least_0[] = {&a->deadband, &a->delay};
    for (int i = 0; i < 2; i++)
        if (*at_least_0[i] < 0) {
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "\"%s\" must be at "
                        "least 0, not %g", i == 0 ? "deadband" : "for",
                        *at_least_0[i]);
            bad = 1;
        }
    return bad;
}

/* One entry: its members checked, the limits in order. */
static int read_entry(const json_t *spec, const char *path, sc_alarm *a,
                      twin_errors *errs)
{
    static const char *const members[] = {"hihi", "hi", "lo", "lolo",
                                          "deadband", "for", NULL};
    int bad = common(spec, path, members, "an alarm", "hihi, hi, lo, lolo, "
                     "deadband and for", a, errs);
    size_t given = 0;
    for (int l = 0; l <= ALARM_LOLO; l++) {
        bad |= alarms__number(spec, level_names[l], path, &a->limit[l],
                              errs) != 0;
        given += !isnan(a->limit[l]);
    }
    if (given == 0 && !bad) {
        errors__add(errs, TWIN_E_MISSING_FIELD, path, "an alarm needs at "
                    "least one limit: hihi, hi, lo or lolo");
        bad = 1;
    }
    /* hihi >= hi > lo >= lolo, where given: the first pair out of order */
    for (int i = 0; i <= ALARM_LOLO; i++)
        for (int j = i + 1; j <= ALARM_LOLO; j++) {
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

/* An envelope's members: "band" (at least two [t, lo, hi] points, t
 * increasing from 0, lo <= hi, all finite), "deadband", "for". */
static int read_envelope(const json_t *spec, const char *path,
                         size_t max_points, sc_alarm *a, twin_errors *errs)
{
    static const char *const members[] = {"band", "deadband", "for", NULL};
    int bad = common(spec, path, members, "an envelope", "band, deadband "
                     "and for", a, errs);
    const json_t *band = json_object_get(spec, "band");
    char *bp = errors__path(path, "band");
    const char *p = bp ? bp : path;
    size_t n = json_array_size(band);
    if (!json_is_array(band) || n < 2) {
        errors__add(errs, band == NULL ? TWIN_E_MISSING_FIELD
                          : json_is_array(band) ? TWIN_E_OUT_OF_RANGE
                                                : TWIN_E_WRONG_TYPE, p,
                    "an envelope's band is an array of at least two "
                    "[t, lo, hi] points (twinctl plot --save-envelope "
                    "writes one)");
        bad = 1;
    } else if (max_points > 0 && n > max_points) {
        errors__add(errs, TWIN_E_TOO_LARGE, p, "%zu points, more than the "
                    "limit of %zu", n, max_points);
        bad = 1;
    } else if ((a->band = calloc(3 * n, sizeof *a->band)) == NULL) {
        free(bp);
        return -2;
    } else {
        a->n_band = n;
        const char *why = NULL; /* the first bad point's, alone */
        for (size_t i = 0; i < n && why == NULL; i++) {
            const json_t *pt = json_array_get(band, i);
            double *q = &a->band[3 * i];
            for (size_t j = 0; j < 3; j++)
                q[j] = json_number_value(json_array_get(pt, j));
            why =
                !json_is_array(pt) || json_array_size(pt) != 3 ||
                !json_is_number(json_array_get(pt, 0)) ||
                !json_is_number(json_array_get(pt, 1)) ||
                !json_is_number(json_array_get(pt, 2))
                    ? "is not [t, lo, hi], three numbers"
                : !isfinite(q[0]) || !isfinite(q[1]) || !isfinite(q[2])
                    ? "holds a number that is not finite"
                : q[1] > q[2] ? "has lo above hi"
                : i == 0 && q[0] < 0 ? "starts before the run (t < 0)"
                : i > 0 && q[0] <= q[-3] ? "does not come after the point "
                                           "before it"
                : NULL;
            if (why != NULL) {
                errors__add(errs, why[0] == 'i' && why[1] == 's'
                                      ? TWIN_E_WRONG_TYPE
                                      : TWIN_E_OUT_OF_RANGE,
                            p, "point %zu of the band %s", i, why);
                bad = 1;
            }
        }
    }
    free(bp);
    return bad ? -1 : 0;
}

/* Each entry of doc's member (name: "alarms" or "envelopes") into sc's
 * alarms, read by read_entry or read_envelope. */
static int compose_member(scenario *sc, const json_t *doc, const char *name,
                          size_t max_points, twin_errors *errs)
{
    const json_t *all = json_object_get(doc, name);
    int envelope = strcmp(name, "envelopes") == 0;
    char top[16];
    snprintf(top, sizeof top, "/%s", name);
    if (all == NULL)
        return 0;
    if (!json_is_object(all)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, top, "\"%s\" must be an object "
                    "of variable names, e.g. {\"tank0.h\": %s}, not %s", name,
                    envelope ? "{\"band\": [[0, 0.9, 1.1], [60, 1.9, 2.1]]}"
                             : "{\"hi\": 3.5}", errors__json_kind(all));
        return 0;
    }
    const char *var;
    const json_t *spec;
    json_object_foreach((json_t *)all, var, spec) {
        char *path = errors__path(top, var);
        const char *p = path ? path : top;
        sc_alarm *a = &sc->alarms[sc->n_alarms];
        int rc = 0;
        memset(a, 0, sizeof *a);
        if (!json_is_object(spec)) {
            errors__add(errs, TWIN_E_WRONG_TYPE, p, "%s, not %s", envelope
                        ? "an envelope is an object: {\"band\": [[t, lo, "
                          "hi], ...], \"deadband\": ..., \"for\": ...}"
                        : "an alarm is an object of limits, e.g. {\"hi\": "
                          "3.5, \"deadband\": 0.05}",
                        errors__json_kind(spec));
        } else if (alarms__resolve(sc, doc, var, p, &a->of, errs) == 0 &&
                   (rc = envelope ? read_envelope(spec, p, max_points, a,
                                                  errs)
                                  : read_entry(spec, p, a, errs)) == 0) {
            a->name = strdup(var);
            rc = a->name == NULL ? -2 : 0;
            sc->n_alarms += rc == 0;
        }
        if (rc != 0 || a->name == NULL) {
            free(a->band);
            free(a->name);
            memset(a, 0, sizeof *a);
        }
        free(path);
        if (rc == -2)
            return -1;
    }
    return 0;
}

int alarms__compose(scenario *sc, const json_t *doc, size_t max_points,
                    twin_errors *errs)
{
    size_t n = json_object_size(json_object_get(doc, "alarms")) +
               json_object_size(json_object_get(doc, "envelopes"));
    if (n == 0)
        return compose_member(sc, doc, "alarms", 0, errs) |
               compose_member(sc, doc, "envelopes", 0, errs);
    sc->alarms = calloc(n, sizeof *sc->alarms);
    if (sc->alarms == NULL)
        return -1;
    return compose_member(sc, doc, "alarms", max_points, errs) != 0 ||
                   compose_member(sc, doc, "envelopes", max_points, errs) != 0
               ? -1 : 0;
}

void alarms__free_spec(scenario *sc)
{
    for (size_t i = 0; i < sc->n_alarms; i++) {
        free(sc->alarms[i].name);
        free(sc->alarms[i].band);
    }
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
    size_t *cursor;               /* per alarm: the band's segment */
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
    w->cursor = calloc(sc->n_alarms, sizeof *w->cursor);
    if (w->st == NULL || w->cursor == NULL) {
        alarms__free(&w);
        return NULL;
    }
    for (size_t i = 0; i < sc->n_alarms * ALARM_LEVELS; i++)
        w->st[i].since = NAN;
    return w;
}

/* The band of a at s seconds from the run's start into *lo, *hi (NaN
 * outside the band's time span), linear between its points; *cursor is
 * the segment it was in last (ticks come in order). */
static void band_at(const sc_alarm *a, size_t *cursor, double s, double *lo,
                    double *hi)
{
    const double *b = a->band;
    size_t n = a->n_band;
    if (s < b[0] || s > b[3 * (n - 1)]) {
        *lo = *hi = NAN;
        return;
    }
    size_t i = *cursor < n - 1 && b[3 * *cursor] <= s ? *cursor : 0;
    while (i + 2 < n && b[3 * (i + 1)] < s)
        i++;
    *cursor = i;
    const double *p = &b[3 * i], *q = &b[3 * (i + 1)];
    double f = (s - p[0]) / (q[0] - p[0]);
    *lo = p[1] + f * (q[1] - p[1]);
    *hi = p[2] + f * (q[2] - p[2]);
}

void alarms__report(sim *s, const sc_alarm *a, alarm_level l, double limit,
                    int change, double v, double t)
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
                 limit);
    else
        snprintf(msg, sizeof msg, "%s %s alarm cleared: %.9g, back %s the "
                 "limit %.9g (deadband %g)", a->name, level_names[l], v,
                 high ? "below" : "above", limit, a->deadband);
    sim_event ev = {.kind = SIM_EVENT_ALARM, .t = t,
                    .instance = s->sc->inst[a->of.inst].name,
                    .message = msg, .column = a->name,
                    .alarm = level_names[l], .raised = change > 0,
                    .value = v, .limit = limit};
    s->cb.event(s->cb.ctx, &ev);
}

void alarms__check(alarm_watch *w, sim *s, double t)
{
    if (w == NULL)
        return;
    size_t active = 0;
    for (size_t i = 0; i < w->sc->n_alarms; i++) {
        const sc_alarm *a = &w->sc->alarms[i];
        double v = sim__signal(s, a->of), limit[ALARM_LEVELS];
        memcpy(limit, a->limit, sizeof limit);
        if (a->n_band > 0)
            band_at(a, &w->cursor[i], t - w->sc->start, &limit[ALARM_ENV_LO],
                    &limit[ALARM_ENV_HI]);
        for (int l = 0; l < ALARM_LEVELS; l++) {
            alarm_state *st = &w->st[i * ALARM_LEVELS + (size_t)l];
            int change = isnan(limit[l]) ? 0
                : alarms__step(st, is_high((alarm_level)l), limit[l],
                               a->deadband, a->delay, v, t);
            if (change != 0)
                alarms__report(s, a, (alarm_level)l, limit[l], change, v, t);
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
    free(w->cursor);
    free(w);
    *wp = NULL;
}
