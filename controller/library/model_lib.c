/*
 * model_lib.c — loading model plugins and checking them before use.
 *
 * Owns: dlopen/dlsym of plugins, the ABI version check, the descriptor
 * check, and the per-kind variable tables the rest of the host indexes
 * with.  It calls no model function itself (sim.c does); a plugin's code
 * first runs in a child process (model_vet.c), and only a plugin that
 * came through that is loaded here, by inode (plugin_open.c).  An FMU
 * (*.fmu, docs/fmi.md) is a model like a plugin: fmi/'s fmu_model.c
 * opens it into a descriptor, and from there on it is checked, vetted,
 * listed and found the same way.  So is a Python model (*.py,
 * docs/python.md), with one difference: its code never runs in this
 * process unless this process runs it.  The vetting child imports the
 * file and reports its declaration as JSON (model_vet.c), and py/'s
 * py_model.c makes the descriptor of that; the interpreter starts at the
 * first create(), in the run.
 */
#include "model_lib.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmu.h"
#include "model_vet.h"
#include "py_model.h"
#include "plugin_open.h"
#include "util.h"

/* The part of the descriptor ABI 1.0 defines, and 1.1. */
#define DESCRIPTOR_SIZE_1_0 \
    (offsetof(twin_model_descriptor, tick) + sizeof(void (*)(void)))
#define DESCRIPTOR_SIZE_1_1 \
    (offsetof(twin_model_descriptor, step_completed) + sizeof(void (*)(void)))
#define DESCRIPTOR_SIZE_1_2 \
    (offsetof(twin_model_descriptor, state_abs_tol) + sizeof(double *))

/* The flags each minor version knows. */
#define FLAGS_1_0 TWIN_VAR_FEEDTHROUGH
#define FLAGS_1_1                                                         \
    (TWIN_VAR_FEEDTHROUGH | TWIN_VAR_INTEGER | TWIN_VAR_BOOLEAN |          \
     TWIN_VAR_STRING | TWIN_VAR_LOCAL)

/* A name: a letter or _, then letters, digits and _; from ABI 1.1 a
 * variable's name may also hold . [ ] , ( ) after the first character
 * (FMI names such as body.frame_a.r[1]); relaxed says which. */
static int valid_name_in(const char *s, int relaxed)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (size_t n = 0; s[n]; n++)
        if (n >= MODLIB_MAX_NAME ||
            !(isalnum((unsigned char)s[n]) || s[n] == '_' ||
              (relaxed && strchr(".[],()", s[n]) != NULL)))
            return 0;
    return 1;
}

static int valid_name(const char *s)
{
    return valid_name_in(s, 0);
}

/* A string ends within MODLIB_MAX_TEXT bytes.  Reading a pointer that
 * lies is what kills the vetting child, not the host. */
static int bounded_text(const char *s)
{
    return s != NULL && strnlen(s, MODLIB_MAX_TEXT) < MODLIB_MAX_TEXT;
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

const char *modlib__var_kind_name(const twin_variable *v)
{
    if (v->kind == TWIN_VAR_OUTPUT && (v->flags & TWIN_VAR_LOCAL))
        return "local";
    return modlib__kind_name(v->kind);
}

static void noop_request_end(void *context, const char *reason)
{
}

static const char *no_param_string(void *context, size_t index)
{
    return NULL;
}

void modlib__plain_host(twin_host *host, const twin_model_descriptor *d,
                        void (*log)(void *context, twin_log_level level,
                                    const char *message),
                        void *context)
{
    *host = (twin_host){.struct_size = sizeof *host, .context = context,
                        .log = log, .model = d,
                        .param_string = no_param_string,
                        .request_end = noop_request_end};
}

static int whole(double v)
{
    return isinf(v) || v == floor(v);
}

/* The ABI 1.1 flags of variable v where they make sense (path: its
 * place in the descriptor). */
static void check_flags(const twin_model_descriptor *d,
                        const twin_variable *v, const char *path,
                        twin_errors *errs)
{
    uint32_t known = d->abi_minor >= 1 ? FLAGS_1_1 : FLAGS_1_0;
    int optional_input = v->kind == TWIN_VAR_INPUT && isnan(v->start);
    if (v->flags & ~known) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                    "variable '%s' has flags 0x%x this ABI %u.%u plugin "
                    "cannot have (it knows 0x%x)", v->name,
                    (unsigned)(v->flags & ~known), d->abi_major,
                    d->abi_minor, (unsigned)known);
        return;
    }
    if ((v->flags & TWIN_VAR_FEEDTHROUGH) && v->kind != TWIN_VAR_OUTPUT)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                    "variable '%s' is a %s: only outputs can be "
                    "feedthrough", v->name, modlib__kind_name(v->kind));
    if ((v->flags & TWIN_VAR_LOCAL) && v->kind != TWIN_VAR_OUTPUT)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                    "variable '%s' is a %s: only outputs can be local",
                    v->name, modlib__kind_name(v->kind));
    if (v->flags & TWIN_VAR_STRING) {
        if (v->kind != TWIN_VAR_PARAMETER ||
            (v->flags & (TWIN_VAR_INTEGER | TWIN_VAR_BOOLEAN)))
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' (%s) is flagged string: only "
                        "parameters can be strings, and a string is "
                        "neither integer nor boolean", v->name,
                        modlib__kind_name(v->kind));
        return;
    }
    if ((v->flags & TWIN_VAR_BOOLEAN) &&
        (v->min != 0.0 || v->max != 1.0 ||
         !(optional_input || v->start == 0.0 || v->start == 1.0)))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                    "boolean variable '%s' needs min 0, max 1 and start 0 "
                    "or 1 (it has %g, %g and %g)", v->name, v->min, v->max,
                    v->start);
    if ((v->flags & TWIN_VAR_INTEGER) &&
        (!whole(v->min) || !whole(v->max) ||
         !(optional_input || whole(v->start))))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                    "integer variable '%s' needs whole start, min and max "
                    "(it has %g, %g and %g)", v->name, v->start, v->min,
                    v->max);
}

