/*
 * callable.h — the function library as requests and the CLI see it:
 * the built-in functions first, then the function plugins (funclib.h).
 * A built-in runs in this process; a plugin function runs in a child
 * process (funcall.h).  `describe` lists both, each entry with its kind.
 */
#ifndef TWIN_CALLABLE_H
#define TWIN_CALLABLE_H

#include <jansson.h>

#include "errors.h"
#include "funclib.h"

/* describe's "functions": every built-in, then every plugin function. */
json_t *callable__describe(const func_lib *plugins);

/* The "function" (a name) and "args" (an object, or NULL when absent) of
 * a call request.  Returns 0, or -1 with the problems in errs. */
int callable__call_members(const json_t *req, const char **name,
                            const json_t **args, twin_errors *errs);

/* Is name a built-in?  Then call it here: returns 1 with *answer (the
 * `ok` answer: status, function, value) or the problems in errs.
 * Returns 0 when name is no built-in. */
int callable__builtin(const char *name, const json_t *args,
                       json_t **answer, twin_errors *errs);

/* A plugin function whose name a built-in has is not loaded: the
 * built-in would hide it.  1 when name is taken by a built-in. */
int callable__is_builtin(const char *name);

/* unknown_function at /function for name. */
void callable__unknown(const char *name, twin_errors *errs);

#endif
