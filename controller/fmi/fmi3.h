/*
 * fmi3.h — the FMI 3.0 types and function types an importer of Model
 * Exchange and Co-Simulation FMUs needs, written for twinctl from the FMI
 * 3.0 standard (section 2.2: platform types, callbacks, the common, Model
 * Exchange and Co-Simulation functions).  Not the standard's headers:
 * Scheduled Execution, clocks' intervals, FMU states, directional and
 * adjoint derivatives and configuration mode are left out, because the
 * importer does not call them.  Declared as types only.
 *
 * Convention (fmu.h): the function fmi3Xxx has the type fmi3XxxTYPE, and
 * struct fmi3_api holds one pointer per function, named Xxx
 * (fmi3SetTime → api->SetTime).  fmu_bind.c fills the table with dlsym.
 */
#ifndef TWIN_FMI3_H
#define TWIN_FMI3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void *fmi3Instance;
typedef void *fmi3InstanceEnvironment;
typedef void *fmi3FMUState;
typedef uint32_t fmi3ValueReference;
typedef float fmi3Float32;
typedef double fmi3Float64;
typedef int8_t fmi3Int8;
typedef uint8_t fmi3UInt8;
typedef int16_t fmi3Int16;
typedef uint16_t fmi3UInt16;
typedef int32_t fmi3Int32;
typedef uint32_t fmi3UInt32;
typedef int64_t fmi3Int64;
typedef uint64_t fmi3UInt64;
typedef bool fmi3Boolean;
typedef char fmi3Char;
typedef const fmi3Char *fmi3String;
typedef uint8_t fmi3Byte;
typedef const fmi3Byte *fmi3Binary;
typedef bool fmi3Clock;

#define fmi3True true
#define fmi3False false

typedef enum fmi3Status {
    fmi3OK, fmi3Warning, fmi3Discard, fmi3Error, fmi3Fatal
} fmi3Status;

/* Callbacks: the logger takes a formatted message (no varargs). */
typedef void (*fmi3LogMessageCallback)(fmi3InstanceEnvironment env,
    fmi3Status status, fmi3String category, fmi3String message);
typedef void (*fmi3IntermediateUpdateCallback)(fmi3InstanceEnvironment env,
    fmi3Float64 intermediateUpdateTime, fmi3Boolean clocksTicked,
    fmi3Boolean intermediateVariableSetRequested,
    fmi3Boolean intermediateVariableGetAllowed,
    fmi3Boolean intermediateStepFinished, fmi3Boolean canReturnEarly,
    fmi3Boolean *earlyReturnRequested, fmi3Float64 *earlyReturnTime);

/* ---- common functions ---- */
typedef const char *fmi3GetVersionTYPE(void);
typedef fmi3Status fmi3SetDebugLoggingTYPE(fmi3Instance instance,
    fmi3Boolean loggingOn, size_t nCategories,
    const fmi3String categories[]);
typedef fmi3Instance fmi3InstantiateModelExchangeTYPE(
    fmi3String instanceName, fmi3String instantiationToken,
    fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
    fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage);
typedef fmi3Instance fmi3InstantiateCoSimulationTYPE(
    fmi3String instanceName, fmi3String instantiationToken,
    fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
    fmi3Boolean eventModeUsed, fmi3Boolean earlyReturnAllowed,
    const fmi3ValueReference requiredIntermediateVariables[],
    size_t nRequiredIntermediateVariables,
    fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage,
    fmi3IntermediateUpdateCallback intermediateUpdate);
typedef void fmi3FreeInstanceTYPE(fmi3Instance instance);
typedef fmi3Status fmi3EnterInitializationModeTYPE(fmi3Instance instance,
    fmi3Boolean toleranceDefined, fmi3Float64 tolerance,
    fmi3Float64 startTime, fmi3Boolean stopTimeDefined,
    fmi3Float64 stopTime);
typedef fmi3Status fmi3ExitInitializationModeTYPE(fmi3Instance instance);
typedef fmi3Status fmi3EnterEventModeTYPE(fmi3Instance instance);
typedef fmi3Status fmi3TerminateTYPE(fmi3Instance instance);
typedef fmi3Status fmi3ResetTYPE(fmi3Instance instance);

