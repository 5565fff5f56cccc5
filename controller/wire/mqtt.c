/*
 * mqtt.c — paho MQTTAsync (MQTT v5) behind a queue of events.
 *
 * Owns the paho client, its callbacks (which run on paho's threads and do
 * nothing but copy onto the queue and wake the owner), the connection's
 * life — one paho handle per connection, made afresh after every loss,
 * with its own backoff — re-subscription after every connect, the v5
 * response-topic, correlation-data and content-type properties,
 * TCP_NODELAY, and TLS and the login with paho's options (the TLS
 * library's error text is kept and put into the connect failure it
 * explains).  The rules for those options and the password are
 * mqtt_auth.c's; filling them from the configuration is mqtt_security.c's.
 * What the events mean is the owner's business (serve.c,
 * submit_exchange.c, ...).
 *
 * Reconnecting.  paho's automatic reconnect is off.  It kept one handle
 * across connections, with its store of publishes in flight, its retries
 * and its partly written packets, and under it a payload freed at a loss
 * was written out after the reconnect (docs/reliability.md, "A payload
 * corrupted on the wire").  Here a handle lives for one connection: when
 * it is lost (or its connect fails), the owner's thread makes a new handle
 * after a backoff, and destroys the old one then, once none of its
 * callbacks runs — nothing of one connection reaches the next.  What was
 * not acknowledged is the owner's to send again (the daemon's sender keeps
 * every message until its PUBACK); a publish the old handle never
 * answered is reported failed when it is destroyed.
 */
#include "mqtt.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <MQTTReasonCodes.h>

#include "mqtt_auth.h"
#include "util.h"

/* The wait before a new connection after a loss or a failed connect:
 * RETRY_FIRST after a connection that lasted RETRY_STABLE seconds or more,
 * else doubled each time up to RETRY_MAX. */
#define RETRY_FIRST 0.1
#define RETRY_MIN 0.25
#define RETRY_MAX 4.0
#define RETRY_STABLE 5.0

typedef struct node {
    mqtt_event *ev;
    unsigned gen;            /* the connection it came from */
    struct node *next;
} node;

typedef struct conn conn;

/* A call paho answers with a callback — a QoS ≥ 1 publish, a tagged
 * subscription — kept on its connection's list until the callback, or
 * until the connection's handle is destroyed without one. */
typedef struct req {
    conn *cn;
    struct req *prev, *next; /* guarded by the client's lock */
    uint64_t tag;
    size_t n;                /* a subscription's topics; 0: a publish */
} req;

/* One paho handle: one connection, from its connect to its end. */
struct conn {
    mqtt_client *c;
    MQTTAsync h;
    unsigned gen;
    req *reqs;               /* guarded by the client's lock */
    atomic_int in_callback;  /* its callbacks running now */
};

struct mqtt_client {
    conn *cur;               /* owner's: the connection now */
    conn *old;               /* owner's: the one before, destroyed when
                              * the next is made */
    atomic_uint gen;         /* cur's generation, for paho's threads */
    int cur_gone;            /* owner's: cur's connect failed or it was
                              * lost */
    int ever_connected;      /* owner's */
    double connected_at;     /* owner's: when cur connected */
    double retry_at;         /* owner's: make a new connection then (0:
                              * not planned) */
    double backoff;          /* owner's: the last wait, s */
    int efd, tfd, wfd;       /* events, the retry timer, and an epoll of
                              * both: the wake fd */
    pthread_mutex_t lock;
    node *head, *tail;
    char **subs;             /* guarded by lock */
    size_t n_subs;
    atomic_int connected;
    atomic_size_t in_flight;
    char *url, *client_id;
    char *will_topic, *will_payload;
    int will_retained;
    int keepalive, connect_timeout;
    int tls;                 /* an ssl:// (mqtts://, wss://) URL */
    char *ca_file, *cert_file, *key_file;
    char *username, *password;
    char tls_error[512];     /* guarded by lock: the TLS library's words
                                since they were last reported */
    uint32_t max_packet;
    size_t max_queued;       /* inbound messages held at most */
    size_t queued;           /* guarded by lock: events in the queue */
    int owner_in_paho;       /* guarded by lock: the owner is calling paho */
    pthread_cond_t drained;  /* signalled when the owner takes events or
                              * calls into paho */
    atomic_int stopping;
};

