/*
 * fmu_model.c — an FMU as a model of the library: opened (unpacked by
 * fmu_unpack.c, described by fmu_xml.c, bound by fmu_bind.c) and its
 * variables mapped onto a twin_model_descriptor of ABI 1.1, whose calls
 * fmu_run.c fills in.  The library sees an FMU only through this
 * descriptor, as it sees a plugin's.
 *
 * The mapping (docs/fmi.md):
 *   model name      the model identifier of the interface used
 *   parameter       (fixed, tunable, structural) → TWIN_VAR_PARAMETER,
 *                   a String one with TWIN_VAR_STRING
 *   input           → TWIN_VAR_INPUT
 *   output          → TWIN_VAR_OUTPUT, TWIN_VAR_FEEDTHROUGH when the
 *                   model structure says it depends on an input
 *   continuous state (Model Exchange) → TWIN_VAR_STATE, in the order of
 *                   the FMU's state vector, also when it is an output
 *   local, calculatedParameter (derivatives too) → TWIN_VAR_OUTPUT with
 *                   TWIN_VAR_LOCAL
 *   independent     (time) left out; so are Binary, Clock, arrays, and
 *                   String variables other than parameters
 *   Integer, Enumeration (all FMI 3 integer types) → TWIN_VAR_INTEGER;
 *   Boolean → TWIN_VAR_BOOLEAN (min 0, max 1).
 * Units, start, min, max and descriptions are carried.  Model Exchange
 * is a continuous model, Co-Simulation a discrete one.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu.h"

fmu *fmu_model__of(const twin_model_descriptor *d)
{
    /* Another descriptor (a plugin's, a Python model's) may sit where
     * nothing lies before it: look before d only where it is ours. */
    if (d == NULL || !fmu_run__owns(d))
        return NULL;
    fmu *f = (fmu *)((char *)d - offsetof(fmu, model));
    return f->magic == FMU_MAGIC ? f : NULL;
}

static int is_state(const fmu *f, size_t k)
{
    if (f->use != FMU_ME)
        return 0;
    for (size_t j = 0; j < f->desc.n_states; j++)
        if (f->desc.states[j] == k)
            return 1;
    return 0;
}

static int is_feedthrough(const fmu_desc *d, size_t k)
{
    for (size_t j = 0; j < d->n_outputs; j++)
        if (d->outputs[j] == k)
            return d->output_feedthrough[j];
    return 0;
}

/* The kind and flags of variable k, or -1 when it is left out. */
static int kind_of(const fmu *f, size_t k, uint32_t *flags)
{
    const fmu_var *v = &f->desc.vars[k];
    *flags = 0;
    if (v->type == FMU_T_OTHER || v->is_array ||
        v->causality == FMU_C_INDEPENDENT)
        return -1;
    if (v->type == FMU_T_BOOLEAN)
        *flags |= TWIN_VAR_BOOLEAN;
    else if (v->type != FMU_T_FLOAT64 && v->type != FMU_T_FLOAT32 &&
             v->type != FMU_T_STRING)
        *flags |= TWIN_VAR_INTEGER;
    switch (v->causality) {
    case FMU_C_PARAMETER:
    case FMU_C_STRUCTURAL_PARAMETER:
        if (v->type == FMU_T_STRING)
            *flags |= TWIN_VAR_STRING;
        return TWIN_VAR_PARAMETER;
    case FMU_C_INPUT:
        return v->type == FMU_T_STRING ? -1 : TWIN_VAR_INPUT;
    case FMU_C_OUTPUT:
        if (v->type == FMU_T_STRING)
            return -1;
        if (is_feedthrough(&f->desc, k))
            *flags |= TWIN_VAR_FEEDTHROUGH;
        return TWIN_VAR_OUTPUT;
    default:   /* local, calculatedParameter */
        if (v->type == FMU_T_STRING)
            return -1;
        *flags |= TWIN_VAR_LOCAL;
        return TWIN_VAR_OUTPUT;
    }
}

static void put(fmu *f, size_t *n, size_t k, twin_var_kind kind,
                uint32_t flags)
{
    const fmu_var *v = &f->desc.vars[k];
    twin_variable *mv = &f->model_vars[*n];
    mv->name = v->name;
    mv->unit = v->unit;
    mv->kind = kind;
    mv->flags = flags;
    mv->description = v->description;
    mv->min = v->min;
    mv->max = v->max;
    if (flags & TWIN_VAR_BOOLEAN) {
        mv->min = 0;
        mv->max = 1;
    }
    /* Parameters without a start (a calculated one is no parameter here)
     * and inputs without one start at 0, within their range. */
    mv->start = v->has_start ? v->start : 0;
    if (!v->has_start && mv->start < mv->min)
        mv->start = mv->min;
    if (!v->has_start && mv->start > mv->max)
        mv->start = mv->max;
    if (flags & TWIN_VAR_STRING)
        mv->start = NAN;
    f->var_of[*n] = k;
    (*n)++;
}

