/*
 * plot_batch.c — `twinctl plot` on a batch's output directory (see
 * plot_batch.h; the directory's layout is batch_run.h's): every finished case's
 * line (--overlay), their envelope per time step (--envelope), or a KPI
 * against a factor (--kpi, --vs, --by).
 *
 * summary.csv says which cases finished; their rows are cases/<id>.csv
 * (the batch run with --rows).  Cases that did not finish are left out
 * and counted by status in the caption, and so are finished cases
 * without a value of the KPI drawn.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot_batch.h"
#include "rows_out.h"
#include "plot_units.h"

static const char *batch_name(const plot *p, const char *dir)
{
    const char *n = json_string_value(json_object_get(
        json_object_get(p->batch_json, "batch"), "name"));
    return n ? n : dir;
}

static const char *cell(const plot *p, size_t row, long col)
{
    return p->summary.cell[row * p->summary.n_cols + (size_t)col];
}

static int read_summary(plot *p, const char *dir, long *id_col,
                        long *status_col)
{
    char path[4200], why[4400];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    if (plotdata__read_table(path, &p->summary, why, sizeof why) != 0) {
        plot__complain("%s%s", why, access(path, F_OK) != 0
                       ? " (a batch writes it when its run ends: run "
                         "twinctl batch again to finish it)" : "");
        return -1;
    }
    *id_col = plotdata__column(&p->summary, "id");
    *status_col = plotdata__column(&p->summary, "status");
    if (*id_col < 0 || *status_col < 0) {
        plot__complain("%s is not a batch's summary: it has no id or status "
                       "column", path);
        return -1;
    }
    return 0;
}

/* "3 of 40 cases not shown: 2 failed, 1 timeout". */
static void note_unfinished(plot *p, long status_col)
{
    const char *st[16];
    size_t count[16], n = 0, total = 0;
    for (size_t r = 0; r < p->summary.n_rows; r++) {
        const char *s = cell(p, r, status_col);
        if (strcmp(s, "finished") == 0)
            continue;
        total++;
        size_t k = 0;
        while (k < n && strcmp(st[k], s) != 0)
            k++;
        if (k == n && n < 16)
            st[n] = s, count[n++] = 0;
        if (k < n)
            count[k]++;
    }
    if (total == 0)
        return;
    char list[512] = "";
    size_t w = 0;
    for (size_t k = 0; k < n && w < sizeof list; k++)
        w += (size_t)snprintf(list + w, sizeof list - w, "%s%zu %s",
                              k ? ", " : "", count[k], st[k]);
    plot__caption(p, "%zu of %zu cases not shown: %s", total,
                  p->summary.n_rows, list);
}

/* Rows every stride-th (and the last), so that an envelope fits in
 * PLOT_ENVELOPE_VALUES. */
static int keep_every(plot_run *run, size_t stride)
{
    size_t *keep = malloc((run->n_rows + 1) * sizeof *keep), n = 0;
    if (keep == NULL)
        return -1;
    for (size_t i = 0; i < run->n_rows; i += stride)
        keep[n++] = i;
    if (keep[n - 1] != run->n_rows - 1)
        keep[n++] = run->n_rows - 1;
    plotdata__keep_rows(run, keep, n);
    free(keep);
    return 0;
}

/* Read the finished cases' rows: thinned for --overlay; every row (or
 * every stride-th, see PLOT_ENVELOPE_VALUES) for an envelope, which is
 * thinned once computed. */
static int read_cases(plot *p, const char *dir, size_t *stride)
{
    long id_col, status_col;
    char path[4400], why[4400];
    size_t finished = 0;
    if (read_summary(p, dir, &id_col, &status_col) != 0)
        return 2;
    for (size_t r = 0; r < p->summary.n_rows; r++)
        finished += strcmp(cell(p, r, status_col), "finished") == 0;
    *stride = 1;
    for (size_t r = 0; r < p->summary.n_rows; r++) {
        if (strcmp(cell(p, r, status_col), "finished") != 0)
            continue;
        /* The rows as --rows --format wrote them: CSV, HDF5 or MAT. */
        static const rows_format formats[] = {ROWS_CSV, ROWS_HDF5, ROWS_MAT};
        for (size_t f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/cases/%s%s", dir,
                     cell(p, r, id_col), rows_out__extension(formats[f]));
            if (access(path, F_OK) == 0)
                break;
        }
        if (access(path, F_OK) != 0) {
            snprintf(path, sizeof path, "%s/cases/%s.csv", dir,
                     cell(p, r, id_col));
            plot__complain("%s: no such file: the batch ran without --rows; "
                           "twinctl batch FILE -o %s --rows runs again only "
                           "the cases whose rows are missing", path, dir);
            return 2;
        }
        if (plot__add_run(p, path, cell(p, r, id_col), why, sizeof why)) {
            plot__complain("%s", why);
            return 2;
        }
        plot_run *run = &p->runs[p->n_runs - 1];
        if (p->n_runs == 1 && p->mode == M_ENVELOPE) {
            double values = (double)finished * (double)run->n_rows *
                            (double)run->n_col;
            *stride = (size_t)ceil(values / PLOT_ENVELOPE_VALUES);
        }
        int rc = p->mode == M_ENVELOPE
                     ? (*stride > 1 ? keep_every(run, *stride) : 0)
                     : plot__thin(p, run);
        if (rc != 0)
            return 1;
    }
    if (p->n_runs == 0) {
        plot__complain("%s: no case finished, so there is nothing to draw "
                       "(see its summary.csv)", dir);
        return 2;
    }
    note_unfinished(p, status_col);
    return 0;
}

