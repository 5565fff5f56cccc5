/*
 * bench_mqtt.c — the controller over MQTT, measured from an orchestrator's
 * seat against a running broker and `twinctl serve`:
 *
 *   bench_mqtt latency    --broker URL --controller ID [-n 200]
 *       time from publishing a request to receiving its rejection, and
 *       from publishing a run to receiving its first result message
 *       (median, p99, max over n requests each, one at a time);
 *   bench_mqtt latency ... --rejections
 *       the rejections only (against the echo below: the floor);
 *   bench_mqtt echo       --broker URL --controller ID
 *       the floor of the latency: answers every request on ID's request
 *       topic at once with a fixed rejection, through the same MQTT
 *       client code as the controller (controller/wire/mqtt.c, paho),
 *       without parsing it or touching a disk; runs until killed;
 *   bench_mqtt throughput --broker URL --controller ID SCENARIO.json
 *       one run: rows and values per second delivered end to end (from
 *       publishing the request to holding every result message), and
 *       writes the result payloads to --save FILE for the floor.
 *
 * It subscribes before publishing, counts messages and seq without parsing
 * the rows (so the receiver costs what the floor's costs), and prints one
 * line per measurement.  The floor is floor_mqtt.c.
 */
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mqtt.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench {
    mqtt_client *mq;
    const char *controller;
    const char *prefix;
} bench;

/* Wait for the next message (bounded); NULL on timeout. */
static mqtt_event *next_message(bench *b, double deadline)
{
    for (;;) {
        mqtt_event *ev;
        while ((ev = mqtt__next(b->mq)) != NULL) {
            if (ev->kind == MQTT_EV_MESSAGE)
                return ev;
            mqtt__event_free(ev);
        }
        double left = deadline - now();
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = mqtt__wake_fd(b->mq), .events = POLLIN};
        poll(&p, 1, (int)ceil(left * 1000));
    }
}

static int wait_connected(bench *b)
{
    double deadline = now() + 10;
    while (!mqtt__is_connected(b->mq) && now() < deadline) {
        mqtt_event *ev = mqtt__next(b->mq);
        if (ev) {
            if (ev->kind == MQTT_EV_CONNECT_FAILED) {
                fprintf(stderr, "bench_mqtt: %s\n", ev->text);
                mqtt__event_free(ev);
                return -1;
            }
            mqtt__event_free(ev);
            continue;
        }
        struct pollfd p = {.fd = mqtt__wake_fd(b->mq), .events = POLLIN};
        poll(&p, 1, 100);
    }
    return mqtt__is_connected(b->mq) ? 0 : -1;
}

static int publish(bench *b, const char *payload)
{
    char topic[512];
    snprintf(topic, sizeof topic, "%s/%s/request", b->prefix, b->controller);
    mqtt_publish p = {.topic = topic, .payload = payload,
                      .len = strlen(payload), .qos = 1, .tag = 1};
    return mqtt__publish(b->mq, &p);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp);
    size_t p99 = (size_t)ceil(0.99 * (double)n) - 1;
    printf("%s n=%zu median_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", what, n,
           1e3 * v[n / 2], 1e3 * v[p99], 1e3 * v[n - 1]);
}

static int latency(bench *b, int n, int rejections_only)
{
    double *rej = calloc((size_t)n, sizeof *rej);
    double *first = calloc((size_t)n, sizeof *first);
    char payload[512];
    for (int i = 0; i < n; i++) {
        /* Rejected: a run without a scenario. */
        snprintf(payload, sizeof payload, "{\"contract\":\"twin.request/1\","
                 "\"id\":\"lat-%d-%d\",\"type\":\"run\"}", (int)getpid(), i);
        double t0 = now();
        publish(b, payload);
        mqtt_event *ev = next_message(b, t0 + 10);
        if (ev == NULL || strstr(ev->payload, "\"rejected\"") == NULL) {
            fprintf(stderr, "bench_mqtt: no rejection for request %d\n", i);
            mqtt__event_free(ev);
            return 1;
        }
        rej[i] = now() - t0;
        mqtt__event_free(ev);
    }
    for (int i = 0; i < n && !rejections_only; i++) {
        /* A small run: time to its first result message. */
        snprintf(payload, sizeof payload, "{\"contract\":\"twin.request/1\","
                 "\"id\":\"first-%d-%d\",\"type\":\"run\",\"scenario\":"
                 "\"tank-overflow\"}", (int)getpid(), i);
        double t0 = now(), t_first = 0;
        publish(b, payload);
        int done = 0;
        while (!done) {
            mqtt_event *ev = next_message(b, t0 + 10);
            if (ev == NULL) {
                fprintf(stderr, "bench_mqtt: run %d did not finish\n", i);
                return 1;
            }
            if (t_first == 0 && strstr(ev->topic, "/result/") != NULL)
                t_first = now();
            if (strstr(ev->topic, "/response/") &&
                strstr(ev->payload, "\"finished\""))
                done = 1;
            mqtt__event_free(ev);
        }
        first[i] = t_first - t0;
    }
    report("rejection", rej, (size_t)n);
    if (!rejections_only)
        report("first_row", first, (size_t)n);
    free(rej);
    free(first);
    return 0;
}

