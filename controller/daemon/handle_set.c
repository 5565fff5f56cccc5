/*
 * handle_set.c — `set`: live input values for a running run, in force
 * from its next tick.  Only inputs the run's scenario lists under
 * "inputs" can be set, each within its variable's range (the check is
 * runs__check_values, shared with live inputs on P/C/input/<run>).
 */
#include "handlers.h"
#include "respond.h"
#include "runs.h"

void handle_set(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    const json_t *values = json_object_get(req, "values");
    run_rec *r = runs__arg(sv, req, "set needs the \"run\" whose "
                           "inputs to set", &errs);
    if (r != NULL && r->state != RUN_RUNNING)
        errors__add(&errs, TWIN_E_UNKNOWN_RUN, "/run",
                    "run '%s' has ended; inputs can only be set while it "
                    "runs", r->id);
    if (values == NULL)
        errors__add(&errs, TWIN_E_MISSING_FIELD, "/values",
                    "set needs \"values\": {\"instance.input\": number}");
    else if (r != NULL && r->state == RUN_RUNNING)
        runs__check_values(r, values, "/values", &errs);
    if (errs.count == 0 && runner__set(&r->child, values) != 0)
        errors__add(&errs, TWIN_E_BUSY, "", "the run is not taking input "
                    "right now; try again");
    if (errs.count) {
        respond__reject(sv, to, REQ_SET, &errs);
        errors__clear(&errs);
        return;
    }
    respond__send(sv, to, REQ_SET,
                  json_pack("{s:s, s:s, s:O}", "status", "ok", "run", r->id,
                            "values", values));
}
