/*
 * batch_doc.c — reading, checking and expanding a batch document (see
 * batch_doc.h; the format is docs/batch.md).  Composition itself is
 * scenario.c's: the base scenario is composed once, and each grid or
 * list value once with the base, so every check a scenario gets (ranges,
 * step order, the function library's checks of the KPIs) is made the
 * same way here, its problem moved to where the batch document put the
 * cause.  The Monte Carlo draws are batch_draw.c's.
 */
#include "batch_doc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* JSON Pointers of the batch document are short: its own members, and
 * instance and variable names a scenario limits to no great length. */
#define PTR_LEN 512

typedef struct loader {
    const json_t *doc;
    const batch_env *env;
    twin_errors *errs;
    batch *b;
    scenario *sc;          /* the base, composed */
    const char *base_arg;  /* the scenario's name or file, or NULL inline */
    int oom;
} loader;

#define ADD(L, code, path, ...) errors__add((L)->errs, code, path, __VA_ARGS__)

/* ---- the base scenario -------------------------------------------------- */

/* A problem of a composed scenario, moved into the batch document: a KPI's
 * to "/kpis/i/…", the rest to "/scenario/…" (inline) or "/scenario" with
 * the file named (by name). */
static void add_moved(loader *L, const twin_error *e)
{
    char path[PTR_LEN];
    const char *rest;
    unsigned long i;
    if (strncmp(e->path, "/functions/", 11) == 0 &&
        (errno = 0, i = strtoul(e->path + 11, (char **)&rest, 10),
         errno == 0) &&
        rest != e->path + 11 && i >= L->b->n_base_fn) {
        snprintf(path, sizeof path, "/kpis/%lu%s", i - L->b->n_base_fn,
                 rest);
        ADD(L, e->code, path, "%s", e->message);
    } else if (L->base_arg == NULL) {
        snprintf(path, sizeof path, "/scenario%s", e->path);
        ADD(L, e->code, path, "%s", e->message);
    } else {
        ADD(L, e->code, "/scenario", "scenario '%s' at '%s': %s",
            L->base_arg, e->path, e->message);
    }
}

/* "scenario": a name, a file (relative to the batch file), or inline. */
static int resolve_base(loader *L)
{
    const json_t *s = json_object_get(L->doc, "scenario");
    char why[1024], file[4096];
    if (s == NULL) {
        ADD(L, TWIN_E_MISSING_FIELD, "/scenario", "a batch needs "
            "\"scenario\": the base scenario, by name or inline");
        return -1;
    }
    if (json_is_object(s)) {
        L->b->base = json_deep_copy(s);
        L->oom |= L->b->base == NULL;
        return L->b->base ? 0 : -1;
    }
    if (!json_is_string(s)) {
        ADD(L, TWIN_E_WRONG_TYPE, "/scenario", "\"scenario\" is a "
            "scenario's name or file, or a scenario object, not %s",
            errors__json_kind(s));
        return -1;
    }
    L->base_arg = json_string_value(s);
    const char *arg = L->base_arg;
    if (strchr(arg, '/') != NULL && arg[0] != '/' && L->env->doc_dir) {
        snprintf(file, sizeof file, "%s/%s", L->env->doc_dir, arg);
        arg = file;
    }
    L->b->base = scenario__load(arg, L->env->scenario_dir, why, sizeof why);
    if (L->b->base == NULL) {
        ADD(L, TWIN_E_BAD_JSON, "/scenario", "%s", why);
        return -1;
    }
    if (!json_is_object(L->b->base)) {
        ADD(L, TWIN_E_WRONG_TYPE, "/scenario", "scenario '%s' is not a JSON "
            "object", L->base_arg);
        return -1;
    }
    return 0;
}

/* The names of a "functions"-style array's entries into b->kpi. */
static void take_names(loader *L, const json_t *fns)
{
    size_t i;
    const json_t *f;
    json_array_foreach(fns, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        char *copy = strdup(name ? name : "");
        if (copy == NULL) {
            L->oom = 1;
            return;
        }
        L->b->kpi[L->b->n_kpi++] = copy;
    }
}

static int read_kpis(loader *L)
{
    batch *b = L->b;
    const json_t *kpis = json_object_get(L->doc, "kpis");
    const json_t *fns = json_object_get(b->base, "functions");
    if (kpis != NULL && !json_is_array(kpis)) {
        ADD(L, TWIN_E_WRONG_TYPE, "/kpis", "\"kpis\" must be an array of "
            "functions, like a scenario's \"functions\", not %s",
            errors__json_kind(kpis));
        return -1;
    }
    if (fns != NULL && !json_is_array(fns))
        fns = NULL; /* composing the base says so */
    b->kpis = kpis ? json_deep_copy(kpis) : NULL;
    b->n_base_fn = json_array_size(fns);
    b->kpi = calloc(b->n_base_fn + json_array_size(kpis) + 1, sizeof(char *));
    if ((kpis && b->kpis == NULL) || b->kpi == NULL) {
        L->oom = 1;
        return -1;
    }
    take_names(L, fns);
    take_names(L, kpis);
    return 0;
}

