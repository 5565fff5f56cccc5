/*
 * test_model_lib.c — loading plugins: the reference library, and the test
 * plugins of tests/plugins/ that each bend the ABI in one way and must be
 * refused with a message naming the file and the reason; the plugins of
 * tests/plugins/vet/ that crash, hang or lie in their descriptor, refused
 * after their vetting in a child process while the good ones beside them
 * load; a plugin replaced by rename and loaded again is the new version.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model_lib.h"
#include "model_vet.h"
#include "plugin_open.h"
#include "support.h"

static const char *plugin(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s.so", getenv("TWIN_TEST_PLUGIN_DIR"),
             name);
    return path;
}

static void test_model_lib__reference_models(void **state)
{
    static const struct {
        const char *name;
        twin_model_kind kind;
        size_t n_param, n_state, n_input, n_output, n_event;
    } want[] = {
        {"tank", TWIN_MODEL_CONTINUOUS, 3, 1, 2, 2, 1},
        {"pump", TWIN_MODEL_CONTINUOUS, 3, 1, 1, 2, 0},
        {"pi", TWIN_MODEL_DISCRETE, 5, 1, 2, 1, 0},
        {"bioreactor", TWIN_MODEL_CONTINUOUS, 5, 4, 1, 1, 0},
        {"valve", TWIN_MODEL_CONTINUOUS, 1, 0, 3, 1, 0},
        {"header", TWIN_MODEL_CONTINUOUS, 1, 0, 10, 2, 0},
    };
    const model_lib *lib = support__models();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const twin_model *m = modlib__find(lib, want[i].name);
        assert_non_null(m);
        assert_int_equal(m->d->kind, want[i].kind);
        assert_int_equal(m->n_param, want[i].n_param);
        assert_int_equal(m->n_state, want[i].n_state);
        assert_int_equal(m->n_input, want[i].n_input);
        assert_int_equal(m->n_output, want[i].n_output);
        assert_int_equal(m->d->n_event_indicators, want[i].n_event);
    }
    /* pi has a parameter and an input both called sp: separate spaces. */
    const twin_model *pi = modlib__find(lib, "pi");
    twin_var_kind kind;
    size_t idx;
    assert_int_equal(modlib__find_param(pi, "sp", &idx), 0);
    assert_int_equal(idx, 2);
    assert_int_equal(modlib__find_signal(pi, "sp", &kind, &idx), 0);
    assert_int_equal(kind, TWIN_VAR_INPUT);
    assert_int_equal(idx, 1);
    assert_int_equal(modlib__find_signal(pi, "kp", &kind, &idx), -1);
}

static void test_model_lib__refusals(void **state)
{
    static const struct {
        const char *plugin;
        const char *says; /* must appear in the reason */
    } cases[] = {
        {"abi_major2", "built for model ABI 2.0, but this host speaks 1.2"},
        {"abi_minor_newer", "built for model ABI 1.3, but this host speaks "
                            "1.2"},
        {"bad_descriptor", "above max 1 (or NaN) (and more; run twinctl "
                           "check-model)"},
        {"no_entry", "exports no twin_model_entry()"},
        {"does_not_exist", "cannot load"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[2048] = "";
        twin_model *m = modlib__open(plugin(cases[i].plugin), why, sizeof why);
        if (m != NULL)
            fail_msg("%s loaded", cases[i].plugin);
        if (strstr(why, cases[i].says) == NULL ||
            strstr(why, cases[i].plugin) == NULL)
            fail_msg("%s: reason '%s' does not say '%s' and name the file",
                     cases[i].plugin, why, cases[i].says);
    }
}

static void test_model_lib__all_descriptor_problems(void **state)
{
    void *handle = NULL;
    char why[1024];
    int fd = open(plugin("bad_descriptor"), O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    const twin_model_descriptor *d =
        modlib__load_descriptor(plugin("bad_descriptor"), fd, &handle, why,
                                sizeof why);
    assert_non_null(d);
    twin_errors errs = {0};
    size_t n = modlib__check_descriptor(d, &errs);
    /* min > max (and so start outside), the clash, no derivatives. */
    int clash = 0, range = 0, deriv = 0;
    for (size_t i = 0; i < errs.count; i++) {
        clash |= strstr(errs.items[i].message, "used twice") != NULL;
        range |= strstr(errs.items[i].message, "above max") != NULL;
        deriv |= strcmp(errs.items[i].path, "/derivatives") == 0;
    }
    assert_true(n >= 3);
    assert_true(clash && range && deriv);
    errors__clear(&errs);
    plugin_open__close(handle);
    close(fd);
}

static int logged;
static void count_log(void *ctx, const char *message) { logged++; }

static void test_model_lib__load_dir_skips_bad(void **state)
{
    model_lib lib = {0};
    logged = 0;
    int n = modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"), count_log,
                             NULL);
    /* decay, failing, escaping, the ABI 1.1 plugins abi_v10, timer,
     * sampler, typed and stepper, loopy, loopy_state and loopy_tick
     * (algebraic loops), and sparse, sparse_dense and tiny (ABI 1.2) */
    assert_int_equal(n, 14);
    assert_non_null(modlib__find(&lib, "decay"));
    assert_non_null(modlib__find(&lib, "failing"));
    assert_non_null(modlib__find(&lib, "escaping"));
    /* abi_major2, abi_minor_newer, bad_descriptor, no_entry, bad_abi11,
     * bad_abi12 */
    assert_int_equal(logged, 6);
    /* The same directory again: every name is a duplicate. */
    logged = 0;
    assert_int_equal(modlib__load_dir(&lib, getenv("TWIN_TEST_PLUGIN_DIR"),
                                      count_log, NULL), 0);
    assert_int_equal(logged, 20);
    assert_int_equal(modlib__load_dir(&lib, "/nonexistent", count_log, NULL),
                     -1);
    modlib__free(&lib);
}

/* ---- vetting ------------------------------------------------------------ */

static char logs[16384];
static void keep_log(void *ctx, const char *message)
{
    size_t n = strlen(logs);
    snprintf(logs + n, sizeof logs - n, "%s\n", message);
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    assert_true(in >= 0 && out >= 0);
    for (ssize_t k; (k = read(in, buf, sizeof buf)) > 0;)
        assert_int_equal(write(out, buf, (size_t)k), k);
    close(in);
    close(out);
}

static const char *vet_plugin(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/vet/%s.so",
             getenv("TWIN_TEST_PLUGIN_DIR"), name);
    return path;
}

