/*
 * cmd_functions.c — `twinctl functions` (the function library, as
 * describe lists it) and `twinctl call NAME ARGS` (one call, checked and
 * run the way the daemon runs a `call` request: a plugin function in a
 * child process under a time limit).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "cmd.h"
#include "funcall.h"
#include "callable.h"
#include "paths.h"

static void functions_usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl functions [OPTIONS] [NAME...]\n"
        "\n"
        "List the functions a `call` can run (all, or those named): the\n"
        "built-ins and the function plugins, each with its signature, its\n"
        "arguments (type, unit, range) and documentation.\n"
        "\n"
        "Options:\n"
        "      --function-dir DIR\n"
        "                       load function plugins (manifests) from DIR\n"
        "                       too (repeatable; also TWIN_FUNCTION_PATH)\n"
        "      --python-venv DIR\n"
        "                       Python functions run with DIR/bin/python3\n"
        "                       (also TWIN_PYTHON_VENV)\n"
        "      --json           print describe's entries, one JSON array\n"
        "  -h, --help           show this help\n");
}

static void call_usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl call [OPTIONS] NAME [ARGS]\n"
        "\n"
        "Call one function with ARGS, a JSON object of its arguments by\n"
        "name (default {}), as a `call` request would: the arguments are\n"
        "checked against the function's signature (every problem printed\n"
        "with its JSON Pointer), and a plugin function runs in a process of\n"
        "its own, so a crash or a hang ends only the call.  Prints the\n"
        "answer, {\"status\": \"ok\", \"function\", \"value\", ...}, on stdout.\n"
        "Exit status: 0 answered, 1 the call failed (crashed, timed out),\n"
        "2 bad usage or arguments refused.\n"
        "\n"
        "  twinctl call lmtd '{\"dt_a\": 30, \"dt_b\": 10}'\n"
        "  twinctl call percentile '{\"y\": [3, 1, 2], \"p\": 50}'\n"
        "\n"
        "Options:\n"
        "      --function-dir DIR\n"
        "                       load function plugins from DIR too\n"
        "                       (repeatable; also TWIN_FUNCTION_PATH)\n"
        "      --python-venv DIR\n"
        "                       Python functions run with DIR/bin/python3\n"
        "                       (also TWIN_PYTHON_VENV)\n"
        "      --timeout S      wall-clock limit of the call (default 10)\n"
        "  -h, --help           show this help\n");
}

static void load(twin_paths *paths, func_lib *lib)
{
    paths__finish(paths);
    paths__load_functions(paths, lib, 0);
}

static void print_number(const char *what, const json_t *v)
{
    if (json_is_number(v))
        printf(" %s %g", what, json_number_value(v));
}

/* One describe entry, for people. */
static void print_entry(const json_t *e)
{
    const char *kind = json_string_value(json_object_get(e, "kind"));
    const json_t *ret = json_object_get(e, "returns");
    const char *lib = json_string_value(json_object_get(e, "library"));
    const char *sig = json_string_value(json_object_get(e, "signature"));
    printf("%s  (%s%s%s)\n", json_string_value(json_object_get(e, "name")),
           kind ? kind : "?", lib ? " " : "", lib ? lib : "");
    if (sig)
        printf("  %s\n", sig);
    printf("  %s\n", json_string_value(json_object_get(e, "doc")));
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(e, "params"), i, p) {
        const char *unit = json_string_value(json_object_get(p, "unit"));
        printf("  %-12s %-9s %-8s", json_string_value(json_object_get(p,
                                                                      "name")),
               json_string_value(json_object_get(p, "type")),
               unit && *unit ? unit : "-");
        const json_t *len = json_object_get(p, "length");
        if (json_is_string(len))
            printf(" length %s%s", json_string_value(len),
                   json_is_true(json_object_get(p, "out")) ? ", output"
                                                           : "");
        if (json_object_get(p, "length_of") != NULL &&
            json_is_false(json_object_get(p, "required")))
            printf(" (filled from its array)");
        else if (json_is_false(json_object_get(p, "required")) &&
                 !json_is_true(json_object_get(p, "out")))
            printf(" (optional)");
        print_number("min", json_object_get(p, "min"));
        print_number("max", json_object_get(p, "max"));
        const json_t *values = json_object_get(p, "values");
        if (json_is_array(values)) {
            size_t k;
            const json_t *v;
            printf(" one of");
            json_array_foreach(values, k, v)
                printf("%s %s", k ? "," : "", json_string_value(v));
        }
        printf("  %s\n", json_string_value(json_object_get(p, "doc")));
    }
    const char *unit = json_string_value(json_object_get(ret, "unit"));
    const char *rdoc = json_string_value(json_object_get(ret, "doc"));
    printf("  returns %s%s%s%s%s\n\n",
           json_string_value(json_object_get(ret, "type")),
           unit && *unit ? " in " : "", unit && *unit ? unit : "",
           rdoc && *rdoc ? ": " : "", rdoc && *rdoc ? rdoc : "");
}

