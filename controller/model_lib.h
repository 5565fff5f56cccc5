/*
 * model_lib.h — the model library: loading model plugins with dlopen,
 * checking their ABI and descriptor, and finding models and variables.
 *
 * The host accepts a plugin whose ABI major equals TWIN_MODEL_ABI_MAJOR and
 * whose minor is not newer, and refuses any other with a message naming the
 * file and both versions.  Plugins load with RTLD_NOW | RTLD_LOCAL.
 */
#ifndef TWIN_MODEL_LIB_H
#define TWIN_MODEL_LIB_H

#include <stddef.h>

#include "errors.h"
#include "twin_model.h"

typedef struct twin_model {
    char *path;                       /* the shared object */
    void *handle;                     /* from dlopen; NULL for built-ins */
    const twin_model_descriptor *d;
    /* Variables by kind, in declaration order: index i of a kind is the
     * i-th element of the array the host passes for that kind. */
    const twin_variable **param;
    const twin_variable **state;
    const twin_variable **input;
    const twin_variable **output;
    size_t n_param, n_state, n_input, n_output;
} twin_model;

typedef struct model_lib {
    twin_model **models;
    size_t count;
} model_lib;

/* Check a descriptor as the host sees it: ABI, sizes, names, kinds,
 * start/min/max, the functions its kind needs.  Appends every problem to
 * errs (paths point into the descriptor, e.g. "/variables/3/name").
 * Returns the number of problems added. */
size_t modlib__check_descriptor(const twin_model_descriptor *d,
                                twin_errors *errs);

/* Load one plugin and check it.  On failure returns NULL and puts one
 * sentence saying why (naming the file) into why. */
twin_model *modlib__open(const char *path, char *why, size_t why_len);

/* dlopen a plugin and call its entry point, without checking the
 * descriptor.  On success *handle gets the dlopen handle (dlclose it).
 * On failure returns NULL with one sentence in why. */
const twin_model_descriptor *modlib__load_descriptor(const char *path,
                                                     void **handle,
                                                     char *why, size_t why_len);

/* Wrap a descriptor that is linked in (tests, built-in models). */
twin_model *modlib__wrap(const twin_model_descriptor *d, char *why,
                         size_t why_len);

void modlib__close(twin_model **m);

/* Load every *.so in dir.  A plugin that fails to load is reported through
 * log (when given) and skipped; so is a second model of the same name.
 * Returns the number loaded, or -1 when the directory cannot be read. */
typedef void (*modlib_log_fn)(void *ctx, const char *message);
int modlib__load_dir(model_lib *lib, const char *dir, modlib_log_fn log,
                     void *log_ctx);

/* Take ownership of m; fails (returns -1) on a duplicate name. */
int modlib__add(model_lib *lib, twin_model *m);

const twin_model *modlib__find(const model_lib *lib, const char *name);

/* Find a signal (state, input or output) or a parameter by name.  Return
 * 0 and fill kind/index, or -1 when there is none. */
int modlib__find_signal(const twin_model *m, const char *name,
                        twin_var_kind *kind, size_t *index);
int modlib__find_param(const twin_model *m, const char *name, size_t *index);

const char *modlib__kind_name(twin_var_kind kind);

void modlib__free(model_lib *lib);

#endif
