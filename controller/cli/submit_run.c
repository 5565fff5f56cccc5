/*
 * submit_run.c — `twinctl submit` following a run: the responses (accepted,
 * rejected, the final one, and the answers to --set), the result messages
 * handed to collect.c in whatever order they come, the events printed, the
 * --set requests sent when the results reach their time, the requests of
 * repair.c (status and replay of what is missing) sent to the run's
 * controller, and the verdict: finished with every row, or what is wrong.
 * The connection and its loop are submit_exchange.c's, the state
 * submit.h's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "csv.h"
#include "submit_run.h"
#include "util.h"

void submit_run__draw(submit *s, double now)
{
    if (!s->progress || now < s->next_draw)
        return;
    s->next_draw = now + 0.5;
    unsigned long long rows = collect__rows(s->col);
    if (s->rows_expected > 0)
        fprintf(stderr, "\rtwinctl submit: t = %.6g s, %llu of %lld rows "
                "(%3.0f%%)", collect__t(s->col), rows, s->rows_expected,
                100.0 * (double)rows / (double)s->rows_expected);
    else
        fprintf(stderr, "\rtwinctl submit: t = %.6g s, %llu rows",
                collect__t(s->col), rows);
    s->drawn = 1;
}

void submit_run__on_result(submit *s, const mqtt_event *ev)
{
    char why[512];
    size_t len;
    const char *c = submit__topic_controller(s, ev->topic, &len);
    char *source = strndup(c, len);
    if (source == NULL ||
        collect__take_payload(s->col, ev->payload, ev->len, ev->content_type,
                              source, why, sizeof why) < 0)
        submit__say(s, "run %s: %s", s->run, source ? why : "out of memory");
    free(source);
}

static int submit__rows_complete(const submit *s)
{
    return s->final != NULL && collect__complete(s->col, s->last_seq);
}

static void submit__say_missing(submit *s)
{
    char list[512], holds[96] = "";
    long long next = collect__next_seq(s->col);
    long long missing = collect__missing(s->col, s->last_seq, list,
                                         sizeof list);
    if (s->out && next > 0)
        snprintf(holds, sizeof holds, "; the output holds the rows of seq "
                 "0 to %lld", next - 1);
    else if (s->out)
        snprintf(holds, sizeof holds, "; the output holds no rows");
    submit__say(s, "%lld of the %lld result messages of run %s never arrived: "
                "seq %s%s%s", missing, s->last_seq + 1, s->run, list,
                s->lost_connection ? " (the connection to the broker was lost "
                                     "during the run)" : "",
                holds);
}

/* The controller that answered the run: from now on only its results
 * count. */
static void submit__learn_controller(submit *s, const char *cid)
{
    char why[512];
    s->cid = strdup(cid ? cid : "?");
    if (s->cid == NULL ||
        collect__source(s->col, s->cid, why, sizeof why) != 0)
        submit__say(s, "run %s: %s", s->run, s->cid ? why : "out of memory");
}

static void submit__say_errors(submit *s, const json_t *resp)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(resp, "errors"), i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        submit__unprogress(s);
        fprintf(stderr, "  %s: %s [%s]\n", path && path[0] ? path : "/",
                json_string_value(json_object_get(e, "message")),
                json_string_value(json_object_get(e, "code")));
    }
}

