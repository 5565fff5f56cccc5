/*
 * rt.h — optional real-time privileges for a paced run: SCHED_FIFO and
 * locked memory, where the process is allowed them.
 */
#ifndef TWIN_RT_H
#define TWIN_RT_H

#include <stddef.h>

/* fifo_priority > 0: switch the calling thread to SCHED_FIFO at that
 * priority (1..99).  lock_memory: mlockall(MCL_CURRENT | MCL_FUTURE).
 * Returns 0, or -1 with a sentence in why saying what was refused and what
 * to do (e.g. run as root or grant CAP_SYS_NICE / raise RLIMIT_RTPRIO). */
int rt__setup(int fifo_priority, int lock_memory, char *why, size_t why_len);

#endif