/* FMU_MAX_DEPENDENCIES: more than this many pairs and the structure is
 * left undeclared (every block dense), as the host would refuse it. */
#define FMU_MAX_DEPENDENCIES (1u << 20)

/* What structure() works with: the descriptor index of each FMU
 * variable (SIZE_MAX: left out), the states and inputs by descriptor
 * index (states first), and the pairs so far. */
typedef struct deps_ctx {
    fmu *f;
    const size_t *at;
    const size_t *on_all;
    size_t n_states, n_on;
    size_t n, cap;
} deps_ctx;

/* Append the pairs of descriptor variable `of` on what deps names (the
 * states and inputs among them; parameters are constants), or, when deps
 * is NULL or not given, on every state and, where inputs_too, every
 * input.  -1 when cap would be passed. */
static int depend(deps_ctx *c, size_t of, const struct fmu_deps *deps,
                  int inputs_too)
{
    const twin_variable *v = c->f->model.variables;
    int all = deps == NULL || !deps->given;
    size_t count = all ? (inputs_too ? c->n_on : c->n_states) : deps->n;
    for (size_t j = 0; j < count; j++) {
        size_t on = all ? c->on_all[j] : c->at[deps->vars[j]];
        if (on == SIZE_MAX ||
            (v[on].kind != TWIN_VAR_STATE && v[on].kind != TWIN_VAR_INPUT))
            continue;
        if (c->n >= c->cap)
            return -1;
        c->f->deps[c->n++] = (twin_dependency){(uint32_t)of, (uint32_t)on};
    }
    return 0;
}

/* The descriptor's dependencies from the ModelStructure (Model Exchange
 * only: a Co-Simulation FMU is a discrete model): declared when at least
 * one derivative or output lists its dependencies; an entry without the
 * list, and a local (not in ModelStructure), depends on every state (and
 * input, where feedthrough).  Too many pairs: left undeclared. */
static int structure(fmu *f)
{
    const fmu_desc *d = &f->desc;
    twin_model_descriptor *m = &f->model;
    int any = 0;
    for (size_t j = 0; j < d->n_states; j++)
        any |= d->state_deps[j].given;
    for (size_t j = 0; j < d->n_outputs; j++)
        any |= d->output_deps[j].given;
    if (f->use != FMU_ME || !any)
        return 0;
    deps_ctx c = {.f = f, .n_states = d->n_states};
    c.n_on = c.n_states;
    for (size_t i = 0; i < m->n_variables; i++)
        c.n_on += m->variables[i].kind == TWIN_VAR_INPUT;
    c.cap = m->n_variables * c.n_on;
    if (c.cap == 0 || c.cap > FMU_MAX_DEPENDENCIES)
        return 0;
    size_t *at = malloc((d->n_vars + 1) * sizeof *at);
    size_t *on_all = malloc((c.n_on + 1) * sizeof *on_all);
    const struct fmu_deps **out = calloc(d->n_vars + 1, sizeof *out);
    f->deps = malloc(c.cap * sizeof *f->deps);
    int rc = -1;
    if (at == NULL || on_all == NULL || out == NULL || f->deps == NULL)
        goto done;
    for (size_t k = 0; k < d->n_vars; k++)
        at[k] = SIZE_MAX;
    size_t k_on = c.n_states; /* states are the first variables */
    for (size_t i = 0; i < m->n_variables; i++) {
        at[f->var_of[i]] = i;
        if (i < c.n_states)
            on_all[i] = i;
        else if (m->variables[i].kind == TWIN_VAR_INPUT)
            on_all[k_on++] = i;
    }
    for (size_t j = 0; j < d->n_outputs; j++)
        out[d->outputs[j]] = &d->output_deps[j];
    c.at = at;
    c.on_all = on_all;
    rc = 0;
    for (size_t i = 0; i < m->n_variables && rc == 0; i++) {
        const twin_variable *v = &m->variables[i];
        if (v->kind == TWIN_VAR_STATE)
            rc = depend(&c, i, &d->state_deps[i], 1);
        else if (v->kind == TWIN_VAR_OUTPUT)
            rc = depend(&c, i, out[f->var_of[i]],
                        (v->flags & TWIN_VAR_FEEDTHROUGH) != 0);
    }
    if (rc == 0) {
        m->dependencies = f->deps;
        m->n_dependencies = c.n;
    }
    rc = 0; /* more pairs than cap (a list naming one twice): undeclared */
done:
    free(at);
    free(on_all);
    free(out);
    return rc;
}

