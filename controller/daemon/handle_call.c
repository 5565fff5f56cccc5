/*
 * handle_call.c — `call`: run one function with the request's arguments.
 *
 * A built-in answers at once.  A plugin function's arguments are checked
 * against its signature here, in the daemon (every problem named); then
 * the call runs in a child process of its own (funcall.h) while the
 * daemon goes on serving.  The loop in serve.c watches the call's pipe,
 * reaps its process and enforces limits.call_seconds through the
 * handle_call__ functions below; a call that crashes, exits or overruns
 * ends `failed` (model_crashed, timeout) and nothing else is touched.
 * What the function prints comes to the log labelled with the call
 * (proc.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "callable.h"
#include "fds.h"
#include "funcall.h"
#include "handlers.h"
#include "respond.h"

typedef struct call_rec {
    struct call_rec *next;
    reply_to reply;
    fl_call *call;            /* with its process (child.h) */
    int eof;                  /* its pipe ended */
    int polled;               /* index in the poll set, or -1 */
    proc_output output;       /* what the function prints */
    int polled_output;        /* index of output.fd in the poll set, or -1 */
} call_rec;

static fl_limits limits_of(const serve *sv)
{
    return (fl_limits){.seconds = sv->cfg.limits.call_seconds,
                       .cpu_seconds = sv->cfg.limits.cpu_seconds,
                       .memory_bytes = sv->cfg.limits.memory_bytes};
}

void handle_call(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    const char *name;
    const json_t *args;
    json_t *answer = NULL;
    fl_call *c = NULL;
    call_rec *r = NULL;
    char why[512];

    /* A retry of a call still running: its answer is on its way (a
     * request id is never processed twice). */
    for (const call_rec *p = sv->calls; p && to->id; p = p->next)
        if (p->reply.id && strcmp(p->reply.id, to->id) == 0)
            return;
    if (callable__call_members(req, &name, &args, &errs) != 0)
        goto reject;
    if (callable__builtin(name, args, &answer, &errs)) {
        if (errs.count)
            goto reject;
        respond__send(sv, to, REQ_CALL, answer);
        goto exit;
    }
    const fl_function *f = funclib__find(&sv->functions, name);
    if (f == NULL) {
        callable__unknown(name, &errs);
        goto reject;
    }
    if ((c = funcall__prepare(f, args, &errs)) == NULL)
        goto reject;
    if (sv->n_calls >= sv->cfg.limits.max_calls) {
        errors__add(&errs, TWIN_E_BUSY, "", "this controller is running %zu "
                    "calls, its limit (limits.max_calls); try again or send "
                    "it to another", sv->n_calls);
        goto reject;
    }
    /* Its pipe and its output's, both ends of each until the fork. */
    if (!fds__room_for(4, "plugin call", why, sizeof why)) {
        errors__add(&errs, TWIN_E_BUSY, "", "%s", why);
        goto reject;
    }
    r = calloc(1, sizeof *r);
    if (r != NULL)
        r->output.fd = -1;
    if (r == NULL || request__reply_copy(&r->reply, to) != 0) {
        errors__add(&errs, TWIN_E_INTERNAL, "", "out of memory");
        goto reject;
    }
    fl_limits lim = limits_of(sv);
    char label[256];
    int output_fd = -1;
    snprintf(label, sizeof label, "twinctl serve: call of function '%s' for "
             "request %s", name, to->id ? to->id : "?");
    if (proc__output_open(&r->output, &output_fd, stderr, label) != 0)
        output_fd = -1; /* what it prints goes to the log as it is */
    if (funcall__start(c, &lim, output_fd, why, sizeof why) != 0) {
        errors__add(&errs, TWIN_E_INTERNAL, "", "%s", why);
        goto reject;
    }
    r->call = c;
    r->polled = -1;
    r->next = sv->calls;
    sv->calls = r;
    sv->n_calls++;
    c = NULL;
    r = NULL;
    goto exit;
reject:
    respond__reject(sv, to, REQ_CALL, &errs);
exit:
    if (r != NULL) {
        request__reply_free(&r->reply);
        proc__output_close(&r->output);
    }
    free(r);
    funcall__free(&c);
    errors__clear(&errs);
}

