/*
 * loops.c — algebraic loops of a sim: taking graph__plan's loops onto the
 * sim's nodes, solving each with KINSOL wherever the evaluation reaches
 * it, and describing the plan (`twinctl run --explain`).
 *
 * The unknowns are the values of the torn connections, z.  One residual
 * evaluation holds each torn input at its z_i, evaluates the members in
 * their order (each gathering its other inputs as sim.c would), and
 * returns F_i = source output − z_i.  KINSOL's Newton iteration with line
 * search and a dense difference-quotient Jacobian (the loops are small)
 * starts from the values the torn inputs hold, the previous solution.
 * Discrete members tick from the states they had before the tick at every
 * trial, so a solve ticks each of them once in effect.  The graph side
 * (components, tearing, order) is graph.c's; what a node evaluation is,
 * sim.c's (sim__reach).
 */
#include "loops.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <kinsol/kinsol.h>

#include "fmu.h"

static void kin_error(int code, const char *module, const char *function,
                      char *msg, void *data)
{
    loop *lp = data;
    if (code < 0)
        snprintf(lp->kin_msg, sizeof lp->kin_msg, "%s: %s", function, msg);
}

/* One evaluation of the members with the torn inputs at z.  0, 1 (a
 * DISCARD in LOOP_RHS) or -1 (recorded). */
