/*
 * model_lib.c — loading model plugins and checking them before use.
 *
 * Owns: dlopen/dlsym of plugins, the ABI version check, the descriptor
 * check, and the per-kind variable tables the rest of the host indexes
 * with.  It calls no model function; sim.c does that.
 */
#include "model_lib.h"

#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The part of the descriptor ABI 1.0 defines. */
#define DESCRIPTOR_SIZE_1_0 \
    (offsetof(twin_model_descriptor, tick) + sizeof(void (*)(void)))

static int valid_name(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (const char *c = s; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return 0;
    return 1;
}

static int is_signal(twin_var_kind k)
{
    return k == TWIN_VAR_STATE || k == TWIN_VAR_INPUT || k == TWIN_VAR_OUTPUT;
}

const char *modlib__kind_name(twin_var_kind kind)
{
    switch (kind) {
    case TWIN_VAR_PARAMETER: return "parameter";
    case TWIN_VAR_STATE: return "state";
    case TWIN_VAR_INPUT: return "input";
    case TWIN_VAR_OUTPUT: return "output";
    }
    return "?";
}

static void check_variables(const twin_model_descriptor *d, twin_errors *errs)
{
    char path[64];
    for (size_t i = 0; i < d->n_variables; i++) {
        const twin_variable *v = &d->variables[i];
        snprintf(path, sizeof path, "/variables/%zu", i);
        if (!valid_name(v->name)) {
            errors__add(errs, TWIN_E_WRONG_TYPE, path,
                        "variable %zu has no valid name (letters, digits and "
                        "_ only, not starting with a digit)", i);
            continue;
        }
        if ((unsigned)v->kind > TWIN_VAR_OUTPUT)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' has an unknown kind %d", v->name,
                        (int)v->kind);
        if (v->unit == NULL || v->description == NULL)
            errors__add(errs, TWIN_E_MISSING_FIELD, path,
                        "variable '%s' needs a unit and a description "
                        "(\"\" is allowed)", v->name);
        if (isnan(v->min) || isnan(v->max) || v->min > v->max)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' has min %g above max %g (or NaN)",
                        v->name, v->min, v->max);
        int optional_input = v->kind == TWIN_VAR_INPUT && isnan(v->start);
        if (!optional_input && !(v->start >= v->min && v->start <= v->max))
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' starts at %g, outside [%g, %g]",
                        v->name, v->start, v->min, v->max);
        if ((v->flags & TWIN_VAR_FEEDTHROUGH) && v->kind != TWIN_VAR_OUTPUT)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' is a %s: only outputs can be "
                        "feedthrough", v->name, modlib__kind_name(v->kind));
        for (size_t j = 0; j < i; j++) {
            const twin_variable *w = &d->variables[j];
            if (w->name == NULL || strcmp(w->name, v->name) != 0)
                continue;
            int clash = (v->kind == TWIN_VAR_PARAMETER &&
                         w->kind == TWIN_VAR_PARAMETER) ||
                        (is_signal(v->kind) && is_signal(w->kind));
            if (clash)
                errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                            "variable name '%s' is used twice (as %s and %s)",
                            v->name, modlib__kind_name(w->kind),
                            modlib__kind_name(v->kind));
        }
    }
}

