/*
 * test_sender.c — the central data sender against a fake MQTT client at
 * its module boundary: batching by rows and by time, seq without gaps,
 * null for non-finite values, the width check, holding everything while
 * the broker is away and sending it again in order, the memory bound,
 * and a run's share of the spool (its rows within the bound reserved for
 * them, its events past their share counted and said).  With a real
 * spool whose writes fail (RLIMIT_FSIZE: EFBIG, as a full disk fails
 * them): nothing unjournaled is published, the sender is full, and once
 * the spool can be written everything goes, in order.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "fake_mqtt.h"
#include "sender.h"
#include "util.h"

typedef struct fixture {
    mqtt_client *mq;
    sender *s;
    sender_run *r;
    json_t *cols;
} fixture;

static int setup_with(void **state, size_t rows, double delay, size_t bytes)
{
    fixture *f = calloc(1, sizeof *f);
    f->mq = fake_mqtt__new();
    fake_mqtt__set_connected(f->mq, 1);
    sender_limits lim = {.batch_rows = rows, .batch_delay = delay,
                         .buffer_bytes = bytes, .window = 100};
    f->s = sender__new(f->mq, &lim);
    f->cols = json_pack("[s, s, s]", "t", "a.x", "a.y");
    sender_run_spec spec = {.run_id = "run-1",
                            .result_topic = "twin/c/result/run-1",
                            .event_topic = "twin/c/event/run-1",
                            .columns = f->cols};
    f->r = sender__run_new(f->s, &spec, NULL);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 3, 0.02, 1u << 20);
}

static int teardown(void **state)
{
    fixture *f = *state;
    sender__run_free(&f->r);
    sender__free(&f->s);
    fake_mqtt__free(f->mq);
    json_decref(f->cols);
    free(f);
    return 0;
}

static void row(fixture *f, double t, double now)
{
    double v[3] = {t, 10 * t, 0.1 * t};
    assert_int_equal(sender__row(f->r, v, 3, now), 0);
}

/* Parse published message i as a result; check its envelope. */
static json_t *result(fixture *f, size_t i, json_int_t seq)
{
    const fake_pub *p = fake_mqtt__get(f->mq, i);
    assert_non_null(p);
    assert_string_equal(p->topic, "twin/c/result/run-1");
    json_t *m = json_loads(p->payload, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "contract")),
                        "twin.result/1");
    assert_string_equal(json_string_value(json_object_get(m, "run")),
                        "run-1");
    assert_int_equal(json_integer_value(json_object_get(m, "seq")), seq);
    assert_true(json_equal(json_object_get(m, "columns"), f->cols));
    return m;
}

static void test_sender__batches_by_rows(void **state)
{
    fixture *f = *state;
    for (int k = 0; k < 7; k++)
        row(f, k, 0.0);
    /* The first row goes alone, then batches of 3. */
    assert_int_equal(fake_mqtt__count(f->mq), 3);
    static const size_t sizes[] = {1, 3, 3};
    double t = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *m = result(f, i, (json_int_t)i);
        json_t *rows = json_object_get(m, "rows");
        assert_int_equal(json_array_size(rows), sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++, t++) {
            json_t *rw = json_array_get(rows, k);
            assert_float_equal(json_number_value(json_array_get(rw, 0)), t, 0);
            assert_float_equal(json_number_value(json_array_get(rw, 1)),
                               10 * t, 0);
            /* 0.1·t written to round-trip exactly */
            assert_true(json_number_value(json_array_get(rw, 2)) == 0.1 * t);
        }
        json_decref(m);
    }
    assert_int_equal(sender__run_last_seq(f->r), 2);
    assert_int_equal(sender__run_rows(f->r), 7);
}

/* A topic no one can publish to is never queued (nor journaled), and a
 * message the client refuses for good is dropped: neither holds back the
 * messages after it. */
