/*
 * plot_units.c — the units on `twinctl plot`'s axes, from the model
 * library (see plot_units.h).
 *
 * A CSV's header has names only, so the units come from the runs'
 * scenario composed here against the model and instance libraries: a
 * signal's unit is its variable's in the descriptor of its instance's
 * model, a factor's that of the parameter, start value or input it sets
 * (a step's time is in s), a KPI's the function library's
 * (functions__unit: a mean of m is in m, an integral of m3/s in m3).
 * When the scenario cannot be had the axes go without units and the
 * command says why; that never stops a plot.
 */
#include <stdio.h>
#include <string.h>

#include "functions.h"
#include "plot_units.h"

static int load_libraries(plot *p)
{
    if (p->libs_loaded)
        return 0;
    paths__finish(&p->paths);
    if (paths__load(&p->paths, &p->models, &p->instances, 1) != 0) {
        snprintf(p->units_why, sizeof p->units_why, "no model plugin could "
                 "be loaded (--models DIR)");
        return -1;
    }
    p->libs_loaded = 1;
    return 0;
}

/* Compose doc into p->sc for its variables' units. */
static void compose(plot *p, const json_t *doc, const char *what)
{
    twin_errors errs = {0};
    p->sc = scenario__compose(doc, &p->models, &p->instances, NULL, &errs);
    if (p->sc == NULL)
        snprintf(p->units_why, sizeof p->units_why, "%s does not compose "
                 "here: %s%s%s", what, errs.count ? errs.items[0].path : "",
                 errs.count ? ": " : "",
                 errs.count ? errs.items[0].message : "out of memory");
    errors__clear(&errs);
}

int plot_units__from_scenario(plot *p)
{
    char why[4400];
    if (load_libraries(p) != 0)
        return 0;
    json_t *doc = scenario__load(p->scenario, p->paths.scenario_dir, why,
                                 sizeof why);
    if (doc == NULL) {
        plot__complain("--scenario: %s", why);
        return -1;
    }
    compose(p, doc, p->scenario);
    json_decref(doc);
    return 0;
}

int plot_units__from_batch(plot *p, const char *dir)
{
    char path[4200];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/batch.json", dir);
    p->batch_json = json_load_file(path, 0, &jerr);
    if (p->batch_json == NULL) {
        if (jerr.line <= 0)
            plot__complain("%s is not a batch's output directory: it has no "
                           "batch.json (twinctl batch FILE -o DIR makes one)",
                           dir);
        else
            plot__complain("%s: line %d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_object(json_object_get(p->batch_json, "batch"))) {
        plot__complain("%s is not a batch's output directory: its "
                       "batch.json has no \"batch\" (twinctl batch FILE -o "
                       "DIR writes one with it)", dir);
        return -1;
    }
    if (load_libraries(p) != 0)
        return 0;
    twin_errors errs = {0};
    batch_env env = {.models = &p->models, .instances = &p->instances,
                     .scenario_dir = p->paths.scenario_dir, .doc_dir = dir};
    p->b = batch__load(json_object_get(p->batch_json, "batch"), &env, &errs);
    if (p->b == NULL) {
        snprintf(p->units_why, sizeof p->units_why, "the batch in %s is "
                 "refused here: %s: %s", path,
                 errs.count ? errs.items[0].path : "",
                 errs.count ? errs.items[0].message : "out of memory");
        errors__clear(&errs);
        return 0;
    }
    double v[BATCH_MAX_FACTORS];
    char id[40];
    batch__case_values(p->b, 0, v);
    batch__case_id(p->b, 0, v, id, sizeof id);
    json_t *doc = batch__case_scenario(p->b, v, id);
    if (doc != NULL)
        compose(p, doc, "the batch's scenario");
    json_decref(doc);
    return 0;
}

static const sc_instance *find_instance(const scenario *sc, const char *name,
                                        size_t len)
{
    for (size_t i = 0; i < sc->n_inst; i++)
        if (strlen(sc->inst[i].name) == len &&
            strncmp(sc->inst[i].name, name, len) == 0)
            return &sc->inst[i];
    return NULL;
}

const char *plot_units__signal(const plot *p, const char *name)
{
    if (p->sc == NULL)
        return NULL;
    const char *dot = strchr(name, '.');
    const sc_instance *in = dot ? find_instance(p->sc, name,
                                                (size_t)(dot - name))
                                : NULL;
    twin_var_kind kind;
    size_t k;
    if (in == NULL || modlib__find_signal(in->model, dot + 1, &kind, &k) != 0)
        return NULL;
    const twin_model *m = in->model;
    return (kind == TWIN_VAR_STATE ? m->state[k]
            : kind == TWIN_VAR_INPUT ? m->input[k] : m->output[k])->unit;
}

const char *plot_units__factor(const plot *p, const char *name)
{
    if (p->b == NULL || p->sc == NULL)
        return NULL;
    for (size_t i = 0; i < p->b->n_f; i++) {
        const batch_factor *f = &p->b->f[i];
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->target == BATCH_STEP_TIME)
            return "s";
        if (f->target == BATCH_INPUT || f->target == BATCH_STEP_VALUE)
            return plot_units__signal(p, f->variable);
        const sc_instance *in = find_instance(p->sc, f->instance,
                                              strlen(f->instance));
        size_t k;
        twin_var_kind kind;
        if (in == NULL)
            return NULL;
        if (f->target == BATCH_PARAM)
            return modlib__find_param(in->model, f->variable, &k) == 0
                       ? in->model->param[k]->unit : NULL;
        return modlib__find_signal(in->model, f->variable, &kind, &k) == 0
                   && kind == TWIN_VAR_STATE ? in->model->state[k]->unit
                                             : NULL;
    }
    return NULL;
}

const char *plot_units__kpi(const plot *p, const char *name, char *buf,
                            size_t len)
{
    for (size_t i = 0; p->sc != NULL && i < p->sc->n_fn; i++)
        if (strcmp(p->sc->fn[i].name, name) == 0)
            return functions__unit(p->sc, i, buf, len);
    return NULL;
}

void plot_units__free(plot *p)
{
    scenario__free(&p->sc);
    batch__free(&p->b);
    json_decref(p->batch_json);
    p->batch_json = NULL;
    if (p->libs_loaded) {
        instlib__free(&p->instances);
        modlib__free(&p->models);
        p->libs_loaded = 0;
    }
    paths__free(&p->paths);
}
