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

/* What a descriptor may declare: a count beyond these is a descriptor
 * that lies about its arrays. */
#define MODLIB_MAX_NAME 128          /* characters of a name */
#define MODLIB_MAX_TEXT 65536        /* bytes of a unit, a description */
#define MODLIB_MAX_VARIABLES 65536   /* variables; event indicators */

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
    /* The ABI 1.1 fields as the host may read them: a descriptor whose
     * struct_size stops before them (an ABI 1.0 plugin) gets 0 and NULL,
     * so the host never reads past struct_size. */
    double sample_period;
    __typeof__(((twin_model_descriptor *)0)->next_event_time) next_event_time;
    __typeof__(((twin_model_descriptor *)0)->step_completed) step_completed;
    /* ABI 1.2, in the same way: NULL when not declared (dependencies NULL:
     * every block dense; state_abs_tol NULL: the scenario's atol). */
    const twin_dependency *dependencies;
    size_t n_dependencies;
    const double *state_abs_tol;
    /* An FMU that offers both interfaces is this model in Model Exchange;
     * its Co-Simulation twin, for an instance that asks for it
     * ("fmi_interface" in a scenario, scenario.c), is here.  NULL for
     * every other model. */
    struct twin_model *cs;
    /* A Python file with several model classes (docs/python.md): the
     * model of its next class; modlib__load_dir adds each on its own.
     * NULL for every other model. */
    struct twin_model *next;
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

/* Vet one plugin in a child process (model_vet.h), then load and check
 * it.  On failure returns NULL and puts one sentence saying why (naming
 * the file) into why. */
twin_model *modlib__open(const char *path, char *why, size_t why_len);

/* Load the plugin fd is open on (path names it in messages) and call its
 * entry point (an FMU: open it into its descriptor), in this process and without checking the descriptor: for
 * a plugin that was vetted.  On success *handle gets the handle (give it
 * to plugin_open__close).  On failure returns NULL with one sentence in
 * why. */
const twin_model_descriptor *modlib__load_descriptor(const char *path, int fd,
                                                     void **handle,
                                                     char *why, size_t why_len);

/* Whether path names an FMU (*.fmu, docs/fmi.md) rather than a plugin:
 * modlib__load_descriptor opens it through fmi/'s fmu_model.c. */
int modlib__is_fmu(const char *path);

/* Release what modlib__load_descriptor returned: the plugin's handle, or
 * the FMU the descriptor belongs to. */
void modlib__unload(const twin_model_descriptor *d, void *handle);

/* Wrap a descriptor that is linked in (tests, built-in models). */
twin_model *modlib__wrap(const twin_model_descriptor *d, char *why,
                         size_t why_len);

void modlib__close(twin_model **m);

/* Arrays for one call of each function at the start values: p holds the
 * default parameters, x and u the start values, y, dx and g (event
 * indicators) zeros.  modlib__scratch_new returns 0, or -1 for want of
 * memory (free it all the same). */
typedef struct modlib_scratch {
    double *p, *x, *u, *y, *dx, *g;
} modlib_scratch;
int modlib__scratch_new(const twin_model *m, modlib_scratch *s);
void modlib__scratch_free(modlib_scratch *s);

/* Load every *.so, *.fmu and *.py in dir, all vetted first in one child
 * process.  A
 * plugin that fails its vetting or its checks is reported through log
 * (when given, one sentence each) and skipped; so is a second model of
 * the same name.
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

/* What a variable is as a person reads it: its kind, or "local" for an
 * output flagged TWIN_VAR_LOCAL. */
const char *modlib__var_kind_name(const twin_variable *v);

/* A host for calling a model outside a run (vetting, check-model): log
 * goes to log (may be NULL), model is m, param_string answers NULL (the
 * model's defaults) and request_end is ignored. */
void modlib__plain_host(twin_host *host, const twin_model_descriptor *d,
                        void (*log)(void *context, twin_log_level level,
                                    const char *message),
                        void *context);

void modlib__free(model_lib *lib);

#endif
