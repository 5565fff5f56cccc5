/*
 * tm_fmi2.c — the FMI 2.0 calls of a test FMU (Model Exchange and
 * Co-Simulation) over tm.c: the instance and its callbacks, values by
 * type, the event iteration, and doStep (a step cut short because the
 * model asks to end returns fmi2Discard with fmi2Terminated true).  The
 * model's maths is in its own file; TM_TOKEN (the GUID) comes from the
 * build.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmi2.h"
#include "tm.h"

#define EXPORT __attribute__((visibility("default")))

/* Every function of the standard, declared with its type: a definition
 * below that does not match it does not compile. */
EXPORT fmi2GetTypesPlatformTYPE fmi2GetTypesPlatform;
EXPORT fmi2GetVersionTYPE fmi2GetVersion;
EXPORT fmi2SetDebugLoggingTYPE fmi2SetDebugLogging;
EXPORT fmi2InstantiateTYPE fmi2Instantiate;
EXPORT fmi2FreeInstanceTYPE fmi2FreeInstance;
EXPORT fmi2SetupExperimentTYPE fmi2SetupExperiment;
EXPORT fmi2EnterInitializationModeTYPE fmi2EnterInitializationMode;
EXPORT fmi2ExitInitializationModeTYPE fmi2ExitInitializationMode;
EXPORT fmi2TerminateTYPE fmi2Terminate;
EXPORT fmi2ResetTYPE fmi2Reset;
EXPORT fmi2GetRealTYPE fmi2GetReal;
EXPORT fmi2GetIntegerTYPE fmi2GetInteger;
EXPORT fmi2GetBooleanTYPE fmi2GetBoolean;
EXPORT fmi2GetStringTYPE fmi2GetString;
EXPORT fmi2SetRealTYPE fmi2SetReal;
EXPORT fmi2SetIntegerTYPE fmi2SetInteger;
EXPORT fmi2SetBooleanTYPE fmi2SetBoolean;
EXPORT fmi2SetStringTYPE fmi2SetString;
EXPORT fmi2GetFMUstateTYPE fmi2GetFMUstate;
EXPORT fmi2SetFMUstateTYPE fmi2SetFMUstate;
EXPORT fmi2FreeFMUstateTYPE fmi2FreeFMUstate;
EXPORT fmi2SerializedFMUstateSizeTYPE fmi2SerializedFMUstateSize;
EXPORT fmi2SerializeFMUstateTYPE fmi2SerializeFMUstate;
EXPORT fmi2DeSerializeFMUstateTYPE fmi2DeSerializeFMUstate;
EXPORT fmi2GetDirectionalDerivativeTYPE fmi2GetDirectionalDerivative;
EXPORT fmi2EnterEventModeTYPE fmi2EnterEventMode;
EXPORT fmi2NewDiscreteStatesTYPE fmi2NewDiscreteStates;
EXPORT fmi2EnterContinuousTimeModeTYPE fmi2EnterContinuousTimeMode;
EXPORT fmi2CompletedIntegratorStepTYPE fmi2CompletedIntegratorStep;
EXPORT fmi2SetTimeTYPE fmi2SetTime;
EXPORT fmi2SetContinuousStatesTYPE fmi2SetContinuousStates;
EXPORT fmi2GetDerivativesTYPE fmi2GetDerivatives;
EXPORT fmi2GetEventIndicatorsTYPE fmi2GetEventIndicators;
EXPORT fmi2GetContinuousStatesTYPE fmi2GetContinuousStates;
EXPORT fmi2GetNominalsOfContinuousStatesTYPE fmi2GetNominalsOfContinuousStates;
EXPORT fmi2SetRealInputDerivativesTYPE fmi2SetRealInputDerivatives;
EXPORT fmi2GetRealOutputDerivativesTYPE fmi2GetRealOutputDerivatives;
EXPORT fmi2DoStepTYPE fmi2DoStep;
EXPORT fmi2CancelStepTYPE fmi2CancelStep;
EXPORT fmi2GetStatusTYPE fmi2GetStatus;
EXPORT fmi2GetRealStatusTYPE fmi2GetRealStatus;
EXPORT fmi2GetIntegerStatusTYPE fmi2GetIntegerStatus;
EXPORT fmi2GetBooleanStatusTYPE fmi2GetBooleanStatus;
EXPORT fmi2GetStringStatusTYPE fmi2GetStringStatus;