/* Getting and setting values: one pair per type.  nValues counts the
 * values (arrays make it larger than nValueReferences). */
#define FMI3_GETSET(T)                                                     \
    typedef fmi3Status fmi3Get##T##TYPE(fmi3Instance instance,             \
        const fmi3ValueReference valueReferences[],                        \
        size_t nValueReferences, fmi3##T values[], size_t nValues);        \
    typedef fmi3Status fmi3Set##T##TYPE(fmi3Instance instance,             \
        const fmi3ValueReference valueReferences[],                        \
        size_t nValueReferences, const fmi3##T values[], size_t nValues);
FMI3_GETSET(Float32)
FMI3_GETSET(Float64)
FMI3_GETSET(Int8)
FMI3_GETSET(UInt8)
FMI3_GETSET(Int16)
FMI3_GETSET(UInt16)
FMI3_GETSET(Int32)
FMI3_GETSET(UInt32)
FMI3_GETSET(Int64)
FMI3_GETSET(UInt64)
FMI3_GETSET(Boolean)
FMI3_GETSET(String)
#undef FMI3_GETSET
typedef fmi3Status fmi3GetBinaryTYPE(fmi3Instance instance,
    const fmi3ValueReference valueReferences[], size_t nValueReferences,
    size_t valueSizes[], fmi3Binary values[], size_t nValues);
typedef fmi3Status fmi3SetBinaryTYPE(fmi3Instance instance,
    const fmi3ValueReference valueReferences[], size_t nValueReferences,
    const size_t valueSizes[], const fmi3Binary values[], size_t nValues);

typedef fmi3Status fmi3UpdateDiscreteStatesTYPE(fmi3Instance instance,
    fmi3Boolean *discreteStatesNeedUpdate, fmi3Boolean *terminateSimulation,
    fmi3Boolean *nominalsOfContinuousStatesChanged,
    fmi3Boolean *valuesOfContinuousStatesChanged,
    fmi3Boolean *nextEventTimeDefined, fmi3Float64 *nextEventTime);

/* ---- Model Exchange ---- */
typedef fmi3Status fmi3EnterContinuousTimeModeTYPE(fmi3Instance instance);
typedef fmi3Status fmi3CompletedIntegratorStepTYPE(fmi3Instance instance,
    fmi3Boolean noSetFMUStatePriorToCurrentPoint,
    fmi3Boolean *enterEventMode, fmi3Boolean *terminateSimulation);
typedef fmi3Status fmi3SetTimeTYPE(fmi3Instance instance, fmi3Float64 time);
typedef fmi3Status fmi3SetContinuousStatesTYPE(fmi3Instance instance,
    const fmi3Float64 continuousStates[], size_t nContinuousStates);
typedef fmi3Status fmi3GetContinuousStateDerivativesTYPE(
    fmi3Instance instance, fmi3Float64 derivatives[],
    size_t nContinuousStates);
typedef fmi3Status fmi3GetEventIndicatorsTYPE(fmi3Instance instance,
    fmi3Float64 eventIndicators[], size_t nEventIndicators);
typedef fmi3Status fmi3GetContinuousStatesTYPE(fmi3Instance instance,
    fmi3Float64 continuousStates[], size_t nContinuousStates);
typedef fmi3Status fmi3GetNominalsOfContinuousStatesTYPE(
    fmi3Instance instance, fmi3Float64 nominals[], size_t nContinuousStates);
typedef fmi3Status fmi3GetNumberOfEventIndicatorsTYPE(fmi3Instance instance,
    size_t *nEventIndicators);
typedef fmi3Status fmi3GetNumberOfContinuousStatesTYPE(
    fmi3Instance instance, size_t *nContinuousStates);

