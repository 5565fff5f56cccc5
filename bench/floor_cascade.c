/*
 * floor_cascade.c — the "floor" of the tank cascade: tank-cascade-N on
 * plain CVODE with the KLU sparse solver (or, with --dense, the dense one),
 * no twinctl code.
 *
 * The plant is examples/gen_tank_cascade.py's (its comment has the
 * equations), one integrator over y = [w, h_0 … h_{N−1}]:
 *   dw/dt   = (cmd − w)/tau
 *   dh_0/dt = (q_max·w − q_0)/A,  dh_i/dt = (q_{i−1} − q_i)/A,
 *   q_i = cv·u_i·sqrt(max(h_i, 0)),  event indicators g_i = h_i − H,
 * with the PIs sampled once per tick on h(t_k) and held: pi0 sets cmd
 * (setpoint 2.0 m, 2.5 m from half the horizon on), a reverse PI sets the
 * valve u_i of tanks 5, 10, … (setpoint 1.5 m), the other valves are 0.5.
 * The Jacobian is lower bidiagonal (plus the pump's column) and given
 * analytically: a CSC SUNSparseMatrix of 2N + 1 entries for KLU, the same
 * entries in a SUNDenseMatrix with --dense.  BDF, Newton, rtol 1e-8, atol
 * 1e-10, at most 5000 steps per tick, as the scenario; the integrator is
 * restarted at t_k only when cmd or a valve differ from the values it last
 * ran with (as the controller does), and at every root.
 *
 *   floor_cascade [--dense] [--print-final] N [SECONDS] [DT]
 *
 * SECONDS defaults to 3600, DT to 1 s.  One line on stdout in the style of
 * floor_tankfarm's ("floor-cascade" in front), its checksum the sum of t
 * and of the scenario's output columns over all rows, as bench_controller
 * sums them; --print-final adds each tank's final level, one per line.
 * The wall time covers set-up and the loop (CLOCK_MONOTONIC).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_klu.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>

#include "bench.h"

/* Reference parameters (reference-models.md) and the generator's. */
#define PUMP_TAU 5.0
#define PUMP_Q_MAX 0.05
#define TANK_AREA 2.0
#define TANK_CV 0.03
#define TANK_HEIGHT 4.0
#define VALVE_START 0.5
#define PUMP_KP 0.8
#define PUMP_KI 0.02
#define SP_BEFORE 2.0
#define SP_AFTER 2.5
#define VALVE_KP (-0.8)
#define VALVE_KI (-0.02)
#define VALVE_SP 1.5
#define PI_EVERY 5

#define RTOL 1e-8
#define ATOL 1e-10
#define MAX_STEPS 5000

typedef struct cascade {
    int n, dense;
    SUNContext ctx;
    void *cvode;
    N_Vector y;
    SUNMatrix jac;
    SUNLinearSolver ls;
    double cmd, *valve;            /* inputs held over the current tick */
    double cmd_ran, *valve_ran;    /* what the integrator last ran with */
    double integral0, *integral;   /* the PIs' states */
    int fresh;                     /* initialised, not yet integrated */
    double checksum;
    unsigned long long steps, rhs_evals, jac_evals, restarts, roots,
        warnings;
} cascade;

static void bench__usage(void)
{
    fprintf(stderr,
            "usage: floor_cascade [--dense] [--print-final] N [SECONDS] "
            "[DT]\n"
            "  N        tanks in series, >= 1\n"
            "  SECONDS  simulated time, default 3600\n"
            "  DT       tick in seconds, default 1; SECONDS must be a "
            "multiple of it\n"
            "  --dense  the dense linear solver instead of KLU\n");
}

static int cascade__check(int flag, const char *call, double t)
{
    if (flag >= 0)
        return 0;
    char *name = CVodeGetReturnFlagName(flag);
    fprintf(stderr, "floor_cascade: %s failed at t=%.17g: %s\n", call, t,
            name != NULL ? name : "?");
    free(name);
    return -1;
}

/* Errors are printed (the failing call again by cascade__check);
 * warnings are counted and only the first printed. */
static void cascade__message(int code, const char *module,
                             const char *function, char *msg, void *user)
{
    cascade *c = user;
    if (code != CV_WARNING)
        fprintf(stderr, "floor_cascade: %s %s: %s\n", module, function, msg);
    else if (c->warnings++ == 0)
        fprintf(stderr, "floor_cascade: %s %s warning (further warnings "
                "counted, not printed): %s\n", module, function, msg);
}

static int has_valve_pi(int i)
{
    return i > 0 && i % PI_EVERY == 0;
}

