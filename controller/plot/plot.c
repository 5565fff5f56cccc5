/*
 * plot.c — the figure `twinctl plot` builds (plot.h): the strings it
 * keeps, its items, labels, colours and caption, the run CSVs it reads
 * and thins, and its time axis.  What is drawn from a batch directory is
 * plot_batch.c's, the units plot_units.c's; the command (options, which
 * panels, rendering) is cmd_plot.c's.
 */
#include "plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHANNELS PLOT_MAX_CHANNELS

/* Okabe and Ito's colours, which stay apart for colour-blind eyes. */
static const unsigned palette[] = {0x0072b2, 0xd55e00, 0x009e73, 0xcc79a7,
                                   0xe69f00, 0x56b4e9, 0x000000, 0x999933};

void plot__complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("twinctl plot: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *plot__keep(plot *p, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return "";
    if (p->n_strs == p->cap_strs) {
        size_t c = p->cap_strs ? 2 * p->cap_strs : 32;
        char **a = realloc(p->strs, c * sizeof *a);
        if (a == NULL) {
            free(s);
            return "";
        }
        p->strs = a;
        p->cap_strs = c;
    }
    p->strs[p->n_strs++] = s;
    return s;
}

gp_item *plot__add_item(gp_panel *pn)
{
    gp_item *a = realloc(pn->items, (pn->n_items + 1) * sizeof *a);
    if (a == NULL)
        return NULL;
    pn->items = a;
    a[pn->n_items] = (gp_item){0};
    return &a[pn->n_items++];
}

void plot__caption(plot *p, const char *fmt, ...)
{
    size_t w = strlen(p->caption);
    if (w + 3 >= sizeof p->caption)
        return;
    if (w > 0)
        w += (size_t)snprintf(p->caption + w, sizeof p->caption - w, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->caption + w, sizeof p->caption - w, fmt, ap);
    va_end(ap);
}

const char *plot__label(plot *p, const char *name, const char *unit)
{
    if (unit == NULL)
        return plot__keep(p, "%s", name);
    return plot__keep(p, "%s [%s]", name, unit[0] ? unit : "1");
}

unsigned plot__color(size_t i)
{
    return palette[i % (sizeof palette / sizeof palette[0])];
}

int plot__add_run(plot *p, const char *path, const char *label, char *why,
                  size_t why_len)
{
    plot_run *r = realloc(p->runs, (p->n_runs + 1) * sizeof *r);
    if (r != NULL)
        p->runs = r;
    const char **l = realloc(p->run_label, (p->n_runs + 1) * sizeof *l);
    if (l != NULL)
        p->run_label = l;
    if (r == NULL || l == NULL) {
        snprintf(why, why_len, "out of memory reading %s", path);
        return -1;
    }
    plot_run *run = &p->runs[p->n_runs];
    if (plotdata__read_run(path, p->channel, p->n_channel, run, why,
                           why_len) != 0)
        return -1;
    p->run_label[p->n_runs++] = plot__keep(p, "%s", label);
    double t0 = run->t[0], t1 = run->t[run->n_rows - 1];
    if (plotdata__window(run, p->from, p->to) == 0) {
        snprintf(why, why_len, "%s has no rows from %g to %g s (--from, "
                 "--to): its rows run from %g to %g s", path, p->from, p->to,
                 t0, t1);
        return -1;
    }
    const plot_run *a = &p->runs[0], *b = run;
    if (b->n_rows > p->rows_of_longest)
        p->rows_of_longest = b->n_rows;
    int same = a->n_col == b->n_col;
    for (size_t k = 0; same && k < a->n_col; k++)
        same = strcmp(a->names[a->col[k]], b->names[b->col[k]]) == 0;
    if (!same) {
        snprintf(why, why_len, "%s has other columns for these -c than %s: "
                 "draw runs of one scenario together", path,
                 p->run_label[0]);
        return -1;
    }
    if (a->n_col > MAX_CHANNELS) {
        snprintf(why, why_len, "-c picks %zu channels; at most %d fit in "
                 "one figure", a->n_col, MAX_CHANNELS);
        return -1;
    }
    return 0;
}

const char *plot__column(const plot *p, size_t k)
{
    const plot_run *r = &p->runs[0];
    return r->names[r->col[k]];
}

int plot__thin(plot *p, plot_run *run)
{
    size_t before = run->n_rows;
    if (plotdata__thin_run(run, p->max_points) != 0)
        return -1;
    p->thinned |= run->n_rows < before;
    return 0;
}

double plot__time_scale(const plot *p)
{
    if (p->time_unit > 0)
        return p->time_unit;
    double span = 0;
    for (size_t i = 0; i < p->n_runs; i++) {
        const plot_run *r = &p->runs[i];
        double s = r->t[r->n_rows - 1] - r->t[0];
        if (s > span)
            span = s;
    }
    return span > 3 * 3600.0 ? 3600.0 : 1.0;
}

const char *plot__time_label(double scale)
{
    return scale == 3600.0 ? "time [h]" : scale == 60.0 ? "time [min]"
                                                        : "time [s]";
}

void plot__note_thinning(plot *p)
{
    if (p->thinned)
        plot__caption(p, "lines of up to %zu rows drawn with at most %zu "
                      "points each, keeping every stretch's lowest and "
                      "highest values (--max-points)", p->rows_of_longest,
                      p->max_points);
}
