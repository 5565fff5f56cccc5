/*
 * recover.c — after a restart, the journals an earlier start left in the
 * spool (spool__recover hands each one over): what the broker had not
 * acknowledged is sent again; a run is remembered, so that `status`,
 * `replay` and a retried request id work, and a run whose journal holds
 * no final response (the daemon ended while it ran) is answered `failed`
 * with the rows it had made.
 *
 * A damaged journal (a flipped byte, bytes cut out, its end cut off) is
 * read past its damage by the spool, which keeps every intact record and
 * says where it skipped bytes and why.  Here that becomes one line in the
 * daemon's log and, for a run, one `log` event of the run (level `error`,
 * `lost_seqs`): exactly which result seqs are lost — the gaps between the
 * intact results, and after the last one up to the final response's
 * last_seq — so that a receiver knows a replay cannot bring them back.
 */
#include "recover.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "respond.h"
#include "result_msg.h"

/* Stretches and seq ranges named in one sentence, at most (the event's
 * lost_seqs lists up to MAX_RANGES_EVENT). */
#define MAX_STRETCHES_SAID 8
#define MAX_RANGES_SAID 16
#define MAX_RANGES_EVENT 256

static int is_final(const char *status)
{
    return status && (strcmp(status, "finished") == 0 ||
                      strcmp(status, "failed") == 0 ||
                      strcmp(status, "cancelled") == 0);
}

/* A growing sentence; appends are cut at its size, never overrun. */
typedef struct sentence {
    char buf[2048];
    size_t len;
} sentence;

