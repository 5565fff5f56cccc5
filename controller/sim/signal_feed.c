/*
 * signal_feed.c — a run's plant signals over the run (signal_feed.h).
 *
 * Each bound input keeps a short queue of decoded values not yet in force
 * (a value stamped in the future of the run's clock waits there), the
 * value in force and its time stamp, and its freshness: waiting (nothing
 * yet, the run younger than max_age), fresh, stale (its value older than
 * max_age) or missing (nothing came within max_age of the run's start).
 * A change of freshness is said once, as it happens.  Among the values
 * due at a tick the one with the newest stamp wins; one older than the
 * value in force is dropped (out of order), so without a stamp in the
 * payload the last to arrive wins.
 */
#include "signal_feed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measured.h"

#define QUEUE_MAX 32          /* values waiting for their time stamp */
#define BAD_EVERY 1.0         /* s between two bad-payload events */

typedef enum freshness { WAITING, FRESH, STALE, MISSING } freshness;
static const char *const state_names[] = {"waiting", "fresh", "stale",
                                          "missing"};

typedef struct pending {
    double value, stamp;
} pending;

typedef struct feed_input {
    const char *name;         /* the input, or the measured variable */
    int measured;             /* a measured variable's plant value */
    double dflt;              /* an input's default (on_stale: default) */
    const sc_signal *sig;
    const twin_variable *var;
    const char *instance;
    pending q[QUEUE_MAX];
    size_t nq;
    int has_value;
    double value, stamp;      /* in force, and its time */
    freshness state;
    uint64_t received, bad, stale;
    uint64_t bad_unsaid;      /* bad payloads not said yet */
    double bad_said;          /* when one was last said; -inf: never */
} feed_input;

struct signal_feed {
    feed_input *in;
    size_t n;
    double wall_start;        /* the first tick's wall time; NAN before */
    signal_feed_event event;
    void *ctx;
};

signal_feed *signal_feed__new(const scenario *sc, signal_feed_event event,
                              void *ctx, int *oom)
{
    *oom = 0;
    size_t n = signals__count(sc);
    if (n == 0)
        return NULL;
    signal_feed *f = calloc(1, sizeof *f);
    if (f == NULL || (f->in = calloc(n, sizeof *f->in)) == NULL) {
        free(f);
        *oom = 1;
        return NULL;
    }
    f->event = event;
    f->ctx = ctx;
    f->wall_start = NAN;
    for (size_t i = 0; i < sc->n_inputs; i++) {
        const sc_input *in = &sc->inputs[i];
        if (in->profile.kind != SC_PROFILE_SIGNAL)
            continue;
        feed_input *fi = &f->in[f->n++];
        fi->name = in->name;
        fi->dflt = in->profile.value;
        fi->sig = in->profile.signal;
        fi->var = scenario__ref_var(sc, in->to);
        fi->instance = sc->inst[in->to.inst].name;
        fi->bad_said = -INFINITY;
    }
    /* measured variables' plant values (measured.h) */
    for (size_t i = 0; i < sc->n_measured; i++) {
        const sc_measured *m = &sc->measured[i];
        if (m->sig == NULL)
            continue;
        feed_input *fi = &f->in[f->n++];
        fi->name = m->name;
        fi->measured = 1;
        fi->dflt = NAN;
        fi->sig = m->sig;
        fi->var = scenario__ref_var(sc, m->of);
        fi->instance = sc->inst[m->of.inst].name;
        fi->bad_said = -INFINITY;
    }
    return f;
}

/* A signal event about fi, its members besides kind, t, instance, input
 * and topic added by the caller before it is sent. */
static json_t *event_new(const feed_input *fi, const char *state, double t,
                         const char *message)
{
    return json_pack("{s:s, s:f, s:s, s:s, s:s, s:s, s:s}", "kind", "signal",
                     "t", t, "instance", fi->instance, "input", fi->name,
                     "topic", fi->sig->topic, "state", state, "message",
                     message);
}

static void say(signal_feed *f, json_t *ev)
{
    if (ev != NULL)
        f->event(f->ctx, ev);
    else
        json_decref(ev);
}

/* A bad payload: counted; said unless one was said less than BAD_EVERY
 * ago (then counted as unsaid, and said with the next). */
static void bad_payload(signal_feed *f, feed_input *fi, double arrived,
                        double t, const char *why)
{
    fi->bad++;
    if (arrived - fi->bad_said < BAD_EVERY) {
        fi->bad_unsaid++;
        return;
    }
    char msg[640];
    snprintf(msg, sizeof msg, "a message on %s for input %s was refused "
             "and the input keeps its value: %s", fi->sig->topic,
             fi->name, why);
    json_t *ev = event_new(fi, "bad", t, msg);
    if (ev != NULL) {
        json_object_set_new(ev, "bad", json_integer((json_int_t)fi->bad));
        json_object_set_new(ev, "unsaid", json_integer(
                                (json_int_t)fi->bad_unsaid));
    }
    say(f, ev);
    fi->bad_said = arrived;
    fi->bad_unsaid = 0;
}

