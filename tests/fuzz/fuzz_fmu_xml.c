/*
 * fuzz_fmu_xml.c — libFuzzer harness: an FMU's modelDescription.xml as
 * the loader reads it (fmu_xml.c, fmu_xml__parse), FMI 2.0 and 3.0.  The
 * input is the file's bytes.
 *
 * Checked beyond crashes: a refusal is one sentence naming the file and
 * modelDescription.xml; an accepted description is consistent — a known
 * version and at least one interface with its identifier, every index of
 * the model structure inside the variables, every state a floating point
 * scalar whose derivative points back at it, min not above max.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fmu_desc d;
    char why[1024] = "";
    if (fmu_xml__parse((const char *)data, size, "fuzz.fmu", &d, why,
                       sizeof why) != 0) {
        if (strncmp(why, "fuzz.fmu: modelDescription.xml", 30) != 0)
            abort();
        return 0;
    }
    if (d.version != FMU_FMI2 && d.version != FMU_FMI3)
        abort();
    if (d.interfaces == 0 || ((d.interfaces & FMU_ME) && !d.me_identifier) ||
        ((d.interfaces & FMU_CS) && !d.cs_identifier))
        abort();
    for (size_t i = 0; i < d.n_outputs; i++)
        if (d.outputs[i] >= d.n_vars)
            abort();
    for (size_t i = 0; i < d.n_states; i++) {
        if (d.states[i] >= d.n_vars || d.derivatives[i] >= d.n_vars)
            abort();
        const fmu_var *x = &d.vars[d.states[i]];
        if ((x->type != FMU_T_FLOAT64 && x->type != FMU_T_FLOAT32) ||
            d.vars[d.derivatives[i]].derivative_of != (long)d.states[i])
            abort();
    }
    for (size_t i = 0; i < d.n_vars; i++)
        if (d.vars[i].name == NULL || d.vars[i].unit == NULL ||
            d.vars[i].min > d.vars[i].max)
            abort();
    fmu_xml__free(&d);
    return 0;
}