static void add(sentence *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(sentence *t, const char *fmt, ...)
{
    if (t->len >= sizeof t->buf - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
    if (t->len >= sizeof t->buf)
        t->len = sizeof t->buf - 1;
}

/* The result seqs missing among the intact records: [[from, to], …]
 * (up to last_seq, the final response's, when it is known: −1 if not).
 * *count is how many seqs are missing in all, *after the last seq known
 * to be there (what follows it is unknown when last_seq is). */
static json_t *lost_seqs(const spool_found *f, int64_t last_seq,
                         uint64_t *count, int64_t *after)
{
    json_t *ranges = json_array();
    int64_t next = 0;
    *count = 0;
    for (size_t i = 0; i <= f->n; i++) {
        int64_t seq = i < f->n ? f->records[i].seq : last_seq + 1;
        if (seq < 0 || (i == f->n && last_seq < 0))
            continue;
        if (seq > next) {
            *count += (uint64_t)(seq - next);
            json_array_append_new(ranges, json_pack("[I, I]",
                                                    (json_int_t)next,
                                                    (json_int_t)(seq - 1)));
        }
        if (seq + 1 > next)
            next = seq + 1;
    }
    *after = next - 1;
    return ranges;
}

/* Say what a damaged journal lost (run NULL: the daemon's own journal);
 * for a run, also as its event.  Returns the seqs lost as ranges (a
 * reference, or NULL when nothing was damaged). */
static json_t *report_damage(serve *sv, const char *run, spool_stream *st,
                             const spool_found *f, int64_t last_seq)
{
    if (f->n_damage == 0)
        return NULL;
    sentence t = {.len = 0};
    int tail_unknown = 0;
    int64_t records = 0, unknown = 0;
    for (size_t i = 0; i < f->n_damage; i++) {
        const spool_damage *d = &f->damage[i];
        if (d->records < 0)
            unknown = 1;
        else
            records += d->records;
        if (d->at_end)
            tail_unknown = last_seq < 0;
        if (i < MAX_STRETCHES_SAID)
            add(&t, "%s%zu bytes at offset %lld (%s)", i ? "; " : "",
                d->bytes, (long long)d->offset, d->why);
        else if (i == MAX_STRETCHES_SAID)
            add(&t, "; and %zu more damaged stretches",
                f->n_damage - MAX_STRETCHES_SAID);
    }
    uint64_t n_lost = 0;
    int64_t after = -1;
    json_t *ranges = lost_seqs(f, last_seq, &n_lost, &after);
    sentence seqs = {.len = 0};
    size_t n_ranges = json_array_size(ranges);
    for (size_t i = 0; i < n_ranges && i < MAX_RANGES_SAID; i++) {
        json_int_t a = json_integer_value(json_array_get(
                           json_array_get(ranges, i), 0)),
                   b = json_integer_value(json_array_get(
                           json_array_get(ranges, i), 1));
        if (a == b)
            add(&seqs, "%s%lld", i ? ", " : "", (long long)a);
        else
            add(&seqs, "%s%lld-%lld", i ? ", " : "", (long long)a,
                (long long)b);
    }
    if (n_ranges > MAX_RANGES_SAID)
        add(&seqs, " and %zu more ranges", n_ranges - MAX_RANGES_SAID);
    if (tail_unknown)
        add(&seqs, "%sany after seq %lld (the journal's end is damaged and "
            "its final response with it, so how many followed is unknown)",
            n_ranges ? "; and " : "", (long long)after);
    else if (n_ranges == 0)
        add(&seqs, "none");
    char lost_records[96] = "";
    if (!unknown)
        snprintf(lost_records, sizeof lost_records, ", %lld records lost "
                 "in all", (long long)records);
    daemon__warn("%s%s: its journal in the spool is damaged: %s%s; result "
                 "seqs lost: %s (%llu); every intact record is kept and sent",
                 run ? "run " : "the daemon's own journal", run ? run : "",
                 t.buf, lost_records, seqs.buf, (unsigned long long)n_lost);
    if (run == NULL || st == NULL)
        return ranges;
    char msg[2600];
    snprintf(msg, sizeof msg, "this run's journal in the controller's spool "
             "was found damaged when the controller started again: result "
             "seqs lost: %s (%llu in all); they cannot be sent or replayed, "
             "every other record was kept (the controller's log says where "
             "the damage is)", seqs.buf, (unsigned long long)n_lost);
    json_t *listed = json_array();
    for (size_t i = 0; i < n_ranges && i < MAX_RANGES_EVENT; i++)
        json_array_append(listed, json_array_get(ranges, i));
    /* The controller speaks, no model: instance null (contract.md). */
    json_t *ev = json_pack("{s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:o}",
                           "contract", "twin.event/1", "run", run, "kind",
                           "log", "t", "instance", "level", "error",
                           "message", msg, "lost_seqs", listed);
    char *topic = NULL, *payload = ev ? json_out__dumps(ev) : NULL;
    if (payload && asprintf(&topic, "%s/%s/event/%s", sv->cfg.prefix,
                            sv->cfg.id, run) >= 0)
        sender__publish_on(sv->out, st, topic, payload, strlen(payload),
                           NULL, 0);
    free(topic);
    free(payload);
    json_decref(ev);
    return ranges;
}

void recover__journal(void *ctx, const char *run, const spool_found *found)
{
    serve *sv = ctx;
    const spool_record *recs = found->records;
    size_t n = found->n, acked = found->acked;
    if (found->mark_problem)
        daemon__warn("%s%s: %s; everything in its journal is sent again "
                     "(receivers drop duplicates by seq)",
                     run ? "run " : "a journal of the daemon",
                     run ? run : "", found->mark_problem);
    if (run == NULL) {
        report_damage(sv, NULL, NULL, found, -1);
        for (size_t i = acked; i < n; i++)
            sender__adopt(sv->out, NULL, &recs[i]);
        return;
    }
    spool_stream *st = spool__stream(sv->sp, run);
    if (st == NULL) {
        daemon__warn("run %s: its journal in the spool cannot be opened "
                     "again; its unacknowledged messages are not sent", run);
        return;
    }
    const spool_record *acc = NULL;
    json_t *final = NULL, *accepted = NULL, *lost = NULL;
    int64_t last_seq = -1;
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].seq >= 0) {
            if (recs[i].seq > last_seq)
                last_seq = recs[i].seq;
            result_msg m;
            if (result_msg__decode(recs[i].payload, recs[i].len,
                                   recs[i].cbor, &m, NULL, 0) == 0)
                rows += m.n_rows;
            result_msg__clear(&m);
            continue;
        }
        if (strstr(recs[i].topic, "/event/") != NULL)
            continue;
        json_t *m = json_loadb(recs[i].payload, recs[i].len, 0, NULL);
        const char *status = json_string_value(json_object_get(m, "status"));
        if (status && strcmp(status, "accepted") == 0 && accepted == NULL) {
            accepted = json_incref(m);
            acc = &recs[i];
        } else if (is_final(status)) {
            json_decref(final);
            final = json_incref(m);
        }
        json_decref(m);
    }
    for (size_t i = acked; i < n; i++)
        sender__adopt(sv->out, st, &recs[i]);
    json_t *fl = json_object_get(final, "last_seq");
    lost = report_damage(sv, run, st, found,
                         json_is_integer(fl) ? json_integer_value(fl) : -1);
    run_rec *r = calloc(1, sizeof *r);
    if (r == NULL || accepted == NULL || (r->id = strdup(run)) == NULL) {
        if (accepted == NULL)
            daemon__warn("run %s: its journal holds no `accepted` "
                         "response (damaged?); the run is not remembered",
                         run);
        free(r);
        /* Its journal is kept as long as any other, then goes. */
        spool__finish(&st, sv->cfg.limits.retention);
        goto exit;
    }
    r->child.from_child = r->child.to_child = -1;
    r->st = st;
    r->last_seq = last_seq;
    r->rows = rows;
    r->reply.id = strdup(json_string_value(json_object_get(accepted, "id"))
                             ? json_string_value(json_object_get(accepted,
                                                                 "id"))
                             : run);
    r->reply.topic = strdup(acc->topic);
    if (acc->correlation_len) {
        r->reply.correlation = malloc(acc->correlation_len);
        if (r->reply.correlation)
            memcpy(r->reply.correlation, acc->correlation,
                   acc->correlation_len);
        r->reply.correlation_len = acc->correlation_len;
    }
    const char *status = json_string_value(json_object_get(final, "status"));
    if (final == NULL) {
        char msg[768];
        int k = snprintf(msg, sizeof msg, "the controller stopped while this "
                         "run was running (a crash, a kill or a power loss) "
                         "and has started again; the %llu rows up to seq "
                         "%lld it had made were kept and are delivered",
                         (unsigned long long)rows, (long long)last_seq);
        if (json_array_size(lost) > 0 && k > 0 && (size_t)k < sizeof msg)
            snprintf(msg + k, sizeof msg - (size_t)k, ", but for the seqs "
                     "its damaged journal lost (the run's `log` event with "
                     "`lost_seqs` lists them)");
        json_t *resp = json_pack("{s:s, s:s, s:I, s:I, s:I, s:{}, "
                                 "s:[{s:s, s:s, s:s}]}", "status", "failed",
                                 "run", run, "last_seq",
                                 (json_int_t)last_seq, "rows",
                                 (json_int_t)rows, "messages",
                                 (json_int_t)(last_seq + 1), "stats",
                                 "errors", "code", "internal", "path", "",
                                 "message", msg);
        respond__run(sv, &r->reply, r, resp);
        if (!sv->cfg.quiet)
            fprintf(stderr, "twinctl serve: run %s was cut short by the end "
                    "of the last start: reported failed with its %llu "
                    "rows\n", run, (unsigned long long)rows);
        status = "failed";
    } else {
        char *text = json_out__dumps(final);
        if (text)
            respond__remember(sv, &r->reply, text);
        free(text);
    }
    r->state = strcmp(status, "finished") == 0    ? RUN_FINISHED
               : strcmp(status, "cancelled") == 0 ? RUN_CANCELLED
                                                  : RUN_FAILED;
    spool__finish(&st, sv->cfg.limits.retention);
    r->st = NULL;
    r->next = sv->runs;
    sv->runs = r;
exit:
    json_decref(lost);
    json_decref(final);
    json_decref(accepted);
}
