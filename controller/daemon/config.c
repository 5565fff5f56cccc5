/*
 * config.c — reading the daemon's JSON configuration over its defaults.
 * See config.h for the members; docs/serve.md for the file format.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "request.h"

char *config__keep(twin_config *c, char *s)
{
    if (s == NULL)
        return NULL;
    if (c->n_owned == c->cap_owned) {
        size_t cap = c->cap_owned ? 2 * c->cap_owned : 16;
        char **owned = realloc(c->owned, cap * sizeof *owned);
        if (owned == NULL) {
            free(s);
            return NULL;
        }
        c->owned = owned;
        c->cap_owned = cap;
    }
    c->owned[c->n_owned++] = s;
    return s;
}

void config__defaults(twin_config *c)
{
    memset(c, 0, sizeof *c);
    char host[256] = "twinctl";
    gethostname(host, sizeof host - 1);
    c->id = config__keep(c, strdup(host));
    c->broker = getenv("TWIN_BROKER") ? getenv("TWIN_BROKER")
                                      : "tcp://127.0.0.1:1883";
    c->prefix = "twin";
    c->group = "twin";
    c->limits = (twin_limits){
        .max_runs = 2,
        .request_bytes = 1u << 20,
        .run_seconds = 3600.0,
        .max_instances = 10000,
        .max_connections = 100000,
        .max_rows = 1e8,
        .function_samples = 1e7,
        .batch_rows = 500,
        .batch_delay = 0.020,
        .buffer_bytes = 256u << 20,
        .remembered = 10000,
        .remembered_bytes = 16u << 20,
        .replays = 8,
        .queued_requests = 10000,
        .cpu_seconds = 0,
        .memory_bytes = 0,
        .spool_bytes = 1024u << 20,
        .retention = 3600.0,
        .call_seconds = 10.0,
        .max_calls = 4,
        .event_bytes = 1u << 20,
    };
    c->allow.requests = REQ_IMPLEMENTED;
    c->allow.realtime = 1;
}

typedef struct loader {
    twin_config *c;
    twin_errors *errs;
    const char *file;
} loader;

static void problem(loader *l, twin_err_code code, const char *ptr,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(loader *l, twin_err_code code, const char *ptr,
                    const char *fmt, ...)
{
    char where[4200], text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(where, sizeof where, "%s#%s", l->file, ptr);
    errors__add(l->errs, code, where, "%s", text);
}

static void get_string(loader *l, const json_t *obj, const char *key,
                       const char *ptr, char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        problem(l, TWIN_E_WRONG_TYPE, ptr, "%s must be a non-empty string",
                key);
        return;
    }
    *out = config__keep(l->c, strdup(json_string_value(v)));
}

static void get_size(loader *l, const json_t *obj, const char *key,
                     size_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        problem(l, TWIN_E_WRONG_TYPE, "/limits", "limits.%s must be a "
                "positive whole number", key);
        return;
    }
    *out = (size_t)json_integer_value(v);
}

static void get_seconds(loader *l, const json_t *obj, const char *key,
                        double scale, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return;
    if (!json_is_number(v) || !(json_number_value(v) > 0)) {
        problem(l, TWIN_E_WRONG_TYPE, "/limits", "limits.%s must be a "
                "positive number", key);
        return;
    }
    *out = json_number_value(v) * scale;
}

/* "models" and "function_dirs": a directory or an array of them. */
static void load_dirs(loader *l, const json_t *doc, const char *key,
                      const char *what,
                      int (*add)(twin_paths *, const char *))
{
    twin_config *c = l->c;
    const json_t *dirs = json_object_get(doc, key);
    char ptr[32];
    snprintf(ptr, sizeof ptr, "/%s", key);
    if (dirs == NULL)
        return;
    if (!json_is_string(dirs) && !json_is_array(dirs)) {
        problem(l, TWIN_E_WRONG_TYPE, ptr, "%s is a directory or an array "
                "of directories", key);
        return;
    }
    size_t n = json_is_array(dirs) ? json_array_size(dirs) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_is_array(dirs) ? json_array_get(dirs, i)
                                              : dirs;
        if (!json_is_string(d)) {
            problem(l, TWIN_E_WRONG_TYPE, ptr, "%s is a directory or an "
                    "array of directories", key);
            continue;
        }
        char *dir = config__keep(c, strdup(json_string_value(d)));
        if (dir == NULL || add(&c->paths, dir) != 0)
            problem(l, TWIN_E_TOO_LARGE, ptr, "more than %d %s directories "
                    "(or out of memory)", PATHS_MAX_MODEL_DIRS, what);
    }
}