/* Queue an event of connection cn for the owner. */
static void push(conn *cn, mqtt_event *ev)
{
    mqtt_client *c = cn->c;
    node *n = malloc(sizeof *n);
    if (n == NULL) {
        mqtt__event_free(ev); /* nothing better to do on a paho thread */
        return;
    }
    n->ev = ev;
    n->gen = cn->gen;
    n->next = NULL;
    pthread_mutex_lock(&c->lock);
    /* Inbound messages past the bound: wait (on paho's thread) until the
     * owner has taken some.  paho then stops reading the socket and the
     * broker holds the rest — memory stays bounded, nothing is dropped.
     * paho calls us holding its own mutex, which the owner needs for
     * every call into paho (a publish): while the owner is in such a
     * call, go on instead (a few messages past the bound), or both would
     * wait for ever. */
    while (ev->kind == MQTT_EV_MESSAGE && c->max_queued > 0 &&
           c->queued >= c->max_queued && !atomic_load(&c->stopping) &&
           c->owner_in_paho == 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&c->drained, &c->lock, &until);
    }
    c->queued++;
    if (c->tail)
        c->tail->next = n;
    else
        c->head = n;
    c->tail = n;
    pthread_mutex_unlock(&c->lock);
    uint64_t one = 1;
    ssize_t w = write(c->efd, &one, sizeof one);
    (void)w; /* a full eventfd counter still wakes the owner */
}

/* Around every call the owner makes into paho (see push). */
static void owner_enter(mqtt_client *c)
{
    pthread_mutex_lock(&c->lock);
    c->owner_in_paho++;
    pthread_cond_broadcast(&c->drained);
    pthread_mutex_unlock(&c->lock);
}

static void owner_leave(mqtt_client *c)
{
    pthread_mutex_lock(&c->lock);
    c->owner_in_paho--;
    pthread_mutex_unlock(&c->lock);
}

static void push_simple(conn *cn, mqtt_event_kind kind, uint64_t tag,
                        const char *text)
{
    mqtt_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return;
    ev->kind = kind;
    ev->tag = tag;
    ev->text = text ? strdup(text) : NULL;
    push(cn, ev);
}

/* Around every callback of a connection: its handle is not destroyed
 * while one runs (retire). */
static void cb_enter(conn *cn)
{
    atomic_fetch_add(&cn->in_callback, 1);
}

static void cb_leave(conn *cn)
{
    atomic_fetch_sub(&cn->in_callback, 1);
}

/* Is cn the connection now (on paho's threads)? */
static int current(const conn *cn)
{
    return atomic_load(&cn->c->gen) == cn->gen;
}

void mqtt__event_free(mqtt_event *e)
{
    if (e == NULL)
        return;
    free(e->text);
    free(e->topic);
    free(e->payload);
    free(e->response_topic);
    free(e->correlation);
    free(e->content_type);
    free(e);
}

/* Nagle's algorithm holds a small publish until the previous one is
 * acknowledged, and delayed ACKs hold that ACK for up to 40 ms: a request
 * answered in microseconds would arrive tens of milliseconds late.  paho
 * 1.3 has no option for TCP_NODELAY and does not expose its socket, so
 * after each connect set it on this process's TCP sockets (setting it on
 * a socket that has it already, or on another TCP connection of the same
 * process, does no harm). */
static void set_nodelay_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name);
        if (fd <= 2)
            continue;
        int type = 0;
        socklen_t len = sizeof type;
        struct sockaddr_storage ss;
        socklen_t slen = sizeof ss;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
            type != SOCK_STREAM ||
            getsockname(fd, (struct sockaddr *)&ss, &slen) != 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    closedir(d);
}

/* ---- callbacks (paho's threads) ----------------------------------------- */

/* OpenSSL's error queue, line by line (ERR_print_errors_cb), on the thread
 * that met the error: the reasons are kept until the failure they explain
 * is reported. */
static int on_ssl_error(const char *str, size_t len, void *u)
{
    mqtt_client *c = u;
    const char *reason;
    size_t rlen;
    while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
        len--;
    mqtt_auth__ssl_reason(str, len, &reason, &rlen);
    pthread_mutex_lock(&c->lock);
    size_t used = strlen(c->tls_error);
    if (rlen > 0 && used + rlen + 3 < sizeof c->tls_error)
        snprintf(c->tls_error + used, sizeof c->tls_error - used, "%s%.*s",
                 used ? "; " : "", (int)rlen, reason);
    pthread_mutex_unlock(&c->lock);
    return 1;
}

/* Take what on_ssl_error kept (empty when nothing). */
static void take_tls_error(mqtt_client *c, char *out, size_t len)
{
    pthread_mutex_lock(&c->lock);
    snprintf(out, len, "%s", c->tls_error);
    c->tls_error[0] = '\0';
    pthread_mutex_unlock(&c->lock);
}

