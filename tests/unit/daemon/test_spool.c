/*
 * test_spool.c — the spool's replay cursor on real journals in a
 * temporary directory: the records of a seq range in order and intact,
 * a read budget that splits the walk, a journal deleted under the cursor
 * (retention over) still read to its end, a torn record ending it; a
 * journal whose run ended and was all acknowledged holds no descriptor
 * and is still replayed, counted and deleted after its retention.
 * A damaged journal (a flipped byte, bytes cut out of its middle, its end
 * cut off) keeps every intact record, for a restart and for replay, and
 * says what was lost; an ack mark that is not a count (-1, garbage,
 * empty, huge) is read as nothing acknowledged, never a crash.  A
 * record's flags (retained, CBOR) read back as written, and an old
 * record is JSON.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "spool.h"

#define N_RESULTS 500

typedef struct fixture {
    char dir[64];
    spool *sp;
    spool_stream *st;
} fixture;

static void payload_of(int64_t seq, char *buf, size_t len)
{
    /* Lengths that vary, so offsets do. */
    snprintf(buf, len, "{\"seq\":%lld,\"pad\":\"%.*s\"}", (long long)seq,
             (int)(seq % 97), "....................................."
                              "....................................."
                              ".........................");
}

/* A run's journal: its accepted response, then N_RESULTS results with an
 * event after every tenth, then its final response. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char why[256], text[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/twin-test-spool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->sp = spool__open(f->dir, why, sizeof why);
    assert_non_null(f->sp);
    f->st = spool__stream(f->sp, "run-1");
    assert_non_null(f->st);
    assert_int_equal(spool__append(f->st, -1, 0, "t/response/run-1", "c", 1,
                                   "{\"status\":\"accepted\"}", 21), 0);
    for (int64_t seq = 0; seq < N_RESULTS; seq++) {
        payload_of(seq, text, sizeof text);
        assert_true(spool__append(f->st, seq, 0, "t/result/run-1", NULL, 0,
                                  text, strlen(text)) > 0);
        if (seq % 10 == 9)
            assert_true(spool__append(f->st, -1, 0, "t/event/run-1", NULL,
                                      0, "{}", 2) > 0);
    }
    assert_true(spool__append(f->st, -1, 0, "t/response/run-1", NULL, 0,
                              "{\"status\":\"finished\"}", 21) > 0);
    assert_int_equal(spool__sync(f->sp), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    spool__close(&f->sp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Read the cursor to its end with a budget of `budget` bytes per call;
 * checks that it hands out exactly from … to, in order, intact.  Returns
 * how many calls ran out of budget. */
