/*
 * floor_rt.c — the real-time "floor": tank-farm-N on plain CVODE, paced.
 *
 * Runs the same per-tick work as floor_tankfarm (floor_chains.c) but
 * sleeps to each tick's wall-clock deadline, start + k·dt on
 * CLOCK_MONOTONIC with clock_nanosleep(TIMER_ABSTIME), so error does not
 * accumulate.  It measures what the controller's paced loop is compared
 * with: how late each tick wakes up.
 *
 *   floor_rt [--fifo PRIO] [--mlock] [--timerslack NS] [--dt DT] N [SECONDS]
 *
 * Defaults: N = 100, SECONDS = 60, DT = 0.01.  One line:
 *   floor-rt N=100 ticks=6000 late=0 missed=0 p50_us=.. p99_us=.. max_us=..
 *            work_p50_us=.. work_p99_us=.. work_max_us=..
 * lateness = wake-up time − deadline, for ticks 1..n (tick 0 is the start);
 * late = ticks whose deadline had already passed when the previous tick's
 * work ended (an overrun: no sleep at all); missed = ticks woken a whole
 * dt or more after their deadline.  A late tick is run, never skipped.
 * work = the time the tick's work (inputs, PI, row, integration) took.
 * --timerslack sets the thread's timer slack (PR_SET_TIMERSLACK): a
 * SCHED_OTHER thread has 50 us by default, which shows as lateness;
 * SCHED_FIFO threads have none.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include "bench.h"
#include "floor_chains.h"

static int64_t rt__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rt__sleep_until(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
                          .tv_nsec = (long)(ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR)
        ;
}

static int rt__cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n): the smallest value with at
 * least q·n values at or below it (what a histogram's cumulative count
 * gives, as for cyclictest). */
static double rt__pct(const double *v, size_t n, double q)
{
    size_t r = (size_t)ceil(q * (double)n);
    return v[r == 0 ? 0 : r - 1];
}

static void rt__usage(void)
{
    fprintf(stderr,
            "usage: floor_rt [--fifo PRIO] [--mlock] [--timerslack NS] "
            "[--dt DT] N [SECONDS]\n"
            "  N        chains (pump -> tank -> pi), default 100\n"
            "  SECONDS  paced run length, default 60\n"
            "  --dt     tick in seconds, default 0.01\n"
            "  --fifo   run at SCHED_FIFO priority PRIO (1..99)\n"
            "  --mlock  lock memory (mlockall)\n"
            "  --timerslack  timer slack in ns (SCHED_OTHER default 50000)\n");
}

int main(int argc, char **argv)
{
    double n_chains = 100, seconds = 60, dt = 0.01, prio = 0, slack = -1;
    int mlock_all = 0, npos = 0;
    for (int a = 1; a < argc; a++) {
        double *pos[2] = {&n_chains, &seconds};
        if (strcmp(argv[a], "--mlock") == 0) {
            mlock_all = 1;
        } else if (strcmp(argv[a], "--fifo") == 0 && a + 1 < argc) {
            if (bench__number(argv[++a], &prio) != 0 || prio < 1 || prio > 99) {
                rt__usage();
                return 2;
            }
        } else if (strcmp(argv[a], "--timerslack") == 0 && a + 1 < argc) {
            if (bench__number(argv[++a], &slack) != 0 || slack < 1) {
                rt__usage();
                return 2;
            }
        } else if (strcmp(argv[a], "--dt") == 0 && a + 1 < argc) {
            if (bench__number(argv[++a], &dt) != 0 || dt <= 0) {
                rt__usage();
                return 2;
            }
        } else if (npos < 2 && argv[a][0] != '-') {
            if (bench__number(argv[a], pos[npos++]) != 0) {
                rt__usage();
                return 2;
            }
        } else {
            rt__usage();
            return 2;
        }
    }
    long n = lround(seconds / dt);
    if (n_chains < 1 || n_chains > 1e6 || n_chains != floor(n_chains) ||
        n < 1 || fabs((double)n * dt - seconds) > 1e-9 * seconds) {
        fprintf(stderr, "floor_rt: need N >= 1 and SECONDS a whole number "
                "of DT ticks\n");
        return 2;
    }

    int rc = 1;
    floor_farm *farm = NULL;
    double *late_us = calloc((size_t)n, sizeof *late_us);
    double *work_us = calloc((size_t)n + 1, sizeof *work_us);
    if (late_us == NULL || work_us == NULL) {
        fprintf(stderr, "floor_rt: out of memory\n");
        goto out;
    }
    farm = floor__new((int)n_chains);
    if (farm == NULL)
        goto out;
    if (mlock_all && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        fprintf(stderr, "floor_rt: mlockall refused (%s): run as root or "
                "raise RLIMIT_MEMLOCK (ulimit -l), or drop --mlock\n",
                strerror(errno));
        goto out;
    }
    if (slack > 0 &&
        prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0) != 0) {
        fprintf(stderr, "floor_rt: PR_SET_TIMERSLACK refused (%s)\n",
                strerror(errno));
        goto out;
    }
    if (prio > 0) {
        struct sched_param sp = {.sched_priority = (int)prio};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
            fprintf(stderr, "floor_rt: SCHED_FIFO %d refused (%s): run as "
                    "root or with CAP_SYS_NICE / RLIMIT_RTPRIO >= %d, or "
                    "drop --fifo\n", (int)prio, strerror(errno), (int)prio);
            goto out;
        }
    }

    int64_t dt_ns = llround(dt * 1e9);
    uint64_t late = 0, missed = 0;
    int64_t start = rt__now_ns();
    for (long k = 0; k <= n; k++) {
        int64_t begin = rt__now_ns();
        if (k > 0) {
            int64_t deadline = start + k * dt_ns;
            if (begin > deadline)
                late++;
            else
                rt__sleep_until(deadline);
            begin = rt__now_ns();
            late_us[k - 1] = 1e-3 * (double)(begin - deadline);
            if (begin - deadline >= dt_ns)
                missed++;
        }
        if (floor__tick(farm, k, n, dt) != 0)
            goto out;
        work_us[k] = 1e-3 * (double)(rt__now_ns() - begin);
    }

    qsort(late_us, (size_t)n, sizeof *late_us, rt__cmp);
    qsort(work_us, (size_t)n + 1, sizeof *work_us, rt__cmp);
    printf("floor-rt N=%d ticks=%ld late=%llu missed=%llu p50_us=%.1f "
           "p99_us=%.1f max_us=%.1f work_p50_us=%.1f work_p99_us=%.1f "
           "work_max_us=%.1f\n",
           (int)n_chains, n, (unsigned long long)late,
           (unsigned long long)missed, rt__pct(late_us, (size_t)n, 0.50),
           rt__pct(late_us, (size_t)n, 0.99), late_us[n - 1],
           rt__pct(work_us, (size_t)n + 1, 0.50),
           rt__pct(work_us, (size_t)n + 1, 0.99), work_us[n]);
    fflush(stdout);
    rc = 0;

out:
    floor__free(&farm);
    free(work_us);
    free(late_us);
    return rc;
}
