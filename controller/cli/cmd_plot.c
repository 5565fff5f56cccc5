/*
 * cmd_plot.c — `twinctl plot`: draw chosen channels of runs, the cases
 * of a batch (each case's line, or their envelope), or a batch's KPI
 * against a varied value, into a PNG or an SVG, with gnuplot.
 *
 * This file holds the options and their checks, run CSVs (which columns,
 * which panels: channels of one unit share one) and the rendering:
 * through gnuplot, or into a script with --script.  The figure's common
 * parts (labels, the time axis, the caption that says what is left out
 * or thinned) are plot.c's, a batch directory plot_batch.c's, units
 * plot_units.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_opts.h"
#include "cmd.h"
#include "plot.h"
#include "plot_batch.h"
#include "plot_units.h"

#define MAX_CHANNELS PLOT_MAX_CHANNELS
#define EXIT_NO_GNUPLOT 3

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl plot [OPTIONS] RUN... -c CHANNEL -o FILE\n"
        "       twinctl plot [OPTIONS] BATCH-DIR -c CHANNEL [--overlay] -o "
        "FILE\n"
        "       twinctl plot [OPTIONS] BATCH-DIR --kpi NAME --vs FACTOR -o "
        "FILE\n"
        "\n"
        "Draw channels of runs over time, the cases of a batch, or a batch's\n"
        "KPI against a value it varied, into a PNG or an SVG (by FILE's\n"
        "extension), with gnuplot.  Axes are labelled with names and units;\n"
        "units come from the model library: for runs (twinctl run -o,\n"
        "twinctl submit -o) from the scenario named by --scenario, for a\n"
        "batch directory (twinctl batch -o DIR) from its batch.json.  A RUN\n"
        "is a CSV, or by its extension a MAT (.mat) or HDF5 (.h5) file.\n"
        "\n"
        "Options:\n"
        "  -o, --output FILE    the image: FILE.png or FILE.svg\n"
        "  -c, --channel NAME   a column to draw (repeatable); a pattern such\n"
        "                       as 'tank*.h' takes every column it matches\n"
        "      --scenario S     the runs' scenario (a file or a name), for\n"
        "                       units; without it the axes have none\n"
        "      --panels RULE    run CSVs: 'unit' (default: channels of one\n"
        "                       unit share a panel, panels stacked), 'each'\n"
        "                       (a panel per channel) or 'one'\n"
        "      --overlay        a batch: every finished case's line, thin\n"
        "      --envelope       a batch: per time step the min-max band, the\n"
        "                       10-90 %% band and the median of the finished\n"
        "                       cases (the default for a batch)\n"
        "      --band P         the inner band of --envelope: percentiles P\n"
        "                       and 100-P (default 10; 0: none)\n"
        "      --kpi NAME       a batch: the KPI (a column of summary.csv) ...\n"
        "      --vs FACTOR      ... against the factor it varied ...\n"
        "      --by FACTOR      ... a line per value of another factor\n"
        "      --from S, --to S draw the rows from S to S seconds of simulated\n"
        "                       time only (default: all)\n"
        "      --time UNIT      the time axis in s, min or h (default: h when\n"
        "                       the rows drawn span more than 3 h, else s)\n"
        "      --title TEXT     the title (default: what is drawn)\n"
        "      --size W,H       the image's size in pixels (default 960 wide,\n"
        "                       260 high per panel and 140 more)\n"
        "      --max-points N   draw at most N points of each line: every\n"
        "                       k-th row and the last (default 2000; 0: all)\n"
        "      --script FILE    write the gnuplot script, with its data, to\n"
        "                       FILE instead of running gnuplot (render it\n"
        "                       with: gnuplot FILE)\n"
        "      --save-envelope FILE\n"
        "                       an envelope: write each channel's band (the\n"
        "                       --band percentiles, or min-max with --band 0)\n"
        "                       as a scenario's \"envelopes\" (the golden\n"
        "                       batch, docs/scenarios.md); -o is then\n"
        "                       optional\n"
        CLI_LIBRARY_USAGE
        "  -q, --quiet          print nothing but errors\n"
        "  -h, --help           show this help\n"
        "\n"
        "Examples:\n"
        "  twinctl run tank-farm-3 -o farm.csv\n"
        "  twinctl plot farm.csv --scenario tank-farm-3 -c 'tank*.h' "
        "-c pump0.power \\\n"
        "      --to 7200 -o farm.png\n"
        "  twinctl batch examples/batch-chain-uncertainty.json -o mc --rows\n"
        "  twinctl plot mc -c tank0.h -c pump0.q -o envelope.svg\n"
        "  twinctl plot mc -c tank0.h --overlay -o cases.png\n"
        "  twinctl plot mc -c tank0.h --band 5 --save-envelope golden.json\n"
        "  twinctl plot mc --kpi settle --vs tank0.area -o settle.png\n"
        "  twinctl plot whatif --kpi settle --vs valve_time --by pi0.sp "
        "-o settle.svg\n"
        "\n"
        "Exit status: 0 drawn, 1 gnuplot failed or the image could not be\n"
        "written, 2 bad usage or an input that cannot be drawn (the message\n"
        "says why), 3 gnuplot is not installed (install gnuplot-nox, or use\n"
        "--script).\n");
}

/* ---- run CSVs ----------------------------------------------------------- */