static void on_lost(void *context, char *cause)
{
    conn *cn = context;
    mqtt_client *c = cn->c;
    char tls[sizeof c->tls_error], text[sizeof tls + 128];
    cb_enter(cn);
    if (current(cn))
        atomic_store(&c->connected, 0);
    take_tls_error(c, tls, sizeof tls);
    snprintf(text, sizeof text, "%s%s%s", cause ? cause : "connection lost",
             tls[0] ? "; TLS: " : "", tls);
    push_simple(cn, MQTT_EV_LOST, 0, text);
    cb_leave(cn);
}

static char *property_string(MQTTProperties *props, enum MQTTPropertyCodes id,
                             size_t *len)
{
    MQTTProperty *p = MQTTProperties_getProperty(props, id);
    if (p == NULL)
        return NULL;
    char *s = malloc((size_t)p->value.data.len + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, p->value.data.data, (size_t)p->value.data.len);
    s[p->value.data.len] = '\0';
    if (len)
        *len = (size_t)p->value.data.len;
    return s;
}

static int on_message(void *context, char *topic, int topic_len,
                      MQTTAsync_message *m)
{
    conn *cn = context;
    cb_enter(cn);
    mqtt_event *ev = calloc(1, sizeof *ev);
    if (ev != NULL) {
        size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
        ev->kind = MQTT_EV_MESSAGE;
        ev->topic = strndup(topic, tl);
        ev->payload = malloc((size_t)m->payloadlen + 1);
        if (ev->payload) {
            memcpy(ev->payload, m->payload, (size_t)m->payloadlen);
            ev->payload[m->payloadlen] = '\0';
        }
        ev->len = (size_t)m->payloadlen;
        ev->retained = m->retained;
        ev->response_topic = property_string(
            &m->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC,
            &ev->response_topic_len);
        ev->correlation = property_string(
            &m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA,
            &ev->correlation_len);
        ev->content_type = property_string(
            &m->properties, MQTTPROPERTY_CODE_CONTENT_TYPE, NULL);
        if (ev->topic == NULL || ev->payload == NULL) {
            mqtt__event_free(ev);
            ev = NULL;
        }
    }
    if (ev)
        push(cn, ev);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    cb_leave(cn);
    return 1;
}

/* Connected and subscribed: connection cn is up for the owner. */
static void up(conn *cn)
{
    if (current(cn))
        atomic_store(&cn->c->connected, 1);
    push_simple(cn, MQTT_EV_CONNECTED, 0, NULL);
}

static void on_subscribed(void *context, MQTTAsync_successData5 *r)
{
    conn *cn = context;
    cb_enter(cn);
    up(cn);
    cb_leave(cn);
}

/* The broker refused the subscriptions: lost, for the owner (the next
 * connection tries them again). */
static void on_subscribe_failed(void *context, MQTTAsync_failureData5 *r)
{
    conn *cn = context;
    char text[256];
    cb_enter(cn);
    snprintf(text, sizeof text, "subscribing failed: %s (reason %d)",
             r && r->message ? r->message : "no message",
             r ? (int)r->reasonCode : -1);
    push_simple(cn, MQTT_EV_LOST, 0, text);
    cb_leave(cn);
}

/* A copy of the topics kept for every connect (taken under the lock,
 * used without it: paho must not be called holding the lock, which its
 * threads take in push while holding paho's own mutex). */
