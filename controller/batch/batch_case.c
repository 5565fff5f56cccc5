/*
 * batch_case.c — a batch's cases (see batch_doc.h): the values of case i
 * from its index, its id, and its scenario — the base with the values
 * set and the KPIs appended.  Nothing here fails but for want of memory,
 * and nothing depends on anything but the batch and the index, so a case
 * comes out the same wherever and whenever it is made.
 */
#include "batch_doc.h"

#include <stdio.h>
#include <string.h>

uint64_t batch__hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static json_t *ensure_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (o == NULL) {
        o = json_object();
        if (json_object_set_new(parent, key, o) != 0)
            return NULL;
    }
    return json_is_object(o) ? o : NULL;
}

int batch__apply(json_t *doc, const batch_factor *f, double v)
{
    json_t *inst = json_object_get(json_object_get(doc, "instances"),
                                   f->instance);
    json_t *obj;
    switch (f->target) {
    case BATCH_PARAM:
    case BATCH_START:
        obj = ensure_object(inst, f->target == BATCH_PARAM ? "params"
                                                           : "start");
        return obj ? json_object_set_new(obj, f->variable, json_real(v)) : -1;
    case BATCH_INPUT:
        obj = ensure_object(doc, "inputs");
        return obj ? json_object_set_new(obj, f->variable,
                                         json_pack("{s:f}", "value", v))
                   : -1;
    case BATCH_STEP_TIME:
    case BATCH_STEP_VALUE:
        obj = json_array_get(json_object_get(json_object_get(json_object_get(
                                 doc, "inputs"), f->variable), "steps"),
                             f->step);
        return json_array_set_new(obj, f->target == BATCH_STEP_TIME ? 0 : 1,
                                  json_real(v));
    }
    return -1;
}

void batch__case_values(const batch *b, size_t index, double *values)
{
    size_t m = index % b->mc_cases;
    size_t rest = index / b->mc_cases;
    size_t l = rest % b->list_cases;
    size_t g = rest / b->list_cases;
    for (size_t k = b->n_grid_f; k-- > 0;) {
        const batch_factor *f = &b->f[k];
        values[k] = f->values[g % f->n_values];
        g /= f->n_values;
    }
    for (size_t k = 0; k < b->n_list_f; k++)
        values[b->n_grid_f + k] = b->list_values[l * b->n_list_f + k];
    for (size_t k = 0; k < b->n_mc_f; k++)
        values[b->n_grid_f + b->n_list_f + k] =
            b->mc_values[m * b->n_mc_f + k];
}

int batch__case_id(const batch *b, size_t index, const double *values,
                   char *buf, size_t len)
{
    uint64_t h = BATCH_HASH_INIT;
    char text[64];
    for (size_t k = 0; k < b->n_f; k++) {
        int n = snprintf(text, sizeof text, "=%.17g;", values[k]);
        h = batch__hash(h, b->f[k].name, strlen(b->f[k].name));
        h = batch__hash(h, text, (size_t)n);
    }
    int width = 4;
    for (size_t last = b->n_cases ? b->n_cases - 1 : 0, p = 10000;
         last >= p && width < 20; p *= 10)
        width++;
    return snprintf(buf, len, "%0*zu-%08x", width, index,
                    (unsigned)((h ^ (h >> 32)) & 0xffffffffu));
}

json_t *batch__case_scenario(const batch *b, const double *values,
                             const char *id)
{
    json_t *doc = json_deep_copy(b->base);
    int failed = doc == NULL;
    for (size_t k = 0; !failed && values != NULL && k < b->n_f; k++)
        failed = batch__apply(doc, &b->f[k], values[k]) != 0;
    if (!failed && id != NULL) {
        char name[512];
        snprintf(name, sizeof name, "%s/%s", b->name, id);
        failed = json_object_set_new(doc, "name", json_string(name)) != 0;
    }
    if (!failed && json_array_size(b->kpis) > 0) {
        json_t *fns = json_object_get(doc, "functions");
        if (fns == NULL) {
            fns = json_array();
            failed = json_object_set_new(doc, "functions", fns) != 0;
        }
        /* (a "functions" that is no array: composing says so) */
        if (!failed && json_is_array(fns))
            failed = json_array_extend(fns, b->kpis) != 0;
    }
    if (failed) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
