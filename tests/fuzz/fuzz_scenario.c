/*
 * fuzz_scenario.c — libFuzzer harness: a scenario document, as a client
 * or a stored scenario file gives it, straight into scenario__compose
 * against the real model and instance libraries.  A scenario that composes
 * is built into a simulation (models created, integration groups and
 * solvers set up) and freed again; it is not run, so that each input
 * costs milliseconds.  Every rejection is checked to reach the wire whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_columns(void *ctx, size_t n, const char *const *names)
{
    return 0;
}

static int no_row(void *ctx, const double *values, size_t n)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size,
                             JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL)
        return 0;
    twin_errors errs = {0};
    scenario *sc = scenario__compose(doc, fuzz__models(), fuzz__instances(),
                                     &fuzz__limits, &errs);
    fuzz__check_errors(&errs, "scenario__compose");
    if (sc == NULL && errs.count == 0 && errs.lost == 0)
        abort(); /* refused without a reason */
    if (sc != NULL) {
        fuzz__check_scenario(sc);
        sim_callbacks cb = {.columns = no_columns, .row = no_row};
        sim_options opt = {.realtime = 0};
        twin_errors sim_errs = {0};
        sim *s = sim__new(sc, &opt, &cb, &sim_errs);
        fuzz__check_errors(&sim_errs, "sim__new");
        sim__free(&s);
        errors__clear(&sim_errs);
    }
    scenario__free(&sc);
    errors__clear(&errs);
    json_decref(doc);
    return 0;
}
