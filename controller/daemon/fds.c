/*
 * fds.c — counting the daemon's open descriptors (/proc/self/fd) against
 * its RLIMIT_NOFILE before it forks a child.  See fds.h.
 *
 * The count is a directory listing, a few microseconds for a few dozen
 * entries; it is taken once per request that would fork, never per tick.
 * When the listing itself fails for want of a descriptor, that is the
 * answer: there is no room.
 */
#include "fds.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

/* Open descriptors, the listing's own not counted; -1 when /proc cannot
 * be read, -2 when the listing found no descriptor free. */
static long count_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return errno == EMFILE || errno == ENFILE ? -2 : -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

int fds__room_for(int need, const char *what, char *why, size_t why_len)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1;
    long open = count_open();
    if (open == -1)
        return 1;
    long limit = (long)rl.rlim_cur;
    if (open >= 0 && open + need + FDS_SPARE <= limit)
        return 1;
    if (open < 0)
        open = limit;
    snprintf(why, why_len, "this controller has %ld of its %ld file "
             "descriptors open (RLIMIT_NOFILE) and a %s needs %d more, with "
             "%d kept spare for the daemon itself; try again once running "
             "runs have ended, send it to another controller, or raise the "
             "limit (ulimit -n, LimitNOFILE= in a systemd unit)", open,
             limit, what, need, FDS_SPARE);
    return 0;
}
