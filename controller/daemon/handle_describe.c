/*
 * handle_describe.c — `describe`: what this controller can do: its models
 * with every variable, its instance library, its stored scenarios, its
 * functions (built-ins and plugins, functions.h) and what its deployment
 * allows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callable.h"
#include "handlers.h"
#include "respond.h"
#include "twin_paths.h"
#include "util.h"

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* A variable's value type (model ABI 1.1 flags): what a value set from
 * outside must be. */
static const char *type_name(const twin_variable *v)
{
    return (v->flags & TWIN_VAR_STRING) ? "string"
           : (v->flags & TWIN_VAR_BOOLEAN) ? "boolean"
           : (v->flags & TWIN_VAR_INTEGER) ? "integer"
                                           : "real";
}

static json_t *model_json(const twin_model *m)
{
    const twin_model_descriptor *d = m->d;
    json_t *vars = json_array();
    for (size_t i = 0; i < d->n_variables; i++) {
        const twin_variable *v = &d->variables[i];
        json_array_append_new(vars, json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:b, s:s, s:b}", "name",
            v->name, "kind", modlib__kind_name(v->kind), "unit", v->unit,
            "start", number_or_null(v->start), "min", number_or_null(v->min),
            "max", number_or_null(v->max), "description", v->description,
            "feedthrough", (v->flags & TWIN_VAR_FEEDTHROUGH) != 0, "type",
            type_name(v), "local", (v->flags & TWIN_VAR_LOCAL) != 0));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "name", d->name,
                     "version", d->version, "kind",
                     d->kind == TWIN_MODEL_CONTINUOUS ? "continuous"
                                                      : "discrete",
                     "description", d->description, "event_indicators",
                     (json_int_t)d->n_event_indicators, "variables", vars);
}

void handle_describe(serve *sv, const reply_to *to, const json_t *req)
{
    json_t *models = json_array(), *insts = json_array(),
           *scens = json_array(), *allowed = json_array();
    for (size_t i = 0; i < sv->models.count; i++)
        if (config__model_allowed(&sv->cfg, sv->models.models[i]->d->name))
            json_array_append_new(models, model_json(sv->models.models[i]));
    for (size_t i = 0; i < sv->instances.count; i++) {
        const instance_doc *d = &sv->instances.items[i];
        json_array_append_new(insts, json_pack(
            "{s:s, s:s, s:s, s:s, s:O, s:O}", "contract", "twin.instance/1",
            "id", d->id, "model", d->model,
            "description", d->description, "params", d->params, "tags",
            d->tags));
    }
    char **names = NULL;
    long n = sv->cfg.paths.scenario_dir
                 ? util__list_dir(sv->cfg.paths.scenario_dir, ".json", &names)
                 : 0;
    for (long i = 0; i < n; i++) {
        names[i][strlen(names[i]) - 5] = '\0';
        json_array_append_new(scens, json_string(names[i]));
    }
    util__free_names(names, n);
    for (int t = 0; t < REQ__COUNT; t++)
        if (sv->cfg.allow.requests & REQ_BIT(t))
            json_array_append_new(allowed,
                                  json_string(request__type_name(t)));
    json_t *resp = json_pack(
        "{s:s, s:{s:s, s:s, s:s, s:i, s:I}, s:o, s:o, s:o, s:o, "
        "s:{s:o, s:b}}",
        "status", "ok", "controller_info", "id", sv->cfg.id, "version",
        TWIN_VERSION, "group", sv->cfg.group, "model_abi",
        TWIN_MODEL_ABI_MAJOR, "capacity",
        (json_int_t)sv->cfg.limits.max_runs, "models", models, "instances",
        insts, "scenarios", scens, "functions",
        callable__describe(&sv->functions), "allowed", "requests",
        allowed, "realtime", sv->cfg.allow.realtime);
    /* The encodings of result messages a run or replay may ask for. */
    json_object_set_new(resp, "encodings", json_pack("[s, s]", "json",
                                                     "cbor"));
    /* The limits a client must respect and could not see otherwise. */
    const twin_limits *l = &sv->cfg.limits;
    json_object_set_new(resp, "limits", json_pack(
        "{s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:f}", "request_bytes",
        (json_int_t)l->request_bytes, "max_packet_bytes",
        (json_int_t)config__max_packet(&sv->cfg), "retention_seconds",
        l->retention, "replays", (json_int_t)l->replays, "remembered",
        (json_int_t)l->remembered, "remembered_bytes",
        (json_int_t)l->remembered_bytes, "max_runs",
        (json_int_t)l->max_runs, "run_seconds", l->run_seconds,
        "call_seconds", l->call_seconds));
    respond__send(sv, to, REQ_DESCRIBE, resp);
}