static void take(signal_feed *f, feed_input *fi, double arrived,
                 const char *payload, size_t len, int cut, double t)
{
    char why[512];
    double value, stamp;
    fi->received++;
    if (cut) {
        snprintf(why, sizeof why, "its payload of %zu bytes is larger than "
                 "a signal's payload may be", len);
        bad_payload(f, fi, arrived, t, why);
        return;
    }
    if (signals__decode(fi->sig, payload, len, &value, &stamp, why,
                        sizeof why) != 0) {
        bad_payload(f, fi, arrived, t, why);
        return;
    }
    json_t *j = json_real(value);
    char what[300], inner[400];
    snprintf(what, sizeof what, "%s '%s'", fi->measured ? "measured "
             "variable" : "input", fi->name);
    twin_err_code code = scenario__value(fi->var, j, what, &value, inner,
                                         sizeof inner);
    json_decref(j);
    if (code != 0) {
        bad_payload(f, fi, arrived, t, inner);
        return;
    }
    if (fi->nq == QUEUE_MAX) { /* the oldest waiting value goes */
        memmove(fi->q, fi->q + 1, (QUEUE_MAX - 1) * sizeof fi->q[0]);
        fi->nq--;
    }
    fi->q[fi->nq++] = (pending){value, isnan(stamp) ? arrived : stamp};
}

void signal_feed__message(signal_feed *f, const char *topic, double arrived,
                          const char *payload, size_t len, int cut, double t)
{
    for (size_t i = 0; f != NULL && i < f->n; i++)
        if (strcmp(f->in[i].sig->topic, topic) == 0)
            take(f, &f->in[i], arrived, payload, len, cut, t);
}

/* The newest value due by now, put in force; the rest due dropped. */
static void apply_due(feed_input *fi, sim *s, double now)
{
    int found = 0;
    pending best = {0, -INFINITY};
    size_t kept = 0;
    for (size_t i = 0; i < fi->nq; i++) {
        if (fi->q[i].stamp > now) {
            fi->q[kept++] = fi->q[i];
            continue;
        }
        if (fi->q[i].stamp >= best.stamp) {
            best = fi->q[i];
            found = 1;
        }
    }
    fi->nq = kept;
    if (!found || (fi->has_value && best.stamp < fi->stamp))
        return; /* nothing due, or older than the value in force */
    fi->has_value = 1;
    fi->value = best.value;
    fi->stamp = best.stamp;
    if (fi->measured)
        sim__measure(s, fi->name, best.value, 1);
    else
        sim__set_input(s, fi->name, best.value);
}

static void judge(signal_feed *f, feed_input *fi, sim *s, double t,
                  double now)
{
    double max_age = fi->sig->max_age;
    freshness next;
    if (fi->has_value)
        next = now - fi->stamp > max_age ? STALE : FRESH;
    else
        next = now - f->wall_start > max_age ? MISSING : WAITING;
    if (next == fi->state)
        return;
    /* Stale after fresh may be a value that came stale; it counts once. */
    fi->state = next;
    char msg[512];
    json_t *ev = NULL;
    switch (next) {
    case FRESH:
        snprintf(msg, sizeof msg, "input %s follows %s: %.17g", fi->name,
                 fi->sig->topic, fi->value);
        ev = event_new(fi, state_names[next], t, msg);
        if (ev)
            json_object_set_new(ev, "value", json_real(fi->value));
        break;
    case STALE:
    case MISSING:
        fi->stale++;
        if (next == STALE)
            snprintf(msg, sizeof msg, "input %s: the last value on %s is "
                     "%.3g s old, more than its max_age of %g s; %s",
                     fi->name, fi->sig->topic, now - fi->stamp, max_age,
                     fi->sig->on_stale == SC_STALE_DEFAULT
                         ? "it goes back to its default"
                         : "it holds its last value");
        else
            snprintf(msg, sizeof msg, "input %s: nothing came on %s within "
                     "its max_age of %g s; it holds its default",
                     fi->name, fi->sig->topic, max_age);
        ev = event_new(fi, state_names[next], t, msg);
        if (ev && next == STALE)
            json_object_set_new(ev, "age", json_real(now - fi->stamp));
        if (fi->measured) /* no plant value to compare with now */
            sim__measure(s, fi->name, NAN, 0);
        else if (next == STALE && fi->sig->on_stale == SC_STALE_DEFAULT)
            sim__set_input(s, fi->name, fi->dflt);
        break;
    case WAITING:
        break;
    }
    say(f, ev);
}

void signal_feed__tick(signal_feed *f, sim *s, double t, double now)
{
    if (f == NULL)
        return;
    if (isnan(f->wall_start))
        f->wall_start = now;
    for (size_t i = 0; i < f->n; i++) {
        apply_due(&f->in[i], s, now);
        judge(f, &f->in[i], s, t, now);
    }
}

json_t *signal_feed__stats(const signal_feed *f)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && f != NULL && i < f->n; i++) {
        const feed_input *fi = &f->in[i];
        json_object_set_new(o, fi->name, json_pack(
            "{s:s, s:I, s:I, s:I}", "topic", fi->sig->topic, "received",
            (json_int_t)fi->received, "bad", (json_int_t)fi->bad, "stale",
            (json_int_t)fi->stale));
    }
    return o;
}

void signal_feed__free(signal_feed **f)
{
    if (*f == NULL)
        return;
    free((*f)->in);
    free(*f);
    *f = NULL;
}
