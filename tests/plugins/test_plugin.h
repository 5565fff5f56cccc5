/*
 * test_plugin.h — one small continuous model (dx/dt = −x) whose descriptor
 * each test plugin bends in one way, chosen by the macros set before
 * including this file:
 *   ABI_MAJOR, ABI_MINOR   the versions the descriptor claims
 *   BAD_DESCRIPTOR         duplicate names, min > max, no derivatives
 *   NO_ENTRY               export nothing at all
 * and, for the plugins a host must refuse at load time without dying
 * (vet/, docs/plugin-guide.md "How a plugin is vetted"):
 *   ENTRY_DIES 1, 2, 3     the entry point aborts, writes through a bad
 *                          pointer, never returns
 *   LYING_COUNT            n_variables far larger than the array
 *   GARBAGE_NAME           a variable's name points nowhere
 *   CREATE_DIES            create writes through a bad pointer
 *   EVENT_DIES             one event indicator; event writes through a
 *                          bad pointer
 *   NEXT_EVENT_DIES        (ABI 1.1) next_event_time writes through a bad
 *                          pointer
 *   VERSION "v"            the version (default "0.0.1")
 * and for ABI 1.1:
 *   ABI_1_0                an ABI 1.0 plugin: minor 0 and a struct_size
 *                          that ends before the 1.1 fields, which hold
 *                          bait (a NaN period, a pointer to nowhere)
 *   BAD_1_1                each 1.1 rule broken once (flags where they
 *                          make no sense, a name, a duplicate, a sample
 *                          period on a continuous model, next_event_time
 *                          without event)
 * and for ABI 1.2:
 *   BAD_1_2                each 1.2 rule broken once: dependencies on a
 *                          variable out of range, of an input, on an
 *                          output, on a parameter, an output on an input
 *                          without feedthrough; absolute tolerances
 *                          negative and NaN
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "twin_model.h"

#ifndef ABI_MAJOR
#define ABI_MAJOR TWIN_MODEL_ABI_MAJOR
#endif
#ifndef ABI_MINOR
#define ABI_MINOR TWIN_MODEL_ABI_MINOR
#endif
#ifndef VERSION
#define VERSION "0.0.1"
#endif

static const twin_variable variables[] = {
    {"k", "1/s", TWIN_VAR_PARAMETER, 0, 1.0, 0.0, INFINITY, "Rate."},
#ifdef GARBAGE_NAME
    {(const char *)(uintptr_t)16, "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY,
     INFINITY, "A name that points nowhere."},
#else
    {"x", "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY, "Amount."},
#endif
#ifdef BAD_DESCRIPTOR
    {"x", "1", TWIN_VAR_OUTPUT, 0, 0.0, 2.0, 1.0, "Clashes and min > max."},
#endif
#ifdef BAD_1_1
    {"s_in", "", TWIN_VAR_INPUT, TWIN_VAR_STRING, 0.0, 0.0, 1.0,
     "A string input."},
    {"loc", "1", TWIN_VAR_PARAMETER, TWIN_VAR_LOCAL, 0.0, 0.0, 1.0,
     "A local parameter."},
    {"b", "1", TWIN_VAR_OUTPUT, TWIN_VAR_BOOLEAN, 0.0, 0.0, 2.0,
     "A boolean up to 2."},
    {"i", "1", TWIN_VAR_OUTPUT, TWIN_VAR_INTEGER, 0.5, 0.0, 2.0,
     "An integer starting at 0.5."},
    {"f", "1", TWIN_VAR_OUTPUT, 0x100u, 0.0, 0.0, 2.0, "An unknown flag."},
    {"bad name!", "1", TWIN_VAR_OUTPUT, 0, 0.0, 0.0, 2.0, "A bad name."},
    {"a.b[1]", "1", TWIN_VAR_OUTPUT, 0, 0.0, 0.0, 2.0, "A good 1.1 name."},
    {"k", "1", TWIN_VAR_PARAMETER, 0, 0.0, 0.0, 2.0, "A duplicate."},
#endif
#ifdef BAD_1_2
    {"x2", "1", TWIN_VAR_STATE, 0, 1.0, -INFINITY, INFINITY, "A second."},
    {"u", "1", TWIN_VAR_INPUT, 0, 0.0, -INFINITY, INFINITY, "An input."},
    {"y", "1", TWIN_VAR_OUTPUT, 0, 0.0, -INFINITY, INFINITY,
     "An output without feedthrough."},
#endif
};

#ifdef BAD_1_2
/* k 0, x 1, x2 2, u 3, y 4. */
static const twin_dependency dependencies[] = {
    {1, 99}, /* out of range */
    {3, 1},  /* of an input */
    {1, 4},  /* on an output */
    {2, 0},  /* on a parameter */
    {4, 3},  /* output on input, not feedthrough */
};
static const double abs_tol[] = {-1e-9, NAN};
#endif

