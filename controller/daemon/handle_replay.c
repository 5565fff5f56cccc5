/*
 * handle_replay.c — `replay`: send result messages of a run again, seq
 * from_seq … to_seq, exactly as they were first sent (same seq, same
 * payload), from the run's journal in the spool, in the encoding the
 * request asks for ("encoding": JSON by default, or CBOR): a message
 * journaled in the other one is read and written again (result_msg.h),
 * with the same values.  A run's results stay
 * there for limits.retention_seconds after it ended, so a receiver that
 * found a gap in seq (a broker that died with messages it had accepted)
 * can fill it.
 *
 * A replay is a cursor over the journal, not one long read: the daemon's
 * loop advances every replay in progress by a bounded step per pass
 * (handle_replay__step), and only while the sender holds little that the
 * broker has not acknowledged, so answers to other requests, and the
 * results of running runs, are never queued behind a whole replay.  The
 * answer (`ok` with `sent`) follows the replay's last message.  What
 * happens on a retry, on the end of retention and on a stop mid-replay
 * is in docs/spool.md ("Replay").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "respond.h"
#include "result_msg.h"
#include "runs.h"
#include "util.h"

#define STEP_MESSAGES 64        /* per replay per pass */
#define STEP_BYTES (1u << 20)   /* of journal read, per replay per pass */
/* Replays add messages only while the sender holds fewer than this many
 * unacknowledged messages (and bytes): what is queued ahead of another
 * answer stays a few milliseconds' worth. */
#define QUEUE_MESSAGES 1024
#define QUEUE_BYTES (8u << 20)
#define MAX_LOST_RANGES 256     /* in an answer's lost_seqs */

struct replay_job {
    replay_job *next;
    reply_to to;                  /* the request's */
    waiters also;                 /* retries that want the answer elsewhere */
    char *run;
    json_int_t from, until;
    int cbor;                     /* the encoding asked for */
    spool_cursor *cur;
    json_int_t sent;
    json_int_t last_sent;         /* seq of the last message sent, or −1 */
    json_int_t next_seq;          /* the seq the journal should hold next */
    json_t *lost;                 /* [[from, to], …]: seqs its damaged
                                   * journal does not hold */
    double started;               /* monotonic s */
};

static void job_free(replay_job *j)
{
    request__reply_free(&j->to);
    waiters__free(&j->also);
    free(j->run);
    json_decref(j->lost);
    spool__cursor_free(&j->cur);
    free(j);
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
    replay_job *j = NULL;
    if (run == NULL)
        errors__add(&errs, TWIN_E_MISSING_FIELD, "/run",
                    "replay needs the \"run\" whose results to send again");
    else
        request__run_id(run, &errs);
    int ok = get_seq(req, "from_seq", "/from_seq", &errs, &from) == 0;
    ok &= get_seq(req, "to_seq", "/to_seq", &errs, &until) == 0;
    int cbor = request__encoding(req, &errs);
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
    if (errs.count == 0 && sv->n_replays >= sv->cfg.limits.replays)
        errors__add(&errs, TWIN_E_BUSY, "", "this controller is sending %zu "
                    "replays, its limit (limits.replays); ask again when "
                    "one has finished", sv->n_replays);
    if (errs.count == 0) {
        j = calloc(1, sizeof *j);
        if (j == NULL || request__reply_copy(&j->to, to) != 0 ||
            (j->run = strdup(id)) == NULL ||
            (j->cur = spool__cursor(sv->sp, id, from, until)) == NULL)
            errors__add(&errs, TWIN_E_INTERNAL, "/run", "cannot read the "
                        "journal of run '%s' (out of memory or file "
                        "descriptors); ask again later", id);
    }
    if (errs.count) {
        if (j)
            job_free(j);
        respond__reject(sv, to, REQ_REPLAY, &errs);
        errors__clear(&errs);
        return;
    }
    /* What a running run still holds in its open batch is not in the
     * journal yet: send it first, so the range is as complete as it can
     * be. */
    run_rec *r = runs__find(sv, id);
    if (r && r->out)
        sender__run_flush(r->out);
    j->from = from;
    j->until = until;
    j->cbor = cbor;
    j->last_sent = -1;
    j->next_seq = from;
    j->started = util__now();
    /* At the end of the list: the oldest replay goes first. */
    replay_job **link = &sv->replays;
    while (*link)
        link = &(*link)->next;
    *link = j;
    sv->n_replays++;
}

int handle_replay__retry(serve *sv, const reply_to *to)
{
    if (to->id == NULL)
        return 0;
    for (replay_job *j = sv->replays; j; j = j->next) {
        if (j->to.id == NULL || strcmp(j->to.id, to->id) != 0)
            continue;
        /* The same place as the request or an earlier retry: one answer
         * there is enough. */
        waiters__add(&j->also, &j->to, to);
        return 1;
    }
    return 0;
}

static void unlink_job(serve *sv, replay_job *j)
{
    replay_job **link = &sv->replays;
    while (*link != j)
        link = &(*link)->next;
    *link = j->next;
    sv->n_replays--;
}

/* The request was answered (and its answer remembered): send the same
 * answer to every retry that asked elsewhere, and forget the replay. */
static void answer_retries(serve *sv, replay_job *j)
{
    respond__waiters(sv, &j->also);
    job_free(j);
}

/* The journal's next result has seq `seq`: what should have come before
 * it and did not is lost (damage, docs/spool.md). */