size_t modlib__check_descriptor(const twin_model_descriptor *d,
                                twin_errors *errs)
{
    size_t before = errs->count;
    if (d->abi_major != TWIN_MODEL_ABI_MAJOR ||
        d->abi_minor > TWIN_MODEL_ABI_MINOR) {
        errors__add(errs, TWIN_E_NOT_ALLOWED, "/abi",
                    "built for model ABI %u.%u, but this host speaks %d.%d "
                    "(the major must match and the minor must not be newer): "
                    "rebuild the plugin against this twin_model.h",
                    d->abi_major, d->abi_minor, TWIN_MODEL_ABI_MAJOR,
                    TWIN_MODEL_ABI_MINOR);
        return errs->count - before; /* nothing else can be trusted */
    }
    if (d->struct_size < DESCRIPTOR_SIZE_1_0) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/struct_size",
                    "descriptor is %u bytes, smaller than the %zu of ABI 1.0",
                    d->struct_size, (size_t)DESCRIPTOR_SIZE_1_0);
        return errs->count - before;
    }
    if (!valid_name(d->name))
        errors__add(errs, TWIN_E_MISSING_FIELD, "/name",
                    "the model needs a name of letters, digits and _");
    if (d->version == NULL || d->description == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/version",
                    "the model needs a version and a description");
    if (d->kind != TWIN_MODEL_CONTINUOUS && d->kind != TWIN_MODEL_DISCRETE)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/kind",
                    "unknown model kind %d", (int)d->kind);
    if (d->n_variables > 0 && d->variables == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/variables",
                    "n_variables is %zu but variables is NULL",
                    d->n_variables);
    else
        check_variables(d, errs);
    if (d->create == NULL || d->destroy == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/create",
                    "create and destroy are required");
    if (d->kind == TWIN_MODEL_CONTINUOUS && d->derivatives == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/derivatives",
                    "a continuous model needs derivatives");
    if (d->kind == TWIN_MODEL_DISCRETE && d->tick == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/tick",
                    "a discrete model needs tick");
    if (d->kind == TWIN_MODEL_DISCRETE && d->n_event_indicators > 0)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/n_event_indicators",
                    "a discrete model has no state events");
    if (d->n_event_indicators > 0 &&
        (d->event_indicators == NULL || d->event == NULL))
        errors__add(errs, TWIN_E_MISSING_FIELD, "/event_indicators",
                    "%zu event indicators declared but event_indicators or "
                    "event is NULL", d->n_event_indicators);
    if (d->kind == TWIN_MODEL_CONTINUOUS && d->outputs == NULL) {
        for (size_t i = 0; d->variables && i < d->n_variables; i++)
            if (d->variables[i].kind == TWIN_VAR_OUTPUT) {
                errors__add(errs, TWIN_E_MISSING_FIELD, "/outputs",
                            "the model declares outputs but no outputs "
                            "function");
                break;
            }
    }
    return errs->count - before;
}

static int build_tables(twin_model *m)
{
    const twin_model_descriptor *d = m->d;
    size_t n = d->n_variables ? d->n_variables : 1;
    m->param = calloc(n, sizeof *m->param);
    m->state = calloc(n, sizeof *m->state);
    m->input = calloc(n, sizeof *m->input);
    m->output = calloc(n, sizeof *m->output);
    if (!m->param || !m->state || !m->input || !m->output)
        return -1;
    for (size_t i = 0; i < d->n_variables; i++) {
        const twin_variable *v = &d->variables[i];
        switch (v->kind) {
        case TWIN_VAR_PARAMETER: m->param[m->n_param++] = v; break;
        case TWIN_VAR_STATE: m->state[m->n_state++] = v; break;
        case TWIN_VAR_INPUT: m->input[m->n_input++] = v; break;
        case TWIN_VAR_OUTPUT: m->output[m->n_output++] = v; break;
        }
    }
    return 0;
}

static void first_problem(const twin_errors *errs, const char *what,
                          char *why, size_t why_len)
{
    if (errs->count == 0) {
        snprintf(why, why_len, "%s: out of memory", what);
        return;
    }
    snprintf(why, why_len, "%s: %s%s", what, errs->items[0].message,
             errs->count > 1 ? " (and more; run twinctl check-model)" : "");
}

twin_model *modlib__wrap(const twin_model_descriptor *d, char *why,
                         size_t why_len)
{
    twin_errors errs = {0};
    twin_model *m = NULL;
    if (d == NULL) {
        snprintf(why, why_len, "no descriptor");
        goto fail;
    }
    if (modlib__check_descriptor(d, &errs) > 0) {
        first_problem(&errs, d->name && valid_name(d->name) ? d->name
                                                          : "model", why,
                      why_len);
        goto fail;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL)
        goto oom;
    m->d = d;
    if (build_tables(m) != 0)
        goto oom;
    errors__clear(&errs);
    return m;
oom:
    snprintf(why, why_len, "out of memory");
fail:
    modlib__close(&m);
    errors__clear(&errs);
    return NULL;
}