static char **copy_subscriptions(mqtt_client *c, size_t *n)
{
    pthread_mutex_lock(&c->lock);
    char **copy = calloc(c->n_subs + 1, sizeof *copy);
    *n = 0;
    for (size_t i = 0; copy != NULL && i < c->n_subs; i++) {
        if ((copy[i] = strdup(c->subs[i])) == NULL) {
            for (size_t j = 0; j < i; j++)
                free(copy[j]);
            free(copy);
            copy = NULL;
        } else {
            *n = i + 1;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return copy;
}

static void subscribe_all(conn *cn)
{
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    opts.onSuccess5 = on_subscribed;
    opts.onFailure5 = on_subscribe_failed;
    opts.context = cn;
    size_t n = 0;
    char **topics = copy_subscriptions(cn->c, &n);
    int *qos = calloc(n + 1, sizeof *qos);
    for (size_t i = 0; qos && i < n; i++)
        qos[i] = 1;
    int rc = topics == NULL || qos == NULL ? -1
             : n == 0 ? MQTTASYNC_SUCCESS
                      : MQTTAsync_subscribeMany(cn->h, (int)n, topics, qos,
                                                &opts);
    for (size_t i = 0; topics && i < n; i++)
        free(topics[i]);
    free(topics);
    free(qos);
    if (rc != MQTTASYNC_SUCCESS)
        push_simple(cn, MQTT_EV_LOST, 0, "could not subscribe");
    else if (n == 0)
        up(cn);
}

static void on_connected(void *context, char *cause)
{
    conn *cn = context;
    cb_enter(cn);
    const char *diag = getenv("TWIN_MQTT_NODELAY"); /* "0": measure Nagle */
    if (diag == NULL || strcmp(diag, "0") != 0)
        set_nodelay_all();
    subscribe_all(cn);
    cb_leave(cn);
}

/* The sentence for a failed connect, into text; returns 1 when the
 * broker was there but said no (TLS, or the login), 0 when none was. */
static int connect_failure(mqtt_client *c, const MQTTAsync_failureData5 *r,
                           char *text, size_t text_len)
{
    char tls[sizeof c->tls_error];
    take_tls_error(c, tls, sizeof tls);
    const mqtt_auth_info a = {c->url, c->username, c->tls, c->ca_file,
                              c->cert_file, c->key_file};
    /* paho gives the CONNACK's refusal as a positive code (its own errors
     * are negative); an MQTT v5 reason code, or 1 to 5 for MQTT 3. */
    int reason = r == NULL ? 0
                 : r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR
                     ? (int)r->reasonCode
                     : r->code > 0 ? r->code : 0;
    return mqtt_auth__connect_failure(&a, reason, r ? r->message : NULL, tls,
                                      text, text_len);
}

static void on_connect_failed(void *context, MQTTAsync_failureData5 *r)
{
    conn *cn = context;
    char text[1536];
    cb_enter(cn);
    int refused = connect_failure(cn->c, r, text, sizeof text);
    mqtt_event *ev = calloc(1, sizeof *ev);
    if (ev != NULL) {
        ev->kind = MQTT_EV_CONNECT_FAILED;
        ev->refused = refused;
        ev->text = strdup(text);
        push(cn, ev);
    }
    cb_leave(cn);
}

/* The broker answered what with a failure reason code (MQTT v5, >=
 * 0x80): a refusal for good, as an event of kind. */
static void push_refused(conn *cn, mqtt_event_kind kind, uint64_t tag,
                         const char *what, enum MQTTReasonCodes reason)
{
    char text[256];
    snprintf(text, sizeof text, "the broker refused the %s: %s (reason %d)",
             what, MQTTReasonCode_toString(reason), (int)reason);
    mqtt_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return;
    ev->kind = kind;
    ev->tag = tag;
    ev->refused = 1;
    ev->text = strdup(text);
    push(cn, ev);
}

/* A request of connection cn, on its list until answered. */
static req *req_new(conn *cn, uint64_t tag, size_t n)
{
    req *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    *q = (req){.cn = cn, .tag = tag, .n = n};
    pthread_mutex_lock(&cn->c->lock);
    q->next = cn->reqs;
    if (cn->reqs)
        cn->reqs->prev = q;
    cn->reqs = q;
    pthread_mutex_unlock(&cn->c->lock);
    if (n == 0)
        atomic_fetch_add(&cn->c->in_flight, 1);
    return q;
}

/* Answered (or given up): off its list, and freed. */
static void req_done(req *q)
{
    conn *cn = q->cn;
    pthread_mutex_lock(&cn->c->lock);
    if (q->prev)
        q->prev->next = q->next;
    else
        cn->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    pthread_mutex_unlock(&cn->c->lock);
    if (q->n == 0)
        atomic_fetch_sub(&cn->c->in_flight, 1);
    free(q);
}

static void on_published(void *context, MQTTAsync_successData5 *r)
{
    req *q = context;
    conn *cn = q->cn;
    cb_enter(cn);
    push_simple(cn, MQTT_EV_PUBACK, q->tag, NULL);
    req_done(q);
    cb_leave(cn);
}

/* A publish or a tagged subscription failed: the broker's answer says
 * no (an ACL, a quota: final), or the connection went — a publish is
 * then to be sent again; a subscription is made on the next connect, and
 * MQTT_EV_CONNECTED says so. */
static void on_request_failed(void *context, MQTTAsync_failureData5 *r)
{
    req *q = context;
    conn *cn = q->cn;
    int publish = q->n == 0;
    cb_enter(cn);
    if (r && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        push_refused(cn, publish ? MQTT_EV_PUBACK : MQTT_EV_SUBACK, q->tag,
                     publish ? "message" : "subscription", r->reasonCode);
    else if (publish)
        push_simple(cn, MQTT_EV_PUBFAIL, q->tag,
                    r && r->message ? r->message : "publish failed");
    req_done(q);
    cb_leave(cn);
}

static void on_tagged_subscribed(void *context, MQTTAsync_successData5 *r)
{
    req *q = context;
    conn *cn = q->cn;
    cb_enter(cn);
    enum MQTTReasonCodes worst = r ? r->reasonCode : MQTTREASONCODE_SUCCESS;
    /* paho fills alt.sub for more than one topic only */
    for (int i = 0; r && q->n > 1 && i < r->alt.sub.reasonCodeCount; i++)
        if (r->alt.sub.reasonCodes[i] > worst)
            worst = r->alt.sub.reasonCodes[i];
    if (worst >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        push_refused(cn, MQTT_EV_SUBACK, q->tag, "subscription", worst);
    else
        push_simple(cn, MQTT_EV_SUBACK, q->tag, NULL);
    req_done(q);
    cb_leave(cn);
}

/* ---- owner's side: the connections -------------------------------------- */

static int connect_now(mqtt_client *c, conn *cn)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    co.keepAliveInterval = c->keepalive;
    co.cleanstart = 1;
    co.automaticReconnect = 0; /* a new handle per connection (above) */
    co.connectTimeout = c->connect_timeout;
    co.onFailure5 = on_connect_failed;
    co.context = cn;
    co.username = c->username;
    co.password = c->password;
    /* paho copies these options at connect; verify the broker's
     * certificate chain (enableServerCertAuth) and that it names the
     * host (verify). */
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    if (c->tls) {
        ssl.trustStore = c->ca_file;
        ssl.keyStore = c->cert_file;
        ssl.privateKey = c->key_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        ssl.ssl_error_cb = on_ssl_error;
        ssl.ssl_error_context = c;
        co.ssl = &ssl;
    }
    if (c->will_topic) {
        will.topicName = c->will_topic;
        will.message = c->will_payload;
        will.retained = c->will_retained;
        will.qos = 1;
        co.will = &will;
    }
    MQTTProperties props = MQTTProperties_initializer;
    if (c->max_packet > 0) {
        MQTTProperty p;
        memset(&p, 0, sizeof p);
        p.identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE;
        p.value.integer4 = c->max_packet;
        MQTTProperties_add(&props, &p);
        co.connectProperties = &props;
    }
    int rc = MQTTAsync_connect(cn->h, &co) == MQTTASYNC_SUCCESS ? 0 : -1;
    MQTTProperties_free(&props);
    return rc;
}

/* A new handle (not connecting yet), or NULL with paho's reason in rc. */
static conn *conn_new(mqtt_client *c, int *rc)
{
    conn *cn = calloc(1, sizeof *cn);
    *rc = MQTTASYNC_FAILURE;
    if (cn == NULL)
        return NULL;
    cn->c = c;
    cn->gen = atomic_load(&c->gen) + 1;
    MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer5;
    cr.sendWhileDisconnected = 0; /* we keep what was not acknowledged */
    *rc = MQTTAsync_createWithOptions(&cn->h, c->url, c->client_id,
                                      MQTTCLIENT_PERSISTENCE_NONE, NULL, &cr);
    if (*rc == MQTTASYNC_SUCCESS &&
        ((*rc = MQTTAsync_setCallbacks(cn->h, cn, on_lost, on_message,
                                       NULL)) != MQTTASYNC_SUCCESS ||
         (*rc = MQTTAsync_setConnected(cn->h, cn, on_connected)) !=
             MQTTASYNC_SUCCESS))
        MQTTAsync_destroy(&cn->h);
    if (*rc != MQTTASYNC_SUCCESS) {
        free(cn);
        return NULL;
    }
    return cn;
}

/* End a connection for good: disconnect it if it is up (waiting up to
 * timeout_ms for what is in flight), wait until none of its callbacks
 * runs, destroy its handle, and report its publishes that were never
 * answered as failed. */
static void retire(mqtt_client *c, conn **cnp, int timeout_ms)
{
    conn *cn = *cnp;
    if (cn == NULL)
        return;
    owner_enter(c);
    if (MQTTAsync_isConnected(cn->h)) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
        d.timeout = timeout_ms;
        MQTTAsync_disconnect(cn->h, &d);
        /* Let paho finish the DISCONNECT before destroying. */
        for (int waited = 0;
             MQTTAsync_isConnected(cn->h) && waited < timeout_ms + 100;
             waited += 10)
            usleep(10000);
    }
    while (atomic_load(&cn->in_callback) > 0)
        usleep(1000);
    MQTTAsync_destroy(&cn->h);
    /* One that paho began before the destroy took its mutex. */
    while (atomic_load(&cn->in_callback) > 0)
        usleep(1000);
    owner_leave(c);
    /* No callback of it can come now: what it still holds failed. */
    while (cn->reqs != NULL) {
        req *q = cn->reqs;
        if (q->n == 0)
            push_simple(cn, MQTT_EV_PUBFAIL, q->tag, "connection ended");
        req_done(q);
    }
    free(cn);
    *cnp = NULL;
}

/* Make a new connection at when (monotonic s; 0: not planned): the
 * timer wakes the owner then. */
static void set_retry(mqtt_client *c, double when)
{
    struct itimerspec at = {0};
    double whole = floor(when);
    c->retry_at = when;
    at.it_value.tv_sec = (time_t)whole;
    at.it_value.tv_nsec = when > 0 ? (long)((when - whole) * 1e9) + 1 : 0;
    timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &at, NULL);
}

/* Plan the next connection after a loss or a failed connect. */
static void plan_retry(mqtt_client *c, int lost)
{
    double now = util__now();
    if (lost && now - c->connected_at >= RETRY_STABLE)
        c->backoff = RETRY_FIRST;
    else
        c->backoff = fmin(fmax(c->backoff * 2, RETRY_MIN), RETRY_MAX);
    set_retry(c, now + c->backoff);
}

/* Start a new connection: a new handle, the one before the last
 * destroyed (made first, so that paho never has no handle and stops its
 * threads).  Returns 0, or -1 with paho's reason in rc. */
static int connect_fresh(mqtt_client *c, int *rc)
{
    conn *cn = conn_new(c, rc);
    if (cn == NULL)
        return -1;
    retire(c, &c->old, 0);
    c->old = c->cur;
    c->cur = cn;
    c->cur_gone = 0;
    set_retry(c, 0);
    atomic_store(&c->connected, 0);
    atomic_store(&c->gen, cn->gen);
    owner_enter(c);
    *rc = connect_now(c, cn);
    owner_leave(c);
    if (*rc != 0)
        c->cur_gone = 1;
    return *rc;
}

/* What the owner's thread does with a connection's event before the
 * owner sees it.  Returns 0 to drop it: the news of a connection that is
 * no longer the current one. */
static int on_own_event(mqtt_client *c, const node *n)
{
    mqtt_event_kind k = n->ev->kind;
    if (k != MQTT_EV_CONNECTED && k != MQTT_EV_LOST &&
        k != MQTT_EV_CONNECT_FAILED)
        return 1;
    if (c->cur == NULL || n->gen != c->cur->gen || c->cur_gone)
        return 0;
    if (k == MQTT_EV_CONNECTED) {
        c->ever_connected = 1;
        c->connected_at = util__now();
        return 1;
    }
    c->cur_gone = 1;
    atomic_store(&c->connected, 0);
    /* The first connect is the owner's to try again (mqtt.h). */
    if (k == MQTT_EV_LOST || c->ever_connected)
        plan_retry(c, k == MQTT_EV_LOST);
    return 1;
}

mqtt_client *mqtt__start(const mqtt_options *o, char *why, size_t why_len)
{
    mqtt_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    int failed = 0, rc;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->drained, NULL);
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    c->wfd = epoll_create1(EPOLL_CLOEXEC);
    if (mqtt__check_security(o, why, why_len) != 0)
        goto fail;
    c->password = mqtt__read_password(o, &failed, why, why_len);
    if (failed)
        goto fail;
    c->tls = mqtt__url_is_tls(o->url);
    if ((o->ca_file && (c->ca_file = strdup(o->ca_file)) == NULL) ||
        (o->cert_file && (c->cert_file = strdup(o->cert_file)) == NULL) ||
        (o->key_file && (c->key_file = strdup(o->key_file)) == NULL) ||
        (o->username && (c->username = strdup(o->username)) == NULL)) {
        snprintf(why, why_len, "out of memory");
        goto fail;
    }
    c->url = strdup(o->url);
    c->client_id = strdup(o->client_id ? o->client_id : "");
    c->keepalive = o->keepalive > 0 ? o->keepalive : 30;
    c->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 5;
    c->max_packet = o->max_packet;
    c->max_queued = o->max_queued;
    c->will_retained = o->will_retained;
    if (o->will_topic) {
        c->will_topic = strdup(o->will_topic);
        c->will_payload = strdup(o->will_payload ? o->will_payload : "");
    }
    for (size_t i = 0; i < o->n_subscriptions; i++)
        mqtt__subscribe(c, o->subscriptions[i]);
    struct epoll_event ee = {.events = EPOLLIN};
    if (c->efd < 0 || c->tfd < 0 || c->wfd < 0 || c->url == NULL ||
        c->client_id == NULL ||
        epoll_ctl(c->wfd, EPOLL_CTL_ADD, c->efd, &ee) != 0 ||
        epoll_ctl(c->wfd, EPOLL_CTL_ADD, c->tfd, &ee) != 0) {
        snprintf(why, why_len, "cannot set up the MQTT client: %s",
                 strerror(errno));
        goto fail;
    }
    if (connect_fresh(c, &rc) != 0) {
        if (c->cur == NULL)
            snprintf(why, why_len, "cannot create an MQTT client for '%s': "
                     "%s (the URL looks like tcp://host:port, or "
                     "ssl://host:port for TLS)", o->url,
                     MQTTAsync_strerror(rc));
        else
            snprintf(why, why_len, "cannot start connecting to %s", o->url);
        goto fail;
    }
    return c;
fail:
    mqtt__stop(&c, 0);
    return NULL;
}

