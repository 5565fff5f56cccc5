/*
 * plot_gp.c — writing a figure as a gnuplot script and running gnuplot
 * on it (see plot_gp.h).  The only file that knows gnuplot's syntax.
 */
#include "plot_gp.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void gp__string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fputc(' ', f);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int gp__format_of(const char *path, gp_format *fmt)
{
    size_t n = strlen(path);
    if (n > 4 && strcasecmp(path + n - 4, ".png") == 0)
        *fmt = GP_PNG;
    else if (n > 4 && strcasecmp(path + n - 4, ".svg") == 0)
        *fmt = GP_SVG;
    else
        return -1;
    return 0;
}

static void number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.10g", v);
    else
        fputs(" NaN", f);
}

/* The item's data as datablock $d<p>_<i>: x y [y2] per line. */
static void datablock(FILE *f, size_t p, size_t i, const gp_item *it)
{
    size_t s = it->stride ? it->stride : 1;
    double xs = it->x_scale > 0 ? it->x_scale : 1;
    fprintf(f, "$d%zu_%zu << EOD\n", p, i);
    for (size_t k = 0; k < it->n; k++) {
        number(f, it->x[k] / xs);
        number(f, it->y[k * s]);
        if (it->style == GP_BAND)
            number(f, it->y2[k * s]);
        fputc('\n', f);
    }
    fputs("EOD\n", f);
}

static void terminal(FILE *f, const gp_figure *fig)
{
    if (fig->format == GP_SVG) {
        fprintf(f, "set terminal svg size %u,%u noenhanced font \"sans,12\" "
                "background \"white\"\n", fig->width, fig->height);
        return;
    }
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "    set terminal pngcairo size %u,%u noenhanced font "
            "\"sans,10\" background \"white\"\n"
            "} else {\n"
            "    set terminal png size %u,%u noenhanced truecolor font "
            "\"sans,9\"\n"
            "}\n", fig->width, fig->height, fig->width, fig->height);
}

/* "with ..." for an item: style, width, colour. */
static void item_style(FILE *f, const gp_item *it)
{
    unsigned c = it->color & 0xffffffu;
    switch (it->style) {
    case GP_LINE:
        fprintf(f, "with lines lw 2 lc rgb \"#%06x\"", c);
        break;
    case GP_THIN:
        fprintf(f, "with lines lw 1 lc rgb \"#a0%06x\"", c);
        break;
    case GP_BAND:
        fprintf(f, "with filledcurves fs transparent solid %.2f noborder "
                "lc rgb \"#%06x\"", it->alpha > 0 ? it->alpha : 0.25, c);
        break;
    case GP_POINTS:
        fprintf(f, "with points pt 7 ps 1 lc rgb \"#%06x\"", c);
        break;
    case GP_LINEPOINTS:
        fprintf(f, "with linespoints pt 7 ps 1 lw 1.5 lc rgb \"#%06x\"", c);
        break;
    }
}

/* The smallest and largest x of the figure (NaN when there is none). */
static void x_range(const gp_figure *fig, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t p = 0; p < fig->n_panels; p++)
        for (size_t i = 0; i < fig->panels[p].n_items; i++) {
            const gp_item *it = &fig->panels[p].items[i];
            double xs = it->x_scale > 0 ? it->x_scale : 1;
            for (size_t k = 0; k < it->n; k++) {
                double x = it->x[k] / xs;
                if (isfinite(x) && x < *lo)
                    *lo = x;
                if (isfinite(x) && x > *hi)
                    *hi = x;
            }
        }
}

