/*
 * cli_opts.c — the options several twinctl commands share: the library
 * directories and the broker connection (see cli_opts.h).  What a
 * command alone takes is parsed in its own file.
 */
#include "cli_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

int cli_opts__library(const char *cmd, int c, const char *arg,
                      twin_paths *p)
{
    switch (c) {
    case CLI_OPT_MODELS:
        if (paths__add_model_dir(p, arg) != 0 && cmd != NULL) {
            fprintf(stderr, "twinctl %s: too many --models\n", cmd);
            return -1;
        }
        return 1;
    case CLI_OPT_INSTANCES: p->instance_dir = arg; return 1;
    case CLI_OPT_SCENARIOS: p->scenario_dir = arg; return 1;
    case CLI_OPT_FUNCTION_DIR: paths__add_function_dir(p, arg); return 1;
    case CLI_OPT_PYTHON_VENV: setenv("TWIN_PYTHON_VENV", arg, 1); return 1;
    default: return 0;
    }
}

int cli_opts__getopt(const char *cmd, int argc, char **argv,
                     const char *shortopts, const struct option *longopts,
                     twin_paths *p)
{
    int c, taken = 0;
    do
        c = getopt_long(argc, argv, shortopts, longopts, NULL);
    while (c != -1 && (taken = cli_opts__library(cmd, c, optarg, p)) > 0);
    return c != -1 && taken < 0 ? CLI_OPT_REFUSED : c;
}

int cli_opts__load(const char *cmd, const char *name, cli_library *lib,
                   int quiet, json_t **doc)
{
    char why[1024];
    paths__finish(&lib->paths);
    *doc = scenario__load(name, lib->paths.scenario_dir, why,
                          sizeof why);
    if (*doc == NULL) {
        fprintf(stderr, "twinctl %s: %s [bad_json]\n", cmd, why);
        return 2;
    }
    return paths__load(&lib->paths, &lib->models, &lib->instances,
                       quiet) != 0 ? 1 : 0;
}

void cli_opts__rejected(const char *cmd, const char *name,
                        const twin_errors *errs)
{
    fprintf(stderr, "twinctl %s: scenario %s rejected, %zu problem%s:\n", cmd,
            name, errs->count, errs->count == 1 ? "" : "s");
    errors__print(errs, "  ", stderr);
}

scenario *cli_opts__compose(cli_library *lib, const json_t *doc, int quiet,
                            twin_errors *errs)
{
    paths__load_functions_for(&lib->paths, doc, "functions",
                              &lib->functions, quiet);
    scenario_limits lim = {.functions = &lib->functions};
    return scenario__compose(doc, &lib->models, &lib->instances, &lim, errs);
}

void cli_opts__free_library(cli_library *lib)
{
    funclib__free(&lib->functions);
    instlib__free(&lib->instances);
    modlib__free(&lib->models);
    paths__free(&lib->paths);
}

const char *cli_opts__broker(void)
{
    const char *broker = getenv("TWIN_BROKER");
    return broker == NULL || broker[0] == '\0' ? CLI_DEFAULT_BROKER
                                               : broker;
}

int cli_opts__prefix(const char *cmd, const char *prefix)
{
    if (prefix[0] != '\0' && strpbrk(prefix, "+#") == NULL)
        return 0;
    fprintf(stderr, "twinctl %s: the prefix '%s' cannot hold + or # or be "
            "empty\n", cmd, prefix);
    return -1;
}

int cli_opts__encoding(const char *cmd, const char *arg, const char **out)
{
    if (strcmp(arg, "cbor") == 0 || strcmp(arg, "json") == 0) {
        *out = arg;
        return 0;
    }
    fprintf(stderr, "twinctl %s: --encoding takes cbor or json, not '%s'\n",
            cmd, arg);
    return -1;
}

int cli_opts__security(const char *cmd, int c, const char *arg,
                       mqtt_options *o)
{
    switch (c) {
    case CLI_OPT_CA_FILE: o->ca_file = arg; return 1;
    case CLI_OPT_CERT: o->cert_file = arg; return 1;
    case CLI_OPT_KEY: o->key_file = arg; return 1;
    case CLI_OPT_USERNAME: o->username = arg; return 1;
    case CLI_OPT_PASSWORD_FILE: o->password_file = arg; return 1;
    case CLI_OPT_PASSWORD:
        fprintf(stderr, "twinctl %s: there is no --password: a command line "
                "is visible to every user of the machine; put the password "
                "in a file for --password-file, or in TWIN_MQTT_PASSWORD\n",
                cmd);
        return -1;
    default: return 0;
    }
}

/* ---- result files ---------------------------------------------------- */

int cli_opts__file(const char *cmd, int c, const char *arg, cli_file *f)
{
    char *end;
    switch (c) {
    case CLI_OPT_FORMAT:
        if (rows_out__format_named(arg, &f->format) != 0) {
            fprintf(stderr, "twinctl %s: unknown --format '%s': csv, mat, "
                    "hdf5 or none\n", cmd, arg);
            return -1;
        }
        f->format_given = 1;
        return 1;
    case CLI_OPT_COMPRESS:
        f->options.compress = 1;
        if (arg != NULL) {
            long level = strtol(arg, &end, 10);
            if (*end != '\0' || end == arg || level < 1 || level > 9) {
                fprintf(stderr, "twinctl %s: --compress takes a deflate "
                        "level from 1 to 9, not '%s'\n", cmd, arg);
                return -1;
            }
            f->options.compress = (int)level;
        }
        return 1;
    default:
        return 0;
    }
}

int cli_opts__file_format(const char *cmd, const cli_file *f,
                          const char *path, rows_format *format)
{
    *format = f->format_given ? f->format
              : path != NULL  ? rows_out__format_of_path(path)
                              : ROWS_CSV;
    if (path == NULL && (*format == ROWS_MAT || *format == ROWS_HDF5)) {
        fprintf(stderr, "twinctl %s: --format %s writes a file: give it "
                "with -o FILE\n", cmd, rows_out__format_name(*format));
        return -1;
    }
    return 0;
}
