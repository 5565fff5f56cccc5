/*
 * loops.h — algebraic loops of a sim, solved with KINSOL.
 *
 * A loop is a strongly connected component of the feedthrough
 * connections (graph.h, graph__plan): its members' outputs depend on
 * their inputs at the same instant, around a cycle.  The plan tears it:
 * each torn connection's value becomes an unknown z_i, the members are
 * evaluated in order with the torn inputs held at z, and the residual is
 * F_i(z) = (the source's output along tear i) − z_i.  loops__solve drives
 * F to zero with KINSOL (Newton with line search, a dense linear solver
 * for the tear variables, the previous solution as the guess) and leaves
 * every member evaluated at the solution.
 *
 * Two kinds: a tick loop (over all instances, solved where sim__evaluate
 * and sim__propagate reach it) and a right-hand-side loop (over one
 * integration group's continuous members, solved inside sim__group_eval).
 * Only sim*.c and loops.c include this; the structures are in
 * sim_internal.h.
 */
#ifndef TWIN_LOOPS_H
#define TWIN_LOOPS_H

#include <stddef.h>
#include <stdio.h>

#include "graph.h"
#include "sim_internal.h"

typedef enum loop_mode {
    LOOP_TICK,     /* a tick: held sources gathered, continuous members'
                    * outputs, discrete members tick (from the states they
                    * had before the tick, at every trial) */
    LOOP_OUTPUTS,  /* held sources gathered, continuous members' outputs;
                    * discrete members' outputs held */
    LOOP_RHS       /* inside a group's right-hand side: its own links only,
                    * a model's DISCARD is recoverable */
} loop_mode;

/* Take plan (over the sim's nodes, edges = the scenario's connections):
 * the nodes in plan order into order (n_order of them), and one loop per
 * plan loop, owned by s (s->loops), each member's tick_loop (rhs = 0) or
 * rhs_loop (rhs = 1) set.  Returns 0, or -1 out of memory or when KINSOL
 * could not be set up (with a sentence in errs). */
int loops__adopt(sim *s, const graph_plan *plan, int rhs, node **order,
                 size_t *n_order, twin_errors *errs);

/* Solve lp at t in mode; afterwards every member holds the outputs (and,
 * for LOOP_TICK, the ticked states) of the solution.  Returns 0, 1 where
 * a model answered DISCARD in LOOP_RHS (the integrator retries), or -1
 * with the failure recorded (sim__fail): a model's error, or a loop that
 * did not converge (solver_failure naming the members, t, the residual
 * and the iterations). */
int loops__solve(loop *lp, double t, loop_mode mode);

void loops__free(loop **lp);

/* Node n of loop lp is reached by an evaluation in mode: the whole loop
 * is solved at its first member, the others were solved with it.  0, or
 * what loops__solve returned. */
static inline int loops__at(loop *lp, const node *n, double t,
                            loop_mode mode);

/* The loop's tolerance: KINSOL stops when every |F_i| is at most
 * LOOP_TOL · (atol + rtol · |z_i|), the scenario's rtol and atol at the
 * guess z; at most LOOP_MAX_ITERS Newton iterations per solve. */
#define LOOP_TOL 1e-3
#define LOOP_MAX_ITERS 100

/* The plan of a built sim for `twinctl run --explain`: the integration
 * groups, the tick order, the loops with their members, tear variables
 * and order, and the tolerances they are solved to. */
void loops__explain(const sim *s, FILE *out);

struct loop {
    sim *owner;
    node **members;       /* in evaluation order after tearing */
    size_t n_members;
    size_t *tears;        /* the torn connections (scenario indices) */
    size_t n_tears;
    node **tear_dst;      /* per tear: the member whose input it holds */
    int rhs;              /* a right-hand-side loop */
    loop_mode mode;       /* the evaluation being solved */
    double t;
    double **before;      /* LOOP_TICK: discrete members' states before
                           * the tick (NULL for continuous members) */
    void *kin;
    N_Vector z, uscale, fscale;
    SUNMatrix J;
    SUNLinearSolver LS;
    char kin_msg[256];
    double *last;         /* the z of the last residual evaluation */
    int at_last;          /* the members hold that evaluation's values */
    double *held;         /* the torn inputs before the solve */
};

static inline int loops__at(loop *lp, const node *n, double t,
                            loop_mode mode)
{
    return lp->members[0] == n ? loops__solve(lp, t, mode) : 0;
}

#endif
