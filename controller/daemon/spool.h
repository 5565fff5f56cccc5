/*
 * spool.h — the sender's on-disk spool: every message a run produces
 * (its responses, result batches and events) is appended to the run's
 * journal and synced to disk before it is handed to the MQTT client, and
 * stays there until the broker acknowledged it — and, for a run's
 * results, for a retention time after the run, so that `replay` can send
 * any seq range again.  Messages that belong to no run (answers to
 * describe, status, rejections) go to a journal of the daemon's own.
 *
 * Layout of the spool directory (one controller owns it, by a lock):
 *   LOCK                 flock()ed while a daemon uses the directory
 *   runs/<run>.log       the run's journal: records, appended
 *   runs/<run>.acked     how many records from the start were acknowledged
 *                        (written lazily; a stale one only means that some
 *                        messages are sent twice after a restart)
 *   misc-<n>.log         the daemon's own journal, one per start
 * A record: "TWR2", body length, CRC-32 of the length and body, then its
 * index in the journal, seq (−1 when not a result), flags (SPOOL_RETAINED,
 * SPOOL_CBOR), topic, correlation data, payload.  Damage (a flipped byte, bytes cut out, a
 * torn record at the end after a crash) fails a record's marker, length,
 * CRC or index order; readers skip to the next intact record and say
 * what they skipped.  Journals of TWR1 records (before the index and the
 * length's CRC) are read by the old rules: up to the first damaged
 * record.
 */
#ifndef TWIN_SPOOL_H
#define TWIN_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct spool spool;
typedef struct spool_stream spool_stream;

/* A record's flags.  Records written before SPOOL_CBOR had the retained
 * flag alone (0 or 1), and all were JSON: they read the same. */
#define SPOOL_RETAINED 1
#define SPOOL_CBOR 2    /* the payload is CBOR (application/cbor), not JSON */

typedef struct spool_record {
    int64_t index;          /* position in its journal, from 0 */
    int64_t seq;            /* result seq, or −1 */
    int retained;
    int cbor;               /* SPOOL_CBOR was set */
    const char *topic;
    const void *correlation;
    size_t correlation_len;
    const char *payload;
    size_t len;
} spool_record;

/* A damaged stretch of a journal, found by reading it: bytes from offset
 * that are no intact record, why, and how many records were lost in it
 * (−1: unknown — at the journal's end, or in a TWR1 journal). */
typedef struct spool_damage {
    int64_t offset;
    size_t bytes;
    int64_t records;
    int at_end;             /* nothing intact follows it */
    const char *why;
} spool_damage;

/* Open (creating) and lock dir.  NULL with a sentence in why when the
 * directory cannot be made or written (read-only, full, permissions: the
 * system's reason and what to do), or another daemon holds it. */
spool *spool__open(const char *dir, char *why, size_t why_len);
void spool__close(spool **sp);

/* The journal of a run (created, or opened for appending after a
 * restart), or the daemon's own (run NULL).  NULL with errno when it
 * cannot be opened. */
spool_stream *spool__stream(spool *sp, const char *run);

/* Append a record (flags: SPOOL_RETAINED, SPOOL_CBOR); returns its
 * index, or −1 with errno when it could not be written (ENOSPC, EROFS,
 * EIO…; nothing of it stays in the journal). */
int64_t spool__append(spool_stream *st, int64_t seq, int flags,
                      const char *topic, const void *correlation,
                      size_t correlation_len, const char *payload,
                      size_t len);

/* delta more (or fewer) messages wait in memory to be appended to st
 * (the disk could not take them): its journal is not deleted meanwhile.
 * st may be NULL. */
void spool__pending(spool_stream *st, int delta);

/* Make every appended record durable (fdatasync of each journal written
 * since the last call).  Returns 0, or −1 when a sync failed. */
int spool__sync(spool *sp);

/* The broker acknowledged record index of st. */
void spool__acked(spool_stream *st, int64_t index);

/* The run has ended: its journal stays for `retention` seconds after now
 * (wall clock), then goes once everything in it was acknowledged.  What
 * it had reserved and not written is free again.  The spool takes the
 * stream over and *st is cleared: once everything in the journal was
 * acknowledged its descriptor is closed and the stream freed (the journal
 * stays on disk, for replay, with only its name and size in memory). */
void spool__finish(spool_stream **st, double retention);

/* Reserve room for everything st's run will write: bytes from the start
 * of its journal.  What it writes counts against its reservation; while
 * the run has not finished, the rest is spool__reserved's. */
void spool__reserve(spool_stream *st, size_t bytes);

/* Bytes reserved by unfinished runs and not written yet. */
size_t spool__reserved(const spool *sp);

/* Delete what is past retention and acknowledged; write ack marks.
 * Call now and then (about once a second). */
void spool__tidy(spool *sp);

/* Bytes on disk. */
size_t spool__bytes(const spool *sp);

/* Bytes the spool's filesystem has free for this user (statvfs), or
 * SIZE_MAX when it cannot be asked. */
size_t spool__disk_free(const spool *sp);

/* The spool's directory, as given to spool__open. */
const char *spool__dir(const spool *sp);

/* The seq of the last result record in st's journal, or −1. */
int64_t spool__stream_last_seq(const spool_stream *st);

/* The bytes of one journal on disk, and what its run had reserved. */
size_t spool__stream_bytes(const spool_stream *st);
size_t spool__stream_reserved(const spool_stream *st);

/* After a restart: for every journal left behind, in name order, call
 * each(ctx, run, found) with all its intact records (run is NULL for a
 * daemon journal), how many of them were acknowledged, the damage found
 * between them, and why its ack mark was not read (NULL: it was).  The
 * journals stay (runs are reopened by spool__stream on demand; daemon
 * journals are deleted once every record was handed back here and
 * acknowledged: call spool__adopt for each record re-sent). */
typedef struct spool_found {
    const spool_record *records;
    size_t n;
    size_t acked;           /* records[0 … acked − 1] were acknowledged */
    const spool_damage *damage;
    size_t n_damage;
    const char *mark_problem;
} spool_found;
typedef void (*spool_each_fn)(void *ctx, const char *run,
                              const spool_found *found);
int spool__recover(spool *sp, spool_each_fn each, void *ctx);

/* Replay: a cursor over the result records of a run with from ≤ seq ≤
 * to, in journal order (which is seq order), read a few at a time so that
 * a long replay never holds up its caller.  NULL when the run is not in
 * the spool (or out of memory).  The cursor holds the journal open: if
 * the journal is deleted meanwhile (its retention ran out), the cursor
 * still reads it to the end, and the disk space is given back when the
 * cursor ends.  It ends at the journal's end as it finds it (a running
 * run's later records are not waited for). */
typedef struct spool_cursor spool_cursor;
spool_cursor *spool__cursor(spool *sp, const char *run, int64_t from,
                            int64_t to);

/* The next record into r, valid until the next call: returns 1; 0 at the
 * end (the journal is then closed); 2 when *budget bytes were read
 * without finding one (call again).  Every record read, taken or skipped,
 * counts against *budget. */
int spool__cursor_next(spool_cursor *c, spool_record *r, size_t *budget);
void spool__cursor_free(spool_cursor **c);

/* Is the run's journal still in the spool (for replay)? */
int spool__has_run(const spool *sp, const char *run);

#endif
