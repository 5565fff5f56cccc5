/*
 * tolerances.c — per-state absolute tolerances.
 *
 * Owns where each continuous state's absolute tolerance comes from and
 * how the integrator gets it.  At composition (tolerances__compose, for
 * scenario.c) every instance's states are resolved once: the scenario's
 * per-instance "abs_tol" override, else the model's own state_abs_tol
 * entry when it is > 0 (model ABI 1.2), else, for an FMU state that
 * declares a nominal, the scenario's atol times that nominal, else the
 * scenario's atol.  When a group's integrator is built (tolerances__apply,
 * for sim.c's build_solvers) the group's states, concatenated at each
 * node's x_off, take those values as CVODE's atol vector — or the one
 * scalar atol when every entry is the scenario's, so a scenario that uses
 * none of this costs nothing more.  The relative tolerance is the
 * scenario's for every state.
 */
#include "tolerances.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu.h"
#include "sim_internal.h"

/* The nominal an FMU in Model Exchange declares for its state j (1 when
 * it declares none, and for every other model). */
static double nominal(const twin_model *m, size_t j)
{
    const fmu *f = fmu_model__of(m->d);
    if (f == NULL || f->use != FMU_ME || j >= f->desc.n_states)
        return 1;
    double v = f->desc.vars[f->desc.states[j]].nominal;
    return isfinite(v) && v > 0 ? v : 1;
}

/* "a", "b", "c" into buf (cut short with ", ..." when it does not fit). */
static const char *state_names(const twin_model *m, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_state && at < len; i++) {
        int k = snprintf(buf + at, len - at, "%s'%s'", i ? ", " : "",
                         m->state[i]->name);
        if (k < 0 || (size_t)k >= len - at) {
            snprintf(buf + at, len - at, ", ...");
            break;
        }
        at += (size_t)k;
    }
    return buf;
}

/* One override, name: value at path, into si->abs_tol. */
static void override(sc_instance *si, const char *name, const json_t *v,
                     const char *path, twin_errors *errs)
{
    const twin_model *m = si->model;
    twin_var_kind kind;
    size_t idx;
    if (modlib__find_signal(m, name, &kind, &idx) != 0 ||
        kind != TWIN_VAR_STATE) {
        char names[512];
        errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, path,
                    "model '%s' has no state '%s' to give an absolute "
                    "tolerance; its states are %s", m->d->name, name,
                    m->n_state ? state_names(m, names, sizeof names)
                               : "none");
        return;
    }
    if (!json_is_number(v)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, path, "the absolute tolerance "
                    "of state '%s' must be a number, not %s", name,
                    errors__json_kind(v));
        return;
    }
    double a = json_number_value(v);
    if (!(isfinite(a) && a > 0)) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "the absolute "
                    "tolerance of state '%s' must be finite and > 0, not %g",
                    name, a);
        return;
    }
    si->abs_tol[idx] = a;
}

int tolerances__compose(sc_instance *si, const json_t *over, double atol,
                        const char *path, twin_errors *errs)
{
    const twin_model *m = si->model;
    free(si->abs_tol);
    si->abs_tol = calloc(m->n_state + 1, sizeof *si->abs_tol);
    if (si->abs_tol == NULL)
        return -1;
    if (over != NULL) {
        if (!json_is_object(over))
            errors__add(errs, TWIN_E_WRONG_TYPE, path, "\"abs_tol\" must be "
                        "an object of state names and absolute tolerances, "
                        "not %s", errors__json_kind(over));
        else if (m->d->kind != TWIN_MODEL_CONTINUOUS)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path, "instance '%s' "
                        "(model '%s') is discrete: its states are not "
                        "integrated and take no absolute tolerance; leave "
                        "\"abs_tol\" out", si->name, m->d->name);
        else {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)over, k, v) {
                char *p = errors__path(path, k);
                override(si, k, v, p ? p : path, errs);
                free(p);
            }
        }
    }
    for (size_t j = 0; j < m->n_state; j++) {
        if (si->abs_tol[j] > 0)
            continue;
        double own = m->state_abs_tol ? m->state_abs_tol[j] : 0;
        si->abs_tol[j] = own > 0 ? own : atol * nominal(m, j);
    }
    return 0;
}

int tolerances__apply(sim *s, group *g)
{
    const scenario *sc = s->sc;
    int uniform = 1;
    for (size_t i = 0; i < g->n_nodes && uniform; i++) {
        const sc_instance *si = g->nodes[i]->si;
        for (size_t j = 0; si->abs_tol && j < si->model->n_state; j++)
            uniform &= si->abs_tol[j] == sc->atol;
    }
    if (uniform)
        return CVodeSStolerances(g->cvode, sc->rtol, sc->atol);
    N_Vector v = N_VNew_Serial((sunindextype)g->n_x, s->ctx);
    if (v == NULL)
        return CV_MEM_FAIL;
    double *a = N_VGetArrayPointer(v);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const node *n = g->nodes[i];
        for (size_t j = 0; j < n->si->model->n_state; j++)
            a[n->x_off + j] = n->si->abs_tol ? n->si->abs_tol[j] : sc->atol;
    }
    /* CVODE keeps its own copy of the vector. */
    int flag = CVodeSVtolerances(g->cvode, sc->rtol, v);
    N_VDestroy(v);
    return flag;
}

void tolerances__explain(const sim *s, FILE *out)
{
    const scenario *sc = s->sc;
    size_t n = 0;
    for (size_t i = 0; i < sc->n_inst; i++)
        for (size_t j = 0; sc->inst[i].abs_tol &&
                           j < sc->inst[i].model->n_state; j++)
            n += sc->inst[i].abs_tol[j] != sc->atol;
    fprintf(out, "tolerances: rtol %g, atol %g; states with their own "
            "atol: %zu\n", sc->rtol, sc->atol, n);
    for (size_t i = 0; i < sc->n_inst; i++) {
        const sc_instance *si = &sc->inst[i];
        for (size_t j = 0; si->abs_tol && j < si->model->n_state; j++)
            if (si->abs_tol[j] != sc->atol)
                fprintf(out, "  %s.%s: %g\n", si->name,
                        si->model->state[j]->name, si->abs_tol[j]);
    }
}
