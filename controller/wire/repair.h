/*
 * repair.h — filling the gaps in one run's results, from the
 * orchestrator's side.
 *
 * QoS 1 only reaches the broker: a broker that is stopped or killed loses
 * the messages it had acknowledged but not yet delivered, and the final
 * response can be among them.  The controller keeps every result message
 * of a run in its spool for a retention time, so a receiver that sees a
 * gap in seq, or no final response after its connection came back, asks
 * the controller for the run's `status` (state, last_seq, rows), then
 * `replay` for each missing seq range, waits for them, and does it again
 * a bounded number of times (docs/orchestrators.md).
 *
 * This module decides when to ask and what; the caller publishes the
 * requests (send, to the controller's request topic, with its answers
 * routed back to repair__answer) and tells it what happens (results heard,
 * the final response, the connection).  The rows themselves are collect's:
 * repair reads which seqs are missing from it.  Nothing here prints; what
 * it does is told through note, once per step, as a sentence.
 */
#ifndef TWIN_REPAIR_H
#define TWIN_REPAIR_H

#include <jansson.h>

#include "collect.h"

/* Timing, in seconds. */
#define REPAIR_GAP_WAIT 1.0    /* results quiet this long: a gap is a gap */
#define REPAIR_QUIET_WAIT 3.0  /* no final response, this long quiet after
                                  the connection came back: ask status */
#define REPAIR_ANSWER_WAIT 30.0 /* for the answer to a status or replay: it
                                  queues behind what the controller has
                                  not sent yet, and a replay of tens of
                                  thousands of messages takes it tens of
                                  seconds (docs/orchestrators.md) */
#define REPAIR_ROUNDS 5        /* status + replay rounds once the end is
                                  known, before giving up */

typedef struct repair repair;

typedef struct repair_io {
    /* Publish a request document (compact JSON, NUL-terminated) to the
     * run's controller, its answers to come back through repair__answer.
     * Returns 0, or -1 when it could not be sent now (not connected). */
    int (*send)(void *ctx, const char *payload);
    /* What repair is doing, as one sentence (may be NULL). */
    void (*note)(void *ctx, const char *sentence);
    void *ctx;
    /* The "encoding" of the replays it asks for, as the run asked
     * ("cbor", "json"); NULL: none said (JSON). */
    const char *encoding;
} repair_io;

/* For run, whose rows col collects (both borrowed, they must outlive
 * it).  NULL when out of memory. */
repair *repair__new(const char *run, collect *col, const repair_io *io);
void repair__free(repair **r);

/* A result message of the run arrived at now: silence counts from it. */
void repair__heard(repair *r, double now);

/* The connection to the broker was lost; it is back (subscribed). */
void repair__lost(repair *r, double now);
void repair__connected(repair *r, double now);

/* The run's final response arrived, with its last_seq (−1: no rows). */
void repair__final(repair *r, long long last_seq, double now);

/* An answer to one of repair's requests (the parsed twin.response/1);
 * answers to requests it no longer waits for are ignored. */
void repair__answer(repair *r, const json_t *resp, double now);

/* Send what is due at now.  Returns the time at which it wants to be
 * called again (INFINITY: only when something happens). */
double repair__step(repair *r, double now);

/* Has repair given up (rounds used up, or the controller cannot
 * replay)?  why then says why (valid until repair__free). */
int repair__gave_up(const repair *r);
const char *repair__why(const repair *r);

/* The run's state as a status answer said it ended (finished, failed,
 * cancelled), with its last_seq and rows: that answer, or NULL while the
 * run runs or no status answered yet (borrowed). */
const json_t *repair__ended(const repair *r);

/* How many status and replay requests were sent, and the rounds begun. */
unsigned repair__requests(const repair *r);
unsigned repair__rounds(const repair *r);

/* A new random (version 4) UUID in out: a request id unique without
 * coordination, and a valid topic level.  Returns 0, or -1 when the
 * system had no random bytes. */
int repair__uuid(char out[37]);

#endif
