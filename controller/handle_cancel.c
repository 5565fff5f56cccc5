/*
 * handle_cancel.c — `cancel`: ask a running run to stop.  The answer is
 * `ok` at once; the run then ends with its own `cancelled` response,
 * carrying last_seq and the rows it made before.
 */
#include "serve.h"

void handle_cancel(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    const json_t *run = json_object_get(req, "run");
    run_rec *r = NULL;
    if (run == NULL)
        errors__add(&errs, TWIN_E_MISSING_FIELD, "/run",
                    "cancel needs the \"run\" to stop");
    else if (!json_is_string(run))
        errors__add(&errs, TWIN_E_WRONG_TYPE, "/run",
                    "\"run\" must be a run id string");
    else if ((r = serve__find_run(sv, json_string_value(run))) == NULL)
        errors__add(&errs, TWIN_E_UNKNOWN_RUN, "/run",
                    "this controller has no run '%s'",
                    json_string_value(run));
    if (errs.count) {
        serve__reject(sv, to, REQ_CANCEL, &errs);
        errors__clear(&errs);
        return;
    }
    int was_running = r->state == RUN_RUNNING;
    serve__cancel_run(sv, r);
    serve__respond(sv, to, REQ_CANCEL,
                   json_pack("{s:s, s:s, s:s}", "status", "ok", "run", r->id,
                             "message", was_running
                                            ? "stopping; the run will end "
                                              "with \"cancelled\""
                                            : "the run had already ended"));
}
