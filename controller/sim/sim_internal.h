/*
 * sim_internal.h — the inside of a sim, shared by the files that make
 * one up: sim.c (building and the tick loop), sim_steady.c (the
 * composed right-hand side as a function of all continuous states, for
 * steady.c), loops.c (algebraic loops), jacobian.c (the Jacobian's
 * structure and the linear solver) and tolerances.c (the atol vector).
 * Nothing outside them (and the unit tests that look inside) includes it.
 */
#ifndef TWIN_SIM_INTERNAL_H
#define TWIN_SIM_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include "jacobian.h"
#include "sim.h"

/* "integrators": "auto" stacks groups when none has more states. */
#define SIM_STACK_MAX 32

typedef struct node node;
typedef struct group group;
typedef struct loop loop; /* loops.h */

/* One signal copied into an input: u[dst] = src->x[i] or src->y[i]. */
typedef struct link {
    size_t dst;
    const node *src;
    int from_state;
    size_t src_index;
} link;

struct node {
    sim *owner;
    const sc_instance *si;
    const twin_model_descriptor *d;
    twin_instance *inst;
    twin_host host;
    int continuous;
    double *x;            /* states: into the group's vector, or x_own */
    double *x_own;        /* discrete states (continuous: NULL) */
    double *u, *y;
    link *intra;          /* sources in the same group: copied in the RHS */
    size_t n_intra;
    link *held;           /* sources held over the tick: copied at ticks */
    size_t n_held;
    int regather;         /* a held source is evaluated after this node */
    int rhs_outputs;      /* outputs are read inside the RHS */
    group *grp;
    size_t x_off, g_off, n_g;
    int *crossed;
    /* ABI 1.1 */
    size_t period_ticks;  /* discrete: tick when the tick number divides */
    double tick_dt;       /* discrete: tick()'s dt (the sample period) */
    double t_next;        /* time events: the next one (+INFINITY: none) */
    int timed;            /* has next_event_time */
    int handled;          /* its time event was just handled */
    loop *tick_loop;      /* the algebraic loop it is in at ticks */
    loop *rhs_loop;       /* ... and inside its group's right-hand side */
    char last_error[512]; /* the last message it logged at ERROR, which
                           * a failure of its next call carries */
};

struct group {
    sim *owner;
    node **nodes;         /* evaluation order inside the RHS */
    size_t n_nodes;
    node **pre;           /* evaluated first where a cycle was broken */
    size_t n_pre;
    size_t n_x, n_g;
    N_Vector y;
    void *cvode;
    SUNMatrix A;
    SUNLinearSolver LS;
    double *bound;        /* the vector its nodes' x point into (bind) */
    struct rhs_plan *plan; /* its right-hand side flattened (rhs.c), or
                            * NULL: the general evaluation */
    jac_kind jac;         /* its linear solver (jacobian.c) */
    jac_pattern pattern;  /* the structure of its Jacobian */
    int *roots;
    int restart;          /* an input jumped: CVodeReInit before going on */
    int started;          /* the first ReInit after CVodeInit is no restart */
    int timed;            /* a node has time events (next_event_time) */
    int stepped;          /* a node has step events: CV_ONE_STEP */
    double t_next;        /* the earliest of the nodes' next time events */
};

typedef struct input_slot {
    const sc_input *in;
    node *n;
    size_t index;
    int overridden;       /* set by sim__set_input: wins over the profile */
    double live;
    double from, until;   /* the profile is `value` over [from, until) */
    double value;         /* (tick.c; from > until: not known) */
    double *u;            /* &n->u[index] */
} input_slot;

