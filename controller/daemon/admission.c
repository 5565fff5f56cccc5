/*
 * admission.c — whether this controller takes a request's work, checked
 * before anything starts: the scenario a request carries, composed and
 * held against what this deployment allows (models, real-time runs,
 * parameter overrides, the topics of plant signals); the spool's room for a run's journal (what it
 * may write at most, reserved when it starts); and whether there is room
 * at all right now (max_runs, a spool that cannot be written, file
 * descriptors, results the broker has not taken yet; for a steady solve,
 * its jobs).  Every problem goes in the request's errors; the handlers
 * (handle_run.c, handle_steady.c) reject with them.
 */
#include "admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fds.h"
#include "job.h"
#include "signal_subs.h"

/* Copy composition problems under the request's /scenario member. */
static void reroot(const twin_errors *from, const char *root,
                   const char *stored, twin_errors *to)
{
    for (size_t i = 0; i < from->count; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", root, from->items[i].path);
        if (stored)
            errors__add(to, from->items[i].code, path,
                        "%s (in stored scenario '%s' at %s)",
                        from->items[i].message, stored,
                        from->items[i].path[0] ? from->items[i].path : "/");
        else
            errors__add(to, from->items[i].code, path, "%s",
                        from->items[i].message);
    }
}

static json_t *load_scenario(serve *sv, const json_t *member,
                             const char *needs, const char **stored,
                             twin_errors *errs)
{
    if (member == NULL) {
        errors__add(errs, TWIN_E_MISSING_FIELD, "/scenario",
                    "%s needs a \"scenario\": a scenario object, or the "
                    "name of a stored one", needs);
        return NULL;
    }
    if (json_is_object(member))
        return json_incref((json_t *)member);
    if (!json_is_string(member)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/scenario",
                    "\"scenario\" is a scenario object or a stored "
                    "scenario's name");
        return NULL;
    }
    const char *name = json_string_value(member);
    if (!request__topic_safe(name) || strchr(name, '/') || name[0] == '.') {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/scenario",
                    "'%s' is not a scenario name (letters, digits, -, _ "
                    "and . only)", name);
        return NULL;
    }
    char why[1024], path[4096];
    snprintf(path, sizeof path, "%s/%s.json",
             sv->cfg.paths.scenario_dir ? sv->cfg.paths.scenario_dir : ".",
             name);
    json_t *doc = scenario__load(path, NULL, why, sizeof why);
    if (doc == NULL)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "/scenario",
                    "there is no stored scenario '%s' on this controller "
                    "(describe lists them)", name);
    *stored = name;
    return doc;
}

/* The parameters a request's scenario overrides on library instances
 * (DESIGN.md: "params may override only what the deployment allows").
 * A stored scenario is the deployment's own and is not checked. */
static void check_overrides(serve *sv, const scenario *sc, const json_t *doc,
                            twin_errors *errs)
{
    const json_t *insts = json_object_get(doc, "instances");
    for (size_t i = 0; i < sc->n_inst; i++) {
        const sc_instance *si = &sc->inst[i];
        const json_t *params = json_object_get(
            json_object_get(insts, si->name), "params");
        if (si->library_id == NULL || !json_is_object(params))
            continue;
        const char *model = si->model->d->name, *k;
        const json_t *v;
        json_object_foreach((json_t *)params, k, v) {
            (void)v;
            if (config__override_allowed(&sv->cfg, model, k))
                continue;
            char *inst = errors__path("/scenario/instances", si->name);
            char *pp = inst ? errors__path(inst, "params") : NULL;
            char *p = pp ? errors__path(pp, k) : NULL;
            errors__add(errs, TWIN_E_NOT_ALLOWED, p ? p : "/scenario",
                        "this controller's deployment does not allow "
                        "overriding parameter '%s' of library instance '%s' "
                        "(model %s); leave it to the instance library, or "
                        "ask the operator to list \"%s.%s\" in "
                        "allow.overrides", k, si->library_id, model, model,
                        k);
            free(p);
            free(pp);
            free(inst);
        }
    }
}

static void check_deployment(serve *sv, const scenario *sc, int realtime,
                             twin_errors *errs)
{
    if (realtime && sc->realtime && !sv->cfg.allow.realtime)
        errors__add(errs, TWIN_E_NOT_ALLOWED, "/scenario/pace",
                    "this controller's deployment does not allow real-time "
                    "runs; use \"pace\": \"batch\"");
    for (size_t i = 0; i < sc->n_inst; i++) {
        const char *model = sc->inst[i].model->d->name;
        if (!config__model_allowed(&sv->cfg, model)) {
            char *p = errors__path("/scenario/instances", sc->inst[i].name);
            errors__add(errs, TWIN_E_NOT_ALLOWED, p ? p : "/scenario",
                        "this controller's deployment does not allow model "
                        "'%s'", model);
            free(p);
        }
    }
    signal_subs__check(sv, sc, errs);
}

