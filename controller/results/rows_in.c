/*
 * rows_in.c — MAT and HDF5 result files read back (see rows_in.h).
 *
 * MAT: libmatio reads name, dataInfo, data_1 and data_2 whole (a MAT
 * variable is read whole; the memory is data_2's), and the columns are
 * put back from dataInfo: the abscissa (matrix 0) first as "t", a column
 * of data_2 (matrix 2, its row, negative for a negated one) or a
 * constant of data_1 (matrix 1).  Only the "binTrans" layout (what Dymola,
 * OpenModelica and rows_mat.c write) is read.  HDF5: the dataset
 * /results and its "columns" attribute, read a block of rows at a time.
 */
#include "rows_in.h"

#include <errno.h>
#include <hdf5.h>
#include <matio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H5_BLOCK_ROWS 4096

typedef struct col_src {
    int matrix;            /* 1: data_1, 2: data_2 (0 is data_2's row too) */
    size_t row;            /* in that matrix */
    double sign;
} col_src;

struct rows_in {
    rows_format format;
    char *path;
    size_t n;
    char **names;
    /* MAT */
    matvar_t *data1, *data2;
    col_src *src;
    /* HDF5 */
    hid_t file, set;
    double *block;         /* up to H5_BLOCK_ROWS rows */
    size_t in_block, at_in_block;
    /* both */
    size_t rows, next;     /* rows in the file, the next to give */
};

static int set_names(rows_in *in, size_t n)
{
    in->n = n;
    in->names = calloc(n ? n : 1, sizeof *in->names);
    return in->names ? 0 : -1;
}

/* Value i of a numeric MAT variable (double, single, int32, uint8). */
static double mat_num(const matvar_t *v, size_t i)
{
    switch (v->data_type) {
    case MAT_T_DOUBLE: return ((const double *)v->data)[i];
    case MAT_T_SINGLE: return ((const float *)v->data)[i];
    case MAT_T_INT32: return ((const int32_t *)v->data)[i];
    case MAT_T_UINT8: return ((const uint8_t *)v->data)[i];
    default: return 0;
    }
}

static int mat_numeric(const matvar_t *v)
{
    return v != NULL && v->rank == 2 && v->data != NULL &&
           (v->data_type == MAT_T_DOUBLE || v->data_type == MAT_T_SINGLE ||
            v->data_type == MAT_T_INT32 || v->data_type == MAT_T_UINT8);
}

/* String k of a character matrix of one string per column, blanks and
 * NULs at its end cut. */
static char *mat_string(const matvar_t *v, size_t k)
{
    size_t width = v->dims[0];
    char *s = malloc(width + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < width; i++) {
        double c = mat_num(v, k * width + i);
        s[i] = c > 0 && c < 256 ? (char)(int)c : ' ';
    }
    while (width > 0 && s[width - 1] == ' ')
        width--;
    s[width] = '\0';
    return s;
}