static void test_sender__bad_topics(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"twin/c/response/#", "+", "a/+/b",
                                      "$SYS/x", "", "a\x01b", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sender__publish(f->s, bad[i], "{}", 2, 0, NULL, 0),
                         -1);
    assert_int_equal(sender__queued(f->s), 0);
    assert_int_equal(sender__publish(f->s, "refuse/x", "{}", 2, 0, NULL, 0),
                     0);
    assert_int_equal(sender__publish(f->s, "twin/c/response/ok", "{}", 2, 0,
                                     NULL, 0),
                     0);
    assert_int_equal(fake_mqtt__count(f->mq), 1);
    assert_string_equal(fake_mqtt__get(f->mq, 0)->topic,
                        "twin/c/response/ok");
    assert_int_equal(sender__queued(f->s), 1);
}

static void test_sender__batches_by_time(void **state)
{
    fixture *f = *state;
    row(f, 0, 10.0);
    row(f, 1, 10.0);
    assert_int_equal(fake_mqtt__count(f->mq), 1);
    assert_float_equal(sender__next_due(f->s), 10.02, 1e-12);
    sender__flush_due(f->s, 10.01);
    assert_int_equal(fake_mqtt__count(f->mq), 1);
    sender__flush_due(f->s, 10.03);
    assert_int_equal(fake_mqtt__count(f->mq), 2);
    json_decref(result(f, 1, 1));
    assert_true(isinf(sender__next_due(f->s)));
    /* The end of a run flushes what is left. */
    row(f, 2, 11.0);
    sender__run_flush(f->r);
    assert_int_equal(fake_mqtt__count(f->mq), 3);
    assert_int_equal(sender__run_last_seq(f->r), 2);
}

static void test_sender__nonfinite_and_width(void **state)
{
    fixture *f = *state;
    double v[3] = {0, NAN, INFINITY};
    assert_int_equal(sender__row(f->r, v, 3, 0), 0);
    json_t *m = result(f, 0, 0);
    json_t *rw = json_array_get(json_object_get(m, "rows"), 0);
    assert_true(json_is_null(json_array_get(rw, 1)));
    assert_true(json_is_null(json_array_get(rw, 2)));
    json_decref(m);
    assert_int_equal(sender__row(f->r, v, 2, 0), -1); /* too narrow */
    assert_int_equal(sender__run_rows(f->r), 1);
}

static void test_sender__holds_while_away(void **state)
{
    fixture *f = *state;
    fake_mqtt__set_connected(f->mq, 0);
    for (int k = 0; k < 7; k++)
        row(f, k, 0.0);
    assert_int_equal(fake_mqtt__count(f->mq), 0);
    assert_int_equal(sender__queued(f->s), 3);
    /* Connected: everything goes, in order. */
    fake_mqtt__set_connected(f->mq, 1);
    mqtt_event up = fake_mqtt__event(MQTT_EV_CONNECTED, 0);
    sender__on_mqtt(f->s, &up);
    assert_int_equal(fake_mqtt__count(f->mq), 3);
    for (size_t i = 0; i < 3; i++)
        json_decref(result(f, i, (json_int_t)i));
    /* The broker acknowledges the first; the connection drops. */
    mqtt_event ack = fake_mqtt__event(MQTT_EV_PUBACK,
                                      fake_mqtt__get(f->mq, 0)->tag);
    sender__on_mqtt(f->s, &ack);
    assert_int_equal(sender__queued(f->s), 2);
    fake_mqtt__set_connected(f->mq, 0);
    mqtt_event lost = fake_mqtt__event(MQTT_EV_LOST, 0);
    sender__on_mqtt(f->s, &lost);
    fake_mqtt__clear(f->mq);
    /* Back: the two unacknowledged go again, same seq, in order. */
    fake_mqtt__set_connected(f->mq, 1);
    sender__on_mqtt(f->s, &up);
    assert_int_equal(fake_mqtt__count(f->mq), 2);
    json_decref(result(f, 0, 1));
    json_decref(result(f, 1, 2));
    /* A late ack of a tag from before the drop changes nothing. */
    mqtt_event stale = fake_mqtt__event(MQTT_EV_PUBACK, 2);
    sender__on_mqtt(f->s, &stale);
    assert_int_equal(sender__queued(f->s), 2);
    for (size_t i = 0; i < 2; i++) {
        mqtt_event a = fake_mqtt__event(MQTT_EV_PUBACK,
                                        fake_mqtt__get(f->mq, i)->tag);
        sender__on_mqtt(f->s, &a);
    }
    assert_int_equal(sender__queued(f->s), 0);
    assert_int_equal(sender__queued_bytes(f->s), 0);
}

