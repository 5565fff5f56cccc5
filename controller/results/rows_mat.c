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
 * Streamed into the file itself.  libmatio writes a variable only whole,
 * so at the header it writes every variable with data_1 = {0, 0} and
 * data_2 of no column, last in the file; what it wrote there is read back
 * and checked.  The rows then go, as they come, after it: a row of the run
 * is a column of data_2, so raw doubles row after row are data_2's data
 * exactly.  They are kept in a buffer of whole rows (1 MiB) and, each time
 * it is written (full, or a second after its first row), data_2's column
 * count and data_1 are written again in place: the file on disk is a
 * valid MAT file with the rows so far between two writes, also for a
 * process killed outright.
 */
#include "rows_mat.h"

#include <errno.h>
#include <fcntl.h>
#include <matio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* What libmatio writes last: data_1's two doubles, then data_2's header
 * (type, rows, columns, imaginary, name length, "data_2\0"). */
#define TAIL_SIZE (2 * 8 + 5 * 4 + 7)
#define TAIL_COLUMNS (2 * 8 + 2 * 4) /* where data_2's column count is */
#define BUFFER_SIZE (1u << 20)

struct rows_mat {
    char *path;
    int fd;                /* the MAT file, after the header */
    size_t n;              /* columns */
    char **names, **desc;  /* n each, from the header */
    unsigned long long rows; /* taken */
    unsigned long long rows_written; /* in the file and its data_2 */
    double first_t, last_t;
    off_t tail;            /* where data_1's doubles are */
    unsigned char tail_bytes[TAIL_SIZE];
    double *buf;           /* whole rows */
    size_t buf_rows, buf_cap;
    double buf_since;      /* when its first row came */
    int head_tried;        /* write_head was called */
};

static int write_head(rows_mat *m, char *why, size_t why_len);

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++)
        free(s[i]);
    free(s);
}

static void mat_free(rows_mat *m)
{
    if (m->fd >= 0)
        close(m->fd);
    free_strings(m->names, m->n);
    free_strings(m->desc, m->n);
    free(m->buf);
    free(m->path);
    free(m);
}