int cmd_functions(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_FUNCTION_DIR_LONGOPT, CLI_PYTHON_VENV_LONGOPT,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    twin_paths paths = {0};
    func_lib lib = {0};
    json_t *all = NULL;
    int status = 2, c, as_json = 0;

    optind = 1;
    while ((c = cli_opts__getopt(NULL, argc, argv, "h", longopts,
                                 &paths)) != -1) {
        switch (c) {
        case 'j': as_json = 1; break;
        case 'h': functions_usage(stdout); status = 0; goto exit;
        default: functions_usage(stderr); goto exit;
        }
    }
    load(&paths, &lib);
    all = callable__describe(&lib);
    status = 0;
    json_t *shown = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        int wanted = optind == argc;
        for (int a = optind; a < argc && !wanted; a++)
            wanted = strcmp(argv[a], name) == 0;
        if (wanted)
            json_array_append(shown, e);
    }
    for (int a = optind; a < argc; a++) {
        int found = 0;
        json_array_foreach(shown, i, e)
            found |= strcmp(argv[a], json_string_value(json_object_get(
                                         e, "name"))) == 0;
        if (!found) {
            fprintf(stderr, "twinctl functions: no function '%s' (twinctl "
                    "functions lists them all)\n", argv[a]);
            status = 1;
        }
    }
    if (as_json) {
        json_dumpf(shown, stdout, JSON_INDENT(1));
        putchar('\n');
    } else {
        json_array_foreach(shown, i, e)
            print_entry(e);
        if (json_array_size(all) == 0)
            printf("no functions: give a directory of function plugins with "
                   "--function-dir DIR or TWIN_FUNCTION_PATH\n");
    }
    json_decref(shown);
exit:
    json_decref(all);
    funclib__free(&lib);
    paths__free(&paths);
    return status;
}

int cmd_call(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_FUNCTION_DIR_LONGOPT, CLI_PYTHON_VENV_LONGOPT,
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    twin_paths paths = {0};
    func_lib lib = {0};
    twin_errors errs = {0};
    fl_limits lim = {.seconds = 10.0, .seconds_name = "--timeout"};
    json_t *req = NULL, *answer = NULL;
    fl_call *call = NULL;
    int status = 2, c;

    optind = 1;
    while ((c = cli_opts__getopt(NULL, argc, argv, "h", longopts,
                                 &paths)) != -1) {
        switch (c) {
        case 't': {
            char *end;
            lim.seconds = strtod(optarg, &end);
            if (*end != '\0' || !(lim.seconds > 0) || !isfinite(lim.seconds)) {
                fprintf(stderr, "twinctl call: --timeout takes a number of "
                        "seconds above 0\n");
                goto exit;
            }
            break;
        }
        case 'h': call_usage(stdout); status = 0; goto exit;
        default: call_usage(stderr); goto exit;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        call_usage(stderr);
        goto exit;
    }
    json_error_t jerr;
    json_t *args = json_loads(argc - optind == 2 ? argv[optind + 1] : "{}",
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                              &jerr);
    if (args == NULL) {
        fprintf(stderr, "twinctl call: ARGS is not JSON: column %d: %s\n",
                jerr.column, jerr.text);
        goto exit;
    }
    req = json_pack("{s:s, s:o}", "function", argv[optind], "args", args);
    load(&paths, &lib);
    const char *name;
    const json_t *a;
    if (callable__call_members(req, &name, &a, &errs) != 0)
        goto refused;
    if (callable__builtin(name, a, &answer, &errs)) {
        if (errs.count)
            goto refused;
        goto answered;
    }
    const fl_function *f = funclib__find(&lib, name);
    if (f == NULL) {
        callable__unknown(name, &errs);
        goto refused;
    }
    if ((call = funcall__prepare(f, a, &errs)) == NULL)
        goto refused;
    if (funcall__run(call, &lim, &errs) != 0) {
        fprintf(stderr, "twinctl call: failed:\n");
        errors__print(&errs, "  ", stderr);
        status = 1;
        goto exit;
    }
    answer = funcall__answer(call);
answered:
    json_dumpf(answer, stdout, JSON_COMPACT);
    putchar('\n');
    status = 0;
    goto exit;
refused:
    fprintf(stderr, "twinctl call: refused, %zu problem%s:\n", errs.count,
            errs.count == 1 ? "" : "s");
    errors__print(&errs, "  ", stderr);
exit:
    funcall__free(&call);
    json_decref(answer);
    json_decref(req);
    errors__clear(&errs);
    funclib__free(&lib);
    paths__free(&paths);
    return status;
}