/* The panel of each channel, by --panels; returns how many panels. */
static size_t assign_panels(const plot *p, size_t *panel_of)
{
    size_t n = 0, q;
    const char *unit_of_panel[MAX_CHANNELS];
    for (size_t k = 0; k < p->runs[0].n_col; k++) {
        const char *u = plot_units__signal(p, plot__column(p, k));
        switch (p->panels) {
        case P_ONE:
            q = 0;
            n = 1;
            break;
        case P_EACH:
            q = n++;
            break;
        default: /* P_UNIT; unknown units are one unit */
            for (q = 0; q < n && strcmp(unit_of_panel[q], u ? u : "") != 0;
                 q++)
                ;
            if (q == n)
                unit_of_panel[n++] = u ? u : "";
        }
        panel_of[k] = q;
    }
    return n;
}

/* A panel's y label: its channels' names and the unit they share ("tank0.h,
 * tank1.h [m]"), or each with its own ("pump0.w [1], tank0.h [m]"). */
static const char *panel_label(plot *p, const size_t *panel_of, size_t q)
{
    char names[512] = "";
    size_t w = 0, count = 0, first = 0, last = 0;
    const char *unit = NULL;
    int one_unit = 1;
    for (size_t k = 0; k < p->runs[0].n_col; k++) {
        if (panel_of[k] != q)
            continue;
        const char *u = plot_units__signal(p, plot__column(p, k));
        if (count == 0)
            unit = u, first = k;
        else if ((u == NULL) != (unit == NULL) || (u && strcmp(u, unit)))
            one_unit = 0;
        last = k;
        count++;
    }
    if (count == 1)
        return plot__label(p, plot__column(p, first), unit);
    for (size_t k = 0; k < p->runs[0].n_col && w < sizeof names; k++) {
        if (panel_of[k] != q)
            continue;
        const char *name = plot__column(p, k);
        const char *u = plot_units__signal(p, name);
        w += (size_t)snprintf(names + w, sizeof names - w, "%s%s", w ? ", "
                              : "", one_unit || u == NULL ? name
                              : plot__label(p, name, u));
    }
    if (one_unit && strlen(names) > 48)
        snprintf(names, sizeof names, "%s … %s", plot__column(p, first),
                 plot__column(p, last));
    return one_unit ? plot__label(p, names, unit) : plot__keep(p, "%s",
                                                               names);
}