static int read_range(spool_cursor *c, int64_t from, int64_t to,
                      size_t budget)
{
    spool_record r;
    char want[256];
    int64_t next = from;
    int spent = 0, rc;
    for (;;) {
        size_t b = budget;
        rc = spool__cursor_next(c, &r, &b);
        if (rc == 0)
            break;
        if (rc == 2) {
            assert_int_equal(b, 0);
            spent++;
            continue;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(r.seq, next);
        assert_string_equal(r.topic, "t/result/run-1");
        payload_of(r.seq, want, sizeof want);
        assert_int_equal(r.len, strlen(want));
        assert_memory_equal(r.payload, want, r.len);
        next++;
    }
    assert_int_equal(next, to + 1);
    /* At its end it stays there. */
    size_t b = budget;
    assert_int_equal(spool__cursor_next(c, &r, &b), 0);
    return spent;
}

static void test_spool__cursor_range(void **state)
{
    fixture *f = *state;
    static const int64_t ranges[][2] = {
        {0, N_RESULTS - 1}, {0, 0}, {17, 17}, {100, 299},
        {N_RESULTS - 1, N_RESULTS + 50}, {N_RESULTS + 1, N_RESULTS + 9}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        int64_t to = ranges[i][1] < N_RESULTS ? ranges[i][1] : N_RESULTS - 1;
        if (ranges[i][0] > to)
            to = ranges[i][0] - 1; /* nothing in the journal */
        spool_cursor *c = spool__cursor(f->sp, "run-1", ranges[i][0],
                                        ranges[i][1]);
        assert_non_null(c);
        assert_int_equal(read_range(c, ranges[i][0], to, 1u << 20), 0);
        spool__cursor_free(&c);
        assert_null(c);
    }
    assert_null(spool__cursor(f->sp, "never-ran", 0, 10));
}

static void test_spool__cursor_budget(void **state)
{
    fixture *f = *state;
    /* A budget of one byte: every record read spends a call. */
    spool_cursor *c = spool__cursor(f->sp, "run-1", 400, 409);
    assert_non_null(c);
    int spent = read_range(c, 400, 409, 1);
    /* Skipped: the accepted response, 400 results and their 40 events
     * before the range, and the event after seq 409, before 410 ends it. */
    assert_int_equal(spent, 1 + 400 + 40 + 1);
    spool__cursor_free(&c);
}

static void test_spool__cursor_outlives_journal(void **state)
{
    fixture *f = *state;
    char path[128];
    spool_cursor *c = spool__cursor(f->sp, "run-1", 0, N_RESULTS - 1);
    assert_non_null(c);
    spool_record r;
    size_t b = 1u << 20;
    assert_int_equal(spool__cursor_next(c, &r, &b), 1);
    assert_int_equal(r.seq, 0);
    /* Retention over and everything acknowledged: tidy deletes it. */
    int64_t n = 1 + N_RESULTS + N_RESULTS / 10 + 1;
    for (int64_t i = 0; i < n; i++)
        spool__acked(f->st, i);
    spool__finish(&f->st, 0);
    spool__tidy(f->sp);
    snprintf(path, sizeof path, "%s/runs/run-1.log", f->dir);
    assert_int_equal(access(path, F_OK), -1);
    assert_false(spool__has_run(f->sp, "run-1"));
    assert_int_equal(read_range(c, 1, N_RESULTS - 1, 1u << 20), 0);
    spool__cursor_free(&c);
}

static void test_spool__cursor_torn_end(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/runs/run-1.log", f->dir);
    /* Half a record at the end, as a crash in the middle of a write
     * leaves it: the cursor ends before it. */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "TWR2\x40\0\0\0\0\0\0\0{\"seq", 17), 17);
    close(fd);
    spool_cursor *c = spool__cursor(f->sp, "run-1", 490, 1000);
    assert_non_null(c);
    read_range(c, 490, N_RESULTS - 1, 1u << 20);
    spool__cursor_free(&c);
}


/* ---- damaged journals ------------------------------------------------------ */

static void journal_path(const fixture *f, char *path, size_t len)
{
    snprintf(path, len, "%s/runs/run-1.log", f->dir);
}

static char *slurp(const char *path, size_t *len)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    char *buf = malloc((size_t)sb.st_size + 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
    close(fd);
    *len = (size_t)sb.st_size;
    return buf;
}

/* The daemon stops (the spool is closed): run-1's journal, its path in
 * path, its bytes returned. */
static char *stopped_journal(fixture *f, char *path, size_t path_len,
                             size_t *len)
{
    journal_path(f, path, path_len);
    spool__close(&f->sp);
    return slurp(path, len);
}

