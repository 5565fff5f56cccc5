/*
 * handle_cancel.c — `cancel`: ask a running run to stop.  The answer is
 * `ok` at once; the run then ends with its own `cancelled` response,
 * carrying last_seq and the rows it made before.
 */
#include "handlers.h"
#include "respond.h"
#include "runs.h"

void handle_cancel(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    run_rec *r = runs__arg(sv, req, "cancel needs the \"run\" to stop",
                           &errs);
    if (errs.count) {
        respond__reject(sv, to, REQ_CANCEL, &errs);
        errors__clear(&errs);
        return;
    }
    int was_running = r->state == RUN_RUNNING;
    runs__cancel(sv, r);
    respond__send(sv, to, REQ_CANCEL,
                  json_pack("{s:s, s:s, s:s}", "status", "ok", "run", r->id,
                            "message", was_running
                                           ? "stopping; the run will end "
                                             "with \"cancelled\""
                                           : "the run had already ended"));
}