typedef struct glue {
    fmi2CallbackFunctions cb;
    char *name;
    int terminated;
} glue;

#define G(c) ((glue *)((tm_inst *)(c))->glue)
#define M(c) ((tm_inst *)(c))

static void glue_log(tm_inst *m, int status, const char *message)
{
    glue *g = m->glue;
    if (g->cb.logger != NULL)
        g->cb.logger(g->cb.componentEnvironment, g->name, (fmi2Status)status,
                     status > TM_WARNING ? "logStatusError" : "logEvents",
                     "%s", message);
}

EXPORT const char *fmi2GetTypesPlatform(void) { return FMI2_TYPES_PLATFORM; }
EXPORT const char *fmi2GetVersion(void) { return "2.0"; }

EXPORT fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean on,
                                      size_t n, const fmi2String cats[])
{
    (void)c, (void)on, (void)n, (void)cats;
    return fmi2OK;
}

EXPORT fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type,
                                     fmi2String guid, fmi2String resources,
                                     const fmi2CallbackFunctions *cb,
                                     fmi2Boolean visible, fmi2Boolean logging)
{
    (void)type, (void)visible, (void)logging;
    if (cb == NULL || name == NULL)
        return NULL;
    if (guid == NULL || strcmp(guid, TM_TOKEN) != 0) {
        if (cb->logger != NULL)
            cb->logger(cb->componentEnvironment, name, fmi2Error,
                       "logStatusError", "wrong GUID %s, expected %s",
                       guid ? guid : "(null)", TM_TOKEN);
        return NULL;
    }
    const char *dir = resources;
    if (dir != NULL && strncmp(dir, "file://", 7) == 0)
        dir += 7;
    else if (dir != NULL && strncmp(dir, "file:", 5) == 0)
        dir += 5;
    tm_inst *m = tm__new(dir);
    glue *g = calloc(1, sizeof *g);
    if (m == NULL || g == NULL || (g->name = strdup(name)) == NULL) {
        tm__free(m);
        free(g);
        return NULL;
    }
    g->cb = *cb;
    m->glue = g;
    m->log = glue_log;
    return m;
}

EXPORT void fmi2FreeInstance(fmi2Component c)
{
    if (c == NULL)
        return;
    free(G(c)->name);
    free(G(c));
    tm__free(M(c));
}

EXPORT fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean tol_def,
                                      fmi2Real tol, fmi2Real start,
                                      fmi2Boolean stop_def, fmi2Real stop)
{
    (void)tol_def, (void)tol, (void)stop_def, (void)stop;
    M(c)->t = start;
    M(c)->stale = 1;
    return fmi2OK;
}

EXPORT fmi2Status fmi2EnterInitializationMode(fmi2Component c)
{
    (void)c;
    return fmi2OK;
}

EXPORT fmi2Status fmi2ExitInitializationMode(fmi2Component c)
{
    int st = tm_model_def.init != NULL ? tm_model_def.init(M(c)) : TM_OK;
    if (st >= TM_ERROR)
        return (fmi2Status)st;
    int s = tm__compute(M(c));
    return (fmi2Status)(s > st ? s : st);
}

EXPORT fmi2Status fmi2Terminate(fmi2Component c)
{
    (void)c;
    return fmi2OK;
}

EXPORT fmi2Status fmi2Reset(fmi2Component c)
{
    (void)c;
    return fmi2Error;
}

static fmi2Status check_vr(tm_inst *m, const fmi2ValueReference vr[],
                           size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vr[i] >= tm_model_def.nv) {
            tm__logf(m, TM_ERROR, "unknown value reference %u", vr[i]);
            return fmi2Error;
        }
    return fmi2OK;
}

EXPORT fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[],
                              size_t n, fmi2Real value[])
{
    if (check_vr(M(c), vr, n) != fmi2OK)
        return fmi2Error;
    int st = tm__fresh(M(c));
    for (size_t i = 0; i < n; i++)
        value[i] = M(c)->v[vr[i]];
    return (fmi2Status)st;
}

EXPORT fmi2Status fmi2GetInteger(fmi2Component c,
                                 const fmi2ValueReference vr[], size_t n,
                                 fmi2Integer value[])
{
    if (check_vr(M(c), vr, n) != fmi2OK)
        return fmi2Error;
    int st = tm__fresh(M(c));
    for (size_t i = 0; i < n; i++)
        value[i] = (fmi2Integer)M(c)->v[vr[i]];
    return (fmi2Status)st;
}

