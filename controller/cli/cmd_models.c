/*
 * cmd_models.c — `twinctl models`: list the model library, each model with
 * its variables (kind, unit, default or start, range, description).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_opts.h"
#include "cmd.h"
#include "paths.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl models [OPTIONS] [NAME...]\n"
        "\n"
        "List the models this controller can run (all, or those named),\n"
        "with every parameter, state, input and output.\n"
        "\n"
        "Options:\n"
        "      --models DIR   load model plugins from DIR too (repeatable)\n"
        "      --python-venv DIR  the virtual environment Python models\n"
        "                     import from (docs/python.md)\n"
        "  -h, --help         show this help\n");
}

static void print_number(double v)
{
    if (isnan(v))
        printf(" %-10s", "(optional)");
    else
        printf(" %-10g", v);
}

static void print_model(const twin_model *m)
{
    const twin_model_descriptor *d = m->d;
    printf("%s %s  (%s", d->name, d->version,
           d->kind == TWIN_MODEL_CONTINUOUS ? "continuous" : "discrete");
    if (d->n_event_indicators)
        printf(", %zu event indicator%s", d->n_event_indicators,
               d->n_event_indicators == 1 ? "" : "s");
    printf(")  %s\n  %s\n", m->path ? m->path : "(built in)", d->description);
    printf("  %-9s %-10s %-8s %-10s %-22s %s\n", "kind", "name", "unit",
           "start", "range", "description");
    for (size_t i = 0; i < d->n_variables; i++) {
        const twin_variable *v = &d->variables[i];
        char range[64];
        snprintf(range, sizeof range, "[%g, %g]", v->min, v->max);
        printf("  %-9s %-10s %-8s", modlib__var_kind_name(v), v->name,
               v->unit[0] ? v->unit : "-");
        print_number(v->start);
        printf(" %-22s %s%s%s\n", range, v->description,
               (v->flags & TWIN_VAR_FEEDTHROUGH) ? " (feedthrough)" : "",
               (v->flags & TWIN_VAR_STRING)    ? " (string)"
               : (v->flags & TWIN_VAR_BOOLEAN) ? " (boolean)"
               : (v->flags & TWIN_VAR_INTEGER) ? " (integer)"
                                               : "");
    }
    printf("\n");
}

int cmd_models(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_MODELS_LONGOPT,
        CLI_PYTHON_VENV_LONGOPT,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    twin_paths paths = {0};
    model_lib models = {0};
    int status = 2, c;

    optind = 1;
    while ((c = cli_opts__getopt(NULL, argc, argv, "h", longopts,
                                 &paths)) != -1) {
        switch (c) {
        case 'h': usage(stdout); status = 0; goto exit;
        default: usage(stderr); goto exit;
        }
    }
    paths__finish(&paths);
    if (paths__load(&paths, &models, NULL, 0) != 0) {
        status = 1;
        goto exit;
    }
    status = 0;
    if (optind == argc) {
        for (size_t i = 0; i < models.count; i++)
            print_model(models.models[i]);
        goto exit;
    }
    for (int i = optind; i < argc; i++) {
        const twin_model *m = modlib__find(&models, argv[i]);
        if (m == NULL) {
            fprintf(stderr, "twinctl models: no model '%s' in the library "
                    "(twinctl models lists them all)\n", argv[i]);
            status = 1;
        } else {
            print_model(m);
        }
    }
exit:
    modlib__free(&models);
    paths__free(&paths);
    return status;
}
