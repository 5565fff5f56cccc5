/*
 * fmu_run3.c — the FMI 3.0 calls behind fmu_run.c's table: instantiate
 * (Model Exchange or Co-Simulation, without event mode or early return)
 * with the log-message callback, values moved by type (Float32/64, the
 * sized integers, Enumeration as Int64, Boolean), the Model Exchange
 * calls, and doStep with its out-arguments.  fmu_run.c decides when each
 * is called.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fmi3.h"
#include "fmu.h"
#include "fmu_run_internal.h"

#define API(in) ((in)->f->f3)
#define ST(expr) fmu_run__status((int)(expr))

static void log_message(fmi3InstanceEnvironment env, fmi3Status status,
                        fmi3String category, fmi3String message)
{
    if (env != NULL)
        fmu_run__log(env, (int)status, category, message);
}

static int instantiate(twin_instance *in)
{
    fmu *f = in->f;
    if (f->use == FMU_ME)
        in->c = API(in)->InstantiateModelExchange(
            f->model.name, f->desc.token, f->resources, false, false, in,
            log_message);
    else
        in->c = API(in)->InstantiateCoSimulation(
            f->model.name, f->desc.token, f->resources, false, false,
            false, false, NULL, 0, in, log_message, NULL);
    return in->c != NULL ? 0 : -1;
}

static void free_instance(twin_instance *in)
{
    API(in)->FreeInstance(in->c);
    in->c = NULL;
}

static twin_status terminate(twin_instance *in)
{
    return ST(API(in)->Terminate(in->c));
}

/* A whole number from a double for an integer variable of the range
 * lo … hi (NaN as 0; beyond the range its end: the host keeps values set
 * from outside within min … max, which an FMU gives within its type). */
static double whole(double x, double lo, double hi)
{
    return !isfinite(x) ? (isnan(x) ? 0 : x > 0 ? hi : lo)
                        : fmin(fmax(nearbyint(x), lo), hi);
}

/* The 64-bit ends are not doubles: 2^63 and 2^64 convert out of range. */
static int64_t to_i64(double x)
{
    x = whole(x, -0x1p63, 0x1p63);
    return x >= 0x1p63 ? INT64_MAX : (int64_t)x;
}

static uint64_t to_u64(double x)
{
    x = whole(x, 0, 0x1p64);
    return x >= 0x1p64 ? UINT64_MAX : (uint64_t)x;
}

/* One case per FMI 3 type: T is the type's name in fmi3<T>, the setter and
 * the getter, CONV turns a double into it. */
#define FMI3_VALUE_TYPES(X)                                                  \
    X(FMU_T_FLOAT64, Float64, fmi3Float64, x)                                \
    X(FMU_T_FLOAT32, Float32, fmi3Float32, x)                                \
    X(FMU_T_INT8, Int8, fmi3Int8, whole(x, INT8_MIN, INT8_MAX))              \
    X(FMU_T_UINT8, UInt8, fmi3UInt8, whole(x, 0, UINT8_MAX))                 \
    X(FMU_T_INT16, Int16, fmi3Int16, whole(x, INT16_MIN, INT16_MAX))         \
    X(FMU_T_UINT16, UInt16, fmi3UInt16, whole(x, 0, UINT16_MAX))             \
    X(FMU_T_INT32, Int32, fmi3Int32, whole(x, INT32_MIN, INT32_MAX))         \
    X(FMU_T_UINT32, UInt32, fmi3UInt32, whole(x, 0, UINT32_MAX))             \
    X(FMU_T_INT64, Int64, fmi3Int64, to_i64(x))                              \
    X(FMU_T_UINT64, UInt64, fmi3UInt64, to_u64(x))                           \
    X(FMU_T_ENUM, Int64, fmi3Int64, to_i64(x))                               \
    X(FMU_T_BOOLEAN, Boolean, fmi3Boolean, x != 0)