int mqtt__reconnect(mqtt_client *c)
{
    int rc;
    if (c->cur != NULL && !c->cur_gone)
        return 0; /* connecting, or connected, already */
    if (connect_fresh(c, &rc) == 0)
        return 0;
    if (c->ever_connected && c->cur_gone)
        plan_retry(c, 0); /* paho would not even start: later */
    return -1;
}

int mqtt__wake_fd(const mqtt_client *c)
{
    return c->wfd;
}

mqtt_event *mqtt__next(mqtt_client *c)
{
    uint64_t count;
    ssize_t r = read(c->tfd, &count, sizeof count); /* the timer: rearm */
    (void)r;
    if (c->retry_at > 0 && util__now() >= c->retry_at &&
        !atomic_load(&c->stopping)) {
        int rc;
        if (connect_fresh(c, &rc) != 0 && c->cur_gone)
            plan_retry(c, 0); /* paho would not even start: later */
    }
    for (;;) {
        pthread_mutex_lock(&c->lock);
        node *n = c->head;
        if (n) {
            c->head = n->next;
            if (c->head == NULL)
                c->tail = NULL;
            c->queued--;
            pthread_cond_signal(&c->drained);
        } else {
            r = read(c->efd, &count, sizeof count); /* drained: rearm */
        }
        pthread_mutex_unlock(&c->lock);
        if (n == NULL)
            return NULL;
        mqtt_event *ev = n->ev;
        int keep = on_own_event(c, n);
        free(n);
        if (keep)
            return ev;
        mqtt__event_free(ev);
    }
}

