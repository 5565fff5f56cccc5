/*
 * cmd_check_model.c — `twinctl check-model PLUGIN.so|MODEL.fmu`: what a
 * modeler runs before anything else (an FMU is checked as the plugin it
 * becomes, docs/fmi.md).  Vets the plugin in a child process first, as
 * every command does before it loads one (model_vet.h): a plugin that
 * crashes or hangs there is reported with the phase and the signal, and
 * nothing more of it runs here.  Then loads it, checks its ABI and
 * descriptor (every problem listed), and exercises it once: create with
 * the default parameters, init at the start values, outputs, derivatives,
 * event indicators and each event, or one tick — checking statuses and
 * that every number that comes back is finite.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "model_lib.h"
#include "model_vet.h"
#include "py_model.h"

typedef struct checker {
    int failures;
    const char *name;
} checker;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: twinctl check-model [OPTIONS] PLUGIN.so|MODEL.fmu|MODEL.py\n"
        "\n"
        "Load a model plugin, an FMU or a Python model (each of its classes;\n"
        "docs/python.md), check its ABI version and descriptor, and exercise\n"
        "it once at its defaults and start values.  Prints one line per\n"
        "check; exits 0 when all pass, 1 otherwise.\n"
        "\n"
        "Options:\n"
        "      --timeout S  the time limit of each phase of the vetting in a\n"
        "                   child process (default %g)\n"
        "  -h, --help       show this help\n", MODVET_SECONDS);
}

static void report(checker *ck, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(checker *ck, int ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s ", ok ? "ok  " : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    ck->failures += !ok;
}

static void plugin_log(void *ctx, twin_log_level level, const char *message)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    printf("     model log (%s): %s\n",
           (unsigned)level < 4 ? names[level] : "?", message);
}

static int all_finite(const double *v, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            *bad = i;
            return 0;
        }
    return 1;
}

static void check_status(checker *ck, twin_status st, const char *fn)
{
    report(ck, st <= TWIN_WARNING, "%s returns %s", fn,
           st == TWIN_OK ? "OK" : st == TWIN_WARNING ? "WARNING"
           : st == TWIN_DISCARD ? "DISCARD" : st == TWIN_ERROR ? "ERROR"
                                                              : "FATAL");
}

static void check_values(checker *ck, const double *v, size_t n,
                         const twin_variable *const *vars, const char *what)
{
    size_t bad = 0;
    if (all_finite(v, n, &bad))
        report(ck, 1, "%s: %zu value%s, all finite", what, n,
               n == 1 ? "" : "s");
    else
        report(ck, 0, "%s: '%s' is %g", what, vars[bad]->name, v[bad]);
}

/* Exercise the model at its defaults.  x, u, y, dx, g are scratch. */
static void exercise(checker *ck, const twin_model *m)
{
    const twin_model_descriptor *d = m->d;
    twin_host host;
    twin_instance *inst = NULL;
    size_t ng = d->n_event_indicators;
    modlib_scratch s = {0};
    int *crossed = calloc(ng + 1, sizeof *crossed);
    if (modlib__scratch_new(m, &s) != 0 || crossed == NULL) {
        report(ck, 0, "out of memory");
        goto exit;
    }
    double *x = s.x, *u = s.u, *y = s.y, *dx = s.dx, *g = s.g;
    modlib__plain_host(&host, d, plugin_log, NULL);

    twin_status st = d->create(&host, s.p, &inst);
    check_status(ck, st, "create at the default parameters");
    if (st > TWIN_WARNING)
        goto exit;
    report(ck, inst != NULL, "create returns an instance");
    if (inst == NULL)
        goto exit;
    if (d->init) {
        check_status(ck, d->init(inst, 0.0, x, u), "init at the start values");
        check_values(ck, x, m->n_state, m->state, "states after init");
    }
    if (d->kind == TWIN_MODEL_DISCRETE) {
        check_status(ck, d->tick(inst, 0.0, 1.0, x, u, y), "tick (dt = 1)");
        check_values(ck, x, m->n_state, m->state, "states after tick");
        check_values(ck, y, m->n_output, m->output, "outputs after tick");
        goto destroy;
    }
    if (d->outputs) {
        check_status(ck, d->outputs(inst, 0.0, x, u, y), "outputs");
        check_values(ck, y, m->n_output, m->output, "outputs");
    }
    check_status(ck, d->derivatives(inst, 0.0, x, u, dx), "derivatives");
    check_values(ck, dx, m->n_state, m->state, "derivatives at the start");
    if (ng > 0) {
        check_status(ck, d->event_indicators(inst, 0.0, x, u, g),
                     "event_indicators");
        size_t bad = 0;
        if (all_finite(g, ng, &bad))
            report(ck, 1, "event indicators: %zu, all finite", ng);
        else
            report(ck, 0, "event indicator %zu is %g", bad, g[bad]);
        for (size_t i = 0; i < ng; i++)
            for (int dir = 1; dir >= -1; dir -= 2) {
                memset(crossed, 0, ng * sizeof *crossed);
                crossed[i] = dir;
                st = d->event(inst, 0.0, x, u, crossed);
                char what[96];
                snprintf(what, sizeof what, "event (indicator %zu %s)", i,
                         dir > 0 ? "rising" : "falling");
                check_status(ck, st, what);
                check_values(ck, x, m->n_state, m->state,
                             "states after the event");
            }
    }
    if (m->next_event_time) {
        double t_next = INFINITY;
        check_status(ck, m->next_event_time(inst, 0.0, &t_next),
                     "next_event_time");
        report(ck, t_next >= 0.0, "next time event at t = %g (not before 0)",
               t_next);
    }
    if (m->step_completed) {
        int needed = 0;
        check_status(ck, m->step_completed(inst, 0.0, x, u, &needed),
                     "step_completed");
    }
    if (m->next_event_time || m->step_completed) {
        check_status(ck, d->event(inst, 0.0, x, u, NULL),
                     "event (time or step event, crossed NULL)");
        check_values(ck, x, m->n_state, m->state, "states after the event");
    }
destroy:
    d->destroy(inst);
    report(ck, 1, "destroy");
exit:
    modlib__scratch_free(&s);
    free(crossed);
}

