/*
 * test_fmu_load.c — the FMU loader below the runtime: modelDescription.xml
 * read for FMI 2.0 and 3.0 (identity, interfaces, variables, declared
 * types, model structure) and each kind of malformed or hostile
 * description refused with its sentence; archives unpacked into the cache
 * (reused by content, shared by concurrent processes) and archives that
 * try to escape it or bomb it refused.  The archives are written here with
 * libzip; the FMUs that run are tests/fmus' (test_fmu_run.py,
 * test_fmu_library.sh).
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zip.h>

#include "fmu.h"

/* ---- descriptions ---- */

static const char *fmi2_good =
    "<?xml version=\"1.0\"?>\n"
    "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"Ball\" "
    "  guid=\"{g-1}\" numberOfEventIndicators=\"1\" description=\"A ball\">\n"
    " <ModelExchange modelIdentifier=\"ball_me\"/>\n"
    " <CoSimulation modelIdentifier=\"ball_cs\" "
    "   canHandleVariableCommunicationStepSize=\"true\"/>\n"
    " <TypeDefinitions>\n"
    "  <SimpleType name=\"Position\"><Real unit=\"m\" min=\"-5\"/></SimpleType>\n"
    "  <SimpleType name=\"Mode\"><Enumeration>"
    "<Item name=\"a\" value=\"1\"/><Item name=\"b\" value=\"3\"/>"
    "</Enumeration></SimpleType>\n"
    " </TypeDefinitions>\n"
    " <DefaultExperiment stopTime=\"3\" tolerance=\"1e-6\"/>\n"
    " <ModelVariables>\n"
    "  <ScalarVariable name=\"time\" valueReference=\"0\" "
    "causality=\"independent\"><Real/></ScalarVariable>\n"
    "  <ScalarVariable name=\"body.frame_a.r[1]\" valueReference=\"1\" "
    "causality=\"output\" initial=\"exact\">"
    "<Real declaredType=\"Position\" start=\"1\" max=\"10\"/></ScalarVariable>\n"
    "  <ScalarVariable name=\"der(body.frame_a.r[1])\" valueReference=\"2\">"
    "<Real derivative=\"2\"/></ScalarVariable>\n"
    "  <ScalarVariable name=\"e\" valueReference=\"3\" causality=\"parameter\" "
    "variability=\"fixed\" description=\"restitution\">"
    "<Real start=\"0.7\"/></ScalarVariable>\n"
    "  <ScalarVariable name=\"mode\" valueReference=\"1\" "
    "causality=\"input\"><Enumeration declaredType=\"Mode\" start=\"3\"/>"
    "</ScalarVariable>\n"
    "  <ScalarVariable name=\"on\" valueReference=\"2\" causality=\"output\" "
    "variability=\"discrete\"><Boolean/></ScalarVariable>\n"
    "  <ScalarVariable name=\"label\" valueReference=\"0\" "
    "causality=\"parameter\" variability=\"fixed\"><String start=\"hi\"/>"
    "</ScalarVariable>\n"
    " </ModelVariables>\n"
    " <ModelStructure>\n"
    "  <Outputs><Unknown index=\"2\" dependencies=\"\"/>"
    "<Unknown index=\"6\"/></Outputs>\n"
    "  <Derivatives><Unknown index=\"3\" dependencies=\"2\"/></Derivatives>\n"
    " </ModelStructure>\n"
    "</fmiModelDescription>\n";

