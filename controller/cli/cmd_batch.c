/*
 * cmd_batch.c — `twinctl batch FILE -o DIR`: a what-if batch run here,
 * its cases in parallel (batch_doc.h reads and expands the document,
 * batch_run.h runs the cases and keeps the directory).  This file holds
 * the options and what a person sees: a progress bar on a terminal,
 * plain lines otherwise, a line per case that did not finish, and how to
 * resume after an interruption.  With --broker the cases run on
 * controllers over MQTT (batch_remote.h); the section "Across machines"
 * below holds its options.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_doc.h"
#include "batch_remote.h"
#include "batch_run.h"
#include "cli_opts.h"
#include "cmd.h"
#include "csv.h"
#include "paths.h"

typedef struct view {
    int quiet;
    int bar;               /* stderr is a terminal */
    int started;           /* the first line is out */
    double next_line;      /* plain lines: when the next one is due */
    unsigned jobs;
    const batch_remote_opts *remote;
} view;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl batch [OPTIONS] FILE -o DIR\n"
        "\n"
        "Run a what-if batch here: every case of the batch document FILE\n"
        "(twin.batch/1: a base scenario and its variations, a grid, a list,\n"
        "Monte Carlo draws; docs/batch.md), each in a process of its own,\n"
        "several at a time.  DIR gets summary.csv (one row per case: id,\n"
        "varied values, KPIs, status, message), results/ (one file per\n"
        "case) and, with --rows, cases/ID.csv (.mat, .h5 with --format).\n"
        "Run the same command again\n"
        "to resume: only the cases without a result run.\n"
        "\n"
        "Options:\n"
        "  -o, --output DIR     the output directory (made if missing)\n"
        "  -j, --jobs N         cases at a time (default: every CPU this\n"
        "                       process may use)\n"
        "      --rows           write each case's rows to DIR/cases/ID.csv\n"
        "      --format F       --rows as csv, mat (DIR/cases/ID.mat) or\n"
        "                       hdf5 (DIR/cases/ID.h5); default csv\n"
        "      --compress[=N]   HDF5: deflate the rows at level N (1-9)\n"
        "      --retry-failed   run again the cases that did not finish\n"
        "      --timeout S      end a case after S seconds of wall time\n"
        "      --max-cases N    refuse a batch of more cases (default "
        "1000000)\n"
        "      --max-steps N    solver steps allowed per tick (default 5000)\n"
        "      --dry-run        check FILE and list its cases (id and values,\n"
        "                       as CSV on stdout); run nothing\n"
        "      --export DIR     with --dry-run: write each case's scenario to\n"
        "                       DIR/ID.json (for twinctl run or submit)\n"
        CLI_LIBRARY_USAGE
        "  -q, --quiet          print nothing but errors\n"
        "  -h, --help           show this help\n"
        "\n"
        "Across machines (docs/batch.md): with --broker the cases run on the\n"
        "twinctl controllers of a group, sent to their pool; a case whose\n"
        "controller goes offline or stops answering is sent again.  The\n"
        "directory and the summary are the same as here.\n"
        "      --broker URL     the broker (tcp://HOST:PORT, ssl://HOST:PORT)\n"
        "      --prefix P       topic prefix (default twin)\n"
        "      --group G        the controllers' pool group (default twin)\n"
        "  -j, --jobs N         cases in flight (default: the capacity of the\n"
        "                       group's controllers online)\n"
        "      --answer-timeout S\n"
        "                       seconds for a controller to answer a request\n"
        "                       (default 30); then the case goes elsewhere\n"
        "      --check-after S  seconds a case runs without news before its\n"
        "                       controller is asked about it (default: from\n"
        "                       the horizon, then 4 times the slowest case)\n"
        "      --wait-controllers S\n"
        "                       give up after S seconds with no controller\n"
        "                       online (default 60; resume later)\n"
        "      --max-attempts N times a case may be lost before it is\n"
        "                       recorded as failed (default 5)\n"
        CLI_ENCODING_USAGE
        "\n"
        CLI_SECURITY_USAGE
        "\n"
        "Exit status: 0 every case finished, 1 a case did not (see the\n"
        "summary) or an output could not be written, 2 bad usage, the\n"
        "document was rejected (every problem is listed) or DIR holds\n"
        "another batch, 3 no controller or broker to run the rest (run it\n"
        "again to resume), 130 interrupted (run it again to resume).\n");
}