EXPORT fmi2Status fmi2GetBoolean(fmi2Component c,
                                 const fmi2ValueReference vr[], size_t n,
                                 fmi2Boolean value[])
{
    if (check_vr(M(c), vr, n) != fmi2OK)
        return fmi2Error;
    int st = tm__fresh(M(c));
    for (size_t i = 0; i < n; i++)
        value[i] = M(c)->v[vr[i]] != 0;
    return (fmi2Status)st;
}

EXPORT fmi2Status fmi2GetString(fmi2Component c,
                                const fmi2ValueReference vr[], size_t n,
                                fmi2String value[])
{
    (void)vr, (void)value;
    if (n > 0)
        tm__logf(M(c), TM_ERROR, "the test FMUs have no String variables");
    return n > 0 ? fmi2Error : fmi2OK;
}

EXPORT fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[],
                              size_t n, const fmi2Real value[])
{
    if (check_vr(M(c), vr, n) != fmi2OK)
        return fmi2Error;
    for (size_t i = 0; i < n; i++)
        M(c)->v[vr[i]] = value[i];
    M(c)->stale = 1;
    return fmi2OK;
}

EXPORT fmi2Status fmi2SetInteger(fmi2Component c,
                                 const fmi2ValueReference vr[], size_t n,
                                 const fmi2Integer value[])
{
    if (check_vr(M(c), vr, n) != fmi2OK)
        return fmi2Error;
    for (size_t i = 0; i < n; i++)
        M(c)->v[vr[i]] = value[i];
    M(c)->stale = 1;
    return fmi2OK;
}

EXPORT fmi2Status fmi2SetBoolean(fmi2Component c,
                                 const fmi2ValueReference vr[], size_t n,
                                 const fmi2Boolean value[])
{
    if (check_vr(M(c), vr, n) != fmi2OK)
        return fmi2Error;
    for (size_t i = 0; i < n; i++)
        M(c)->v[vr[i]] = value[i] != fmi2False;
    M(c)->stale = 1;
    return fmi2OK;
}

EXPORT fmi2Status fmi2SetString(fmi2Component c,
                                const fmi2ValueReference vr[], size_t n,
                                const fmi2String value[])
{
    return fmi2GetString(c, vr, n, (fmi2String *)value);
}

/* Not supported by the test FMUs (canGetAndSetFMUstate false). */
EXPORT fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *s)
{
    (void)c, (void)s;
    return fmi2Error;
}
EXPORT fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate s)
{
    (void)c, (void)s;
    return fmi2Error;
}
EXPORT fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *s)
{
    (void)c, (void)s;
    return fmi2Error;
}
EXPORT fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate s,
                                             size_t *size)
{
    (void)c, (void)s, (void)size;
    return fmi2Error;
}
EXPORT fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate s,
                                        fmi2Byte b[], size_t size)
{
    (void)c, (void)s, (void)b, (void)size;
    return fmi2Error;
}
EXPORT fmi2Status fmi2DeSerializeFMUstate(fmi2Component c,
                                          const fmi2Byte b[], size_t size,
                                          fmi2FMUstate *s)
{
    (void)c, (void)s, (void)b, (void)size;
    return fmi2Error;
}
EXPORT fmi2Status fmi2GetDirectionalDerivative(
    fmi2Component c, const fmi2ValueReference u[], size_t nu,
    const fmi2ValueReference k[], size_t nk, const fmi2Real dk[],
    fmi2Real du[])
{
    (void)c, (void)u, (void)nu, (void)k, (void)nk, (void)dk, (void)du;
    return fmi2Error;
}

/* ---- Model Exchange ---- */

EXPORT fmi2Status fmi2EnterEventMode(fmi2Component c)
{
    (void)c;
    return fmi2OK;
}

EXPORT fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *ei)
{
    int st = tm__event(M(c));
    ei->newDiscreteStatesNeeded = fmi2False;
    ei->terminateSimulation = M(c)->terminate;
    ei->nominalsOfContinuousStatesChanged = fmi2False;
    ei->valuesOfContinuousStatesChanged = M(c)->states_changed;
    ei->nextEventTimeDefined = isfinite(M(c)->next_event);
    ei->nextEventTime = M(c)->next_event;
    return (fmi2Status)st;
}

