/*
 * test_repair.c — asking for missing results again: which replay requests
 * a set of missing seqs makes (coalesced, bounded), when the rounds of
 * status and replay start, that they stop after REPAIR_ROUNDS, that a
 * final response lost with the results is made up from the status, and
 * that a refusal or a lost connection ends or drops a round.  The
 * requests are caught by a fake sender; time is given, never read.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect.h"
#include "repair.h"

#define MAX_SENT 64

typedef struct fake {
    json_t *sent[MAX_SENT];  /* the requests, parsed */
    size_t n_sent;
    int refuse;              /* send fails (not connected) */
    char notes[2048];
} fake;

static int fake_send(void *ctx, const char *payload)
{
    fake *f = ctx;
    if (f->refuse)
        return -1;
    assert_true(f->n_sent < MAX_SENT);
    f->sent[f->n_sent] = json_loads(payload, 0, NULL);
    assert_non_null(f->sent[f->n_sent]);
    f->n_sent++;
    return 0;
}

static void fake_note(void *ctx, const char *sentence)
{
    fake *f = ctx;
    size_t used = strlen(f->notes);
    snprintf(f->notes + used, sizeof f->notes - used, "%s\n", sentence);
}

static void fake_clear(fake *f)
{
    for (size_t i = 0; i < f->n_sent; i++)
        json_decref(f->sent[i]);
    memset(f, 0, sizeof *f);
}

/* One row per message: t = seq. */
static json_t *message(long long seq)
{
    char text[160];
    snprintf(text, sizeof text, "{\"contract\":\"twin.result/1\",\"run\":"
             "\"r\",\"seq\":%lld,\"columns\":[\"t\"],\"rows\":[[%lld]]}",
             seq, seq);
    json_t *m = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(m);
    return m;
}

/* A collect that holds the seqs marked 'x' in have ("xx..x": 0, 1, 4). */
static collect *holding(const char *have)
{
    char why[128];
    collect *c = collect__new(NULL, NULL);
    json_t *cols = json_pack("[s]", "t");
    assert_int_equal(collect__columns(c, cols), 0);
    json_decref(cols);
    assert_int_equal(collect__source(c, "ctl", why, sizeof why), 0);
    for (long long q = 0; have[q]; q++)
        if (have[q] == 'x')
            assert_true(collect__take(c, message(q), "ctl", why,
                                      sizeof why) >= 0);
    return c;
}

static void give(collect *c, long long first, long long last)
{
    char why[128];
    for (long long q = first; q <= last; q++)
        collect__take(c, message(q), "ctl", why, sizeof why);
}

static const char *type_of(const json_t *req)
{
    return json_string_value(json_object_get(req, "type"));
}

/* Answer request req (ok), with the members in fmt (json_pack). */
static void answer(repair *r, const json_t *req, double now, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *resp = json_vpack_ex(NULL, 0, fmt, ap);
    va_end(ap);
    assert_non_null(resp);
    json_object_set(resp, "id", json_object_get(req, "id"));
    json_object_set_new(resp, "type", json_string(type_of(req)));
    if (json_object_get(resp, "status") == NULL)
        json_object_set_new(resp, "status", json_string("ok"));
    repair__answer(r, resp, now);
    json_decref(resp);
}

static repair *start(collect *c, fake *f)
{
    repair_io io = {fake_send, fake_note, f, NULL};
    repair *r = repair__new("r", c, &io);
    assert_non_null(r);
    repair__connected(r, 0.0);
    return r;
}

/* Which replays the missing seqs make, once the final response said
 * last_seq and the results were quiet for REPAIR_GAP_WAIT. */
