/*
 * request.c — request type names and the small helpers every handler
 * shares: where a reply goes, and which ids can stand in a topic.
 */
#include "request.h"

#include <ctype.h>
#include <stdio.h>
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

const char *request__run_id(const json_t *run, twin_errors *errs)
{
    if (!json_is_string(run)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/run",
                    "\"run\" must be a run id string");
        return NULL;
    }
    if (!request__topic_safe(json_string_value(run))) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/run",
                    "\"run\" must be 1 to 128 letters, digits, -, _, . or : "
                    "(it becomes a topic level)");
        return NULL;
    }
    return json_string_value(run);
}

int request__encoding(const json_t *req, twin_errors *errs)
{
    const json_t *e = json_object_get(req, "encoding");
    if (e == NULL)
        return 0;
    if (!json_is_string(e)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/encoding",
                    "\"encoding\" must be the string \"json\" or \"cbor\"");
        return 0;
    }
    if (strcmp(json_string_value(e), "cbor") == 0)
        return 1;
    if (strcmp(json_string_value(e), "json") != 0)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/encoding",
                    "\"encoding\" must be \"json\" (the default) or "
                    "\"cbor\" (result messages in CBOR, application/cbor), "
                    "not \"%.64s\"", json_string_value(e));
    return 0;
}

/* ---- the envelope ---- */

static void check_contract(const json_t *req, twin_errors *errs)
{
    const json_t *c = json_object_get(req, "contract");
    if (c == NULL) {
        errors__add(errs, TWIN_E_MISSING_FIELD, "/contract",
                    "a request needs \"contract\": \"twin.request/1\"");
        return;
    }
    if (!json_is_string(c)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/contract",
                    "\"contract\" must be the string \"twin.request/1\"");
        return;
    }
    const char *s = json_string_value(c);
    unsigned major;
    char tail;
    if (sscanf(s, "twin.request/%u%c", &major, &tail) != 1 || major != 1)
        errors__add(errs, TWIN_E_BAD_CONTRACT, "/contract",
                    "this controller speaks twin.request/1, not \"%s\"", s);
}

static const char *check_id(const json_t *req, twin_errors *errs)
{
    const json_t *id = json_object_get(req, "id");
    if (id == NULL) {
        errors__add(errs, TWIN_E_MISSING_FIELD, "/id",
                    "a request needs an \"id\" (answers go to "
                    "…/response/<id>)");
        return NULL;
    }
    if (!json_is_string(id)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/id",
                    "\"id\" must be a string");
        return NULL;
    }
    if (!request__topic_safe(json_string_value(id))) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/id",
                    "\"id\" must be 1 to 128 letters, digits, -, _, . or : "
                    "(it becomes a topic level)");
        return NULL;
    }
    return json_string_value(id);
}

static int check_type(const json_t *req, twin_errors *errs, req_type *type)
{
    const json_t *t = json_object_get(req, "type");
    if (t == NULL) {
        errors__add(errs, TWIN_E_MISSING_FIELD, "/type",
                    "a request needs a \"type\": describe, run, steady, "
                    "call, set, cancel, status or replay");
        return -1;
    }
    if (!json_is_string(t) ||
        request__type_of(json_string_value(t), type) != 0) {
        errors__add(errs, json_is_string(t) ? TWIN_E_OUT_OF_RANGE
                                            : TWIN_E_WRONG_TYPE,
                    "/type", "\"type\" is one of describe, run, steady, "
                    "call, set, cancel, status, replay%s%s%s",
                    json_is_string(t) ? ", not \"" : "",
                    json_is_string(t) ? json_string_value(t) : "",
                    json_is_string(t) ? "\"" : "");
        return -1;
    }
    return 0;
}

int request__check_envelope(const json_t *req, twin_errors *errs,
                            const char **id, req_type *type)
{
    size_t before = errs->count;
    *id = check_id(req, errs);
    check_contract(req, errs);
    if (check_type(req, errs, type) != 0)
        *type = REQ__COUNT;
    return errs->count == before ? 0 : -1;
}