static int evaluate(loop *lp, const double *z)
{
    const scenario *sc = lp->owner->sc;
    for (size_t m = 0; m < lp->n_members; m++) {
        node *n = lp->members[m];
        if (lp->mode != LOOP_RHS)
            sim__gather_held(n);
        gather_intra(n);
        for (size_t i = 0; i < lp->n_tears; i++)
            if (lp->tear_dst[i] == n)
                n->u[sc->conn[lp->tears[i]].to.index] = z[i];
        if (lp->mode == LOOP_TICK && lp->before && lp->before[m])
            memcpy(n->x, lp->before[m],
                   n->si->model->n_state * sizeof(double));
        int rc = sim__reach(n, lp->t, lp->mode == LOOP_TICK,
                            lp->mode == LOOP_RHS);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static double tear_source(const loop *lp, size_t i)
{
    const sc_connection *c = &lp->owner->sc->conn[lp->tears[i]];
    return lp->owner->nodes[c->from.inst].y[c->from.index];
}

static int residual(N_Vector zv, N_Vector fv, void *data)
{
    loop *lp = data;
    const double *z = N_VGetArrayPointer(zv);
    double *f = N_VGetArrayPointer(fv);
    int rc = evaluate(lp, z);
    lp->at_last = rc == 0;
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < lp->n_tears; i++)
        f[i] = tear_source(lp, i) - z[i];
    memcpy(lp->last, z, lp->n_tears * sizeof *z);
    return 0;
}

/* "a (pi), b (valve)" */
static void describe_members(const loop *lp, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t m = 0; m < lp->n_members && used + 1 < len; m++) {
        int k = snprintf(buf + used, len - used, "%s%s (%s)", m ? ", " : "",
                         lp->members[m]->si->name, lp->members[m]->d->name);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static void fail_to_converge(loop *lp, int flag, long iters)
{
    sim *s = lp->owner;
    const double *z = N_VGetArrayPointer(lp->z);
    /* The residual where KINSOL stopped, its largest entry named. */
    double worst = 0.0;
    size_t at = 0;
    if (evaluate(lp, z) == 0)
        for (size_t i = 0; i < lp->n_tears; i++) {
            double r = fabs(tear_source(lp, i) - z[i]);
            if (!(r <= worst)) {
                worst = r;
                at = i;
            }
        }
    char members[512], tear[256], name[64];
    describe_members(lp, members, sizeof members);
    scenario__ref_name(s->sc, s->sc->conn[lp->tears[at]].to, tear,
                       sizeof tear);
#if SUNDIALS_VERSION_MAJOR < 7
    char *flag_name = KINGetReturnFlagName(flag);
    snprintf(name, sizeof name, "%s", flag_name ? flag_name : "?");
    free(flag_name);
#else
    snprintf(name, sizeof name, "%s", KINGetReturnFlagName(flag));
#endif
    sim__fail(s, TWIN_E_SOLVER_FAILURE,
              "the algebraic loop of %s did not converge at t = %.17g%s: "
              "residual norm %.3g (largest at the tear variable %s = %.17g) "
              "after %ld iterations (KINSOL: %s%s%s). Check that the loop "
              "has a solution near its previous one, or break it with a "
              "model that has a state or a discrete model", members, lp->t,
              lp->rhs ? " (inside its group's right-hand side)" : "", worst,
              tear, z[at], iters, name, lp->kin_msg[0] ? ", " : "",
              lp->kin_msg);
}

int loops__solve(loop *lp, double t, loop_mode mode)
{
    sim *s = lp->owner;
    const scenario *sc = s->sc;
    lp->t = t;
    lp->mode = mode;
    lp->kin_msg[0] = '\0';
    lp->at_last = 0;
    /* The guess: what the torn inputs hold (the previous solution). */
    double *z = N_VGetArrayPointer(lp->z);
    double *us = N_VGetArrayPointer(lp->uscale);
    double *fs = N_VGetArrayPointer(lp->fscale);
    for (size_t i = 0; i < lp->n_tears; i++) {
        z[i] = lp->tear_dst[i]->u[sc->conn[lp->tears[i]].to.index];
        lp->held[i] = z[i];
        if (!isfinite(z[i]))
            z[i] = 0.0;
        /* Variables scaled by their size (1 at least: KINSOL's difference
         * quotients step by √ε of it), residuals by the tolerance. */
        us[i] = 1.0 / fmax(1.0, fabs(z[i]));
        fs[i] = 1.0 / (sc->atol + sc->rtol * fabs(z[i]));
    }
    for (size_t m = 0; mode == LOOP_TICK && lp->before && m < lp->n_members;
         m++)
        if (lp->before[m])
            memcpy(lp->before[m], lp->members[m]->x,
                   lp->members[m]->si->model->n_state * sizeof(double));
    int flag = KINSol(lp->kin, lp->z, KIN_LINESEARCH, lp->uscale,
                      lp->fscale);
    long iters = 0;
    KINGetNumNonlinSolvIters(lp->kin, &iters);
    s->st.loop_solves++;
    s->st.loop_iters += (uint64_t)iters;
    int ok = flag == KIN_SUCCESS || flag == KIN_INITIAL_GUESS_OK;
    if (flag == KIN_STEP_LT_STPTOL) {
        /* Newton can step no further: accept only a residual at the
         * rounding of the values. */
        ok = evaluate(lp, z) == 0;
        lp->at_last = 0;
        for (size_t i = 0; ok && i < lp->n_tears; i++)
            ok = fabs(tear_source(lp, i) - z[i]) <=
                 64 * DBL_EPSILON * fmax(1.0, fabs(z[i]));
    }
    if (!ok) {
        int sysfunc = flag == KIN_SYSFUNC_FAIL ||
                      flag == KIN_FIRST_SYSFUNC_ERR ||
                      flag == KIN_REPTD_SYSFUNC_ERR;
        /* A model's DISCARD inside the right-hand side: the integrator
         * retries with a smaller step, as for any DISCARD there. */
        if (sysfunc && mode == LOOP_RHS && s->fail[0] == '\0')
            return 1;
        fail_to_converge(lp, flag, iters); /* kept only if the first */
        return -1;
    }
    /* A torn input held over the tick (from a discrete model or another
     * group) that moved is a jump for its group, as sim__gather_held
     * says of the inputs it copies. */
    for (size_t i = 0; mode != LOOP_RHS && i < lp->n_tears; i++) {
        const node *src = &s->nodes[sc->conn[lp->tears[i]].from.inst];
        group *g = lp->tear_dst[i]->grp;
        if (g != NULL && src->grp != g && !same(lp->held[i], z[i]))
            g->restart = 1;
    }
    /* Leave every member evaluated at the solution (KINSOL's last
     * evaluation usually was there already). */
    if (lp->at_last && memcmp(lp->last, z, lp->n_tears * sizeof *z) == 0)
        return 0;
    return evaluate(lp, z);
}

/* ---- building ---------------------------------------------------------- */

static int setup_kinsol(loop *lp, twin_errors *errs)
{
    sim *s = lp->owner;
    sunindextype n = (sunindextype)lp->n_tears;
    lp->z = N_VNew_Serial(n, s->ctx);
    lp->uscale = N_VNew_Serial(n, s->ctx);
    lp->fscale = N_VNew_Serial(n, s->ctx);
    lp->J = SUNDenseMatrix(n, n, s->ctx);
    lp->kin = KINCreate(s->ctx);
    if (!lp->z || !lp->uscale || !lp->fscale || !lp->J || !lp->kin)
        goto fail;
    N_VConst(0.0, lp->z);
    /* The longest Newton step, in the scaled variables (each at most 1 in
     * size): 1000 each.  KINSOL's own bound, 1000 times the scaled guess
     * but at least 1, is 1 from a guess of zeros (the torn inputs' start
     * values), and five steps in a row at the bound end the solve
     * (KIN_MXNEWT_5X_EXCEEDED): a loop whose answer lies 5 or more from
     * zero failed at its first solve. */
    lp->LS = SUNLinSol_Dense(lp->z, lp->J, s->ctx);
    if (lp->LS == NULL || KINSetErrHandlerFn(lp->kin, kin_error, lp) != 0 ||
        KINInit(lp->kin, residual, lp->z) != 0 ||
        KINSetUserData(lp->kin, lp) != 0 ||
        KINSetLinearSolver(lp->kin, lp->LS, lp->J) != 0 ||
        KINSetFuncNormTol(lp->kin, LOOP_TOL) != 0 ||
        KINSetNumMaxIters(lp->kin, LOOP_MAX_ITERS) != 0 ||
        KINSetMaxSetupCalls(lp->kin, 1) != 0 ||
        KINSetMaxNewtonStep(lp->kin, 1000.0 * sqrt((double)n)) != 0)
        goto fail;
    return 0;
fail:
    errors__add(errs, TWIN_E_INTERNAL, "", "setting up KINSOL for an "
                "algebraic loop failed (out of memory?)");
    return -1;
}

/* A Co-Simulation FMU steps its own solver in tick(), and what it holds
 * is not in the states the host could put back: it cannot be ticked again
 * with other inputs, which is what solving a loop at a tick does. */
static int refuse_cosimulation(node **members, size_t n_members,
                               twin_errors *errs)
{
    for (size_t m = 0; m < n_members; m++) {
        const fmu *f = fmu_model__of(members[m]->d);
        if (f == NULL || f->use != FMU_CS)
            continue;
        char names[512];
        loop view = {.members = members, .n_members = n_members};
        describe_members(&view, names, sizeof names);
        errors__add(errs, TWIN_E_ALGEBRAIC_LOOP, "",
                    "the algebraic loop of %s goes through the "
                    "Co-Simulation FMU of instance '%s', whose step cannot "
                    "be taken again with other inputs, as solving the loop "
                    "would: use its Model Exchange interface, or break the "
                    "loop with a model that has a state", names,
                    members[m]->si->name);
        return -1;
    }
    return 0;
}

static loop *loop_new(sim *s, node **members, size_t n_members,
                      const graph_plan *plan, int rhs, twin_errors *errs)
{
    const scenario *sc = s->sc;
    if (!rhs && refuse_cosimulation(members, n_members, errs) != 0)
        return NULL;
    loop *lp = calloc(1, sizeof *lp);
    if (lp == NULL)
        goto oom;
    lp->owner = s;
    lp->rhs = rhs;
    lp->members = malloc(n_members * sizeof *lp->members);
    lp->tears = malloc((sc->n_conn + 1) * sizeof *lp->tears);
    lp->tear_dst = malloc((sc->n_conn + 1) * sizeof *lp->tear_dst);
    lp->last = malloc((sc->n_conn + 1) * sizeof *lp->last);
    lp->held = malloc((sc->n_conn + 1) * sizeof *lp->held);
    if (!lp->members || !lp->tears || !lp->tear_dst || !lp->last ||
        !lp->held)
        goto oom;
    memcpy(lp->members, members, n_members * sizeof *members);
    lp->n_members = n_members;
    for (size_t e = 0; e < sc->n_conn; e++) {
        if (!plan->torn[e])
            continue;
        node *dst = &s->nodes[sc->conn[e].to.inst];
        for (size_t m = 0; m < n_members; m++)
            if (members[m] == dst) {
                lp->tear_dst[lp->n_tears] = dst;
                lp->tears[lp->n_tears++] = e;
                break;
            }
    }
    for (size_t m = 0; !rhs && m < n_members; m++) {
        if (members[m]->continuous || members[m]->si->model->n_state == 0)
            continue;
        if (lp->before == NULL &&
            (lp->before = calloc(n_members, sizeof *lp->before)) == NULL)
            goto oom;
        lp->before[m] = malloc(members[m]->si->model->n_state *
                               sizeof(double));
        if (lp->before[m] == NULL)
            goto oom;
    }
    if (setup_kinsol(lp, errs) != 0) {
        loops__free(&lp);
        return NULL;
    }
    return lp;
oom:
    errors__add(errs, TWIN_E_INTERNAL, "", "out of memory building an "
                "algebraic loop");
    loops__free(&lp);
    return NULL;
}

int loops__adopt(sim *s, const graph_plan *plan, int rhs, node **order,
                 size_t *n_order, twin_errors *errs)
{
    *n_order = plan->n_order;
    for (size_t k = 0; k < plan->n_order; k++)
        order[k] = &s->nodes[plan->order[k]];
    if (plan->n_loops == 0)
        return 0;
    loop **grown = realloc(s->loops,
                           (s->n_loops + plan->n_loops) * sizeof *grown);
    if (grown == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        return -1;
    }
    s->loops = grown;
    /* A loop's members follow each other in the plan's order. */
    for (size_t k = 0; k < plan->n_order;) {
        size_t id = plan->loop[plan->order[k]];
        if (id == GRAPH_NONE) {
            k++;
            continue;
        }
        size_t j = k;
        while (j < plan->n_order && plan->loop[plan->order[j]] == id)
            j++;
        loop *lp = loop_new(s, order + k, j - k, plan, rhs, errs);
        if (lp == NULL)
            return -1;
        s->loops[s->n_loops++] = lp;
        for (size_t m = k; m < j; m++) {
            if (rhs)
                order[m]->rhs_loop = lp;
            else
                order[m]->tick_loop = lp;
        }
        k = j;
    }
    return 0;
}

void loops__free(loop **lpp)
{
    loop *lp = *lpp;
    if (lp == NULL)
        return;
    if (lp->kin)
        KINFree(&lp->kin);
    if (lp->LS)
        SUNLinSolFree(lp->LS);
    if (lp->J)
        SUNMatDestroy(lp->J);
    if (lp->z)
        N_VDestroy(lp->z);
    if (lp->uscale)
        N_VDestroy(lp->uscale);
    if (lp->fscale)
        N_VDestroy(lp->fscale);
    for (size_t m = 0; lp->before && m < lp->n_members; m++)
        free(lp->before[m]);
    free(lp->before);
    free(lp->members);
    free(lp->tears);
    free(lp->tear_dst);
    free(lp->last);
    free(lp->held);
    free(lp);
    *lpp = NULL;
}

/* ---- --explain --------------------------------------------------------- */

static void explain_loop(const sim *s, const loop *lp, FILE *out)
{
    char members[1024], a[256], b[256];
    describe_members(lp, members, sizeof members);
    fprintf(out, "  loop of %s\n    tear variables:", members);
    for (size_t i = 0; i < lp->n_tears; i++) {
        const sc_connection *c = &s->sc->conn[lp->tears[i]];
        fprintf(out, "%s %s (from %s)", i ? "," : "",
                scenario__ref_name(s->sc, c->to, a, sizeof a),
                scenario__ref_name(s->sc, c->from, b, sizeof b));
    }
    fprintf(out, "\n    order:");
    for (size_t m = 0; m < lp->n_members; m++)
        fprintf(out, "%s %s", m ? "," : "", lp->members[m]->si->name);
    fprintf(out, "\n");
}

void loops__explain(const sim *s, FILE *out)
{
    const scenario *sc = s->sc;
    fprintf(out, "scenario '%s': %zu instances, %zu connections\n", sc->name,
            sc->n_inst, sc->n_conn);
    fprintf(out, "integration groups: %zu (%s)\n", s->n_groups,
            s->stacked ? "stacked: one integrator for the groups with states"
                       : "one integrator per group with states");
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const group *g = &s->groups[gi];
        char how[256] = "outputs only, evaluated at ticks";
        if (g->cvode)
            jacobian__explain(g, how, sizeof how);
        else if (g->timed)
            snprintf(how, sizeof how, "time events only");
        fprintf(out, "  group %zu (%zu state%s, %s):", gi + 1, g->n_x,
                g->n_x == 1 ? "" : "s", how);
        for (size_t i = 0; i < g->n_nodes; i++)
            fprintf(out, "%s %s", i ? "," : "", g->nodes[i]->si->name);
        fprintf(out, "\n");
    }
    size_t n_tick = 0, n_rhs = 0;
    for (size_t i = 0; i < s->n_loops; i++) {
        n_tick += !s->loops[i]->rhs;
        n_rhs += s->loops[i]->rhs;
    }
    fprintf(out, "algebraic loops at ticks: %zu\n", n_tick);
    for (size_t i = 0; i < s->n_loops; i++)
        if (!s->loops[i]->rhs)
            explain_loop(s, s->loops[i], out);
    fprintf(out, "algebraic loops inside a group's right-hand side: %zu\n",
            n_rhs);
    for (size_t i = 0; i < s->n_loops; i++)
        if (s->loops[i]->rhs)
            explain_loop(s, s->loops[i], out);
    if (s->n_loops > 0)
        fprintf(out, "loops are solved with KINSOL (Newton, line search) "
                "until every |residual| <= %g * (atol + rtol * |value|), "
                "atol = %g, rtol = %g, at most %d iterations\n", LOOP_TOL,
                sc->atol, sc->rtol, LOOP_MAX_ITERS);
    fprintf(out, "evaluation order at ticks:");
    for (size_t k = 0; k < s->n_order; k++) {
        const node *n = s->order[k];
        const char *open = n->tick_loop && n->tick_loop->members[0] == n
                               ? " [" : " ";
        int close = n->tick_loop &&
                    n->tick_loop->members[n->tick_loop->n_members - 1] == n;
        fprintf(out, "%s%s%s", open, n->si->name, close ? "]" : "");
    }
    fprintf(out, "\n");
}
