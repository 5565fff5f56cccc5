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
    /* From memory: the answer a restart could not give again is in a
     * journal already (a run's; a computed one in the daemon's). */
    sender__publish_copy(sv->out, to->topic, response, strlen(response), 0,
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

/* Where a response is kept until the broker took it (docs/spool.md,
 * What is synced). */
typedef enum keep {
    KEEP_MEMORY,     /* a restart can answer it again: no disk */
    KEEP_JOURNAL,    /* the daemon's journal, synced before it leaves */
    KEEP_RUN         /* the run's journal, synced before it leaves */
} keep;

static void respond_on(serve *sv, const reply_to *to, req_type type,
                       json_t *resp, keep where, spool_stream *st)
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
    size_t len = strlen(text);
    if (where == KEEP_MEMORY)
        sender__publish_copy(sv->out, to->topic, text, len, 0,
                             to->correlation, to->correlation_len);
    else
        sender__publish_on(sv->out, where == KEEP_RUN ? st : NULL, to->topic,
                           text, len, to->correlation, to->correlation_len);
    respond__remember(sv, to, text);
    free(text);
}

void respond__send(serve *sv, const reply_to *to, req_type type,
                   json_t *resp)
{
    respond_on(sv, to, type, resp, KEEP_MEMORY, NULL);
}

void respond__computed(serve *sv, const reply_to *to, req_type type,
                       json_t *resp)
{
    respond_on(sv, to, type, resp, KEEP_JOURNAL, NULL);
}

void respond__run(serve *sv, const reply_to *to, run_rec *r, json_t *resp)
{
    respond_on(sv, to, REQ_RUN, resp, KEEP_RUN, r->st);
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
