/*
 * test_proc.c — child processes ended as a whole and their output in a
 * log (proc.h), with real processes: a child that forks a grandchild and
 * ends leaves nothing behind once proc__reap collected it, and so does a
 * child ended by proc__end; a child's output comes back one labelled line
 * at a time, a long line cut at PROC_LINE_MAX characters, and past the
 * budget one line says how many bytes were dropped.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

/* Alive and not a zombie. */
static int running(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && p[2] != 'Z';
}

/* Fork a child in its own group that forks a grandchild sleeping for
 * ever, tells its pid through a pipe, then (if end) exits. */
static pid_t family(pid_t *grandchild, int end)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        proc__own_group(0);
        pid_t g = fork();
        if (g == 0) {
            for (;;)
                pause();
        }
        if (write(p[1], &g, sizeof g) != (ssize_t)sizeof g)
            _exit(1);
        if (end)
            _exit(7);
        for (;;)
            pause();
    }
    proc__own_group(pid);
    close(p[1]);
    assert_int_equal(read(p[0], grandchild, sizeof *grandchild),
                     (ssize_t)sizeof *grandchild);
    close(p[0]);
    assert_true(running(*grandchild));
    return pid;
}

static void test_proc__reap_ends_the_group(void **state)
{
    (void)state;
    pid_t g, pid = family(&g, 1);
    int status = 0, left = -1;
    pid_t got = 0;
    for (int i = 0; i < 2000 && got == 0; i++) {
        got = proc__reap(&status, &left);
        if (got == 0)
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    assert_int_equal(got, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    assert_int_equal(left, 0);
    assert_false(running(g));
}

static void test_proc__end_ends_the_group(void **state)
{
    (void)state;
    pid_t g, pid = family(&g, 0);
    int status = 0;
    assert_false(proc__ended(pid));
    assert_int_equal(proc__end(pid, &status), 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_false(running(g));
}

/* The log's lines after a child wrote what writer writes. */
static char *capture(void (*writer)(void))
{
    proc_output out;
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    int fd;
    assert_int_equal(proc__output_open(&out, &fd, log, "who"), 0);
    pid_t pid = fork();
    if (pid == 0) {
        proc__redirect(fd);
        writer();
        fflush(NULL);
        _exit(0);
    }
    close(fd);
    while (!out.eof)
        proc__output_read(&out);
    proc__output_close(&out);
    waitpid(pid, NULL, 0);
    fclose(log);
    return text;
}

static void few_lines(void)
{
    printf("one\ntwo");
    fflush(stdout);
    fprintf(stderr, " halves\n");
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    printf("%s\nlast without newline", big);
}

static void test_proc__output_labelled_and_cut(void **state)
{
    (void)state;
    char *text = capture(few_lines);
    char want[1024];
    snprintf(want, sizeof want, "who: one\nwho: two halves\nwho: %0*d",
             PROC_LINE_MAX, 0);
    for (char *p = strchr(want, '0') ; p && *p == '0'; p++)
        *p = 'x';
    assert_memory_equal(text, want, strlen(want));
    assert_non_null(strstr(text, " [4487 more characters cut]\n"));
    assert_non_null(strstr(text, "\nwho: last without newline\n"));
    assert_null(strstr(text, "dropped"));
    free(text);
}

static void many_lines(void)
{
    for (int i = 0; i < 10000; i++)
        printf("line %05d of a chatty model's output\n", i);
}

static void test_proc__output_bounded(void **state)
{
    (void)state;
    char *text = capture(many_lines);
    size_t len = strlen(text);
    assert_true(len <= PROC_OUTPUT_BUDGET + 300);
    assert_non_null(strstr(text, "who: line 00000 of"));
    const char *last = strrchr(text, '\n');
    while (last > text && last[-1] != '\n')
        last--;
    assert_non_null(strstr(last, "more bytes of its output"));
    assert_non_null(strstr(last, "were dropped"));
    free(text);
}

int main(void)
{
    proc__become_reaper();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc__reap_ends_the_group),
        cmocka_unit_test(test_proc__end_ends_the_group),
        cmocka_unit_test(test_proc__output_labelled_and_cut),
        cmocka_unit_test(test_proc__output_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
