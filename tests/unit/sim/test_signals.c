/*
 * test_signals.c — plant signals bound to inputs: the scenario's
 * {"signal": {...}} checked with every problem at its own path
 * (signals.c), payloads decoded (bare numbers, JSON Pointers, scale and
 * offset, time stamps, everything refused named), and a run's feed
 * (signal_feed.c) driven through a real run on a scripted wall clock:
 * which value is in force at which tick, a value stamped in the future
 * waiting for its time, an out-of-order one dropped, stale and bad
 * payloads said once.  The expected columns are written out by hand from
 * the rules of docs/live-twin.md.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signal_feed.h"
#include "signals.h"
#include "support.h"

static sc_signal *parse_ok(const char *text)
{
    twin_errors errs = {0};
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    sc_signal *s = signals__parse(j, "/s", &errs);
    if (s == NULL)
        fail_msg("%s: %s", text, errs.count ? errs.items[0].message : "oom");
    json_decref(j);
    return s;
}

static void test_signals__decode(void **state)
{
    static const struct {
        const char *spec, *payload;
        int ok;
        double value, stamp;  /* stamp NAN: none */
        const char *says;     /* refused: a word of the sentence */
    } cases[] = {
        {"{\"topic\": \"p/a\"}", "42", 1, 42, NAN, NULL},
        {"{\"topic\": \"p/a\"}", " -1.5e2\n", 1, -150, NAN, NULL},
        {"{\"topic\": \"p/a\"}", "true", 1, 1, NAN, NULL},
        {"{\"topic\": \"p/a\"}", "false", 1, 0, NAN, NULL},
        {"{\"topic\": \"p/a\", \"scale\": 0.01, \"offset\": 2}", "50", 1,
         50 * 0.01 + 2, NAN, NULL},
        {"{\"topic\": \"p/a\"}", "abc", 0, 0, NAN, "not a number"},
        {"{\"topic\": \"p/a\"}", "", 0, 0, NAN, "not a number"},
        {"{\"topic\": \"p/a\"}", "42 43", 0, 0, NAN, "not a number"},
        {"{\"topic\": \"p/a\"}", "\"42\"", 0, 0, NAN, "a string, not"},
        {"{\"topic\": \"p/a\"}", "null", 0, 0, NAN, "null, not"},
        {"{\"topic\": \"p/a\"}", "1e400", 0, 0, NAN, "not a number"},
        {"{\"topic\": \"p/a\", \"scale\": 1e10}", "1e300", 0, 0, NAN,
         "not finite"},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\"}",
         "{\"value\": 0.25, \"t\": 5}", 1, 0.25, NAN, NULL},
        {"{\"topic\": \"p/a\", \"pointer\": \"/d/1/v\"}",
         "{\"d\": [{\"v\": 1}, {\"v\": 2}]}", 1, 2, NAN, NULL},
        {"{\"topic\": \"p/a\", \"pointer\": \"/a~1b\"}", "{\"a/b\": 7}", 1,
         7, NAN, NULL},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\"}", "{\"val\": 1}", 0,
         0, NAN, "no member \"value\""},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\"}",
         "{\"value\": \"x\"}", 0, 0, NAN, "a string, not a number"},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\"}",
         "{\"value\": 1, \"value\": 2}", 0, 0, NAN, "not JSON"},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\"}", "{\"value\": 1",
         0, 0, NAN, "not JSON"},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\"}", "[1]", 0, 0, NAN,
         "not an array index"},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\", \"timestamp\": "
         "\"/t\"}", "{\"value\": 3, \"t\": 1796687788.25}", 1, 3,
         1796687788.25, NULL},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\", \"timestamp\": "
         "\"/t\"}", "{\"value\": 3}", 0, 0, NAN, "the time stamp"},
        {"{\"topic\": \"p/a\", \"pointer\": \"/value\", \"timestamp\": "
         "\"/t\"}", "{\"value\": 3, \"t\": \"now\"}", 0, 0, NAN,
         "the time stamp at /t is a string"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sc_signal *s = parse_ok(cases[i].spec);
        double v = -999, stamp = -999;
        char why[512] = "";
        int rc = signals__decode(s, cases[i].payload,
                                 strlen(cases[i].payload), &v, &stamp, why,
                                 sizeof why);
        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("case %zu (%s): refused: %s", i, cases[i].payload,
                         why);
            if (v != cases[i].value)
                fail_msg("case %zu: %.17g, want %.17g", i, v,
                         cases[i].value);
            if (isnan(cases[i].stamp) ? !isnan(stamp)
                                      : stamp != cases[i].stamp)
                fail_msg("case %zu: stamp %.17g, want %.17g", i, stamp,
                         cases[i].stamp);
        } else {
            if (rc == 0)
                fail_msg("case %zu (%s): taken as %g", i, cases[i].payload,
                         v);
            if (strstr(why, cases[i].says) == NULL)
                fail_msg("case %zu (%s): \"%s\" does not say \"%s\"", i,
                         cases[i].payload, why, cases[i].says);
        }
        signals__free(&s);
    }
}