/* The descriptor's checks, then a call of each function at the start
 * values. */
static void check_one(checker *ck, const twin_model_descriptor *d)
{
    twin_errors errs = {0};
    char why[1024];
    twin_model *m = NULL;
    if (modlib__check_descriptor(d, &errs) > 0) {
        for (size_t i = 0; i < errs.count; i++)
            report(ck, 0, "descriptor %s: %s", errs.items[i].path,
                   errs.items[i].message);
        goto exit;
    }
    report(ck, 1, "descriptor: model '%s'%s%s, ABI %u.%u, %zu variables",
           d->name, d->version[0] ? " " : "", d->version, d->abi_major,
           d->abi_minor, d->n_variables);
    m = modlib__wrap(d, why, sizeof why);
    if (m == NULL) {
        report(ck, 0, "%s", why);
        goto exit;
    }
    exercise(ck, m);
exit:
    modlib__close(&m);
    errors__clear(&errs);
}

int cmd_check_model(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    checker ck = {0};
    modvet_file vet = {.fd = -1};
    double timeout = MODVET_SECONDS;
    void *handle = NULL;
    const twin_model_descriptor *d_loaded = NULL;
    char why[1024];
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'T':
            timeout = strtod(optarg, &end);
            if (end != optarg && *end == '\0' && timeout > 0 &&
                timeout <= 3600)
                break;
            fprintf(stderr, "twinctl check-model: --timeout takes seconds "
                    "in (0, 3600], not '%s'\n", optarg);
            return 2;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "twinctl check-model: give exactly one PLUGIN.so, "
                "MODEL.fmu or MODEL.py\n");
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    vet.path = path;
    vet.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (vet.fd < 0) {
        report(&ck, 0, "load %s: cannot open it: %s", path, strerror(errno));
        goto exit;
    }
    /* Nothing of the plugin runs here before it came through a child. */
    modvet__vet(&vet, 1, timeout);
    if (vet.kind == MODVET_DIED) {
        report(&ck, 0, "%s", vet.why);
        goto exit;
    }
    if (vet.kind == MODVET_FIT)
        report(&ck, 1, "vetted in a child process: it loads, and survives "
               "a call at its start values");
    const twin_model_descriptor *d =
        modlib__load_descriptor(path, vet.fd, &handle, why, sizeof why);
    d_loaded = d;
    report(&ck, d != NULL, "load %s%s%s", path, d ? "" : ": ", d ? "" : why);
    if (d == NULL)
        goto exit;
    if (modlib__is_fmu(path))
        report(&ck, 1, "FMU: unpacked, modelDescription.xml read, its binary "
               "loaded and its functions bound");
    else if (pymodel__of(d) != NULL)
        report(&ck, 1, "Python model: imported, its classes declared "
               "(docs/python.md)");
    else
        report(&ck, 1, "entry point %s found", TWIN_MODEL_ENTRY_SYMBOL);
    check_one(&ck, d);
    /* A Python file's further model classes, each checked the same way. */
    for (size_t k = 1; pymodel__of(d) && k < pymodel__count(pymodel__of(d));
         k++) {
        const twin_model_descriptor *dk = pymodel__open(
            path, pymodel__json(pymodel__of(d)), k, why, sizeof why);
        report(&ck, dk != NULL, "class %zu%s%s", k, dk ? "" : ": ",
               dk ? "" : why);
        if (dk != NULL)
            check_one(&ck, dk);
        modlib__unload(dk, NULL);
    }
exit:
    printf("%s: %s (%d problem%s)\n", argv[optind],
           ck.failures ? "REFUSED" : "ready to use", ck.failures,
           ck.failures == 1 ? "" : "s");
    if (handle)
        modlib__unload(d_loaded, handle);
    if (vet.fd >= 0)
        close(vet.fd);
    modvet__forget(&vet);
    return ck.failures ? 1 : 0;
}
