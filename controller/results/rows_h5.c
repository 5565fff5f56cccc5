/*
 * rows_h5.c — a run's rows as an HDF5 file, through libhdf5: one dataset,
 * /results, of rows × columns doubles (t first), chunked and extendible
 * along the rows, with the column names, their units and descriptions
 * (arrays of strings) and the scenario (its JSON text) as attributes of
 * the dataset.
 *
 * Rows are kept in a buffer of a few chunks and written when it is full
 * (the dataset extended by that many rows), so memory stays bounded; the
 * file is flushed at most once a second after a write, so that a process
 * killed (SIGKILL) keeps a readable file with the rows up to the last
 * flush, and close writes what is left.  Compression (the shuffle filter
 * and deflate) is off unless asked for: it costs more time than writing
 * the rows.  libhdf5's own error printing is turned off; a problem is one
 * sentence that names the file.
 */
#include "rows_h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Bytes of a chunk, and chunks a write holds. */
#define CHUNK_BYTES (256 * 1024)
#define CHUNKS_PER_WRITE 4
/* Seconds between flushes. */
#define FLUSH_EVERY 1.0

struct rows_h5 {
    char *path;
    int compress;
    hid_t file, set;
    size_t n;              /* columns */
    double *buf;           /* cap rows × n */
    size_t held, cap;      /* rows in buf, and its room */
    unsigned long long rows; /* written to the dataset */
    double flushed;        /* util__now of the last flush */
};

rows_h5 *rows_h5__open(const char *path, int compress, char *why,
                       size_t why_len)
{
    rows_h5 *h = calloc(1, sizeof *h);
    hid_t fapl = H5I_INVALID_HID;
    if (h == NULL || (h->path = strdup(path)) == NULL) {
        free(h);
        rows_out__say(why, why_len, "out of memory opening %s", path);
        return NULL;
    }
    h->compress = compress;
    h->file = h->set = H5I_INVALID_HID;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* Created here first for the system's word on why it cannot be. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rows_out__say(why, why_len, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    /* The 1.8 file format at least: attributes of any size (a scenario's
     * text can pass the 64 KiB of the oldest one). */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0 ||
        (h->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        rows_out__say(why, why_len, "cannot create the HDF5 file %s", path);
        goto fail;
    }
    H5Pclose(fapl);
    return h;
fail:
    if (fapl >= 0)
        H5Pclose(fapl);
    free(h->path);
    free(h);
    return NULL;
}

/* An attribute of set: n strings (n = 0: one string, a scalar).  NULL
 * strings are written as "".  Returns 0, or -1. */
