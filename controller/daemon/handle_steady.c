/*
 * handle_steady.c — `steady`: the steady state of a scenario's continuous
 * models (steady.h).  The scenario is composed and checked here exactly
 * as for a run (every problem with its JSON Pointer under /scenario),
 * with the request's own "inputs" to hold and "options" for the solver;
 * the solving calls model plugins, so it runs in a child process
 * (job.h), which answers `ok` or `failed` when it is done.
 */
#include <stdio.h>
#include <stdlib.h>

#include "admission.h"
#include "handlers.h"
#include "job.h"
#include "respond.h"
#include "steady.h"

typedef struct steady_job {
    const scenario *sc;
    steady_options opt;
} steady_job;

/* In the child. */
static json_t *solve(void *arg)
{
    const steady_job *sj = arg;
    steady_result res;
    steady__solve(sj->sc, &sj->opt, &res);
    json_t *answer = steady__result_json(sj->sc, &sj->opt, &res);
    steady__result_free(&res);
    return answer;
}

void handle_steady(serve *sv, const reply_to *to, const json_t *req)
{
    twin_errors errs = {0};
    json_t *doc = NULL;
    steady_job sj;
    char why[1024];

    if (job__running(sv, to->id)) {
        /* A retry while the first is solving: that one will answer. */
        if (!sv->cfg.quiet)
            fprintf(stderr, "twinctl serve: steady %s is already being "
                    "solved; the retry is answered when it is done\n",
                    to->id);
        return;
    }
    steady__defaults(&sj.opt);
    scenario *sc = admission__scenario(sv, req, "a steady request", 0, &doc,
                                       &errs);
    steady__read_options(json_object_get(req, "options"), "/options",
                         &sj.opt, &errs);
    if (sc != NULL)
        steady__hold_inputs(sc, json_object_get(req, "inputs"), "/inputs",
                            &errs);
    admission__steady(sv, &errs);
    if (errs.count > 0) {
        respond__reject(sv, to, REQ_STEADY, &errs);
    } else {
        sj.sc = sc;
        if (job__start(sv, to, REQ_STEADY, "steady-state solve", solve, &sj,
                       why, sizeof why) != 0)
            respond__send(sv, to, REQ_STEADY, json_pack(
                "{s:s, s:[{s:s, s:s, s:s}]}", "status", "failed", "errors",
                "code", "internal", "path", "", "message", why));
    }
    scenario__free(&sc);
    json_decref(doc);
    errors__clear(&errs);
}
