/*
 * main.c — the twinctl command: dispatches to one subcommand per file.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "twin_paths.h"
#include "twin_model.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a scenario locally and write its rows as CSV"},
    {"steady", cmd_steady, "find the steady state of a scenario's "
                           "continuous models"},
    {"models", cmd_models, "list the model library with each model's "
                           "variables"},
    {"check-model", cmd_check_model, "load a model plugin, check its "
                                     "descriptor and exercise it"},
    {"serve", cmd_serve, "run the controller daemon over MQTT"},
    {"submit", cmd_submit, "send a request to a controller and collect "
                           "the run's rows as CSV"},
    {"status", cmd_status, "list the controllers under a prefix"},
    {"functions", cmd_functions, "list the function library: built-ins "
                                 "and function plugins"},
    {"call", cmd_call, "call one function with JSON arguments, as a "
                       "`call` request"},
    {"batch", cmd_batch, "run a what-if batch's cases here, in "
                         "parallel, into a summary"},
    {"plot", cmd_plot, "draw runs' channels, a batch's cases or KPIs "
                       "into a PNG or SVG"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: twinctl COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "The simulation controller of a digital twin.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Run 'twinctl COMMAND --help' for a command's options.\n"
            "  twinctl --version   print the version and the model ABI\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("twinctl %s (model ABI %d.%d)\n", TWIN_VERSION,
               TWIN_MODEL_ABI_MAJOR, TWIN_MODEL_ABI_MINOR);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "twinctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