/* A dropped connection fails every publish paho still held, one failure
 * each, and some arrive only after the reconnect.  The first failure
 * sends the unacknowledged messages again; the failures and the
 * acknowledgements of publishes from before that must change nothing —
 * each one sending the whole window again turned one drop into hundreds
 * of thousands of publishes and a controller busy for minutes. */
static void test_sender__failures_after_a_drop(void **state)
{
    fixture *f;
    setup_with(state, 1, 0.02, 1u << 24);
    f = *state;
    for (int k = 0; k < 300; k++)
        row(f, k, 0.0);
    assert_int_equal(fake_mqtt__count(f->mq), 100); /* the window */
    uint64_t old[100];
    for (size_t i = 0; i < 100; i++)
        old[i] = fake_mqtt__get(f->mq, i)->tag;
    /* The drop: the connection's end, then half of the failures. */
    fake_mqtt__set_connected(f->mq, 0);
    mqtt_event lost = fake_mqtt__event(MQTT_EV_LOST, 0);
    sender__on_mqtt(f->s, &lost);
    for (size_t i = 0; i < 50; i++) {
        mqtt_event e = fake_mqtt__event(MQTT_EV_PUBFAIL, old[i]);
        sender__on_mqtt(f->s, &e);
    }
    fake_mqtt__clear(f->mq);
    /* Back: the window again, from seq 0. */
    fake_mqtt__set_connected(f->mq, 1);
    mqtt_event up = fake_mqtt__event(MQTT_EV_CONNECTED, 0);
    sender__on_mqtt(f->s, &up);
    assert_int_equal(fake_mqtt__count(f->mq), 100);
    json_decref(result(f, 0, 0));
    /* The other half of the failures, and a late acknowledgement, of
     * publishes from before the drop: nothing more is sent. */
    for (size_t i = 50; i < 100; i++) {
        mqtt_event e = fake_mqtt__event(MQTT_EV_PUBFAIL, old[i]);
        sender__on_mqtt(f->s, &e);
    }
    mqtt_event late = fake_mqtt__event(MQTT_EV_PUBACK, old[7]);
    sender__on_mqtt(f->s, &late);
    assert_int_equal(fake_mqtt__count(f->mq), 100);
    assert_int_equal(sender__queued(f->s), 300);
    /* A failure of a publish made since the reconnect still sends the
     * unacknowledged again (the window, once), then acknowledgements
     * drain everything, in order. */
    mqtt_event fail = fake_mqtt__event(MQTT_EV_PUBFAIL,
                                       fake_mqtt__get(f->mq, 3)->tag);
    sender__on_mqtt(f->s, &fail);
    assert_int_equal(fake_mqtt__count(f->mq), 200);
    json_decref(result(f, 100, 0));
    size_t acked = 100;
    while (sender__queued(f->s) > 0 && acked < fake_mqtt__count(f->mq)) {
        mqtt_event a = fake_mqtt__event(MQTT_EV_PUBACK,
                                        fake_mqtt__get(f->mq, acked)->tag);
        json_decref(result(f, acked, (json_int_t)(acked - 100)));
        sender__on_mqtt(f->s, &a);
        acked++;
    }
    assert_int_equal(sender__queued(f->s), 0);
    assert_int_equal(fake_mqtt__count(f->mq), 400);
    teardown(state);
}

