/*
 * mqtt.c — paho MQTTAsync (MQTT v5) behind a queue of events.
 *
 * Owns the paho client, its callbacks (which run on paho's threads and do
 * nothing but copy onto the queue and wake the owner), re-subscription
 * after every connect, the v5 response-topic, correlation-data and
 * content-type properties, TCP_NODELAY, and TLS and the login with paho's options
 * (the TLS library's error text is kept and put into the connect failure
 * it explains), the rules for those options, and reading the password
 * (from the caller, its file's first line, or TWIN_MQTT_PASSWORD).
 * Filling them from the configuration is mqtt_security.c's.  What the
 * events mean is the owner's business (serve.c, submit_exchange.c, ...).
 */
#include "mqtt.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <MQTTReasonCodes.h>

#include "tls_check.h"

typedef struct node {
    mqtt_event *ev;
    struct node *next;
} node;

struct mqtt_client {
    MQTTAsync h;
    int efd;
    pthread_mutex_t lock;
    node *head, *tail;
    char **subs;             /* guarded by lock */
    size_t n_subs;
    atomic_int connected;
    atomic_size_t in_flight;
    char *url;
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

/* One publish's context for its success/failure callback. */
typedef struct pub_ctx {
    mqtt_client *c;
    uint64_t tag;
} pub_ctx;

static void push(mqtt_client *c, mqtt_event *ev)
{
    node *n = malloc(sizeof *n);
    if (n == NULL) {
        mqtt__event_free(ev); /* nothing better to do on a paho thread */
        return;
    }
    n->ev = ev;
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

static void push_simple(mqtt_client *c, mqtt_event_kind kind, uint64_t tag,
                        const char *text)
{
    mqtt_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return;
    ev->kind = kind;
    ev->tag = tag;
    ev->text = text ? strdup(text) : NULL;
    push(c, ev);
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

/* The reason in one of OpenSSL's error lines ("[thread:]error:code:
 * library:function:reason:file:line:data"), or the whole line when it
 * does not look like one. */
static void ssl_reason(const char *line, size_t len, const char **out,
                       size_t *out_len)
{
    const char *end = line + len, *p = NULL;
    for (const char *q = line; q + 6 <= end && p == NULL; q++)
        if (memcmp(q, "error:", 6) == 0)
            p = q + 6;
    for (int field = 0; p != NULL && field < 3; field++) {
        p = memchr(p, ':', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    const char *stop = p ? memchr(p, ':', (size_t)(end - p)) : NULL;
    if (p == NULL || stop == NULL || stop == p) {
        *out = line;
        *out_len = len;
        return;
    }
    *out = p;
    *out_len = (size_t)(stop - p);
}

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
    ssl_reason(str, len, &reason, &rlen);
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
    mqtt_client *c = context;
    char tls[sizeof c->tls_error], text[sizeof tls + 128];
    atomic_store(&c->connected, 0);
    take_tls_error(c, tls, sizeof tls);
    snprintf(text, sizeof text, "%s%s%s", cause ? cause : "connection lost",
             tls[0] ? "; TLS: " : "", tls);
    push_simple(c, MQTT_EV_LOST, 0, text);
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
    mqtt_client *c = context;
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
        push(c, ev);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_subscribed(void *context, MQTTAsync_successData5 *r)
{
    mqtt_client *c = context;
    atomic_store(&c->connected, 1);
    push_simple(c, MQTT_EV_CONNECTED, 0, NULL);
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData5 *r)
{
    mqtt_client *c = context;
    char text[256];
    snprintf(text, sizeof text, "subscribing failed: %s (reason %d)",
             r && r->message ? r->message : "no message",
             r ? (int)r->reasonCode : -1);
    push_simple(c, MQTT_EV_LOST, 0, text);
}

static void subscribe_all(mqtt_client *c)
{
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    opts.onSuccess5 = on_subscribed;
    opts.onFailure5 = on_subscribe_failed;
    opts.context = c;
    pthread_mutex_lock(&c->lock);
    size_t n = c->n_subs;
    int *qos = calloc(n + 1, sizeof *qos);
    for (size_t i = 0; qos && i < n; i++)
        qos[i] = 1;
    int rc = n == 0 || qos == NULL
                 ? -1
                 : MQTTAsync_subscribeMany(c->h, (int)n, c->subs, qos, &opts);
    pthread_mutex_unlock(&c->lock);
    free(qos);
    if (n == 0) {
        atomic_store(&c->connected, 1);
        push_simple(c, MQTT_EV_CONNECTED, 0, NULL);
    } else if (rc != MQTTASYNC_SUCCESS) {
        push_simple(c, MQTT_EV_LOST, 0, "could not subscribe");
    }
}

static void on_connected(void *context, char *cause)
{
    mqtt_client *c = context;
    const char *diag = getenv("TWIN_MQTT_NODELAY"); /* "0": measure Nagle */
    if (diag == NULL || strcmp(diag, "0") != 0)
        set_nodelay_all();
    subscribe_all(c);
}

/* What to check after a TLS failure, by what the TLS library said. */
static void tls_hint(const mqtt_client *c, const char *tls, char *out,
                     size_t len)
{
    if (strstr(tls, "alert") != NULL)      /* the broker ended it */
        snprintf(out, len, "the broker refused the TLS handshake: check the "
                 "client certificate %s and key %s (signed by a CA the "
                 "broker trusts?), then the CA file %s",
                 c->cert_file ? c->cert_file : "(none given)",
                 c->key_file ? c->key_file : "(in the certificate file)",
                 c->ca_file ? c->ca_file : "(none: the system's CAs)");
    else if (strstr(tls, "certificate verify failed") != NULL &&
             tls__explain_verify_failure(c->url, c->ca_file, out, len))
        return; /* expired or not yet valid: not the CA file's fault */
    else if (c->ca_file)
        snprintf(out, len, "check the CA file %s: it must hold the CA that "
                 "signed the broker's certificate, and that certificate "
                 "must name the host in the URL", c->ca_file);
    else
        snprintf(out, len, "the system's CAs do not vouch for the broker's "
                 "certificate: give the CA file that signed it");
}

static void on_connect_failed(void *context, MQTTAsync_failureData5 *r)
{
    mqtt_client *c = context;
    char tls[sizeof c->tls_error], hint[512], text[1536];
    int refused = 1;
    take_tls_error(c, tls, sizeof tls);
    /* paho gives the CONNACK's refusal as a positive code (its own errors
     * are negative); an MQTT v5 reason code, or 1 to 5 for MQTT 3. */
    int reason = r == NULL ? 0
                 : r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR
                     ? (int)r->reasonCode
                     : r->code > 0 ? r->code : 0;
    if (reason > 0) {
        /* The broker answered the CONNECT: refused. */
        int login = reason == MQTTREASONCODE_NOT_AUTHORIZED ||
                    reason == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD ||
                    reason == 4 || reason == 5;
        const char *name = MQTTReasonCode_toString(
            (enum MQTTReasonCodes)reason);
        snprintf(text, sizeof text, "cannot connect to %s: the broker "
                 "refused the connection%s%s%s: %s (reason %d)%s", c->url,
                 c->username ? " of user '" : "",
                 c->username ? c->username : "", c->username ? "'" : "",
                 name ? name : "refused", reason,
                 !login ? ""
                 : c->username ? "; check the username and the password "
                                 "(its file, or TWIN_MQTT_PASSWORD)"
                               : "; it wants a username and password");
    } else if (c->tls && tls[0]) {
        tls_hint(c, tls, hint, sizeof hint);
        snprintf(text, sizeof text, "cannot connect to %s: TLS failed (%s); "
                 "%s", c->url, tls, hint);
    } else if (c->tls) {
        /* paho says "TCP/TLS connect failure", and OpenSSL nothing, alike
         * for a closed port, a port without TLS, a certificate for another
         * host name, and a broker that ended the handshake because it
         * wants a client certificate. */
        refused = 0;
        snprintf(text, sizeof text, "cannot connect to %s: %s (no broker "
                 "there, or no TLS on that port, or the broker's "
                 "certificate does not name the host in the URL, or the "
                 "broker wants a client certificate%s)", c->url,
                 r && r->message ? r->message : "no TLS connection",
                 c->cert_file ? "" : " and none was given");
    } else {
        refused = 0;
        snprintf(text, sizeof text, "cannot connect to %s: %s", c->url,
                 r && r->message ? r->message
                                 : "no answer (is the broker running "
                                   "there?)");
    }
    mqtt_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return;
    ev->kind = MQTT_EV_CONNECT_FAILED;
    ev->refused = refused;
    ev->text = strdup(text);
    push(c, ev);
}

/* The broker answered what with a failure reason code (MQTT v5, >=
 * 0x80): a refusal for good, as an event of kind. */
static void push_refused(mqtt_client *c, mqtt_event_kind kind, uint64_t tag,
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
    push(c, ev);
}

static void on_published(void *context, MQTTAsync_successData5 *r)
{
    pub_ctx *p = context;
    atomic_fetch_sub(&p->c->in_flight, 1);
    push_simple(p->c, MQTT_EV_PUBACK, p->tag, NULL);
    free(p);
}

static void on_publish_failed(void *context, MQTTAsync_failureData5 *r)
{
    pub_ctx *p = context;
    atomic_fetch_sub(&p->c->in_flight, 1);
    if (r && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR) {
        /* The broker's PUBACK says no (an ACL, a quota): final. */
        push_refused(p->c, MQTT_EV_PUBACK, p->tag, "message", r->reasonCode);
    } else {
        push_simple(p->c, MQTT_EV_PUBFAIL, p->tag,
                    r && r->message ? r->message : "publish failed");
    }
    free(p);
}

/* ---- the security options' rules, and the password ---------------------- */

#define PASSWORD_ENV "TWIN_MQTT_PASSWORD"
#define PASSWORD_MAX 4096

int mqtt__url_is_tls(const char *url)
{
    return url != NULL && (strncmp(url, "ssl://", 6) == 0 ||
                           strncmp(url, "mqtts://", 8) == 0 ||
                           strncmp(url, "wss://", 6) == 0);
}

/* A file the client will open later, checked now so that its problem is
 * named at start, not as a TLS error minutes later. */
static int readable(const char *what, const char *file, char *why,
                    size_t why_len)
{
    if (file == NULL || access(file, R_OK) == 0)
        return 0;
    snprintf(why, why_len, "cannot read the %s %s: %s", what, file,
             strerror(errno));
    return -1;
}

int mqtt__check_security(const mqtt_options *o, char *why, size_t why_len)
{
    if (!mqtt__url_is_tls(o->url) &&
        (o->ca_file || o->cert_file || o->key_file)) {
        snprintf(why, why_len, "a CA file, client certificate or key was "
                 "given, but the broker URL '%s' is not TLS: use "
                 "ssl://HOST:PORT (or mqtts://)", o->url ? o->url : "");
        return -1;
    }
    if (o->key_file && o->cert_file == NULL) {
        snprintf(why, why_len, "a client key (%s) needs its certificate: "
                 "give the certificate file too", o->key_file);
        return -1;
    }
    if ((o->password || o->password_file) &&
        (o->username == NULL || o->username[0] == '\0')) {
        snprintf(why, why_len, "a password needs a username: give the "
                 "username too");
        return -1;
    }
    if (readable("CA file", o->ca_file, why, why_len) != 0 ||
        readable("client certificate", o->cert_file, why, why_len) != 0 ||
        readable("client key", o->key_file, why, why_len) != 0 ||
        readable("password file", o->password_file, why, why_len) != 0)
        return -1;
    return tls__check_files(o->ca_file, o->cert_file, o->key_file, why,
                            why_len);
}

/* The first line of a file, without its line end. */
static char *first_line(const char *file, int *failed, char *why,
                        size_t why_len)
{
    char buf[PASSWORD_MAX + 2];
    char *pw = NULL;
    FILE *f = fopen(file, "re");
    if (f == NULL) {
        snprintf(why, why_len, "cannot read the password file %s: %s", file,
                 strerror(errno));
        *failed = 1;
        return NULL;
    }
    if (fgets(buf, sizeof buf, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    size_t n = strcspn(buf, "\r\n");
    if (n > PASSWORD_MAX) {
        snprintf(why, why_len, "the first line of the password file %s is "
                 "longer than %d bytes", file, PASSWORD_MAX);
        *failed = 1;
    } else if (n == 0) {
        snprintf(why, why_len, "the password file %s is empty: its first "
                 "line is the password", file);
        *failed = 1;
    } else if ((pw = strndup(buf, n)) == NULL) {
        snprintf(why, why_len, "out of memory");
        *failed = 1;
    }
    explicit_bzero(buf, sizeof buf);
    return pw;
}

char *mqtt__read_password(const mqtt_options *o, int *failed, char *why,
                          size_t why_len)
{
    const char *given = o->password;
    *failed = 0;
    if (given == NULL && o->password_file)
        return first_line(o->password_file, failed, why, why_len);
    if (given == NULL && o->username)
        given = getenv(PASSWORD_ENV);
    if (given == NULL || given[0] == '\0')
        return NULL;
    char *pw = strdup(given);
    if (pw == NULL) {
        snprintf(why, why_len, "out of memory");
        *failed = 1;
    }
    return pw;
}

void mqtt__scrub_password_env(void)
{
    char *v = getenv(PASSWORD_ENV);
    if (v != NULL)
        explicit_bzero(v, strlen(v)); /* where /proc/<pid>/environ shows it */
    unsetenv(PASSWORD_ENV);
}

void mqtt__free_password(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* ---- owner's side -------------------------------------------------------- */

static int connect_now(mqtt_client *c)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    co.keepAliveInterval = c->keepalive;
    co.cleanstart = 1;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 4;
    co.connectTimeout = c->connect_timeout;
    co.onFailure5 = on_connect_failed;
    co.context = c;
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
    int rc = MQTTAsync_connect(c->h, &co) == MQTTASYNC_SUCCESS ? 0 : -1;
    MQTTProperties_free(&props);
    return rc;
}

mqtt_client *mqtt__start(const mqtt_options *o, char *why, size_t why_len)
{
    mqtt_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    int failed = 0;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->drained, NULL);
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
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
    if (c->efd < 0 || c->url == NULL) {
        snprintf(why, why_len, "cannot set up the MQTT client: %s",
                 strerror(errno));
        goto fail;
    }
    MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer5;
    cr.sendWhileDisconnected = 0; /* we keep what was not acknowledged */
    int rc = MQTTAsync_createWithOptions(&c->h, o->url, o->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                         &cr);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(why, why_len, "cannot create an MQTT client for '%s': %s "
                 "(the URL looks like tcp://host:port, or ssl://host:port "
                 "for TLS)", o->url, MQTTAsync_strerror(rc));
        goto fail;
    }
    if (MQTTAsync_setCallbacks(c->h, c, on_lost, on_message, NULL) !=
            MQTTASYNC_SUCCESS ||
        MQTTAsync_setConnected(c->h, c, on_connected) != MQTTASYNC_SUCCESS ||
        connect_now(c) != 0) {
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
    owner_enter(c);
    int rc = connect_now(c);
    owner_leave(c);
    return rc;
}

int mqtt__wake_fd(const mqtt_client *c)
{
    return c->efd;
}

mqtt_event *mqtt__next(mqtt_client *c)
{
    uint64_t count;
    pthread_mutex_lock(&c->lock);
    node *n = c->head;
    if (n) {
        c->head = n->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->queued--;
        pthread_cond_signal(&c->drained);
    } else {
        ssize_t r = read(c->efd, &count, sizeof count); /* drained: rearm */
        (void)r;
    }
    pthread_mutex_unlock(&c->lock);
    if (n == NULL)
        return NULL;
    mqtt_event *ev = n->ev;
    free(n);
    return ev;
}

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
    pub_ctx *ctx = NULL;
    int rc = -1;
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
        ctx = malloc(sizeof *ctx);
        if (ctx == NULL)
            goto exit;
        ctx->c = c;
        ctx->tag = p->tag;
        opts.onSuccess5 = on_published;
        opts.onFailure5 = on_publish_failed;
        opts.context = ctx;
        atomic_fetch_add(&c->in_flight, 1);
    }
    owner_enter(c);
    int sent = MQTTAsync_sendMessage(c->h, p->topic, &m, &opts);
    owner_leave(c);
    if (sent != MQTTASYNC_SUCCESS) {
        if (ctx) {
            atomic_fetch_sub(&c->in_flight, 1);
            free(ctx);
        }
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

int mqtt__subscribe(mqtt_client *c, const char *topic)
{
    if (keep_subscriptions(c, &topic, 1) != 0)
        return -1;
    if (c->h && atomic_load(&c->connected)) {
        MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
        owner_enter(c);
        int rc = MQTTAsync_subscribe(c->h, topic, 1, &opts);
        owner_leave(c);
        return rc == MQTTASYNC_SUCCESS ? 0 : -1;
    }
    return 0;
}

/* One tagged subscription's context for its callbacks. */
typedef struct sub_ctx {
    mqtt_client *c;
    uint64_t tag;
    size_t n;
} sub_ctx;

static void on_tagged_subscribed(void *context, MQTTAsync_successData5 *r)
{
    sub_ctx *s = context;
    enum MQTTReasonCodes worst = r ? r->reasonCode : MQTTREASONCODE_SUCCESS;
    /* paho fills alt.sub for more than one topic only */
    for (int i = 0; r && s->n > 1 && i < r->alt.sub.reasonCodeCount; i++)
        if (r->alt.sub.reasonCodes[i] > worst)
            worst = r->alt.sub.reasonCodes[i];
    if (worst >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        push_refused(s->c, MQTT_EV_SUBACK, s->tag, "subscription", worst);
    else
        push_simple(s->c, MQTT_EV_SUBACK, s->tag, NULL);
    free(s);
}

static void on_tagged_subscribe_failed(void *context,
                                       MQTTAsync_failureData5 *r)
{
    sub_ctx *s = context;
    if (r && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        push_refused(s->c, MQTT_EV_SUBACK, s->tag, "subscription",
                     r->reasonCode);
    /* Otherwise the connection went: the next connect makes it, and
     * MQTT_EV_CONNECTED says so. */
    free(s);
}

int mqtt__subscribe_tagged(mqtt_client *c, const char *const *topics,
                           size_t n, uint64_t tag)
{
    if (n == 0 || keep_subscriptions(c, topics, n) != 0)
        return -1;
    if (c->h == NULL || !atomic_load(&c->connected))
        return 1;
    sub_ctx *s = malloc(sizeof *s);
    int *qos = calloc(n, sizeof *qos);
    if (s == NULL || qos == NULL) {
        free(s);
        free(qos);
        mqtt__unsubscribe(c, topics, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        qos[i] = 1;
    *s = (sub_ctx){c, tag, n};
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    opts.onSuccess5 = on_tagged_subscribed;
    opts.onFailure5 = on_tagged_subscribe_failed;
    opts.context = s;
    int rc = MQTTAsync_subscribeMany(c->h, (int)n, (char *const *)topics,
                                     qos, &opts);
    free(qos);
    if (rc != MQTTASYNC_SUCCESS) {
        free(s);
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
    if (n == 0 || c->h == NULL || !atomic_load(&c->connected))
        return 0;
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    return MQTTAsync_unsubscribeMany(c->h, (int)n, (char *const *)topics,
                                     &opts) == MQTTASYNC_SUCCESS ? 0 : -1;
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
    if (c->h) {
        if (MQTTAsync_isConnected(c->h)) {
            MQTTAsync_disconnectOptions d =
                MQTTAsync_disconnectOptions_initializer5;
            d.timeout = timeout_ms;
            MQTTAsync_disconnect(c->h, &d);
            /* Let paho finish the DISCONNECT before destroying. */
            for (int waited = 0;
                 MQTTAsync_isConnected(c->h) && waited < timeout_ms + 100;
                 waited += 10)
                usleep(10000);
        }
        MQTTAsync_destroy(&c->h);
    }
    mqtt_event *ev;
    while ((ev = mqtt__next(c)) != NULL)
        mqtt__event_free(ev);
    for (size_t i = 0; i < c->n_subs; i++)
        free(c->subs[i]);
    free(c->subs);
    if (c->efd >= 0)
        close(c->efd);
    free(c->url);
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
