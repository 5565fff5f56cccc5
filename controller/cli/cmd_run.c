/*
 * cmd_run.c — `twinctl run SCENARIO`: compose a scenario and run it
 * locally, without a broker, writing its rows as CSV, MAT or HDF5
 * (rows_out.h, with the units and the scenario where the format has room
 * for them).  Events go to stderr
 * (or --events FILE); a summary with solver statistics and the values of
 * the scenario's functions ends the run (--functions FILE: those as JSON).
 *
 * The simulation runs in a child process, the daemon's run process
 * (runner.c), with the same frames over a pipe: this process writes each
 * row it receives and prints the events, so that a model that
 * crashes the child loses nothing already computed, and the command says
 * which model it was, with which signal, at what t (exit status 3); the
 * file is finished whatever ended the run.  The child's stdout goes to
 * stderr, so a model's prints never enter the rows;
 * it leads its own process group, ended with it (child.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_opts.h"
#include "cmd.h"
#include "functions.h"
#include "frame.h"
#include "paths.h"
#include "child.h"
#include "rt.h"
#include "rows_meta.h"
#include "rows_out.h"
#include "runner.h"
#include "scenario.h"
#include "sim.h"
#include "util.h"

#define EXIT_CRASHED 3

typedef struct run_ctx {
    rows_out *out;
    rows_meta meta;        /* units, descriptions, the scenario's text */
    FILE *events;
    int quiet;
    int progress;          /* draw progress on a terminal */
    double start, stop;
    double next_report;    /* wall time of the next progress line */
    uint64_t late_shown;
    uint64_t late_total;
    uint64_t rows;         /* written to out */
    double last_t;         /* of the last row */
    size_t n_columns;
    int write_failed;      /* rows_out__why says why */
    json_t *end;           /* the child's end frame, when it came */
    char *where;           /* "model 'm' (instance 'i') at t = …" */
} run_ctx;

static volatile sig_atomic_t stops; /* SIGINT/SIGTERM received */

static void on_stop(int sig)
{
    (void)sig;
    stops++;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl run [OPTIONS] SCENARIO\n"
        "\n"
        "Run a scenario locally (no broker) and write its rows: CSV (a\n"
        "header of column names, then one line per emitted tick), a MAT\n"
        "file or an HDF5 file (with units and the scenario; see\n"
        "docs/results.md).  SCENARIO is a JSON file or the name of one in\n"
        "the scenario directory.\n"
        "\n"
        "Options:\n"
        "  -o, --output FILE    write the rows to FILE (default: CSV to\n"
        "                       stdout); FILE.mat is MAT, FILE.h5 HDF5\n"
        CLI_FILE_USAGE
        CLI_LIBRARY_USAGE
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
        "      --explain        print the plan and exit 0 without running:\n"
        "                       the integration groups (stacked or not,\n"
        "                       each one's linear solver and Jacobian\n"
        "                       pattern), the algebraic loops (their\n"
        "                       members, tear variables and order), the\n"
        "                       evaluation order at ticks and the\n"
        "                       tolerances (docs/simulation.md); exit 1\n"
        "                       when the simulation cannot be built\n"
        "  -q, --quiet          print nothing but errors\n"
        "  -h, --help           show this help\n"
        "\n"
        "The simulation runs in a child process: a model that crashes it\n"
        "(a segmentation fault, abort(), exit()) takes only that process;\n"
        "the rows it made before are in the file, and a line on stderr names\n"
        "the model, its instance, the signal and the t it was called with.\n"
        "What a model prints goes to stderr, never into the rows.  SIGINT or\n"
        "SIGTERM stops the run at its next tick with the rows so far (a\n"
        "second one kills it); the file is finished either way.\n"
        "\n"
        "Exit status: 0 finished, 1 the run failed or was stopped, 2 bad\n"
        "usage or the scenario was rejected (every problem is listed),\n"
        "3 a model crashed the simulation's process (the rows before the\n"
        "crash are written).\n");
}

static void on_columns(run_ctx *rc, const char *p, size_t len)
{
    json_t *arr = json_loadb(p, len, 0, NULL);
    size_t n = json_array_size(arr);
    const char **names = calloc(n + 1, sizeof *names);
    if (names != NULL) {
        for (size_t i = 0; i < n; i++) {
            const char *name = json_string_value(json_array_get(arr, i));
            names[i] = name ? name : "";
        }
        rows_header h = {.n = n, .names = names};
        rows_meta__apply(&rc->meta, &h);
        if (rows_out__header(rc->out, &h) != 0)
            rc->write_failed = 1;
        rc->n_columns = n;
    } else {
        rc->write_failed = 1; /* nothing written: say so at the end */
    }
    free(names);
    json_decref(arr);
}

