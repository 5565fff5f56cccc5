/*
 * cmd_submit.c — `twinctl submit`: the orchestrator's side of the wire
 * contract, for operators and tests.  This file holds the options and
 * their checks; the exchange (the request, the connection, the loop) is
 * submit_exchange.c's, following a run submit_run.c's, their state
 * submit.h's.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_opts.h"
#include "cmd.h"
#include "request.h"
#include "submit_exchange.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl submit [OPTIONS] FILE\n"
        "       twinctl submit [OPTIONS] --name SCENARIO\n"
        "\n"
        "Send one request to a twinctl controller over MQTT and follow it.\n"
        "FILE is a request document (\"contract\": \"twin.request/1\"), sent\n"
        "as it is (an \"id\" is added when it has none), or a scenario, sent\n"
        "as a run of it; '-' reads standard input.  --name runs a scenario\n"
        "stored on the controller.\n"
        "\n"
        "For a run, every response is printed on stderr as one line of JSON,\n"
        "events as lines on stderr, and the result rows, in seq order and\n"
        "without duplicates, to -o: CSV, MAT or HDF5 as twinctl run writes\n"
        "them (numbers exactly as sent; a null is written as NaN).  Results are\n"
        "asked for in CBOR (the doubles themselves) unless --encoding json\n"
        "or the request document says otherwise; either is read, by its\n"
        "content type.  Result\n"
        "messages that do not arrive (a broker that went away loses what it\n"
        "had not delivered) are asked for again with status and replay;\n"
        "the rows after a gap wait for it.  For other requests (describe,\n"
        "status, set, cancel) the response is printed on stdout, indented.\n"
        "\n"
        "Options:\n"
        CLI_BROKER_USAGE
        "      --controller ID  send to P/ID/request\n"
        "      --pool           send to P/pool/request: any controller of the\n"
        "                       pool takes it (the default)\n"
        "      --name SCENARIO  run the stored scenario SCENARIO\n"
        "      --id ID          the request id (default: the document's, else\n"
        "                       a new UUID)\n"
        "  -o, --output FILE    write the run's rows to FILE ('-': CSV to\n"
        "                       stdout; default: rows are checked, not\n"
        "                       written); FILE.mat is MAT, FILE.h5 HDF5\n"
        CLI_FILE_USAGE
        "      --timeout S      seconds for the whole exchange (default 600)\n"
        CLI_ENCODING_USAGE
        "      --set NAME=VALUE[@T]\n"
        "                       once the run is accepted and its results\n"
        "                       reach simulated time T, send a set request\n"
        "                       for input NAME (repeatable; for live runs)\n"
        "  -q, --quiet          print only errors\n"
        "  -h, --help           show this help\n"
        "\n"
        CLI_SECURITY_USAGE
        "\n"
        "Exit status: 0 the run finished and every row arrived (other\n"
        "requests: ok); 1 rejected, failed, cancelled, timed out, rows\n"
        "missing, a set refused, or no broker; 2 bad usage or an unreadable\n"
        "FILE.\n");
}

/* NAME=VALUE or NAME=VALUE@T. */
static int parse_set(const char *arg, set_req *set)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return -1;
    char *end;
    set->value = strtod(eq + 1, &end);
    if (end == eq + 1 || !isfinite(set->value))
        return -1;
    set->at = -INFINITY;
    if (*end == '@') {
        const char *t = end + 1;
        set->at = strtod(t, &end);
        if (end == t || !isfinite(set->at))
            return -1;
    }
    if (*end != '\0')
        return -1;
    set->name = arg;       /* cut at '=' when the request is built */
    return 0;
}

/* ---- the command ---------------------------------------------------------- */

int cmd_submit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"broker", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'p'},
        {"controller", required_argument, NULL, 'c'},
        {"pool", no_argument, NULL, 'P'},
        {"name", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        CLI_FILE_LONGOPTS,
        {"timeout", required_argument, NULL, 't'},
        {"set", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"encoding", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        CLI_SECURITY_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    submit sv = {.prefix = "twin", .timeout = 600, .last_seq = -1};
    submit *s = &sv;
    const char *name = NULL, *id = NULL;
    int pool = 0, status = 2, c;

    s->broker = cli_opts__broker();
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        int shared = cli_opts__security("submit", c, optarg, &s->sec);
        if (shared == 0)
            shared = cli_opts__file("submit", c, optarg, &s->file);
        if (shared < 0)
            goto exit;
        if (shared > 0)
            continue;
        switch (c) {
        case 'b': s->broker = optarg; break;
        case 'p': s->prefix = optarg; break;
        case 'c': s->controller = optarg; break;
        case 'P': pool = 1; break;
        case 'n': name = optarg; break;
        case 'i': id = optarg; break;
        case 'o': s->output = optarg; break;
        case 't': {
            char *end;
            s->timeout = strtod(optarg, &end);
            if (*end != '\0' || !(s->timeout > 0) || !isfinite(s->timeout)) {
                submit__say(s, "--timeout takes a positive number of seconds, "
                            "not '%s'", optarg);
                goto exit;
            }
            break;
        }
        case 's': {
            set_req *sets = realloc(s->sets, (s->n_sets + 1) * sizeof *sets);
            if (sets == NULL)
                goto exit;
            s->sets = sets;
            memset(&sets[s->n_sets], 0, sizeof *sets);
            if (parse_set(optarg, &sets[s->n_sets]) != 0) {
                submit__say(s, "--set takes NAME=VALUE or NAME=VALUE@T (T in "
                            "simulated seconds), not '%s'", optarg);
                goto exit;
            }
            s->n_sets++;
            break;
        }
        case 'q': s->quiet = 1; break;
        case 'e':
            if (cli_opts__encoding("submit", optarg, &s->encoding) != 0)
                goto exit;
            break;
        case 'h': usage(stdout); status = 0; goto exit;
        default: usage(stderr); goto exit;
        }
    }
    if (name ? optind != argc : optind != argc - 1) {
        submit__say(s, "give one FILE or --name SCENARIO\n");
        usage(stderr);
        goto exit;
    }
    if (pool && s->controller) {
        submit__say(s, "give --controller ID or --pool, not both");
        goto exit;
    }
    if (s->controller && !request__topic_safe(s->controller)) {
        submit__say(s, "'%s' is not a controller id (letters, digits, -, _, . "
                    "and : only)", s->controller);
        goto exit;
    }
    if (cli_opts__prefix("submit", s->prefix) != 0)
        goto exit;
    rows_format format; /* checked here for the exit status of bad usage */
    if (s->output && cli_opts__file_format("submit", &s->file,
                                           strcmp(s->output, "-") == 0
                                               ? NULL : s->output,
                                           &format) != 0)
        goto exit;
    status = submit_exchange__run(s, name ? NULL : argv[optind], name, id);
exit:
    submit__free(s);
    return status;
}
