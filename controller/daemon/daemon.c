/*
 * daemon.c — the daemon's log lines (daemon.h); the state itself is a
 * plain struct, set up and torn down by serve.c.
 */
#include "daemon.h"

#include <stdarg.h>
#include <stdio.h>

static void say_v(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static void say_v(const char *fmt, va_list ap)
{
    fprintf(stderr, "twinctl serve: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void daemon__say(const serve *sv, const char *fmt, ...)
{
    if (sv->cfg.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    say_v(fmt, ap);
    va_end(ap);
}

void daemon__warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_v(fmt, ap);
    va_end(ap);
}