/* Variables by (namespace, name, place): parameters and signals are two
 * namespaces.  Sorting finds every clash in O(n log n), as a model with
 * tens of thousands of variables (an FMU) needs. */
static const twin_variable *sort_vars;

static int by_name(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const twin_variable *v = &sort_vars[i], *w = &sort_vars[j];
    int si = is_signal(v->kind), sj = is_signal(w->kind);
    if (si != sj)
        return si - sj;
    int c = strcmp(v->name, w->name);
    if (c != 0)
        return c;
    return i < j ? -1 : i > j;
}

static void check_unique(const twin_model_descriptor *d,
                         const unsigned char *named, twin_errors *errs)
{
    size_t n = 0;
    size_t *idx = malloc((d->n_variables + 1) * sizeof *idx);
    if (idx == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "/variables",
                    "out of memory checking the variable names");
        return;
    }
    for (size_t i = 0; i < d->n_variables; i++) {
        twin_var_kind k = d->variables[i].kind;
        if (named[i] && (k == TWIN_VAR_PARAMETER || is_signal(k)))
            idx[n++] = i;
    }
    sort_vars = d->variables;
    qsort(idx, n, sizeof *idx, by_name);
    for (size_t a = 0, b; a < n; a = b) {
        const twin_variable *first = &d->variables[idx[a]];
        for (b = a + 1; b < n; b++) {
            const twin_variable *v = &d->variables[idx[b]];
            if (is_signal(v->kind) != is_signal(first->kind) ||
                strcmp(v->name, first->name) != 0)
                break;
            char path[64];
            snprintf(path, sizeof path, "/variables/%zu", idx[b]);
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable name '%s' is used twice (as %s and %s)",
                        v->name, modlib__kind_name(first->kind),
                        modlib__kind_name(v->kind));
        }
    }
    free(idx);
}