/* ---- Co-Simulation ---- */
typedef fmi3Status fmi3EnterStepModeTYPE(fmi3Instance instance);
typedef fmi3Status fmi3GetOutputDerivativesTYPE(fmi3Instance instance,
    const fmi3ValueReference valueReferences[], size_t nValueReferences,
    const fmi3Int32 orders[], fmi3Float64 values[], size_t nValues);
typedef fmi3Status fmi3DoStepTYPE(fmi3Instance instance,
    fmi3Float64 currentCommunicationPoint,
    fmi3Float64 communicationStepSize,
    fmi3Boolean noSetFMUStatePriorToCurrentPoint,
    fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminateSimulation,
    fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime);

/* The bound functions of one FMU (fmu_bind.c).  A function the chosen
 * interface needs is never NULL; the others may be. */
struct fmi3_api {
    fmi3GetVersionTYPE *GetVersion;
    fmi3SetDebugLoggingTYPE *SetDebugLogging;
    fmi3InstantiateModelExchangeTYPE *InstantiateModelExchange;
    fmi3InstantiateCoSimulationTYPE *InstantiateCoSimulation;
    fmi3FreeInstanceTYPE *FreeInstance;
    fmi3EnterInitializationModeTYPE *EnterInitializationMode;
    fmi3ExitInitializationModeTYPE *ExitInitializationMode;
    fmi3EnterEventModeTYPE *EnterEventMode;
    fmi3TerminateTYPE *Terminate;
    fmi3ResetTYPE *Reset;
    fmi3GetFloat32TYPE *GetFloat32;
    fmi3SetFloat32TYPE *SetFloat32;
    fmi3GetFloat64TYPE *GetFloat64;
    fmi3SetFloat64TYPE *SetFloat64;
    fmi3GetInt8TYPE *GetInt8;
    fmi3SetInt8TYPE *SetInt8;
    fmi3GetUInt8TYPE *GetUInt8;
    fmi3SetUInt8TYPE *SetUInt8;
    fmi3GetInt16TYPE *GetInt16;
    fmi3SetInt16TYPE *SetInt16;
    fmi3GetUInt16TYPE *GetUInt16;
    fmi3SetUInt16TYPE *SetUInt16;
    fmi3GetInt32TYPE *GetInt32;
    fmi3SetInt32TYPE *SetInt32;
    fmi3GetUInt32TYPE *GetUInt32;
    fmi3SetUInt32TYPE *SetUInt32;
    fmi3GetInt64TYPE *GetInt64;
    fmi3SetInt64TYPE *SetInt64;
    fmi3GetUInt64TYPE *GetUInt64;
    fmi3SetUInt64TYPE *SetUInt64;
    fmi3GetBooleanTYPE *GetBoolean;
    fmi3SetBooleanTYPE *SetBoolean;
    fmi3GetStringTYPE *GetString;
    fmi3SetStringTYPE *SetString;
    fmi3GetBinaryTYPE *GetBinary;
    fmi3SetBinaryTYPE *SetBinary;
    fmi3UpdateDiscreteStatesTYPE *UpdateDiscreteStates;
    /* Model Exchange */
    fmi3EnterContinuousTimeModeTYPE *EnterContinuousTimeMode;
    fmi3CompletedIntegratorStepTYPE *CompletedIntegratorStep;
    fmi3SetTimeTYPE *SetTime;
    fmi3SetContinuousStatesTYPE *SetContinuousStates;
    fmi3GetContinuousStateDerivativesTYPE *GetContinuousStateDerivatives;
    fmi3GetEventIndicatorsTYPE *GetEventIndicators;
    fmi3GetContinuousStatesTYPE *GetContinuousStates;
    fmi3GetNominalsOfContinuousStatesTYPE *GetNominalsOfContinuousStates;
    fmi3GetNumberOfEventIndicatorsTYPE *GetNumberOfEventIndicators;
    fmi3GetNumberOfContinuousStatesTYPE *GetNumberOfContinuousStates;
    /* Co-Simulation */
    fmi3EnterStepModeTYPE *EnterStepMode;
    fmi3GetOutputDerivativesTYPE *GetOutputDerivatives;
    fmi3DoStepTYPE *DoStep;
};

#endif