static void test_repair__plans(void **state)
{
    static const struct {
        const char *name;
        const char *have;
        long long last_seq;
        const char *want;      /* "from-to ..." */
    } cases[] = {
        {"complete", "xxxx", 3, ""},
        {"one hole", "xx..xx", 5, "2-3"},
        {"the tail", "xxx", 9, "3-9"},
        {"none came", "", 4, "0-4"},
        {"close holes as one", "x.xxxxxxx.x", 10, "1-9"},
        {"far holes apart", "x.xxxxxxxxx.x", 12, "1-1 11-11"},
        {"seventeen holes: the last request reaches the end",
         "x.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx."
         "xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx."
         "xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx."
         "xxxxxxxxxx.xxxxxxxxxx.x", 200,
         "1-1 12-12 23-23 34-34 45-45 56-56 67-67 78-78 89-89 100-100 "
         "111-111 122-122 133-133 144-144 155-155 166-200"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f = {0};
        collect *c = holding(cases[i].have);
        repair *r = start(c, &f);
        repair__heard(r, 10.0);
        repair__final(r, cases[i].last_seq, 10.0);
        double next = repair__step(r, 10.5);
        if (cases[i].want[0] == '\0') {
            assert_true(isinf(next));
            assert_int_equal(f.n_sent, 0);
        } else {
            assert_true(next == 10.0 + REPAIR_GAP_WAIT);
            assert_int_equal(f.n_sent, 0);
            repair__step(r, 11.0);
            assert_int_equal(f.n_sent, 1);
            assert_string_equal(type_of(f.sent[0]), "status");
            answer(r, f.sent[0], 11.1, "{s:s, s:s, s:I, s:I}", "run", "r",
                   "state", "finished", "last_seq",
                   (json_int_t)cases[i].last_seq, "rows", (json_int_t)0);
            /* One at a time: the next when the one before is answered. */
            for (size_t k = 1; k < f.n_sent && k < MAX_SENT; k++) {
                size_t before = f.n_sent;
                answer(r, f.sent[k], 11.2, "{s:I}", "sent", (json_int_t)1);
                assert_true(f.n_sent <= before + 1);
            }
            char got[512] = "";
            for (size_t k = 1; k < f.n_sent; k++) {
                assert_string_equal(type_of(f.sent[k]), "replay");
                snprintf(got + strlen(got), sizeof got - strlen(got),
                         "%s%lld-%lld", k > 1 ? " " : "",
                         (long long)json_integer_value(
                             json_object_get(f.sent[k], "from_seq")),
                         (long long)json_integer_value(
                             json_object_get(f.sent[k], "to_seq")));
            }
            if (strcmp(got, cases[i].want) != 0)
                fail_msg("%s: replays \"%s\", expected \"%s\"",
                         cases[i].name, got, cases[i].want);
        }
        assert_false(repair__gave_up(r));
        repair__free(&r);
        assert_null(r);
        collect__free(&c);
        fake_clear(&f);
    }
}

/* A long range goes in requests of 2 000 seqs, each sent when the one
 * before was answered, and what came meanwhile is not asked again; the
 * replayed messages come: the round ends at once, nothing more is
 * asked. */
static void test_repair__chunks(void **state)
{
    fake f = {0};
    collect *c = holding("x");
    repair *r = start(c, &f);
    repair__final(r, 9999, 0.0);
    repair__step(r, 1.0);
    answer(r, f.sent[0], 1.1, "{s:s, s:I}", "state", "finished", "last_seq",
           (json_int_t)9999);
    assert_int_equal(f.n_sent, 2);
    assert_int_equal(json_integer_value(json_object_get(f.sent[1],
                                                        "from_seq")), 1);
    assert_int_equal(json_integer_value(json_object_get(f.sent[1],
                                                        "to_seq")), 2000);
    /* Unanswered: nothing more goes; its time runs out, the round ends. */
    double until = repair__step(r, 2.0);
    assert_true(until > 1.1 + REPAIR_ANSWER_WAIT);
    assert_int_equal(f.n_sent, 2);
    give(c, 1, 2000);
    give(c, 2001, 5000);          /* another receiver's replay */
    answer(r, f.sent[1], 3.0, "{s:I}", "sent", (json_int_t)2000);
    assert_int_equal(f.n_sent, 3);
    assert_int_equal(json_integer_value(json_object_get(f.sent[2],
                                                        "from_seq")), 5001);
    assert_int_equal(json_integer_value(json_object_get(f.sent[2],
                                                        "to_seq")), 7000);
    give(c, 5001, 9999);
    answer(r, f.sent[2], 4.0, "{s:I}", "sent", (json_int_t)2000);
    assert_int_equal(f.n_sent, 3);  /* the rest came */
    assert_true(isinf(repair__step(r, 4.0)));
    assert_false(repair__gave_up(r));
    repair__free(&r);
    collect__free(&c);
    fake_clear(&f);
}

/* The replayed messages come: the round ends at once, nothing more is
 * asked. */
static void test_repair__filled(void **state)
{
    fake f = {0};
    collect *c = holding("xx...x");
    repair *r = start(c, &f);
    repair__final(r, 5, 0.0);
    repair__step(r, 1.0);
    answer(r, f.sent[0], 1.1, "{s:s, s:I}", "state", "finished", "last_seq",
           (json_int_t)5);
    assert_int_equal(f.n_sent, 2);
    answer(r, f.sent[1], 1.2, "{s:I}", "sent", (json_int_t)3);
    give(c, 2, 4);
    repair__heard(r, 1.3);
    assert_true(collect__complete(c, 5));
    assert_true(isinf(repair__step(r, 1.3)));
    assert_int_equal(f.n_sent, 2);
    assert_int_equal(repair__requests(r), 2);
    assert_int_equal(repair__rounds(r), 1);
    assert_false(repair__gave_up(r));
    repair__free(&r);
    collect__free(&c);
    fake_clear(&f);
}

/* Nothing that is asked for comes: REPAIR_ROUNDS rounds, then it gives
 * up and says which seqs. */
static void test_repair__gives_up(void **state)
{
    fake f = {0};
    collect *c = holding("x.x");
    repair *r = start(c, &f);
    repair__final(r, 2, 0.0);
    double now = 0.0;
    for (int round = 0; round < REPAIR_ROUNDS; round++) {
        now = repair__step(r, now);
        assert_true(isfinite(now));
        size_t before = f.n_sent;
        repair__step(r, now);
        assert_int_equal(f.n_sent, before + 1);
        const json_t *st = f.sent[f.n_sent - 1];
        assert_string_equal(type_of(st), "status");
        answer(r, st, now, "{s:s, s:I}", "state", "finished", "last_seq",
               (json_int_t)2);
        assert_int_equal(f.n_sent, before + 2);
        answer(r, f.sent[f.n_sent - 1], now, "{s:I}", "sent", (json_int_t)1);
    }
    now = repair__step(r, now);       /* the last round's wait */
    assert_true(isinf(repair__step(r, now)));
    assert_true(repair__gave_up(r));
    assert_non_null(strstr(repair__why(r), "seq 1) still missing after 5 "
                                           "rounds"));
    assert_int_equal(repair__requests(r), 2 * REPAIR_ROUNDS);
    repair__free(&r);
    collect__free(&c);
    fake_clear(&f);
}

/* The final response was lost: after the connection came back and the
 * results went quiet, status says the run ended; that status stands for
 * the final response, and the tail it names is asked for. */
static void test_repair__lost_final(void **state)
{
    fake f = {0};
    collect *c = holding("xxx");
    repair *r = start(c, &f);
    repair__heard(r, 1.0);
    assert_true(isinf(repair__step(r, 2.0)));   /* no loss: no probe */
    repair__lost(r, 2.0);
    assert_true(isinf(repair__step(r, 3.0)));   /* not connected */
    repair__connected(r, 5.0);
    assert_true(repair__step(r, 5.0) == 5.0 + REPAIR_QUIET_WAIT);
    assert_int_equal(f.n_sent, 0);
    repair__step(r, 8.0);
    assert_int_equal(f.n_sent, 1);
    assert_null(repair__ended(r));
    answer(r, f.sent[0], 8.1, "{s:s, s:s, s:I, s:I}", "run", "r", "state",
           "failed", "last_seq", (json_int_t)4, "rows", (json_int_t)5);
    const json_t *ended = repair__ended(r);
    assert_non_null(ended);
    assert_string_equal(json_string_value(json_object_get(ended, "state")),
                        "failed");
    assert_int_equal(f.n_sent, 2);
    assert_int_equal(json_integer_value(json_object_get(f.sent[1],
                                                        "from_seq")), 3);
    assert_int_equal(json_integer_value(json_object_get(f.sent[1],
                                                        "to_seq")), 4);
    assert_non_null(strstr(f.notes, "its final response did not arrive"));
    repair__free(&r);
    collect__free(&c);
    fake_clear(&f);
}

/* While the run runs and nothing is missing, the probes come further
 * apart; a request that cannot go out is tried again. */
static void test_repair__running(void **state)
{
    fake f = {0};
    collect *c = holding("xx");
    repair *r = start(c, &f);
    repair__lost(r, 0.0);
    repair__connected(r, 1.0);
    f.refuse = 1;
    double next = repair__step(r, 4.0);
    assert_int_equal(f.n_sent, 0);
    assert_true(next > 4.0 && next < 5.0);      /* tried again soon */
    f.refuse = 0;
    repair__step(r, next);
    assert_int_equal(f.n_sent, 1);
    answer(r, f.sent[0], next, "{s:s, s:I}", "state", "running",
           "last_seq", (json_int_t)1);
    assert_int_equal(f.n_sent, 1);              /* nothing missing */
    double probe2 = repair__step(r, next);
    assert_true(probe2 == next + REPAIR_QUIET_WAIT);
    repair__step(r, probe2);
    assert_int_equal(f.n_sent, 2);
    answer(r, f.sent[1], probe2, "{s:s, s:I}", "state", "running",
           "last_seq", (json_int_t)1);
    assert_true(repair__step(r, probe2) == probe2 + 2 * REPAIR_QUIET_WAIT);
    assert_int_equal(repair__rounds(r), 0);     /* the end is not known */
    repair__free(&r);
    collect__free(&c);
    fake_clear(&f);
}

/* A refusal ends the repair; a lost connection drops the round, which
 * does not count. */
static void test_repair__refused_and_lost(void **state)
{
    fake f = {0};
    collect *c = holding("x.");
    repair *r = start(c, &f);
    repair__final(r, 1, 0.0);
    repair__step(r, 1.0);
    assert_int_equal(repair__rounds(r), 1);
    repair__lost(r, 1.5);
    assert_int_equal(repair__rounds(r), 0);
    answer(r, f.sent[0], 1.6, "{s:s, s:I}", "state", "finished", "last_seq",
           (json_int_t)1);                      /* too late: ignored */
    assert_int_equal(f.n_sent, 1);
    repair__connected(r, 2.0);
    repair__step(r, 3.0);
    assert_int_equal(f.n_sent, 2);
    answer(r, f.sent[1], 3.1, "{s:s, s:[{s:s, s:s, s:s}]}", "status",
           "rejected", "errors", "code", "unknown_run", "path", "/run",
           "message", "this controller has no run 'r'");
    assert_true(repair__gave_up(r));
    assert_non_null(strstr(repair__why(r), "no longer knows run r"));
    assert_true(isinf(repair__step(r, 10.0)));
    assert_int_equal(f.n_sent, 2);
    repair__free(&r);
    collect__free(&c);
    fake_clear(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repair__plans),
        cmocka_unit_test(test_repair__chunks),
        cmocka_unit_test(test_repair__filled),
        cmocka_unit_test(test_repair__gives_up),
        cmocka_unit_test(test_repair__lost_final),
        cmocka_unit_test(test_repair__running),
        cmocka_unit_test(test_repair__refused_and_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