scenario *admission__scenario(serve *sv, const json_t *req,
                              const char *needs, int realtime, json_t **doc,
                              twin_errors *errs)
{
    twin_errors inner = {0};
    const char *stored = NULL;
    scenario *sc = NULL;
    *doc = load_scenario(sv, json_object_get(req, "scenario"), needs,
                         &stored, errs);
    if (*doc != NULL) {
        scenario_limits lim = {
            .max_instances = sv->cfg.limits.max_instances,
            .max_connections = sv->cfg.limits.max_connections,
            .max_rows = sv->cfg.limits.max_rows,
            .max_function_samples = sv->cfg.limits.function_samples,
            .functions = &sv->functions,
        };
        sc = scenario__compose(*doc, &sv->models, &sv->instances, &lim,
                               &inner);
        reroot(&inner, "/scenario", stored, errs);
        if (sc != NULL)
            check_deployment(sv, sc, realtime, errs);
        if (sc != NULL && stored == NULL)
            check_overrides(sv, sc, *doc, errs);
    }
    errors__clear(&inner);
    return sc;
}

/* ---- the spool's room ---------------------------------------------------- */

/* A 16th of limits.spool_bytes is kept for what belongs to no run: the
 * daemon's answers (they wait in its own journal for the broker, and are
 * never refused for the spool; replayed results are not journaled
 * again). */
#define HEADROOM_SHARE 16
/* Free space kept on the spool's filesystem beside what runs reserve: the
 * daemon's answers and the ack marks. */
#define DISK_MARGIN (1u << 20)
/* A run's responses in its journal beside its ids, columns and reply
 * topic: `accepted`, and the final one (solver statistics and an error
 * message of at most 1 KiB), with per function of the scenario its value
 * or its error (a message of at most 1 KiB, escaped) beside its name. */
#define ACCEPTED_MAX 1024
#define FINAL_MAX 8192
#define FUNCTION_MAX 2304

void admission__spool_room(serve *sv, spool_room *room)
{
    memset(room, 0, sizeof *room);
    room->limit = sv->cfg.limits.spool_bytes;
    if (sv->sp == NULL)
        return;
    room->used = spool__bytes(sv->sp);
    room->reserved = spool__reserved(sv->sp);
    room->headroom = room->limit / HEADROOM_SHARE;
    size_t taken = room->used + room->reserved + room->headroom;
    room->free = room->limit > taken ? room->limit - taken : 0;
    /* The disk under the spool may hold less than its limit (other files,
     * a small filesystem): what running runs may still write must fit on
     * it too, and DISK_MARGIN more for the daemon's answers. */
    room->disk = spool__disk_free(sv->sp);
    if (room->disk != SIZE_MAX) {
        size_t keep = room->reserved + DISK_MARGIN;
        size_t on_disk = room->disk > keep ? room->disk - keep : 0;
        if (on_disk < room->free) {
            room->free = on_disk;
            room->disk_bound = 1;
        }
    }
}

int admission__spool_error(serve *sv, char *why, size_t len)
{
    int err = sender__spool_error(sv->out);
    if (err == 0)
        return 0;
    snprintf(why, len, "the spool %s cannot be written: %s; running runs "
             "are paused until it can (tried every second), and no new run "
             "is taken", spool__dir(sv->sp), strerror(err));
    return 1;
}

size_t admission__reservation(serve *sv, const reply_to *to,
                              const sender_run_spec *spec,
                              const scenario *sc)
{
    char *cols = json_dumps(spec->columns, JSON_COMPACT);
    size_t ids = (to->id ? strlen(to->id) : 0) + strlen(spec->run_id) +
                 strlen(sv->cfg.id);
    size_t record = SENDER_RECORD_OVERHEAD +
                    (to->topic ? strlen(to->topic) : 0) +
                    to->correlation_len + ids;
    size_t bytes = sender__run_bound(sv->out, spec) +
                   2 * record + ACCEPTED_MAX + (cols ? strlen(cols) : 0) +
                   FINAL_MAX;
    for (size_t i = 0; sc && i < sc->n_fn; i++)
        bytes += FUNCTION_MAX + 2 * strlen(sc->fn[i].name);
    free(cols);
    return bytes;
}

