/*
 * bench_controller.c — the controller's side of the benchmarks: runs a
 * scenario through the real core (plugins loaded with dlopen, scenario
 * composition, integration groups, the tick loop) into a sink that only
 * sums the values, so the sink does not dominate the time.  Prints one
 * line in the format of the floors (floor_tankfarm, floor_rt) with
 * "controller" / "controller-rt" in front, so the two can be divided.
 *
 *   bench_controller [--realtime] [--fifo PRIO] [--mlock] SCENARIO.json
 *
 * The wall time covers building the simulation (instances, groups,
 * CVODE set-up) and the loop, as the floor's covers its set-up and loop;
 * loading plugins and parsing the JSON are outside it.  N is the number of
 * tank-farm chains (instances / 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "instance_lib.h"
#include "model_lib.h"
#include "rt.h"
#include "scenario.h"
#include "sim.h"

typedef struct sink {
    double checksum;
} sink;

static int sink_row(void *ctx, const double *values, size_t n)
{
    sink *s = ctx;
    for (size_t i = 0; i < n; i++) /* t included, as the floor sums it */
        s->checksum += values[i];
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void log_line(void *ctx, const char *message)
{
    fprintf(stderr, "bench_controller: %s\n", message);
}

int main(int argc, char **argv)
{
    int realtime = 0, fifo = 0, lock = 0, status = 1;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--realtime") == 0)
            realtime = 1;
        else if (strcmp(argv[i], "--fifo") == 0 && i + 1 < argc)
            fifo = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mlock") == 0)
            lock = 1;
        else if (argv[i][0] != '-' && file == NULL)
            file = argv[i];
        else {
            fprintf(stderr, "usage: bench_controller [--realtime] [--fifo "
                    "PRIO] [--mlock] SCENARIO.json\n");
            return 2;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "usage: bench_controller [--realtime] [--fifo PRIO] "
                "[--mlock] SCENARIO.json\n");
        return 2;
    }
    model_lib models = {0};
    twin_errors errs = {0};
    scenario *sc = NULL;
    char why[1024];
    json_t *doc = scenario__load(file, NULL, why, sizeof why);
    if (doc == NULL) {
        fprintf(stderr, "bench_controller: %s\n", why);
        goto exit;
    }
    if (modlib__load_dir(&models, TWIN_BENCH_MODEL_DIR, log_line, NULL) < 1) {
        fprintf(stderr, "bench_controller: no models in %s\n",
                TWIN_BENCH_MODEL_DIR);
        goto exit;
    }
    sc = scenario__compose(doc, &models, NULL, NULL, &errs);
    if (sc == NULL) {
        errors__print(&errs, "bench_controller: ", stderr);
        goto exit;
    }
    if ((fifo || lock) && rt__setup(fifo, lock, why, sizeof why) != 0) {
        fprintf(stderr, "bench_controller: %s\n", why);
        goto exit;
    }
    sink out = {0};
    sim_callbacks cb = {.ctx = &out, .row = sink_row};
    sim_options opt = {.realtime = realtime};
    sim_stats st = {0};
    double t0 = now();
    int rc = sim__run_scenario(sc, &opt, &cb, &st, &errs);
    double wall = now() - t0;
    if (rc != 0) {
        errors__print(&errs, "bench_controller: run failed: ", stderr);
        goto exit;
    }
    size_t n = sc->n_inst / 3;
    if (realtime)
        printf("controller-rt N=%zu ticks=%llu late=%llu missed=%llu "
               "p50_us=%.1f p99_us=%.1f max_us=%.1f\n", n,
               (unsigned long long)st.ticks,
               (unsigned long long)st.late_ticks,
               (unsigned long long)st.missed_ticks, st.lateness_p50 * 1e6,
               st.lateness_p99 * 1e6, st.lateness_max * 1e6);
    else
        printf("controller N=%zu hours=%g ticks=%llu wall_s=%.3f "
               "us_per_tick=%.3f us_per_chain_tick=%.4f steps=%llu "
               "rhs_evals=%llu restarts=%llu checksum=%.12e\n", n,
               (sc->stop - sc->start) / 3600.0, (unsigned long long)st.ticks,
               wall, 1e6 * wall / (double)st.ticks,
               1e6 * wall / (double)st.ticks / (double)(n ? n : 1),
               (unsigned long long)st.steps,
               (unsigned long long)st.rhs_evals,
               (unsigned long long)st.restarts, out.checksum);
    status = 0;
exit:
    scenario__free(&sc);
    json_decref(doc);
    errors__clear(&errs);
    modlib__free(&models);
    return status;
}
