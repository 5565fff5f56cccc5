/*
 * mqtt.h — the one place twinctl talks to paho.mqtt.c (MQTTAsync, MQTT v5).
 *
 * paho calls back on its own threads; every callback here only copies what
 * it got onto a queue and wakes the owner through an eventfd, so all of
 * twinctl's MQTT logic runs on the owner's thread: poll mqtt__wake_fd(),
 * then drain mqtt__next().  Connection state, inbound messages and the
 * broker's acknowledgement of each QoS 1 publish arrive as events.  The
 * client reconnects by itself — each time with a new paho handle, after a
 * backoff of its own (0.1 s after a connection that lasted, then doubling
 * from 0.25 s up to 4 s), never with paho's automatic reconnect, so that
 * nothing paho held for one connection is written on the next — and
 * subscribes again after every connect.  A publish not acknowledged when
 * its connection ended is reported failed (MQTT_EV_PUBFAIL), or its
 * acknowledgement never comes: what was not acknowledged is the
 * caller's to send again after MQTT_EV_CONNECTED.
 * TCP_NODELAY is set on the connection after every connect (paho 1.3 has
 * no option for it), so small replies do not wait for Nagle's algorithm.
 *
 * Security: an ssl:// or mqtts:// URL connects over TLS and checks the
 * broker's certificate (against ca_file, else the system's CAs) and that
 * it names the host of the URL; a client certificate and key, a username
 * and a password are optional.  A password never comes from the command
 * line: the caller gives it, or the name of a file holding it, or it is
 * read from the environment (TWIN_MQTT_PASSWORD).  The daemon's
 * mqtt_security.c (config.h) fills these options from a configuration's
 * "security" object.
 */
#ifndef TWIN_MQTT_H
#define TWIN_MQTT_H

#include <stddef.h>
#include <stdint.h>

typedef struct mqtt_client mqtt_client;

typedef enum mqtt_event_kind {
    MQTT_EV_CONNECTED,     /* (re)connected and subscribed */
    MQTT_EV_LOST,          /* connection lost; the client connects again
                            * by itself */
    MQTT_EV_CONNECT_FAILED,/* a connect attempt failed (text says); after
                            * the first one call mqtt__reconnect, later
                            * ones the client retries by itself */
    MQTT_EV_MESSAGE,       /* an inbound message */
    MQTT_EV_PUBACK,        /* a QoS ≥ 1 publish was acknowledged (tag),
                            * or refused for good (see refused) */
    MQTT_EV_PUBFAIL,       /* a publish failed (tag); send it again later */
    MQTT_EV_SUBACK         /* the broker answered mqtt__subscribe_tagged
                            * (tag): subscribed, or refused (text says) */
} mqtt_event_kind;

typedef struct mqtt_event {
    mqtt_event_kind kind;
    uint64_t tag;              /* PUBACK, PUBFAIL: the publisher's tag */
    char *text;                /* a sentence, or NULL */
    int refused;               /* PUBACK, SUBACK: the broker answered with a
                                * failure
                                * reason (MQTT v5 reason code >= 0x80, e.g.
                                * 0x87 not authorised by its ACL): the
                                * message is gone for good and sending it
                                * again would be refused again; text says
                                * why.  0: delivered.
                                * CONNECT_FAILED: the broker was there but
                                * said no (TLS, or the login), and text
                                * says what to check; 0: no broker there */
    /* MESSAGE: */
    char *topic;
    char *payload;             /* NUL-terminated copy; len excludes the NUL */
    size_t len;
    char *response_topic;      /* MQTT v5 property, or NULL (NUL-terminated
                                * copy; response_topic_len its bytes) */
    size_t response_topic_len;
    void *correlation;         /* MQTT v5 property, or NULL */
    size_t correlation_len;
    char *content_type;        /* MQTT v5 property (NUL-terminated copy),
                                * or NULL */
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
    uint32_t max_packet;       /* MQTT v5 Maximum Packet Size announced at
                                * CONNECT: the broker drops larger
                                * messages instead of sending them; 0: none */
    size_t max_queued;         /* inbound messages waiting for the owner
                                * before paho's thread waits (back-pressure
                                * to the broker instead of memory; it does
                                * not wait while the owner is calling into
                                * paho, which needs that thread's mutex);
                                * 0: none */
    /* TLS (only with an ssl:// or mqtts:// url; given with a tcp:// url
     * they are refused rather than ignored) and credentials.  NULL: none.
     * Every string is copied; files are checked to be readable at start. */
    const char *ca_file;       /* PEM CAs the broker's certificate must
                                * chain to; NULL: the system's CAs */
    const char *cert_file;     /* client certificate (PEM) */
    const char *key_file;      /* its private key (PEM); NULL: in cert_file */
    const char *username;
    const char *password;      /* the password itself, read by the caller
                                * from a file or the environment */
    const char *password_file; /* or a file whose first line is it; with
                                * neither, and a username, the environment's
                                * TWIN_MQTT_PASSWORD (if set) */
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
    const char *content_type;  /* v5 property, or NULL */
    uint64_t tag;              /* QoS ≥ 1: reported in PUBACK/PUBFAIL */
} mqtt_publish;

