/*
 * plot_batch.h — what `twinctl plot` draws from a batch directory
 * (plot_batch.c): each finished case's line or their envelope, and a KPI
 * against a factor.
 */
#ifndef TWIN_PLOT_BATCH_H
#define TWIN_PLOT_BATCH_H

#include "plot.h"

/* Each finished case's line (--overlay) or their envelope, a panel per
 * channel; the KPI --kpi against the factor --vs.  Return the exit
 * status (0, or 2 for an input that cannot be drawn, 1 for want of
 * memory), having said what was wrong. */
int plot_batch__draw_cases(plot *p, const char *dir);
int plot_batch__draw_kpi(plot *p, const char *dir);

#endif