static void check_variables(const twin_model_descriptor *d, twin_errors *errs)
{
    char path[64];
    unsigned char *named = calloc(d->n_variables + 1, 1);
    if (named == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "/variables",
                    "out of memory checking the variables");
        return;
    }
    for (size_t i = 0; i < d->n_variables; i++) {
        const twin_variable *v = &d->variables[i];
        snprintf(path, sizeof path, "/variables/%zu", i);
        if (!valid_name_in(v->name, d->abi_minor >= 1)) {
            errors__add(errs, TWIN_E_WRONG_TYPE, path,
                        "variable %zu has no valid name (letters, digits and "
                        "_ only%s, not starting with a digit, at most %d of "
                        "them)", i,
                        d->abi_minor >= 1 ? ", and . [ ] , ( ) after the "
                                            "first character" : "",
                        MODLIB_MAX_NAME);
            continue;
        }
        named[i] = 1;
        if ((unsigned)v->kind > TWIN_VAR_OUTPUT)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' has an unknown kind %d", v->name,
                        (int)v->kind);
        if (v->unit == NULL || v->description == NULL)
            errors__add(errs, TWIN_E_MISSING_FIELD, path,
                        "variable '%s' needs a unit and a description "
                        "(\"\" is allowed)", v->name);
        else if (!bounded_text(v->unit) || !bounded_text(v->description))
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' has a unit or description longer "
                        "than %d bytes", v->name, MODLIB_MAX_TEXT - 1);
        if (isnan(v->min) || isnan(v->max) || v->min > v->max)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' has min %g above max %g (or NaN)",
                        v->name, v->min, v->max);
        /* A string parameter's number is never read (NaN is passed). */
        int no_number = (v->kind == TWIN_VAR_INPUT && isnan(v->start)) ||
                        (v->kind == TWIN_VAR_PARAMETER &&
                         (v->flags & TWIN_VAR_STRING));
        if (!no_number && !(v->start >= v->min && v->start <= v->max))
            errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                        "variable '%s' starts at %g, outside [%g, %g]",
                        v->name, v->start, v->min, v->max);
        check_flags(d, v, path, errs);
    }
    check_unique(d, named, errs);
    free(named);
}

/* The ABI 1.1 fields: time events, step events and sample periods. */
static void check_1_1(const twin_model_descriptor *d, twin_errors *errs)
{
    if (d->struct_size < DESCRIPTOR_SIZE_1_1)
        return; /* a 1.0 descriptor: none of them */
    if (!isfinite(d->sample_period) || d->sample_period < 0)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/sample_period",
                    "sample_period is %g: it must be finite and >= 0 (0: "
                    "every tick)", d->sample_period);
    else if (d->sample_period > 0 && d->kind != TWIN_MODEL_DISCRETE)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/sample_period",
                    "sample_period is %g, but only a discrete model has a "
                    "sample period", d->sample_period);
    if ((d->next_event_time || d->step_completed) &&
        d->kind != TWIN_MODEL_CONTINUOUS)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/next_event_time",
                    "next_event_time and step_completed are for continuous "
                    "models only");
    else if ((d->next_event_time || d->step_completed) && d->event == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/event",
                    "next_event_time or step_completed is set but event is "
                    "NULL (it is called at time and step events)");
}

/* The ABI 1.2 fields: structural dependencies and per-state absolute
 * tolerances.  Called once the variables are known to be sound. */
