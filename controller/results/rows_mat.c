/*
 * rows_mat.c — a run's rows as a MAT file (version 4) in the layout
 * Modelica tools write and read (Dymola's and OpenModelica's result files,
 * "binTrans"): Aclass ("Atrajectory", "1.1", "", "binTrans"), name and
 * description (one string per column, a column of a character matrix
 * each; the description ends in the unit, "[m]"), dataInfo (per column:
 * which data matrix, its row there, interpolation, extrapolation), data_1
 * (the time of the first and the last row) and data_2 (one column per
 * row of the run: t and the values).  The first column is called "time",
 * as those tools expect; docs/results.md says how to read it.
 *
 * libmatio writes a variable only whole: it cannot add columns to data_2
 * as rows come.  So the rows go, as they come, to a spill file beside the
 * target (PATH.spill) as raw doubles, row after row — which is data_2's
 * layout in the file exactly; close maps the spill file and hands the
 * mapping to libmatio (MAT_F_DONT_COPY_DATA), which writes the MAT file
 * at PATH, and removes the spill.  Memory stays bounded (the mapping is
 * the page cache's); the cost is writing the rows twice.  A process killed
 * before close (SIGKILL, a power cut) leaves PATH empty and the rows in
 * PATH.spill.
 */
#include "rows_mat.h"

#include <errno.h>
#include <fcntl.h>
#include <matio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct rows_mat {
    char *path, *spill;
    FILE *f;               /* the spill file */
    size_t n;              /* columns */
    char **names, **desc;  /* n each, from the header */
    unsigned long long rows;
    double first_t, last_t;
};

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++)
        free(s[i]);
    free(s);
}

static void mat_free(rows_mat *m)
{
    if (m->f != NULL)
        fclose(m->f);
    free_strings(m->names, m->n);
    free_strings(m->desc, m->n);
    free(m->path);
    free(m->spill);
    free(m);
}

rows_mat *rows_mat__open(const char *path, char *why, size_t why_len)
{
    rows_mat *m = calloc(1, sizeof *m);
    if (m == NULL || (m->path = strdup(path)) == NULL ||
        asprintf(&m->spill, "%s.spill", path) < 0) {
        if (m != NULL)
            m->spill = NULL;
        rows_out__say(why, why_len, "out of memory opening %s", path);
        goto fail;
    }
    /* The target now, so that a path that cannot be written is said at
     * once and not after the run. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rows_out__say(why, why_len, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    if ((m->f = fopen(m->spill, "w+e")) == NULL) {
        rows_out__say(why, why_len, "cannot write %s (the rows of %s until it is "
            "finished): %s", m->spill, path, strerror(errno));
        goto fail;
    }
    return m;
fail:
    if (m != NULL)
        mat_free(m);
    return NULL;
}

/* "description [unit]", or either alone, or "". */
static char *describe(const char *text, const char *unit)
{
    char *s;
    text = text ? text : "";
    unit = unit ? unit : "";
    if (asprintf(&s, "%s%s%s%s%s", text, text[0] && unit[0] ? " " : "",
                 unit[0] ? "[" : "", unit, unit[0] ? "]" : "") < 0)
        return NULL;
    return s;
}

int rows_mat__header(rows_mat *m, const rows_header *h, char *why,
                     size_t why_len)
{
    m->n = h->n;
    m->names = calloc(h->n, sizeof *m->names);
    m->desc = calloc(h->n, sizeof *m->desc);
    if (m->names == NULL || m->desc == NULL)
        goto oom;
    for (size_t i = 0; i < h->n; i++) {
        /* The abscissa is "time" in the Modelica tools' files. */
        m->names[i] = strdup(i == 0 ? "time" : h->names[i]);
        m->desc[i] = i == 0 ? strdup("Time [s]")
                            : describe(h->descriptions ? h->descriptions[i]
                                                       : NULL,
                                       h->units ? h->units[i] : NULL);
        if (m->names[i] == NULL || m->desc[i] == NULL)
            goto oom;
    }
    return 0;
oom:
    rows_out__say(why, why_len, "out of memory writing %s", m->path);
    return -1;
}

int rows_mat__row(rows_mat *m, const double *values, char *why,
                  size_t why_len)
{
    if (fwrite(values, sizeof *values, m->n, m->f) != m->n) {
        rows_out__say(why, why_len, "writing %s (the rows of %s until it is "
            "finished) failed: %s", m->spill, m->path,
            strerror(errno ? errno : EIO));
        return -1;
    }
    if (m->rows++ == 0)
        m->first_t = values[0];
    m->last_t = values[0];
    return 0;
}

/* strings as a character matrix of one column each, padded with blanks
 * (column-major: each string's characters side by side). */
static matvar_t *char_matrix(const char *name, char *const *s, size_t n,
                             char **buf)
{
    size_t width = 1;
    for (size_t i = 0; i < n; i++)
        if (strlen(s[i]) > width)
            width = strlen(s[i]);
    *buf = malloc(width * (n ? n : 1));
    if (*buf == NULL)
        return NULL;
    memset(*buf, ' ', width * n);
    for (size_t i = 0; i < n; i++)
        memcpy(*buf + i * width, s[i], strlen(s[i]));
    size_t dims[2] = {width, n};
    return Mat_VarCreate(name, MAT_C_CHAR, MAT_T_UINT8, 2, dims, *buf,
                         MAT_F_DONT_COPY_DATA);
}

/* Write one variable; returns 0, or -1. */
static int put(mat_t *mat, matvar_t *v)
{
    int rc = v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) == 0
                 ? 0 : -1;
    Mat_VarFree(v);
    return rc;
}