static void test_sender__bounded(void **state)
{
    fixture *f;
    setup_with(state, 1, 0.02, 2000);
    f = *state;
    fake_mqtt__set_connected(f->mq, 0);
    int k = 0;
    while (!sender__full(f->s) && k < 1000)
        row(f, k++, 0.0);
    assert_true(sender__full(f->s));
    assert_true(k > 3 && k < 100);
    /* Full means "stop feeding me", never "dropped": all are kept. */
    assert_int_equal(sender__queued(f->s), (size_t)k);
    fake_mqtt__set_connected(f->mq, 1);
    mqtt_event up = fake_mqtt__event(MQTT_EV_CONNECTED, 0);
    sender__on_mqtt(f->s, &up);
    for (size_t i = 0; i < fake_mqtt__count(f->mq); i++) {
        mqtt_event a = fake_mqtt__event(MQTT_EV_PUBACK,
                                        fake_mqtt__get(f->mq, i)->tag);
        sender__on_mqtt(f->s, &a);
    }
    assert_false(sender__full(f->s));
    teardown(state);
}

static void test_sender__events(void **state)
{
    fixture *f = *state;
    assert_int_equal(sender__event(f->r, json_pack("{s:s, s:f}", "kind",
                                                   "state", "t", 1.5)), 0);
    const fake_pub *p = fake_mqtt__get(f->mq, 0);
    assert_string_equal(p->topic, "twin/c/event/run-1");
    json_t *m = json_loads(p->payload, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(m, "contract")),
                        "twin.event/1");
    assert_string_equal(json_string_value(json_object_get(m, "run")),
                        "run-1");
    assert_string_equal(json_string_value(json_object_get(m, "kind")),
                        "state");
    json_decref(m);
}

/* ---- a run's share of the spool ------------------------------------------ */

#define SHARE_TOPIC "twin/c/result/share-1"
#define SHARE_EVENTS "twin/c/event/share-1"

static size_t record_bytes(const fake_pub *p)
{
    return 25 + strlen(p->topic) + strlen(p->payload);
}

/* Rows that take the most room (every value 24 characters), arriving
 * slower than the batch delay, so that each would leave alone: the run
 * keeps within its share, computed here from docs/spool.md's formula, and
 * every row arrives once, in order. */
static void test_sender__share_holds_rows(void **state)
{
    (void)state;
    enum { B = 10, ROWS = 200, COLS = 3 };
    mqtt_client *mq = fake_mqtt__new();
    fake_mqtt__set_connected(mq, 1);
    sender_limits lim = {.batch_rows = B, .batch_delay = 0.02,
                         .buffer_bytes = 1u << 30, .window = 100000};
    sender *s = sender__new(mq, &lim);
    json_t *cols = json_pack("[s, s, s]", "t", "a.x", "a.y");
    sender_run_spec spec = {.run_id = "share-1", .result_topic = SHARE_TOPIC,
                            .event_topic = SHARE_EVENTS, .columns = cols,
                            .max_rows = ROWS};
    sender_run *r = sender__run_new(s, &spec, NULL);
    /* The formula, written out: a message's fixed part and a row. */
    const char *prefix = "{\"contract\":\"twin.result/1\",\"run\":\"share-1\","
                         "\"seq\":";
    const char *middle = ",\"columns\":[\"t\",\"a.x\",\"a.y\"],\"rows\":[";
    double msg_max = 25 + strlen(SHARE_TOPIC) + strlen(prefix) + 20 +
                     strlen(middle) + 2;
    double row_max = COLS * 25 + 2;
    double full = ceil((double)ROWS / B);
    double early = fmin(ROWS, full + 16);
    double share = full * msg_max + ROWS * row_max + early * msg_max;
    assert_true((double)sender__run_bound(s, &spec) >= share);

    const double widest = -2.2250738585072014e-308;
    for (int k = 0; k < ROWS; k++) {
        double v[COLS] = {widest, widest, widest};
        double now = 0.03 * k;
        sender__flush_due(s, now);
        assert_int_equal(sender__row(r, v, COLS, now), 0);
    }
    double v[COLS] = {0, 0, 0};
    assert_int_equal(sender__row(r, v, COLS, 10.0), -2); /* one too many */
    sender__run_close(r);

    size_t n = fake_mqtt__count(mq), bytes = 0, rows = 0;
    for (size_t i = 0; i < n; i++) {
        const fake_pub *p = fake_mqtt__get(mq, i);
        bytes += record_bytes(p);
        json_t *m = json_loads(p->payload, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(m, "seq")), i);
        json_t *rw = json_object_get(m, "rows");
        for (size_t j = 0; j < json_array_size(rw); j++)
            assert_true(json_real_value(json_array_get(
                            json_array_get(rw, j), 0)) == widest);
        rows += json_array_size(rw);
        json_decref(m);
    }
    assert_int_equal(rows, ROWS);
    assert_true((double)bytes <= share);
    /* Partial batches did leave early, as many as the share paid for,
     * and no more: not one per row. */
    assert_true(n > full + 1 && n < ROWS);
    assert_int_equal(sender__run_last_seq(r), (int64_t)n - 1);
    sender__run_free(&r);
    sender__free(&s);
    fake_mqtt__free(mq);
    json_decref(cols);
}