static void check_1_2(const twin_model_descriptor *d, twin_errors *errs)
{
    if (d->struct_size < DESCRIPTOR_SIZE_1_2)
        return;
    if (d->dependencies == NULL && d->n_dependencies > 0)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/dependencies",
                    "n_dependencies is %zu but dependencies is NULL",
                    d->n_dependencies);
    else if (d->n_dependencies > (size_t)MODLIB_MAX_VARIABLES * 64)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/n_dependencies",
                    "n_dependencies is %zu, more than the %zu a descriptor "
                    "may declare", d->n_dependencies,
                    (size_t)MODLIB_MAX_VARIABLES * 64);
    else
        for (size_t i = 0; d->dependencies && i < d->n_dependencies; i++) {
            const twin_dependency *dep = &d->dependencies[i];
            char path[64];
            snprintf(path, sizeof path, "/dependencies/%zu", i);
            if (dep->of >= d->n_variables || dep->on >= d->n_variables) {
                errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                            "dependency %zu names variable %u on %u, but "
                            "there are %zu variables", i, dep->of, dep->on,
                            d->n_variables);
                continue;
            }
            const twin_variable *of = &d->variables[dep->of];
            const twin_variable *on = &d->variables[dep->on];
            if (of->kind != TWIN_VAR_STATE && of->kind != TWIN_VAR_OUTPUT)
                errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                            "dependency %zu is of '%s', which is neither a "
                            "state (its derivative) nor an output", i,
                            of->name);
            else if (on->kind != TWIN_VAR_STATE && on->kind != TWIN_VAR_INPUT)
                errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                            "dependency %zu is on '%s', which is neither a "
                            "state nor an input", i, on->name);
            else if (of->kind == TWIN_VAR_OUTPUT &&
                     on->kind == TWIN_VAR_INPUT &&
                     !(of->flags & TWIN_VAR_FEEDTHROUGH))
                errors__add(errs, TWIN_E_OUT_OF_RANGE, path,
                            "output '%s' is declared to depend on input "
                            "'%s' but is not TWIN_VAR_FEEDTHROUGH", of->name,
                            on->name);
        }
    if (d->state_abs_tol == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < d->n_variables; i++) {
        if (d->variables[i].kind != TWIN_VAR_STATE)
            continue;
        double a = d->state_abs_tol[k++];
        if (!isfinite(a) || a < 0)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, "/state_abs_tol",
                        "state '%s' has absolute tolerance %g: it must be "
                        "finite and > 0, or 0 for the scenario's",
                        d->variables[i].name, a);
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
                    "the model needs a name of letters, digits and _ "
                    "(at most %d of them)", MODLIB_MAX_NAME);
    if (d->version == NULL || d->description == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/version",
                    "the model needs a version and a description");
    else if (!bounded_text(d->version) || !bounded_text(d->description))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/version",
                    "the version or description is longer than %d bytes",
                    MODLIB_MAX_TEXT - 1);
    if (d->n_variables > MODLIB_MAX_VARIABLES ||
        d->n_event_indicators > MODLIB_MAX_VARIABLES) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/n_variables",
                    "n_variables is %zu and n_event_indicators %zu, more "
                    "than the %d a model may have: the descriptor's counts "
                    "are wrong (they must be the lengths of its arrays)",
                    d->n_variables, d->n_event_indicators,
                    MODLIB_MAX_VARIABLES);
        return errs->count - before; /* the arrays cannot be read */
    }
    if (d->kind != TWIN_MODEL_CONTINUOUS && d->kind != TWIN_MODEL_DISCRETE)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/kind",
                    "unknown model kind %d", (int)d->kind);
    if (d->n_variables > 0 && d->variables == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/variables",
                    "n_variables is %zu but variables is NULL",
                    d->n_variables);
    else {
        check_variables(d, errs);
        check_1_2(d, errs);
    }
    check_1_1(d, errs);
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
    if (d->struct_size >= DESCRIPTOR_SIZE_1_1) {
        m->sample_period = d->sample_period;
        m->next_event_time = d->next_event_time;
        m->step_completed = d->step_completed;
    }
    if (d->struct_size >= DESCRIPTOR_SIZE_1_2) {
        m->dependencies = d->dependencies;
        m->n_dependencies = d->dependencies ? d->n_dependencies : 0;
        m->state_abs_tol = d->state_abs_tol;
    }
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

int modlib__is_fmu(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".fmu") == 0;
}

/* An FMU opened into its descriptor (fmu_model.c); *handle_out is the
 * fmu, which modlib__unload closes. */
static const twin_model_descriptor *load_fmu(const char *path, int fd,
                                             void **handle_out, char *why,
                                             size_t why_len)
{
    fmu *f = fmu_model__open(path, fd, 0, why, why_len);
    if (f == NULL)
        return NULL;
    *handle_out = f;
    return &f->model;
}

/* A Python model imported here (py_embed.c) into its declaration, and
 * that into its descriptor; *handle_out is the pymodel. */
static const twin_model_descriptor *load_py(const char *path, void **handle_out,
                                            char *why, size_t why_len)
{
    char *json = pymodel__declare(path, why, why_len);
    if (json == NULL)
        return NULL;
    const twin_model_descriptor *d = pymodel__open(path, json, 0, why,
                                                   why_len);
    free(json);
    if (d != NULL)
        *handle_out = pymodel__of(d);
    return d;
}

