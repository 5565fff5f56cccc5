/*
 * topic.c — MQTT topic names this controller may publish to, and where
 * the answers to a request go (see topic.h).
 */
#include "topic.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The code point at s (n bytes left) in *cp, and its length; 0 when the
 * bytes there are not UTF-8 in its shortest form, or a surrogate. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] < 0x80           ? 1
                 : (s[0] & 0xE0) == 0xC0 ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t c = len == 1 ? s[0] : s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

const char *topic__publish_problem(const char *topic, size_t len)
{
    const unsigned char *s = (const unsigned char *)topic;
    if (topic == NULL || len == 0)
        return "it is empty";
    if (len > TOPIC_MAX)
        return "it is longer than MQTT's 65535 bytes";
    if (s[0] == '$')
        return "it starts with '$' (the broker keeps those topics, such as "
               "$SYS/, for itself)";
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = utf8_next(s + i, len - i, &c);
        if (n == 0)
            return "it is not UTF-8";
        if (c == '+' || c == '#')
            return c == '+' ? "it contains the wildcard '+'"
                            : "it contains the wildcard '#'";
        if (c == 0)
            return "it contains a NUL byte";
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
            return "it contains a control character";
        if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
            return "it contains a Unicode noncharacter";
        i += n;
    }
    return NULL;
}

void topic__excerpt(const char *s, size_t len, char *out, size_t out_len)
{
    size_t w = 0;
    if (out_len == 0)
        return;
    for (size_t i = 0; i < len && i < 64 && w + 1 < out_len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[w++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    if (len > 64 && w + 4 < out_len) {
        memcpy(out + w, "...", 3);
        w += 3;
    }
    out[w] = '\0';
}

int topic__reply(const char *base, const char *id, const char *rt,
                 size_t rt_len, int acl, char **topic, char *why,
                 size_t why_len)
{
    const char *problem = rt ? topic__publish_problem(rt, rt_len) : NULL;
    size_t blen = strlen(base);
    /* Under an ACL, a topic outside the controller's own would be refused
     * by the broker: the default one is used instead, without an error. */
    int own = rt && rt_len > blen && memcmp(rt, base, blen) == 0 &&
              rt[blen] == '/';
    *topic = NULL;
    if (rt && problem == NULL && (!acl || own)) {
        *topic = strndup(rt, rt_len);
        return 0;
    }
    if (asprintf(topic, "%s/%s", base, id ? id : "_invalid") < 0)
        *topic = NULL;
    if (problem == NULL)
        return 0;
    char shown[72];
    topic__excerpt(rt, rt_len, shown, sizeof shown);
    snprintf(why, why_len, "the request's MQTT v5 response topic property "
             "'%s' is not a topic this controller can publish to: %s; give "
             "a topic name without + or #, not starting with $ (or no "
             "response topic: the answer then goes to %s/<id>, as this one "
             "did)", shown, problem, base);
    return -1;
}
