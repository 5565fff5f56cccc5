/*
 * instance_lib.h — the instance library: design data of the plant's
 * equipment, one twin.instance/1 JSON document per piece of equipment.
 */
#ifndef TWIN_INSTANCE_LIB_H
#define TWIN_INSTANCE_LIB_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"

typedef struct instance_doc {
    char *id;            /* "TK-101" */
    char *model;         /* "tank" */
    char *description;
    char *path;          /* the file it came from */
    json_t *params;      /* object of numbers (owned) */
    json_t *tags;        /* object, may be empty (owned) */
} instance_doc;

typedef struct instance_lib {
    instance_doc *items;
    size_t count;
} instance_lib;

/* Load every *.json in dir.  Each bad document is reported in errs (path
 * "<file>#<JSON Pointer>") and skipped; a duplicate id likewise.  Returns
 * the number loaded, or -1 when the directory cannot be read. */
int instlib__load_dir(instance_lib *lib, const char *dir, twin_errors *errs);

/* Check and add one document (takes no ownership of doc). */
int instlib__add_json(instance_lib *lib, const json_t *doc, const char *path,
                      twin_errors *errs);

const instance_doc *instlib__find(const instance_lib *lib, const char *id);

void instlib__free(instance_lib *lib);

#endif
