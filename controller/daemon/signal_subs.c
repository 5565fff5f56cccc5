/*
 * signal_subs.c — plant topics subscribed for the runs (signal_subs.h).
 * The subscriptions are a short list with a count each; messages are
 * matched against the running runs' signal inputs by exact topic, and
 * their bytes written to each run's pipe as they came.
 */
#include "signal_subs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_signals.h"

struct signal_sub {
    struct signal_sub *next;
    char *topic;
    size_t refs;
    uint64_t lost;            /* messages a run's full pipe did not take */
};

/* Is topic one the deployment lets runs bind? */
static int allowed(const serve *sv, const char *topic)
{
    for (size_t i = 0; i < sv->cfg.allow.n_signals; i++)
        if (mqtt__topic_matches(sv->cfg.allow.signals[i], topic))
            return 1;
    return 0;
}

static int own_topic(const serve *sv, const char *topic)
{
    char own[1024];
    snprintf(own, sizeof own, "%s/#", sv->cfg.prefix);
    return mqtt__topic_matches(own, topic);
}

void signal_subs__check(const serve *sv, const scenario *sc,
                        twin_errors *errs)
{
    size_t n = signals__count(sc);
    for (size_t i = 0; i < n; i++) {
        const char *name, *section;
        int measured;
        const char *topic = signals__at(sc, i, &name, &section,
                                        &measured)->topic;
        char top[32];
        snprintf(top, sizeof top, "/scenario%s", section);
        char *in = errors__path(top, name);
        char *sig = in ? errors__path(in, "signal") : NULL;
        char *p = sig ? errors__path(sig, "topic") : NULL;
        const char *what = measured ? "measured variable" : "input";
        if (own_topic(sv, topic))
            errors__add(errs, TWIN_E_NOT_ALLOWED, p ? p : "/scenario",
                        "%s '%s' cannot follow topic %s: it is under "
                        "this controller's own prefix %s/; plant signals "
                        "come on topics of their own", what, name,
                        topic, sv->cfg.prefix);
        else if (!allowed(sv, topic))
            errors__add(errs, TWIN_E_NOT_ALLOWED, p ? p : "/scenario",
                        "%s '%s' cannot follow topic %s: this "
                        "controller's deployment allows runs to bind only "
                        "topics its allow.signals filters cover (%s%s); "
                        "ask the operator to add one that covers it",
                        what, name, topic,
                        sv->cfg.allow.n_signals ? "first "
                                                : "none are set",
                        sv->cfg.allow.n_signals ? sv->cfg.allow.signals[0]
                                                : "");
        free(p);
        free(sig);
        free(in);
    }
}

static struct signal_sub *find(const serve *sv, const char *topic)
{
    for (struct signal_sub *s = sv->signal_subs; s; s = s->next)
        if (strcmp(s->topic, topic) == 0)
            return s;
    return NULL;
}

/* The topic of sc's i-th signal (signals__at). */
static const char *topic_of(const scenario *sc, size_t i)
{
    const char *name, *section;
    int measured;
    return signals__at(sc, i, &name, &section, &measured)->topic;
}

/* Was the same topic bound by an earlier signal of sc? (counted once) */
static int earlier(const scenario *sc, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(topic_of(sc, j), topic_of(sc, i)) == 0)
            return 1;
    return 0;
}

void signal_subs__bind(serve *sv, const scenario *sc)
{
    size_t n = signals__count(sc);
    for (size_t i = 0; i < n; i++) {
        if (earlier(sc, i))
            continue;
        const char *topic = topic_of(sc, i);
        struct signal_sub *s = find(sv, topic);
        if (s == NULL) {
            s = calloc(1, sizeof *s);
            if (s == NULL || (s->topic = strdup(topic)) == NULL) {
                free(s);
                daemon__warn("out of memory subscribing to "
                             "%s; its runs will see the signal missing",
                             topic);
                continue;
            }
            s->next = sv->signal_subs;
            sv->signal_subs = s;
            if (mqtt__subscribe(sv->mq, topic) != 0)
                daemon__warn("could not subscribe to plant "
                             "signal %s now; it is made again at the next "
                             "connect", topic);
            else
                daemon__say(sv, "subscribed to plant signal %s", topic);
        }
        s->refs++;
    }
}

void signal_subs__unbind(serve *sv, const scenario *sc)
{
    size_t n = sc ? signals__count(sc) : 0;
    for (size_t i = 0; i < n; i++) {
        if (earlier(sc, i))
            continue;
        const char *topic = topic_of(sc, i);
        for (struct signal_sub **sp = &sv->signal_subs; *sp;
             sp = &(*sp)->next) {
            struct signal_sub *s = *sp;
            if (strcmp(s->topic, topic) != 0)
                continue;
            if (--s->refs == 0) {
                const char *t = s->topic;
                mqtt__unsubscribe(sv->mq, &t, 1);
                daemon__say(sv, "unsubscribed from plant signal %s", t);
                *sp = s->next;
                free(s->topic);
                free(s);
            }
            break;
        }
    }
}

/* Is run r bound to topic? */
static int bound(const run_rec *r, const char *topic)
{
    size_t n = signals__count(r->sc);
    for (size_t i = 0; i < n; i++)
        if (strcmp(topic_of(r->sc, i), topic) == 0)
            return 1;
    return 0;
}

int signal_subs__message(serve *sv, const mqtt_event *ev)
{
    struct signal_sub *s = find(sv, ev->topic);
    if (s == NULL)
        return 0;
    double arrived = run_signals__wall_now();
    for (run_rec *r = sv->runs; r; r = r->next) {
        if (r->state != RUN_RUNNING || r->sc == NULL || !bound(r, ev->topic))
            continue;
        if (run_signals__send(r->child.to_child, ev->topic, ev->payload,
                              ev->len, arrived) != 0 && s->lost++ % 1000 == 0)
            daemon__warn("run %s did not take a message on "
                         "plant signal %s (its pipe is full): %llu lost on "
                         "this topic so far", r->id, ev->topic,
                         (unsigned long long)s->lost);
    }
    return 1;
}

void signal_subs__free_all(serve *sv)
{
    while (sv->signal_subs) {
        struct signal_sub *s = sv->signal_subs;
        sv->signal_subs = s->next;
        free(s->topic);
        free(s);
    }
}