static int put_strings(hid_t set, const char *name, const char *const *s,
                       size_t n)
{
    const char **v = calloc(n ? n : 1, sizeof *v);
    hsize_t dim = n;
    hid_t type = H5Tcopy(H5T_C_S1), space = H5I_INVALID_HID,
          attr = H5I_INVALID_HID;
    int rc = -1;
    if (v == NULL || type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        goto exit;
    for (size_t i = 0; i < (n ? n : 1); i++)
        v[i] = s[i] ? s[i] : "";
    space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    if (space < 0 ||
        (attr = H5Acreate2(set, name, type, space, H5P_DEFAULT,
                           H5P_DEFAULT)) < 0 ||
        H5Awrite(attr, type, v) < 0)
        goto exit;
    rc = 0;
exit:
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    free(v);
    return rc;
}

int rows_h5__header(rows_h5 *h, const rows_header *hd, char *why,
                    size_t why_len)
{
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    int rc = -1;
    h->n = hd->n;
    size_t chunk = CHUNK_BYTES / (hd->n * sizeof(double));
    chunk = chunk ? chunk : 1;
    h->cap = chunk * CHUNKS_PER_WRITE;
    if ((h->buf = malloc(h->cap * hd->n * sizeof *h->buf)) == NULL) {
        rows_out__say(why, why_len, "out of memory writing %s", h->path);
        return -1;
    }
    hsize_t dims[2] = {0, hd->n}, max[2] = {H5S_UNLIMITED, hd->n},
            cdims[2] = {chunk, hd->n};
    if ((space = H5Screate_simple(2, dims, max)) < 0 ||
        (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        H5Pset_chunk(dcpl, 2, cdims) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        H5Pset_attr_phase_change(dcpl, 0, 0) < 0 ||
        (h->compress > 0 && (H5Pset_shuffle(dcpl) < 0 ||
                             H5Pset_deflate(dcpl, (unsigned)h->compress) <
                                 0)) ||
        (h->set = H5Dcreate2(h->file, ROWS_H5_DATASET, H5T_IEEE_F64LE, space,
                             H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        rows_out__say(why, why_len, "cannot create the dataset of %s", h->path);
        goto exit;
    }
    const char *scenario[1] = {hd->scenario};
    if (put_strings(h->set, "columns", hd->names, hd->n) != 0 ||
        (hd->units && put_strings(h->set, "units", hd->units, hd->n) != 0) ||
        (hd->descriptions &&
         put_strings(h->set, "descriptions", hd->descriptions, hd->n) != 0) ||
        (hd->scenario && put_strings(h->set, "scenario", scenario, 0) != 0)) {
        rows_out__say(why, why_len, "cannot write the attributes of %s", h->path);
        goto exit;
    }
    h->flushed = util__now();
    rc = 0;
exit:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* Write the rows held; flush when the last flush is a second old. */
static int write_held(rows_h5 *h, char *why, size_t why_len)
{
    if (h->held == 0)
        return 0;
    hsize_t size[2] = {h->rows + h->held, h->n},
            start[2] = {h->rows, 0}, count[2] = {h->held, h->n};
    hid_t file_space = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    int rc = -1;
    if (H5Dset_extent(h->set, size) < 0 ||
        (file_space = H5Dget_space(h->set)) < 0 ||
        H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count,
                            NULL) < 0 ||
        (mem = H5Screate_simple(2, count, NULL)) < 0 ||
        H5Dwrite(h->set, H5T_NATIVE_DOUBLE, mem, file_space, H5P_DEFAULT,
                 h->buf) < 0) {
        rows_out__say(why, why_len, "writing the rows to %s failed (is the disk "
            "full?)", h->path);
        goto exit;
    }
    h->rows += h->held;
    h->held = 0;
    double now = util__now();
    if (now - h->flushed >= FLUSH_EVERY) {
        h->flushed = now;
        if (H5Fflush(h->file, H5F_SCOPE_LOCAL) < 0) {
            rows_out__say(why, why_len, "flushing %s failed", h->path);
            goto exit;
        }
    }
    rc = 0;
exit:
    if (mem >= 0)
        H5Sclose(mem);
    if (file_space >= 0)
        H5Sclose(file_space);
    return rc;
}

int rows_h5__row(rows_h5 *h, const double *values, char *why,
                 size_t why_len)
{
    memcpy(h->buf + h->held * h->n, values, h->n * sizeof *values);
    /* A full buffer, or rows that come slowly (a run in real time): a
     * second's rows are not kept only in memory. */
    if (++h->held == h->cap || util__now() - h->flushed >= FLUSH_EVERY)
        return write_held(h, why, why_len);
    return 0;
}

int rows_h5__close(rows_h5 **hp, char *why, size_t why_len)
{
    rows_h5 *h = *hp;
    if (h == NULL)
        return 0;
    *hp = NULL;
    int rc = h->set >= 0 ? write_held(h, why, why_len) : 0;
    if (h->set >= 0 && H5Dclose(h->set) < 0 && rc == 0) {
        rows_out__say(why, why_len, "closing the dataset of %s failed", h->path);
        rc = -1;
    }
    if (H5Fclose(h->file) < 0 && rc == 0) {
        rows_out__say(why, why_len, "closing %s failed (is the disk full?)", h->path);
        rc = -1;
    }
    free(h->buf);
    free(h->path);
    free(h);
    return rc;
}
