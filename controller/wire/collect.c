/*
 * collect.c — one run's results put back in order and written to a
 * result file (see collect.h).  A message is read (result_msg.h: JSON or CBOR, by its
 * content type) when it comes, so that what waits is its doubles.
 *
 * Messages that came before their turn wait in an array indexed by seq;
 * in the usual case (in order, one controller) each is written at once
 * and the array stays empty.  Until the source is known a seq can come
 * from more than one controller: the slot then chains them, and learning
 * the source keeps only its own.
 */
#include "collect.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


typedef struct held {
    result_msg *msg;
    char *source;
    struct held *next;     /* the same seq from other sources */
} held;

struct collect {
    rows_out *out;
    const char *scenario;
    json_t *columns;
    size_t n_cols;
    char *source;          /* NULL until known: nothing is written */
    held *held;
    size_t cap;
    long long next;        /* the next seq to write */
    unsigned long long received, rows, duplicates, bad;
    double t;
};

static void fail(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keep the first problem of a call. */
static void fail(char *why, size_t len, const char *fmt, ...)
{
    if (why == NULL || len == 0 || why[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

collect *collect__new(rows_out *out, const char *scenario)
{
    collect *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->out = out;
    c->scenario = scenario;
    c->t = -INFINITY;
    return c;
}

static void held_free_one(held *h)
{
    if (h->msg != NULL)
        result_msg__clear(h->msg);
    free(h->msg);
    free(h->source);
}

/* Empty a slot, its chain included. */
static void held_clear(held *h)
{
    held *more = h->next;
    held_free_one(h);
    memset(h, 0, sizeof *h);
    while (more != NULL) {
        held *next = more->next;
        held_free_one(more);
        free(more);
        more = next;
    }
}

/* Keep only source's message in a slot. */
static void held_keep(held *h, const char *source)
{
    held *keep = NULL;
    for (held *x = h; x != NULL && x->msg != NULL; x = x->next)
        if (strcmp(x->source, source) == 0)
            keep = x;
    held mine = {0};
    if (keep != NULL) {
        mine = *keep;           /* take it out before the rest goes */
        mine.next = NULL;
        keep->msg = NULL;
        keep->source = NULL;
    }
    held_clear(h);
    *h = mine;
}

void collect__free(collect **cp)
{
    collect *c = *cp;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->cap; i++)
        held_clear(&c->held[i]);
    free(c->held);
    free(c->source);
    json_decref(c->columns);
    free(c);
    *cp = NULL;
}

int collect__columns(collect *c, const json_t *columns)
{
    if (c->columns != NULL || !json_is_array(columns) ||
        json_array_size(columns) == 0)
        return 0;
    size_t n = json_array_size(columns);
    const char **names = calloc(n, sizeof *names);
    if (names == NULL)
        return -1;
    c->columns = json_incref((json_t *)columns);
    c->n_cols = n;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(columns, i));
        names[i] = s ? s : "?";
    }
    rows_header h = {.n = n, .names = names, .scenario = c->scenario};
    if (c->out)
        rows_out__header(c->out, &h); /* a failure shows at the rows */
    free(names);
    return 0;
}

/* Check one message's rows against the run's columns and write them. */
static int write_msg(collect *c, const result_msg *m, long long seq,
                     char *why, size_t why_len)
{
    if (m->columns != NULL && collect__columns(c, m->columns) != 0) {
        fail(why, why_len, "out of memory writing the rows");
        return -1;
    }
    if (c->columns == NULL) {
        fail(why, why_len, "result seq %lld has no \"columns\"; its rows "
             "are left out", seq);
        return -1;
    }
    if (m->columns != NULL && !json_equal(m->columns, c->columns)) {
        fail(why, why_len, "result seq %lld has other columns than the run "
             "was accepted with; its rows are left out", seq);
        return -1;
    }
    if (m->n_rows > 0 && m->n_cols != c->n_cols) {
        fail(why, why_len, "result seq %lld, row 0 has %zu values for %zu "
             "columns; its rows are left out", seq, m->n_cols, c->n_cols);
        return -1;
    }
    for (size_t i = 0; i < m->n_rows; i++) {
        const double *row = m->values + i * c->n_cols;
        if (c->out && rows_out__row(c->out, row, c->n_cols) != 0) {
            fail(why, why_len, "%s", rows_out__why(c->out));
            return -1;
        }
        c->rows++;
        if (row[0] > c->t)
            c->t = row[0];
    }
    return 0;
}

/* Write the held messages that are next in seq order. */
static int flush(collect *c, char *why, size_t why_len)
{
    int rc = 0;
    if (c->source == NULL)
        return 0;
    while ((size_t)c->next < c->cap && c->held[c->next].msg != NULL) {
        if (write_msg(c, c->held[c->next].msg, c->next, why, why_len) != 0) {
            c->bad++;
            rc = -1;
        }
        held_clear(&c->held[c->next]);
        c->next++;
    }
    return rc;
}

int collect__source(collect *c, const char *source, char *why,
                    size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    if (c->source != NULL)
        return 0;
    if ((c->source = strdup(source)) == NULL) {
        fail(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = (size_t)c->next; i < c->cap; i++)
        if (c->held[i].msg != NULL)
            held_keep(&c->held[i], source);
    return flush(c, why, why_len);
}

int collect__take_msg(collect *c, result_msg *msg, const char *source,
                      char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    long long seq = (long long)msg->seq;
    if ((c->source != NULL && strcmp(source, c->source) != 0)) {
        result_msg__clear(msg); /* another controller's run of the same id */
        return 0;
    }
    int dup = seq < c->next;
    for (held *h = (size_t)seq < c->cap ? &c->held[seq] : NULL;
         !dup && h != NULL && h->msg != NULL; h = h->next)
        dup = strcmp(h->source, source) == 0;
    if (dup) {
        c->duplicates++;
        result_msg__clear(msg);
        return 1;
    }
    if ((size_t)seq >= c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap <= (size_t)seq)
            cap *= 2;
        held *h = realloc(c->held, cap * sizeof *h);
        if (h == NULL)
            goto oom;
        memset(h + c->cap, 0, (cap - c->cap) * sizeof *h);
        c->held = h;
        c->cap = cap;
    }
    held *slot = &c->held[seq], *h = slot;
    if (slot->msg != NULL) {   /* another source's: chain this one */
        if ((h = calloc(1, sizeof *h)) == NULL)
            goto oom;
        h->next = slot->next;
        slot->next = h;
    }
    if ((h->source = strdup(source)) == NULL ||
        (h->msg = malloc(sizeof *h->msg)) == NULL) {
        free(h->source);
        h->source = NULL;
        if (h != slot) {
            slot->next = h->next;
            free(h);
        }
        goto oom;
    }
    *h->msg = *msg;            /* taken over */
    memset(msg, 0, sizeof *msg);
    c->received++;
    return flush(c, why, why_len);
oom:
    fail(why, why_len, "out of memory holding result seq %lld", seq);
    result_msg__clear(msg);
    c->bad++;
    return -1;
}

/* A message that cannot be read: refused, and counted. */
static int refuse(collect *c, char *why, size_t why_len)
{
    c->bad++;
    if (why && why_len && why[0] != '\0') {
        size_t n = strlen(why);
        snprintf(why + n, why_len - n, "; ignored");
    }
    return -1;
}

int collect__take(collect *c, json_t *msg, const char *source, char *why,
                  size_t why_len)
{
    result_msg m;
    int rc = result_msg__from_json(msg, &m, why, why_len);
    json_decref(msg);
    return rc != 0 ? refuse(c, why, why_len)
                   : collect__take_msg(c, &m, source, why, why_len);
}

int collect__take_payload(collect *c, const char *payload, size_t len,
                          const char *content_type, const char *source,
                          char *why, size_t why_len)
{
    result_msg m;
    if (result_msg__decode(payload, len, result_msg__is_cbor(content_type),
                           &m, why, why_len) != 0)
        return refuse(c, why, why_len);
    return collect__take_msg(c, &m, source, why, why_len);
}

long long collect__next_seq(const collect *c)
{
    return c->next;
}

unsigned long long collect__received(const collect *c)
{
    return c->received;
}

unsigned long long collect__rows(const collect *c)
{
    return c->rows;
}

unsigned long long collect__duplicates(const collect *c)
{
    return c->duplicates;
}

unsigned long long collect__bad(const collect *c)
{
    return c->bad;
}

double collect__t(const collect *c)
{
    return c->t;
}

int collect__complete(const collect *c, long long last_seq)
{
    return c->next > last_seq;
}

static int have(const collect *c, long long q)
{
    return (size_t)q < c->cap && c->held[q].msg != NULL;
}

long long collect__missing(const collect *c, long long last_seq, char *buf,
                           size_t len)
{
    size_t used = 0;
    long long missing = 0;
    if (len > 0)
        buf[0] = '\0';
    for (long long q = c->next; q <= last_seq; q++) {
        if (have(c, q))
            continue;
        long long end = q;
        while (end < last_seq && !have(c, end + 1))
            end++;
        missing += end - q + 1;
        if (used + 48 < len) {
            int n = end > q ? snprintf(buf + used, len - used, "%s%lld-%lld",
                                       used ? ", " : "", q, end)
                            : snprintf(buf + used, len - used, "%s%lld",
                                       used ? ", " : "", q);
            used += (size_t)n;
            if (used + 48 >= len)
                used += (size_t)snprintf(buf + used, len - used, ", ...");
        }
        q = end;
    }
    return missing;
}

int collect__gap(const collect *c, long long from, long long last_seq,
                 long long *first, long long *last)
{
    long long q = from > c->next ? from : c->next;
    while (q <= last_seq && have(c, q))
        q++;
    if (q > last_seq)
        return 0;
    long long end = q;
    while (end < last_seq && !have(c, end + 1))
        end++;
    *first = q;
    *last = end;
    return 1;
}