static void on_row(run_ctx *rc, const double *values, size_t n)
{
    if (n == 0 || rc->write_failed)
        return;
    if (rows_out__row(rc->out, values, n) != 0) {
        rc->write_failed = 1;
        return;
    }
    rc->rows++;
    rc->last_t = values[0];
    if (rc->progress) {
        double now = util__now();
        if (now >= rc->next_report) {
            rc->next_report = now + 0.5;
            fprintf(stderr, "\rtwinctl: t = %.6g s of %.6g (%3.0f%%)",
                    values[0], rc->stop,
                    100.0 * (values[0] - rc->start) / (rc->stop - rc->start));
        }
    }
}

/* An event as the run process sent it (runner.c's on_event), printed. */
static void on_event(run_ctx *rc, const char *p, size_t len)
{
    FILE *f = rc->events ? rc->events : stderr;
    if (rc->quiet && rc->events == NULL)
        return;
    json_t *ev = json_loadb(p, len, 0, NULL);
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *msg = json_string_value(json_object_get(ev, "message"));
    const char *inst = json_string_value(json_object_get(ev, "instance"));
    double t = json_number_value(json_object_get(ev, "t"));
    msg = msg ? msg : "";
    if (kind == NULL) {
        /* not an event this command prints */
    } else if (strcmp(kind, "state") == 0) {
        fprintf(f, "event: t=%.17g %s indicator %d %s\n", t,
                inst ? inst : "-",
                (int)json_integer_value(json_object_get(ev, "indicator")),
                json_integer_value(json_object_get(ev, "direction")) > 0
                    ? "rising" : "falling");
    } else if (strcmp(kind, "time") == 0) {
        fprintf(f, "event: t=%.17g %s time event\n", t, inst ? inst : "-");
    } else if (strcmp(kind, "late") == 0) {
        rc->late_total++;
        if (rc->events != NULL || rc->late_shown < 10) {
            rc->late_shown++; /* the summary counts them all */
            fprintf(f, "late: t=%.17g %s\n", t, msg);
        }
    } else if (strcmp(kind, "sync") == 0) {
        fprintf(f, "sync: t=%.17g %s\n", t, msg);
    } else if (strcmp(kind, "alarm") == 0) {
        fprintf(f, "alarm: t=%.17g %s\n", t, msg);
    } else if (strcmp(kind, "nonfinite") == 0) {
        fprintf(f, "nonfinite: %s\n", msg);
    } else if (strcmp(kind, "log") == 0) {
        fprintf(f, "log: %s: %s\n", inst ? inst : "-", msg);
    }
    json_decref(ev);
}

/* Read what the run process sent.  Returns 1 at end of file (or when
 * what came cannot be read), else 0. */
static int read_frames(run_ctx *rc, frame_reader *rd, int fd)
{
    long got;
    while ((got = frame__fill(rd, fd)) > 0) {
        const char *p;
        size_t len;
        int type;
        while ((type = frame__next(rd, &p, &len)) > 0) {
            switch (type) {
            case FRAME_COLUMNS:
                on_columns(rc, p, len);
                break;
            case FRAME_ROW:
                on_row(rc, (const double *)(const void *)p,
                       len / sizeof(double));
                break;
            case FRAME_EVENT:
                on_event(rc, p, len);
                break;
            case FRAME_END:
                json_decref(rc->end);
                rc->end = json_loadb(p, len, 0, NULL);
                break;
            case FRAME_WHERE:
                free(rc->where);
                rc->where = frame__where_text(p, len);
                break;
            default:
                break;
            }
        }
        if (type < 0) {
            fprintf(stderr, "twinctl run: garbled data from the run's "
                    "process\n");
            return 1;
        }
    }
    return got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
}

/* What child__wait's step needs: the run, its pipe, the stops passed on. */
typedef struct run_wait {
    run_ctx *rc;
    run_child *child;
    frame_reader rd;
    int signalled, told_to_stop;
} run_wait;

