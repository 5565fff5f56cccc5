/*
 * measured.c — a live twin's measurements (measured.h): the scenario's
 * "measured" member read and checked; at run time each plant value held
 * with its freshness, the residuals and their alarms (the limit alarms'
 * state machine, alarms.c), the run's synchronisation state, and the
 * corrections of measured states after each row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measured.h"
#include "sim_internal.h"

/* ---- the scenario's "measured" ------------------------------------------- */

static int read_correction(const json_t *spec, const char *path,
                           const sc_measured *m, double *gain, int *reset,
                           twin_errors *errs)
{
    const json_t *correct = json_object_get(spec, "correct");
    const json_t *rs = json_object_get(spec, "reset");
    int bad = 0;
    if (rs != NULL && !json_is_boolean(rs)) {
        char *p = errors__path(path, "reset");
        errors__add(errs, TWIN_E_WRONG_TYPE, p ? p : path, "\"reset\" is true "
                    "or false, not %s", errors__json_kind(rs));
        free(p);
        bad = 1;
    }
    *reset = json_is_true(rs);
    if (correct != NULL) {
        char *p = errors__path(path, "correct");
        const char *cp = p ? p : path;
        const json_t *g = json_object_get(correct, "gain");
        if (!json_is_object(correct) || json_object_size(correct) != 1 ||
            g == NULL) {
            errors__add(errs, TWIN_E_WRONG_TYPE, cp, "\"correct\" is "
                        "{\"gain\": G}, G in (0, 1]: each tick the state "
                        "moves by G times the residual");
            bad = 1;
        } else if (alarms__number(correct, "gain", cp, gain, errs) != 0) {
            bad = 1;
        } else if (!(*gain > 0 && *gain <= 1)) {
            char *gp = errors__path(cp, "gain");
            errors__add(errs, TWIN_E_OUT_OF_RANGE, gp ? gp : cp, "the gain "
                        "must be above 0 and at most 1 (1 is a reset), not "
                        "%g", *gain);
            free(gp);
            bad = 1;
        }
        free(p);
    }
    if (!bad && *reset && *gain > 0) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "give \"correct\" or "
                    "\"reset\", not both");
        bad = 1;
    }
    if (!bad && (*reset || *gain > 0) && m->of.kind != TWIN_VAR_STATE) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "only a state can be "
                    "corrected: %s is not one of its model's states (leave "
                    "out \"correct\" and \"reset\" to only compare it)",
                    m->name);
        bad = 1;
    }
    return bad;
}

static int read_measured(const json_t *spec, const char *path,
                         sc_measured *m, twin_errors *errs)
{
    static const char *const members[] = {"signal", "tolerance", "for",
                                          "deadband", "correct", "reset",
                                          NULL};
    int bad = alarms__only(spec, path, members, "a measurement", "signal, "
                           "tolerance, for, deadband, correct and reset",
                           errs);
    const json_t *sig = json_object_get(spec, "signal");
    if (sig != NULL) {
        char *p = errors__path(path, "signal");
        size_t before = errs->count;
        m->sig = signals__parse(sig, p ? p : path, errs);
        if (m->sig == NULL && errs->count == before)
            errors__add(errs, TWIN_E_INTERNAL, path, "out of memory reading "
                        "the signal");
        bad |= m->sig == NULL;
        if (m->sig != NULL && m->sig->on_stale != SC_STALE_HOLD) {
            errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path, "a "
                        "measurement's plant value has no default to go "
                        "back to: leave out \"on_stale\" (a stale value "
                        "stops the residual and the corrections)");
            bad = 1;
        }
        free(p);
    }
    m->tolerance = NAN;
    m->deadband = NAN;
    bad |= alarms__number(spec, "tolerance", path, &m->tolerance, errs);
    bad |= alarms__number(spec, "for", path, &m->delay, errs);
    bad |= alarms__number(spec, "deadband", path, &m->deadband, errs);
    if (isnan(m->tolerance) && json_object_get(spec, "tolerance") == NULL) {
        errors__add(errs, TWIN_E_MISSING_FIELD, path, "a measurement needs "
                    "its \"tolerance\": how far the plant and the model may "
                    "part before the residual alarm");
        bad = 1;
    } else if (!(m->tolerance > 0) && !isnan(m->tolerance)) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "\"tolerance\" must be "
                    "above 0, not %g", m->tolerance);
        bad = 1;
    }
    if (isnan(m->deadband))
        m->deadband = m->tolerance / 10;
    if (m->delay < 0 || m->deadband < 0 ||
        (m->deadband >= m->tolerance && m->tolerance > 0)) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "%s", m->delay < 0
                    ? "\"for\" must be at least 0"
                    : "\"deadband\" must be at least 0 and below the "
                      "tolerance");
        bad = 1;
    }
    bad |= read_correction(spec, path, m, &m->gain, &m->reset, errs);
    return bad ? -1 : 0;
}