/* Write the MAT file of rows rows at data (n × rows doubles). */
static int write_mat(rows_mat *m, const double *data, size_t rows)
{
    static char *const aclass[] = {"Atrajectory", "1.1", "", "binTrans"};
    char *nbuf = NULL, *dbuf = NULL;
    int32_t *info = malloc(4 * (m->n ? m->n : 1) * sizeof *info);
    int rc = -1;
    mat_t *mat = Mat_CreateVer(m->path, NULL, MAT_FT_MAT4);
    if (mat == NULL || info == NULL)
        goto exit;
    /* Aclass is read row by row: a matrix of 4 rows, column-major. */
    char ac[4 * 11];
    for (size_t r = 0; r < 4; r++)
        for (size_t c = 0; c < 11; c++)
            ac[c * 4 + r] = c < strlen(aclass[r]) ? aclass[r][c] : ' ';
    size_t adims[2] = {4, 11};
    if (put(mat, Mat_VarCreate("Aclass", MAT_C_CHAR, MAT_T_UINT8, 2, adims,
                               ac, MAT_F_DONT_COPY_DATA)) != 0 ||
        put(mat, char_matrix("name", m->names, m->n, &nbuf)) != 0 ||
        put(mat, char_matrix("description", m->desc, m->n, &dbuf)) != 0)
        goto exit;
    /* time: the abscissa, row 1 of data_1 (and of data_2); the rest:
     * row k of data_2, linear, undefined outside the time range. */
    for (size_t i = 0; i < m->n; i++) {
        info[4 * i] = i == 0 ? 0 : 2;
        info[4 * i + 1] = (int32_t)(i + 1);
        info[4 * i + 2] = 0;
        info[4 * i + 3] = -1;
    }
    size_t idims[2] = {4, m->n};
    double d1[2] = {m->first_t, m->last_t};
    size_t d1dims[2] = {1, 2}, d2dims[2] = {m->n, rows};
    if (put(mat, Mat_VarCreate("dataInfo", MAT_C_INT32, MAT_T_INT32, 2,
                               idims, info, MAT_F_DONT_COPY_DATA)) != 0 ||
        put(mat, Mat_VarCreate("data_1", MAT_C_DOUBLE, MAT_T_DOUBLE, 2,
                               d1dims, d1, MAT_F_DONT_COPY_DATA)) != 0 ||
        put(mat, Mat_VarCreate("data_2", MAT_C_DOUBLE, MAT_T_DOUBLE, 2,
                               d2dims, (void *)data,
                               MAT_F_DONT_COPY_DATA)) != 0)
        goto exit;
    rc = 0;
exit:
    if (mat != NULL && Mat_Close(mat) != 0)
        rc = -1;
    free(info);
    free(nbuf);
    free(dbuf);
    return rc;
}

int rows_mat__close(rows_mat **mp, char *why, size_t why_len)
{
    rows_mat *m = *mp;
    void *map = MAP_FAILED;
    size_t size = 0;
    int rc = -1;
    if (m == NULL)
        return 0;
    *mp = NULL;
    errno = 0;
    if (fflush(m->f) != 0 || ferror(m->f)) {
        rows_out__say(why, why_len, "writing %s (the rows of %s until it is "
            "finished) failed: %s", m->spill, m->path,
            strerror(errno ? errno : EIO));
        goto exit;
    }
    size = (size_t)m->rows * m->n * sizeof(double);
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_SHARED, fileno(m->f), 0);
        if (map == MAP_FAILED) {
            rows_out__say(why, why_len, "cannot map %s (the rows of %s) to write "
                "the MAT file: %s", m->spill, m->path, strerror(errno));
            goto exit;
        }
        madvise(map, size, MADV_SEQUENTIAL);
    }
    errno = 0;
    if (write_mat(m, size ? map : NULL, (size_t)m->rows) != 0) {
        rows_out__say(why, why_len, "writing the MAT file %s failed%s%s", m->path,
            errno ? ": " : "", errno ? strerror(errno) : "");
        goto exit;
    }
    rc = 0;
exit:
    if (map != MAP_FAILED)
        munmap(map, size);
    if (rc == 0)
        unlink(m->spill); /* else the rows stay there */
    mat_free(m);
    return rc;
}
