/*
 * jptr.c — RFC 6901 JSON Pointers over jansson values (jptr.h).  A token
 * is unescaped into a bounded buffer on the stack; a token longer than
 * that cannot name a member a payload of this size has in practice and
 * is refused as such, rather than allocated for.
 */
#include "jptr.h"

#include <stdio.h>
#include <string.h>

#define TOKEN_MAX 1024

/* Unescape the token at p (up to the next '/' or the end) into buf.
 * Returns the length, or -1 on a bad escape, -2 when it is too long;
 * *end is where the token stopped. */
static long unescape(const char *p, char *buf, const char **end)
{
    size_t n = 0;
    for (; *p != '\0' && *p != '/'; p++) {
        char c = *p;
        if (c == '~') {
            if (p[1] == '0')
                c = '~';
            else if (p[1] == '1')
                c = '/';
            else
                return -1;
            p++;
        }
        if (n + 1 >= TOKEN_MAX)
            return -2;
        buf[n++] = c;
    }
    buf[n] = '\0';
    *end = p;
    return (long)n;
}

int jptr__valid(const char *ptr)
{
    if (ptr == NULL || (*ptr != '\0' && *ptr != '/'))
        return 0;
    for (const char *p = ptr; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return 0;
    return 1;
}

/* An array index: "0" or digits without a leading zero, < size.
 * Returns 0, -1 when it is no index, -2 when it is past the end. */
static int index_of(const char *tok, size_t len, size_t size, size_t *out)
{
    if (len == 0 || (len > 1 && tok[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++)
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
    if (len > 18)
        return -2; /* no array is that long; and no overflow below */
    size_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (size_t)(tok[i] - '0');
    if (v >= size)
        return -2;
    *out = v;
    return 0;
}

/* "/a/b" (the pointer up to len), or "the top level" when len is 0. */
static const char *place(const char *ptr, size_t len, char *buf, size_t cap)
{
    if (len == 0)
        return "the top level";
    snprintf(buf, cap, "%.*s", (int)len, ptr);
    return buf;
}

const json_t *jptr__get(const json_t *doc, const char *ptr, char *why,
                        size_t why_len)
{
    char tok[TOKEN_MAX], at[256];
    if (ptr == NULL || (*ptr != '\0' && *ptr != '/')) {
        snprintf(why, why_len, "a JSON Pointer is empty or starts with '/'");
        return NULL;
    }
    const json_t *cur = doc;
    const char *p = ptr;
    while (*p == '/') {
        const char *start = p + 1, *end;
        long n = unescape(start, tok, &end);
        if (n == -1) {
            snprintf(why, why_len, "'~' in a JSON Pointer is '~0' or '~1' "
                     "(at offset %zu of %s)", (size_t)(start - ptr), ptr);
            return NULL;
        }
        if (n == -2) {
            snprintf(why, why_len, "a token of JSON Pointer %.64s... is "
                     "longer than %d bytes", ptr, TOKEN_MAX - 1);
            return NULL;
        }
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, (size_t)n);
            if (cur == NULL) {
                snprintf(why, why_len, "there is no member \"%s\" at %s "
                         "(pointer %s)", tok, place(ptr, (size_t)(start - 1 -
                         ptr), at, sizeof at), ptr);
                return NULL;
            }
        } else if (json_is_array(cur)) {
            size_t i = 0;
            int rc = index_of(tok, (size_t)n, json_array_size(cur), &i);
            if (rc == -1) {
                snprintf(why, why_len, "\"%s\" is not an array index (0, 1, "
                         "... without leading zeros) at %s", tok, ptr);
                return NULL;
            }
            if (rc == -2) {
                snprintf(why, why_len, "index %s is past the end of an array "
                         "of %zu at %s", tok, json_array_size(cur), ptr);
                return NULL;
            }
            cur = json_array_get(cur, i);
        } else {
            snprintf(why, why_len, "the value at %s (pointer %s) is not an "
                     "object or an array, so it has no \"%s\"",
                     place(ptr, (size_t)(start - 1 - ptr), at, sizeof at),
                     ptr, tok);
            return NULL;
        }
        p = end;
    }
    return cur;
}