static void test_signals__spec_problems(void **state)
{
    static const struct {
        const char *input;     /* the value of "tank0.valve" */
        const char *path;      /* the first problem's path */
        twin_err_code code;
        const char *says;
    } cases[] = {
        {"{\"signal\": {}}", "/inputs/tank0.valve/signal",
         TWIN_E_MISSING_FIELD, "needs its \"topic\""},
        {"{\"signal\": \"plant/a\"}", "/inputs/tank0.valve/signal",
         TWIN_E_WRONG_TYPE, "is an object"},
        {"{\"signal\": {\"topic\": 3}}", "/inputs/tank0.valve/signal/topic",
         TWIN_E_WRONG_TYPE, "is a string"},
        {"{\"signal\": {\"topic\": \"plant/+/v\"}}",
         "/inputs/tank0.valve/signal/topic", TWIN_E_OUT_OF_RANGE,
         "without the wildcards"},
        {"{\"signal\": {\"topic\": \"plant/#\"}}",
         "/inputs/tank0.valve/signal/topic", TWIN_E_OUT_OF_RANGE,
         "without the wildcards"},
        {"{\"signal\": {\"topic\": \"$SYS/x\"}}",
         "/inputs/tank0.valve/signal/topic", TWIN_E_OUT_OF_RANGE,
         "broker's own"},
        {"{\"signal\": {\"topic\": \"\"}}",
         "/inputs/tank0.valve/signal/topic", TWIN_E_OUT_OF_RANGE,
         "not empty"},
        {"{\"signal\": {\"topic\": \"p/a\", \"pointer\": \"value\"}}",
         "/inputs/tank0.valve/signal/pointer", TWIN_E_OUT_OF_RANGE,
         "JSON Pointer"},
        {"{\"signal\": {\"topic\": \"p/a\", \"pointer\": \"/a~2\"}}",
         "/inputs/tank0.valve/signal/pointer", TWIN_E_OUT_OF_RANGE,
         "'~0'"},
        {"{\"signal\": {\"topic\": \"p/a\", \"timestamp\": 3}}",
         "/inputs/tank0.valve/signal/timestamp", TWIN_E_WRONG_TYPE,
         "JSON Pointer"},
        {"{\"signal\": {\"topic\": \"p/a\", \"scale\": 0}}",
         "/inputs/tank0.valve/signal/scale", TWIN_E_OUT_OF_RANGE,
         "other than 0"},
        {"{\"signal\": {\"topic\": \"p/a\", \"offset\": \"1\"}}",
         "/inputs/tank0.valve/signal/offset", TWIN_E_WRONG_TYPE,
         "is a number"},
        {"{\"signal\": {\"topic\": \"p/a\", \"max_age\": 0}}",
         "/inputs/tank0.valve/signal/max_age", TWIN_E_OUT_OF_RANGE, "> 0"},
        {"{\"signal\": {\"topic\": \"p/a\", \"max_age\": 1, \"on_stale\": "
         "\"zero\"}}", "/inputs/tank0.valve/signal/on_stale",
         TWIN_E_OUT_OF_RANGE, "\"hold\""},
        {"{\"signal\": {\"topic\": \"p/a\", \"on_stale\": \"hold\"}}",
         "/inputs/tank0.valve/signal/on_stale", TWIN_E_MISSING_FIELD,
         "max_age"},
        {"{\"signal\": {\"topic\": \"p/a\", \"maxage\": 1}}",
         "/inputs/tank0.valve/signal/maxage", TWIN_E_OUT_OF_RANGE,
         "no member \"maxage\""},
        {"{\"signal\": {\"topic\": \"p/a\"}, \"value\": 2}",
         "/inputs/tank0.valve/value", TWIN_E_OUT_OF_RANGE, "valve"},
        {"{\"signal\": {\"topic\": \"p/a\"}, \"live\": true}",
         "/inputs/tank0.valve", TWIN_E_OUT_OF_RANGE, "{\"signal\""},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"time\": {\"stop\": 2, \"dt\": 1}, "
                 "\"pace\": {\"realtime\": 1}, \"instances\": {\"tank0\": "
                 "{\"model\": \"tank\"}}, \"inputs\": {\"tank0.valve\": %s}}",
                 cases[i].input);
        twin_errors errs = {0};
        scenario *sc = support__compose_in(support__models(), text, &errs);
        if (sc != NULL)
            fail_msg("case %zu composed: %s", i, cases[i].input);
        assert_true(errs.count >= 1);
        if (strcmp(errs.items[0].path, cases[i].path) != 0 ||
            errs.items[0].code != cases[i].code ||
            strstr(errs.items[0].message, cases[i].says) == NULL)
            fail_msg("case %zu: %s: %s [%d], want %s [%d] saying %s", i,
                     errs.items[0].path, errs.items[0].message,
                     errs.items[0].code, cases[i].path, cases[i].code,
                     cases[i].says);
        errors__clear(&errs);
    }
    /* A batch-paced run cannot follow a plant. */
    twin_errors errs = {0};
    scenario *sc = support__compose_in(support__models(),
        "{\"time\": {\"stop\": 2, \"dt\": 1}, \"instances\": {\"tank0\": "
        "{\"model\": \"tank\"}}, \"inputs\": {\"tank0.valve\": {\"signal\": "
        "{\"topic\": \"p/a\"}}}}", &errs);
    assert_null(sc);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].path, "/inputs/tank0.valve/signal");
    assert_non_null(strstr(errs.items[0].message, "real-time"));
    errors__clear(&errs);
}