static int cascade__rhs(realtype t, N_Vector y, N_Vector ydot, void *user)
{
    const cascade *c = user;
    const double *x = N_VGetArrayPointer(y);
    double *dx = N_VGetArrayPointer(ydot);
    double q_in = PUMP_Q_MAX * x[0];
    (void)t;
    dx[0] = (c->cmd - x[0]) / PUMP_TAU;
    for (int i = 0; i < c->n; i++) {
        double q_out = TANK_CV * c->valve[i] * sqrt(fmax(x[1 + i], 0.0));
        dx[1 + i] = (q_in - q_out) / TANK_AREA;
        q_in = q_out;
    }
    return 0;
}

static int cascade__roots(realtype t, N_Vector y, realtype *g, void *user)
{
    const cascade *c = user;
    const double *x = N_VGetArrayPointer(y);
    (void)t;
    for (int i = 0; i < c->n; i++)
        g[i] = x[1 + i] - TANK_HEIGHT;
    return 0;
}

/* d q_i / d h_i = cv·u_i / (2·sqrt(h_i)), 0 where h_i ≤ 0 (q_i is flat). */
static double dq_dh(const cascade *c, const double *x, int i)
{
    double h = x[1 + i];
    return h > 0.0 ? TANK_CV * c->valve[i] / (2.0 * sqrt(h)) : 0.0;
}

/* The Jacobian, column by column: column 0 (w) holds −1/tau at row 0 and
 * q_max/A at row 1; column 1 + i (h_i) holds −q_i'/A at row 1 + i and,
 * below it, +q_i'/A at row 2 + i (tank i + 1's inflow). */
static int cascade__jac(realtype t, N_Vector y, N_Vector fy, SUNMatrix J,
                        void *user, N_Vector t1, N_Vector t2, N_Vector t3)
{
    const cascade *c = user;
    const double *x = N_VGetArrayPointer(y);
    (void)t, (void)fy, (void)t1, (void)t2, (void)t3;
    if (c->dense) {
        SM_ELEMENT_D(J, 0, 0) = -1.0 / PUMP_TAU;
        SM_ELEMENT_D(J, 1, 0) = PUMP_Q_MAX / TANK_AREA;
        for (int i = 0; i < c->n; i++) {
            double d = dq_dh(c, x, i) / TANK_AREA;
            SM_ELEMENT_D(J, 1 + i, 1 + i) = -d;
            if (i + 1 < c->n)
                SM_ELEMENT_D(J, 2 + i, 1 + i) = d;
        }
        return 0;
    }
    sunindextype *colptr = SUNSparseMatrix_IndexPointers(J);
    sunindextype *rowval = SUNSparseMatrix_IndexValues(J);
    realtype *data = SUNSparseMatrix_Data(J);
    sunindextype nz = 0;
    colptr[0] = 0;
    rowval[nz] = 0, data[nz++] = -1.0 / PUMP_TAU;
    rowval[nz] = 1, data[nz++] = PUMP_Q_MAX / TANK_AREA;
    for (int i = 0; i < c->n; i++) {
        double d = dq_dh(c, x, i) / TANK_AREA;
        colptr[1 + i] = nz;
        rowval[nz] = 1 + i, data[nz++] = -d;
        if (i + 1 < c->n)
            rowval[nz] = 2 + i, data[nz++] = d;
    }
    colptr[1 + c->n] = nz;
    return 0;
}

/* Add what the integrator counted since its last (Re)Init. */
static int cascade__harvest(cascade *c, double t)
{
    long nst = 0, nfe = 0, nfe_ls = 0, nje = 0;
    if (cascade__check(CVodeGetNumSteps(c->cvode, &nst), "CVodeGetNumSteps",
                       t) != 0 ||
        cascade__check(CVodeGetNumRhsEvals(c->cvode, &nfe),
                       "CVodeGetNumRhsEvals", t) != 0 ||
        cascade__check(CVodeGetNumLinRhsEvals(c->cvode, &nfe_ls),
                       "CVodeGetNumLinRhsEvals", t) != 0 ||
        cascade__check(CVodeGetNumJacEvals(c->cvode, &nje),
                       "CVodeGetNumJacEvals", t) != 0)
        return -1;
    c->steps += (unsigned long long)nst;
    c->rhs_evals += (unsigned long long)(nfe + nfe_ls);
    c->jac_evals += (unsigned long long)nje;
    return 0;
}

static int cascade__restart(cascade *c, double t)
{
    if (cascade__harvest(c, t) != 0 ||
        cascade__check(CVodeReInit(c->cvode, t, c->y), "CVodeReInit", t) != 0)
        return -1;
    c->restarts++;
    return 0;
}