static void spit(const char *path, const char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* What a restart finds for run-1. */
typedef struct found {
    int64_t seqs[N_RESULTS + 8];
    int64_t index[N_RESULTS * 2];
    size_t n_seqs, n, acked;
    int finished;
    spool_damage damage[16];
    size_t n_damage;
    const char *mark_problem;
} found;

static void found_each(void *ctx, const char *run, const spool_found *sf)
{
    found *fd = ctx;
    const spool_record *recs = sf->records;
    size_t n = sf->n, acked = sf->acked;
    if (run == NULL || strcmp(run, "run-1") != 0)
        return;
    fd->n = n;
    fd->acked = acked;
    fd->mark_problem = sf->mark_problem;
    fd->n_damage = sf->n_damage < 16 ? sf->n_damage : 16;
    if (fd->n_damage > 0)
        memcpy(fd->damage, sf->damage, fd->n_damage * sizeof *sf->damage);
    for (size_t i = 0; i < n; i++) {
        if (i < N_RESULTS * 2)
            fd->index[i] = recs[i].index;
        if (recs[i].seq >= 0 && fd->n_seqs < N_RESULTS + 8)
            fd->seqs[fd->n_seqs++] = recs[i].seq;
        if (recs[i].len == 21 &&
            memcmp(recs[i].payload, "{\"status\":\"finished\"}", 21) == 0)
            fd->finished = 1;
    }
}

/* Close the fixture's spool (the daemon stops) and open it again (the
 * next start): what it recovers. */
static void restart(fixture *f, found *fd)
{
    char why[256];
    spool__close(&f->sp);
    f->st = NULL;
    f->sp = spool__open(f->dir, why, sizeof why);
    assert_non_null(f->sp);
    memset(fd, 0, sizeof *fd);
    assert_int_equal(spool__recover(f->sp, found_each, fd), 0);
}

/* The seqs found are 0 … N_RESULTS − 1 in order, but for at most
 * `lost` of them. */
static void assert_seqs_but(const int64_t *seqs, size_t n, size_t lost)
{
    assert_true(n + lost >= N_RESULTS);
    assert_true(n <= N_RESULTS);
    for (size_t i = 1; i < n; i++)
        assert_true(seqs[i] > seqs[i - 1]);
    assert_int_equal(seqs[n - 1], N_RESULTS - 1);
}

/* Every intact record is found by a restart and by a replay, and stays
 * found after the restart reopened the journal and appended to it. */
static void check_damaged(fixture *f, size_t lost)
{
    found fd;
    restart(f, &fd);
    assert_seqs_but(fd.seqs, fd.n_seqs, lost);
    assert_true(fd.finished);
    /* Replay reads past the damage too. */
    spool_cursor *c = spool__cursor(f->sp, "run-1", 0, N_RESULTS);
    assert_non_null(c);
    spool_record r;
    int64_t got[N_RESULTS];
    size_t n = 0, budget;
    while (budget = 1u << 20, spool__cursor_next(c, &r, &budget) == 1) {
        assert_true(n < N_RESULTS);
        got[n++] = r.seq;
    }
    spool__cursor_free(&c);
    assert_int_equal(n, fd.n_seqs);
    assert_memory_equal(got, fd.seqs, n * sizeof got[0]);
    /* The restart reopens the journal to write to it: nothing intact is
     * cut, and what it appends is found after the next restart. */
    f->st = spool__stream(f->sp, "run-1");
    assert_non_null(f->st);
    assert_true(spool__append(f->st, -1, 0, "t/event/run-1", NULL, 0, "{}",
                              2) > 0);
    assert_int_equal(spool__sync(f->sp), 0);
    size_t before = fd.n;
    restart(f, &fd);
    assert_seqs_but(fd.seqs, fd.n_seqs, lost);
    assert_int_equal(fd.n, before + 1);
    /* Every intact record acknowledged: the records lost to the damage
     * hold nothing back, and the journal goes after its retention. */
    f->st = spool__stream(f->sp, "run-1");
    for (size_t i = 0; i < fd.n; i++)
        spool__acked(f->st, fd.index[i]);
    spool__finish(&f->st, 0);
    spool__tidy(f->sp);
    assert_false(spool__has_run(f->sp, "run-1"));
}

/* What the restart says about the damage: one stretch per place, the
 * records lost in it, and why. */
static void check_said(fixture *f, size_t stretches, int64_t records,
                       const char *why)
{
    found fd;
    restart(f, &fd);
    assert_int_equal(fd.n_damage, stretches);
    int64_t sum = 0;
    for (size_t i = 0; i < fd.n_damage; i++) {
        assert_non_null(fd.damage[i].why);
        sum += fd.damage[i].records;
        assert_false(fd.damage[i].at_end);
    }
    assert_int_equal(sum, records);
    /* Records lost: the gap between the intact ones around. */
    assert_int_equal((int64_t)fd.n + records,
                     1 + N_RESULTS + N_RESULTS / 10 + 1);
    if (why)
        assert_non_null(strstr(fd.damage[0].why, why));
    assert_null(fd.mark_problem);
}

/* A byte flipped in the middle of the journal: the record it falls in
 * is lost, not the ones after it. */
static void test_spool__damage_flipped_byte(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len;
    char *buf = stopped_journal(f, path, sizeof path, &len);
    for (size_t at = len / 3; at < len / 3 + 1; at++)
        buf[at] ^= 0x20;
    spit(path, buf, len);
    free(buf);
    check_said(f, 1, 1, "checksum");
    check_damaged(f, 1);
}

/* A flipped byte in each of five places, one of them in a record's
 * marker and one in a length. */
static void test_spool__damage_flipped_bytes(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len;
    char *buf = stopped_journal(f, path, sizeof path, &len);
    size_t marks = 0;
    for (size_t at = len / 2; at + 4 < len && marks < 2; at++)
        if (memcmp(buf + at, "TWR", 3) == 0) {
            buf[at + (marks ? 5 : 1)] ^= 0x01; /* a length, a marker */
            marks++;
            at += 200;
        }
    assert_int_equal(marks, 2);
    buf[len / 5] ^= 0x40;
    buf[len / 4] ^= 0x01;
    buf[len / 3] ^= 0xff;
    spit(path, buf, len);
    free(buf);
    check_said(f, 5, 5, NULL);
    check_damaged(f, 5);
}

/* Bytes cut out of the middle (a record truncated where the next one
 * begins). */
static void test_spool__damage_cut_middle(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len;
    char *buf = stopped_journal(f, path, sizeof path, &len);
    size_t at = len / 2, cut = 37;
    memmove(buf + at, buf + at + cut, len - at - cut);
    spit(path, buf, len - cut);
    free(buf);
    found fd;
    restart(f, &fd);
    assert_int_equal(fd.n_damage, 1);
    assert_true(fd.damage[0].records == 1 || fd.damage[0].records == 2);
    assert_true(fd.damage[0].bytes > 0);
    check_damaged(f, 2);
}

/* The journal's end cut off in the middle of a record (a crash while it
 * was written, or damage): the records before it are all there, what is
 * lost is unknown and said so, and the torn bytes are cut when the
 * journal is written to again. */
static void test_spool__damage_cut_end(void **state)
{
    fixture *f = *state;
    char path[128];
    journal_path(f, path, sizeof path);
    spool__close(&f->sp);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size / 2), 0);
    found fd;
    restart(f, &fd);
    assert_int_equal(fd.n_damage, 1);
    assert_true(fd.damage[0].at_end);
    assert_int_equal(fd.damage[0].records, -1);
    assert_true(fd.n_seqs > N_RESULTS / 3 && fd.n_seqs < N_RESULTS);
    for (size_t i = 0; i < fd.n_seqs; i++)
        assert_int_equal(fd.seqs[i], (int64_t)i);
    f->st = spool__stream(f->sp, "run-1");
    assert_non_null(f->st);
    assert_true(spool__append(f->st, -1, 0, "t/response/run-1", NULL, 0,
                              "{\"status\":\"finished\"}", 21) > 0);
    size_t n = fd.n;
    restart(f, &fd);
    assert_int_equal(fd.n_damage, 0);
    assert_int_equal(fd.n, n + 1);
    assert_true(fd.finished);
}

