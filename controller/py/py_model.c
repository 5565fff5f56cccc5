/*
 * py_model.c — a Python model's declaration (JSON, as py_embed.c's
 * bootstrap writes it from the class) turned into a twin_model_descriptor
 * whose functions are py_run.c's.  Plain C and jansson: this is what the
 * daemon does with a Python model, and it runs no Python.  The model
 * library checks the descriptor like any other (model_lib.c).
 */
#include "py_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pymodel__is_py(const char *path)
{
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".py") == 0;
}

pymodel *pymodel__of(const twin_model_descriptor *d)
{
    if (d == NULL || d->create != pyrun__create)
        return NULL;
    return (pymodel *)((char *)d - offsetof(pymodel, model));
}

const char *pymodel__json(const pymodel *pm)
{
    return pm->json;
}

size_t pymodel__count(const pymodel *pm)
{
    return json_array_size(pm->root);
}

/* A number as the bootstrap writes it: a JSON number, or "nan", "inf",
 * "-inf" (JSON has none); absent: dflt. */
static int number(json_t *o, const char *key, double dflt, double *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s && strcmp(s, "nan") == 0)
        *out = NAN;
    else if (s && strcmp(s, "inf") == 0)
        *out = INFINITY;
    else if (s && strcmp(s, "-inf") == 0)
        *out = -INFINITY;
    else
        return -1;
    return 0;
}

static const char *text(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static const char *const kinds[] = {"parameter", "state", "input", "output"};

static int variable(json_t *v, twin_variable *out)
{
    const char *kind = text(v, "kind", "");
    size_t k = 0;
    while (k < 4 && strcmp(kind, kinds[k]) != 0)
        k++;
    if (k == 4 || !json_is_string(json_object_get(v, "name")))
        return -1;
    out->name = text(v, "name", "");
    out->unit = text(v, "unit", "");
    out->description = text(v, "description", "");
    out->kind = (twin_var_kind)k;
    out->flags = (json_is_true(json_object_get(v, "feedthrough"))
                      ? TWIN_VAR_FEEDTHROUGH : 0u) |
                 (json_is_true(json_object_get(v, "integer"))
                      ? TWIN_VAR_INTEGER : 0u) |
                 (json_is_true(json_object_get(v, "boolean"))
                      ? TWIN_VAR_BOOLEAN : 0u);
    if (number(v, "start", 0.0, &out->start) != 0 ||
        number(v, "min", -INFINITY, &out->min) != 0 ||
        number(v, "max", INFINITY, &out->max) != 0)
        return -1;
    return 0;
}

static int has_method(json_t *decl, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(decl, "methods"), i, m)
        if (json_is_string(m) && strcmp(json_string_value(m), name) == 0)
            return 1;
    return 0;
}