static void note_lost(replay_job *j, json_int_t seq)
{
    if (seq > j->next_seq) {
        if (j->lost == NULL)
            j->lost = json_array();
        if (json_array_size(j->lost) < MAX_LOST_RANGES)
            json_array_append_new(j->lost, json_pack("[I, I]", j->next_seq,
                                                     seq - 1));
    }
    if (seq > j->next_seq)
        j->next_seq = seq;
}

/* The replay is done: answer the request and every retry. */
static void finish(serve *sv, replay_job *j)
{
    run_rec *r = runs__find(sv, j->run);
    json_int_t last = !r                          ? -1
                      : r->state != RUN_RUNNING   ? r->last_seq
                      : r->st ? spool__stream_last_seq(r->st)
                      : r->out ? sender__run_last_seq(r->out)
                               : -1;
    /* An ended run's seqs up to its last one are all in the journal,
     * unless it was damaged. */
    if (r && r->state != RUN_RUNNING)
        note_lost(j, (last < j->until ? last : j->until) + 1);
    unlink_job(sv, j);
    json_t *answer = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "status",
                               "ok", "run", j->run, "from_seq", j->from,
                               "to_seq", j->until, "sent", j->sent,
                               "last_seq", last);
    if (j->lost)
        json_object_set(answer, "lost_seqs", j->lost);
    respond__send(sv, &j->to, REQ_REPLAY, answer);
    if (!sv->cfg.quiet)
        fprintf(stderr, "twinctl serve: replay of run %s, seq %lld to %lld: "
                "%lld result messages sent again in %.3f s\n", j->run,
                (long long)j->from, (long long)j->until, (long long)j->sent,
                util__now() - j->started);
    answer_retries(sv, j);
}

/* The daemon is stopping: the replay ends where it is, and says so. */
static void cut_short(serve *sv, replay_job *j)
{
    twin_errors errs = {0};
    if (j->sent > 0)
        errors__add(&errs, TWIN_E_BUSY, "", "this controller is stopping: "
                    "the replay of run '%s' was cut short after %lld "
                    "result messages were queued again (seq %lld to %lld; "
                    "those the broker has not taken when it stops are not "
                    "sent); ask again once it is back (the results stay in "
                    "its spool)", j->run, (long long)j->sent,
                    (long long)j->from, (long long)j->last_sent);
    else
        errors__add(&errs, TWIN_E_BUSY, "", "this controller is stopping "
                    "before it sent any of this replay; ask again once it "
                    "is back (the results stay in its spool)");
    unlink_job(sv, j);
    respond__reject(sv, &j->to, REQ_REPLAY, &errs);
    errors__clear(&errs);
    answer_retries(sv, j);
}

/* Queue a result record again, in the replay's encoding: 0, or -1 when
 * it is not sent (out of memory, or a record that cannot be read). */
static int send_again(serve *sv, replay_job *j, const spool_record *rec)
{
    if (rec->cbor == j->cbor)
        return sender__publish_copy(sv->out, rec->topic, rec->payload,
                                    rec->len, rec->cbor ? SPOOL_CBOR : 0,
                                    NULL, 0);
    result_msg m;
    char why[256];
    size_t len = 0;
    if (result_msg__decode(rec->payload, rec->len, rec->cbor, &m, why,
                           sizeof why) != 0) {
        fprintf(stderr, "twinctl serve: replay of run %s: result seq %lld "
                "in the journal cannot be read to send it in %s: %s\n",
                j->run, (long long)rec->seq, j->cbor ? "CBOR" : "JSON", why);
        return -1;
    }
    char *text = result_msg__encode(&m, j->cbor, &len);
    result_msg__clear(&m);
    int rc = text ? sender__publish_copy(sv->out, rec->topic, text, len,
                                         j->cbor ? SPOOL_CBOR : 0, NULL, 0)
                  : -1;
    free(text);
    return rc;
}

/* Advance one replay by at most `room` messages.  Returns 1 when it has
 * more to send. */
static int advance(serve *sv, replay_job *j, size_t room)
{
    size_t budget = STEP_BYTES;
    spool_record rec;
    for (size_t n = 0; n < room; n++) {
        switch (spool__cursor_next(j->cur, &rec, &budget)) {
        case 0:
            finish(sv, j);
            return 0;
        case 1:
            /* A copy of what the journal holds already. */
            note_lost(j, rec.seq);
            j->next_seq = rec.seq + 1;
            if (send_again(sv, j, &rec) == 0) {
                j->sent++;
                j->last_sent = rec.seq;
            }
            break;
        default: /* its read budget is spent */
            return 1;
        }
    }
    return 1;
}

int handle_replay__step(serve *sv)
{
    if (sv->stopping) {
        while (sv->replays)
            cut_short(sv, sv->replays);
        return 0;
    }
    size_t queued = sender__queued(sv->out);
    if (sv->replays == NULL || queued >= QUEUE_MESSAGES ||
        sender__queued_bytes(sv->out) >= QUEUE_BYTES)
        return 0;
    /* The room left, shared among the replays in progress. */
    size_t share = (QUEUE_MESSAGES - queued) / sv->n_replays;
    if (share == 0)
        share = 1;
    if (share > STEP_MESSAGES)
        share = STEP_MESSAGES;
    int more = 0;
    for (replay_job *j = sv->replays, *next; j; j = next) {
        next = j->next;
        more |= advance(sv, j, share);
    }
    return more && sender__queued(sv->out) < QUEUE_MESSAGES &&
           sender__queued_bytes(sv->out) < QUEUE_BYTES;
}

void handle_replay__free_all(serve *sv)
{
    while (sv->replays) {
        replay_job *j = sv->replays;
        sv->replays = j->next;
        job_free(j);
    }
    sv->n_replays = 0;
}
