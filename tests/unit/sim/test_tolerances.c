/*
 * test_tolerances.c — per-state absolute tolerances (model ABI 1.2 and
 * the scenario's "abs_tol"), with the test plugins tiny and decay of
 * tests/plugins/ on real CVODE, against closed forms:
 *   - a state of 1e-9 under the scenario's atol of 1e-8 is noise (its
 *     trajectory off by far more than 1e-6 relative over 2 s), and
 *     follows a(0) exp(-t) to 1e-6 relative with the plugin's own 1e-18 or the
 *     scenario's override — also as the second node of an integration
 *     group, behind another model's state (the group's vector at x_off);
 *   - the precedence: override, the model's entry, an FMU state's
 *     nominal times atol (the test FMU ball), the scenario's atol;
 *   - the refusals of bad overrides, with their JSON Pointers;
 *   - the model library's refusals of a bad state_abs_tol and of bad
 *     dependencies (bad_abi12).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

static model_lib lib;

static int setup(void **state)
{
    return modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"), NULL,
                            NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    modlib__free(&lib);
    return 0;
}

static scenario *compose_ok(const char *text)
{
    return support__compose_in_ok(&lib, text);
}

/* The largest |got/want − 1| of column name over the rows, want(t) =
 * w0 exp(−k t) (NaN counts as the largest). */
static double worst(const collected *c, const char *name, double w0,
                    double k)
{
    size_t col = support__col(c, name);
    double err = 0;
    for (size_t r = 0; r < c->n_rows; r++) {
        double t = support__at(c, r, 0), got = support__at(c, r, col);
        double want = w0 * exp(-k * t), e = fabs(got / want - 1);
        err = e > err || isnan(e) ? e : err;
    }
    return err;
}

/* A group of two nodes: d (decay, x(0) = 1, dx/dt = −KD x, slower than
 * a, so that its steps do not resolve a for it) feeds the tiny plugin's
 * input u, so m's states sit behind d's in the group's vector.  extra
 * goes into m's object. */
#define KD 0.05
static void run_group(const char *extra, collected *out)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"time\": {\"stop\": 2, \"dt\": 0.1},"
             " \"solver\": {\"rtol\": 1e-10},"
             " \"instances\": {\"d\": {\"model\": \"decay\","
             "                  \"params\": {\"k\": %g}},"
             "   \"m\": {\"model\": \"tiny\"%s}},"
             " \"connections\": [{\"from\": \"d.x\", \"to\": \"m.u\"}],"
             " \"outputs\": [\"d.x\", \"m.a\", \"m.b\"]}", KD, extra);
    scenario *sc = compose_ok(text);
    support__run(sc, out);
    scenario__free(&sc);
    assert_int_equal(out->result, 0);
}

/* b' = −kb b + exp(−KD t), b(0) = 1: b = (1 − C) e^{−kb t} + C e^{−KD t}
 * with C = 1/(kb − KD). */
static double worst_b(const collected *c)
{
    const double kb = 0.01;
    size_t col = support__col(c, "m.b");
    double err = 0;
    for (size_t r = 0; r < c->n_rows; r++) {
        double t = support__at(c, r, 0);
        double C = 1 / (kb - KD);
        double want = (1 - C) * exp(-kb * t) + C * exp(-KD * t);
        double e = fabs(support__at(c, r, col) / want - 1);
        err = e > err || isnan(e) ? e : err;
    }
    return err;
}

static void test_tolerances__tiny_state_in_a_group(void **state)
{
    collected own = {0}, loose = {0};
    /* The plugin's own 1e-18 on a; b and d at the scenario's 1e-8. */
    run_group("", &own);
    double a_own = worst(&own, "m.a", 1e-9, 1), b_own = worst_b(&own),
           d_own = worst(&own, "d.x", 1, KD);
    /* The override puts a back at 1e-8: the plugin's entry loses. */
    run_group(", \"abs_tol\": {\"a\": 1e-8}", &loose);
    double a_loose = worst(&loose, "m.a", 1e-9, 1);
    printf("tiny a: own tolerance %.3g, atol 1e-8 %.3g relative; b %.3g, "
           "d.x %.3g\n", a_own, a_loose, b_own, d_own);
    assert_true(a_own <= 1e-6);
    assert_true(b_own <= 1e-6 && d_own <= 1e-6);
    /* It matters: at 1e-8 the tiny state is wrong by far more (here
     * about 1e-4; less than alone, below, as the group's other states
     * keep its steps short). */
    assert_true(a_loose > 1e-5);
    support__free(&own);
    support__free(&loose);
}