/* An envelope needs the cases on one time grid. */
static int same_times(const plot *p)
{
    const plot_run *a = &p->runs[0];
    for (size_t i = 1; i < p->n_runs; i++) {
        const plot_run *b = &p->runs[i];
        if (b->n_rows != a->n_rows ||
            memcmp(b->t, a->t, a->n_rows * sizeof *a->t) != 0) {
            plot__complain("case %s has its rows at other times than case "
                           "%s: an envelope needs one time grid (--overlay "
                           "draws them all the same)", p->run_label[i],
                           p->run_label[0]);
            return 0;
        }
    }
    return 1;
}

/* Keep the rows of channel k's envelope that plotdata__thin picks from
 * its five series, so that the drawn bands keep their peaks. */
static int thin_envelope(plot *p, size_t k)
{
    plot_envelope *e = &p->env[k];
    size_t n = e->n;
    double *m = malloc((5 * n + 1) * sizeof *m);
    size_t *keep = malloc((n + 1) * sizeof *keep);
    p->env_t[k] = malloc((n + 1) * sizeof *p->env_t[k]);
    if (m == NULL || keep == NULL || p->env_t[k] == NULL) {
        free(m);
        free(keep);
        return -1;
    }
    double *s[5] = {e->min, e->max, e->lo, e->hi, e->median};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 5; j++)
            m[5 * i + j] = s[j][i];
    size_t kept = plotdata__thin(m, n, 5, p->band > 0 ? 5 : 2,
                                 p->max_points, keep);
    if (kept < n)
        p->thinned = 1;
    for (size_t w = 0; w < kept; w++) {
        p->env_t[k][w] = p->runs[0].t[keep[w]];
        for (size_t j = 0; j < 5; j++)
            s[j][w] = s[j][keep[w]];
    }
    e->n = kept;
    free(m);
    free(keep);
    return 0;
}

static int draw_envelope(plot *p, size_t k, double ts)
{
    const plot_run *a = &p->runs[0];
    size_t n = a->n_rows;
    double *y = malloc((p->n_runs * n + 1) * sizeof *y);
    if (y == NULL)
        return 1;
    for (size_t c = 0; c < p->n_runs; c++)
        for (size_t j = 0; j < n; j++)
            y[c * n + j] = p->runs[c].v[j * p->runs[c].n_col + k];
    double lo = p->band, hi = 100 - p->band;
    int rc = plotstats__envelope(y, p->n_runs, n, lo, hi, &p->env[k]);
    free(y);
    if (rc != 0 || thin_envelope(p, k) != 0)
        return 1;
    const plot_envelope *e = &p->env[k];
    gp_panel *pn = &p->panel[k];
    unsigned c = plot__color(k);
    gp_item base = {.color = c, .n = e->n, .x = p->env_t[k],
                    .x_scale = ts};
    gp_item *it = plot__add_item(pn);
    if (it == NULL)
        return 1;
    *it = base;
    it->style = GP_BAND;
    it->title = "min–max";
    it->alpha = 0.18;
    it->y = e->min;
    it->y2 = e->max;
    if (p->band > 0) {
        if ((it = plot__add_item(pn)) == NULL)
            return 1;
        *it = base;
        it->style = GP_BAND;
        it->title = plot__keep(p, "%g–%g %%", lo, hi);
        it->alpha = 0.4;
        it->y = e->lo;
        it->y2 = e->hi;
    }
    if ((it = plot__add_item(pn)) == NULL)
        return 1;
    *it = base;
    it->style = GP_LINE;
    it->title = "median";
    it->y = e->median;
    return 0;
}

