/*
 * tm_fmi3.c — the FMI 3.0 calls of a test FMU (Model Exchange and
 * Co-Simulation) over tm.c: the instance and its log-message callback,
 * Float64, Int32 and Boolean values, the discrete-state update, and
 * doStep with its out-arguments.  The model's maths is in its own file;
 * TM_TOKEN (the instantiation token) comes from the build.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmi3.h"
#include "tm.h"

#define EXPORT __attribute__((visibility("default")))

/* Every function of the standard, declared with its type: a definition
 * below that does not match it does not compile. */
EXPORT fmi3GetVersionTYPE fmi3GetVersion;
EXPORT fmi3SetDebugLoggingTYPE fmi3SetDebugLogging;
EXPORT fmi3InstantiateModelExchangeTYPE fmi3InstantiateModelExchange;
EXPORT fmi3InstantiateCoSimulationTYPE fmi3InstantiateCoSimulation;
EXPORT fmi3FreeInstanceTYPE fmi3FreeInstance;
EXPORT fmi3EnterInitializationModeTYPE fmi3EnterInitializationMode;
EXPORT fmi3ExitInitializationModeTYPE fmi3ExitInitializationMode;
EXPORT fmi3EnterEventModeTYPE fmi3EnterEventMode;
EXPORT fmi3TerminateTYPE fmi3Terminate;
EXPORT fmi3ResetTYPE fmi3Reset;
EXPORT fmi3GetFloat32TYPE fmi3GetFloat32;
EXPORT fmi3SetFloat32TYPE fmi3SetFloat32;
EXPORT fmi3GetFloat64TYPE fmi3GetFloat64;
EXPORT fmi3SetFloat64TYPE fmi3SetFloat64;
EXPORT fmi3GetInt8TYPE fmi3GetInt8;
EXPORT fmi3SetInt8TYPE fmi3SetInt8;
EXPORT fmi3GetUInt8TYPE fmi3GetUInt8;
EXPORT fmi3SetUInt8TYPE fmi3SetUInt8;
EXPORT fmi3GetInt16TYPE fmi3GetInt16;
EXPORT fmi3SetInt16TYPE fmi3SetInt16;
EXPORT fmi3GetUInt16TYPE fmi3GetUInt16;
EXPORT fmi3SetUInt16TYPE fmi3SetUInt16;
EXPORT fmi3GetInt32TYPE fmi3GetInt32;
EXPORT fmi3SetInt32TYPE fmi3SetInt32;
EXPORT fmi3GetUInt32TYPE fmi3GetUInt32;
EXPORT fmi3SetUInt32TYPE fmi3SetUInt32;
EXPORT fmi3GetInt64TYPE fmi3GetInt64;
EXPORT fmi3SetInt64TYPE fmi3SetInt64;
EXPORT fmi3GetUInt64TYPE fmi3GetUInt64;
EXPORT fmi3SetUInt64TYPE fmi3SetUInt64;
EXPORT fmi3GetBooleanTYPE fmi3GetBoolean;
EXPORT fmi3SetBooleanTYPE fmi3SetBoolean;
EXPORT fmi3GetStringTYPE fmi3GetString;
EXPORT fmi3SetStringTYPE fmi3SetString;
EXPORT fmi3GetBinaryTYPE fmi3GetBinary;
EXPORT fmi3SetBinaryTYPE fmi3SetBinary;
EXPORT fmi3UpdateDiscreteStatesTYPE fmi3UpdateDiscreteStates;
EXPORT fmi3EnterContinuousTimeModeTYPE fmi3EnterContinuousTimeMode;
EXPORT fmi3CompletedIntegratorStepTYPE fmi3CompletedIntegratorStep;
EXPORT fmi3SetTimeTYPE fmi3SetTime;
EXPORT fmi3SetContinuousStatesTYPE fmi3SetContinuousStates;
EXPORT fmi3GetContinuousStateDerivativesTYPE fmi3GetContinuousStateDerivatives;
EXPORT fmi3GetEventIndicatorsTYPE fmi3GetEventIndicators;
EXPORT fmi3GetContinuousStatesTYPE fmi3GetContinuousStates;
EXPORT fmi3GetNominalsOfContinuousStatesTYPE fmi3GetNominalsOfContinuousStates;
EXPORT fmi3GetNumberOfEventIndicatorsTYPE fmi3GetNumberOfEventIndicators;
EXPORT fmi3GetNumberOfContinuousStatesTYPE fmi3GetNumberOfContinuousStates;
EXPORT fmi3EnterStepModeTYPE fmi3EnterStepMode;
EXPORT fmi3GetOutputDerivativesTYPE fmi3GetOutputDerivatives;
EXPORT fmi3DoStepTYPE fmi3DoStep;

typedef struct glue {
    fmi3InstanceEnvironment env;
    fmi3LogMessageCallback log;
} glue;

#define G(c) ((glue *)((tm_inst *)(c))->glue)
#define M(c) ((tm_inst *)(c))