static void load_paths(loader *l, const json_t *doc)
{
    twin_config *c = l->c;
    load_dirs(l, doc, "models", "model", paths__add_model_dir);
    load_dirs(l, doc, "function_dirs", "function plugin",
              paths__add_function_dir);
    char *dir = NULL;
    get_string(l, doc, "instances", "/instances", &dir);
    if (dir)
        c->paths.instance_dir = dir;
    dir = NULL;
    get_string(l, doc, "scenarios", "/scenarios", &dir);
    if (dir)
        c->paths.scenario_dir = dir;
}

/* allow.<key>: an array of names, kept in *list (NULL-terminated). */
static void load_names(loader *l, const json_t *allow, const char *key,
                       const char *ptr, const char *what, char ***list,
                       size_t *n)
{
    const json_t *names = json_object_get(allow, key);
    if (names == NULL)
        return;
    if (!json_is_array(names)) {
        problem(l, TWIN_E_WRONG_TYPE, ptr, "allow.%s is an array of %s",
                key, what);
        return;
    }
    *list = calloc(json_array_size(names) + 1, sizeof(char *));
    size_t i;
    const json_t *m;
    json_array_foreach(names, i, m) {
        char *name = json_is_string(m) && *list
                         ? config__keep(l->c, strdup(json_string_value(m)))
                         : NULL;
        if (name != NULL)
            (*list)[(*n)++] = name;
        else
            problem(l, TWIN_E_WRONG_TYPE, ptr, "allow.%s holds %s "
                    "(strings)", key, what);
    }
}

/* An MQTT topic filter: not empty, '+' only as a whole level, '#' only
 * as the whole last level. */
static int valid_filter(const char *f)
{
    if (*f == '\0')
        return 0;
    for (const char *p = f; *p; p++) {
        int starts = p == f || p[-1] == '/';
        int ends = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(starts && ends))
            return 0;
        if (*p == '#' && !(starts && p[1] == '\0'))
            return 0;
    }
    return 1;
}

static void load_allow(loader *l, const json_t *allow)
{
    twin_config *c = l->c;
    if (allow == NULL)
        return;
    if (!json_is_object(allow)) {
        problem(l, TWIN_E_WRONG_TYPE, "/allow", "%s",
                "allow must be an object");
        return;
    }
    const json_t *reqs = json_object_get(allow, "requests");
    if (reqs != NULL) {
        c->allow.requests = 0;
        size_t i;
        const json_t *r;
        json_array_foreach(reqs, i, r) {
            req_type t;
            if (!json_is_string(r) ||
                request__type_of(json_string_value(r), &t) != 0)
                problem(l, TWIN_E_OUT_OF_RANGE, "/allow/requests",
                        "unknown request type %s",
                        json_is_string(r) ? json_string_value(r) : "?");
            else
                c->allow.requests |= REQ_BIT(t);
        }
    }
    const json_t *rt = json_object_get(allow, "realtime");
    if (rt != NULL) {
        if (!json_is_boolean(rt))
            problem(l, TWIN_E_WRONG_TYPE, "/allow/realtime", "%s",
                    "allow.realtime is true or false");
        else
            c->allow.realtime = json_is_true(rt);
    }
    load_names(l, allow, "models", "/allow/models", "model names",
               &c->allow.models, &c->allow.n_models);
    load_names(l, allow, "overrides", "/allow/overrides",
               "\"model.parameter\" names (\"model.*\", \"*\")",
               &c->allow.overrides, &c->allow.n_overrides);
    load_names(l, allow, "signals", "/allow/signals",
               "MQTT topic filters (\"plant/#\")", &c->allow.signals,
               &c->allow.n_signals);
    for (size_t i = 0; i < c->allow.n_signals; i++)
        if (!valid_filter(c->allow.signals[i]))
            problem(l, TWIN_E_OUT_OF_RANGE, "/allow/signals",
                    "allow.signals entry \"%s\" is not an MQTT topic filter "
                    "(not empty; '+' a whole level; '#' the last level, "
                    "whole)", c->allow.signals[i]);
    for (size_t i = 0; i < c->allow.n_overrides; i++) {
        const char *o = c->allow.overrides[i], *dot = strchr(o, '.');
        if (strcmp(o, "*") != 0 &&
            (dot == NULL || dot == o || dot[1] == '\0'))
            problem(l, TWIN_E_OUT_OF_RANGE, "/allow/overrides",
                    "allow.overrides entry \"%s\" is not \"model.parameter"
                    "\", \"model.*\" or \"*\"", o);
    }
}