static int draw_runs(plot *p, char **files, size_t n_files)
{
    char why[4400];
    for (size_t i = 0; i < n_files; i++) {
        if (plot__add_run(p, files[i], files[i], why, sizeof why) != 0) {
            plot__complain("%s", why);
            return 2;
        }
        if (plot__thin(p, &p->runs[p->n_runs - 1]) != 0)
            return 1;
    }
    size_t panel_of[MAX_CHANNELS], used[MAX_CHANNELS] = {0};
    p->n_panel = assign_panels(p, panel_of);
    double ts = plot__time_scale(p);
    for (size_t k = 0; k < p->runs[0].n_col; k++) {
        gp_panel *pn = &p->panel[panel_of[k]];
        for (size_t r = 0; r < p->n_runs; r++) {
            gp_item *it = plot__add_item(pn);
            if (it == NULL)
                return 1;
            const plot_run *run = &p->runs[r];
            *it = (gp_item){.style = GP_LINE,
                            .color = plot__color(used[panel_of[k]]++),
                            .n = run->n_rows, .x = run->t, .y = run->v + k,
                            .stride = run->n_col, .x_scale = ts};
            it->title = p->n_runs > 1
                            ? plot__keep(p, "%s (%s)", plot__column(p, k),
                                         p->run_label[r])
                            : plot__column(p, k);
        }
    }
    for (size_t q = 0; q < p->n_panel; q++)
        p->panel[q].ylabel = panel_label(p, panel_of, q);
    p->fig.xlabel = plot__time_label(ts);
    p->fig.x_tight = 1;
    if (p->title == NULL)
        p->title = n_files == 1 ? files[0]
                                : plot__keep(p, "%zu runs", n_files);
    plot__note_thinning(p);
    return 0;
}

/* ---- the figure --------------------------------------------------------- */

static int render(plot *p)
{
    gp_format fmt;
    gp__format_of(p->output, &fmt);
    p->fig.format = fmt;
    p->fig.title = p->title;
    p->fig.caption = p->caption[0] ? p->caption : NULL;
    p->fig.panels = p->panel;
    p->fig.n_panels = p->n_panel;
    p->fig.width = p->width ? p->width : 960;
    p->fig.height = p->height ? p->height
                    : p->mode == M_KPI ? 560
                                       : (unsigned)(140 + 260 * p->n_panel);
    if (p->script != NULL) {
        p->fig.output = p->output;
        FILE *f = fopen(p->script, "w");
        int rc = f ? gp__write(f, &p->fig) : -1;
        if (f && fclose(f) != 0)
            rc = -1;
        if (rc != 0) {
            plot__complain("cannot write %s: %s", p->script, strerror(errno));
            return 1;
        }
        if (!p->quiet)
            fprintf(stderr, "twinctl plot: wrote %s; render it with: "
                    "gnuplot %s\n", p->script, p->script);
        return 0;
    }
    char *text = NULL, why[4400];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL || gp__write(f, &p->fig) != 0) {
        if (f)
            fclose(f);
        free(text);
        plot__complain("out of memory");
        return 1;
    }
    fclose(f);
    gp_status st = gp__render(text, len, p->output, why, sizeof why);
    free(text);
    if (st != GP_OK) {
        plot__complain("%s", why);
        return st == GP_MISSING ? EXIT_NO_GNUPLOT : 1;
    }
    if (!p->quiet)
        fprintf(stderr, "twinctl plot: %s (%u×%u, %zu panel%s)%s%s\n",
                p->output, p->fig.width, p->fig.height, p->n_panel,
                p->n_panel == 1 ? "" : "s", p->caption[0] ? ": " : "",
                p->caption);
    return 0;
}

static void plot_free(plot *p)
{
    for (size_t i = 0; i < p->n_runs; i++)
        plotdata__free_run(&p->runs[i]);
    free(p->runs);
    free(p->run_label);
    plotdata__free_table(&p->summary);
    for (size_t k = 0; k < MAX_CHANNELS; k++) {
        plotstats__free(&p->env[k]);
        free(p->env_t[k]);
        free(p->panel[k].items);
    }
    free(p->kpi_xy);
    for (size_t i = 0; i < p->n_strs; i++)
        free(p->strs[i]);
    free(p->strs);
    plot_units__free(p);
}

/* ---- options ------------------------------------------------------------ */

static int set_mode(plot *p, plot_mode m, const char *flag)
{
    if (p->mode_set && p->mode != m) {
        plot__complain("%s does not go with the other mode given (--overlay, "
                 "--envelope, --kpi: one of them)", flag);
        return -1;
    }
    p->mode = m;
    p->mode_set = 1;
    return 0;
}

static int number_opt(const char *flag, const char *arg, double lo,
                      double hi, double *v)
{
    char *end;
    *v = strtod(arg, &end);
    if (end == arg || *end != '\0' || !(*v >= lo && *v <= hi)) {
        plot__complain("%s takes a number from %g to %g, not '%s'", flag, lo, hi,
                 arg);
        return -1;
    }
    return 0;
}

