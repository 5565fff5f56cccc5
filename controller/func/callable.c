/*
 * callable.c — dispatching a function name to a built-in (analytics.h) or
 * a plugin function (funclib.h), and the describe list of both.  Built-ins
 * come first: a name is looked up among them before the plugins, and a
 * plugin function named like a built-in is not loaded (funclib.c).
 */
#include "callable.h"

#include <stdlib.h>

#include "analytics.h"

json_t *callable__describe(const func_lib *plugins)
{
    json_t *all = analytics_describe();
    for (size_t i = 0; all && i < funclib__count(plugins); i++)
        json_array_append_new(all,
                              funclib__describe(funclib__at(plugins, i)));
    return all;
}

int callable__call_members(const json_t *req, const char **name,
                           const json_t **args, twin_errors *errs)
{
    size_t before = errs->count;
    const json_t *fn = json_object_get(req, "function");
    *name = NULL;
    *args = json_object_get(req, "args");
    if (fn == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/function", "a call needs "
                    "\"function\": the name of the function to call "
                    "(describe lists them)");
    else if (!json_is_string(fn))
        errors__add(errs, TWIN_E_WRONG_TYPE, "/function", "\"function\" is "
                    "the name of a function, a string");
    else
        *name = json_string_value(fn);
    if (*args != NULL && !json_is_object(*args))
        errors__add(errs, TWIN_E_WRONG_TYPE, "/args", "\"args\" is an "
                    "object of the arguments by name: {\"x\": 1.5, ...}");
    return errs->count == before ? 0 : -1;
}

int callable__is_builtin(const char *name)
{
    analytics_fn fn;
    return analytics__find(name, &fn) == 0;
}

/* The built-in's problems point into its arguments: move them under
 * /args of the request (an internal failure keeps its ""). */
static void under_args(const twin_errors *in, twin_errors *errs)
{
    for (size_t i = 0; i < in->count; i++) {
        const twin_error *e = &in->items[i];
        char *p = NULL;
        if (e->code != TWIN_E_INTERNAL && asprintf(&p, "/args%s", e->path) < 0)
            p = NULL;
        errors__add(errs, e->code, p ? p : e->path, "%s", e->message);
        free(p);
    }
}

int callable__builtin(const char *name, const json_t *args, json_t **answer,
                      twin_errors *errs)
{
    twin_errors own = {0};
    json_t *value = NULL, *none = NULL;
    *answer = NULL;
    if (!callable__is_builtin(name))
        return 0;
    if (args == NULL)
        args = none = json_object();
    analytics_status st = analytics_call(name, args, &value, &own);
    if (st == ANALYTICS_OK || st == ANALYTICS_UNDEFINED) {
        *answer = json_pack("{s:s, s:s, s:o}", "status", "ok", "function",
                            name, "value", value ? value : json_null());
        if (st == ANALYTICS_UNDEFINED) {
            /* No value on these data (it never crossed): null, and why. */
            twin_errors why = {0};
            under_args(&own, &why);
            json_t *list = errors__to_json(&why);
            json_t *first = json_array_get(list, 0);
            if (first != NULL)
                json_object_set(*answer, "value_error", first);
            json_decref(list);
            errors__clear(&why);
        }
    } else {
        json_decref(value);
        under_args(&own, errs);
        if (own.count == 0)
            errors__add(errs, TWIN_E_INTERNAL, "", "the built-in %s failed",
                        name);
    }
    errors__clear(&own);
    json_decref(none);
    return 1;
}

void callable__unknown(const char *name, twin_errors *errs)
{
    errors__add(errs, TWIN_E_UNKNOWN_FUNCTION, "/function", "this "
                "controller has no function '%s' (describe, or twinctl "
                "functions, lists them)", name);
}
