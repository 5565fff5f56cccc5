/*
 * funclib.c — loading function plugins: reading and checking manifests,
 * dlopen/dlsym of their libraries, preparing each function's libffi call
 * interface once, and the registry the daemon and the CLI look functions
 * up in.  It calls no plugin function; funcall.c does that.
 */
#include "funclib.h"

#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "pyfunc.h"
#include "util.h"

static const char *const type_names[FL__COUNT] = {
    [FL_VOID] = "void",       [FL_DOUBLE] = "double",
    [FL_INT] = "int",         [FL_LONG] = "long",
    [FL_SIZE] = "size_t",     [FL_DOUBLE_ARRAY] = "double[]",
    [FL_INT_ARRAY] = "int[]", [FL_BOOL] = "bool",
    [FL_STRING] = "str",
};

const char *funclib__type_name(fl_type t)
{
    return (unsigned)t < FL__COUNT ? type_names[t] : "?";
}

int funclib__is_array(fl_type t)
{
    return t == FL_DOUBLE_ARRAY || t == FL_INT_ARRAY;
}

int funclib__is_integer(fl_type t)
{
    return t == FL_INT || t == FL_LONG || t == FL_SIZE;
}

static const char *c_type(const fl_arg *a, fl_type t)
{
    switch (t) {
    case FL_DOUBLE_ARRAY: return a && a->out ? "double *" : "const double *";
    case FL_INT_ARRAY: return "const int *";
    default: return funclib__type_name(t);
    }
}

static ffi_type *ffi_of(fl_type t)
{
    switch (t) {
    case FL_VOID: return &ffi_type_void;
    case FL_DOUBLE: return &ffi_type_double;
    case FL_INT: return &ffi_type_sint;
    case FL_LONG: return &ffi_type_slong;
    case FL_SIZE:
        return sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    case FL_DOUBLE_ARRAY:
    case FL_INT_ARRAY: return &ffi_type_pointer;
    default: return NULL;
    }
}

/* A C identifier (names and symbols). */
int funclib__valid_name(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (const char *c = s; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return 0;
    return strlen(s) <= 128;
}

/* A file name in the manifest's directory: no path. */
static int plain_file_name(const char *s)
{
    return s && *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* A C manifest's types: bool and str are Python's alone. */
static int parse_type(const char *s, fl_type *t)
{
    for (int i = 0; i <= FL_INT_ARRAY; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *t = (fl_type)i;
            return 0;
        }
    return -1;
}

/* ---- checking a manifest ------------------------------------------------ */

typedef struct checker {
    twin_errors *errs;
    void *handle;
    char path[256];           /* JSON Pointer of what is being checked */
} checker;

static void at(checker *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void at(checker *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->path, sizeof k->path, fmt, ap);
    va_end(ap);
}

#define PROBLEM(k, code, fmt, ...) \
    errors__add((k)->errs, code, (k)->path, fmt, __VA_ARGS__)

/* Members outside `known` (NULL-terminated) are refused: a typo such as
 * "lenght" would otherwise change a function's signature silently. */
static void only_known(checker *k, const json_t *obj, const char *what,
                       const char *const *known)
{
    const char *key;
    json_t *v;
    char list[256] = "";
    size_t used = 0;
    for (const char *const *n = known; *n && used < sizeof list; n++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 n == known ? "" : ", ", *n);
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *n = known; *n && !ok; n++)
            ok = strcmp(*n, key) == 0;
        if (ok)
            continue;
        char *p = errors__path(k->path, key);
        errors__add(k->errs, TWIN_E_OUT_OF_RANGE, p ? p : k->path,
                    "%s has no member \"%s\" (its members: %s)", what, key,
                    list);
        free(p);
    }
}

/* A string member: 0 when it is there and a string (*out set), 1 when
 * absent (and not required), -1 after a problem. */
static int get_str(checker *k, const json_t *obj, const char *key,
                   int required, const char *what, const char **out)
{
    const json_t *v = json_object_get(obj, key);
    char *p = errors__path(k->path, key);
    const char *where = p ? p : k->path;
    int rc = 0;
    if (v == NULL) {
        if (required)
            errors__add(k->errs, TWIN_E_MISSING_FIELD, where,
                        "%s needs \"%s\"", what, key);
        rc = required ? -1 : 1;
    } else if (!json_is_string(v)) {
        errors__add(k->errs, TWIN_E_WRONG_TYPE, where,
                    "\"%s\" of %s must be a string", key, what);
        rc = -1;
    } else {
        *out = json_string_value(v);
    }
    free(p);
    return rc;
}