static int parse_options(plot *p, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"channel", required_argument, NULL, 'c'},
        {"scenario", required_argument, NULL, 's'},
        {"panels", required_argument, NULL, 'P'},
        {"overlay", no_argument, NULL, 'O'},
        {"envelope", no_argument, NULL, 'E'},
        {"band", required_argument, NULL, 'B'},
        {"kpi", required_argument, NULL, 'K'},
        {"vs", required_argument, NULL, 'V'},
        {"by", required_argument, NULL, 'Y'},
        {"time", required_argument, NULL, 'T'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'U'},
        {"title", required_argument, NULL, 't'},
        {"size", required_argument, NULL, 'z'},
        {"max-points", required_argument, NULL, 'm'},
        {"script", required_argument, NULL, 'S'},
        {"save-envelope", required_argument, NULL, 'W'},
        CLI_LIBRARY_LONGOPTS,
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    double v;
    optind = 1;
    while ((c = cli_opts__getopt("plot", argc, argv, "o:c:qh", longopts,
                                 &p->paths)) != -1) {
        switch (c) {
        case 'o': p->output = optarg; break;
        case 'c':
            if (p->n_channel == MAX_CHANNELS) {
                plot__complain("at most %d -c", MAX_CHANNELS);
                return -1;
            }
            p->channel[p->n_channel++] = optarg;
            break;
        case 's': p->scenario = optarg; break;
        case 'P':
            if (strcmp(optarg, "unit") == 0)
                p->panels = P_UNIT;
            else if (strcmp(optarg, "each") == 0)
                p->panels = P_EACH;
            else if (strcmp(optarg, "one") == 0)
                p->panels = P_ONE;
            else {
                plot__complain("--panels takes unit, each or one, not '%s'",
                         optarg);
                return -1;
            }
            break;
        case 'O':
            if (set_mode(p, M_OVERLAY, "--overlay") != 0)
                return -1;
            break;
        case 'E':
            if (set_mode(p, M_ENVELOPE, "--envelope") != 0)
                return -1;
            break;
        case 'B':
            if (number_opt("--band", optarg, 0, 50, &p->band) != 0)
                return -1;
            break;
        case 'K':
            if (set_mode(p, M_KPI, "--kpi") != 0)
                return -1;
            p->kpi = optarg;
            break;
        case 'V': p->vs = optarg; break;
        case 'Y': p->by = optarg; break;
        case 'T':
            if (strcmp(optarg, "s") == 0)
                p->time_unit = 1;
            else if (strcmp(optarg, "min") == 0)
                p->time_unit = 60;
            else if (strcmp(optarg, "h") == 0)
                p->time_unit = 3600;
            else {
                plot__complain("--time takes s, min or h, not '%s'", optarg);
                return -1;
            }
            break;
        case 'F':
            if (number_opt("--from", optarg, -1e300, 1e300, &p->from) != 0)
                return -1;
            break;
        case 'U':
            if (number_opt("--to", optarg, -1e300, 1e300, &p->to) != 0)
                return -1;
            break;
        case 't': p->title = optarg; break;
        case 'z': {
            unsigned w, h;
            char x, extra;
            if (sscanf(optarg, "%u%c%u%c", &w, &x, &h, &extra) != 3 ||
                (x != ',' && x != 'x') || w < 200 || h < 150 || w > 20000 ||
                h > 20000) {
                plot__complain("--size takes W,H in pixels (200..20000 wide, "
                         "150..20000 high), not '%s'", optarg);
                return -1;
            }
            p->width = w;
            p->height = h;
            break;
        }
        case 'm':
            if (number_opt("--max-points", optarg, 0, 1e8, &v) != 0)
                return -1;
            if (v != 0 && v < 10) {
                plot__complain("--max-points takes 0 (every row) or at least 10, "
                         "not '%s'", optarg);
                return -1;
            }
            p->max_points = (size_t)v;
            break;
        case 'S': p->script = optarg; break;
        case 'W': p->save_envelope = optarg; break;
        case 'q': p->quiet = 1; break;
        case 'h': return 1;
        default: return -1; /* and CLI_OPT_REFUSED */
        }
    }
    return 0;
}

