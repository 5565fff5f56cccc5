/*
 * request.h — the request types of contract v1 and the context a handler
 * answers through.  One handler per type, each in handle_<type>.c; the
 * envelope (contract, id, type, size, allowed functionality, retries) is
 * checked once in request.c before any handler runs.
 */
#ifndef TWIN_REQUEST_H
#define TWIN_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"

typedef enum req_type {
    REQ_DESCRIBE,
    REQ_RUN,
    REQ_STEADY,
    REQ_CALL,
    REQ_SET,
    REQ_CANCEL,
    REQ_STATUS,
    REQ_REPLAY,
    REQ__COUNT
} req_type;

#define REQ_BIT(t) (1u << (t))
/* What this version implements: every type of contract v1. */
#define REQ_IMPLEMENTED                                                    \
    (REQ_BIT(REQ_DESCRIBE) | REQ_BIT(REQ_RUN) | REQ_BIT(REQ_SET) |         \
     REQ_BIT(REQ_CANCEL) | REQ_BIT(REQ_STATUS) | REQ_BIT(REQ_REPLAY) |     \
     REQ_BIT(REQ_CALL) | REQ_BIT(REQ_STEADY))

const char *request__type_name(req_type t);
int request__type_of(const char *name, req_type *t);

/* Where the answers to one request go. */
typedef struct reply_to {
    char *id;                 /* the request id, NULL when unreadable */
    char *topic;              /* response topic */
    void *correlation;        /* v5 correlation data to echo, or NULL */
    size_t correlation_len;
} reply_to;

void request__reply_free(reply_to *r);
int request__reply_copy(reply_to *dst, const reply_to *src);

/* Check the envelope of a request object: contract (twin.request/1),
 * id (a string usable as a topic level), type.  Every problem goes to
 * errs.  *id is the id when it is usable (else NULL), *type the type
 * (else REQ__COUNT).  Returns 0 when there was no problem. */
int request__check_envelope(const json_t *req, twin_errors *errs,
                            const char **id, req_type *type);

/* Is s usable as one topic level (ids, run ids)? */
int request__topic_safe(const char *s);

/* The run id a request gives in its "run" member (present: the caller
 * checks that), or NULL with the problem in errs: wrong_type when it is
 * not a string, out_of_range when it cannot be a topic level (the same
 * rule and code as for "id"). */
const char *request__run_id(const json_t *run, twin_errors *errs);

/* The result encoding a run or replay request asks for in its optional
 * "encoding" member: 0 for "json" (or none), 1 for "cbor"; anything else
 * is a problem in errs at /encoding (wrong_type, out_of_range) and 0. */
int request__encoding(const json_t *req, twin_errors *errs);

#endif
