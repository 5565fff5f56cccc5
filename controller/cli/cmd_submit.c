/*
 * cmd_submit.c — `twinctl submit`: the orchestrator's side of the wire
 * contract, for operators and tests.
 *
 * Owns one exchange: build the request (a request document as it is, a
 * scenario wrapped as a run, or a stored scenario's name), subscribe to
 * its responses and — for a run — to its results and events before
 * publishing it, and run the loop that hands the connection's events on.
 * Following a run (its responses, the result messages put back in seq
 * order and written as CSV by collect.c, --set, the verdict) is
 * submit_run.c's; seqs missing at the end, or a final response that never
 * came after the broker went away, are asked for again with status and
 * replay (repair.c).  Talking to the broker is mqtt.c's; what the
 * messages mean is docs/contract.md.
 */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_opts.h"
#include "cmd.h"
#include "request.h"
#include "submit.h"

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
        "without duplicates, as CSV to -o (numbers exactly as sent, as\n"
        "twinctl run writes them; a null is written as nan).  Result\n"
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
        "  -o, --output FILE    write the run's rows as CSV to FILE ('-':\n"
        "                       stdout; default: rows are checked, not "
        "written)\n"
        "      --timeout S      seconds for the whole exchange (default 600)\n"
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

double submit__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Clear the progress line before anything else goes to stderr. */
void submit__unprogress(submit *s)
{
    if (s->drawn) {
        fprintf(stderr, "\r%70s\r", "");
        s->drawn = 0;
    }
}

