/*
 * signal_feed.h — a run's plant signals as the run goes on: the messages
 * on their topics decoded (signals.h) as they come, the value each input
 * has in force at each tick, whether each signal is fresh, stale or
 * missing, and the counts for the run's final statistics.
 *
 * The run's process feeds it the messages the daemon forwards and asks it
 * at the start of each tick (the loop's poll) to put the values in force
 * with sim__set_input.  Times are wall-clock seconds on the clock the
 * plant stamps its payloads with (Unix time, CLOCK_REALTIME).  Events
 * (kind "signal") go to a callback as JSON objects; a bad payload is
 * counted, and said at most once a second per input, never fatal.
 */
#ifndef TWIN_SIGNAL_FEED_H
#define TWIN_SIGNAL_FEED_H

#include <stddef.h>

#include <jansson.h>

#include "scenario.h"
#include "sim.h"

typedef struct signal_feed signal_feed;

/* An event for the run's event topic; the callee owns it. */
typedef void (*signal_feed_event)(void *ctx, json_t *event);

/* A feed for sc's signal inputs, or NULL when it has none (or for want
 * of memory: *oom is set then). */
signal_feed *signal_feed__new(const scenario *sc, signal_feed_event event,
                              void *ctx, int *oom);

/* One message on topic, arrived at wall time `arrived`, during the tick
 * before simulated time t.  cut: the daemon did not forward its payload
 * because it was too large (len is the size it had). */
void signal_feed__message(signal_feed *f, const char *topic, double arrived,
                          const char *payload, size_t len, int cut,
                          double t);

/* At the start of the tick at simulated time t, wall time now: each input
 * takes the newest value whose time stamp is not after now; freshness is
 * judged and changes of it said. */
void signal_feed__tick(signal_feed *f, sim *s, double t, double now);

/* {"tank0.valve": {"topic", "received", "bad", "stale"}, ...} for the
 * final response's stats, a new reference. */
json_t *signal_feed__stats(const signal_feed *f);

void signal_feed__free(signal_feed **f);

#endif