static void submit__on_run_response(submit *s, json_t *resp,
                                    const char *status)
{
    const char *cid = json_string_value(json_object_get(resp, "controller"));
    if (strcmp(status, "accepted") == 0) {
        if (s->cid != NULL)
            return; /* answered again */
        s->rows_expected = (long long)json_integer_value(
            json_object_get(resp, "rows_expected"));
        const json_t *cols = json_object_get(resp, "columns");
        if (json_array_size(cols) == 0) {
            submit__say(s, "the accepted response to run %s names no columns",
                        s->run);
            s->bad_results++;
        } else if (collect__columns(s->col, cols) != 0) {
            submit__say(s, "out of memory");
            s->bad_results++;
        }
        /* Results come on P/+/result/<run>, subscribed before the request
         * went out; only this controller's count from now on. */
        submit__learn_controller(s, cid);
        return;
    }
    if (strcmp(status, "rejected") == 0) {
        json_t *errs = json_object_get(resp, "errors");
        size_t n = json_array_size(errs);
        submit__say(s, "run %s rejected by %s, %zu problem%s:", s->run,
                    cid ? cid : "?", n, n == 1 ? "" : "s");
        submit__say_errors(s, resp);
        s->status = 1;
        s->done = 1;
        return;
    }
    if (strcmp(status, "finished") == 0 || strcmp(status, "failed") == 0 ||
        strcmp(status, "cancelled") == 0) {
        if (s->final != NULL && !s->final_from_status)
            return;
        json_decref(s->final);
        s->final = json_incref(resp);
        s->final_from_status = 0;
        s->last_seq = (long long)json_integer_value(
            json_object_get(resp, "last_seq"));
        if (s->cid == NULL) {
            /* No accepted: the controller knew this id (its accepted
             * response and the results went out when it was first sent),
             * unless results came and only accepted was lost. */
            s->answered_before = collect__received(s->col) == 0;
            submit__learn_controller(s, cid);
        }
        if (s->answered_before)
            repair__free(&s->rep);  /* those rows are not this exchange's */
        else if (s->rep)
            repair__final(s->rep, s->last_seq, util__now());
        if (strcmp(status, "finished") != 0) {
            submit__say(s, "run %s %s:", s->run, status);
            submit__say_errors(s, resp);
        }
        return;
    }
    submit__say(s, "an unexpected \"%s\" response to run %s; ignored", status,
                s->run);
}

static void submit__on_set_response(submit *s, set_req *st, json_t *resp,
                                    const char *status)
{
    if (st->answered)
        return;
    st->answered = 1;
    st->ok = strcmp(status, "ok") == 0;
    if (!st->ok) {
        submit__say(s, "set %s refused:", st->name);
        submit__say_errors(s, resp);
    }
}

