/*
 * floor_chains.c — tank-farm-N straight on CVODE: the benchmark floor.
 *
 * Per chain i (all chains independent, docs/reference-models):
 *   pump:  dw/dt = (cmd − w)/tau,   q = q_max·w,   power = p_rated·w³
 *   tank:  dh/dt = (q − q_out)/A,   q_out = cv·u·sqrt(max(h, 0)),
 *          event indicator g = h − H
 *   pi:    sampled once per tick on h(t_k), output held as the pump cmd
 *   valve: u = 0.5 before t = 3600 + 10·i, 0.8 from then on
 *
 * Separate (floor__new): each chain has its own CVODE (BDF, Newton,
 * dense 2×2, rtol 1e-8, atol 1e-10, at most 5000 steps per call).  A chain
 * is restarted with CVodeReInit at t_k only when its cmd or valve differ
 * from the values its integrator last ran with, and at every root.  The
 * state vector is [w, h]: pump first, as the dependency order has it.
 *
 * Stacked (floor__new_stacked): all chains' 2N states in ONE CVODE,
 * ordered per chain [w_0, h_0, w_1, h_1, ...], with the band linear
 * solver.  dw_i/dt depends on w_i alone and dh_i/dt on w_i and h_i, so the
 * Jacobian is lower bidiagonal: lower bandwidth 1, upper 0, and CVODE's
 * difference-quotient band Jacobian costs 2 RHS evaluations whatever N.
 * The one integrator is restarted at t_k when ANY chain's cmd or valve
 * differ from what it last ran with (all chains then restart together),
 * and at every root (one event indicator per chain).  Same tolerances,
 * the WRMS norm taken over all 2N states.
 *
 * Timing, pacing and the summary line belong to the programs.
 */
#include "floor_chains.h"
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_band.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_band.h>
#include <sunmatrix/sunmatrix_dense.h>

/* Reference parameters (all chains alike except sp and the valve step). */
#define PUMP_TAU 5.0
#define PUMP_Q_MAX 0.05
#define PUMP_P_RATED 7500.0
#define TANK_AREA 2.0
#define TANK_CV 0.03
#define TANK_HEIGHT 4.0
#define PI_KP 0.8
#define PI_KI 0.02
#define PI_OUT_MIN 0.0
#define PI_OUT_MAX 1.0
#define VALVE_BEFORE 0.5
#define VALVE_AFTER 0.8

#define RTOL 1e-8
#define ATOL 1e-10
#define MAX_STEPS 5000

enum { X_W, X_H, N_X };
enum { ROW_PER_CHAIN = 5 };

typedef struct floor_chain {
    void *cvode;
    N_Vector y;
    SUNMatrix jac;
    SUNLinearSolver ls;
    double sp, valve_step_t;
    double integral, out;   /* pi */
    double cmd, valve;      /* inputs held over the current tick */
    double cmd_ran, valve_ran; /* inputs the integrator last ran with */
    int fresh;              /* CVodeInit'ed, not yet integrated */
} floor_chain;

struct floor_farm {
    int n;
    SUNContext ctx;
    floor_chain *chains;
    /* Stacked: the one integrator over all chains (chains[i].cvode NULL). */
    int stacked;
    void *cvode;
    N_Vector y;
    SUNMatrix jac;
    SUNLinearSolver ls;
    int fresh;
    double *row;            /* t, then h, q_out, w, power, out per chain */
    double checksum;
    floor_stats done;       /* counters harvested before each ReInit */
};

static int floor__check(int flag, const char *call, int chain, double t)
{
    if (flag >= 0)
        return 0;
    char *name = CVodeGetReturnFlagName(flag);
    if (chain < 0)
        fprintf(stderr, "floor: %s failed for the stacked integrator at "
                "t=%.17g: %s\n", call, t, name != NULL ? name : "?");
    else
        fprintf(stderr, "floor: %s failed for chain %d at t=%.17g: %s\n",
                call, chain, t, name != NULL ? name : "?");
    free(name);
    return -1;
}

