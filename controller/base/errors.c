/*
 * errors.c — collecting every problem of a document with code, JSON Pointer
 * and sentence.  See errors.h.
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[TWIN_E__COUNT] = {
    [TWIN_E_BAD_JSON] = "bad_json",
    [TWIN_E_BAD_CONTRACT] = "bad_contract",
    [TWIN_E_MISSING_FIELD] = "missing_field",
    [TWIN_E_WRONG_TYPE] = "wrong_type",
    [TWIN_E_OUT_OF_RANGE] = "out_of_range",
    [TWIN_E_UNKNOWN_MODEL] = "unknown_model",
    [TWIN_E_UNKNOWN_INSTANCE] = "unknown_instance",
    [TWIN_E_UNKNOWN_FUNCTION] = "unknown_function",
    [TWIN_E_UNKNOWN_VARIABLE] = "unknown_variable",
    [TWIN_E_BAD_CONNECTION] = "bad_connection",
    [TWIN_E_ALGEBRAIC_LOOP] = "algebraic_loop",
    [TWIN_E_UNKNOWN_RUN] = "unknown_run",
    [TWIN_E_NOT_ALLOWED] = "not_allowed",
    [TWIN_E_BUSY] = "busy",
    [TWIN_E_TOO_LARGE] = "too_large",
    [TWIN_E_SOLVER_FAILURE] = "solver_failure",
    [TWIN_E_MODEL_CRASHED] = "model_crashed",
    [TWIN_E_TIMEOUT] = "timeout",
    [TWIN_E_CANCELLED] = "cancelled",
    [TWIN_E_INTERNAL] = "internal",
};

const char *errors__code_name(twin_err_code code)
{
    if ((unsigned)code >= TWIN_E__COUNT)
        return "internal";
    return code_names[code];
}

const char *errors__json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

void errors__add(twin_errors *errs, twin_err_code code, const char *path,
                 const char *fmt, ...)
{
    if (errs == NULL)
        return;
    if (errs->count == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        twin_error *items = realloc(errs->items, cap * sizeof *items);
        if (items == NULL) {
            errs->lost++;
            return;
        }
        errs->items = items;
        errs->cap = cap;
    }
    twin_error *e = &errs->items[errs->count];
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&e->message, fmt, ap);
    va_end(ap);
    if (n < 0) {
        errs->lost++;
        return;
    }
    e->path = strdup(path ? path : "");
    if (e->path == NULL) {
        free(e->message);
        errs->lost++;
        return;
    }
    e->code = code;
    errs->count++;
}

void errors__add_at(twin_errors *errs, twin_err_code code, const char *base,
                    const char *member, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *path = member ? errors__path(base, member) : NULL;
    errors__add(errs, code, path ? path : base, "%s", msg);
    free(path);
}

char *errors__path(const char *base, const char *token)
{
    size_t blen = strlen(base);
    size_t extra = 0;
    for (const char *c = token; *c; c++)
        extra += (*c == '~' || *c == '/') ? 2 : 1;
    char *out = malloc(blen + 1 + extra + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, base, blen);
    char *w = out + blen;
    *w++ = '/';
    for (const char *c = token; *c; c++) {
        if (*c == '~') {
            *w++ = '~';
            *w++ = '0';
        } else if (*c == '/') {
            *w++ = '~';
            *w++ = '1';
        } else {
            *w++ = *c;
        }
    }
    *w = '\0';
    return out;
}

char *errors__pathi(const char *base, size_t index)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", index);
    return errors__path(base, buf);
}

void errors__clear(twin_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++) {
        free(errs->items[i].path);
        free(errs->items[i].message);
    }
    free(errs->items);
    errs->items = NULL;
    errs->count = errs->cap = errs->lost = 0;
}

json_t *errors__to_json(const twin_errors *errs)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < errs->count; i++) {
        const twin_error *e = &errs->items[i];
        json_array_append_new(arr,
            json_pack("{s:s, s:s, s:s}", "code", errors__code_name(e->code),
                      "path", e->path, "message", e->message));
    }
    return arr;
}

void errors__print(const twin_errors *errs, const char *prefix, void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < errs->count; i++) {
        const twin_error *e = &errs->items[i];
        fprintf(f, "%s%s%s%s [%s]\n", prefix ? prefix : "",
                e->path[0] ? e->path : "", e->path[0] ? ": " : "",
                e->message, errors__code_name(e->code));
    }
}
