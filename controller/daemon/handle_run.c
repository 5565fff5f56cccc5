/*
 * handle_run.c — `run`: compose the scenario (inline or stored by name),
 * check it against the libraries and what this deployment allows, and
 * start it in its own process.  The answer is `accepted` with the result
 * columns; the run's end is answered later (runs.c).  What decides
 * whether it is taken is admission.c's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "handlers.h"
#include "respond.h"
#include "runs.h"
#include "signal_subs.h"
#include "status.h"
#include "util.h"

/* The run's id: the request's "run", else its id; one in use (a run
 * remembered, or a journal in the spool) is a problem in errs. */
static const char *run_id_arg(serve *sv, const reply_to *to,
                              const json_t *req, twin_errors *errs)
{
    const json_t *run_id = json_object_get(req, "run");
    const char *id = to->id;
    if (run_id != NULL && (id = request__run_id(run_id, errs)) == NULL)
        id = to->id;
    if (errs->count == 0 && (runs__find(sv, id) != NULL ||
                             (sv->sp && spool__has_run(sv->sp, id))))
        errors__add(errs, TWIN_E_OUT_OF_RANGE, run_id ? "/run" : "/id",
                    "run id '%s' is already in use on this controller", id);
    return id;
}

/* What the run will send (its columns and topics, new in *columns,
 * *result_topic and *event_topic, the caller's to free), and so its share
 * of the spool.  Returns 0, or -1 out of memory. */
static int run_spec(serve *sv, const scenario *sc, const char *id,
                    json_t **columns, char **result_topic,
                    char **event_topic, sender_run_spec *spec)
{
    *columns = json_array();
    json_array_append_new(*columns, json_string("t"));
    for (size_t i = 0; i < sc->n_out; i++)
        json_array_append_new(*columns, json_string(sc->out_name[i]));
    if (asprintf(result_topic, "%s/%s/result/%s", sv->cfg.prefix,
                 sv->cfg.id, id) < 0)
        *result_topic = NULL;
    if (asprintf(event_topic, "%s/%s/event/%s", sv->cfg.prefix, sv->cfg.id,
                 id) < 0)
        *event_topic = NULL;
    if (*result_topic == NULL || *event_topic == NULL)
        return -1;
    double paced = sc->realtime ? (double)sc->n_ticks * sc->dt / sc->speed
                                : 0.0;
    *spec = (sender_run_spec){
        .run_id = id, .result_topic = *result_topic,
        .event_topic = *event_topic, .columns = *columns,
        .max_rows = (uint64_t)(sc->n_ticks / sc->every + 1),
        .paced_seconds = fmin(paced, sv->cfg.limits.run_seconds),
        .event_bytes = sv->cfg.limits.event_bytes};
    return 0;
}

/* Start the accepted run's process, its output to the log labelled with
 * the run; then it is one of the runs, running, or (the process could
 * not be started) one that failed, answered so. */
static void start_child(serve *sv, const reply_to *to, run_rec *r)
{
    char why[1024];
    child_limits rl = {.cpu_seconds = sv->cfg.limits.cpu_seconds,
                       .cpu_grace = 2,
                       .memory_bytes = sv->cfg.limits.memory_bytes};
    runner_spec spec_run = {.lim = &rl, .opt = {.realtime = -1},
                            .seconds = sv->cfg.limits.run_seconds,
                            .output_fd = -1};
    if (r->sc->realtime) { /* the deployment's real-time privileges */
        spec_run.fifo = sv->cfg.rt_fifo;
        spec_run.mlock = sv->cfg.rt_mlock;
    }
    char label[256];
    if (r->sc->n_inst == 1)
        snprintf(label, sizeof label, "twinctl serve: run %s (instance %s)",
                 r->id, r->sc->inst[0].name);
    else
        snprintf(label, sizeof label, "twinctl serve: run %s", r->id);
    r->output = malloc(sizeof *r->output);
    if (r->output != NULL &&
        proc__output_open(r->output, &spec_run.output_fd, stderr,
                          label) != 0) {
        free(r->output);
        r->output = NULL; /* its output goes to the log as it is */
    }
    if (runner__start(r->sc, &spec_run, &r->child, why, sizeof why) != 0) {
        r->state = RUN_FAILED;
        json_t *resp = json_pack("{s:s, s:s, s:I, s:I, s:I, s:{}, s:[{s:s, "
                                 "s:s, s:s}]}", "status", "failed", "run",
                                 r->id, "last_seq", (json_int_t)-1, "rows",
                                 (json_int_t)0, "messages", (json_int_t)0,
                                 "stats", "errors", "code", "internal",
                                 "path", "", "message", why);
        respond__run(sv, to, r, resp);
        if (r->st)
            spool__finish(&r->st, sv->cfg.limits.retention);
        r->next = sv->runs;
        sv->runs = r;
        sender__run_free(&r->out);
        return;
    }
    r->state = RUN_RUNNING;
    signal_subs__bind(sv, r->sc);
    r->next = sv->runs;
    sv->runs = r;
    sv->active++;
    /* Its first row comes within a millisecond or so: one sync for it and
     * the acceptance, instead of one each, one after the other. */
    sender__await_first_row(r->out, RUNS_FIRST_ROW_WAIT);
    status__publish(sv);
}

