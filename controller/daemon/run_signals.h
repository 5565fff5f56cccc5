/*
 * run_signals.h — plant signals between the daemon and a run's process.
 *
 * The daemon side (signal_subs.c) hands each message on a bound topic to
 * the run's process as it came, a FRAME_SIGNAL: the wall-clock time it
 * arrived, the topic and the raw payload; the daemon never parses it.
 * The run's side (runner.c's poll) gives the frame to the run's
 * signal_feed, which decodes it.  A frame stays within PIPE_BUF so that
 * it is written whole or not at all; a larger payload is not forwarded,
 * only its size (the run counts it as bad).
 */
#ifndef TWIN_RUN_SIGNALS_H
#define TWIN_RUN_SIGNALS_H

#include <stddef.h>

#include "child.h"
#include "signal_feed.h"

/* Forward one message to the run's process (its to_child pipe).  Returns
 * 0, or -1 when the pipe is full or closed (the message is lost to that
 * run). */
int run_signals__send(int to_child, const char *topic, const char *payload,
                      size_t len, double arrived);

/* In the run's process: a FRAME_SIGNAL's payload to the feed (t: the
 * tick the message is taken at).  A garbled frame is ignored. */
void run_signals__frame(signal_feed *f, const char *frame, size_t len,
                        double t);

/* Wall-clock time now, Unix seconds (the clock of plant time stamps). */
double run_signals__wall_now(void);

#endif
