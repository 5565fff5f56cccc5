/*
 * answers.c — the memory of answers given, by request id (answers.h): a
 * hash of ids for the lookup, a list by age for the eviction.
 */
#include "answers.h"

#include <stdlib.h>
#include <string.h>

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static memo *memo_find(const answers *a, const char *id)
{
    for (memo *m = a->buckets[hash(id) % a->n_buckets]; m;
         m = m->next_in_bucket)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

/* The age list: newest at one end, oldest (evicted first) at the other. */
static void memo_unlink(answers *a, memo *m)
{
    if (m->older)
        m->older->newer = m->newer;
    else
        a->oldest = m->newer;
    if (m->newer)
        m->newer->older = m->older;
    else
        a->newest = m->older;
    m->newer = m->older = NULL;
}

static void memo_link_newest(answers *a, memo *m)
{
    m->older = a->newest;
    m->newer = NULL;
    if (a->newest)
        a->newest->newer = m;
    else
        a->oldest = m;
    a->newest = m;
}

static void memo_evict_oldest(answers *a)
{
    memo *m = a->oldest;
    if (m == NULL)
        return;
    memo_unlink(a, m);
    memo **link = &a->buckets[hash(m->id) % a->n_buckets];
    while (*link != m)
        link = &(*link)->next_in_bucket;
    *link = m->next_in_bucket;
    a->bytes -= m->bytes;
    free(m->id);
    free(m->response);
    request__reply_free(&m->reply);
    free(m);
    a->count--;
}

int answers__init(answers *a, size_t n_buckets)
{
    memset(a, 0, sizeof *a);
    a->n_buckets = n_buckets;
    a->buckets = calloc(a->n_buckets, sizeof *a->buckets);
    return a->buckets ? 0 : -1;
}

void answers__remember(answers *a, const char *id, const char *response,
                       size_t max_count, size_t max_bytes)
{
    char *text = strdup(response);
    if (text == NULL)
        return;
    memo *m = memo_find(a, id);
    if (m == NULL) {
        m = calloc(1, sizeof *m);
        if (m == NULL || (m->id = strdup(id)) == NULL) {
            free(m);
            free(text);
            return;
        }
        size_t b = hash(id) % a->n_buckets;
        m->next_in_bucket = a->buckets[b];
        a->buckets[b] = m;
        a->count++;
    } else {
        memo_unlink(a, m);
        a->bytes -= m->bytes;
        free(m->response);
    }
    m->response = text;
    /* What it holds (malloc's own overhead aside). */
    m->bytes = sizeof *m + strlen(m->id) + 1 + strlen(text) + 1;
    a->bytes += m->bytes;
    memo_link_newest(a, m);
    while ((a->count > max_count || a->bytes > max_bytes) && a->oldest != m)
        memo_evict_oldest(a);
}

const char *answers__find(const answers *a, const char *id)
{
    const memo *m = memo_find(a, id);
    return m ? m->response : NULL;
}

void answers__free(answers *a)
{
    while (a->oldest)
        memo_evict_oldest(a);
    free(a->buckets);
    a->buckets = NULL;
}