/* ---- calls in their processes, for serve.c's loop ------------------------ */

size_t handle_call__watch(serve *sv, struct pollfd *pfd, size_t n)
{
    for (call_rec *r = sv->calls; r; r = r->next) {
        r->polled = r->polled_output = -1;
        if (!r->eof) {
            r->polled = (int)n;
            pfd[n++] = (struct pollfd){.fd = funcall__fd(r->call),
                                       .events = POLLIN};
        }
        if (r->output.fd >= 0 && !r->output.eof) {
            r->polled_output = (int)n;
            pfd[n++] = (struct pollfd){.fd = r->output.fd, .events = POLLIN};
        }
    }
    return n;
}

void handle_call__ready(serve *sv, const struct pollfd *pfd)
{
    for (call_rec *r = sv->calls; r; r = r->next) {
        if (r->polled >= 0 &&
            (pfd[r->polled].revents & (POLLIN | POLLHUP | POLLERR)))
            r->eof = funcall__read(r->call);
        if (r->polled_output >= 0 &&
            (pfd[r->polled_output].revents & (POLLIN | POLLHUP | POLLERR)))
            proc__output_read(&r->output);
    }
}

int handle_call__reaped(serve *sv, pid_t pid, int status)
{
    for (call_rec *r = sv->calls; r; r = r->next)
        if (child__reaped(funcall__child(r->call), pid, status))
            return 1;
    return 0;
}

static void call_free(call_rec *r)
{
    funcall__free(&r->call);
    proc__output_close(&r->output);
    request__reply_free(&r->reply);
    free(r);
}

/* The call's process is gone: answer. */
static void call_end(serve *sv, call_rec *r)
{
    twin_errors errs = {0};
    fl_limits lim = limits_of(sv);
    if (!r->eof) /* what it wrote before it went is in the pipe */
        funcall__read(r->call);
    if (funcall__finish(r->call, &lim, &errs) == 0) {
        respond__computed(sv, &r->reply, REQ_CALL,
                          funcall__answer(r->call));
    } else {
        json_t *resp = json_pack("{s:s, s:s, s:o}", "status", "failed",
                                 "function",
                                 funcall__function(r->call)->name, "errors",
                                 errors__to_json(&errs));
        respond__computed(sv, &r->reply, REQ_CALL, resp);
        if (!sv->cfg.quiet)
            fprintf(stderr, "twinctl serve: call %s: %s\n",
                    r->reply.id ? r->reply.id : "?", errs.items[0].message);
    }
    errors__clear(&errs);
}

void handle_call__tick(serve *sv, double now)
{
    for (call_rec **link = &sv->calls; *link;) {
        call_rec *r = *link;
        child *proc = funcall__child(r->call);
        child__tick(proc, now); /* killed past limits.call_seconds */
        if (proc->reaped) {
            call_end(sv, r);
            *link = r->next;
            sv->n_calls--;
            call_free(r);
        } else {
            link = &r->next;
        }
    }
}

double handle_call__next_due(const serve *sv, double due)
{
    for (const call_rec *r = sv->calls; r; r = r->next)
        due = fmin(due, child__due(funcall__child(r->call)));
    return due;
}

void handle_call__stop_all(serve *sv, int answer)
{
    while (sv->calls) {
        call_rec *r = sv->calls;
        sv->calls = r->next;
        sv->n_calls--;
        if (answer) {
            twin_errors errs = {0};
            errors__add(&errs, TWIN_E_CANCELLED, "", "the controller is "
                        "stopping; the call of '%s' was ended unanswered: "
                        "send it again to another controller",
                        funcall__function(r->call)->name);
            respond__send(sv, &r->reply, REQ_CALL, json_pack(
                "{s:s, s:s, s:o}", "status", "failed", "function",
                funcall__function(r->call)->name, "errors",
                errors__to_json(&errs)));
            errors__clear(&errs);
        }
        call_free(r); /* kills and reaps what is still there */
    }
}