static int describe(pymodel *pm, char *why, size_t why_len)
{
    json_t *decl = pm->decl, *vars = json_object_get(decl, "variables");
    twin_model_descriptor *d = &pm->model;
    size_t n = json_array_size(vars);
    pm->vars = calloc(n + 1, sizeof *pm->vars);
    if (pm->vars == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (variable(json_array_get(vars, i), &pm->vars[i]) != 0) {
            snprintf(why, why_len, "%s: variable %zu of class %s is not of "
                     "the documented form (docs/python.md)", pm->path, i,
                     text(decl, "class", "?"));
            return -1;
        }
        pm->n_params += pm->vars[i].kind == TWIN_VAR_PARAMETER;
    }
    json_t *deps = json_object_get(decl, "dependencies");
    size_t nd = json_array_size(deps);
    if (nd > 0 && (pm->deps = calloc(nd, sizeof *pm->deps)) == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nd; i++) {
        json_t *pair = json_array_get(deps, i);
        pm->deps[i].of = (uint32_t)json_integer_value(json_array_get(pair, 0));
        pm->deps[i].on = (uint32_t)json_integer_value(json_array_get(pair, 1));
    }
    d->dependencies = pm->deps;
    d->n_dependencies = nd;
    const char *kind = text(decl, "kind", "continuous");
    double sample = 0.0;
    json_int_t ng = json_integer_value(json_object_get(decl,
                                                       "n_event_indicators"));
    if (number(decl, "sample_period", 0.0, &sample) != 0 || ng < 0 ||
        (strcmp(kind, "continuous") != 0 && strcmp(kind, "discrete") != 0)) {
        snprintf(why, why_len, "%s: class %s: kind must be \"continuous\" or "
                 "\"discrete\", event_indicators a count and sample_period "
                 "a number of seconds", pm->path, text(decl, "class", "?"));
        return -1;
    }
    d->abi_major = TWIN_MODEL_ABI_MAJOR;
    d->abi_minor = TWIN_MODEL_ABI_MINOR;
    d->struct_size = sizeof *d;
    d->name = text(decl, "name", "");
    d->version = text(decl, "version", "");
    d->description = text(decl, "description", "");
    d->kind = strcmp(kind, "discrete") == 0 ? TWIN_MODEL_DISCRETE
                                            : TWIN_MODEL_CONTINUOUS;
    d->variables = pm->vars;
    d->n_variables = n;
    d->n_event_indicators = (size_t)ng;
    d->sample_period = sample;
    d->create = pyrun__create;
    d->destroy = pyrun__destroy;
    /* Each optional function only where the class has the method, so
     * that the host's checks (a continuous model needs derivatives ...)
     * apply to the class as written. */
    d->init = has_method(decl, "init") ? pyrun__init : NULL;
    d->derivatives = has_method(decl, "derivatives") ? pyrun__derivatives
                                                     : NULL;
    d->outputs = has_method(decl, "outputs") ? pyrun__outputs : NULL;
    d->event_indicators = has_method(decl, "event_indicators")
                              ? pyrun__event_indicators : NULL;
    d->event = has_method(decl, "event") ? pyrun__event : NULL;
    d->tick = has_method(decl, "tick") ? pyrun__tick : NULL;
    d->next_event_time = has_method(decl, "next_event_time")
                             ? pyrun__next_event_time : NULL;
    return 0;
}

const twin_model_descriptor *pymodel__open(const char *path, const char *json,
                                           size_t index, char *why,
                                           size_t why_len)
{
    json_error_t jerr;
    pymodel *pm = calloc(1, sizeof *pm);
    if (pm == NULL || (pm->path = strdup(path)) == NULL ||
        (pm->json = strdup(json)) == NULL) {
        snprintf(why, why_len, "out of memory");
        goto fail;
    }
    pm->root = json_loads(json, 0, &jerr);
    pm->index = index;
    pm->decl = json_array_get(pm->root, index);
    if (pm->root == NULL) {
        snprintf(why, why_len, "%s: its declaration is not readable JSON "
                 "(%s); twinctl check-model %s shows why", path, jerr.text,
                 path);
        goto fail;
    }
    if (!json_is_object(pm->decl) ||
        !json_is_array(json_object_get(pm->decl, "variables"))) {
        snprintf(why, why_len, "%s: its declaration has no model class %zu "
                 "with variables; twinctl check-model %s shows why", path,
                 index, path);
        goto fail;
    }
    /* The model has the create function before describe() fills the
     * rest, so that pymodel__close finds it through pymodel__of. */
    pm->model.create = pyrun__create;
    if (describe(pm, why, why_len) != 0)
        goto fail;
    return &pm->model;
fail:
    if (pm != NULL) {
        pm->model.create = pyrun__create;
        pymodel__close(&pm);
    }
    return NULL;
}

void pymodel__close(pymodel **pmp)
{
    pymodel *pm = *pmp;
    if (pm == NULL)
        return;
    pyembed__drop(pm->cls);
    json_decref(pm->root);
    free(pm->vars);
    free(pm->deps);
    free(pm->json);
    free(pm->path);
    free(pm);
    *pmp = NULL;
}
