/*
 * py_none.c — a build without Python (meson -Dpython=disabled, or no
 * python3-embed): a Python model is refused, saying how to get support.
 */
#include <stdio.h>

#include "py_internal.h"

#define NO_PYTHON "this twinctl was built without Python support " \
                  "(Debian: apt install python3-dev, then build again)"

int pymodel__available(void) { return 0; }

char *pymodel__declare(const char *path, char *why, size_t why_len)
{
    snprintf(why, why_len, "Python model %s: refused: " NO_PYTHON, path);
    return NULL;
}

void pyembed__drop(void *obj) { (void)obj; }

twin_status pyrun__create(const twin_host *host, const double *params,
                          twin_instance **out)
{
    twin_log(host, TWIN_LOG_ERROR, NO_PYTHON);
    return TWIN_ERROR;
}

void pyrun__destroy(twin_instance *inst) { (void)inst; }

/* Never called: create refuses first.  Here for the descriptor's links. */
twin_status pyrun__init(twin_instance *inst, double t, double *x,
                        const double *u) { return TWIN_ERROR; }
twin_status pyrun__derivatives(twin_instance *inst, double t, const double *x,
                               const double *u, double *dx)
{ return TWIN_ERROR; }
twin_status pyrun__outputs(twin_instance *inst, double t, const double *x,
                           const double *u, double *y) { return TWIN_ERROR; }
twin_status pyrun__event_indicators(twin_instance *inst, double t,
                                    const double *x, const double *u,
                                    double *g) { return TWIN_ERROR; }
twin_status pyrun__event(twin_instance *inst, double t, double *x,
                         const double *u, const int *crossed)
{ return TWIN_ERROR; }
twin_status pyrun__tick(twin_instance *inst, double t, double dt, double *x,
                        const double *u, double *y) { return TWIN_ERROR; }
twin_status pyrun__next_event_time(twin_instance *inst, double t,
                                   double *t_next) { return TWIN_ERROR; }