/* Garbage of every kind between records: never a crash, every intact
 * record found. */
static void test_spool__damage_garbage(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len;
    char *buf = stopped_journal(f, path, sizeof path, &len);
    /* Markers with impossible lengths and a huge index, over the first
     * record's start. */
    char junk[64] = "TWR2\xff\xff\xff\x7fTWR2\x10\0\0\0\0\0\0\0TWR1";
    char *more = malloc(len + sizeof junk);
    memcpy(more, junk, sizeof junk);
    memcpy(more + sizeof junk, buf, len);
    spit(path, more, len + sizeof junk);
    free(buf);
    free(more);
    found fd;
    restart(f, &fd);
    assert_int_equal(fd.n_seqs, N_RESULTS);
    assert_int_equal(fd.n_damage, 1);
    assert_int_equal(fd.damage[0].offset, 0);
    assert_int_equal(fd.damage[0].bytes, sizeof junk);
}

/* 4 MB of false markers that each claim a body of 1 MiB, before the
 * journal: found past quickly (their fixed fields are checked before a
 * body is read), every record after them kept. */
static void test_spool__damage_false_markers(void **state)
{
    fixture *f = *state;
    char path[128];
    size_t len, junk = 4u << 20;
    char *buf = stopped_journal(f, path, sizeof path, &len);
    char *more = malloc(junk + len);
    for (size_t at = 0; at < junk; at += 16) {
        memcpy(more + at, "TWR2\xff\xff\x0f\0\0\0\0\0", 12);
        memset(more + at + 12, 0x7f, 4);
    }
    memcpy(more + junk, buf, len);
    spit(path, more, junk + len);
    free(buf);
    free(more);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    found fd;
    restart(f, &fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) +
                  1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_int_equal(fd.n_seqs, N_RESULTS);
    assert_int_equal(fd.n_damage, 1);
    assert_int_equal(fd.damage[0].bytes, junk);
    assert_true(took < 5.0);
}

