/*
 * instance_lib.c — reading the instance library (twin.instance/1 documents)
 * from a directory.  Checks the documents' shape only; whether the model
 * exists and takes those parameters is scenario composition's business,
 * where the error can point into the request.
 */
#include "instance_lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void doc_free(instance_doc *d)
{
    free(d->id);
    free(d->model);
    free(d->description);
    free(d->path);
    json_decref(d->params);
    json_decref(d->tags);
}

int instlib__add_json(instance_lib *lib, const json_t *doc, const char *path,
                      twin_errors *errs)
{
    char where[4200];
    size_t before = errs->count;
#define PROBLEM(code, ptr, ...)                                         \
    do {                                                                \
        snprintf(where, sizeof where, "%s#%s", path, ptr);              \
        errors__add(errs, code, where, __VA_ARGS__);                    \
    } while (0)

    if (!json_is_object(doc)) {
        PROBLEM(TWIN_E_WRONG_TYPE, "", "an instance document is a JSON object");
        return -1;
    }
    const json_t *contract = json_object_get(doc, "contract");
    const json_t *id = json_object_get(doc, "id");
    const json_t *model = json_object_get(doc, "model");
    const json_t *descr = json_object_get(doc, "description");
    const json_t *params = json_object_get(doc, "params");
    const json_t *tags = json_object_get(doc, "tags");

    if (!json_is_string(contract) ||
        strcmp(json_string_value(contract), "twin.instance/1") != 0)
        PROBLEM(TWIN_E_BAD_CONTRACT, "/contract",
                "expected \"contract\": \"twin.instance/1\"");
    if (!json_is_string(id) || json_string_length(id) == 0)
        PROBLEM(TWIN_E_MISSING_FIELD, "/id", "needs a non-empty string \"id\"");
    if (!json_is_string(model))
        PROBLEM(TWIN_E_MISSING_FIELD, "/model",
                "needs the string \"model\" naming its model");
    if (descr != NULL && !json_is_string(descr))
        PROBLEM(TWIN_E_WRONG_TYPE, "/description",
                "\"description\" must be a string");
    if (params != NULL && !json_is_object(params))
        PROBLEM(TWIN_E_WRONG_TYPE, "/params",
                "\"params\" must be an object of numbers");
    if (json_is_object(params)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)params, k, v)
            if (!json_is_number(v) && !json_is_boolean(v) &&
                !json_is_string(v)) {
                /* Checked against the model when a scenario uses it:
                 * booleans and strings for ABI 1.1 models. */
                char *p = errors__path("/params", k);
                PROBLEM(TWIN_E_WRONG_TYPE, p ? p : "/params",
                        "parameter '%s' must be a number (or, for a model "
                        "that has them, a boolean or a string)", k);
                free(p);
            }
    }
    if (tags != NULL && !json_is_object(tags))
        PROBLEM(TWIN_E_WRONG_TYPE, "/tags", "\"tags\" must be an object");
    if (errs->count > before)
        return -1;
    if (instlib__find(lib, json_string_value(id)) != NULL) {
        PROBLEM(TWIN_E_OUT_OF_RANGE, "/id",
                "instance id '%s' is defined twice; this one is skipped",
                json_string_value(id));
        return -1;
    }
#undef PROBLEM

    instance_doc *items = realloc(lib->items,
                                  (lib->count + 1) * sizeof *items);
    if (items == NULL)
        return -1;
    lib->items = items;
    instance_doc *d = &lib->items[lib->count];
    memset(d, 0, sizeof *d);
    d->id = strdup(json_string_value(id));
    d->model = strdup(json_string_value(model));
    d->description = strdup(descr ? json_string_value(descr) : "");
    d->path = strdup(path);
    d->params = params ? json_deep_copy(params) : json_object();
    d->tags = tags ? json_deep_copy(tags) : json_object();
    if (!d->id || !d->model || !d->description || !d->path || !d->params ||
        !d->tags) {
        doc_free(d);
        return -1;
    }
    lib->count++;
    return 0;
}

int instlib__load_dir(instance_lib *lib, const char *dir, twin_errors *errs)
{
    char **names = NULL;
    long n = util__list_dir(dir, ".json", &names);
    if (n < 0)
        return -1;

    int loaded = 0;
    char path[4096];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_error_t jerr;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (doc == NULL) {
            errors__add(errs, TWIN_E_BAD_JSON, path,
                        "line %d, column %d: %s", jerr.line, jerr.column,
                        jerr.text);
        } else if (instlib__add_json(lib, doc, path, errs) == 0) {
            loaded++;
        }
        json_decref(doc);
    }
    util__free_names(names, n);
    return loaded;
}

const instance_doc *instlib__find(const instance_lib *lib, const char *id)
{
    for (size_t i = 0; i < lib->count; i++)
        if (strcmp(lib->items[i].id, id) == 0)
            return &lib->items[i];
    return NULL;
}

void instlib__free(instance_lib *lib)
{
    for (size_t i = 0; i < lib->count; i++)
        doc_free(&lib->items[i]);
    free(lib->items);
    lib->items = NULL;
    lib->count = 0;
}