/* The base with its kpis, composed once. */
static int compose_base(loader *L)
{
    json_t *doc = batch__case_scenario(L->b, NULL, NULL);
    twin_errors inner = {0};
    if (doc == NULL) {
        L->oom = 1;
        return -1;
    }
    scenario_limits lim = {.functions = L->env->functions};
    L->sc = scenario__compose(doc, L->env->models, L->env->instances, &lim,
                              &inner);
    /* What-if cases run as fast as they can, not beside the plant. */
    size_t n_sig = L->sc != NULL ? signals__count(L->sc) : 0;
    for (size_t i = 0; i < n_sig; i++) {
        const char *var, *section;
        int measured;
        signals__at(L->sc, i, &var, &section, &measured);
        char *in = errors__path(section, var);
        char *p = in ? errors__path(in, "signal") : NULL;
        errors__add(&inner, TWIN_E_OUT_OF_RANGE, p ? p : section,
                    "%s '%s' follows a plant signal; a batch's cases run as "
                    "fast as they can, not beside the plant: %s",
                    measured ? "measured variable" : "input", var, measured
                    ? "leave out its \"signal\""
                    : "give it a profile (\"value\", \"steps\", \"table\")");
        free(p);
        free(in);
    }
    for (size_t i = 0; i < inner.count; i++)
        add_moved(L, &inner.items[i]);
    int signals = L->sc != NULL && inner.count > 0;
    errors__clear(&inner);
    json_decref(doc);
    if (signals)
        return -1;
    if (L->sc != NULL)
        return 0;
    /* Refused: the base alone, so that the variations are checked too
     * when only the kpis are wrong (its problems are reported above). */
    L->sc = scenario__compose(L->b->base, L->env->models, L->env->instances,
                              &lim, &inner);
    errors__clear(&inner);
    return -1;
}

/* ---- factors ------------------------------------------------------------ */

static const sc_instance *find_instance(const scenario *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_inst; i++)
        if (strcmp(sc->inst[i].name, name) == 0)
            return &sc->inst[i];
    return NULL;
}

/* Split "inst.var" into f->instance and f->variable (for inputs the
 * variable keeps the whole name). */
static int split_name(loader *L, batch_factor *f, const char *text,
                      const char *path)
{
    const char *dot = strchr(text, '.');
    if (dot == NULL || dot == text || dot[1] == '\0') {
        ADD(L, TWIN_E_OUT_OF_RANGE, path, "'%s' must name an instance and "
            "one of its variables: \"tank0.h\"", text);
        return -1;
    }
    f->instance = strndup(text, (size_t)(dot - text));
    f->variable = strdup(f->target == BATCH_PARAM || f->target == BATCH_START
                             ? dot + 1 : text);
    if (f->instance == NULL || f->variable == NULL) {
        L->oom = 1;
        return -1;
    }
    return 0;
}

/* The input of the base's "inputs" a step factor varies, checked. */
static int check_step(loader *L, const batch_factor *f, const char *path)
{
    char p[PTR_LEN + 64];
    const json_t *prof = json_object_get(json_object_get(L->b->base,
                                                         "inputs"),
                                         f->variable);
    const json_t *steps = json_object_get(prof, "steps");
    snprintf(p, sizeof p, "%s/step", path);
    if (steps == NULL || !json_is_array(steps)) {
        ADD(L, TWIN_E_OUT_OF_RANGE, p, "input '%s' has no \"steps\" profile "
            "in the base scenario, so it has no step to vary", f->variable);
        return -1;
    }
    if (f->step >= json_array_size(steps)) {
        ADD(L, TWIN_E_OUT_OF_RANGE, p, "input '%s' has %zu steps in the base "
            "scenario (numbered from 0), so no step %zu", f->variable,
            json_array_size(steps), f->step);
        return -1;
    }
    return 0;
}

/* Does the variable exist in the base, and may it be set?  Problems of
 * the name go to path, of the step to factor + "/step". */