/* Pass on a stop, read what came; 1 at the pipe's end. */
static int run_step(void *arg)
{
    run_wait *w = arg;
    child *proc = &w->child->proc;
    if (stops > w->signalled) {
        /* The first stops the run at its next tick (its rows so far and
         * a "cancelled" end come); the second kills it. */
        if (w->signalled == 0)
            child__signal(proc, SIGTERM);
        else
            child__kill(proc);
        w->signalled = stops;
    }
    if (w->rc->write_failed && !w->told_to_stop && w->signalled == 0) {
        child__signal(proc, SIGTERM); /* no use going on */
        w->told_to_stop = 1;
    }
    return read_frames(w->rc, &w->rd, w->child->from_child);
}

/* Run sc in a child process and write what it sends until it ends.
 * Returns the child's wait status, or -1 with a sentence on stderr. */
static int run_child_process(const scenario *sc, const runner_spec *spec,
                             run_ctx *rc)
{
    run_child run;
    char why[1024];
    if (runner__start(sc, spec, &run, why, sizeof why) != 0) {
        fprintf(stderr, "twinctl run: %s\n", why);
        return -1;
    }
    run_wait w = {.rc = rc, .child = &run};
    child__wait(&run.proc, run.from_child, run_step, &w);
    close(run.from_child);
    close(run.to_child);
    frame__reader_free(&w.rd);
    return run.proc.status;
}

/* The functions' values (from the run's end): a summary on stderr, and
 * JSON in file. */
static int report_functions(const scenario *sc, const run_ctx *rc,
                            const char *file)
{
    json_t *values = json_object_get(rc->end, "functions");
    json_t *errors = json_object_get(rc->end, "function_errors");
    int status = 0;
    if (!rc->quiet) {
        fprintf(stderr, "twinctl run: functions:\n");
        functions__print(sc, values, errors, stderr);
    }
    if (file != NULL) {
        json_t *doc = json_pack("{s:O, s:O}", "functions",
                                values ? values : json_object(),
                                "function_errors",
                                errors ? errors : json_object());
        if (doc == NULL ||
            json_dump_file(doc, file, JSON_INDENT(1)) != 0) {
            fprintf(stderr, "twinctl run: cannot write %s\n", file);
            status = -1;
        }
        json_decref(doc);
    }
    return status;
}

/* How the run's process ended without an end frame: the line that says
 * so. */
static void report_crash(const run_ctx *rc, int wstatus, const char *output)
{
    char rows[256];
    if (rc->rows > 0)
        snprintf(rows, sizeof rows, "the %llu rows before it (t = %.9g to "
                 "%.9g) are in %s", (unsigned long long)rc->rows, rc->start,
                 rc->last_t, output ? output : "the output");
    else
        snprintf(rows, sizeof rows, "it had made no row");
    if (WIFSIGNALED(wstatus)) {
        int sig = WTERMSIG(wstatus);
        const char *abbrev = sigabbrev_np(sig);
        fprintf(stderr, "twinctl run: %s%s crashed the simulation: its "
                "process died of signal %d (SIG%s, %s); %s\n",
                rc->where ? "" : "a model or the solver",
                rc->where ? rc->where : "", sig, abbrev ? abbrev : "?",
                strsignal(sig), rows);
    } else {
        fprintf(stderr, "twinctl run: the simulation's process exited with "
                "status %d before it finished%s%s (a model called exit?); "
                "%s\n", WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
                rc->where ? " in " : "", rc->where ? rc->where : "", rows);
    }
}

/* The end's errors, one line each, as errors__print does. */
static void print_errors(const json_t *errors, const char *prefix)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "%s%s%s%s [%s]\n", prefix,
                path && path[0] ? path : "", path && path[0] ? ": " : "",
                msg ? msg : "", code ? code : "internal");
    }
}

static uint64_t stat_of(const json_t *stats, const char *key)
{
    return (uint64_t)json_integer_value(json_object_get(stats, key));
}

/* A model asked to end the run (ABI 1.1 request_end): say who, when, why
 * (also with --quiet: the run is shorter than its scenario says). */
static void print_ended_by(const run_ctx *rc)
{
    const json_t *by = json_object_get(rc->end, "ended_by");
    if (by != NULL)
        fprintf(stderr, "twinctl run: ended at t = %.17g by instance '%s', "
                "which asked to end the run: %s\n",
                json_number_value(json_object_get(by, "t")),
                json_string_value(json_object_get(by, "instance")),
                json_string_value(json_object_get(by, "reason")));
}