/* A number member into *out when present; -1 after a problem. */
static int get_num(checker *k, const json_t *obj, const char *key,
                   const char *what, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 1;
    if (!json_is_number(v)) {
        char *p = errors__path(k->path, key);
        errors__add(k->errs, TWIN_E_WRONG_TYPE, p ? p : k->path,
                    "\"%s\" of %s must be a number", key, what);
        free(p);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int get_count(checker *k, const json_t *obj, const char *key,
                     const char *what, size_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char *p = errors__path(k->path, key);
        errors__add(k->errs, TWIN_E_WRONG_TYPE, p ? p : k->path,
                    "\"%s\" of %s must be a whole number, 0 or more", key,
                    what);
        free(p);
        return -1;
    }
    *out = (size_t)json_integer_value(v);
    return 0;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static const char *const arg_members[] = {
    "name", "type", "unit", "doc", "min", "max", "length", "out",
    "min_length", "max_length", NULL};

/* One argument, without its length reference (checked once all names are
 * known). */
static void check_arg(checker *k, const json_t *a, const char *fpath,
                      size_t j, fl_arg *out)
{
    char what[200];
    at(k, "%s/args/%zu", fpath, j);
    out->min = -INFINITY;
    out->max = INFINITY;
    out->length = -1;
    out->length_of = -1;
    out->max_length = SIZE_MAX;
    if (!json_is_object(a)) {
        PROBLEM(k, TWIN_E_WRONG_TYPE, "argument %zu must be an object "
                "{\"name\", \"type\", \"unit\", \"doc\", ...}", j);
        return;
    }
    const char *name = NULL, *type = NULL, *unit = NULL, *doc = NULL;
    if (get_str(k, a, "name", 1, "an argument", &name) == 0 &&
        !funclib__valid_name(name)) {
        at(k, "%s/args/%zu/name", fpath, j);
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "argument name \"%s\" is not a name "
                "(letters, digits and _, not starting with a digit)", name);
        name = NULL;
        at(k, "%s/args/%zu", fpath, j);
    }
    snprintf(what, sizeof what, "argument '%s'", name ? name : "?");
    out->name = name ? strdup(name) : NULL;
    only_known(k, a, what, arg_members);
    if (get_str(k, a, "type", 1, what, &type) == 0 &&
        (parse_type(type, &out->type) != 0 || out->type == FL_VOID)) {
        at(k, "%s/args/%zu/type", fpath, j);
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s has an unknown type \"%s\": an "
                "argument is double, int, long, size_t, double[] or int[]",
                what, type);
        at(k, "%s/args/%zu", fpath, j);
        type = NULL;
    }
    if (type == NULL)
        out->type = FL__COUNT; /* unknown: no further type checks */
    get_str(k, a, "unit", 0, what, &unit);
    get_str(k, a, "doc", 1, what, &doc);
    out->unit = dup_or_empty(unit);
    out->doc = dup_or_empty(doc);

    int is_array = funclib__is_array(out->type);
    const json_t *o = json_object_get(a, "out");
    if (o != NULL) {
        at(k, "%s/args/%zu/out", fpath, j);
        if (!json_is_boolean(o))
            PROBLEM(k, TWIN_E_WRONG_TYPE, "\"out\" of %s is true or false",
                    what);
        else if (json_is_true(o) && out->type != FL_DOUBLE_ARRAY &&
                 out->type != FL__COUNT)
            PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s is a %s: only a double[] "
                    "can be an output (\"out\": true)", what,
                    funclib__type_name(out->type));
        else
            out->out = json_is_true(o);
        at(k, "%s/args/%zu", fpath, j);
    }
    int has_min = get_num(k, a, "min", what, &out->min) == 0;
    int has_max = get_num(k, a, "max", what, &out->max) == 0;
    if ((has_min || has_max) && out->out)
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s is an output: it has no min or "
                "max", what);
    else if (has_min && has_max && !(out->min <= out->max))
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s has min %g above max %g", what,
                out->min, out->max);
    int has_minl = get_count(k, a, "min_length", what, &out->min_length) == 0;
    int has_maxl = get_count(k, a, "max_length", what, &out->max_length) == 0;
    if ((has_minl || has_maxl) && !is_array && out->type != FL__COUNT)
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s is a %s: only arrays have "
                "min_length and max_length", what,
                funclib__type_name(out->type));
    else if (out->min_length > out->max_length)
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s has min_length %zu above "
                "max_length %zu", what, out->min_length, out->max_length);
    const json_t *len = json_object_get(a, "length");
    if (len != NULL && !is_array && out->type != FL__COUNT) {
        at(k, "%s/args/%zu/length", fpath, j);
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s is a %s: only an array has a "
                "\"length\"", what, funclib__type_name(out->type));
    } else if (len == NULL && is_array) {
        at(k, "%s/args/%zu/length", fpath, j);
        PROBLEM(k, TWIN_E_MISSING_FIELD, "%s is an array: it needs "
                "\"length\", the name of the integer argument that passes "
                "its number of elements", what);
    } else if (len != NULL && !json_is_string(len)) {
        at(k, "%s/args/%zu/length", fpath, j);
        PROBLEM(k, TWIN_E_WRONG_TYPE, "\"length\" of %s is the name of an "
                "integer argument", what);
    }
}

