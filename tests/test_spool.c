/*
 * test_spool.c — the spool's replay cursor on real journals in a
 * temporary directory: the records of a seq range in order and intact,
 * a read budget that splits the walk, a journal deleted under the cursor
 * (retention over) still read to its end, a torn record ending it.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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
    spool__finish(f->st, 0);
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
    assert_int_equal(write(fd, "TWR1\x40\0\0\0\0\0\0\0{\"seq", 17), 17);
    close(fd);
    spool_cursor *c = spool__cursor(f->sp, "run-1", 490, 1000);
    assert_non_null(c);
    read_range(c, 490, N_RESULTS - 1, 1u << 20);
    spool__cursor_free(&c);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