int config__load(twin_config *c, const char *file, twin_errors *errs)
{
    loader l = {c, errs, file};
    size_t before = errs->count;
    json_error_t jerr;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        char where[4200];
        snprintf(where, sizeof where, "%s", file);
        errors__add(errs, TWIN_E_BAD_JSON, where, "line %d: %s", jerr.line,
                    jerr.text);
        return -1;
    }
    if (!json_is_object(doc)) {
        problem(&l, TWIN_E_WRONG_TYPE, "", "%s",
                "the configuration is a JSON object");
        json_decref(doc);
        return -1;
    }
    get_string(&l, doc, "id", "/id", &c->id);
    get_string(&l, doc, "broker", "/broker", &c->broker);
    get_string(&l, doc, "prefix", "/prefix", &c->prefix);
    get_string(&l, doc, "group", "/group", &c->group);
    load_paths(&l, doc);
    const json_t *lim = json_object_get(doc, "limits");
    if (lim != NULL && !json_is_object(lim))
        problem(&l, TWIN_E_WRONG_TYPE, "/limits", "%s",
                "limits must be an object");
    else if (lim != NULL) {
        twin_limits *t = &c->limits;
        get_size(&l, lim, "max_runs", &t->max_runs);
        get_size(&l, lim, "request_bytes", &t->request_bytes);
        get_seconds(&l, lim, "run_seconds", 1.0, &t->run_seconds);
        get_size(&l, lim, "max_instances", &t->max_instances);
        get_size(&l, lim, "max_connections", &t->max_connections);
        get_seconds(&l, lim, "max_rows", 1.0, &t->max_rows);
        get_seconds(&l, lim, "function_samples", 1.0,
                    &t->function_samples);
        get_size(&l, lim, "batch_rows", &t->batch_rows);
        get_seconds(&l, lim, "batch_delay_ms", 1e-3, &t->batch_delay);
        get_size(&l, lim, "buffer_bytes", &t->buffer_bytes);
        get_size(&l, lim, "remembered", &t->remembered);
        get_size(&l, lim, "remembered_bytes", &t->remembered_bytes);
        get_size(&l, lim, "replays", &t->replays);
        get_size(&l, lim, "queued_requests", &t->queued_requests);
        get_seconds(&l, lim, "cpu_seconds", 1.0, &t->cpu_seconds);
        get_size(&l, lim, "memory_bytes", &t->memory_bytes);
        get_size(&l, lim, "spool_bytes", &t->spool_bytes);
        get_seconds(&l, lim, "retention_seconds", 1.0, &t->retention);
        get_seconds(&l, lim, "call_seconds", 1.0, &t->call_seconds);
        get_size(&l, lim, "max_calls", &t->max_calls);
        get_size(&l, lim, "event_bytes", &t->event_bytes);
    }
    get_string(&l, doc, "spool", "/spool", &c->spool_dir);
    const json_t *py = json_object_get(doc, "python");
    if (py != NULL && !json_is_object(py))
        problem(&l, TWIN_E_WRONG_TYPE, "/python", "%s",
                "python must be an object: {\"venv\": DIR}");
    else if (py != NULL)
        get_string(&l, py, "venv", "/python/venv", &c->python_venv);
    /* Paced runs' real-time privileges (docs/serve.md, Real time). */
    const json_t *rtc = json_object_get(doc, "realtime");
    if (rtc != NULL && !json_is_object(rtc)) {
        problem(&l, TWIN_E_WRONG_TYPE, "/realtime", "%s",
                "realtime must be an object: {\"fifo\": 1..99, "
                "\"mlock\": true|false}");
    } else if (rtc != NULL) {
        const json_t *f = json_object_get(rtc, "fifo");
        const json_t *m = json_object_get(rtc, "mlock");
        if (f != NULL && (!json_is_integer(f) || json_integer_value(f) < 1 ||
                          json_integer_value(f) > 99))
            problem(&l, TWIN_E_OUT_OF_RANGE, "/realtime/fifo", "%s",
                    "realtime.fifo is a SCHED_FIFO priority, a whole "
                    "number from 1 to 99");
        else if (f != NULL)
            c->rt_fifo = (int)json_integer_value(f);
        if (m != NULL && !json_is_boolean(m))
            problem(&l, TWIN_E_WRONG_TYPE, "/realtime/mlock", "%s",
                    "realtime.mlock is true or false");
        else
            c->rt_mlock = json_is_true(m);
    }
    const json_t *sec = json_object_get(doc, "security");
    if (sec != NULL && !json_is_object(sec))
        problem(&l, TWIN_E_WRONG_TYPE, "/security", "%s",
                "security must be an object");
    else if (sec != NULL) {
        twin_security *t = &c->security;
        get_string(&l, sec, "ca_file", "/security/ca_file", &t->ca_file);
        get_string(&l, sec, "cert_file", "/security/cert_file",
                   &t->cert_file);
        get_string(&l, sec, "key_file", "/security/key_file", &t->key_file);
        get_string(&l, sec, "username", "/security/username", &t->username);
        get_string(&l, sec, "password_file", "/security/password_file",
                   &t->password_file);
        if (json_object_get(sec, "password") != NULL)
            problem(&l, TWIN_E_NOT_ALLOWED, "/security/password", "%s",
                    "a password is never written in the configuration: "
                    "give password_file, or set TWIN_MQTT_PASSWORD");
    }
    load_allow(&l, json_object_get(doc, "allow"));
    json_decref(doc);
    return errs->count == before ? 0 : -1;
}

