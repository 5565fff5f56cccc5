/*
 * handle_replay.c — `replay`: send result messages of a run again, seq
 * from_seq … to_seq, exactly as they were first sent (same seq, same
 * payload), from the run's journal in the spool.  A run's results stay
 * there for limits.retention_seconds after it ended, so a receiver that
 * found a gap in seq (a broker that died with messages it had accepted)
 * can fill it.
 */
#include "serve.h"

typedef struct replay_ctx {
    serve *sv;
    long sent;
} replay_ctx;

static void send_again(void *ctx, const spool_record *r)
{
    replay_ctx *rc = ctx;
    /* A copy, not a new record: the journal holds it already. */
    if (sender__publish(rc->sv->out, r->topic, r->payload, r->len, 0, NULL,
                        0) == 0)
        rc->sent++;
}

static int get_seq(const json_t *req, const char *key, const char *path,
                   twin_errors *errs, json_int_t *out)
{
    const json_t *v = json_object_get(req, key);
    if (v == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, path, "replay needs \"%s\"",
                    key);
    else if (!json_is_integer(v) || json_integer_value(v) < 0)
        errors__add(errs, TWIN_E_WRONG_TYPE, path, "\"%s\" must be a whole "
                    "number ≥ 0", key);
    else {
        *out = json_integer_value(v);
        return 0;
    }
    return -1;
}

void handle_replay(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    const json_t *run = json_object_get(req, "run");
    json_int_t from = 0, until = 0;
    if (run == NULL)
        errors__add(&errs, TWIN_E_MISSING_FIELD, "/run",
                    "replay needs the \"run\" whose results to send again");
    else if (!json_is_string(run) ||
             !request__topic_safe(json_string_value(run)))
        errors__add(&errs, TWIN_E_WRONG_TYPE, "/run",
                    "\"run\" must be a run id string");
    int ok = get_seq(req, "from_seq", "/from_seq", &errs, &from) == 0;
    ok &= get_seq(req, "to_seq", "/to_seq", &errs, &until) == 0;
    if (ok && until < from)
        errors__add(&errs, TWIN_E_OUT_OF_RANGE, "/to_seq",
                    "to_seq (%lld) is before from_seq (%lld)",
                    (long long)until, (long long)from);
    const char *id = json_string_value(run);
    if (errs.count == 0 && !spool__has_run(sv->sp, id))
        errors__add(&errs, TWIN_E_UNKNOWN_RUN, "/run",
                    "run '%s' is not in this controller's spool: unknown, "
                    "or ended more than %g s ago (its retention)", id,
                    sv->cfg.limits.retention);
    if (errs.count) {
        serve__reject(sv, to, REQ_REPLAY, &errs);
        errors__clear(&errs);
        return;
    }
    /* What a running run still holds in its open batch is not in the
     * journal yet: send it first, so the range is as complete as it can
     * be. */
    run_rec *r = serve__find_run(sv, id);
    if (r && r->out)
        sender__run_flush(r->out);
    replay_ctx rc = {sv, 0};
    spool__replay(sv->sp, id, from, until, send_again, &rc);
    json_int_t last = r ? (r->state == RUN_RUNNING && r->out
                               ? sender__run_last_seq(r->out)
                               : r->last_seq)
                        : -1;
    serve__respond(sv, to, REQ_REPLAY,
                   json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "status", "ok",
                             "run", id, "from_seq", from, "to_seq", until,
                             "sent", (json_int_t)rc.sent, "last_seq", last));
}
