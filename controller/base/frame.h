/*
 * frame.h — the pipe protocol between the daemon and a run's process.
 *
 * A frame is a 4-byte length (of what follows, host order: both ends are
 * the same binary on the same machine), a type byte and the payload.
 * Child → daemon: columns, rows (raw doubles), events, the end.
 * Daemon → child: live input values, plant signals' messages.
 */
#ifndef TWIN_FRAME_H
#define TWIN_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
    FRAME_COLUMNS = 'C',   /* JSON array of column names */
    FRAME_ROW = 'R',       /* n doubles */
    FRAME_EVENT = 'E',     /* JSON object: an event without contract/run */
    FRAME_END = 'X',       /* JSON object: status, errors, stats */
    FRAME_SET = 'S',       /* JSON object: {"name": value, ...} */
    FRAME_SIGNAL = 'G',    /* a message on a plant signal's topic, as it
                            * came (daemon/run_signals.c) */
    FRAME_WHERE = 'W'      /* "model\0instance\0" and the t it was
                            * called with (a double): the model running
                            * when the process got a fatal signal or
                            * SIGUSR1 */
};

#define FRAME_MAX (64u << 20)

/* Buffered writer over a blocking fd. */
typedef struct frame_writer {
    int fd;
    char *buf;
    size_t len, cap;
} frame_writer;

int frame__writer_init(frame_writer *w, int fd, size_t cap);
/* Queue a frame; writes out when the buffer would overflow. */
int frame__put(frame_writer *w, int type, const void *payload, size_t len);
int frame__flush(frame_writer *w);
void frame__writer_free(frame_writer *w);

/* Incremental reader over a non-blocking fd. */
typedef struct frame_reader {
    char *buf;
    size_t len, cap, pos;
    int eof;
    double *aligned;       /* a payload that lay unaligned in buf, copied */
    size_t aligned_cap;    /* doubles */
} frame_reader;

/* Read what is there.  Returns bytes read, 0 at end of file, -1 on error
 * (EAGAIN included: nothing to read now). */
long frame__fill(frame_reader *r, int fd);

/* The next complete frame's type, 0 when none is complete yet, -1 on a
 * corrupt length or want of memory.  *payload is aligned for double (a
 * row frame's payload may be read in place as n doubles: headers are 5
 * bytes, so a payload that lies unaligned in the buffer is copied to one
 * that is not); it stays valid until the next frame__next or frame__fill. */
int frame__next(frame_reader *r, const char **payload, size_t *len);

void frame__reader_free(frame_reader *r);

/* A FRAME_WHERE's payload as "model 'm' (instance 'i') at t = 2.5"
 * (malloc'd), or NULL when it is garbled or memory is short. */
char *frame__where_text(const char *payload, size_t len);

#endif