const twin_model_descriptor *modlib__load_descriptor(const char *path, int fd,
                                                     void **handle_out,
                                                     char *why, size_t why_len)
{
    twin_model_entry_fn entry;
    const twin_model_descriptor *d;
    if (modlib__is_fmu(path))
        return load_fmu(path, fd, handle_out, why, why_len);
    if (pymodel__is_py(path))
        return load_py(path, handle_out, why, why_len);
    void *handle = plugin_open__fd(fd, path, why, why_len);
    if (handle == NULL)
        return NULL;
    dlerror();
    *(void **)&entry = dlsym(handle, TWIN_MODEL_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(why, why_len,
                 "%s is not a twinctl model: it exports no %s()", path,
                 TWIN_MODEL_ENTRY_SYMBOL);
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
    plugin_open__close(handle);
    return NULL;
}

void modlib__unload(const twin_model_descriptor *d, void *handle)
{
    fmu *f = fmu_model__of(d);
    pymodel *pm = pymodel__of(d);
    if (f != NULL)
        fmu_model__close(&f);
    else if (pm != NULL)
        pymodel__close(&pm);
    else if (handle != NULL)
        plugin_open__close(handle);
}

/* The Co-Simulation twin of an FMU that offers both interfaces (m is its
 * Model Exchange model).  It is bound after the Model Exchange side was
 * vetted, from the same unpacked archive (not hashed again); its calls
 * run in a run's child process like every model's. */
static int open_cs_twin(twin_model *m, const char *path, char *why,
                        size_t why_len)
{
    const fmu *f = fmu_model__of(m->d);
    if (f == NULL || f->use != FMU_ME || !(f->desc.interfaces & FMU_CS))
        return 0;
    fmu *g = fmu_model__open_twin(f, FMU_CS, why, why_len);
    if (g == NULL)
        return -1;
    char inner[512];
    twin_model *c = modlib__wrap(&g->model, inner, sizeof inner);
    if (c == NULL) {
        snprintf(why, why_len, "%s: its Co-Simulation interface is refused: "
                 "%s", path, inner);
        fmu_model__close(&g);
        return -1;
    }
    c->handle = g;
    m->cs = c;
    if ((c->path = strdup(path)) == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    return 0;
}

/* Load a plugin that came through its vetting: a Python model from the
 * declaration its vetting child reported (decl), running no Python, its
 * index-th class (from 0: the file's further classes chained on next). */
static twin_model *open_vetted(const char *path, int fd, const char *decl,
                               size_t index, char *why, size_t why_len)
{
    void *handle = NULL;
    char inner[512];
    const twin_model_descriptor *d;
    if (pymodel__is_py(path)) {
        d = decl ? pymodel__open(path, decl, index, why, why_len) : NULL;
        if (decl == NULL)
            snprintf(why, why_len, "%s: its vetting reported no "
                     "declaration", path);
        handle = pymodel__of(d);
    } else {
        d = modlib__load_descriptor(path, fd, &handle, why, why_len);
    }
    if (d == NULL)
        return NULL;
    twin_model *m = modlib__wrap(d, inner, sizeof inner);
    if (m == NULL) {
        snprintf(why, why_len, "%s: refused: %s", path, inner);
        modlib__unload(d, handle);
        return NULL;
    }
    m->handle = handle;
    m->path = strdup(path);
    if (m->path == NULL) {
        snprintf(why, why_len, "out of memory");
        modlib__close(&m);
        return NULL;
    }
    if (modlib__is_fmu(path) && open_cs_twin(m, path, why, why_len) != 0) {
        modlib__close(&m);
        return NULL;
    }
    size_t n = index == 0 && pymodel__of(d) ? pymodel__count(pymodel__of(d))
                                            : 0;
    twin_model **tail = &m->next;
    for (size_t k = 1; k < n; k++) {
        if ((*tail = open_vetted(path, fd, decl, k, why, why_len)) == NULL) {
            modlib__close(&m);
            return NULL;
        }
        tail = &(*tail)->next;
    }
    return m;
}

/* A verdict as the one sentence the log gets. */
static void refusal(const modvet_file *f, char *why, size_t why_len)
{
    if (f->kind == MODVET_DIED)
        snprintf(why, why_len, "model plugin %s: refused, not loaded: %s. "
                 "Fix the plugin; twinctl check-model %s shows every check",
                 f->path, f->why, f->path);
    else
        snprintf(why, why_len, "%s", f->why);
}

twin_model *modlib__open(const char *path, char *why, size_t why_len)
{
    modvet_file f = {.path = path};
    twin_model *m = NULL;
    f.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
        snprintf(why, why_len, "cannot load %s: %s", path, strerror(errno));
        return NULL;
    }
    modvet__vet(&f, 1, MODVET_SECONDS);
    if (f.kind == MODVET_FIT)
        m = open_vetted(path, f.fd, f.decl, 0, why, why_len);
    else
        refusal(&f, why, why_len);
    modvet__forget(&f);
    close(f.fd);
    return m;
}

void modlib__close(twin_model **mp)
{
    twin_model *m = *mp;
    if (m == NULL)
        return;
    modlib__close(&m->cs);
    modlib__close(&m->next);
    free(m->param);
    free(m->state);
    free(m->input);
    free(m->output);
    free(m->path);
    if (m->handle)
        modlib__unload(m->d, m->handle);
    free(m);
    *mp = NULL;
}

int modlib__scratch_new(const twin_model *m, modlib_scratch *s)
{
    s->p = calloc(m->n_param + 1, sizeof *s->p);
    s->x = calloc(m->n_state + 1, sizeof *s->x);
    s->u = calloc(m->n_input + 1, sizeof *s->u);
    s->y = calloc(m->n_output + 1, sizeof *s->y);
    s->dx = calloc(m->n_state + 1, sizeof *s->dx);
    s->g = calloc(m->d->n_event_indicators + 1, sizeof *s->g);
    if (!s->p || !s->x || !s->u || !s->y || !s->dx || !s->g)
        return -1;
    for (size_t i = 0; i < m->n_param; i++)
        s->p[i] = m->param[i]->start;
    for (size_t i = 0; i < m->n_state; i++)
        s->x[i] = m->state[i]->start;
    for (size_t i = 0; i < m->n_input; i++)
        s->u[i] = m->input[i]->start;
    return 0;
}

void modlib__scratch_free(modlib_scratch *s)
{
    free(s->p);
    free(s->x);
    free(s->u);
    free(s->y);
    free(s->dx);
    free(s->g);
    memset(s, 0, sizeof *s);
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

static void take(model_lib *lib, twin_model *m, const char *path,
                 modlib_log_fn log, void *log_ctx, int *loaded)
{
    char why[8192];
    /* A Python file's further classes, each a model of its own. */
    twin_model *next = m->next;
    m->next = NULL;
    if (modlib__add(lib, m) == 0) {
        (*loaded)++;
    } else {
        if (log) {
            const twin_model *first = modlib__find(lib, m->d->name);
            snprintf(why, sizeof why,
                     "%s: model '%s' is already loaded from %s; skipped",
                     path, m->d->name, first ? first->path : "?");
            log(log_ctx, why);
        }
        modlib__close(&m);
    }
    if (next != NULL)
        take(lib, next, path, log, log_ctx, loaded);
}

/* Append the names of dir's files ending in suffix to *names (n long). */
static long add_kind(const char *dir, const char *suffix, char ***names,
                     long n)
{
    char **more = NULL;
    long m = util__list_dir(dir, suffix, &more);
    if (m <= 0)
        return n;
    char **all = realloc(*names, (size_t)(n + m + 1) * sizeof *all);
    if (all == NULL) {
        util__free_names(more, m);
        return n;
    }
    memcpy(all + n, more, (size_t)m * sizeof *all);
    free(more);
    *names = all;
    return n + m;
}

/* The *.so, *.fmu and *.py files of dir, sorted by kind then name. */
static long list_models(const char *dir, char ***names)
{
    long n = util__list_dir(dir, ".so", names);
    if (n < 0)
        return -1;
    n = add_kind(dir, ".fmu", names, n);
    return add_kind(dir, ".py", names, n);
}

int modlib__load_dir(model_lib *lib, const char *dir, modlib_log_fn log,
                     void *log_ctx)
{
    char **names = NULL;
    long n = list_models(dir, &names);
    if (n < 0)
        return -1;

    int loaded = 0;
    size_t k = 0;
    char why[8192];
    modvet_file *files = calloc((size_t)n + 1, sizeof *files);
    char **paths = calloc((size_t)n + 1, sizeof *paths);
    if (files == NULL || paths == NULL) {
        if (log)
            log(log_ctx, "out of memory loading the model directory");
        goto exit;
    }
    /* Opened once: what is vetted is what is loaded, whatever happens to
     * the names meanwhile. */
    for (long i = 0; i < n; i++) {
        if (asprintf(&paths[k], "%s/%s", dir, names[i]) < 0) {
            paths[k] = NULL;
            continue;
        }
        files[k].path = paths[k];
        files[k].fd = open(paths[k], O_RDONLY | O_CLOEXEC);
        if (files[k].fd >= 0) {
            k++;
            continue;
        }
        snprintf(why, sizeof why, "cannot load %s: %s", paths[k],
                 strerror(errno));
        if (log)
            log(log_ctx, why);
        free(paths[k]);
        paths[k] = NULL;
    }
    modvet__vet(files, k, MODVET_SECONDS);
    for (size_t i = 0; i < k; i++) {
        twin_model *m = NULL;
        if (files[i].kind == MODVET_FIT)
            m = open_vetted(files[i].path, files[i].fd, files[i].decl, 0,
                            why, sizeof why);
        else
            refusal(&files[i], why, sizeof why);
        modvet__forget(&files[i]);
        if (m != NULL)
            take(lib, m, files[i].path, log, log_ctx, &loaded);
        else if (log)
            log(log_ctx, why);
        close(files[i].fd);
    }
exit:
    for (size_t i = 0; paths && i < k; i++)
        free(paths[i]);
    free(paths);
    free(files);
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
