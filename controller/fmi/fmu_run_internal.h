/*
 * fmu_run_internal.h — what fmu_run.c (the descriptor's functions, the
 * same for both FMI versions) shares with fmu_run2.c and fmu_run3.c (the
 * calls of one FMI version): the instance, the grouped value references,
 * and the table of version-specific calls.  Not for use outside fmi/.
 */
#ifndef TWIN_FMU_RUN_INTERNAL_H
#define TWIN_FMU_RUN_INTERNAL_H

#include "fmu.h"

/* Value references of a set of variables, grouped by FMI type so that one
 * get or set call moves each group; pos[j] is where the j-th value of a
 * group sits in the caller's array of doubles. */
typedef struct fmu_group {
    fmu_type type;
    size_t n;
    uint32_t *vr;
    size_t *pos;
} fmu_group;

typedef struct fmu_io {
    size_t n;                 /* values in the caller's array */
    size_t n_groups;
    fmu_group g[FMU_T_OTHER];
} fmu_io;

/* What one round of the new-discrete-states iteration answered. */
typedef struct fmu_update {
    int more;                 /* newDiscreteStatesNeeded */
    int terminate;
    int values_changed;
    int nominals_changed;
    int next_defined;
    double next;
} fmu_update;

/* What a Co-Simulation step answered. */
typedef struct fmu_step {
    int terminate;            /* the FMU asks to end the simulation */
    double reached;           /* where it got (FMI 3 lastSuccessfulTime) */
} fmu_step;

struct fmu_ops;

struct twin_instance {
    fmu *f;
    const twin_host *host;
    const struct fmu_ops *ops;
    void *c;                  /* fmi2Component or fmi3Instance */
    void *cb;                 /* FMI 2 callbacks: the FMU may keep the
                               * pointer until FreeInstance */
    twin_status worst;        /* the worst status the FMU returned: after
                               * an error no fmiNTerminate, after a fatal
                               * no call at all */
    int ended;                /* the FMU asked to terminate */
    int ready;                /* Model Exchange: initialized, in
                               * continuous-time mode */
    char last[256];           /* the FMU's last warning or error message */
    int in_init;              /* initialization mode entered: terminate */
    int terminated;
    fmu_io par, in, ind, out, xout, xin;    /* params, u (continuous, discrete), y (and locals), x read as
                                   * values (Co-Simulation), x set before
                                   * initialization (the states whose
                                   * start may be set) */
    size_t *par_string;       /* params[] index of each String parameter */
    uint32_t *par_string_vr;
    size_t n_par_string;
    size_t nx;                /* continuous states (Model Exchange) */
    size_t *perm;             /* x[k] is the FMU's state perm[k] */
    size_t ng;
    double *xf, *dxf;         /* in the FMU's order */
    double *x_set, *u_set;    /* what was last set, to skip repeats */
    double *x_tmp;            /* states of an event inside a call that
                               * may not change the host's */
    int x_valid, u_valid, t_valid;
    double t_set;             /* the time last set (Model Exchange) */
    double t_next;            /* next time event, +INFINITY for none */
    double t_fmu;             /* Co-Simulation: where the FMU is */
    void *buf;                /* scratch for typed values */
    size_t buf_size;
};

/* The calls of one FMI version.  Each returns the FMU's status mapped onto
 * twin_status (Pending → TWIN_ERROR); fmu_run.c names the failing call. */
typedef struct fmu_ops {
    const char *prefix;       /* "fmi2" or "fmi3", for messages */
    int (*instantiate)(twin_instance *in);      /* 0, or -1 with in->c NULL */
    void (*free_instance)(twin_instance *in);
    twin_status (*terminate)(twin_instance *in);
    /* One group of values of one type: from v[g->pos[j]], into them. */
    twin_status (*set)(twin_instance *in, const fmu_group *g,
                       const double *v);
    twin_status (*get)(twin_instance *in, const fmu_group *g, double *v);
    twin_status (*set_string)(twin_instance *in, uint32_t vr, const char *s);
    twin_status (*enter_init)(twin_instance *in, double t);
    twin_status (*exit_init)(twin_instance *in);
    twin_status (*enter_event)(twin_instance *in);
    twin_status (*update)(twin_instance *in, fmu_update *u);
    twin_status (*enter_ct)(twin_instance *in);
    twin_status (*set_time)(twin_instance *in, double t);
    twin_status (*set_x)(twin_instance *in, const double *x, size_t n);
    twin_status (*get_x)(twin_instance *in, double *x, size_t n);
    twin_status (*get_dx)(twin_instance *in, double *dx, size_t n);
    twin_status (*get_ei)(twin_instance *in, double *g, size_t n);
    twin_status (*completed_step)(twin_instance *in, int *enter_event,
                                  int *terminate);
    twin_status (*do_step)(twin_instance *in, double t, double h,
                           fmu_step *res);
} fmu_ops;

extern const fmu_ops fmu_run2__ops;
extern const fmu_ops fmu_run3__ops;

/* A status code of either FMI version (the same numbers up to Fatal) as a
 * twin_status; anything else (fmi2Pending) is an error. */
static inline twin_status fmu_run__status(int s)
{
    return s >= 0 && s <= (int)TWIN_FATAL ? (twin_status)s : TWIN_ERROR;
}

/* The FMU's log message, formatted, to the host with the FMU's level. */
void fmu_run__log(twin_instance *in, int status, const char *category,
                  const char *message);

/* Scratch space of at least n bytes (in->buf), or NULL. */
void *fmu_run__scratch(twin_instance *in, size_t n);

#endif
