/*
 * intake.c — the envelope of every request, checked once before a
 * handler sees it: size, JSON, contract version, id, type, what this
 * deployment allows, and retries (an id answered before is answered
 * again, never processed twice).  Also live inputs on P/C/input/<run>,
 * and plant signals' messages handed to signal_subs.c.
 */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "respond.h"
#include "runs.h"
#include "signal_subs.h"
#include "topic.h"

/* Where the answers go (topic.h); a response topic that cannot be
 * published to is a problem of the request, in errs. */
static void reply_for(serve *sv, const mqtt_event *ev, const char *id,
                      reply_to *to, twin_errors *errs)
{
    char why[512];
    memset(to, 0, sizeof *to);
    to->id = id ? strdup(id) : NULL;
    if (topic__reply(sv->t_response_base, id, ev->response_topic,
                     ev->response_topic_len,
                     sv->cfg.security.username != NULL, &to->topic, why,
                     sizeof why) != 0)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "", "%s", why);
    if (ev->correlation) {
        to->correlation = malloc(ev->correlation_len + 1);
        if (to->correlation)
            memcpy(to->correlation, ev->correlation, ev->correlation_len);
        to->correlation_len = ev->correlation_len;
    }
}

/* The "id" of a request too large to parse: scan the first 64 KiB of the
 * top-level object for it, so the rejection reaches the orchestrator
 * waiting on …/response/<id>.  Returns a malloc'd id or NULL. */
static char *scan_id(const char *p, size_t len)
{
    int depth = 0, in_str = 0, esc = 0, want_value = 0;
    const char *str = NULL;
    if (len > 65536)
        len = 65536;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"') {
                in_str = 0;
                size_t n = (size_t)(p + i - str);
                if (want_value == 2) {
                    char *id = strndup(str, n);
                    if (id && request__topic_safe(id))
                        return id;
                    free(id);
                    return NULL;
                }
                want_value = depth == 1 && n == 2 && memcmp(str, "id", 2) == 0;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
            str = p + i + 1;
        } else if (c == ':' && want_value == 1) {
            want_value = 2;
        } else if (c == '{' || c == '[') {
            depth++;
            want_value = 0;
        } else if (c == '}' || c == ']') {
            depth--;
            want_value = 0;
        } else if (c == ',') {
            want_value = 0;
        }
    }
    return NULL;
}

static void live_input(serve *sv, const mqtt_event *ev)
{
    const char *run_id = strrchr(ev->topic, '/') + 1;
    run_rec *r = runs__find(sv, run_id);
    twin_errors errs = {0};
    json_t *msg = json_loadb(ev->payload, ev->len, 0, NULL);
    const json_t *values = json_object_get(msg, "values");
    if (r == NULL || r->state != RUN_RUNNING) {
        fprintf(stderr, "twinctl serve: input for %s, which is not running; "
                "ignored\n", run_id);
    } else if (values == NULL) {
        errors__add(&errs, TWIN_E_MISSING_FIELD, "/values",
                    "live input is {\"values\": {\"instance.input\": "
                    "number, ...}}");
    } else if (runs__check_values(r, values, "/values", &errs) == 0) {
        runner__set(&r->child, values);
    }
    if (errs.count > 0 && r != NULL && r->out != NULL) {
        /* No one to answer: say it where the run's watchers look.  The
         * controller speaks, not a model: instance null. */
        json_t *e = json_pack("{s:s, s:n, s:n, s:s, s:o}", "kind", "log",
                              "t", "instance", "level", "error", "errors",
                              errors__to_json(&errs));
        char msgtext[512];
        snprintf(msgtext, sizeof msgtext, "live input on %s refused: %s",
                 ev->topic, errs.items[0].message);
        json_object_set_new(e, "message", json_string(msgtext));
        sender__event(r->out, e);
    }
    errors__clear(&errs);
    json_decref(msg);
}

void intake__message(serve *sv, const mqtt_event *ev)
{
    if (signal_subs__message(sv, ev))
        return; /* a plant signal, for the runs bound to it */
    if (mqtt__topic_matches(sv->t_input, ev->topic)) {
        live_input(sv, ev);
        return;
    }
    if (ev->retained) {
        /* A retained request is the broker's copy, sent again at every
         * subscribe (each reconnect, each start): it was answered when it
         * was published, delivered live (without the retain flag). */
        char shown[72];
        topic__excerpt(ev->payload, ev->len, shown, sizeof shown);
        fprintf(stderr, "twinctl serve: ignored a retained request on %s "
                "(%s): requests are answered when they are published, not "
                "again from the broker's retained copy; publish them "
                "without retain, and clear this one with an empty retained "
                "message\n", ev->topic, shown);
        return;
    }
    sv->requests++;
    twin_errors errs = {0};
    reply_to to;
    req_type type = REQ__COUNT;
    json_t *req = NULL;

    if (ev->len > sv->cfg.limits.request_bytes) {
        char *id = scan_id(ev->payload, ev->len);
        reply_for(sv, ev, id, &to, &errs);
        free(id);
        errors__add(&errs, TWIN_E_TOO_LARGE, "",
                    "the request is %zu bytes, more than this controller's "
                    "limit of %zu", ev->len, sv->cfg.limits.request_bytes);
        goto reject;
    }
    json_error_t jerr;
    req = json_loadb(ev->payload, ev->len, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL || !json_is_object(req)) {
        reply_for(sv, ev, NULL, &to, &errs);
        if (req == NULL)
            errors__add(&errs, TWIN_E_BAD_JSON, "", "the request is not "
                        "valid JSON: line %d, column %d: %s", jerr.line,
                        jerr.column, jerr.text);
        else
            errors__add(&errs, TWIN_E_WRONG_TYPE, "",
                        "a request is a JSON object");
        goto reject;
    }
    const char *id = NULL;
    request__check_envelope(req, &errs, &id, &type);
    reply_for(sv, ev, id, &to, &errs);
    if (errs.count > 0)
        goto reject;
    /* Answered before, or a replay still going: not processed again. */
    if (respond__again(sv, &to) || handle_replay__retry(sv, &to))
        goto exit;
    if (!(sv->cfg.allow.requests & REQ_BIT(type))) {
        if (!(REQ_IMPLEMENTED & REQ_BIT(type)))
            errors__add(&errs, TWIN_E_NOT_ALLOWED, "/type",
                        "'%s' requests are not available in this version of "
                        "twinctl", request__type_name(type));
        else
            errors__add(&errs, TWIN_E_NOT_ALLOWED, "/type",
                        "this controller's deployment does not allow '%s' "
                        "requests", request__type_name(type));
        goto reject;
    }
    if (sv->stopping) {
        errors__add(&errs, TWIN_E_BUSY, "", "this controller is stopping; "
                    "send the request to another");
        goto reject;
    }
    switch (type) {
    case REQ_DESCRIBE: handle_describe(sv, &to, req); break;
    case REQ_RUN: handle_run(sv, &to, req); break;
    case REQ_STEADY: handle_steady(sv, &to, req); break;
    case REQ_SET: handle_set(sv, &to, req); break;
    case REQ_CANCEL: handle_cancel(sv, &to, req); break;
    case REQ_STATUS: handle_status(sv, &to, req); break;
    case REQ_REPLAY: handle_replay(sv, &to, req); break;
    case REQ_CALL: handle_call(sv, &to, req); break;
    default: break; /* not allowed above */
    }
    goto exit;
reject:
    if (to.topic != NULL)
        respond__reject(sv, &to, (int)type, &errs);
exit:
    errors__clear(&errs);
    request__reply_free(&to);
    json_decref(req);
}