static void print_summary(const scenario *sc, const run_ctx *rc,
                          const char *how, int paced)
{
    const json_t *st = json_object_get(rc->end, "stats");
    fprintf(stderr,
            "twinctl run: %s %s: %llu rows, %llu integration group%s, "
            "%llu states; steps %llu, rhs evaluations %llu, restarts "
            "%llu, state events %llu; %.3f s\n",
            sc->name, how, (unsigned long long)rc->rows,
            (unsigned long long)stat_of(st, "groups"),
            stat_of(st, "groups") == 1 ? "" : "s",
            (unsigned long long)stat_of(st, "states"),
            (unsigned long long)stat_of(st, "steps"),
            (unsigned long long)stat_of(st, "rhs_evals"),
            (unsigned long long)stat_of(st, "restarts"),
            (unsigned long long)stat_of(st, "events"),
            json_number_value(json_object_get(st, "wall_seconds")));
    const json_t *ls = json_object_get(st, "linear_solvers");
    if (json_object_size(ls) > 0) {
        const char *name;
        const json_t *v;
        int first = 1;
        fprintf(stderr, "twinctl run: integrators%s:",
                json_is_true(json_object_get(st, "stacked")) ? " (stacked)"
                                                             : "");
        json_object_foreach((json_t *)ls, name, v) {
            fprintf(stderr, "%s %lld %s", first ? "" : ",",
                    (long long)json_integer_value(v), name);
            first = 0;
        }
        fprintf(stderr, "\n");
    }
    if (stat_of(st, "time_events") || stat_of(st, "step_events"))
        fprintf(stderr, "twinctl run: time events %llu, step events %llu\n",
                (unsigned long long)stat_of(st, "time_events"),
                (unsigned long long)stat_of(st, "step_events"));
    const json_t *alarms = json_object_get(st, "alarms");
    if (alarms != NULL)
        fprintf(stderr, "twinctl run: alarms raised %llu, cleared %llu, "
                "still active %llu\n",
                (unsigned long long)stat_of(alarms, "raised"),
                (unsigned long long)stat_of(alarms, "cleared"),
                (unsigned long long)stat_of(alarms, "active"));
    if (stat_of(st, "loops"))
        fprintf(stderr, "twinctl run: algebraic loops %llu: %llu solves, "
                "%llu Newton iterations\n",
                (unsigned long long)stat_of(st, "loops"),
                (unsigned long long)stat_of(st, "loop_solves"),
                (unsigned long long)stat_of(st, "loop_iterations"));
    if (paced)
        fprintf(stderr,
                "twinctl run: real time: %llu late ticks, %llu missed; "
                "lateness p50 %.1f us, p99 %.1f us, max %.1f us\n",
                (unsigned long long)stat_of(st, "late_ticks"),
                (unsigned long long)stat_of(st, "missed_ticks"),
                json_number_value(json_object_get(st, "lateness_p50")) * 1e6,
                json_number_value(json_object_get(st, "lateness_p99")) * 1e6,
                json_number_value(json_object_get(st, "lateness_max")) * 1e6);
}

/* --explain: build the simulation (its models created, nothing run) and
 * print its plan. */
