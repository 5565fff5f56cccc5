/*
 * answers.h — the memory of answers: the last response given to each
 * request id, kept so that a retry (the same id again) is answered with
 * it instead of being processed twice (docs/contract.md, "A request id
 * seen again").  A hash of ids with an age list: bounded by a count and
 * a number of bytes (limits.remembered, limits.remembered_bytes); the
 * oldest answer goes first.
 *
 * Only the store: sending a response and answering a retry from it are
 * respond.c's.
 */
#ifndef TWIN_ANSWERS_H
#define TWIN_ANSWERS_H

#include <stddef.h>

#include "request.h"

typedef struct memo {
    char *id;
    reply_to reply;
    char *response;          /* the last response sent */
    size_t bytes;            /* counted against the bound in bytes */
    struct memo *next_in_bucket;
    struct memo *newer, *older; /* by when the answer was last given */
} memo;

typedef struct answers {
    memo **buckets;
    size_t n_buckets, count;
    size_t bytes;
    memo *oldest, *newest;
} answers;

/* An empty memory of n_buckets buckets.  Returns 0, or -1 out of memory. */
int answers__init(answers *a, size_t n_buckets);

/* Remember response as the answer to id (replacing an earlier one: a
 * run's final response replaces its `accepted`), as the newest; then
 * forget the oldest answers while more than max_count are kept or they
 * take more than max_bytes — but never the one just given, even if it
 * alone is larger.  Out of memory, nothing is remembered. */
void answers__remember(answers *a, const char *id, const char *response,
                       size_t max_count, size_t max_bytes);

/* The answer remembered for id, or NULL. */
const char *answers__find(const answers *a, const char *id);

/* Forget every answer and free the buckets. */
void answers__free(answers *a);

#endif