/* Each array's "length" names an integer argument of the same function. */
static void link_lengths(checker *k, const json_t *args, const char *fpath,
                         fl_function *f)
{
    for (size_t j = 0; j < f->n_args; j++) {
        fl_arg *a = &f->args[j];
        const char *len = json_string_value(
            json_object_get(json_array_get(args, j), "length"));
        if (!funclib__is_array(a->type) || len == NULL)
            continue;
        at(k, "%s/args/%zu/length", fpath, j);
        size_t m = 0;
        while (m < f->n_args && !(f->args[m].name &&
                                  strcmp(f->args[m].name, len) == 0))
            m++;
        if (m == f->n_args) {
            PROBLEM(k, TWIN_E_OUT_OF_RANGE, "the length of '%s' is \"%s\", "
                    "but '%s' has no argument of that name", a->name, len,
                    f->name ? f->name : "?");
        } else if (!funclib__is_integer(f->args[m].type)) {
            if (f->args[m].type != FL__COUNT)
                PROBLEM(k, TWIN_E_WRONG_TYPE, "the length of '%s' is '%s', "
                        "a %s: a length is an int, long or size_t", a->name,
                        len, funclib__type_name(f->args[m].type));
        } else {
            a->length = (int)m;
            if (f->args[m].length_of < 0)
                f->args[m].length_of = (int)j;
            if (!a->out)
                f->args[m].filled = 1;
        }
    }
}

static char *signature(const fl_function *f)
{
    size_t cap = 256;
    for (size_t j = 0; j < f->n_args; j++)
        cap += strlen(f->args[j].name) + 24;
    char *s = malloc(cap + strlen(f->symbol));
    if (s == NULL)
        return NULL;
    int n = sprintf(s, "%s %s(", c_type(NULL, f->ret), f->symbol);
    for (size_t j = 0; j < f->n_args; j++) {
        const char *t = c_type(&f->args[j], f->args[j].type);
        n += sprintf(s + n, "%s%s%s%s", j ? ", " : "", t,
                     t[strlen(t) - 1] == '*' ? "" : " ", f->args[j].name);
    }
    sprintf(s + n, "%s)", f->n_args ? "" : "void");
    return s;
}

static const char *const fn_members[] = {"name", "symbol", "doc", "returns",
                                         "args", NULL};
static const char *const ret_members[] = {"type", "unit", "doc", NULL};