/* ---- the feed over a run ------------------------------------------------- */

/* A message the test delivers at the poll of tick k. */
typedef struct script {
    size_t tick;
    double arrived;
    const char *payload;
} script;

typedef struct feed_run {
    scenario *sc;              /* the feed points into it */
    signal_feed *feed;
    const script *msgs;
    size_t n_msgs;
    double valve[16];          /* the column, by tick */
    size_t rows;
    json_t *events;
} feed_run;

#define WALL0 1000.0           /* the wall clock at tick 0: 1000 + t */

static int on_columns(void *ctx, size_t n, const char *const *names)
{
    (void)ctx;
    assert_int_equal(n, 2);
    assert_string_equal(names[1], "tank0.valve");
    return 0;
}

static int on_row(void *ctx, const double *v, size_t n)
{
    feed_run *r = ctx;
    (void)n;
    assert_true(r->rows < 16);
    r->valve[r->rows++] = v[1];
    return 0;
}

static int on_poll(void *ctx, sim *s, double t)
{
    feed_run *r = ctx;
    for (size_t i = 0; i < r->n_msgs; i++)
        if ((double)r->msgs[i].tick == t)
            signal_feed__message(r->feed, "plant/v", r->msgs[i].arrived,
                                 r->msgs[i].payload,
                                 strlen(r->msgs[i].payload), 0, t);
    signal_feed__tick(r->feed, s, t, WALL0 + t);
    return 0;
}

static void on_feed_event(void *ctx, json_t *ev)
{
    json_array_append_new(((feed_run *)ctx)->events, ev);
}

static void run_feed(const char *signal, const script *msgs, size_t n,
                     feed_run *r)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"time\": {\"stop\": 12, \"dt\": 1}, "
             "\"pace\": {\"realtime\": 1}, \"instances\": {\"tank0\": "
             "{\"model\": \"tank\"}}, \"inputs\": {\"tank0.valve\": "
             "{\"signal\": %s, \"value\": 0.5}, \"tank0.q_in\": {\"value\": "
             "0}}, \"outputs\": [\"tank0.valve\"]}", signal);
    scenario *sc = support__compose(text);
    memset(r, 0, sizeof *r);
    r->msgs = msgs;
    r->n_msgs = n;
    r->events = json_array();
    int oom;
    r->feed = signal_feed__new(sc, on_feed_event, r, &oom);
    assert_non_null(r->feed);
    sim_callbacks cb = {.ctx = r, .columns = on_columns, .row = on_row,
                        .poll = on_poll};
    sim_options opt = {.realtime = 0};
    twin_errors errs = {0};
    sim_stats st;
    if (sim__run_scenario(sc, &opt, &cb, &st, &errs) != 0)
        fail_msg("the run failed: %s", errs.count ? errs.items[0].message
                                                  : "?");
    assert_int_equal(r->rows, 13);
    r->sc = sc;
}

static void feed_run_free(feed_run *r)
{
    json_decref(r->events);
    signal_feed__free(&r->feed);
    scenario__free(&r->sc);
}

/* The events' states in order, "fresh@2 stale@10 ...". */
static void states_of(const json_t *events, char *buf, size_t len)
{
    size_t i, used = 0;
    const json_t *e;
    buf[0] = '\0';
    json_array_foreach(events, i, e)
        used += (size_t)snprintf(buf + used, len - used, "%s%s@%g",
                                 used ? " " : "",
                                 json_string_value(json_object_get(e,
                                                                   "state")),
                                 json_number_value(json_object_get(e, "t")));
}

