/*
 * fmu_bind.c — an FMU's binary for this platform: found under
 * binaries/<platform>/<modelIdentifier>.so, opened with dlopen
 * (RTLD_NOW | RTLD_LOCAL), and every function the chosen interface needs
 * bound with dlsym into the FMU's fmi2_api or fmi3_api table; the
 * version the binary reports checked against the description.  Also the
 * resource location handed to instantiate, and the sentence for an
 * instantiate that refused (a GUID / instantiation token mismatch is
 * reported that way: the FMU compares the token, the importer only hears
 * the NULL).
 *
 * Which functions are needed: what fmu_run.c calls for the interface.
 * The standards ask an FMU to export every function of its interfaces;
 * the ones the adapter never calls (FMU states, directional derivatives,
 * input/output derivatives) are bound when present and may stay NULL.
 * For FMI 3, a getter/setter of a type is needed only when a variable of
 * that type is there.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fmi2.h"
#include "fmi3.h"
#include "fmu.h"

/* Who needs a function. */
#define NEED_ALL 0x1u       /* both interfaces */
#define NEED_ME 0x2u
#define NEED_CS 0x4u
#define NEED_NONE 0x0u      /* bound when present */
/* FMI 3 typed access: needed when a variable of the type exists. */
#define NEED_TYPE 0x8u

typedef struct bind_entry {
    const char *name;   /* without the fmiN prefix */
    size_t offset;
    unsigned need;
    fmu_type type;      /* for NEED_TYPE */
} bind_entry;

#define F2(name, need) { #name, offsetof(struct fmi2_api, name), need, 0 }
static const bind_entry fmi2_entries[] = {
    F2(GetTypesPlatform, NEED_NONE),
    F2(GetVersion, NEED_ALL),
    F2(SetDebugLogging, NEED_NONE),
    F2(Instantiate, NEED_ALL),
    F2(FreeInstance, NEED_ALL),
    F2(SetupExperiment, NEED_ALL),
    F2(EnterInitializationMode, NEED_ALL),
    F2(ExitInitializationMode, NEED_ALL),
    F2(Terminate, NEED_ALL),
    F2(Reset, NEED_NONE),
    F2(GetReal, NEED_ALL),
    F2(GetInteger, NEED_ALL),
    F2(GetBoolean, NEED_ALL),
    F2(GetString, NEED_ALL),
    F2(SetReal, NEED_ALL),
    F2(SetInteger, NEED_ALL),
    F2(SetBoolean, NEED_ALL),
    F2(SetString, NEED_ALL),
    F2(GetFMUstate, NEED_NONE),
    F2(SetFMUstate, NEED_NONE),
    F2(FreeFMUstate, NEED_NONE),
    F2(SerializedFMUstateSize, NEED_NONE),
    F2(SerializeFMUstate, NEED_NONE),
    F2(DeSerializeFMUstate, NEED_NONE),
    F2(GetDirectionalDerivative, NEED_NONE),
    F2(EnterEventMode, NEED_ME),
    F2(NewDiscreteStates, NEED_ME),
    F2(EnterContinuousTimeMode, NEED_ME),
    F2(CompletedIntegratorStep, NEED_ME),
    F2(SetTime, NEED_ME),
    F2(SetContinuousStates, NEED_ME),
    F2(GetDerivatives, NEED_ME),
    F2(GetEventIndicators, NEED_ME),
    F2(GetContinuousStates, NEED_ME),
    F2(GetNominalsOfContinuousStates, NEED_ME),
    F2(SetRealInputDerivatives, NEED_NONE),
    F2(GetRealOutputDerivatives, NEED_NONE),
    F2(DoStep, NEED_CS),
    F2(CancelStep, NEED_NONE),
    F2(GetStatus, NEED_NONE),
    F2(GetRealStatus, NEED_NONE),
    F2(GetIntegerStatus, NEED_NONE),
    F2(GetBooleanStatus, NEED_NONE),
    F2(GetStringStatus, NEED_NONE),
};
#undef F2