void handle_run(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    scenario *sc = NULL;
    run_rec *r = NULL;
    json_t *columns = NULL;
    char *result_topic = NULL, *event_topic = NULL;
    sender_run_spec spec;

    const char *id = run_id_arg(sv, to, req, &errs);
    int cbor = request__encoding(req, &errs);
    json_t *doc = NULL;
    sc = admission__scenario(sv, req, "a run", 1, &doc, &errs);
    if (errs.count > 0)
        goto reject;
    if (sc == NULL)
        goto oom;
    if (run_spec(sv, sc, id, &columns, &result_topic, &event_topic,
                 &spec) != 0)
        goto oom;
    spec.cbor = cbor;
    size_t need = admission__reservation(sv, to, &spec, sc);
    admission__run(sv, need, sc, &errs);
    if (errs.count > 0)
        goto reject;

    r = calloc(1, sizeof *r);
    if (r == NULL || (r->id = strdup(id)) == NULL ||
        request__reply_copy(&r->reply, to) != 0)
        goto oom;
    r->child.from_child = r->child.to_child = -1;
    r->columns = columns;
    columns = NULL;
    r->st = sv->sp ? spool__stream(sv->sp, id) : NULL;
    if (sv->sp && r->st == NULL) {
        /* No run without its journal. */
        errors__add(&errs, TWIN_E_BUSY, "", "this controller cannot make "
                    "the run's journal in its spool %s: %s; it takes no run "
                    "until it can (make the spool writable, free space on "
                    "its filesystem), send the run to another controller",
                    spool__dir(sv->sp), strerror(errno));
        free(r->id);
        request__reply_free(&r->reply);
        json_decref(r->columns);
        free(r);
        goto reject;
    }
    if (r->st)
        spool__reserve(r->st, need);
    r->out = sender__run_new(sv->out, &spec, r->st);
    if (r->out == NULL)
        goto oom;
    r->sc = sc;
    r->doc = doc;
    sc = NULL;
    doc = NULL;
    r->realtime = r->sc->realtime;
    r->started = util__now();
    r->last_seq = -1;

    /* Accepted before the first result can be published. */
    json_t *pace = r->realtime ? json_pack("{s:f}", "realtime", r->sc->speed)
                               : json_string("batch");
    respond__run(sv, to, r, json_pack(
        "{s:s, s:s, s:O, s:I, s:o, s:s}", "status", "accepted", "run", r->id,
        "columns", r->columns, "rows_expected", (json_int_t)spec.max_rows,
        "pace", pace, "encoding", cbor ? "cbor" : "json"));
    start_child(sv, to, r);
    goto exit;
oom:
    errors__add(&errs, TWIN_E_INTERNAL, "", "out of memory starting the run");
    if (r) {
        free(r->id);
        request__reply_free(&r->reply);
        json_decref(r->columns);
        sender__run_free(&r->out);
        if (r->st)
            spool__finish(&r->st, 0);
        free(r);
    }
reject:
    respond__reject(sv, to, REQ_RUN, &errs);
exit:
    scenario__free(&sc);
    json_decref(doc);
    json_decref(columns);
    free(result_topic);
    free(event_topic);
    errors__clear(&errs);
}