int plot_batch__save_envelope(const plot *p, const char *path)
{
    json_t *all = json_object(), *doc = json_pack("{s:o}", "envelopes", all);
    for (size_t k = 0; doc != NULL && k < p->runs[0].n_col; k++) {
        const plot_envelope *e = &p->env[k];
        const double *lo = p->band > 0 ? e->lo : e->min;
        const double *hi = p->band > 0 ? e->hi : e->max;
        json_t *band = json_array();
        for (size_t i = 0; band != NULL && i < e->n; i++)
            if (isfinite(lo[i]) && isfinite(hi[i]))
                json_array_append_new(band, json_pack(
                    "[f, f, f]", p->env_t[k][i] - p->runs[0].t[0], lo[i],
                    hi[i]));
        json_object_set_new(all, plot__column(p, k),
                            json_pack("{s:o}", "band", band));
    }
    int rc = doc == NULL ? -1
             : json_dump_file(doc, path, JSON_INDENT(1) | JSON_COMPACT |
                                             JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (rc != 0) {
        plot__complain("cannot write the envelope to %s: %s", path,
                       errno ? strerror(errno) : "out of memory");
        return 1;
    }
    return 0;
}

int plot_batch__draw_cases(plot *p, const char *dir)
{
    size_t stride;
    int rc = read_cases(p, dir, &stride);
    if (rc != 0)
        return rc;
    if (p->mode == M_ENVELOPE && !same_times(p))
        return 2;
    double ts = plot__time_scale(p);
    p->n_panel = p->runs[0].n_col;
    for (size_t k = 0; k < p->n_panel; k++) {
        const char *name = plot__column(p, k);
        p->panel[k].ylabel = plot__label(p, name,
                                         plot_units__signal(p, name));
        if (p->mode == M_ENVELOPE) {
            if (draw_envelope(p, k, ts) != 0)
                return 1;
            continue;
        }
        for (size_t c = 0; c < p->n_runs; c++) {
            gp_item *it = plot__add_item(&p->panel[k]);
            if (it == NULL)
                return 1;
            *it = (gp_item){.style = GP_THIN, .color = plot__color(k),
                            .n = p->runs[c].n_rows, .x = p->runs[c].t,
                            .y = p->runs[c].v + k,
                            .stride = p->runs[c].n_col, .x_scale = ts};
            if (c == 0)
                it->title = plot__keep(p, "each case (%zu)", p->n_runs);
        }
    }
    p->fig.xlabel = plot__time_label(ts);
    p->fig.x_tight = 1;
    if (p->title == NULL)
        p->title = p->mode == M_ENVELOPE
                       ? plot__keep(p, "%s: envelope of %zu cases",
                                    batch_name(p, dir), p->n_runs)
                       : plot__keep(p, "%s: %zu cases", batch_name(p, dir),
                                    p->n_runs);
    if (stride > 1)
        plot__caption(p, "the envelope of every %zu-th row of %zu (a "
                      "bigger batch than %u values)", stride,
                      p->rows_of_longest, PLOT_ENVELOPE_VALUES);
    plot__note_thinning(p);
    return 0;
}

/* ---- a KPI against a factor --------------------------------------------- */

static int is_kpi(const plot *p, const char *name)
{
    if (p->b == NULL)
        return strcmp(name, "id") != 0 && strcmp(name, "status") != 0 &&
               strcmp(name, "message") != 0;
    for (size_t i = 0; i < p->b->n_kpi; i++)
        if (strcmp(p->b->kpi[i], name) == 0)
            return 1;
    return 0;
}

static int is_factor(const plot *p, const char *name)
{
    if (p->b == NULL)
        return is_kpi(p, name);
    for (size_t i = 0; i < p->b->n_f; i++)
        if (strcmp(p->b->f[i].name, name) == 0)
            return 1;
    return 0;
}

/* The summary's column name, which must be a KPI (kpi) or a factor;
 * else -1, having listed those there are. */
static long summary_column(const plot *p, const char *name, int kpi,
                           const char *flag, const char *path)
{
    long col = plotdata__column(&p->summary, name);
    if (col >= 0 && (kpi ? is_kpi(p, name) : is_factor(p, name)))
        return col;
    char names[2048] = "";
    size_t w = 0;
    for (size_t i = 0; i < p->summary.n_cols && w < sizeof names; i++) {
        const char *c = p->summary.head[i];
        if (kpi ? is_kpi(p, c) : is_factor(p, c))
            w += (size_t)snprintf(names + w, sizeof names - w, "%s%s",
                                  w ? ", " : "", c);
    }
    plot__complain("%s %s: %s has no %s of that name; its %s are %s", flag,
                   name, path, kpi ? "KPI" : "factor",
                   kpi ? "KPIs" : "factors", names[0] ? names : "none");
    return -1;
}

typedef struct kpi_point {
    double x, y;
    size_t group;
} kpi_point;

static int by_group_x(const void *a, const void *b)
{
    const kpi_point *p = a, *q = b;
    if (p->group != q->group)
        return p->group < q->group ? -1 : 1;
    return (p->x > q->x) - (p->x < q->x);
}

/* One item per group (a value of --by; one group without), its points
 * in order of x. */
static int kpi_items(plot *p, const kpi_point *pt, size_t n,
                     const char *const *group, size_t n_groups)
{
    p->kpi_xy = malloc((2 * n + 1) * sizeof *p->kpi_xy);
    if (p->kpi_xy == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        p->kpi_xy[i] = pt[i].x;
        p->kpi_xy[n + i] = pt[i].y;
    }
    const char *gu = p->by ? plot_units__factor(p, p->by) : NULL;
    int unitless = gu == NULL || gu[0] == '\0' || strcmp(gu, "1") == 0;
    for (size_t g = 0, i = 0; g < n_groups; g++) {
        size_t start = i;
        while (i < n && pt[i].group == g)
            i++;
        gp_item *it = plot__add_item(&p->panel[0]);
        if (it == NULL)
            return 1;
        *it = (gp_item){.style = p->by ? GP_LINEPOINTS : GP_POINTS,
                        .color = plot__color(g), .n = i - start,
                        .x = p->kpi_xy + start, .y = p->kpi_xy + n + start};
        it->title = p->by == NULL ? NULL
                    : unitless ? plot__keep(p, "%s = %s", p->by, group[g])
                               : plot__keep(p, "%s = %s %s", p->by,
                                            group[g], gu);
    }
    return 0;
}

int plot_batch__draw_kpi(plot *p, const char *dir)
{
    long id_col, status_col;
    char path[4200], unit[128];
    if (read_summary(p, dir, &id_col, &status_col) != 0)
        return 2;
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    long kc = summary_column(p, p->kpi, 1, "--kpi", path);
    long xc = kc < 0 ? -1 : summary_column(p, p->vs, 0, "--vs", path);
    long gc = xc < 0 || p->by == NULL
                  ? -1 : summary_column(p, p->by, 0, "--by", path);
    if (kc < 0 || xc < 0 || (p->by != NULL && gc < 0))
        return 2;

    size_t rows = p->summary.n_rows, n = 0, no_value = 0, n_groups = 0;
    kpi_point *pt = calloc(rows + 1, sizeof *pt);
    const char **group = calloc(rows + 1, sizeof *group);
    int rc = 1;
    if (pt == NULL || group == NULL)
        goto exit;
    for (size_t r = 0; r < rows; r++) {
        if (strcmp(cell(p, r, status_col), "finished") != 0)
            continue;
        const char *ys = cell(p, r, kc);
        char *end;
        double y = strtod(ys, &end);
        if (ys[0] == '\0' || *end != '\0' || !isfinite(y)) {
            no_value++;
            continue;
        }
        const char *g = gc >= 0 ? cell(p, r, gc) : "";
        size_t k = 0;
        while (k < n_groups && strcmp(group[k], g) != 0)
            k++;
        if (k == n_groups)
            group[n_groups++] = g;
        pt[n++] = (kpi_point){.x = strtod(cell(p, r, xc), NULL), .y = y,
                              .group = k};
    }
    if (n == 0) {
        plot__complain("%s: no finished case has a value of %s, so there is "
                       "nothing to draw (see its message column)", path,
                       p->kpi);
        rc = 2;
        goto exit;
    }
    qsort(pt, n, sizeof *pt, by_group_x);
    p->n_panel = 1;
    p->fig.key_outside = p->by != NULL;
    if ((rc = kpi_items(p, pt, n, group, n_groups)) != 0)
        goto exit;
    p->panel[0].ylabel = plot__label(
        p, p->kpi, plot_units__kpi(p, p->kpi, unit, sizeof unit));
    p->fig.xlabel = plot__label(p, p->vs, plot_units__factor(p, p->vs));
    if (p->title == NULL)
        p->title = plot__keep(p, "%s: %s against %s", batch_name(p, dir),
                              p->kpi, p->vs);
    note_unfinished(p, status_col);
    if (no_value)
        plot__caption(p, "%zu finished case%s without a value of %s not "
                      "shown (see the summary's message)", no_value,
                      no_value == 1 ? "" : "s", p->kpi);
exit:
    free(pt);
    free(group);
    return rc;
}