static twin_status set(twin_instance *in, const fmu_group *g,
                       const double *v)
{
    switch (g->type) {
#define SET_CASE(TAG, NAME, CTYPE, CONV)                                     \
    case TAG: {                                                              \
        CTYPE *buf = in->buf;                                                \
        for (size_t j = 0; j < g->n; j++) {                                  \
            double x = v[g->pos[j]];                                         \
            buf[j] = (CTYPE)(CONV);                                          \
        }                                                                    \
        return ST(API(in)->Set##NAME(in->c, g->vr, g->n, buf, g->n));        \
    }
        FMI3_VALUE_TYPES(SET_CASE)
#undef SET_CASE
    default:
        return TWIN_ERROR;
    }
}

static twin_status get(twin_instance *in, const fmu_group *g, double *v)
{
    switch (g->type) {
#define GET_CASE(TAG, NAME, CTYPE, CONV)                                     \
    case TAG: {                                                              \
        CTYPE *buf = in->buf;                                                \
        twin_status st =                                                     \
            ST(API(in)->Get##NAME(in->c, g->vr, g->n, buf, g->n));           \
        for (size_t j = 0; j < g->n && st < TWIN_ERROR; j++)                 \
            v[g->pos[j]] = (double)buf[j];                                   \
        return st;                                                           \
    }
        FMI3_VALUE_TYPES(GET_CASE)
#undef GET_CASE
    default:
        return TWIN_ERROR;
    }
}

static twin_status set_string(twin_instance *in, uint32_t vr, const char *s)
{
    fmi3ValueReference r = vr;
    return ST(API(in)->SetString(in->c, &r, 1, &s, 1));
}

static twin_status enter_init(twin_instance *in, double t)
{
    return ST(API(in)->EnterInitializationMode(in->c, false, 0, t, false, 0));
}

static twin_status exit_init(twin_instance *in)
{
    return ST(API(in)->ExitInitializationMode(in->c));
}

static twin_status enter_event(twin_instance *in)
{
    return ST(API(in)->EnterEventMode(in->c));
}

static twin_status update(twin_instance *in, fmu_update *u)
{
    fmi3Boolean more = false, term = false, nominals = false, values = false,
                defined = false;
    fmi3Float64 next = INFINITY;
    twin_status st = ST(API(in)->UpdateDiscreteStates(
        in->c, &more, &term, &nominals, &values, &defined, &next));
    u->more = more;
    u->terminate = term;
    u->nominals_changed = nominals;
    u->values_changed = values;
    u->next_defined = defined;
    u->next = next;
    return st;
}

static twin_status enter_ct(twin_instance *in)
{
    return ST(API(in)->EnterContinuousTimeMode(in->c));
}

static twin_status set_time(twin_instance *in, double t)
{
    return ST(API(in)->SetTime(in->c, t));
}

static twin_status set_x(twin_instance *in, const double *x, size_t n)
{
    return ST(API(in)->SetContinuousStates(in->c, x, n));
}

static twin_status get_x(twin_instance *in, double *x, size_t n)
{
    return ST(API(in)->GetContinuousStates(in->c, x, n));
}

static twin_status get_dx(twin_instance *in, double *dx, size_t n)
{
    return ST(API(in)->GetContinuousStateDerivatives(in->c, dx, n));
}

static twin_status get_ei(twin_instance *in, double *g, size_t n)
{
    return ST(API(in)->GetEventIndicators(in->c, g, n));
}

static twin_status completed_step(twin_instance *in, int *enter_event_mode,
                                  int *terminate_simulation)
{
    fmi3Boolean enter = false, term = false;
    twin_status st =
        ST(API(in)->CompletedIntegratorStep(in->c, true, &enter, &term));
    *enter_event_mode = enter;
    *terminate_simulation = term;
    return st;
}

static twin_status do_step(twin_instance *in, double t, double h,
                           fmu_step *res)
{
    fmi3Boolean event = false, term = false, early = false;
    fmi3Float64 reached = t + h;
    twin_status st = ST(API(in)->DoStep(in->c, t, h, true, &event, &term,
                                        &early, &reached));
    res->terminate = term;
    res->reached = reached;
    if (st == TWIN_DISCARD && term)
        st = TWIN_OK; /* stopped early because it asks to end: no failure */
    /* Instantiated without event mode, eventHandlingNeeded means nothing
     * to do here; without early return allowed, earlyReturn stays false. */
    return st;
}

const fmu_ops fmu_run3__ops = {
    .prefix = "fmi3",
    .instantiate = instantiate,
    .free_instance = free_instance,
    .terminate = terminate,
    .set = set,
    .get = get,
    .set_string = set_string,
    .enter_init = enter_init,
    .exit_init = exit_init,
    .enter_event = enter_event,
    .update = update,
    .enter_ct = enter_ct,
    .set_time = set_time,
    .set_x = set_x,
    .get_x = get_x,
    .get_dx = get_dx,
    .get_ei = get_ei,
    .completed_step = completed_step,
    .do_step = do_step,
};
