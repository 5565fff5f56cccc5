/*
 * handle_set.c — `set`: live input values for a running run, in force
 * from its next tick.  Only inputs the run's scenario lists under
 * "inputs" can be set, each within its variable's range.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

int serve__check_values(serve *sv, run_rec *r, const json_t *values,
                        const char *path, twin_errors *errs)
{
    size_t before = errs->count;
    if (!json_is_object(values) || json_object_size(values) == 0) {
        errors__add(errs, TWIN_E_WRONG_TYPE, path, "values is an object "
                    "{\"instance.input\": number, ...} with at least one "
                    "entry");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)values, k, v) {
        char *p = errors__path(path, k);
        const char *where = p ? p : path;
        const sc_input *in = NULL;
        for (size_t i = 0; i < r->sc->n_inputs; i++)
            if (strcmp(r->sc->inputs[i].name, k) == 0)
                in = &r->sc->inputs[i];
        if (in == NULL) {
            errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, where,
                        "run '%s' has no input '%s' to set; only inputs "
                        "listed under \"inputs\" in its scenario can be set",
                        r->id, k);
        } else if (!json_is_number(v)) {
            errors__add(errs, TWIN_E_WRONG_TYPE, where,
                        "the value of '%s' must be a number", k);
        } else {
            const twin_variable *var =
                r->sc->inst[in->to.inst].model->input[in->to.index];
            double x = json_number_value(v);
            if (!isfinite(x) || x < var->min || x > var->max)
                errors__add(errs, TWIN_E_OUT_OF_RANGE, where,
                            "'%s' = %g is outside its range [%g, %g]", k, x,
                            var->min, var->max);
        }
        free(p);
    }
    return errs->count == before ? 0 : -1;
}

void handle_set(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    const json_t *values = json_object_get(req, "values");
    run_rec *r = serve__run_arg(sv, req, "set needs the \"run\" whose "
                                "inputs to set", &errs);
    if (r != NULL && r->state != RUN_RUNNING)
        errors__add(&errs, TWIN_E_UNKNOWN_RUN, "/run",
                    "run '%s' has ended; inputs can only be set while it "
                    "runs", r->id);
    if (values == NULL)
        errors__add(&errs, TWIN_E_MISSING_FIELD, "/values",
                    "set needs \"values\": {\"instance.input\": number}");
    else if (r != NULL && r->state == RUN_RUNNING)
        serve__check_values(sv, r, values, "/values", &errs);
    if (errs.count == 0 && runner__set(&r->child, values) != 0)
        errors__add(&errs, TWIN_E_BUSY, "", "the run is not taking input "
                    "right now; try again");
    if (errs.count) {
        serve__reject(sv, to, REQ_SET, &errs);
        errors__clear(&errs);
        return;
    }
    serve__respond(sv, to, REQ_SET,
                   json_pack("{s:s, s:s, s:O}", "status", "ok", "run", r->id,
                             "values", values));
}