static int check_target(loader *L, const batch_factor *f, const char *path,
                        const char *factor)
{
    const sc_instance *si = find_instance(L->sc, f->instance);
    const char *name = f->target == BATCH_PARAM || f->target == BATCH_START
                           ? f->variable
                           : f->variable + strlen(f->instance) + 1;
    twin_var_kind kind;
    size_t idx;
    if (si == NULL) {
        ADD(L, TWIN_E_UNKNOWN_VARIABLE, path, "the base scenario has no "
            "instance '%s'", f->instance);
        return -1;
    }
    if (f->target == BATCH_PARAM) {
        if (modlib__find_param(si->model, name, &idx) == 0)
            return 0;
        ADD(L, TWIN_E_UNKNOWN_VARIABLE, path, "model '%s' (instance '%s') "
            "has no parameter '%s'", si->model->d->name, si->name, name);
        return -1;
    }
    twin_var_kind want = f->target == BATCH_START ? TWIN_VAR_STATE
                                                  : TWIN_VAR_INPUT;
    if (modlib__find_signal(si->model, name, &kind, &idx) != 0 ||
        kind != want) {
        ADD(L, TWIN_E_UNKNOWN_VARIABLE, path, "model '%s' (instance '%s') "
            "has no %s '%s'", si->model->d->name, si->name,
            want == TWIN_VAR_STATE ? "state" : "input", name);
        return -1;
    }
    if (f->target == BATCH_START)
        return 0;
    size_t inst = (size_t)(si - L->sc->inst);
    for (size_t i = 0; i < L->sc->n_conn; i++) {
        const sc_ref *to = &L->sc->conn[i].to;
        if (to->inst == inst && to->index == idx) {
            ADD(L, TWIN_E_BAD_CONNECTION, path, "input '%s' is driven by a "
                "connection in the base scenario; a batch can set only "
                "inputs that a profile drives, or that nothing drives",
                f->variable);
            return -1;
        }
    }
    if (f->target == BATCH_INPUT)
        return 0;
    return check_step(L, f, factor);
}

/* The target: exactly one of "param", "start", "input" (with "step" and
 * "part" for a point of its steps). */
static int read_target(loader *L, batch_factor *f, const json_t *def,
                       const char *path)
{
    static const char *const keys[] = {"param", "start", "input"};
    const char *key = NULL;
    const json_t *text = NULL;
    char p[PTR_LEN + 32];
    for (size_t i = 0; i < 3; i++) {
        const json_t *v = json_object_get(def, keys[i]);
        if (v == NULL)
            continue;
        if (key != NULL) {
            ADD(L, TWIN_E_OUT_OF_RANGE, path, "a factor sets one thing: "
                "\"%s\" or \"%s\", not both", key, keys[i]);
            return -1;
        }
        key = keys[i];
        text = v;
        f->target = i == 0 ? BATCH_PARAM : i == 1 ? BATCH_START : BATCH_INPUT;
    }
    if (key == NULL) {
        ADD(L, TWIN_E_MISSING_FIELD, path, "a factor names what it sets: "
            "\"param\": \"pi0.sp\", \"start\": \"tank0.h\" or \"input\": "
            "\"tank0.valve\"");
        return -1;
    }
    snprintf(p, sizeof p, "%s/%s", path, key);
    if (!json_is_string(text)) {
        ADD(L, TWIN_E_WRONG_TYPE, p, "\"%s\" must be a string "
            "\"instance.variable\", not %s", key, errors__json_kind(text));
        return -1;
    }
    const json_t *step = json_object_get(def, "step");
    const json_t *part = json_object_get(def, "part");
    if ((step || part) && f->target != BATCH_INPUT) {
        ADD(L, TWIN_E_OUT_OF_RANGE, path, "\"step\" and \"part\" go with "
            "\"input\" only");
        return -1;
    }
    if (part != NULL && step == NULL) {
        snprintf(p, sizeof p, "%s/part", path);
        ADD(L, TWIN_E_MISSING_FIELD, p, "\"part\" needs \"step\": which "
            "point of the input's steps");
        return -1;
    }
    if (step != NULL) {
        snprintf(p, sizeof p, "%s/step", path);
        if (!json_is_integer(step) || json_integer_value(step) < 0) {
            ADD(L, TWIN_E_WRONG_TYPE, p, "\"step\" must be a whole number "
                "≥ 0: the point of the input's steps, from 0");
            return -1;
        }
        f->step = (size_t)json_integer_value(step);
        f->target = BATCH_STEP_VALUE;
    }
    if (part != NULL) {
        snprintf(p, sizeof p, "%s/part", path);
        const char *s = json_string_value(part);
        if (s != NULL && strcmp(s, "time") == 0) {
            f->target = BATCH_STEP_TIME;
        } else if (s == NULL || strcmp(s, "value") != 0) {
            ADD(L, TWIN_E_OUT_OF_RANGE, p, "\"part\" is \"time\" or "
                "\"value\" (the default)");
            return -1;
        }
    }
    snprintf(p, sizeof p, "%s/%s", path, key);
    if (split_name(L, f, json_string_value(text), p) != 0)
        return -1;
    return check_target(L, f, p, path);
}

