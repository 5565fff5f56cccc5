/*
 * mqtt.h — the one place twinctl talks to paho.mqtt.c (MQTTAsync, MQTT v5).
 *
 * paho calls back on its own threads; every callback here only copies what
 * it got onto a queue and wakes the owner through an eventfd, so all of
 * twinctl's MQTT logic runs on the owner's thread: poll mqtt__wake_fd(),
 * then drain mqtt__next().  Connection state, inbound messages and the
 * broker's acknowledgement of each QoS 1 publish arrive as events.  The
 * client reconnects by itself and subscribes again after every connect.
 * TCP_NODELAY is set on the connection after every connect (paho 1.3 has
 * no option for it), so small replies do not wait for Nagle's algorithm.
 */
#ifndef TWIN_MQTT_H
#define TWIN_MQTT_H

#include <stddef.h>
#include <stdint.h>

typedef struct mqtt_client mqtt_client;

typedef enum mqtt_event_kind {
    MQTT_EV_CONNECTED,     /* (re)connected and subscribed */
    MQTT_EV_LOST,          /* connection lost; paho retries by itself */
    MQTT_EV_CONNECT_FAILED,/* a connect attempt failed (text says); after
                            * the first one call mqtt__reconnect, later
                            * ones paho retries by itself */
    MQTT_EV_MESSAGE,       /* an inbound message */
    MQTT_EV_PUBACK,        /* a QoS ≥ 1 publish was acknowledged (tag) */
    MQTT_EV_PUBFAIL        /* a publish failed (tag); send it again later */
} mqtt_event_kind;

typedef struct mqtt_event {
    mqtt_event_kind kind;
    uint64_t tag;              /* PUBACK, PUBFAIL: the publisher's tag */
    char *text;                /* a sentence, or NULL */
    /* MESSAGE: */
    char *topic;
    char *payload;             /* NUL-terminated copy; len excludes the NUL */
    size_t len;
    char *response_topic;      /* MQTT v5 property, or NULL */
    void *correlation;         /* MQTT v5 property, or NULL */
    size_t correlation_len;
    int retained;
} mqtt_event;

typedef struct mqtt_options {
    const char *url;           /* tcp://127.0.0.1:1883 */
    const char *client_id;
    const char *will_topic;    /* NULL: no last will */
    const char *will_payload;
    int will_retained;
    const char *const *subscriptions; /* re-subscribed on every connect */
    size_t n_subscriptions;
    int keepalive;             /* seconds, 0: 30 */
    int connect_timeout;       /* seconds, 0: 5 */
} mqtt_options;

typedef struct mqtt_publish {
    const char *topic;
    const void *payload;
    size_t len;
    int qos;
    int retained;
    const char *response_topic;  /* v5 properties to set, or NULL */
    const void *correlation;
    size_t correlation_len;
    uint64_t tag;              /* QoS ≥ 1: reported in PUBACK/PUBFAIL */
} mqtt_publish;

/* Create and start connecting.  Returns NULL with a sentence in why. */
mqtt_client *mqtt__start(const mqtt_options *o, char *why, size_t why_len);

/* Try the first connect again (after MQTT_EV_CONNECT_FAILED; later
 * reconnects are automatic).  Returns 0 or -1. */
int mqtt__reconnect(mqtt_client *c);

/* Readable when events are waiting. */
int mqtt__wake_fd(const mqtt_client *c);

/* The next event, or NULL when there is none (never blocks).  Free with
 * mqtt__event_free. */
mqtt_event *mqtt__next(mqtt_client *c);
void mqtt__event_free(mqtt_event *e);

/* Queue a publish.  Returns 0, or -1 when paho refused it right away (not
 * connected, or its queue is full); the caller keeps the message. */
int mqtt__publish(mqtt_client *c, const mqtt_publish *p);

/* Add a subscription (kept for reconnects).  Returns 0 or -1. */
int mqtt__subscribe(mqtt_client *c, const char *topic);

int mqtt__is_connected(const mqtt_client *c);

/* Publishes still waiting for their acknowledgement. */
size_t mqtt__in_flight(const mqtt_client *c);

/* Disconnect (waiting up to timeout_ms for in-flight work) and free. */
void mqtt__stop(mqtt_client **c, int timeout_ms);

/* Does an MQTT topic filter (with + and #) match a topic? */
int mqtt__topic_matches(const char *filter, const char *topic);

#endif
