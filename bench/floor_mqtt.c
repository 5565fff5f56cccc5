/*
 * floor_mqtt.c — the floor of the MQTT benchmark: plain paho (MQTTAsync,
 * MQTT v5, QoS 1), no twinctl code, publishing the very bytes a run of the
 * controller published (one message per line of the file bench_mqtt
 * --save wrote) to the same broker, while a second client receives them.
 * Measures from the first publish to the last message received: the most
 * that broker, client library and loopback deliver for this load.
 *
 *   floor_mqtt --broker URL PAYLOADS.txt
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <MQTTAsync.h>

static atomic_long received, received_bytes, acked;
static atomic_int subscribed, connected_pub;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The same TCP_NODELAY the controller's client sets. */
static void nodelay_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name), one = 1;
        if (fd > 2)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (d)
        closedir(d);
}

static int on_message(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
    atomic_fetch_add(&received, 1);
    atomic_fetch_add(&received_bytes, m->payloadlen);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_sub(void *ctx, MQTTAsync_successData5 *r) { subscribed = 1; }

static void on_sub_connect(void *ctx, MQTTAsync_successData5 *r)
{
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    o.onSuccess5 = on_sub;
    nodelay_all();
    MQTTAsync_subscribe(*(MQTTAsync *)ctx, "floor/result", 1, &o);
}

static void on_pub_connect(void *ctx, MQTTAsync_successData5 *r)
{
    nodelay_all();
    connected_pub = 1;
}

static void on_acked(void *ctx, MQTTAsync_successData5 *r)
{
    atomic_fetch_add(&acked, 1);
}

static int connect_client(MQTTAsync *c, const char *url, const char *id,
                          MQTTAsync_onSuccess5 *ok, int sub)
{
    MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer5;
    if (MQTTAsync_createWithOptions(c, url, id, MQTTCLIENT_PERSISTENCE_NONE,
                                    NULL, &cr) != MQTTASYNC_SUCCESS)
        return -1;
    if (sub)
        MQTTAsync_setCallbacks(*c, c, NULL, on_message, NULL);
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    co.cleanstart = 1;
    co.onSuccess5 = ok;
    co.context = c;
    return MQTTAsync_connect(*c, &co) == MQTTASYNC_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *url = "tcp://127.0.0.1:1883", *file = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            url = argv[++i];
        else
            file = argv[i];
    FILE *f = file ? fopen(file, "r") : NULL;
    if (f == NULL) {
        fprintf(stderr, "usage: floor_mqtt --broker URL PAYLOADS.txt\n");
        return 2;
    }
    char **msgs = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    long long bytes = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (n == cap)
            msgs = realloc(msgs, (cap = cap ? 2 * cap : 1024) * sizeof *msgs);
        msgs[n++] = strdup(line);
        bytes += len;
    }
    fclose(f);
    free(line);

    MQTTAsync sub, pub;
    if (connect_client(&sub, url, "floor-sub", on_sub_connect, 1) ||
        connect_client(&pub, url, "floor-pub", on_pub_connect, 0)) {
        fprintf(stderr, "floor_mqtt: cannot connect to %s\n", url);
        return 1;
    }
    for (double t = now() + 10; (!subscribed || !connected_pub) && now() < t;)
        usleep(1000);
    double t0 = now();
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    o.onSuccess5 = on_acked;
    for (size_t i = 0; i < n; i++) {
        MQTTAsync_message m = MQTTAsync_message_initializer;
        m.payload = msgs[i];
        m.payloadlen = (int)strlen(msgs[i]);
        m.qos = 1;
        while (MQTTAsync_sendMessage(pub, "floor/result", &m, &o) !=
               MQTTASYNC_SUCCESS)
            usleep(100);
    }
    for (double t = now() + 600; atomic_load(&received) < (long)n &&
                                 now() < t;)
        usleep(200);
    double wall = now() - t0;
    printf("floor-e2e messages=%zu received=%ld bytes=%lld wall_s=%.3f "
           "MB_per_s=%.1f\n", n, atomic_load(&received), bytes, wall,
           bytes / wall / 1e6);
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnect(pub, &d);
    MQTTAsync_disconnect(sub, &d);
    usleep(100000);
    MQTTAsync_destroy(&pub);
    MQTTAsync_destroy(&sub);
    for (size_t i = 0; i < n; i++)
        free(msgs[i]);
    free(msgs);
    return atomic_load(&received) == (long)n ? 0 : 1;
}
