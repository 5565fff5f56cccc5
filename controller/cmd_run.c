/*
 * cmd_run.c — `twinctl run SCENARIO`: compose a scenario and run it
 * locally, without a broker, writing its rows as CSV.  Events go to stderr
 * (or --events FILE); a summary with solver statistics and the values of
 * the scenario's functions ends the run (--functions FILE: those as JSON).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "csv.h"
#include "functions.h"
#include "paths.h"
#include "rt.h"
#include "scenario.h"
#include "sim.h"

typedef struct run_ctx {
    FILE *out;
    FILE *events;
    int quiet;
    int progress;          /* draw progress on a terminal */
    double start, stop;
    double next_report;    /* wall time of the next progress line */
    uint64_t late_shown;
    uint64_t late_total;
    fn_recorder *fns;      /* the scenario's functions, or NULL */
} run_ctx;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl run [OPTIONS] SCENARIO\n"
        "\n"
        "Run a scenario locally (no broker) and write its rows as CSV: a\n"
        "header of column names, then one line per emitted tick.  SCENARIO\n"
        "is a JSON file or the name of one in the scenario directory.\n"
        "\n"
        "Options:\n"
        "  -o, --output FILE    write the CSV to FILE (default: stdout)\n"
        "      --models DIR     load model plugins from DIR too (repeatable;\n"
        "                       also TWIN_MODEL_PATH=DIR:DIR)\n"
        "      --instances DIR  instance library (default: instance-library/)\n"
        "      --scenarios DIR  where scenario names are looked up\n"
        "      --batch          run as fast as possible, whatever the "
        "scenario says\n"
        "      --realtime[=X]   pace to the wall clock at speed X (default "
        "1.0)\n"
        "      --fifo PRIO      real-time: SCHED_FIFO at priority PRIO "
        "(1-99)\n"
        "      --mlock          real-time: lock the process's memory\n"
        "      --events FILE    write every event to FILE (default: stderr)\n"
        "      --functions FILE write the values of the scenario's\n"
        "                       functions to FILE as JSON: {\"functions\":\n"
        "                       {name: value}, \"function_errors\": {...}}\n"
        "      --max-steps N    solver steps allowed per tick (default 5000)\n"
        "  -q, --quiet          print nothing but errors\n"
        "  -h, --help           show this help\n"
        "\n"
        "Exit status: 0 finished, 1 the run failed, 2 bad usage or the\n"
        "scenario was rejected (every problem is listed).\n");
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_columns(void *ctx, size_t n, const char *const *names)
{
    run_ctx *rc = ctx;
    return csv__header(rc->out, n, names);
}

static int on_row(void *ctx, const double *values, size_t n)
{
    run_ctx *rc = ctx;
    if (csv__row(rc->out, values, n) != 0)
        return -1;
    if (rc->progress) {
        double now = wall_now();
        if (now >= rc->next_report) {
            rc->next_report = now + 0.5;
            fprintf(stderr, "\rtwinctl: t = %.6g s of %.6g (%3.0f%%)",
                    values[0], rc->stop,
                    100.0 * (values[0] - rc->start) / (rc->stop - rc->start));
        }
    }
    return 0;
}

static void on_tick(void *ctx, const sim *s, double t)
{
    run_ctx *rc = ctx;
    functions__record(rc->fns, s, t);
}

/* The functions' values: a summary on stderr, and JSON in file. */
static int report_functions(const scenario *sc, const run_ctx *rc,
                            const char *file)
{
    json_t *values, *errors;
    functions__evaluate(sc, rc->fns, "", &values, &errors);
    int status = 0;
    if (!rc->quiet) {
        fprintf(stderr, "twinctl run: functions:\n");
        functions__print(sc, values, errors, stderr);
    }
    if (file != NULL) {
        json_t *doc = json_pack("{s:O, s:O}", "functions", values,
                                "function_errors", errors);
        if (doc == NULL ||
            json_dump_file(doc, file, JSON_INDENT(1)) != 0) {
            fprintf(stderr, "twinctl run: cannot write %s\n", file);
            status = -1;
        }
        json_decref(doc);
    }
    json_decref(values);
    json_decref(errors);
    return status;
}

