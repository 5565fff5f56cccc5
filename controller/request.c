/*
 * request.c — request type names and the small helpers every handler
 * shares: where a reply goes, and which ids can stand in a topic.
 */
#include "request.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[REQ__COUNT] = {
    [REQ_DESCRIBE] = "describe", [REQ_RUN] = "run",
    [REQ_STEADY] = "steady",     [REQ_CALL] = "call",
    [REQ_SET] = "set",           [REQ_CANCEL] = "cancel",
    [REQ_STATUS] = "status",     [REQ_REPLAY] = "replay",
};

const char *request__type_name(req_type t)
{
    return (unsigned)t < REQ__COUNT ? type_names[t] : "?";
}

int request__type_of(const char *name, req_type *t)
{
    for (int i = 0; i < REQ__COUNT; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *t = (req_type)i;
            return 0;
        }
    return -1;
}

void request__reply_free(reply_to *r)
{
    free(r->id);
    free(r->topic);
    free(r->correlation);
    memset(r, 0, sizeof *r);
}

int request__reply_copy(reply_to *dst, const reply_to *src)
{
    memset(dst, 0, sizeof *dst);
    dst->id = src->id ? strdup(src->id) : NULL;
    dst->topic = src->topic ? strdup(src->topic) : NULL;
    if (src->correlation) {
        dst->correlation = malloc(src->correlation_len + 1);
        if (dst->correlation)
            memcpy(dst->correlation, src->correlation, src->correlation_len);
        dst->correlation_len = src->correlation_len;
    }
    if ((src->id && !dst->id) || (src->topic && !dst->topic) ||
        (src->correlation && !dst->correlation)) {
        request__reply_free(dst);
        return -1;
    }
    return 0;
}

int request__topic_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("-_.:", *s)))
            return 0;
    return 1;
}
