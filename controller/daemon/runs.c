/*
 * runs.c — the runs this daemon supervises, as the daemon sees them
 * (runs.h): their records, running and recently ended; reading what a
 * run's process sends (rows to the sender, events, its end and where it
 * was); its time limit and a cancel (SIGTERM, then SIGKILL); and its end,
 * answered with how it ended.  Starting a run is handle_run.c's (after
 * admission.c); the process itself is runner.c's.
 */
#include "runs.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measured.h"
#include "respond.h"
#include "status.h"
#include "util.h"

#define KEEP_ENDED_RUNS 256

run_rec *runs__find(serve *sv, const char *id)
{
    for (run_rec *r = sv->runs; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

run_rec *runs__arg(serve *sv, const json_t *req, const char *needs,
                   twin_errors *errs)
{
    const json_t *run = json_object_get(req, "run");
    run_rec *r = NULL;
    if (run == NULL)
        errors__add(errs, TWIN_E_MISSING_FIELD, "/run", "%s", needs);
    else if (request__run_id(run, errs) != NULL &&
             (r = runs__find(sv, json_string_value(run))) == NULL)
        errors__add(errs, TWIN_E_UNKNOWN_RUN, "/run",
                    "this controller has no run '%s' (it remembers the last "
                    "256 that ended)", json_string_value(run));
    return r;
}

int runs__check_values(const run_rec *r, const json_t *values,
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
        if (in == NULL && measured__find(r->sc, k) >= 0) {
            /* a plant value of a measured variable (docs/live-twin.md) */
            if (!json_is_number(v) || !isfinite(json_number_value(v)))
                errors__add(errs, TWIN_E_WRONG_TYPE, where, "%s: a plant "
                            "value is a finite number, not %s", k,
                            errors__json_kind(v));
        } else if (in == NULL) {
            errors__add(errs, TWIN_E_UNKNOWN_VARIABLE, where,
                        "run '%s' has no input '%s' to set; only inputs "
                        "listed under \"inputs\" in its scenario can be "
                        "set, and the plant values of its \"measured\"",
                        r->id, k);
        } else {
            const twin_variable *var =
                r->sc->inst[in->to.inst].model->input[in->to.index];
            char why[512];
            double x;
            twin_err_code code = scenario__value(var, v, "input", &x, why,
                                                 sizeof why);
            if (code != 0)
                errors__add(errs, code, where, "%s: %s", k, why);
        }
        free(p);
    }
    return errs->count == before ? 0 : -1;
}

static void run_free(run_rec *r)
{
    free(r->id);
    request__reply_free(&r->reply);
    waiters__free(&r->retries);
    scenario__free(&r->sc);
    json_decref(r->doc);
    json_decref(r->columns);
    json_decref(r->end);
    free(r->where);
    frame__reader_free(&r->rd);
    sender__run_free(&r->out);
    if (r->child.from_child >= 0)
        close(r->child.from_child);
    if (r->child.to_child >= 0)
        close(r->child.to_child);
    if (r->output != NULL)
        proc__output_close(r->output);
    free(r->output);
    free(r);
}

/* Forget the oldest ended runs beyond KEEP_ENDED_RUNS. */
static void prune_runs(serve *sv)
{
    size_t ended = 0;
    for (run_rec **link = &sv->runs; *link;) {
        run_rec *r = *link;
        if (r->state != RUN_RUNNING && ++ended > KEEP_ENDED_RUNS) {
            *link = r->next;
            run_free(r);
        } else {
            link = &r->next;
        }
    }
}

static void run_event(serve *sv, run_rec *r, const char *text, size_t len)
{
    json_t *ev = json_loadb(text, len, 0, NULL);
    if (ev == NULL)
        return;
    /* the run's synchronisation with its plant, for the status */
    const char *sync = json_string_value(json_object_get(ev, "sync"));
    int changed = sync != NULL && strcmp(sync, r->sync) != 0;
    if (changed)
        snprintf(r->sync, sizeof r->sync, "%s", sync);
    sender__event(r->out, ev);
    if (changed)
        status__publish(sv);
}

/* Read and dispatch what a run sent.  Returns 1 at end of file. */
static int run_read(serve *sv, run_rec *r, double now)
{
    size_t budget = 4u << 20; /* bytes per wake-up, so no run starves */
    long got = 0;
    /* Past the memory bound the runs wait, except when stopping: a
     * cancelled run has little left to say, and must be heard to end. */
    while (budget > 0 && (sv->stopping || !sender__full(sv->out)) &&
           (got = frame__fill(&r->rd, r->child.from_child)) > 0) {
        budget = (size_t)got >= budget ? 0 : budget - (size_t)got;
        const char *p;
        size_t len;
        int type;
        while ((type = frame__next(&r->rd, &p, &len)) > 0) {
            switch (type) {
            case FRAME_ROW: {
                int rc = sender__row(r->out, (const double *)(const void *)p,
                                     len / sizeof(double), now);
                if (rc == -2) {
                    daemon__say(sv, "run %s: more rows than the %lld it "
                                "announced; stopped as garbled", r->id,
                                (long long)(r->sc->n_ticks / r->sc->every +
                                            1));
                    child__kill(&r->child.proc);
                    return 1;
                }
                if (rc != 0)
                    daemon__say(sv, "run %s: a row of %zu values does not "
                                "match its %zu columns; dropped as corrupt",
                                r->id, len / sizeof(double),
                                json_array_size(r->columns));
                break;
            }
            case FRAME_EVENT:
                run_event(sv, r, p, len);
                break;
            case FRAME_END:
                json_decref(r->end);
                r->end = json_loadb(p, len, 0, NULL);
                break;
            case FRAME_WHERE:
                free(r->where);
                r->where = frame__where_text(p, len);
                break;
            default: /* columns: known since composition */
                break;
            }
        }
        if (type < 0) {
            daemon__say(sv, "run %s: garbled data from the run process",
                        r->id);
            child__kill(&r->child.proc);
            return 1;
        }
    }
    return got == 0;
}

/* How the run ended: its status ("finished", "failed", "cancelled"),
 * with *errors and *stats (new references, or NULL) — its own end frame's
 * when it sent one, else what the daemon knows (time limit, cancel,
 * signal, exit). */
static const char *run_outcome(serve *sv, const run_rec *r,
                               json_t **errors, json_t **stats)
{
    const char *end_status = json_string_value(json_object_get(r->end,
                                                               "status"));
    *errors = *stats = NULL;
    if (end_status != NULL) {
        *errors = json_incref(json_object_get(r->end, "errors"));
        *stats = json_incref(json_object_get(r->end, "stats"));
        return end_status;
    }
    if (r->child.proc.timed_out) {
        *errors = respond__errors(TWIN_E_TIMEOUT, "the run passed this "
                                  "controller's limit of %g s of wall-clock "
                                  "time and was stopped%s%s",
                                  sv->cfg.limits.run_seconds,
                                  r->where ? " while in " : "",
                                  r->where ? r->where : "");
    } else if (r->child.proc.cancelled) {
        *errors = respond__errors(TWIN_E_CANCELLED, "cancelled; the run "
                                  "did not stop by itself within %g s and "
                                  "was killed", RUNS_CANCEL_GRACE);
        return "cancelled";
    } else if (WIFSIGNALED(r->child.proc.status)) {
        *errors = respond__errors(TWIN_E_MODEL_CRASHED, "the run process "
                                  "died of signal %d (%s) %s%s; the %llu "
                                  "rows before it were sent",
                                  WTERMSIG(r->child.proc.status),
                                  strsignal(WTERMSIG(r->child.proc.status)),
                                  r->where ? "in "
                                           : "in a model or the solver",
                                  r->where ? r->where : "",
                                  (unsigned long long)r->rows);
    } else {
        *errors = respond__errors(TWIN_E_MODEL_CRASHED, "the run process "
                                  "exited with status %d before it "
                                  "finished (a model called exit?); the "
                                  "%llu rows before it were sent",
                                  WEXITSTATUS(r->child.proc.status),
                                  (unsigned long long)r->rows);
    }
    return "failed";
}

/* The run's final response (takes errors and stats); r->state is set. */
static json_t *final_response(const run_rec *r, const char *status,
                              json_t *errors, json_t *stats)
{
    json_t *resp = json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", status,
                             "run", r->id, "last_seq",
                             (json_int_t)r->last_seq, "rows",
                             (json_int_t)r->rows, "messages",
                             (json_int_t)(r->last_seq + 1));
    json_object_set_new(resp, "stats", stats ? stats : json_object());
    if (r->state != RUN_FINISHED)
        json_object_set_new(resp, "errors", errors ? errors : json_array());
    else
        json_decref(errors);
    const json_t *by = json_object_get(r->end, "ended_by");
    if (r->state == RUN_FINISHED && by != NULL)
        json_object_set(resp, "ended_by", (json_t *)by);
    if (r->state == RUN_FINISHED && r->sc && r->sc->n_fn > 0) {
        /* The scenario's functions, as the run's process computed them. */
        json_t *fv = json_object_get(r->end, "functions");
        json_t *fe = json_object_get(r->end, "function_errors");
        json_object_set(resp, "functions", fv ? fv : json_object());
        json_object_set(resp, "function_errors", fe ? fe : json_object());
    }
    return resp;
}