#define F3(name, need) { #name, offsetof(struct fmi3_api, name), need, 0 }
#define F3T(name, type) \
    { #name, offsetof(struct fmi3_api, name), NEED_TYPE, type }
static const bind_entry fmi3_entries[] = {
    F3(GetVersion, NEED_ALL),
    F3(SetDebugLogging, NEED_NONE),
    F3(InstantiateModelExchange, NEED_ME),
    F3(InstantiateCoSimulation, NEED_CS),
    F3(FreeInstance, NEED_ALL),
    F3(EnterInitializationMode, NEED_ALL),
    F3(ExitInitializationMode, NEED_ALL),
    F3(EnterEventMode, NEED_ME),
    F3(Terminate, NEED_ALL),
    F3(Reset, NEED_NONE),
    F3T(GetFloat32, FMU_T_FLOAT32), F3T(SetFloat32, FMU_T_FLOAT32),
    F3(GetFloat64, NEED_ALL), F3(SetFloat64, NEED_ALL),
    F3T(GetInt8, FMU_T_INT8), F3T(SetInt8, FMU_T_INT8),
    F3T(GetUInt8, FMU_T_UINT8), F3T(SetUInt8, FMU_T_UINT8),
    F3T(GetInt16, FMU_T_INT16), F3T(SetInt16, FMU_T_INT16),
    F3T(GetUInt16, FMU_T_UINT16), F3T(SetUInt16, FMU_T_UINT16),
    F3T(GetInt32, FMU_T_INT32), F3T(SetInt32, FMU_T_INT32),
    F3T(GetUInt32, FMU_T_UINT32), F3T(SetUInt32, FMU_T_UINT32),
    F3T(GetInt64, FMU_T_INT64), F3T(SetInt64, FMU_T_INT64),
    F3T(GetUInt64, FMU_T_UINT64), F3T(SetUInt64, FMU_T_UINT64),
    F3T(GetBoolean, FMU_T_BOOLEAN), F3T(SetBoolean, FMU_T_BOOLEAN),
    F3T(GetString, FMU_T_STRING), F3T(SetString, FMU_T_STRING),
    F3(GetBinary, NEED_NONE), F3(SetBinary, NEED_NONE),
    F3(UpdateDiscreteStates, NEED_ME),
    F3(EnterContinuousTimeMode, NEED_ME),
    F3(CompletedIntegratorStep, NEED_ME),
    F3(SetTime, NEED_ME),
    F3(SetContinuousStates, NEED_ME),
    F3(GetContinuousStateDerivatives, NEED_ME),
    F3(GetEventIndicators, NEED_ME),
    F3(GetContinuousStates, NEED_ME),
    F3(GetNominalsOfContinuousStates, NEED_ME),
    F3(GetNumberOfEventIndicators, NEED_NONE),
    F3(GetNumberOfContinuousStates, NEED_NONE),
    F3(EnterStepMode, NEED_NONE),
    F3(GetOutputDerivatives, NEED_NONE),
    F3(DoStep, NEED_CS),
};
#undef F3
#undef F3T

const char *fmu_bind__platform(fmu_version v)
{
    return v == FMU_FMI2 ? "linux64" : "x86_64-linux";
}

/* Whether the description has a variable of type t (an FMI 3 Enumeration
 * is read and written as Int64). */
static int uses_type(const fmu_desc *d, fmu_type t)
{
    for (size_t i = 0; i < d->n_vars; i++) {
        fmu_type vt = d->vars[i].type == FMU_T_ENUM ? FMU_T_INT64
                                                    : d->vars[i].type;
        if (vt == t)
            return 1;
    }
    return 0;
}

/* The platforms binaries/ holds, for the message when ours is not there:
 * "win64, darwin64" or "none". */
static void platforms_present(const char *dir, char *out, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/binaries", dir);
    out[0] = '\0';
    DIR *dp = opendir(path);
    if (dp != NULL) {
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%s", used ? ", " : "",
                     e->d_name);
        }
        closedir(dp);
    }
    if (out[0] == '\0')
        snprintf(out, len, "none");
}

static int bind_table(fmu *f, void *table, const bind_entry *entries,
                      size_t n, char *why, size_t why_len)
{
    const char *prefix = f->desc.version == FMU_FMI2 ? "fmi2" : "fmi3";
    unsigned need = NEED_ALL | (f->use == FMU_ME ? NEED_ME : NEED_CS);
    for (size_t i = 0; i < n; i++) {
        char sym[96];
        snprintf(sym, sizeof sym, "%s%s", prefix, entries[i].name);
        void *p = dlsym(f->handle, sym);
        int needed = (entries[i].need & need) != 0 ||
            (entries[i].need == NEED_TYPE &&
             uses_type(&f->desc, entries[i].type));
        if (p == NULL && needed) {
            snprintf(why, why_len, "%s: the binary does not export %s, "
                     "which FMI %s %s needs: the FMU is incomplete or was "
                     "built against another FMI version; export it again "
                     "from its tool", f->path, sym, f->desc.fmi_version,
                     f->use == FMU_ME ? "Model Exchange" : "Co-Simulation");
            return -1;
        }
        memcpy((char *)table + entries[i].offset, &p, sizeof p);
    }
    return 0;
}

/* What the binary says its version is, checked against the description's
 * major version. */
