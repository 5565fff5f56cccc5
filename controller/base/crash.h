/*
 * crash.h — the daemon's last words on a fatal signal: a report with a
 * backtrace on stderr, then the signal's default action (so the system
 * can still keep a core dump).
 */
#ifndef TWIN_CRASH_H
#define TWIN_CRASH_H

#include <stddef.h>

/* Install the handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT,
 * each only where no one else (a sanitizer) has installed one.  who
 * starts every line of the report (a string that lives as long as the
 * process).  Call once, early, from the main thread: it loads what
 * backtrace() needs now, so that the handler allocates nothing. */
void crash__install(const char *who);

/* write(2) all n bytes of p to fd, again after EINTR, until done or it
 * fails; async-signal-safe (for signal handlers: here and runner.c's; and
 * for a child's answer to its supervisor: funcall.c, model_vet.c).
 * Returns 0 when all was written, else -1. */
int crash__write(int fd, const void *p, size_t n);

#endif
