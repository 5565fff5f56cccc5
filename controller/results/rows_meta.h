/*
 * rows_meta.h — what a result file says about its columns besides their
 * names, taken from a composed scenario (rows_meta.c): each column's unit
 * and description from its variable in the model's descriptor, and the
 * scenario's JSON text.
 */
#ifndef TWIN_ROWS_META_H
#define TWIN_ROWS_META_H

#include <jansson.h>

#include "rows_out.h"
#include "scenario.h"

typedef struct rows_meta {
    size_t n;                  /* columns: 1 + sc->n_out */
    const char **units;        /* 1 + sc->n_out: "s" for t, then each
                                * output column's unit */
    const char **descriptions; /* the same, each variable's description */
    char *scenario;            /* the document as compact JSON, or NULL */
} rows_meta;

/* Fill m from sc (its strings are borrowed from sc's models) and doc (may
 * be NULL).  Returns 0, or -1 when out of memory (m then empty). */
int rows_meta__of_scenario(rows_meta *m, const scenario *sc,
                           const json_t *doc);

/* Put m's units, descriptions and scenario into h when h has as many
 * columns as m (a header of other columns keeps its names alone). */
void rows_meta__apply(const rows_meta *m, rows_header *h);

void rows_meta__free(rows_meta *m);

#endif