int config__model_allowed(const twin_config *c, const char *model)
{
    if (c->allow.models == NULL)
        return 1;
    for (size_t i = 0; i < c->allow.n_models; i++)
        if (strcmp(c->allow.models[i], "*") == 0 ||
            strcmp(c->allow.models[i], model) == 0)
            return 1;
    return 0;
}

int config__override_allowed(const twin_config *c, const char *model,
                             const char *param)
{
    if (c->allow.overrides == NULL)
        return 1;
    size_t ml = strlen(model);
    for (size_t i = 0; i < c->allow.n_overrides; i++) {
        const char *o = c->allow.overrides[i];
        if (strcmp(o, "*") == 0)
            return 1;
        if (strncmp(o, model, ml) == 0 && o[ml] == '.' &&
            (strcmp(o + ml + 1, "*") == 0 || strcmp(o + ml + 1, param) == 0))
            return 1;
    }
    return 0;
}

uint32_t config__max_packet(const twin_config *c)
{
    size_t req = c->limits.request_bytes;
    return req < (1u << 30) ? (uint32_t)(2 * req + 65536) : 0;
}

void config__free(twin_config *c)
{
    free(c->allow.models);
    c->allow.models = NULL;
    free(c->allow.overrides);
    c->allow.overrides = NULL;
    free(c->allow.signals);
    c->allow.signals = NULL;
    c->allow.n_signals = 0;
    paths__free(&c->paths);
    for (size_t i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    c->owned = NULL;
    c->n_owned = c->cap_owned = 0;
}
