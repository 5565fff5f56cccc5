/*
 * plot_gp.h — a figure as a gnuplot script, and gnuplot run on it.
 *
 * A figure is one or more panels stacked over one x axis, each with its
 * y label and its items: lines, thin lines (one of many cases), bands,
 * points.  gp__write writes a self-contained gnuplot 5 script, its data
 * inline as datablocks, so the same text goes to gnuplot through a pipe
 * or into a file (`twinctl plot --script`) to be rendered elsewhere.
 *
 * Every string from outside (names, units, titles, a file name) is
 * written as a gnuplot string literal with its quotes and backslashes
 * escaped, on a terminal without enhanced text, so no name is read as
 * gnuplot syntax or markup.  A PNG comes from the pngcairo terminal, or
 * the libgd png one where gnuplot has no cairo; an SVG from svg.
 *
 * gp__render runs the gnuplot found on PATH as a child with posix_spawn
 * and an argv (no shell), the script on its stdin; the image it writes on its stdout goes
 * to a temporary file next to the output, renamed over it only when
 * gnuplot succeeded, so a failed plot leaves no half file.
 */
#ifndef TWIN_PLOT_GP_H
#define TWIN_PLOT_GP_H

#include <stddef.h>
#include <stdio.h>

typedef enum gp_style {
    GP_LINE,        /* a line */
    GP_THIN,        /* a thin, translucent line: one of many */
    GP_BAND,        /* the area between y and y2, translucent */
    GP_POINTS,      /* filled circles */
    GP_LINEPOINTS   /* filled circles joined by a line */
} gp_style;

typedef struct gp_item {
    gp_style style;
    const char *title;      /* its entry in the key; NULL: none */
    unsigned color;         /* 0xRRGGBB */
    double alpha;           /* GP_BAND: opacity of the fill, 0..1 */
    size_t n;               /* points */
    const double *x;        /* x[i] */
    const double *y;        /* y[i * stride] */
    const double *y2;       /* GP_BAND: the other edge, y2[i * stride] */
    size_t stride;          /* 0 or 1: consecutive */
    double x_scale;         /* x values are divided by it (0 or 1: as
                             * they are) */
} gp_item;

typedef struct gp_panel {
    const char *ylabel;
    gp_item *items;
    size_t n_items;
} gp_panel;

typedef enum gp_format { GP_PNG, GP_SVG } gp_format;

typedef struct gp_figure {
    gp_format format;
    unsigned width, height; /* pixels */
    const char *title;      /* above the panels; NULL: none */
    const char *xlabel;
    const char *caption;    /* a small line under the plot; NULL: none */
    const char *output;     /* named in the script by `set output`; NULL:
                             * the image goes to gnuplot's stdout */
    int x_tight;            /* the x range is the data's, exactly (time);
                             * else gnuplot's with a margin (points) */
    int key_outside;        /* the key right of the panels, not in them */
    gp_panel *panels;
    size_t n_panels;
} gp_figure;

/* The gnuplot's form of s: a double-quoted string literal. */
void gp__string(FILE *f, const char *s);

/* The file format an output name asks for: ".png" or ".svg" (any case).
 * Returns 0 and sets *fmt, or -1. */
int gp__format_of(const char *path, gp_format *fmt);

/* Write fig as a gnuplot script.  Returns 0, or -1 when writing failed. */
int gp__write(FILE *f, const gp_figure *fig);

typedef enum gp_status {
    GP_OK = 0,
    GP_FAILED = 1,          /* gnuplot ran and failed, or the output
                             * could not be written: why says which */
    GP_MISSING = 3          /* there is no gnuplot on PATH */
} gp_status;

/* Run gnuplot on script (len bytes) and put its image at output.  Its
 * messages go to our stderr. */
gp_status gp__render(const char *script, size_t len, const char *output,
                     char *why, size_t why_len);

#endif