int measured__compose(scenario *sc, const json_t *doc, twin_errors *errs)
{
    const json_t *all = json_object_get(doc, "measured");
    if (all == NULL)
        return 0;
    if (!json_is_object(all)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/measured", "\"measured\" must "
                    "be an object of variable names, e.g. {\"tank0.h\": "
                    "{\"signal\": {...}, \"tolerance\": 0.05}}, not %s",
                    errors__json_kind(all));
        return 0;
    }
    sc->measured = calloc(json_object_size(all) + 1, sizeof *sc->measured);
    if (sc->measured == NULL)
        return -1;
    const char *var;
    const json_t *spec;
    json_object_foreach((json_t *)all, var, spec) {
        char *path = errors__path("/measured", var);
        const char *p = path ? path : "/measured";
        sc_measured *m = &sc->measured[sc->n_measured];
        memset(m, 0, sizeof *m);
        if (!json_is_object(spec)) {
            errors__add(errs, TWIN_E_WRONG_TYPE, p, "a measurement is an "
                        "object: {\"signal\": {...}, \"tolerance\": ...}, not "
                        "%s", errors__json_kind(spec));
        } else if (alarms__resolve(sc, doc, var, p, &m->of, errs) == 0) {
            m->name = strdup(var);
            if (m->name == NULL) {
                free(path);
                return -1;
            }
            if (read_measured(spec, p, m, errs) == 0) {
                sc->n_measured++;
            } else {
                free(m->name);
                signals__free(&m->sig);
                memset(m, 0, sizeof *m);
            }
        }
        free(path);
    }
    return 0;
}

void measured__free_spec(scenario *sc)
{
    for (size_t i = 0; i < sc->n_measured; i++) {
        free(sc->measured[i].name);
        signals__free(&sc->measured[i].sig);
    }
    free(sc->measured);
    sc->measured = NULL;
    sc->n_measured = 0;
}