static int open_mat(rows_in *in, char *why, size_t why_len)
{
    mat_t *mat = Mat_Open(in->path, MAT_ACC_RDONLY);
    matvar_t *aclass = NULL, *name = NULL, *info = NULL;
    int rc = -1;
    if (mat == NULL) {
        rows_out__say(why, why_len, "%s is not a MAT file (damaged, or "
                      "another format)", in->path);
        return -1;
    }
    aclass = Mat_VarRead(mat, "Aclass");
    char *layout = mat_numeric(aclass) && aclass->dims[0] >= 4
                       ? malloc(aclass->dims[1] + 1) : NULL;
    if (layout != NULL) {
        for (size_t i = 0; i < aclass->dims[1]; i++)
            layout[i] = (char)(int)mat_num(aclass, 3 + i * aclass->dims[0]);
        layout[aclass->dims[1]] = '\0';
    }
    if (layout == NULL || strncmp(layout, "binTrans", 8) != 0) {
        rows_out__say(why, why_len, "%s is not a result file in the Modelica "
                      "tools' layout: its Aclass is not Atrajectory, 1.1, "
                      "binTrans", in->path);
        goto exit;
    }
    name = Mat_VarRead(mat, "name");
    info = Mat_VarRead(mat, "dataInfo");
    in->data1 = Mat_VarRead(mat, "data_1");
    in->data2 = Mat_VarRead(mat, "data_2");
    if (!mat_numeric(name) || !mat_numeric(info) || !mat_numeric(in->data2) ||
        info->dims[0] < 2 || info->dims[1] != name->dims[1] ||
        info->dims[1] == 0) {
        rows_out__say(why, why_len, "%s is damaged, or no result file: its "
                      "name, dataInfo and data_2 are missing or do not fit",
                      in->path);
        goto exit;
    }
    size_t n = info->dims[1];
    in->rows = in->data2->dims[1];
    if (set_names(in, n) != 0 ||
        (in->src = calloc(n, sizeof *in->src)) == NULL)
        goto oom;
    for (size_t k = 0; k < n; k++) {
        int matrix = (int)mat_num(info, k * info->dims[0]);
        double row = mat_num(info, k * info->dims[0] + 1);
        const matvar_t *m = matrix == 1 ? in->data1 : in->data2;
        size_t r = (size_t)(row < 0 ? -row : row) - 1;
        if ((matrix == 0) != (k == 0) || matrix > 2 || row == 0 ||
            !mat_numeric(m) || r >= m->dims[0] || m->dims[1] == 0) {
            rows_out__say(why, why_len, "%s: column %zu's dataInfo (%d, %g) "
                          "points at no data%s", in->path, k + 1, matrix,
                          row, k == 0 ? " or is not the time" : "");
            goto exit;
        }
        in->src[k] = (col_src){matrix, r, row < 0 ? -1.0 : 1.0};
        in->names[k] = k == 0 ? strdup("t") : mat_string(name, k);
        if (in->names[k] == NULL)
            goto oom;
    }
    rc = 0;
    goto exit;
oom:
    rows_out__say(why, why_len, "out of memory reading %s", in->path);
exit:
    free(layout);
    Mat_VarFree(aclass);
    Mat_VarFree(name);
    Mat_VarFree(info);
    Mat_Close(mat);
    return rc;
}

