/*
 * json_out.c — compact JSON text with the results' number format (see
 * json_out.h).  jansson writes every real with %.17g and has no hook for
 * another format, so the tree is walked here; everything else is as
 * json_dumps(v, JSON_COMPACT) writes it.
 */
#include "json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        if (b == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void put_string(text *t, const char *s, size_t n)
{
    put(t, "\"", 1);
    size_t run = 0; /* bytes written as they are, not yet put */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *e = NULL;
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04X", c);
                e = esc;
            }
        }
        if (e == NULL) {
            run++;
            continue;
        }
        put(t, s + i - run, run);
        run = 0;
        put(t, e, strlen(e));
    }
    put(t, s + n - run, run);
    put(t, "\"", 1);
}

static void put_value(text *t, const json_t *v)
{
    char num[64];
    int n;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        int first = 1;
        put(t, "{", 1);
        json_object_foreach((json_t *)v, k, m) {
            if (!first)
                put(t, ",", 1);
            first = 0;
            put_string(t, k, strlen(k));
            put(t, ":", 1);
            put_value(t, m);
        }
        put(t, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(t, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                put(t, ",", 1);
            put_value(t, json_array_get(v, i));
        }
        put(t, "]", 1);
        break;
    case JSON_STRING:
        put_string(t, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        put(t, num, (size_t)n);
        break;
    case JSON_REAL:
        /* jansson holds only finite reals. */
        n = csv__number(num, sizeof num - 2, json_real_value(v));
        if (strpbrk(num, ".eE") == NULL) {
            memcpy(num + n, ".0", 3);
            n += 2;
        }
        put(t, num, (size_t)n);
        break;
    case JSON_TRUE: put(t, "true", 4); break;
    case JSON_FALSE: put(t, "false", 5); break;
    case JSON_NULL: put(t, "null", 4); break;
    }
}

char *json_out__dumps(const json_t *v)
{
    text t = {0};
    if (v == NULL)
        return NULL;
    put_value(&t, v);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
