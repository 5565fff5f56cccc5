/*
 * test_request.c — the request envelope (contract, id, type) as a table
 * of requests and the problems each must produce, ids usable as topic
 * levels, and MQTT topic filter matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt.h"
#include "request.h"

static void test_request__envelope(void **state)
{
    static const struct {
        const char *json;
        const char *want; /* "code@path;code@path" in order, "" for none */
        int type;         /* expected type, or REQ__COUNT */
    } cases[] = {
        {"{\"contract\":\"twin.request/1\",\"id\":\"a1\",\"type\":\"run\"}",
         "", REQ_RUN},
        {"{\"contract\":\"twin.request/1\",\"id\":\"a1\",\"type\":\"status\","
         "\"extra\":{\"ignored\":true}}", "", REQ_STATUS},
        {"{}", "missing_field@/id;missing_field@/contract;missing_field@/type",
         REQ__COUNT},
        {"{\"contract\":\"twin.request/2\",\"id\":\"x\",\"type\":\"run\"}",
         "bad_contract@/contract", REQ_RUN},
        {"{\"contract\":\"twin.request/1x\",\"id\":\"x\",\"type\":\"run\"}",
         "bad_contract@/contract", REQ_RUN},
        {"{\"contract\":1,\"id\":7,\"type\":[]}",
         "wrong_type@/id;wrong_type@/contract;wrong_type@/type", REQ__COUNT},
        {"{\"contract\":\"twin.request/1\",\"id\":\"a/b\",\"type\":\"run\"}",
         "out_of_range@/id", REQ_RUN},
        {"{\"contract\":\"twin.request/1\",\"id\":\"a\",\"type\":\"fly\"}",
         "out_of_range@/type", REQ__COUNT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *req = json_loads(cases[i].json, 0, NULL);
        assert_non_null(req);
        twin_errors errs = {0};
        const char *id = NULL;
        req_type type;
        int rc = request__check_envelope(req, &errs, &id, &type);
        char got[512] = "";
        for (size_t k = 0; k < errs.count; k++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof got - n, "%s%s@%s", k ? ";" : "",
                     errors__code_name(errs.items[k].code),
                     errs.items[k].path);
        }
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu %s: got '%s', want '%s'", i, cases[i].json,
                     got, cases[i].want);
        assert_int_equal(rc == 0, cases[i].want[0] == '\0');
        assert_int_equal(type, cases[i].type);
        errors__clear(&errs);
        json_decref(req);
    }
}

static void test_request__topic_safe(void **state)
{
    assert_true(request__topic_safe("run-1_a.b:c"));
    assert_false(request__topic_safe(""));
    assert_false(request__topic_safe("a/b"));
    assert_false(request__topic_safe("a+"));
    assert_false(request__topic_safe("#"));
    assert_false(request__topic_safe("a b"));
    char long_id[200];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_false(request__topic_safe(long_id));
}

static void test_request__topic_matches(void **state)
{
    static const struct {
        const char *filter, *topic;
        int match;
    } cases[] = {
        {"twin/c1/input/+", "twin/c1/input/run-7", 1},
        {"twin/c1/input/+", "twin/c1/input/run-7/x", 0},
        {"twin/c1/input/+", "twin/c1/request", 0},
        {"twin/+/status", "twin/c2/status", 1},
        {"twin/#", "twin/c2/result/r", 1},
        {"twin/c1/request", "twin/c1/request", 1},
        {"twin/c1/request", "twin/c1/requests", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (mqtt__topic_matches(cases[i].filter, cases[i].topic) !=
            cases[i].match)
            fail_msg("%s vs %s", cases[i].filter, cases[i].topic);
}

static void test_request__type_names(void **state)
{
    for (int t = 0; t < REQ__COUNT; t++) {
        req_type back;
        assert_int_equal(request__type_of(request__type_name(t), &back), 0);
        assert_int_equal(back, t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request__envelope),
        cmocka_unit_test(test_request__topic_safe),
        cmocka_unit_test(test_request__topic_matches),
        cmocka_unit_test(test_request__type_names),
    };
    return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