/* ---- owner's side: publishing and subscribing ---------------------------- */

static int add_property(MQTTProperties *props, enum MQTTPropertyCodes id,
                        const void *data, size_t len)
{
    MQTTProperty p;
    memset(&p, 0, sizeof p);
    p.identifier = id;
    p.value.data.data = (char *)data;
    p.value.data.len = (int)len;
    return MQTTProperties_add(props, &p);
}

int mqtt__publish(mqtt_client *c, const mqtt_publish *p)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    req *q = NULL;
    int rc = -1;
    if (c->cur == NULL || c->cur_gone)
        return -1;
    m.payload = (void *)p->payload;
    m.payloadlen = (int)p->len;
    m.qos = p->qos;
    m.retained = p->retained;
    if (p->response_topic &&
        add_property(&m.properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC,
                     p->response_topic, strlen(p->response_topic)) != 0)
        goto exit;
    if (p->correlation &&
        add_property(&m.properties, MQTTPROPERTY_CODE_CORRELATION_DATA,
                     p->correlation, p->correlation_len) != 0)
        goto exit;
    if (p->content_type &&
        add_property(&m.properties, MQTTPROPERTY_CODE_CONTENT_TYPE,
                     p->content_type, strlen(p->content_type)) != 0)
        goto exit;
    if (p->qos > 0) {
        if ((q = req_new(c->cur, p->tag, 0)) == NULL)
            goto exit;
        opts.onSuccess5 = on_published;
        opts.onFailure5 = on_request_failed;
        opts.context = q;
    }
    owner_enter(c);
    int sent = MQTTAsync_sendMessage(c->cur->h, p->topic, &m, &opts);
    owner_leave(c);
    if (sent != MQTTASYNC_SUCCESS) {
        if (q)
            req_done(q);
        /* What paho refuses whatever the connection's state. */
        if (sent == MQTTASYNC_BAD_UTF8_STRING ||
            sent == MQTTASYNC_NULL_PARAMETER ||
            sent == MQTTASYNC_TOPICNAME_TRUNCATED ||
            sent == MQTTASYNC_BAD_STRUCTURE || sent == MQTTASYNC_BAD_QOS ||
            sent == MQTTASYNC_BAD_MQTT_OPTION)
            rc = -2;
        goto exit;
    }
    rc = 0;