long measured__find(const scenario *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_measured; i++)
        if (strcmp(sc->measured[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* ---- the run ------------------------------------------------------------- */

typedef enum sync_state { SYNC_NONE, SYNC_OK, SYNC_STALE, SYNC_DESYNC } sync_state;
static const char *const sync_names[] = {"", "synchronised", "stale",
                                         "desynchronised"};

typedef struct meas {
    const sc_measured *m;
    sc_alarm alarm;           /* the residual alarm's name, of, deadband */
    double pending;           /* the plant value in force from the next tick */
    int pending_fresh;        /* ... and whether it is fresh */
    int have;                 /* a value has arrived */
    double value, residual;   /* at the last check (NaN: none) */
    int fresh;
    alarm_state st;
} meas;

struct measure_watch {
    const scenario *sc;
    meas *m;
    size_t n;
    sync_state sync;          /* the run's, at the last check */
};

measure_watch *measured__new(const scenario *sc)
{
    if (sc->n_measured == 0)
        return NULL;
    measure_watch *w = calloc(1, sizeof *w);
    if (w == NULL || (w->m = calloc(sc->n_measured, sizeof *w->m)) == NULL) {
        free(w);
        return NULL;
    }
    w->sc = sc;
    w->n = sc->n_measured;
    for (size_t i = 0; i < w->n; i++) {
        meas *q = &w->m[i];
        q->m = &sc->measured[i];
        q->alarm.of = q->m->of;
        q->alarm.name = q->m->name;
        q->alarm.deadband = q->m->deadband;
        q->alarm.delay = q->m->delay;
        q->pending = q->value = q->residual = NAN;
        q->st.since = NAN;
    }
    return w;
}

void measured__set(measure_watch *w, size_t i, double value, int fresh)
{
    if (w == NULL || i >= w->n)
        return;
    meas *q = &w->m[i];
    if (fresh) {
        q->pending = value;
        q->have = 1;
    }
    q->pending_fresh = fresh && isfinite(value);
}

double measured__column(const measure_watch *w, sc_ref r)
{
    const meas *q = &w->m[r.index];
    return r.kind == SC_REF_MEASURED ? q->value : q->residual;
}

static void sync_event(sim *s, sync_state now, const measure_watch *w,
                       double t)
{
    if (s->cb.event == NULL)
        return;
    char msg[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < w->n && len < sizeof msg; i++) {
        const meas *q = &w->m[i];
        const char *what = !q->have || !q->fresh ? "stale"
                           : q->st.active ? "desynchronised" : "synchronised";
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s %s",
                                i ? ", " : "", q->m->name, what);
    }
    char text[640];
    snprintf(text, sizeof text, "the run is %s with the plant (%s)",
             sync_names[now], msg);
    sim_event ev = {.kind = SIM_EVENT_SYNC, .t = t, .message = text,
                    .alarm = sync_names[now]};
    s->cb.event(s->cb.ctx, &ev);
}

void measured__check(measure_watch *w, sim *s, double t)
{
    if (w == NULL)
        return;
    sync_state run = SYNC_OK;
    size_t active = 0;
    for (size_t i = 0; i < w->n; i++) {
        meas *q = &w->m[i];
        q->fresh = q->have && q->pending_fresh;
        q->value = q->have ? q->pending : NAN;
        q->residual = q->fresh ? q->value - sim__signal(s, q->m->of) : NAN;
        if (q->fresh) {
            int change = alarms__step(&q->st, 1, q->m->tolerance,
                                      q->m->deadband, q->m->delay,
                                      fabs(q->residual), t);
            if (change != 0)
                alarms__report(s, &q->alarm, ALARM_RESIDUAL, q->m->tolerance,
                               change, fabs(q->residual), t);
        }
        sync_state mine = !q->fresh ? SYNC_STALE
                          : q->st.active ? SYNC_DESYNC : SYNC_OK;
        run = mine > run ? mine : run;
        active += (size_t)q->st.active;
    }
    s->st.residual_alarms_active = active;
    if (run != w->sync) {
        w->sync = run;
        sync_event(s, run, w, t);
    }
    snprintf(s->st.sync, sizeof s->st.sync, "%s", sync_names[run]);
}

void measured__correct(measure_watch *w, sim *s, double t)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n; i++) {
        meas *q = &w->m[i];
        if (!q->fresh || (!q->m->reset && q->m->gain == 0))
            continue;
        node *n = &s->nodes[q->m->of.inst];
        double *x = &n->x[q->m->of.index];
        double next = q->m->reset ? q->value : *x + q->m->gain * q->residual;
        if (next == *x)
            continue;
        *x = next;
        s->st.corrections++;
        if (n->grp != NULL)
            n->grp->restart = 1;
    }
    (void)t;
}

void measured__free(measure_watch **wp)
{
    measure_watch *w = *wp;
    if (w == NULL)
        return;
    free(w->m);
    free(w);
    *wp = NULL;
}