static const char *fmi3_good =
    "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"Counter\" "
    "  instantiationToken=\"{t-3}\">\n"
    " <CoSimulation modelIdentifier=\"counter\" "
    "   canReturnEarlyAfterIntermediateUpdate=\"true\"/>\n"
    " <TypeDefinitions><Int16Type name=\"Small\" min=\"-3\" max=\"3\"/>"
    "</TypeDefinitions>\n"
    " <ModelVariables>\n"
    "  <Float64 name=\"time\" valueReference=\"0\" causality=\"independent\"/>\n"
    "  <Float64 name=\"x\" valueReference=\"5\" causality=\"output\" "
    "start=\"2\"/>\n"
    "  <Float64 name=\"der(x)\" valueReference=\"6\" derivative=\"5\"/>\n"
    "  <Int16 name=\"k\" valueReference=\"7\" causality=\"input\" "
    "declaredType=\"Small\" start=\"1\"/>\n"
    "  <UInt8 name=\"n\" valueReference=\"8\" causality=\"output\"/>\n"
    "  <String name=\"file\" valueReference=\"9\" causality=\"parameter\" "
    "variability=\"fixed\"><Start value=\"a.txt\"/></String>\n"
    "  <Float64 name=\"v\" valueReference=\"10\" causality=\"output\">"
    "<Dimension start=\"3\"/></Float64>\n"
    " </ModelVariables>\n"
    " <ModelStructure>\n"
    "  <Output valueReference=\"5\"/>\n"
    "  <Output valueReference=\"8\" dependencies=\"7\"/>\n"
    "  <Output valueReference=\"10\" dependencies=\"\"/>\n"
    "  <ContinuousStateDerivative valueReference=\"6\"/>\n"
    "  <EventIndicator valueReference=\"5\"/>\n"
    " </ModelStructure>\n"
    "</fmiModelDescription>\n";

static size_t var_index(const fmu_desc *d, const char *name)
{
    for (size_t i = 0; i < d->n_vars; i++)
        if (strcmp(d->vars[i].name, name) == 0)
            return i;
    fail_msg("no variable %s", name);
    return 0;
}

static void test_fmu_load__fmi2(void **state)
{
    (void)state;
    fmu_desc d;
    char why[1024];
    assert_int_equal(fmu_xml__parse(fmi2_good, strlen(fmi2_good), "b.fmu",
                                    &d, why, sizeof why), 0);
    assert_int_equal(d.version, FMU_FMI2);
    assert_string_equal(d.token, "{g-1}");
    assert_int_equal(d.interfaces, FMU_ME | FMU_CS);
    assert_string_equal(d.me_identifier, "ball_me");
    assert_string_equal(d.cs_identifier, "ball_cs");
    assert_true(d.me_needs_completed_step);
    assert_true(d.cs_can_handle_variable_step);
    assert_int_equal(d.n_event_indicators, 1);
    assert_int_equal(d.n_vars, 7);
    const fmu_var *r = &d.vars[var_index(&d, "body.frame_a.r[1]")];
    assert_string_equal(r->unit, "m");
    assert_true(r->min == -5 && r->max == 10 && r->start == 1);
    assert_int_equal(r->causality, FMU_C_OUTPUT);
    assert_int_equal(r->variability, FMU_V_CONTINUOUS);
    const fmu_var *m = &d.vars[var_index(&d, "mode")];
    assert_int_equal(m->type, FMU_T_ENUM);
    assert_true(m->min == 1 && m->max == 3 && m->start == 3);
    assert_int_equal(m->variability, FMU_V_DISCRETE);
    const fmu_var *l = &d.vars[var_index(&d, "label")];
    assert_int_equal(l->type, FMU_T_STRING);
    assert_string_equal(l->start_string, "hi");
    assert_string_equal(d.vars[var_index(&d, "e")].description,
                        "restitution");
    /* Outputs: r (no dependencies), on (absent: on everything, and there
     * is an input). */
    assert_int_equal(d.n_outputs, 2);
    assert_int_equal(d.output_feedthrough[0], 0);
    assert_int_equal(d.output_feedthrough[1], 1);
    assert_int_equal(d.n_states, 1);
    assert_int_equal(d.states[0], var_index(&d, "body.frame_a.r[1]"));
    assert_int_equal(d.derivatives[0],
                     var_index(&d, "der(body.frame_a.r[1])"));
    /* The dependencies as listed: r's empty, on's absent, the
     * derivative's the variable of index 2. */
    assert_true(d.output_deps[0].given && d.output_deps[0].n == 0);
    assert_false(d.output_deps[1].given);
    assert_true(d.state_deps[0].given && d.state_deps[0].n == 1);
    assert_int_equal(d.state_deps[0].vars[0], 1);
    assert_true(d.de_stop == 3 && d.de_tolerance == 1e-6 && isnan(d.de_step));
    fmu_xml__free(&d);
}

