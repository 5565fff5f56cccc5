/*
 * sender.h — the central data sender: the one component that publishes
 * what runs produce.
 *
 * Runs hand it rows and events; it batches rows into twin.result/1
 * messages (bounded by rows and by time), in JSON or, when the run asked
 * for it, CBOR (written straight from the doubles: result_msg.h), numbers
 * them without gaps per run, checks each message before it leaves, and
 * publishes every message with QoS 1 and its MQTT v5 content type
 * (application/json, application/cbor).  A message stays in the
 * sender's memory until the broker acknowledged it: while the broker is
 * away, messages wait, and after a reconnect everything unacknowledged is
 * sent again in order (a receiver drops duplicates by seq).  Memory is
 * bounded: past buffer_bytes the sender reports itself full, and the
 * daemon stops reading the runs' pipes (the runs wait; nothing is
 * dropped; when stopping it reads them to their end regardless) and
 * refuses new runs with `busy`.
 *
 * With a spool (spool.h), a run's messages (and the daemon's answers a
 * restart could not give again) are first appended to a journal on disk
 * — the run's own, or the daemon's — and the journals are synced before
 * any of it is handed to the MQTT client (one sync per pump, a group
 * commit, and none when nothing was appended); an acknowledgement is
 * noted in the journal's marks.  Answers a restart can give again go
 * from memory (sender__publish_copy) and wait for no disk.
 * When the disk cannot take a run's message (full, read-only, failing),
 * it and every run message after it wait in memory, unpublished, and the
 * sender is full (the runs pause) until the spool takes them.
 *
 * A run's share of the spool: sender__run_bound gives, before the run
 * starts, the most its results and events can take in its journal (the
 * daemon reserves that much).  The run then keeps within it: a batch
 * that its first row's delay would send early waits to fill up when its
 * share cannot pay for one more message, and an event past the events'
 * share is counted, not sent (sender__run_close says how many).  Rows
 * are never held back for good and never dropped.
 */
#ifndef TWIN_SENDER_H
#define TWIN_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mqtt.h"
#include "spool.h"

typedef struct sender sender;
typedef struct sender_run sender_run;

typedef struct sender_limits {
    size_t batch_rows;     /* rows per result message */
    double batch_delay;    /* s the first row of a batch may wait */
    size_t buffer_bytes;   /* past this the sender is full */
    size_t window;         /* messages in flight at most */
} sender_limits;

/* A run's result stream, as sender__run_bound and sender__run_new take
 * it. */
typedef struct sender_run_spec {
    const char *run_id;
    const char *result_topic, *event_topic;
    const json_t *columns;   /* JSON array of names, "t" first */
    uint64_t max_rows;       /* rows it may send; 0: no share (unbounded) */
    double paced_seconds;    /* a paced run's wall-clock length, 0: batch */
    size_t event_bytes;      /* its events' share, beside the real-time
                              * factor events of a paced run and one
                              * nonfinite event per column */
    int cbor;                /* result messages in CBOR (result_msg.h),
                              * else JSON */
} sender_run_spec;

/* Journal record of a message: header and fixed fields beside topic,
 * correlation data and payload. */
#define SENDER_RECORD_OVERHEAD 33
/* Room for the event that says how many events were not sent. */
#define SENDER_WITHHELD_EVENT 1024

sender *sender__new(mqtt_client *mq, const sender_limits *lim);
void sender__free(sender **s);

/* Queue one of the daemon's own messages for the broker (QoS 1, copied),
 * journaled in the daemon's journal first (with a spool): for an answer
 * a restart could not give again (docs/spool.md, What is synced).
 * correlation may be NULL.  Returns 0, or -1 when out of memory. */
int sender__publish(sender *s, const char *topic, const char *payload,
                    size_t len, int retained, const void *correlation,
                    size_t correlation_len);

/* Write every message to sp first (NULL: memory only). */
void sender__use_spool(sender *s, spool *sp);

/* Queue a message of a run (its journal st) for the broker. */
int sender__publish_on(sender *s, spool_stream *st, const char *topic,
                       const char *payload, size_t len,
                       const void *correlation, size_t correlation_len);