static void glue_log(tm_inst *m, int status, const char *message)
{
    glue *g = m->glue;
    if (g->log != NULL)
        g->log(g->env, (fmi3Status)status,
               status > TM_WARNING ? "logStatusError" : "logEvents", message);
}

EXPORT const char *fmi3GetVersion(void) { return "3.0"; }

EXPORT fmi3Status fmi3SetDebugLogging(fmi3Instance c, fmi3Boolean on,
                                      size_t n, const fmi3String cats[])
{
    (void)c, (void)on, (void)n, (void)cats;
    return fmi3OK;
}

static fmi3Instance instantiate(fmi3String token, fmi3String resources,
                                fmi3InstanceEnvironment env,
                                fmi3LogMessageCallback log)
{
    if (token == NULL || strcmp(token, TM_TOKEN) != 0) {
        if (log != NULL)
            log(env, fmi3Error, "logStatusError",
                "wrong instantiation token");
        return NULL;
    }
    tm_inst *m = tm__new(resources);
    glue *g = calloc(1, sizeof *g);
    if (m == NULL || g == NULL) {
        tm__free(m);
        free(g);
        return NULL;
    }
    g->env = env;
    g->log = log;
    m->glue = g;
    m->log = glue_log;
    return m;
}

EXPORT fmi3Instance fmi3InstantiateModelExchange(
    fmi3String name, fmi3String token, fmi3String resources,
    fmi3Boolean visible, fmi3Boolean logging, fmi3InstanceEnvironment env,
    fmi3LogMessageCallback log)
{
    (void)name, (void)visible, (void)logging;
    return instantiate(token, resources, env, log);
}

EXPORT fmi3Instance fmi3InstantiateCoSimulation(
    fmi3String name, fmi3String token, fmi3String resources,
    fmi3Boolean visible, fmi3Boolean logging, fmi3Boolean event_mode,
    fmi3Boolean early_return, const fmi3ValueReference required[],
    size_t n_required, fmi3InstanceEnvironment env,
    fmi3LogMessageCallback log, fmi3IntermediateUpdateCallback update)
{
    (void)name, (void)visible, (void)logging, (void)event_mode;
    (void)early_return, (void)required, (void)n_required, (void)update;
    return instantiate(token, resources, env, log);
}

EXPORT void fmi3FreeInstance(fmi3Instance c)
{
    if (c == NULL)
        return;
    free(G(c));
    tm__free(M(c));
}

EXPORT fmi3Status fmi3EnterInitializationMode(fmi3Instance c,
                                              fmi3Boolean tol_def,
                                              fmi3Float64 tol,
                                              fmi3Float64 start,
                                              fmi3Boolean stop_def,
                                              fmi3Float64 stop)
{
    (void)tol_def, (void)tol, (void)stop_def, (void)stop;
    M(c)->t = start;
    M(c)->stale = 1;
    return fmi3OK;
}

EXPORT fmi3Status fmi3ExitInitializationMode(fmi3Instance c)
{
    int st = tm_model_def.init != NULL ? tm_model_def.init(M(c)) : TM_OK;
    if (st >= TM_ERROR)
        return (fmi3Status)st;
    int s = tm__compute(M(c));
    return (fmi3Status)(s > st ? s : st);
}

EXPORT fmi3Status fmi3EnterEventMode(fmi3Instance c)
{
    (void)c;
    return fmi3OK;
}

EXPORT fmi3Status fmi3Terminate(fmi3Instance c)
{
    (void)c;
    return fmi3OK;
}

EXPORT fmi3Status fmi3Reset(fmi3Instance c)
{
    (void)c;
    return fmi3Error;
}

static fmi3Status check_vr(tm_inst *m, const fmi3ValueReference vr[],
                           size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vr[i] >= tm_model_def.nv) {
            tm__logf(m, TM_ERROR, "unknown value reference %u", vr[i]);
            return fmi3Error;
        }
    return fmi3OK;
}

/* Get and set of one FMI 3 type through the doubles of tm_inst. */
#define GETSET(NAME, CTYPE, FROM)                                            \
    EXPORT fmi3Status fmi3Get##NAME(fmi3Instance c,                          \
                                    const fmi3ValueReference vr[], size_t n, \
                                    CTYPE values[], size_t nv)               \
    {                                                                        \
        if (nv != n || check_vr(M(c), vr, n) != fmi3OK)                      \
            return fmi3Error;                                                \
        int st = tm__fresh(M(c));                                            \
        for (size_t i = 0; i < n; i++)                                       \
            values[i] = (CTYPE)(M(c)->v[vr[i]] FROM);                        \
        return (fmi3Status)st;                                               \
    }                                                                        \
    EXPORT fmi3Status fmi3Set##NAME(fmi3Instance c,                          \
                                    const fmi3ValueReference vr[], size_t n, \
                                    const CTYPE values[], size_t nv)         \
    {                                                                        \
        if (nv != n || check_vr(M(c), vr, n) != fmi3OK)                      \
            return fmi3Error;                                                \
        for (size_t i = 0; i < n; i++)                                       \
            M(c)->v[vr[i]] = (double)values[i];                              \
        M(c)->stale = 1;                                                     \
        return fmi3OK;                                                       \
    }
