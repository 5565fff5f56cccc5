/*
 * plot_units.h — the units of what `twinctl plot` draws: the runs'
 * scenario (--scenario) or a batch directory's batch.json composed with
 * the model library, and the unit of a signal, a factor or a KPI read
 * from it (plot_units.c).
 */
#ifndef TWIN_PLOT_UNITS_H
#define TWIN_PLOT_UNITS_H

#include <stddef.h>

#include "plot.h"

/* The runs' scenario named by --scenario.  Returns -1 when it cannot be
 * read (said); 0 otherwise, sc NULL when it does not compose here (with
 * units_why). */
int plot_units__from_scenario(plot *p);

/* A batch directory's batch.json: the batch and a case's scenario (its
 * functions include the KPIs).  Returns -1 when dir has none (said). */
int plot_units__from_batch(plot *p, const char *dir);

/* The unit of a signal "inst.var", of what factor name sets, of KPI name
 * (into buf); NULL when unknown. */
const char *plot_units__signal(const plot *p, const char *name);
const char *plot_units__factor(const plot *p, const char *name);
const char *plot_units__kpi(const plot *p, const char *name, char *buf,
                            size_t len);

void plot_units__free(plot *p);

#endif
