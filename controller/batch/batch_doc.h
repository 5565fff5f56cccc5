/*
 * batch_doc.h — a what-if batch document (`twin.batch/1`, docs/batch.md)
 * and its expansion into cases.
 *
 * batch__load() reads the document, resolves and composes its base
 * scenario once, checks every variation against it (an unknown instance,
 * parameter, state or input is named with its JSON Pointer in the batch
 * document; each grid and list value is composed into the base alone, so
 * a value out of its variable's range is refused before anything runs),
 * draws the Monte Carlo values, and fixes the number of cases.
 *
 * The cases are the product of the parts present: every grid point ×
 * every listed case × every Monte Carlo draw, in that order (the grid's
 * last factor turning fastest, the draws innermost).  A case is wholly
 * decided by the document and its index: its values, its id
 * ("<index>-<hash of its values>") and its scenario come out the same
 * in any process, in any order, on any machine — so a summary can be put
 * together from cases run anywhere.
 *
 * batch_doc.c reads the document, batch_case.c makes the cases; neither
 * runs one (batch_run.h does) or touches the disk but to read a base
 * scenario given by name.
 */
#ifndef TWIN_BATCH_DOC_H
#define TWIN_BATCH_DOC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "batch_draw.h"
#include "errors.h"
#include "funclib.h"
#include "instance_lib.h"
#include "model_lib.h"

#define BATCH_CONTRACT "twin.batch/1"

/* Factors a batch may vary (over all its parts). */
#define BATCH_MAX_FACTORS 64

/* What a factor sets in the base scenario. */
typedef enum batch_target {
    BATCH_PARAM,       /* {"param": "pi0.sp"}: a parameter */
    BATCH_START,       /* {"start": "tank0.h"}: a state's start value */
    BATCH_INPUT,       /* {"input": "tank0.valve"}: the input held at a
                        * constant value */
    BATCH_STEP_TIME,   /* {"input": ..., "step": k, "part": "time"}: the
                        * time of point k of the input's steps */
    BATCH_STEP_VALUE   /* {"input": ..., "step": k}: its value */
} batch_target;

typedef enum batch_part { BATCH_GRID, BATCH_LIST, BATCH_MC } batch_part;

typedef struct batch_factor {
    char *name;        /* its column in the summary: "pi0.sp" by default */
    char *path;        /* where the document defines it */
    batch_part part;
    batch_target target;
    char *instance;    /* "pi0" (the input's instance for inputs) */
    char *variable;    /* "sp"; for inputs the whole name "tank0.valve" */
    size_t step;       /* STEP_*: the point */
    double *values;    /* GRID: the values along its axis */
    size_t n_values;
    batch_dist dist;   /* MC */
} batch_factor;

typedef struct batch {
    char *name;
    json_t *base;          /* the base scenario document, resolved */
    json_t *kpis;          /* the document's "kpis" array, or NULL */
    char **kpi;            /* the summary's KPI columns: the names of the
                            * base scenario's functions, then the kpis' */
    size_t n_kpi;
    size_t n_base_fn;      /* of those, how many the base scenario has */
    batch_factor *f;       /* grid factors, then list, then Monte Carlo */
    size_t n_f;
    size_t n_grid_f, n_list_f, n_mc_f;
    size_t grid_cases;     /* grid points (1 without a grid) */
    size_t list_cases;     /* listed cases (1 without a list) */
    size_t mc_cases;       /* draws (1 without Monte Carlo) */
    double *list_values;   /* list_cases × n_list_f */
    double *mc_values;     /* mc_cases × n_mc_f */
    uint64_t seed;
    size_t n_cases;
    char hash[17];         /* 16 hex digits: of the base scenario, the
                            * variations and the kpis (what decides every
                            * case's result) */
} batch;

/* Where names are resolved. */
typedef struct batch_env {
    const model_lib *models;
    const instance_lib *instances;
    const func_lib *functions; /* kpis may name its functions besides the
                                * built-ins; NULL: built-ins only */
    const char *scenario_dir;  /* a base scenario by name is looked up
                                * here */
    const char *doc_dir;       /* a base scenario by relative file path is
                                * relative to the batch file's folder */
    size_t max_cases;          /* 0: no limit */
} batch_env;

/* Read and check a batch document.  Returns NULL with every problem in
 * errs (paths into the batch document). */
batch *batch__load(const json_t *doc, const batch_env *env,
                   twin_errors *errs);

void batch__free(batch **b);

/* The values of case index (0 ≤ index < n_cases), one per factor, in
 * factor order, into values (n_f doubles). */
void batch__case_values(const batch *b, size_t index, double *values);

/* Its id: the index in at least 4 digits (as many as the largest index
 * needs, so ids sort as cases do), '-', 8 hex digits of a hash of the
 * factors' names and values.  Returns the length (< len). */
int batch__case_id(const batch *b, size_t index, const double *values,
                   char *buf, size_t len);

/* The case's scenario: the base with the values set, its name
 * "<batch>/<id>", the kpis appended to its "functions".  NULL for want of
 * memory.  A new reference. */
json_t *batch__case_scenario(const batch *b, const double *values,
                             const char *id);

/* Set factor f to v in a scenario document (a copy of the base): its
 * parameter or start value (the member made if missing), its input held
 * at v, or the time or value of a point of its steps.  Returns 0, or -1
 * for want of memory. */
int batch__apply(json_t *doc, const batch_factor *f, double v);

/* FNV-1a, 64 bits, of n bytes, continuing from h (start at
 * BATCH_HASH_INIT). */
#define BATCH_HASH_INIT 0xcbf29ce484222325ULL
uint64_t batch__hash(uint64_t h, const void *data, size_t n);

#endif
