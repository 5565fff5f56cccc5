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

/* After plot_batch__draw_cases of an envelope: write each channel's band
 * to path as a scenario fragment, {"envelopes": {"tank0.h": {"band":
 * [[t, lo, hi], ...]}}}, t from the cases' first row, lo and hi the
 * inner band (--band P: percentiles P and 100 − P) or, with --band 0, the
 * smallest and largest value; the points drawn (--max-points), those
 * without a finite value left out.  Returns the exit status, having said
 * what was wrong. */
int plot_batch__save_envelope(const plot *p, const char *path);

#endif