struct sim {
    const scenario *sc;
    sim_options opt;
    sim_callbacks cb;
    SUNContext ctx;
    node *nodes;
    size_t n_nodes;
    node **order;         /* global evaluation order at ticks */
    size_t n_order;
    node **pre;
    size_t n_pre;
    group *groups;
    size_t n_groups;
    input_slot *inputs;
    double *row;
    const char **columns;
    unsigned char *nonfinite_seen;
    sim_stats st;
    /* The first failure inside a callback from CVODE or a model. */
    twin_err_code fail_code;
    char fail[1024];
    char solver_msg[512];
    /* Steady states (sim_steady.c): the event indicators at sim__begin,
     * and the last model that answered DISCARD. */
    double *g_begin;
    const node *discarded;
    group **blocks;       /* the groups with states, in order */
    size_t n_blocks;
    size_t k;             /* the tick being taken */
    int stacked;          /* groups with states stacked into one */
    loop **loops;         /* algebraic loops, tick and RHS ones (loops.c) */
    size_t n_loops;
    struct alarm_watch *alarms; /* the scenario's limit alarms (alarms.c) */
    struct measure_watch *measured; /* its measurements (measured.c) */
    struct tick_plan *tick_plan; /* the tick flattened (tick.c), or NULL:
                                  * the general evaluation */
};

/* Around every call into a model: who is running, at what t, for crash
 * reports. */
#define IN_MODEL(n, t, call)                                               \
    (sim__model_in_use = (n)->d->name,                                     \
     sim__instance_in_use = (n)->si->name, sim__t_in_use = (t), (call))
#define OUT_OF_MODEL() (sim__model_in_use = NULL, sim__instance_in_use = NULL)

