/*
 * fuzz_spool.c — libFuzzer harness: the spool's journal reader and its
 * ack-mark reader, on every byte sequence a damaged disk can hold
 * (docs/spool.md, "Damage").  An input is a run's ack mark and its
 * journal: its first byte is the mark's length (at most 40), the mark's
 * bytes follow, the rest is the journal.  Both are written into a spool
 * directory, which is then opened as a restarted daemon opens it: every
 * journal recovered (each intact record and damaged stretch checked for
 * sense), the run's records replayed through a cursor with a small read
 * budget, the journal reopened for writing (cutting a torn end), a
 * record appended and acknowledged, and the spool closed.  The seeds are
 * journals that twinctl serve wrote, of the current format and of the
 * old (TWR1) one.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static volatile unsigned touched;
static char log_path[128], mark_path[128];

static void put(const char *path, const uint8_t *bytes, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0 || (n > 0 && write(fd, bytes, n) != (ssize_t)n)) {
        perror("fuzz: writing the spool");
        abort();
    }
    close(fd);
}

static void remove_dir(void)
{
    char path[160];
    unlink(log_path);
    unlink(mark_path);
    snprintf(path, sizeof path, "%s/LOCK", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/runs", dir);
    rmdir(path);
    rmdir(dir);
}

/* A record must be whole: its strings within what was read, its index
 * after the one before, and what it says of itself in range. */
static void check_record(const spool_record *r, int64_t *last_index)
{
    if (r->topic == NULL || strlen(r->topic) > 65535 ||
        (r->len > 0 && r->payload == NULL) || r->index <= *last_index ||
        r->seq < -1 || (r->correlation_len > 0 && r->correlation == NULL))
        abort();
    /* Touch every byte (ASan checks the bounds). */
    for (size_t i = 0; i < r->len; i++)
        touched += (unsigned char)r->payload[i];
    for (size_t i = 0; i < r->correlation_len; i++)
        touched += ((const unsigned char *)r->correlation)[i];
    *last_index = r->index;
}

static void each(void *ctx, const char *run, const spool_found *f)
{
    (void)ctx;
    (void)run;
    int64_t last = -1;
    if (f->acked > f->n)
        abort();
    for (size_t i = 0; i < f->n; i++)
        check_record(&f->records[i], &last);
    for (size_t i = 0; i < f->n_damage; i++)
        if (f->damage[i].why == NULL || f->damage[i].offset < 0 ||
            f->damage[i].records < -1)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (dir[0] == '\0') {
        /* In memory where there is a tmpfs: the harness is file I/O. */
        snprintf(dir, sizeof dir, "/dev/shm/twin-fuzz-spool-XXXXXX");
        if (mkdtemp(dir) == NULL) {
            snprintf(dir, sizeof dir, "/tmp/twin-fuzz-spool-XXXXXX");
            if (mkdtemp(dir) == NULL) {
                perror("fuzz: mkdtemp");
                abort();
            }
        }
        atexit(remove_dir);
        snprintf(log_path, sizeof log_path, "%s/runs/f.log", dir);
        snprintf(mark_path, sizeof mark_path, "%s/runs/f.acked", dir);
        spool *sp = spool__open(dir, why, sizeof why);
        if (sp == NULL) {
            fprintf(stderr, "fuzz: %s\n", why);
            abort();
        }
        spool__close(&sp);
    }
    size_t mark_len = size > 0 ? data[0] % 41 : 0;
    if (mark_len > size - (size > 0))
        mark_len = size - (size > 0);
    const uint8_t *mark = data + (size > 0);
    const uint8_t *journal = mark + mark_len;
    size_t journal_len = size - (size > 0) - mark_len;
    put(log_path, journal, journal_len);
    if (mark_len > 0)
        put(mark_path, mark, mark_len);
    else
        unlink(mark_path);

    spool *sp = spool__open(dir, why, sizeof why);
    if (sp == NULL) {
        fprintf(stderr, "fuzz: %s\n", why);
        abort();
    }
    if (spool__recover(sp, each, NULL) != 0)
        abort();
    spool_cursor *c = spool__cursor(sp, "f", 0, INT64_MAX);
    if (c != NULL) {
        spool_record r;
        int64_t last = -1;
        for (int rc = 2; rc != 0;) {
            size_t budget = 4096;
            rc = spool__cursor_next(c, &r, &budget);
            if (rc == 1)
                check_record(&r, &last);
        }
        spool__cursor_free(&c);
    }
    spool_stream *st = spool__stream(sp, "f");
    if (st != NULL) {
        int64_t i = spool__append(st, 0, 0, "t/result/f", "c", 1, "{}", 2);
        if (i < 0)
            abort();
        for (int64_t k = 0; k <= i; k++)
            spool__acked(st, k);
        spool__finish(&st, 0);
    }
    spool__close(&sp);
    return 0;
}