GETSET(Float64, fmi3Float64, )
GETSET(Int32, fmi3Int32, )
GETSET(Boolean, fmi3Boolean, != 0)
#undef GETSET

EXPORT fmi3Status fmi3UpdateDiscreteStates(fmi3Instance c,
                                           fmi3Boolean *more,
                                           fmi3Boolean *terminate,
                                           fmi3Boolean *nominals_changed,
                                           fmi3Boolean *values_changed,
                                           fmi3Boolean *next_defined,
                                           fmi3Float64 *next)
{
    int st = tm__event(M(c));
    *more = false;
    *terminate = M(c)->terminate;
    *nominals_changed = false;
    *values_changed = M(c)->states_changed;
    *next_defined = isfinite(M(c)->next_event);
    *next = M(c)->next_event;
    return (fmi3Status)st;
}

/* ---- Model Exchange ---- */

EXPORT fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance c)
{
    (void)c;
    return fmi3OK;
}

EXPORT fmi3Status fmi3CompletedIntegratorStep(fmi3Instance c,
                                              fmi3Boolean no_set,
                                              fmi3Boolean *enter,
                                              fmi3Boolean *terminate)
{
    (void)c, (void)no_set;
    *enter = false;
    *terminate = false;
    return fmi3OK;
}

EXPORT fmi3Status fmi3SetTime(fmi3Instance c, fmi3Float64 t)
{
    if (M(c)->t != t) {
        M(c)->t = t;
        M(c)->stale = 1;
    }
    return fmi3OK;
}

EXPORT fmi3Status fmi3SetContinuousStates(fmi3Instance c,
                                          const fmi3Float64 x[], size_t nx)
{
    for (size_t i = 0; i < nx && i < tm_model_def.nx; i++)
        M(c)->v[tm_model_def.x[i]] = x[i];
    M(c)->stale = 1;
    return fmi3OK;
}

EXPORT fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance c,
                                                    fmi3Float64 dx[],
                                                    size_t nx)
{
    int st = tm__fresh(M(c));
    for (size_t i = 0; i < nx && i < tm_model_def.nx; i++)
        dx[i] = M(c)->v[tm_model_def.dx[i]];
    return (fmi3Status)st;
}

EXPORT fmi3Status fmi3GetEventIndicators(fmi3Instance c, fmi3Float64 z[],
                                         size_t nz)
{
    int st = tm__fresh(M(c));
    if (nz > 0 && tm_model_def.indicators != NULL)
        tm_model_def.indicators(M(c), z);
    return (fmi3Status)st;
}

EXPORT fmi3Status fmi3GetContinuousStates(fmi3Instance c, fmi3Float64 x[],
                                          size_t nx)
{
    for (size_t i = 0; i < nx && i < tm_model_def.nx; i++)
        x[i] = M(c)->v[tm_model_def.x[i]];
    return fmi3OK;
}

EXPORT fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance c,
                                                    fmi3Float64 x[],
                                                    size_t nx)
{
    (void)c;
    for (size_t i = 0; i < nx; i++)
        x[i] = 1;
    return fmi3OK;
}

EXPORT fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance c, size_t *n)
{
    (void)c;
    *n = tm_model_def.nz;
    return fmi3OK;
}

EXPORT fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance c, size_t *n)
{
    (void)c;
    *n = tm_model_def.nx;
    return fmi3OK;
}

/* ---- Co-Simulation ---- */

EXPORT fmi3Status fmi3EnterStepMode(fmi3Instance c)
{
    (void)c;
    return fmi3OK;
}

EXPORT fmi3Status fmi3GetOutputDerivatives(fmi3Instance c,
                                           const fmi3ValueReference vr[],
                                           size_t n, const fmi3Int32 order[],
                                           fmi3Float64 values[], size_t nv)
{
    (void)c, (void)vr, (void)n, (void)order, (void)values, (void)nv;
    return fmi3Error;
}

EXPORT fmi3Status fmi3DoStep(fmi3Instance c, fmi3Float64 t, fmi3Float64 h,
                             fmi3Boolean no_set, fmi3Boolean *event_needed,
                             fmi3Boolean *terminate, fmi3Boolean *early,
                             fmi3Float64 *last)
{
    (void)no_set;
    *event_needed = false;
    *early = false;
    *terminate = false;
    if (fabs(t - M(c)->t) > 1e-9 * (1 + fabs(t))) {
        tm__logf(M(c), TM_ERROR, "doStep from t = %.17g, but the FMU is at "
                 "t = %.17g", t, M(c)->t);
        return fmi3Error;
    }
    int terminated = 0;
    int st = tm__step(M(c), h, &terminated);
    *terminate = terminated;
    *last = M(c)->t;
    return (fmi3Status)st;
}