static void check_function(checker *k, const json_t *fj, size_t i,
                           fl_function *f)
{
    char fpath[64], what[200];
    snprintf(fpath, sizeof fpath, "/functions/%zu", i);
    at(k, "%s", fpath);
    if (!json_is_object(fj)) {
        PROBLEM(k, TWIN_E_WRONG_TYPE, "function %zu must be an object "
                "{\"name\", \"doc\", \"returns\", \"args\"}", i);
        return;
    }
    const char *name = NULL, *symbol = NULL, *doc = NULL;
    if (get_str(k, fj, "name", 1, "a function", &name) == 0 &&
        !funclib__valid_name(name)) {
        at(k, "%s/name", fpath);
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "function name \"%s\" is not a name "
                "(letters, digits and _, not starting with a digit, at most "
                "128)", name);
        name = NULL;
        at(k, "%s", fpath);
    }
    snprintf(what, sizeof what, "function '%s'", name ? name : "?");
    only_known(k, fj, what, fn_members);
    if (get_str(k, fj, "symbol", 0, what, &symbol) == 0 &&
        !funclib__valid_name(symbol)) {
        at(k, "%s/symbol", fpath);
        PROBLEM(k, TWIN_E_OUT_OF_RANGE, "the symbol \"%s\" of %s is not a C "
                "identifier", symbol, what);
        symbol = NULL;
        at(k, "%s", fpath);
    } else if (symbol == NULL) {
        symbol = name;
    }
    get_str(k, fj, "doc", 1, what, &doc);
    f->name = name ? strdup(name) : NULL;
    f->symbol = symbol ? strdup(symbol) : NULL;
    f->doc = dup_or_empty(doc);

    const json_t *ret = json_object_get(fj, "returns");
    at(k, "%s/returns", fpath);
    f->ret = FL__COUNT;
    if (ret == NULL) {
        PROBLEM(k, TWIN_E_MISSING_FIELD, "%s needs \"returns\": {\"type\": "
                "double, int, long, size_t or void, \"unit\", \"doc\"}",
                what);
    } else if (!json_is_object(ret)) {
        PROBLEM(k, TWIN_E_WRONG_TYPE, "\"returns\" of %s must be an object "
                "{\"type\", \"unit\", \"doc\"}", what);
    } else {
        const char *type = NULL, *unit = NULL, *rdoc = NULL;
        only_known(k, ret, "\"returns\"", ret_members);
        if (get_str(k, ret, "type", 1, "\"returns\"", &type) == 0 &&
            (parse_type(type, &f->ret) != 0 ||
             funclib__is_array(f->ret))) {
            at(k, "%s/returns/type", fpath);
            PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s returns an unknown type "
                    "\"%s\": a return value is double, int, long, size_t or "
                    "void (arrays come back through \"out\" arguments)",
                    what, type);
            f->ret = FL__COUNT;
            at(k, "%s/returns", fpath);
        }
        get_str(k, ret, "unit", 0, "\"returns\"", &unit);
        get_str(k, ret, "doc", 0, "\"returns\"", &rdoc);
        f->ret_unit = dup_or_empty(unit);
        f->ret_doc = dup_or_empty(rdoc);
    }
    if (f->ret_unit == NULL)
        f->ret_unit = dup_or_empty(NULL);
    if (f->ret_doc == NULL)
        f->ret_doc = dup_or_empty(NULL);

    const json_t *args = json_object_get(fj, "args");
    at(k, "%s/args", fpath);
    if (args != NULL && !json_is_array(args)) {
        PROBLEM(k, TWIN_E_WRONG_TYPE, "\"args\" of %s is an array of "
                "arguments in the order of the C function's parameters",
                what);
        args = NULL;
    } else if (json_array_size(args) > FUNCLIB_MAX_ARGS) {
        PROBLEM(k, TWIN_E_TOO_LARGE, "%s has %zu arguments, more than the "
                "%d a function plugin may have", what, json_array_size(args),
                FUNCLIB_MAX_ARGS);
        args = NULL;
    }
    f->n_args = json_array_size(args);
    f->args = calloc(f->n_args ? f->n_args : 1, sizeof *f->args);
    if (f->args == NULL) {
        f->n_args = 0;
        errors__add(k->errs, TWIN_E_INTERNAL, fpath, "out of memory");
        return;
    }
    for (size_t j = 0; j < f->n_args; j++) {
        check_arg(k, json_array_get(args, j), fpath, j, &f->args[j]);
        for (size_t m = 0; m < j && f->args[j].name; m++)
            if (f->args[m].name &&
                strcmp(f->args[m].name, f->args[j].name) == 0) {
                at(k, "%s/args/%zu/name", fpath, j);
                PROBLEM(k, TWIN_E_OUT_OF_RANGE, "%s has two arguments named "
                        "'%s' (%zu and %zu)", what, f->args[j].name, m, j);
            }
    }
    link_lengths(k, args, fpath, f);

    if (k->handle != NULL && f->symbol != NULL) {
        dlerror();
        void *sym = dlsym(k->handle, f->symbol);
        const char *err = dlerror();
        if (sym == NULL) {
            at(k, "%s/%s", fpath, json_object_get(fj, "symbol") ? "symbol"
                                                                : "name");
            PROBLEM(k, TWIN_E_UNKNOWN_FUNCTION, "the library exports no "
                    "symbol '%s' for %s (%s); is it static, or spelled "
                    "otherwise?", f->symbol, what,
                    err ? err : "it resolves to NULL");
        }
        *(void **)&f->fn = sym;
    }
}