static void test_fmu_load__fmi3(void **state)
{
    (void)state;
    fmu_desc d;
    char why[1024];
    assert_int_equal(fmu_xml__parse(fmi3_good, strlen(fmi3_good), "c.fmu",
                                    &d, why, sizeof why), 0);
    assert_int_equal(d.version, FMU_FMI3);
    assert_string_equal(d.token, "{t-3}");
    assert_int_equal(d.interfaces, FMU_CS);
    assert_null(d.me_identifier);
    assert_true(d.cs_can_return_early);
    assert_int_equal(d.n_event_indicators, 1);
    const fmu_var *k = &d.vars[var_index(&d, "k")];
    assert_int_equal(k->type, FMU_T_INT16);
    assert_true(k->min == -3 && k->max == 3 && k->start == 1);
    assert_int_equal(k->variability, FMU_V_DISCRETE);
    assert_string_equal(d.vars[var_index(&d, "file")].start_string, "a.txt");
    assert_true(d.vars[var_index(&d, "v")].is_array);
    assert_int_equal(d.n_outputs, 3);
    assert_int_equal(d.output_feedthrough[1], 1);
    assert_int_equal(d.n_states, 1);
    assert_int_equal(d.states[0], var_index(&d, "x"));
    assert_int_equal(d.vars[var_index(&d, "der(x)")].derivative_of,
                     (long)var_index(&d, "x"));
    fmu_xml__free(&d);
}