static int same_target(const batch_factor *a, const batch_factor *b)
{
    if (a->target == BATCH_PARAM || b->target == BATCH_PARAM ||
        a->target == BATCH_START || b->target == BATCH_START)
        return a->target == b->target &&
               strcmp(a->instance, b->instance) == 0 &&
               strcmp(a->variable, b->variable) == 0;
    /* Inputs: a constant clashes with anything on the same input. */
    if (strcmp(a->variable, b->variable) != 0)
        return 0;
    return a->target == BATCH_INPUT || b->target == BATCH_INPUT ||
           (a->target == b->target && a->step == b->step);
}

static int reserved_name(const char *s)
{
    return strcmp(s, "id") == 0 || strcmp(s, "status") == 0 ||
           strcmp(s, "message") == 0;
}

/* The factor's column name, given or made from its target; unique among
 * the factors and the KPIs. */
static int read_name(loader *L, batch_factor *f, const json_t *def,
                     const char *path)
{
    const json_t *name = json_object_get(def, "name");
    char p[PTR_LEN + 32], made[PTR_LEN];
    snprintf(p, sizeof p, "%s/name", path);
    if (name != NULL && (!json_is_string(name) ||
                         json_string_length(name) == 0)) {
        ADD(L, TWIN_E_WRONG_TYPE, p, "\"name\" must be a non-empty string: "
            "the factor's column in the summary");
        return -1;
    }
    if (name != NULL)
        snprintf(made, sizeof made, "%s", json_string_value(name));
    else if (f->target == BATCH_START)
        snprintf(made, sizeof made, "%s.%s.start", f->instance, f->variable);
    else if (f->target == BATCH_PARAM)
        snprintf(made, sizeof made, "%s.%s", f->instance, f->variable);
    else if (f->target == BATCH_INPUT)
        snprintf(made, sizeof made, "%s", f->variable);
    else
        snprintf(made, sizeof made, "%s.steps.%zu.%s", f->variable, f->step,
                 f->target == BATCH_STEP_TIME ? "time" : "value");
    const char *clash = reserved_name(made) ? "a column of its own" : NULL;
    for (size_t i = 0; clash == NULL && i < L->b->n_f; i++)
        if (strcmp(L->b->f[i].name, made) == 0)
            clash = L->b->f[i].path;
    for (size_t i = 0; clash == NULL && i < L->b->n_kpi; i++)
        if (strcmp(L->b->kpi[i], made) == 0)
            clash = "a KPI";
    if (clash != NULL) {
        ADD(L, TWIN_E_OUT_OF_RANGE, name ? p : path, "the column name '%s' "
            "is taken (by %s): give the factor a \"name\" of its own", made,
            clash);
        return -1;
    }
    f->name = strdup(made);
    L->oom |= f->name == NULL;
    return f->name ? 0 : -1;
}

static void factor_free(batch_factor *f)
{
    free(f->name);
    free(f->path);
    free(f->instance);
    free(f->variable);
    free(f->values);
    draw__free(&f->dist);
    memset(f, 0, sizeof *f);
}

/* Read one factor definition into the next slot of b->f; NULL (and the
 * slot left free) when it is refused. */
static batch_factor *read_factor(loader *L, const json_t *def,
                                 const char *path, batch_part part)
{
    batch *b = L->b;
    if (b->n_f == BATCH_MAX_FACTORS) {
        ADD(L, TWIN_E_TOO_LARGE, path, "a batch varies at most %d things",
            BATCH_MAX_FACTORS);
        return NULL;
    }
    batch_factor *f = &b->f[b->n_f];
    memset(f, 0, sizeof *f);
    f->part = part;
    if (!json_is_object(def)) {
        ADD(L, TWIN_E_WRONG_TYPE, path, "a factor must be an object, not %s",
            errors__json_kind(def));
        return NULL;
    }
    f->path = strdup(path);
    if (f->path == NULL) {
        L->oom = 1;
        return NULL;
    }
    int ok = read_target(L, f, def, path) == 0;
    for (size_t i = 0; ok && i < b->n_f; i++)
        if (same_target(&b->f[i], f)) {
            ADD(L, TWIN_E_OUT_OF_RANGE, path, "'%s%s%s' is already varied "
                "by %s; a batch varies each thing once",
                f->target <= BATCH_START ? f->instance : "",
                f->target <= BATCH_START ? "." : "", f->variable,
                b->f[i].path);
            ok = 0;
        }
    if (!ok || read_name(L, f, def, path) != 0) {
        factor_free(f);
        return NULL;
    }
    b->n_f++; /* whole: freed with the batch from here on */
    return f;
}

