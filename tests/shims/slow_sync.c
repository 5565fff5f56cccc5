/*
 * slow_sync.c — a disk whose syncs are slow, for the tests (LD_PRELOAD):
 * fdatasync and fsync sleep TWIN_SLOW_SYNC_MS milliseconds (default 0)
 * before doing the real call, and, when TWIN_SYNC_LOG names a file, each
 * call appends one line to it: "<fdatasync|fsync> <the file synced>".
 * So an integration test sees which of the daemon's answers wait for
 * the disk and which do not (tests/integration/test_answer_sync.py),
 * without a slow device or a FUSE mount.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void slow_sync__note(const char *call, int fd)
{
    const char *log = getenv("TWIN_SYNC_LOG");
    const char *ms = getenv("TWIN_SLOW_SYNC_MS");
    int saved = errno;
    if (log != NULL && *log) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        path[n > 0 ? n : 0] = '\0';
        char line[4200];
        int len = snprintf(line, sizeof line, "%s %s\n", call, path);
        int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (out >= 0) {
            /* One write of one line: lines of several processes do not
             * mix (O_APPEND). */
            ssize_t w = write(out, line, (size_t)len);
            (void)w;
            close(out);
        }
    }
    long wait = ms ? strtol(ms, NULL, 10) : 0;
    if (wait > 0) {
        struct timespec ts = {.tv_sec = wait / 1000,
                              .tv_nsec = (wait % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    errno = saved;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_sync__note("fdatasync", fd);
    return real ? real(fd) : (errno = ENOSYS, -1);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_sync__note("fsync", fd);
    return real ? real(fd) : (errno = ENOSYS, -1);
}
