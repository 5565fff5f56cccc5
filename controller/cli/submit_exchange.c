/*
 * submit_exchange.c — one `twinctl submit` exchange (submit_exchange.h):
 * build the request (a request document as it is, a scenario wrapped as
 * a run, or a stored scenario's name), subscribe to its responses and —
 * for a run — to its results and events before publishing it, and run
 * the loop that hands the connection's events on.  Following a run (its
 * responses, the result messages put back in seq order and written as
 * CSV by collect.c, --set, the verdict) is submit_run.c's; seqs missing
 * at the end, or a final response that never came after the broker went
 * away, are asked for again with status and replay (repair.c).  Talking
 * to the broker is mqtt.c's; what the messages mean is docs/contract.md.
 */
#include "submit_exchange.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "request.h"
#include "submit_run.h"
#include "util.h"

/* ---- the request ---------------------------------------------------------- */

/* Read FILE ('-': stdin) and make the request of it, or of --name.
 * Returns 0, or 2 (1: out of resources) with the reason said. */
static int build_request(submit *s, const char *file, const char *name,
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
            submit__say(s, "cannot read %s: %s", file, jerr.text);
        else if (doc == NULL)
            submit__say(s, "%s is not JSON: line %d, column %d: %s", file,
                        jerr.line, jerr.column, jerr.text);
        else if (!json_is_object(doc))
            submit__say(s, "%s holds no JSON object: give a request document "
                        "or a scenario", in ? "standard input" : file);
        if (!json_is_object(doc))
            goto exit;
    } else if (!request__topic_safe(name)) {
        submit__say(s, "'%s' is not a scenario name (letters, digits, -, _ "
                    "and . only)", name);
        goto exit;
    }
    int is_request = doc && json_object_get(doc, "contract") != NULL;
    if (id == NULL && !(is_request && json_object_get(doc, "id"))) {
        if (repair__uuid(uuid) != 0) {
            submit__say(s, "cannot make a request id (getrandom failed); give "
                        "--id");
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
        submit__say(s, "out of memory");
        status = 1;
        goto exit;
    }
    const json_t *have = json_object_get(s->req, "id");
    if (!json_is_string(have) ||
        !request__topic_safe(json_string_value(have))) {
        submit__say(s, "the request id must be a string of 1 to 128 letters, "
                    "digits, -, _, . or : (it becomes a topic level); give "
                    "--id");
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
            submit__say(s, "the request's \"run\" must be 1 to 128 letters, "
                        "digits, -, _, . or : (it becomes a topic level)");
            goto exit;
        }
        s->run = json_string_value(run);
    }
    /* Results in CBOR unless asked otherwise: a controller that predates
     * it ignores the member and sends JSON, told apart by content type. */
    if (s->is_run &&
        (s->encoding || json_object_get(s->req, "encoding") == NULL))
        json_object_set_new(s->req, "encoding",
                            json_string(s->encoding ? s->encoding : "cbor"));
    s->payload = json_dumps(s->req, JSON_COMPACT);
    status = s->payload ? 0 : 1;
exit:
    json_decref(doc);
    return status;
}

/* Topics and filters; every subscription made before the request goes
 * out, so nothing the controller sends is missed. */
static int make_topics(submit *s)
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
            submit__say(s, "the request id is too long to number its --set "
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
static void publish_request(submit *s)
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

static void on_mqtt(submit *s, const mqtt_event *ev, double now)
{
    switch (ev->kind) {
    case MQTT_EV_CONNECTED:
        /* The request goes out from the loop once connected, and again
         * after a reconnect when it was not acknowledged (safe: a
         * controller answers a known id again, never runs it twice). */
        if (s->lost_connection && !s->quiet)
            submit__say(s, "connected to %s again", s->broker);
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
        submit__say(s, "lost the broker (%s); reconnecting — results sent "
                    "meanwhile will be asked for again",
                    ev->text ? ev->text : "?");
        break;
    case MQTT_EV_CONNECT_FAILED:
        if (s->connected_once) {
            /* paho reports failed reconnects here too: keep trying,
             * within the timeout. */
            s->reconnect_at = now + 1.0;
            break;
        }
        submit__say(s, "%s%s", ev->text ? ev->text : "cannot connect",
                    ev->refused ? "" : "; check --broker (or TWIN_BROKER)");
        s->status = 1;
        s->done = 1;
        break;
    case MQTT_EV_PUBACK:
        if (ev->refused && ev->tag == 1) {
            submit__say(s, "%s: the request to %s was not delivered; check "
                        "the broker's ACL for %s%s", ev->text, s->t_request,
                        s->sec.username ? "user " : "anonymous clients",
                        s->sec.username ? s->sec.username : "");
            s->status = 1;
            s->done = 1;
        } else if (ev->refused && ev->tag >= 2 && ev->tag - 2 < s->n_sets) {
            set_req *st = &s->sets[ev->tag - 2];
            submit__say(s, "set %s: %s", st->name, ev->text);
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
                submit_run__on_result(s, ev);
            }
        } else if (s->f_event && mqtt__topic_matches(s->f_event,
                                                     ev->topic)) {
            if (submit__from_cid(s, ev->topic))
                submit_run__on_event(s, ev);
        } else if (s->f_repair && mqtt__topic_matches(s->f_repair,
                                                      ev->topic)) {
            submit_run__on_repair_answer(s, ev, now);
        } else {
            s->last_message = now;
            submit_run__on_response(s, ev);
        }
        break;
    }
}