static void test_model_lib__vetting_refuses_bad_plugins(void **state)
{
    static const struct {
        const char *plugin, *says;
    } bad[] = {
        {"entry_aborts", "its entry point died of SIGABRT (aborted) while "
                         "being vetted in a child process"},
        {"entry_segfaults", "its entry point died of SIGSEGV (segmentation "
                            "fault)"},
        {"lying_count", "n_variables is 1099511627776"},
        {"garbage_name", "died of SIGSEGV (segmentation fault) reading its "
                         "descriptor"},
        {"create_segfaults", "create died of SIGSEGV (segmentation fault) at "
                             "the default parameters"},
    };
    char dir[] = "/tmp/twin-vet-XXXXXX", path[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/decay.so", dir);
    copy_file(plugin("decay"), path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.so", dir, bad[i].plugin);
        copy_file(vet_plugin(bad[i].plugin), path);
    }
    model_lib lib = {0};
    logs[0] = '\0';
    unsigned long before = modvet__children();
    assert_int_equal(modlib__load_dir(&lib, dir, keep_log, NULL), 1);
    assert_non_null(modlib__find(&lib, "decay"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *line = strstr(logs, bad[i].plugin);
        if (line == NULL || strstr(line, bad[i].says) == NULL)
            fail_msg("%s: no log line saying '%s':\n%s", bad[i].plugin,
                     bad[i].says, logs);
    }
    /* One child, and one more after each of the four that died. */
    assert_true(modvet__children() - before <= 5);
    /* Again, nothing changed: the verdicts are remembered, no child. */
    model_lib again = {0};
    before = modvet__children();
    assert_int_equal(modlib__load_dir(&again, dir, NULL, NULL), 1);
    assert_int_equal(modvet__children(), before);
    modlib__free(&again);
    modlib__free(&lib);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.so", dir, bad[i].plugin);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/decay.so", dir);
    unlink(path);
    rmdir(dir);
}

static void test_model_lib__vetting_time_limit(void **state)
{
    modvet_file f[2] = {{.path = vet_plugin("entry_hangs")},
                        {.path = plugin("decay")}};
    f[0].fd = open(f[0].path, O_RDONLY | O_CLOEXEC);
    f[1].fd = open(f[1].path, O_RDONLY | O_CLOEXEC);
    assert_true(f[0].fd >= 0 && f[1].fd >= 0);
    modvet__vet(f, 2, 0.3);
    assert_int_equal(f[0].kind, MODVET_DIED);
    if (strstr(f[0].why, "its entry point did not return within 0.3 s") ==
        NULL)
        fail_msg("the hang is not named: %s", f[0].why);
    /* The plugin after the one that hung was vetted by a second child. */
    assert_int_equal(f[1].kind, MODVET_FIT);
    close(f[0].fd);
    close(f[1].fd);
}

static void test_model_lib__replaced_plugin_is_reloaded(void **state)
{
    char dir[] = "/tmp/twin-swap-XXXXXX", path[4096], tmp[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/swap.so", dir);
    snprintf(tmp, sizeof tmp, "%s/swap.so.new", dir);
    copy_file(vet_plugin("swap_v1"), path);
    model_lib v1 = {0}, v2 = {0};
    assert_int_equal(modlib__load_dir(&v1, dir, NULL, NULL), 1);
    assert_string_equal(modlib__find(&v1, "swap")->d->version, "1.0");
    /* Installed as a package manager does: a new file renamed over. */
    copy_file(vet_plugin("swap_v2"), tmp);
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(modlib__load_dir(&v2, dir, NULL, NULL), 1);
    assert_string_equal(modlib__find(&v2, "swap")->d->version, "2.0");
    assert_string_equal(modlib__find(&v1, "swap")->d->version, "1.0");
    modlib__free(&v1);
    modlib__free(&v2);
    /* Once the old one is gone, loading again still finds 2.0. */
    assert_int_equal(modlib__load_dir(&v2, dir, NULL, NULL), 1);
    assert_string_equal(modlib__find(&v2, "swap")->d->version, "2.0");
    modlib__free(&v2);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_lib__reference_models),
        cmocka_unit_test(test_model_lib__refusals),
        cmocka_unit_test(test_model_lib__all_descriptor_problems),
        cmocka_unit_test(test_model_lib__load_dir_skips_bad),
        cmocka_unit_test(test_model_lib__vetting_refuses_bad_plugins),
        cmocka_unit_test(test_model_lib__vetting_time_limit),
        cmocka_unit_test(test_model_lib__replaced_plugin_is_reloaded),
    };
    return cmocka_run_group_tests_name("model_lib", tests, NULL, NULL);
}
