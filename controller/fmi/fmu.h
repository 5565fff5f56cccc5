/*
 * fmu.h — an FMU (FMI 2.0 or 3.0) as the model library sees it: the
 * archive unpacked into a private cache (fmu_unpack.c, libzip), its
 * modelDescription.xml read into an fmu_desc (fmu_xml.c, libxml2), its
 * binary for this platform opened and its functions bound (fmu_bind.c),
 * and the whole presented as a twin_model_descriptor of ABI 1.1
 * (fmu_model.c maps the variables; fmu_run.c supplies the calls), so
 * that the rest of the controller treats an FMU like a plugin.
 *
 * The FMI types and function types are declared in fmi2.h and fmi3.h,
 * written from the standards: for each function fmiNXxx the type
 * fmiNXxxTYPE, and the tables fmi2_api / fmi3_api whose member for
 * fmiNXxx is named Xxx (fmi2SetTime → api->SetTime).
 *
 * Errors: every function that can fail puts one sentence into why (of
 * why_len bytes) naming the .fmu file, what is wrong and what to do, as a
 * plugin's refusal does.
 */
#ifndef TWIN_FMU_H
#define TWIN_FMU_H

#include <stddef.h>
#include <stdint.h>

#include "twin_model.h"

/* What a description may declare: beyond these it is refused. */
#define FMU_MAX_VARIABLES 65536
#define FMU_MAX_XML_BYTES (64u << 20)
/* What an archive may hold: beyond these it is refused as a zip bomb. */
#define FMU_MAX_ENTRIES 100000
#define FMU_MAX_UNPACKED ((uint64_t)4 << 30)

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
    /* The dependencies attribute of each <Output> (parallel to outputs)
     * and each derivative (parallel to states): the variables it names,
     * as indices into vars; given == 0 where the attribute is absent
     * (on everything). */
    struct fmu_deps {
        int given;
        size_t *vars;
        size_t n;
    } *output_deps, *state_deps;
    /* DefaultExperiment; NaN when not given. */
    double de_start, de_stop, de_tolerance, de_step;
} fmu_desc;

struct fmi2_api;
struct fmi3_api;

#define FMU_MAGIC 0x464d5531u  /* "FMU1" */

/* A loaded FMU: one per .fmu file in the model library, shared by the
 * instances of its model. */
typedef struct fmu {
    uint32_t magic;           /* FMU_MAGIC, for fmu_model__of */
    char *path;               /* the .fmu file */
    char *dir;                /* where it is unpacked (the cache entry) */
    char *resources;          /* file URI of <dir>/resources/ (FMI 2) or
                               * its path with a trailing '/' (FMI 3) */
    fmu_desc desc;
    fmu_interface use;        /* the interface the model uses */
    void *handle;             /* dlopen of the binary */
    struct fmi2_api *f2;      /* bound functions (fmu_bind.c): the one of
                               * the FMU's version is set, the other NULL */
    struct fmi3_api *f3;
    /* The model the library lists (fmu_model.c fills it): name = the
     * model identifier, variables mapped from desc. */
    twin_model_descriptor model;
    twin_variable *model_vars;
    size_t *var_of;           /* model_vars[i] comes from desc.vars[var_of[i]] */
    twin_dependency *deps;    /* model.dependencies, or NULL (fmu_model.c) */
} fmu;

/* ---- fmu_unpack.c: the archive in the cache ---- */

/* The environment variable that overrides where the cache is. */
#define FMU_CACHE_ENV "TWIN_FMU_CACHE"

/* The cache directory: $TWIN_FMU_CACHE, else $XDG_CACHE_HOME/twinctl/fmu,
 * else $HOME/.cache/twinctl/fmu, else <tmp>/twinctl-fmu-<uid>.  A
 * malloc'd string. */
char *fmu_unpack__cache_root(void);

/* Unpack the FMU path (read through fd when fd >= 0: the caller's, left
 * open) into the cache entry named after the SHA-256 of its bytes
 * (reused when it is there already) and put that directory, malloc'd,
 * into *dir.  Returns 0, or -1 with a sentence in why. */
int fmu_unpack__open(const char *path, int fd, char **dir, char *why,
                     size_t why_len);

/* ---- fmu_xml.c: modelDescription.xml ---- */

/* Read <dir>/modelDescription.xml of the FMU path into d.  Returns 0, or
 * -1 with a sentence in why (d is then empty). */
int fmu_xml__read(const char *path, const char *dir, fmu_desc *d,
                  char *why, size_t why_len);
/* The same from bytes in memory (name is the file named in messages). */
int fmu_xml__parse(const char *bytes, size_t len, const char *name,
                   fmu_desc *d, char *why, size_t why_len);
void fmu_xml__free(fmu_desc *d);

/* ---- fmu_bind.c: the binary ---- */

/* The platform folder under binaries/ for a version ("linux64",
 * "x86_64-linux"). */
const char *fmu_bind__platform(fmu_version v);

/* dlopen f->dir's binary for f->use (RTLD_NOW | RTLD_LOCAL), bind every
 * function that interface needs into f->f2 or f->f3, check the version
 * the binary reports, and set f->resources.  Returns 0, or -1 with a
 * sentence in why. */
int fmu_bind__open(fmu *f, char *why, size_t why_len);
void fmu_bind__close(fmu *f);

/* The sentence for an instantiate call that returned NULL: names the
 * file and the instance, quotes what the FMU logged (last, may be NULL),
 * and says what a GUID / instantiation token mismatch means and what to
 * do.  For fmu_run.c's create. */
void fmu_bind__instantiate_failed(const fmu *f, const char *instance,
                                  const char *last, char *why,
                                  size_t why_len);

/* ---- fmu_model.c: the FMU as a model ---- */

/* Open the FMU path (through fd when fd >= 0, left open): unpack, read,
 * choose the interface (want: FMU_ME or FMU_CS, 0 for Model Exchange
 * when offered), bind, map onto f->model, and have fmu_run.c fill in its
 * calls.  Returns the FMU, or NULL with a sentence in why. */
fmu *fmu_model__open(const char *path, int fd, unsigned want, char *why,
                     size_t why_len);
/* The same FMU through its other interface (want), from the archive of
 * already unpacked (not hashed nor unpacked again): the Co-Simulation
 * twin of an FMU opened for Model Exchange. */
fmu *fmu_model__open_twin(const fmu *of, unsigned want, char *why,
                          size_t why_len);
void fmu_model__close(fmu **f);

/* The FMU a descriptor made by fmu_model__open belongs to (host->model
 * in create), or NULL for any other descriptor. */
fmu *fmu_model__of(const twin_model_descriptor *d);

/* ---- fmu_run.c (the runtime adapter): the descriptor's calls ---- */

/* Fill in f->model's functions (create, destroy, init, derivatives,
 * outputs, event_indicators, event, tick, next_event_time,
 * step_completed) for f->use.  Called by fmu_model__open after the
 * variables are mapped. */
void fmu_run__calls(fmu *f);

/* Whether d's functions are the ones fmu_run__calls fills in: only then
 * is d inside an fmu (fmu_model__of looks at nothing else before). */
int fmu_run__owns(const twin_model_descriptor *d);

#endif
