/*
 * jacobian.h — the structure of a group's Jacobian and the linear solver
 * of its integrator (jacobian.c): dense, band or KLU, chosen by the
 * group's size and structure or forced by the scenario.
 */
#ifndef TWIN_JACOBIAN_H
#define TWIN_JACOBIAN_H

#include <stddef.h>

#include <sundials/sundials_types.h>

#include "errors.h"

typedef enum jac_kind { JAC_DENSE, JAC_BAND, JAC_KLU } jac_kind;

/* The pattern of a group's Jacobian in compressed sparse columns, the
 * diagonal included; its bandwidths; for KLU, the colour of each column
 * (columns of one colour share no row). */
typedef struct jac_pattern {
    size_t n, nnz;
    sunindextype *colptr;   /* n + 1 */
    sunindextype *rowval;   /* nnz, sorted within each column */
    long mu, ml;            /* upper and lower bandwidths */
    size_t *colour;         /* n (KLU only) */
    size_t n_colours;
} jac_pattern;

struct sim;
struct group;

/* "dense", "band" or "klu". */
const char *jacobian__name(jac_kind k);

/* The pattern of g's Jacobian from the connections and the models'
 * declared dependencies.  0, or -1 out of memory. */
int jacobian__pattern(const struct sim *s, const struct group *g,
                      jac_pattern *p);
void jacobian__pattern_free(jac_pattern *p);

/* Find g's pattern and choose its linear solver (g->jac).  0, or -1
 * with the problem in errs. */
int jacobian__choose(const struct sim *s, struct group *g, twin_errors *errs);

/* Make g's matrix and linear solver and attach them to its CVODE
 * (g->cvode made and initialised).  0, or -1 with the problem in errs. */
int jacobian__attach(struct sim *s, struct group *g, twin_errors *errs);

/* One phrase for --explain: the solver, forced or chosen, and the
 * pattern's figures. */
void jacobian__explain(const struct group *g, char *buf, size_t len);

#endif
