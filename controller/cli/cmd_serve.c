/*
 * cmd_serve.c — `twinctl serve`: the daemon.  Reads the configuration
 * file, applies the flags over it, and hands over to serve.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "cmd.h"
#include "config.h"
#include "serve.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl serve [OPTIONS]\n"
        "\n"
        "Run the controller daemon: take requests over MQTT (contract\n"
        "twin.request/1), run scenarios in their own processes and publish\n"
        "their results.  SIGTERM or Ctrl-C stops it cleanly (running runs are\n"
        "cancelled, queued results delivered); SIGHUP reloads the model and\n"
        "instance libraries and the function plugins.\n"
        "\n"
        "Options (flags override the configuration file):\n"
        "  -c, --config FILE    JSON configuration (see docs/serve.md)\n"
        "      --id ID          controller id (default: the host name)\n"
        "      --broker URL     broker (default tcp://127.0.0.1:1883)\n"
        "      --prefix P       topic prefix (default twin)\n"
        "      --group G        pool group for $share/G/P/pool/request "
        "(default twin)\n"
        "      --models DIR     load model plugins from DIR (repeatable)\n"
        "      --function-dir DIR\n"
        "                       load function plugins from DIR (repeatable)\n"
        "      --instances DIR  instance library\n"
        "      --scenarios DIR  stored scenarios\n"
        "      --max-runs N     runs at once (default 2)\n"
        "      --spool DIR      where results wait for the broker and are\n"
        "                       kept for replay (default $TWIN_SPOOL_DIR, else\n"
        "                       /var/tmp/twinctl/<id>)\n"
        "  -q, --quiet          log nothing but errors\n"
        "  -h, --help           show this help\n");
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"id", required_argument, NULL, 'i'},
        {"broker", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'p'},
        {"group", required_argument, NULL, 'g'},
        CLI_MODELS_LONGOPT,
        CLI_FUNCTION_DIR_LONGOPT,
        CLI_INSTANCES_LONGOPT,
        CLI_SCENARIOS_LONGOPT,
        {"max-runs", required_argument, NULL, 'r'},
        {"spool", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    twin_config cfg;
    twin_errors errs = {0};
    const char *file = NULL;
    int c, status = 2;

    config__defaults(&cfg);
    /* The file first, so that flags override it wherever they stand. */
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:qh", longopts, NULL)) != -1)
        if (c == 'c')
            file = optarg;
        else if (c == 'h') {
            usage(stdout);
            status = 0;
            goto exit;
        } else if (c == '?') {
            usage(stderr);
            goto exit;
        }
    if (file != NULL && config__load(&cfg, file, &errs) != 0) {
        fprintf(stderr, "twinctl serve: the configuration has %zu "
                "problem%s:\n", errs.count, errs.count == 1 ? "" : "s");
        errors__print(&errs, "  ", stderr);
        goto exit;
    }
    optind = 1;
    while ((c = cli_opts__getopt(NULL, argc, argv, "c:qh", longopts,
                                 &cfg.paths)) != -1) {
        switch (c) {
        case 'i': cfg.id = optarg; break;
        case 'b': cfg.broker = optarg; break;
        case 'p': cfg.prefix = optarg; break;
        case 'g': cfg.group = optarg; break;
        case 'r': {
            long n = atol(optarg);
            if (n < 1) {
                fprintf(stderr, "twinctl serve: --max-runs takes a number "
                        "of at least 1\n");
                goto exit;
            }
            cfg.limits.max_runs = (size_t)n;
            break;
        }
        case 'q': cfg.quiet = 1; break;
        case 's': cfg.spool_dir = optarg; break;
        default: break;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "twinctl serve: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        goto exit;
    }
    paths__finish(&cfg.paths);
    if (cfg.spool_dir == NULL) {
        char *dir = NULL;
        if (getenv("TWIN_SPOOL_DIR"))
            dir = strdup(getenv("TWIN_SPOOL_DIR"));
        else if (asprintf(&dir, "/var/tmp/twinctl/%s", cfg.id) < 0)
            dir = NULL;
        cfg.spool_dir = config__keep(&cfg, dir);
    }
    status = serve__main(&cfg);
exit:
    errors__clear(&errs);
    config__free(&cfg);
    return status;
}