EXPORT fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c)
{
    (void)c;
    return fmi2OK;
}

EXPORT fmi2Status fmi2CompletedIntegratorStep(fmi2Component c,
                                              fmi2Boolean no_set,
                                              fmi2Boolean *enter,
                                              fmi2Boolean *terminate)
{
    (void)c, (void)no_set;
    *enter = fmi2False;
    *terminate = fmi2False;
    return fmi2OK;
}

EXPORT fmi2Status fmi2SetTime(fmi2Component c, fmi2Real t)
{
    if (M(c)->t != t) {
        M(c)->t = t;
        M(c)->stale = 1;
    }
    return fmi2OK;
}

EXPORT fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[],
                                          size_t nx)
{
    for (size_t i = 0; i < nx && i < tm_model_def.nx; i++)
        M(c)->v[tm_model_def.x[i]] = x[i];
    M(c)->stale = 1;
    return fmi2OK;
}

EXPORT fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real dx[],
                                     size_t nx)
{
    int st = tm__fresh(M(c));
    for (size_t i = 0; i < nx && i < tm_model_def.nx; i++)
        dx[i] = M(c)->v[tm_model_def.dx[i]];
    return (fmi2Status)st;
}

EXPORT fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real z[],
                                         size_t nz)
{
    int st = tm__fresh(M(c));
    if (nz > 0 && tm_model_def.indicators != NULL)
        tm_model_def.indicators(M(c), z);
    return (fmi2Status)st;
}

EXPORT fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[],
                                          size_t nx)
{
    for (size_t i = 0; i < nx && i < tm_model_def.nx; i++)
        x[i] = M(c)->v[tm_model_def.x[i]];
    return fmi2OK;
}

EXPORT fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c,
                                                    fmi2Real x[], size_t nx)
{
    (void)c;
    for (size_t i = 0; i < nx; i++)
        x[i] = 1;
    return fmi2OK;
}

/* ---- Co-Simulation ---- */

EXPORT fmi2Status fmi2SetRealInputDerivatives(fmi2Component c,
                                              const fmi2ValueReference vr[],
                                              size_t n,
                                              const fmi2Integer order[],
                                              const fmi2Real value[])
{
    (void)c, (void)vr, (void)n, (void)order, (void)value;
    return fmi2Error;
}

EXPORT fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c,
                                               const fmi2ValueReference vr[],
                                               size_t n,
                                               const fmi2Integer order[],
                                               fmi2Real value[])
{
    (void)c, (void)vr, (void)n, (void)order, (void)value;
    return fmi2Error;
}

EXPORT fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h,
                             fmi2Boolean no_set)
{
    (void)no_set;
    if (fabs(t - M(c)->t) > 1e-9 * (1 + fabs(t))) {
        tm__logf(M(c), TM_ERROR, "doStep from t = %.17g, but the FMU is at "
                 "t = %.17g", t, M(c)->t);
        return fmi2Error;
    }
    int terminated = 0;
    int st = tm__step(M(c), h, &terminated);
    if (st >= TM_ERROR)
        return (fmi2Status)st;
    G(c)->terminated = terminated;
    return terminated ? fmi2Discard : (fmi2Status)st;
}

EXPORT fmi2Status fmi2CancelStep(fmi2Component c)
{
    (void)c;
    return fmi2Error;
}

EXPORT fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s,
                                fmi2Status *value)
{
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

EXPORT fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s,
                                    fmi2Real *value)
{
    if (s != fmi2LastSuccessfulTime)
        return fmi2Discard;
    *value = M(c)->t;
    return fmi2OK;
}

EXPORT fmi2Status fmi2GetIntegerStatus(fmi2Component c,
                                       const fmi2StatusKind s,
                                       fmi2Integer *value)
{
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

EXPORT fmi2Status fmi2GetBooleanStatus(fmi2Component c,
                                       const fmi2StatusKind s,
                                       fmi2Boolean *value)
{
    if (s != fmi2Terminated)
        return fmi2Discard;
    *value = G(c)->terminated;
    return fmi2OK;
}

EXPORT fmi2Status fmi2GetStringStatus(fmi2Component c,
                                      const fmi2StatusKind s,
                                      fmi2String *value)
{
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

