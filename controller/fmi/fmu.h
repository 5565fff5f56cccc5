/*
 * fmu.h — an FMU (FMI 2.0 or 3.0) as the model library sees it: the
 * archive unpacked into a private cache (fmu_unpack.c, libzip), its
 * modelDescription.xml read into an fmu_desc (fmu_xml.c, libxml2), its
 * binary for this platform opened and its functions bound (fmu_bind.c),
 * and the whole presented as a twin_model_descriptor of ABI 1.1
 * (fmu_model.c), so that the rest of the controller treats an FMU like a
 * plugin.
 *
 * The FMI types and function types are declared in fmi2.h and fmi3.h,
 * written from the standards: for each function fmiNXxx the type
 * fmiNXxxTYPE, and the tables fmi2_api / fmi3_api whose member for
 * fmiNXxx is named Xxx (fmi2SetTime → api->SetTime).
 */
#ifndef TWIN_FMU_H
#define TWIN_FMU_H

#include <stddef.h>
#include <stdint.h>

#include "twin_model.h"

/* What a description may declare: beyond these it is refused. */
#define FMU_MAX_VARIABLES 65536
#define FMU_MAX_XML_BYTES (64u << 20)

typedef enum fmu_version { FMU_FMI2 = 2, FMU_FMI3 = 3 } fmu_version;

/* The interfaces an FMU offers (a bit set) and the one an instance uses. */
typedef enum fmu_interface {
    FMU_ME = 1u,   /* Model Exchange: a continuous model in a CVODE group */
    FMU_CS = 2u    /* Co-Simulation: a discrete model stepped each tick */
} fmu_interface;

/* A variable's type: the FMI type as the description names it.  Every
 * value is carried as a double outside the FMU; FMU_T_STRING only for
 * parameters. */
typedef enum fmu_type {
    FMU_T_FLOAT64,   /* FMI 2 Real, FMI 3 Float64 */
    FMU_T_FLOAT32,   /* FMI 3 */
    FMU_T_INT8, FMU_T_UINT8, FMU_T_INT16, FMU_T_UINT16,  /* FMI 3 */
    FMU_T_INT32,     /* FMI 2 Integer, FMI 3 Int32 */
    FMU_T_UINT32, FMU_T_INT64, FMU_T_UINT64,             /* FMI 3 */
    FMU_T_BOOLEAN,
    FMU_T_ENUM,      /* FMI 2 Enumeration (int), FMI 3 Enumeration (int64) */
    FMU_T_STRING,
    FMU_T_OTHER      /* Binary, Clock, arrays: read, listed, not used */
} fmu_type;

typedef enum fmu_causality {
    FMU_C_PARAMETER, FMU_C_CALCULATED_PARAMETER, FMU_C_INPUT, FMU_C_OUTPUT,
    FMU_C_LOCAL, FMU_C_INDEPENDENT, FMU_C_STRUCTURAL_PARAMETER
} fmu_causality;

typedef enum fmu_variability {
    FMU_V_CONSTANT, FMU_V_FIXED, FMU_V_TUNABLE, FMU_V_DISCRETE,
    FMU_V_CONTINUOUS
} fmu_variability;

typedef enum fmu_initial {
    FMU_I_NONE, FMU_I_EXACT, FMU_I_APPROX, FMU_I_CALCULATED
} fmu_initial;

typedef struct fmu_var {
    char *name;            /* as in the description: "body.frame_a.r[1]" */
    uint32_t vr;           /* value reference */
    fmu_type type;
    fmu_causality causality;
    fmu_variability variability;
    fmu_initial initial;
    int has_start;
    double start;          /* numeric start (booleans 0/1) */
    char *start_string;    /* String start, else NULL */
    double min, max;       /* -INFINITY / +INFINITY when not given */
    double nominal;        /* 1 when not given */
    char *unit;            /* "" when none (declared type's unit if any) */
    char *description;     /* "" when none */
    long derivative_of;    /* index into vars of the state this is the
                            * derivative of, -1 when it is none */
    int is_array;          /* FMI 3 <Dimension>: not supported, listed */
} fmu_var;

typedef struct fmu_desc {
    fmu_version version;
    char *fmi_version;        /* the attribute as written */
    char *model_name;
    char *token;              /* FMI 2 guid, FMI 3 instantiationToken */
    char *description;        /* "" when none */
    char *generation_tool;    /* "" when none */
    char *version_text;       /* the model's version attribute, "" if none */
    unsigned interfaces;      /* FMU_ME | FMU_CS */
    char *me_identifier;      /* modelIdentifier of each interface, or NULL */
    char *cs_identifier;
    int me_needs_completed_step;  /* FMI 2 !completedIntegratorStepNotNeeded,
                                   * FMI 3 needsCompletedIntegratorStep */
    int cs_can_handle_variable_step;
    int cs_can_return_early;  /* FMI 3 canReturnEarlyAfterIntermediateUpdate */
    size_t n_event_indicators;
    fmu_var *vars;
    size_t n_vars;
    /* ModelStructure, as indices into vars. */
    size_t *outputs;          /* the <Output> entries, in order */
    int *output_feedthrough;  /* per output: depends directly on an input
                               * (dependencies absent = on everything) */
    size_t n_outputs;
    size_t *states;           /* continuous states, in the order of the
                               * <Derivative> entries (the state vector) */
    size_t *derivatives;      /* the derivative variable of each state */
    size_t n_states;
    /* DefaultExperiment; NaN when not given. */
    double de_start, de_stop, de_tolerance, de_step;
} fmu_desc;

struct fmi2_api;
struct fmi3_api;

/* A loaded FMU: one per .fmu file in the model library, shared by the
 * instances of its model. */
typedef struct fmu {
    char *path;               /* the .fmu file */
    char *dir;                /* where it is unpacked (the cache entry) */
    char *resources;          /* file URI of <dir>/resources/ (FMI 2) or
                               * its path with a trailing '/' (FMI 3) */
    fmu_desc desc;
    fmu_interface use;        /* the interface the model uses */
    void *handle;             /* dlopen of the binary */
    const struct fmi2_api *f2;  /* bound functions; one of them is set */
    const struct fmi3_api *f3;
    /* The model the library lists (fmu_model.c fills it): name = the
     * model identifier, variables mapped from desc. */
    twin_model_descriptor model;
    twin_variable *model_vars;
    size_t *var_of;           /* model_vars[i] comes from desc.vars[var_of[i]] */
} fmu;

#endif
