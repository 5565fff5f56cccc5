/*
 * fuzz_support.c — the libraries the harnesses compose against and the
 * checks they share (see fuzz_support.h).
 */
#include "fuzz_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#ifndef TWIN_FUZZ_MODEL_DIR
#error TWIN_FUZZ_MODEL_DIR (the build's models directory) is set by meson
#endif
#ifndef TWIN_FUZZ_INSTANCE_DIR
#error TWIN_FUZZ_INSTANCE_DIR (the instance library) is set by meson
#endif

static model_lib models;
static instance_lib instances;
static int loaded;

const scenario_limits fuzz__limits = {
    .max_instances = 10000,
    .max_connections = 100000,
    .max_rows = 1e8,
};

static void log_stderr(void *ctx, const char *message)
{
    fprintf(stderr, "fuzz: model library: %s\n", message);
}

static void load(void)
{
    if (loaded)
        return;
    loaded = 1;
    if (modlib__load_dir(&models, TWIN_FUZZ_MODEL_DIR, log_stderr, NULL) < 4) {
        fprintf(stderr, "fuzz: the reference models did not load from %s "
                "(build them first: meson compile)\n", TWIN_FUZZ_MODEL_DIR);
        abort();
    }
    twin_errors errs = {0};
    if (instlib__load_dir(&instances, TWIN_FUZZ_INSTANCE_DIR, &errs) < 1 ||
        errs.count > 0) {
        fprintf(stderr, "fuzz: the instance library did not load from %s\n",
                TWIN_FUZZ_INSTANCE_DIR);
        errors__print(&errs, "fuzz: ", stderr);
        abort();
    }
}

const model_lib *fuzz__models(void)
{
    load();
    return &models;
}

const instance_lib *fuzz__instances(void)
{
    load();
    return &instances;
}

void fuzz__check_errors(const twin_errors *errs, const char *what)
{
    json_t *arr = errors__to_json(errs);
    if (arr == NULL || json_array_size(arr) != errs->count) {
        fprintf(stderr, "fuzz: %s: %zu problems, %zu of them in the JSON "
                "answer\n", what, errs->count,
                arr ? json_array_size(arr) : 0);
        errors__print(errs, "  ", stderr);
        abort();
    }
    json_decref(arr);
    for (size_t i = 0; i < errs->count; i++) {
        const char *p = errs->items[i].path;
        if (p[0] != '\0' && p[0] != '/') {
            fprintf(stderr, "fuzz: %s: path \"%s\" is no JSON Pointer\n",
                    what, p);
            abort();
        }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fuzz__check_scenario(const scenario *sc)
{
    if (sc->n_out == 0)
        return;
    char **names = malloc(sc->n_out * sizeof *names);
    if (names == NULL)
        return;
    for (size_t i = 0; i < sc->n_out; i++) {
        json_t *s = json_string(sc->out_name[i]);
        if (s == NULL) {
            fprintf(stderr, "fuzz: column \"%s\" is not valid UTF-8\n",
                    sc->out_name[i]);
            abort();
        }
        json_decref(s);
        names[i] = sc->out_name[i];
    }
    qsort(names, sc->n_out, sizeof *names, by_name);
    for (size_t i = 1; i < sc->n_out; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            fprintf(stderr, "fuzz: two columns are both named \"%s\"\n",
                    names[i]);
            abort();
        }
    free(names);
}