static void test_tolerances__scenario_override(void **state)
{
    /* Two separate decays of 1e-9: one with the override, one without. */
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 2, \"dt\": 0.1},"
        " \"solver\": {\"rtol\": 1e-10},"
        " \"instances\": {"
        "   \"p\": {\"model\": \"decay\", \"start\": {\"x\": 1e-9},"
        "          \"abs_tol\": {\"x\": 1e-18}},"
        "   \"q\": {\"model\": \"decay\", \"start\": {\"x\": 1e-9}}},"
        " \"outputs\": [\"p.x\", \"q.x\"]}");
    assert_true(sc->inst[0].abs_tol[0] == 1e-18);
    assert_true(sc->inst[1].abs_tol[0] == 1e-8);
    collected c = {0};
    support__run(sc, &c);
    scenario__free(&sc);
    assert_int_equal(c.result, 0);
    double with = worst(&c, "p.x", 1e-9, 1), without = worst(&c, "q.x",
                                                              1e-9, 1);
    printf("decay of 1e-9: override 1e-18 %.3g, atol 1e-8 %.3g relative\n",
           with, without);
    assert_true(with <= 1e-6);
    assert_true(without > 1e-4);
    support__free(&c);
}

static void test_tolerances__precedence(void **state)
{
    scenario *sc = compose_ok(
        "{\"time\": {\"stop\": 1, \"dt\": 1},"
        " \"solver\": {\"atol\": 1e-7},"
        " \"instances\": {\"m\": {\"model\": \"tiny\"},"
        "   \"n\": {\"model\": \"tiny\", \"abs_tol\": {\"b\": 1e-12}},"
        "   \"o\": {\"model\": \"decay\"}}}");
    /* The model's entry for a, the scenario's atol for b; an override. */
    assert_true(sc->inst[0].abs_tol[0] == 1e-18);
    assert_true(sc->inst[0].abs_tol[1] == 1e-7);
    assert_true(sc->inst[1].abs_tol[0] == 1e-18);
    assert_true(sc->inst[1].abs_tol[1] == 1e-12);
    assert_true(sc->inst[2].abs_tol[0] == 1e-7);
    /* --explain lists the states whose atol is not the scenario's. */
    sim_callbacks cb = {0};
    twin_errors errs = {0};
    sim *run = sim__new(sc, NULL, &cb, &errs);
    assert_non_null(run);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    sim__explain(run, out);
    fclose(out);
    if (strstr(text, "tolerances: rtol 1e-06, atol 1e-07; states with "
                     "their own atol: 3\n  m.a: 1e-18\n  n.a: 1e-18\n"
                     "  n.b: 1e-12\n") == NULL)
        fail_msg("--explain says:\n%s", text);
    free(text);
    sim__free(&run);
    scenario__free(&sc);
}

/* An FMU's state with a nominal (the test FMU ball's h declares 0.25, v
 * none) gets atol times it, in FMI 2.0 and 3.0; an override wins. */
static void test_tolerances__fmu_nominal(void **state)
{
    model_lib fmus = {0};
    assert_true(modlib__load_dir(&fmus, getenv("TWIN_TEST_FMU_DIR"), NULL,
                                 NULL) > 0);
    twin_errors errs = {0};
    scenario *sc = support__compose_in(&fmus,
        "{\"time\": {\"stop\": 1, \"dt\": 1}, \"solver\": {\"atol\": 1e-6},"
        " \"instances\": {\"b2\": {\"model\": \"ball2\"},"
        "   \"b3\": {\"model\": \"ball3\", \"abs_tol\": {\"v\": 1e-9}}}}",
        &errs);
    if (sc == NULL)
        errors__print(&errs, "compose: ", stderr);
    assert_non_null(sc);
    for (size_t i = 0; i < 2; i++) {
        const sc_instance *si = &sc->inst[i];
        twin_var_kind kind;
        size_t h, v;
        assert_int_equal(modlib__find_signal(si->model, "h", &kind, &h), 0);
        assert_int_equal(modlib__find_signal(si->model, "v", &kind, &v), 0);
        assert_true(si->abs_tol[h] == 1e-6 * 0.25);
        assert_true(si->abs_tol[v] == (i == 0 ? 1e-6 : 1e-9));
    }
    scenario__free(&sc);
    modlib__free(&fmus);
}