/* What the inputs and flags ask for makes sense together. */
static int check_request(plot *p, int n_inputs, char **inputs, int *is_dir)
{
    gp_format fmt;
    struct stat sb;
    if (n_inputs == 0) {
        plot__complain("give the run CSVs or the batch directory to draw");
        return -1;
    }
    if (!(p->from <= p->to)) {
        plot__complain("--from %g is after --to %g", p->from, p->to);
        return -1;
    }
    if ((p->output != NULL || p->save_envelope == NULL) &&
        (p->output == NULL || gp__format_of(p->output, &fmt) != 0)) {
        plot__complain("%s", p->output ? "-o FILE: the image's name ends in .png "
                 "or .svg" : "give the image to write with -o FILE.png or "
                 "-o FILE.svg");
        return -1;
    }
    *is_dir = stat(inputs[0], &sb) == 0 && S_ISDIR(sb.st_mode);
    for (int i = 1; i < n_inputs; i++)
        if (*is_dir || (stat(inputs[i], &sb) == 0 && S_ISDIR(sb.st_mode))) {
            plot__complain("give one batch directory, or run CSVs: not both, nor "
                     "several directories");
            return -1;
        }
    if (!*is_dir && p->mode_set) {
        plot__complain("--overlay, --envelope and --kpi draw a batch directory's "
                 "cases (twinctl batch -o DIR); for run CSVs leave them out");
        return -1;
    }
    if (*is_dir && p->scenario) {
        plot__complain("--scenario is for run CSVs: a batch directory has its "
                 "scenario in its batch.json");
        return -1;
    }
    if (*is_dir && !p->mode_set)
        p->mode = M_ENVELOPE;
    if (!*is_dir)
        p->mode = M_RUNS;
    if (p->save_envelope != NULL && p->mode != M_ENVELOPE) {
        plot__complain("--save-envelope writes the envelope of a batch "
                       "directory's cases (twinctl batch -o DIR --rows): "
                       "give the directory, without --overlay or --kpi");
        return -1;
    }
    if (p->mode == M_KPI && (p->vs == NULL || p->n_channel > 0)) {
        plot__complain("%s", p->vs == NULL ? "--kpi NAME takes --vs FACTOR: the "
                 "varied value to draw it against"
                 : "--kpi draws a KPI, not channels: leave out -c");
        return -1;
    }
    if (p->mode != M_KPI && (p->vs || p->by)) {
        plot__complain("--vs and --by go with --kpi");
        return -1;
    }
    if (p->mode != M_KPI && p->n_channel == 0) {
        plot__complain("give the channels to draw with -c NAME (a pattern such as "
                 "'tank*.h' takes every column it matches); the columns "
                 "are the CSV's header (head -1 FILE)");
        return -1;
    }
    return 0;
}

int cmd_plot(int argc, char **argv)
{
    plot p = {.band = 10, .max_points = 2000, .from = -INFINITY,
              .to = INFINITY};
    int status = 2, is_dir = 0;
    int rc = parse_options(&p, argc, argv);
    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr);
        status = rc > 0 ? 0 : 2;
        goto exit;
    }
    char **inputs = argv + optind;
    int n_inputs = argc - optind;
    if (check_request(&p, n_inputs, inputs, &is_dir) != 0)
        goto exit;
    if (is_dir ? plot_units__from_batch(&p, inputs[0]) != 0
               : p.scenario && plot_units__from_scenario(&p) != 0)
        goto exit;
    if (p.sc == NULL && !p.quiet)
        fprintf(stderr, "twinctl plot: units unknown: %s; the axes are "
                "labelled without them\n", p.units_why[0] ? p.units_why
                : "name the runs' scenario with --scenario FILE|NAME to "
                  "label the axes with units");
    status = p.mode == M_RUNS ? draw_runs(&p, inputs, (size_t)n_inputs)
             : p.mode == M_KPI ? plot_batch__draw_kpi(&p, inputs[0])
                               : plot_batch__draw_cases(&p, inputs[0]);
    if (status == 0 && p.save_envelope != NULL)
        status = plot_batch__save_envelope(&p, p.save_envelope);
    if (status == 0 && p.output != NULL)
        status = render(&p);
exit:
    plot_free(&p);
    return status;
}