/* ---- values ------------------------------------------------------------- */

/* Compose the base with values set for factors [first, first+n): every
 * problem is reported at path, naming the values. */
static int check_values(loader *L, size_t first, size_t n, const double *v,
                        const char *path)
{
    json_t *doc = json_deep_copy(L->b->base);
    int failed = doc == NULL;
    char what[PTR_LEN] = "";
    size_t w = 0;
    for (size_t i = 0; !failed && i < n; i++) {
        const batch_factor *f = &L->b->f[first + i];
        failed = batch__apply(doc, f, v[i]) != 0;
        if (w < sizeof what)
            w += (size_t)snprintf(what + w, sizeof what - w, "%s%s = %.17g",
                                  i ? ", " : "", f->name, v[i]);
    }
    if (failed) {
        L->oom = 1;
        json_decref(doc);
        return -1;
    }
    twin_errors inner = {0};
    scenario_limits lim = {.functions = L->env->functions};
    scenario *sc = scenario__compose(doc, L->env->models, L->env->instances,
                                     &lim, &inner);
    for (size_t i = 0; i < inner.count; i++)
        ADD(L, inner.items[i].code, path, "with %s the scenario is refused: "
            "%s (at %s)", what, inner.items[i].message, inner.items[i].path);
    errors__clear(&inner);
    scenario__free(&sc);
    json_decref(doc);
    return inner.count ? -1 : 0;
}

/* A member that must be a whole number in [min, max]; what says what it
 * is for, when it is missing. */