int admission__spool_full(serve *sv)
{
    if (sv->sp == NULL)
        return 0;
    /* The smallest run: one row of t, its responses, its events' share. */
    json_t *cols = json_pack("[s]", "t");
    sender_run_spec spec = {.run_id = "r", .result_topic = "r",
                            .event_topic = "r", .columns = cols,
                            .max_rows = 1,
                            .event_bytes = sv->cfg.limits.event_bytes};
    reply_to to = {.topic = "r"};
    size_t least = admission__reservation(sv, &to, &spec, NULL);
    json_decref(cols);
    spool_room room;
    admission__spool_room(sv, &room);
    return room.free < least || sender__spool_error(sv->out) != 0;
}

static void check_room(serve *sv, size_t need, const scenario *sc,
                       twin_errors *errs)
{
    spool_room room;
    admission__spool_room(sv, &room);
    if (sv->sp == NULL || need <= room.free)
        return;
    if (room.disk_bound && need <= room.limit - room.headroom)
        errors__add(errs, TWIN_E_BUSY, "", "the filesystem of this "
                    "controller's spool (%s) has no room for this run: it "
                    "may write up to %zu bytes, and the filesystem has %zu "
                    "bytes free, of which running runs may still write %zu "
                    "and %u are kept for the daemon's answers; free space "
                    "on that filesystem, send the run to another "
                    "controller, or move the spool (\"spool\") to a larger "
                    "one", spool__dir(sv->sp), need, room.disk,
                    room.reserved, DISK_MARGIN);
    else if (need > room.limit - room.headroom)
        errors__add(errs, TWIN_E_TOO_LARGE, "/scenario/time",
                    "this run may write up to %zu bytes to the spool (%zu "
                    "rows of %zu columns, its responses and events), more "
                    "than this controller's spool takes for runs (%zu of "
                    "limits.spool_bytes %zu; the rest is for answers and "
                    "replays): shorten the horizon, emit fewer rows with "
                    "\"every\" or fewer outputs, or raise "
                    "limits.spool_bytes", need,
                    sc->n_ticks / sc->every + 1, sc->n_out + 1,
                    room.limit - room.headroom, room.limit);
    else
        errors__add(errs, TWIN_E_BUSY, "", "this controller's spool has no "
                    "room for this run: it may write up to %zu bytes, and "
                    "%zu of limits.spool_bytes %zu are free (%zu hold "
                    "results waiting for the broker or kept for replay, "
                    "%zu are reserved by running runs, %zu are kept for "
                    "the daemon's answers); try again once older results "
                    "have expired (limits.retention_seconds, %g s after "
                    "their run ended) or running runs have ended, send it "
                    "to another controller, or raise limits.spool_bytes",
                    need, room.free, room.limit, room.used, room.reserved,
                    room.headroom, sv->cfg.limits.retention);
}


/* ---- room right now ------------------------------------------------------ */

/* Descriptors a run takes in the daemon: its two pipes and the one of its
 * output (both ends of each until the fork, then one), and its journal. */
#define RUN_FDS 7

void admission__run(serve *sv, size_t need, const scenario *sc,
                    twin_errors *errs)
{
    char why[1024];
    if (sv->active >= sv->cfg.limits.max_runs)
        errors__add(errs, TWIN_E_BUSY, "", "this controller is running %zu "
                    "runs, its limit; try again later or send it to the "
                    "pool", sv->active);
    if (errs->count == 0 && admission__spool_error(sv, why, sizeof why))
        errors__add(errs, TWIN_E_BUSY, "", "%s; try again once it can be "
                    "written, or send the run to another controller", why);
    if (errs->count == 0 && !fds__room_for(RUN_FDS, "run", why, sizeof why))
        errors__add(errs, TWIN_E_BUSY, "", "%s", why);
    if (errs->count == 0)
        check_room(sv, need, sc, errs);
    if (errs->count == 0 && sender__full(sv->out))
        errors__add(errs, TWIN_E_BUSY, "", "this controller holds %zu "
                    "bytes of results the broker has not taken yet; it "
                    "takes no new run until they are delivered",
                    sender__queued_bytes(sv->out));
}

void admission__steady(serve *sv, twin_errors *errs)
{
    char why[1024];
    if (errs->count == 0 && job__count(sv) >= sv->cfg.limits.max_runs)
        errors__add(errs, TWIN_E_BUSY, "", "this controller is solving %zu "
                    "steady states, its limit (limits.max_runs); try again "
                    "later or send it to the pool", job__count(sv));
    if (errs->count == 0 &&
        !fds__room_for(4, "steady-state solve", why, sizeof why))
        errors__add(errs, TWIN_E_BUSY, "", "%s", why);
}