/* Queue a message that needs no journal: held in memory until the
 * broker acknowledged it (sent again after a reconnect), never written
 * to the spool, so it waits for no disk.  For a copy of a record on disk
 * already (a run's result sent again by `replay`), and for an answer a
 * restart can give again (a rejection, `describe`, `status`, the
 * retained status, a retry answered from memory: docs/spool.md, What is
 * synced).  A crash loses it; its requester, never answered, asks again.
 * flags: SPOOL_RETAINED, SPOOL_CBOR (its content type:
 * application/cbor, else application/json).  correlation may be NULL. */
int sender__publish_copy(sender *s, const char *topic, const char *payload,
                         size_t len, int flags, const void *correlation,
                         size_t correlation_len);

/* After a restart: send a record of a journal again (st: the run's
 * journal, where the record already is; NULL: a record of an earlier
 * daemon journal, written again to this start's own). */
int sender__adopt(sender *s, spool_stream *st, const spool_record *r);

/* Hand PUBACK, PUBFAIL, CONNECTED and LOST events to the sender. */
void sender__on_mqtt(sender *s, const mqtt_event *ev);

/* Publish what waits, as far as the connection and window allow. */
void sender__pump(sender *s);

/* Full: past buffer_bytes, or holding messages of runs that the spool
 * could not take (the daemon then stops reading the runs' pipes). */
int sender__full(const sender *s);

/* Why the spool cannot be written (an errno) while messages of runs wait
 * for it, else 0.  Such a message is never published before it is
 * journaled: every run message after it waits too, in order.
 * sender__retry journals them (call it now and then, about once a
 * second): 0 when none waits any more, −1 when the spool still cannot be
 * written. */
int sender__spool_error(const sender *s);
int sender__retry(sender *s);
size_t sender__queued(const sender *s);      /* not yet acknowledged */
size_t sender__queued_bytes(const sender *s);

/* The most bytes the run's result messages and events can take in its
 * journal, as this sender writes them: max_rows rows of the widest
 * values in messages of batch_rows, the partial batches its delay may
 * send early (one per batch_delay of a paced run's length, else a few),
 * and its events' share.  0 when spec->max_rows is 0. */
size_t sender__run_bound(const sender *s, const sender_run_spec *spec);

/* A run's result stream; st its journal (NULL without a spool).  With
 * spec->max_rows, the run keeps within sender__run_bound. */
sender_run *sender__run_new(sender *s, const sender_run_spec *spec,
                            spool_stream *st);

/* The run's process has just started: the next sync (and so the
 * publishing of what waits, its `accepted` first) waits for its first
 * row, at most `seconds`, so that one sync covers both (without a spool,
 * nothing waits).  The loop wakes by then (sender__next_due). */
void sender__await_first_row(sender_run *r, double seconds);

/* Add a row (n values, n must match the columns).  now: monotonic s.
 * Returns -1 for a row of another width, -2 for a row past max_rows
 * (neither is taken). */
int sender__row(sender_run *r, const double *values, size_t n, double now);

/* Publish an event of this run (contract and run are added).  Past the
 * events' share it is counted and not sent (returns 1). */
int sender__event(sender_run *r, json_t *event);

/* Events not sent for want of their share, so far. */
uint64_t sender__run_withheld(const sender_run *r);

/* Send every batch whose first row has waited batch_delay. */
void sender__flush_due(sender *s, double now);

/* The monotonic time of the next due batch, or INFINITY. */
double sender__next_due(const sender *s);

/* Send what the run holds, as far as its share allows (a partial batch
 * its share cannot pay for yet waits for more rows, or for the close). */
void sender__run_flush(sender_run *r);

/* The run has ended: send what it holds, and, when events were not
 * sent, a `log` event that says how many.  After this, last_seq and rows
 * are final. */
void sender__run_close(sender_run *r);
int64_t sender__run_last_seq(const sender_run *r); /* −1: none */
uint64_t sender__run_rows(const sender_run *r);

void sender__run_free(sender_run **r);

#endif