static void duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "--");
    else if (s < 3600)
        snprintf(buf, len, "%d:%02d", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%d:%02d:%02d", (int)s / 3600,
                 (int)s / 60 % 60, (int)s % 60);
}

/* "45/200 done, 2 failed, 3.1 cases/s, 0:52 left" */
static void progress_text(const batch_tally *t, char *buf, size_t len)
{
    double rate = t->elapsed > 0 ? (double)t->done / t->elapsed : 0;
    char left[32];
    duration(left, sizeof left,
             rate > 0 ? (double)(t->to_run - t->done) / rate : NAN);
    int n = snprintf(buf, len, "%zu/%zu done, %zu failed, %.3g cases/s, %s "
                     "left", t->skipped + t->done, t->cases,
                     t->failed + t->failed_before, rate, left);
    if (t->workers[0] && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (%s)", t->workers);
}

static void on_tick(void *ctx, const batch_tally *t)
{
    view *v = ctx;
    char text[1400];
    if (v->quiet)
        return;
    if (!v->started) {
        v->started = 1;
        if (v->remote)
            fprintf(stderr, "twinctl batch: %zu case%s, %zu with a result "
                    "already; running %zu on the controllers of group %s "
                    "at %s\n", t->cases, t->cases == 1 ? "" : "s",
                    t->skipped, t->to_run,
                    v->remote->group ? v->remote->group : "twin",
                    v->remote->broker);
        else
            fprintf(stderr, "twinctl batch: %zu case%s, %zu with a result "
                    "already; running %zu, %u at a time\n", t->cases,
                    t->cases == 1 ? "" : "s", t->skipped, t->to_run,
                    v->jobs);
        v->next_line = 5.0;
        if (!v->bar)
            return;
    }
    progress_text(t, text, sizeof text);
    if (v->bar) {
        enum { WIDTH = 24 };
        size_t fill = t->cases ? (t->skipped + t->done) * WIDTH / t->cases
                               : WIDTH;
        char bar[WIDTH + 1];
        for (size_t i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %s", bar, text);
        return;
    }
    if (t->elapsed >= v->next_line || t->done == t->to_run) {
        v->next_line = t->elapsed + 5.0;
        fprintf(stderr, "twinctl batch: %s\n", text);
    }
}

static void on_ended(void *ctx, const batch_tally *t, const char *id,
                     const char *status, const char *message)
{
    view *v = ctx;
    (void)t;
    if (v->quiet || strcmp(status, "finished") == 0)
        return;
    fprintf(stderr, "%stwinctl batch: case %s %s: %s\n",
            v->bar ? "\r\033[K" : "", id, status, message ? message : "");
}

static void on_note(void *ctx, const batch_tally *t, const char *sentence)
{
    view *v = ctx;
    (void)t;
    if (!v->quiet)
        fprintf(stderr, "%stwinctl batch: %s\n", v->bar ? "\r\033[K" : "",
                sentence);
}

/* --dry-run: the cases as CSV, and with export their scenarios. */
static int list_cases(const batch *b, const char *export)
{
    double v[BATCH_MAX_FACTORS];
    char id[40], num[40], path[4200];
    if (export != NULL && mkdir(export, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "twinctl batch: cannot make %s: %m\n", export);
        return -1;
    }
    printf("id");
    for (size_t k = 0; k < b->n_f; k++)
        printf(",%s", b->f[k].name);
    printf("\n");
    for (size_t i = 0; i < b->n_cases; i++) {
        batch__case_values(b, i, v);
        batch__case_id(b, i, v, id, sizeof id);
        fputs(id, stdout);
        for (size_t k = 0; k < b->n_f; k++) {
            csv__number(num, sizeof num, v[k]);
            printf(",%s", num);
        }
        printf("\n");
        if (export == NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s.json", export, id);
        json_t *sc = batch__case_scenario(b, v, id);
        if (sc == NULL || json_dump_file(sc, path, JSON_INDENT(1) |
                                         JSON_PRESERVE_ORDER) != 0) {
            fprintf(stderr, "twinctl batch: cannot write %s\n", path);
            json_decref(sc);
            return -1;
        }
        json_decref(sc);
    }
    return 0;
}

static void report(const view *v, const batch_tally *t, batch_outcome out,
                   int argc, char **argv, const char *dir, const char *why)
{
    if (why[0] != '\0')
        fprintf(stderr, "twinctl batch: %s\n", why);
    if (out == BATCH_REFUSED || v->quiet)
        return;
    if (out == BATCH_INTERRUPTED || out == BATCH_STALLED) {
        if (out == BATCH_INTERRUPTED)
            fprintf(stderr, "twinctl batch: interrupted (SIG%s): ",
                    sigabbrev_np(t->stopping) ? sigabbrev_np(t->stopping)
                                              : "?");
        else
            fprintf(stderr, "twinctl batch: stopped: ");
        fprintf(stderr, "%zu of %zu cases have a result in %s; run the same "
                "command again to resume:\n  twinctl", t->recorded,
                t->cases, dir);
        for (int i = 0; i < argc; i++)
            fprintf(stderr, strpbrk(argv[i], " \t'\"$\\") ? " '%s'"
                    : " %s", argv[i]);
        fputc('\n', stderr);
        return;
    }
    size_t bad = t->failed + t->failed_before;
    char how[1200];
    if (v->remote)
        snprintf(how, sizeof how, "on %s", t->workers[0] ? t->workers
                                                        : "no controller");
    else
        snprintf(how, sizeof how, "%u at a time", v->jobs);
    fprintf(stderr, "twinctl batch: %zu case%s: %zu finished, %zu did not%s; "
            "%zu run now in %.2f s (%.3g cases/s, %s); %s/summary.csv\n",
            t->cases, t->cases == 1 ? "" : "s", t->cases - bad, bad,
            bad ? " (see the summary)" : "", t->done, t->elapsed,
            t->elapsed > 0 ? (double)t->done / t->elapsed : 0.0, how, dir);
}

/* A whole number from 1 to max into *out, or -1 with what it takes
 * said. */
static int whole(const char *arg, const char *takes, long max,
                 unsigned *out)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || n < 1 || n > max) {
        fprintf(stderr, "twinctl batch: %s from 1 to %ld, not '%s'\n", takes,
                max, arg);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* One invocation: what the command line asked for, and what it loaded. */
typedef struct batch_cmd {
    batch_run_opts ro;
    batch_remote_opts rem;
    int remote_only;       /* a flag that needs --broker */
    batch_env env;
    twin_paths paths;
    const char *file, *export;
    int dry;
    cli_file file_opts;    /* --format, --compress (with --rows) */
    view v;

    model_lib models;
    instance_lib instances;
    func_lib functions;
    twin_errors errs;
    json_t *doc;
    batch *b;
    char *file_copy;
} batch_cmd;

/* An option of "Across machines" but --broker's and the security flags'.
 * Returns 1 when it was one, 0 when it is not, -1 for a bad value
 * (said). */
static int remote_option(batch_cmd *bc, int c, const char *arg)
{
    batch_remote_opts *rem = &bc->rem;
    char *end;
    switch (c) {
    case 'p': rem->prefix = arg; break;
    case 'g': rem->group = arg; break;
    case 'A': case 'K': case 'W': {
        double sec = strtod(arg, &end);
        if (*end != '\0' || !(sec > 0) || !isfinite(sec)) {
            fprintf(stderr, "twinctl batch: --%s takes a positive number "
                    "of seconds, not '%s'\n", c == 'A' ? "answer-timeout"
                    : c == 'K' ? "check-after" : "wait-controllers",
                    arg);
            return -1;
        }
        *(c == 'A' ? &rem->answer_timeout : c == 'K' ? &rem->check_after
                                                     : &rem->wait_controllers)
            = sec;
        break;
    }
    case 'N':
        if (whole(arg, "--max-attempts takes a number", 1000,
                  &rem->max_attempts) != 0)
            return -1;
        break;
    case 'e':
        if (cli_opts__encoding("batch", arg, &rem->encoding) != 0)
            return -1;
        break;
    default:
        return 0;
    }
    bc->remote_only = 1;
    return 1;
}

/* The options into bc.  Returns 0, 1 after --help, 2 for bad usage
 * (said). */
static int parse_options(batch_cmd *bc, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'j'},
        {"rows", no_argument, NULL, 'R'},
        {"retry-failed", no_argument, NULL, 'F'},
        {"timeout", required_argument, NULL, 'T'},
        {"max-cases", required_argument, NULL, 'C'},
        {"max-steps", required_argument, NULL, 'X'},
        {"dry-run", no_argument, NULL, 'D'},
        {"export", required_argument, NULL, 'E'},
        CLI_FILE_LONGOPTS,
        CLI_LIBRARY_LONGOPTS,
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        /* across machines */
        {"broker", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'p'},
        {"group", required_argument, NULL, 'g'},
        {"answer-timeout", required_argument, NULL, 'A'},
        {"check-after", required_argument, NULL, 'K'},
        {"wait-controllers", required_argument, NULL, 'W'},
        {"max-attempts", required_argument, NULL, 'N'},
        {"encoding", required_argument, NULL, 'e'},
        CLI_SECURITY_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    batch_run_opts *ro = &bc->ro;
    int c;
    char *end;

    optind = 1;
    while ((c = cli_opts__getopt("batch", argc, argv, "o:j:qh", longopts,
                                 &bc->paths)) != -1) {
        int shared = cli_opts__security("batch", c, optarg, &bc->rem.sec);
        if (shared > 0)
            bc->remote_only = 1;
        if (shared == 0)
            shared = remote_option(bc, c, optarg);
        if (shared == 0)
            shared = cli_opts__file("batch", c, optarg, &bc->file_opts);
        if (shared < 0)
            return 2;
        if (shared > 0)
            continue;
        switch (c) {
        case 'o': ro->dir = optarg; break;
        case 'j':
            if (whole(optarg, "-j takes a number of processes", 4096,
                      &ro->jobs) != 0)
                return 2;
            break;
        case 'R': ro->rows = 1; break;
        case 'F': ro->retry_failed = 1; break;
        case 'T':
            ro->timeout = strtod(optarg, &end);
            if (*end != '\0' || !(ro->timeout > 0) ||
                !isfinite(ro->timeout)) {
                fprintf(stderr, "twinctl batch: --timeout takes a positive "
                        "number of seconds, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'C': {
            long long n = strtoll(optarg, &end, 10);
            if (*end != '\0' || n < 1) {
                fprintf(stderr, "twinctl batch: --max-cases takes a "
                        "positive number, not '%s'\n", optarg);
                return 2;
            }
            bc->env.max_cases = (size_t)n;
            break;
        }
        case 'X': ro->max_steps = atol(optarg); break;
        case 'D': bc->dry = 1; break;
        case 'E': bc->export = optarg; break;
        case 'q': bc->v.quiet = 1; break;
        case 'h': usage(stdout); return 1;
        case 'b': bc->rem.broker = optarg; break;
        case CLI_OPT_REFUSED: return 2;
        default: usage(stderr); return 2;
        }
    }
    return 0;
}

/* The options that go together, and one FILE.  Returns 0, or 2 (said). */
static int check_options(batch_cmd *bc, int argc, char **argv)
{
    const batch_remote_opts *rem = &bc->rem;
    if (rem->broker == NULL && bc->remote_only) {
        fprintf(stderr, "twinctl batch: --prefix, --group, the timeouts and "
                "the TLS and login flags go with --broker URL\n");
        return 2;
    }
    if (rem->broker != NULL && (bc->ro.timeout > 0 || bc->ro.max_steps != 0)) {
        fprintf(stderr, "twinctl batch: with --broker the controllers' limits "
                "hold (limits.run_seconds; the solver's steps per tick): "
                "--timeout and --max-steps are for a batch run here\n");
        return 2;
    }
    if (rem->prefix && cli_opts__prefix("batch", rem->prefix) != 0)
        return 2;
    if (bc->file_opts.format_given &&
        (!bc->ro.rows || bc->file_opts.format == ROWS_NONE)) {
        fprintf(stderr, "twinctl batch: --format csv, mat or hdf5 goes with "
                "--rows (without --rows no rows are written)\n");
        return 2;
    }
    bc->ro.rows_format = bc->file_opts.format;
    bc->ro.rows_options = bc->file_opts.options;
    if (bc->export != NULL && !bc->dry) {
        fprintf(stderr, "twinctl batch: --export goes with --dry-run\n");
        return 2;
    }
    if (optind != argc - 1 || (bc->ro.dir == NULL && !bc->dry)) {
        fprintf(stderr, "twinctl batch: give one batch FILE and -o DIR\n\n");
        usage(stderr);
        return 2;
    }
    bc->file = argv[optind];
    return 0;
}

/* The document, the libraries and the batch.  Returns 0, or the exit
 * status (said). */
static int load(batch_cmd *bc)
{
    json_error_t jerr;
    bc->doc = json_load_file(bc->file, JSON_REJECT_DUPLICATES, &jerr);
    if (bc->doc == NULL) {
        fprintf(stderr, "twinctl batch: %s: %s%s [bad_json]\n", bc->file,
                jerr.text, jerr.line > 0 ? "" : " (cannot read it)");
        return 2;
    }
    paths__finish(&bc->paths);
    if (paths__load(&bc->paths, &bc->models, &bc->instances,
                    bc->v.quiet) != 0)
        return 1;
    bc->file_copy = strdup(bc->file);
    if (!paths__load_functions_for(&bc->paths, bc->doc, "kpis",
                                   &bc->functions, bc->v.quiet))
        paths__load_functions_for(&bc->paths, json_object_get(bc->doc,
                                                              "scenario"),
                                  "functions", &bc->functions, bc->v.quiet);
    bc->env.functions = &bc->functions;
    bc->env.models = &bc->models;
    bc->env.instances = &bc->instances;
    bc->env.scenario_dir = bc->paths.scenario_dir;
    bc->env.doc_dir = bc->file_copy ? dirname(bc->file_copy) : ".";
    bc->b = batch__load(bc->doc, &bc->env, &bc->errs);
    if (bc->b == NULL) {
        fprintf(stderr, "twinctl batch: %s rejected, %zu problem%s:\n",
                bc->file, bc->errs.count, bc->errs.count == 1 ? "" : "s");
        errors__print(&bc->errs, "  ", stderr);
        return 2;
    }
    return 0;
}

/* --dry-run: the cases listed (and exported).  The exit status. */
static int dry_run(const batch_cmd *bc)
{
    const batch *b = bc->b;
    if (list_cases(b, bc->export) != 0)
        return 1;
    if (!bc->v.quiet)
        fprintf(stderr, "twinctl batch: %s: %zu case%s (hash %s)\n",
                bc->file, b->n_cases, b->n_cases == 1 ? "" : "s", b->hash);
    return 0;
}

/* Run the cases, here or on the controllers, with their progress shown;
 * the exit status. */
static int run(batch_cmd *bc, int argc, char **argv)
{
    batch_run_opts *ro = &bc->ro;
    view *v = &bc->v;
    char why[2048];
    ro->models = &bc->models;
    ro->instances = &bc->instances;
    ro->functions = &bc->functions;
    ro->document = bc->file;
    if (bc->rem.broker != NULL) {
        bc->rem.sec.url = bc->rem.broker;
        if (mqtt__check_security(&bc->rem.sec, why, sizeof why) != 0) {
            fprintf(stderr, "twinctl batch: %s\n", why);
            return 2;
        }
        ro->elsewhere = batch_remote__run_all;
        ro->remote = &bc->rem;
        v->remote = &bc->rem;
    }
    v->bar = isatty(STDERR_FILENO);
    v->jobs = ro->jobs ? ro->jobs : batch__cpus();
    batch_observer obs = {.ctx = v, .tick = on_tick, .ended = on_ended,
                          .note = on_note, .refresh = v->bar ? 0.2 : 0.5};
    batch_tally t;
    batch_outcome out = batch__run(bc->b, bc->doc, ro, &obs, &t, why,
                                   sizeof why);
    if (v->bar && !v->quiet)
        fprintf(stderr, "\r\033[K");
    report(v, &t, out, argc, argv, ro->dir, why);
    return (int)out;
}

int cmd_batch(int argc, char **argv)
{
    batch_cmd bc = {.env = {.max_cases = 1000000}};
    int status = parse_options(&bc, argc, argv);
    if (status == 1)
        status = 0; /* --help */
    else if (status == 0 && (status = check_options(&bc, argc, argv)) == 0 &&
             (status = load(&bc)) == 0)
        status = bc.dry ? dry_run(&bc) : run(&bc, argc, argv);
    batch__free(&bc.b);
    free(bc.file_copy);
    json_decref(bc.doc);
    errors__clear(&bc.errs);
    instlib__free(&bc.instances);
    modlib__free(&bc.models);
    funclib__free(&bc.functions);
    paths__free(&bc.paths);
    return status;
}