/* Create and start connecting.  Returns NULL with a sentence in why (a
 * bad URL, TLS files given without a TLS URL, a file that cannot be read,
 * a password without a username).  A TLS or login failure comes later, as
 * MQTT_EV_CONNECT_FAILED, whose text says what failed (the TLS library's
 * own words and the CA file to check, or the broker's refusal of the
 * login). */
mqtt_client *mqtt__start(const mqtt_options *o, char *why, size_t why_len);

/* Try the first connect again (after MQTT_EV_CONNECT_FAILED; later
 * reconnects are automatic, and calling it then only makes the next
 * attempt now).  Nothing happens while a connect is under way or the
 * client is connected.  Returns 0 or -1. */
int mqtt__reconnect(mqtt_client *c);

/* Readable when events are waiting, or a planned reconnect is due:
 * poll it, then call mqtt__next (which makes the reconnect). */
int mqtt__wake_fd(const mqtt_client *c);

/* The next event, or NULL when there is none (never blocks; a reconnect
 * that is due is started here, on the caller's thread).  Free with
 * mqtt__event_free. */
mqtt_event *mqtt__next(mqtt_client *c);
void mqtt__event_free(mqtt_event *e);

/* Queue a publish.  Returns 0; -1 when paho refused it right away for
 * now (not connected, its queue is full): the caller keeps the message;
 * -2 when paho refuses it whatever the connection (a topic that is not
 * UTF-8, properties it will not take): sending it again cannot help. */
int mqtt__publish(mqtt_client *c, const mqtt_publish *p);

/* Add a subscription (kept for reconnects).  Returns 0 or -1. */
int mqtt__subscribe(mqtt_client *c, const char *topic);

/* Add n subscriptions (kept for reconnects) and say when the broker has
 * them: while connected they are sent at once and MQTT_EV_SUBACK (tag)
 * follows — refused when the broker refused one, whose reason code text
 * gives; returns 0.  While disconnected they are made with the others on
 * the next connect, and MQTT_EV_CONNECTED says so; returns 1.  -1: not
 * sent (out of memory, or paho refused), and not kept. */
int mqtt__subscribe_tagged(mqtt_client *c, const char *const *topics,
                           size_t n, uint64_t tag);

/* Drop subscriptions (no longer made on reconnect; UNSUBSCRIBE sent when
 * connected).  Topics not subscribed are ignored.  Returns 0 or -1. */
int mqtt__unsubscribe(mqtt_client *c, const char *const *topics, size_t n);

int mqtt__is_connected(const mqtt_client *c);

/* Publishes still waiting for their acknowledgement. */
size_t mqtt__in_flight(const mqtt_client *c);

/* Disconnect (waiting up to timeout_ms for in-flight work) and free. */
void mqtt__stop(mqtt_client **c, int timeout_ms);

/* ---- security ------------------------------------------------------------ */

/* Is this URL one paho opens with TLS (ssl://, mqtts://, wss://)? */
int mqtt__url_is_tls(const char *url);

/* Check o's security options however they were filled: TLS files with a
 * URL that is not TLS, a key without its certificate, a file that cannot
 * be read, a password without a username, and with OpenSSL (tls_check.h)
 * a CA file that is not PEM or holds no certificate in force, a client
 * certificate that is not or is out of its dates, a key that is encrypted
 * or does not belong to the certificate.  o->url must be set.  Returns 0,
 * or -1 with a sentence in why. */
int mqtt__check_security(const mqtt_options *o, char *why, size_t why_len);

/* The password for o: o->password, else the first line of
 * o->password_file, else (with a username) $TWIN_MQTT_PASSWORD.  Returns
 * a new string (free it with mqtt__free_password), NULL when there is
 * none; sets *failed and a sentence in why when the file cannot be read
 * or is empty. */
char *mqtt__read_password(const mqtt_options *o, int *failed, char *why,
                          size_t why_len);

/* Remove TWIN_MQTT_PASSWORD from this process's environment, its value
 * overwritten where it was, so that no process started or forked from
 * here after (a run, a plugin call) inherits it and /proc/<pid>/environ
 * no longer shows it.  The daemon reads the password first. */
void mqtt__scrub_password_env(void);

/* Overwrite and free a password; clears *p. */
void mqtt__free_password(char **p);

/* Does an MQTT topic filter (with + and #) match a topic? */
int mqtt__topic_matches(const char *filter, const char *topic);

#endif
