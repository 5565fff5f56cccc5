/*
 * collect.h — the receiving end of one run's results: twin.result/1
#include "result_msg.h"
#include "rows_out.h"
 *
 * Messages wait until the source — the controller that accepted the run —
 * is known (collect__source): until then a message from another
 * controller using the same run id cannot be told apart.  Nothing here
 * prints; a problem is returned as a sentence.
 */
#ifndef TWIN_COLLECT_H
#define TWIN_COLLECT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "result_msg.h"
#include "rows_out.h"

typedef struct collect collect;

/* out: where the rows go (borrowed: its owner closes it), or NULL to
 * check and count only; scenario: the scenario's JSON text for the file
 * (borrowed, kept until the header is written), or NULL. */
collect *collect__new(rows_out *out, const char *scenario);
void collect__free(collect **c);

/* The run's columns, from its accepted response.  Without them the
 * columns of the first message written are used.  Returns 0, or -1 when
 * out of memory. */
int collect__columns(collect *c, const json_t *columns);

/* The controller whose messages count: held messages of others are
 * dropped, and writing starts.  Returns 0, or -1 (why says) when a held
 * message could not be written. */
int collect__source(collect *c, const char *source, char *why,
                    size_t why_len);

/* Take one result message as it came from source: its payload, read as
 * CBOR when the MQTT content type says application/cbor, else as JSON.
 * Returns 0 when taken, 1 for a duplicate (dropped), -1 when it or a row
 * written because of it is unusable (why says; it counts in
 * collect__bad). */
int collect__take_payload(collect *c, const char *payload, size_t len,
                          const char *content_type, const char *source,
                          char *why, size_t why_len);

/* The same for a message read already (its contents are taken over and
 * *msg is left empty). */
int collect__take_msg(collect *c, result_msg *msg, const char *source,
                      char *why, size_t why_len);

/* The same for a JSON message parsed already (the reference is
 * stolen). */
int collect__take(collect *c, json_t *msg, const char *source, char *why,
                  size_t why_len);

/* The next seq to write: seqs below it are written. */
long long collect__next_seq(const collect *c);
/* Result messages taken (held or written; not duplicates, not refused). */
unsigned long long collect__received(const collect *c);
unsigned long long collect__rows(const collect *c);
unsigned long long collect__duplicates(const collect *c);
unsigned long long collect__bad(const collect *c);
/* The largest t of the rows taken so far (-inf before the first). */
double collect__t(const collect *c);

/* Has every seq 0 .. last_seq been written? */
int collect__complete(const collect *c, long long last_seq);

/* The seqs up to last_seq not received, as "3, 7-9" in buf; returns how
 * many. */
long long collect__missing(const collect *c, long long last_seq, char *buf,
                           size_t len);

/* The first run of seqs not received that starts at from or later and
 * ends at last_seq at most: 1 with it in *first … *last, or 0 when there
 * is none. */
int collect__gap(const collect *c, long long from, long long last_seq,
                 long long *first, long long *last);

#endif
