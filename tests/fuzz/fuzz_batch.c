/*
 * fuzz_batch.c — libFuzzer harness: a batch document (`twin.batch/1`,
 * docs/batch.md), as `twinctl batch` reads it, into batch__load against
 * the real model and instance libraries and the shipped scenarios, with
 * at most 10 000 cases.  A batch that loads is expanded: for its first
 * and last cases (and a few between) the values, the id and the case's
 * scenario are made, and the id is checked to be the same when made
 * again.  Nothing runs.  Every rejection is checked to be whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch_doc.h"
#include "fuzz_support.h"

#ifndef TWIN_FUZZ_SCENARIO_DIR
#error TWIN_FUZZ_SCENARIO_DIR (the shipped scenarios) is set by meson
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expand(const batch *b, size_t index)
{
    double v[BATCH_MAX_FACTORS], again[BATCH_MAX_FACTORS];
    char id[40], id2[40];
    batch__case_values(b, index, v);
    batch__case_values(b, index, again);
    if (memcmp(v, again, b->n_f * sizeof *v) != 0)
        abort(); /* a case's values depend on the case alone */
    if (batch__case_id(b, index, v, id, sizeof id) >= (int)sizeof id ||
        batch__case_id(b, index, again, id2, sizeof id2) < 0 ||
        strcmp(id, id2) != 0)
        abort();
    json_t *sc = batch__case_scenario(b, v, id);
    if (sc == NULL || !json_is_object(sc))
        abort();
    json_decref(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size,
                             JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL)
        return 0;
    twin_errors errs = {0};
    batch_env env = {.models = fuzz__models(),
                     .instances = fuzz__instances(),
                     .scenario_dir = TWIN_FUZZ_SCENARIO_DIR,
                     .doc_dir = TWIN_FUZZ_SCENARIO_DIR,
                     .max_cases = 10000};
    batch *b = batch__load(doc, &env, &errs);
    fuzz__check_errors(&errs, "batch__load");
    if ((b == NULL) == (errs.count == 0 && errs.lost == 0))
        abort(); /* refused without a reason, or loaded with problems */
    if (b != NULL) {
        if (b->n_cases == 0 || b->n_cases > env.max_cases ||
            strlen(b->hash) != 16)
            abort();
        for (size_t i = 0; i < b->n_cases && i < 4; i++)
            expand(b, i);
        expand(b, b->n_cases - 1);
        expand(b, b->n_cases / 2);
    }
    batch__free(&b);
    errors__clear(&errs);
    json_decref(doc);
    return 0;
}
