/*
 * cmd_steady.c — `twinctl steady SCENARIO`: the steady state of a
 * scenario's continuous models, solved locally (steady.h), printed as a
 * table or, with --json, as the members of a steady response.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "cmd.h"
#include "csv.h"
#include "paths.h"
#include "scenario.h"
#include "steady.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl steady [OPTIONS] SCENARIO\n"
        "\n"
        "Find the steady state of a scenario's continuous models: the states\n"
        "at which every derivative is zero, with the inputs as the first\n"
        "tick holds them (at the scenario's start time) unless --input holds\n"
        "them elsewhere.  Solved with GSL's multidimensional root finder from the\n"
        "start values; a state's declared min and max are kept.  Discrete\n"
        "models (the pi controller) tick once at the start time and their\n"
        "outputs are held there.  SCENARIO is a JSON file or the name of one\n"
        "in the scenario directory.\n"
        "\n"
        "Options:\n"
        "  -i, --input NAME=VALUE  hold input NAME (instance.input) at VALUE\n"
        "                          (a number; true or false for a boolean)\n"
        "                          instead of its profile (repeatable)\n"
        "      --method M          hybrids (default), hybrid, dnewton or "
        "broyden\n"
        "      --residual-tol X    the largest |dx/dt| accepted (default "
        "1e-10)\n"
        "      --step-tol X        the last step may move a state by at most\n"
        "                          X*(1 + |x|) (default 1e-10; 0: no step "
        "test)\n"
        "      --max-iterations N  give up after N iterations (default "
        "1000)\n"
        "      --json              print the answer as JSON: the members of\n"
        "                          a steady response (docs/contract.md)\n"
        "      --models DIR        load model plugins from DIR too "
        "(repeatable)\n"
        "      --instances DIR     instance library (default: "
        "instance-library/)\n"
        "      --scenarios DIR     where scenario names are looked up\n"
        "  -q, --quiet             print nothing but the answer and errors\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 a steady state was found, 1 none was (the solver did\n"
        "not converge, or a model failed: the reason, the residual and the\n"
        "states with the largest residuals are printed), 2 bad usage or the\n"
        "scenario was rejected (every problem is listed).\n");
}

/* NAME=VALUE into values (a number, or true or false for a boolean
 * input, as a request's JSON would hold it); 0, or -1 when it is not
 * that. */
static int add_input(json_t *values, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *end = NULL;
    if (eq == NULL || eq == arg)
        return -1;
    json_t *v;
    if (strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "false") == 0) {
        v = json_boolean(eq[1] == 't');
    } else {
        double d = strtod(eq + 1, &end);
        if (end == eq + 1 || *end != '\0')
            return -1;
        v = json_real(d);
    }
    char *name = strndup(arg, (size_t)(eq - arg));
    int rc = name ? json_object_set_new(values, name, v) : -1;
    if (name == NULL)
        json_decref(v);
    free(name);
    return rc;
}

static int add_number(json_t *opts, const char *key, const char *arg,
                      int integer)
{
    char *end = NULL;
    if (integer) {
        long long v = strtoll(arg, &end, 10);
        return *end == '\0' && end != arg
                   ? json_object_set_new(opts, key, json_integer(v))
                   : -1;
    }
    double v = strtod(arg, &end);
    return *end == '\0' && end != arg
               ? json_object_set_new(opts, key, json_real(v))
               : -1;
}

static void print_section(const json_t *answer, const char *key)
{
    const json_t *obj = json_object_get(answer, key);
    const char *name;
    json_t *v;
    char num[64];
    if (json_object_size(obj) == 0)
        return;
    printf("%s:\n", key);
    json_object_foreach((json_t *)obj, name, v) {
        if (json_is_number(v))
            csv__number(num, sizeof num, json_number_value(v));
        else
            snprintf(num, sizeof num, "%s", "nan");
        printf("  %-24s %s\n", name, num);
    }
}