rows_mat *rows_mat__open(const char *path, char *why, size_t why_len)
{
    rows_mat *m = calloc(1, sizeof *m);
    if (m != NULL)
        m->fd = -1;
    if (m == NULL || (m->path = strdup(path)) == NULL) {
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
    return write_head(m, why, why_len);
oom:
    rows_out__say(why, why_len, "out of memory writing %s", m->path);
    return -1;
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

/* Write every variable with data_1 = {0, 0} and data_2 of no column.
 * Returns 0, or -1. */
static int write_mat(rows_mat *m)
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
    double d1[2] = {0, 0};
    size_t d1dims[2] = {1, 2}, d2dims[2] = {m->n, 0};
    if (put(mat, Mat_VarCreate("dataInfo", MAT_C_INT32, MAT_T_INT32, 2,
                               idims, info, MAT_F_DONT_COPY_DATA)) != 0 ||
        put(mat, Mat_VarCreate("data_1", MAT_C_DOUBLE, MAT_T_DOUBLE, 2,
                               d1dims, d1, MAT_F_DONT_COPY_DATA)) != 0 ||
        put(mat, Mat_VarCreate("data_2", MAT_C_DOUBLE, MAT_T_DOUBLE, 2,
                               d2dims, d1, MAT_F_DONT_COPY_DATA)) != 0)
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

/* What write_mat leaves last in the file, as MAT version 4 has it: data_1's
 * {0, 0}, then data_2's header — a double matrix in this machine's byte
 * order (type 0 little-endian, 1000 big-endian), n rows, no column, real,
 * its name. */
static void expected_tail(const rows_mat *m, unsigned char *tail)
{
    const uint16_t one = 1;
    unsigned char little;
    memcpy(&little, &one, 1);
    int32_t head[5] = {little ? 0 : 1000, (int32_t)m->n, 0, 0, 7};
    memset(tail, 0, 16);
    memcpy(tail + 16, head, sizeof head);
    memcpy(tail + 16 + sizeof head, "data_2", 7);
}

/* The file with every variable (write_mat), opened for the rows after
 * data_2's header, which is checked.  Returns 0, or -1 with why. */
static int write_head(rows_mat *m, char *why, size_t why_len)
{
    unsigned char want[TAIL_SIZE];
    struct stat st;
    m->head_tried = 1;
    if (m->n > INT32_MAX) {
        rows_out__say(why, why_len, "%zu columns are more than a MAT file "
            "holds (%s); write HDF5 (-o x.h5)", m->n, m->path);
        return -1;
    }
    m->buf_cap = BUFFER_SIZE / (sizeof(double) * (m->n ? m->n : 1));
    m->buf_cap = m->buf_cap ? m->buf_cap : 1;
    m->buf = malloc(m->buf_cap * (m->n ? m->n : 1) * sizeof(double));
    if (m->buf == NULL) {
        rows_out__say(why, why_len, "out of memory writing %s", m->path);
        return -1;
    }
    errno = 0;
    if (write_mat(m) != 0) {
        rows_out__say(why, why_len, "writing the MAT file %s failed%s%s",
            m->path, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    m->fd = open(m->path, O_RDWR | O_CLOEXEC);
    if (m->fd < 0 || fstat(m->fd, &st) != 0 || st.st_size < TAIL_SIZE) {
        rows_out__say(why, why_len, "cannot write %s: %s", m->path,
            m->fd < 0 ? strerror(errno) : "libmatio wrote less than a "
            "MAT file");
        return -1;
    }
    m->tail = st.st_size - TAIL_SIZE;
    expected_tail(m, want);
    if (pread(m->fd, m->tail_bytes, TAIL_SIZE, m->tail) != TAIL_SIZE ||
        memcmp(m->tail_bytes, want, TAIL_SIZE) != 0 ||
        lseek(m->fd, 0, SEEK_END) < 0) {
        rows_out__say(why, why_len, "cannot write %s: libmatio did not "
            "write data_2 last, as a MAT version 4 header, where its rows "
            "are to follow", m->path);
        return -1;
    }
    return 0;
}

/* All of len bytes at p to fd; returns 0, or -1 with errno. */
static int write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t got = write(fd, c, len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            errno = got < 0 ? errno : EIO;
            return -1;
        }
        c += got;
        len -= (size_t)got;
    }
    return 0;
}

/* The buffered rows to the file, then data_2's column count and data_1
 * in place.  Returns 0, or -1 with why. */
static int write_rows(rows_mat *m, char *why, size_t why_len)
{
    if (m->buf_rows == 0)
        return 0;
    if (write_all(m->fd, m->buf, m->buf_rows * m->n * sizeof(double)) != 0)
        goto failed;
    m->rows_written += m->buf_rows;
    m->buf_rows = 0;
    int32_t columns = (int32_t)m->rows_written;
    double d1[2] = {m->first_t, m->last_t};
    memcpy(m->tail_bytes, d1, sizeof d1);
    memcpy(m->tail_bytes + TAIL_COLUMNS, &columns, sizeof columns);
    if (pwrite(m->fd, m->tail_bytes, TAIL_COLUMNS + 4, m->tail) !=
        TAIL_COLUMNS + 4) {
        errno = errno ? errno : EIO;
        goto failed;
    }
    return 0;
failed:
    rows_out__say(why, why_len, "writing %s failed: %s", m->path,
        strerror(errno ? errno : EIO));
    return -1;
}

int rows_mat__row(rows_mat *m, const double *values, char *why,
                  size_t why_len)
{
    if (m->rows_written + m->buf_rows >= INT32_MAX) {
        rows_out__say(why, why_len, "%s holds %d rows, the most a MAT file "
            "does; write HDF5 (-o x.h5) for longer runs", m->path,
            INT32_MAX);
        return -1;
    }
    if (m->buf_rows == 0)
        m->buf_since = util__now();
    memcpy(m->buf + m->buf_rows * m->n, values, m->n * sizeof *values);
    m->buf_rows++;
    if (m->rows++ == 0)
        m->first_t = values[0];
    m->last_t = values[0];
    /* Full, or rows that come slowly (a run paced in real time): at
     * least once a second. */
    if (m->buf_rows == m->buf_cap || util__now() - m->buf_since >= 1.0)
        return write_rows(m, why, why_len);
    return 0;
}

int rows_mat__close(rows_mat **mp, char *why, size_t why_len)
{
    rows_mat *m = *mp;
    int rc = -1;
    if (m == NULL)
        return 0;
    *mp = NULL;
    /* No header came: a file of no column. */
    if (!m->head_tried && write_head(m, why, why_len) != 0)
        goto exit;
    if (m->fd < 0)
        goto exit; /* the header failed, and said why */
    if (write_rows(m, why, why_len) != 0)
        goto exit;
    if (close(m->fd) != 0) {
        m->fd = -1;
        rows_out__say(why, why_len, "writing %s failed: %s", m->path,
            strerror(errno));
        goto exit;
    }
    m->fd = -1;
    rc = 0;
exit:
    mat_free(m);
    return rc;
}