/* f->model from f->desc and f->use: the variables, then the rest of the
 * descriptor but its calls. */
static int map(fmu *f, char *why, size_t why_len)
{
    const fmu_desc *d = &f->desc;
    f->model_vars = calloc(d->n_vars + 1, sizeof *f->model_vars);
    f->var_of = calloc(d->n_vars + 1, sizeof *f->var_of);
    if (f->model_vars == NULL || f->var_of == NULL) {
        snprintf(why, why_len, "%s: out of memory", f->path);
        return -1;
    }
    size_t n = 0;
    uint32_t flags;
    /* States first, in the order of the state vector. */
    if (f->use == FMU_ME)
        for (size_t j = 0; j < d->n_states; j++) {
            size_t k = d->states[j];
            put(f, &n, k, TWIN_VAR_STATE, 0);
        }
    for (size_t k = 0; k < d->n_vars; k++) {
        if (is_state(f, k))
            continue;
        int kind = kind_of(f, k, &flags);
        if (kind >= 0)
            put(f, &n, k, (twin_var_kind)kind, flags);
    }
    twin_model_descriptor *m = &f->model;
    m->abi_major = TWIN_MODEL_ABI_MAJOR;
    m->abi_minor = TWIN_MODEL_ABI_MINOR;
    m->struct_size = sizeof *m;
    m->name = f->use == FMU_ME ? d->me_identifier : d->cs_identifier;
    m->version = d->version_text;
    m->description = d->description[0] != '\0' ? d->description
                                                : d->model_name;
    m->kind = f->use == FMU_ME ? TWIN_MODEL_CONTINUOUS : TWIN_MODEL_DISCRETE;
    m->variables = f->model_vars;
    m->n_variables = n;
    m->n_event_indicators = f->use == FMU_ME ? d->n_event_indicators : 0;
    if (structure(f) != 0) {
        snprintf(why, why_len, "%s: out of memory", f->path);
        return -1;
    }
    return 0;
}

/* The FMU at path, unpacked in dir (NULL: unpack it now, from fd). */
static fmu *open_in(const char *path, int fd, const char *dir, unsigned want,
                    char *why, size_t why_len)
{
    why[0] = '\0';
    fmu *f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL ||
        (dir != NULL && (f->dir = strdup(dir)) == NULL)) {
        snprintf(why, why_len, "%s: out of memory", path);
        if (f != NULL)
            free(f->path);
        free(f);
        return NULL;
    }
    f->magic = FMU_MAGIC;
    if ((dir == NULL &&
         fmu_unpack__open(path, fd, &f->dir, why, why_len) != 0) ||
        fmu_xml__read(path, f->dir, &f->desc, why, why_len) != 0)
        goto fail;
    unsigned offered = f->desc.interfaces;
    if (want == 0)
        f->use = (offered & FMU_ME) ? FMU_ME : FMU_CS;
    else if (offered & want)
        f->use = (fmu_interface)want;
    else {
        snprintf(why, why_len, "%s: the FMU offers no %s interface (it "
                 "offers %s): ask for the other one", path,
                 want == FMU_ME ? "Model Exchange" : "Co-Simulation",
                 want == FMU_ME ? "Co-Simulation" : "Model Exchange");
        goto fail;
    }
    if (fmu_bind__open(f, why, why_len) != 0 || map(f, why, why_len) != 0)
        goto fail;
    fmu_run__calls(f);
    return f;
fail:
    fmu_model__close(&f);
    return NULL;
}

fmu *fmu_model__open(const char *path, int fd, unsigned want, char *why,
                     size_t why_len)
{
    return open_in(path, fd, NULL, want, why, why_len);
}

fmu *fmu_model__open_twin(const fmu *of, unsigned want, char *why,
                          size_t why_len)
{
    return open_in(of->path, -1, of->dir, want, why, why_len);
}

void fmu_model__close(fmu **fp)
{
    fmu *f = *fp;
    if (f == NULL)
        return;
    fmu_bind__close(f);
    fmu_xml__free(&f->desc);
    free(f->model_vars);
    free(f->var_of);
    free(f->deps);
    free(f->dir);
    free(f->path);
    f->magic = 0;
    free(f);
    *fp = NULL;
}
