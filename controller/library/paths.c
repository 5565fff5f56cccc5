/*
 * paths.c — resolving the model, instance and scenario directories and
 * loading the libraries for the CLI.  See paths.h for the order.
 */
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callable.h"
#include "pyfunc.h"
#include "twin_paths.h"
#include "twin_pyfunc_paths.h"

static int own(twin_paths *p, char *s)
{
    if (s == NULL || p->n_owned >= sizeof p->owned / sizeof p->owned[0]) {
        free(s);
        return -1;
    }
    p->owned[p->n_owned++] = s;
    return 0;
}

static int same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    if (strcmp(a, b) == 0)
        return 1;
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static int add_dir(const char **dirs, size_t *n, const char *dir)
{
    for (size_t i = 0; i < *n; i++)
        if (same_dir(dirs[i], dir))
            return 0; /* once is enough */
    if (*n >= PATHS_MAX_MODEL_DIRS)
        return -1;
    dirs[(*n)++] = dir;
    return 0;
}

int paths__add_model_dir(twin_paths *p, const char *dir)
{
    return add_dir(p->model_dirs, &p->n_model_dirs, dir);
}

int paths__add_function_dir(twin_paths *p, const char *dir)
{
    return add_dir(p->function_dirs, &p->n_function_dirs, dir);
}

/* Each directory of a colon-separated list in the environment. */
static void add_from_env(twin_paths *p, const char *var,
                         int (*add)(twin_paths *, const char *))
{
    const char *env = getenv(var);
    if (env == NULL || *env == '\0')
        return;
    char *copy = strdup(env);
    if (own(p, copy) == 0)
        for (char *save = NULL, *d = strtok_r(copy, ":", &save); d;
             d = strtok_r(NULL, ":", &save))
            add(p, d);
}

/* Is this the twinctl built in TWIN_BUILD_DIR (not an installed copy)? */
static int in_build_tree(void)
{
    char exe[PATH_MAX], expect[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    snprintf(expect, sizeof expect, "%s/controller/twinctl", TWIN_BUILD_DIR);
    if (realpath(expect, real) == NULL)
        return 0;
    return strcmp(real, exe) == 0;
}

void paths__finish(twin_paths *p)
{
    int build = in_build_tree();
    add_from_env(p, "TWIN_MODEL_PATH", paths__add_model_dir);
    paths__add_model_dir(p, build ? TWIN_BUILD_MODEL_DIR
                                  : TWIN_INSTALL_MODEL_DIR);
    add_from_env(p, "TWIN_FUNCTION_PATH", paths__add_function_dir);
    paths__add_function_dir(p, build ? TWIN_BUILD_FUNCTION_DIR
                                     : TWIN_INSTALL_FUNCTION_DIR);
    if (p->instance_dir == NULL)
        p->instance_dir = getenv("TWIN_INSTANCE_DIR");
    if (p->scenario_dir == NULL)
        p->scenario_dir = getenv("TWIN_SCENARIO_DIR");
    if (p->instance_dir == NULL) {
        char *d = NULL;
        if (asprintf(&d, "%s/instance-library",
                     build ? TWIN_SOURCE_DIR : TWIN_INSTALL_DATA_DIR) > 0 &&
            own(p, d) == 0)
            p->instance_dir = d;
    }
    if (p->scenario_dir == NULL) {
        char *d = NULL;
        if (asprintf(&d, "%s/scenarios",
                     build ? TWIN_SOURCE_DIR : TWIN_INSTALL_DATA_DIR) > 0 &&
            own(p, d) == 0)
            p->scenario_dir = d;
    }
}

static void log_stderr(void *ctx, const char *message)
{
    if (!*(const int *)ctx)
        fprintf(stderr, "twinctl: model library: %s\n", message);
}

int paths__load(const twin_paths *p, model_lib *models,
                instance_lib *instances, int quiet)
{
    for (size_t i = 0; i < p->n_model_dirs; i++)
        if (modlib__load_dir(models, p->model_dirs[i], log_stderr, &quiet) < 0
            && !quiet)
            fprintf(stderr, "twinctl: cannot read model directory %s\n",
                    p->model_dirs[i]);
    if (models->count == 0) {
        fprintf(stderr, "twinctl: no model could be loaded from");
        for (size_t i = 0; i < p->n_model_dirs; i++)
            fprintf(stderr, " %s", p->model_dirs[i]);
        fprintf(stderr, "; give a directory of model plugins with --models "
                "DIR or TWIN_MODEL_PATH\n");
        return -1;
    }
    if (instances != NULL && p->instance_dir != NULL) {
        twin_errors errs = {0};
        if (instlib__load_dir(instances, p->instance_dir, &errs) < 0 && !quiet)
            fprintf(stderr, "twinctl: cannot read instance library %s\n",
                    p->instance_dir);
        if (!quiet)
            errors__print(&errs, "twinctl: instance library: ", stderr);
        errors__clear(&errs);
    }
    return 0;
}

static void log_functions(void *ctx, const char *message)
{
    if (!*(const int *)ctx)
        fprintf(stderr, "twinctl: function library: %s\n", message);
}

void paths__load_functions(const twin_paths *p, func_lib *functions,
                           int quiet)
{
    /* Python function plugins run the runner beside this twinctl. */
    pyfunc__set_runner(in_build_tree() ? TWIN_BUILD_PYFUNC_RUNNER
                                       : TWIN_PYFUNC_RUNNER);
    for (size_t i = 0; i < p->n_function_dirs; i++) {
        const char *d = p->function_dirs[i];
        /* The default directory may well not exist: no plugins then. */
        int given = i + 1 < p->n_function_dirs;
        if (funclib__load_dir(functions, d, log_functions, &quiet) < 0 &&
            given && !quiet)
            fprintf(stderr, "twinctl: cannot read function directory %s\n",
                    d);
    }
}

int paths__load_functions_for(const twin_paths *p, const json_t *doc,
                              const char *key, func_lib *functions,
                              int quiet)
{
    const json_t *list = json_object_get(doc, key);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *name = json_string_value(
            json_object_get(json_array_get(list, i), "function"));
        if (name != NULL && !callable__is_builtin(name)) {
            paths__load_functions(p, functions, quiet);
            return 1;
        }
    }
    return 0;
}

void paths__free(twin_paths *p)
{
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    p->n_owned = 0;
}