static void on_event(void *ctx, const sim_event *ev)
{
    run_ctx *rc = ctx;
    FILE *f = rc->events ? rc->events : stderr;
    if (rc->quiet && rc->events == NULL)
        return;
    switch (ev->kind) {
    case SIM_EVENT_STATE:
        fprintf(f, "event: t=%.17g %s indicator %d %s\n", ev->t,
                ev->instance, ev->indicator,
                ev->direction > 0 ? "rising" : "falling");
        break;
    case SIM_EVENT_LATE:
        rc->late_total++;
        if (rc->events == NULL && rc->late_shown >= 10)
            return; /* the summary counts them all */
        rc->late_shown++;
        fprintf(f, "late: t=%.17g %s\n", ev->t, ev->message);
        break;
    case SIM_EVENT_NONFINITE:
        fprintf(f, "nonfinite: %s\n", ev->message);
        break;
    case SIM_EVENT_LOG:
        fprintf(f, "log: %s: %s\n", ev->instance ? ev->instance : "-",
                ev->message);
        break;
    }
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"models", required_argument, NULL, 'M'},
        {"instances", required_argument, NULL, 'I'},
        {"scenarios", required_argument, NULL, 'S'},
        {"batch", no_argument, NULL, 'b'},
        {"realtime", optional_argument, NULL, 'r'},
        {"fifo", required_argument, NULL, 'F'},
        {"mlock", no_argument, NULL, 'L'},
        {"events", required_argument, NULL, 'E'},
        {"functions", required_argument, NULL, 'U'},
        {"max-steps", required_argument, NULL, 'X'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    twin_paths paths = {0};
    model_lib models = {0};
    instance_lib instances = {0};
    twin_errors errs = {0};
    scenario *sc = NULL;
    json_t *doc = NULL;
    sim_options opt = {.realtime = -1};
    run_ctx rc = {.out = stdout};
    const char *output = NULL, *events = NULL, *fn_file = NULL;
    int fifo = 0, lock = 0, status = 2, c;
    char why[1024];

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'M':
            if (paths__add_model_dir(&paths, optarg) != 0) {
                fprintf(stderr, "twinctl run: too many --models\n");
                goto exit;
            }
            break;
        case 'I': paths.instance_dir = optarg; break;
        case 'S': paths.scenario_dir = optarg; break;
        case 'b': opt.realtime = 0; break;
        case 'r':
            opt.realtime = 1;
            if (optarg != NULL) {
                char *end;
                opt.speed = strtod(optarg, &end);
                if (*end != '\0' || !(opt.speed > 0) || !isfinite(opt.speed)) {
                    fprintf(stderr, "twinctl run: --realtime takes a positive "
                            "speed factor, not '%s'\n", optarg);
                    goto exit;
                }
            }
            break;
        case 'F':
            fifo = atoi(optarg);
            if (fifo < 1 || fifo > 99) {
                fprintf(stderr, "twinctl run: --fifo takes a priority from 1 "
                        "to 99\n");
                goto exit;
            }
            break;
        case 'L': lock = 1; break;
        case 'E': events = optarg; break;
        case 'U': fn_file = optarg; break;
        case 'X': opt.max_steps = atol(optarg); break;
        case 'q': rc.quiet = 1; break;
        case 'h': usage(stdout); status = 0; goto exit;
        default: usage(stderr); goto exit;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "twinctl run: give exactly one SCENARIO\n\n");
        usage(stderr);
        goto exit;
    }
    paths__finish(&paths);
    doc = scenario__load(argv[optind], paths.scenario_dir, why, sizeof why);
    if (doc == NULL) {
        fprintf(stderr, "twinctl run: %s [bad_json]\n", why);
        goto exit;
    }
    if (paths__load(&paths, &models, &instances, rc.quiet) != 0) {
        status = 1;
        goto exit;
    }
    sc = scenario__compose(doc, &models, &instances, NULL, &errs);
    if (sc == NULL) {
        fprintf(stderr, "twinctl run: scenario %s rejected, %zu problem%s:\n",
                argv[optind], errs.count, errs.count == 1 ? "" : "s");
        errors__print(&errs, "  ", stderr);
        goto exit;
    }
    if ((fifo || lock) && rt__setup(fifo, lock, why, sizeof why) != 0) {
        fprintf(stderr, "twinctl run: %s\n", why);
        status = 1;
        goto exit;
    }
    if (output != NULL && (rc.out = fopen(output, "w")) == NULL) {
        fprintf(stderr, "twinctl run: cannot write %s: %m\n", output);
        status = 1;
        goto exit;
    }
    if (events != NULL && (rc.events = fopen(events, "w")) == NULL) {
        fprintf(stderr, "twinctl run: cannot write %s: %m\n", events);
        status = 1;
        goto exit;
    }
    rc.start = sc->start;
    rc.stop = sc->stop;
    rc.progress = !rc.quiet && isatty(STDERR_FILENO) && rc.out != stdout;
    rc.next_report = wall_now() + 1.0;

    rc.fns = functions__new(sc);
    sim_callbacks cb = {.ctx = &rc, .columns = on_columns, .row = on_row,
                        .event = on_event,
                        .tick = sc->n_fn ? on_tick : NULL};
    sim_stats st = {0};
    int result = sim__run_scenario(sc, &opt, &cb, &st, &errs);
    if (rc.progress)
        fprintf(stderr, "\r%60s\r", "");
    if (fflush(rc.out) != 0 || ferror(rc.out)) {
        fprintf(stderr, "twinctl run: writing the rows failed: %m\n");
        result = -1;
    }
    if (result != 0) {
        errors__print(&errs, "twinctl run: failed: ", stderr);
        status = 1;
    } else {
        status = 0;
    }
    if (!rc.quiet) {
        fprintf(stderr,
                "twinctl run: %s %s: %llu rows, %zu integration group%s, "
                "%zu states; steps %llu, rhs evaluations %llu, restarts "
                "%llu, state events %llu; %.3f s\n",
                sc->name, result == 0 ? "finished" : "stopped",
                (unsigned long long)st.rows, st.n_groups,
                st.n_groups == 1 ? "" : "s", st.n_states,
                (unsigned long long)st.steps,
                (unsigned long long)st.rhs_evals,
                (unsigned long long)st.restarts,
                (unsigned long long)st.events, st.wall_seconds);
        if (opt.realtime == 1 || (opt.realtime < 0 && sc->realtime))
            fprintf(stderr,
                    "twinctl run: real time: %llu late ticks, %llu missed; "
                    "lateness p50 %.1f us, p99 %.1f us, max %.1f us\n",
                    (unsigned long long)st.late_ticks,
                    (unsigned long long)st.missed_ticks,
                    st.lateness_p50 * 1e6, st.lateness_p99 * 1e6,
                    st.lateness_max * 1e6);
    }
    if (result == 0 && sc->n_fn > 0 &&
        report_functions(sc, &rc, fn_file) != 0)
        status = 1;
exit:
    functions__free(&rc.fns);
    if (rc.out != NULL && rc.out != stdout)
        fclose(rc.out);
    if (rc.events != NULL)
        fclose(rc.events);
    scenario__free(&sc);
    json_decref(doc);
    errors__clear(&errs);
    instlib__free(&instances);
    modlib__free(&models);
    paths__free(&paths);
    return status;
}