struct twin_instance {
    double k;
};

#if defined(CREATE_DIES) || defined(EVENT_DIES) || \
    defined(NEXT_EVENT_DIES) || \
    (defined(ENTRY_DIES) && ENTRY_DIES == 2)
static int *volatile nowhere = (int *)(uintptr_t)8;
#endif

static twin_status create(const twin_host *host, const double *p,
                          twin_instance **out)
{
#ifdef CREATE_DIES
    *nowhere = 1;
#endif
    twin_instance *m = malloc(sizeof *m);
    if (m == NULL)
        return TWIN_ERROR;
    m->k = p[0];
    *out = m;
    return TWIN_OK;
}

static void destroy(twin_instance *m) { free(m); }

static twin_status derivatives(twin_instance *m, double t, const double *x,
                               const double *u, double *dx)
{
    dx[0] = -m->k * x[0];
    return TWIN_OK;
}

#ifdef EVENT_DIES
static twin_status indicators(twin_instance *m, double t, const double *x,
                              const double *u, double *g)
{
    g[0] = x[0] - 0.5;
    return TWIN_OK;
}

static twin_status event(twin_instance *m, double t, double *x,
                         const double *u, const int *crossed)
{
    *nowhere = 1;
    return TWIN_OK;
}
#endif

#if defined(BAD_1_1) || defined(NEXT_EVENT_DIES)
static twin_status next_event_time(twin_instance *m, double t,
                                   double *t_next)
{
#ifdef NEXT_EVENT_DIES
    *nowhere = 1;
#endif
    *t_next = INFINITY;
    return TWIN_OK;
}
#endif
#ifdef NEXT_EVENT_DIES
static twin_status time_event(twin_instance *m, double t, double *x,
                              const double *u, const int *crossed)
{
    return TWIN_OK;
}
#endif

static const twin_model_descriptor descriptor = {
    .abi_major = ABI_MAJOR,
#ifdef ABI_1_0
    .abi_minor = 0,
    .struct_size = offsetof(twin_model_descriptor, sample_period),
    .sample_period = NAN,
    .next_event_time = (twin_status(*)(twin_instance *, double,
                                        double *))(uintptr_t)16,
#else
    .abi_minor = ABI_MINOR,
    .struct_size = sizeof(twin_model_descriptor),
#endif
#ifdef BAD_1_1
    .sample_period = 0.5,
    .next_event_time = next_event_time,
#endif
#ifdef NEXT_EVENT_DIES
    .next_event_time = next_event_time,
    .event = time_event,
#endif
#ifdef BAD_1_2
    .dependencies = dependencies,
    .n_dependencies = sizeof dependencies / sizeof dependencies[0],
    .state_abs_tol = abs_tol,
#endif
    .name = PLUGIN_NAME,
    .version = VERSION,
    .description = "A test plugin.",
    .kind = TWIN_MODEL_CONTINUOUS,
    .variables = variables,
#ifdef LYING_COUNT
    .n_variables = (size_t)1 << 40,
#else
    .n_variables = sizeof variables / sizeof variables[0],
#endif
    .create = create,
    .destroy = destroy,
#ifndef BAD_DESCRIPTOR
    .derivatives = derivatives,
#endif
#ifdef EVENT_DIES
    .n_event_indicators = 1,
    .event_indicators = indicators,
    .event = event,
#endif
};

#ifndef NO_ENTRY
TWIN_EXPORT const twin_model_descriptor *twin_model_entry(void)
{
#if defined(ENTRY_DIES) && ENTRY_DIES == 1
    abort();
#elif defined(ENTRY_DIES) && ENTRY_DIES == 2
    *nowhere = 1;
#elif defined(ENTRY_DIES) && ENTRY_DIES == 3
    for (volatile int spin = 1; spin;)
        ;
#endif
    (void)derivatives;
    return &descriptor;
}
#else
const twin_model_descriptor *not_the_entry(void);
TWIN_EXPORT const twin_model_descriptor *not_the_entry(void)
{
    (void)derivatives;
    return &descriptor;
}
#endif