/* CVODE's messages: errors are printed (the failing call is reported
 * again with its flag name by floor__check); warnings are counted and only
 * the first is printed, so a 1000-chain run does not print 1000 copies of
 * "root functions identically 0" after restarts on a root. */
static void floor__cvode_message(int code, const char *module,
                                 const char *function, char *msg, void *user)
{
    floor_farm *f = user;
    if (code != CV_WARNING) {
        fprintf(stderr, "floor: %s %s: %s\n", module, function, msg);
        return;
    }
    if (f->done.warnings++ == 0)
        fprintf(stderr, "floor: %s %s warning (further warnings counted, "
                "not printed): %s\n", module, function, msg);
}

static int floor__rhs(realtype t, N_Vector y, N_Vector ydot, void *user)
{
    const floor_chain *c = user;
    const double *x = N_VGetArrayPointer(y);
    double *dx = N_VGetArrayPointer(ydot);
    double q_in = PUMP_Q_MAX * x[X_W];
    double q_out = TANK_CV * c->valve * sqrt(fmax(x[X_H], 0.0));
    (void)t;
    dx[X_W] = (c->cmd - x[X_W]) / PUMP_TAU;
    dx[X_H] = (q_in - q_out) / TANK_AREA;
    return 0;
}

static int floor__root(realtype t, N_Vector y, realtype *g, void *user)
{
    (void)t;
    (void)user;
    g[0] = N_VGetArrayPointer(y)[X_H] - TANK_HEIGHT;
    return 0;
}

/* Stacked: chain i's states at x + N_X·i. */
static int floor__rhs_stacked(realtype t, N_Vector y, N_Vector ydot,
                              void *user)
{
    const floor_farm *f = user;
    const double *x = N_VGetArrayPointer(y);
    double *dx = N_VGetArrayPointer(ydot);
    (void)t;
    for (int i = 0; i < f->n; i++) {
        const floor_chain *c = &f->chains[i];
        const double *xi = x + N_X * i;
        double *di = dx + N_X * i;
        double q_in = PUMP_Q_MAX * xi[X_W];
        double q_out = TANK_CV * c->valve * sqrt(fmax(xi[X_H], 0.0));
        di[X_W] = (c->cmd - xi[X_W]) / PUMP_TAU;
        di[X_H] = (q_in - q_out) / TANK_AREA;
    }
    return 0;
}

static int floor__root_stacked(realtype t, N_Vector y, realtype *g,
                               void *user)
{
    const floor_farm *f = user;
    const double *x = N_VGetArrayPointer(y);
    (void)t;
    for (int i = 0; i < f->n; i++)
        g[i] = x[N_X * i + X_H] - TANK_HEIGHT;
    return 0;
}

/* State j of chain i, wherever it lives. */
static double floor__x(const floor_farm *f, int i, int j)
{
    return f->stacked ? NV_Ith_S(f->y, N_X * i + j)
                      : NV_Ith_S(f->chains[i].y, j);
}

/* Add what the integrator counted since its last (Re)Init into done (i:
 * the chain, -1 for the stacked integrator, in messages). */
static int floor__harvest(floor_farm *f, void *cvode, int i, double t)
{
    long nst = 0, nfe = 0, nfe_ls = 0;
    if (floor__check(CVodeGetNumSteps(cvode, &nst), "CVodeGetNumSteps", i,
                     t) != 0 ||
        floor__check(CVodeGetNumRhsEvals(cvode, &nfe),
                     "CVodeGetNumRhsEvals", i, t) != 0 ||
        floor__check(CVodeGetNumLinRhsEvals(cvode, &nfe_ls),
                     "CVodeGetNumLinRhsEvals", i, t) != 0)
        return -1;
    /* All RHS evaluations, the difference-quotient Jacobian's included,
     * as the controller counts them. */
    f->done.steps += (uint64_t)nst;
    f->done.rhs_evals += (uint64_t)(nfe + nfe_ls);
    return 0;
}