static void print_answer(const scenario *sc, const json_t *answer)
{
    int ok = strcmp(json_string_value(json_object_get(answer, "status")),
                    "ok") == 0;
    printf("%s %s at t = %g (%s: %lld iterations, %lld evaluations, "
           "residual %.3g)\n", ok ? "steady state of" : "no steady state of",
           sc->name, json_number_value(json_object_get(answer, "t")),
           json_string_value(json_object_get(answer, "method")),
           json_integer_value(json_object_get(answer, "iterations")),
           json_integer_value(json_object_get(answer, "evaluations")),
           json_number_value(json_object_get(answer, "residual_norm")));
    print_section(answer, "states");
    if (!ok)
        print_section(answer, "residuals");
    print_section(answer, "inputs");
    print_section(answer, "outputs");
}

int cmd_steady(int argc, char **argv)
{
    enum { O_METHOD = 0x100, O_RTOL, O_STOL, O_ITER, O_JSON };
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"method", required_argument, NULL, O_METHOD},
        {"residual-tol", required_argument, NULL, O_RTOL},
        {"step-tol", required_argument, NULL, O_STOL},
        {"max-iterations", required_argument, NULL, O_ITER},
        {"json", no_argument, NULL, O_JSON},
        CLI_LIBRARY_LONGOPTS,
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_library lib = {0};
    twin_errors errs = {0};
    scenario *sc = NULL;
    json_t *doc = NULL, *values = json_object(), *opts = json_object();
    json_t *answer = NULL;
    steady_options opt;
    steady_result res = {0};
    int as_json = 0, quiet = 0, status = 2, c, bad = 0;

    steady__defaults(&opt);
    optind = 1;
    while ((c = cli_opts__getopt("steady", argc, argv, "i:qh", longopts,
                                 &lib.paths)) != -1) {
        switch (c) {
        case 'i':
            if (add_input(values, optarg) != 0) {
                fprintf(stderr, "twinctl steady: --input takes "
                        "instance.input=NUMBER (or =true, =false), not '%s'\n", optarg);
                bad = 1;
            }
            break;
        case O_METHOD:
            json_object_set_new(opts, "method", json_string(optarg));
            break;
        case O_RTOL:
        case O_STOL:
        case O_ITER:
            if (add_number(opts, c == O_RTOL   ? "residual_tol"
                                 : c == O_STOL ? "step_tol"
                                               : "max_iterations",
                           optarg, c == O_ITER) != 0) {
                fprintf(stderr, "twinctl steady: %s takes a number, not "
                        "'%s'\n", c == O_RTOL   ? "--residual-tol"
                                  : c == O_STOL ? "--step-tol"
                                                : "--max-iterations",
                        optarg);
                bad = 1;
            }
            break;
        case O_JSON: as_json = 1; break;
        case CLI_OPT_REFUSED: bad = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); status = 0; goto exit;
        default: usage(stderr); goto exit;
        }
    }
    if (bad)
        goto exit;
    if (optind != argc - 1) {
        fprintf(stderr, "twinctl steady: give exactly one SCENARIO\n\n");
        usage(stderr);
        goto exit;
    }
    if (steady__read_options(opts, "", &opt, &errs) != 0) {
        errors__print(&errs, "twinctl steady: ", stderr);
        goto exit;
    }
    if ((status = cli_opts__load("steady", argv[optind], &lib, quiet,
                                 &doc)) != 0)
        goto exit;
    status = 2;
    sc = cli_opts__compose(&lib, doc, quiet, &errs);
    if (sc != NULL)
        steady__hold_inputs(sc, values, "--input", &errs);
    if (errs.count > 0) {
        cli_opts__rejected("steady", argv[optind], &errs);
        goto exit;
    }
    int rc = steady__solve(sc, &opt, &res);
    answer = steady__result_json(sc, &opt, &res);
    if (as_json) {
        char *text = json_dumps(answer, JSON_INDENT(2));
        if (text)
            puts(text);
        free(text);
    } else if (!quiet || rc == 0) {
        print_answer(sc, answer);
    }
    if (rc != 0) {
        fprintf(stderr, "twinctl steady: failed: %s [%s]\n",
                res.message ? res.message : "no steady state",
                errors__code_name(res.code));
        status = 1;
    } else {
        status = 0;
    }
exit:
    steady__result_free(&res);
    json_decref(answer);
    scenario__free(&sc);
    json_decref(doc);
    json_decref(values);
    json_decref(opts);
    errors__clear(&errs);
    cli_opts__free_library(&lib);
    return status;
}
