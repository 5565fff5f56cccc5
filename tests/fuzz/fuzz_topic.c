/*
 * fuzz_topic.c — libFuzzer harness: the topics a request chooses and the
 * ids that become topic levels and the MQTT client id (topic.c,
 * request__topic_safe).  The input is a flags byte (bit 0: a broker
 * login, so the ACL rule holds; bit 1: the request carried a response
 * topic), a length byte, that many bytes of id (a request id, a run id, a
 * controller id — the daemon's client id), and the rest is the MQTT v5
 * response topic property as it arrived.
 *
 * Checked beyond crashes: an id accepted as a topic level makes topics
 * and a client id that can be published to and connected with; a topic
 * accepted for publishing has no wildcard, no $ first, no NUL, is 1 to
 * 65535 bytes and is UTF-8 that jansson takes; topic__reply always gives
 * a topic that can be published to, uses the response topic exactly when
 * it should, and explains a refusal in a sentence that reaches the wire.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "request.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int publishable(const char *t)
{
    return t != NULL && topic__publish_problem(t, strlen(t)) == NULL;
}

static void check_id(const char *id)
{
    if (!request__topic_safe(id))
        return;
    char t[512];
    snprintf(t, sizeof t, "twin/%s/response/%s", id, id);
    /* As a topic level and as the daemon's client id (MQTT: UTF-8, no
     * NUL, at most 65535 bytes). */
    if (!publishable(t) || !publishable(id) || strchr(id, '/') != NULL)
        abort();
}

static void check_topic(const char *rt, size_t len)
{
    const char *problem = topic__publish_problem(rt, len);
    json_t *s = json_stringn(rt, len);
    if (problem == NULL &&
        (len == 0 || len > TOPIC_MAX || rt[0] == '$' || s == NULL ||
         memchr(rt, '+', len) || memchr(rt, '#', len) || memchr(rt, 0, len)))
        abort(); /* accepted what a broker refuses */
    json_decref(s);
    char shown[72];
    topic__excerpt(rt, len, shown, sizeof shown);
    if (strlen(shown) > 67)
        abort();
    for (const char *p = shown; *p; p++)
        if (*p < 0x20 || *p > 0x7E)
            abort();
}

static void check_reply(const char *id, const char *rt, size_t len, int acl)
{
    const char *base = "twin/ctl-1/response";
    char *topic = NULL, why[512] = "";
    int rc = topic__reply(base, request__topic_safe(id) ? id : NULL, rt, len,
                          acl, &topic, why, sizeof why);
    if (topic == NULL)
        abort();
    int usable = rt != NULL && topic__publish_problem(rt, len) == NULL;
    if (!publishable(topic) || (rc != 0 && (rt == NULL || usable)) ||
        (rc == 0 && rt != NULL && !usable))
        abort();
    int used = strlen(topic) == len && rt != NULL &&
               memcmp(topic, rt, len) == 0;
    if (usable && !acl && !used)
        abort(); /* a good response topic not honoured */
    if (rc != 0) {
        json_t *w = json_string(why);
        if (w == NULL || why[0] == '\0' ||
            strstr(why, "response topic") == NULL)
            abort(); /* the refusal would not reach the wire */
        json_decref(w);
    }
    free(topic);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int acl = data[0] & 1, has_rt = data[0] & 2;
    size_t id_len = data[1] % 160;
    if (id_len > size - 2)
        id_len = size - 2;
    char *id = strndup((const char *)data + 2, id_len);
    const char *rt = (const char *)data + 2 + id_len;
    size_t rt_len = size - 2 - id_len;
    if (id == NULL)
        return 0;
    check_id(id);
    check_topic(rt, rt_len);
    check_reply(id, has_rt ? rt : NULL, rt_len, acl);
    free(id);
    return 0;
}