/* The floor: every request answered at once with the same rejection. */
static int echo(bench *b)
{
    static const char answer[] = "{\"contract\":\"twin.response/1\","
        "\"id\":\"echo\",\"status\":\"rejected\",\"errors\":[]}";
    char topic[512];
    snprintf(topic, sizeof topic, "%s/%s/response/echo", b->prefix,
             b->controller);
    for (uint64_t tag = 1;; tag++) {
        mqtt_event *ev = next_message(b, now() + 3600);
        if (ev == NULL)
            continue;
        if (strstr(ev->topic, "/request") != NULL) {
            mqtt_publish p = {.topic = topic, .payload = answer,
                              .len = sizeof answer - 1, .qos = 1,
                              .tag = tag};
            mqtt__publish(b->mq, &p);
        }
        mqtt__event_free(ev);
    }
    return 0;
}

static int throughput(bench *b, const char *file, const char *save)
{
    json_error_t jerr;
    json_t *scen = json_load_file(file, 0, &jerr);
    if (scen == NULL) {
        fprintf(stderr, "bench_mqtt: %s: %s\n", file, jerr.text);
        return 2;
    }
    char id[64];
    snprintf(id, sizeof id, "tp-%d", (int)getpid());
    json_t *req = json_pack("{s:s, s:s, s:s, s:o}", "contract",
                            "twin.request/1", "id", id, "type", "run",
                            "scenario", scen);
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    FILE *out = save ? fopen(save, "w") : NULL;
    double t0 = now();
    publish(b, payload);
    free(payload);
    long long messages = 0, bytes = 0, last_seq = -2, rows = 0, cols = 0;
    int finished = 0;
    while (!finished || messages < last_seq + 1) {
        mqtt_event *ev = next_message(b, t0 + 600);
        if (ev == NULL) {
            fprintf(stderr, "bench_mqtt: timed out with %lld messages\n",
                    messages);
            return 1;
        }
        if (strstr(ev->topic, "/result/")) {
            messages++;
            bytes += (long long)ev->len;
            if (out) {
                fwrite(ev->payload, 1, ev->len, out);
                fputc('\n', out);
            }
        } else if (strstr(ev->topic, "/response/")) {
            json_t *r = json_loads(ev->payload, 0, NULL);
            const char *st = json_string_value(json_object_get(r, "status"));
            if (st && strcmp(st, "accepted") == 0)
                cols = (long long)json_array_size(json_object_get(r,
                                                                  "columns"));
            else if (st && strcmp(st, "finished") == 0) {
                finished = 1;
                last_seq = json_integer_value(json_object_get(r, "last_seq"));
                rows = json_integer_value(json_object_get(r, "rows"));
            } else if (st) {
                fprintf(stderr, "bench_mqtt: run %s: %s\n", st, ev->payload);
                return 1;
            }
            json_decref(r);
        }
        mqtt__event_free(ev);
    }
    double wall = now() - t0;
    if (out)
        fclose(out);
    printf("controller-e2e rows=%lld columns=%lld messages=%lld bytes=%lld "
           "wall_s=%.3f rows_per_s=%.0f values_per_s=%.0f MB_per_s=%.1f\n",
           rows, cols, messages, bytes, wall, rows / wall,
           (double)rows * (double)cols / wall, bytes / wall / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    const char *broker = "tcp://127.0.0.1:1883", *save = NULL, *file = NULL;
    bench b = {.controller = "ctl-1", .prefix = "twin"};
    int n = 200, rejections_only = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_mqtt latency|echo|throughput --broker URL "
                "--controller ID [-n N] [--rejections] [--save FILE] "
                "[SCENARIO.json]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            broker = argv[++i];
        else if (strcmp(argv[i], "--controller") == 0 && i + 1 < argc)
            b.controller = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rejections") == 0)
            rejections_only = 1;
        else if (strcmp(argv[i], "--save") == 0 && i + 1 < argc)
            save = argv[++i];
        else
            file = argv[i];
    }
    char sub1[256], sub2[256], why[512], cid[64];
    int is_echo = strcmp(argv[1], "echo") == 0;
    snprintf(sub1, sizeof sub1, "%s/%s/%s", b.prefix, b.controller,
             is_echo ? "request" : "response/#");
    snprintf(sub2, sizeof sub2, "%s/%s/result/#", b.prefix, b.controller);
    snprintf(cid, sizeof cid, "bench-%d", (int)getpid());
    const char *subs[] = {sub1, sub2};
    mqtt_options o = {.url = broker, .client_id = cid, .subscriptions = subs,
                      .n_subscriptions = 2};
    b.mq = mqtt__start(&o, why, sizeof why);
    if (b.mq == NULL || wait_connected(&b) != 0) {
        fprintf(stderr, "bench_mqtt: cannot connect to %s\n", broker);
        return 1;
    }
    int rc = 2;
    if (strcmp(argv[1], "latency") == 0)
        rc = latency(&b, n, rejections_only);
    else if (is_echo)
        rc = echo(&b);
    else if (strcmp(argv[1], "throughput") == 0 && file)
        rc = throughput(&b, file, save);
    else
        fprintf(stderr, "bench_mqtt: say latency, or throughput with a "
                "scenario file\n");
    mqtt__stop(&b.mq, 1000);
    return rc;
}