static int floor__restart(floor_farm *f, void *cvode, N_Vector y, int i,
                          double t)
{
    if (floor__harvest(f, cvode, i, t) != 0 ||
        floor__check(CVodeReInit(cvode, t, y), "CVodeReInit", i, t) != 0)
        return -1;
    f->done.restarts++;
    return 0;
}

/* Everything after CVodeCreate, the same for both ways (i: the chain, -1
 * for the stacked integrator, in messages). */
static int floor__configure(floor_farm *f, void *cvode, CVRhsFn rhs,
                            N_Vector y, void *user, SUNLinearSolver ls,
                            SUNMatrix jac, int n_roots, CVRootFn root, int i)
{
    if (floor__check(CVodeInit(cvode, rhs, 0.0, y), "CVodeInit", i, 0.0) != 0 ||
        floor__check(CVodeSetUserData(cvode, user), "CVodeSetUserData", i,
                     0.0) != 0 ||
        floor__check(CVodeSetErrHandlerFn(cvode, floor__cvode_message, f),
                     "CVodeSetErrHandlerFn", i, 0.0) != 0 ||
        floor__check(CVodeSStolerances(cvode, RTOL, ATOL),
                     "CVodeSStolerances", i, 0.0) != 0 ||
        floor__check(CVodeSetLinearSolver(cvode, ls, jac),
                     "CVodeSetLinearSolver", i, 0.0) != 0 ||
        floor__check(CVodeSetMaxNumSteps(cvode, MAX_STEPS),
                     "CVodeSetMaxNumSteps", i, 0.0) != 0 ||
        floor__check(CVodeRootInit(cvode, n_roots, root), "CVodeRootInit", i,
                     0.0) != 0)
        return -1;
    return 0;
}

static int floor__chain_init(floor_farm *f, floor_chain *c, int i)
{
    c->fresh = 1;
    c->y = N_VNew_Serial(N_X, f->ctx);
    if (c->y == NULL) {
        fprintf(stderr, "floor: N_VNew_Serial failed for chain %d\n", i);
        return -1;
    }
    NV_Ith_S(c->y, X_W) = 0.0;
    NV_Ith_S(c->y, X_H) = 1.0;

    c->cvode = CVodeCreate(CV_BDF, f->ctx);
    c->jac = SUNDenseMatrix(N_X, N_X, f->ctx);
    if (c->cvode == NULL || c->jac == NULL) {
        fprintf(stderr, "floor: CVodeCreate/SUNDenseMatrix failed for "
                "chain %d\n", i);
        return -1;
    }
    c->ls = SUNLinSol_Dense(c->y, c->jac, f->ctx);
    if (c->ls == NULL) {
        fprintf(stderr, "floor: SUNLinSol_Dense failed for chain %d\n", i);
        return -1;
    }
    return floor__configure(f, c->cvode, floor__rhs, c->y, c, c->ls, c->jac,
                            1, floor__root, i);
}

/* The farm without integrators: the chains' parameters, the row, the
 * context.  NULL after printing what failed. */
static floor_farm *floor__alloc(int n_chains)
{
    floor_farm *f = calloc(1, sizeof *f);
    if (f != NULL) {
        f->n = n_chains;
        f->chains = calloc((size_t)n_chains, sizeof *f->chains);
        f->row = calloc(1 + (size_t)ROW_PER_CHAIN * (size_t)n_chains,
                        sizeof *f->row);
    }
    if (f == NULL || f->chains == NULL || f->row == NULL) {
        fprintf(stderr, "floor: out of memory for %d chains\n", n_chains);
        floor__free(&f);
        return NULL;
    }
    if (SUNContext_Create(NULL, &f->ctx) != 0) {
        fprintf(stderr, "floor: SUNContext_Create failed\n");
        floor__free(&f);
        return NULL;
    }
    for (int i = 0; i < n_chains; i++) {
        floor_chain *c = &f->chains[i];
        c->sp = 2.0 + 0.01 * i;
        c->valve_step_t = 3600.0 + 10.0 * i;
        c->valve = VALVE_BEFORE;
    }
    return f;
}

