/*
 * crash.c — a report on stderr when the daemon dies of a fatal signal.
 *
 * The handler runs in a process whose heap or stack may be broken, so it
 * does only what is async-signal-safe: write(2) of fixed strings and
 * numbers it formats itself, glibc's backtrace() (loaded at install, so
 * its first call does not dlopen libgcc_s inside the handler) and
 * backtrace_symbols_fd(), which writes without allocating.  It runs on
 * an alternate stack, so a stack overflow is reported too.  Then the
 * default action is restored and the signal raised again: the process
 * ends by that signal (its parent sees it in the exit status) and the
 * kernel writes a core where the system keeps them.
 *
 * The report is the daemon's: a process forked from it that keeps the
 * handler (a run's puts its own in place at once, runner.c) just dies by
 * the signal, as without it; its parent reports how it ended.
 */
#include "crash.h"

#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define FRAMES 64

static const char *crash_who = "twinctl";
static pid_t crash_owner;     /* the process that installed the handler */
static char alt_stack[64 * 1024];

int crash__write(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static void put(const char *s)
{
    crash__write(STDERR_FILENO, s, strlen(s));
}

static void put_number(uintmax_t v, unsigned base)
{
    char buf[32];
    char *p = buf + sizeof buf;
    *--p = '\0';
    do {
        *--p = "0123456789abcdef"[v % base];
        v /= base;
    } while (v > 0);
    put(p);
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV, segmentation fault";
    case SIGBUS: return "SIGBUS, bus error";
    case SIGFPE: return "SIGFPE, arithmetic exception";
    case SIGILL: return "SIGILL, illegal instruction";
    case SIGABRT: return "SIGABRT, aborted";
    }
    return "?";
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    void *frames[FRAMES];
    if (getpid() != crash_owner) {
        /* A child forked from the daemon that kept this handler (a run,
         * a call or a job before or without its own): its parent reports
         * its end; it dies as it would have without the handler. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    put(crash_who);
    put(": fatal signal ");
    put_number((uintmax_t)sig, 10);
    put(" (");
    put(signal_name(sig));
    put(") in pid ");
    put_number((uintmax_t)getpid(), 10);
    if (si != NULL && si->si_code <= 0) {
        /* kill(), tgkill(), raise(), abort(): from a process, not a
         * fault. */
        put(", sent by pid ");
        put_number((uintmax_t)si->si_pid, 10);
    } else if (si != NULL && sig != SIGABRT) {
        put(" at address 0x");
        put_number((uintmax_t)si->si_addr, 16);
    }
    put("; backtrace (addr2line -f -e <binary> <the offset after +> names "
        "the function and line):\n");
    int n = backtrace(frames, FRAMES);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    put(crash_who);
    put(": ending with the signal's default action (a core dump where "
        "ulimit -c and /proc/sys/kernel/core_pattern keep one)\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

void crash__install(const char *who)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    void *one[1];
    crash_who = who;
    crash_owner = getpid();
    backtrace(one, 1); /* loads libgcc_s now, not in the handler */
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    int on_alt = sigaltstack(&ss, NULL) == 0;
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        struct sigaction old;
        if (sigaction(fatal[i], NULL, &old) != 0 ||
            (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
            continue; /* someone else's: AddressSanitizer's, say */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND | (on_alt ? SA_ONSTACK : 0);
        sigemptyset(&sa.sa_mask);
        sigaction(fatal[i], &sa, NULL);
    }
}