static int explain_plan(const scenario *sc, const sim_options *opt,
                        twin_errors *errs)
{
    sim_callbacks cb = {0};
    sim *s = sim__new(sc, opt, &cb, errs);
    if (s == NULL) {
        for (size_t i = 0; i < errs->count; i++)
            fprintf(stderr, "twinctl run: %s\n", errs->items[i].message);
        return 1;
    }
    sim__explain(s, stdout);
    sim__free(&s);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        CLI_FILE_LONGOPTS,
        CLI_LIBRARY_LONGOPTS,
        {"batch", no_argument, NULL, 'b'},
        {"realtime", optional_argument, NULL, 'r'},
        {"fifo", required_argument, NULL, 'F'},
        {"mlock", no_argument, NULL, 'L'},
        {"events", required_argument, NULL, 'E'},
        {"functions", required_argument, NULL, 'U'},
        {"max-steps", required_argument, NULL, 'X'},
        {"explain", no_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_library lib = {0};
    twin_errors errs = {0};
    scenario *sc = NULL;
    json_t *doc = NULL;
    sim_options opt = {.realtime = -1};
    run_ctx rc = {0};
    cli_file file = {0};
    rows_format format;
    const char *output = NULL, *events = NULL, *fn_file = NULL;
    int fifo = 0, lock = 0, explain = 0, status = 2, c, took;
    char why[1024];

    optind = 1;
    while ((c = cli_opts__getopt("run", argc, argv, "o:qh", longopts,
                                 &lib.paths)) != -1) {
        if ((took = cli_opts__file("run", c, optarg, &file)) != 0) {
            if (took < 0)
                goto exit;
            continue;
        }
        switch (c) {
        case 'o': output = optarg; break;
        case CLI_OPT_REFUSED: goto exit;
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
        case 'P': explain = 1; break;
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
    if (cli_opts__file_format("run", &file, output, &format) != 0)
        goto exit;
    if ((status = cli_opts__load("run", argv[optind], &lib, rc.quiet,
                                 &doc)) != 0)
        goto exit;
    status = 2;
    sc = cli_opts__compose(&lib, doc, rc.quiet, &errs);
    if (sc == NULL) {
        cli_opts__rejected("run", argv[optind], &errs);
        goto exit;
    }
    if (explain) {
        status = explain_plan(sc, &opt, &errs);
        goto exit;
    }
    if ((fifo || lock) && rt__setup(fifo, lock, why, sizeof why) != 0) {
        fprintf(stderr, "twinctl run: %s\n", why);
        status = 1;
        goto exit;
    }
    if (rows_meta__of_scenario(&rc.meta, sc, doc) != 0) {
        fprintf(stderr, "twinctl run: out of memory\n");
        status = 1;
        goto exit;
    }
    rc.out = output ? rows_out__open(output, format, &file.options, why,
                                     sizeof why)
             : format == ROWS_NONE ? rows_out__open("-", format, NULL, why,
                                                     sizeof why)
                                   : rows_out__stream(stdout);
    if (rc.out == NULL) {
        fprintf(stderr, "twinctl run: %s\n", output ? why : "out of memory");
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
    rc.progress = !rc.quiet && isatty(STDERR_FILENO) &&
                  (output != NULL || format == ROWS_NONE);
    rc.next_report = util__now() + 1.0;

    runner_spec spec = {.opt = opt, .output_fd = -1, .stdout_to_stderr = 1,
                        .fifo = fifo, .mlock = lock, .fn_root = ""};
    struct sigaction sa = {.sa_handler = on_stop}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int wstatus = run_child_process(sc, &spec, &rc);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc.progress)
        fprintf(stderr, "\r%60s\r", "");
    why[0] = '\0';
    /* Finished whatever ended the run: the rows so far. */
    if (rows_out__close(&rc.out, why, sizeof why) != 0)
        rc.write_failed = 1;
    const char *end = json_string_value(json_object_get(rc.end, "status"));
    if (rc.write_failed) {
        /* The run was stopped for it: that is what to say. */
        fprintf(stderr, "twinctl run: writing the rows failed after %llu "
                "rows: %s\n", (unsigned long long)rc.rows,
                why[0] ? why : "out of memory");
        status = 1;
    } else if (wstatus == -1) {
        status = 1;
    } else if (end == NULL) {
        report_crash(&rc, wstatus, output);
        status = EXIT_CRASHED;
    } else {
        if (strcmp(end, "finished") != 0)
            print_errors(json_object_get(rc.end, "errors"), strcmp(
                end, "cancelled") == 0 ? "twinctl run: stopped: "
                                       : "twinctl run: failed: ");
        status = strcmp(end, "finished") == 0 ? 0 : 1;
        print_ended_by(&rc);
        if (!rc.quiet)
            print_summary(sc, &rc, status == 0 ? "finished" : "stopped",
                          opt.realtime == 1 ||
                              (opt.realtime < 0 && sc->realtime));
        if (status == 0 && sc->n_fn > 0 &&
            report_functions(sc, &rc, fn_file) != 0)
            status = 1;
    }
exit:
    json_decref(rc.end);
    free(rc.where);
    rows_out__close(&rc.out, NULL, 0);
    rows_meta__free(&rc.meta);
    if (rc.events != NULL)
        fclose(rc.events);
    scenario__free(&sc);
    json_decref(doc);
    errors__clear(&errs);
    cli_opts__free_library(&lib);
    return status;
}