static void cascade__free(cascade **cp)
{
    cascade *c = *cp;
    if (c == NULL)
        return;
    bench__cvode_free(&c->cvode, &c->ls, &c->jac, &c->y);
    if (c->ctx != NULL)
        SUNContext_Free(&c->ctx);
    free(c->valve);
    free(c->valve_ran);
    free(c->integral);
    free(c);
    *cp = NULL;
}

static cascade *cascade__new(int n, int dense)
{
    cascade *c = calloc(1, sizeof *c);
    if (c == NULL)
        goto oom;
    c->n = n;
    c->dense = dense;
    c->fresh = 1;
    c->valve = calloc((size_t)n, sizeof *c->valve);
    c->valve_ran = calloc((size_t)n, sizeof *c->valve_ran);
    c->integral = calloc((size_t)n, sizeof *c->integral);
    if (c->valve == NULL || c->valve_ran == NULL || c->integral == NULL)
        goto oom;
    if (SUNContext_Create(NULL, &c->ctx) != 0) {
        fprintf(stderr, "floor_cascade: SUNContext_Create failed\n");
        goto fail;
    }
    c->y = N_VNew_Serial(n + 1, c->ctx);
    if (c->y == NULL)
        goto oom;
    NV_Ith_S(c->y, 0) = 0.0;
    for (int i = 0; i < n; i++) {
        NV_Ith_S(c->y, 1 + i) = (double)(10 + i % 10) / 10.0;
        c->valve[i] = VALVE_START;
    }
    c->jac = dense ? SUNDenseMatrix(n + 1, n + 1, c->ctx)
                   : SUNSparseMatrix(n + 1, n + 1, 2 * (sunindextype)n + 1,
                                     CSC_MAT, c->ctx);
    if (c->jac == NULL)
        goto oom;
    c->ls = dense ? SUNLinSol_Dense(c->y, c->jac, c->ctx)
                  : SUNLinSol_KLU(c->y, c->jac, c->ctx);
    if (c->ls == NULL) {
        fprintf(stderr, "floor_cascade: SUNLinSol_%s failed\n",
                dense ? "Dense" : "KLU");
        goto fail;
    }
    c->cvode = CVodeCreate(CV_BDF, c->ctx);
    if (c->cvode == NULL)
        goto oom;
    if (cascade__check(CVodeInit(c->cvode, cascade__rhs, 0.0, c->y),
                       "CVodeInit", 0.0) != 0 ||
        cascade__check(CVodeSetUserData(c->cvode, c), "CVodeSetUserData",
                       0.0) != 0 ||
        cascade__check(CVodeSetErrHandlerFn(c->cvode, cascade__message, c),
                       "CVodeSetErrHandlerFn", 0.0) != 0 ||
        cascade__check(CVodeSStolerances(c->cvode, RTOL, ATOL),
                       "CVodeSStolerances", 0.0) != 0 ||
        cascade__check(CVodeSetLinearSolver(c->cvode, c->ls, c->jac),
                       "CVodeSetLinearSolver", 0.0) != 0 ||
        cascade__check(CVodeSetJacFn(c->cvode, cascade__jac),
                       "CVodeSetJacFn", 0.0) != 0 ||
        cascade__check(CVodeSetMaxNumSteps(c->cvode, MAX_STEPS),
                       "CVodeSetMaxNumSteps", 0.0) != 0 ||
        cascade__check(CVodeRootInit(c->cvode, n, cascade__roots),
                       "CVodeRootInit", 0.0) != 0)
        goto fail;
    return c;

oom:
    fprintf(stderr, "floor_cascade: out of memory for %d tanks%s\n", n,
            dense ? " (the dense matrix is (N+1)^2 doubles)" : "");
fail:
    cascade__free(&c);
    return NULL;
}

/* Integrate over [t0, t1], restarting where an input jumped and at every
 * root (the tank only flips its overflow flag: the states go on). */
static int cascade__advance(cascade *c, double t0, double t1)
{
    int jumped = c->cmd != c->cmd_ran;
    for (int i = 0; i < c->n && !jumped; i++)
        jumped = c->valve[i] != c->valve_ran[i];
    if (!c->fresh && jumped && cascade__restart(c, t0) != 0)
        return -1;
    c->fresh = 0;
    c->cmd_ran = c->cmd;
    memcpy(c->valve_ran, c->valve, (size_t)c->n * sizeof *c->valve);
    if (cascade__check(CVodeSetStopTime(c->cvode, t1), "CVodeSetStopTime",
                       t0) != 0)
        return -1;
    for (;;) {
        realtype tret = t0;
        int flag = CVode(c->cvode, t1, c->y, &tret, CV_NORMAL);
        if (cascade__check(flag, "CVode", tret) != 0)
            return -1;
        if (flag != CV_ROOT_RETURN)
            return 0;
        c->roots++;
        if (cascade__restart(c, tret) != 0)
            return -1;
        if (tret >= t1)
            return 0;
        if (cascade__check(CVodeSetStopTime(c->cvode, t1),
                           "CVodeSetStopTime", tret) != 0)
            return -1;
    }
}

