/*
 * paths.h — where twinctl finds its libraries: command-line flags first,
 * then the environment (TWIN_MODEL_PATH, TWIN_INSTANCE_DIR,
 * TWIN_SCENARIO_DIR), then the defaults: the source and build tree when
 * twinctl runs from its build directory, else the installed locations.
 */
#ifndef TWIN_PATHS_H
#define TWIN_PATHS_H

#include <stddef.h>

#include "instance_lib.h"
#include "model_lib.h"

#define PATHS_MAX_MODEL_DIRS 32

typedef struct twin_paths {
    const char *model_dirs[PATHS_MAX_MODEL_DIRS];
    size_t n_model_dirs;
    const char *instance_dir;   /* NULL: default */
    const char *scenario_dir;   /* NULL: default */
    char *owned[PATHS_MAX_MODEL_DIRS + 4];
    size_t n_owned;
} twin_paths;

/* Add a --models directory (kept in order, before the defaults). */
int paths__add_model_dir(twin_paths *p, const char *dir);

/* Fill in what flags left unset from the environment and defaults. */
void paths__finish(twin_paths *p);

/* Load every model directory (problems go to stderr) and the instance
 * library (problems to stderr).  Returns 0, or -1 when no model at all
 * could be loaded. */
int paths__load(const twin_paths *p, model_lib *models,
                instance_lib *instances, int quiet);

void paths__free(twin_paths *p);

#endif