/* What an ended run keeps is its record for status, cancel and replay:
 * no descriptor (its journal's goes once the broker has it all), no
 * scenario, no buffers. */
static void run_release(serve *sv, run_rec *r)
{
    spool__finish(&r->st, sv->cfg.limits.retention);
    close(r->child.from_child);
    close(r->child.to_child);
    r->child.from_child = r->child.to_child = -1;

    frame__reader_free(&r->rd); /* 1 MiB or more, of no use now */
    sender__run_free(&r->out);
    scenario__free(&r->sc);
    json_decref(r->doc);
    json_decref(r->columns);
    json_decref(r->end);
    r->doc = r->columns = r->end = NULL;
}

/* The run's process is gone and its pipe drained: say how it ended. */
static void run_end(serve *sv, run_rec *r)
{
    sender__run_close(r->out);
    r->last_seq = sender__run_last_seq(r->out);
    r->rows = sender__run_rows(r->out);
    json_t *errors, *stats;
    const char *status = run_outcome(sv, r, &errors, &stats);
    r->state = strcmp(status, "finished") == 0    ? RUN_FINISHED
               : strcmp(status, "cancelled") == 0 ? RUN_CANCELLED
                                                  : RUN_FAILED;
    respond__run(sv, &r->reply, r, final_response(r, status, errors, stats));
    respond__waiters(sv, &r->retries);
    if (r->output != NULL) /* its last lines before the end's */
        proc__output_close(r->output);
    free(r->output);
    r->output = NULL;
    daemon__say(sv, "run %s %s: %llu rows in %lld messages, %.3f s; its "
                "journal %zu bytes of the %zu it reserved", r->id, status,
                (unsigned long long)r->rows, (long long)(r->last_seq + 1),
                util__now() - r->started,
                r->st ? spool__stream_bytes(r->st) : 0,
                r->st ? spool__stream_reserved(r->st) : 0);
    run_release(sv, r); /* status may point into r->end: last */
    sv->active--;
    status__publish(sv);
}

