/*
 * plot.h — the figure `twinctl plot` builds, and the helpers every part
 * of it uses (plot.c).  Above it: plot_units.h (the axes' units, from the
 * model library), plot_batch.h (a batch directory: its cases' lines,
 * their envelope, a KPI against a factor) and the command, cmd_plot.c
 * (options, run CSVs, rendering).  Reading files is plot_data.h's, the
 * envelope's statistics plot_stats.h's, gnuplot plot_gp.h's.
 */
#ifndef TWIN_PLOT_H
#define TWIN_PLOT_H

#include <stddef.h>

#include <jansson.h>

#include "batch_doc.h"
#include "instance_lib.h"
#include "model_lib.h"
#include "paths.h"
#include "plot_data.h"
#include "plot_gp.h"
#include "plot_stats.h"
#include "scenario.h"

#define PLOT_MAX_CHANNELS 64

/* An envelope is computed on at most this many values (cases × rows ×
 * channels, 128 MB of doubles); a bigger batch's rows are taken every
 * k-th, and the caption says so. */
#define PLOT_ENVELOPE_VALUES (1u << 24)

typedef enum plot_mode { M_RUNS, M_OVERLAY, M_ENVELOPE, M_KPI } plot_mode;
typedef enum panel_rule { P_UNIT, P_EACH, P_ONE } panel_rule;

typedef struct plot {
    /* what was asked */
    const char *output, *script, *scenario, *title, *kpi, *vs, *by;
    const char *save_envelope; /* --save-envelope FILE, or NULL */
    const char *channel[PLOT_MAX_CHANNELS];
    size_t n_channel;
    plot_mode mode;
    int mode_set;
    panel_rule panels;
    double time_unit;        /* seconds per unit of the time axis; 0:
                              * chosen from the runs' span */
    double from, to;         /* the rows drawn: from ≤ t ≤ to */
    unsigned width, height;
    size_t max_points;       /* per line; 0: every row */
    double band;             /* the envelope's inner band: percentiles
                              * band and 100 − band; 0: none */
    int quiet;
    twin_paths paths;

    /* the units: the runs' scenario composed; sc NULL when unknown, with
     * the reason in units_why (empty: no --scenario) */
    model_lib models;
    instance_lib instances;
    int libs_loaded;
    scenario *sc;
    batch *b;                /* a batch directory's batch, or NULL */
    json_t *batch_json;      /* its batch.json */
    char units_why[8192];

    /* what is drawn */
    plot_run *runs;          /* the CSVs, or the batch's finished cases */
    size_t n_runs;
    const char **run_label;  /* each run's file, or its case id */
    size_t rows_of_longest;  /* rows in the longest run read */
    int thinned;             /* a line has fewer points than rows */
    plot_table summary;      /* a batch's summary.csv */
    plot_envelope env[PLOT_MAX_CHANNELS];
    double *env_t[PLOT_MAX_CHANNELS];
    double *kpi_xy;
    gp_panel panel[PLOT_MAX_CHANNELS];
    size_t n_panel;
    char **strs;             /* strings the figure points at */
    size_t n_strs, cap_strs;
    char caption[1024];
    gp_figure fig;
} plot;

/* ---- the figure (plot.c) ----------------------------------------------- */

void plot__complain(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A formatted string that lives as long as p. */
const char *plot__keep(plot *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A new, zeroed item at the end of pn; NULL for want of memory. */
gp_item *plot__add_item(gp_panel *pn);

/* Append a part to the caption ("; " between parts). */
void plot__caption(plot *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "name [unit]"; a dimensionless unit ("" or "1") is [1]; NULL (unknown):
 * the name alone. */
const char *plot__label(plot *p, const char *name, const char *unit);

/* The colour of the i-th line. */
unsigned plot__color(size_t i);

/* Read the run CSV at path with the -c patterns, its label label.  Every
 * run must give the columns the first one gave.  Returns 0, -1 with
 * why. */
int plot__add_run(plot *p, const char *path, const char *label, char *why,
                  size_t why_len);

/* The name of column k of the runs. */
const char *plot__column(const plot *p, size_t k);

/* Thin run to --max-points (plotdata__thin_run), noting it for the
 * caption.  Returns 0, -1 for want of memory. */
int plot__thin(plot *p, plot_run *run);

/* Seconds per unit of the time axis, and its label ("time [h]"). */
double plot__time_scale(const plot *p);
const char *plot__time_label(double scale);

/* The caption's part on thinned lines, when a line was. */
void plot__note_thinning(plot *p);

#endif
