/*
 * Test plugin "escaping": dx/dt = −x, with a way out of its run's limits
 * chosen by the parameter mode:
 *   0  (the default) none: it behaves;
 *   1  fork in create a child that sleeps for ever (its pid logged as
 *      "forked pid N"): cancel, the time limit and the run's end must end
 *      it too;
 *   2  sleep `seconds` in create (sleep(3), so a signal cuts it short):
 *      the wall-clock limit covers creation too;
 *   3  write `lines` lines of 200 characters to stdout and to stderr at
 *      every call of derivatives, and one line of 100 000 characters in
 *      create: the daemon's log must stay bounded and labelled.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twin_model.h"

static const twin_variable variables[] = {
    {"mode", "1", TWIN_VAR_PARAMETER, 0, 0.0, 0.0, 3.0, "How to escape."},
    {"seconds", "s", TWIN_VAR_PARAMETER, 0, 10.0, 0.0, 3600.0,
     "Mode 2: how long create sleeps."},
    {"lines", "1", TWIN_VAR_PARAMETER, 0, 100.0, 0.0, 1e6,
     "Mode 3: lines written per call."},
    {"x", "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY, "Amount."},
};

struct twin_instance {
    int mode;
    long lines;
};

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
    twin_instance *m = malloc(sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->mode = (int)p[0];
    m->lines = (long)p[2];
    if (m->mode == 1) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        char msg[64];
        snprintf(msg, sizeof msg, "forked pid %ld", (long)pid);
        host->log(host->context, TWIN_LOG_INFO, msg);
    } else if (m->mode == 2) {
        sleep((unsigned)p[1]);
    } else if (m->mode == 3) {
        static char big[100001];
        memset(big, 'L', sizeof big - 1);
        puts(big);
        fflush(stdout);
    }
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    (void)u;
    dx[0] = -x[0];
    if (m->mode == 3) {
        for (long i = 0; i < m->lines; i++) {
            printf("escaping stdout t=%.3f %0180d\n", t, 0);
            fprintf(stderr, "escaping stderr t=%.3f %0180d\n", t, 0);
        }
        fflush(stdout);
    }
    return TWIN_OK;
}

static const twin_model_descriptor descriptor = {
    .abi_major = TWIN_MODEL_ABI_MAJOR,
    .abi_minor = TWIN_MODEL_ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
    .name = "escaping",
    .version = "0.0.1",
    .description = "A model that tries to escape its run's limits.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
    .n_variables = sizeof variables / sizeof variables[0],
    .create = create,
    .destroy = destroy,
    .derivatives = derivatives,
};

TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
    return &descriptor;
}