/* Events past their share are counted, not sent, and the close says how
 * many. */
static void test_sender__share_of_events(void **state)
{
    (void)state;
    mqtt_client *mq = fake_mqtt__new();
    fake_mqtt__set_connected(mq, 1);
    sender_limits lim = {.batch_rows = 10, .batch_delay = 0.02,
                         .buffer_bytes = 1u << 30, .window = 100000};
    sender *s = sender__new(mq, &lim);
    json_t *cols = json_pack("[s]", "t");
    sender_run_spec spec = {.run_id = "share-1", .result_topic = SHARE_TOPIC,
                            .event_topic = SHARE_EVENTS, .columns = cols,
                            .max_rows = 1, .event_bytes = 4000};
    sender_run *r = sender__run_new(s, &spec, NULL);
    int sent = 0, withheld = 0;
    for (int k = 0; k < 100; k++) {
        int rc = sender__event(r, json_pack("{s:s, s:f, s:s}", "kind", "log",
                                            "t", (double)k, "message",
                                            "a model that logs every step"));
        assert_true(rc == 0 || rc == 1);
        sent += rc == 0;
        withheld += rc == 1;
    }
    assert_true(sent > 0 && withheld > 0);
    assert_int_equal(sender__run_withheld(r), withheld);
    size_t bytes = 0;
    for (size_t i = 0; i < fake_mqtt__count(mq); i++)
        bytes += record_bytes(fake_mqtt__get(mq, i));
    /* The share: event_bytes and the nonfinite event of column t. */
    assert_true(bytes <= 4000 + 25 + strlen(SHARE_EVENTS) + 1024 + 2);
    sender__run_close(r);
    const fake_pub *last = fake_mqtt__get(mq, fake_mqtt__count(mq) - 1);
    json_t *m = json_loads(last->payload, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(m, "level")),
                        "warning");
    char want[64];
    snprintf(want, sizeof want, "%d events of this run were not sent",
             withheld);
    assert_non_null(strstr(json_string_value(json_object_get(m, "message")),
                           want));
    json_decref(m);
    sender__run_free(&r);
    sender__free(&s);
    fake_mqtt__free(mq);
    json_decref(cols);
}

/* A sender on a fake connection, writing to a spool in a scratch
 * directory (spooled_free removes it). */
typedef struct spooled {
    char dir[64];
    mqtt_client *mq;
    sender *s;
    spool *sp;
} spooled;