/* A journal of the old format (TWR1: no index, the CRC of the body only),
 * as a daemon before this one left it: read by the old rules — every
 * record up to the first damaged one — and written to in the new. */
static void put_v1(int fd, int64_t seq, const char *topic, const char *p)
{
    char rec[512];
    uint16_t tl = (uint16_t)strlen(topic), cl = 0;
    uint32_t len = (uint32_t)(13 + tl + strlen(p));
    memcpy(rec + 12, &seq, 8);
    rec[20] = 0;
    memcpy(rec + 21, &tl, 2);
    memcpy(rec + 23, &cl, 2);
    memcpy(rec + 25, topic, tl);
    memcpy(rec + 25 + tl, p, strlen(p));
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)rec + 12, len);
    memcpy(rec, "TWR1", 4);
    memcpy(rec + 4, &len, 4);
    memcpy(rec + 8, &crc, 4);
    assert_int_equal(write(fd, rec, 12 + len), (ssize_t)(12 + len));
}

static void test_spool__old_format(void **state)
{
    fixture *f = *state;
    char path[128], text[256];
    snprintf(path, sizeof path, "%s/runs/old-1.log", f->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    assert_true(fd >= 0);
    put_v1(fd, -1, "t/response/old-1", "{\"status\":\"accepted\"}");
    for (int64_t seq = 0; seq < 10; seq++) {
        payload_of(seq, text, sizeof text);
        put_v1(fd, seq, "t/result/old-1", text);
    }
    close(fd);
    spool_cursor *c = spool__cursor(f->sp, "old-1", 3, 5);
    assert_non_null(c);
    spool_record r;
    size_t budget = 1u << 20;
    for (int64_t seq = 3; seq <= 5; seq++) {
        assert_int_equal(spool__cursor_next(c, &r, &budget), 1);
        assert_int_equal(r.seq, seq);
        assert_false(r.cbor); /* every old record is JSON */
        payload_of(seq, text, sizeof text);
        assert_memory_equal(r.payload, text, r.len);
    }
    spool__cursor_free(&c);
    spool_stream *st = spool__stream(f->sp, "old-1");
    assert_non_null(st);
    assert_int_equal(spool__append(st, -1, 0, "t/response/old-1", NULL, 0,
                                   "{\"status\":\"finished\"}", 21), 11);
    for (int64_t i = 0; i < 12; i++)
        spool__acked(st, i);
    spool__finish(&st, 0);
    spool__tidy(f->sp);
    assert_false(spool__has_run(f->sp, "old-1"));
}

/* A record's flags read back as written: retained and CBOR apart; a
 * record of the setup's (flags 0, as every record before the CBOR flag)
 * is JSON and not retained. */
static void test_spool__flags(void **state)
{
    fixture *f = *state;
    static const int flags[] = {0, SPOOL_RETAINED, SPOOL_CBOR,
                                SPOOL_RETAINED | SPOOL_CBOR};
    spool_stream *st = spool__stream(f->sp, "fl-1");
    assert_non_null(st);
    for (int64_t i = 0; i < 4; i++)
        assert_int_equal(spool__append(st, i, flags[i], "t/result/fl-1",
                                       NULL, 0, "\xa0", 1), i);
    spool_cursor *c = spool__cursor(f->sp, "fl-1", 0, 3);
    assert_non_null(c);
    spool_record r;
    size_t budget = 1u << 20;
    for (int64_t i = 0; i < 4; i++) {
        assert_int_equal(spool__cursor_next(c, &r, &budget), 1);
        assert_int_equal(r.retained, (flags[i] & SPOOL_RETAINED) != 0);
        assert_int_equal(r.cbor, (flags[i] & SPOOL_CBOR) != 0);
    }
    spool__cursor_free(&c);
    c = spool__cursor(f->sp, "run-1", 0, 0);
    assert_int_equal(spool__cursor_next(c, &r, &budget), 1);
    assert_false(r.cbor);
    assert_false(r.retained);
    spool__cursor_free(&c);
    spool__finish(&st, 0);
}

/* The ack mark is only ever a count the daemon wrote; anything else
 * in it is read as nothing acknowledged (everything is sent again, and
 * receivers drop duplicates by seq), never a crash. */
static void test_spool__bad_ack_marks(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text;
        size_t acked;       /* SIZE_MAX: all of them */
    } marks[] = {
        {"-1\n", 0}, {"-1", 0}, {"", 0}, {"\n", 0}, {"garbage\n", 0},
        {"12abc\n", 0}, {"1e9\n", 0}, {"-9223372036854775808\n", 0},
        {"99999999999999999999999999\n", 0}, {"18446744073709551615\n", 0},
        {" 7\n", 0}, {"+7\n", 0}, {"0x10\n", 0}, {"7\n7\n", 0},
        {"\xff\xfe\x00\x01", 0}, {"0\n", 0}, {"7\n", 7}, {"7", 7},
        {"9223372036854775807\n", SIZE_MAX}, {"100000\n", SIZE_MAX}};
    char path[160];
    snprintf(path, sizeof path, "%s/runs/run-1.acked", f->dir);
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        found fd;
        spool__close(&f->sp);
        int fdw = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        assert_true(fdw >= 0);
        size_t tl = strlen(marks[i].text);
        if (marks[i].text[0] == '\xff')
            tl = 4;
        assert_int_equal(write(fdw, marks[i].text, tl), (ssize_t)tl);
        close(fdw);
        restart(f, &fd);
        /* Reopened to write, after the restart. */
        f->st = spool__stream(f->sp, "run-1");
        assert_non_null(f->st);
        assert_true(spool__append(f->st, -1, 0, "t/event/run-1", NULL, 0,
                                  "{}", 2) > 0);
        assert_int_equal(fd.acked,
                         marks[i].acked == SIZE_MAX ? fd.n : marks[i].acked);
        if (marks[i].acked == 0 && strcmp(marks[i].text, "0\n") != 0)
            assert_non_null(fd.mark_problem);
        else
            assert_null(fd.mark_problem);
    }
}

/* Descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own */
}

static void test_spool__ended_journal_holds_no_descriptor(void **state)
{
    fixture *f = *state;
    int64_t n = 1 + N_RESULTS + N_RESULTS / 10 + 1;
    size_t bytes = spool__bytes(f->sp);
    int before = open_fds();
    /* Ended before the broker acknowledged all: the stream stays (with
     * its descriptor) until the last acknowledgement, then goes. */
    spool_stream *st = f->st;
    spool__finish(&f->st, 3600);
    assert_null(f->st);
    for (int64_t i = n - 1; i > 0; i--)
        spool__acked(st, i);
    assert_int_equal(open_fds(), before);
    spool__acked(st, 0);
    assert_int_equal(open_fds(), before - 1);
    /* Still there for replay, and counted; kept past a tidy. */
    spool__tidy(f->sp);
    assert_true(spool__has_run(f->sp, "run-1"));
    assert_int_equal(spool__bytes(f->sp), bytes);
    spool_cursor *c = spool__cursor(f->sp, "run-1", 10, 20);
    assert_non_null(c);
    assert_int_equal(read_range(c, 10, 20, 1u << 20), 0);
    spool__cursor_free(&c);
    assert_int_equal(open_fds(), before - 1);
    /* Its ack mark is on disk: a restart sends nothing of it again. */
    char path[128], mark[32] = "";
    snprintf(path, sizeof path, "%s/runs/run-1.acked", f->dir);
    FILE *m = fopen(path, "r");
    assert_non_null(m);
    assert_non_null(fgets(mark, sizeof mark, m));
    fclose(m);
    assert_int_equal(atoll(mark), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spool__cursor_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__cursor_budget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__cursor_outlives_journal,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool__cursor_torn_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__damage_flipped_byte,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool__damage_flipped_bytes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool__damage_cut_middle,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool__damage_cut_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__damage_garbage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__damage_false_markers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool__old_format, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__bad_ack_marks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool__flags, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_spool__ended_journal_holds_no_descriptor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