/* Once everything checked out: the signature text and the call
 * interface, prepared once for every later call. */
static int finish_function(checker *k, size_t i, fl_function *f)
{
    for (size_t j = 0; j < f->n_args; j++)
        f->atypes[j] = ffi_of(f->args[j].type);
    ffi_status st = ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI,
                                 (unsigned)f->n_args, ffi_of(f->ret),
                                 f->atypes);
    if (st != FFI_OK) {
        at(k, "/functions/%zu", i);
        PROBLEM(k, TWIN_E_INTERNAL, "libffi cannot prepare a call to '%s' "
                "(ffi_prep_cif returned %d)", f->name, (int)st);
        return -1;
    }
    f->signature = signature(f);
    return f->signature ? 0 : -1;
}

static void free_function(fl_function *f)
{
    for (size_t j = 0; f->args && j < f->n_args; j++) {
        free(f->args[j].name);
        free(f->args[j].unit);
        free(f->args[j].doc);
    }
    free(f->args);
    free(f->name);
    free(f->symbol);
    free(f->doc);
    free(f->ret_unit);
    free(f->ret_doc);
    free(f->signature);
}

static const char *const top_members[] = {"contract", "library", "doc",
                                          "functions", NULL};

fl_plugin *funclib__parse(const json_t *doc, void *handle, twin_errors *errs)
{
    checker k = {.errs = errs, .handle = handle};
    size_t before = errs->count;
    fl_plugin *p = calloc(1, sizeof *p);
    if (p == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        return NULL;
    }
    if (!json_is_object(doc)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "", "a manifest is a JSON "
                    "object {\"contract\": \"%s\", \"library\", "
                    "\"functions\"}", FUNCLIB_CONTRACT);
        goto fail;
    }
    only_known(&k, doc, "a manifest", top_members);
    const char *contract = NULL, *library = NULL, *pdoc = NULL;
    at(&k, "%s", "");
    if (get_str(&k, doc, "contract", 1, "a manifest", &contract) == 0 &&
        strcmp(contract, FUNCLIB_CONTRACT) != 0)
        errors__add(errs, TWIN_E_BAD_CONTRACT, "/contract", "this host reads "
                    "function manifests \"%s\", not \"%s\"", FUNCLIB_CONTRACT,
                    contract);
    if (get_str(&k, doc, "library", 1, "a manifest", &library) == 0 &&
        !plain_file_name(library))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/library", "\"library\" is "
                    "the file name of the shared object in the manifest's "
                    "own directory, not a path: \"%s\"", library);
    get_str(&k, doc, "doc", 0, "a manifest", &pdoc);
    p->library = library ? strdup(library) : NULL;
    p->doc = pdoc ? strdup(pdoc) : NULL;
    const json_t *fns = json_object_get(doc, "functions");
    if (fns == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/functions", "a manifest "
                    "needs \"functions\": an array of the functions it "
                    "describes");
    else if (!json_is_array(fns) || json_array_size(fns) == 0)
        errors__add(errs, TWIN_E_WRONG_TYPE, "/functions", "\"functions\" "
                    "is an array of at least one function");
    size_t n = json_is_array(fns) ? json_array_size(fns) : 0;
    p->fns = calloc(n ? n : 1, sizeof *p->fns);
    if (p->fns == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        goto fail;
    }
    p->n_fns = n;
    for (size_t i = 0; i < n; i++) {
        check_function(&k, json_array_get(fns, i), i, &p->fns[i]);
        at(&k, "/functions/%zu/name", i);
        for (size_t m = 0; m < i && p->fns[i].name; m++)
            if (p->fns[m].name && strcmp(p->fns[m].name, p->fns[i].name) == 0)
                errors__add(errs, TWIN_E_OUT_OF_RANGE, k.path, "two "
                            "functions are named '%s' (%zu and %zu)",
                            p->fns[i].name, m, i);
    }
    if (errs->count != before)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        p->fns[i].plugin = p;
        if (finish_function(&k, i, &p->fns[i]) != 0)
            goto fail;
    }
    p->handle = handle;
    return p;
