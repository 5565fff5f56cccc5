/*
 * fn_library.c — a scenario's function computed by a library function
 * (fn_library.h): the check of the entry against the function's
 * signature at composition, and the call on the run's series after it.
 * The arguments' checks and the call's process are funcall.c's.
 */
#include "fn_library.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "funcall.h"

static const fl_arg *arg_named(const fl_function *f, const char *name)
{
    for (size_t j = 0; j < f->n_args; j++)
        if (strcmp(f->args[j].name, name) == 0)
            return &f->args[j];
    return NULL;
}

static int returns_number(fl_type t)
{
    return t == FL_DOUBLE || funclib__is_integer(t);
}

json_t *fn_library__check(const fl_function *f, const json_t *entry,
                          const char *path, twin_errors *errs)
{
    size_t before = errs->count;
    const fl_arg *y = arg_named(f, "y"), *t = arg_named(f, "t");
    char *fpath = errors__path(path, "function");
    const char *where = fpath ? fpath : path;
    if (y == NULL || y->type != FL_DOUBLE_ARRAY || y->out)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, where, "'%s' cannot be a "
                    "scenario's function: it needs an argument 'y', an array "
                    "of numbers, for the signal's values (and may have 't' "
                    "for the times); its signature is %s", f->name,
                    f->signature);
    else if (t != NULL && (t->type != FL_DOUBLE_ARRAY || t->out))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, where, "'%s' cannot be a "
                    "scenario's function: its argument 't' is for the times, "
                    "an array of numbers; its signature is %s", f->name,
                    f->signature);
    else if (!returns_number(f->ret))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, where, "'%s' cannot be a "
                    "scenario's function: it returns %s, not a number",
                    f->name, f->signature);
    for (size_t j = 0; j < f->n_args && errs->count == before; j++)
        if (f->args[j].out)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, where, "'%s' cannot be a "
                        "scenario's function: it has an output array '%s'",
                        f->name, f->args[j].name);
    free(fpath);
    if (errs->count != before)
        return NULL;

    /* The other members are its other arguments: checked as a call's,
     * with a stand-in series (the run's is only known after it). */
    json_t *params = json_deep_copy(entry);
    json_object_del(params, "name");
    json_object_del(params, "function");
    json_object_del(params, "of");
    json_t *args = json_deep_copy(params);
    json_t *series = json_pack("[f, f]", 0.0, 1.0);
    json_object_set(args, "y", series);
    if (t != NULL)
        json_object_set(args, "t", series);
    twin_errors own = {0};
    fl_call *c = funcall__prepare(f, args, &own);
    for (size_t i = 0; i < own.count; i++) {
        const twin_error *e = &own.items[i];
        const char *rest = strncmp(e->path, "/args", 5) == 0 ? e->path + 5
                                                               : NULL;
        if (rest && (strncmp(rest, "/y", 2) == 0 ||
                     strncmp(rest, "/t", 2) == 0) &&
            (rest[2] == '\0' || rest[2] == '/') &&
            json_object_get(entry, rest[1] == 'y' ? "y" : "t") == NULL)
            continue; /* the stand-in series, not the entry's */
        char *p = NULL;
        if (rest == NULL || asprintf(&p, "%s%s", path, rest) < 0)
            p = NULL;
        errors__add(errs, e->code, p ? p : path, "%s", e->message);
        free(p);
    }
    if (json_object_get(entry, "y") || json_object_get(entry, "t")) {
        char *p = errors__path(path, json_object_get(entry, "y") ? "y"
                                                                 : "t");
        errors__add(errs, TWIN_E_OUT_OF_RANGE, p ? p : path, "'t' and 'y' "
                    "are the run's series, given by \"of\"; leave them out");
        free(p);
    }
    funcall__free(&c);
    errors__clear(&own);
    json_decref(series);
    json_decref(args);
    if (errs->count != before) {
        json_decref(params);
        return NULL;
    }
    return params;
}

static json_t *array_of(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, isfinite(v[i]) ? json_real(v[i])
                                                : json_null());
    return a;
}

int fn_library__eval(const fl_function *f, const json_t *params,
                     const double *t, const double *y, size_t n,
                     const char *of_name, double *v, char *why,
                     size_t why_len)
{
    twin_errors errs = {0};
    fl_limits lim = {.seconds = FN_LIBRARY_SECONDS,
                     .seconds_name = "a scenario function's limit"};
    int rc = -1;
    json_t *args = json_deep_copy(params), *ans = NULL;
    json_object_set_new(args, "y", array_of(y, n));
    if (arg_named(f, "t") != NULL)
        json_object_set_new(args, "t", array_of(t, n));
    fl_call *c = funcall__prepare(f, args, &errs);
    if (c != NULL && funcall__run(c, &lim, &errs) == 0)
        ans = funcall__answer(c);
    const json_t *value = json_object_get(ans, "value");
    if (ans != NULL && json_is_number(value)) {
        *v = json_number_value(value);
        rc = 0;
    } else if (ans != NULL) {
        snprintf(why, why_len, "'%s' returned no finite number on %s",
                 f->name, of_name);
        rc = 1;
    } else {
        snprintf(why, why_len, "'%s' on %s: %s", f->name, of_name,
                 errs.count ? errs.items[0].message : "the call failed");
    }
    json_decref(ans);
    funcall__free(&c);
    errors__clear(&errs);
    json_decref(args);
    return rc;
}
