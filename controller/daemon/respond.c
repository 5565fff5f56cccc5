/*
 * respond.c — responses on the wire and their memory for retries
 * (respond.h).  The memory itself is answers.c; where else an answer
 * still to come must go is waiters.c.
 */
#include "respond.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"

void respond__remember(serve *sv, const reply_to *to, const char *response)
{
    if (to->id == NULL)
        return;
    answers__remember(&sv->memo, to->id, response, sv->cfg.limits.remembered,
                      sv->cfg.limits.remembered_bytes);
}

int respond__again(serve *sv, const reply_to *to)
{
    if (to->id == NULL)
        return 0;
    const char *response = answers__find(&sv->memo, to->id);
    if (response == NULL)
        return 0;
    sender__publish(sv->out, to->topic, response, strlen(response), 0,
                    to->correlation, to->correlation_len);
    /* A run still going: its final response goes there too. */
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING && r->reply.id &&
            strcmp(r->reply.id, to->id) == 0)
            waiters__add(&r->retries, &r->reply, to);
    return 1;
}

void respond__waiters(serve *sv, waiters *w)
{
    for (size_t i = 0; i < w->n; i++)
        respond__again(sv, &w->to[i]);
    waiters__free(w);
}

static void respond_on(serve *sv, const reply_to *to, req_type type,
                       json_t *resp, spool_stream *st)
{
    /* The envelope first, for people reading the messages. */
    json_t *msg = json_pack("{s:s, s:o}", "contract", "twin.response/1",
                            "id", to->id ? json_string(to->id) : json_null());
    if ((unsigned)type < REQ__COUNT)
        json_object_set_new(msg, "type",
                            json_string(request__type_name(type)));
    json_object_set_new(msg, "controller", json_string(sv->cfg.id));
    json_object_update(msg, resp);
    json_decref(resp);
    char *text = json_out__dumps(msg);
    json_decref(msg);
    if (text == NULL)
        return;
    sender__publish_on(sv->out, st, to->topic, text, strlen(text),
                       to->correlation, to->correlation_len);
    respond__remember(sv, to, text);
    free(text);
}

void respond__send(serve *sv, const reply_to *to, req_type type,
                   json_t *resp)
{
    respond_on(sv, to, type, resp, NULL);
}

void respond__run(serve *sv, const reply_to *to, run_rec *r, json_t *resp)
{
    respond_on(sv, to, REQ_RUN, resp, r->st);
}

void respond__reject(serve *sv, const reply_to *to, int type,
                     const twin_errors *errs)
{
    sv->rejected++;
    json_t *resp = json_pack("{s:s, s:o}", "status", "rejected", "errors",
                             errors__to_json(errs));
    respond__send(sv, to, (req_type)type, resp);
}

json_t *respond__errors(twin_err_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("[{s:s, s:s, s:s}]", "code", errors__code_name(code),
                     "path", "", "message", msg);
}
