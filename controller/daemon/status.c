/*
 * status.c — the controller's retained status message on
 * <prefix>/<id>/status (docs/contract.md): its state, capacity and load,
 * the runs running, the libraries, and the spool's room (admission.c).
 * Published at connect, when a run starts or ends, when the spool's room
 * or error changes, at a reload and at a clean stop; the broker's last
 * will says `offline` for an unclean end.
 */
#include "status.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admission.h"
#include "json_out.h"
#include "twin_paths.h"
#include "util.h"

json_t *status__json(serve *sv, const char *state)
{
    json_t *models = json_array(), *runs = json_array(), *sync = json_object();
    for (size_t i = 0; i < sv->models.count; i++)
        json_array_append_new(models,
                              json_string(sv->models.models[i]->d->name));
    for (run_rec *r = sv->runs; r; r = r->next)
        if (r->state == RUN_RUNNING) {
            json_array_append_new(runs, json_string(r->id));
            if (r->sync[0] != '\0')
                json_object_set_new(sync, r->id, json_string(r->sync));
        }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char **names = NULL;
    long n_scen = sv->cfg.paths.scenario_dir
                      ? util__list_dir(sv->cfg.paths.scenario_dir, ".json",
                                       &names)
                      : 0;
    util__free_names(names, n_scen);
    json_t *st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:I, "
                     "s:I, s:f}",
                     "contract", "twin.status/1", "controller", sv->cfg.id,
                     "state", state, "version", TWIN_VERSION, "group",
                     sv->cfg.group, "capacity",
                     (json_int_t)sv->cfg.limits.max_runs, "load",
                     (json_int_t)sv->active, "runs", runs, "models", models,
                     "instances", (json_int_t)sv->instances.count,
                     "scenarios", (json_int_t)(n_scen > 0 ? n_scen : 0),
                     "time",
                     (double)now.tv_sec + 1e-9 * (double)now.tv_nsec);
    /* The spool: what is on disk, and the room left for new runs (a run
     * that would not fit is refused; full: not even the smallest fits). */
    spool_room room;
    admission__spool_room(sv, &room);
    json_object_set_new(st, "spool_bytes", json_integer(
                                               (json_int_t)room.used));
    json_object_set_new(st, "spool_limit",
                        json_integer((json_int_t)room.limit));
    json_object_set_new(st, "spool_reserved",
                        json_integer((json_int_t)room.reserved));
    json_object_set_new(st, "spool_free",
                        json_integer((json_int_t)room.free));
    json_object_set_new(st, "spool_full",
                        json_boolean(admission__spool_full(sv)));
    if (room.disk != SIZE_MAX)
        json_object_set_new(st, "spool_disk_free",
                            json_integer((json_int_t)room.disk));
    char why[512];
    if (admission__spool_error(sv, why, sizeof why))
        json_object_set_new(st, "spool_error", json_string(why));
    /* live twins: each measuring run's synchronisation with its plant */
    if (json_object_size(sync) > 0)
        json_object_set(st, "sync", sync);
    json_decref(sync);
    return st;
}

void status__publish(serve *sv)
{
    json_t *st = status__json(sv, sv->stopping ? "offline" : "online");
    sv->spool_full_said = json_is_true(json_object_get(st, "spool_full"));
    sv->spool_error_said = json_object_get(st, "spool_error") != NULL;
    char *text = json_out__dumps(st);
    json_decref(st);
    /* From memory: a restart publishes its own (the broker's will says
     * `offline` meanwhile). */
    if (text != NULL)
        sender__publish_copy(sv->out, sv->t_status, text, strlen(text), 1,
                             NULL, 0);
    free(text);
}
