/*
 * signals.h — a plant signal bound to a scenario's input: its spec, read
 * from the scenario's {"signal": {...}} (composition, every problem
 * named), and the decoding of one message's payload into a value.
 *
 * A signal is an MQTT topic that the plant (or its gateway) publishes to;
 * the daemon subscribes and hands each message's raw bytes to the run's
 * process, which decodes them here: a bare number, or JSON addressed by
 * an RFC 6901 pointer (jptr.h), scaled and offset, with an optional time
 * stamp read from the same payload.  What is done with the value over
 * the run (when it is in force, when it is stale) is signal_feed.h's.
 * The same spec is meant for measured variables (docs/live-twin.md).
 */
#ifndef TWIN_SIGNALS_H
#define TWIN_SIGNALS_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"

struct scenario;

typedef enum sc_on_stale {
    SC_STALE_HOLD,            /* keep the last value (the default) */
    SC_STALE_DEFAULT          /* go back to the input's default value */
} sc_on_stale;

typedef struct sc_signal {
    char *topic;              /* an MQTT topic, no wildcards */
    char *pointer;            /* JSON Pointer to the value; NULL: the
                               * payload is a bare number */
    char *timestamp;          /* JSON Pointer to a wall-clock time in
                               * seconds (Unix time); NULL: the time the
                               * message arrived */
    double scale, offset;     /* value = raw × scale + offset */
    double max_age;           /* wall-clock s; INFINITY: never stale */
    sc_on_stale on_stale;
} sc_signal;

/* Read the object of an input's "signal" member, at path (e.g.
 * "/inputs/tank0.valve/signal").  Returns a new spec, or NULL with every
 * problem in errs (NULL with none only for want of memory). */
sc_signal *signals__parse(const json_t *spec, const char *path,
                          twin_errors *errs);

void signals__free(sc_signal **sig);

/* Decode one payload of len bytes (not NUL-terminated necessarily):
 * returns 0 with the scaled value in *value and the payload's time stamp
 * in *stamp (NAN when the spec names none), or -1 with a sentence in
 * why: not JSON, the pointer names nothing, not a number, not finite.
 * true and false read as 1 and 0. */
int signals__decode(const sc_signal *sig, const char *payload, size_t len,
                    double *value, double *stamp, char *why, size_t why_len);

/* How many signals the scenario binds: its inputs' and its measured
 * variables' (measured.h). */
size_t signals__count(const struct scenario *sc);

/* The i-th of them (i < signals__count): its spec, with *name the input
 * or measured variable ("tank0.h"), *path where the scenario gives it
 * ("/inputs/tank0.valve" or "/measured/tank0.h"), *measured 1 for a
 * measured variable's plant value; the inputs come first. */
const sc_signal *signals__at(const struct scenario *sc, size_t i,
                             const char **name, const char **section,
                             int *measured);

#endif