static int check_version(fmu *f, char *why, size_t why_len)
{
    const char *v = f->desc.version == FMU_FMI2 ? f->f2->GetVersion()
                                               : f->f3->GetVersion();
    const char *want = f->desc.version == FMU_FMI2 ? "2." : "3.";
    if (v == NULL || strncmp(v, want, 2) != 0) {
        snprintf(why, why_len, "%s: the binary reports FMI version \"%.32s\" "
                 "but modelDescription.xml declares %s: the binary and the "
                 "description do not belong together; export the FMU again",
                 f->path, v ? v : "(none)", f->desc.fmi_version);
        return -1;
    }
    if (f->desc.version == FMU_FMI2 && f->f2->GetTypesPlatform != NULL) {
        const char *tp = f->f2->GetTypesPlatform();
        if (tp == NULL || strcmp(tp, FMI2_TYPES_PLATFORM) != 0) {
            snprintf(why, why_len, "%s: the binary was built for the FMI "
                     "types platform \"%.32s\", not \"%s\": twinctl reads "
                     "only the standard's default types",
                     f->path, tp ? tp : "(none)", FMI2_TYPES_PLATFORM);
            return -1;
        }
    }
    return 0;
}

int fmu_bind__open(fmu *f, char *why, size_t why_len)
{
    why[0] = '\0';
    const char *id = f->use == FMU_ME ? f->desc.me_identifier
                                      : f->desc.cs_identifier;
    const char *plat = fmu_bind__platform(f->desc.version);
    char so[4096];
    int n = snprintf(so, sizeof so, "%s/binaries/%s/%s.so", f->dir, plat, id);
    if (n < 0 || (size_t)n >= sizeof so) {
        snprintf(why, why_len, "%s: the path of its binary is too long",
                 f->path);
        return -1;
    }
    struct stat st;
    if (stat(so, &st) != 0 || !S_ISREG(st.st_mode)) {
        char present[512];
        platforms_present(f->dir, present, sizeof present);
        snprintf(why, why_len, "%s: no binary for this platform: "
                 "binaries/%s/%s.so is not in the archive (platforms "
                 "present: %s); export the FMU for %s from its tool, or "
                 "build it from its sources for this machine",
                 f->path, plat, id, present, plat);
        return -1;
    }
    dlerror();
    f->handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (f->handle == NULL) {
        const char *e = dlerror();
        snprintf(why, why_len, "%s: its binary binaries/%s/%s.so does not "
                 "load: %s", f->path, plat, id, e ? e : "unknown error");
        return -1;
    }
    int rc;
    if (f->desc.version == FMU_FMI2) {
        f->f2 = calloc(1, sizeof *f->f2);
        rc = f->f2 == NULL ? -1
            : bind_table(f, f->f2, fmi2_entries,
                         sizeof fmi2_entries / sizeof fmi2_entries[0],
                         why, why_len);
    } else {
        f->f3 = calloc(1, sizeof *f->f3);
        rc = f->f3 == NULL ? -1
            : bind_table(f, f->f3, fmi3_entries,
                         sizeof fmi3_entries / sizeof fmi3_entries[0],
                         why, why_len);
    }
    if (rc == 0 && f->f2 == NULL && f->f3 == NULL)
        rc = -1;
    if (rc == 0)
        rc = check_version(f, why, why_len);
    if (rc == 0) {
        /* FMI 2: a file URI; FMI 3: a path ending in '/'.  The cache
         * directory holds no characters a URI would have to escape
         * (fmu_unpack.c names it by a hex hash). */
        size_t len = strlen(f->dir) + sizeof "file:///resources/";
        f->resources = malloc(len);
        if (f->resources != NULL)
            snprintf(f->resources, len, "%s%s/resources/",
                     f->desc.version == FMU_FMI2 ? "file://" : "", f->dir);
        else
            rc = -1;
    }
    if (rc != 0) {
        if (why[0] == '\0')
            snprintf(why, why_len, "%s: out of memory", f->path);
        fmu_bind__close(f);
    }
    return rc;
}

void fmu_bind__close(fmu *f)
{
    free(f->f2);
    free(f->f3);
    f->f2 = NULL;
    f->f3 = NULL;
    free(f->resources);
    f->resources = NULL;
    if (f->handle != NULL)
        dlclose(f->handle);
    f->handle = NULL;
}

void fmu_bind__instantiate_failed(const fmu *f, const char *instance,
                                  const char *last, char *why,
                                  size_t why_len)
{
    const char *token = f->desc.version == FMU_FMI2 ? "GUID"
                                                    : "instantiation token";
    snprintf(why, why_len, "%s: the FMU refused to instantiate %s "
             "(fmi%d%s returned NULL%s%.300s%s); when it is a %s mismatch, "
             "the binary was built from another modelDescription.xml than "
             "the one in the archive (%s \"%.80s\"): export the FMU again",
             f->path, instance, (int)f->desc.version,
             f->desc.version == FMU_FMI2 ? "Instantiate"
             : f->use == FMU_ME ? "InstantiateModelExchange"
                                : "InstantiateCoSimulation",
             last ? ": it said \"" : "", last ? last : "", last ? "\"" : "",
             token, token, f->desc.token ? f->desc.token : "");
}
