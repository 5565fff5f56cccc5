/*
 * floor_tankfarm.c — the batch "floor": tank-farm-N on plain CVODE.
 *
 * Runs the reference scenario tank-farm-N (floor_chains.c) with no
 * twinctl code, as fast as it goes, and prints one line whose figures the
 * controller's benchmark (bench_controller, same line format with
 * "controller" in front) is divided by.  The wall time covers set-up and
 * the loop, measured on CLOCK_MONOTONIC.
 *
 *   floor_tankfarm [--stacked] [--print-final] N [HOURS] [DT]
 *
 * HOURS defaults to 24, DT to 1 s.  --stacked integrates all chains in one
 * CVODE with the band solver (floor__new_stacked) instead of one CVODE per
 * chain, and its line starts with "floor_stacked".  --print-final also
 * prints the level h of each chain at the end, one per line, for
 * cross-checking.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "floor_chains.h"

static void bench__usage(void)
{
    fprintf(stderr,
            "usage: floor_tankfarm [--stacked] [--print-final] N [HOURS] "
            "[DT]\n"
            "  --stacked  all chains in one CVODE with a band solver\n"
            "  N      chains (pump -> tank -> pi), >= 1\n"
            "  HOURS  simulated time, default 24\n"
            "  DT     tick in seconds, default 1; HOURS*3600 must be a "
            "multiple of it\n");
}

int main(int argc, char **argv)
{
    int print_final = 0, stacked = 0;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--print-final") == 0) {
            print_final = 1;
        } else if (strcmp(argv[a], "--stacked") == 0) {
            stacked = 1;
        } else if (strcmp(argv[a], "-h") == 0 ||
                   strcmp(argv[a], "--help") == 0) {
            bench__usage();
            return 0;
        } else if (npos < 3) {
            pos[npos++] = argv[a];
        } else {
            bench__usage();
            return 2;
        }
    }
    double n_chains = 0, hours = 24, dt = 1;
    if (npos < 1 || bench__number(pos[0], &n_chains) != 0 || n_chains < 1 ||
        n_chains > 1e6 || n_chains != floor(n_chains) ||
        (npos > 1 && (bench__number(pos[1], &hours) != 0 || hours <= 0)) ||
        (npos > 2 && (bench__number(pos[2], &dt) != 0 || dt <= 0))) {
        bench__usage();
        return 2;
    }
    double stop = hours * 3600.0;
    long n = lround(stop / dt);
    if (n < 1 || fabs((double)n * dt - stop) > 1e-9 * stop) {
        fprintf(stderr, "floor_tankfarm: %g h is not a whole number of "
                "%g s ticks\n", hours, dt);
        return 2;
    }

    int rc = 1;
    floor_farm *farm = NULL;
    floor_stats st;
    double t0 = bench__now();
    farm = stacked ? floor__new_stacked((int)n_chains)
                   : floor__new((int)n_chains);
    if (farm == NULL)
        goto out;
    for (long k = 0; k <= n; k++)
        if (floor__tick(farm, k, n, dt) != 0)
            goto out;
    double wall = bench__now() - t0;
    if (floor__stats(farm, &st) != 0)
        goto out;

    double us_tick = 1e6 * wall / (double)n;
    printf("%s N=%d hours=%g ticks=%ld wall_s=%.3f us_per_tick=%.1f "
           "us_per_chain_tick=%.3f steps=%llu rhs_evals=%llu restarts=%llu "
           "checksum=%.12e\n",
           stacked ? "floor_stacked" : "floor", (int)n_chains, hours, n,
           wall, us_tick, us_tick / n_chains,
           (unsigned long long)st.steps, (unsigned long long)st.rhs_evals,
           (unsigned long long)st.restarts, floor__checksum(farm));
    /* Not part of the compared line: what else the solver saw. */
    fprintf(stderr, "# %s roots=%llu cvode_warnings=%llu\n",
            stacked ? "floor_stacked" : "floor", (unsigned long long)st.roots,
            (unsigned long long)st.warnings);
    if (print_final)
        for (int i = 0; i < (int)n_chains; i++)
            printf("%.12e\n", floor__level(farm, i));
    fflush(stdout);
    rc = 0;

out:
    floor__free(&farm);
    return rc;
}