void submit__vsay(submit *s, const char *fmt, va_list ap)
{
    submit__unprogress(s);
    fprintf(stderr, "twinctl submit: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void say(submit *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(submit *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    submit__vsay(s, fmt, ap);
    va_end(ap);
}

/* NAME=VALUE or NAME=VALUE@T. */
static int submit__parse_set(const char *arg, set_req *set)
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

/* ---- the request ---------------------------------------------------------- */

/* Read FILE ('-': stdin) and make the request of it, or of --name.
 * Returns 0, or 2 (1: out of resources) with the reason said. */
static int submit__build(submit *s, const char *file, const char *name,
                         const char *id)
{
    json_t *doc = NULL;
    json_error_t jerr;
    char uuid[37];
    int status = 2;

    if (file != NULL) {
        int in = strcmp(file, "-") == 0;
        doc = in
                  ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                  : json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
        if (doc == NULL && jerr.line < 0)
            say(s, "cannot read %s: %s", file, jerr.text);
        else if (doc == NULL)
            say(s, "%s is not JSON: line %d, column %d: %s", file,
                jerr.line, jerr.column, jerr.text);
        else if (!json_is_object(doc))
            say(s, "%s holds no JSON object: give a request document or a "
                "scenario", in ? "standard input" : file);
        if (!json_is_object(doc))
            goto exit;
    } else if (!request__topic_safe(name)) {
        say(s, "'%s' is not a scenario name (letters, digits, -, _ and . "
            "only)", name);
        goto exit;
    }
    int is_request = doc && json_object_get(doc, "contract") != NULL;
    if (id == NULL && !(is_request && json_object_get(doc, "id"))) {
        if (repair__uuid(uuid) != 0) {
            say(s, "cannot make a request id (getrandom failed); give --id");
            status = 1;
            goto exit;
        }
        id = uuid;
    }
    if (is_request) {
        s->req = json_incref(doc);
        if (id != NULL)
            json_object_set_new(s->req, "id", json_string(id));
    } else {
        s->req = json_pack("{s:s, s:s, s:s, s:o}", "contract",
                           "twin.request/1", "id", id, "type", "run",
                           "scenario",
                           doc ? json_incref(doc) : json_string(name));
    }
    if (s->req == NULL) {
        say(s, "out of memory");
        status = 1;
        goto exit;
    }
    const json_t *have = json_object_get(s->req, "id");
    if (!json_is_string(have) ||
        !request__topic_safe(json_string_value(have))) {
        say(s, "the request id must be a string of 1 to 128 letters, "
            "digits, -, _, . or : (it becomes a topic level); give --id");
        goto exit;
    }
    s->id = json_string_value(have);
    const json_t *type = json_object_get(s->req, "type");
    s->is_run = json_is_string(type) &&
                strcmp(json_string_value(type), "run") == 0;
    s->run = s->id;
    const json_t *run = json_object_get(s->req, "run");
    if (s->is_run && json_is_string(run)) {
        if (!request__topic_safe(json_string_value(run))) {
            say(s, "the request's \"run\" must be 1 to 128 letters, "
                "digits, -, _, . or : (it becomes a topic level)");
            goto exit;
        }
        s->run = json_string_value(run);
    }
    s->payload = json_dumps(s->req, JSON_COMPACT);
    status = s->payload ? 0 : 1;
exit:
    json_decref(doc);
    return status;
}

char *submit__printf(const char *fmt, ...)
{
    char *out;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

/* Topics and filters; every subscription made before the request goes
 * out, so nothing the controller sends is missed. */
static int submit__topics(submit *s)
{
    const char *p = s->prefix;
    s->t_request = s->controller
                       ? submit__printf("%s/%s/request", p, s->controller)
                       : submit__printf("%s/pool/request", p);
    s->f_response = submit__printf("%s/+/response/%s", p, s->id);
    if (s->t_request == NULL || s->f_response == NULL)
        return -1;
    if (s->is_run &&
        ((s->f_result = submit__printf("%s/+/result/%s", p, s->run)) ==
             NULL ||
         (s->f_event = submit__printf("%s/+/event/%s", p, s->run)) ==
             NULL ||
         (s->f_repair = submit__printf("%s/+/response/%s/repair", p,
                                       s->id)) == NULL))
        return -1;
    for (size_t i = 0; i < s->n_sets; i++) {
        set_req *st = &s->sets[i];
        if ((st->id = submit__printf("%s.set%zu", s->id, i + 1)) == NULL)
            return -1;
        if (!request__topic_safe(st->id)) {
            say(s, "the request id is too long to number its --set "
                "requests (%s); give a shorter --id", st->id);
            return -1;
        }
        st->filter = submit__printf("%s/+/response/%s", p, st->id);
        if (st->filter == NULL)
            return -1;
    }
    return 0;
}

/* Sent again after a reconnect, it goes to the controller that accepted
 * it: another one of the pool would not know its id, and run it again. */
static void submit__publish_request(submit *s)
{
    char *to = s->cid ? submit__printf("%s/%s/request", s->prefix, s->cid)
                      : NULL;
    mqtt_publish pub = {.topic = to ? to : s->t_request,
                        .payload = s->payload, .len = strlen(s->payload),
                        .qos = 1, .tag = 1};
    if (mqtt__publish(s->mq, &pub) == 0)
        s->published = 1;
    free(to);
}

/* The topic level after the prefix: the controller's id.  Returns a
 * pointer into topic and its length. */
const char *submit__topic_controller(const submit *s, const char *topic,
                                     size_t *len)
{
    const char *c = topic + strlen(s->prefix) + 1;
    const char *slash = strchr(c, '/');
    *len = slash ? (size_t)(slash - c) : strlen(c);
    return c;
}

int submit__from_cid(const submit *s, const char *topic)
{
    size_t len;
    const char *c = submit__topic_controller(s, topic, &len);
    return s->cid == NULL ||
           (strlen(s->cid) == len && strncmp(s->cid, c, len) == 0);
}

static void submit__on_mqtt(submit *s, const mqtt_event *ev, double now)
{
    switch (ev->kind) {
    case MQTT_EV_CONNECTED:
        /* The request goes out from the loop once connected, and again
         * after a reconnect when it was not acknowledged (safe: a
         * controller answers a known id again, never runs it twice). */
        if (s->lost_connection && !s->quiet)
            say(s, "connected to %s again", s->broker);
        s->connected_once = 1;
        if (s->rep)
            repair__connected(s->rep, now);
        break;
    case MQTT_EV_LOST:
        s->lost_connection = 1;
        if (!s->acked)
            s->published = 0;
        if (s->rep)
            repair__lost(s->rep, now);
        say(s, "lost the broker (%s); reconnecting — results sent "
            "meanwhile will be asked for again", ev->text ? ev->text : "?");
        break;
    case MQTT_EV_CONNECT_FAILED:
        if (s->connected_once) {
            /* paho reports failed reconnects here too: keep trying,
             * within the timeout. */
            s->reconnect_at = now + 1.0;
            break;
        }
        say(s, "%s%s", ev->text ? ev->text : "cannot connect",
            ev->refused ? "" : "; check --broker (or TWIN_BROKER)");
        s->status = 1;
        s->done = 1;
        break;
    case MQTT_EV_PUBACK:
        if (ev->refused && ev->tag == 1) {
            say(s, "%s: the request to %s was not delivered; check the "
                "broker's ACL for %s%s", ev->text, s->t_request,
                s->sec.username ? "user " : "anonymous clients",
                s->sec.username ? s->sec.username : "");
            s->status = 1;
            s->done = 1;
        } else if (ev->refused && ev->tag >= 2 && ev->tag - 2 < s->n_sets) {
            set_req *st = &s->sets[ev->tag - 2];
            say(s, "set %s: %s", st->name, ev->text);
            st->answered = 1;  /* no answer will come; refused */
        } else if (ev->tag == 1) {
            s->acked = 1;
        }
        break;
    case MQTT_EV_PUBFAIL:
        if (ev->tag == 1) {
            s->published = 0;
        } else if (ev->tag >= 2 && ev->tag - 2 < s->n_sets) {
            s->sets[ev->tag - 2].sent = 0; /* sent again on the next turn */
        }
        break;
    case MQTT_EV_SUBACK: /* submit makes no tagged subscriptions */
        break;
    case MQTT_EV_MESSAGE:
        if (s->f_result && mqtt__topic_matches(s->f_result, ev->topic)) {
            if (submit__from_cid(s, ev->topic)) {
                s->last_message = now;
                if (s->rep)
                    repair__heard(s->rep, now);
                submit__on_result(s, ev);
            }
        } else if (s->f_event && mqtt__topic_matches(s->f_event,
                                                     ev->topic)) {
            if (submit__from_cid(s, ev->topic))
                submit__on_event(s, ev);
        } else if (s->f_repair && mqtt__topic_matches(s->f_repair,
                                                      ev->topic)) {
            submit__on_repair_answer(s, ev, now);
        } else {
            s->last_message = now;
            submit__on_response(s, ev);
        }
        break;
    }
}

/* Why the time ran out, in the words of where it stood. */
static void submit__say_timeout(submit *s)
{
    if (!mqtt__is_connected(s->mq) && !s->published)
        say(s, "could not reach the broker at %s within %g s (--timeout); "
            "check --broker", s->broker, s->timeout);
    else if (s->cid == NULL && s->final == NULL)
        say(s, "no answer to request %s on %s within %g s (--timeout): is "
            "a controller listening there?  'twinctl status --prefix %s' "
            "lists them", s->id, s->t_request, s->timeout, s->prefix);
    else if (s->final == NULL)
        say(s, "run %s on %s had not ended after %g s (--timeout), at t = "
            "%.6g s with %llu rows; it may still be running (send a cancel "
            "request to stop it)", s->run, s->cid, s->timeout,
            collect__t(s->col), collect__rows(s->col));
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
        {"timeout", required_argument, NULL, 't'},
        {"set", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_SECURITY_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    submit sv = {.prefix = "twin", .timeout = 600, .last_seq = -1};
    submit *s = &sv;
    const char *name = NULL, *id = NULL, *file = NULL;
    const char **subs = NULL;
    int pool = 0, status = 2, c;
    char why[1024], client_id[64], uuid[37];
    mqtt_event *ev;

    s->broker = cli_opts__broker();
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        int shared = cli_opts__security("submit", c, optarg, &s->sec);
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
                say(s, "--timeout takes a positive number of seconds, not "
                    "'%s'", optarg);
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
            if (submit__parse_set(optarg, &sets[s->n_sets]) != 0) {
                say(s, "--set takes NAME=VALUE or NAME=VALUE@T (T in "
                    "simulated seconds), not '%s'", optarg);
                goto exit;
            }
            s->n_sets++;
            break;
        }
        case 'q': s->quiet = 1; break;
        case 'h': usage(stdout); status = 0; goto exit;
        default: usage(stderr); goto exit;
        }
    }
    if (name ? optind != argc : optind != argc - 1) {
        say(s, "give one FILE or --name SCENARIO\n");
        usage(stderr);
        goto exit;
    }
    file = name ? NULL : argv[optind];
    if (pool && s->controller) {
        say(s, "give --controller ID or --pool, not both");
        goto exit;
    }
    if (s->controller && !request__topic_safe(s->controller)) {
        say(s, "'%s' is not a controller id (letters, digits, -, _, . and "
            ": only)", s->controller);
        goto exit;
    }
    if (cli_opts__prefix("submit", s->prefix) != 0)
        goto exit;
    if ((status = submit__build(s, file, name, id)) != 0)
        goto exit;
    status = 2;
    if (!s->is_run && (s->n_sets > 0 || s->output)) {
        say(s, "-o and --set are for runs; this is a \"%s\" request",
            json_string_value(json_object_get(s->req, "type")));
        goto exit;
    }
    if (submit__topics(s) != 0)
        goto exit;
    status = 1;
    if (s->output && strcmp(s->output, "-") == 0)
        s->out = stdout;
    else if (s->output && (s->out = fopen(s->output, "w")) == NULL) {
        say(s, "cannot write %s: %m", s->output);
        goto exit;
    }
    if ((s->col = collect__new(s->out)) == NULL)
        goto exit;
    repair_io rio = {submit__send_repair, submit__repair_note, s};
    if (s->is_run && (s->rep = repair__new(s->run, s->col, &rio)) == NULL)
        goto exit;

    size_t n_subs = 0;
    subs = calloc(4 + s->n_sets, sizeof *subs);
    if (subs == NULL)
        goto exit;
    subs[n_subs++] = s->f_response;
    if (s->is_run) {
        subs[n_subs++] = s->f_result;
        subs[n_subs++] = s->f_event;
        subs[n_subs++] = s->f_repair;
    }
    for (size_t i = 0; i < s->n_sets; i++)
        subs[n_subs++] = s->sets[i].filter;
    if (repair__uuid(uuid) != 0)
        snprintf(uuid, sizeof uuid, "%ld", (long)getpid());
    snprintf(client_id, sizeof client_id, "twinctl-submit-%.8s", uuid);
    mqtt_options mo = s->sec;
    mo.url = s->broker;
    mo.client_id = client_id;
    mo.subscriptions = subs;
    mo.n_subscriptions = n_subs;
    s->started = submit__now();
    s->deadline = s->started + s->timeout;
    s->last_message = s->started;
    s->progress = s->is_run && !s->quiet && isatty(STDERR_FILENO) &&
                  s->out != stdout;
    s->next_draw = s->started + 1.0;
    s->mq = mqtt__start(&mo, why, sizeof why);
    if (s->mq == NULL) {
        say(s, "%s", why);
        goto exit;
    }

    /* mqtt__is_connected() holds once every subscription above is in
     * place: only then does the request go out. */
    for (;;) {
        double now = submit__now();
        if (!s->published && !s->done && mqtt__is_connected(s->mq))
            submit__publish_request(s);
        double repair_at = s->rep ? repair__step(s->rep, now) : INFINITY;
        if (submit__complete(s, now))
            break;
        if (now >= s->deadline) {
            if (s->final == NULL)
                submit__say_timeout(s);
            break;
        }
        double until = s->deadline;
        if (s->final != NULL && s->last_message + ROWS_GRACE < until)
            until = s->last_message + ROWS_GRACE;
        if (s->reconnect_at > 0 && s->reconnect_at < until)
            until = s->reconnect_at;
        if (repair_at < until)
            until = repair_at;
        double wait = fmin(until - now, 0.5);
        struct pollfd pfd = {.fd = mqtt__wake_fd(s->mq), .events = POLLIN};
        poll(&pfd, 1, wait <= 0 ? 0 : (int)ceil(wait * 1000.0));
        now = submit__now();
        while ((ev = mqtt__next(s->mq)) != NULL) {
            submit__on_mqtt(s, ev, now);
            mqtt__event_free(ev);
        }
        if (s->reconnect_at > 0 && now >= s->reconnect_at) {
            s->reconnect_at = 0;
            mqtt__reconnect(s->mq);
        }
        submit__send_sets(s);
        submit__draw(s, now);
    }
    submit__unprogress(s);
    if (s->out && fflush(s->out) != 0) {
        say(s, "writing the rows to %s failed: %m", s->output);
        s->bad_results++;
    }
    if (s->done)
        status = s->status;
    else if (s->is_run && s->final != NULL)
        status = submit__verdict(s); /* says what is missing */
    else
        status = 1;                  /* timed out, said above */
exit:
    mqtt__stop(&s->mq, 1000);
    if (s->out != NULL && s->out != stdout && fclose(s->out) != 0 &&
        status == 0) {
        say(s, "writing the rows to %s failed: %m", s->output);
        status = 1;
    }
    repair__free(&s->rep);
    collect__free(&s->col);
    for (size_t i = 0; i < s->n_sets; i++) {
        free(s->sets[i].id);
        free(s->sets[i].filter);
    }
    free(s->sets);
    free(subs);
    json_decref(s->final);
    free(s->cid);
    free(s->t_request);
    free(s->f_response);
    free(s->f_result);
    free(s->f_event);
    free(s->f_repair);
    free(s->payload);
    json_decref(s->req);
    return status;
}