static void spooled_new(spooled *t, const sender_limits *lim)
{
    char why[256];
    snprintf(t->dir, sizeof t->dir, "/tmp/twin-test-sender-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->mq = fake_mqtt__new();
    fake_mqtt__set_connected(t->mq, 1);
    t->s = sender__new(t->mq, lim);
    t->sp = spool__open(t->dir, why, sizeof why);
    assert_non_null(t->sp);
    sender__use_spool(t->s, t->sp);
}

static void spooled_free(spooled *t)
{
    char cmd[128];
    sender__free(&t->s);
    spool__close(&t->sp);
    fake_mqtt__free(t->mq);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

/* The stream of run-1 with columns cols. */
static sender_run_spec run1(const json_t *cols)
{
    return (sender_run_spec){.run_id = "run-1",
                             .result_topic = "twin/c/result/run-1",
                             .event_topic = "twin/c/event/run-1",
                             .columns = cols};
}

/* The journal cannot grow (a full disk, here the file size limit): the
 * run's messages wait unpublished, after the first one that failed too;
 * the sender is full (the daemon stops reading the run); when the
 * limit goes, a retry journals them and they go out in order. */
static void test_sender__spool_cannot_write(void **state)
{
    (void)state;
    sender_limits lim = {.batch_rows = 1, .batch_delay = 0.02,
                         .buffer_bytes = 1u << 20, .window = 100};
    spooled t;
    spooled_new(&t, &lim);
    mqtt_client *mq = t.mq;
    sender *s = t.s;
    spool_stream *st = spool__stream(t.sp, "run-1");
    json_t *cols = json_pack("[s, s, s]", "t", "a.x", "a.y");
    sender_run_spec spec = run1(cols);
    sender_run *r = sender__run_new(s, &spec, st);
    fixture f = {.mq = mq, .s = s, .r = r, .cols = cols};
    for (int i = 0; i < 5; i++)
        row(&f, i, 0);
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 5);
    /* No file may grow any more. */
    struct rlimit was, now;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, SIG_IGN);
    now = was;
    now.rlim_cur = spool__stream_bytes(st) + 40;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &now), 0);
    for (int i = 5; i < 10; i++)
        row(&f, i, 0);
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 5);
    assert_true(sender__full(s));
    assert_int_equal(sender__spool_error(s), EFBIG);
    assert_int_equal(sender__retry(s), -1);
    assert_int_equal(spool__stream_last_seq(st), 4);
    /* The limit goes: everything is journaled, then sent, in order. */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    assert_int_equal(sender__retry(s), 0);
    assert_int_equal(sender__spool_error(s), 0);
    assert_false(sender__full(s));
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 10);
    for (size_t i = 0; i < 10; i++)
        json_decref(result(&f, i, (json_int_t)i));
    assert_int_equal(spool__stream_last_seq(st), 9);
    sender__run_free(&r);
    spooled_free(&t);
    json_decref(cols);
}

/* With a spool: an answer that needs no disk (sender__publish_copy)
 * is not journaled, goes out in order with journaled ones, keeps its
 * retained flag, and is sent again after a reconnect until the broker
 * acknowledged it; the daemon's own journaled answer (sender__publish)
 * is in the spool. */
static void test_sender__copies_need_no_disk(void **state)
{
    (void)state;
    sender_limits lim = {.batch_rows = 1, .buffer_bytes = 1u << 20,
                         .window = 100};
    spooled t;
    spooled_new(&t, &lim);
    mqtt_client *mq = t.mq;
    sender *s = t.s;
    spool *sp = t.sp;
    size_t empty = spool__bytes(sp);
    assert_int_equal(sender__publish_copy(s, "twin/c/response/a", "{\"a\":1}",
                                          7, 0, "corr", 4), 0);
    assert_int_equal(sender__publish_copy(s, "twin/c/status", "{}", 2, 1,
                                          NULL, 0), 0);
    assert_int_equal(spool__bytes(sp), empty);
    assert_int_equal(sender__publish(s, "twin/c/response/b", "{}", 2, 0,
                                     NULL, 0), 0);
    assert_true(spool__bytes(sp) > empty);
    /* Never journaled, even so refused for its topic. */
    assert_int_equal(sender__publish_copy(s, "twin/#", "{}", 2, 0, NULL, 0),
                     -1);
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 3);
    assert_string_equal(fake_mqtt__get(mq, 0)->topic, "twin/c/response/a");
    assert_string_equal(fake_mqtt__get(mq, 0)->payload, "{\"a\":1}");
    assert_int_equal(fake_mqtt__get(mq, 1)->retained, 1);
    assert_string_equal(fake_mqtt__get(mq, 2)->topic, "twin/c/response/b");
    assert_int_equal(sender__queued(s), 3);
    /* The connection drops before any PUBACK: all of it goes again. */
    fake_mqtt__set_connected(mq, 0);
    mqtt_event lost = fake_mqtt__event(MQTT_EV_LOST, 0);
    sender__on_mqtt(s, &lost);
    fake_mqtt__clear(mq);
    fake_mqtt__set_connected(mq, 1);
    mqtt_event up = fake_mqtt__event(MQTT_EV_CONNECTED, 0);
    sender__on_mqtt(s, &up);
    assert_int_equal(fake_mqtt__count(mq), 3);
    assert_string_equal(fake_mqtt__get(mq, 0)->topic, "twin/c/response/a");
    for (size_t i = 0; i < 3; i++) {
        mqtt_event a = fake_mqtt__event(MQTT_EV_PUBACK,
                                        fake_mqtt__get(mq, i)->tag);
        sender__on_mqtt(s, &a);
    }
    assert_int_equal(sender__queued(s), 0);
    spooled_free(&t);
}