/* The column against want (13 ticks) and the events' states. */
static void expect_run(const feed_run *r, const double *want,
                       const char *states_want)
{
    for (size_t k = 0; k < 13; k++)
        if (fabs(r->valve[k] - want[k]) > 1e-15)
            fail_msg("tick %zu: valve %.17g, want %.17g", k, r->valve[k],
                     want[k]);
    char states[512];
    states_of(r->events, states, sizeof states);
    assert_string_equal(states, states_want);
}

static void test_signals__feed_tick_by_tick(void **state)
{
    /* Wall time of tick t is 1000 + t.  Each payload's "t" is its stamp. */
    static const script msgs[] = {
        {2, 1001.5, "{\"v\": 30, \"t\": 1001.5}"},
        {3, 1002.2, "{\"v\": \"x\", \"t\": 1002.2}"},     /* bad */
        {3, 1002.4, "{\"w\": 1, \"t\": 1002.4}"},         /* bad, unsaid */
        {4, 1003.9, "{\"v\": 60, \"t\": 1006.5}"},        /* waits to 7 */
        {5, 1004.95, "{\"v\": 40, \"t\": 1004.9}"},       /* at 5 */
        {8, 1007.5, "{\"v\": 10, \"t\": 1005.0}"},        /* older: dropped */
        {8, 1007.6, "{\"v\": 101, \"t\": 1007.6}"},       /* 1.01: bad */
    };
    /* In force at each tick, the default 0.5 until a value comes; stale
     * past max_age 2.5 at tick 10 (1010 − 1006.5 = 3.5): on_stale
     * "default" puts 0.5 back. */
    static const double want[13] = {0.5, 0.5, 0.30, 0.30, 0.30, 0.40, 0.40,
                                    0.60, 0.60, 0.60, 0.5, 0.5, 0.5};
    (void)state;
    feed_run r;
    run_feed("{\"topic\": \"plant/v\", \"pointer\": \"/v\", \"scale\": 0.01,"
             " \"timestamp\": \"/t\", \"max_age\": 2.5, \"on_stale\": "
             "\"default\"}", msgs, sizeof msgs / sizeof msgs[0], &r);
    /* fresh at 2; the first bad at 3 said, the second within 1 s not;
     * the out-of-range one at 8 said (1 s after); stale at 10. */
    expect_run(&r, want, "fresh@2 bad@3 bad@8 stale@10");
    const json_t *bad8 = json_array_get(r.events, 2);
    assert_int_equal(json_integer_value(json_object_get(bad8, "bad")), 3);
    /* the one at 3 that was not said is counted in the next said */
    assert_int_equal(json_integer_value(json_object_get(bad8, "unsaid")),
                     1);
    assert_non_null(strstr(json_string_value(json_object_get(bad8,
                                                             "message")),
                           "range"));
    json_t *st = signal_feed__stats(r.feed);
    json_t *want_st = json_pack("{s:{s:s, s:i, s:i, s:i}}", "tank0.valve",
                                "topic", "plant/v", "received", 7, "bad", 3,
                                "stale", 1);
    if (!json_equal(st, want_st))
        fail_msg("stats %s", json_dumps(st, 0));
    json_decref(st);
    json_decref(want_st);
    feed_run_free(&r);
}

static void test_signals__hold_and_missing(void **state)
{
    /* Bare numbers, no stamp: the arrival time counts. */
    static const script msgs[] = {
        {4, 1003.5, "0.2"},
        {5, 1004.5, "0.7"},
        {5, 1004.6, "0.9"},     /* the last to arrive wins */
        {11, 1010.5, "0.1"},    /* fresh again after stale */
    };
    /* missing from tick 2 (1002 − 1000 > 1.5), stale at 7 (1007 − 1004.6
     * > 1.5), held ("hold"), fresh at 11 */
    static const double want[13] = {0.5, 0.5, 0.5, 0.5, 0.2, 0.9, 0.9,
                                    0.9, 0.9, 0.9, 0.9, 0.1, 0.1};
    (void)state;
    feed_run r;
    run_feed("{\"topic\": \"plant/v\", \"max_age\": 1.5}", msgs,
             sizeof msgs / sizeof msgs[0], &r);
    expect_run(&r, want, "missing@2 fresh@4 stale@7 fresh@11");
    json_t *st = signal_feed__stats(r.feed);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(
                         st, "tank0.valve"), "stale")), 2);
    json_decref(st);
    feed_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signals__decode),
        cmocka_unit_test(test_signals__spec_problems),
        cmocka_unit_test(test_signals__feed_tick_by_tick),
        cmocka_unit_test(test_signals__hold_and_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
