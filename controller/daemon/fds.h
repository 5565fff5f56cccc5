/*
 * fds.h — the daemon's file descriptors against RLIMIT_NOFILE: how many
 * are open and whether a new child process (its pipes) still fits, so
 * that a request that would need more is refused `busy` with a sentence
 * instead of failing half-way ("cannot make pipes: Too many open files").
 */
#ifndef TWIN_FDS_H
#define TWIN_FDS_H

#include <stddef.h>

/* Descriptors the daemon keeps free beside a new child's: for a broker
 * reconnect, a replay's journal, the spool's mark files, listing the
 * model directory on SIGHUP. */
#define FDS_SPARE 16

/* Is there room for `need` more descriptors, FDS_SPARE kept aside?
 * Returns 1 when there is (or when it cannot be told: no /proc), 0 when
 * not, with a sentence in why naming what (e.g. "run") wants them, the
 * figures and what to do. */
int fds__room_for(int need, const char *what, char *why, size_t why_len);

#endif