/* A run just started: its acceptance waits for its first row, so that
 * one sync covers both, and goes first; not past the wait's bound (the
 * loop wakes then: sender__next_due); a run freed while awaited holds
 * nothing back. */
static void test_sender__acceptance_awaits_first_row(void **state)
{
    (void)state;
    sender_limits lim = {.batch_rows = 10, .batch_delay = 5,
                         .buffer_bytes = 1u << 20, .window = 100};
    spooled t;
    spooled_new(&t, &lim);
    mqtt_client *mq = t.mq;
    sender *s = t.s;
    json_t *cols = json_pack("[s, s, s]", "t", "a.x", "a.y");
    sender_run_spec spec = run1(cols);
    spool_stream *st = spool__stream(t.sp, "run-1");
    sender_run *r = sender__run_new(s, &spec, st);
    fixture f = {.mq = mq, .s = s, .r = r, .cols = cols};
    assert_int_equal(sender__publish_on(s, st, "twin/c/response/run-1",
                                        "{}", 2, NULL, 0), 0);
    sender__await_first_row(r, 60);
    assert_true(sender__next_due(s) <= util__now() + 60);
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 0);
    row(&f, 0, util__now());
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 2);
    assert_string_equal(fake_mqtt__get(mq, 0)->topic,
                        "twin/c/response/run-1");
    json_decref(result(&f, 1, 0));
    assert_true(isinf(sender__next_due(s)) || sender__next_due(s) >
                util__now() + 1);
    /* A bound of 0: nothing waits. */
    fake_mqtt__clear(mq);
    sender_run *r2 = sender__run_new(s, &spec, st);
    assert_int_equal(sender__publish_on(s, st, "twin/c/response/run-2",
                                        "{}", 2, NULL, 0), 0);
    sender__await_first_row(r2, 0);
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 1);
    /* Freed while awaited: nothing waits for it any more. */
    sender_run *r3 = sender__run_new(s, &spec, st);
    sender__await_first_row(r3, 60);
    sender__run_free(&r3);
    assert_int_equal(sender__publish_on(s, st, "twin/c/response/run-3",
                                        "{}", 2, NULL, 0), 0);
    sender__pump(s);
    assert_int_equal(fake_mqtt__count(mq), 2);
    sender__run_free(&r2);
    sender__run_free(&r);
    spooled_free(&t);
    json_decref(cols);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sender__batches_by_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sender__bad_topics, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sender__batches_by_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sender__nonfinite_and_width,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender__holds_while_away, setup,
                                        teardown),
        cmocka_unit_test(test_sender__bounded),
        cmocka_unit_test(test_sender__failures_after_a_drop),
        cmocka_unit_test_setup_teardown(test_sender__events, setup, teardown),
        cmocka_unit_test(test_sender__share_holds_rows),
        cmocka_unit_test(test_sender__share_of_events),
        cmocka_unit_test(test_sender__spool_cannot_write),
        cmocka_unit_test(test_sender__copies_need_no_disk),
        cmocka_unit_test(test_sender__acceptance_awaits_first_row),
    };
    return cmocka_run_group_tests_name("sender", tests, NULL, NULL);
}
