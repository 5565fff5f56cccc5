/*
 * cmd_status.c — `twinctl status`: which controllers are there.
 *
 * Owns reading the retained twin.status/1 messages under a prefix
 * (P/+/status) for a short while and showing them: a table, or the raw
 * messages.  What a status holds is the daemon's (serve.c) and
 * docs/contract.md's; talking to the broker is mqtt.c's.
 */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_opts.h"
#include "cmd.h"
#include "mqtt.h"
#include "util.h"

/* The latest status of one controller. */
typedef struct seen {
    char *id;              /* the topic level */
    char *raw;             /* the message as it came */
    json_t *doc;           /* parsed, or NULL */
} seen;

typedef struct status_list {
    seen *items;
    size_t count;
} status_list;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl status [OPTIONS]\n"
        "\n"
        "List the controllers under a topic prefix from their retained\n"
        "status messages (P/+/status): id, state, load/capacity, version\n"
        "and models.\n"
        "\n"
        "Options:\n"
        CLI_BROKER_USAGE
        "      --wait S         seconds to collect status messages (default "
        "1)\n"
        "      --json           print the messages as they came, one per "
        "line\n"
        "  -h, --help           show this help\n"
        "\n"
        CLI_SECURITY_USAGE
        "\n"
        "Exit status: 0 at least one controller is online; 1 none is (or\n"
        "no broker); 2 bad usage.\n");
}

/* Keep the latest message of each controller; an empty retained message
 * (a cleared status) forgets it. */
static void status__take(status_list *l, const char *prefix,
                         const mqtt_event *ev)
{
    const char *id = ev->topic + strlen(prefix) + 1;
    const char *slash = strchr(id, '/');
    size_t len = slash ? (size_t)(slash - id) : strlen(id);
    seen *s = NULL;
    for (size_t i = 0; i < l->count && s == NULL; i++)
        if (strlen(l->items[i].id) == len &&
            strncmp(l->items[i].id, id, len) == 0)
            s = &l->items[i];
    if (ev->len == 0) {
        if (s != NULL) {
            free(s->id);
            free(s->raw);
            json_decref(s->doc);
            *s = l->items[--l->count];
        }
        return;
    }
    if (s == NULL) {
        seen *items = realloc(l->items, (l->count + 1) * sizeof *items);
        if (items == NULL)
            return;
        l->items = items;
        s = &items[l->count];
        memset(s, 0, sizeof *s);
        if ((s->id = strndup(id, len)) == NULL)
            return;
        l->count++;
    }
    free(s->raw);
    json_decref(s->doc);
    s->raw = strdup(ev->payload);
    s->doc = json_loadb(ev->payload, ev->len, 0, NULL);
}

static int status__by_id(const void *a, const void *b)
{
    return strcmp(((const seen *)a)->id, ((const seen *)b)->id);
}

static const char *status__state(const seen *s)
{
    const char *st = json_string_value(json_object_get(s->doc, "state"));
    return st ? st : "?";
}

static void status__table(const status_list *l)
{
    printf("%-20s %-8s %-6s %-7s %s\n", "CONTROLLER", "STATE", "LOAD",
           "VERSION", "MODELS");
    for (size_t i = 0; i < l->count; i++) {
        const seen *s = &l->items[i];
        const json_t *d = s->doc;
        char load[32] = "-", models[512] = "";
        if (json_is_integer(json_object_get(d, "capacity")))
            snprintf(load, sizeof load, "%lld/%lld",
                     (long long)json_integer_value(json_object_get(d,
                                                                   "load")),
                     (long long)json_integer_value(
                         json_object_get(d, "capacity")));
        size_t k, used = 0;
        const json_t *m;
        json_array_foreach(json_object_get(d, "models"), k, m) {
            if (used + 4 >= sizeof models)
                break;
            used += (size_t)snprintf(models + used, sizeof models - used,
                                     "%s%s", k ? "," : "",
                                     json_string_value(m) ? json_string_value(m)
                                                          : "?");
            if (used >= sizeof models)
                used = sizeof models - 1;
        }
        const char *version = json_string_value(json_object_get(d,
                                                                "version"));
        printf("%-20s %-8s %-6s %-7s %s\n", s->id,
               d ? status__state(s) : "garbled", load,
               version ? version : "-", used ? models : "-");
    }
}

int cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"broker", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'p'},
        {"wait", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_SECURITY_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *broker = cli_opts__broker(), *prefix = "twin";
    mqtt_options mo = {0};
    double wait = 1.0;
    int json = 0, status = 2, c;
    status_list list = {0};
    mqtt_client *mq = NULL;
    mqtt_event *ev;
    char *filter = NULL, why[1024], client_id[48];

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int shared = cli_opts__security("status", c, optarg, &mo);
        if (shared < 0)
            goto exit;
        if (shared > 0)
            continue;
        switch (c) {
        case 'b': broker = optarg; break;
        case 'p': prefix = optarg; break;
        case 'w': {
            char *end;
            wait = strtod(optarg, &end);
            if (*end != '\0' || !(wait >= 0) || !isfinite(wait)) {
                fprintf(stderr, "twinctl status: --wait takes seconds, not "
                        "'%s'\n", optarg);
                goto exit;
            }
            break;
        }
        case 'j': json = 1; break;
        case 'h': usage(stdout); status = 0; goto exit;
        default: usage(stderr); goto exit;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "twinctl status: takes no arguments\n\n");
        usage(stderr);
        goto exit;
    }
    if (cli_opts__prefix("status", prefix) != 0)
        goto exit;
    status = 1;
    if (asprintf(&filter, "%s/+/status", prefix) < 0) {
        filter = NULL;
        goto exit;
    }
    unsigned int r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (unsigned)getpid();
    snprintf(client_id, sizeof client_id, "twinctl-status-%08x", r);
    const char *subs[] = {filter};
    mo.url = broker;
    mo.client_id = client_id;
    mo.subscriptions = subs;
    mo.n_subscriptions = 1;
    mq = mqtt__start(&mo, why, sizeof why);
    if (mq == NULL) {
        fprintf(stderr, "twinctl status: %s\n", why);
        goto exit;
    }
    /* Connecting may take up to the connect timeout; --wait counts from
     * the subscription, when the retained messages start to arrive. */
    double until = util__now() + 10.0;
    int connected = 0;
    for (;;) {
        double now = util__now();
        if (now >= until)
            break;
        struct pollfd pfd = {.fd = mqtt__wake_fd(mq), .events = POLLIN};
        double left = fmin(until - now, 0.5);
        poll(&pfd, 1, (int)ceil(left * 1000.0));
        while ((ev = mqtt__next(mq)) != NULL) {
            if (ev->kind == MQTT_EV_CONNECTED && !connected) {
                connected = 1;
                until = util__now() + wait;
            } else if (ev->kind == MQTT_EV_CONNECT_FAILED) {
                fprintf(stderr, "twinctl status: %s%s\n",
                        ev->text ? ev->text : "no broker",
                        ev->refused ? "" : "; check --broker (or "
                                           "TWIN_BROKER)");
                mqtt__event_free(ev);
                goto exit;
            } else if (ev->kind == MQTT_EV_MESSAGE &&
                       mqtt__topic_matches(filter, ev->topic)) {
                status__take(&list, prefix, ev);
            }
            mqtt__event_free(ev);
        }
    }
    if (!connected) {
        fprintf(stderr, "twinctl status: no connection to %s within 10 s; "
                "check --broker (or TWIN_BROKER)\n", broker);
        goto exit;
    }
    if (list.count > 1) /* none answered: items is NULL, no qsort of it */
        qsort(list.items, list.count, sizeof *list.items, status__by_id);
    size_t online = 0;
    for (size_t i = 0; i < list.count; i++)
        if (strcmp(status__state(&list.items[i]), "online") == 0)
            online++;
    if (json) {
        for (size_t i = 0; i < list.count; i++)
            printf("%s\n", list.items[i].raw);
    } else if (list.count > 0) {
        status__table(&list);
    }
    if (online > 0) {
        status = 0;
    } else if (list.count > 0) {
        fprintf(stderr, "twinctl status: none of the %zu controller%s under "
                "'%s' at %s is online\n", list.count,
                list.count == 1 ? "" : "s", prefix, broker);
    } else {
        fprintf(stderr, "twinctl status: no controller answered on %s at %s "
                "within %g s; check the broker URL (--broker or "
                "TWIN_BROKER) and the prefix (--prefix, the controllers' "
                "--prefix)\n", filter, broker, wait);
    }
exit:
    mqtt__stop(&mq, 1000);
    for (size_t i = 0; i < list.count; i++) {
        free(list.items[i].id);
        free(list.items[i].raw);
        json_decref(list.items[i].doc);
    }
    free(list.items);
    free(filter);
    return status;
}