/* One PI tick (reference-models.md): conditional integration, output
 * clamped to [0, 1]. */
static double pi_tick(double kp, double ki, double sp, double pv, double dt,
                      double *integral)
{
    double e = sp - pv;
    double cand = kp * e + *integral + ki * e * dt;
    if (cand >= 0.0 && cand <= 1.0)
        *integral += ki * e * dt;
    return fmin(fmax(kp * e + *integral, 0.0), 1.0);
}

/* Tick k: the PIs on h(t_k), the row into the checksum, then on to
 * t_{k+1} unless k is the last tick. */
static int cascade__tick(cascade *c, long k, long n_ticks, double dt,
                         double t_sp)
{
    double t = (double)k * dt;
    const double *x = N_VGetArrayPointer(c->y);
    double sum = t + x[0];
    c->cmd = pi_tick(PUMP_KP, PUMP_KI, t < t_sp ? SP_BEFORE : SP_AFTER, x[1],
                     dt, &c->integral0);
    sum += c->cmd;
    for (int i = 0; i < c->n; i++) {
        if (has_valve_pi(i)) {
            c->valve[i] = pi_tick(VALVE_KP, VALVE_KI, VALVE_SP, x[1 + i], dt,
                                  &c->integral[i]);
            sum += c->valve[i];
        }
        sum += x[1 + i];
    }
    c->checksum += sum;
    return k < n_ticks ? cascade__advance(c, t, (double)(k + 1) * dt) : 0;
}

int main(int argc, char **argv)
{
    int dense = 0, print_final = 0;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--dense") == 0) {
            dense = 1;
        } else if (strcmp(argv[a], "--print-final") == 0) {
            print_final = 1;
        } else if (strcmp(argv[a], "-h") == 0 ||
                   strcmp(argv[a], "--help") == 0) {
            bench__usage();
            return 0;
        } else if (npos < 3 && argv[a][0] != '-') {
            pos[npos++] = argv[a];
        } else {
            bench__usage();
            return 2;
        }
    }
    double n_tanks = 0, stop = 3600, dt = 1;
    if (npos < 1 || bench__number(pos[0], &n_tanks) != 0 || n_tanks < 1 ||
        n_tanks > 1e7 || n_tanks != floor(n_tanks) ||
        (npos > 1 && (bench__number(pos[1], &stop) != 0 || stop <= 0)) ||
        (npos > 2 && (bench__number(pos[2], &dt) != 0 || dt <= 0))) {
        bench__usage();
        return 2;
    }
    long n_ticks = lround(stop / dt);
    if (n_ticks < 1 || fabs((double)n_ticks * dt - stop) > 1e-9 * stop) {
        fprintf(stderr, "floor_cascade: %g s is not a whole number of %g s "
                "ticks\n", stop, dt);
        return 2;
    }

    int rc = 1;
    double t0 = bench__now();
    cascade *c = cascade__new((int)n_tanks, dense);
    if (c == NULL)
        goto out;
    for (long k = 0; k <= n_ticks; k++)
        if (cascade__tick(c, k, n_ticks, dt, stop / 2.0) != 0)
            goto out;
    double wall = bench__now() - t0;
    if (cascade__harvest(c, stop) != 0)
        goto out;

    double us_tick = 1e6 * wall / (double)n_ticks;
    printf("floor-cascade N=%d solver=%s stop_s=%g ticks=%ld wall_s=%.3f "
           "us_per_tick=%.1f us_per_tank_tick=%.4f steps=%llu rhs_evals=%llu "
           "jac_evals=%llu restarts=%llu checksum=%.12e\n",
           c->n, dense ? "dense" : "klu", stop, n_ticks, wall, us_tick,
           us_tick / n_tanks, c->steps, c->rhs_evals, c->jac_evals,
           c->restarts, c->checksum);
    fprintf(stderr, "# floor-cascade roots=%llu cvode_warnings=%llu\n",
            c->roots, c->warnings);
    if (print_final)
        for (int i = 0; i < c->n; i++)
            printf("%.12e\n", NV_Ith_S(c->y, 1 + i));
    fflush(stdout);
    rc = 0;

out:
    cascade__free(&c);
    return rc;
}
