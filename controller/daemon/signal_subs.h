/*
 * signal_subs.h — the plant topics the daemon subscribes to for its runs'
 * signal inputs (docs/live-twin.md).
 *
 * A run may bind only topics that the deployment's allow.signals filters
 * cover (none by default) and that are not the controller's own.  While
 * one run or more is bound to a topic the daemon's one MQTT client is
 * subscribed to it (a count per topic); when the last such run ends it
 * unsubscribes.  Each message on such a topic goes, unparsed, to every
 * running run bound to it (run_signals.h).
 */
#ifndef TWIN_SIGNAL_SUBS_H
#define TWIN_SIGNAL_SUBS_H

#include "daemon.h"

/* Every signal topic of sc outside allow.signals, or among the
 * controller's own topics, is a not_allowed problem in errs at
 * /scenario/inputs/<input>/signal/topic. */
void signal_subs__check(const serve *sv, const scenario *sc,
                        twin_errors *errs);

/* A run starts (bind) or ends (unbind): count its topics in and out,
 * subscribing and unsubscribing as the counts leave and reach 0. */
void signal_subs__bind(serve *sv, const scenario *sc);
void signal_subs__unbind(serve *sv, const scenario *sc);

/* A message on a bound topic is forwarded to the runs bound to it:
 * returns 1.  0: the topic is not a signal's (the intake takes it). */
int signal_subs__message(serve *sv, const mqtt_event *ev);

void signal_subs__free_all(serve *sv);

#endif