/* Replace the first occurrence of from in base by to. */
static char *edit(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    assert_non_null(at);
    char *out = malloc(strlen(base) + strlen(to) + 1);
    size_t head = (size_t)(at - base);
    memcpy(out, base, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

static void test_fmu_load__refusals(void **state)
{
    (void)state;
    static const struct {
        int v3;
        const char *from, *to, *says;
    } cases[] = {
        {0, "fmiVersion=\"2.0\"", "fmiVersion=\"1.0\"",
         "fmiVersion \"1.0\" is not supported"},
        {1, "fmiVersion=\"3.0\"", "fmiVersion=\"4.0\"",
         "fmiVersion \"4.0\" is not supported"},
        {0, " guid=\"{g-1}\"", "", "has no guid attribute"},
        {1, " instantiationToken=\"{t-3}\"", "",
         "has no instantiationToken attribute"},
        {0, "name=\"e\" valueReference=\"3\"", "name=\"e\"",
         "variable \"e\" has no valueReference"},
        {0, "start=\"0.7\"", "start=\"0.7x\"",
         "<Real start=\"0.7x\">: not a number"},
        {0, "derivative=\"2\"", "derivative=\"99\"",
         "a derivative attribute's index 99 points at no variable"},
        {0, "<Unknown index=\"3\" dependencies=\"2\"/>",
         "<Unknown index=\"30\"/>", "a derivative's index 30 points at no"},
        {1, "derivative=\"5\"", "derivative=\"55\"",
         "a derivative attribute's value reference 55 is no variable's"},
        {1, "name=\"n\" valueReference=\"8\"", "name=\"n\" valueReference=\"7\"",
         "share value reference 7, which FMI 3 does not allow"},
        {0, "name=\"on\"", "name=\"e\"", "two variables are named \"e\""},
        {0, "numberOfEventIndicators=\"1\"",
         "numberOfEventIndicators=\"99999999999\"",
         "not a whole number from 0 to 65536"},
        {0, "modelIdentifier=\"ball_me\"", "modelIdentifier=\"../x\"",
         "modelIdentifier \"../x\" is not a C identifier"},
        {0, "</fmiModelDescription>", "", "line"},
        {0, "<?xml version=\"1.0\"?>",
         "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
         "a DOCTYPE declaration"},
        {1, "<Int16 name=\"k\"", "<Int99 name=\"k\"",
         "<Int99> inside ModelVariables is no variable type"},
        {0, "declaredType=\"Mode\"", "declaredType=\"Nope\"",
         "names declaredType \"Nope\""},
        {1, "<Output valueReference=\"8\"", "<Output valueReference=\"7\"",
         "lists \"k\" as an output, but its causality is not output"},
        {0, "max=\"10\"", "max=\"-10\"", "has min -5 above max -10"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *xml = edit(cases[i].v3 ? fmi3_good : fmi2_good, cases[i].from,
                         cases[i].to);
        fmu_desc d;
        char why[1024] = "";
        int rc = fmu_xml__parse(xml, strlen(xml), "/m/bad.fmu", &d, why,
                                sizeof why);
        if (rc == 0 || strstr(why, cases[i].says) == NULL ||
            strncmp(why, "/m/bad.fmu: modelDescription.xml", 32) != 0)
            fail_msg("case %zu: rc %d, \"%s\" (wanted \"%s\")", i, rc, why,
                     cases[i].says);
        free(xml);
    }
}

/* ---- archives ---- */

static char scratch[256];

static void write_zip(const char *path, const char *const *names,
                      size_t n, int symlink_last)
{
    int err;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, fmi2_good, strlen(fmi2_good),
                                            0);
        zip_int64_t k = zip_file_add(z, names[i], s, ZIP_FL_ENC_UTF_8);
        assert_true(k >= 0);
        if (symlink_last && i == n - 1)
            zip_file_set_external_attributes(z, (zip_uint64_t)k, 0,
                ZIP_OPSYS_UNIX, (zip_uint32_t)(S_IFLNK | 0777) << 16);
    }
    assert_int_equal(zip_close(z), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(scratch, sizeof scratch, "%s/twin-fmu-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(scratch));
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", scratch);
    setenv(FMU_CACHE_ENV, cache, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.' || strncmp(e->d_name, ".unpack", 7) == 0;
    if (d)
        closedir(d);
    return n;
}

static void test_fmu_load__unpack(void **state)
{
    (void)state;
    char fmu_path[300], *dir = NULL, *again = NULL, why[1024];
    snprintf(fmu_path, sizeof fmu_path, "%s/good.fmu", scratch);
    const char *names[] = {"modelDescription.xml", "resources/data/v.txt",
                           "binaries/"};
    write_zip(fmu_path, names, 3, 0);
    assert_int_equal(fmu_unpack__open(fmu_path, -1, &dir, why, sizeof why), 0);
    char file[512];
    snprintf(file, sizeof file, "%s/resources/data/v.txt", dir);
    assert_int_equal(access(file, R_OK), 0);
    fmu_desc d;
    assert_int_equal(fmu_xml__read(fmu_path, dir, &d, why, sizeof why), 0);
    fmu_xml__free(&d);
    /* The same content is the same entry, not unpacked again. */
    assert_int_equal(fmu_unpack__open(fmu_path, -1, &again, why, sizeof why),
                     0);
    assert_string_equal(dir, again);
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", scratch);
    assert_int_equal(entries(cache), 1);
    free(dir);
    free(again);
}

/* Processes unpacking one new archive at once all get the one entry, and
 * no temporary folder is left. */
static void test_fmu_load__concurrent(void **state)
{
    (void)state;
    char fmu_path[300], cache[300];
    snprintf(fmu_path, sizeof fmu_path, "%s/race.fmu", scratch);
    snprintf(cache, sizeof cache, "%s/cache-race", scratch);
    setenv(FMU_CACHE_ENV, cache, 1);
    const char *names[] = {"modelDescription.xml", "a/b/c.txt", "d.txt"};
    write_zip(fmu_path, names, 3, 0);
    pid_t kids[6];
    for (int i = 0; i < 6; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            char *dir, why[1024];
            int rc = fmu_unpack__open(fmu_path, -1, &dir, why, sizeof why);
            char file[512];
            snprintf(file, sizeof file, "%s/a/b/c.txt", rc == 0 ? dir : "");
            _exit(rc == 0 && access(file, R_OK) == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < 6; i++) {
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(entries(cache), 1);
    snprintf(cache, sizeof cache, "%s/cache", scratch);
    setenv(FMU_CACHE_ENV, cache, 1);
}

static void test_fmu_load__hostile_archives(void **state)
{
    (void)state;
    static const struct {
        const char *names[2];
        int symlink;
        const char *says;
    } cases[] = {
        {{"modelDescription.xml", "../escape.txt"}, 0,
         "entry \"../escape.txt\" names a place outside the FMU"},
        {{"modelDescription.xml", "resources/../../x"}, 0,
         "names a place outside the FMU"},
        {{"modelDescription.xml", "/etc/evil"}, 0,
         "entry \"/etc/evil\" names a place outside"},
        {{"modelDescription.xml", "resources/link"}, 1,
         "entry \"resources/link\" is a symbolic link"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char fmu_path[300], *dir = NULL, why[1024] = "";
        snprintf(fmu_path, sizeof fmu_path, "%s/bad%zu.fmu", scratch, i);
        write_zip(fmu_path, cases[i].names, 2, cases[i].symlink);
        int rc = fmu_unpack__open(fmu_path, -1, &dir, why, sizeof why);
        if (rc == 0 || strstr(why, cases[i].says) == NULL ||
            strstr(why, fmu_path) != why)
            fail_msg("case %zu: rc %d, \"%s\"", i, rc, why);
    }
    char escaped[300];
    snprintf(escaped, sizeof escaped, "%s/escape.txt", scratch);
    assert_int_not_equal(access(escaped, F_OK), 0);
    /* Not a zip at all. */
    char path[300], *dir = NULL, why[1024];
    snprintf(path, sizeof path, "%s/text.fmu", scratch);
    FILE *f = fopen(path, "w");
    fputs("hello", f);
    fclose(f);
    assert_int_equal(fmu_unpack__open(path, -1, &dir, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a zip archive, so not an FMU"));
    /* Nothing was left in the cache by the refusals. */
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", scratch);
    assert_int_equal(entries(cache), 1);
}

/* An FMU of the description xml and, when so_path is given, that file
 * as binaries/<platform>/<id>.so; also a win64 binary. */
static void write_fmu(const char *path, const char *xml, const char *plat,
                      const char *id, const char *so_path)
{
    int err;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    zip_source_t *s = zip_source_buffer(z, xml, strlen(xml), 0);
    assert_true(zip_file_add(z, "modelDescription.xml", s, 0) >= 0);
    s = zip_source_buffer(z, "MZ", 2, 0);
    assert_true(zip_file_add(z, "binaries/win64/x.dll", s, 0) >= 0);
    if (so_path != NULL) {
        char name[256];
        snprintf(name, sizeof name, "binaries/%s/%s.so", plat, id);
        s = zip_source_file(z, so_path, 0, -1);
        assert_non_null(s);
        assert_true(zip_file_add(z, name, s, 0) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
}

/* The refusals of opening an FMU before it runs: no binary for this
 * platform, a function missing (a twinctl plugin is no FMU binary), an
 * FMI version that is not read, each naming the file. */
static void test_fmu_load__open_refusals(void **state)
{
    (void)state;
    char so[512];
    snprintf(so, sizeof so, "%s/tank.so", getenv("TWIN_TEST_MODEL_DIR"));
    char *v1 = edit(fmi2_good, "fmiVersion=\"2.0\"", "fmiVersion=\"1.0\"");
    static const char *const says[] = {
        "no binary for this platform: binaries/linux64/ball_me.so is not "
        "in the archive (platforms present: win64)",
        "the binary does not export fmi2GetVersion, which FMI 2.0 Model "
        "Exchange needs",
        "the binary does not export fmi3GetVersion, which FMI 3.0 "
        "Co-Simulation needs",
        "fmiVersion \"1.0\" is not supported",
    };
    for (int i = 0; i < 4; i++) {
        char path[300], why[1024] = "";
        snprintf(path, sizeof path, "%s/open%d.fmu", scratch, i);
        if (i == 0)
            write_fmu(path, fmi2_good, "linux64", "ball_me", NULL);
        else if (i == 1)
            write_fmu(path, fmi2_good, "linux64", "ball_me", so);
        else if (i == 2)
            write_fmu(path, fmi3_good, "x86_64-linux", "counter", so);
        else
            write_fmu(path, v1, "linux64", "ball_me", so);
        fmu *f = fmu_model__open(path, -1, 0, why, sizeof why);
        if (f != NULL || strstr(why, says[i]) == NULL ||
            strstr(why, path) != why)
            fail_msg("case %d: \"%s\"", i, why);
    }
    free(v1);
}

/* Whether the descriptor says variable `of` depends on `on`. */
static int declares(const twin_model_descriptor *m, const char *of,
                    const char *on)
{
    for (size_t i = 0; i < m->n_dependencies; i++)
        if (strcmp(m->variables[m->dependencies[i].of].name, of) == 0 &&
            strcmp(m->variables[m->dependencies[i].on].name, on) == 0)
            return 1;
    return 0;
}

/* The ModelStructure's dependencies become the descriptor's (model ABI
 * 1.2): the reference tank as an FMU declares der(h) on h, q_in and
 * valve, q_out on h and valve (not q_in: a cascade of them has a
 * bidiagonal Jacobian), overflow on nothing; its locals z and der(h),
 * which ModelStructure does not list, on every state. */
static void test_fmu_load__structure(void **state)
{
    (void)state;
    char path[512], why[1024] = "";
    snprintf(path, sizeof path, "%s/fmutank.fmu",
             getenv("TWIN_TEST_FMU_DIR"));
    fmu *f = fmu_model__open(path, -1, 0, why, sizeof why);
    if (f == NULL)
        fail_msg("%s", why);
    const twin_model_descriptor *m = &f->model;
    static const struct {
        const char *of, *on;
        int want;
    } pairs[] = {
        {"h", "h", 1}, {"h", "q_in", 1}, {"h", "valve", 1},
        {"q_out", "h", 1}, {"q_out", "valve", 1}, {"q_out", "q_in", 0},
        {"overflow", "h", 0}, {"overflow", "q_in", 0},
        /* Locals are not in ModelStructure: on every state. */
        {"z", "h", 1}, {"der(h)", "h", 1},
    };
    assert_non_null(m->dependencies);
    assert_int_equal(m->n_dependencies, 7);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (declares(m, pairs[i].of, pairs[i].on) != pairs[i].want)
            fail_msg("%s on %s: declared %d, want %d", pairs[i].of,
                     pairs[i].on, !pairs[i].want, pairs[i].want);
    fmu_model__close(&f);
}

/* More entries than an FMU may have: refused before anything is
 * written. */
static twin_status not_an_fmu(const twin_host *host, const double *params,
                              twin_instance **out)
{
    (void)host;
    (void)params;
    *out = NULL;
    return TWIN_ERROR;
}

/* fmu_model__of on another model's descriptor (a Python model's sits at
 * the start of its heap block) must not read before it: here a
 * descriptor at the start of a page whose page before is not mapped for
 * reading.  It read there for every model once (a scenario's
 * tolerances ask every model), a heap overflow under ASan. */
static void test_fmu_load__of_another(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, (size_t)(2 * page), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(two != MAP_FAILED);
    assert_int_equal(mprotect(two, (size_t)page, PROT_NONE), 0);
    twin_model_descriptor *d = (twin_model_descriptor *)(two + page);
    memset(d, 0, sizeof *d);
    d->create = not_an_fmu;
    assert_null(fmu_model__of(d));
    assert_null(fmu_model__of(NULL));
    munmap(two, (size_t)(2 * page));
}

static void test_fmu_load__zip_bomb(void **state)
{
    (void)state;
    char path[300], *dir = NULL, why[1024];
    snprintf(path, sizeof path, "%s/bomb.fmu", scratch);
    int err;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (int i = 0; i <= FMU_MAX_ENTRIES; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%d", i);
        zip_source_t *s = zip_source_buffer(z, "", 0, 0);
        assert_true(zip_file_add(z, name, s, 0) >= 0);
        zip_set_file_compression(z, (zip_uint64_t)i, ZIP_CM_STORE, 0);
    }
    assert_int_equal(zip_close(z), 0);
    assert_int_equal(fmu_unpack__open(path, -1, &dir, why, sizeof why), -1);
    assert_non_null(strstr(why, "refused as a zip bomb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmu_load__fmi2),
        cmocka_unit_test(test_fmu_load__fmi3),
        cmocka_unit_test(test_fmu_load__refusals),
        cmocka_unit_test(test_fmu_load__unpack),
        cmocka_unit_test(test_fmu_load__concurrent),
        cmocka_unit_test(test_fmu_load__hostile_archives),
        cmocka_unit_test(test_fmu_load__zip_bomb),
        cmocka_unit_test(test_fmu_load__structure),
        cmocka_unit_test(test_fmu_load__open_refusals),
        cmocka_unit_test(test_fmu_load__of_another),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