fail:
    if (errs->count == before)
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
    p->handle = NULL;
    funclib__close(&p);
    return NULL;
}

/* ---- loading ------------------------------------------------------------ */

fl_plugin *funclib__open(const char *manifest_path, twin_errors *errs)
{
    json_error_t jerr;
    fl_plugin *p = NULL;
    void *handle = NULL;
    char *lib = NULL;
    json_t *doc = json_load_file(manifest_path, JSON_REJECT_DUPLICATES,
                                 &jerr);
    if (doc == NULL) {
        errors__add(errs, TWIN_E_BAD_JSON, "", "not a JSON manifest: line "
                    "%d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    /* A library that does not load is a problem like any in the
     * manifest: the plugin is refused whole. */
    size_t before = errs->count;
    const char *name = json_string_value(json_object_get(doc, "library"));
    if (plain_file_name(name)) {
        const char *slash = strrchr(manifest_path, '/');
        int dir_len = slash ? (int)(slash - manifest_path) : 1;
        if (asprintf(&lib, "%.*s/%s", dir_len, slash ? manifest_path : ".",
                     name) < 0) {
            lib = NULL;
            errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
            goto exit;
        }
        handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL)
            errors__add(errs, TWIN_E_OUT_OF_RANGE, "/library", "cannot load "
                        "the library: %s", dlerror());
    }
    p = funclib__parse(doc, handle, errs);
    if (p == NULL || errs->count != before) {
        if (p != NULL)
            p->handle = NULL;   /* closed once, below */
        funclib__close(&p);
        if (handle)
            dlclose(handle);
        goto exit;
    }
    p->manifest = strdup(manifest_path);
    p->library_path = lib;
    lib = NULL;
    if (p->manifest == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        funclib__close(&p);
    }
exit:
    free(lib);
    json_decref(doc);
    return p;
}

void funclib__close(fl_plugin **pp)
{
    fl_plugin *p = *pp;
    if (p == NULL)
        return;
    for (size_t i = 0; p->fns && i < p->n_fns; i++)
        free_function(&p->fns[i]);
    free(p->fns);
    free(p->manifest);
    free(p->library);
    free(p->library_path);
    free(p->doc);
    if (p->handle)
        dlclose(p->handle);
    free(p);
    *pp = NULL;
}

const fl_function *funclib__find(const func_lib *lib, const char *name)
{
    for (size_t i = 0; i < lib->n_plugins; i++)
        for (size_t j = 0; j < lib->plugins[i]->n_fns; j++)
            if (strcmp(lib->plugins[i]->fns[j].name, name) == 0)
                return &lib->plugins[i]->fns[j];
    return NULL;
}

size_t funclib__count(const func_lib *lib)
{
    size_t n = 0;
    for (size_t i = 0; i < lib->n_plugins; i++)
        n += lib->plugins[i]->n_fns;
    return n;
}

const fl_function *funclib__at(const func_lib *lib, size_t k)
{
    for (size_t i = 0; i < lib->n_plugins; i++) {
        if (k < lib->plugins[i]->n_fns)
            return &lib->plugins[i]->fns[k];
        k -= lib->plugins[i]->n_fns;
    }
    return NULL;
}

static void say(funclib_log_fn log, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(funclib_log_fn log, void *ctx, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    if (log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ctx, msg);
}

/* Add the plugin at path (refused: logged, with every problem) to lib;
 * the number of its functions loaded. */
static int add_plugin(func_lib *lib, const char *path, fl_plugin *p,
                      twin_errors *errs, funclib_log_fn log, void *log_ctx)
{
    if (p == NULL) {
        say(log, log_ctx, "%s: function plugin refused, %zu problem%s:",
            path, errs->count, errs->count == 1 ? "" : "s");
        for (size_t e = 0; e < errs->count; e++)
            say(log, log_ctx, "  %s%s%s [%s]", errs->items[e].path,
                errs->items[e].path[0] ? ": " : "", errs->items[e].message,
                errors__code_name(errs->items[e].code));
        return 0;
    }
    /* A name already loaded keeps its first definition; a built-in's
     * name is the built-in's. */
    size_t kept = 0;
    for (size_t j = 0; j < p->n_fns; j++) {
        const fl_function *first = funclib__find(lib, p->fns[j].name);
        analytics_fn builtin;
        if (analytics__find(p->fns[j].name, &builtin) == 0) {
            say(log, log_ctx, "%s: function '%s' has the name of a "
                "built-in, which a call would run instead; skipped "
                "(rename it)", path, p->fns[j].name);
        } else if (first == NULL) {
            if (kept != j) {
                p->fns[kept] = p->fns[j];
                memset(&p->fns[j], 0, sizeof p->fns[j]);
            }
            kept++;
            continue;
        } else {
            say(log, log_ctx, "%s: function '%s' is already loaded from "
                "%s; skipped", path, p->fns[j].name,
                first->plugin->manifest);
        }
        free_function(&p->fns[j]);
        memset(&p->fns[j], 0, sizeof p->fns[j]);
    }
    p->n_fns = kept;
    fl_plugin **grown = kept ? realloc(lib->plugins, (lib->n_plugins + 1) *
                                                         sizeof *grown)
                             : NULL;
    if (grown == NULL) {
        funclib__close(&p);
        return 0;
    }
    lib->plugins = grown;
    lib->plugins[lib->n_plugins++] = p;
    return (int)kept;
}

int funclib__load_dir(func_lib *lib, const char *dir, funclib_log_fn log,
                      void *log_ctx)
{
    static const char *const suffixes[] = {".json", ".py"};
    int loaded = 0;
    for (size_t s = 0; s < 2; s++) {
        char **names = NULL;
        long n = util__list_dir(dir, suffixes[s], &names);
        if (n < 0)
            return -1;
        char path[4096];
        for (long i = 0; i < n; i++) {
            twin_errors errs = {0};
            /* _helpers.py, __init__.py: modules the function files may
             * import, not function files. */
            if (s == 1 && names[i][0] == '_')
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            fl_plugin *p = s == 0 ? funclib__open(path, &errs)
                                  : pyfunc__open(path, &errs);
            loaded += add_plugin(lib, path, p, &errs, log, log_ctx);
            errors__clear(&errs);
        }
        util__free_names(names, n);
    }
    return loaded;
}

void funclib__free(func_lib *lib)
{
    for (size_t i = 0; i < lib->n_plugins; i++)
        funclib__close(&lib->plugins[i]);
    free(lib->plugins);
    lib->plugins = NULL;
    lib->n_plugins = 0;
}

/* ---- describe ----------------------------------------------------------- */

/* A type as the function's language names it. */
static const char *type_name(const fl_function *f, fl_type t)
{
    return f->plugin->python ? pyfunc__type_name(t) : funclib__type_name(t);
}

json_t *funclib__describe(const fl_function *f)
{
    json_t *params = json_array();
    for (size_t j = 0; j < f->n_args; j++) {
        const fl_arg *a = &f->args[j];
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", a->name,
                              "type", type_name(f, a->type), "unit",
                              a->unit, "doc", a->doc, "required",
                              !a->filled && !a->out);
        if (isfinite(a->min))
            json_object_set_new(p, "min", json_real(a->min));
        if (isfinite(a->max))
            json_object_set_new(p, "max", json_real(a->max));
        if (funclib__is_array(a->type) && a->length >= 0) {
            json_object_set_new(p, "length",
                                json_string(f->args[a->length].name));
            if (a->out)
                json_object_set_new(p, "out", json_true());
            if (a->min_length > 0)
                json_object_set_new(p, "min_length",
                                    json_integer((json_int_t)a->min_length));
            if (a->max_length != SIZE_MAX)
                json_object_set_new(p, "max_length",
                                    json_integer((json_int_t)a->max_length));
        }
        if (a->length_of >= 0) {
            json_t *of = json_array();
            for (size_t m = 0; m < f->n_args; m++)
                if (f->args[m].length == (int)j)
                    json_array_append_new(of, json_string(f->args[m].name));
            json_object_set_new(p, "length_of", of);
        }
        json_array_append_new(params, p);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s, s:s}}",
                     "name", f->name, "kind",
                     f->plugin->python ? "python" : "plugin", "library",
                     f->plugin->library, "signature",
                     f->signature, "doc", f->doc, "params", params,
                     "returns", "type", type_name(f, f->ret), "unit",
                     f->ret_unit, "doc", f->ret_doc);
}
