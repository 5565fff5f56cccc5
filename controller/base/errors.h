/*
 * errors.h — the list of problems found in a request or scenario.
 *
 * A rejection names every problem, not only the first, so checking code
 * appends to a twin_errors list and carries on.  Each entry has the wire
 * contract's error code, a JSON Pointer into the document, and a sentence
 * a person understands.  The list owns its strings.
 */
#ifndef TWIN_ERRORS_H
#define TWIN_ERRORS_H

#include <stddef.h>

#include <jansson.h>

/* Wire contract v1 error codes (DESIGN.md). */
typedef enum twin_err_code {
    TWIN_E_BAD_JSON,
    TWIN_E_BAD_CONTRACT,
    TWIN_E_MISSING_FIELD,
    TWIN_E_WRONG_TYPE,
    TWIN_E_OUT_OF_RANGE,
    TWIN_E_UNKNOWN_MODEL,
    TWIN_E_UNKNOWN_INSTANCE,
    TWIN_E_UNKNOWN_FUNCTION,
    TWIN_E_UNKNOWN_VARIABLE,
    TWIN_E_BAD_CONNECTION,
    TWIN_E_ALGEBRAIC_LOOP,
    TWIN_E_UNKNOWN_RUN,
    TWIN_E_NOT_ALLOWED,
    TWIN_E_BUSY,
    TWIN_E_TOO_LARGE,
    TWIN_E_SOLVER_FAILURE,
    TWIN_E_MODEL_CRASHED,
    TWIN_E_TIMEOUT,
    TWIN_E_CANCELLED,
    TWIN_E_INTERNAL,
    TWIN_E__COUNT
} twin_err_code;

typedef struct twin_error {
    twin_err_code code;
    char *path;    /* JSON Pointer, "" for the whole document */
    char *message;
} twin_error;

typedef struct twin_errors {
    twin_error *items;
    size_t count;
    size_t cap;
    size_t lost;   /* problems not recorded for want of memory */
} twin_errors;

/* "bad_json", "unknown_model", ... */
const char *errors__code_name(twin_err_code code);

/* What a JSON value is, for sentences: "an object", "a string", "null"... */
const char *errors__json_kind(const json_t *v);

/* Append a problem.  The message is printf-formatted.  When memory runs
 * out the problem is counted in errs->lost instead. */
void errors__add(twin_errors *errs, twin_err_code code, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Escape one reference token for a JSON Pointer (~ → ~0, / → ~1) and append
 * it to base: errors__path("/instances", "a/b") is "/instances/a~1b".
 * Returns a malloc'd string, or NULL when out of memory. */
char *errors__path(const char *base, const char *token);
char *errors__pathi(const char *base, size_t index);

/* errors__add at base + "/" + member (escaped as errors__path does; at
 * base itself when member is NULL or memory is short). */
void errors__add_at(twin_errors *errs, twin_err_code code, const char *base,
                    const char *member, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Free the entries and reset the list to empty. */
void errors__clear(twin_errors *errs);

/* [{"code":..,"path":..,"message":..}, ...] (a new reference). */
json_t *errors__to_json(const twin_errors *errs);

/* Print one line per problem: "path: message [code]". */
void errors__print(const twin_errors *errs, const char *prefix, void *file);

#endif
