/*
 * waiters.c — retries of a request in progress that want its answer
 * elsewhere (see waiters.h).  The answer itself is the one remembered
 * for retries (answers.c), sent by respond.c; this file only keeps where
 * else it goes.
 */
#include "waiters.h"

#include <string.h>

static int same_place(const reply_to *a, const reply_to *b)
{
    return a->topic && b->topic && strcmp(a->topic, b->topic) == 0 &&
           a->correlation_len == b->correlation_len &&
           (a->correlation_len == 0 ||
            memcmp(a->correlation, b->correlation, a->correlation_len) == 0);
}

int waiters__add(waiters *w, const reply_to *first, const reply_to *to)
{
    if (same_place(first, to))
        return 0;
    for (size_t i = 0; i < w->n; i++)
        if (same_place(&w->to[i], to))
            return 0;
    if (w->n == WAITERS_MAX || request__reply_copy(&w->to[w->n], to) != 0)
        return 0;
    w->n++;
    return 1;
}

void waiters__free(waiters *w)
{
    for (size_t i = 0; i < w->n; i++)
        request__reply_free(&w->to[i]);
    w->n = 0;
}