floor_farm *floor__new(int n_chains)
{
    floor_farm *f = floor__alloc(n_chains);
    for (int i = 0; f != NULL && i < n_chains; i++)
        if (floor__chain_init(f, &f->chains[i], i) != 0)
            floor__free(&f);
    return f;
}

floor_farm *floor__new_stacked(int n_chains)
{
    floor_farm *f = floor__alloc(n_chains);
    if (f == NULL)
        return NULL;
    f->stacked = 1;
    f->fresh = 1;
    sunindextype n_x = (sunindextype)N_X * n_chains;
    f->y = N_VNew_Serial(n_x, f->ctx);
    f->cvode = CVodeCreate(CV_BDF, f->ctx);
    /* Lower bandwidth 1 (dh_i/dt on w_i), upper 0 (dw_i/dt on w_i). */
    f->jac = SUNBandMatrix(n_x, 0, 1, f->ctx);
    f->ls = f->y && f->jac ? SUNLinSol_Band(f->y, f->jac, f->ctx) : NULL;
    if (f->y == NULL || f->cvode == NULL || f->ls == NULL) {
        fprintf(stderr, "floor: the stacked integrator could not be made "
                "for %d chains\n", n_chains);
        floor__free(&f);
        return NULL;
    }
    for (int i = 0; i < n_chains; i++) {
        NV_Ith_S(f->y, N_X * i + X_W) = 0.0;
        NV_Ith_S(f->y, N_X * i + X_H) = 1.0;
    }
    if (floor__configure(f, f->cvode, floor__rhs_stacked, f->y, f, f->ls,
                         f->jac, n_chains, floor__root_stacked, -1) != 0)
        floor__free(&f);
    return f;
}

/* Integrate over [t0, t1] with the stop time there, restarting at every
 * root (i as for floor__configure). */
static int floor__integrate(floor_farm *f, void *cvode, N_Vector y, int i,
                            double t0, double t1)
{
    if (floor__check(CVodeSetStopTime(cvode, t1), "CVodeSetStopTime", i,
                     t0) != 0)
        return -1;
    for (;;) {
        realtype tret = t0;
        int flag = CVode(cvode, t1, y, &tret, CV_NORMAL);
        if (floor__check(flag, "CVode", i, tret) != 0)
            return -1;
        if (flag != CV_ROOT_RETURN)
            return 0;  /* CV_SUCCESS or CV_TSTOP_RETURN: at t1 */
        /* The tank model only flips its overflow flag; the states are
         * continuous, so restart from where CVODE stopped. */
        f->done.roots++;
        if (floor__restart(f, cvode, y, i, tret) != 0)
            return -1;
        if (tret >= t1)
            return 0;
        if (floor__check(CVodeSetStopTime(cvode, t1), "CVodeSetStopTime", i,
                         tret) != 0)
            return -1;
    }
}

/* Whether chain c's inputs differ from those its integrator last ran
 * with; they become those. */
static int floor__jumped(floor_chain *c)
{
    int jumped = c->cmd != c->cmd_ran || c->valve != c->valve_ran;
    c->cmd_ran = c->cmd;
    c->valve_ran = c->valve;
    return jumped;
}

/* Integrate one chain over [t0, t1], restarting where its inputs jumped and
 * at every root. */
static int floor__advance(floor_farm *f, floor_chain *c, int i, double t0,
                          double t1)
{
    if (floor__jumped(c) && !c->fresh &&
        floor__restart(f, c->cvode, c->y, i, t0) != 0)
        return -1;
    c->fresh = 0;
    return floor__integrate(f, c->cvode, c->y, i, t0, t1);
}