int gp__write(FILE *f, const gp_figure *fig)
{
    fputs("# A figure of twinctl plot: render it with  gnuplot THIS-FILE  "
          "(gnuplot 5)\n"
          "set encoding utf8\n", f);
    terminal(f, fig);
    if (fig->output) {
        fputs("set output ", f);
        gp__string(f, fig->output);
        fputc('\n', f);
    }
    for (size_t p = 0; p < fig->n_panels; p++)
        for (size_t i = 0; i < fig->panels[p].n_items; i++)
            datablock(f, p, i, &fig->panels[p].items[i]);

    /* Margins in pixels, as screen fractions: room on the left for tic
     * labels and the y label, at the bottom for the x label and the
     * caption, at the top for the title. */
    double w = fig->width, h = fig->height;
    double left = 95 / w, right = 1 - (fig->key_outside ? 200 : 25) / w;
    double bottom = (fig->caption ? 78 : 58) / h;
    double top = 1 - (fig->title ? 42 : 16) / h;
    fprintf(f, "set multiplot layout %zu,1 margins %.4f,%.4f,%.4f,%.4f "
            "spacing 0,%.4f", fig->n_panels, left, right, bottom, top,
            14 / h);
    if (fig->title) {
        fputs(" title ", f);
        gp__string(f, fig->title);
        fputs(" font \",13\"", f);
    }
    fprintf(f, "\nset grid back lt 1 lw 1 lc rgb \"#e4e4e4\"\n"
            "set key %s top right noautotitle samplen 2 spacing 1.1\n"
            "set border lc rgb \"#404040\"\n",
            fig->key_outside ? "outside" : "inside");
    double lo, hi;
    x_range(fig, &lo, &hi);
    if (fig->x_tight && lo < hi)
        fprintf(f, "set xrange [%.10g:%.10g]\n", lo, hi);
    else
        fputs("set offsets graph 0.04, graph 0.04, graph 0.08, "
              "graph 0.08\n", f);

    for (size_t p = 0; p < fig->n_panels; p++) {
        const gp_panel *pn = &fig->panels[p];
        int last = p + 1 == fig->n_panels;
        fprintf(f, "# panel %zu\nset ylabel ", p + 1);
        gp__string(f, pn->ylabel ? pn->ylabel : "");
        fputc('\n', f);
        if (last) {
            fputs("set format x \"% h\"\nset xlabel ", f);
            gp__string(f, fig->xlabel ? fig->xlabel : "");
            fputc('\n', f);
            if (fig->caption) {
                fputs("set label 1 ", f);
                gp__string(f, fig->caption);
                fputs(" at screen 0.01, screen 0.018 left font \",9\" "
                      "tc rgb \"#505050\"\n", f);
            }
        } else {
            fputs("set format x \"\"\nunset xlabel\n", f);
        }
        fputs("plot ", f);
        for (size_t i = 0; i < pn->n_items; i++) {
            const gp_item *it = &pn->items[i];
            fprintf(f, "%s$d%zu_%zu using 1:2%s ", i ? ", \\\n     " : "",
                    p, i, it->style == GP_BAND ? ":3" : "");
            item_style(f, it);
            if (it->title) {
                fputs(" title ", f);
                gp__string(f, it->title);
            }
        }
        if (pn->n_items == 0)
            fputs("NaN notitle", f);
        fputc('\n', f);
    }
    fputs("unset multiplot\n", f);
    return ferror(f) ? -1 : 0;
}

/* Write all of buf to fd; a reader that went away ends it early. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, buf, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        buf += k;
        len -= (size_t)k;
    }
    return 0;
}

/* The gnuplot that PATH names, into buf; -1 when there is none. */
static int find_gnuplot(char *buf, size_t len)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if ((size_t)snprintf(buf, len, "%.*s%sgnuplot", (int)n, path,
                             n ? "/" : "./") < len &&
            access(buf, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

gp_status gp__render(const char *script, size_t len, const char *output,
                     char *why, size_t why_len)
{
    char tmp[4200], gnuplot[4200];
    int in[2] = {-1, -1}, out = -1;
    gp_status st = GP_FAILED;
    posix_spawn_file_actions_t fa;
    int have_fa = 0;

    if (find_gnuplot(gnuplot, sizeof gnuplot) != 0) {
        snprintf(why, why_len, "gnuplot is not installed (there is no "
                 "gnuplot on PATH): install it (Debian: apt-get install "
                 "gnuplot-nox), or write the script with --script FILE and "
                 "render it where gnuplot is (gnuplot FILE)");
        return GP_MISSING;
    }
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", output) >= (int)sizeof tmp) {
        snprintf(why, why_len, "the output name is too long");
        return GP_FAILED;
    }
    out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0) {
        snprintf(why, why_len, "cannot write %s: %s", output,
                 strerror(errno));
        return GP_FAILED;
    }
    fchmod(out, 0644);
    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot make a pipe: %s", strerror(errno));
        goto exit;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(why, why_len, "out of memory");
        goto exit;
    }
    have_fa = 1;
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    /* -d: gnuplot's defaults, not the user's ~/.gnuplot. */
    char *argv[] = {"gnuplot", "-d", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, gnuplot, &fa, NULL, argv, environ);
    if (rc != 0) {
        snprintf(why, why_len, "cannot run %s: %s", gnuplot, strerror(rc));
        goto exit;
    }
    close(in[0]);
    in[0] = -1;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    int wrote = write_all(in[1], script, len);
    int werr = errno;
    sigaction(SIGPIPE, &old, NULL);
    close(in[1]);
    in[1] = -1;
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    struct stat sb;
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
            snprintf(why, why_len, "%s could not be run (exit status 127)",
                     gnuplot);
        else if (WIFEXITED(ws))
            snprintf(why, why_len, "gnuplot failed (exit status %d; its "
                     "messages are above); --script FILE writes what it was "
                     "given", WEXITSTATUS(ws));
        else
            snprintf(why, why_len, "gnuplot was killed by signal %d",
                     WTERMSIG(ws));
    } else if (wrote != 0) {
        snprintf(why, why_len, "gnuplot did not read the whole script: %s",
                 strerror(werr));
    } else if (fsync(out) != 0 || fstat(out, &sb) != 0 || sb.st_size == 0) {
        snprintf(why, why_len, "gnuplot wrote no image to %s", output);
    } else {
        int closed = close(out);
        out = -1;
        if (closed != 0 || rename(tmp, output) != 0)
            snprintf(why, why_len, "cannot write %s: %s", output,
                     strerror(errno));
        else
            st = GP_OK;
    }
exit:
    if (have_fa)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++)
        if (in[i] >= 0)
            close(in[i]);
    if (out >= 0)
        close(out);
    if (st != GP_OK)
        unlink(tmp);
    return st;
}
