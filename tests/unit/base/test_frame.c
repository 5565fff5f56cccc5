/*
 * test_frame.c — the pipe protocol between the daemon and a run: frames
 * written by frame__put come back whole and in order through frame__fill
 * and frame__next, a row's payload is aligned for double wherever its
 * 5-byte header put it, and a frame larger than the reader's buffer is
 * taken in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"

/* Read everything the pipe holds into r (the writer end is closed). */
static void drain(frame_reader *r, int fd)
{
    while (frame__fill(r, fd) > 0)
        ;
}

/* Frames of every payload length 0..40 mod 8, text and rows mixed, so a
 * row lands at every offset the 5-byte headers make. */
static void test_frame__rows_aligned(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    frame_writer w;
    assert_int_equal(frame__writer_init(&w, fds[1], 1u << 16), 0);
    static const char text[] = "{\"kind\":\"log\",\"message\":\"abcdefgh\"}";
    for (int i = 0; i < 24; i++) {
        assert_int_equal(frame__put(&w, FRAME_EVENT, text, (size_t)i % 9), 0);
        double row[5] = {i, i + 0.5, -i, 1e300, 1.0 / (i + 1)};
        assert_int_equal(frame__put(&w, FRAME_ROW, row, sizeof row), 0);
    }
    assert_int_equal(frame__flush(&w), 0);
    frame__writer_free(&w);
    close(fds[1]);

    frame_reader r = {0};
    drain(&r, fds[0]);
    close(fds[0]);
    const char *p;
    size_t len;
    int type;
    for (int i = 0; i < 24; i++) {
        assert_int_equal(frame__next(&r, &p, &len), FRAME_EVENT);
        assert_int_equal(len, (size_t)i % 9);
        assert_memory_equal(p, text, len);
        assert_int_equal(frame__next(&r, &p, &len), FRAME_ROW);
        assert_int_equal(len, 5 * sizeof(double));
        assert_int_equal((uintptr_t)p % _Alignof(double), 0);
        const double *row = (const double *)(const void *)p;
        double want[5] = {i, i + 0.5, -i, 1e300, 1.0 / (i + 1)};
        for (int k = 0; k < 5; k++)
            assert_true(row[k] == want[k]);
    }
    type = frame__next(&r, &p, &len);
    assert_int_equal(type, 0);
    assert_true(r.eof);
    frame__reader_free(&r);
}

/* A row larger than both the writer's and the reader's first buffer. */
static void test_frame__large(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    size_t n = (3u << 20) / sizeof(double) + 3;
    double *row = malloc(n * sizeof *row);
    assert_non_null(row);
    for (size_t k = 0; k < n; k++)
        row[k] = (double)k;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the run's side: write and leave */
        close(fds[0]);
        frame_writer w;
        if (frame__writer_init(&w, fds[1], 1u << 16) != 0 ||
            frame__put(&w, FRAME_COLUMNS, "[\"t\"]", 5) != 0 ||
            frame__put(&w, FRAME_ROW, row, n * sizeof *row) != 0 ||
            frame__put(&w, FRAME_END, "{}", 2) != 0 || frame__flush(&w) != 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    frame_reader r = {0};
    const char *p;
    size_t len;
    int types[3], got = 0;
    while (got < 3) {
        int type = frame__next(&r, &p, &len);
        if (type == 0) {
            assert_true(frame__fill(&r, fds[0]) > 0);
            continue;
        }
        assert_true(type > 0);
        if (type == FRAME_ROW) {
            assert_int_equal(len, n * sizeof *row);
            assert_int_equal((uintptr_t)p % _Alignof(double), 0);
            assert_memory_equal(p, row, len);
        }
        types[got++] = type;
    }
    assert_int_equal(types[0], FRAME_COLUMNS);
    assert_int_equal(types[1], FRAME_ROW);
    assert_int_equal(types[2], FRAME_END);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    frame__reader_free(&r);
    free(row);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame__rows_aligned),
        cmocka_unit_test(test_frame__large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