static void test_tolerances__refusals(void **state)
{
    static const struct {
        const char *inst;   /* the instance's object */
        twin_err_code code;
        const char *path, *says;
    } cases[] = {
        {"{\"model\": \"tiny\", \"abs_tol\": {\"c\": 1e-9}}",
         TWIN_E_UNKNOWN_VARIABLE, "/instances/m/abs_tol/c",
         "model 'tiny' has no state 'c' to give an absolute tolerance; its "
         "states are 'a', 'b'"},
        {"{\"model\": \"tiny\", \"abs_tol\": {\"u\": 1e-9}}",
         TWIN_E_UNKNOWN_VARIABLE, "/instances/m/abs_tol/u",
         "has no state 'u'"},
        {"{\"model\": \"tiny\", \"abs_tol\": {\"a\": 0}}",
         TWIN_E_OUT_OF_RANGE, "/instances/m/abs_tol/a",
         "the absolute tolerance of state 'a' must be finite and > 0, not "
         "0"},
        {"{\"model\": \"tiny\", \"abs_tol\": {\"b\": -1e-9}}",
         TWIN_E_OUT_OF_RANGE, "/instances/m/abs_tol/b", "not -1e-09"},
        {"{\"model\": \"tiny\", \"abs_tol\": {\"a\": \"1e-9\"}}",
         TWIN_E_WRONG_TYPE, "/instances/m/abs_tol/a",
         "must be a number, not a string"},
        {"{\"model\": \"tiny\", \"abs_tol\": [1e-9]}", TWIN_E_WRONG_TYPE,
         "/instances/m/abs_tol", "\"abs_tol\" must be an object"},
        {"{\"model\": \"sampler\", \"abs_tol\": {}}", TWIN_E_OUT_OF_RANGE,
         "/instances/m/abs_tol", "is discrete: its states are not "
         "integrated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"time\": {\"stop\": 1, \"dt\": 0.5},"
                 " \"instances\": {\"m\": %s}}", cases[i].inst);
        twin_errors errs = {0};
        scenario *sc = support__compose_in(&lib, text, &errs);
        if (sc != NULL)
            fail_msg("composed: %s", text);
        if (errs.count != 1 || errs.items[0].code != cases[i].code ||
            strcmp(errs.items[0].path, cases[i].path) != 0 ||
            strstr(errs.items[0].message, cases[i].says) == NULL) {
            errors__print(&errs, "got: ", stderr);
            fail_msg("case %zu: wanted one %s at %s saying '%s'", i,
                     errors__code_name(cases[i].code), cases[i].path,
                     cases[i].says);
        }
        errors__clear(&errs);
    }
}

static void test_tolerances__bad_descriptor(void **state)
{
    static const struct {
        const char *path, *says;
    } want[] = {
        {"/dependencies/0", "dependency 0 names variable 1 on 99, but there "
                            "are 5 variables"},
        {"/dependencies/1", "dependency 1 is of 'u', which is neither a "
                            "state (its derivative) nor an output"},
        {"/dependencies/2", "dependency 2 is on 'y', which is neither a "
                            "state nor an input"},
        {"/dependencies/3", "dependency 3 is on 'k', which is neither a "
                            "state nor an input"},
        {"/dependencies/4", "output 'y' is declared to depend on input 'u' "
                            "but is not TWIN_VAR_FEEDTHROUGH"},
        {"/state_abs_tol", "state 'x' has absolute tolerance -1e-09: it "
                           "must be finite and > 0, or 0 for the "
                           "scenario's"},
        {"/state_abs_tol", "state 'x2' has absolute tolerance nan"},
    };
    char path[4096], why[2048] = "";
    snprintf(path, sizeof path, "%s/bad_abi12.so",
             getenv("TWIN_TEST_PLUGIN_DIR"));
    assert_null(modlib__find(&lib, "bad_abi12"));
    assert_null(modlib__open(path, why, sizeof why));
    assert_non_null(strstr(why, "dependency 0 names variable 1 on 99"));
    void *handle = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    const twin_model_descriptor *d =
        modlib__load_descriptor(path, fd, &handle, why, sizeof why);
    assert_non_null(d);
    twin_errors errs = {0};
    modlib__check_descriptor(d, &errs);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (size_t k = 0; k < errs.count && !found; k++)
            found = strcmp(errs.items[k].path, want[i].path) == 0 &&
                    strstr(errs.items[k].message, want[i].says) != NULL;
        if (!found) {
            errors__print(&errs, "got: ", stderr);
            fail_msg("no problem at %s saying '%s'", want[i].path,
                     want[i].says);
        }
    }
    errors__clear(&errs);
    modlib__unload(d, handle);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tolerances__tiny_state_in_a_group),
        cmocka_unit_test(test_tolerances__scenario_override),
        cmocka_unit_test(test_tolerances__precedence),
        cmocka_unit_test(test_tolerances__fmu_nominal),
        cmocka_unit_test(test_tolerances__refusals),
        cmocka_unit_test(test_tolerances__bad_descriptor),
    };
    return cmocka_run_group_tests_name("tolerances", tests, setup, teardown);
}
