/*
 * fmu_run2.c — the FMI 2.0 calls behind fmu_run.c's table: instantiate
 * with the callbacks (a printf-style logger formatted here, calloc/free),
 * values moved by type (Real, Integer and Enumeration, Boolean), the
 * Model Exchange calls, and doStep with what a discarded step means
 * (fmi2Terminated: the FMU asks to end).  fmu_run.c decides when each
 * is called.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmi2.h"
#include "fmu.h"
#include "fmu_run_internal.h"

#define API(in) ((in)->f->f2)
#define ST(expr) fmu_run__status((int)(expr))

/* The standard makes the message a printf format with its arguments. */
__attribute__((format(printf, 5, 6)))
static void logger(fmi2ComponentEnvironment env, fmi2String instance_name,
                   fmi2Status status, fmi2String category,
                   fmi2String message, ...)
{
    (void)instance_name; /* the host names the instance */
    twin_instance *in = env;
    char small[512];
    char *text = small;
    va_list ap, again;
    if (in == NULL || message == NULL)
        return;
    va_start(ap, message);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, message, ap);
    if (n >= (int)sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big != NULL) {
            vsnprintf(big, (size_t)n + 1, message, again);
            text = big;
        }
    } else if (n < 0) {
        text = (char *)message; /* a format vsnprintf refused: as is */
    }
    va_end(again);
    va_end(ap);
    fmu_run__log(in, (int)status, category, text);
    if (text != small && text != message)
        free(text);
}

static int instantiate(twin_instance *in)
{
    fmi2CallbackFunctions *cb = calloc(1, sizeof *cb);
    if (cb == NULL)
        return -1;
    cb->logger = logger;
    cb->allocateMemory = calloc;
    cb->freeMemory = free;
    cb->componentEnvironment = in;
    in->cb = cb;
    fmu *f = in->f;
    in->c = API(in)->Instantiate(
        f->model.name,
        f->use == FMU_ME ? fmi2ModelExchange : fmi2CoSimulation,
        f->desc.token, f->resources, cb, fmi2False, fmi2False);
    if (in->c == NULL) {
        free(cb);
        in->cb = NULL;
        return -1;
    }
    return 0;
}

static void free_instance(twin_instance *in)
{
    API(in)->FreeInstance(in->c);
    in->c = NULL;
    free(in->cb);
    in->cb = NULL;
}

static twin_status terminate(twin_instance *in)
{
    return ST(API(in)->Terminate(in->c));
}

static twin_status set(twin_instance *in, const fmu_group *g,
                       const double *v)
{
    if (g->type == FMU_T_FLOAT64) {
        double *buf = in->buf;
        for (size_t j = 0; j < g->n; j++)
            buf[j] = v[g->pos[j]];
        return ST(API(in)->SetReal(in->c, g->vr, g->n, buf));
    }
    int *buf = in->buf;
    int boolean = g->type == FMU_T_BOOLEAN;
    for (size_t j = 0; j < g->n; j++) {
        double x = v[g->pos[j]];
        buf[j] = boolean    ? x != 0
                 : isnan(x) ? 0
                            : (int)fmin(fmax(nearbyint(x), INT_MIN), INT_MAX);
    }
    return boolean ? ST(API(in)->SetBoolean(in->c, g->vr, g->n, buf))
                   : ST(API(in)->SetInteger(in->c, g->vr, g->n, buf));
}

static twin_status get(twin_instance *in, const fmu_group *g, double *v)
{
    twin_status st;
    if (g->type == FMU_T_FLOAT64) {
        double *buf = in->buf;
        st = ST(API(in)->GetReal(in->c, g->vr, g->n, buf));
        for (size_t j = 0; j < g->n && st < TWIN_ERROR; j++)
            v[g->pos[j]] = buf[j];
        return st;
    }
    int *buf = in->buf;
    int boolean = g->type == FMU_T_BOOLEAN;
    st = boolean ? ST(API(in)->GetBoolean(in->c, g->vr, g->n, buf))
                 : ST(API(in)->GetInteger(in->c, g->vr, g->n, buf));
    for (size_t j = 0; j < g->n && st < TWIN_ERROR; j++)
        v[g->pos[j]] = boolean ? (buf[j] != 0) : (double)buf[j];
    return st;
}

static twin_status set_string(twin_instance *in, uint32_t vr, const char *s)
{
    fmi2ValueReference r = vr;
    return ST(API(in)->SetString(in->c, &r, 1, &s));
}

static twin_status enter_init(twin_instance *in, double t)
{
    twin_status st = ST(API(in)->SetupExperiment(in->c, fmi2False, 0, t,
                                                 fmi2False, 0));
    if (st >= TWIN_ERROR)
        return st;
    twin_status s = ST(API(in)->EnterInitializationMode(in->c));
    return s > st ? s : st;
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
    fmi2EventInfo ei = {0};
    twin_status st = ST(API(in)->NewDiscreteStates(in->c, &ei));
    u->more = ei.newDiscreteStatesNeeded != fmi2False;
    u->terminate = ei.terminateSimulation != fmi2False;
    u->values_changed = ei.valuesOfContinuousStatesChanged != fmi2False;
    u->nominals_changed = ei.nominalsOfContinuousStatesChanged != fmi2False;
    u->next_defined = ei.nextEventTimeDefined != fmi2False;
    u->next = ei.nextEventTime;
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
    return ST(API(in)->GetDerivatives(in->c, dx, n));
}

static twin_status get_ei(twin_instance *in, double *g, size_t n)
{
    return ST(API(in)->GetEventIndicators(in->c, g, n));
}

static twin_status completed_step(twin_instance *in, int *enter_event_mode,
                                  int *terminate_simulation)
{
    fmi2Boolean enter = fmi2False, term = fmi2False;
    twin_status st = ST(
        API(in)->CompletedIntegratorStep(in->c, fmi2True, &enter, &term));
    *enter_event_mode = enter != fmi2False;
    *terminate_simulation = term != fmi2False;
    return st;
}

/* fmi2Discard from doStep: the FMU stopped early; fmi2Terminated says
 * whether it asks to end the simulation (then it is no failure). */
static twin_status do_step(twin_instance *in, double t, double h,
                           fmu_step *res)
{
    fmi2Status s = API(in)->DoStep(in->c, t, h, fmi2True);
    res->terminate = 0;
    res->reached = t + h;
    if (s != fmi2Discard)
        return ST(s);
    fmi2Boolean terminated = fmi2False;
    if (API(in)->GetBooleanStatus == NULL ||
        API(in)->GetBooleanStatus(in->c, fmi2Terminated, &terminated) !=
            fmi2OK ||
        !terminated)
        return TWIN_ERROR;
    fmi2Real reached = t + h;
    if (API(in)->GetRealStatus != NULL &&
        API(in)->GetRealStatus(in->c, fmi2LastSuccessfulTime, &reached) ==
            fmi2OK)
        res->reached = reached;
    res->terminate = 1;
    return TWIN_OK;
}

const fmu_ops fmu_run2__ops = {
    .prefix = "fmi2",
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