exit:
    MQTTProperties_free(&m.properties);
    return rc;
}

/* Keep topics in the list made again on every connect. */
static int keep_subscriptions(mqtt_client *c, const char *const *topics,
                              size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    char **subs = realloc(c->subs, (c->n_subs + n) * sizeof *subs);
    if (subs != NULL)
        c->subs = subs;
    for (size_t i = 0; subs != NULL && i < n && rc == 0; i++) {
        char *copy = strdup(topics[i]);
        if (copy == NULL) {
            /* none of them kept */
            for (size_t j = 0; j < i; j++)
                free(c->subs[--c->n_subs]);
            rc = -1;
        } else {
            c->subs[c->n_subs++] = copy;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return subs == NULL ? -1 : rc;
}

/* Is there a connection up to send a (un)subscription on now? */
static int up_now(const mqtt_client *c)
{
    return c->cur != NULL && !c->cur_gone && atomic_load(&c->connected);
}

int mqtt__subscribe(mqtt_client *c, const char *topic)
{
    if (keep_subscriptions(c, &topic, 1) != 0)
        return -1;
    if (up_now(c)) {
        MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
        owner_enter(c);
        int rc = MQTTAsync_subscribe(c->cur->h, topic, 1, &opts);
        owner_leave(c);
        return rc == MQTTASYNC_SUCCESS ? 0 : -1;
    }
    return 0;
}

int mqtt__subscribe_tagged(mqtt_client *c, const char *const *topics,
                           size_t n, uint64_t tag)
{
    if (n == 0 || keep_subscriptions(c, topics, n) != 0)
        return -1;
    if (!up_now(c))
        return 1;
    int *qos = calloc(n, sizeof *qos);
    req *q = qos ? req_new(c->cur, tag, n) : NULL;
    if (q == NULL) {
        free(qos);
        mqtt__unsubscribe(c, topics, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        qos[i] = 1;
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    opts.onSuccess5 = on_tagged_subscribed;
    opts.onFailure5 = on_request_failed;
    opts.context = q;
    owner_enter(c);
    int rc = MQTTAsync_subscribeMany(c->cur->h, (int)n,
                                     (char *const *)topics, qos, &opts);
    owner_leave(c);
    free(qos);
    if (rc != MQTTASYNC_SUCCESS) {
        req_done(q);
        return 1; /* not connected after all: made on the next connect */
    }
    return 0;
}

int mqtt__unsubscribe(mqtt_client *c, const char *const *topics, size_t n)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c->n_subs; j++)
            if (strcmp(c->subs[j], topics[i]) == 0) {
                free(c->subs[j]);
                c->subs[j] = c->subs[--c->n_subs];
                break;
            }
    pthread_mutex_unlock(&c->lock);
    if (n == 0 || !up_now(c))
        return 0;
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    owner_enter(c);
    int rc = MQTTAsync_unsubscribeMany(c->cur->h, (int)n,
                                       (char *const *)topics, &opts);
    owner_leave(c);
    return rc == MQTTASYNC_SUCCESS ? 0 : -1;
}

int mqtt__is_connected(const mqtt_client *c)
{
    return atomic_load(&((mqtt_client *)c)->connected);
}

size_t mqtt__in_flight(const mqtt_client *c)
{
    return atomic_load(&((mqtt_client *)c)->in_flight);
}

void mqtt__stop(mqtt_client **cp, int timeout_ms)
{
    mqtt_client *c = *cp;
    if (c == NULL)
        return;
    /* A paho thread waiting for room in the queue must not hold us up. */
    atomic_store(&c->stopping, 1);
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->drained);
    pthread_mutex_unlock(&c->lock);
    retire(c, &c->old, 0);
    retire(c, &c->cur, timeout_ms);
    mqtt_event *ev;
    while ((ev = mqtt__next(c)) != NULL)
        mqtt__event_free(ev);
    for (size_t i = 0; i < c->n_subs; i++)
        free(c->subs[i]);
    free(c->subs);
    if (c->wfd >= 0)
        close(c->wfd);
    if (c->tfd >= 0)
        close(c->tfd);
    if (c->efd >= 0)
        close(c->efd);
    free(c->url);
    free(c->client_id);
    free(c->will_topic);
    free(c->will_payload);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->username);
    mqtt__free_password(&c->password);
    pthread_cond_destroy(&c->drained);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cp = NULL;
}

int mqtt__topic_matches(const char *filter, const char *topic)
{
    while (*filter) {
        if (*filter == '#')
            return 1;
        if (*filter == '+') {
            while (*topic && *topic != '/')
                topic++;
            filter++;
            continue;
        }
        if (*filter != *topic)
            return 0;
        filter++;
        topic++;
    }
    return *topic == '\0';
}
