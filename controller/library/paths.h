/*
 * paths.h — where twinctl finds its libraries: command-line flags first,
 * then the environment (TWIN_MODEL_PATH, TWIN_FUNCTION_PATH,
 * TWIN_INSTANCE_DIR, TWIN_SCENARIO_DIR), then the defaults: the source
 * and build tree when twinctl runs from its build directory, else the
 * installed locations.  Plugins (models, functions) load only from these
 * directories; a name in a request is never a path.
 */
#ifndef TWIN_PATHS_H
#define TWIN_PATHS_H

#include <stddef.h>

#include "funclib.h"
#include "instance_lib.h"
#include "model_lib.h"

#define PATHS_MAX_MODEL_DIRS 32

typedef struct twin_paths {
    const char *model_dirs[PATHS_MAX_MODEL_DIRS];
    size_t n_model_dirs;
    const char *function_dirs[PATHS_MAX_MODEL_DIRS];
    size_t n_function_dirs;
    const char *instance_dir;   /* NULL: default */
    const char *scenario_dir;   /* NULL: default */
    char *owned[PATHS_MAX_MODEL_DIRS + 5];
    size_t n_owned;
} twin_paths;

/* Add a --models directory (kept in order, before the defaults). */
int paths__add_model_dir(twin_paths *p, const char *dir);

/* Add a --function-dir directory (function plugins: manifests and their
 * libraries), likewise. */
int paths__add_function_dir(twin_paths *p, const char *dir);

/* Fill in what flags left unset from the environment and defaults. */
void paths__finish(twin_paths *p);

/* Load every model directory (problems go to stderr) and the instance
 * library (problems to stderr).  Returns 0, or -1 when no model at all
 * could be loaded. */
int paths__load(const twin_paths *p, model_lib *models,
                instance_lib *instances, int quiet);

/* Load every function directory; refused plugins and directories that
 * cannot be read are logged to stderr (unless quiet).  A missing default
 * directory is not a problem: function plugins are optional. */
void paths__load_functions(const twin_paths *p, func_lib *functions,
                           int quiet);

/* Load the function directories only when a document's list `key`
 * ("functions" of a scenario, "kpis" of a batch) names a function that
 * is no built-in: loading runs every Python function file's interpreter,
 * which a run of built-ins need not pay.  Returns whether it loaded. */
int paths__load_functions_for(const twin_paths *p, const json_t *doc,
                              const char *key, func_lib *functions,
                              int quiet);

void paths__free(twin_paths *p);

#endif