/* A run past limits.run_seconds: SIGUSR1 (write out the rows you hold),
 * then SIGKILL; a cancelled one's SIGKILL after RUNS_CANCEL_GRACE. */
void runs__tick(serve *sv, double now)
{
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING)
            child__tick(&r->child.proc, now);
}

double runs__next_due(const serve *sv, double due)
{
    for (const run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING)
            due = fmin(due, child__due(&r->child.proc));
    return due;
}

void runs__cancel(serve *sv, run_rec *r)
{
    (void)sv;
    if (r->state == RUN_RUNNING)
        child__cancel(&r->child.proc, SIGTERM, RUNS_CANCEL_GRACE,
                      util__now());
}

/* ---- for the loop -------------------------------------------------------- */

size_t runs__watch(serve *sv, struct pollfd *pfd, run_rec **polled,
                   size_t n, size_t cap, size_t *outputs_from)
{
    int full = sender__full(sv->out);
    for (run_rec *r = sv->runs; r && n < cap; r = r->next)
        if (r->state == RUN_RUNNING && !r->rd.eof &&
            (!full || sv->stopping)) {
            polled[n] = r;
            pfd[n++] = (struct pollfd){.fd = r->child.from_child,
                                       .events = POLLIN};
        }
    *outputs_from = n;
    for (run_rec *r = sv->runs; r && n < cap; r = r->next)
        if (r->state == RUN_RUNNING && r->output && !r->output->eof) {
            polled[n] = r;
            pfd[n++] = (struct pollfd){.fd = r->output->fd,
                                       .events = POLLIN};
        }
    return n;
}

void runs__ready(serve *sv, const struct pollfd *pfd, run_rec *const *polled,
                 size_t from, size_t outputs_from, size_t to, double now)
{
    for (size_t i = from; i < outputs_from; i++)
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            run_read(sv, polled[i], now);
    for (size_t i = outputs_from; i < to; i++)
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            proc__output_read(polled[i]->output);
}

void runs__reaped(serve *sv, pid_t pid, int status)
{
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING)
            child__reaped(&r->child.proc, pid, status);
}

void runs__end_reaped(serve *sv, double now)
{
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING && r->child.proc.reaped) {
            /* Drain what is left, then end it. */
            if (!r->rd.eof && (sv->stopping || !sender__full(sv->out)))
                run_read(sv, r, now);
            if (r->rd.eof || r->child.from_child < 0)
                run_end(sv, r);
        }
    /* Not inside run_end: it may forget the run just ended (when 256
     * runs that started after it ended before it), and the walk above
     * still stands on it. */
    prune_runs(sv);
}

void runs__cancel_all(serve *sv)
{
    for (run_rec *r = sv->runs; r; r = r->next)
        runs__cancel(sv, r);
}

void runs__free_all(serve *sv)
{
    while (sv->runs) {
        run_rec *r = sv->runs;
        sv->runs = r->next;
        if (r->state == RUN_RUNNING)
            child__end(&r->child.proc);
        run_free(r);
    }
}