static int open_h5(rows_in *in, char *why, size_t why_len)
{
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID,
          type = H5I_INVALID_HID, aspace = H5I_INVALID_HID;
    char **names = NULL;
    hsize_t dims[2], n_names = 0;
    int rc = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    in->file = in->set = H5I_INVALID_HID;
    if (H5Fis_hdf5(in->path) <= 0 ||
        (in->file = H5Fopen(in->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        rows_out__say(why, why_len, "%s is not an HDF5 file (damaged, or "
                      "another format)", in->path);
        return -1;
    }
    if ((in->set = H5Dopen2(in->file, "results", H5P_DEFAULT)) < 0 ||
        (space = H5Dget_space(in->set)) < 0 ||
        H5Sget_simple_extent_ndims(space) != 2 ||
        H5Sget_simple_extent_dims(space, dims, NULL) < 0 || dims[1] == 0) {
        rows_out__say(why, why_len, "%s holds no twinctl results: no "
                      "dataset /results of rows × columns", in->path);
        goto exit;
    }
    type = H5Tcopy(H5T_C_S1);
    if ((attr = H5Aopen(in->set, "columns", H5P_DEFAULT)) < 0 ||
        (aspace = H5Aget_space(attr)) < 0 ||
        H5Sget_simple_extent_dims(aspace, &n_names, NULL) != 1 ||
        n_names != dims[1] || type < 0 ||
        H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0 ||
        (names = calloc(n_names, sizeof *names)) == NULL ||
        H5Aread(attr, type, names) < 0) {
        rows_out__say(why, why_len, "%s: the dataset /results has no "
                      "\"columns\" attribute of %llu names", in->path,
                      (unsigned long long)dims[1]);
        goto exit;
    }
    in->rows = dims[0];
    if (set_names(in, dims[1]) != 0 ||
        (in->block = malloc(H5_BLOCK_ROWS * dims[1] * sizeof(double))) ==
            NULL)
        goto exit;
    for (size_t k = 0; k < in->n; k++)
        if ((in->names[k] = strdup(names[k] ? names[k] : "")) == NULL)
            goto exit;
    rc = 0;
exit:
    if (names != NULL) {
        H5Dvlen_reclaim(type, aspace, H5P_DEFAULT, names);
        free(names);
    }
    if (aspace >= 0)
        H5Sclose(aspace);
    if (attr >= 0)
        H5Aclose(attr);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (rc != 0 && why[0] == '\0')
        rows_out__say(why, why_len, "out of memory reading %s", in->path);
    return rc;
}

rows_in *rows_in__open(const char *path, rows_format format, char *why,
                       size_t why_len)
{
    rows_in *in = calloc(1, sizeof *in);
    if (why_len > 0)
        why[0] = '\0';
    if (in == NULL || (in->path = strdup(path)) == NULL) {
        free(in);
        rows_out__say(why, why_len, "out of memory reading %s", path);
        return NULL;
    }
    in->format = format;
    in->file = in->set = H5I_INVALID_HID;
    int rc = access(path, R_OK) != 0 ? -1
             : format == ROWS_MAT ? open_mat(in, why, why_len)
             : format == ROWS_HDF5 ? open_h5(in, why, why_len)
                                   : -1;
    if (rc != 0) {
        if (access(path, R_OK) != 0)
            rows_out__say(why, why_len, errno == ENOENT ? "%s: no such file"
                          : "cannot read %s: %m", path);
        else if (why_len > 0 && why[0] == '\0')
            rows_out__say(why, why_len, "%s: not a MAT or HDF5 file", path);
        rows_in__close(&in);
    }
    return in;
}

size_t rows_in__columns(const rows_in *in)
{
    return in->n;
}

const char *rows_in__name(const rows_in *in, size_t k)
{
    return in->names[k];
}

/* The next block of rows of the HDF5 dataset. */
static int h5_block(rows_in *in, char *why, size_t why_len)
{
    hsize_t start[2] = {in->next, 0}, count[2] = {in->rows - in->next, in->n};
    if (count[0] > H5_BLOCK_ROWS)
        count[0] = H5_BLOCK_ROWS;
    hid_t space = H5Dget_space(in->set), mem = H5Screate_simple(2, count,
                                                                 NULL);
    int rc = space >= 0 && mem >= 0 &&
                     H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL,
                                         count, NULL) >= 0 &&
                     H5Dread(in->set, H5T_NATIVE_DOUBLE, mem, space,
                             H5P_DEFAULT, in->block) >= 0
                 ? 0 : -1;
    if (mem >= 0)
        H5Sclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (rc != 0) {
        rows_out__say(why, why_len, "%s is damaged: reading rows %llu to "
                      "%llu failed", in->path, (unsigned long long)start[0],
                      (unsigned long long)(start[0] + count[0] - 1));
        return -1;
    }
    in->in_block = count[0];
    in->at_in_block = 0;
    return 0;
}

int rows_in__next(rows_in *in, double *row, char *why, size_t why_len)
{
    if (in->next >= in->rows)
        return 0;
    if (in->format == ROWS_HDF5) {
        if (in->at_in_block == in->in_block &&
            h5_block(in, why, why_len) != 0)
            return -1;
        memcpy(row, in->block + in->at_in_block * in->n,
               in->n * sizeof *row);
        in->at_in_block++;
    } else {
        for (size_t k = 0; k < in->n; k++) {
            const col_src *s = &in->src[k];
            const matvar_t *m = s->matrix == 1 ? in->data1 : in->data2;
            size_t j = s->matrix == 1 ? 0 : in->next; /* data_1: constant */
            row[k] = s->sign * mat_num(m, j * m->dims[0] + s->row);
        }
    }
    in->next++;
    return 1;
}

void rows_in__close(rows_in **inp)
{
    rows_in *in = *inp;
    if (in == NULL)
        return;
    for (size_t k = 0; k < in->n; k++)
        free(in->names[k]);
    free(in->names);
    free(in->src);
    Mat_VarFree(in->data1);
    Mat_VarFree(in->data2);
    if (in->set >= 0)
        H5Dclose(in->set);
    if (in->file >= 0)
        H5Fclose(in->file);
    free(in->block);
    free(in->path);
    free(in);
    *inp = NULL;
}