void submit_run__on_response(submit *s, const mqtt_event *ev)
{
    json_t *resp = json_loadb(ev->payload, ev->len, 0, NULL);
    const char *status = json_string_value(json_object_get(resp, "status"));
    if (status == NULL) {
        submit__say(s, "a message on %s is not a twin.response/1; ignored",
                    ev->topic);
        goto exit;
    }
    if (!s->is_run && mqtt__topic_matches(s->f_response, ev->topic)) {
        char *text = json_dumps(resp, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
        if (strcmp(status, "rejected") == 0) {
            submit__say(s, "%s request rejected:",
                        json_string_value(json_object_get(resp, "type")));
            submit__say_errors(s, resp);
        }
        s->status = strcmp(status, "ok") == 0 ? 0 : 1;
        s->done = 1;
        goto exit;
    }
    if (!s->quiet) {
        char *line = json_dumps(resp, JSON_COMPACT);
        submit__unprogress(s);
        if (line)
            fprintf(stderr, "%s\n", line);
        free(line);
    }
    if (mqtt__topic_matches(s->f_response, ev->topic)) {
        submit__on_run_response(s, resp, status);
        goto exit;
    }
    for (size_t i = 0; i < s->n_sets; i++)
        if (mqtt__topic_matches(s->sets[i].filter, ev->topic))
            submit__on_set_response(s, &s->sets[i], resp, status);
exit:
    json_decref(resp);
}

void submit_run__on_event(submit *s, const mqtt_event *ev)
{
    if (s->quiet)
        return;
    json_t *e = json_loadb(ev->payload, ev->len, 0, NULL);
    const char *kind = json_string_value(json_object_get(e, "kind"));
    const char *inst = json_string_value(json_object_get(e, "instance"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const json_t *t = json_object_get(e, "t");
    char when[40] = "-";
    if (json_is_number(t))
        csv__number(when, sizeof when, json_number_value(t));
    submit__unprogress(s);
    if (kind && strcmp(kind, "state") == 0)
        fprintf(stderr, "event: t=%s %s indicator %lld %s\n", when,
                inst ? inst : "-",
                (long long)json_integer_value(json_object_get(e,
                                                              "indicator")),
                json_integer_value(json_object_get(e, "direction")) > 0
                    ? "rising" : "falling");
    else if (kind && strcmp(kind, "rtf") == 0)
        fprintf(stderr, "rtf: t=%s %.3g over the last %.3g s, %.3g over the "
                "run\n", when,
                json_number_value(json_object_get(e, "rtf_window")),
                json_number_value(json_object_get(e, "window_seconds")),
                json_number_value(json_object_get(e, "rtf_total")));
    else
        fprintf(stderr, "%s: t=%s %s%s%s\n", kind ? kind : "event", when,
                inst ? inst : "", inst ? ": " : "", msg ? msg : ev->payload);
    json_decref(e);
}

void submit_run__send_sets(submit *s)
{
    if (s->cid == NULL || s->final != NULL)
        return;
    for (size_t i = 0; i < s->n_sets; i++) {
        set_req *st = &s->sets[i];
        if (st->sent || collect__t(s->col) < st->at)
            continue;
        const char *eq = strchr(st->name, '=');
        json_t *values = json_object();
        char *name = strndup(st->name, (size_t)(eq - st->name));
        char *topic = NULL, *text = NULL;
        json_t *req = NULL;
        if (values == NULL || name == NULL ||
            json_object_set_new(values, name, json_real(st->value)) != 0 ||
            (topic = submit__printf("%s/%s/request", s->prefix,
                                    s->cid)) == NULL)
            goto next;
        req = json_pack("{s:s, s:s, s:s, s:s, s:O}", "contract",
                        "twin.request/1", "id", st->id, "type", "set", "run",
                        s->run, "values", values);
        text = req ? json_dumps(req, JSON_COMPACT) : NULL;
        if (text != NULL) {
            mqtt_publish pub = {.topic = topic, .payload = text,
                                .len = strlen(text), .qos = 1,
                                .tag = 2 + i};
            if (mqtt__publish(s->mq, &pub) == 0) {
                st->sent = 1;
                if (!s->quiet)
                    submit__say(s, "set %s sent at t = %.17g", st->name,
                                collect__t(s->col));
            }
        }
next:
        free(text);
        json_decref(req);
        free(topic);
        free(name);
        json_decref(values);
    }
}

/* Have all the answers come?  Missing rows are asked for again until
 * repair gives up. */
int submit_run__complete(const submit *s, double now)
{
    if (s->done)
        return 1;
    if (s->final == NULL)
        return 0;
    for (size_t i = 0; i < s->n_sets; i++)
        if (s->sets[i].sent && !s->sets[i].answered &&
            now - s->last_message < ROWS_GRACE)
            return 0;
    return submit__rows_complete(s) || s->answered_before ||
           s->rep == NULL || repair__gave_up(s->rep);
}

/* A status said the run ended, and its final response never came: the
 * status stands for it (state, last_seq, rows), until the response
 * itself arrives, if it does. */
static void submit__final_from_status(submit *s)
{
    const json_t *st = s->rep ? repair__ended(s->rep) : NULL;
    if (s->final != NULL || st == NULL)
        return;
    s->final = json_deep_copy(st);
    json_object_set(s->final, "status", json_object_get(st, "state"));
    s->final_from_status = 1;
    s->last_seq = (long long)json_integer_value(
        json_object_get(st, "last_seq"));
}

void submit_run__on_repair_answer(submit *s, const mqtt_event *ev,
                                  double now)
{
    json_t *resp = json_loadb(ev->payload, ev->len, 0, NULL);
    if (s->rep && resp)
        repair__answer(s->rep, resp, now);
    submit__final_from_status(s);
    json_decref(resp);
}

/* repair.c's requests: to the run's controller, answered on f_repair. */
int submit_run__send_repair(void *ctx, const char *payload)
{
    submit *s = ctx;
    const char *cid = s->cid ? s->cid : s->controller;
    if (cid == NULL || !mqtt__is_connected(s->mq))
        return -1;
    char *to = submit__printf("%s/%s/request", s->prefix, cid);
    char *reply = submit__printf("%s/%s/response/%s/repair", s->prefix, cid,
                                 s->id);
    mqtt_publish pub = {.topic = to, .payload = payload,
                        .len = strlen(payload), .qos = 1,
                        .response_topic = reply, .tag = TAG_REPAIR};
    int rc = to && reply ? mqtt__publish(s->mq, &pub) : -1;
    free(to);
    free(reply);
    return rc;
}

void submit_run__repair_note(void *ctx, const char *sentence)
{
    submit *s = ctx;
    if (!s->quiet)
        submit__say(s, "%s", sentence);
}

/* The values of the scenario's functions, as twinctl run prints them. */
static void say_functions(submit *s)
{
    const json_t *values = json_object_get(s->final, "functions");
    const json_t *errors = json_object_get(s->final, "function_errors");
    const char *name;
    json_t *v;
    if (json_object_size(values) > 0)
        submit__say(s, "functions:");
    json_object_foreach((json_t *)values, name, v) {
        const json_t *e = json_object_get(errors, name);
        const char *why = json_string_value(json_object_get(e, "message"));
        if (json_is_number(v))
            submit__say(s, "  %s = %.10g", name, json_number_value(v));
        else
            submit__say(s, "  %s = null: %s", name, why ? why : "no value");
    }
}

/* The verdict on a run that got its final response. */
int submit_run__verdict(submit *s)
{
    int status = 0;
    const char *fs = json_string_value(json_object_get(s->final, "status"));
    if (fs == NULL || strcmp(fs, "finished") != 0)
        status = 1;
    if (!submit__rows_complete(s)) {
        if (s->answered_before)
            submit__say(s, "%s answered request %s before: this is its "
                        "earlier answer, and the run's rows were sent then; "
                        "give a new --id (or none) to run it again", s->cid,
                        s->id);
        else
            submit__say_missing(s);
        if (s->rep && repair__gave_up(s->rep))
            submit__say(s, "run %s: %s", s->run, repair__why(s->rep));
        status = 1;
    }
    /* A model asked to end the run (ABI 1.1 request_end): said even with
     * --quiet, as `twinctl run` does — the run is shorter than its
     * scenario says. */
    const json_t *by = json_object_get(s->final, "ended_by");
    const char *who = json_string_value(json_object_get(by, "instance")),
               *why = json_string_value(json_object_get(by, "reason"));
    if (by != NULL)
        submit__say(s, "run %s ended at t = %.17g by instance '%s', which "
                    "asked to end the run: %s", s->run,
                    json_number_value(json_object_get(by, "t")),
                    who ? who : "?", why ? why : "no reason given");
    if (s->final_from_status)
        submit__say(s, "the final response of run %s never arrived; its "
                    "status said it %s, with %lld rows", s->run, fs ? fs : "?",
                    (long long)json_integer_value(
                        json_object_get(s->final, "rows")));
    long long rows = (long long)json_integer_value(
        json_object_get(s->final, "rows"));
    unsigned long long got = collect__rows(s->col);
    int bad = s->bad_results > 0 || collect__bad(s->col) > 0;
    if (submit__rows_complete(s) && !bad && rows != (long long)got) {
        submit__say(s, "run %s: the controller sent %lld rows, %llu arrived",
                    s->run, rows, got);
        status = 1;
    }
    if (bad)
        status = 1;
    for (size_t i = 0; i < s->n_sets; i++) {
        const set_req *st = &s->sets[i];
        if (!st->sent)
            submit__say(s, "set %s was never sent: the run ended at t = "
                        "%.6g s", st->name, collect__t(s->col));
        else if (!st->answered)
            submit__say(s, "set %s got no answer", st->name);
        if (!st->ok)
            status = 1;
    }
    if (!s->quiet) {
        const json_t *wall = json_object_get(
            json_object_get(s->final, "stats"), "wall_seconds");
        char took[48] = "";
        if (json_is_number(wall))  /* not in a status answer */
            snprintf(took, sizeof took, "controller %.3f s, ",
                     json_number_value(wall));
        submit__say(s, "run %s %s on %s: %llu rows in %lld messages (%llu "
                    "duplicates dropped, %u status and replay requests); "
                    "%sexchange %.3f s", s->run, fs ? fs : "?",
                    s->cid ? s->cid : "?", got, collect__next_seq(s->col),
                    collect__duplicates(s->col),
                    s->rep ? repair__requests(s->rep) : 0, took,
                    util__now() - s->started);
        say_functions(s);
    }
    return status;
}
