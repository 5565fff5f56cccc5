/*
 * test_child.c — the one child supervisor (child.h), with real
 * processes: an exit code, a crash by a signal, a deadline that kills the
 * child and the grandchild it forked, a notice before the kill, a cancel,
 * the limits set in the child (address space, CPU time, core files, a
 * start above the memory limit refused) and a child collected by an
 * event loop (proc__reap, child__reaped, child__tick).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"
#include "proc.h"
#include "util.h"

/* ---- what the children do ------------------------------------------------ */

static int pipe_w = -1;  /* the write end a child reports through */

static void tell(const void *p, size_t n)
{
    if (write(pipe_w, p, n) != (ssize_t)n)
        _exit(99);
}

static void exit_with(void *arg)
{
    child__enter();
    child__unblock();
    _exit(*(int *)arg);
}

static void crash(void *arg)
{
    (void)arg;
    char why[512];
    child__enter();
    child__unblock();
    child__set_limits(&(child_limits){.no_core = 1}, "test", why, sizeof why);
    raise(SIGSEGV);
    _exit(1);
}

/* Forks a grandchild that sleeps for ever, says its pid, sleeps too. */
static void hang_with_grandchild(void *arg)
{
    (void)arg;
    child__enter();
    child__unblock();
    pid_t g = fork();
    if (g == 0)
        for (;;)
            pause();
    tell(&g, sizeof g);
    for (;;)
        pause();
}

static void on_notice(int sig)
{
    (void)sig;
    tell("N", 1);
    for (;;)
        pause(); /* the SIGKILL comes */
}

static void hang_with_notice(void *arg)
{
    (void)arg;
    child__enter();
    child__unblock();
    signal(SIGUSR1, on_notice);
    tell("R", 1);
    for (;;)
        pause();
}

/* 0: an allocation past the limit failed; 1: it did not; 2: no limit. */
static void allocate_past_limit(void *arg)
{
    size_t limit = *(size_t *)arg;
    char why[512];
    child__enter();
    child__unblock();
    child_limits lim = {.memory_bytes = limit};
    if (child__set_limits(&lim, "test", why, sizeof why) != 0)
        _exit(2);
    void *p = malloc(128u << 20); /* past the 64 MiB left */
    _exit(p == NULL ? 0 : 1);
}

static void spin_past_cpu_limit(void *arg)
{
    (void)arg;
    char why[512];
    child__enter();
    child__unblock();
    child_limits lim = {.cpu_seconds = 0.5, .cpu_grace = 2, .no_core = 1};
    if (child__set_limits(&lim, "test", why, sizeof why) != 0)
        _exit(2);
    struct rlimit core;
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0)
        _exit(3);
    for (volatile unsigned long i = 0;; i++)
        ;
}

/* ---- the cases ------------------------------------------------------------ */

static int no_step(void *arg)
{
    (void)arg;
    return 1;
}

static void test_child__exit_code(void **state)
{
    (void)state;
    child c;
    int code = 7;
    assert_int_equal(child__start(&c, 0, exit_with, &code), 0);
    assert_true(isinf(c.deadline));
    assert_int_equal(child__wait(&c, -1, no_step, NULL), CHILD_EXITED);
    assert_int_equal(WEXITSTATUS(c.status), 7);
    assert_false(c.timed_out);
}

/* Children that die of a signal nobody here sent: a crash, SIGXCPU at
 * the CPU-time limit (with no core file). */
static void test_child__signalled(void **state)
{
    (void)state;
    static const struct {
        child_main main;
        int sig;
    } cases[] = {{crash, SIGSEGV}, {spin_past_cpu_limit, SIGXCPU}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        child c;
        assert_int_equal(child__start(&c, 20, cases[i].main, NULL), 0);
        assert_int_equal(child__wait(&c, -1, no_step, NULL), CHILD_SIGNALLED);
        assert_true(WIFSIGNALED(c.status));
        assert_int_equal(WTERMSIG(c.status), cases[i].sig);
    }
}

typedef struct reader {
    int fd;
    char got[64];
    size_t n;
} reader;

/* child__wait's step: what the child reported (the pipe is
 * non-blocking). */
static int read_some(void *arg)
{
    reader *r = arg;
    ssize_t k = read(r->fd, r->got + r->n, sizeof r->got - 1 - r->n);
    if (k > 0)
        r->n += (size_t)k;
    return k == 0;
}

/* Start main with seconds to go, reporting through a pipe: its read end
 * (non-blocking) in r. */
static void start_reporting(child *c, double seconds, child_main main,
                            reader *r)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pipe_w = p[1];
    assert_int_equal(child__start(c, seconds, main, NULL), 0);
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    *r = (reader){.fd = p[0]};
}

