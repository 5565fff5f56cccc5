/*
 * topic.h — which MQTT topic names this controller may publish to, and
 * where the answers to a request go.
 *
 * Every topic the controller publishes to that a request chose (the MQTT
 * v5 response topic; ids and run ids are checked as topic levels by
 * request.c) is checked here before the request is accepted, and the
 * sender checks every topic again before it journals or publishes a
 * message: a topic a broker would refuse (a wildcard, a `$` topic, bytes
 * that are not UTF-8 or that brokers treat as malformed) would otherwise
 * cost the controller its connection at every attempt.  Pure functions,
 * no MQTT client: the fuzz harness tests/fuzz/fuzz_topic.c calls them.
 */
#ifndef TWIN_TOPIC_H
#define TWIN_TOPIC_H

#include <stddef.h>

/* MQTT's limit for a topic name, in bytes (a two-byte length). */
#define TOPIC_MAX 65535

/* Why a client cannot publish to the topic name of len bytes (a phrase:
 * "it contains the wildcard '#'"), or NULL when it can: 1 to TOPIC_MAX
 * bytes of UTF-8 (shortest forms, no surrogates), none of them U+0000,
 * another control character or a noncharacter (mosquitto refuses those),
 * no + or #, and not starting with $ (brokers keep those topics, such as
 * $SYS/, for themselves). */
const char *topic__publish_problem(const char *topic, size_t len);

/* A printable excerpt of len bytes for a message or a log line: printable
 * ASCII kept, other bytes '?', at most 64 of them, "..." when cut.  out
 * gets at least 68 bytes. */
void topic__excerpt(const char *s, size_t len, char *out, size_t out_len);

/* Where the answers to a request go: its MQTT v5 response topic rt (rt_len
 * bytes; NULL: none) when a client may publish there — and, under a
 * broker's ACL (acl), only when it is under base ("P/C/response") — else
 * base/id (base/_invalid when id is NULL).  Sets *topic (malloc'd; NULL
 * when out of memory).  Returns 0, or -1 when rt was given but cannot be
 * used because it is not a topic one can publish to: why then says so in
 * a sentence naming the property (and *topic is the default). */
int topic__reply(const char *base, const char *id, const char *rt,
                 size_t rt_len, int acl, char **topic, char *why,
                 size_t why_len);

#endif