/* Record the run's first failure (later ones are dropped). */
void sim__fail(sim *s, twin_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A model's status in CVODE's convention: 0 fine, 1 retry (DISCARD where
 * recoverable), -1 failed (recorded with sim__fail). */
int sim__model_status(node *n, twin_status st, const char *fn, double t,
                      int recoverable);

/* Copy held sources into n's inputs (a jump restarts its group). */
void sim__gather_held(node *n);

/* Bind group g to the states x (NULL: as they are) and bring every input read inside its
 * right-hand side up to date at (t, x); sim__group_derivs then fills
 * dx (0, 1 retry, -1 failed). */
int sim__group_eval(group *g, double t, double *x);
int sim__group_derivs(group *g, double t, double *x, double *dx);

/* A NaN or infinite derivative would only make the solver shrink its
 * step until it gives up: 0 when every entry of g's dx is finite, else
 * -1 with the first one (in the group's order) recorded by name. */
int sim__check_finite(group *g, const double *dx, double t);

/* The flat right-hand side of g (rhs.c): built where it gives what the
 * general evaluation does (no loop in the group, no node ahead of its
 * turn), else g->plan stays NULL.  0, or -1 out of memory. */
int rhs__build(group *g);
void rhs__free(struct rhs_plan **p);
/* With g->plan: bind g to x, bring every input read inside the RHS up to
 * date and, when dx is not NULL, fill dx, in one pass.  0, 1 retry, -1
 * failed (recorded), as sim__group_derivs. */
int rhs__eval(group *g, double t, double *x, double *dx);
/* With g->plan: g's event indicators at (t, x) into gout, its inputs
 * brought up to date on the way (the nodes' x are not rebound), as
 * sim__group_roots. */
int rhs__roots(group *g, double t, const double *x, double *gout);

/* The flat tick (tick.c): built where it gives what the general
 * evaluation does (no algebraic loop at ticks), else
 * s->tick_plan stays NULL.  0, or -1 out of memory. */
int tick__build(sim *s);
void tick__free(struct tick_plan **p);
/* With s->tick_plan: the outputs of the models evaluated ahead of their
 * turn (s->pre) at t, as sim__evaluate calls them.  0 or -1 (recorded). */
int tick__pre(sim *s, double t);
/* With s->tick_plan: steps 2–3 at t after the inputs and s->pre (every
 * model in order, then the held signals regathered), as sim__evaluate
 * (first: the run's first tick).  0 or -1 (recorded). */
int tick__evaluate(sim *s, double t, int first);
/* With s->tick_plan: the row at t into s->row, non-finite values
 * reported as by sim__nonfinite_columns: 0; or 1 (nothing done) where a
 * column is not a model's variable (a measurement). */
int tick__row(sim *s, double t);

/* Step 1 of a tick at t (tick.c): every input from its profile or its
 * live value; a jump restarts the input's group. */
void tick__inputs(sim *s, double t);

/* Report each column of s->row not finite at t for the first time (a
 * measurement's columns not: NaN until a plant value comes). */
void sim__nonfinite_columns(sim *s, double t);

/* Event indicators of group g at (t, y) (a CVODE root function). */
int sim__group_roots(sunrealtype t, N_Vector y, sunrealtype *gout,
                     void *data);

/* Signals along every connection in evaluation order, continuous
 * models' outputs at t on the way; discrete models are not ticked. */
int sim__propagate(sim *s, double t);

/* Reach node n at t (its inputs gathered): a continuous model's outputs,
 * and when tick != 0 a discrete model's tick if one is due at this tick
 * (a discrete model is left alone otherwise).  recoverable as for
 * sim__model_status.  0, 1 or -1. */
int sim__reach(node *n, double t, int tick, int recoverable);

/* Steps 1–3 of a tick at t (first: the run's first tick, with init). */
int sim__evaluate(sim *s, double t, int first);

/* CVODE's name of a return flag ("CV_TOO_MUCH_WORK") in buf. */
const char *sim__flag_name(int flag, char *buf, size_t len);

/* Restart g's integrator at t from its vector (counted as a restart but
 * for the first).  0, or -1 (recorded). */
int sim__restart(sim *s, group *g, double t);

/* Set g's tolerances in its integrator (tolerances.c): the scenario's
 * rtol, and the states' resolved absolute tolerances as CVODE's atol
 * vector, or the scenario's scalar atol when every state has it.
 * CVODE's return flag (< 0 failed). */
int tolerances__apply(sim *s, group *g);

/* For --explain: rtol, atol and every state whose atol is not the
 * scenario's, with its value. */
void tolerances__explain(const sim *s, FILE *out);

/* Step 5 for one group (sim_events.c): integrate from t to t1, never
 * past t1, handling state events, time events (ABI 1.1) strictly
 * before t1 and step events on the way.  0, or -1 (recorded). */
int sim__advance(sim *s, group *g, double t, double t1);

static inline double link_value(const link *l)
{
    return l->from_state ? l->src->x[l->src_index] : l->src->y[l->src_index];
}

static inline void gather_intra(node *n)
{
    for (size_t i = 0; i < n->n_intra; i++)
        n->u[n->intra[i].dst] = link_value(&n->intra[i]);
}

/* Bit 63 set when v is not finite: its exponent's bits are all ones, and
 * adding one to them carries into the sign bit.  OR-ed over a vector, in
 * integers, it tells whether to look without a chain of dependent
 * floating-point additions. */
static inline uint64_t nonfinite_bit(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (bits & 0x7ff0000000000000u) + 0x0010000000000000u;
}

/* Whether any of v[0..n) is not finite: nonfinite_bit OR-ed over it,
 * two at a time in a vector of the compiler's (GCC and Clang). */
static inline int any_nonfinite(const double *v, size_t n)
{
    typedef uint64_t pair __attribute__((vector_size(16)));
    const pair mask = {0x7ff0000000000000u, 0x7ff0000000000000u};
    const pair one = {0x0010000000000000u, 0x0010000000000000u};
    pair acc = {0, 0};
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        pair bits;
        memcpy(&bits, v + i, sizeof bits);
        acc |= (bits & mask) + one;
    }
    uint64_t any = acc[0] | acc[1];
    for (; i < n; i++)
        any |= nonfinite_bit(v[i]);
    return (int)(any >> 63);
}

static inline int same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static inline void bind(group *g, double *x)
{
    if (x == g->bound)
        return; /* CVODE often evaluates at the same vector again */
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->x = x + g->nodes[i]->x_off;
    g->bound = x;
}

static inline int call_outputs(node *n, double t, int recoverable)
{
    if (n->d->outputs == NULL)
        return 0;
    twin_status st = IN_MODEL(n, t, n->d->outputs(n->inst, t, n->x, n->u,
                                                n->y));
    OUT_OF_MODEL();
    return st <= TWIN_WARNING ? 0
                              : sim__model_status(n, st, "outputs", t,
                                                  recoverable);
}

/* Hand n the event indicators it has in n->crossed (NULL: a time or step
 * event). */
static inline int call_event(node *n, double t, const int *crossed)
{
    twin_status st = IN_MODEL(n, t, n->d->event(n->inst, t, n->x, n->u,
                                             crossed));
    OUT_OF_MODEL();
    return sim__model_status(n, st, "event", t, 0);
}

#endif