static void test_child__timeout_kills_the_grandchild(void **state)
{
    (void)state;
    child c;
    reader r;
    double t0 = util__now();
    start_reporting(&c, 0.3, hang_with_grandchild, &r);
    while (r.n < sizeof(pid_t))
        read_some(&r);
    pid_t g;
    memcpy(&g, r.got, sizeof g);
    assert_int_equal(kill(g, 0), 0);
    assert_int_equal(child__wait(&c, r.fd, read_some, &r), CHILD_TIMED_OUT);
    double took = util__now() - t0;
    assert_true(took >= 0.3 && took < 3.0);
    assert_int_equal(WTERMSIG(c.status), SIGKILL);
    assert_int_equal(kill(g, 0), -1); /* killed and collected */
    assert_int_equal(errno, ESRCH);
    close(r.fd);
}

static void test_child__notice_before_the_kill(void **state)
{
    (void)state;
    child c;
    reader r;
    start_reporting(&c, 0.2, hang_with_notice, &r);
    c.notice = SIGUSR1;
    c.grace = 0.2;
    assert_int_equal(child__wait(&c, r.fd, read_some, &r), CHILD_TIMED_OUT);
    assert_string_equal(r.got, "RN"); /* it heard the notice, then died */
    assert_int_equal(WTERMSIG(c.status), SIGKILL);
    close(r.fd);
}

static void test_child__memory_limit(void **state)
{
    (void)state;
    child c;
    size_t base = child__vm_bytes("VmSize:");
    assert_true(base > 0);
    if (base > ((size_t)1 << 40))
        skip(); /* a sanitizer's shadow memory: terabytes of it */
    size_t limit = base + (64u << 20);
    assert_int_equal(child__start(&c, 10, allocate_past_limit, &limit), 0);
    assert_int_equal(child__wait(&c, -1, no_step, NULL), CHILD_EXITED);
    assert_int_equal(WEXITSTATUS(c.status), 0);
}

static void test_child__memory_limit_below_the_start(void **state)
{
    (void)state;
    char why[512] = "";
    child_limits lim = {.memory_bytes = 4096};
    assert_int_equal(child__set_limits(&lim, "run", why, sizeof why), -1);
    assert_non_null(strstr(why, "the run process starts with"));
    assert_non_null(strstr(why, "limits.memory_bytes"));
}

/* An event loop's way: proc__reap collects, child__reaped records,
 * child__tick kills at the deadline; a cancel's SIGKILL after its grace. */
static child_how loop_until_reaped(child *c)
{
    while (!c->reaped) {
        int status;
        pid_t pid;
        while ((pid = proc__reap(&status, NULL)) > 0)
            assert_int_equal(child__reaped(c, pid, status), 1);
        double now = util__now();
        double due = child__tick(c, now);
        double wait = fmin(due - now, 0.02);
        if (!c->reaped && wait > 0)
            nanosleep(&(struct timespec){.tv_nsec = (long)(wait * 1e9)},
                      NULL);
    }
    return child__how(c);
}

static void ignore_term(void *arg)
{
    (void)arg;
    child__enter();
    child__unblock();
    signal(SIGTERM, SIG_IGN);
    for (;;)
        pause();
}

static void test_child__polled_deadline(void **state)
{
    (void)state;
    child c;
    assert_int_equal(child__start(&c, 0.1, ignore_term, NULL), 0);
    assert_int_equal(child__tick(&c, util__now()), c.deadline);
    assert_int_equal(loop_until_reaped(&c), CHILD_TIMED_OUT);
    assert_int_equal(child__end(&c), 0); /* already collected */
}

static void test_child__polled_cancel(void **state)
{
    (void)state;
    child c;
    assert_int_equal(child__start(&c, 30, ignore_term, NULL), 0);
    usleep(20000); /* its SIGTERM ignored by now */
    child__cancel(&c, SIGTERM, 0.1, util__now());
    assert_true(c.cancelled);
    assert_int_equal(loop_until_reaped(&c), CHILD_CANCELLED);
    assert_int_equal(WTERMSIG(c.status), SIGKILL);
    assert_false(c.timed_out);
}

int main(void)
{
    proc__become_reaper(); /* the grandchildren come here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child__exit_code),
        cmocka_unit_test(test_child__signalled),
        cmocka_unit_test(test_child__timeout_kills_the_grandchild),
        cmocka_unit_test(test_child__notice_before_the_kill),
        cmocka_unit_test(test_child__memory_limit),
        cmocka_unit_test(test_child__memory_limit_below_the_start),
        cmocka_unit_test(test_child__polled_deadline),
        cmocka_unit_test(test_child__polled_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