/* Stacked: integrate all chains over [t0, t1] in the one integrator,
 * restarting it where any chain's inputs jumped and at every root. */
static int floor__advance_stacked(floor_farm *f, double t0, double t1)
{
    int jumped = 0;
    for (int i = 0; i < f->n; i++)
        jumped |= floor__jumped(&f->chains[i]);
    if (jumped && !f->fresh && floor__restart(f, f->cvode, f->y, -1, t0) != 0)
        return -1;
    f->fresh = 0;
    return floor__integrate(f, f->cvode, f->y, -1, t0, t1);
}

int floor__tick(floor_farm *f, long k, long n, double dt)
{
    double t = (double)k * dt;
    double *row = f->row;
    double sum = 0.0;

    row[0] = t;
    for (int i = 0; i < f->n; i++) {
        floor_chain *c = &f->chains[i];
        double w = floor__x(f, i, X_W);
        double h = floor__x(f, i, X_H);

        /* (1) inputs at t_k: a step at t is in force at t */
        c->valve = t < c->valve_step_t ? VALVE_BEFORE : VALVE_AFTER;

        /* (2) the PI on h(t_k), conditional integration */
        double e = c->sp - h;
        double inc = PI_KI * e * dt;
        double cand = PI_KP * e + c->integral + inc;
        if (cand >= PI_OUT_MIN && cand <= PI_OUT_MAX)
            c->integral += inc;
        c->out = fmin(fmax(PI_KP * e + c->integral, PI_OUT_MIN), PI_OUT_MAX);
        c->cmd = c->out;

        /* (3) the row: h, q_out, w, power, out */
        double *r = row + 1 + ROW_PER_CHAIN * i;
        r[0] = h;
        r[1] = TANK_CV * c->valve * sqrt(fmax(h, 0.0));
        r[2] = w;
        r[3] = PUMP_P_RATED * w * w * w;
        r[4] = c->out;
    }
    for (int j = 0; j < 1 + ROW_PER_CHAIN * f->n; j++)
        sum += row[j];
    f->checksum += sum;

    /* (4) integrate to t_{k+1} */
    if (k < n) {
        double t1 = (double)(k + 1) * dt;
        if (f->stacked)
            return floor__advance_stacked(f, t, t1);
        for (int i = 0; i < f->n; i++)
            if (floor__advance(f, &f->chains[i], i, t, t1) != 0)
                return -1;
    }
    return 0;
}

int floor__stats(floor_farm *f, floor_stats *out)
{
    floor_stats saved = f->done;
    int rc = 0;
    for (int i = 0; !f->stacked && i < f->n && rc == 0; i++)
        rc = floor__harvest(f, f->chains[i].cvode, i, NAN);
    if (f->stacked && rc == 0)
        rc = floor__harvest(f, f->cvode, -1, NAN);
    *out = f->done;
    f->done = saved;
    return rc;
}

double floor__checksum(const floor_farm *f) { return f->checksum; }

double floor__level(const floor_farm *f, int i)
{
    return floor__x(f, i, X_H);
}

void floor__free(floor_farm **fp)
{
    floor_farm *f = *fp;
    if (f == NULL)
        return;
    for (int i = 0; f->chains != NULL && i < f->n; i++) {
        floor_chain *c = &f->chains[i];
        bench__cvode_free(&c->cvode, &c->ls, &c->jac, &c->y);
    }
    CVodeFree(&f->cvode);
    if (f->ls != NULL)
        SUNLinSolFree(f->ls);
    if (f->jac != NULL)
        SUNMatDestroy(f->jac);
    if (f->y != NULL)
        N_VDestroy(f->y);
    if (f->ctx != NULL)
        SUNContext_Free(&f->ctx);
    free(f->chains);
    free(f->row);
    free(f);
    *fp = NULL;
}