/* Why the time ran out, in the words of where it stood. */
static void say_timeout(submit *s)
{
    if (!mqtt__is_connected(s->mq) && !s->published)
        submit__say(s, "could not reach the broker at %s within %g s "
                    "(--timeout); check --broker", s->broker, s->timeout);
    else if (s->cid == NULL && s->final == NULL)
        submit__say(s, "no answer to request %s on %s within %g s "
                    "(--timeout): is a controller listening there?  'twinctl "
                    "status --prefix %s' lists them", s->id, s->t_request,
                    s->timeout, s->prefix);
    else if (s->final == NULL)
        submit__say(s, "run %s on %s had not ended after %g s (--timeout), at "
                    "t = %.6g s with %llu rows; it may still be running (send "
                    "a cancel request to stop it)", s->run, s->cid, s->timeout,
                    collect__t(s->col), collect__rows(s->col));
}

/* ---- the exchange --------------------------------------------------------- */

/* The output, the collector, the repairer and the connection with every
 * subscription.  Returns 0, or -1 with the reason said. */
static int start(submit *s)
{
    const char **subs = NULL;
    char why[1024], client_id[64], uuid[37];
    rows_format format;

    int to_stdout = s->output && strcmp(s->output, "-") == 0;
    if (s->output && cli_opts__file_format("submit", &s->file,
                                           to_stdout ? NULL : s->output,
                                           &format) != 0)
        goto exit;
    /* The scenario, when the request carries it, goes into the file. */
    const json_t *sc = json_object_get(s->req, "scenario");
    if (s->output && json_is_object(sc) &&
        (s->scenario = json_dumps(sc, JSON_COMPACT)) == NULL)
        goto exit;
    why[0] = '\0';
    if (to_stdout && format != ROWS_NONE)
        s->out = rows_out__stream(stdout);
    else if (s->output)
        s->out = rows_out__open(s->output, format, &s->file.options, why,
                                sizeof why);
    if (s->output && s->out == NULL) {
        submit__say(s, "%s", why[0] ? why : "out of memory");
        goto exit;
    }
    if ((s->col = collect__new(s->out, s->scenario)) == NULL)
        goto exit;
    repair_io rio = {submit_run__send_repair, submit_run__repair_note, s,
                     json_string_value(json_object_get(s->req, "encoding"))};
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
    s->started = util__now();
    s->deadline = s->started + s->timeout;
    s->last_message = s->started;
    s->progress = s->is_run && !s->quiet && isatty(STDERR_FILENO) &&
                  !(s->output && strcmp(s->output, "-") == 0);
    s->next_draw = s->started + 1.0;
    s->mq = mqtt__start(&mo, why, sizeof why);
    if (s->mq == NULL)
        submit__say(s, "%s", why);
exit:
    free(subs);
    return s->mq != NULL ? 0 : -1;
}

/* Until every answer came, or the time ran out; returns the exit
 * status, said. */
static int follow(submit *s)
{
    mqtt_event *ev;

    /* mqtt__is_connected() holds once every subscription above is in
     * place: only then does the request go out. */
    for (;;) {
        double now = util__now();
        if (!s->published && !s->done && mqtt__is_connected(s->mq))
            publish_request(s);
        double repair_at = s->rep ? repair__step(s->rep, now) : INFINITY;
        if (submit_run__complete(s, now))
            break;
        if (now >= s->deadline) {
            if (s->final == NULL)
                say_timeout(s);
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
        now = util__now();
        while ((ev = mqtt__next(s->mq)) != NULL) {
            on_mqtt(s, ev, now);
            mqtt__event_free(ev);
        }
        if (s->reconnect_at > 0 && now >= s->reconnect_at) {
            s->reconnect_at = 0;
            mqtt__reconnect(s->mq);
        }
        submit_run__send_sets(s);
        submit_run__draw(s, now);
    }
    submit__unprogress(s);
    if (s->done)
        return s->status;
    if (s->is_run && s->final != NULL)
        return submit_run__verdict(s); /* says what is missing */
    return 1;                          /* timed out, said above */
}

int submit_exchange__run(submit *s, const char *file, const char *name,
                         const char *id)
{
    int status = build_request(s, file, name, id);
    if (status != 0)
        goto exit;
    status = 2;
    if (!s->is_run && (s->n_sets > 0 || s->output)) {
        submit__say(s, "-o and --set are for runs; this is a \"%s\" request",
                    json_string_value(json_object_get(s->req, "type")));
        goto exit;
    }
    if (make_topics(s) != 0)
        goto exit;
    status = 1;
    if (start(s) == 0)
        status = follow(s);
exit:
    mqtt__stop(&s->mq, 1000);
    /* Finished whatever ended the run: the rows that came. */
    char why[1024] = "";
    if (rows_out__close(&s->out, why, sizeof why) != 0) {
        submit__say(s, "%s", why);
        status = status ? status : 1;
    }
    return status;
}