static int read_count(loader *L, const json_t *obj, const char *key,
                      const char *path, long long min, long long max,
                      const char *what, long long *out)
{
    const json_t *v = json_object_get(obj, key);
    char p[PTR_LEN + 32];
    snprintf(p, sizeof p, "%s/%s", path, key);
    if (v == NULL) {
        ADD(L, TWIN_E_MISSING_FIELD, p, "\"%s\" is needed: %s", key, what);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > max) {
        ADD(L, json_is_integer(v) ? TWIN_E_OUT_OF_RANGE : TWIN_E_WRONG_TYPE,
            p, "\"%s\" must be a whole number from %lld to %lld", key, min,
            max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* A value of a grid or a list: a finite number. */
static int read_value(loader *L, const json_t *v, const char *path,
                      double *out)
{
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        ADD(L, TWIN_E_WRONG_TYPE, path, "a value must be a finite number, "
            "not %s", errors__json_kind(v));
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

/* A grid axis: "values": [...] or "range": {"from", "to", "steps"}. */
static int read_axis(loader *L, batch_factor *f, const json_t *def,
                     const char *path)
{
    const json_t *vals = json_object_get(def, "values");
    const json_t *range = json_object_get(def, "range");
    char p[PTR_LEN + 32];
    if ((vals == NULL) == (range == NULL)) {
        ADD(L, vals ? TWIN_E_OUT_OF_RANGE : TWIN_E_MISSING_FIELD, path,
            "a grid factor takes its values from \"values\": [...] or "
            "\"range\": {\"from\", \"to\", \"steps\"}, one of the two");
        return -1;
    }
    if (range != NULL) {
        snprintf(p, sizeof p, "%s/range", path);
        double from = 0, to = 0;
        long long steps = 0;
        if (!json_is_object(range)) {
            ADD(L, TWIN_E_WRONG_TYPE, p, "\"range\" must be an object "
                "{\"from\", \"to\", \"steps\"}");
            return -1;
        }
        int ok = draw__number(range, "from", p, "a range", &from,
                              L->errs) == 1;
        ok &= draw__number(range, "to", p, "a range", &to, L->errs) == 1;
        ok &= read_count(L, range, "steps", p, 1, 1000000, "the number of "
                         "intervals from \"from\" to \"to\" (steps + 1 "
                         "values)", &steps) == 0;
        if (!ok)
            return -1;
        f->values = calloc((size_t)steps + 1, sizeof(double));
        if (f->values == NULL) {
            L->oom = 1;
            return -1;
        }
        for (long long i = 0; i < steps; i++)
            f->values[i] = from + (to - from) * (double)i / (double)steps;
        f->values[steps] = to;
        f->n_values = (size_t)steps + 1;
    } else {
        snprintf(p, sizeof p, "%s/values", path);
        if (!json_is_array(vals) || json_array_size(vals) == 0) {
            ADD(L, TWIN_E_WRONG_TYPE, p, "\"values\" must be a non-empty "
                "array of numbers");
            return -1;
        }
        f->values = calloc(json_array_size(vals), sizeof(double));
        if (f->values == NULL) {
            L->oom = 1;
            return -1;
        }
        int ok = 1;
        for (size_t i = 0; i < json_array_size(vals); i++) {
            char vp[PTR_LEN + 64];
            snprintf(vp, sizeof vp, "%s/%zu", p, i);
            if (read_value(L, json_array_get(vals, i), vp,
                           &f->values[f->n_values]) != 0) {
                ok = 0;
                continue;
            }
            f->n_values++;
            /* alone with the base: out of range, steps out of order */
            if (check_values(L, (size_t)(f - L->b->f), 1,
                             &f->values[f->n_values - 1], vp) != 0)
                ok = 0;
        }
        return ok ? 0 : -1;
    }
    /* A range's two ends alone with the base: what a value must meet (a
     * variable's [min, max], a step time between its neighbours) is an
     * interval, so the values between the ends meet it when they do. */
    int ok = check_values(L, (size_t)(f - L->b->f), 1, &f->values[0], p);
    if (ok == 0)
        ok = check_values(L, (size_t)(f - L->b->f), 1,
                          &f->values[f->n_values - 1], p);
    return ok;
}

/* Multiply *n by k, refusing to overflow or pass the limit. */
static int multiply(loader *L, size_t *n, size_t k, const char *path)
{
    size_t limit = L->env->max_cases ? L->env->max_cases : SIZE_MAX;
    if (k != 0 && *n > limit / k) {
        ADD(L, TWIN_E_TOO_LARGE, path, "the batch would have more than "
            "%zu cases, the limit (twinctl batch --max-cases)", limit);
        return -1;
    }
    *n *= k;
    return 0;
}

/* The "factors" of a list or a Monte Carlo part (what: what they are,
 * for the sentence); *first is where they start in b->f.  Returns 0 when
 * every one was read. */
static int read_factors(loader *L, const json_t *part, const char *path,
                        batch_part which, const char *what, size_t *first)
{
    const json_t *fs = json_object_get(part, "factors");
    char p[PTR_LEN + 32];
    snprintf(p, sizeof p, "%s/factors", path);
    *first = L->b->n_f;
    if (!json_is_array(fs) || json_array_size(fs) == 0) {
        ADD(L, fs ? TWIN_E_WRONG_TYPE : TWIN_E_MISSING_FIELD, p,
            "\"factors\" must be a non-empty array: %s", what);
        return -1;
    }
    int ok = 1;
    for (size_t i = 0; i < json_array_size(fs); i++) {
        char fp[PTR_LEN + 64];
        snprintf(fp, sizeof fp, "%s/%zu", p, i);
        const json_t *def = json_array_get(fs, i);
        batch_factor *f = read_factor(L, def, fp, which);
        if (f == NULL || (which == BATCH_MC &&
                          draw__parse(def, fp, &f->dist, L->errs) != 0))
            ok = 0;
    }
    return ok ? 0 : -1;
}

static int read_grid(loader *L, const json_t *grid)
{
    batch *b = L->b;
    int ok = 1;
    if (!json_is_array(grid) || json_array_size(grid) == 0) {
        ADD(L, TWIN_E_WRONG_TYPE, "/variations/grid", "\"grid\" must be a "
            "non-empty array of factors, each with its values");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(grid); i++) {
        char p[PTR_LEN];
        snprintf(p, sizeof p, "/variations/grid/%zu", i);
        const json_t *def = json_array_get(grid, i);
        batch_factor *f = read_factor(L, def, p, BATCH_GRID);
        if (f == NULL || read_axis(L, f, def, p) != 0 ||
            multiply(L, &b->grid_cases, f->n_values, "/variations/grid") != 0)
            ok = 0;
        b->n_grid_f += f != NULL;
    }
    return ok ? 0 : -1;
}

static int read_list(loader *L, const json_t *list)
{
    batch *b = L->b;
    const char *path = "/variations/list";
    if (!json_is_object(list)) {
        ADD(L, TWIN_E_WRONG_TYPE, path, "\"list\" must be an object "
            "{\"factors\": [...], \"values\": [[...], ...]}");
        return -1;
    }
    const json_t *rows = json_object_get(list, "values");
    size_t first;
    int ok = read_factors(L, list, path, BATCH_LIST, "what each listed "
                          "case sets", &first) == 0;
    size_t nf = b->n_list_f = b->n_f - first;
    if (!json_is_array(rows) || json_array_size(rows) == 0) {
        ADD(L, rows ? TWIN_E_WRONG_TYPE : TWIN_E_MISSING_FIELD,
            "/variations/list/values", "\"values\" must be a non-empty array "
            "of cases, each an array of one number per factor");
        return -1;
    }
    if (!ok)
        return -1;
    size_t nr = json_array_size(rows);
    if (multiply(L, &b->list_cases, nr, "/variations/list/values") != 0)
        return -1;
    b->list_values = calloc(nr * nf, sizeof(double));
    if (b->list_values == NULL) {
        L->oom = 1;
        return -1;
    }
    for (size_t r = 0; r < nr; r++) {
        char p[PTR_LEN];
        snprintf(p, sizeof p, "%s/values/%zu", path, r);
        const json_t *row = json_array_get(rows, r);
        if (!json_is_array(row) || json_array_size(row) != nf) {
            ADD(L, TWIN_E_WRONG_TYPE, p, "a listed case must be an array of "
                "%zu number%s, one per factor", nf, nf == 1 ? "" : "s");
            ok = 0;
            continue;
        }
        int row_ok = 1;
        for (size_t k = 0; k < nf; k++) {
            char vp[PTR_LEN + 64];
            snprintf(vp, sizeof vp, "%s/%zu", p, k);
            if (read_value(L, json_array_get(row, k), vp,
                           &b->list_values[r * nf + k]) != 0)
                row_ok = 0;
        }
        if (row_ok && check_values(L, first, nf, &b->list_values[r * nf],
                                   p) != 0)
            row_ok = 0;
        ok &= row_ok;
    }
    return ok ? 0 : -1;
}

static int read_monte_carlo(loader *L, const json_t *mc)
{
    batch *b = L->b;
    const char *path = "/variations/monte_carlo";
    long long count = 0, seed = 0;
    char why[512];
    if (!json_is_object(mc)) {
        ADD(L, TWIN_E_WRONG_TYPE, path, "\"monte_carlo\" must be an object "
            "{\"count\", \"seed\", \"factors\"}");
        return -1;
    }
    int ok = read_count(L, mc, "count", path, 1, LLONG_MAX, "the number "
                        "of draws", &count) == 0;
    ok &= read_count(L, mc, "seed", path, 0, LLONG_MAX, "the seed of the "
                     "draws, a whole number ≥ 0, so that they can be drawn "
                     "again", &seed) == 0;
    size_t first;
    ok &= read_factors(L, mc, path, BATCH_MC, "what is drawn, from which "
                       "distribution", &first) == 0;
    size_t nf = b->n_mc_f = b->n_f - first;
    if (!ok || multiply(L, &b->mc_cases, (size_t)count,
                        "/variations/monte_carlo/count") != 0)
        return -1;
    b->seed = (uint64_t)seed;
    b->mc_values = calloc((size_t)count, nf * sizeof(double));
    if (b->mc_values == NULL) {
        L->oom = 1;
        return -1;
    }
    for (size_t k = 0; k < nf; k++)
        if (draw__stream(&b->f[first + k].dist, b->seed, k, (size_t)count,
                         &b->mc_values[k], nf, why, sizeof why) != 0) {
            ADD(L, TWIN_E_OUT_OF_RANGE, b->f[first + k].path, "%s", why);
            ok = 0;
        }
    return ok ? 0 : -1;
}

static int read_variations(loader *L)
{
    const json_t *v = json_object_get(L->doc, "variations");
    batch *b = L->b;
    b->grid_cases = b->list_cases = b->mc_cases = 1;
    if (v == NULL)
        return 0; /* one case: the base */
    if (!json_is_object(v)) {
        ADD(L, TWIN_E_WRONG_TYPE, "/variations", "\"variations\" must be an "
            "object with \"grid\", \"list\" and/or \"monte_carlo\"");
        return -1;
    }
    const json_t *grid = json_object_get(v, "grid");
    const json_t *list = json_object_get(v, "list");
    const json_t *mc = json_object_get(v, "monte_carlo");
    size_t cap = json_array_size(grid) +
                 json_array_size(json_object_get(list, "factors")) +
                 json_array_size(json_object_get(mc, "factors"));
    b->f = calloc(cap + 1, sizeof *b->f);
    if (b->f == NULL) {
        L->oom = 1;
        return -1;
    }
    int ok = 1;
    if (grid != NULL && read_grid(L, grid) != 0)
        ok = 0;
    if (list != NULL && read_list(L, list) != 0)
        ok = 0;
    if (mc != NULL && read_monte_carlo(L, mc) != 0)
        ok = 0;
    if (ok && grid == NULL && list == NULL && mc == NULL) {
        ADD(L, TWIN_E_MISSING_FIELD, "/variations", "\"variations\" holds "
            "none of \"grid\", \"list\", \"monte_carlo\": leave it out to "
            "run the base scenario alone");
        ok = 0;
    }
    size_t n = b->grid_cases;
    if (ok && (multiply(L, &n, b->list_cases, "/variations") != 0 ||
               multiply(L, &n, b->mc_cases, "/variations") != 0))
        ok = 0;
    return ok ? 0 : -1;
}

/* ---- the whole ---------------------------------------------------------- */

static void dump_into(uint64_t *h, const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
                                    JSON_ENCODE_ANY)
                : NULL;
    *h = batch__hash(*h, s ? s : "null", strlen(s ? s : "null"));
    *h = batch__hash(*h, "\n", 1);
    free(s);
}

static int read_head(loader *L)
{
    const json_t *c = json_object_get(L->doc, "contract");
    const json_t *name = json_object_get(L->doc, "name");
    if (c == NULL) {
        ADD(L, TWIN_E_MISSING_FIELD, "/contract", "a batch document starts "
            "with \"contract\": \"" BATCH_CONTRACT "\"");
        return -1;
    }
    if (!json_is_string(c) || strcmp(json_string_value(c),
                                      BATCH_CONTRACT) != 0) {
        ADD(L, TWIN_E_BAD_CONTRACT, "/contract", "this twinctl reads batch "
            "documents \"" BATCH_CONTRACT "\", not %s%s%s",
            json_is_string(c) ? "\"" : "",
            json_is_string(c) ? json_string_value(c) : errors__json_kind(c),
            json_is_string(c) ? "\"" : "");
        return -1;
    }
    if (name != NULL && !json_is_string(name)) {
        ADD(L, TWIN_E_WRONG_TYPE, "/name", "\"name\" must be a string");
        return -1;
    }
    L->b->name = strdup(name ? json_string_value(name) : "batch");
    L->oom |= L->b->name == NULL;
    return L->b->name ? 0 : -1;
}

batch *batch__load(const json_t *doc, const batch_env *env,
                   twin_errors *errs)
{
    loader L = {.doc = doc, .env = env, .errs = errs};
    size_t before = errs->count;
    L.b = calloc(1, sizeof *L.b);
    if (L.b == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        return NULL;
    }
    if (!json_is_object(doc)) {
        ADD(&L, TWIN_E_WRONG_TYPE, "", "a batch document is a JSON object, "
            "not %s", errors__json_kind(doc));
        goto exit;
    }
    if (read_head(&L) != 0 || resolve_base(&L) != 0 || read_kpis(&L) != 0)
        goto exit;
    compose_base(&L);
    if (L.sc == NULL)
        goto exit;
    for (size_t i = L.b->n_base_fn; i < L.b->n_kpi; i++) {
        char p[PTR_LEN];
        snprintf(p, sizeof p, "/kpis/%zu/name", i - L.b->n_base_fn);
        if (reserved_name(L.b->kpi[i]))
            ADD(&L, TWIN_E_OUT_OF_RANGE, p, "'%s' is a column of the "
                "summary already: give the KPI another name", L.b->kpi[i]);
    }
    if (read_variations(&L) != 0)
        goto exit;
    batch *b = L.b;
    b->n_cases = b->grid_cases * b->list_cases * b->mc_cases;
    uint64_t h = BATCH_HASH_INIT;
    dump_into(&h, b->base);
    dump_into(&h, json_object_get(doc, "variations"));
    dump_into(&h, b->kpis);
    snprintf(b->hash, sizeof b->hash, "%016llx", (unsigned long long)h);
exit:
    if (L.oom)
        ADD(&L, TWIN_E_INTERNAL, "", "out of memory while reading the "
            "batch document");
    scenario__free(&L.sc);
    if (errs->count > before || errs->lost)
        batch__free(&L.b);
    return L.b;
}

void batch__free(batch **bp)
{
    batch *b = *bp;
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_f; i++)
        factor_free(&b->f[i]);
    for (size_t i = 0; i < b->n_kpi; i++)
        free(b->kpi[i]);
    free(b->kpi);
    free(b->f);
    free(b->list_values);
    free(b->mc_values);
    json_decref(b->base);
    json_decref(b->kpis);
    free(b->name);
    free(b);
    *bp = NULL;
}
