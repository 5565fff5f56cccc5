/*
 * handle_status.c — `status`: of the controller (as its retained status,
 * plus every run it remembers), or of one run: its state, last_seq and
 * rows, so a receiver can tell whether it holds every result.
 */
#include "handlers.h"
#include "respond.h"
#include "runs.h"
#include "status.h"

static const char *state_name(run_state s)
{
    switch (s) {
    case RUN_RUNNING: return "running";
    case RUN_FINISHED: return "finished";
    case RUN_FAILED: return "failed";
    case RUN_CANCELLED: return "cancelled";
    }
    return "?";
}

static json_t *run_json(const run_rec *r)
{
    int running = r->state == RUN_RUNNING;
    /* A running run's last seq journaled (what can be sent or replayed:
     * a message the spool has not taken yet waits). */
    int64_t last = running && r->st    ? spool__stream_last_seq(r->st)
                   : running && r->out ? sender__run_last_seq(r->out)
                                       : r->last_seq;
    uint64_t rows = running && r->out ? sender__run_rows(r->out) : r->rows;
    return json_pack("{s:s, s:s, s:I, s:I}", "run", r->id, "state",
                     state_name(r->state), "last_seq", (json_int_t)last,
                     "rows", (json_int_t)rows);
}

void handle_status(serve *sv, const reply_to *to, const json_t *req)
{
    const json_t *run = json_object_get(req, "run");
    if (run != NULL) {
        twin_errors errs = {0};
        run_rec *r = runs__arg(sv, req, "", &errs);
        if (errs.count) {
            respond__reject(sv, to, REQ_STATUS, &errs);
            errors__clear(&errs);
            return;
        }
        json_t *resp = run_json(r);
        json_object_set_new(resp, "status", json_string("ok"));
        respond__send(sv, to, REQ_STATUS, resp);
        return;
    }
    json_t *resp = status__json(sv, "online");
    json_object_del(resp, "contract");
    json_object_set_new(resp, "controller_state", json_string("online"));
    json_object_del(resp, "state");
    json_t *runs = json_array();
    for (const run_rec *r = sv->runs; r; r = r->next)
        json_array_append_new(runs, run_json(r));
    json_object_set_new(resp, "runs", runs);
    json_object_set_new(resp, "status", json_string("ok"));
    respond__send(sv, to, REQ_STATUS, resp);
}