const twin_model_descriptor *modlib__load_descriptor(const char *path,
                                                     void **handle_out,
                                                     char *why, size_t why_len)
{
    twin_model_entry_fn entry;
    const twin_model_descriptor *d;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(why, why_len, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    dlerror();
    *(void **)&entry = dlsym(handle, TWIN_MODEL_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(why, why_len,
                 "%s is not a twinctl model: it exports no %s() (%s)", path,
                 TWIN_MODEL_ENTRY_SYMBOL, dlerror());
        goto fail;
    }
    d = entry();
    if (d == NULL) {
        snprintf(why, why_len, "%s: %s() returned NULL", path,
                 TWIN_MODEL_ENTRY_SYMBOL);
        goto fail;
    }
    *handle_out = handle;
    return d;
fail:
    dlclose(handle);
    return NULL;
}

twin_model *modlib__open(const char *path, char *why, size_t why_len)
{
    void *handle = NULL;
    char inner[512];
    const twin_model_descriptor *d =
        modlib__load_descriptor(path, &handle, why, why_len);
    if (d == NULL)
        return NULL;
    twin_model *m = modlib__wrap(d, inner, sizeof inner);
    if (m == NULL) {
        snprintf(why, why_len, "%s: refused: %s", path, inner);
        dlclose(handle);
        return NULL;
    }
    m->handle = handle;
    m->path = strdup(path);
    if (m->path == NULL) {
        snprintf(why, why_len, "out of memory");
        modlib__close(&m);
        return NULL;
    }
    return m;
}

void modlib__close(twin_model **mp)
{
    twin_model *m = *mp;
    if (m == NULL)
        return;
    free(m->param);
    free(m->state);
    free(m->input);
    free(m->output);
    free(m->path);
    if (m->handle)
        dlclose(m->handle);
    free(m);
    *mp = NULL;
}

int modlib__add(model_lib *lib, twin_model *m)
{
    if (modlib__find(lib, m->d->name) != NULL)
        return -1;
    twin_model **models = realloc(lib->models,
                                  (lib->count + 1) * sizeof *models);
    if (models == NULL)
        return -1;
    lib->models = models;
    lib->models[lib->count++] = m;
    return 0;
}

int modlib__load_dir(model_lib *lib, const char *dir, modlib_log_fn log,
                     void *log_ctx)
{
    char **names = NULL;
    long n = util__list_dir(dir, ".so", &names);
    if (n < 0)
        return -1;

    int loaded = 0;
    char why[8192], path[4096];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        twin_model *m = modlib__open(path, why, sizeof why);
        if (m == NULL) {
            if (log)
                log(log_ctx, why);
        } else if (modlib__add(lib, m) != 0) {
            if (log) {
                const twin_model *first = modlib__find(lib, m->d->name);
                snprintf(why, sizeof why,
                         "%s: model '%s' is already loaded from %s; skipped",
                         path, m->d->name, first ? first->path : "?");
                log(log_ctx, why);
            }
            modlib__close(&m);
        } else {
            loaded++;
        }
    }
    util__free_names(names, n);
    return loaded;
}

const twin_model *modlib__find(const model_lib *lib, const char *name)
{
    for (size_t i = 0; i < lib->count; i++)
        if (strcmp(lib->models[i]->d->name, name) == 0)
            return lib->models[i];
    return NULL;
}

static int find_in(const twin_variable *const *vars, size_t n,
                   const char *name, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(vars[i]->name, name) == 0) {
            *index = i;
            return 0;
        }
    return -1;
}

int modlib__find_signal(const twin_model *m, const char *name,
                        twin_var_kind *kind, size_t *index)
{
    if (find_in(m->state, m->n_state, name, index) == 0)
        *kind = TWIN_VAR_STATE;
    else if (find_in(m->input, m->n_input, name, index) == 0)
        *kind = TWIN_VAR_INPUT;
    else if (find_in(m->output, m->n_output, name, index) == 0)
        *kind = TWIN_VAR_OUTPUT;
    else
        return -1;
    return 0;
}

int modlib__find_param(const twin_model *m, const char *name, size_t *index)
{
    return find_in(m->param, m->n_param, name, index);
}

void modlib__free(model_lib *lib)
{
    for (size_t i = 0; i < lib->count; i++)
        modlib__close(&lib->models[i]);
    free(lib->models);
    lib->models = NULL;
    lib->count = 0;
}
